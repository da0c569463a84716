"""The scheme model: fields, labels and choices, and the checks a scheme must pass.

``schemas/scheme.json`` declares the fields (entity spans, choices, numbers, free
text, relations between spans, and events: a trigger span with role-typed arguments
and attributes of its own, any number per article). Spans may carry attributes of
their own too (a choice, number or text asked for each span of some labels). ``Scheme.from_dict`` checks it against the meta-schema
(``toolkit/data/scheme.meta.schema.json``) and then for what JSON Schema cannot say
(unique names and values, min <= max, reserved names, characters XML cannot hold,
a role or relation naming a span label the scheme lacks, an attribute on an unknown label).

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

from ..atomicio import strict_json, write_text
from ..errors import SchemeError


def _import_jsonschema() -> Any:
    """``jsonschema`` without the 1.5 s its import spends in ``rfc3987_syntax``.

    That package compiles 38 lark grammars when imported, for the ``iri`` / ``iri-reference``
    formats, which no toolkit schema uses; every command that touches the scheme paid for it.
    A stand-in lets jsonschema register those checks as usual; the real module is imported
    on their first use, so what is valid does not change.
    """
    import importlib
    import importlib.util
    import sys
    import types

    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules \
            or importlib.util.find_spec("rfc3987_syntax") is None:
        import jsonschema
        return jsonschema
    stub = types.ModuleType("rfc3987_syntax")

    def is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("rfc3987_syntax").is_valid_syntax(*args, **kwargs)

    stub.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules["rfc3987_syntax"] = stub
    try:
        import jsonschema
    finally:
        if sys.modules.get("rfc3987_syntax") is stub:
            del sys.modules["rfc3987_syntax"]
    return jsonschema


jsonschema = _import_jsonschema()

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
    "Attribute",
    "RelationType",
    "RelationsField",
    "Role",
    "EventsField",
    "Field",
    "ATTRIBUTE_RESERVED_NAMES",
    "Scheme",
    "default_scheme",
    "builtin_scheme",
    "BUILTIN_SCHEMES",
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
    attributes: tuple[Attribute, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "attributes", tuple(self.attributes))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(label.value for label in self.labels)

    def attributes_for(self, label: str) -> tuple[Attribute, ...]:
        """The attributes asked for a span with this label."""
        return tuple(a for a in self.attributes if not a.labels or label in a.labels)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "required": self.required,
            "labels": [label.to_dict() for label in self.labels],
            "allow_overlap": self.allow_overlap,
        }
        # Only when present: a scheme without attributes keeps the form (and hash) it always had.
        if self.attributes:
            out["attributes"] = [a.to_dict() for a in self.attributes]
        return out


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


ValueField = Union[ChoiceField, NumberField, TextField]

# Keys a span or an event record already has: an attribute cannot be called so.
ATTRIBUTE_RESERVED_NAMES: frozenset[str] = frozenset({"start", "end", "label", "text", "trigger", "arguments",
                                                      "role", "id"})


@dataclass(frozen=True)
class Attribute:
    """A choice, number or text asked for each span of some labels, or for each event.

    ``field`` says what is asked (its name is the attribute's name, and the Label Studio
    control's); ``labels`` (span attributes only) the span labels it is asked for, empty
    for every label of the span field.
    """

    field: ValueField
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def kind(self) -> str:
        return self.field.kind

    @property
    def required(self) -> bool:
        return self.field.required

    def to_dict(self) -> dict[str, Any]:
        out = self.field.to_dict()
        if self.labels:
            out["labels"] = list(self.labels)
        return out


@dataclass(frozen=True)
class RelationType:
    """One kind of link between two spans: the span labels allowed at each end, and whether
    the direction means something."""

    value: str
    description: str = ""
    head: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()
    directed: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "head", tuple(self.head))
        object.__setattr__(self, "tail", tuple(self.tail))

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "description": self.description, "head": list(self.head),
                "tail": list(self.tail), "directed": self.directed}


@dataclass(frozen=True)
class RelationsField:
    """Typed links between two spans of the article (Label Studio's relations)."""

    kind: ClassVar[str] = "relations"
    name: str
    relations: tuple[RelationType, ...]
    description: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "relations", tuple(self.relations))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(r.value for r in self.relations)

    def relation(self, value: str) -> RelationType:
        return next(r for r in self.relations if r.value == value)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "required": self.required, "relations": [r.to_dict() for r in self.relations]}


@dataclass(frozen=True)
class Role:
    """An argument role of an event: the span labels it accepts, and whether an event has at
    most one argument in it."""

    value: str
    labels: tuple[str, ...]
    description: str = ""
    unique: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "description": self.description, "labels": list(self.labels),
                "unique": self.unique}


