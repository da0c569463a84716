"""The ingest stage (``toolkit ingest``): raw articles -> the articles table (``annotations/articles/``).

Takes in: ``raw/`` (or given paths): scraped ``.txt``, ``.html``, ``.jsonl`` (``.gz``).
Writes: ``annotations/articles/`` (layout, schema and readers in the shared ``articles``
module) and ``annotations/ingest-report.json``.

- ``readers``: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out;
- ``decode``: which encoding raw bytes were written in, by plausibility;
- ``clean``: repair, normalisation, boilerplate and dates;
- ``boilerplate``: a scraped page's plain text cut to the article (line classification, main
  block) and the lines repeated across a source's articles;
- ``langid``: an article's language, py3langid's model scored with numpy;
- ``minhash``: the MinHash signature of a text's word shingles, vectorised with numpy;
- ``dedup``: exact duplicates by content key, near-duplicates by MinHash LSH with the index on disk;
- ``pool``: the per-file work (read to signature) in worker processes, results in input order;
- ``distributed``: the same per-file work as Ray tasks on a cluster (``toolkit ingest --cluster``),
  results in input order with a bound on chunks in flight; workers read the files from a shared
  filesystem;
- ``store``: the table's folder written (new parts appended, side tables, the manifest last)
  and each part's near-duplicate index kept beside it;
- ``state``: what a re-run needs to skip unchanged files (``annotations/ingest-state/``);
- this module: the run itself, merging into the existing table.

Ingest *appends* to the existing table: rows already there are kept as they are (their ids
never change, their part is never rewritten), new articles go into a new part, and a file seen
again adds nothing. So re-running on the same input changes no byte, and ingesting a new
folder adds rows. Exact duplicates collapse into one row listing every source (a source found
for a row of an earlier part is recorded in the sources side table); near-duplicates share a
``cluster_id`` (recorded in the clusters side table when an article joins a cluster of rows
written before).

All cores by default (``jobs``): the per-file work runs in worker processes (``pool``), and the
merge, duplicates, clusters and writing in this process in file order, so the output is the
same bytes whatever the number of workers (or a cluster, ``address``).

Incremental: a raw file already ingested whose size and modification time are unchanged is not
opened again (when they changed, its SHA-256 decides), and the MinHash signatures of the
articles already there are never computed again: they are in each part's index (``store``).
The report counts such a file as read (``files_unchanged`` says how many were), its documents
as ``already_ingested`` and its rejections as before. When nothing new was found, the table is
left as it is. A file ingested before and now gone from an input folder keeps its articles
(releases and labels refer to them): it is listed in the report's ``files_gone``.

Memory: documents stream through in batches of ``[ingest] batch_size`` rows into the new
part. What is held for the whole run is each article's id and source key (about 30 bytes an
article, ``Known``), the state's entry of each raw file, and while a part's index is made, its
band keys (about 170 bytes a row of that part); the near-duplicate index itself stays on disk
(``dedup``). With several workers, one file's documents are held whole while a worker passes
them back.

Safety: a symbolic link under an input folder that leads outside it is not read (rejected as
``symlink-outside``) unless ``follow_symlinks``; one ingest runs at a time in a workspace
(``annotations/.cache/ingest.lock``), and it first removes what an ingest killed midway left
behind (files the manifest does not list, temporary outputs; nothing else); a damaged table
stops the run before anything is written. The manifest is replaced last, so a run stopped at
any point leaves the previous table; the state records which table it describes, so at worst
it is ignored (every file is then read again, adding nothing twice).
"""

from __future__ import annotations

import collections
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import atomicio
from ..errors import InputNotFound, OutputError
from ..progress import NullProgress, Progress
from ..workspace import Workspace
from ..articles import ARTICLE_SCHEMA, MANIFEST, SOURCE_TYPE, Manifest, published_iso, read_articles
from . import clean, dedup, pool, state, store
from .dedup import article_id
from .readers import REJECTION_REASONS, ReaderOptions, Rejection

