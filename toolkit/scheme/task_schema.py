"""The JSON Schema of one line of ``tasks.jsonl`` (Label Studio's import format), with
the predictions it may carry, generated from the scheme."""

from __future__ import annotations

import copy
from typing import Any

from .model import JSON_SCHEMA_DIALECT, RECORD_COLUMNS, ChoiceField, Field, NumberField, Scheme, SpanField

__all__ = ["build_task_schema"]

def _result_value_schema(f: Field) -> dict[str, Any]:
    """Shape of ``value`` in a Label Studio result for this field."""
    if isinstance(f, SpanField):
        return {"type": "object", "required": ["start", "end", "labels"],
                "properties": {"start": {"type": "integer", "minimum": 0},
                               "end": {"type": "integer", "minimum": 1},
                               "text": {"type": "string"},
                               "labels": {"type": "array", "minItems": 1,
                                          "items": {"enum": list(f.values)}}}}
    if isinstance(f, ChoiceField):
        choices: dict[str, Any] = {"type": "array", "minItems": 1,
                                   "items": {"enum": list(f.values)}}
        if not f.multiple:
            choices["maxItems"] = 1
        return {"type": "object", "required": ["choices"], "properties": {"choices": choices}}
    if isinstance(f, NumberField):
        number: dict[str, Any] = {"type": "integer" if f.integer else "number"}
        if f.min is not None:
            number["minimum"] = f.min
        if f.max is not None:
            number["maximum"] = f.max
        return {"type": "object", "required": ["number"], "properties": {"number": number}}
    text: dict[str, Any] = {"type": "string"}
    if f.max_length is not None:
        text["maxLength"] = f.max_length
    return {"type": "object", "required": ["text"],
            "properties": {"text": {"type": "array", "items": text}}}


_RESULT_TYPE = {"spans": "labels", "choice": "choices", "number": "number", "text": "textarea"}


def build_task_schema(scheme: Scheme) -> dict[str, Any]:
    """JSON Schema for one line of tasks.jsonl (Label Studio import format)."""
    result_item = {
        "type": "object",
        "required": ["from_name", "to_name", "type", "value"],
        "properties": {
            "from_name": {"enum": list(scheme.field_names)},
            "to_name": {"const": "text"},
            "type": {"enum": sorted(set(_RESULT_TYPE.values()))},
            "value": {"type": "object"},
        },
        # Label Studio adds keys of its own (id, origin, ...), hence no
        # additionalProperties: false here.
        "allOf": [
            {"if": {"properties": {"from_name": {"const": f.name}}, "required": ["from_name"]},
             "then": {"properties": {"type": {"const": _RESULT_TYPE[f.kind]},
                                     "value": _result_value_schema(f)}}}
            for f in scheme.fields
        ],
    }
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:toolkit:{scheme.name}:v{scheme.version}:task",
        "title": f"{scheme.title}: one Label Studio task (a line of tasks.jsonl)",
        "description": "Generated from the scheme. Do not edit: run `toolkit scheme build`.",
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "data": {
                "type": "object",
                "required": ["text", "article_id"],
                "properties": {
                    "text": {"type": "string", "minLength": 1},
                    "title": {"type": ["string", "null"]},
                    "published": {"type": ["string", "null"], "format": "date"},
                    "source_url": {"type": ["string", "null"], "format": "uri"},
                    "article_id": copy.deepcopy(dict(RECORD_COLUMNS["article_id"])),
                },
                "additionalProperties": True,
            },
            "predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["model_version", "result"],
                    "additionalProperties": False,
                    "properties": {
                        "model_version": {"type": "string", "minLength": 1},
                        "score": {"type": "number"},
                        "result": {"type": "array", "items": result_item},
                    },
                },
            },
        },
    }
