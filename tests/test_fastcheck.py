"""toolkit.validation.fastcheck: the compiled check says "valid" exactly when jsonschema finds no error."""

from __future__ import annotations

import copy
import math
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.validation.fastcheck import compile_record_check, compile_schema_check, fast_record_errors
from toolkit.scheme import (Choice, ChoiceField, Label, NumberField, Scheme, SpanField, TextField,
                            build_annotation_schema, builtin_scheme)

DEFAULT = builtin_scheme("news-events-v1")

OTHER = Scheme(
    name="other-scheme", title="Other", version=3,
    fields=(
        SpanField("mentions", labels=(Label("A"), Label("B c"), Label("Ü")), allow_overlap=True),
        ChoiceField("topics", choices=(Choice("x"), Choice("y"), Choice("z z")), multiple=True),
        ChoiceField("tone", choices=(Choice("positive"), Choice("negative"))),
        NumberField("confidence", min=0.25, max=1),  # float, both bounds
        NumberField("count", integer=True, min=-5, max=5),
        NumberField("free"),  # a number without bounds
        TextField("summary", max_length=12),
        TextField("remark"),  # no max_length
    ),
)


def reference(scheme: Scheme) -> jsonschema.protocols.Validator:
    schema = build_annotation_schema(scheme)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def verdicts_agree(check, validator, record) -> bool:
    return check(record) == (not list(validator.iter_errors(record)))


def base_record(scheme: Scheme) -> dict[str, Any]:
    record: dict[str, Any] = {
        "task_id": 7, "article_id": "0123456789abcdef", "annotation_id": 70,
        "annotator_id": 2, "annotator_email": "a@example.org",
        "created_at": "2025-03-14T09:26:53.589793Z", "updated_at": "2025-03-14T09:30:00Z",
        "lead_time": 12.5, "was_cancelled": False, "ground_truth": False,
    }
    for f in scheme.fields:
        if isinstance(f, SpanField):
            record[f.name] = [{"start": 0, "end": 5, "label": f.values[0], "text": "Ahmed"},
                              {"start": 10, "end": 19, "label": f.values[-1], "text": "Volgograd"}]
        elif isinstance(f, ChoiceField):
            record[f.name] = [f.values[0], f.values[-1]] if f.multiple else f.values[0]
        elif isinstance(f, NumberField):
            record[f.name] = f.min if f.min is not None else 3
        else:
            record[f.name] = "a note"
    return record


@pytest.mark.parametrize("scheme", [DEFAULT, OTHER], ids=["default", "other"])
def test_compiled_not_fallback(scheme):
    check = compile_record_check(scheme)
    assert check.compiled and "def check" in check.source
    assert check(base_record(scheme)) is True
    assert not list(reference(scheme).iter_errors(base_record(scheme)))


# ------------------------------------------------------------ hand-written tricky records

def with_(record: dict[str, Any], path: tuple, value: Any = ..., *, delete: bool = False) -> dict:
    out = copy.deepcopy(record)
    target = out
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


TRICKY_VALUES = [
    None, True, False, 0, 1, -1, 2**70, -(2**70), 0.0, -0.0, 1.0, 3.0, 1.5, -0.5, 1e308, -1e308,
    math.inf, -math.inf, math.nan, "", "x", "0", "1", "null", "true", "x" * 2001, "é" * 2000,
    "é" * 2001, [], [1], ["x"], {}, {"a": 1}, (), "Assassination", "PERSON",
]

DATES = [
    "2025-03-14T09:26:53Z", "2025-03-14t09:26:53z", "2025-03-14T09:26:53.5+02:00",
    "2025-03-14T09:26:53-23:59", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
    "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-04-31T00:00:00Z", "0000-01-01T00:00:00Z",
    "2025-03-14T24:00:00Z", "2025-03-14T23:60:00Z", "2025-03-14T23:59:60Z", "2025-03-14 09:26:53Z",
    "2025-03-14T09:26:53", "2025-03-14", "09:26:53Z", "2025-03-14T09:26:53.Z",
    "2025-03-14T09:26:53+0200", "2025-03-14T09:26:53Z\n", " 2025-03-14T09:26:53Z", "",
    "２０２５-03-14T09:26:53Z", "2025-03-14T09:26:53.123456789Z", "2025-03-14T09:26:53+24:00",
]

ARTICLE_IDS = [
    "0123456789abcdef", "0123456789ABCDEF", "0123456789abcde", "0" * 64, "0" * 65,
    "0123456789abcdef\n", "0123456789abcdeg", "\n0123456789abcdef", "０１２３４５６７８９abcdef",
    "0123456789abcdef ", "",
]


