"""What the scheme derives for span attributes, relations and events, checked against each consumer:
the Label Studio config (its structure, the SDK's ``LabelInterface``, the real server), the record's
JSON Schema (jsonschema and the compiled check), the task schema, and the release's features
(``datasets``)."""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from toolkit.scheme import (Scheme, build_annotation_schema, build_features, build_labeling_config,
                            build_task_schema, builtin_scheme, default_scheme)

TEXT = "Gunmen shot dead Ali Khan, a judge of the Taliban court, in Kabul on Monday."
# Offsets worked out by hand on TEXT.
SHOT = (7, 16, "shot dead")
ALI = (17, 25, "Ali Khan")
TALIBAN = (42, 49, "Taliban")
KABUL = (60, 65, "Kabul")
MONDAY = (69, 75, "Monday")


def span(at: tuple[int, int, str], label: str) -> dict[str, Any]:
    return {"start": at[0], "end": at[1], "label": label, "text": at[2]}


def test_offsets_of_the_example_text():
    for start, end, text in (SHOT, ALI, TALIBAN, KABUL, MONDAY):
        assert TEXT[start:end] == text


def attributed_scheme_dict() -> dict[str, Any]:
    """Span attributes of every kind (for some labels, for all), an event type, a relation."""
    return {
        "name": "attributed", "title": "Attributed", "version": 1,
        "fields": [
            {"name": "ents", "kind": "spans", "labels": [{"value": "A"}, {"value": "B"}, {"value": "C"}],
             "attributes": [
                 {"name": "negated", "kind": "choice", "required": True, "labels": ["A"],
                  "choices": [{"value": "yes"}, {"value": "no"}]},
                 {"name": "tags", "kind": "choice", "multiple": True, "labels": ["A", "B"],
                  "choices": [{"value": "t1"}, {"value": "t2"}]},
                 {"name": "weight", "kind": "number", "min": 0},
                 {"name": "comment", "kind": "text", "max_length": 10}]},
            {"name": "evs", "kind": "events", "trigger": {"value": "EV"}, "type": "kind",
             "roles": [{"value": "agent", "labels": ["A"]}, {"value": "patient", "labels": ["B", "C"]}],
             "attributes": [{"name": "kind", "kind": "choice", "choices": [{"value": "k1"}, {"value": "k2"}]}]},
            {"name": "links", "kind": "relations", "relations": [{"value": "near", "directed": False}]},
        ],
    }


# ----------------------------------------------------------------------- the labeling config


def config_tree(scheme: Scheme) -> ET.Element:
    return ET.fromstring(build_labeling_config(scheme))


def controls(root: ET.Element) -> dict[str, ET.Element]:
    return {el.get("name"): el for el in root.iter() if el.get("toName")}


