"""``toolkit validate``: annotation records against the scheme, in two layers, as a report.

The layers are ``schema`` (the generated JSON Schema) and ``semantic`` (what JSON Schema
cannot say); this module runs them over a workspace, an export, ``tasks.jsonl`` or a
records file.

Validation returns a ``Report`` (valid, stats, errors as data); it never raises for bad
records. ``validate_workspace`` also moves records: invalid ones to
``annotations/quarantine.jsonl`` with their errors, valid ones (including quarantined ones
that pass now) to ``annotations/annotations.parquet``. Records in = valid + quarantined.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonschema
import pyarrow.parquet as pq

from .. import atomicio, journal, parquetio
from ..articles import article_ids, article_texts
from ..errors import InputError, InputNotFound
from ..scheme import Scheme, ensure_scheme_files_current
from ..workspace import Workspace
from .report import Report, ValidationError, _short, json_line, json_path
from .semantic import IDENTITY_KEYS, RecordChecker

# Records from Parquet ------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# Columns added after the first release of annotations.parquet, as older files read back.
_COLUMN_DEFAULTS = {"edited_by_other": False}


def iter_parquet_records(path: Path, scheme: Scheme) -> Iterator[dict[str, Any]]:
    """Rows of an annotations.parquet as JSON-like records; fields the file predates are empty."""
    from .normalise import RECORD_KEYS, _empty_values

    empty = _empty_values(scheme)  # [] for spans, relations, events and multiple choices; else None
    for batch in parquetio.iter_batches(path, 2000):
        for row in batch.to_pylist():
            record = {k: _jsonable(v) for k, v in row.items()}
            for key in list(RECORD_KEYS) + list(empty):
                if key not in record:  # a file written before the column existed
                    record[key] = empty.get(key, _COLUMN_DEFAULTS.get(key))
            yield record


# The entry points ------------------------------------------------------------------------

def validate_workspace(ws: Workspace) -> Report:
    """Re-validate every record of the workspace and move records in or out of quarantine."""
    from .normalise import records_to_table

    journal.recover(ws.annotations_dir)  # a pull killed mid-commit is finished first
    ensure_scheme_files_current(ws.schemas_dir)
    scheme = Scheme.load(ws.scheme_path)
    schema = json.loads((ws.schemas_dir / "annotation.schema.json").read_text(encoding="utf-8"))
    annotations = ws.annotations_dir / "annotations.parquet"
    quarantine_path = ws.annotations_dir / "quarantine.jsonl"
    if not annotations.exists() and not quarantine_path.exists():
        raise InputNotFound("no annotations to validate yet (annotations/annotations.parquet is missing)",
                            hint="run `toolkit pull` first")
    report = Report(source=ws.relative(annotations))
    previous_quarantine = list(_read_quarantine(quarantine_path))
    candidates: list[tuple[dict[str, Any], bool]] = []  # (record, was quarantined)
    if annotations.exists():
        candidates += [(r, False) for r in iter_parquet_records(annotations, scheme)]
    kept_entries = []  # quarantine entries that are not records (unmappable items): stay as they are
    for entry in previous_quarantine:
        if entry.get("record") is not None:
            candidates.append((entry["record"], True))
        else:
            kept_entries.append(entry)
    texts = article_texts(ws, {r.get("article_id") for r, _ in candidates})
    checker = RecordChecker(scheme, schema=schema, article_ids=article_ids(ws))
    valid: list[dict[str, Any]] = []
    new_entries: list[dict[str, Any]] = []
    for record, was_quarantined in sorted(candidates, key=lambda c: (str(c[0].get("task_id")),
                                                                      str(c[0].get("annotation_id")))):
        report.records += 1
        errors = checker.errors(record, texts.get(record.get("article_id")))
        if errors:
            report.errors.extend(errors)
            report.newly_quarantined += not was_quarantined
            new_entries.append(quarantine_entry(record, errors))
        else:
            report.moved_back += was_quarantined
            valid.append(record)
    report.valid_records = len(valid)
    report.quarantined = len(new_entries)
    for entry in kept_entries:
        if entry.get("kind") == "annotation":  # unmappable annotations are records in, quarantined
            report.records += 1
            report.quarantined += 1
        report.errors.extend(ValidationError(**{**{k: e.get(k) for k in ("type", "message", "path", "value")},
                                                "task_id": entry.get("task_id"),
                                                "annotation_id": entry.get("annotation_id"),
                                                "annotator": entry.get("annotator_id")})
                             for e in entry.get("errors", []))
    with atomicio.atomic_path(annotations) as tmp:
        pq.write_table(records_to_table(valid, scheme), tmp)
    with atomicio.atomic_open(quarantine_path) as fh:
        for entry in kept_entries + new_entries:
            fh.write(json_line(entry))
    return report


def quarantine_entry(record: dict[str, Any], errors: list[ValidationError]) -> dict[str, Any]:
    return {"kind": "annotation", "task_id": record.get("task_id"), "annotation_id": record.get("annotation_id"),
            "annotator_id": record.get("annotator_id"), "article_id": record.get("article_id"),
            "draft_id": None, "prediction_id": None, "errors": [e.to_dict() for e in errors],
            "record": record, "raw": None}


def _read_quarantine(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        yield from _iter_json_lines(path, hint="restore the file, or run `toolkit pull` to rebuild it")


def validate_export(path: Path, scheme: Scheme, *, fast: bool = True, semantic: bool = True,
                    workers: int | None = None) -> Report:
    """Validate a Label Studio export file (JSON, JSON_MIN, JSONL; plain or gzipped), streamed.

    A JSON list is validated by ``workers`` processes (default: the cores, at most 4): this
    process splits the stream into raw items (of a plain file, only their offsets and lengths go
    to the workers, which read the bytes themselves), the workers decode, normalise and check them, and
    the checks across records run here, in file order, so the report is the same as with one.
    ``fast=False`` skips the compiled check (jsonschema on every record); ``semantic=False``
    runs the JSON Schema layer only. Both exist for measuring; the defaults are what users get.
    """
    from .exports import iter_export_tasks
    from .normalise import normalise_task

    report = Report(source=str(path))
    checker = RecordChecker(scheme, fast=fast, semantic=semantic)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    if workers > 1 and _is_json_list(path) and "fork" in multiprocessing.get_all_start_methods():
        _validate_export_parallel(path, scheme, checker, report, workers, fast=fast, semantic=semantic)
        report.valid_records = report.records - report.quarantined
        return report
    for task in iter_export_tasks(path, scheme):
        result = normalise_task(task, scheme)
        text = (task.get("data") or {}).get("text") if isinstance(task, dict) else None
        text = text if isinstance(text, str) else None
        _add_task_result(report, result, [checker.record_errors(r, text) for r in result.records], checker)
    report.valid_records = report.records - report.quarantined
    return report


def _add_task_result(report: Report, result: Any, record_errors: list[list[ValidationError]],
                     checker: RecordChecker) -> None:
    """Fold one task's records (with their per-record errors) and mapping problems into ``report``."""
    for record, errors in zip(result.records, record_errors):
        report.records += 1
        errors = errors + checker.cross_errors(record)
        report.errors.extend(errors)
        report.quarantined += bool(errors)
    for entry in result.quarantine:
        if entry["kind"] == "annotation":
            report.records += 1
            report.quarantined += 1
        report.errors.extend(ValidationError(type=e["type"], message=e["message"], path=e["path"],
                                             value=e.get("value", ""), task_id=entry.get("task_id"),
                                             annotation_id=entry.get("annotation_id"),
                                             annotator=entry.get("annotator_id"))
                             for e in entry["errors"])


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_json_list(path: Path) -> bool:
    import gzip

    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        stream = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
        try:
            start = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        except (OSError, EOFError):  # damaged or truncated gzip: the reader says so clearly
            return False
    return start[:1] == b"["


