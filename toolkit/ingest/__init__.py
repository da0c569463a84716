"""The ingest stage (``toolkit ingest``): raw articles -> ``annotations/articles.parquet``.

Takes in: ``raw/`` (or given paths): scraped ``.txt``, ``.html``, ``.jsonl`` (``.gz``).
Writes: ``annotations/articles.parquet`` (schema and readers in the shared ``articles``
module) and ``annotations/ingest-report.json``.

- ``readers``: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out;
- ``decode``: which encoding raw bytes were written in, by plausibility;
- ``clean``: repair, normalisation, boilerplate and dates;
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

Safety: a symbolic link under an input folder that leads outside it is not read (rejected as
``symlink-outside``) unless ``follow_symlinks``; one ingest runs at a time in a workspace
(``annotations/.cache/ingest.lock``), and it first removes what an ingest killed midway left
behind (its staging file and temporary outputs, nothing else); a damaged ``articles.parquet``
stops the run before anything is written.
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
from ..articles import ARTICLE_SCHEMA, SOURCE_TYPE, iter_article_batches, published_iso, read_articles
from . import clean
from .dedup import NearDuplicateIndex, article_id
from .readers import REJECTION_REASONS, Document, ReaderOptions, Rejection, read_file

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "IngestReport", "InputFile", "find_input_files", "ingest",
           "read_articles", "published_iso", "REJECTION_REASONS", "article_id"]

STAGING_PREFIX = "ingest-staging-"
LOCK_NAME = "ingest.lock"


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
    leftovers_removed: list[str] = field(default_factory=list)
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
            "leftovers_removed": self.leftovers_removed,
            "output": self.output,
        }


@dataclass(frozen=True)
class InputFile:
    """A file found under the input paths; ``link_target`` is set when it is a link not to follow."""

    path: Path
    link_target: Path | None = None


def find_input_files(paths: Iterable[Path], *, follow_symlinks: bool = False) -> list[InputFile]:
    """Files under ``paths`` in a stable order; hidden files and folders are skipped.

    A symbolic link (to a file or a folder) under a given folder that leads outside that folder
    is listed with its target and not read, unless ``follow_symlinks``. A file named itself in
    ``paths`` is read wherever it points: the user chose it. Each folder is walked once, so a
    link loop ends.
    """
    found: dict[Path, InputFile] = {}
    for given in paths:
        if given.is_file():
            found[given] = InputFile(given)
            continue
        root = given.resolve()
        walked = {root}
        for folder, dirs, names in os.walk(given, followlinks=True):
            kept = []
            for name in sorted(d for d in dirs if not d.startswith(".")):
                path, target = Path(folder) / name, _target(Path(folder) / name)
                if not follow_symlinks and not target.is_relative_to(root):
                    found[path] = InputFile(path, target)
                elif target not in walked:
                    walked.add(target)
                    kept.append(name)
            dirs[:] = kept
            for name in (n for n in names if not n.startswith(".")):
                path = Path(folder) / name
                target = _target(path)
                outside = not follow_symlinks and not target.is_relative_to(root)
                found[path] = InputFile(path, target if outside else None)
    return sorted(found.values(), key=lambda f: f.path.as_posix())


def _target(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: reading it fails later, as `unreadable`
        return path.absolute()


def _source_name(workspace: Workspace, path: Path) -> tuple[str, list[str]]:
    """Where a file was found, relative to the workspace (its folder resolved, not the file:
    a link is named as the link), always valid UTF-8, and a warning when the name was not."""
    name = f"{workspace.relative(path.parent)}/{path.name}".removeprefix("./")
    try:
        safe = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:
        safe = clean.replace_lone_surrogates(name)[0]
    if safe == name:
        return name, []
    return safe, [f"the file name is not valid UTF-8; recorded as {safe!r}"]


def _link_rejection(source: str, target: Path) -> Rejection:
    return Rejection(source, "symlink-outside",
                     f"{source}: a symbolic link to {target.as_posix()}, outside the input folder; not read "
                     "(follow links only when you trust where they lead: `toolkit ingest --follow-symlinks`)")


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
    follow_symlinks: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Read raw articles under ``paths`` (default: ``[ingest] paths``) into articles.parquet.

    ``follow_symlinks``: also read links that lead outside the input folders (see
    ``find_input_files``).
    """
    progress = progress or NullProgress()
    cfg = workspace.config.ingest
    given = [Path(p) for p in paths] if paths else [workspace.root / p for p in cfg.paths]
    missing = [p for p in given if not p.exists()]
    if missing:
        raise InputNotFound(f"{missing[0]}: no such file or folder",
                            hint="pass existing files or folders, or put articles in raw/")
    with _ingest_lock(workspace):
        report = IngestReport(output=workspace.relative(workspace.articles_path))
        report.leftovers_removed = _remove_leftovers(workspace)
        _run(workspace, find_input_files(given, follow_symlinks=follow_symlinks), report, progress)
        atomicio.write_json(workspace.ingest_report_path, report.to_dict())
    return report