@dataclass(frozen=True)
class EventsField:
    """Events, any number per article: a trigger span each (the words naming the event),
    arguments (role-typed links from the trigger to entity spans) and attributes per event.

    ``type_attribute`` names the choice attribute that is the event's type, or is None.
    """

    kind: ClassVar[str] = "events"
    name: str
    trigger: Label
    roles: tuple[Role, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    type_attribute: str | None = None
    description: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "attributes", tuple(self.attributes))

    @property
    def role_values(self) -> tuple[str, ...]:
        return tuple(r.value for r in self.roles)

    def role(self, value: str) -> Role:
        return next(r for r in self.roles if r.value == value)

    @property
    def type_field(self) -> ChoiceField | None:
        """The choice field of the type attribute, if the scheme names one."""
        for a in self.attributes:
            if a.name == self.type_attribute and isinstance(a.field, ChoiceField):
                return a.field
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "required": self.required, "trigger": self.trigger.to_dict(),
                "type": self.type_attribute, "roles": [r.to_dict() for r in self.roles],
                "attributes": [a.to_dict() for a in self.attributes]}


Field = Union[SpanField, ChoiceField, NumberField, TextField, RelationsField, EventsField]


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

    @property
    def relations_fields(self) -> tuple[RelationsField, ...]:
        return tuple(f for f in self.fields if isinstance(f, RelationsField))

    @property
    def events_fields(self) -> tuple[EventsField, ...]:
        return tuple(f for f in self.fields if isinstance(f, EventsField))

    @property
    def span_labels(self) -> tuple[str, ...]:
        """Every span label value of every spans field, in scheme order, each once."""
        return tuple(dict.fromkeys(v for f in self.span_fields for v in f.values))

    @property
    def link_values(self) -> tuple[str, ...]:
        """Every relation type and argument role: the values of Label Studio's one ``<Relations>``."""
        return (*(v for f in self.relations_fields for v in f.values),
                *(v for f in self.events_fields for v in f.role_values))

    @property
    def control_names(self) -> tuple[str, ...]:
        """Names of the Label Studio controls: every field and every attribute."""
        names = []
        for f in self.fields:
            if not isinstance(f, RelationsField):
                names.append(f.name)
            if isinstance(f, (SpanField, EventsField)):
                names.extend(a.name for a in f.attributes)
        return tuple(names)


# Schemes shipped with the toolkit, by the name ``toolkit init --scheme`` takes.
BUILTIN_SCHEMES: Mapping[str, str] = {
    # Version 2: entities, events (trigger, arguments, type and counts per event), relations, note.
    "news-events": _DEFAULT_SCHEME_FILE,
    # Version 1: one event type and one set of counts per article (no events, no relations).
    "news-events-v1": "news_events_v1_scheme.json",
}


def default_scheme() -> Scheme:
    """The news-event scheme shipped with the toolkit (toolkit/data/default_scheme.json)."""
    return builtin_scheme("news-events")