def parent_map(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def test_v1_config_has_no_relations_and_no_per_region_control():
    xml = build_labeling_config(builtin_scheme("news-events-v1"))
    assert "<Relations" not in xml and "perRegion" not in xml and "whenLabelValue" not in xml


def test_trigger_label_sits_in_the_label_bar_with_the_entity_labels():
    scheme = default_scheme()
    root = config_tree(scheme)
    parents = parent_map(root)
    found = controls(root)
    entities, events = found["entities"], found["events"]
    assert (entities.tag, events.tag) == ("Labels", "Labels")
    assert events.get("toName") == "text"
    trigger = scheme.field("events").trigger
    assert [(lb.get("value"), lb.get("hint")) for lb in events] == [("EVENT", trigger.description)]
    # Same row of the same sticky bar.
    assert parents[entities] is parents[events]
    bar = parents[parents[entities]]
    assert "position: sticky" in bar.get("style")
    # The article stays plain text (scraped web content), never HTML.
    texts = [el for el in root.iter() if el.get("name") == "text"]
    assert [el.tag for el in texts] == ["Text"]


def test_one_relations_tag_with_every_relation_type_and_role():
    root = config_tree(default_scheme())
    relations = root.findall(".//Relations")
    assert len(relations) == 1
    # Relation types first, then the roles of the events field, in scheme order.
    assert [r.get("value") for r in relations[0]] == [
        "member_of", "located_in", "perpetrator", "victim", "target", "place", "time", "weapon"]
    assert relations[0].get("choice") == "single"
    # The relations field has no control of its own: Label Studio's relations are the control.
    assert "relations" not in controls(root)


def test_event_attributes_are_per_region_controls_of_the_trigger():
    scheme = default_scheme()
    root = config_tree(scheme)
    found = controls(root)
    expected = {"attack_type": ("Choices", "true"), "killed": ("Number", "false"), "injured": ("Number", "false"),
                "hostages": ("Number", "false"), "certainty": ("Choices", "false")}
    for name, (tag, required) in expected.items():
        el = found[name]
        assert (el.tag, el.get("required")) == (tag, required), name
        assert (el.get("perRegion"), el.get("whenTagName"), el.get("whenLabelValue")) == ("true", "events", "EVENT")
    assert found["attack_type"].get("choice") == "single-radio"
    assert [c.get("value") for c in found["attack_type"]] == list(scheme.field("events").type_field.values)
    assert (found["killed"].get("min"), found["killed"].get("step")) == ("0", "1")
    # The article-level note is not per region.
    assert found["note"].get("perRegion") is None


def test_attributes_show_with_their_caption_only_for_the_right_span():
    root = config_tree(default_scheme())
    parents = parent_map(root)
    attack = controls(root)["attack_type"]
    view = parents[attack]
    # Name, description and control are hidden together until an EVENT span is selected.
    assert (view.tag, view.get("visibleWhen"), view.get("whenTagName"), view.get("whenLabelValue")) == (
        "View", "region-selected", "events", "EVENT")
    assert [h.get("value") for h in view.findall("Header")][0] == "Attack type *"
    # The caption saying where the controls appear is in view all the time, before them, in the small style.
    box = list(parents[view])
    caption = next(el for el in box if el.tag == "Header" and el.get("value", "").startswith("Shown when"))
    assert caption.get("value") == "Shown when you select a span labelled EVENT"
    assert "font-size: 12px" in caption.get("style")
    assert box.index(caption) < box.index(view)


def test_span_attributes_are_asked_for_their_labels_only():
    scheme = Scheme.from_dict(attributed_scheme_dict())
    root = config_tree(scheme)
    found = controls(root)
    when = {name: (found[name].get("whenTagName"), found[name].get("whenLabelValue"))
            for name in ("negated", "tags", "weight", "comment", "kind")}
    # An attribute without labels names every label of its field: Label Studio 1.23 ignores
    # whenTagName on a per-region control, so it would otherwise show for the trigger EV too.
    assert when == {"negated": ("ents", "A"), "tags": ("ents", "A,B"), "weight": ("ents", "A,B,C"),
                    "comment": ("ents", "A,B,C"), "kind": ("evs", "EV")}
    assert (found["negated"].tag, found["tags"].tag, found["weight"].tag, found["comment"].tag) == (
        "Choices", "Choices", "Number", "TextArea")
    assert found["tags"].get("choice") == "multiple" and found["negated"].get("required") == "true"
    assert all(found[n].get("perRegion") == "true" for n in when)
    captions = [el.get("value") for el in root.iter("Header") if el.get("value", "").startswith("Shown when")]
    assert captions == ["Shown when you select a span labelled A",
                        "Shown when you select a span labelled A or B",
                        "Shown when you select a span labelled A or B or C",
                        "Shown when you select a span labelled EV"]
    assert [r.get("value") for r in root.find(".//Relations")] == ["near", "agent", "patient"]


def test_label_studio_sdk_parses_the_config():
    from label_studio_sdk.label_interface import LabelInterface

    scheme = default_scheme()
    li = LabelInterface(build_labeling_config(scheme))
    assert {c.name for c in li.controls} == set(scheme.control_names) == {
        "entities", "events", "attack_type", "killed", "injured", "hostages", "certainty", "note"}
    assert li.get_control("events").labels == ["EVENT"]
    for name in ("attack_type", "killed", "injured", "hostages", "certainty"):
        control = li.get_control(name)
        assert control.attr["perRegion"] == "true" and control.to_name == ["text"]
        assert control.conditionals == {"type": "tag", "name": "events"}
    # Relations are checked on a prediction: a relation between two of its regions passes, one to a
    # region that is not there does not.
    result = prediction_result()
    assert li.validate_prediction({"result": result}, return_errors=True) == []
    dangling = {"type": "relation", "from_id": "t1", "to_id": "nowhere", "direction": "right", "labels": ["victim"]}
    errors = li.validate_prediction({"result": [*result, dangling]}, return_errors=True)
    assert len(errors) == 1 and "nowhere" in str(errors)
    wrong_choice = {**result[2], "value": {**result[2]["value"], "choices": ["Picnic"]}}
    assert li.validate_prediction({"result": [*result, wrong_choice]}, return_errors=True)


# ------------------------------------------------------------------------ the record schema


def valid_v2_record() -> dict[str, Any]:
    return {
        "task_id": 1, "article_id": "0123456789abcdef", "annotation_id": 7, "annotator_id": 2,
        "annotator_email": "ann@example.org", "created_at": "2024-11-23T10:00:00Z", "updated_at": None,
        "lead_time": 12.5, "was_cancelled": False, "ground_truth": False,
        "entities": [span(ALI, "PERSON"), span(TALIBAN, "ORG"), span(KABUL, "GPE"), span(MONDAY, "DATE")],
        "events": [{
            "trigger": {"start": SHOT[0], "end": SHOT[1], "text": SHOT[2]},
            "arguments": [{"role": "victim", **span(ALI, "PERSON")}, {"role": "place", **span(KABUL, "GPE")},
                          {"role": "time", **span(MONDAY, "DATE")}],
            "attack_type": "Assassination", "killed": 1, "injured": None, "hostages": None, "certainty": None,
        }],
        "relations": [{"label": "member_of", "head": span(ALI, "PERSON"), "tail": span(TALIBAN, "ORG")}],
        "note": None,
    }


def record_errors(scheme: Scheme, record: dict[str, Any]) -> list[str]:
    """jsonschema's errors, after checking the compiled check (validation's fast path) agrees."""
    from toolkit.validation.fastcheck import compile_record_check

    schema = build_annotation_schema(scheme)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(record)]
    check = compile_record_check(scheme)
    assert check.compiled and check(record) == (not errors)
    return errors


