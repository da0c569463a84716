"""What every source of suggestions returns, and how it becomes a Label Studio prediction.

A source (the rules, a model trained here, an outside spaCy pipeline or function) looks at
one article and returns a ``Suggestion``: spans for the span fields, one value per
choice or number field it can fill and events for the events fields (a trigger, attribute
values, arguments pointing at suggested spans), each with a score in [0, 1] and the name of
what made it (``source``: a rule's name or a model's version). ``merge`` combines several sources' answers
for one article, and ``to_prediction`` turns the result into the line that
``annotations/predictions/<model_version>.jsonl`` holds: Label Studio's prediction format,
each result with its own ``score`` and, for spans, a region note (``meta``) naming its
source, so an annotator can see why a region is there.

Offsets are Python string offsets (code points) throughout, as Label Studio 1.23's labeling
view counts them too (measured: a span after an emoji comes back in code points, see
``tests/test_browser.py``, which also checks that a suggestion after an emoji is shown on the
right words). Older servers counted UTF-16 code units; ``toolkit pull`` repairs either.

An event becomes what Label Studio's labeling view saves for one: a trigger region (the events
field's label), one per-region result per attribute carrying the trigger's ``id`` and offsets,
and a relation from the trigger's id to each argument's span region, labelled with the role.
Region ids are hashes of what the region is, so the same suggestion gives the same line.

The prediction's own ``score`` is the lowest score of its results: Label Studio's
uncertainty sampling serves the tasks with the lowest prediction score first, so an article
with one doubtful region comes before one the model is sure of throughout.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..scheme import ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField

__all__ = ["Span", "Value", "Argument", "Event", "Suggestion", "merge", "to_prediction", "to_record",
           "utf16_offsets", "code_point_offsets"]


@dataclass(frozen=True)
class Span:
    """A labelled region of the article text, in Python (code point) offsets."""

    field: str
    start: int
    end: int
    label: str
    score: float
    source: str


@dataclass(frozen=True)
class Value:
    """A suggested value of a choice field (a str, or a list for a multiple choice) or a
    number field."""

    field: str
    value: Any
    score: float
    source: str


@dataclass(frozen=True)
class Argument:
    """An argument of a suggested event: its role and the suggested span that fills it (one of
    the suggestion's ``spans``), with the score of the link itself."""

    role: str
    span: Span
    score: float


@dataclass(frozen=True)
class Event:
    """A suggested event of an events field: the trigger's offsets, attribute values (a
    ``Value`` each, its ``field`` the attribute's name) and arguments."""

    field: str
    start: int
    end: int
    score: float
    source: str
    attributes: tuple[Value, ...] = ()
    arguments: tuple[Argument, ...] = ()

    def value(self, name: str) -> Any:
        """The value of attribute ``name``, or None."""
        return next((a.value for a in self.attributes if a.field == name), None)


@dataclass
class Suggestion:
    """Everything the sources suggest for one article."""

    spans: list[Span] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.spans or self.values or self.events)


def _overlaps(a: Span, b: Span) -> bool:
    return a.field == b.field and a.start < b.end and b.start < a.end


def merge(suggestions: Iterable[Suggestion], scheme: Scheme) -> Suggestion:
    """One suggestion from several, the sources in order of precedence.

    Where two spans overlap in a field that does not allow it, the earlier source wins, and
    within one source the higher score, then the longer span; identical spans are kept once.
    A choice or number field takes the earlier source's value. Events are resolved like spans
    that may not overlap, by their triggers in each events field; an argument whose span did
    not survive the merge is left out of its event (it would point at nothing). Precedence, not score, decides
    between sources because their scores are not on one scale: a trained ``ner``'s beam
    scores reach 1.0 where the rules say 0.8-0.9, and on GUM's Wikinews interviews letting
    the score decide took DATE from F1 0.74 (the rules) to 0.54 (``bench/gum_bench.py``).
    ``toolkit preannotate`` lists the rules first: they are the precise source."""
    allow_overlap = {f.name: f.allow_overlap for f in scheme.fields if isinstance(f, SpanField)}
    candidates: list[tuple[int, Span]] = []
    event_candidates: list[tuple[int, Event]] = []
    best_values: dict[str, Value] = {}
    for order, suggestion in enumerate(suggestions):
        candidates.extend((order, span) for span in suggestion.spans)
        event_candidates.extend((order, event) for event in suggestion.events)
        for value in suggestion.values:
            held = best_values.get(value.field)
            if held is None:
                best_values[value.field] = value
    ranked = sorted(candidates, key=lambda c: (c[0], -c[1].score, -(c[1].end - c[1].start), c[1].start))
    kept: list[Span] = []
    seen: set[tuple[str, int, int, str]] = set()
    for _, span in ranked:
        key = (span.field, span.start, span.end, span.label)
        if key in seen:
            continue
        if not allow_overlap.get(span.field, False) and any(_overlaps(span, k) for k in kept):
            continue
        seen.add(key)
        kept.append(span)
    kept.sort(key=lambda s: (s.field, s.start, s.end, s.label))
    order = {f.name: i for i, f in enumerate(scheme.fields)}
    values = sorted(best_values.values(), key=lambda v: order.get(v.field, len(order)))
    return Suggestion(kept, values, _merge_events(event_candidates, set(kept)))


