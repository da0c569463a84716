"""Layer 2 of validation: what no JSON Schema can say, and both layers together.

Span offsets inside the article and ``text[start:end] == span.text``; overlapping spans
where the scheme forbids them; fields the scheme requires; cancelled annotations that
still carry results; one annotation per annotator per task; duplicate annotation ids;
records pointing at articles or tasks that do not exist. ``RecordChecker`` runs both
layers over a stream of records.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, Iterator

from ..scheme import Scheme, SpanField
from .report import ValidationError, _short
from .schema import SchemaLayer

# Layer 2: semantic checks -------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _storable(record: dict[str, Any]) -> bool:
    """The quick yes (one C-speed encoding): no NaN or infinity, no lone surrogate anywhere.
    Only a record that fails it is walked leaf by leaf to name what is wrong."""
    try:
        json.dumps(record, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def _top_level_ints(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    # Ids, counts and number fields; offsets inside spans are bounded by the article's length.
    return ((key, value) for key, value in record.items() if isinstance(value, int))


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a record with its JSON path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


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
        for path, value in (_walk(record) if not _storable(record) else _top_level_ints(record)):
            if isinstance(value, str) and _SURROGATE.search(value):
                add("invalid-text", path, "the text holds a lone surrogate (a broken character from the client), "
                                          "which cannot be stored; fix the text in Label Studio", value)
            elif isinstance(value, float) and not math.isfinite(value):
                add("non-finite-number", path, f"{value} is not a number that can be stored", value)
            elif isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
                add("out-of-range", path, f"{value} is too large to store (more than 2^63)", value)
        if record.get("annotator_id") is None and not record.get("annotator_email"):
            add("missing-annotator", "annotator_id",
                "the annotation names no annotator (no completed_by), so it cannot be counted as anyone's "
                "answer; export it again with the annotators", None)
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
