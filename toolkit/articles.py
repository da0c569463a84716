"""The articles table (``annotations/articles.parquet``): its Arrow schema, how an article's id
is made, and how every stage after ingest reads it.

Ingest writes the table; tasks, validation, agreement and release only read it, through
the functions here, so they need nothing from the ingest stage itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa
import pyarrow.parquet as pq

from . import parquetio
from .errors import InputNotFound
from .workspace import Workspace

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "content_key", "article_id", "read_articles", "article_ids",
           "article_texts", "published_iso"]

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
    return pq.read_table(workspace.articles_path, columns=columns)


def published_iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def article_ids(ws: Workspace) -> set[str] | None:
    """Every article id of the workspace; None before the first ingest."""
    if not ws.articles_path.exists():
        return None
    return set(pq.read_table(ws.articles_path, columns=["article_id"]).column("article_id").to_pylist())


def article_texts(ws: Workspace, wanted: set[str] | None = None) -> dict[str, str]:
    """article_id -> text, for the ``wanted`` ids (all when None), read batch by batch."""
    if not ws.articles_path.exists():
        return {}
    texts: dict[str, str] = {}
    for batch in parquetio.iter_batches(ws.articles_path, 2000, columns=["article_id", "text"]):
        for aid, text in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()):
            if wanted is None or aid in wanted:
                texts[aid] = text
    return texts