def tricky_records(scheme: Scheme) -> list[dict[str, Any]]:
    base = base_record(scheme)
    records = [base]
    # every key: every tricky value, and absent; an extra key
    for key in base:
        records.append(with_(base, (key,), delete=True))
        for value in TRICKY_VALUES:
            records.append(with_(base, (key,), value))
    records.append({**base, "extra": 1})
    records.append({**base, "": None})
    records += [{}, [], None, "record", 1, [base]]
    for value in DATES:
        records += [with_(base, ("created_at",), value), with_(base, ("updated_at",), value)]
    for value in ARTICLE_IDS:
        records.append(with_(base, ("article_id",), value))
    for f in scheme.fields:
        if isinstance(f, SpanField):
            for key in ("start", "end", "label", "text"):
                records.append(with_(base, (f.name, 0, key), delete=True))
                for value in TRICKY_VALUES + list(f.values) + ["person", "PERSON "]:
                    records.append(with_(base, (f.name, 1, key), value))
            records += [with_(base, (f.name, 0, "extra"), 1), with_(base, (f.name,), []),
                        with_(base, (f.name,), [None]), with_(base, (f.name,), [[]]),
                        with_(base, (f.name,), base[f.name] * 2),  # duplicates are allowed
                        with_(base, (f.name, 0, "end"), 0), with_(base, (f.name, 0, "start"), -1)]
        elif isinstance(f, ChoiceField) and f.multiple:
            for value in ([], [f.values[0]] * 2, list(f.values), [f.values[0], None], [True],
                          [f.values[0], 1], ["nope"], f.values[0], [[f.values[0]]], [1, True],
                          [1, 1.0], [{"a": 1}, {"a": 1}]):
                records.append(with_(base, (f.name,), value))
        elif isinstance(f, ChoiceField):
            for value in [*f.values, [f.values[0]], [f.values[0], f.values[1]], f.values[0].lower(),
                          f.values[0] + " ", None, "", 0]:
                records.append(with_(base, (f.name,), value))
        elif isinstance(f, NumberField):
            for value in ([f.min, f.max] if f.min is not None and f.max is not None else []) + [
                    (f.min or 0) - 1, (f.min or 0) - 1e-9, (f.max or 0) + 1, (f.max or 0) + 1e-9,
                    (f.max or 0) + 0.0, 2.0, 2.5, "2", True, False, None, [1], math.nan]:
                records.append(with_(base, (f.name,), value))
        else:
            n = f.max_length or 5
            for value in ["", "x" * n, "x" * (n + 1), "é" * n, "🔥" * n, "🔥" * (n + 1), None, 1, ["x"]]:
                records.append(with_(base, (f.name,), value))
    # several errors at once
    records.append({**base, "task_id": "1", "lead_time": -1, "created_at": "nope"})
    return records


@pytest.mark.parametrize("scheme", [DEFAULT, OTHER], ids=["default", "other"])
def test_tricky_records(scheme):
    check = compile_record_check(scheme)
    validator = reference(scheme)
    records = tricky_records(scheme)
    disagreements = [r for r in records if not verdicts_agree(check, validator, r)]
    assert not disagreements, disagreements[:3]
    verdicts = [check(r) for r in records]
    assert verdicts.count(True) >= 20 and verdicts.count(False) >= 200  # both kinds are covered


def test_known_verdicts():
    """A few verdicts spelled out: what jsonschema (draft 2020-12) really says."""
    check = compile_record_check(DEFAULT)
    base = base_record(DEFAULT)
    assert check({**base, "killed": 3.0})             # 3.0 is an integer
    assert not check({**base, "killed": 3.5})
    assert not check({**base, "killed": True})        # a bool is not an integer
    assert not check({**base, "lead_time": True})     # nor a number
    assert check({**base, "lead_time": math.nan})     # nan < 0 is False: no error
    assert check({**base, "lead_time": -0.0})
    assert not check({**base, "killed": -1})
    assert check({**base, "article_id": "0123456789abcdef\n"})  # re.search: $ matches before \n
    assert check({**base, "updated_at": "2025-03-14t09:26:53z"})  # checked upper-cased
    assert not check({**base, "created_at": "2023-02-29T00:00:00Z"})
    assert not check({**base, "event_type": ["Assassination", "Hijacking"]})
    assert check({**base, "note": "é" * 2000}) and not check({**base, "note": "é" * 2001})


# ------------------------------------------------------------ generated mutations

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(TRICKY_VALUES[:20] + DATES + ARTICLE_IDS
                    + [v for f in DEFAULT.fields + OTHER.fields for v in getattr(f, "values", ())]),
)
json_value = st.recursive(json_leaf, lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=6)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, prefix + (index,))
    return found


