"""Label Studio tasks -> normalised records, one per annotation.

``normalise_task`` maps what Label Studio returns (a task with its annotations,
drafts and predictions) onto the record contract of the scheme (see
``toolkit.scheme.build_annotation_schema``). The mapping is *faithful*: a value of
the wrong type or outside the scheme is carried over as it is, because deciding
validity is the validation stage's job and it can only report what it can see.

What only the mapping can know it handles here, and never silently:

- a result it cannot place (a control the scheme lacks, a result type that does
  not fit the field, a span without character offsets) sends the whole
  annotation to the quarantine, since a partial record would look complete;
- span offsets are checked against the article text: Label Studio's browser
  counts UTF-16 code units, Python counts code points, so offsets drift after
  emoji. Such spans are converted, or repaired when their text occurs at one
  unambiguous place, or else removed from the record and quarantined on their own.

Everything here is pure: no I/O, no printing, no logging.
"""

from __future__ import annotations

import re

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field as dataclass_field, fields as dataclass_fields
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from ..errors import InputError
from ..articles import article_id as derive_article_id
from ..scheme import RECORD_COLUMNS, ChoiceField, Field, NumberField, Scheme, SpanField

__all__ = [
    "QUARANTINE_REASONS",
    "RECORD_KEYS",
    "DRAFT_KEYS",
    "PREDICTION_KEYS",
    "SPAN_SEARCH_WINDOW",
    "EDIT_AFTER_SECONDS",
    "edited_by_other",
    "OffsetStats",
    "NormalisedTask",
    "normalise_task",
    "result_hash",
    "records_arrow_schema",
    "drafts_arrow_schema",
    "predictions_arrow_schema",
    "records_to_table",
    "drafts_to_table",
    "predictions_to_table",
]

# Error type codes of quarantine entries, with what each means. The codes are a
# stable interface (reports and quarantine.jsonl carry them); the texts are for docs.
QUARANTINE_REASONS: Mapping[str, str] = {
    "unknown-control": "A result's from_name is not a field of the scheme: the export was made "
                       "with another labeling config, or the field was removed from the scheme.",
    "wrong-result-type": "A result's type does not fit the field's kind (spans need 'labels', "
                         "choice 'choices', number 'number', text 'textarea').",
    "span-without-offsets": "A span has no numeric start/end character offsets (HyperText spans "
                            "use XPaths, paragraph spans use string indices).",
    "span-offsets": "A span's offsets do not match its text, and neither reading them as UTF-16 "
                    "code units nor a unique nearby occurrence of the text fixes them.",
    "missing-text": "The task has no data.text, so its spans cannot be checked and its article "
                    "cannot be identified.",
    "malformed-result": "An annotation, draft, prediction or result is not shaped as Label Studio "
                        "writes it (not an object, no value, a value of the wrong shape).",
}

RECORD_KEYS: tuple[str, ...] = tuple(RECORD_COLUMNS)
DRAFT_KEYS: tuple[str, ...] = (
    "task_id", "article_id", "draft_id", "annotation_id", "annotator_id", "annotator_email",
    "created_at", "updated_at", "lead_time", "was_postponed",
)
PREDICTION_KEYS: tuple[str, ...] = (
    "task_id", "article_id", "prediction_id", "model_version", "score", "created_at",
)

# How far (in code points) from the stated start an occurrence of the span text may
# lie to be taken as the place the annotator meant, when the text occurs more than once.
SPAN_SEARCH_WINDOW = 64

# Result type Label Studio writes for each field kind.
_RESULT_TYPE = {"spans": "labels", "choice": "choices", "number": "number", "text": "textarea"}

# Keys of a task that are not task data, for tasks imported without a "data" wrapper.
_TASK_KEYS = frozenset({"id", "annotations", "completions", "predictions", "drafts", "meta"})

_REPR_LIMIT = 200


# --------------------------------------------------------------------------- results


@dataclass
class OffsetStats:
    """How span offsets fared. Counted per region (one result), not per label."""

    checked: int = 0
    ok: int = 0
    converted: int = 0
    repaired: int = 0
    quarantined: int = 0

    def __add__(self, other: OffsetStats) -> OffsetStats:
        if not isinstance(other, OffsetStats):
            return NotImplemented
        return OffsetStats(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                              for f in dataclass_fields(self)})

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}


