"""The articles table (``annotations/articles/``): its Arrow schema, how an article's id is
made, how it is laid out on disk, and how every stage after ingest reads it.

Ingest writes the table; tasks, validation, agreement, release and pre-annotation only read it,
through the functions here, so they need nothing from the ingest stage itself.

Layout. The table is a folder of Parquet parts, so that a daily ingest appends what is new
instead of rewriting everything:

- ``part-000000.parquet``, ``part-000001.parquet``, ...: the rows, in the order they were
  ingested (each ingest appends one part or more; none is ever rewritten). Each row's
  ``cluster_id`` and ``sources`` are as they were when the row was written.
- ``_clusters-<generation>.parquet``: the near-duplicate cluster of every article in a cluster
  of two or more (by part and row). A new article can join, or lower the id of, a cluster of
  rows written before; this small table says so without rewriting their part.
- ``_sources-<generation>.parquet``: sources found for a row after its part was written (the
  same text found again in another file), added to that row's ``sources``.
- ``_manifest.json``: which of these files make the table, with each one's row count and
  SHA-256. It is written last (atomically), so it is the commit point: a file it does not list
  is the leftover of a run that stopped, ignored here and removed by the next ingest.

Readers see one table in which those two side tables are already applied: the rows of every
part in order, each with its current cluster id and all its sources. Files whose names start
with ``_`` are skipped by Arrow's dataset reader, so ``pyarrow.dataset.dataset(folder)`` also
reads the rows (as written, without the side tables).

A workspace ingested by an older toolkit has ``annotations/articles.parquet`` instead; it is
read as a one-part table, and the next ``toolkit ingest`` moves it into the folder.

Every read here checks that a part has the articles' columns; ``parquetio`` turns a damaged
file into an ``InputError``; both name the file and say how to recover (``recovery_hint``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from . import parquetio
from .errors import InputError, InputNotFound
from .workspace import Workspace

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "CLUSTERS_SCHEMA", "EXTRA_SOURCES_SCHEMA", "FileRef", "Manifest",
           "ArticlesTable", "content_key", "article_id", "articles_exist", "open_articles", "read_articles",
           "article_ids", "article_texts", "iter_article_batches", "published_iso", "fingerprint",
           "manifest_path", "legacy_path", "read_manifest", "part_name", "open_part", "recovery_hint"]

SOURCE_TYPE = pa.struct([("file", pa.string()), ("sha256", pa.string()), ("url", pa.string())])

ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("published", pa.date32()),
        pa.field("source_url", pa.string()),
        pa.field("source_name", pa.string()),
        pa.field("language", pa.string()),
        pa.field("n_chars", pa.int32(), nullable=False),
        pa.field("n_words", pa.int32(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string(), nullable=False),
        pa.field("sources", pa.list_(SOURCE_TYPE), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("warnings", pa.list_(pa.string()), nullable=False),
    ],
    metadata={b"toolkit.table": b"articles", b"toolkit.schema_version": b"1"},
)

CLUSTERS_SCHEMA = pa.schema([
    pa.field("part", pa.int32(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
], metadata={b"toolkit.table": b"article-clusters"})

EXTRA_SOURCES_SCHEMA = pa.schema([
    pa.field("part", pa.int32(), nullable=False),
    pa.field("row", pa.int64(), nullable=False),
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("sources", pa.list_(SOURCE_TYPE), nullable=False),
], metadata={b"toolkit.table": b"article-extra-sources"})

MANIFEST = "_manifest.json"
LEGACY = "articles.parquet"
FORMAT = "toolkit-articles"
FORMAT_VERSION = 2


def content_key(body: str) -> str:
    """What makes two bodies exact duplicates: the same words and punctuation, any spacing."""
    return " ".join(body.split())


def article_id(body: str) -> str:
    """A stable id derived from the normalised content: 16 hex digits of its SHA-256."""
    return hashlib.sha256(content_key(body).encode("utf-8")).hexdigest()[:16]


def published_iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def part_name(number: int) -> str:
    return f"part-{number:06d}.parquet"


def manifest_path(ws: Workspace) -> Path:
    return ws.articles_path / MANIFEST


def legacy_path(ws: Workspace) -> Path:
    """Where toolkits before the parts layout wrote the table (one file)."""
    return ws.annotations_dir / LEGACY


@dataclass(frozen=True)
class FileRef:
    """One file of the table, as the manifest lists it."""

    file: str
    rows: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """The files that make the table; ``generation`` counts the ingests that changed it."""

    parts: tuple[FileRef, ...] = ()
    clusters: FileRef | None = None
    extra_sources: FileRef | None = None
    generation: int = 0
    clustering: dict[str, Any] | None = None  # the near-duplicate settings the clusters table was made with

    @property
    def num_rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def files(self) -> list[str]:
        return [r.file for r in (*self.parts, self.clusters, self.extra_sources) if r is not None]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "generation": self.generation,
                "rows": self.num_rows, "clustering": self.clustering, "parts": [p.to_dict() for p in self.parts],
                "clusters": self.clusters.to_dict() if self.clusters else None,
                "extra_sources": self.extra_sources.to_dict() if self.extra_sources else None}

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n").encode("utf-8")


def recovery_hint(workspace: Workspace) -> str:
    """What to do when the articles table is damaged."""
    name = workspace.relative(workspace.articles_path)
    return (f"nothing was changed; restore {name}/ from a backup or version control, or move it away and run "
            "`toolkit ingest` to rebuild it from raw/ (the same texts get the same article ids)")


def articles_exist(ws: Workspace) -> bool:
    """Whether the workspace has an articles table (in either layout)."""
    return manifest_path(ws).is_file() or legacy_path(ws).is_file()


def read_manifest(ws: Workspace) -> Manifest | None:
    """The manifest of ``annotations/articles/``; None when there is none (no table, or an old one)."""
    path = manifest_path(ws)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {ws.relative(path)}: {exc}", hint="check the file's permissions") from None
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT or not isinstance(data.get("parts"), list):
            raise ValueError("not the manifest of an articles table")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {data.get('format_version')!r}, this toolkit reads "
                             f"{FORMAT_VERSION}: upgrade the toolkit")

        def ref(item: Any) -> FileRef | None:
            if item is None:
                return None
            name = item["file"]
            if not isinstance(name, str) or "/" in name or name.startswith(".") or not name.endswith(".parquet"):
                raise ValueError(f"a file name {name!r} outside the folder")
            return FileRef(name, int(item["rows"]), str(item["sha256"]))

        parts = tuple(ref(p) for p in data["parts"])
        return Manifest(parts, ref(data.get("clusters")), ref(data.get("extra_sources")),  # type: ignore[arg-type]
                        int(data.get("generation", 0)), data.get("clustering"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{ws.relative(path)} is not a readable articles manifest ({exc})",
                         hint=recovery_hint(ws)) from None


def fingerprint(ws: Workspace) -> str | None:
    """SHA-256 naming the table's content: of the manifest (which holds every file's SHA-256),
    or of the old single file. None when there is no table."""
    path = manifest_path(ws) if manifest_path(ws).is_file() else legacy_path(ws)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class ArticlesTable:
    """The articles table, read part by part with the cluster and source side tables applied."""

    def __init__(self, ws: Workspace) -> None:
        self.workspace = ws
        manifest = read_manifest(ws)
        if manifest is None:
            if not legacy_path(ws).is_file():
                raise InputNotFound(f"{ws.relative(ws.articles_path)}/ does not exist yet",
                                    hint="run `toolkit ingest` first")
            self.manifest = Manifest((FileRef(LEGACY, -1, ""),))
            self._paths = [legacy_path(ws)]
        else:
            self.manifest = manifest
            self._paths = [ws.articles_path / p.file for p in manifest.parts]
        self._files = [open_part(ws, path) for path in self._paths]
        self._clusters: dict[int, tuple[np.ndarray, list[str]]] | None = None
        self._sources: dict[int, tuple[np.ndarray, list[list[dict]]]] | None = None

    @property
    def num_rows(self) -> int:
        return sum(f.metadata.num_rows for f in self._files)

    def part_rows(self) -> list[int]:
        return [f.metadata.num_rows for f in self._files]

    def paths(self) -> list[Path]:
        """Every file the table is read from (parts and side tables)."""
        folder = self.workspace.articles_path
        extra = [folder / r.file for r in (self.manifest.clusters, self.manifest.extra_sources) if r is not None]
        return [*self._paths, *extra]

    def iter_batches(self, batch_size: int, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Every row, part after part, in batches of at most ``batch_size`` rows (one row group
        held at a time), with current cluster ids and all sources."""
        names = list(columns) if columns is not None else ARTICLE_SCHEMA.names
        for number, file in enumerate(self._files):
            offset = 0
            for batch in file.iter_batches(batch_size=batch_size, columns=names):
                yield self._apply(number, offset, batch)
                offset += batch.num_rows

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        names = list(columns) if columns is not None else ARTICLE_SCHEMA.names
        schema = pa.schema([ARTICLE_SCHEMA.field(n) for n in names], metadata=ARTICLE_SCHEMA.metadata)
        batches = [b.cast(schema) if not b.schema.equals(schema) else b for b in self.iter_batches(65_536, names)]
        return pa.Table.from_batches(batches, schema=schema)

    def _apply(self, part: int, offset: int, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = batch.schema.names
        if "cluster_id" in names:
            overrides = self._side("clusters").get(part)
            batch = _override(batch, "cluster_id", overrides, offset, lambda old, new: new)
        if "sources" in names:
            overrides = self._side("extra_sources").get(part)
            batch = _override(batch, "sources", overrides, offset, lambda old, new: old + new)
        return batch

    def _side(self, kind: str) -> dict[int, tuple[np.ndarray, list[Any]]]:
        cached = self._clusters if kind == "clusters" else self._sources
        if cached is not None:
            return cached
        ref = self.manifest.clusters if kind == "clusters" else self.manifest.extra_sources
        value = "cluster_id" if kind == "clusters" else "sources"
        loaded: dict[int, tuple[np.ndarray, list[Any]]] = {}
        if ref is not None:
            path = self.workspace.articles_path / ref.file
            table = parquetio.read_table(path, ["part", "row", value], hint=recovery_hint(self.workspace))
            table = table.sort_by([("part", "ascending"), ("row", "ascending")])
            parts = table.column("part").to_numpy()
            rows = table.column("row").to_numpy()
            values = table.column(value).to_pylist()
            for number in np.unique(parts):
                lo, hi = np.searchsorted(parts, number), np.searchsorted(parts, number, side="right")
                loaded[int(number)] = (rows[lo:hi], values[lo:hi])
        if kind == "clusters":
            self._clusters = loaded
        else:
            self._sources = loaded
        return loaded


def _override(batch: pa.RecordBatch, column: str, overrides: tuple[np.ndarray, list[Any]] | None, offset: int,
              combine: Any) -> pa.RecordBatch:
    """``batch`` with the side table's values for its rows (rows ``offset`` .. + num_rows of its part)."""
    if overrides is None:
        return batch
    rows, values = overrides
    lo, hi = np.searchsorted(rows, offset), np.searchsorted(rows, offset + batch.num_rows)
    if lo == hi:
        return batch
    index = batch.schema.get_field_index(column)
    current = batch.column(index).to_pylist()
    for row, value in zip(rows[lo:hi], values[lo:hi]):
        current[int(row) - offset] = combine(current[int(row) - offset], value)
    field = batch.schema.field(index)
    return batch.set_column(index, field, pa.array(current, field.type))


def open_part(ws: Workspace, path: Path) -> parquetio.CheckedParquetFile:
    """A part opened for reading, after checking that it holds the articles' columns."""
    source = parquetio.open_parquet(path, hint=recovery_hint(ws))
    schema = source.schema_arrow
    for wanted in ARTICLE_SCHEMA:
        index = schema.get_field_index(wanted.name)
        if index < 0 or not schema.field(index).type.equals(wanted.type):
            raise InputError(f"{ws.relative(path)} has no column {wanted.name!r} of type {wanted.type}: it is not "
                             "the articles table this toolkit writes", hint=recovery_hint(ws))
    return source


def open_articles(ws: Workspace) -> ArticlesTable:
    """The workspace's articles table; ``InputNotFound`` before the first ingest."""
    return ArticlesTable(ws)


def read_articles(workspace: Workspace, columns: list[str] | None = None) -> pa.Table:
    """The whole articles table (for small workspaces and tests; stream for large ones)."""
    return open_articles(workspace).read(columns)


def iter_article_batches(workspace: Workspace, batch_size: int,
                         columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The articles table batch by batch, holding one row group at a time (see ``parquetio``)."""
    yield from open_articles(workspace).iter_batches(batch_size, columns)


def article_ids(ws: Workspace) -> set[str] | None:
    """Every article id of the workspace; None before the first ingest."""
    if not articles_exist(ws):
        return None
    ids: set[str] = set()
    for batch in iter_article_batches(ws, 100_000, columns=["article_id"]):
        ids.update(batch.column("article_id").to_pylist())
    return ids


def article_texts(ws: Workspace, wanted: set[str] | None = None) -> dict[str, str]:
    """article_id -> text, for the ``wanted`` ids (all when None), read batch by batch."""
    if not articles_exist(ws):
        return {}
    texts: dict[str, str] = {}
    for batch in iter_article_batches(ws, 2000, columns=["article_id", "text"]):
        for aid, text in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()):
            if wanted is None or aid in wanted:
                texts[aid] = text
    return texts
