"""The annotation scheme: one source of truth for what annotators label.

``schemas/scheme.json`` declares the fields (entity spans, choices, numbers, free
text). Everything else that depends on them is derived here and never edited by
hand: the Label Studio labeling config, the JSON Schemas that annotation records
and tasks are validated against, and the Hugging Face ``Features`` of a release.
Those derived files are checked in next to the scheme; ``check_scheme_files``
tells when they no longer match it.

The record contract (one normalised annotation = one record) is
``RECORD_COLUMNS`` plus one key per scheme field; ``build_annotation_schema``
states it precisely.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Union

import jsonschema

from .atomicio import write_text
from .errors import GeneratedFilesOutdated, SchemeError

if TYPE_CHECKING:
    import datasets

__all__ = [
    "RECORD_COLUMNS",
    "RESERVED_NAMES",
    "TASK_DATA_KEYS",
    "GENERATED_FILES",
    "Label",
    "Choice",
    "SpanField",
    "ChoiceField",
    "NumberField",
    "TextField",
    "Field",
    "Scheme",
    "default_scheme",
    "build_labeling_config",
    "build_annotation_schema",
    "build_task_schema",
    "build_features",
    "features_to_dict",
    "generated_files",
    "build_scheme_files",
    "check_scheme_files",
    "ensure_scheme_files_current",
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
}

# Keys of a task's ``data`` that the labeling config reads ($text, $title).
TASK_DATA_KEYS: frozenset[str] = frozenset({"text", "title"})

# "text" is also the name of the Label Studio object tag; Label Studio requires
# tag names to be unique, so a field called "text" would break the config too.
RESERVED_NAMES: frozenset[str] = frozenset(RECORD_COLUMNS) | TASK_DATA_KEYS

GENERATED_FILES: tuple[str, ...] = (
    "labeling_config.xml",
    "annotation.schema.json",
    "task.schema.json",
    "features.json",
    "scheme.meta.schema.json",
)

# Used for span labels without a colour; indexed over all span labels of the
# scheme so two span fields do not share colours.
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
    "#f032e6", "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324",
    "#fffac8", "#800000", "#aaffc3", "#808000", "#ffd8b1", "#000075",
)

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
        write_text(path, _render_json(self.to_dict()))

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
def _meta_schema_text() -> str:
    return _data_file(_META_SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def _meta_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(_meta_schema_text()))


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


# ----------------------------------------------------------------- Label Studio XML


def _caption(text: str) -> str:
    # Label Studio replaces "$word" in a Header's value with task data, so a
    # literal dollar sign in a description would vanish; show a look-alike.
    return text.replace("$", "\uff04")


def _title_of(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _add_caption(parent: ET.Element, f: Field) -> None:
    ET.SubElement(parent, "Header", {"value": _title_of(f.name) + (" *" if f.required else ""),
                                     "size": "5"})
    if f.description:
        ET.SubElement(parent, "Header", {"value": _caption(f.description), "size": "6",
                                         "style": "font-weight: normal"})


def build_labeling_config(scheme: Scheme) -> str:
    """Label Studio labeling config (XML) for the scheme.

    Two columns: headline, span labels and the article on the left; the other
    fields as a form on the right. The article is always plain ``<Text>``: it is
    scraped web content and must never be rendered as HTML.
    """
    root = ET.Element("View")
    columns = ET.SubElement(root, "View", {"style": "display: flex; gap: 2em; align-items: flex-start"})
    left = ET.SubElement(columns, "View", {"style": "flex: 3; min-width: 0"})
    right = ET.SubElement(columns, "View", {"style": "flex: 2; min-width: 16em; position: sticky; top: 0"})

    ET.SubElement(left, "Header", {"value": "$title"})
    palette_index = 0
    for f in scheme.span_fields:
        labels = ET.SubElement(left, "Labels", {"name": f.name, "toName": "text"})
        for label in f.labels:
            attrs = {"value": label.value,
                     "background": label.color or PALETTE[palette_index % len(PALETTE)]}
            if label.description:
                attrs["hint"] = label.description
            ET.SubElement(labels, "Label", attrs)
            palette_index += 1
    ET.SubElement(left, "Text", {"name": "text", "value": "$text"})

    for f in scheme.fields:
        if isinstance(f, SpanField):
            continue
        box = ET.SubElement(right, "View", {"style": "margin-bottom: 1em"})
        _add_caption(box, f)
        if isinstance(f, ChoiceField):
            choices = ET.SubElement(box, "Choices", {
                "name": f.name, "toName": "text",
                "choice": "multiple" if f.multiple else "single",
                "required": _xml_bool(f.required)})
            for choice in f.choices:
                attrs = {"value": choice.value}
                if choice.description:
                    attrs["hint"] = choice.description
                ET.SubElement(choices, "Choice", attrs)
        elif isinstance(f, NumberField):
            attrs = {"name": f.name, "toName": "text"}
            if f.min is not None:
                attrs["min"] = str(f.min)
            if f.max is not None:
                attrs["max"] = str(f.max)
            attrs["step"] = "1" if f.integer else "any"
            attrs["required"] = _xml_bool(f.required)
            ET.SubElement(box, "Number", attrs)
        else:
            ET.SubElement(box, "TextArea", {
                "name": f.name, "toName": "text", "maxSubmissions": "1", "rows": "4",
                "editable": "true", "required": _xml_bool(f.required)})

    ET.indent(root, space="  ")
    # ElementTree escapes &, <, >, quotes and newlines in attribute values.
    return ET.tostring(root, encoding="unicode") + "\n"


def _xml_bool(flag: bool) -> str:
    return "true" if flag else "false"


# --------------------------------------------------------------------- JSON Schemas


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

    Every key is always present. Span and multiple-choice fields are lists
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
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


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


# ------------------------------------------------------------- Hugging Face Features


def build_features(scheme: Scheme) -> datasets.Features:
    """``datasets.Features`` of the scheme's fields (not the reserved columns)."""
    # datasets takes seconds to import; only release-related commands need it.
    from datasets import ClassLabel, Features, Value

    # A one-element Python list is datasets' spelling of a list feature in every
    # version (4.x turns it into ``List``); ``Sequence`` of a dict would instead
    # become a dict of lists.
    features: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            features[f.name] = [{
                "start": Value("int32"),
                "end": Value("int32"),
                "label": ClassLabel(names=list(f.values)),
                "text": Value("string"),
            }]
        elif isinstance(f, ChoiceField):
            label = ClassLabel(names=list(f.values))
            features[f.name] = [label] if f.multiple else label
        elif isinstance(f, NumberField):
            features[f.name] = Value("int32" if f.integer else "float64")
        else:
            features[f.name] = Value("string")
    return Features(features)