@dataclass
class NormalisedTask:
    """Everything one task gave: records, drafts, predictions, and what could not be mapped.

    ``notes`` says what the mapping did on its own account (e.g. derived an article_id).
    """

    records: list[dict[str, Any]] = dataclass_field(default_factory=list)
    drafts: list[dict[str, Any]] = dataclass_field(default_factory=list)
    predictions: list[dict[str, Any]] = dataclass_field(default_factory=list)
    quarantine: list[dict[str, Any]] = dataclass_field(default_factory=list)
    offsets: OffsetStats = dataclass_field(default_factory=OffsetStats)
    notes: list[str] = dataclass_field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT - 3] + "..."


def _error(code: str, path: str, message: str, value: Any = None) -> dict[str, Any]:
    assert code in QUARANTINE_REASONS, code
    return {"type": code, "path": path, "message": message, "value": _short(value)}


class _Context:
    """Where we are, for messages that name the task, the item and the field."""

    def __init__(self, task_id: Any, kind: str, item_id: Any) -> None:
        self.task_id = task_id
        self.kind = kind  # "annotation" | "draft" | "prediction"
        self.item_id = item_id

    def __str__(self) -> str:
        return f"task {self.task_id}, {self.kind} {self.item_id}"


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class _Utf16Index:
    """Converts UTF-16 code unit offsets (as the browser counts) to code point offsets."""

    def __init__(self, text: str) -> None:
        # A compiled search runs in C and stops at the first hit: ~7 us on a news article,
        # against ~45 us for max(text) and ~10x that for a generator over the characters.
        self._astral = _ASTRAL.search(text) is not None
        self._text = text
        self._table: list[int | None] | None = None

    def to_code_points(self, unit: int) -> int | None:
        if not self._astral:
            return unit
        if self._table is None:
            # Built lazily: most texts have no astral characters and never need it.
            table: list[int | None] = []
            for index, ch in enumerate(self._text):
                table.append(index)
                if ord(ch) > 0xFFFF:
                    table.append(None)  # between the two halves of a surrogate pair
            table.append(len(self._text))
            self._table = table
        if 0 <= unit < len(self._table):
            return self._table[unit]
        return None


@dataclass
class _SpanFix:
    status: str  # ok | converted | repaired | quarantined
    start: int
    end: int
    reason: str = ""


