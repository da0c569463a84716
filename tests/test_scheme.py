"""Tests of toolkit.scheme: the scheme format, its checks, and every file derived from it."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolkit.errors import GeneratedFilesOutdated, SchemeError
from toolkit.scheme import (OPTIONAL_RECORD_COLUMNS, 
    GENERATED_FILES,
    RECORD_COLUMNS,
    ChoiceField,
    Label,
    NumberField,
    Scheme,
    SpanField,
    TextField,
    build_annotation_schema,
    build_features,
    build_labeling_config,
    build_scheme_files,
    build_task_schema,
    check_scheme_files,
    builtin_scheme,
    ensure_scheme_files_current,
    generated_files,
)

REPO_SCHEMAS = Path(__file__).parent.parent / "schemas"
DATA = Path(__file__).parent.parent / "toolkit" / "data"
NASTY = "A \"quoted\" <b> & 'x'"

GTD_TYPES = [
    "Assassination", "Armed Assault", "Bombing/Explosion", "Hijacking",
    "Hostage Taking (Barricade Incident)", "Hostage Taking (Kidnapping)",
    "Facility/Infrastructure Attack", "Unarmed Assault", "Unknown", "Not an attack event",
]


def small_scheme_dict(**overrides: Any) -> dict[str, Any]:
    """A scheme with one field of each kind (and both choice variants)."""
    d: dict[str, Any] = {
        "name": "small",
        "title": "Small",
        "fields": [
            {"name": "ents", "kind": "spans", "labels": [{"value": "A"}, {"value": "B"}]},
            {"name": "kind", "kind": "choice", "required": True,
             "choices": [{"value": "x"}, {"value": "y"}]},
            {"name": "tags", "kind": "choice", "multiple": True,
             "choices": [{"value": "t1"}, {"value": "t2"}, {"value": "t3"}]},
            {"name": "count", "kind": "number", "integer": True, "min": 0, "max": 10},
            {"name": "score", "kind": "number"},
            {"name": "remark", "kind": "text", "max_length": 20},
        ],
    }
    d.update(overrides)
    return d


def scheme_error(d: Any) -> SchemeError:
    with pytest.raises(SchemeError) as info:
        Scheme.from_dict(d)
    return info.value


# ------------------------------------------------------------------ default scheme


def test_default_scheme_content():
    s = builtin_scheme("news-events-v1")
    assert s.name == "news-events"
    assert s.title == "News events"
    assert s.field_names == ("entities", "event_type", "killed", "injured", "hostages", "note")
    entities = s.field("entities")
    assert isinstance(entities, SpanField)
    assert entities.values == ("PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON")
    assert all(label.description for label in entities.labels)
    event = s.field("event_type")
    assert isinstance(event, ChoiceField)
    assert event.required and not event.multiple
    assert list(event.values) == GTD_TYPES
    for name in ("killed", "injured", "hostages"):
        f = s.field(name)
        assert isinstance(f, NumberField) and f.integer and f.min == 0 and f.max is None
    assert "nkill" in s.field("killed").description
    assert "nwound" in s.field("injured").description
    assert "nhostkid" in s.field("hostages").description
    assert isinstance(s.field("note"), TextField)


@pytest.mark.parametrize("name, file", [("news-events", "default_scheme.json"),
                                        ("news-events-v1", "news_events_v1_scheme.json")])
def test_builtin_schemes_round_trip_and_files_are_canonical(name, file):
    s = builtin_scheme(name)
    assert Scheme.from_dict(s.to_dict()) == s
    # The packaged file is exactly what save() writes, so `toolkit init` may do either.
    text = (DATA / file).read_text(encoding="utf-8")
    assert text == json.dumps(s.to_dict(), indent=2, ensure_ascii=False) + "\n"


def test_the_default_scheme_is_events_with_arguments():
    from toolkit.scheme import EventsField, RelationsField, default_scheme

    s = default_scheme()
    assert (s.name, s.version) == ("news-events", 2)
    assert s.field_names == ("entities", "events", "relations", "note")
    events = s.field("events")
    assert isinstance(events, EventsField) and events.trigger.value == "EVENT"
    # The counts and the attack type moved from the article onto each event.
    assert [a.name for a in events.attributes] == ["attack_type", "killed", "injured", "hostages", "certainty"]
    assert events.type_attribute == "attack_type" and events.type_field is not None
    # "Not an attack event" is now an article without events.
    assert list(events.type_field.values) == [v for v in GTD_TYPES if v != "Not an attack event"]
    assert events.role("time").unique and events.role("time").labels == ("DATE",)
    assert set(events.role("victim").labels) <= set(s.span_labels)
    assert isinstance(s.field("relations"), RelationsField)
    assert s.link_values == ("member_of", "located_in", "perpetrator", "victim", "target", "place", "time",
                             "weapon")
    # A scheme without the new kinds keeps the form and hash it had.
    v1 = builtin_scheme("news-events-v1")
    assert "attributes" not in v1.to_dict()["fields"][0]
    assert v1.hash().startswith("7b7b9f47ac60cb212cb5070224d4a2a0a38b81092790fd24a48")


def test_meta_schema_file_is_valid_and_canonical():
    text = (DATA / "scheme.meta.schema.json").read_text(encoding="utf-8")
    meta = json.loads(text)
    assert meta["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(meta)
    assert text == json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    Draft202012Validator(meta).validate(builtin_scheme("news-events-v1").to_dict())
    from toolkit.scheme import default_scheme

    Draft202012Validator(meta).validate(default_scheme().to_dict())


def test_save_and_load(tmp_path):
    s = builtin_scheme("news-events-v1")
    s.save(tmp_path / "scheme.json")
    assert Scheme.load(tmp_path / "scheme.json") == s


def test_hash_is_stable_across_processes():
    code = "from toolkit.scheme import builtin_scheme; print(builtin_scheme('news-events-v1').hash())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent, env={"PYTHONHASHSEED": "123"})
    h = builtin_scheme("news-events-v1").hash()
    assert out.stdout.strip() == h
    assert re.fullmatch(r"[0-9a-f]{64}", h)


def test_hash_changes_when_a_label_changes():
    d = builtin_scheme("news-events-v1").to_dict()
    before = Scheme.from_dict(d).hash()
    d["fields"][0]["labels"][0]["value"] = "PER"
    assert Scheme.from_dict(d).hash() != before
    d2 = builtin_scheme("news-events-v1").to_dict()
    d2["fields"][0]["labels"][0]["description"] += "!"
    assert Scheme.from_dict(d2).hash() != before


def test_defaults_are_filled_in():
    s = Scheme.from_dict(small_scheme_dict())
    assert s.version == 1 and s.max_annotations_per_annotator == 1 and s.description == ""
    ents = s.field("ents")
    assert ents.labels[0] == Label("A", "", None) and ents.allow_overlap is False
    assert Scheme.from_dict(s.to_dict()) == s
    assert s.to_dict()["fields"][0] == {
        "name": "ents", "kind": "spans", "description": "", "required": False,
        "labels": [{"value": "A", "description": "", "color": None},
                   {"value": "B", "description": "", "color": None}],
        "allow_overlap": False,
    }


def test_field_lookup_and_kind_views():
    s = Scheme.from_dict(small_scheme_dict())
    assert [f.name for f in s.span_fields] == ["ents"]
    assert [f.name for f in s.choice_fields] == ["kind", "tags"]
    assert [f.name for f in s.number_fields] == ["count", "score"]
    assert [f.name for f in s.text_fields] == ["remark"]
    with pytest.raises(SchemeError, match="no field 'nope'"):
        s.field("nope")


def test_integral_float_bounds_are_normalised_on_integer_fields():
    d = small_scheme_dict()
    d["fields"][3]["min"] = 0.0
    s = Scheme.from_dict(d)
    assert s.field("count").min == 0 and isinstance(s.field("count").min, int)
    assert s.hash() == Scheme.from_dict(small_scheme_dict()).hash()


# ------------------------------------------------------------ round trip, hypothesis

_values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda v: v.strip() != "")
_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: n not in RECORD_COLUMNS and n not in {"text", "title"})
_descriptions = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@st.composite
def _fields(draw: Any, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["spans", "choice", "number", "text"]))
    common = {"name": name, "kind": kind, "description": draw(_descriptions),
              "required": draw(st.booleans())}
    if kind == "spans":
        values = draw(st.lists(_values, min_size=1, max_size=5, unique=True))
        colors = st.one_of(st.none(), st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
        return {**common, "labels": [{"value": v, "description": draw(_descriptions),
                                      "color": draw(colors)} for v in values],
                "allow_overlap": draw(st.booleans())}
    if kind == "choice":
        values = draw(st.lists(_values, min_size=1, max_size=5, unique=True))
        return {**common, "multiple": draw(st.booleans()),
                "choices": [{"value": v, "description": draw(_descriptions)} for v in values]}
    if kind == "number":
        integer = draw(st.booleans())
        bound = st.integers(-1000, 1000) if integer else st.floats(-1e6, 1e6, allow_nan=False)
        lo, hi = draw(st.one_of(st.none(), bound)), draw(st.one_of(st.none(), bound))
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        return {**common, "integer": integer, "min": lo, "max": hi}
    return {**common, "max_length": draw(st.one_of(st.none(), st.integers(1, 10_000)))}


@st.composite
def scheme_dicts(draw: Any) -> dict[str, Any]:
    names = draw(st.lists(_names, min_size=1, max_size=5, unique=True))
    return {
        "name": draw(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)),
        "title": draw(_values),
        "description": draw(_descriptions),
        "version": draw(st.integers(1, 100)),
        "fields": [draw(_fields(n)) for n in names],
        "max_annotations_per_annotator": draw(st.integers(1, 5)),
    }


@settings(max_examples=60, deadline=None)
@given(scheme_dicts())
def test_round_trip_any_valid_scheme(d):
    s = Scheme.from_dict(d)
    assert s.to_dict() == d
    assert Scheme.from_dict(s.to_dict()) == s
    assert Scheme.from_dict(copy.deepcopy(d)).hash() == s.hash()
    # Every valid scheme gives a well-formed labeling config and valid JSON Schemas.
    ET.fromstring(build_labeling_config(s))
    Draft202012Validator.check_schema(build_annotation_schema(s))
    Draft202012Validator.check_schema(build_task_schema(s))


# ---------------------------------------------------------------- invalid schemes


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d["fields"][0]["labels"].append({"value": "A"}),
         "fields[0].labels[2].value", "duplicate value 'A'"),
        (lambda d: d["fields"][1]["choices"].append({"value": "y"}),
         "fields[1].choices[2].value", "duplicate value 'y'"),
        (lambda d: d["fields"][2].update(kind="rating"), "fields[2].kind", "'rating' is not one of"),
        (lambda d: d["fields"][3].update(min=5, max=1), "fields[3].min", "greater than max"),
        (lambda d: d["fields"][3].update(min=0.5), "fields[3].min", "not a whole number"),
        (lambda d: d["fields"][4].update(name="task_id"), "fields[4].name", "'task_id' is reserved"),
        (lambda d: d["fields"][4].update(name="text"), "fields[4].name", "'text' is reserved"),
        (lambda d: d["fields"][4].update(name="title"), "fields[4].name", "'title' is reserved"),
        (lambda d: d["fields"][4].update(name="Bad Name"), "fields[4].name", "does not match"),
        (lambda d: d["fields"][4].update(name="ents"), "fields[4].name", "duplicate field name 'ents'"),
        (lambda d: d["fields"][0]["labels"][1].update(value=""), "fields[0].labels[1].value",
         "does not match"),
        (lambda d: d["fields"][0]["labels"][1].update(value="  "), "fields[0].labels[1].value",
         "does not match"),
        (lambda d: d["fields"][0]["labels"][1].update(color="red"), "fields[0].labels[1].color",
         "does not match"),
        (lambda d: d["fields"][0]["labels"][1].update(value="a\x01b"), "fields[0].labels[1].value",
         "U+0001"),
        (lambda d: d["fields"][0].update(labels=[]), "fields[0].labels", "should be non-empty"),
        (lambda d: d["fields"][1].pop("choices"), "fields[1]", "'choices' is a required property"),
        (lambda d: d["fields"][5].update(max_length=0), "fields[5].max_length", "less than the minimum"),
        (lambda d: d["fields"][5].update(colour="#fff"), "fields[5]", "'colour' was unexpected"),
        (lambda d: d["fields"][3].update(integer="yes"), "fields[3].integer", "not of type 'boolean'"),
        (lambda d: d.pop("title"), "(top level)", "'title' is a required property"),
        (lambda d: d.update(version=0), "version", "less than the minimum"),
        (lambda d: d.update(fields=[]), "fields", "should be non-empty"),
    ],
)
def test_invalid_scheme_names_path_and_problem(mutate, path, words):
    d = small_scheme_dict()
    mutate(d)
    err = scheme_error(d)
    assert f"at {path}: " in err.message
    assert words in err.message
    assert err.hint


def test_hints_explain_the_rule():
    d = small_scheme_dict()
    d["fields"][4]["name"] = "Bad Name"
    assert "lower-case identifiers" in scheme_error(d).hint
    d = small_scheme_dict()
    d["fields"][4]["name"] = "annotator_id"
    assert "reserved names are" in scheme_error(d).hint


def test_several_problems_are_all_reported():
    d = small_scheme_dict()
    d["fields"][0]["labels"].append({"value": "A"})
    d["fields"][3].update(min=5, max=1)
    err = scheme_error(d)
    assert "2 problems" in err.message
    assert "fields[0].labels[2].value" in err.message and "fields[3].min" in err.message


def test_not_an_object():
    assert "(top level)" in scheme_error([1, 2]).message


def test_constructor_checks_too():
    with pytest.raises(SchemeError, match=r"fields\[1\].name: duplicate field name"):
        Scheme(name="s", title="S", fields=(TextField("a"), TextField("a")))
    with pytest.raises(SchemeError, match=r"fields\[0\].labels"):
        Scheme(name="s", title="S", fields=(SpanField("a", labels=()),))


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(SchemeError, match="scheme file not found: .*nope.json"):
        Scheme.load(tmp_path / "nope.json")


def test_load_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "scheme.json"
    path.write_text('{"name": "x",\n "title": }', encoding="utf-8")
    with pytest.raises(SchemeError, match=r"scheme.json is not valid JSON: .* line 2"):
        Scheme.load(path)


def test_load_invalid_scheme_names_file_and_path(tmp_path):
    d = small_scheme_dict()
    d["fields"][2]["kind"] = "rating"
    path = tmp_path / "scheme.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(SchemeError) as info:
        Scheme.load(path)
    assert info.value.message.startswith(f"{path}: invalid scheme at fields[2].kind")


# -------------------------------------------------------------- labeling config


@pytest.fixture(scope="module")
def label_interface_cls():
    return pytest.importorskip("label_studio_sdk.label_interface").LabelInterface


def test_labeling_config_parsed_by_label_studio(label_interface_cls):
    s = builtin_scheme("news-events-v1")
    xml = build_labeling_config(s)
    li = label_interface_cls(xml)
    li.validate()  # Label Studio's own config schema, unique names, toName targets
    controls = {c.name: c for c in li.controls}
    assert set(controls) == set(s.field_names)
    assert controls["entities"].tag == "Labels"
    assert controls["entities"].labels == list(s.field("entities").values)
    assert controls["event_type"].tag == "Choices"
    assert controls["event_type"].labels == GTD_TYPES
    assert controls["event_type"].attr["choice"] == "single-radio"  # radio buttons: one answer
    assert controls["event_type"].attr["required"] == "true"
    for name in ("killed", "injured", "hostages"):
        assert controls[name].tag == "Number"
        assert controls[name].attr["min"] == "0" and controls[name].attr["step"] == "1"
        assert "max" not in controls[name].attr
    assert controls["note"].tag == "TextArea"
    assert all(c.to_name == ["text"] for c in li.controls)
    objects = {o.name: o for o in li.objects}
    assert list(objects) == ["text"] and objects["text"].tag == "Text"
    assert objects["text"].value == "$text"


def test_labeling_config_shape():
    xml = build_labeling_config(builtin_scheme("news-events-v1"))
    assert xml.endswith(">\n") and xml == build_labeling_config(builtin_scheme("news-events-v1"))
    assert "HyperText" not in xml
    root = ET.fromstring(xml)
    headers = [h.get("value") for h in root.iter("Header")]
    assert "$title" in headers
    # The headline comes before the article text.
    tags = [el.tag for el in root.iter()]
    assert tags.index("Header") < tags.index("Text")
    colours = [label.get("background") for label in root.iter("Label")]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)


def test_labeling_config_multiple_choice_and_palette():
    d = small_scheme_dict()
    d["fields"].append({"name": "more", "kind": "spans", "labels": [{"value": "C", "color": "#abc"}]})
    root = ET.fromstring(build_labeling_config(Scheme.from_dict(d)))
    choices = {c.get("name"): c for c in root.iter("Choices")}
    assert choices["tags"].get("choice") == "multiple"
    assert choices["kind"].get("required") == "true" and choices["tags"].get("required") == "false"
    colours = [label.get("background") for label in root.iter("Label")]
    assert colours[2] == "#abc"
    assert len(set(colours[:2])) == 2  # palette colours differ
    number = {n.get("name"): n for n in root.iter("Number")}
    assert number["count"].get("max") == "10" and number["score"].get("step") == "any"
    assert root.find(".//TextArea").get("maxSubmissions") == "1"


def test_nasty_values_survive(label_interface_cls):
    nasty_choice = "line one\nline two & <three>"
    d = small_scheme_dict()
    d["fields"][0]["labels"][0] = {"value": NASTY, "description": 'say "hi" <now> & $title'}
    d["fields"][1]["choices"][0] = {"value": nasty_choice, "description": "ü€😀"}
    d["fields"][5]["description"] = "costs $5 and $title"
    s = Scheme.from_dict(d)
    xml = build_labeling_config(s)
    root = ET.fromstring(xml)  # well-formed
    labels = [el.get("value") for el in root.iter("Label")]
    assert labels == [NASTY, "B"]
    assert [el.get("value") for el in root.iter("Choice")][0] == nasty_choice
    li = label_interface_cls(xml)
    li.validate()
    assert li.get_control("ents").labels == [NASTY, "B"]
    assert li.get_control("kind").labels == [nasty_choice, "y"]
    assert li.get_control("ents").labels_attrs[NASTY].attr["hint"] == 'say "hi" <now> & $title'
    # Label Studio would substitute "$title" in a Header; captions must not contain it.
    captions = [el.get("value") for el in root.iter("Header") if el.get("value") != "$title"]
    assert not any("$" in c for c in captions)


# ------------------------------------------------------------ annotation schema


def good_record(**overrides: Any) -> dict[str, Any]:
    record = {
        "task_id": 1, "article_id": "0123456789abcdef", "annotation_id": 7,
        "annotator_id": 3, "annotator_email": "a@example.org",
        "created_at": "2024-05-01T10:00:00Z", "updated_at": None, "lead_time": 12.5,
        "was_cancelled": False, "ground_truth": False,
        "entities": [{"start": 0, "end": 5, "label": "PERSON", "text": "Alice"}],
        "event_type": "Armed Assault", "killed": 2, "injured": 0, "hostages": None, "note": None,
    }
    record.update(overrides)
    return record


@pytest.fixture(scope="module")
def record_validator():
    schema = build_annotation_schema(builtin_scheme("news-events-v1"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_annotation_schema_declares_dialect_and_columns():
    schema = build_annotation_schema(builtin_scheme("news-events-v1"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:")
    assert schema["required"] == [*(c for c in RECORD_COLUMNS if c not in OPTIONAL_RECORD_COLUMNS),
                                  *builtin_scheme("news-events-v1").field_names]
    assert set(OPTIONAL_RECORD_COLUMNS) <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert schema["properties"]["created_at"]["format"] == "date-time"
    assert schema["properties"]["updated_at"]["format"] == "date-time"
    assert schema["properties"]["event_type"]["x-required"] is True
    assert schema["properties"]["killed"]["x-required"] is False
    assert schema["properties"]["entities"]["x-allow-overlap"] is False


def test_annotation_schema_accepts_good_records(record_validator):
    record_validator.validate(good_record())
    # A cancelled annotation: everything empty, even the required choice.
    record_validator.validate(good_record(was_cancelled=True, entities=[], event_type=None,
                                          killed=None, injured=None, lead_time=None,
                                          annotator_id=None, annotator_email=None,
                                          updated_at="2024-05-01T10:01:00Z"))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"entities": [{"start": 0, "end": 5, "label": "ANIMAL", "text": "Alice"}]}, "label"),
        ({"event_type": ["Armed Assault", "Hijacking"]}, "event_type"),
        ({"event_type": "Riot"}, "event_type"),
        ({"killed": -1}, "killed"),
        ({"injured": 1.5}, "injured"),
        ({"note": "x" * 2001}, "note"),
        ({"lead_time": -1}, "lead_time"),
        ({"was_cancelled": "no"}, "was_cancelled"),
        ({"article_id": "not-hex"}, "article_id"),
        ({"entities": [{"start": -1, "end": 5, "label": "ORG", "text": "Alice"}]}, "start"),
        ({"entities": [{"start": 0, "end": 5, "label": "ORG"}]}, "entities"),
        ({"entities": [{"start": 0, "end": 5, "label": "ORG", "text": "A", "x": 1}]}, "entities"),
        ({"extra": 1}, ""),
    ],
)
def test_annotation_schema_rejects(record_validator, change, where):
    errors = list(record_validator.iter_errors(good_record(**change)))
    assert errors
    assert any(where in "/".join(map(str, e.absolute_path)) or where in e.message for e in errors)


@pytest.mark.parametrize("key", ["task_id", "created_at", "was_cancelled", "note", "entities"])
def test_annotation_schema_requires_every_key(record_validator, key):
    record = good_record()
    del record[key]
    messages = [e.message for e in record_validator.iter_errors(record)]
    assert f"'{key}' is a required property" in messages


def test_annotation_schema_multiple_choice_and_float():
    s = Scheme.from_dict(small_scheme_dict())
    v = Draft202012Validator(build_annotation_schema(s))
    record = {k: None for k in RECORD_COLUMNS if k not in OPTIONAL_RECORD_COLUMNS} | {
        "task_id": 1, "article_id": "0123456789abcdef", "annotation_id": 1,
        "created_at": "2024-01-01T00:00:00Z", "was_cancelled": False, "ground_truth": False,
        "ents": [], "kind": "x", "tags": ["t1", "t3"], "count": 10, "score": -0.5, "remark": "ok"}
    v.validate(record)
    assert not v.is_valid(record | {"tags": ["t1", "t1"]})  # uniqueItems
    assert not v.is_valid(record | {"tags": ["t9"]})
    assert not v.is_valid(record | {"count": 11})
    assert not v.is_valid(record | {"remark": "x" * 21})


# ------------------------------------------------------------------ task schema


def test_task_schema():
    schema = build_task_schema(builtin_scheme("news-events-v1"))
    Draft202012Validator.check_schema(schema)
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    task = {"data": {"text": "Body.", "title": None, "published": "2024-05-01",
                     "source_url": "https://example.org/a", "article_id": "ab" * 8,
                     "source_file": "raw/a.txt"},
            "predictions": [{"model_version": "spacy-1", "score": 0.5, "result": [
                {"from_name": "entities", "to_name": "text", "type": "labels", "id": "r1",
                 "value": {"start": 0, "end": 4, "text": "Body", "labels": ["ORG"]}},
                {"from_name": "event_type", "to_name": "text", "type": "choices",
                 "value": {"choices": ["Unknown"]}},
                {"from_name": "killed", "to_name": "text", "type": "number", "value": {"number": 3}},
            ]}]}
    v.validate(task)
    v.validate({"data": {"text": "x", "article_id": "0" * 64}})
    bad = [
        {"data": {"text": "", "article_id": "ab" * 8}},
        {"data": {"text": "x", "article_id": "XYZ"}},
        {"data": {"text": "x"}},
        {"data": {"text": "x", "article_id": "ab" * 8, "published": "May 1"}},
        {"data": {"text": "x", "article_id": "ab" * 8}, "predictions": [{"result": []}]},
        {"data": {"text": "x", "article_id": "ab" * 8}, "unknown": 1},
    ]
    for t in bad:
        assert not v.is_valid(t), t
    bad_results = [
        {"from_name": "nope", "to_name": "text", "type": "labels", "value": {}},
        {"from_name": "event_type", "to_name": "text", "type": "choices",
         "value": {"choices": ["Unknown", "Hijacking"]}},
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": 4, "labels": ["ANIMAL"]}},
        {"from_name": "killed", "to_name": "text", "type": "choices", "value": {"number": 3}},
    ]
    for r in bad_results:
        t = {"data": {"text": "x", "article_id": "ab" * 8},
             "predictions": [{"model_version": "m", "result": [r]}]}
        assert not v.is_valid(t), r


# --------------------------------------------------------------------- features


def test_features():
    from datasets import ClassLabel, Features, List, Value

    s = builtin_scheme("news-events-v1")
    features = build_features(s)
    assert list(features) == list(s.field_names)
    assert isinstance(features["entities"], List)
    assert features["entities"].feature["label"].names == list(s.field("entities").values)
    assert features["entities"].feature["start"] == Value("int32")
    assert isinstance(features["event_type"], ClassLabel)
    assert features["event_type"].names == GTD_TYPES
    assert features["killed"] == Value("int32")
    assert features["note"] == Value("string")
    # features.json reads back as the same Features.
    assert Features.from_dict(json.loads(generated_files(s)["features.json"])) == features


def test_features_multiple_choice_and_float():
    from datasets import ClassLabel, List, Value

    features = build_features(Scheme.from_dict(small_scheme_dict()))
    assert isinstance(features["tags"], List) and isinstance(features["tags"].feature, ClassLabel)
    assert features["tags"].feature.names == ["t1", "t2", "t3"]
    assert features["score"] == Value("float64")
    encoded = features.encode_example({"ents": [{"start": 0, "end": 1, "label": "B", "text": "q"}],
                                       "kind": "y", "tags": ["t3"], "count": 1, "score": 0.5,
                                       "remark": None})
    assert encoded["kind"] == 1 and encoded["tags"] == [2] and encoded["ents"][0]["label"] == 1


# -------------------------------------------------------------- generated files


def test_generated_files_names_and_rendering():
    files = generated_files(builtin_scheme("news-events-v1"))
    assert tuple(files) == GENERATED_FILES
    for name, content in files.items():
        assert content.endswith("\n")
        if name.endswith(".json"):
            assert content == json.dumps(json.loads(content), indent=2, ensure_ascii=False) + "\n"
    assert files["scheme.meta.schema.json"] == (DATA / "scheme.meta.schema.json").read_text("utf-8")


def test_build_then_check(tmp_path):
    builtin_scheme("news-events-v1").save(tmp_path / "scheme.json")
    written = build_scheme_files(tmp_path)
    assert sorted(p.name for p in written) == sorted(GENERATED_FILES)
    assert all(p.parent == tmp_path for p in written)
    assert check_scheme_files(tmp_path) == []
    ensure_scheme_files_current(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind

    config = tmp_path / "labeling_config.xml"
    config.write_text(config.read_text("utf-8").replace("PERSON", "PER"), encoding="utf-8")
    (tmp_path / "features.json").unlink()
    assert check_scheme_files(tmp_path) == ["labeling_config.xml", "features.json"]
    with pytest.raises(GeneratedFilesOutdated) as info:
        ensure_scheme_files_current(tmp_path)
    assert "labeling_config.xml" in info.value.message and "features.json" in info.value.message
    assert info.value.hint == "run `toolkit scheme build`"

    build_scheme_files(tmp_path)
    assert check_scheme_files(tmp_path) == []


def test_changing_the_scheme_outdates_files(tmp_path):
    build_scheme_files(tmp_path, builtin_scheme("news-events-v1"))
    d = builtin_scheme("news-events-v1").to_dict()
    d["fields"][1]["choices"].append({"value": "Riot"})
    Scheme.from_dict(d).save(tmp_path / "scheme.json")
    assert set(check_scheme_files(tmp_path)) == {
        "labeling_config.xml", "annotation.schema.json", "task.schema.json", "features.json"}


def test_check_without_scheme_json(tmp_path):
    with pytest.raises(SchemeError, match="scheme file not found"):
        check_scheme_files(tmp_path)


@pytest.mark.skipif(not (REPO_SCHEMAS / "scheme.json").exists(), reason="no schemas/scheme.json")
def test_repository_schema_files_are_current():
    assert check_scheme_files(REPO_SCHEMAS) == [], "run `toolkit scheme build` and commit the result"


def test_descriptions_are_compact_hints_and_the_label_bar_stays_in_view():
    """Field descriptions are set smaller than the 16 px article; the span labels sit in a
    sticky bar, so they stay reachable on long articles; the article gets most of the width."""
    import re
    import xml.etree.ElementTree as ET

    root = ET.fromstring(build_labeling_config(builtin_scheme("news-events-v1")))
    headers = [h for h in root.iter("Header") if h.get("value") != "$title"]
    assert headers, "the config has field names and hints"
    for header in headers:
        size = re.search(r"font-size:\s*(\d+)px", header.get("style", ""))
        assert size and int(size.group(1)) < 16, f"{header.get('value')!r} is not smaller than the article"
    sticky = [v for v in root.iter("View") if "position: sticky" in (v.get("style") or "")
              and v.find("Labels") is not None]
    assert len(sticky) == 1
    description = builtin_scheme("news-events-v1").span_fields[0].description
    assert any(h.get("value") == description for h in sticky[0].iter("Header"))
    shares = [int(m.group(1)) for v in root.iter("View") for m in [re.search(r"flex: (\d+);", v.get("style") or "")]
              if m]
    assert shares[0] > shares[1]  # the article's column is the wider one


def test_a_non_finite_bound_in_the_scheme_is_an_error(tmp_path):
    scheme = builtin_scheme("news-events-v1").to_dict()
    killed = next(f for f in scheme["fields"] if f["name"] == "killed")
    killed["max"] = float("inf")
    path = tmp_path / "scheme.json"
    path.write_text(json.dumps(scheme))  # Python writes the bare word Infinity, and reads it back
    with pytest.raises(SchemeError, match=r"max is inf, not a finite number"):
        Scheme.load(path)


def _events_scheme(**changes):
    """The default (events) scheme as a dict, with changes applied by the caller."""
    from toolkit.scheme import default_scheme

    d = default_scheme().to_dict()
    fields = {f["name"]: f for f in d["fields"]}
    for path, value in changes.items():
        value(fields)
    return d


@pytest.mark.parametrize("change, path, message", [
    (lambda f: f["events"]["roles"][0]["labels"].append("GUN"), "fields[1].roles[0].labels[3]",
     "role 'perpetrator' names the span label 'GUN', which no spans field has"),
    (lambda f: f["relations"]["relations"][0]["tail"].append("TEAM"), "fields[2].relations[0].tail[2]",
     "relation 'member_of' names the span label 'TEAM'"),
    (lambda f: f["entities"].setdefault("attributes", []).append(
        {"name": "negated", "kind": "choice", "choices": [{"value": "yes"}], "labels": ["CAR"]}),
     "fields[0].attributes[0].labels[0]", "asked for the label 'CAR', which field 'entities' does not have"),
    (lambda f: f["relations"]["relations"].append({"value": "victim"}), "fields[2].relations[2].value",
     "duplicate relation or role 'victim'"),
    (lambda f: f["events"].update(type="killed"), "fields[1].type", "is not a single-choice attribute"),
    (lambda f: f["events"]["attributes"][1].update(name="start"), "fields[1].attributes[1].name",
     "'start' is reserved"),
    (lambda f: f["events"]["attributes"][1].update(name="note"), "fields[3].name",
     "duplicate attribute or field name 'note'"),
    (lambda f: f["events"]["trigger"].update(value="PERSON"), "fields[1].trigger.value",
     "the trigger label 'PERSON' is also a span label"),
    (lambda f: f["events"]["roles"][0].pop("labels"), "fields[1].roles[0]", "'labels' is a required property"),
    (lambda f: f["events"]["attributes"][0].update(kind="spans"), "fields[1].attributes[0].kind",
     "is not one of"),
])
def test_events_scheme_problems_are_named(change, path, message):
    data = _events_scheme(x=change)
    with pytest.raises(SchemeError) as info:
        Scheme.from_dict(data, source="scheme.json")
    text = info.value.message
    assert path in text and message in text, text


def test_events_scheme_lookups():
    from toolkit.scheme import default_scheme

    s = default_scheme()
    entities = s.field("entities")
    assert entities.attributes_for("PERSON") == ()
    assert s.control_names == ("entities", "events", "attack_type", "killed", "injured", "hostages",
                               "certainty", "note")
    events = s.field("events")
    assert events.role("weapon").labels == ("WEAPON",)
    # A span attribute asked for some labels only.
    d = s.to_dict()
    d["fields"][0]["attributes"] = [{"name": "weapon_use", "kind": "choice", "labels": ["WEAPON"],
                                     "choices": [{"value": "used"}, {"value": "carried"}]}]
    with_attr = Scheme.from_dict(d)
    assert [a.name for a in with_attr.field("entities").attributes_for("WEAPON")] == ["weapon_use"]
    assert with_attr.field("entities").attributes_for("PERSON") == ()
    assert Scheme.from_dict(with_attr.to_dict()) == with_attr
