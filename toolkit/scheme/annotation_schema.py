"""The JSON Schema of one normalised annotation record, generated from the scheme."""

from __future__ import annotations

import copy
from typing import Any

from .model import JSON_SCHEMA_DIALECT, OPTIONAL_RECORD_COLUMNS, RECORD_COLUMNS, ChoiceField, Field, NumberField, Scheme, SpanField

__all__ = ["build_annotation_schema"]

def _field_schema(f: Field) -> dict[str, Any]:
    if isinstance(f, SpanField):
        schema: dict[str, Any] = {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end", "label", "text"],
                "additionalProperties": False,
                "properties": {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 1},
                    "label": {"type": "string", "enum": list(f.values)},
                    "text": {"type": "string"},
                },
            },
            # Overlap cannot be expressed in JSON Schema; validation reads this.
            "x-allow-overlap": f.allow_overlap,
        }
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

    Every key is always present, but for the columns added later (``OPTIONAL_RECORD_COLUMNS``). Span and multiple-choice fields are lists
    (empty when nothing was marked); the other fields are null when empty.
    """
    properties: dict[str, Any] = copy.deepcopy(dict(RECORD_COLUMNS))
    for f in scheme.fields:
        properties[f.name] = _field_schema(f)
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