def features_to_dict(features: datasets.Features) -> dict[str, Any]:
    return features.to_dict()


# ------------------------------------------------------------------ generated files


def _render_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def generated_files(scheme: Scheme) -> dict[str, str]:
    """File name (inside schemas/) -> exact content of every file derived from the scheme."""
    return {
        "labeling_config.xml": build_labeling_config(scheme),
        "annotation.schema.json": _render_json(build_annotation_schema(scheme)),
        "task.schema.json": _render_json(build_task_schema(scheme)),
        "features.json": _render_json(features_to_dict(build_features(scheme))),
        # Copied so that editors can validate scheme.json against it offline.
        "scheme.meta.schema.json": _meta_schema_text(),
    }


def build_scheme_files(schemas_dir: str | Path, scheme: Scheme | None = None) -> list[Path]:
    """Write every generated file into ``schemas_dir``; returns the paths written.

    With ``scheme`` None, reads ``schemas_dir/scheme.json``.
    """
    schemas_dir = Path(schemas_dir)
    if scheme is None:
        scheme = Scheme.load(schemas_dir / "scheme.json")
    written = []
    for name, content in generated_files(scheme).items():
        path = schemas_dir / name
        write_text(path, content)
        written.append(path)
    return written


def check_scheme_files(schemas_dir: str | Path) -> list[str]:
    """Names of generated files in ``schemas_dir`` that are missing or out of date."""
    schemas_dir = Path(schemas_dir)
    scheme = Scheme.load(schemas_dir / "scheme.json")
    stale = []
    for name, content in generated_files(scheme).items():
        try:
            current = (schemas_dir / name).read_bytes()
        except FileNotFoundError:
            current = None
        if current != content.encode("utf-8"):
            stale.append(name)
    return stale


def ensure_scheme_files_current(schemas_dir: str | Path) -> None:
    """Raise GeneratedFilesOutdated unless every generated file matches scheme.json."""
    stale = check_scheme_files(schemas_dir)
    if stale:
        raise GeneratedFilesOutdated(
            f"files in {schemas_dir} are out of date with scheme.json: {', '.join(stale)}",
            hint="run `toolkit scheme build`",
        )
