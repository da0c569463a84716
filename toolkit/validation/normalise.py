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
  unambiguous place; a span that cannot be placed quarantines its annotation.
  Event triggers are regions too and get the same treatment; relation ends and
  event arguments are the regions they point at, so they follow a repaired span;
- relations, event arguments and per-region attributes point at regions by id. A
  link the record cannot hold faithfully (an id that names no region, no label or
  a label the scheme lacks, ``bi`` on a directed relation, a relation between two
  triggers, an attribute of a region that does not exist) quarantines the whole
  annotation: dropping the link would leave a record that looks complete. What the
  record can show (an end's label, a role's labels, a unique role used twice, an
  attribute asked or missing) is left to the semantic checks, which also apply to
  records read back from Parquet after the scheme changed.

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
from ..scheme import (RECORD_COLUMNS, Attribute, ChoiceField, EventsField, Field, NumberField, RelationsField, Role,
                      RelationType, Scheme, SpanField)

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
    "relation-end-missing": "A relation or event argument points at a region id that is not a span "
                            "or trigger of the annotation (the region was deleted, or the id is missing).",
    "relation-unlabelled": "A relation or event argument has no label, so it is neither a relation "
                           "of a known type nor an argument in a known role.",
    "relation-unknown-label": "A relation's label is neither a relation type nor an argument role of "
                              "the scheme.",
    "relation-direction": "A relation of a directed type drawn in both directions ('bi'): which end "
                          "is the head cannot be told.",
    "relation-end-kind": "A link between the wrong kinds of region: a relation type joins two entity "
                         "spans, an argument joins a trigger of its events field to an entity span "
                         "(not two triggers, not two spans).",
    "region-duplicate-id": "Two regions share the id a relation or attribute points at, so which one "
                           "is meant cannot be told.",
    "attribute-orphan": "A per-region attribute whose region is not in the annotation (or is not a "
                        "span or trigger of the field the attribute belongs to).",
    "trigger-label": "A trigger region whose label is not the events field's trigger label.",
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
_RESULT_TYPE = {"spans": "labels", "choice": "choices", "number": "number", "text": "textarea",
                "events": "labels", "relations": "relation"}

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


def _empty_value(f: Field | Attribute) -> Any:
    """A field's (or attribute's) value when nothing was given: [] for lists, else None."""
    if isinstance(f, Attribute):
        f = f.field
    if isinstance(f, (SpanField, RelationsField, EventsField)) or (isinstance(f, ChoiceField) and f.multiple):
        return []
    return None


def _empty_values(scheme: Scheme) -> dict[str, Any]:
    return {f.name: _empty_value(f) for f in scheme.fields}


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
    # Regions, relations and per-region attributes, for a scheme that has them; None keeps
    # a scheme without them on the path (and the records) it always had.
    links = _Links(scheme) if _has_links(scheme) else None
    for index, item in enumerate(results):
        if (links is None and text is not None and isinstance(item, dict)
                and _map_span_fast(item, scheme, text, mapped, gathered)):
            continue  # the common case: a well-formed span whose offsets are right
        path = f"result[{index}]"
        if not isinstance(item, dict):
            mapped.errors.append(_error("malformed-result", path,
                                        f"{ctx}: {path} is not an object", item))
            continue
        if links is not None and links.defer(path, item):
            continue  # a relation or a per-region attribute: placed once every region is known
        name = item.get("from_name")
        if name not in gathered:
            mapped.errors.append(_error(
                "unknown-control", f"{path}.from_name",
                f"{ctx}: {path} is for control {name!r}, which scheme {scheme.name!r} does not "
                f"have (fields: {', '.join(scheme.control_names)}); was it made with another "
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
        if isinstance(f, (SpanField, EventsField)):
            region = _map_span(item, value, f, path, text, utf16, ctx, mapped,
                               gathered[name] if isinstance(f, SpanField) else None)
            if links is not None:
                links.add_region(item, f, region)
        else:
            _map_whole(value, f, path, ctx, mapped, gathered[name])
    for f in scheme.fields:
        if not isinstance(f, (RelationsField, EventsField)):
            mapped.values[f.name] = _combine(f, gathered[f.name], mapped.values[f.name])
    if links is not None:
        links.finish(ctx, mapped)
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


def _map_span(item: dict[str, Any], value: dict[str, Any], f: SpanField | EventsField, path: str,
              text: str | None, utf16: _Utf16Index | None, ctx: _Context, mapped: _Mapped,
              spans: list[Any] | None) -> _Region | None:
    """Place one span (or, with ``spans`` None, trigger) region: its offsets checked, converted or
    repaired. Returns the region, or None when it could not be placed (the error is recorded)."""
    what = "span" if isinstance(f, SpanField) else "trigger"
    start, end = _as_offset(value.get("start")), _as_offset(value.get("end"))
    if start is None or end is None:
        bad = "start" if start is None else "end"
        mapped.errors.append(_error(
            "span-without-offsets", f"{path}.value.{bad}",
            f"{ctx}: {what} {path} of field {f.name!r} has no character offsets "
            f"(start={value.get('start')!r}, end={value.get('end')!r}); only plain-text spans "
            "can be normalised", value.get(bad)))
        return None
    labels = value.get("labels")
    if isinstance(labels, str):
        labels = [labels]
    elif not isinstance(labels, list):
        mapped.errors.append(_error("malformed-result", f"{path}.value.labels",
                                    f"{ctx}: {what} {path} of field {f.name!r} has no list of "
                                    "labels", labels))
        return None
    span_text = value.get("text")
    if span_text is not None and not isinstance(span_text, str):
        mapped.errors.append(_error("malformed-result", f"{path}.value.text",
                                    f"{ctx}: {what} {path} of field {f.name!r} has a text that is "
                                    "not a string", span_text))
        return None
    if text is None or utf16 is None:
        return None  # the caller quarantines the whole item for missing-text
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
            f"{ctx}: {what} {path} of field {f.name!r} says {span_text!r} at [{start}:{end}], "
            f"but the article has {found!r} there; {fix.reason}. Fix the {what} in Label Studio "
            "and pull again", {"start": start, "end": end, "text": span_text}), item))
        return None
    region = _Region(f, path, fix.start, fix.end, text[fix.start:fix.end], labels)
    if spans is not None:
        for label in labels or [None]:
            span = {"start": fix.start, "end": fix.end, "label": label, "text": region.text}
            spans.append(span)
            region.items.append(span)
    return region


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


