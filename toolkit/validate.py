"""``toolkit validate``: annotation records against the scheme, in two layers, as a report.

1. **JSON Schema**: ``schemas/annotation.schema.json`` (generated from the scheme), checked
   with ``jsonschema``, the reference implementation, with format checks on. A compiled
   check (``toolkit.fastcheck``) answers "valid?" first when it is available; only records it
   rejects go through ``jsonschema.iter_errors``, so every error path is jsonschema's own.
2. **Semantic checks** no JSON Schema can express: span offsets inside the article and
   ``text[start:end] == span.text``; overlapping spans where the scheme forbids them; fields
   the scheme requires; cancelled annotations that still carry results; one annotation per
   annotator per task (unless the scheme allows more); duplicate annotation ids; records
   that point at articles or tasks that do not exist.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import jsonschema
import pyarrow.parquet as pq

from . import atomicio, parquetio
from .errors import InputError, InputNotFound
from .scheme import ChoiceField, Scheme, SpanField, build_annotation_schema, ensure_scheme_files_current
from .workspace import Workspace

# The catalogue of error types. Every error carries one of these.
ERROR_TYPES: dict[str, str] = {
    # JSON Schema layer (from the jsonschema keyword that failed)
    "wrong-type": "a value of the wrong type (e.g. text where a number belongs)",
    "missing-field": "a required key is absent from the record",
    "unexpected-field": "a key the scheme does not define (e.g. a field removed from the scheme)",
    "unknown-label": "a span label that is not one of the scheme's labels",
    "unknown-choice": "a choice that is not one of the scheme's choices",
    "too-many-choices": "several choices where the scheme allows one",
    "out-of-range": "a number below the minimum or above the maximum",
    "too-long": "a text longer than the scheme allows",
    "bad-format": "a value that does not match its format (date-time, id pattern, URI)",
    "duplicate-value": "the same choice twice in a multiple choice",
    "schema": "any other JSON Schema violation",
    # semantic layer
    "span-out-of-bounds": "a span whose offsets fall outside the article, or end before they start",
    "span-text-mismatch": "text[start:end] differs from the span's text",
    "overlapping-spans": "spans that overlap in a field whose scheme forbids overlap",
    "missing-required": "a field the scheme requires is empty in a submitted annotation",
    "cancelled-with-results": "a cancelled (skipped) annotation that still carries values",
    "duplicate-annotation": "more annotations by one annotator on one task than the scheme allows",
    "duplicate-id": "the same annotation id twice",
    "unknown-article": "an article_id that is not in annotations/articles.parquet",
    "unknown-task": "a task id that is not in the latest snapshot",
    # from the mapping of Label Studio results onto the scheme (toolkit.normalise)
    "unknown-control": "a result for a control the scheme does not have",
    "wrong-result-type": "a result whose type does not fit its field",
    "span-without-offsets": "a span without numeric start/end (e.g. HyperText XPath spans)",
    "span-offsets": "span offsets that could not be converted or repaired",
    "missing-text": "a task without data.text",
    "malformed-result": "a result that is not a well-formed Label Studio result",
    # tasks.jsonl
    "invalid-task": "a task line that fails schemas/task.schema.json",
}

_VALUE_LIMIT = 120
_EXAMPLES = 3


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "..."


def json_path(path: Iterable[Any]) -> str:
    """jsonschema's path as ``entities[2].label``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