__all__ = ["ARTICLE_SCHEMA", "SOURCE_TYPE", "IngestReport", "InputFile", "GrowingIds", "find_input_files", "ingest",
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


def ingest(
    workspace: Workspace,
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
    address: str | None = None,
) -> IngestReport:
    """Read raw articles under ``paths`` (default: ``[ingest] paths``) into the articles table.

    ``follow_symlinks``: also read links that lead outside the input folders (see
    ``find_input_files``). ``jobs``: worker processes for the per-file work (default: one per
    core; 1 reads in this process); the output does not depend on it. ``address``: run the
    per-file work on the cluster there instead (``distributed``); the output is the same.
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
        report = IngestReport(output=workspace.relative(workspace.articles_path) + "/")
        report.leftovers_removed = _remove_leftovers(workspace)
        _run(workspace, find_input_files(given, follow_symlinks=follow_symlinks), given, report, progress,
             jobs or workspace.config.ingest.jobs or pool.default_jobs(), address)
        atomicio.write_json(workspace.ingest_report_path, report.to_dict())
    return report


def _run(workspace: Workspace, files: list[InputFile], given: list[Path], report: IngestReport,
         progress: Progress, jobs: int, address: str | None) -> None:
    cfg = workspace.config.ingest
    options, index_settings, settings = run_settings(workspace)
    manifest = store.prepare(workspace)
    report.leftovers_removed += store.remove_leftovers(workspace, manifest)
    saved = state.load(workspace, settings)
    indexes = store.ensure_indexes(workspace, manifest, index_settings, cfg.batch_size, progress)
    known = Known(indexes, store.read_side(workspace, manifest.extra_sources, ["part", "row", "article_id", "sources"]))

    entries = dict(saved.files)
    folders: dict[Path, str] = {}
    plan = [_plan(workspace, file, entries, folders) for file in files]
    report.files_gone = _gone(workspace, given, entries, {p.source for p in plan})
    work = pool.WorkSettings(options, cfg.num_perm, cfg.shingle_size)
    writer = store.PartWriter(workspace, len(manifest.parts), index_settings, cfg.batch_size, store.PART_ROWS)
    to_read = [p for p in plan if p.known_sha256 != ""]
    committed = False
    try:
        if address is None:
            results = pool.run(to_read, work, jobs)
        else:
            from . import distributed
            results = distributed.run(to_read, work, address)
        with contextlib.closing(results):
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
                    _take(task.source, result, report, known, writer, entries)
                progress.advance()
        writer.finish()
        progress.finish()
        recluster = manifest.clustering != index_settings.clustering
        if writer.parts or known.added_sources or (recluster and manifest.parts):
            clusters = _clusters(workspace, manifest, [*indexes, *writer.indexes], len(indexes) if not recluster
                                 else 0, index_settings, cfg.near_duplicate_threshold, cfg.batch_size)
            manifest = store.commit(workspace, manifest, writer.parts, clusters, known.extra_rows(),
                                    index_settings.clustering)
        committed = True
    except BaseException:
        if not committed:
            writer.abort()
        raise
    report.total_articles = manifest.num_rows
    sizes = collections.Counter(row["cluster_id"] for row in store.read_side(
        workspace, manifest.clusters, ["cluster_id"]))
    report.near_duplicate_clusters = sum(1 for n in sizes.values() if n > 1)
    report.articles_in_clusters = sum(n for n in sizes.values() if n > 1)
    try:
        state.save(workspace, settings, entries)
    except OSError as exc:
        raise OutputError(f"{workspace.relative(workspace.articles_path)}/ was written, but not "
                          f"{workspace.relative(state.state_dir(workspace))}/: {exc}",
                          hint="check free disk space and permissions; the next run reads every file "
                               "again, and adds nothing twice") from exc


def run_settings(workspace: Workspace) -> tuple[ReaderOptions, store.Settings, str]:
    """The reader options, the near-duplicate index's settings, and the key naming both that
    the state was saved with (a state saved with other settings is not used)."""
    cfg = workspace.config.ingest
    options = ReaderOptions(max_bytes=int(cfg.max_file_mb * 1e6), min_words=cfg.min_words,
                            boilerplate=cfg.boilerplate, html_focus=cfg.html_focus)
    index_settings = store.Settings(cfg.num_perm, cfg.shingle_size,
                                    dedup.Bands.for_threshold(cfg.near_duplicate_threshold, cfg.num_perm),
                                    dedup.SIGNATURE_SCHEME)
    # html_focus is named only when it is not the default: a state saved before the setting
    # existed was made with "precision", and stays usable.
    focus = {} if options.html_focus == "precision" else {"html_focus": options.html_focus}
    key = state.settings_key(max_bytes=options.max_bytes, min_words=options.min_words,
                             boilerplate=options.boilerplate, clustering=index_settings.clustering, **focus)
    return options, index_settings, key


class GrowingIds:
    """Numbers (article ids, source keys) added during a run, each with a value (a row number),
    found again without keeping a Python object per number for the whole run: the recent ones in
    a dict of at most ``BUFFER`` entries, the rest in sorted numpy blocks, merged as they grow
    (as a log-structured merge tree does: at most log2(n / BUFFER) blocks to search). Millions of
    small long-lived objects would also pin the interpreter's memory pools they were allocated
    in, among the short-lived objects of every document."""

    BUFFER = 1 << 16

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self._recent) + sum(len(keys) for keys, _ in self._blocks)

    def get(self, key: int) -> int | None:
        value = self._recent.get(key)
        if value is not None:
            return value
        wanted = np.uint64(key)
        for keys, values in self._blocks:
            i = int(np.searchsorted(keys, wanted))
            if i < len(keys) and keys[i] == wanted:
                return int(values[i])
        return None

    def add(self, key: int, value: int = 0) -> None:
        self._recent[key] = value
        if len(self._recent) >= self.BUFFER:
            keys = np.fromiter(self._recent.keys(), dtype=np.uint64, count=len(self._recent))
            values = np.fromiter(self._recent.values(), dtype=np.int64, count=len(self._recent))
            self._recent = {}
            while self._blocks and len(self._blocks[-1][0]) <= len(keys):
                older_keys, older_values = self._blocks.pop()
                keys, values = np.concatenate([older_keys, keys]), np.concatenate([older_values, values])
            order = np.argsort(keys, kind="stable")
            self._blocks.append((keys[order], values[order]))


class Known:
    """What the table holds, to tell a document read apart: already ingested from this file,
    an exact duplicate found in a new file (a source added to its row), or a new article.

    Holds the ids of the table (8 bytes an article, with their sorted order) and its source
    keys (8 bytes a source); the rows of this run are added as they are written."""

    def __init__(self, indexes: list[dedup.PartIndex], extra: list[dict[str, Any]]) -> None:
        parts = [index.ids() for index in indexes]
        self.offsets = np.cumsum([0] + [len(i) for i in parts])
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        del parts
        self.order = np.argsort(ids, kind="stable").astype(np.uint32 if len(ids) < 2**32 else np.int64)
        self.sorted_ids = ids[self.order]
        keys = [index.source_keys() for index in indexes]
        self._extra = {(row["part"], row["row"]): row for row in extra}
        extra_keys = [dedup.source_key(row["article_id"], s["file"], s["sha256"]) for row in extra
                      for s in row["sources"]]
        self.source_keys = np.sort(np.concatenate([*keys, np.array(extra_keys, dtype=np.uint64)]))
        self.new_rows = GrowingIds()  # article id (number) -> row number in this run's parts
        self.new_keys = GrowingIds()  # source keys of this run
        self.added_sources = 0

    def locate(self, number: int) -> tuple[int, int] | None:
        """(part, row) of an article already in the table or written by this run, else None."""
        row = self.new_rows.get(number)
        if row is not None:
            return len(self.offsets) - 1 + row // store.PART_ROWS, row % store.PART_ROWS
        i = int(np.searchsorted(self.sorted_ids, np.uint64(number)))
        if i < len(self.sorted_ids) and int(self.sorted_ids[i]) == number:
            g = int(self.order[i])
            part = int(np.searchsorted(self.offsets, g, side="right")) - 1
            return part, g - int(self.offsets[part])
        return None

    def seen(self, key: int) -> bool:
        if self.new_keys.get(key) is not None:
            return True
        i = int(np.searchsorted(self.source_keys, np.uint64(key)))
        return i < len(self.source_keys) and int(self.source_keys[i]) == key

    def add_source(self, where: tuple[int, int], aid: str, source: dict[str, Any], key: int) -> None:
        row = self._extra.setdefault(where, {"part": where[0], "row": where[1], "article_id": aid, "sources": []})
        row["sources"].append(source)
        self.new_keys.add(key)
        self.added_sources += 1

    def extra_rows(self) -> list[dict[str, Any]]:
        return [self._extra[k] for k in sorted(self._extra)]


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
    report.documents_read += entry.documents
    report.already_ingested += entry.documents
    report.rejected.extend(entry.rejections)


def _take(source: str, result: pool.FileResult, report: IngestReport, known: Known, writer: store.PartWriter,
          entries: dict[str, state.FileEntry]) -> None:
    """Merge what one file gave, and remember it when the file was stable while read."""
    for item in result.items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
        else:
            _add(item, report, known, writer)
    if result.stat is None or result.sha256 is None:
        entries.pop(source, None)
        return
    entries[source] = state.FileEntry(*result.stat, result.sha256,
                                      [i.article_id for i in result.items if not isinstance(i, Rejection)],
                                      [i for i in result.items if isinstance(i, Rejection)])


def _add(item: pool.Parsed, report: IngestReport, known: Known, writer: store.PartWriter) -> None:
    """Count one document read: already ingested, an exact duplicate (a new source), or a new row."""
    report.documents_read += 1
    aid, row = item.article_id, item.row
    number = dedup.id_number(aid)
    key = dedup.source_key(aid, row["source_file"], row["raw_sha256"])
    where = known.locate(number)
    if where is not None:
        if known.seen(key):
            report.already_ingested += 1
        else:
            report.exact_duplicates += 1
            known.add_source(where, aid, {"file": row["source_file"], "sha256": row["raw_sha256"],
                                          "url": row["source_url"]}, key)
        return
    known.new_rows.add(number, writer.rows_written)
    known.new_keys.add(key)
    report.new_articles += 1
    report.warnings.extend({"source": row["source_file"], "article_id": aid, "warning": w} for w in row["warnings"])
    writer.add(row, number, item.signature, key)


def _clusters(workspace: Workspace, manifest: Manifest, indexes: list[dedup.PartIndex], first_new: int,
              settings: store.Settings, threshold: float, batch_size: int) -> list[dict[str, Any]]:
    """The clusters table after this run: pairs that involve a part from ``first_new`` on are
    found and confirmed (``dedup``), and joined to the clusters already recorded (all parts are
    new when the clustering settings changed: the table's clusters are then made again)."""
    offsets = np.cumsum([0] + [index.rows for index in indexes])
    ids = np.concatenate([index.ids() for index in indexes])
    pairs = dedup.confirm(dedup.candidate_pairs(indexes, offsets, first_new, settings.bands), indexes, offsets,
                          threshold)
    clusters = dedup.Clusters()
    where: dict[int, int] = {}  # article id (number) -> row number in the whole table
    overrides: dict[int, int] = {}  # row number -> cluster id (number), where the part says otherwise
    if first_new:
        previous = store.read_side(workspace, manifest.clusters, ["part", "row", "article_id", "cluster_id"])
    else:
        previous = [{"part": p, "row": r, "article_id": aid, "cluster_id": aid}
                    for p, r, aid, _ in store.stored_cluster_ids(workspace, manifest, batch_size)]
    for row in previous:
        g, aid, cid = int(offsets[row["part"]]) + row["row"], dedup.id_number(row["article_id"]), \
            dedup.id_number(row["cluster_id"])
        where[aid], overrides[g] = g, cid
        if aid != cid:
            clusters.join(aid, cid)
    for a, b in pairs.tolist():
        where[int(ids[a])], where[int(ids[b])] = a, b
        clusters.join(int(ids[a]), int(ids[b]))
    for aid, cid in clusters.members().items():
        overrides[where[aid]] = cid
    rows = []
    for g in sorted(overrides):
        part = int(np.searchsorted(offsets, g, side="right")) - 1
        rows.append({"part": part, "row": g - int(offsets[part]), "article_id": dedup.id_text(int(ids[g])),
                     "cluster_id": dedup.id_text(overrides[g])})
    return rows


def _ingest_lock(workspace: Workspace) -> contextlib.AbstractContextManager[None]:
    """One ingest at a time: two would each merge into the old table, and the last would drop
    what the other added."""
    return atomicio.exclusive_lock(workspace.cache_dir / LOCK_NAME, lambda: OutputError(
        f"another `toolkit ingest` is writing {workspace.relative(workspace.articles_path)}/",
        hint="wait for it to finish, then run again"))


def _remove_leftovers(workspace: Workspace) -> list[str]:
    """Files an ingest killed midway left outside the table's folder: temporary siblings of the
    report and the state (``store.remove_leftovers`` cleans the folder itself).

    Only names that ingest itself makes; we hold the lock, so none is in use.
    """
    folder = state.state_dir(workspace)
    patterns = [(workspace.cache_dir, f"{STAGING_PREFIX}*.parquet")] + [
        (target.parent, f".{target.name}.*.tmp") for target in (
            workspace.articles_path / MANIFEST, workspace.ingest_report_path, folder / state.FILES)]
    removed = []
    for folder, pattern in patterns:
        for leftover in sorted(folder.glob(pattern)) if folder.is_dir() else ():
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
                removed.append(workspace.relative(leftover))
    return removed