def builtin_scheme(name: str) -> Scheme:
    """A scheme shipped with the toolkit, by name (``BUILTIN_SCHEMES``)."""
    try:
        file = BUILTIN_SCHEMES[name]
    except KeyError:
        raise SchemeError(f"no built-in scheme {name!r}",
                          hint=f"built-in schemes are {', '.join(BUILTIN_SCHEMES)}; or give a scheme.json path") from None
    text = _data_file(file).read_text(encoding="utf-8")
    return Scheme.from_dict(json.loads(text), source=f"toolkit/data/{file}")


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
    """What the meta-schema cannot say: uniqueness, min <= max, reserved names, references
    between fields (a role or relation naming a span label the scheme lacks ...)."""
    problems: list[_Problem] = []
    # Field and attribute names share one namespace: they are Label Studio control names.
    seen_names: dict[str, str] = {}

    def claim_name(name: str, where: str, *, attribute: bool) -> None:
        reserved = RESERVED_NAMES | (ATTRIBUTE_RESERVED_NAMES if attribute else frozenset())
        if name in reserved:
            problems.append(_Problem(
                f"{where}.name", f"{name!r} is reserved",
                f"rename it; reserved names are {', '.join(sorted(reserved))}"))
        if name in seen_names:
            what = "attribute or field name" if attribute or "attributes" in seen_names[name] else "field name"
            problems.append(_Problem(
                f"{where}.name", f"duplicate {what} {name!r} (already used by {seen_names[name]})",
                "give every field and attribute a different name (they are Label Studio control names)"))
        seen_names.setdefault(name, where)

    span_labels = set(scheme.span_labels)
    seen_links: dict[str, str] = {}

    def check_labels(labels: Sequence[str], where: str, what: str) -> None:
        for k, label in enumerate(labels):
            if label not in span_labels:
                problems.append(_Problem(
                    f"{where}[{k}]", f"{what} names the span label {label!r}, which no spans field has",
                    f"use one of the span labels: {', '.join(scheme.span_labels) or '(none: add a spans field)'}"))

    def claim_link(value: str, where: str) -> None:
        if value in seen_links:
            problems.append(_Problem(
                f"{where}.value", f"duplicate relation or role {value!r} (already {seen_links[value]})",
                "relation types and argument roles share Label Studio's one <Relations> list: "
                "give each a different value"))
        seen_links.setdefault(value, where)

    for i, f in enumerate(scheme.fields):
        where = f"fields[{i}]"
        claim_name(f.name, where, attribute=False)
        if isinstance(f, RelationsField):
            for j, rel in enumerate(f.relations):
                claim_link(rel.value, f"{where}.relations[{j}]")
                check_labels(rel.head, f"{where}.relations[{j}].head", f"relation {rel.value!r}")
                check_labels(rel.tail, f"{where}.relations[{j}].tail", f"relation {rel.value!r}")
            continue
        if isinstance(f, EventsField):
            if f.trigger.value in span_labels:
                problems.append(_Problem(
                    f"{where}.trigger.value", f"the trigger label {f.trigger.value!r} is also a span label",
                    "give the trigger a label of its own (e.g. EVENT)"))
            for j, role in enumerate(f.roles):
                claim_link(role.value, f"{where}.roles[{j}]")
                check_labels(role.labels, f"{where}.roles[{j}].labels", f"role {role.value!r}")
            for j, attr in enumerate(f.attributes):
                at = f"{where}.attributes[{j}]"
                claim_name(attr.name, at, attribute=True)
                if attr.labels:
                    problems.append(_Problem(f"{at}.labels", "an event attribute is asked of every event",
                                             "remove labels (they are for span attributes)"))
                problems.extend(_value_field_problems(attr.field, at))
            if f.type_attribute is not None:
                named = next((a for a in f.attributes if a.name == f.type_attribute), None)
                if named is None or not isinstance(named.field, ChoiceField) or named.field.multiple:
                    problems.append(_Problem(
                        f"{where}.type", f"type {f.type_attribute!r} is not a single-choice attribute of the event",
                        "name one of the event's attributes of kind choice (not multiple), or set type to null"))
            continue
        if isinstance(f, SpanField):
            for j, attr in enumerate(f.attributes):
                at = f"{where}.attributes[{j}]"
                claim_name(attr.name, at, attribute=True)
                for k, label in enumerate(attr.labels):
                    if label not in f.values:
                        problems.append(_Problem(
                            f"{at}.labels[{k}]", f"attribute {attr.name!r} is asked for the label {label!r}, "
                            f"which field {f.name!r} does not have",
                            f"use labels of {f.name!r}: {', '.join(f.values)}"))
                problems.extend(_value_field_problems(attr.field, at))
        problems.extend(_value_field_problems(f, where))

    for path, text in _walk_strings(scheme.to_dict(), []):
        match = _XML_ILLEGAL.search(text)
        if match:
            problems.append(_Problem(
                _json_path(path), f"contains the character U+{ord(match.group()):04X}, which XML cannot hold",
                "remove control characters; Label Studio could not display this text"))
    return problems


def _value_field_problems(f: Field, where: str) -> list[_Problem]:
    """Unique values of a span or choice field; finite, ordered, whole bounds of a number."""
    problems: list[_Problem] = []
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
        return SpanField(labels=tuple(_label_from_dict(lb) for lb in d["labels"]),
                         allow_overlap=d.get("allow_overlap", False),
                         attributes=tuple(_attribute_from_dict(a) for a in d.get("attributes", ())), **common)
    if kind == "choice":
        choices = tuple(Choice(c["value"], c.get("description", "")) for c in d["choices"])
        return ChoiceField(choices=choices, multiple=d.get("multiple", False), **common)
    if kind == "number":
        return NumberField(integer=d.get("integer", False), min=d.get("min"), max=d.get("max"),
                           **common)
    if kind == "relations":
        return RelationsField(relations=tuple(
            RelationType(r["value"], r.get("description", ""), tuple(r.get("head", ())),
                         tuple(r.get("tail", ())), r.get("directed", True)) for r in d["relations"]), **common)
    if kind == "events":
        return EventsField(
            trigger=_label_from_dict(d["trigger"]),
            roles=tuple(Role(r["value"], tuple(r["labels"]), r.get("description", ""), r.get("unique", False))
                        for r in d.get("roles", ())),
            attributes=tuple(_attribute_from_dict(a) for a in d.get("attributes", ())),
            type_attribute=d.get("type"), **common)
    return TextField(max_length=d.get("max_length"), **common)


def _label_from_dict(d: Mapping[str, Any]) -> Label:
    return Label(d["value"], d.get("description", ""), d.get("color"))


def _attribute_from_dict(d: Mapping[str, Any]) -> Attribute:
    body = {k: v for k, v in d.items() if k != "labels"}
    field = _field_from_dict(body)
    assert isinstance(field, (ChoiceField, NumberField, TextField))  # the meta-schema's kinds
    return Attribute(field, tuple(d.get("labels", ())))


def render_json(data: Any) -> str:
    """The exact text of every JSON file written next to the scheme (strict JSON)."""
    return strict_json(data, where="a file in schemas/") + "\n"
