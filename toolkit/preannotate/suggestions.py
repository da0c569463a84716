"""What every source of suggestions returns, and how it becomes a Label Studio prediction.

A source (the rules, a model trained here, an outside spaCy pipeline or function) looks at
one article and returns a ``Suggestion``: spans for the span fields and one value per
choice or number field it can fill, each with a score in [0, 1] and the name of what made it
(``source``: a rule's name or a model's version). ``merge`` combines several sources' answers
for one article, and ``to_prediction`` turns the result into the line that
``annotations/predictions/<model_version>.jsonl`` holds: Label Studio's prediction format,
each result with its own ``score`` and, for spans, a region note (``meta``) naming its
source, so an annotator can see why a region is there.

Offsets are Python string offsets (code points) throughout, as Label Studio 1.23's labeling
view counts them too (measured: a span after an emoji comes back in code points, see
``tests/test_browser.py``, which also checks that a suggestion after an emoji is shown on the
right words). Older servers counted UTF-16 code units; ``toolkit pull`` repairs either.

The prediction's own ``score`` is the lowest score of its results: Label Studio's
uncertainty sampling serves the tasks with the lowest prediction score first, so an article
with one doubtful region comes before one the model is sure of throughout.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..scheme import ChoiceField, NumberField, Scheme, SpanField

__all__ = ["Span", "Value", "Suggestion", "merge", "to_prediction", "to_record", "utf16_offsets",
           "code_point_offsets"]


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


@dataclass
class Suggestion:
    """Everything the sources suggest for one article."""

    spans: list[Span] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.spans or self.values)


def _overlaps(a: Span, b: Span) -> bool:
    return a.field == b.field and a.start < b.end and b.start < a.end


def merge(suggestions: Iterable[Suggestion], scheme: Scheme) -> Suggestion:
    """One suggestion from several, the sources in order of precedence.

    Where two spans overlap in a field that does not allow it, the earlier source wins, and
    within one source the higher score, then the longer span; identical spans are kept once.
    A choice or number field takes the earlier source's value. Precedence, not score, decides
    between sources because their scores are not on one scale: a trained ``ner``'s beam
    scores reach 1.0 where the rules say 0.8-0.9, and on GUM's Wikinews interviews letting
    the score decide took DATE from F1 0.74 (the rules) to 0.54 (``bench/gum_bench.py``).
    ``toolkit preannotate`` lists the rules first: they are the precise source."""
    allow_overlap = {f.name: f.allow_overlap for f in scheme.fields if isinstance(f, SpanField)}
    candidates: list[tuple[int, Span]] = []
    best_values: dict[str, Value] = {}
    for order, suggestion in enumerate(suggestions):
        candidates.extend((order, span) for span in suggestion.spans)
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
    return Suggestion(kept, values)


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
        f = fields.get(value.field)
        if isinstance(f, ChoiceField):
            chosen = list(value.value) if isinstance(value.value, (list, tuple)) else [value.value]
            if not chosen or any(c not in f.values for c in chosen) or (len(chosen) > 1 and not f.multiple):
                raise ValueError(f"{value.source}: {chosen!r} is not a valid answer to {value.field!r}")
            item: dict[str, Any] = {"type": "choices", "value": {"choices": chosen}}
        elif isinstance(f, NumberField):
            number = value.value
            if (isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number)
                    or (f.integer and int(number) != number)
                    or (f.min is not None and number < f.min) or (f.max is not None and number > f.max)):
                raise ValueError(f"{value.source}: {number!r} is not a valid value of {value.field!r}")
            item = {"type": "number", "value": {"number": int(number) if f.integer else float(number)}}
        else:
            raise ValueError(f"{value.source}: field {value.field!r} is not a choice or number field of the scheme")
        item.update({"id": _region_id(value.field), "from_name": value.field, "to_name": "text",
                     "score": _score(value.score), "meta": {"text": [value.source]}})
        result.append(item)
    score = min((r["score"] for r in result), default=0.0)
    return {"article_id": article_id, "model_version": model_version, "score": score, "result": result}


def to_record(suggestion: Suggestion, scheme: Scheme, text: str) -> dict[str, Any]:
    """The suggestion as a record with the gold table's columns (spans as ``{start, end,
    label, text}`` in code point offsets, a field with no suggestion empty), for evaluation."""
    record: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            record[f.name] = [{"start": s.start, "end": s.end, "label": s.label, "text": text[s.start:s.end]}
                              for s in sorted(suggestion.spans, key=lambda s: (s.start, s.end, s.label))
                              if s.field == f.name]
        elif isinstance(f, (ChoiceField, NumberField)):
            record[f.name] = None
    for value in suggestion.values:
        if value.field in record:
            f = scheme.field(value.field)
            chosen = value.value
            if isinstance(f, ChoiceField) and f.multiple and not isinstance(chosen, list):
                chosen = [chosen]
            record[value.field] = chosen
    return record