@st.composite
def mutated(draw, scheme: Scheme) -> dict[str, Any]:
    record = base_record(scheme)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        candidates = paths(record)
        path = draw(st.sampled_from(candidates))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "append"]))
        parent_path, last = path[:-1], path[-1]
        parent = record
        for part in parent_path:
            parent = parent[part]
        if action == "replace":
            parent[last] = draw(json_value)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_value)
        elif action == "append" and isinstance(parent[last], list):
            parent[last].append(draw(json_value) if draw(st.booleans()) else copy.deepcopy(
                parent[last][0]) if parent[last] else None)
    return record


CHECKS = {s.name: (compile_record_check(s), reference(s)) for s in (DEFAULT, OTHER)}


@settings(max_examples=3000, deadline=None)
@given(record=mutated(DEFAULT))
def test_generated_mutations_default(record):
    check, validator = CHECKS[DEFAULT.name]
    assert verdicts_agree(check, validator, record)


@settings(max_examples=3000, deadline=None)
@given(record=mutated(OTHER))
def test_generated_mutations_other(record):
    check, validator = CHECKS[OTHER.name]
    assert verdicts_agree(check, validator, record)


# ------------------------------------------------------------ the compiler on other schemas

OTHER_SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": 0,
                                            "exclusiveMaximum": 10}},
     "required": ["a"]},
    {"type": "object", "properties": {"a": {"enum": [1, True, "x", None, [1], {"k": 1}]}}},
    {"type": "object", "properties": {"a": {"const": 1}, "b": {"type": "array", "minItems": 1,
                                                                "maxItems": 2, "uniqueItems": True}}},
    {"properties": {"a": {"type": ["number", "string"], "minimum": 2, "minLength": 2}}},
    {"type": "object", "properties": {"a": {"format": "date"}, "b": {"format": "no-such-format"},
                                      "c": {"format": "uri"}, "d": {"format": "email"}},
     "additionalProperties": False},
    {"type": "array", "items": {"type": "object", "required": ["x"]}},
    {"type": ["integer", "number"], "maximum": 3},
    {"type": "object", "properties": {"a": True, "b": False, "c": {"description": "only words"}}},
]
SCHEMA_INSTANCES = [None, True, 0, 1, 1.0, 2, 2.5, 3, 11, "x", "xy", [], [1], [1, 1], [1, True],
                    [1, 1.0], [1, 2, 3], [{"x": 1}], [{}], {}, {"a": 1}, {"a": 0}, {"a": 10},
                    {"a": True}, {"a": "x"}, {"a": [1]}, {"a": {"k": 1}}, {"a": 1, "b": [1]},
                    {"a": 1, "b": [1, 1]}, {"a": 1, "b": []}, {"a": "2024-02-30"},
                    {"a": "2024-02-29"}, {"c": "not a uri"}, {"c": "https://x.org/a"},
                    {"d": "a@b"}, {"d": "nope"}, {"b": "whatever"}, {"e": 1}, {"a": 5.5}, {"b": 1}, {"c": 1}]


@pytest.mark.parametrize("index", range(len(OTHER_SCHEMAS)))
def test_other_schemas(index):
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **OTHER_SCHEMAS[index]}
    check = compile_schema_check(schema)
    cls = jsonschema.Draft202012Validator
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    assert check.compiled
    for instance in SCHEMA_INSTANCES:
        assert check(instance) == validator.is_valid(instance), instance


def test_unsupported_schema_falls_back_to_jsonschema():
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}},
              "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
    check = compile_schema_check(schema)
    assert not check.compiled
    assert check({"a": 1}) and not check({"a": "x"}) and not check({"a": 1, "b": 2})
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"}
    assert not compile_schema_check(draft7).compiled


# ------------------------------------------------------------ fast_record_errors

class Reference:
    """The jsonschema side: lists errors as (path, message)."""

    def __init__(self, scheme: Scheme) -> None:
        self.validator = reference(scheme)
        self.calls = 0

    def errors(self, record):
        self.calls += 1
        return sorted((list(e.absolute_path), e.message) for e in self.validator.iter_errors(record))


def test_fast_record_errors_only_asks_jsonschema_about_rejects():
    check = compile_record_check(DEFAULT)
    ref = Reference(DEFAULT)
    records = tricky_records(DEFAULT)
    for record in records:
        expected = sorted((list(e.absolute_path), e.message)
                          for e in ref.validator.iter_errors(record))
        assert fast_record_errors(check, ref, record) == expected
    assert ref.calls == sum(not check(r) for r in records)