def _occurrences(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _fix_span(text: str, utf16: _Utf16Index, start: int, end: int, span_text: str) -> _SpanFix:
    if 0 <= start <= end <= len(text) and text[start:end] == span_text:
        return _SpanFix("ok", start, end)
    cp_start, cp_end = utf16.to_code_points(start), utf16.to_code_points(end)
    if (cp_start is not None and cp_end is not None and (cp_start, cp_end) != (start, end)
            and text[cp_start:cp_end] == span_text):
        return _SpanFix("converted", cp_start, cp_end)
    if not span_text:
        return _SpanFix("quarantined", start, end, "the span text is empty, so it cannot be "
                                                   "looked for in the article")
    found = _occurrences(text, span_text)
    if len(found) == 1:
        return _SpanFix("repaired", found[0], found[0] + len(span_text))
    if not found:
        return _SpanFix("quarantined", start, end, "the span text does not occur in the article")
    near = sorted((abs(at - start), at) for at in found if abs(at - start) <= SPAN_SEARCH_WINDOW)
    if near and (len(near) == 1 or near[0][0] < near[1][0]):
        at = near[0][1]
        return _SpanFix("repaired", at, at + len(span_text))
    places = ", ".join(str(at) for at in found[:10]) + (", ..." if len(found) > 10 else "")
    why = ("two or more are equally near the given start" if near
           else f"none lies within {SPAN_SEARCH_WINDOW} characters of the given start")
    return _SpanFix("quarantined", start, end,
                    f"the span text occurs {len(found)} times (at {places}) and {why}")


def _as_offset(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _flatten_results(result: Any) -> list[Any] | None:
    """The result list, with the legacy nesting ``[[{...}]]`` undone; None if not a list."""
    if result is None:
        return []
    if not isinstance(result, list):
        return None
    flat: list[Any] = []
    for item in result:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


@dataclass
class _Mapped:
    values: dict[str, Any]
    errors: list[dict[str, Any]]  # make the whole item unusable
    bad_spans: list[tuple[dict[str, Any], dict[str, Any]]]  # (error, raw result)
    offsets: OffsetStats


def _empty_values(scheme: Scheme) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField) or (isinstance(f, ChoiceField) and f.multiple):
            values[f.name] = []
        else:
            values[f.name] = None
    return values


def _map_results(result: Any, scheme: Scheme, text: str | None, utf16: _Utf16Index | None,
                 ctx: _Context) -> _Mapped:
    mapped = _Mapped(_empty_values(scheme), [], [], OffsetStats())
    results = _flatten_results(result)
    if results is None:
        mapped.errors.append(_error("malformed-result", "result",
                                    f"{ctx}: 'result' is not a list of results", result))
        return mapped
    # Several results may feed one field (choices per region, two TextArea
    # submissions); they are gathered first and combined at the end.
    gathered: dict[str, list[Any]] = {f.name: [] for f in scheme.fields}
    for index, item in enumerate(results):
        if (text is not None and isinstance(item, dict) and _map_span_fast(item, scheme, text, mapped, gathered)):
            continue  # the common case: a well-formed span whose offsets are right
        path = f"result[{index}]"
        if not isinstance(item, dict):
            mapped.errors.append(_error("malformed-result", path,
                                        f"{ctx}: {path} is not an object", item))
            continue
        name = item.get("from_name")
        if name not in gathered:
            mapped.errors.append(_error(
                "unknown-control", f"{path}.from_name",
                f"{ctx}: {path} is for control {name!r}, which scheme {scheme.name!r} does not "
                f"have (fields: {', '.join(scheme.field_names)}); was it made with another "
                "labeling config?", name))
            continue
        f = scheme.field(name)
        expected = _RESULT_TYPE[f.kind]
        if item.get("type") != expected:
            mapped.errors.append(_error(
                "wrong-result-type", f"{path}.type",
                f"{ctx}: {path} for field {name!r} has type {item.get('type')!r}, but a "
                f"{f.kind} field takes {expected!r} results", item.get("type")))
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            mapped.errors.append(_error("malformed-result", f"{path}.value",
                                        f"{ctx}: {path} for field {name!r} has no value object",
                                        value))
            continue
        if isinstance(f, SpanField):
            _map_span(item, value, f, path, text, utf16, ctx, mapped, gathered[name])
        else:
            _map_whole(value, f, path, ctx, mapped, gathered[name])
    for f in scheme.fields:
        mapped.values[f.name] = _combine(f, gathered[f.name], mapped.values[f.name])
    return mapped


def _map_span_fast(item: dict[str, Any], scheme: Scheme, text: str, mapped: _Mapped,
                   gathered: dict[str, list[Any]]) -> bool:
    """Handle a well-formed span result whose offsets already match; False: take the full path.

    Most results are exactly that, and this is the validation hot path: no paths, messages or
    fix-up objects are built for them. Anything unusual returns False and gets the full treatment.
    """
    if item.get("type") != "labels":
        return False
    spans = gathered.get(item.get("from_name"))  # type: ignore[arg-type]
    value = item.get("value")
    if spans is None or value.__class__ is not dict:
        return False
    start, end, span_text, labels = value.get("start"), value.get("end"), value.get("text"), value.get("labels")
    if (start.__class__ is not int or end.__class__ is not int or span_text.__class__ is not str
            or labels.__class__ is not list or not labels or not 0 <= start <= end <= len(text)
            or text[start:end] != span_text or not isinstance(scheme.field(item["from_name"]), SpanField)):
        return False
    mapped.offsets.checked += 1
    mapped.offsets.ok += 1
    for label in labels:
        spans.append({"start": start, "end": end, "label": label, "text": span_text})
    return True


def _map_span(item: dict[str, Any], value: dict[str, Any], f: SpanField, path: str,
              text: str | None, utf16: _Utf16Index | None, ctx: _Context, mapped: _Mapped,
              spans: list[Any]) -> None:
    start, end = _as_offset(value.get("start")), _as_offset(value.get("end"))
    if start is None or end is None:
        bad = "start" if start is None else "end"
        mapped.errors.append(_error(
            "span-without-offsets", f"{path}.value.{bad}",
            f"{ctx}: span {path} of field {f.name!r} has no character offsets "
            f"(start={value.get('start')!r}, end={value.get('end')!r}); only plain-text spans "
            "can be normalised", value.get(bad)))
        return
    labels = value.get("labels")
    if isinstance(labels, str):
        labels = [labels]
    elif not isinstance(labels, list):
        mapped.errors.append(_error("malformed-result", f"{path}.value.labels",
                                    f"{ctx}: span {path} of field {f.name!r} has no list of "
                                    "labels", labels))
        return
    span_text = value.get("text")
    if span_text is not None and not isinstance(span_text, str):
        mapped.errors.append(_error("malformed-result", f"{path}.value.text",
                                    f"{ctx}: span {path} of field {f.name!r} has a text that is "
                                    "not a string", span_text))
        return
    if text is None or utf16 is None:
        return  # the caller quarantines the whole item for missing-text
    mapped.offsets.checked += 1
    if span_text is None:
        # Label Studio leaves text out when the region was made by an API client.
        if 0 <= start <= end <= len(text):
            span_text = text[start:end]
            fix = _SpanFix("ok", start, end)
        else:
            fix = _SpanFix("quarantined", start, end,
                           f"the span has no text and its offsets lie outside the article "
                           f"({len(text)} characters)")
    else:
        fix = _fix_span(text, utf16, start, end, span_text)
    setattr(mapped.offsets, fix.status, getattr(mapped.offsets, fix.status) + 1)
    if fix.status == "quarantined":
        found = text[start:end] if 0 <= start <= end <= len(text) else None
        mapped.bad_spans.append((_error(
            "span-offsets", f"{path}.value.start",
            f"{ctx}: span {path} of field {f.name!r} says {span_text!r} at [{start}:{end}], "
            f"but the article has {found!r} there; {fix.reason}. Fix the span in Label Studio "
            "and pull again", {"start": start, "end": end, "text": span_text}), item))
        return
    for label in labels or [None]:
        spans.append({"start": fix.start, "end": fix.end, "label": label,
                      "text": text[fix.start:fix.end]})


def _map_whole(value: dict[str, Any], f: Field, path: str, ctx: _Context, mapped: _Mapped,
               gathered: list[Any]) -> None:
    if isinstance(f, ChoiceField):
        choices = value.get("choices")
        if isinstance(choices, str):
            choices = [choices]
        if not isinstance(choices, list):
            mapped.errors.append(_error("malformed-result", f"{path}.value.choices",
                                        f"{ctx}: {path} for field {f.name!r} has no list of "
                                        "choices", choices))
            return
        gathered.extend(choices)
    elif isinstance(f, NumberField):
        if "number" not in value:
            mapped.errors.append(_error("malformed-result", f"{path}.value.number",
                                        f"{ctx}: {path} for field {f.name!r} has no number",
                                        value))
            return
        gathered.append(value["number"])
    else:
        answer = value.get("text")
        # TextArea keeps one string per submission; some clients write a plain string.
        if isinstance(answer, list) and all(isinstance(part, str) for part in answer):
            gathered.extend(answer)
        elif isinstance(answer, str):
            gathered.append(answer)
        else:
            mapped.errors.append(_error("malformed-result", f"{path}.value.text",
                                        f"{ctx}: {path} for field {f.name!r} has no text (a "
                                        "string or a list of strings)", answer))


def _combine(f: Field, gathered: list[Any], empty: Any) -> Any:
    if isinstance(f, SpanField) or (isinstance(f, ChoiceField) and f.multiple):
        return gathered
    if not gathered:
        return empty
    if isinstance(f, ChoiceField) or isinstance(f, NumberField):
        # Two values for a one-value field stay visible as a list for validation to reject.
        return gathered[0] if len(gathered) == 1 else gathered
    return "\n".join(gathered)


def _annotator(completed_by: Any, users: Mapping[int, str]) -> tuple[Any, str | None]:
    if isinstance(completed_by, dict):
        user_id = completed_by.get("id")
        email = completed_by.get("email")
        if email is None and isinstance(user_id, int):
            email = users.get(user_id)
        return user_id, email
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return completed_by, users.get(completed_by)
    if isinstance(completed_by, str) and "@" in completed_by:
        # Drafts name their user by e-mail; the id is known when the server listed its users.
        ids = [user_id for user_id, email in users.items() if email == completed_by]
        return (ids[0] if len(ids) == 1 else None), completed_by
    return completed_by, None


# An annotation made through the API on someone's behalf (an import, a script) is stored with
# updated_by = the account that sent it, in the same save as created_at; a person's later edit
# moves updated_at on. So only a change after this many seconds counts as an edit.
EDIT_AFTER_SECONDS = 2.0


def edited_by_other(annotator_id: Any, editor_id: Any, created_at: Any, updated_at: Any) -> bool:
    """Whether the last change to an annotation was made by an account other than its author,
    after it was made: then it is no longer the author's independent answer."""
    if editor_id is None or annotator_id is None or editor_id == annotator_id:
        return False
    try:
        made = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
        changed = datetime.fromisoformat(str(updated_at).replace("Z", "+00:00"))
    except ValueError:
        return True  # no way to tell an import from an edit: do not count it as independent
    return (changed - made).total_seconds() > EDIT_AFTER_SECONDS


def _flag(item: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` that is set. A value that is not true or false is passed on as
    it is, for validation to reject ("maybe" is not a yes)."""
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return False


def _unwrap(task: Mapping[str, Any]) -> tuple[Any, dict[str, Any], Any, Any, Any]:
    data = task.get("data")
    if not isinstance(data, dict):
        data = {k: v for k, v in task.items() if k not in _TASK_KEYS}
    annotations = task.get("annotations")
    if annotations is None:
        annotations = task.get("completions")  # Label Studio < 1.0
    return (task.get("id"), data, annotations if annotations is not None else [],
            task.get("predictions") or [], task.get("drafts") or [])


# ------------------------------------------------------------------------ normalise


@dataclass
class _Task:
    task_id: Any
    article_id: Any
    text: str | None
    utf16: _Utf16Index | None
    data_keys: list[str]


def normalise_task(task: Mapping[str, Any], scheme: Scheme,
                   users: Mapping[int, str] | None = None) -> NormalisedTask:
    """Map one Label Studio task onto records (one per annotation), drafts and predictions.

    ``users`` maps Label Studio user ids to e-mails, for servers that give only ids.
    Every annotation ends up either in ``records`` (cancelled ones too, flagged) or
    as a ``kind="annotation"`` entry in ``quarantine``; spans whose offsets cannot be
    trusted leave their record and become ``kind="span"`` entries.
    """
    users = users or {}
    out = NormalisedTask()
    task_id, data, annotations, predictions, drafts = _unwrap(task)
    text = data.get("text")
    if not isinstance(text, str) or not text:
        text = None
    article = data.get("article_id")
    if article is None and text is not None:
        article = derive_article_id(text)
        out.notes.append(f"task {task_id}: no data.article_id; derived {article} from the text")
    info = _Task(task_id, article, text, _Utf16Index(text) if text is not None else None,
                 sorted(map(str, data)))

    if isinstance(annotations, dict):
        annotations = [annotations]
    if not isinstance(annotations, list):
        out.quarantine.append(_entry("annotation", info, None, None, [_error(
            "malformed-result", "annotations", f"task {task_id}: 'annotations' is not a list",
            annotations)], annotations))
        annotations = []
    for index, ann in enumerate(annotations):
        _normalise_item("annotation", index, ann, info, scheme, users, out)
    for index, draft in enumerate(drafts if isinstance(drafts, list) else [drafts]):
        _normalise_item("draft", index, draft, info, scheme, users, out)
    for index, pred in enumerate(predictions if isinstance(predictions, list) else [predictions]):
        _normalise_item("prediction", index, pred, info, scheme, users, out)
    return out


def _entry(kind: str, info: _Task, annotation_id: Any, annotator_id: Any,
           errors: list[dict[str, Any]], raw: Any, *, task_id: Any = None, draft_id: Any = None,
           prediction_id: Any = None) -> dict[str, Any]:
    return {"kind": kind, "task_id": info.task_id if task_id is None else task_id,
            "annotation_id": annotation_id, "annotator_id": annotator_id,
            "article_id": info.article_id, "draft_id": draft_id, "prediction_id": prediction_id,
            "errors": errors, "raw": raw}


def _normalise_item(kind: str, index: int, item: Any, info: _Task, scheme: Scheme,
                    users: Mapping[int, str], out: NormalisedTask) -> None:
    if not isinstance(item, dict):
        # e.g. predictions exported as a list of ids: the prediction itself is not there.
        out.quarantine.append(_entry(kind, info, None, None, [_error(
            "malformed-result", f"{kind}s[{index}]",
            f"task {info.task_id}: {kind} #{index} is {_short(item)}, not an object; export "
            f"again with the full {kind}s", item)], item))
        return
    item_id = item.get("id")
    base = {"task_id": info.task_id, "article_id": info.article_id}
    if kind == "annotation":
        annotator_id, email = _annotator(item.get("completed_by"), users)
        if info.task_id is None and item.get("task") is not None:
            base["task_id"] = item["task"]
        editor_id, editor_email = _annotator(item.get("updated_by"), users)
        head = {**base, "annotation_id": item_id, "annotator_id": annotator_id,
                "annotator_email": email, "created_at": item.get("created_at"),
                "updated_at": item.get("updated_at"), "lead_time": item.get("lead_time"),
                "was_cancelled": _flag(item, "was_cancelled", "skipped"),
                "ground_truth": _flag(item, "ground_truth"),
                "updated_by_id": editor_id, "updated_by_email": editor_email,
                "edited_by_other": edited_by_other(annotator_id, editor_id, item.get("created_at"),
                                                   item.get("updated_at"))}
    elif kind == "draft":
        annotator_id, email = _annotator(item.get("user", item.get("completed_by")), users)
        head = {**base, "draft_id": item_id, "annotation_id": item.get("annotation"),
                "annotator_id": annotator_id, "annotator_email": email,
                "created_at": item.get("created_at"), "updated_at": item.get("updated_at"),
                "lead_time": item.get("lead_time"),
                "was_postponed": _flag(item, "was_postponed")}
    else:
        annotator_id = None
        head = {**base, "prediction_id": item_id, "model_version": item.get("model_version"),
                "score": item.get("score"), "created_at": item.get("created_at")}
    ids = {"task_id": head["task_id"], "draft_id": head.get("draft_id"),
           "prediction_id": head.get("prediction_id")}

    ctx = _Context(head["task_id"], kind, item_id if item_id is not None else f"#{index}")
    mapped = _map_results(item.get("result"), scheme, info.text, info.utf16, ctx)
    out.offsets = out.offsets + mapped.offsets
    errors = list(mapped.errors)
    if info.text is None:
        errors.insert(0, _error(
            "missing-text", "data.text",
            f"{ctx}: the task has no article text in data.text (its data keys: "
            f"{', '.join(info.data_keys) or 'none'}); tasks must carry the article there", None))
    # A span that cannot be placed leaves the annotation incomplete: it is quarantined whole
    # (with every value in ``raw``), never kept as a record that looks complete without it.
    errors.extend(error for error, _ in mapped.bad_spans)
    if errors:
        out.quarantine.append(_entry(kind, info, head.get("annotation_id"), annotator_id,
                                     errors, item, **ids))
        return
    target = {"annotation": out.records, "draft": out.drafts, "prediction": out.predictions}
    target[kind].append({**head, **mapped.values})


# ------------------------------------------------------------------------ hashing


_NOT_FIELDS = frozenset(RECORD_KEYS) | frozenset(DRAFT_KEYS) | frozenset(PREDICTION_KEYS)


def result_hash(record: Mapping[str, Any], scheme: Scheme | None = None) -> str:
    """sha256 (hex) of what the annotator said: the scheme-field values of a record.

    Equal answers give equal hashes whatever the ids and timestamps, so a changed
    annotation between two pulls shows as a changed hash. Without ``scheme`` the
    fields are the keys that are not reserved columns. Spans and multiple choices are
    sets to the annotator, so their order does not count.
    """
    names = scheme.field_names if scheme is not None else [k for k in record
                                                           if k not in _NOT_FIELDS]
    values = {}
    for name in names:
        value = record.get(name)
        if isinstance(value, list):
            value = sorted(value, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        values[name] = value
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------- Arrow

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_SPAN = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()),
                   ("text", pa.string())])

_RESERVED_TYPES: Mapping[str, pa.DataType] = {
    "task_id": pa.int64(), "article_id": pa.string(), "annotation_id": pa.int64(),
    "draft_id": pa.int64(), "prediction_id": pa.int64(), "annotator_id": pa.int64(),
    "annotator_email": pa.string(), "created_at": _TIMESTAMP, "updated_at": _TIMESTAMP,
    "lead_time": pa.float64(), "was_cancelled": pa.bool_(), "ground_truth": pa.bool_(),
    "was_postponed": pa.bool_(), "model_version": pa.string(), "score": pa.float64(),
    "updated_by_id": pa.int64(), "updated_by_email": pa.string(), "edited_by_other": pa.bool_(),
}


def _field_type(f: Field) -> pa.DataType:
    if isinstance(f, SpanField):
        return pa.list_(_SPAN)
    if isinstance(f, ChoiceField):
        return pa.list_(pa.string()) if f.multiple else pa.string()
    if isinstance(f, NumberField):
        return pa.int64() if f.integer else pa.float64()
    return pa.string()


def _arrow_schema(keys: Iterable[str], scheme: Scheme) -> pa.Schema:
    columns = [pa.field(key, _RESERVED_TYPES[key]) for key in keys]
    columns += [pa.field(f.name, _field_type(f)) for f in scheme.fields]
    return pa.schema(columns, metadata={"toolkit.scheme": scheme.name,
                                        "toolkit.scheme_hash": scheme.hash()})


def records_arrow_schema(scheme: Scheme) -> pa.Schema:
    """Arrow schema of annotations.parquet: reserved columns, then one column per field."""
    return _arrow_schema(RECORD_KEYS, scheme)


def drafts_arrow_schema(scheme: Scheme) -> pa.Schema:
    return _arrow_schema(DRAFT_KEYS, scheme)


def predictions_arrow_schema(scheme: Scheme) -> pa.Schema:
    return _arrow_schema(PREDICTION_KEYS, scheme)


def _timestamp(value: Any, key: str, row: Mapping[str, Any]) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise InputError(
                f"task {row.get('task_id')}: {key} {value!r} is not an ISO 8601 timestamp",
                hint="validate records before writing them to Parquet") from None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # Label Studio writes UTC
    return parsed


def _to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    prepared = []
    for row in rows:
        out = {name: row.get(name) for name in schema.names}
        for name in ("created_at", "updated_at"):
            if name in out:
                out[name] = _timestamp(out[name], name, row)
        prepared.append(out)
    try:
        return pa.Table.from_pylist(prepared, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise InputError(f"records do not fit the Arrow schema: {exc}",
                         hint="validate records before writing them to Parquet") from None


def records_to_table(records: Iterable[Mapping[str, Any]], scheme: Scheme) -> pa.Table:
    """Records (validated) as an Arrow table typed by ``records_arrow_schema``. A record that
    predates ``edited_by_other`` is written as not edited, as it reads back."""
    return _to_table(({**r, "edited_by_other": bool(r.get("edited_by_other"))} for r in records),
                     records_arrow_schema(scheme))


def drafts_to_table(drafts: Iterable[Mapping[str, Any]], scheme: Scheme) -> pa.Table:
    return _to_table(drafts, drafts_arrow_schema(scheme))


def predictions_to_table(predictions: Iterable[Mapping[str, Any]], scheme: Scheme) -> pa.Table:
    return _to_table(predictions, predictions_arrow_schema(scheme))