# ------------------------------------------------------------------ links between regions


_LAST_SCHEME: tuple[Any, bool] = (None, False)


def _has_links(scheme: Scheme) -> bool:
    """Whether records of ``scheme`` need regions by id: relations, events or span attributes."""
    global _LAST_SCHEME
    last = _LAST_SCHEME  # one read: a tuple is replaced whole, never half-updated
    if last[0] is not scheme:
        last = (scheme, any(isinstance(f, (RelationsField, EventsField)) or (isinstance(f, SpanField) and f.attributes)
                            for f in scheme.fields))
        _LAST_SCHEME = last
    return last[1]


def _region_key(value: Any) -> Any:
    """A region id usable as a key (a non-empty string or an integer); None for anything else."""
    if (isinstance(value, str) and value) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


@dataclass
class _Region:
    """One span or trigger region of an annotation, placed (offsets checked), as relations,
    arguments and per-region attributes point at it by id."""

    field: SpanField | EventsField
    path: str
    start: int
    end: int
    text: str
    labels: list[Any]
    key: Any = None
    items: list[dict[str, Any]] = dataclass_field(default_factory=list)  # the span items made from it
    given: dict[str, list[Any]] = dataclass_field(default_factory=dict)  # attribute -> values given
    event: dict[str, Any] | None = None  # the event a trigger region makes

    @property
    def is_trigger(self) -> bool:
        return isinstance(self.field, EventsField)

    def __str__(self) -> str:
        kind = "trigger" if self.is_trigger else "span"
        return f"{kind} {self.key!r} ({self.text!r} at {self.start}-{self.end}, field {self.field.name!r})"

    def as_end(self, accepted: tuple[str, ...]) -> dict[str, Any]:
        """The region as a relation end or an argument. Of several labels (a span labelled twice),
        the first that ``accepted`` holds, so that a fitting reading is not reported as wrong."""
        label = next((x for x in self.labels if not accepted or x in accepted),
                     self.labels[0] if self.labels else None)
        return {"start": self.start, "end": self.end, "label": label, "text": self.text}


def _sort_key(item: Mapping[str, Any]) -> str:
    # Ties (two links between the same regions) in a stable order, whatever the results' order.
    return json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)


