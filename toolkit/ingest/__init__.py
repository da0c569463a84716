"""The ingest stage (``toolkit ingest``): raw articles -> ``annotations/articles.parquet``.

Takes in: ``raw/`` (or given paths): scraped ``.txt``, ``.html``, ``.jsonl`` (``.gz``).
Writes: ``annotations/articles.parquet`` (schema and readers in the shared ``articles``
module) and ``annotations/ingest-report.json``.

- ``readers``: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out;
- ``decode``: which encoding raw bytes were written in, by plausibility;
- ``clean``: repair, normalisation, boilerplate and dates;
- ``boilerplate``: a scraped page's plain text cut to the article (line classification, main
  block) and the lines repeated across a source's articles;
- ``dedup``: exact duplicates by content key, near-duplicates by MinHash LSH;
- ``pool``: the per-file work (read to signature) in worker processes, results in input order;
- ``state``: what a re-run needs to skip unchanged files (``annotations/ingest-state/``);
- this module: the run itself, merging into the existing table.

Ingest *merges* into the existing ``articles.parquet``: rows already there are kept as they
are (their ids never change), new articles are appended, and a file seen again adds
nothing. So re-running on the same input writes the same bytes, and ingesting a new folder
adds rows. Exact duplicates collapse into one row listing every source; near-duplicates
share a ``cluster_id``.

All cores by default (``jobs``): the per-file work runs in worker processes (``pool``), and the
merge, duplicates, clusters and writing in this process in file order, so the output is the
same bytes whatever the number of workers.

Incremental: a raw file already ingested whose size and modification time are unchanged is not
opened again (when they changed, its SHA-256 decides), and the MinHash signatures of the
articles already there are read back, not recomputed (``state``). The report counts such a
file as read (``files_unchanged`` says how many were), its documents as ``already_ingested``
and its rejections as before. When nothing new was found, ``articles.parquet`` is left as it
is. A file ingested before and now gone from an input folder keeps its articles (releases
and labels refer to them): it is listed in the report's ``files_gone``.

Memory: documents stream through in batches of ``[ingest] batch_size`` rows; what is kept
for the whole run is each article's id and its entry in the near-duplicate index (MinHash
signature and LSH buckets), measured at 6-14 KiB per article. With several workers, one file's
documents (their rows, not the file's bytes) are held whole while a worker passes them back.

Safety: a symbolic link under an input folder that leads outside it is not read (rejected as
``symlink-outside``) unless ``follow_symlinks``; one ingest runs at a time in a workspace
(``annotations/.cache/ingest.lock``), and it first removes what an ingest killed midway left
behind (its staging file and temporary outputs, nothing else); a damaged ``articles.parquet``
stops the run before anything is written. ``articles.parquet`` is written before the state, and
the state records which ``articles.parquet`` it describes, so a run stopped at any point leaves
the previous table, and at worst a state that is ignored (every file is then read again).
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
from . import clean, dedup, pool, state
from .dedup import NearDuplicateIndex, article_id
from .readers import REJECTION_REASONS, ReaderOptions, Rejection

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "IngestReport", "InputFile", "find_input_files", "ingest",
           "read_articles", "published_iso", "REJECTION_REASONS", "article_id"]

STAGING_PREFIX = "ingest-staging-"
LOCK_NAME = "ingest.lock"


@dataclass
class IngestReport:
    files_read: int = 0
    files_unchanged: int = 0
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
    files_gone: list[str] = field(default_factory=list)
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
            "files_unchanged": self.files_unchanged,
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
            "files_gone": self.files_gone,
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
            folder_target = _target(Path(folder))  # resolved once: a file that is no link is in it
            for name in (n for n in names if not n.startswith(".")):
                path = Path(folder) / name
                target = _target(path) if path.is_symlink() else folder_target / name
                outside = not follow_symlinks and not target.is_relative_to(root)
                found[path] = InputFile(path, target if outside else None)
    return sorted(found.values(), key=lambda f: f.path.as_posix())


def _target(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: reading it fails later, as `unreadable`
        return path.absolute()


def _source_name(workspace: Workspace, path: Path, folders: dict[Path, str] | None = None) -> tuple[str, list[str]]:
    """Where a file was found, relative to the workspace (its folder resolved, not the file:
    a link is named as the link), always valid UTF-8, and a warning when the name was not.
    ``folders``: names of folders already resolved, filled as they are (one resolve per folder)."""
    folders = {} if folders is None else folders
    if path.parent not in folders:
        folders[path.parent] = workspace.relative(path.parent)
    name = f"{folders[path.parent]}/{path.name}".removeprefix("./")
    try:
        safe = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:
        safe = clean.replace_lone_surrogates(name)[0]
    if safe == name:
        return name, []
    return safe, [f"the file name is not valid UTF-8; recorded as {safe!r}"]


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
    jobs: int | None = None,
) -> IngestReport:
    """Read raw articles under ``paths`` (default: ``[ingest] paths``) into articles.parquet.

    ``follow_symlinks``: also read links that lead outside the input folders (see
    ``find_input_files``). ``jobs``: worker processes for the per-file work (default: one per
    core; 1 reads in this process); the output does not depend on it.
    """
    progress = progress or NullProgress()
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    cfg = workspace.config.ingest
    given = [Path(p) for p in paths] if paths else [workspace.root / p for p in cfg.paths]
    missing = [p for p in given if not p.exists()]
    if missing:
        raise InputNotFound(f"{missing[0]}: no such file or folder",
                            hint="pass existing files or folders, or put articles in raw/")
    with _ingest_lock(workspace):
        report = IngestReport(output=workspace.relative(workspace.articles_path))
        report.leftovers_removed = _remove_leftovers(workspace)
        _run(workspace, find_input_files(given, follow_symlinks=follow_symlinks), given, report, progress,
             jobs or workspace.config.ingest.jobs or pool.default_jobs())
        atomicio.write_json(workspace.ingest_report_path, report.to_dict())
    return report


def _run(workspace: Workspace, files: list[InputFile], given: list[Path], report: IngestReport,
         progress: Progress, jobs: int) -> None:
    cfg = workspace.config.ingest
    options = ReaderOptions(max_bytes=int(cfg.max_file_mb * 1e6), min_words=cfg.min_words,
                            boilerplate=cfg.boilerplate)
    settings = state.settings_key(max_bytes=options.max_bytes, min_words=options.min_words,
                                  boilerplate=options.boilerplate, threshold=cfg.near_duplicate_threshold,
                                  num_perm=cfg.num_perm, shingle_size=cfg.shingle_size)
    saved = state.load(workspace, settings)
    index = NearDuplicateIndex(cfg.near_duplicate_threshold, cfg.num_perm, cfg.shingle_size)
    known: dict[str, set[tuple[str, str]]] = {}  # article_id -> (source, sha256) pairs recorded
    extra_sources: dict[str, list[dict]] = {}
    previous = workspace.articles_path if workspace.articles_path.exists() else None
    if previous is not None:
        _load_previous(workspace, cfg.batch_size, saved.signatures, known, index)

    entries = dict(saved.files)
    folders: dict[Path, str] = {}
    plan = [_plan(workspace, file, entries, folders) for file in files]
    report.files_gone = _gone(workspace, given, entries, {p.source for p in plan})
    work = pool.WorkSettings(options, cfg.num_perm, cfg.shingle_size)
    staging = workspace.cache_dir / f"{STAGING_PREFIX}{os.getpid()}.parquet"
    try:
        with pq.ParquetWriter(staging, ARTICLE_SCHEMA) as writer, \
                contextlib.closing(pool.run([p for p in plan if p.known_sha256 != ""], work, jobs)) as results:
            batcher = parquetio.RowWriter(writer, lambda rows: pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
                                          cfg.batch_size)
            progress.start(len(files), "ingest")
            for task in plan:
                report.files_read += 1
                result = pool.FileResult([], unchanged=True) if task.known_sha256 == "" else next(results)
                if result.unchanged:
                    entry = entries[task.source]
                    if result.stat is not None:
                        entry.size, entry.mtime_ns = result.stat
                    _reuse(entry, report)
                    report.files_unchanged += 1
                else:
                    _take(task.source, result, report, known, extra_sources, batcher, index, entries)
                progress.advance()
            batcher.flush()
        progress.finish()
        report.total_articles = len(known)
        changed = previous is None or not saved.usable or report.new_articles or extra_sources
        if changed:
            _write_articles(workspace, previous, staging, extra_sources, index, cfg.batch_size)
        try:
            state.save(workspace, settings, entries, index.signatures() if changed else None, cfg.batch_size)
        except OSError as exc:
            raise OutputError(f"{workspace.relative(workspace.articles_path)} was written, but not "
                              f"{workspace.relative(state.state_dir(workspace))}/: {exc}",
                              hint="check free disk space and permissions; the next run reads every file "
                                   "again, and adds nothing twice") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    clusters = index.clusters()
    report.near_duplicate_clusters = len(clusters)
    report.articles_in_clusters = sum(len(m) for m in clusters.values())


def _load_previous(workspace: Workspace, batch_size: int, signatures: dict[str, bytes] | None,
                   known: dict[str, set[tuple[str, str]]], index: NearDuplicateIndex) -> None:
    """The articles already there: their sources, and their place in the near-duplicate index
    (restored from the stored signatures and cluster ids, or computed from their text)."""
    columns = ["article_id", "sources", "text" if signatures is None else "cluster_id"]
    unsigned: dict[str, str] = {}  # article id -> cluster id, for articles with no stored signature
    for batch in iter_article_batches(workspace, batch_size, columns=columns):
        ids, sources = batch.column("article_id").to_pylist(), batch.column("sources").to_pylist()
        for aid, third, found in zip(ids, batch.column(columns[2]).to_pylist(), sources):
            known[aid] = {(s["file"], s["sha256"]) for s in found}
            if signatures is None:
                index.add(aid, third)
            elif aid in signatures:
                index.restore(aid, third, signatures.pop(aid))
            else:
                unsigned[aid] = third
    if unsigned:
        for batch in iter_article_batches(workspace, batch_size, columns=["article_id", "text"]):
            for aid, text in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()):
                if aid in unsigned:
                    index.restore(aid, unsigned[aid], dedup.signature(text, index.num_perm, index.shingle_size))


def _plan(workspace: Workspace, file: InputFile, entries: dict[str, state.FileEntry],
          folders: dict[Path, str]) -> pool.Task:
    """What to do with one file; ``known_sha256`` "" means unchanged since it was ingested: skip it."""
    source, name_warnings = _source_name(workspace, file.path, folders)
    entry = entries.get(source) if file.link_target is None else None
    known_sha = None
    if entry is not None:
        known_sha = "" if pool.file_stat(file.path) == (entry.size, entry.mtime_ns) else entry.sha256
    return pool.Task(file.path, source, tuple(name_warnings), file.link_target, known_sha)


def _gone(workspace: Workspace, given: list[Path], entries: dict[str, state.FileEntry], seen: set[str]) -> list[str]:
    """Files ingested before from the input folders that are not there now (their articles stay)."""
    folders = [g.resolve() for g in given if g.is_dir()]
    return [name for name in sorted(entries) if name not in seen
            and any((workspace.root / name).resolve().is_relative_to(f) for f in folders)]


def _reuse(entry: state.FileEntry, report: IngestReport) -> None:
    """Count an unchanged file as a full read of it would: all its documents already ingested."""
    report.documents_read += len(entry.article_ids)
    report.already_ingested += len(entry.article_ids)
    report.rejected.extend(entry.rejections)


def _take(source: str, result: pool.FileResult, report: IngestReport, known: dict[str, set[tuple[str, str]]],
          extra_sources: dict[str, list[dict]], batcher: parquetio.RowWriter, index: NearDuplicateIndex,
          entries: dict[str, state.FileEntry]) -> None:
    """Merge what one file gave, and remember it when the file was stable while read."""
    for item in result.items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
        else:
            _add(item, report, known, extra_sources, batcher, index)
    if result.stat is None or result.sha256 is None:
        entries.pop(source, None)
        return
    entries[source] = state.FileEntry(*result.stat, result.sha256,
                                      [i.article_id for i in result.items if not isinstance(i, Rejection)],
                                      [i for i in result.items if isinstance(i, Rejection)])


def _add(item: pool.Parsed, report: IngestReport, known: dict[str, set[tuple[str, str]]],
         extra_sources: dict[str, list[dict]], batcher: parquetio.RowWriter, index: NearDuplicateIndex) -> None:
    """Count one document read: already ingested, an exact duplicate (a new source), or a new row."""
    report.documents_read += 1
    aid, row = item.article_id, item.row
    key = (row["source_file"], row["raw_sha256"])
    if aid in known:
        if key in known[aid]:
            report.already_ingested += 1
        else:
            report.exact_duplicates += 1
            known[aid].add(key)
            extra_sources.setdefault(aid, []).append(
                {"file": row["source_file"], "sha256": row["raw_sha256"], "url": row["source_url"]})
        return
    known[aid] = {key}
    report.new_articles += 1
    report.warnings.extend({"source": row["source_file"], "article_id": aid, "warning": w} for w in row["warnings"])
    batcher.add(row)
    index.add_signature(aid, item.signature)

def _ingest_lock(workspace: Workspace) -> contextlib.AbstractContextManager[None]:
    """One ingest at a time: two would each merge into the old table, and the last would drop
    what the other added."""
    return atomicio.exclusive_lock(workspace.cache_dir / LOCK_NAME, lambda: OutputError(
        f"another `toolkit ingest` is writing {workspace.relative(workspace.articles_path)}",
        hint="wait for it to finish, then run again"))


def _remove_leftovers(workspace: Workspace) -> list[str]:
    """Files an ingest killed midway left: its staging file and its outputs' temporary siblings.

    Only names that ingest itself makes (``.cache/ingest-staging-<pid>.parquet``,
    ``.articles.parquet.*.tmp``, ``.ingest-report.json.*.tmp``, and the same for the files of
    ``ingest-state/``); we hold the lock, so none is in use.
    """
    folder = state.state_dir(workspace)
    patterns = [(workspace.cache_dir, f"{STAGING_PREFIX}*.parquet")] + [
        (target.parent, f".{target.name}.*.tmp") for target in (
            workspace.articles_path, workspace.ingest_report_path, folder / state.FILES, folder / state.SIGNATURES)]
    removed = []
    for folder, pattern in patterns:
        for leftover in sorted(folder.glob(pattern)) if folder.is_dir() else ():
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
