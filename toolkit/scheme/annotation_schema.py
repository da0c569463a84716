"""The JSON Schema of one normalised annotation record, generated from the scheme.

Besides plain JSON Schema it carries ``x-`` keys for what JSON Schema cannot say and the
validation stage checks: ``x-required`` (a field or attribute that must be given, except on
skipped annotations), ``x-allow-overlap`` (spans of a field may overlap) and, on a span
attribute asked for some labels only, ``x-labels`` (those labels). Which span labels a role
or a relation's ends accept is not in the schema either: validation reads it from the scheme
and reports it under a named error code.
"""

from __future__ import annotations

import copy
from typing import Any

from .model import (JSON_SCHEMA_DIALECT, OPTIONAL_RECORD_COLUMNS, RECORD_COLUMNS, Attribute, ChoiceField,
                    EventsField, Field, NumberField, RelationsField, Scheme, SpanField)

__all__ = ["build_annotation_schema"]


def _offsets() -> dict[str, Any]:
    return {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1}}


def _span_item(labels: list[str]) -> dict[str, Any]:
    """A span as the record holds it: offsets, label, text."""
    return {
        "type": "object",
        "required": ["start", "end", "label", "text"],
        "additionalProperties": False,
        "properties": {**_offsets(), "label": {"type": "string", "enum": labels}, "text": {"type": "string"}},
    }


def _attribute_schema(attribute: Attribute) -> dict[str, Any]:
    schema = _field_schema(attribute.field)
    if attribute.labels:
        schema["x-labels"] = list(attribute.labels)
    return schema


def _with_attributes(item: dict[str, Any], attributes: tuple[Attribute, ...]) -> dict[str, Any]:
    # Every attribute is a key of every item (null, or [] for a multiple choice, when not given
    # or not asked for the item's label): records keep one shape, as the article-level fields do.
    for attribute in attributes:
        item["required"].append(attribute.name)
        item["properties"][attribute.name] = _attribute_schema(attribute)
    return item


def _relations_schema(f: RelationsField, span_labels: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {
        "type": "object",
        "required": ["label", "head", "tail"],
        "additionalProperties": False,
        "properties": {"label": {"type": "string", "enum": list(f.values)},
                       "head": _span_item(span_labels), "tail": _span_item(span_labels)},
    }}


def _events_schema(f: EventsField, span_labels: list[str]) -> dict[str, Any]:
    trigger = {"type": "object", "required": ["start", "end", "text"], "additionalProperties": False,
               "properties": {**_offsets(), "text": {"type": "string"}}}
    argument = _span_item(span_labels)
    argument["required"].insert(0, "role")
    argument["properties"] = {"role": {"type": "string", "enum": list(f.role_values)}, **argument["properties"]}
    event = {"type": "object", "required": ["trigger", "arguments"], "additionalProperties": False,
             "properties": {"trigger": trigger, "arguments": {"type": "array", "items": argument}}}
    return {"type": "array", "items": _with_attributes(event, f.attributes)}


def _field_schema(f: Field, scheme: Scheme | None = None) -> dict[str, Any]:
    if isinstance(f, SpanField):
        schema: dict[str, Any] = {
            "type": "array",
            "items": _with_attributes(_span_item(list(f.values)), f.attributes),
            # Overlap cannot be expressed in JSON Schema; validation reads this.
            "x-allow-overlap": f.allow_overlap,
        }
    elif isinstance(f, RelationsField):
        assert scheme is not None
        schema = _relations_schema(f, list(scheme.span_labels))
    elif isinstance(f, EventsField):
        assert scheme is not None
        schema = _events_schema(f, list(scheme.span_labels))
    elif isinstance(f, ChoiceField) and f.multiple:
        schema = {"type": "array", "items": {"type": "string", "enum": list(f.values)},
                  "uniqueItems": True}
    elif isinstance(f, ChoiceField):
        schema = {"type": ["string", "null"], "enum": [*f.values, None]}
    elif isinstance(f, NumberField):
        schema = {"type": ["integer" if f.integer else "number", "null"]}
        if f.min is not None:
            schema["minimum"] = f.min
        if f.max is not None:
            schema["maximum"] = f.max
    else:
        schema = {"type": ["string", "null"]}
        if f.max_length is not None:
            schema["maxLength"] = f.max_length
    if f.description:
        schema["description"] = f.description
    # Cancelled annotations carry no values, so requiredness cannot be a schema
    # rule; it is recorded for the validation stage to apply to the others.
    schema["x-required"] = f.required
    return schema


def build_annotation_schema(scheme: Scheme) -> dict[str, Any]:
    """JSON Schema that one normalised annotation record must satisfy.

    Every key is always present, but for the columns added later (``OPTIONAL_RECORD_COLUMNS``). Span,
    relations, events and multiple-choice fields are lists (empty when nothing was marked); the
    other fields are null when empty. Span items and events have a key per attribute.
    """
    properties: dict[str, Any] = copy.deepcopy(dict(RECORD_COLUMNS))
    for f in scheme.fields:
        properties[f.name] = _field_schema(f, scheme)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:toolkit:{scheme.name}:v{scheme.version}:annotation-record",
        "title": f"{scheme.title}: one annotation record",
        "description": (f"One normalised annotation of one task, generated from scheme "
                        f"{scheme.name!r} version {scheme.version}. Do not edit: run "
                        "`toolkit scheme build`."),
        "type": "object",
        "required": [key for key in properties if key not in OPTIONAL_RECORD_COLUMNS],
        "additionalProperties": False,
        "properties": properties,
    }
