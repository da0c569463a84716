"""Validation of normalised annotation records against the scheme's JSON Schema.

``jsonschema`` is the reference implementation; format checks (dates, URIs) are on.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from .scheme import Scheme, build_annotation_schema

_VALUE_LIMIT = 200


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "..."


def json_path(path: Any) -> str:
    """jsonschema's deque path as ``entities[2].label``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(record)"


class RecordValidator:
    """Checks one record; returns errors as data (type, path, message, value)."""

    def __init__(self, scheme: Scheme) -> None:
        schema = build_annotation_schema(scheme)
        cls = jsonschema.validators.validator_for(schema)
        self._validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def errors(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for error in sorted(self._validator.iter_errors(record), key=lambda e: list(map(str, e.absolute_path))):
            path = json_path(error.absolute_path)
            found.append({
                "type": "schema",
                "path": path,
                "message": f"task {record.get('task_id')}, annotation {record.get('annotation_id')}: "
                           f"{path}: {error.message}",
                "value": _short(error.instance),
            })
        return found