# Worker side of the parallel validation (a forked process inherits the imports).
_WORKER: dict[str, Any] = {}


def _worker_init(path: str, scheme: Scheme, fast: bool, semantic: bool, by_offset: bool) -> None:
    import gc

    # The forked worker inherits the parent's heap (all its modules): frozen, the collector stops
    # walking it again and again while the worker churns through short-lived task objects.
    gc.freeze()
    _WORKER.update(path=Path(path), scheme=scheme, checker=RecordChecker(scheme, fast=fast, semantic=semantic),
                   fd=os.open(path, os.O_RDONLY) if by_offset else None)


@dataclass
class _Slim:
    """What the parent needs of one task: record identities and mapping problems."""

    records: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]


def _worker_batch(batch: list[tuple[int, Any]]) -> list[tuple[_Slim, list[list[ValidationError]]]]:
    """Items as ``(offset, bytes)``, or ``(offset, length)`` to read from the (plain) file here."""
    from .exports import as_task
    from .jsonstream import decode_item
    from .normalise import normalise_task

    path, scheme, checker, fd = _WORKER["path"], _WORKER["scheme"], _WORKER["checker"], _WORKER["fd"]
    out = []
    for offset, raw in batch:
        if fd is not None:
            raw = os.pread(fd, raw, offset)
        task = as_task(decode_item(raw, source=path, offset=offset), path, scheme)
        result = normalise_task(task, scheme)
        text = (task.get("data") or {}).get("text") if isinstance(task, dict) else None
        errors = [checker.record_errors(r, text if isinstance(text, str) else None) for r in result.records]
        slim = _Slim([{k: r.get(k) for k in IDENTITY_KEYS} for r in result.records], result.quarantine)
        out.append((slim, errors))
    return out


