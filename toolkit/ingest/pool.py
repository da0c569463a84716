"""The per-file work of an ingest, on every core: one raw file in, its rows and signatures out.

Reading, decoding, extraction, cleaning, language id, the article id and the MinHash
signature of each document depend on that document alone, so they run in worker processes
(``fork``; chunks of files). Results come back in the order of the files given, and everything
that depends on other documents (exact duplicates, clusters, the table) stays in the parent,
so the output is the same bytes whatever the number of workers. At most a few chunks per
worker are in flight, so results never pile up in memory faster than the parent writes them;
a file's results (its rows, not its bytes) are held whole while it is passed back. Chunks
hold at most ``CHUNK_FILES`` files and ``CHUNK_BYTES`` bytes, so workers finish together. A
large uncompressed JSONL file (a day's dump) is shared out in spans of whole lines of about
``CHUNK_BYTES`` each (found, and the file hashed, in one pass here), and its spans' results are
put back together as the file's: every core works on it, and the result is the same as one
worker reading it.

Language id comes from ``langid`` (``classify_language``), signatures from ``minhash``.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import atomicio
from ..articles import article_id
from ..errors import OutputError
from . import clean
from .langid import classify_language
from .minhash import signature
from .readers import Document, ReaderOptions, Rejection, file_format, read_file

__all__ = ["Task", "Parsed", "FileResult", "WorkSettings", "process_file", "run", "file_stat", "classify_language",
           "split", "chunk", "reassemble"]

CHUNK_FILES = 16  # files per task sent to a worker: enough to amortise the round trip
# ... and at most this many bytes, so that large files (HTML pages, 50 ms each) come in small
# chunks: the last chunks then end at about the same time on every worker.
CHUNK_BYTES = 256 * 1024
IN_FLIGHT_PER_WORKER = 4
WARM_UP_MAX_BYTES = 1 << 18  # a file read twice (here and by a worker) must cost little
SPLIT_BYTES = 4 * CHUNK_BYTES  # an uncompressed JSONL file larger than this is shared by the workers


@dataclass(frozen=True)
class Task:
    """One file to read. ``known_sha256``: its bytes' hash when last ingested, if its size or
    modification time changed since (the file is then hashed first, and not read if equal)."""

    path: Path
    source: str
    name_warnings: tuple[str, ...] = ()
    link_target: Path | None = None
    known_sha256: str | None = None
    span: tuple[int, int, int] | None = None  # (first byte, end byte, first line) of a JSONL file's lines


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


def _language(text: str, words: int) -> str | None:
    if words < 5:
        return None
    return classify_language(text[:5000])


def _row(doc: Document, aid: str) -> dict[str, Any]:
    words = doc.n_words if doc.n_words is not None else clean.count_words(doc.body)
    return {
        "article_id": aid,
        "title": doc.title,
        "text": doc.body,
        "published": doc.published,
        "source_url": doc.source_url,
        "source_name": doc.source_name,
        "language": _language(doc.body, words),
        "n_chars": len(doc.body),
        "n_words": words,
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
    if task.span is not None:  # part of a file: what is recorded about the file is known to the parent
        before = None
    for item in read_file(task.path, task.source, settings.options, task.span):
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
    """Read one small file (or one line of a shared JSONL file) of each format here, result
    discarded, before the workers are forked.

    The first document of a format pays for imports and models loaded on first use (trafilatura,
    the language model, stopword lists: about a second); loaded once here, every worker inherits
    them instead of loading its own.

    dateparser is not loaded here. Its locales cost 2 s, and 2.4 s more the first time a line
    is one no English date reads (about 770 regular expressions compiled), and most documents
    never ask: a date line in a known format is read without it. Loaded here, every run would
    wait for it before any worker starts; loaded by each worker that meets such a line, the
    workers pay it side by side, which takes no longer on the clock, and a run that needs none
    pays nothing.
    """
    seen: set[str | None] = set()
    for task in tasks[:200]:
        fmt = file_format(task.path)
        if fmt in seen or task.link_target is not None:
            continue
        if task.span is not None:
            first, _, line = task.span
            process_file(dataclasses.replace(task, span=(first, first + 1, line)), settings)  # its first line
            seen.add(fmt)
            continue
        stat = file_stat(task.path)
        if stat is not None and stat[0] <= WARM_UP_MAX_BYTES:
            seen.add(fmt)
            process_file(Task(task.path, task.source), settings)


def chunk(tasks: Sequence[Task]) -> list[Sequence[Task]]:
    """Consecutive runs of tasks, each of at most ``CHUNK_FILES`` files and ``CHUNK_BYTES``
    bytes (a larger file alone)."""
    chunks, start, size = [], 0, 0
    for i, task in enumerate(tasks):
        if task.span is not None:
            size += task.span[1] - task.span[0]
        else:
            stat = file_stat(task.path) if task.link_target is None else None
            size += stat[0] if stat is not None else 0
        if i + 1 - start >= CHUNK_FILES or size >= CHUNK_BYTES:
            chunks.append(tasks[start:i + 1])
            start, size = i + 1, 0
    if start < len(tasks):
        chunks.append(tasks[start:])
    return chunks


def _splittable(task: Task) -> bool:
    if task.link_target is not None or task.known_sha256 is not None or file_format(task.path) != "jsonl" \
            or task.path.name.lower().endswith(".gz"):
        return False
    stat = file_stat(task.path)
    return stat is not None and stat[0] > SPLIT_BYTES


def _spans(path: Path) -> tuple[list[tuple[int, int, int]], tuple[int, int] | None, str | None]:
    """Spans of whole lines of about ``CHUNK_BYTES``: (first byte, end byte, number of the first
    line); the file's (size, modification time) before the pass and its SHA-256, in one pass."""
    size = CHUNK_BYTES
    before = file_stat(path)
    digest = hashlib.sha256()
    spans: list[tuple[int, int, int]] = []
    start, first_line, lines_before, offset, cut = 0, 1, 0, 0, size
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                while cut < offset + len(block):
                    newline = block.find(b"\n", max(cut - offset, 0))
                    if newline < 0:
                        cut = offset + len(block)  # the line goes on into the next block
                        break
                    end = offset + newline + 1
                    lines = lines_before + block.count(b"\n", 0, newline + 1)
                    spans.append((start, end, first_line))
                    start, first_line, cut = end, lines + 1, end + size
                lines_before += block.count(b"\n")
                offset += len(block)
    except OSError:
        return [], None, None
    if start < offset:
        spans.append((start, offset, first_line))
    return spans, before, digest.hexdigest()