@dataclass
class ValidationError:
    type: str
    message: str
    path: str
    value: str
    task_id: Any = None
    annotation_id: Any = None
    annotator: Any = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    """What validation found: ``valid`` is False when any record is invalid."""

    source: str
    records: int = 0
    valid_records: int = 0
    quarantined: int = 0
    moved_back: int = 0
    newly_quarantined: int = 0
    errors: list[ValidationError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.quarantined == 0 and not self.errors

    @property
    def errors_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for error in self.errors:
            counts[error.type] = counts.get(error.type, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "source": self.source,
            "stats": {"records": self.records, "valid": self.valid_records, "quarantined": self.quarantined,
                      "moved_back": self.moved_back, "newly_quarantined": self.newly_quarantined,
                      "errors": len(self.errors), "errors_by_type": self.errors_by_type},
            "errors": [e.to_dict() for e in self.errors],
        }

    def examples(self) -> dict[str, list[ValidationError]]:
        grouped: dict[str, list[ValidationError]] = {}
        for error in self.errors:
            bucket = grouped.setdefault(error.type, [])
            if len(bucket) < _EXAMPLES:
                bucket.append(error)
        return {t: grouped[t] for t in self.errors_by_type}


# Layer 1: JSON Schema ------------------------------------------------------------------

_KEYWORD_TYPES = {
    "type": "wrong-type", "required": "missing-field", "additionalProperties": "unexpected-field",
    "minimum": "out-of-range", "maximum": "out-of-range", "exclusiveMinimum": "out-of-range",
    "exclusiveMaximum": "out-of-range", "maxLength": "too-long", "minLength": "too-long",
    "format": "bad-format", "pattern": "bad-format", "uniqueItems": "duplicate-value",
}


class SchemaLayer:
    """JSON Schema checking of records, with the compiled fast check in front when available."""

    def __init__(self, scheme: Scheme, schema: dict[str, Any] | None = None, *, fast: bool = True) -> None:
        self.scheme = scheme
        self.schema = schema or build_annotation_schema(scheme)
        cls = jsonschema.validators.validator_for(self.schema)
        self.validator = cls(self.schema, format_checker=cls.FORMAT_CHECKER)
        self.check: Callable[[dict[str, Any]], bool] | None = None
        if fast:
            from .fastcheck import compile_schema_check

            # Compiled from the very schema jsonschema uses, so the two cannot drift apart.
            self.check = compile_schema_check(self.schema)

    def errors(self, record: dict[str, Any]) -> list[ValidationError]:
        if self.check is not None and self.check(record):
            return []
        found = []
        for error in sorted(self.validator.iter_errors(record), key=lambda e: [str(p) for p in e.absolute_path]):
            path = json_path(error.absolute_path)
            found.append(self._describe(record, error, path))
        # A list given for a single choice also fails the enum; one error says it better.
        too_many = {e.path for e in found if e.type == "too-many-choices"}
        return [e for e in found if not (e.type == "unknown-choice" and e.path in too_many)]

    def _describe(self, record: dict[str, Any], error: jsonschema.ValidationError, path: str) -> ValidationError:
        kind = _KEYWORD_TYPES.get(str(error.validator), "schema")
        parts = list(error.absolute_path)
        field_def = None
        if parts and isinstance(parts[0], str) and parts[0] in self.scheme.field_names:
            field_def = self.scheme.field(parts[0])
        message = error.message
        if error.validator == "enum" and field_def is not None:
            if isinstance(field_def, SpanField):
                kind = "unknown-label"
                message = (f"label {error.instance!r} is not one of the labels of {field_def.name!r} "
                           f"({', '.join(field_def.values)}); was it removed from the scheme?")
            elif isinstance(field_def, ChoiceField):
                kind = "unknown-choice"
                message = f"{error.instance!r} is not a choice of {field_def.name!r}; was it removed from the scheme?"
        elif (error.validator == "type" and isinstance(field_def, ChoiceField) and not field_def.multiple
              and isinstance(error.instance, list) and len(parts) == 1):
            kind = "too-many-choices"
            message = (f"{len(error.instance)} choices {error.instance!r} for {field_def.name!r}, "
                       "which allows one")
        elif error.validator == "additionalProperties" and not parts:
            extra = sorted(set(record) - set(self.schema.get("properties", {})))
            message = (f"{', '.join(map(repr, extra))} not in the scheme; if the scheme dropped it, these "
                       "annotations predate the change")
        elif error.validator == "required":
            message = f"{error.message}"
        where = f"task {record.get('task_id')}, annotation {record.get('annotation_id')}"
        return ValidationError(type=kind, message=f"{where}: {path}: {message}", path=path,
                               value=_short(error.instance), task_id=record.get("task_id"),
                               annotation_id=record.get("annotation_id"),
                               annotator=record.get("annotator_email") or record.get("annotator_id"))


# Layer 2: semantic checks -------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


IDENTITY_KEYS = ("task_id", "article_id", "annotation_id", "annotator_id", "annotator_email", "was_cancelled",
                 "ground_truth")


class SemanticLayer:
    """Checks across fields and records. Keeps per-run state (ids seen), so use one per run."""

    def __init__(self, scheme: Scheme, *, article_ids: set[str] | None = None, task_ids: set[int] | None = None):
        self.scheme = scheme
        self.article_ids = article_ids
        self.task_ids = task_ids
        self.seen_ids: set[Any] = set()
        self.per_annotator: dict[tuple[Any, Any], int] = {}

    def errors(self, record: dict[str, Any], text: str | None) -> list[ValidationError]:
        return self.record_errors(record, text) + self.cross_errors(record)

    @staticmethod
    def _adder(record: dict[str, Any], found: list[ValidationError]) -> Callable[..., None]:
        def add(kind: str, path: str, message: str, value: Any) -> None:
            found.append(ValidationError(
                type=kind, path=path, value=_short(value), task_id=record.get("task_id"),
                annotation_id=record.get("annotation_id"),
                annotator=record.get("annotator_email") or record.get("annotator_id"),
                message=f"task {record.get('task_id')}, annotation {record.get('annotation_id')}: {path}: {message}"))
        return add

    def cross_errors(self, record: dict[str, Any]) -> list[ValidationError]:
        """Checks that need the records seen before: ids, annotators per task, known articles.

        Needs only the record's identity (see ``IDENTITY_KEYS``), so that a parallel run can do
        the per-record work elsewhere and this part in order, in one place.
        """
        found: list[ValidationError] = []
        add = self._adder(record, found)
        annotation_id = record.get("annotation_id")
        if annotation_id in self.seen_ids:
            add("duplicate-id", "annotation_id", f"annotation id {annotation_id} occurs more than once",
                annotation_id)
        self.seen_ids.add(annotation_id)
        annotator = record.get("annotator_id") or record.get("annotator_email")
        # A skipped task labelled later by the same annotator is not a duplicate; nor is a
        # reviewer's ground-truth annotation.
        if annotator is not None and not record.get("ground_truth") and not record.get("was_cancelled"):
            key = (record.get("task_id"), annotator)
            self.per_annotator[key] = self.per_annotator.get(key, 0) + 1
            allowed = self.scheme.max_annotations_per_annotator
            if self.per_annotator[key] > allowed:
                add("duplicate-annotation", "annotator_id",
                    f"annotator {annotator} has {self.per_annotator[key]} annotations on task "
                    f"{record.get('task_id')}; the scheme allows {allowed}", annotator)
        if self.article_ids is not None and record.get("article_id") not in self.article_ids:
            add("unknown-article", "article_id",
                f"article {record.get('article_id')} is not in annotations/articles.parquet", record.get("article_id"))
        if self.task_ids is not None and record.get("task_id") not in self.task_ids:
            add("unknown-task", "task_id", f"task {record.get('task_id')} is not in the latest snapshot",
                record.get("task_id"))
        return found

    def record_errors(self, record: dict[str, Any], text: str | None) -> list[ValidationError]:
        """Checks of one record on its own (spans against the text, required, cancelled)."""
        found: list[ValidationError] = []
        add = self._adder(record, found)
        for f in self.scheme.fields:
            value = record.get(f.name)
            if isinstance(f, SpanField) and isinstance(value, list):
                self._spans(f, value, text, add)
            if f.required and not record.get("was_cancelled") and _empty(value):
                add("missing-required", f.name, f"{f.name!r} is required by the scheme but empty", value)
        if record.get("was_cancelled"):
            filled = [f.name for f in self.scheme.fields if not _empty(record.get(f.name))]
            if filled:
                add("cancelled-with-results", filled[0],
                    f"the annotation was cancelled (skipped) but has values for {', '.join(filled)}; "
                    "un-skip it in Label Studio or clear it", record.get(filled[0]))
        return found

    def _spans(self, f: SpanField, spans: list[Any], text: str | None, add: Callable[..., None]) -> None:
        placed = []
        for index, span in enumerate(spans):
            if not isinstance(span, dict):
                continue
            start, end, span_text = span.get("start"), span.get("end"), span.get("text")
            if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
                continue  # the JSON Schema layer reports it
            path = f"{f.name}[{index}]"
            if text is not None and not (0 <= start < end <= len(text)):
                add("span-out-of-bounds", path, f"span {start}-{end} is outside the article "
                                                f"({len(text)} characters) or empty", {"start": start, "end": end})
                continue
            if text is not None and isinstance(span_text, str) and text[start:end] != span_text:
                add("span-text-mismatch", f"{path}.text",
                    f"text[{start}:{end}] is {text[start:end]!r}, not {span_text!r}", span_text)
            placed.append((start, end, index))
        if not f.allow_overlap:
            placed.sort()
            for (s1, e1, i1), (s2, e2, i2) in zip(placed, placed[1:]):
                if s2 < e1:
                    add("overlapping-spans", f"{f.name}[{i2}]",
                        f"span {s2}-{e2} overlaps span {s1}-{e1} ({f.name}[{i1}]); the scheme does not allow overlap",
                        {"start": s2, "end": e2})


class RecordChecker:
    """Both layers for a stream of records."""

    def __init__(self, scheme: Scheme, *, schema: dict[str, Any] | None = None, article_ids: set[str] | None = None,
                 task_ids: set[int] | None = None, fast: bool = True, semantic: bool = True) -> None:
        self.schema_layer = SchemaLayer(scheme, schema, fast=fast)
        self.semantic = SemanticLayer(scheme, article_ids=article_ids, task_ids=task_ids) if semantic else None

    def errors(self, record: dict[str, Any], text: str | None = None) -> list[ValidationError]:
        return self.record_errors(record, text) + self.cross_errors(record)

    def record_errors(self, record: dict[str, Any], text: str | None = None) -> list[ValidationError]:
        errors = self.schema_layer.errors(record)
        return errors + self.semantic.record_errors(record, text) if self.semantic is not None else errors

    def cross_errors(self, record: dict[str, Any]) -> list[ValidationError]:
        return self.semantic.cross_errors(record) if self.semantic is not None else []


# Records from Parquet ------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def iter_parquet_records(path: Path, scheme: Scheme) -> Iterator[dict[str, Any]]:
    """Rows of an annotations.parquet as JSON-like records; fields the file predates are empty."""
    from .normalise import RECORD_KEYS

    empty = {f.name: ([] if isinstance(f, SpanField) or (isinstance(f, ChoiceField) and f.multiple) else None)
             for f in scheme.fields}
    for batch in parquetio.iter_batches(path, 2000):
        for row in batch.to_pylist():
            record = {k: _jsonable(v) for k, v in row.items()}
            for key in list(RECORD_KEYS) + list(empty):
                if key not in record:
                    record[key] = empty.get(key)
            yield record


def _article_texts(ws: Workspace, wanted: set[str] | None = None) -> dict[str, str]:
    if not ws.articles_path.exists():
        return {}
    texts: dict[str, str] = {}
    for batch in parquetio.iter_batches(ws.articles_path, 2000, columns=["article_id", "text"]):
        for aid, text in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()):
            if wanted is None or aid in wanted:
                texts[aid] = text
    return texts


