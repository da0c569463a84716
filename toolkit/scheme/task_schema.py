"""The JSON Schema of one line of ``tasks.jsonl`` (Label Studio's import format), with
the predictions it may carry, generated from the scheme.

A prediction's results are Label Studio's own: one per span (entity or event trigger),
per article-level value and per value of a span's attribute (a per-region result, with the
``id`` of the span's region), and, when the scheme has relations or event roles, relation
results (``from_id`` / ``to_id`` naming two regions, no ``from_name``). That the ids name
regions of the same prediction is for validation to check: JSON Schema cannot say it.
"""

from __future__ import annotations

import copy
from typing import Any

from .model import (JSON_SCHEMA_DIALECT, RECORD_COLUMNS, ChoiceField, EventsField, Field, NumberField, Scheme,
                    SpanField)

__all__ = ["build_task_schema"]


def _span_value_schema(labels: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": ["start", "end", "labels"],
            "properties": {"start": {"type": "integer", "minimum": 0},
                           "end": {"type": "integer", "minimum": 1},
                           "text": {"type": "string"},
                           "labels": {"type": "array", "minItems": 1,
                                      "items": {"enum": labels}}}}


def _result_value_schema(f: Field) -> dict[str, Any]:
    """Shape of ``value`` in a Label Studio result for this field."""
    if isinstance(f, SpanField):
        return _span_value_schema(list(f.values))
    if isinstance(f, EventsField):
        return _span_value_schema([f.trigger.value])
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


def _per_region_value_schema(f: Field) -> dict[str, Any]:
    """A span attribute's value: the field's value plus the offsets of the span it belongs to."""
    schema = _result_value_schema(f)
    schema["required"] = ["start", "end", *schema["required"]]
    schema["properties"] = {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1},
                            **schema["properties"]}
    return schema


_RESULT_TYPE = {"spans": "labels", "events": "labels", "choice": "choices", "number": "number", "text": "textarea"}


def _region_result_schema(scheme: Scheme) -> dict[str, Any]:
    """A result with a ``from_name``: a span, a trigger, an article-level value or an attribute's."""
    rules = [
        {"if": {"properties": {"from_name": {"const": f.name}}, "required": ["from_name"]},
         "then": {"properties": {"type": {"const": _RESULT_TYPE[f.kind]},
                                 "value": _result_value_schema(f)}}}
        for f in scheme.fields if f.kind in _RESULT_TYPE
    ]
    attributes = [a for f in scheme.fields if isinstance(f, (SpanField, EventsField)) for a in f.attributes]
    for attribute in attributes:
        rules.append({"if": {"properties": {"from_name": {"const": attribute.name}}, "required": ["from_name"]},
                      # The id ties the value to its span's region.
                      "then": {"required": ["id"],
                               "properties": {"id": {"type": "string", "minLength": 1},
                                              "type": {"const": _RESULT_TYPE[attribute.kind]},
                                              "value": _per_region_value_schema(attribute.field)}}})
    return {
        "type": "object",
        "required": ["from_name", "to_name", "type", "value"],
        "properties": {
            "from_name": {"enum": list(scheme.control_names)},
            "to_name": {"const": "text"},
            "type": {"enum": sorted(set(_RESULT_TYPE.values()))},
            "value": {"type": "object"},
        },
        # Label Studio adds keys of its own (id, origin, ...), hence no
        # additionalProperties: false here.
        "allOf": rules,
    }


def _result_item_schema(scheme: Scheme) -> dict[str, Any]:
    region = _region_result_schema(scheme)
    if not scheme.link_values:
        return region
    relation = {
        "type": "object",
        "required": ["type", "from_id", "to_id"],
        "properties": {
            "type": {"const": "relation"},
            "from_id": {"type": "string", "minLength": 1},
            "to_id": {"type": "string", "minLength": 1},
            "direction": {"enum": ["right", "left", "bi"]},
            "labels": {"type": "array", "maxItems": 1, "items": {"enum": list(scheme.link_values)}},
        },
    }
    # A relation result has no from_name: it is told apart by its type.
    return {"if": {"properties": {"type": {"const": "relation"}}, "required": ["type"]},
            "then": relation, "else": region}


def build_task_schema(scheme: Scheme) -> dict[str, Any]:
    """JSON Schema for one line of tasks.jsonl (Label Studio import format)."""
    result_item = _result_item_schema(scheme)
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
