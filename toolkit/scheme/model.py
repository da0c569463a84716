"""The scheme model: fields, labels and choices, and the checks a scheme must pass.

``schemas/scheme.json`` declares the fields (entity spans, choices, numbers, free
text). ``Scheme.from_dict`` checks it against the meta-schema
(``toolkit/data/scheme.meta.schema.json``) and then for what JSON Schema cannot say
(unique names and values, min <= max, reserved names, characters XML cannot hold).

The record contract (one normalised annotation = one record) is
``RECORD_COLUMNS`` plus one key per scheme field; ``annotation_schema`` states it
precisely.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Union

import jsonschema

from ..atomicio import strict_json, write_text
from ..errors import SchemeError

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "RECORD_COLUMNS",
    "OPTIONAL_RECORD_COLUMNS",
    "RESERVED_NAMES",
    "TASK_DATA_KEYS",
    "Label",
    "Choice",
    "SpanField",
    "ChoiceField",
    "NumberField",
    "TextField",
    "Field",
    "Scheme",
    "default_scheme",
    "meta_schema_text",
    "render_json",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Columns every normalised annotation record carries, whatever the scheme, as
# JSON Schema fragments. Scheme fields become further keys of the same record,
# so their names must not collide with these.
RECORD_COLUMNS: Mapping[str, Mapping[str, Any]] = {
    "task_id": {"type": "integer", "description": "Label Studio task id."},
    "article_id": {
        "type": "string",
        "pattern": "^[0-9a-f]{16,64}$",
        "description": "Content-derived article id (the task's data.article_id).",
    },
    "annotation_id": {"type": "integer", "description": "Label Studio annotation id."},
    "annotator_id": {"type": ["integer", "null"], "description": "Label Studio user id."},
    "annotator_email": {"type": ["string", "null"], "description": "Annotator's e-mail, if known."},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": ["string", "null"], "format": "date-time"},
    "lead_time": {
        "type": ["number", "null"],
        "minimum": 0,
        "description": "Seconds the annotator spent on the task.",
    },
    "was_cancelled": {
        "type": "boolean",
        "description": "The annotator skipped the task; the field values are empty.",
    },
    "ground_truth": {"type": "boolean", "description": "Marked as ground truth in Label Studio."},
    "updated_by_id": {"type": ["integer", "null"],
                      "description": "Label Studio user id of the account that last updated the annotation."},
    "updated_by_email": {"type": ["string", "null"], "description": "That account's e-mail, if known."},
    "edited_by_other": {
        "type": "boolean",
        "description": "Changed after it was made, by an account other than its annotator: not the "
                       "annotator's independent answer, so agreement and gold leave it out.",
    },
}

# Columns added after records files existed: a record may lack them (read as null / false).
OPTIONAL_RECORD_COLUMNS: frozenset[str] = frozenset({"updated_by_id", "updated_by_email", "edited_by_other"})

# Keys of a task's ``data`` that the labeling config reads ($text, $title).
TASK_DATA_KEYS: frozenset[str] = frozenset({"text", "title"})

# "text" is also the name of the Label Studio object tag; Label Studio requires
# tag names to be unique, so a field called "text" would break the config too.
RESERVED_NAMES: frozenset[str] = frozenset(RECORD_COLUMNS) | TASK_DATA_KEYS

_META_SCHEMA_FILE = "scheme.meta.schema.json"
_DEFAULT_SCHEME_FILE = "default_scheme.json"

# XML 1.0 cannot carry these at all, not even as character references, so a
# value containing one could never reach Label Studio.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Label:
    """One span label. ``color`` is a CSS hex colour or None (palette colour)."""

    value: str
    description: str = ""
    color: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "description": self.description, "color": self.color}


@dataclass(frozen=True)
class Choice:
    """One allowed value of a choice field."""

    value: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "description": self.description}


@dataclass(frozen=True)
class SpanField:
    """Labelled character spans in the article text."""

    kind: ClassVar[str] = "spans"
    name: str
    labels: tuple[Label, ...]
    description: str = ""
    required: bool = False
    allow_overlap: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(label.value for label in self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "required": self.required,
            "labels": [label.to_dict() for label in self.labels],
            "allow_overlap": self.allow_overlap,
        }


@dataclass(frozen=True)
class ChoiceField:
    """One value (several with ``multiple``) out of a closed set, for the whole article."""

    kind: ClassVar[str] = "choice"
    name: str
    choices: tuple[Choice, ...]
    description: str = ""
    required: bool = False
    multiple: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "required": self.required,
            "multiple": self.multiple,
            "choices": [choice.to_dict() for choice in self.choices],
        }


@dataclass(frozen=True)
class NumberField:
    """A number for the whole article; null when the annotator leaves it empty."""

    kind: ClassVar[str] = "number"
    name: str
    description: str = ""
    required: bool = False
    integer: bool = False
    min: int | float | None = None
    max: int | float | None = None

    def __post_init__(self) -> None:
        # JSON has one number type: a bound written 0.0 on an integer field means
        # 0, and keeping it a float would change the scheme hash for no reason.
        if self.integer:
            for attr in ("min", "max"):
                bound = getattr(self, attr)
                if isinstance(bound, float) and bound.is_integer():
                    object.__setattr__(self, attr, int(bound))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "required": self.required,
            "integer": self.integer,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class TextField:
    """Free text for the whole article."""

    kind: ClassVar[str] = "text"
    name: str
    description: str = ""
    required: bool = False
    max_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "required": self.required,
            "max_length": self.max_length,
        }


Field = Union[SpanField, ChoiceField, NumberField, TextField]


@dataclass(frozen=True)
class Scheme:
    """The whole annotation scheme.

    Build one with ``Scheme.from_dict`` or ``Scheme.load``. Constructing it
    directly runs the same checks, so an invalid ``Scheme`` never exists.
    """

    name: str
    title: str
    fields: tuple[Field, ...]
    description: str = ""
    version: int = 1
    max_annotations_per_annotator: int = 1
    _by_name: dict[str, Field] = dataclass_field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Lists would make equal schemes compare unequal; tuples also keep it hashable.
        object.__setattr__(self, "fields", tuple(self.fields))
        problems = _meta_problems(self.to_dict()) or _semantic_problems(self)
        if problems:
            raise _scheme_error(problems, source=None)
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    # ----------------------------------------------------------- (de)serialising

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Scheme:
        """Validate ``data`` (parsed scheme.json) and build the scheme.

        Raises SchemeError naming the JSON path of each problem; ``source``
        (usually the file name) prefixes the message.
        """
        problems = _meta_problems(data)
        if problems:
            raise _scheme_error(problems, source)
        try:
            return cls(
                name=data["name"],
                title=data["title"],
                description=data.get("description", ""),
                version=data.get("version", 1),
                max_annotations_per_annotator=data.get("max_annotations_per_annotator", 1),
                fields=tuple(_field_from_dict(f) for f in data["fields"]),
            )
        except SchemeError as exc:
            if source is None:
                raise
            raise SchemeError(f"{source}: {exc.message}", hint=exc.hint) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form with every key present; ``from_dict`` inverts it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "fields": [f.to_dict() for f in self.fields],
            "max_annotations_per_annotator": self.max_annotations_per_annotator,
        }

    @classmethod
    def load(cls, path: str | Path) -> Scheme:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SchemeError(
                f"scheme file not found: {path}",
                hint="create it with `toolkit init`, or copy the default scheme there",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemeError(f"cannot read scheme file {path}: {exc}",
                              hint="scheme.json must be a readable UTF-8 JSON file") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemeError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                hint="fix the JSON syntax (a missing comma or quote is the usual cause)",
            ) from None
        return cls.from_dict(data, source=str(path))

    def save(self, path: str | Path) -> None:
        """Write the scheme as scheme.json (atomically)."""
        write_text(path, render_json(self.to_dict()))

    def hash(self) -> str:
        """sha256 (hex) of the canonical JSON form: equal schemes, equal hashes."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------- lookups

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemeError(f"scheme {self.name!r} has no field {name!r}",
                              hint=f"fields are: {', '.join(self.field_names)}") from None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def span_fields(self) -> tuple[SpanField, ...]:
        return tuple(f for f in self.fields if isinstance(f, SpanField))

    @property
    def choice_fields(self) -> tuple[ChoiceField, ...]:
        return tuple(f for f in self.fields if isinstance(f, ChoiceField))

    @property
    def number_fields(self) -> tuple[NumberField, ...]:
        return tuple(f for f in self.fields if isinstance(f, NumberField))

    @property
    def text_fields(self) -> tuple[TextField, ...]:
        return tuple(f for f in self.fields if isinstance(f, TextField))


