"""Validation results as data: the catalogue of error types, one error, the report.

Validation never raises for bad records: every problem becomes a ``ValidationError``
(type, message, JSON path, task / annotation / annotator, a truncated value), and a run
becomes a ``Report`` (valid, stats, errors) that the CLI prints and ``--json`` dumps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..atomicio import strict_json

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
    "unknown-article": "an article_id that is not in the articles table (annotations/articles/)",
    "unknown-task": "a task id that is not in the latest snapshot",
    "invalid-text": "a text that is not valid Unicode (a lone surrogate), which no file format can hold",
    "non-finite-number": "NaN or Infinity where a number belongs",
    "missing-annotator": "an annotation that names no annotator (no completed_by)",
    # relations, events and attributes: semantic checks of the record (the first three also come
    # from the mapping, when a Label Studio relation cannot be placed in the record at all)
    "relation-end-missing": "a relation or event argument whose end is not a span of the annotation",
    "relation-unlabelled": "a relation or event argument without a label (role)",
    "relation-unknown-label": "a relation label or argument role that the scheme does not have",
    "relation-end-label": "a relation end whose span label the relation type does not accept at that end",
    "argument-role-label": "an event argument whose span label its role does not accept",
    "argument-duplicate-role": "more than one argument of an event in a role the scheme makes unique",
    "attribute-label": "a span attribute given on a span whose label the attribute is not asked for",
    "attribute-missing": "a required span or event attribute left empty in a submitted annotation",
    # the review loop (toolkit pull)
    "self-adjudication": "an answer in the review project by one of the article's own annotators, or by someone "
                         "not among [campaign] adjudicators: kept, not used as gold",
    "unassigned-annotation": "in assigned mode, an answer in another annotator's queue: kept, not counted",
    # from the mapping of Label Studio results onto the scheme (toolkit.validation.normalise)
    "unknown-control": "a result for a control the scheme does not have",
    "wrong-result-type": "a result whose type does not fit its field",
    "span-without-offsets": "a span without numeric start/end (e.g. HyperText XPath spans)",
    "span-offsets": "span offsets that could not be converted or repaired",
    "missing-text": "a task without data.text",
    "malformed-result": "a result that is not a well-formed Label Studio result",
    "relation-direction": "a relation of a directed type drawn both ways ('bi'): its head cannot be told",
    "relation-end-kind": "a relation or argument between the wrong kinds of region (two triggers, a relation "
                         "type touching a trigger, an argument without a trigger of its events field)",
    "region-duplicate-id": "a relation or attribute pointing at a region id that several regions share",
    "attribute-orphan": "a per-region attribute whose region is not in the annotation",
    "trigger-label": "a trigger region whose label is not its events field's trigger label",
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


def json_line(value: Any) -> str:
    """One JSON Lines line, strict JSON. Text that is not valid Unicode (a lone surrogate from a
    broken client) cannot be written as UTF-8, so it is written as its JSON escape: still
    lossless, still JSON."""
    # NaN and infinities from the input are kept as text: strict JSON, nothing lost.
    line = strict_json(value, where="a JSON Lines file", indent=None, non_finite="string", separators=(",", ":"),
                       default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, written as the JSON escape that stands for it
        line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line + "\n"