def _merge_events(candidates: list[tuple[int, Event]], spans: set[Span]) -> list[Event]:
    ranked = sorted(candidates, key=lambda c: (c[0], -c[1].score, -(c[1].end - c[1].start), c[1].start))
    kept: list[Event] = []
    for _, event in ranked:
        if any(e.field == event.field and event.start < e.end and e.start < event.end for e in kept):
            continue
        arguments = tuple(a for a in event.arguments if a.span in spans)
        kept.append(event if arguments == event.arguments else
                    Event(event.field, event.start, event.end, event.score, event.source, event.attributes,
                          arguments))
    kept.sort(key=lambda e: (e.field, e.start, e.end))
    return kept


def utf16_offsets(text: str) -> list[int] | None:
    """Per code point offset (0..len(text)), the UTF-16 offset; None when the text has no
    character outside the Basic Multilingual Plane (the offsets are then the same)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return None
    table, unit = [], 0
    for ch in text:
        table.append(unit)
        unit += 2 if ord(ch) > 0xFFFF else 1
    table.append(unit)
    return table


def code_point_offsets(text: str) -> dict[int, int] | None:
    """The inverse of ``utf16_offsets``: UTF-16 offset -> code point offset (None: the same)."""
    table = utf16_offsets(text)
    return None if table is None else {unit: index for index, unit in enumerate(table)}


def _region_id(*parts: Any) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()[:10]


def _score(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return round(min(1.0, max(0.0, float(value))), 4)


def to_prediction(scheme: Scheme, article_id: str, text: str, suggestion: Suggestion,
                  model_version: str) -> dict[str, Any]:
    """The prediction line for one article (``article_id``, ``model_version``, ``score``,
    ``result``), in Label Studio's format. A span whose offsets do not lie inside the text,
    or cut nothing, is a bug in its source and raises ``ValueError``; a value for a field the
    scheme does not have, or a label or choice it does not list, likewise."""
    fields = {f.name: f for f in scheme.fields}
    result: list[dict[str, Any]] = []
    for span in suggestion.spans:
        f = fields.get(span.field)
        if not isinstance(f, SpanField) or span.label not in f.values:
            raise ValueError(f"{span.source}: label {span.label!r} of field {span.field!r} is not in the scheme")
        if not 0 <= span.start < span.end <= len(text):
            raise ValueError(f"{span.source}: span {span.start}-{span.end} is outside the text "
                             f"({len(text)} characters) of article {article_id}")
        start, end = span.start, span.end
        result.append({
            "id": _region_id(span.field, span.start, span.end, span.label),
            "from_name": span.field, "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[span.start:span.end], "labels": [span.label]},
            "score": _score(span.score),
            "meta": {"text": [span.source]},
        })
    for value in suggestion.values:
        item = _value_item(fields.get(value.field), value, "field")
        item.update({"id": _region_id(value.field), "from_name": value.field, "to_name": "text",
                     "score": _score(value.score), "meta": {"text": [value.source]}})
        result.append(item)
    region_ids = {(r["from_name"], r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]): r["id"]
                  for r in result if r["type"] == "labels"}
    links: list[dict[str, Any]] = []
    for event in suggestion.events:
        f = fields.get(event.field)
        if not isinstance(f, EventsField):
            raise ValueError(f"{event.source}: field {event.field!r} is not an events field of the scheme")
        result.extend(_event_results(f, event, text, article_id, region_ids, links))
    result.extend(links)
    score = min((r["score"] for r in result), default=0.0)
    return {"article_id": article_id, "model_version": model_version, "score": score, "result": result}


def _value_item(f: Any, value: Value, what: str) -> dict[str, Any]:
    """``type`` and ``value`` of the result for ``value`` of the choice or number ``f``."""
    if isinstance(f, ChoiceField):
        chosen = list(value.value) if isinstance(value.value, (list, tuple)) else [value.value]
        if not chosen or any(c not in f.values for c in chosen) or (len(chosen) > 1 and not f.multiple):
            raise ValueError(f"{value.source}: {chosen!r} is not a valid answer to {value.field!r}")
        return {"type": "choices", "value": {"choices": chosen}}
    if isinstance(f, NumberField):
        number = value.value
        if (isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number)
                or (f.integer and int(number) != number)
                or (f.min is not None and number < f.min) or (f.max is not None and number > f.max)):
            raise ValueError(f"{value.source}: {number!r} is not a valid value of {value.field!r}")
        return {"type": "number", "value": {"number": int(number) if f.integer else float(number)}}
    raise ValueError(f"{value.source}: {what} {value.field!r} is not a choice or number {what} of the scheme")


def _event_results(f: EventsField, event: Event, text: str, article_id: str, region_ids: dict[tuple, str],
                   links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trigger region and its per-region attribute results; the arguments' relations go to
    ``links`` (Label Studio lists relations after the regions)."""
    if not 0 <= event.start < event.end <= len(text):
        raise ValueError(f"{event.source}: trigger {event.start}-{event.end} is outside the text "
                         f"({len(text)} characters) of article {article_id}")
    label = f.trigger.value
    tid = _region_id(f.name, event.start, event.end, label)
    where = {"start": event.start, "end": event.end, "text": text[event.start:event.end]}
    # Label Studio keeps one note per region: the trigger's names what made each of its parts.
    notes = [event.source, *(f"{a.field}: {a.source}" for a in event.attributes)]
    out: list[dict[str, Any]] = [{
        "id": tid, "from_name": f.name, "to_name": "text", "type": "labels",
        "value": {**where, "labels": [label]}, "score": _score(event.score), "meta": {"text": notes}}]
    attributes = {a.name: a for a in f.attributes}
    for value in event.attributes:
        attribute = attributes.get(value.field)
        item = _value_item(attribute.field if attribute is not None else None, value, f"attribute of {f.name!r}")
        out.append({"id": tid, "from_name": value.field, "to_name": "text", "type": item["type"],
                    "value": {**where, **item["value"]}, "score": _score(value.score)})
    roles = {r.value: r for r in f.roles}
    seen: set[str] = set()
    for argument in event.arguments:
        role, span = roles.get(argument.role), argument.span
        if role is None or (role.labels and span.label not in role.labels):
            raise ValueError(f"{event.source}: {argument.role!r} is no role of {f.name!r} taking a {span.label} span")
        if role.unique and role.value in seen:
            raise ValueError(f"{event.source}: role {role.value!r} of {f.name!r} takes one argument per event")
        seen.add(role.value)
        span_id = region_ids.get((span.field, span.start, span.end, span.label))
        if span_id is None:
            raise ValueError(f"{event.source}: argument {argument.role!r} points at a span the suggestion does "
                             f"not have ({span.label} at {span.start}-{span.end})")
        links.append({"type": "relation", "from_id": tid, "to_id": span_id, "direction": "right",
                      "labels": [role.value], "score": _score(argument.score)})
    return out


