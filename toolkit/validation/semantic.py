"""Layer 2 of validation: what no JSON Schema can say, and both layers together.

Span offsets inside the article and ``text[start:end] == span.text``; overlapping spans
where the scheme forbids them; fields the scheme requires; cancelled annotations that
still carry results; one annotation per annotator per task; duplicate annotation ids;
records pointing at articles or tasks that do not exist. For relations and events: the
same offset checks on triggers, arguments and relation ends, each end a span of the
record, the span labels a relation type or a role accepts, a unique role used once, a
label or role the scheme has; for span and event attributes: a value only on the labels
it is asked for, and required ones given. These read the record alone (never the
generated JSON Schema), so they hold for records read back after the scheme changed.
``RecordChecker`` runs both layers over a stream of records.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, Iterator

import msgspec

from ..scheme import Attribute, EventsField, RelationsField, Scheme, SpanField
from .report import ValidationError, _short
from .schema import SchemaLayer

# Layer 2: semantic checks -------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _storable(record: dict[str, Any]) -> bool:
    """The quick yes: no NaN or infinity, no lone surrogate anywhere. Only a record that fails
    it is walked leaf by leaf to name what is wrong.

    msgpack (msgspec, about 5 times faster than ``json.dumps`` on a record) answers first: it
    refuses lone surrogates, and writes every float as a float64 whose bytes show a NaN or an
    infinity. Whatever it cannot clear (an error, bytes that look like a non-finite float
    somewhere) is decided by the reference, ``json.dumps``, so the answer is always the reference's.
    """
    try:
        packed = _pack(record)
    except Exception:  # a surrogate, an int beyond 64 bits, ...: the reference decides
        return _storable_json(record)
    return _NON_FINITE_FLOAT64.search(packed) is None or _storable_json(record)


def _storable_json(record: dict[str, Any]) -> bool:
    try:
        json.dumps(record, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return True


_pack = msgspec.msgpack.Encoder(enc_hook=str).encode
# msgpack float64: 0xcb, then the IEEE bytes big-endian; an all-ones exponent is NaN or infinity.
_NON_FINITE_FLOAT64 = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")


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
                f"article {record.get('article_id')} is not in the articles table (annotations/articles/)", record.get("article_id"))
        if self.task_ids is not None and record.get("task_id") not in self.task_ids:
            add("unknown-task", "task_id", f"task {record.get('task_id')} is not in the latest snapshot",
                record.get("task_id"))
        return found

    def record_errors(self, record: dict[str, Any], text: str | None) -> list[ValidationError]:
        """Checks of one record on its own (spans against the text, required, cancelled)."""
        found: list[ValidationError] = []
        add = self._adder(record, found)
        linked = None  # the spans of the record, for relation ends and arguments (made when needed)
        for f in self.scheme.fields:
            value = record.get(f.name)
            if isinstance(f, SpanField) and isinstance(value, list):
                self._spans(f, value, text, add)
                if f.attributes:
                    self._span_attributes(f, value, record, add)
            elif isinstance(f, (RelationsField, EventsField)) and isinstance(value, list):
                if linked is None:
                    linked = _span_keys(self.scheme, record)
                if isinstance(f, RelationsField):
                    self._relations(f, value, text, linked, add)
                else:
                    self._events(f, value, text, linked, record, add)
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
        size = len(text) if text is not None else -1
        for index, span in enumerate(spans):
            # The common case inline (the hot loop of validation): a dict with int offsets inside the
            # article and its text the article's. Anything else is judged (and reported) by _placed.
            if span.__class__ is dict:
                start, end, span_text = span.get("start"), span.get("end"), span.get("text")
                if (start.__class__ is int and end.__class__ is int and 0 <= start < end <= size
                        and (span_text is None
                             or span_text.__class__ is str and text[start:end] == span_text)):  # type: ignore[index]
                    placed.append((start, end, index))
                    continue
            if _placed(span, f"{f.name}[{index}]", text, add, "span"):
                placed.append((span["start"], span["end"], index))
        if not f.allow_overlap:
            placed.sort()
            for (s1, e1, i1), (s2, e2, i2) in zip(placed, placed[1:]):
                if s2 < e1:
                    add("overlapping-spans", f"{f.name}[{i2}]",
                        f"span {s2}-{e2} overlaps span {s1}-{e1} ({f.name}[{i1}]); the scheme does not allow overlap",
                        {"start": s2, "end": e2})

    # Span attributes, relations and events -------------------------------------------------

    def _span_attributes(self, f: SpanField, spans: list[Any], record: dict[str, Any],
                         add: Callable[..., None]) -> None:
        for index, span in enumerate(spans):
            if not isinstance(span, dict):
                continue
            label = span.get("label")
            for attr in f.attributes:
                value = span.get(attr.name)
                path = f"{f.name}[{index}].{attr.name}"
                if attr.labels and label not in attr.labels:
                    if not _empty(value):
                        add("attribute-label", path,
                            f"attribute {attr.name!r} has a value on a {label!r} span ({span.get('text')!r}), but "
                            f"field {f.name!r} asks it only of {', '.join(attr.labels)}; clear it in Label Studio "
                            "(or fix the span's label)", value)
                    continue
                _attribute_value(attr, value, path, f"the {label!r} span {span.get('text')!r}", record, add)

    def _relations(self, f: RelationsField, relations: list[Any], text: str | None,
                   linked: set[tuple[Any, Any, Any]], add: Callable[..., None]) -> None:
        types = {r.value: r for r in f.relations}
        for index, relation in enumerate(relations):
            if not isinstance(relation, dict):
                continue
            path = f"{f.name}[{index}]"
            label = relation.get("label")
            rtype = types.get(label) if isinstance(label, str) else None
            if label is None:
                add("relation-unlabelled", f"{path}.label",
                    "the relation has no label; choose one in Label Studio's relations panel", label)
            elif rtype is None:
                add("relation-unknown-label", f"{path}.label",
                    f"{label!r} is not a relation type of {f.name!r} ({', '.join(types) or 'none'}); was it "
                    "removed from the scheme?", label)
            for side in ("head", "tail"):
                end = relation.get(side)
                where = f"{path}.{side}"
                if not _placed(end, where, text, add, f"the relation's {side}"):
                    continue
                _linked(end, where, linked, add, f"the {side} of this {label!r} relation")
                if rtype is None:
                    continue
                accepted = rtype.head if side == "head" else rtype.tail
                if accepted and end.get("label") not in accepted:
                    add("relation-end-label", f"{where}.label",
                        f"the {side} of a {label!r} relation is a {end.get('label')!r} span ({end.get('text')!r}), "
                        f"but {label!r} goes from {'/'.join(rtype.head) or 'any span'} to "
                        f"{'/'.join(rtype.tail) or 'any span'}; fix the relation or the span's label in Label "
                        "Studio", end.get("label"))

    def _events(self, f: EventsField, events: list[Any], text: str | None, linked: set[tuple[Any, Any, Any]],
                record: dict[str, Any], add: Callable[..., None]) -> None:
        roles = {r.value: r for r in f.roles}
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                continue
            path = f"{f.name}[{index}]"
            trigger = event.get("trigger")
            named = f"the event {trigger.get('text')!r}" if isinstance(trigger, dict) else "the event"
            _placed(trigger, f"{path}.trigger", text, add, "the trigger")
            arguments = event.get("arguments")
            used: dict[str, int] = {}
            for k, argument in enumerate(arguments if isinstance(arguments, list) else ()):
                if not isinstance(argument, dict):
                    continue
                where = f"{path}.arguments[{k}]"
                role_value = argument.get("role")
                role = roles.get(role_value) if isinstance(role_value, str) else None
                if role_value is None:
                    add("relation-unlabelled", f"{where}.role",
                        f"an argument of {named} has no role; choose one in Label Studio's relations panel", None)
                elif role is None:
                    add("relation-unknown-label", f"{where}.role",
                        f"{role_value!r} is not an argument role of {f.name!r} ({', '.join(roles) or 'none'}); was "
                        "it removed from the scheme?", role_value)
                if _placed(argument, where, text, add, "the argument"):
                    _linked(argument, where, linked, add, f"this argument of {named}")
                if role is None:
                    continue
                if role.labels and argument.get("label") not in role.labels:
                    add("argument-role-label", f"{where}.label",
                        f"the {role.value!r} of {named} is a {argument.get('label')!r} span "
                        f"({argument.get('text')!r}), but that role takes {', '.join(role.labels)}; pick another "
                        "role or fix the span's label in Label Studio", argument.get("label"))
                used[role.value] = used.get(role.value, 0) + 1
                if role.unique and used[role.value] == 2:
                    add("argument-duplicate-role", f"{where}.role",
                        f"{named} has more than one {role.value!r} argument, and the scheme allows one; keep the "
                        "right one in Label Studio and delete the others", role.value)
            for attr in f.attributes:
                _attribute_value(attr, event.get(attr.name), f"{path}.{attr.name}", named, record, add)


_NAMES_SCHEMA_ERRORS = frozenset({"relation-unknown-label", "relation-unlabelled"})


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
        if self.semantic is None:
            return errors
        semantic = self.semantic.record_errors(record, text)
        if errors and semantic:
            # A relation label or role the scheme lacks also fails the schema's enum (or its type, when
            # null); the named error says it better, so the generic one at the same path is dropped.
            named = {e.path for e in semantic if e.type in _NAMES_SCHEMA_ERRORS}
            errors = [e for e in errors if e.path not in named]
        return errors + semantic

    def cross_errors(self, record: dict[str, Any]) -> list[ValidationError]:
        return self.semantic.cross_errors(record) if self.semantic is not None else []


def _placed(span: Any, path: str, text: str | None, add: Callable[..., None], what: str) -> bool:
    """Offsets of a span, trigger, argument or relation end inside the article, its text the article's.
    False when it has no integer offsets (the JSON Schema layer says so) or lies outside."""
    if not isinstance(span, dict):
        return False
    start, end, span_text = span.get("start"), span.get("end"), span.get("text")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
        return False  # the JSON Schema layer reports it
    if text is not None and not (0 <= start < end <= len(text)):
        add("span-out-of-bounds", path, f"{what} {start}-{end} is outside the article "
                                        f"({len(text)} characters) or empty", {"start": start, "end": end})
        return False
    if text is not None and isinstance(span_text, str) and text[start:end] != span_text:
        add("span-text-mismatch", f"{path}.text",
            f"text[{start}:{end}] is {text[start:end]!r}, not {span_text!r}", span_text)
    return True


def _span_keys(scheme: Scheme, record: dict[str, Any]) -> set[tuple[Any, Any, Any]]:
    """(start, end, label) of every span of the record: what relation ends and arguments must be."""
    keys = set()
    for f in scheme.span_fields:
        spans = record.get(f.name)
        for span in spans if isinstance(spans, list) else ():
            if isinstance(span, dict):
                keys.add((span.get("start"), span.get("end"), _hashable(span.get("label"))))
    return keys


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, type(None))) else repr(value)


def _linked(end: dict[str, Any], path: str, linked: set[tuple[Any, Any, Any]], add: Callable[..., None],
            what: str) -> None:
    if (end.get("start"), end.get("end"), _hashable(end.get("label"))) not in linked:
        add("relation-end-missing", path,
            f"{what} ({end.get('label')!r} {end.get('text')!r} at {end.get('start')}-{end.get('end')}) is not a span "
            "of the annotation; mark the span, or redraw the link in Label Studio", end)


def _attribute_value(attr: Attribute, value: Any, path: str, owner: str, record: dict[str, Any],
                     add: Callable[..., None]) -> None:
    """A required attribute given (unless the annotation was skipped), a whole number storable."""
    if attr.required and _empty(value) and not record.get("was_cancelled"):
        add("attribute-missing", path,
            f"attribute {attr.name!r} is required by the scheme but {owner} has none; set it in Label Studio", value)
    elif (isinstance(value, int) and not isinstance(value, bool)
          and not _INT64_MIN <= value <= _INT64_MAX):
        # Only top-level numbers are range-checked for storage elsewhere; an attribute sits deeper.
        add("out-of-range", path, f"{value} is too large to store (more than 2^63)", value)