def test_annotation_schema_is_valid_json_schema_and_accepts_a_v2_record():
    scheme = default_scheme()
    Draft202012Validator.check_schema(build_annotation_schema(scheme))
    assert record_errors(scheme, valid_v2_record()) == []
    empty = {**valid_v2_record(), "entities": [], "events": [], "relations": []}
    assert record_errors(scheme, empty) == []


def broken(edit) -> dict[str, Any]:
    record = copy.deepcopy(valid_v2_record())
    edit(record)
    return record


@pytest.mark.parametrize("what, edit", [
    ("unknown role", lambda r: r["events"][0]["arguments"][0].update(role="bystander")),
    ("missing event attribute key", lambda r: r["events"][0].pop("killed")),
    ("missing arguments key", lambda r: r["events"][0].pop("arguments")),
    ("label on the trigger", lambda r: r["events"][0]["trigger"].update(label="EVENT")),
    ("unknown attack type", lambda r: r["events"][0].update(attack_type="Picnic")),
    ("negative count", lambda r: r["events"][0].update(killed=-1)),
    ("argument without its span label", lambda r: r["events"][0]["arguments"][1].pop("label")),
    ("argument label not a span label", lambda r: r["events"][0]["arguments"][1].update(label="EVENT")),
    ("unknown relation", lambda r: r["relations"][0].update(label="married_to")),
    ("a role used as a relation", lambda r: r["relations"][0].update(label="victim")),
    ("relation without its tail", lambda r: r["relations"][0].pop("tail")),
    ("relation end with an unknown label", lambda r: r["relations"][0]["head"].update(label="PER")),
    ("events not a list", lambda r: r.update(events={})),
])
def test_annotation_schema_rejects(what, edit):
    assert record_errors(default_scheme(), broken(edit)), what


