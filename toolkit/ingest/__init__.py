"""The ingest stage (``toolkit ingest``): raw articles -> ``annotations/articles.parquet``.

Takes in: ``raw/`` (or given paths): scraped ``.txt``, ``.html``, ``.jsonl`` (``.gz``).
Writes: ``annotations/articles.parquet`` (schema and readers in the shared ``articles``
module) and ``annotations/ingest-report.json``.

- ``readers``: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out;
- ``clean``: decoding, repair, normalisation and boilerplate rules;
- ``dedup``: exact duplicates by content key, near-duplicates by MinHash LSH;
- this module: the run itself, merging into the existing table.

Ingest *merges* into the existing ``articles.parquet``: rows already there are kept as they
are (their ids never change), new articles are appended, and a file seen again adds
nothing. So re-running on the same input writes the same bytes, and ingesting a new folder
adds rows. Exact duplicates collapse into one row listing every source; near-duplicates
share a ``cluster_id``.

Memory: documents stream through in batches of ``[ingest] batch_size`` rows; what is kept
for the whole run is each article's id and its entry in the near-duplicate index (MinHash
signature and LSH buckets), measured at 6-14 KiB per article.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomicio, parquetio
from ..errors import InputNotFound, OutputError
from ..progress import NullProgress, Progress
from ..workspace import Workspace
from ..articles import ARTICLE_SCHEMA, SOURCE_TYPE, published_iso, read_articles
from . import clean
from .dedup import NearDuplicateIndex, article_id
from .readers import REJECTION_REASONS, Document, ReaderOptions, Rejection, read_file

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "IngestReport", "ingest", "read_articles", "published_iso",
           "REJECTION_REASONS", "article_id"]


@dataclass
class IngestReport:
    files_read: int = 0
    documents_read: int = 0
    new_articles: int = 0
    already_ingested: int = 0
    exact_duplicates: int = 0
    total_articles: int = 0
    near_duplicate_clusters: int = 0
    articles_in_clusters: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    output: str = ""

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rejection in self.rejected:
            counts[rejection.reason] = counts.get(rejection.reason, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_read": self.files_read,
            "documents_read": self.documents_read,
            "new_articles": self.new_articles,
            "already_ingested": self.already_ingested,
            "exact_duplicates": self.exact_duplicates,
            "rejected": len(self.rejected),
            "total_articles": self.total_articles,
            "near_duplicate_clusters": self.near_duplicate_clusters,
            "articles_in_clusters": self.articles_in_clusters,
            "rejected_by_reason": self.rejected_by_reason,
            "rejections": [r.to_dict() for r in self.rejected],
            "warnings": self.warnings,
            "output": self.output,
        }


def iter_input_files(paths: Iterable[Path]) -> list[Path]:
    """Files under ``paths`` in a stable order; hidden files and folders are skipped."""
    files: set[Path] = set()
    for path in paths:
        if path.is_file():
            files.add(path)
            continue
        for folder, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files.update(Path(folder) / n for n in names if not n.startswith("."))
    return sorted(files, key=lambda p: p.as_posix())


def _language(text: str) -> str | None:
    if clean.count_words(text) < 5:
        return None
    import py3langid

    return py3langid.classify(text[:5000])[0]


def _row(doc: Document, aid: str) -> dict[str, Any]:
    return {
        "article_id": aid,
        "title": doc.title,
        "text": doc.body,
        "published": doc.published,
        "source_url": doc.source_url,
        "source_name": doc.source_name,
        "language": _language(doc.body),
        "n_chars": len(doc.body),
        "n_words": clean.count_words(doc.body),
        "format": doc.format,
        "source_file": doc.source,
        "raw_sha256": doc.raw_sha256,
        "sources": [{"file": doc.source, "sha256": doc.raw_sha256, "url": doc.source_url}],
        "cluster_id": aid,  # final value set once all articles are clustered
        "warnings": list(doc.warnings),
    }


def _finalise(batch: pa.RecordBatch, extra_sources: dict[str, list[dict]], index: NearDuplicateIndex) -> pa.Table:
    """Set the final cluster ids and append sources found for rows already written."""
    table = pa.Table.from_batches([batch]).cast(ARTICLE_SCHEMA)
    ids = table.column("article_id").to_pylist()
    clusters = pa.array([index.cluster_id(i) for i in ids], pa.string())
    table = table.set_column(table.schema.get_field_index("cluster_id"), ARTICLE_SCHEMA.field("cluster_id"), clusters)
    if any(i in extra_sources for i in ids):
        sources = table.column("sources").to_pylist()
        merged = [s + extra_sources.get(i, []) for s, i in zip(sources, ids)]
        table = table.set_column(table.schema.get_field_index("sources"), ARTICLE_SCHEMA.field("sources"),
                                 pa.array(merged, pa.list_(SOURCE_TYPE)))
    return table


def ingest(
    workspace: Workspace,
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    progress: Progress | None = None,
) -> IngestReport:
    """Read raw articles under ``paths`` (default: ``[ingest] paths``) into articles.parquet."""
    progress = progress or NullProgress()
    cfg = workspace.config.ingest
    given = [Path(p) for p in paths] if paths else [workspace.root / p for p in cfg.paths]
    missing = [p for p in given if not p.exists()]
    if missing:
        raise InputNotFound(f"{missing[0]}: no such file or folder",
                            hint="pass existing files or folders, or put articles in raw/")
    options = ReaderOptions(max_bytes=int(cfg.max_file_mb * 1e6), min_words=cfg.min_words,
                            boilerplate=cfg.boilerplate)
    index = NearDuplicateIndex(cfg.near_duplicate_threshold, cfg.num_perm, cfg.shingle_size)
    report = IngestReport(output=workspace.relative(workspace.articles_path))
    known: dict[str, set[tuple[str, str]]] = {}  # article_id -> (source, sha256) pairs recorded
    extra_sources: dict[str, list[dict]] = {}
    previous = workspace.articles_path if workspace.articles_path.exists() else None

    if previous is not None:
        for batch in parquetio.iter_batches(previous, cfg.batch_size):
            for aid, text, sources in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist(),
                                          batch.column("sources").to_pylist()):
                known[aid] = {(s["file"], s["sha256"]) for s in sources}
                index.add(aid, text)

    files = iter_input_files(given)
    workspace.cache_dir.mkdir(parents=True, exist_ok=True)
    staging = workspace.cache_dir / f"ingest-staging-{os.getpid()}.parquet"
    try:
        with pq.ParquetWriter(staging, ARTICLE_SCHEMA) as writer:
            batcher = parquetio.RowWriter(writer, lambda rows: pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
                                          cfg.batch_size)
            progress.start(len(files), "ingest")
            for path in files:
                report.files_read += 1
                source = workspace.relative(path)
                for item in read_file(path, source, options):
                    if isinstance(item, Rejection):
                        report.rejected.append(item)
                        continue
                    report.documents_read += 1
                    aid = article_id(item.body)
                    key = (item.source, item.raw_sha256)
                    if aid in known:
                        if key in known[aid]:
                            report.already_ingested += 1
                        else:
                            report.exact_duplicates += 1
                            known[aid].add(key)
                            extra_sources.setdefault(aid, []).append(
                                {"file": item.source, "sha256": item.raw_sha256, "url": item.source_url})
                        continue
                    known[aid] = {key}
                    report.new_articles += 1
                    report.warnings.extend({"source": item.source, "article_id": aid, "warning": w}
                                           for w in item.warnings)
                    batcher.add(_row(item, aid))
                    index.add(aid, item.body)
                progress.advance()
            batcher.flush()
        progress.finish()
        report.total_articles = len(known)
        _write_articles(workspace.articles_path, previous, staging, extra_sources, index, cfg.batch_size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    clusters = index.clusters()
    report.near_duplicate_clusters = len(clusters)
    report.articles_in_clusters = sum(len(m) for m in clusters.values())
    atomicio.write_json(workspace.ingest_report_path, report.to_dict())
    return report


def _write_articles(target: Path, previous: Path | None, staging: Path, extra_sources: dict[str, list[dict]],
                    index: NearDuplicateIndex, batch_size: int) -> None:
    # Row groups are always exactly `batch_size` rows (the last one fewer), whatever the
    # batches read, so the same rows give the same bytes however they were appended.
    try:
        with atomicio.atomic_path(target) as tmp, pq.ParquetWriter(tmp, ARTICLE_SCHEMA) as writer:
            pending: list[pa.Table] = []
            buffered = 0
            for source in (previous, staging):
                if source is None:
                    continue
                for batch in parquetio.iter_batches(source, batch_size):
                    pending.append(_finalise(batch, extra_sources, index))
                    buffered += batch.num_rows
                    while buffered >= batch_size:
                        table = pa.concat_tables(pending)
                        writer.write_table(table.slice(0, batch_size), row_group_size=batch_size)
                        pending, buffered = [table.slice(batch_size)], buffered - batch_size
            if buffered:
                writer.write_table(pa.concat_tables(pending), row_group_size=batch_size)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}", hint="check free disk space and permissions") from exc
