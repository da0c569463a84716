"""The articles table (``annotations/articles.parquet``): its Arrow schema, how an article's id
is made, and how every stage after ingest reads it.

Ingest writes the table; tasks, validation, agreement and release only read it, through
the functions here, so they need nothing from the ingest stage itself. Every read here checks
that the file has the articles' columns; ``parquetio`` turns a damaged file into an
``InputError``; both name the file and say how to recover (``recovery_hint``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Iterator, Sequence

import pyarrow as pa

from . import parquetio
from .errors import InputError, InputNotFound
from .workspace import Workspace

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "content_key", "article_id", "read_articles", "article_ids",
           "article_texts", "iter_article_batches", "published_iso"]

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


def content_key(body: str) -> str:
    """What makes two bodies exact duplicates: the same words and punctuation, any spacing."""
    return " ".join(body.split())


def article_id(body: str) -> str:
    """A stable id derived from the normalised content: 16 hex digits of its SHA-256."""
    return hashlib.sha256(content_key(body).encode("utf-8")).hexdigest()[:16]


def read_articles(workspace: Workspace, columns: list[str] | None = None) -> pa.Table:
    """The workspace's articles table (for small workspaces and tests; stream for large ones)."""
    if not workspace.articles_path.exists():
        raise InputNotFound(f"{workspace.relative(workspace.articles_path)} does not exist yet",
                            hint="run `toolkit ingest` first")
    return _open_articles(workspace).read(columns=columns)


def iter_article_batches(workspace: Workspace, batch_size: int,
                         columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The articles table batch by batch, holding one row group at a time (see ``parquetio``)."""
    yield from _open_articles(workspace).iter_batches(batch_size=batch_size,
                                                      columns=list(columns) if columns is not None else None)


def published_iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def article_ids(ws: Workspace) -> set[str] | None:
    """Every article id of the workspace; None before the first ingest."""
    if not ws.articles_path.exists():
        return None
    ids: set[str] = set()
    for batch in iter_article_batches(ws, 100_000, columns=["article_id"]):
        ids.update(batch.column("article_id").to_pylist())
    return ids


def article_texts(ws: Workspace, wanted: set[str] | None = None) -> dict[str, str]:
    """article_id -> text, for the ``wanted`` ids (all when None), read batch by batch."""
    if not ws.articles_path.exists():
        return {}
    texts: dict[str, str] = {}
    for batch in iter_article_batches(ws, 2000, columns=["article_id", "text"]):
        for aid, text in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()):
            if wanted is None or aid in wanted:
                texts[aid] = text
    return texts


def recovery_hint(workspace: Workspace) -> str:
    """What to do when articles.parquet is damaged."""
    name = workspace.relative(workspace.articles_path)
    return (f"nothing was changed; restore {name} from a backup or version control, or move it away and run "
            "`toolkit ingest` to rebuild it from raw/ (the same texts get the same article ids)")


def _open_articles(workspace: Workspace) -> parquetio.CheckedParquetFile:
    """articles.parquet opened for reading, after checking that it holds the articles' columns."""
    source = parquetio.open_parquet(workspace.articles_path, hint=recovery_hint(workspace))
    schema = source.schema_arrow
    for wanted in ARTICLE_SCHEMA:
        index = schema.get_field_index(wanted.name)
        if index < 0 or not schema.field(index).type.equals(wanted.type):
            raise InputError(f"{workspace.relative(workspace.articles_path)} has no column {wanted.name!r} of type "
                             f"{wanted.type}: it is not the articles table this toolkit writes",
                             hint=recovery_hint(workspace))
    return source