def test_span_items_carry_every_attribute_key():
    scheme = Scheme.from_dict(attributed_scheme_dict())
    item = {"start": 0, "end": 1, "label": "C", "text": "x", "negated": None, "tags": [], "weight": None,
            "comment": None}
    record = {**{k: v for k, v in valid_v2_record().items() if k not in ("entities", "events", "relations", "note")},
              "ents": [item, {**item, "label": "A", "negated": "yes", "tags": ["t1", "t2"], "weight": 2.5,
                              "comment": "sure"}],
              "evs": [{"trigger": {"start": 2, "end": 4, "text": "ab"}, "kind": None,
                       "arguments": [{"role": "agent", "start": 0, "end": 1, "label": "A", "text": "x"}]}],
              "links": [{"label": "near", "head": span((0, 1, "x"), "A"), "tail": span((5, 6, "y"), "B")}]}
    assert record_errors(scheme, record) == []
    schema = build_annotation_schema(scheme)
    attrs = schema["properties"]["ents"]["items"]["properties"]
    # What validation needs and JSON Schema cannot enforce: required-ness and the labels asked for.
    assert (attrs["negated"]["x-required"], attrs["negated"]["x-labels"]) == (True, ["A"])
    assert "x-labels" not in attrs["weight"]
    for key in ("negated", "tags", "weight", "comment"):
        without = copy.deepcopy(record)
        del without["ents"][0][key]
        assert record_errors(scheme, without), f"a span item without {key!r} passed"
    for bad in ({"tags": "t1"}, {"negated": "maybe"}, {"weight": -1}, {"comment": "far too long"},
                {"colour": "red"}):
        wrong = copy.deepcopy(record)
        wrong["ents"][1].update(bad)
        assert record_errors(scheme, wrong), f"{bad} passed"


# --------------------------------------------------------------------------- the task schema


def prediction_result() -> list[dict[str, Any]]:
    """A suggestion as Label Studio takes it: a trigger, a PERSON, the trigger's type and count
    (per-region results with the trigger's region id) and the victim link."""
    at = {"start": SHOT[0], "end": SHOT[1], "text": SHOT[2]}
    return [
        {"id": "t1", "from_name": "events", "to_name": "text", "type": "labels", "value": {**at, "labels": ["EVENT"]}},
        {"id": "p1", "from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": ALI[0], "end": ALI[1], "text": ALI[2], "labels": ["PERSON"]}},
        {"id": "t1", "from_name": "attack_type", "to_name": "text", "type": "choices",
         "value": {**at, "choices": ["Assassination"]}},
        {"id": "t1", "from_name": "killed", "to_name": "text", "type": "number", "value": {**at, "number": 1}},
        {"type": "relation", "from_id": "t1", "to_id": "p1", "direction": "right", "labels": ["victim"]},
    ]


def task_with(result: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": {"text": TEXT, "title": "Judge shot in Kabul", "article_id": "0123456789abcdef"},
            "predictions": [{"model_version": "hand-1", "result": result}]}


def task_errors(scheme: Scheme, task: dict[str, Any]) -> list[str]:
    return [e.message for e in Draft202012Validator(build_task_schema(scheme)).iter_errors(task)]