def _run(workspace: Workspace, files: list[InputFile], report: IngestReport, progress: Progress) -> None:
    cfg = workspace.config.ingest
    options = ReaderOptions(max_bytes=int(cfg.max_file_mb * 1e6), min_words=cfg.min_words,
                            boilerplate=cfg.boilerplate)
    index = NearDuplicateIndex(cfg.near_duplicate_threshold, cfg.num_perm, cfg.shingle_size)
    known: dict[str, set[tuple[str, str]]] = {}  # article_id -> (source, sha256) pairs recorded
    extra_sources: dict[str, list[dict]] = {}
    previous = workspace.articles_path if workspace.articles_path.exists() else None

    if previous is not None:
        for batch in iter_article_batches(workspace, cfg.batch_size, columns=["article_id", "text", "sources"]):
            for aid, text, sources in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist(),
                                          batch.column("sources").to_pylist()):
                known[aid] = {(s["file"], s["sha256"]) for s in sources}
                index.add(aid, text)

    staging = workspace.cache_dir / f"{STAGING_PREFIX}{os.getpid()}.parquet"
    try:
        with pq.ParquetWriter(staging, ARTICLE_SCHEMA) as writer:
            batcher = parquetio.RowWriter(writer, lambda rows: pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
                                          cfg.batch_size)
            progress.start(len(files), "ingest")
            for file in files:
                report.files_read += 1
                source, name_warnings = _source_name(workspace, file.path)
                items = [_link_rejection(source, file.link_target)] if file.link_target \
                    else read_file(file.path, source, options)
                for item in items:
                    if isinstance(item, Rejection):
                        report.rejected.append(item)
                        continue
                    item.warnings = name_warnings + item.warnings
                    _add(item, report, known, extra_sources, batcher, index)
                progress.advance()
            batcher.flush()
        progress.finish()
        report.total_articles = len(known)
        _write_articles(workspace, previous, staging, extra_sources, index, cfg.batch_size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    clusters = index.clusters()
    report.near_duplicate_clusters = len(clusters)
    report.articles_in_clusters = sum(len(m) for m in clusters.values())


def _add(item: Document, report: IngestReport, known: dict[str, set[tuple[str, str]]],
         extra_sources: dict[str, list[dict]], batcher: parquetio.RowWriter, index: NearDuplicateIndex) -> None:
    """Count one document read: already ingested, an exact duplicate (a new source), or a new row."""
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
        return
    known[aid] = {key}
    report.new_articles += 1
    report.warnings.extend({"source": item.source, "article_id": aid, "warning": w} for w in item.warnings)
    batcher.add(_row(item, aid))
    index.add(aid, item.body)


def _ingest_lock(workspace: Workspace) -> contextlib.AbstractContextManager[None]:
    """One ingest at a time: two would each merge into the old table, and the last would drop
    what the other added."""
    return atomicio.exclusive_lock(workspace.cache_dir / LOCK_NAME, lambda: OutputError(
        f"another `toolkit ingest` is writing {workspace.relative(workspace.articles_path)}",
        hint="wait for it to finish, then run again"))


def _remove_leftovers(workspace: Workspace) -> list[str]:
    """Files an ingest killed midway left: its staging file and its outputs' temporary siblings.

    Only names that ingest itself makes (``.cache/ingest-staging-<pid>.parquet``,
    ``.articles.parquet.*.tmp``, ``.ingest-report.json.*.tmp``); we hold the lock, so none is in use.
    """
    patterns = [(workspace.cache_dir, f"{STAGING_PREFIX}*.parquet")] + [
        (target.parent, f".{target.name}.*.tmp") for target in (workspace.articles_path, workspace.ingest_report_path)]
    removed = []
    for folder, pattern in patterns:
        for leftover in sorted(folder.glob(pattern)):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
                removed.append(workspace.relative(leftover))
    return removed


def _write_articles(workspace: Workspace, previous: Path | None, staging: Path,
                    extra_sources: dict[str, list[dict]], index: NearDuplicateIndex, batch_size: int) -> None:
    # Row groups are always exactly `batch_size` rows (the last one fewer), whatever the
    # batches read, so the same rows give the same bytes however they were appended.
    target = workspace.articles_path
    batches = (iter_article_batches(workspace, batch_size) if previous is not None else iter(()),
               parquetio.iter_batches(staging, batch_size))
    try:
        with atomicio.atomic_path(target) as tmp, pq.ParquetWriter(tmp, ARTICLE_SCHEMA) as writer:
            pending: list[pa.Table] = []
            buffered = 0
            for batch in (b for source in batches for b in source):
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
