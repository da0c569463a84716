"""Layer 1 of validation: records against the JSON Schema generated from the scheme.

``jsonschema`` (with format checks on) is the reference. The compiled check of
``fastcheck`` answers "valid?" first where it can; only records it rejects go through
``iter_errors``, so every error path is jsonschema's own.
"""

from __future__ import annotations

from typing import Any, Callable

import jsonschema

from ..scheme import ChoiceField, EventsField, RelationsField, Scheme, SpanField, build_annotation_schema
from .report import ValidationError, _short, json_path

# Layer 1: JSON Schema ------------------------------------------------------------------

_KEYWORD_TYPES = {
    "type": "wrong-type", "required": "missing-field", "additionalProperties": "unexpected-field",
    "minimum": "out-of-range", "maximum": "out-of-range", "exclusiveMinimum": "out-of-range",
    "exclusiveMaximum": "out-of-range", "maxLength": "too-long", "minLength": "too-long",
    "format": "bad-format", "pattern": "bad-format", "uniqueItems": "duplicate-value",
}


class SchemaLayer:
    """JSON Schema checking of records, with the compiled fast check in front when available."""

    def __init__(self, scheme: Scheme, schema: dict[str, Any] | None = None, *, fast: bool = True) -> None:
        self.scheme = scheme
        self.schema = schema or build_annotation_schema(scheme)
        cls = jsonschema.validators.validator_for(self.schema)
        self.validator = cls(self.schema, format_checker=cls.FORMAT_CHECKER)
        self.check: Callable[[dict[str, Any]], bool] | None = None
        if fast:
            from .fastcheck import compile_schema_check

            # Compiled from the very schema jsonschema uses, so the two cannot drift apart.
            self.check = compile_schema_check(self.schema)

    def errors(self, record: dict[str, Any]) -> list[ValidationError]:
        if self.check is not None and self.check(record):
            return []
        found = []
        for error in sorted(self.validator.iter_errors(record), key=lambda e: [str(p) for p in e.absolute_path]):
            path = json_path(error.absolute_path)
            found.append(self._describe(record, error, path))
        # A list given for a single choice also fails the enum; one error says it better.
        too_many = {e.path for e in found if e.type == "too-many-choices"}
        return [e for e in found if not (e.type == "unknown-choice" and e.path in too_many)]

    def _field_at(self, parts: list[Any]) -> Any:
        """The field (or attribute's field) an error path is in, for naming the error: ``note``,
        ``entities[2].label`` and relation ends / arguments (a spans field's labels), an attribute
        ``entities[2].negated`` / ``events[0].attack_type`` (its own field); None for the rest."""
        if not parts or not isinstance(parts[0], str) or parts[0] not in self.scheme.field_names:
            return None
        f = self.scheme.field(parts[0])
        if len(parts) == 1:
            return f
        last = parts[-1]
        if isinstance(f, (SpanField, EventsField)) and len(parts) == 3:
            attribute = next((a for a in f.attributes if a.name == last), None)
            if attribute is not None:
                return attribute.field
        if isinstance(f, SpanField) and len(parts) == 3 and last == "label":
            return f
        if isinstance(f, (RelationsField, EventsField)) and last == "label" and self.scheme.span_fields:
            return self.scheme.span_fields[0]  # an end or argument: any span label of the scheme
        return None

    def _describe(self, record: dict[str, Any], error: jsonschema.ValidationError, path: str) -> ValidationError:
        kind = _KEYWORD_TYPES.get(str(error.validator), "schema")
        parts = list(error.absolute_path)
        field_def = self._field_at(parts)
        message = error.message
        if error.validator == "enum" and field_def is not None:
            if isinstance(field_def, SpanField) and parts[0] != field_def.name:  # a relation end or argument
                kind = "unknown-label"
                message = (f"label {error.instance!r} is not a span label of the scheme "
                           f"({', '.join(self.scheme.span_labels)}); was it removed from the scheme?")
            elif isinstance(field_def, SpanField):
                kind = "unknown-label"
                message = (f"label {error.instance!r} is not one of the labels of {field_def.name!r} "
                           f"({', '.join(field_def.values)}); was it removed from the scheme?")
            elif isinstance(field_def, ChoiceField):
                kind = "unknown-choice"
                message = f"{error.instance!r} is not a choice of {field_def.name!r}; was it removed from the scheme?"
        elif (error.validator == "type" and isinstance(field_def, ChoiceField) and not field_def.multiple
              and isinstance(error.instance, list) and parts and parts[-1] == field_def.name):
            kind = "too-many-choices"
            message = (f"{len(error.instance)} choices {error.instance!r} for {field_def.name!r}, "
                       "which allows one")
        elif error.validator == "additionalProperties" and not parts:
            extra = sorted(set(record) - set(self.schema.get("properties", {})))
            message = (f"{', '.join(map(repr, extra))} not in the scheme; if the scheme dropped it, these "
                       "annotations predate the change")
        elif error.validator == "required":
            message = f"{error.message}"
        where = f"task {record.get('task_id')}, annotation {record.get('annotation_id')}"
        return ValidationError(type=kind, message=f"{where}: {path}: {message}", path=path,
                               value=_short(error.instance), task_id=record.get("task_id"),
                               annotation_id=record.get("annotation_id"),
                               annotator=record.get("annotator_email") or record.get("annotator_id"))