def _article_ids(ws: Workspace) -> set[str] | None:
    if not ws.articles_path.exists():
        return None
    return set(pq.read_table(ws.articles_path, columns=["article_id"]).column("article_id").to_pylist())


# The entry points ------------------------------------------------------------------------

def validate_workspace(ws: Workspace) -> Report:
    """Re-validate every record of the workspace and move records in or out of quarantine."""
    from .normalise import records_to_table

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
    texts = _article_texts(ws, {r.get("article_id") for r, _ in candidates})
    checker = RecordChecker(scheme, schema=schema, article_ids=_article_ids(ws))
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
            fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
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
    process splits the stream into raw items, the workers decode, normalise and check them, and
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


def _is_json_list(path: Path) -> bool:
    import gzip

    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        stream = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
        try:
            start = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError:
            return False
    return start[:1] == b"["


# Worker side of the parallel validation (a forked process inherits the imports).
_WORKER: dict[str, Any] = {}


def _worker_init(path: str, scheme: Scheme, fast: bool, semantic: bool) -> None:
    _WORKER.update(path=Path(path), scheme=scheme, checker=RecordChecker(scheme, fast=fast, semantic=semantic))


@dataclass
class _Slim:
    """What the parent needs of one task: record identities and mapping problems."""

    records: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]


