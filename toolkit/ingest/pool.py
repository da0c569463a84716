"""The per-file work of an ingest, on every core: one raw file in, its rows and signatures out.

Reading, decoding, extraction, cleaning, language id, the article id and the MinHash
signature of each document depend on that document alone, so they run in worker processes
(``fork``; chunks of files). Results come back in the order of the files given, and everything
that depends on other documents (exact duplicates, clusters, the table) stays in the parent,
so the output is the same bytes whatever the number of workers. At most a few chunks per
worker are in flight, so results never pile up in memory faster than the parent writes them;
a file's results (its rows, not its bytes) are held whole while it is passed back.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import atomicio
from ..errors import OutputError
from . import clean
from .dedup import article_id, signature
from .readers import Document, ReaderOptions, Rejection, file_format, read_file

__all__ = ["Task", "Parsed", "FileResult", "WorkSettings", "process_file", "run", "file_stat"]

CHUNK_FILES = 16  # files per task sent to a worker: enough to amortise the round trip
IN_FLIGHT_PER_WORKER = 4
WARM_UP_MAX_BYTES = 1 << 18  # a file read twice (here and by a worker) must cost little


@dataclass(frozen=True)
class Task:
    """One file to read. ``known_sha256``: its bytes' hash when last ingested, if its size or
    modification time changed since (the file is then hashed first, and not read if equal)."""

    path: Path
    source: str
    name_warnings: tuple[str, ...] = ()
    link_target: Path | None = None
    known_sha256: str | None = None


@dataclass(frozen=True)
class WorkSettings:
    options: ReaderOptions
    num_perm: int
    shingle_size: int


@dataclass
class Parsed:
    """A document read: its id, its row of the articles table (cluster id still its own id)."""

    article_id: str
    row: dict[str, Any]
    signature: bytes


@dataclass
class FileResult:
    """What one file gave. ``stat``/``sha256`` are set only when the file did not change while it
    was read (so what is recorded about it describes what was read); ``unchanged``: its bytes
    equal ``known_sha256``, it was not read and ``items`` is empty."""

    items: list[Parsed | Rejection]
    stat: tuple[int, int] | None = None
    sha256: str | None = None
    unchanged: bool = False


def file_stat(path: Path) -> tuple[int, int] | None:
    """(size, modification time in ns) of a file, or None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _sha256(path: Path) -> str | None:
    try:
        return atomicio.sha256_file(path)
    except (OSError, EOFError):
        return None


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


def _link_rejection(source: str, target: Path) -> Rejection:
    return Rejection(source, "symlink-outside",
                     f"{source}: a symbolic link to {target.as_posix()}, outside the input folder; not read "
                     "(follow links only when you trust where they lead: `toolkit ingest --follow-symlinks`)")


def process_file(task: Task, settings: WorkSettings) -> FileResult:
    """Everything one file gives (see ``FileResult``)."""
    if task.link_target is not None:
        return FileResult([_link_rejection(task.source, task.link_target)])
    before = file_stat(task.path)
    if task.known_sha256 is not None and before is not None:
        sha = _sha256(task.path)
        if sha == task.known_sha256 and file_stat(task.path) == before:
            return FileResult([], before, sha, unchanged=True)
    items: list[Parsed | Rejection] = []
    for item in read_file(task.path, task.source, settings.options):
        if isinstance(item, Rejection):
            items.append(item)
            continue
        item.warnings = list(task.name_warnings) + item.warnings
        aid = article_id(item.body)
        items.append(Parsed(aid, _row(item, aid), signature(item.body, settings.num_perm, settings.shingle_size)))
    sha = _sha256(task.path) if before is not None else None
    if sha is None or file_stat(task.path) != before:
        return FileResult(items)
    return FileResult(items, before, sha)


def _process_chunk(tasks: Sequence[Task], settings: WorkSettings) -> list[FileResult]:
    return [process_file(task, settings) for task in tasks]


def default_jobs() -> int:
    """Worker processes by default: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _warm_up(tasks: Sequence[Task], settings: WorkSettings) -> None:
    """Read one small file of each format here, result discarded, before the workers are forked.

    The first document of a format pays for imports and models loaded on first use (trafilatura,
    the language model, stopword lists: about a second); loaded once here, every worker inherits
    them instead of loading its own. (dateparser's locales, seconds more, are loaded only by a
    document whose date needs them, so that an incremental run of a few files does not pay.)
    """
    seen: set[str | None] = set()
    for task in tasks[:200]:
        fmt = file_format(task.path)
        stat = file_stat(task.path)
        if fmt not in seen and task.link_target is None and stat is not None and stat[0] <= WARM_UP_MAX_BYTES:
            seen.add(fmt)
            process_file(Task(task.path, task.source), settings)


def run(tasks: Sequence[Task], settings: WorkSettings, jobs: int) -> Iterator[FileResult]:
    """One ``FileResult`` per task, in the order of ``tasks``; ``jobs`` worker processes (1: here)."""
    chunks = [tasks[i:i + CHUNK_FILES] for i in range(0, len(tasks), CHUNK_FILES)]
    jobs = min(jobs, len(chunks))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for task in tasks:
            yield process_file(task, settings)
        return
    _warm_up(tasks, settings)
    # fork: workers start with the parent's modules, models and settings. A worker that dies
    # (killed, out of memory) breaks the executor, which raises rather than waits forever.
    executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    try:
        pending: collections.deque = collections.deque()
        queued = iter(chunks)
        for chunk in queued:
            pending.append(executor.submit(_process_chunk, chunk, settings))
            if len(pending) >= jobs * IN_FLIGHT_PER_WORKER:
                break
        while pending:
            try:
                results = pending.popleft().result()
            except BrokenProcessPool as exc:
                raise OutputError("an ingest worker process died (killed, or out of memory)",
                                  hint="run `toolkit ingest` again; if it happens again, free memory or "
                                       "reduce [ingest] max_file_mb") from exc
            for chunk in queued:  # keep the workers busy while the parent merges
                pending.append(executor.submit(_process_chunk, chunk, settings))
                break
            yield from results
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