Whole = dict[int, tuple[tuple[int, int] | None, str | None]]


def split(tasks: Sequence[Task]) -> tuple[list[tuple[int, Task]], Whole]:
    """The tasks, each large JSONL file cut into spans: (index of the task, unit) in order, and
    for each file cut, its (size, modification time) and SHA-256 when it was cut."""
    units: list[tuple[int, Task]] = []
    whole: Whole = {}
    for i, task in enumerate(tasks):
        if _splittable(task):
            spans, stat, sha = _spans(task.path)
            if len(spans) > 1:
                whole[i] = (stat, sha)
                units.extend((i, dataclasses.replace(task, span=span)) for span in spans)
                continue
        units.append((i, task))
    return units, whole


def reassemble(tasks: Sequence[Task], units: Sequence[tuple[int, Task]], whole: Whole,
               results: Iterator[FileResult]) -> Iterator[FileResult]:
    """One ``FileResult`` per task from the results of its units (``split``), in order: a cut
    file's spans put back together, recorded as read only if it did not change meanwhile."""
    try:
        position = 0
        for i, task in enumerate(tasks):
            if i not in whole:
                position += 1
                yield next(results)
                continue
            items: list[Parsed | Rejection] = []
            while position < len(units) and units[position][0] == i:
                items.extend(next(results).items)
                position += 1
            stat, sha = whole[i]
            unchanged = stat is not None and sha is not None and file_stat(task.path) == stat
            yield FileResult(items, stat, sha) if unchanged else FileResult(items)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def run(tasks: Sequence[Task], settings: WorkSettings, jobs: int) -> Iterator[FileResult]:
    """One ``FileResult`` per task, in the order of ``tasks``; ``jobs`` worker processes (1: here)."""
    if jobs > 1 and tasks and "fork" in multiprocessing.get_all_start_methods():
        units, whole = split(tasks)
        chunks = chunk([unit for _, unit in units])
        jobs = min(jobs, len(chunks))
        if jobs > 1:
            yield from reassemble(tasks, units, whole, _run_chunks(chunks, settings, jobs))
            return
    for task in tasks:
        yield process_file(task, settings)


def _run_chunks(chunks: list[Sequence[Task]], settings: WorkSettings, jobs: int) -> Iterator[FileResult]:
    """One ``FileResult`` per task of the chunks, in order, from ``jobs`` forked workers."""
    _warm_up([task for chunk in chunks[:200] for task in chunk], settings)
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