def _worker_batch(batch: list[tuple[int, bytes]]) -> list[tuple[_Slim, list[list[ValidationError]]]]:
    from .exports import _as_task
    from .jsonstream import decode_item
    from .normalise import normalise_task

    path, scheme, checker = _WORKER["path"], _WORKER["scheme"], _WORKER["checker"]
    out = []
    for offset, raw in batch:
        task = _as_task(decode_item(raw, source=path, offset=offset), path, scheme)
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

    def batches() -> Iterator[list[tuple[int, bytes]]]:
        batch: list[tuple[int, bytes]] = []
        for item in iter_raw_items(path):
            batch.append(item)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(str(path), scheme, fast, semantic)) as pool:
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
            except json.JSONDecodeError as exc:
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
        from .scheme import default_scheme

        scheme = default_scheme()
    if path.suffix == ".parquet":
        return validate_records(iter_parquet_records(path, scheme), scheme, ws, source=str(path))
    if _is_records_file(path):
        return validate_records(_iter_json_lines(path), scheme, ws, source=str(path))
    if _is_tasks_file(path):
        from .scheme import build_task_schema

        return validate_tasks(path, build_task_schema(scheme))
    return validate_export(path, scheme, workers=workers)


def validate_records(records: Iterable[dict[str, Any]], scheme: Scheme, ws: Workspace | None, *,
                     source: str) -> Report:
    """Validate normalised records (read-only: nothing is moved)."""
    report = Report(source=source)
    checker = RecordChecker(scheme, article_ids=_article_ids(ws) if ws else None)
    texts = _article_texts(ws) if ws else {}
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


def _first_json_line(path: Path) -> Any:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
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
                except json.JSONDecodeError:
                    return True
                return isinstance(first, dict) and "annotations" not in first and "completions" not in first
    return True