def default_scheme() -> Scheme:
    """The news-event scheme shipped with the toolkit (toolkit/data/default_scheme.json)."""
    text = _data_file(_DEFAULT_SCHEME_FILE).read_text(encoding="utf-8")
    return Scheme.from_dict(json.loads(text), source=f"toolkit/data/{_DEFAULT_SCHEME_FILE}")


# ---------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Problem:
    path: str
    message: str
    hint: str | None = None


def _data_file(name: str) -> Any:
    return resources.files("toolkit").joinpath("data", name)


@cache
def meta_schema_text() -> str:
    return _data_file(_META_SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def _meta_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(meta_schema_text()))


def _json_path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _meta_problems(data: Any) -> list[_Problem]:
    # Array indices sort as numbers, so fields[10] comes after fields[2].
    errors = sorted(_meta_validator().iter_errors(data), key=lambda e: [
        (0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.absolute_path])
    return [
        _Problem(
            _json_path(list(err.absolute_path)),
            err.message,
            # The meta-schema carries an "x-hint" next to the rule it explains.
            (err.schema.get("x-hint") if isinstance(err.schema, dict) else None)
            or "see scheme.meta.schema.json in the schemas folder for the format",
        )
        for err in errors
    ]


def _semantic_problems(scheme: Scheme) -> list[_Problem]:
    """What the meta-schema cannot say: uniqueness, min <= max, reserved names."""
    problems: list[_Problem] = []
    seen_fields: dict[str, int] = {}
    for i, f in enumerate(scheme.fields):
        where = f"fields[{i}]"
        if f.name in RESERVED_NAMES:
            problems.append(_Problem(
                f"{where}.name", f"{f.name!r} is reserved",
                f"rename the field; reserved names are {', '.join(sorted(RESERVED_NAMES))}"))
        if f.name in seen_fields:
            problems.append(_Problem(
                f"{where}.name",
                f"duplicate field name {f.name!r} (already used by fields[{seen_fields[f.name]}])",
                "give every field a different name"))
        seen_fields.setdefault(f.name, i)

        if isinstance(f, (SpanField, ChoiceField)):
            key = "labels" if isinstance(f, SpanField) else "choices"
            seen_values: dict[str, int] = {}
            for j, value in enumerate(f.values):
                if value in seen_values:
                    problems.append(_Problem(
                        f"{where}.{key}[{j}].value",
                        f"duplicate value {value!r} (already {where}.{key}[{seen_values[value]}])",
                        "values must be unique within a field; remove or rename one"))
                seen_values.setdefault(value, j)
        elif isinstance(f, NumberField):
            for attr in ("min", "max"):
                bound = getattr(f, attr)
                if isinstance(bound, float) and not math.isfinite(bound):
                    problems.append(_Problem(f"{where}.{attr}", f"{attr} is {bound}, not a finite number",
                                             "give a number, or null for no bound"))
            if f.min is not None and f.max is not None and f.min > f.max:
                problems.append(_Problem(f"{where}.min", f"min {f.min} is greater than max {f.max}",
                                         "swap them, or set one to null"))
            if f.integer:
                for attr in ("min", "max"):
                    bound = getattr(f, attr)
                    if isinstance(bound, float):
                        problems.append(_Problem(
                            f"{where}.{attr}", f"{attr} {bound} is not a whole number",
                            "an integer field needs whole-number bounds (or set integer to false)"))

    for path, text in _walk_strings(scheme.to_dict(), []):
        match = _XML_ILLEGAL.search(text)
        if match:
            problems.append(_Problem(
                _json_path(path), f"contains the character U+{ord(match.group()):04X}, which XML cannot hold",
                "remove control characters; Label Studio could not display this text"))
    return problems


def _walk_strings(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_strings(value, [*path, index])


def _scheme_error(problems: list[_Problem], source: str | None) -> SchemeError:
    prefix = f"{source}: " if source else ""
    if len(problems) == 1:
        (p,) = problems
        return SchemeError(f"{prefix}invalid scheme at {p.path}: {p.message}", hint=p.hint)
    lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
    return SchemeError(f"{prefix}invalid scheme, {len(problems)} problems:\n{lines}",
                       hint=problems[0].hint)


def _field_from_dict(d: Mapping[str, Any]) -> Field:
    # Only called after the meta-schema accepted ``d``, so keys and types are right.
    common = {"name": d["name"], "description": d.get("description", ""),
              "required": d.get("required", False)}
    kind = d["kind"]
    if kind == "spans":
        labels = tuple(Label(lb["value"], lb.get("description", ""), lb.get("color"))
                       for lb in d["labels"])
        return SpanField(labels=labels, allow_overlap=d.get("allow_overlap", False), **common)
    if kind == "choice":
        choices = tuple(Choice(c["value"], c.get("description", "")) for c in d["choices"])
        return ChoiceField(choices=choices, multiple=d.get("multiple", False), **common)
    if kind == "number":
        return NumberField(integer=d.get("integer", False), min=d.get("min"), max=d.get("max"),
                           **common)
    return TextField(max_length=d.get("max_length"), **common)


def render_json(data: Any) -> str:
    """The exact text of every JSON file written next to the scheme (strict JSON)."""
    return strict_json(data, where="a file in schemas/") + "\n"
