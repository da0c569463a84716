"""What an incremental ingest remembers between runs (``annotations/ingest-state/``).

- ``files.parquet``: per raw file ingested (by its name in ``sources``): size, modification
  time (ns), SHA-256 of its bytes, the article ids its documents have and its rejections. A
  file whose size and modification time are unchanged is not opened again; when either
  changed, its bytes are hashed and it is read again only when the hash differs.
- ``signatures.parquet``: the MinHash signature of every article (``num_perm`` uint32 values as
  bytes), so the near-duplicate index is rebuilt without recomputing them.

The state is a cache, never the record: ``files.parquet`` is written last and its metadata holds
the settings it was made with (toolkit version, reader options, near-duplicate settings) and
the size and modification time of ``articles.parquet`` and ``signatures.parquet`` as written
with it. When any of these does not match (another version, changed settings, a run stopped
between writes, a restored ``articles.parquet``, a damaged file), the whole state is ignored
and ingest reads every file again, as a first run does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomicio, parquetio
from ..errors import ToolkitError
from ..version import __version__
from ..workspace import Workspace
from .readers import Rejection

__all__ = ["STATE_DIR", "FileEntry", "State", "settings_key", "state_dir", "load", "save"]

STATE_DIR = "ingest-state"
FILES = "files.parquet"
SIGNATURES = "signatures.parquet"
_REJECTION = pa.struct([("source", pa.string()), ("reason", pa.string()), ("message", pa.string())])
FILES_SCHEMA = pa.schema([
    pa.field("file", pa.string(), nullable=False),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("mtime_ns", pa.int64(), nullable=False),
    pa.field("sha256", pa.string(), nullable=False),
    pa.field("article_ids", pa.list_(pa.string()), nullable=False),
    pa.field("rejections", pa.list_(_REJECTION), nullable=False),
])
SIGNATURES_SCHEMA = pa.schema([
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("minhash", pa.binary(), nullable=False),
])
_META = b"toolkit.ingest_state"


@dataclass
class FileEntry:
    """One raw file as last ingested; ``article_ids``: one per document read from it, in order."""

    size: int
    mtime_ns: int
    sha256: str
    article_ids: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class State:
    """``files`` by source name; ``signatures`` by article id, None when the state is not usable."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    signatures: dict[str, bytes] | None = None

    @property
    def usable(self) -> bool:
        return self.signatures is not None


def settings_key(**settings: Any) -> str:
    """Everything that changes what a file gives: a state made with other settings is not used."""
    return json.dumps({"toolkit": __version__, **settings}, sort_keys=True, default=list)


def state_dir(workspace: Workspace) -> Path:
    return workspace.articles_path.parent / STATE_DIR


def _stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def load(workspace: Workspace, settings: str) -> State:
    """The state of the last run, or an empty (unusable) one; see the module docstring."""
    folder = state_dir(workspace)
    try:
        source = parquetio.open_parquet(folder / FILES)
        meta = json.loads((source.schema_arrow.metadata or {}).get(_META, b"{}"))
        if (meta.get("settings") != settings or meta.get("articles") != _stamp(workspace.articles_path)
                or meta.get("signatures") != _stamp(folder / SIGNATURES)):
            return State()
        files: dict[str, FileEntry] = {}
        for row in source.read().to_pylist():
            files[row["file"]] = FileEntry(row["size"], row["mtime_ns"], row["sha256"], row["article_ids"],
                                           [Rejection(**r) for r in row["rejections"]])
        signatures: dict[str, bytes] = {}
        for batch in parquetio.iter_batches(folder / SIGNATURES, 10_000):
            signatures.update(zip(batch.column("article_id").to_pylist(), batch.column("minhash").to_pylist()))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException, ToolkitError):
        return State()  # missing or damaged: a cache, rebuilt by reading every file
    return State(files, signatures)


def save(workspace: Workspace, settings: str, files: dict[str, FileEntry],
         signatures: Iterable[tuple[str, bytes]] | None, batch_size: int) -> None:
    """Write the state after ``articles.parquet``; ``signatures`` None: the file on disk is current."""
    folder = state_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    if signatures is not None:
        with atomicio.atomic_path(folder / SIGNATURES) as tmp, pq.ParquetWriter(tmp, SIGNATURES_SCHEMA) as writer:
            for ids, values in _batched(signatures, batch_size):
                writer.write_table(pa.table([pa.array(ids, pa.string()), pa.array(values, pa.binary())],
                                            schema=SIGNATURES_SCHEMA))
    meta = {"settings": settings, "articles": _stamp(workspace.articles_path),
            "signatures": _stamp(folder / SIGNATURES)}
    rows = [{"file": name, "size": e.size, "mtime_ns": e.mtime_ns, "sha256": e.sha256,
             "article_ids": e.article_ids, "rejections": [r.to_dict() for r in e.rejections]}
            for name, e in sorted(files.items())]
    schema = FILES_SCHEMA.with_metadata({_META: json.dumps(meta).encode("utf-8")})
    with atomicio.atomic_path(folder / FILES) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)


def _batched(pairs: Iterable[tuple[str, bytes]], size: int) -> Iterator[tuple[list[str], list[bytes]]]:
    ids: list[str] = []
    values: list[bytes] = []
    for aid, value in pairs:
        ids.append(aid)
        values.append(value)
        if len(ids) >= size:
            yield ids, values
            ids, values = [], []
    if ids:
        yield ids, values