def _empty(f: Any) -> Any:
    return [] if isinstance(f, ChoiceField) and f.multiple else None


def to_record(suggestion: Suggestion, scheme: Scheme, text: str) -> dict[str, Any]:
    """The suggestion as a record with the gold table's columns (spans as ``{start, end,
    label, text}`` in code point offsets, a field with no suggestion empty; events as
    ``{trigger, arguments, <attribute>: value}``), for evaluation."""
    record: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            record[f.name] = [{"start": s.start, "end": s.end, "label": s.label, "text": text[s.start:s.end],
                               **{a.name: _empty(a.field) for a in f.attributes}}
                              for s in sorted(suggestion.spans, key=lambda s: (s.start, s.end, s.label))
                              if s.field == f.name]
        elif isinstance(f, (ChoiceField, NumberField)):
            record[f.name] = None
        elif isinstance(f, RelationsField):
            record[f.name] = []
        elif isinstance(f, EventsField):
            record[f.name] = [_event_record(f, e, text) for e in sorted(suggestion.events, key=lambda e: (e.start, e.end))
                              if e.field == f.name]
    for value in suggestion.values:
        if value.field in record:
            f = scheme.field(value.field)
            chosen = value.value
            if isinstance(f, ChoiceField) and f.multiple and not isinstance(chosen, list):
                chosen = [chosen]
            record[value.field] = chosen
    return record


def _event_record(f: EventsField, event: Event, text: str) -> dict[str, Any]:
    arguments = sorted(({"role": a.role, "start": a.span.start, "end": a.span.end, "label": a.span.label,
                         "text": text[a.span.start:a.span.end]} for a in event.arguments),
                       key=lambda a: (a["start"], a["end"], a["role"]))
    record: dict[str, Any] = {"trigger": {"start": event.start, "end": event.end, "text": text[event.start:event.end]},
                              "arguments": arguments}
    for attribute in f.attributes:
        value = event.value(attribute.name)
        if value is None:
            value = _empty(attribute.field)
        elif isinstance(attribute.field, ChoiceField) and attribute.field.multiple and not isinstance(value, list):
            value = [value]
        record[attribute.name] = value
    return record
