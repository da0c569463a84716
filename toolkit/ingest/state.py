"""What an incremental ingest remembers between runs (``annotations/ingest-state/``).

- ``files.parquet``: per raw file ingested (by its name in ``sources``): size, modification
  time (ns), SHA-256 of its bytes, the article ids its documents have and its rejections. A
  file whose size and modification time are unchanged is not opened again; when either
  changed, its bytes are hashed and it is read again only when the hash differs.
- ``index/``: each part's near-duplicate index, MinHash signatures included (``store``,
  ``dedup.PartIndex``), so signatures are never computed twice.

The state is a cache, never the record: ``files.parquet`` holds in its metadata the settings it
was made with (toolkit version, reader options, near-duplicate settings) and the fingerprint
of the articles table it describes (``articles.fingerprint``: the manifest's SHA-256). When
either does not match (another version, changed settings, a run stopped between writes, a
restored table, a damaged file), it is ignored and ingest reads every file again, as a first
run does (adding nothing twice: the table itself says what is there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from array import array
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomicio, parquetio
from ..errors import ToolkitError
from ..articles import fingerprint
from ..version import __version__
from ..workspace import Workspace
from .readers import Rejection

__all__ = ["STATE_DIR", "FILES", "FileEntry", "State", "settings_key", "state_dir", "load", "save"]

STATE_DIR = "ingest-state"
FILES = "files.parquet"
_REJECTION = pa.struct([("source", pa.string()), ("reason", pa.string()), ("message", pa.string())])
FILES_SCHEMA = pa.schema([
    pa.field("file", pa.string(), nullable=False),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("mtime_ns", pa.int64(), nullable=False),
    pa.field("sha256", pa.string(), nullable=False),
    pa.field("article_ids", pa.list_(pa.string()), nullable=False),
    pa.field("rejections", pa.list_(_REJECTION), nullable=False),
])
_META = b"toolkit.ingest_state"


class FileEntry:
    """One raw file as last ingested; ``article_ids``: one per document read from it, in order
    (held as 8-byte numbers, not a Python string each: a file can hold many documents)."""

    __slots__ = ("size", "mtime_ns", "sha256", "_ids", "rejections")

    def __init__(self, size: int, mtime_ns: int, sha256: str, article_ids: Iterable[str] = (),
                 rejections: list[Rejection] | None = None) -> None:
        self.size, self.mtime_ns, self.sha256 = size, mtime_ns, sha256
        self._ids = array("Q", (int(a, 16) for a in article_ids))
        self.rejections = rejections or []

    @property
    def article_ids(self) -> list[str]:
        return [f"{n:016x}" for n in self._ids]

    @property
    def documents(self) -> int:
        return len(self._ids)


@dataclass
class State:
    """``files`` by source name; ``usable``: it describes the table as it is."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    usable: bool = False


def settings_key(**settings: Any) -> str:
    """Everything that changes what a file gives: a state made with other settings is not used."""
    return json.dumps({"toolkit": __version__, **settings}, sort_keys=True, default=list)


def state_dir(workspace: Workspace) -> Path:
    return workspace.annotations_dir / STATE_DIR


def load(workspace: Workspace, settings: str) -> State:
    """The state of the last run, or an empty (unusable) one; see the module docstring."""
    folder = state_dir(workspace)
    try:
        source = parquetio.open_parquet(folder / FILES)
        meta = json.loads((source.schema_arrow.metadata or {}).get(_META, b"{}"))
        if meta.get("settings") != settings or meta.get("articles") != fingerprint(workspace):
            return State()
        files: dict[str, FileEntry] = {}
        for row in source.read().to_pylist():
            files[row["file"]] = FileEntry(row["size"], row["mtime_ns"], row["sha256"], row["article_ids"],
                                           [Rejection(**r) for r in row["rejections"]])
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException, ToolkitError):
        return State()  # missing or damaged: a cache, rebuilt by reading every file
    return State(files, True)


def save(workspace: Workspace, settings: str, files: dict[str, FileEntry]) -> None:
    """Write the state after the articles table's manifest."""
    folder = state_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"settings": settings, "articles": fingerprint(workspace)}
    rows = [{"file": name, "size": e.size, "mtime_ns": e.mtime_ns, "sha256": e.sha256,
             "article_ids": e.article_ids, "rejections": [r.to_dict() for r in e.rejections]}
            for name, e in sorted(files.items())]
    schema = FILES_SCHEMA.with_metadata({_META: json.dumps(meta).encode("utf-8")})
    with atomicio.atomic_path(folder / FILES) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