def _validate_export_parallel(path: Path, scheme: Scheme, checker: RecordChecker, report: Report, workers: int,
                              *, fast: bool, semantic: bool, batch_size: int = 64) -> None:
    from collections import deque

    from .jsonstream import iter_raw_items

    # A plain file is read again by the workers at the items' offsets: sending them only offsets
    # and lengths spares pickling the whole file through the pipes (a gzip one cannot be).
    by_offset = path.is_file() and not _is_gzip(path)

    def batches() -> Iterator[list[tuple[int, Any]]]:
        batch: list[tuple[int, Any]] = []
        for offset, raw in iter_raw_items(path):
            batch.append((offset, len(raw)) if by_offset else (offset, raw))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(str(path), scheme, fast, semantic, by_offset)) as pool:
        pending: deque = deque()  # a bounded number in flight keeps memory bounded

        def drain(limit: int) -> None:
            while len(pending) > limit:
                for slim, errors in pending.popleft().get():
                    _add_task_result(report, slim, errors, checker)

        for batch in batches():
            pending.append(pool.apply_async(_worker_batch, (batch,)))
            drain(4 * workers)
        drain(0)


def validate_tasks(path: Path, schema: dict[str, Any]) -> Report:
    """Validate a tasks.jsonl against the task schema, line by line."""
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    report = Report(source=str(path))
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            report.records += 1
            try:
                task = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                exc = exc if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                report.quarantined += 1
                report.errors.append(ValidationError(type="invalid-task", path=f"line {number}", value=_short(line),
                                                     message=f"line {number}: not JSON ({exc})"))
                continue
            errors = sorted(validator.iter_errors(task), key=lambda e: [str(p) for p in e.absolute_path])
            article = (task.get("data") or {}).get("article_id") if isinstance(task, dict) else None
            for error in errors:
                path_text = json_path(error.absolute_path)
                report.errors.append(ValidationError(
                    type="invalid-task", path=path_text, value=_short(error.instance), annotation_id=None,
                    message=f"line {number} (article {article}): {path_text}: {error.message}"))
            report.quarantined += bool(errors)
    report.valid_records = report.records - report.quarantined
    return report


def validate_file(ws: Workspace | None, path: Path, *, workers: int | None = None) -> Report:
    """Validate a file by its kind: a tasks.jsonl, an annotations Parquet, or a Label Studio export."""
    if not path.exists():
        raise InputNotFound(f"{path}: no such file", hint="give an export file, a tasks.jsonl or a .parquet")
    scheme_path = ws.scheme_path if ws else None
    scheme = Scheme.load(scheme_path) if scheme_path else None
    if scheme is None:
        from ..scheme import default_scheme

        scheme = default_scheme()
    if path.suffix == ".parquet":
        return validate_records(iter_parquet_records(path, scheme), scheme, ws, source=str(path))
    if _is_records_file(path):
        return validate_records(_iter_json_lines(path), scheme, ws, source=str(path))
    if _is_tasks_file(path):
        from ..scheme import build_task_schema

        return validate_tasks(path, build_task_schema(scheme))
    return validate_export(path, scheme, workers=workers)


def validate_records(records: Iterable[dict[str, Any]], scheme: Scheme, ws: Workspace | None, *,
                     source: str) -> Report:
    """Validate normalised records (read-only: nothing is moved)."""
    report = Report(source=source)
    checker = RecordChecker(scheme, article_ids=article_ids(ws) if ws else None)
    texts = article_texts(ws) if ws else {}
    for record in records:
        report.records += 1
        errors = checker.errors(record, texts.get(record.get("article_id")))
        report.errors.extend(errors)
        report.quarantined += bool(errors)
    report.valid_records = report.records - report.quarantined
    return report


def _iter_json_lines(path: Path, hint: str = "fix or remove the line") -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path} line {number} is not JSON ({exc})", hint=hint) from None
                except RecursionError:
                    raise InputError(f"{path} line {number} is nested too deeply to be a record",
                                     hint=hint) from None


def _first_json_line(path: Path) -> Any:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                try:
                    return json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    return None
    return None


def _is_records_file(path: Path) -> bool:
    if not path.name.endswith((".jsonl", ".ndjson")):
        return False
    first = _first_json_line(path)
    return isinstance(first, dict) and "annotation_id" in first and "task_id" in first


def _is_tasks_file(path: Path) -> bool:
    if not path.name.endswith((".jsonl", ".ndjson")):
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                try:
                    first = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    return True
                return isinstance(first, dict) and "annotations" not in first and "completions" not in first
    return True