class _Links:
    """Relations, event arguments and per-region attributes of one annotation (or draft, or
    prediction). They point at regions by id, and a region may come after what points at it,
    so they are gathered while the results are read and placed at the end (``finish``)."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.attribute_owner: dict[str, tuple[SpanField | EventsField, Attribute]] = {
            a.name: (f, a) for f in scheme.fields if isinstance(f, (SpanField, EventsField)) for a in f.attributes}
        self.relation_types: dict[str, tuple[RelationsField, RelationType]] = {
            r.value: (f, r) for f in scheme.relations_fields for r in f.relations}
        self.roles: dict[str, tuple[EventsField, Role]] = {
            r.value: (f, r) for f in scheme.events_fields for r in f.roles}
        self.regions: list[_Region] = []
        self.unplaced: set[Any] = set()  # ids of regions whose own error is already recorded
        self.relation_results: list[tuple[str, dict[str, Any]]] = []
        self.attribute_results: list[tuple[str, dict[str, Any]]] = []

    def defer(self, path: str, item: dict[str, Any]) -> bool:
        """Keep a relation or per-region attribute result for ``finish``; False for other results."""
        if item.get("type") == "relation" and (self.relation_types or self.roles):
            self.relation_results.append((path, item))
            return True
        if item.get("from_name") in self.attribute_owner:
            self.attribute_results.append((path, item))
            return True
        return False

    def add_region(self, item: dict[str, Any], f: SpanField | EventsField, region: _Region | None) -> None:
        key = _region_key(item.get("id"))
        if region is None:
            self.unplaced.add(key)
            return
        region.key = key
        self.regions.append(region)

    # ------------------------------------------------------------------ the end

    def finish(self, ctx: _Context, mapped: _Mapped) -> None:
        by_key: dict[Any, list[_Region]] = {}
        for region in self.regions:
            if region.key is not None:
                by_key.setdefault(region.key, []).append(region)
        events: dict[str, list[dict[str, Any]]] = {f.name: [] for f in self.scheme.events_fields}
        for region in self.regions:
            if isinstance(region.field, EventsField):
                self._trigger(region, region.field, ctx, mapped)
                events[region.field.name].append(region.event)  # type: ignore[arg-type]
        self._attributes(by_key, ctx, mapped)
        relations: dict[str, list[dict[str, Any]]] = {f.name: [] for f in self.scheme.relations_fields}
        for path, item in self.relation_results:
            self._relation(path, item, by_key, relations, ctx, mapped)
        for name, items in relations.items():
            items.sort(key=lambda r: (r["head"]["start"], r["head"]["end"], r["tail"]["start"], r["tail"]["end"],
                                      str(r["label"]), _sort_key(r)))
            mapped.values[name] = items
        for name, found in events.items():
            for event in found:
                event["arguments"].sort(key=lambda a: (a["start"], a["end"], str(a["role"]), _sort_key(a)))
            found.sort(key=lambda e: (e["trigger"]["start"], e["trigger"]["end"], _sort_key(e)))
            mapped.values[name] = found

    def _trigger(self, region: _Region, f: EventsField, ctx: _Context, mapped: _Mapped) -> None:
        if not region.labels or any(label != f.trigger.value for label in region.labels):
            mapped.errors.append(_error(
                "trigger-label", f"{region.path}.value.labels",
                f"{ctx}: trigger {region.path} of events field {f.name!r} has the labels {region.labels!r}, "
                f"but a trigger's label is {f.trigger.value!r}; was it made with another labeling config? "
                "Relabel it in Label Studio and pull again", region.labels))
        region.event = {"trigger": {"start": region.start, "end": region.end, "text": region.text},
                        "arguments": []}

    def _attributes(self, by_key: dict[Any, list[_Region]], ctx: _Context, mapped: _Mapped) -> None:
        for path, item in self.attribute_results:
            owner, attr = self.attribute_owner[item["from_name"]]
            expected = _RESULT_TYPE[attr.kind]
            if item.get("type") != expected:
                mapped.errors.append(_error(
                    "wrong-result-type", f"{path}.type",
                    f"{ctx}: {path} for attribute {attr.name!r} of field {owner.name!r} has type "
                    f"{item.get('type')!r}, but a {attr.kind} attribute takes {expected!r} results", item.get("type")))
                continue
            value = item.get("value")
            if not isinstance(value, dict):
                mapped.errors.append(_error("malformed-result", f"{path}.value",
                                            f"{ctx}: {path} for attribute {attr.name!r} has no value object", value))
                continue
            key = _region_key(item.get("id"))
            what = "trigger" if isinstance(owner, EventsField) else "span"
            candidates = [r for r in by_key.get(key, ()) if r.field is owner] if key is not None else []
            if not candidates:
                if key is not None and key in self.unplaced:
                    continue  # its region could not be placed: that error says it
                mapped.errors.append(_error(
                    "attribute-orphan", f"{path}.id",
                    f"{ctx}: {path} gives attribute {attr.name!r} to region {item.get('id')!r}, which is no {what} "
                    f"of field {owner.name!r} in this annotation; select the {what} in Label Studio and set the "
                    "value again (or delete it), then pull again", item.get("id")))
                continue
            if len(candidates) > 1:
                mapped.errors.append(self._duplicate(f"{path}.id", f"{path} (attribute {attr.name!r})", candidates,
                                                     ctx))
                continue
            _map_whole(value, attr.field, path, ctx, mapped, candidates[0].given.setdefault(attr.name, []))
        for region in self.regions:
            if not region.field.attributes:
                continue
            values = {a.name: _combine(a.field, region.given.get(a.name, []), _empty_value(a))
                      for a in region.field.attributes}
            for span in region.items:  # one item per label: each gets its own lists
                span.update({k: list(v) if isinstance(v, list) else v for k, v in values.items()})
            if region.event is not None:
                region.event.update(values)

    @staticmethod
    def _duplicate(path: str, what: str, regions: list[_Region], ctx: _Context) -> dict[str, Any]:
        return _error("region-duplicate-id", path,
                      f"{ctx}: {what} points at region id {regions[0].key!r}, which {len(regions)} regions share "
                      f"({'; '.join(str(r) for r in regions)}), so which one is meant cannot be told; delete "
                      "the duplicate in Label Studio and pull again", regions[0].key)

    def _relation(self, path: str, item: dict[str, Any], by_key: dict[Any, list[_Region]],
                  relations: dict[str, list[dict[str, Any]]], ctx: _Context, mapped: _Mapped) -> None:
        labels = item.get("labels")
        if labels is None:
            labels = []
        elif isinstance(labels, str):
            labels = [labels]
        elif not isinstance(labels, list):
            mapped.errors.append(_error("malformed-result", f"{path}.labels",
                                        f"{ctx}: relation {path} has no list of labels", labels))
            return
        named = self._named(labels)
        ends: list[list[_Region]] = []
        for side in ("from_id", "to_id"):
            key = _region_key(item.get(side))
            if key in by_key:
                ends.append(by_key[key])
                continue
            if key is not None and key in self.unplaced:
                return  # the region's own error says it
            mapped.errors.append(_error(
                "relation-end-missing", f"{path}.{side}",
                f"{ctx}: relation {path} ({named}) goes from region {item.get('from_id')!r} to region "
                f"{item.get('to_id')!r}, but {item.get(side)!r} is no span or trigger of this annotation; delete "
                "the relation in Label Studio, draw it again between two regions, and pull again", item.get(side)))
            return
        froms, tos = ends
        where = f"relation {path} from {' / '.join(map(str, froms))} to {' / '.join(map(str, tos))}"
        if not labels:
            mapped.errors.append(_error(
                "relation-unlabelled", f"{path}.labels",
                f"{ctx}: {where} has no label, so it is neither a relation nor an event argument "
                f"({self._fields()}); choose its label in Label Studio's relations panel (or delete it), then "
                "pull again", labels))
            return
        for label in labels:
            if isinstance(label, str) and label in self.relation_types:
                self._typed(path, item, label, froms, tos, where, relations, ctx, mapped)
            elif isinstance(label, str) and label in self.roles:
                self._argument(path, label, froms, tos, where, ctx, mapped)
            else:
                mapped.errors.append(_error(
                    "relation-unknown-label", f"{path}.labels",
                    f"{ctx}: {where} has the label {label!r}, which scheme {self.scheme.name!r} has neither as a "
                    f"relation type nor as an argument role ({self._fields()}); was it made with another "
                    "labeling config? Relabel it in Label Studio and pull again", label))

    def _named(self, labels: list[Any]) -> str:
        """The labels of a relation result, each with the field it belongs to."""
        parts = []
        for label in labels:
            if isinstance(label, str) and label in self.relation_types:
                parts.append(f"{label!r}, a relation of field {self.relation_types[label][0].name!r}")
            elif isinstance(label, str) and label in self.roles:
                parts.append(f"{label!r}, a role of events field {self.roles[label][0].name!r}")
            else:
                parts.append(repr(label))
        return "; ".join(parts) or "no label"

    def _fields(self) -> str:
        """Where the scheme's relation types and roles are, for messages."""
        parts = [f"field {f.name!r}: {', '.join(f.values)}" for f in self.scheme.relations_fields]
        parts += [f"roles of events field {f.name!r}: {', '.join(f.role_values)}" for f in self.scheme.events_fields
                  if f.roles]
        return "; ".join(parts) or "the scheme has none"

    def _typed(self, path: str, item: dict[str, Any], label: str, froms: list[_Region], tos: list[_Region],
               where: str, relations: dict[str, list[dict[str, Any]]], ctx: _Context, mapped: _Mapped) -> None:
        f, rtype = self.relation_types[label]
        spans_from = [r for r in froms if not r.is_trigger]
        spans_to = [r for r in tos if not r.is_trigger]
        if not spans_from or not spans_to:
            mapped.errors.append(_error(
                "relation-end-kind", f"{path}.labels",
                f"{ctx}: {where} is a {label!r} relation (field {f.name!r}), but an end is an event trigger; a "
                "relation joins two entity spans (an event's arguments go from its trigger, with a role as "
                "label): redraw or relabel it in Label Studio and pull again", label))
            return
        for regions in (spans_from, spans_to):
            if len(regions) > 1:
                mapped.errors.append(self._duplicate(f"{path}.labels", f"relation {path}", regions, ctx))
                return
        (a,), (b,) = spans_from, spans_to
        if rtype.directed:
            direction = item.get("direction") or "right"  # Label Studio's default
            if direction not in ("right", "left"):
                code = "relation-direction" if direction == "bi" else "malformed-result"
                mapped.errors.append(_error(
                    code, f"{path}.direction",
                    f"{ctx}: {where} has direction {direction!r}, but {label!r} (field {f.name!r}) is directed "
                    f"(from {'/'.join(rtype.head) or 'any span'} to {'/'.join(rtype.tail) or 'any span'}), so its "
                    "head cannot be told; set the arrow one way in Label Studio's relations panel and pull again",
                    direction))
                return
            head, tail = (a, b) if direction == "right" else (b, a)
        else:
            head, tail = sorted((a, b), key=lambda r: (r.start, r.end))
        relations[f.name].append({"label": label, "head": head.as_end(rtype.head), "tail": tail.as_end(rtype.tail)})

    def _argument(self, path: str, label: str, froms: list[_Region], tos: list[_Region], where: str,
                  ctx: _Context, mapped: _Mapped) -> None:
        f, role = self.roles[label]
        # The trigger end is the event whatever way the arrow points.
        options = []
        for trigger_side, span_side in ((froms, tos), (tos, froms)):
            triggers = [r for r in trigger_side if r.field is f]
            spans = [r for r in span_side if not r.is_trigger]
            if triggers and spans:
                options.append((triggers, spans))
        if not options:
            regions = froms + tos
            if not any(r.field is f for r in regions):
                why = (f"no end is a trigger of events field {f.name!r}" +
                       (" (a trigger of another events field is not its event)" if any(r.is_trigger for r in regions)
                        else ""))
            else:
                why = "both ends are triggers"
            mapped.errors.append(_error(
                "relation-end-kind", f"{path}.labels",
                f"{ctx}: {where} is a {label!r} argument, but {why}; an argument goes from an event's trigger "
                "to an entity span: redraw it in Label Studio and pull again", label))
            return
        triggers, spans = options[0]
        if len(options) > 1 or len(triggers) > 1 or len(spans) > 1:
            shared = triggers if len(triggers) > 1 else spans if len(spans) > 1 else froms + tos
            mapped.errors.append(self._duplicate(f"{path}.labels", f"relation {path}", shared, ctx))
            return
        event = triggers[0].event
        assert event is not None  # every trigger region made its event in finish()
        event["arguments"].append({"role": label, **spans[0].as_end(role.labels)})


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


_TRIGGER = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("text", pa.string())])
_ARGUMENT = pa.struct([("role", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()),
                       ("text", pa.string())])
_RELATION = pa.struct([("label", pa.string()), ("head", _SPAN), ("tail", _SPAN)])


def _attribute_columns(attributes: Iterable[Attribute]) -> list[tuple[str, pa.DataType]]:
    return [(a.name, _field_type(a.field)) for a in attributes]


def _field_type(f: Field) -> pa.DataType:
    if isinstance(f, SpanField):
        if not f.attributes:
            return pa.list_(_SPAN)
        return pa.list_(pa.struct([*((s.name, s.type) for s in _SPAN), *_attribute_columns(f.attributes)]))
    if isinstance(f, RelationsField):
        return pa.list_(_RELATION)
    if isinstance(f, EventsField):
        return pa.list_(pa.struct([("trigger", _TRIGGER), ("arguments", pa.list_(_ARGUMENT)),
                                   *_attribute_columns(f.attributes)]))
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