def test_task_schema_accepts_a_trigger_a_relation_and_per_region_values():
    scheme = default_scheme()
    Draft202012Validator.check_schema(build_task_schema(scheme))
    assert task_errors(scheme, task_with(prediction_result())) == []
    # A relation may come without a label (the annotator gives it one).
    unlabelled = {"type": "relation", "from_id": "t1", "to_id": "p1", "direction": "right"}
    assert task_errors(scheme, task_with([*prediction_result()[:4], unlabelled])) == []


@pytest.mark.parametrize("what, index, edit", [
    ("per-region value without the region id", 2, lambda r: r.pop("id")),
    ("per-region value without the span offsets", 3, lambda r: r["value"].pop("start")),
    ("entity label on the trigger control", 0, lambda r: r["value"].update(labels=["PERSON"])),
    ("relation type not declared", 4, lambda r: r.update(labels=["married_to"])),
    ("relation without its target", 4, lambda r: r.pop("to_id")),
    ("relation with a made-up direction", 4, lambda r: r.update(direction="up")),
    ("the relations field as a control", 2, lambda r: r.update(from_name="relations")),
    ("number typed as choices", 3, lambda r: r.update(type="choices")),
])
def test_task_schema_rejects(what, index, edit):
    result = copy.deepcopy(prediction_result())
    edit(result[index])
    assert task_errors(default_scheme(), task_with(result)), what


def test_v1_task_schema_still_rejects_relations():
    v1 = builtin_scheme("news-events-v1")
    relation = {"type": "relation", "from_id": "a", "to_id": "b", "direction": "right", "labels": ["victim"]}
    assert task_errors(v1, task_with([relation]))


# ------------------------------------------------------------------------------ the features


def test_features_encode_a_v2_record_with_nulls_and_empty_lists():
    from datasets import Dataset

    scheme = default_scheme()
    features = build_features(scheme)
    fields = {name: valid_v2_record()[name] for name in scheme.field_names}
    # A second event with nothing but its trigger: nulls and an empty argument list.
    fields["events"].append({"trigger": {"start": 0, "end": 6, "text": "Gunmen"}, "arguments": [],
                             "attack_type": None, "killed": None, "injured": None, "hostages": None,
                             "certainty": None})
    encoded = features.encode_example(fields)
    # Class ids by hand: PERSON 0, ORG 1, GPE 2, DATE 5; Assassination 0; victim 1, place 3, time 4; member_of 0.
    assert [s["label"] for s in encoded["entities"]] == [0, 1, 2, 5]
    first, second = encoded["events"]
    assert (first["attack_type"], first["killed"], first["injured"], first["certainty"]) == (0, 1, None, None)
    assert [(a["role"], a["label"]) for a in first["arguments"]] == [(1, 0), (3, 2), (4, 5)]
    assert second["arguments"] == [] and second["attack_type"] is None
    assert encoded["relations"] == [{"label": 0, "head": {**span(ALI, "PERSON"), "label": 0},
                                     "tail": {**span(TALIBAN, "ORG"), "label": 1}}]
    # Written to Arrow and read back as label names, nothing lost.
    row = Dataset.from_list([encoded, features.encode_example({**fields, "events": [], "relations": []})],
                            features=features)
    assert row.features == features
    back = row[0]
    names = features["events"].feature["arguments"].feature["role"]
    assert [names.int2str(a["role"]) for a in back["events"][0]["arguments"]] == ["victim", "place", "time"]
    assert back["events"][1]["killed"] is None and back["events"][1]["attack_type"] is None
    assert (row[1]["events"], row[1]["relations"]) == ([], [])
    assert back["events"][0]["trigger"] == {"start": SHOT[0], "end": SHOT[1], "text": SHOT[2]}


def test_features_of_span_attributes():
    from datasets import ClassLabel, Dataset, Value

    scheme = Scheme.from_dict(attributed_scheme_dict())
    features = build_features(scheme)
    item = features["ents"].feature
    assert list(item) == ["start", "end", "label", "text", "negated", "tags", "weight", "comment"]
    assert isinstance(item["negated"], ClassLabel) and item["negated"].names == ["yes", "no"]
    assert item["tags"].feature.names == ["t1", "t2"]
    assert (item["weight"], item["comment"]) == (Value("float64"), Value("string"))
    assert features["links"].feature["head"]["label"].names == ["A", "B", "C"]
    ents = [{"start": 0, "end": 1, "label": "A", "text": "x", "negated": "no", "tags": ["t2"], "weight": 2.5,
             "comment": "c"},
            {"start": 2, "end": 3, "label": "C", "text": "y", "negated": None, "tags": [], "weight": None,
             "comment": None}]
    row = {"ents": ents, "evs": [], "links": []}
    data = Dataset.from_list([features.encode_example(row)], features=features)
    assert data[0]["ents"] == [{**ents[0], "label": 0, "negated": 1, "tags": [1]},
                               {**ents[1], "label": 2}]


# ----------------------------------------------------------------------------- scheme build


def test_scheme_build_writes_the_events_files(tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app
    from toolkit.scaffold import init_workspace
    from toolkit.scheme import check_scheme_files

    ws = init_workspace(tmp_path / "ws", title="Events", scheme="news-events")
    for name in ("labeling_config.xml", "annotation.schema.json", "features.json"):
        (ws.schemas_dir / name).unlink()
    old = os.getcwd()
    os.chdir(ws.root)
    try:
        result = CliRunner().invoke(app, ["scheme", "build"], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert check_scheme_files(ws.schemas_dir) == []
    assert "<Relations" in (ws.schemas_dir / "labeling_config.xml").read_text()
    record = json.loads((ws.schemas_dir / "annotation.schema.json").read_text())
    assert record["properties"]["events"]["items"]["properties"]["arguments"]["type"] == "array"
    features = json.loads((ws.schemas_dir / "features.json").read_text())
    assert set(features) >= {"entities", "events", "relations"}


# ------------------------------------------------------------------------ the real server


@pytest.mark.labelstudio
def test_the_server_takes_the_config_and_a_prediction_with_links(label_studio):
    from toolkit.labelstudio.client import Connection, LabelStudioClient

    config = build_labeling_config(default_scheme())
    other = build_labeling_config(Scheme.from_dict(attributed_scheme_dict()))
    with LabelStudioClient(Connection(url=label_studio.url, token=label_studio.token, embedded=False)) as client:
        project_id = client.create_project(f"events config {os.getpid()}", config)
        assert client.project(project_id)["label_config"].strip() == config.strip()
        assert client.import_tasks(project_id, [task_with(prediction_result())]) == 1
        (stored,) = client.predictions(project_id)
        # Kept as given: region ids, per-region values, the relation and its label.
        assert [{k: r.get(k) for k in ("id", "from_name", "type", "value", "from_id", "to_id", "labels")}
                for r in stored["result"]] == [
            {k: r.get(k) for k in ("id", "from_name", "type", "value", "from_id", "to_id", "labels")}
            for r in prediction_result()]
        other_id = client.create_project(f"attributed config {os.getpid()}", other)
        assert client.project(other_id)["label_config"].strip() == other.strip()


def test_role_and_relation_descriptions_are_in_the_form():
    # Label Studio's <Relation> has no hint: each value is explained in a folded panel of the form.
    scheme = default_scheme()
    root = config_tree(scheme)
    panels = {panel.get("value"): [h.get("value") for h in panel.iter("Header")] for panel in root.iter("Panel")}
    events = scheme.field("events")
    roles = panels["Arguments: " + ", ".join(events.role_values)]
    for role in events.roles:
        assert any(line.startswith(f"\u2022 {role.value} (") and line.endswith(role.description) for line in roles)
    assert "\u2022 time (DATE, at most one): When it happened." in roles
    types = panels["Types: member_of, located_in"]
    assert "\u2022 member_of (PERSON \u2192 ORG, NORP): " + scheme.field("relations").relations[0].description in types
    assert all("Alt+R" in lines[0] for lines in panels.values())
