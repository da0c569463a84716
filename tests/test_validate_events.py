"""Events, relations and span attributes: Label Studio results -> records, and their named errors.

The article below starts with an emoji: one code point for Python, two UTF-16 code units for the
browser, so every offset Label Studio sends is one more than the record's. Every expected record
here was worked out by hand from the text (the offsets are in the comments).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit.articles import ARTICLE_SCHEMA, article_id
from toolkit.scaffold import init_workspace
from toolkit.scheme import Scheme, build_annotation_schema, builtin_scheme, default_scheme
from toolkit.ingest import store
from toolkit.validation import (ERROR_TYPES, QUARANTINE_REASONS, RecordChecker, iter_parquet_records, normalise_task,
                                records_arrow_schema, records_to_table, result_hash, validate_export,
                                validate_workspace)

#       0 2      9       17  21            35 38        48 51     59 60        70 73         84   89 91   96       105
TEXT = "🔥 Gunmen stormed the Jazeera Hotel in Mogadishu on Tuesday. Ahmed Ali of Al-Shabaab said a bomb exploded later."
ARTICLE = article_id(TEXT)
SCHEME = default_scheme()
TASK_ID, ANNOTATION_ID = 7, 70


def region(rid: str, name: str, start: int, end: int, text: str, label: str) -> dict[str, Any]:
    return {"id": rid, "from_name": name, "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def attribute(rid: str, name: str, kind: str, start: int, end: int, text: str, **answer: Any) -> dict[str, Any]:
    """A per-region control's result: the region's id and offsets, and the answer."""
    return {"id": rid, "from_name": name, "to_name": "text", "type": kind,
            "value": {"start": start, "end": end, "text": text, **answer}}


def relation(from_id: str, to_id: str, direction: str, *labels: str) -> dict[str, Any]:
    return {"type": "relation", "from_id": from_id, "to_id": to_id, "direction": direction, "labels": list(labels)}


# Offsets as the browser counts them (UTF-16): the record's plus one.
ENTITIES = [
    region("e1", "entities", 22, 35, "Jazeera Hotel", "FAC"),
    region("e2", "entities", 39, 48, "Mogadishu", "GPE"),
    region("e3", "entities", 52, 59, "Tuesday", "DATE"),
    region("e4", "entities", 61, 70, "Ahmed Ali", "PERSON"),
    region("e5", "entities", 74, 84, "Al-Shabaab", "ORG"),
    region("e6", "entities", 92, 96, "bomb", "WEAPON"),
]
TRIGGERS = [  # the later event first: events are sorted by trigger in the record
    region("t2", "events", 97, 105, "exploded", "EVENT"),
    region("t1", "events", 10, 17, "stormed", "EVENT"),
]
ATTRIBUTES = [
    attribute("t1", "attack_type", "choices", 10, 17, "stormed", choices=["Armed Assault"]),
    attribute("t1", "killed", "number", 10, 17, "stormed", number=3),
    attribute("t1", "certainty", "choices", 10, 17, "stormed", choices=["confirmed"]),
    attribute("t2", "attack_type", "choices", 97, 105, "exploded", choices=["Bombing/Explosion"]),
]
LINKS = [
    relation("t1", "e1", "right", "target"),     # trigger -> span
    relation("e2", "t1", "right", "place"),      # span -> trigger: still an argument of t1
    relation("t1", "e3", "left", "time"),        # the direction does not matter for an argument
    relation("t2", "e6", "right", "weapon"),
    relation("e5", "t2", "right", "perpetrator"),
    relation("e4", "e5", "right", "member_of"),  # head = from
    relation("e2", "e1", "left", "located_in"),  # left: head = to (the hotel), tail = from (the city)
]
RESULTS = ENTITIES + TRIGGERS + ATTRIBUTES + LINKS


def span(start: int, end: int, label: str, text: str) -> dict[str, Any]:
    return {"start": start, "end": end, "label": label, "text": text}


HOTEL, CITY, TUESDAY = span(21, 34, "FAC", "Jazeera Hotel"), span(38, 47, "GPE", "Mogadishu"), span(51, 58, "DATE",
                                                                                                      "Tuesday")
AHMED, SHABAAB, BOMB = span(60, 69, "PERSON", "Ahmed Ali"), span(73, 83, "ORG", "Al-Shabaab"), span(91, 95, "WEAPON",
                                                                                                    "bomb")
EXPECTED_VALUES: dict[str, Any] = {
    "entities": [HOTEL, CITY, TUESDAY, AHMED, SHABAAB, BOMB],
    "events": [
        {"trigger": {"start": 9, "end": 16, "text": "stormed"},
         "arguments": [{"role": "target", **HOTEL}, {"role": "place", **CITY}, {"role": "time", **TUESDAY}],
         "attack_type": "Armed Assault", "killed": 3, "injured": None, "hostages": None, "certainty": "confirmed"},
        {"trigger": {"start": 96, "end": 104, "text": "exploded"},
         "arguments": [{"role": "perpetrator", **SHABAAB}, {"role": "weapon", **BOMB}],
         "attack_type": "Bombing/Explosion", "killed": None, "injured": None, "hostages": None, "certainty": None},
    ],
    "relations": [  # by head start: the hotel (21) before Ahmed Ali (60)
        {"label": "located_in", "head": HOTEL, "tail": CITY},
        {"label": "member_of", "head": AHMED, "tail": SHABAAB},
    ],
    "note": None,
}
HEAD = {"task_id": TASK_ID, "article_id": ARTICLE, "annotation_id": ANNOTATION_ID, "annotator_id": 3,
        "annotator_email": "ann@example.org", "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-05T10:00:00Z", "lead_time": 42.0, "was_cancelled": False, "ground_truth": False,
        "updated_by_id": None, "updated_by_email": None, "edited_by_other": False}


def task(results: list[Any], *, cancelled: bool = False) -> dict[str, Any]:
    return {"id": TASK_ID, "data": {"text": TEXT, "article_id": ARTICLE},
            "annotations": [{"id": ANNOTATION_ID, "completed_by": {"id": 3, "email": "ann@example.org"},
                             "created_at": HEAD["created_at"], "updated_at": HEAD["updated_at"],
                             "lead_time": 42.0, "was_cancelled": cancelled, "ground_truth": False,
                             "result": copy.deepcopy(results)}]}


def record_of(results: list[Any], scheme: Scheme = SCHEME) -> dict[str, Any]:
    out = normalise_task(task(results), scheme)
    assert out.quarantine == [], out.quarantine
    (record,) = out.records
    return record


# ------------------------------------------------------------------------------ mapping


def test_a_labelled_task_normalises_to_exactly_the_record():
    out = normalise_task(task(RESULTS), SCHEME)
    assert out.quarantine == []
    assert out.records == [{**HEAD, **EXPECTED_VALUES}]
    # 6 entities and 2 triggers, each after the emoji: all converted from UTF-16 units.
    assert out.offsets.to_dict() == {"checked": 8, "ok": 0, "converted": 8, "repaired": 0, "quarantined": 0}
    assert RecordChecker(SCHEME).errors(out.records[0], TEXT) == []


def test_the_record_does_not_depend_on_the_order_of_the_results():
    # Relations and attributes before the regions they point at.
    backwards = record_of(list(reversed(RESULTS)))
    assert backwards["events"] == EXPECTED_VALUES["events"]
    assert backwards["relations"] == EXPECTED_VALUES["relations"]
    assert result_hash(backwards, SCHEME) == result_hash({**HEAD, **EXPECTED_VALUES}, SCHEME)


def test_relation_ends_and_arguments_follow_a_repaired_span():
    # "Mogadishu" given two characters early (neither code points nor UTF-16 units): it occurs once,
    # so it is repaired to 38-47, and the place argument and the located_in tail move with it.
    results = copy.deepcopy(RESULTS)
    results[1] = region("e2", "entities", 37, 46, "Mogadishu", "GPE")
    out = normalise_task(task(results), SCHEME)
    assert out.offsets.repaired == 1 and out.quarantine == []
    (record,) = out.records
    assert record["events"][0]["arguments"][1] == {"role": "place", **CITY}
    assert record["relations"][0] == {"label": "located_in", "head": HOTEL, "tail": CITY}


def test_a_trigger_whose_offsets_cannot_be_placed_quarantines_the_annotation():
    results = copy.deepcopy(RESULTS)
    results[6] = region("t2", "events", 97, 105, "imploded", "EVENT")  # not in the article
    out = normalise_task(task(results), SCHEME)
    assert out.records == []
    (entry,) = out.quarantine
    # Its attribute and its arguments are not reported again: the trigger's own error says it.
    assert [e["type"] for e in entry["errors"]] == ["span-offsets"]
    assert "trigger result[6] of field 'events'" in entry["errors"][0]["message"]


def test_missing_or_repeated_region_ids_that_nothing_points_at_do_no_harm():
    results = [{k: v for k, v in ENTITIES[0].items() if k != "id"},  # made by an API client: no id
               region("same", "entities", 39, 48, "Mogadishu", "GPE"),
               region("same", "entities", 52, 59, "Tuesday", "DATE")]
    record = record_of(results)
    assert record["entities"] == [HOTEL, CITY, TUESDAY]
    assert record["events"] == [] and record["relations"] == []


def test_a_cancelled_annotation_has_empty_events_and_relations():
    (record,) = normalise_task(task([], cancelled=True), SCHEME).records
    assert record["events"] == [] and record["relations"] == [] and record["was_cancelled"] is True
    assert RecordChecker(SCHEME).errors(record, TEXT) == []


# A link the record cannot hold quarantines the whole annotation: (results, code, path, words of the message).
MAPPING_DEFECTS = {
    "relation to a deleted region": (
        [relation("t1", "gone", "right", "victim")], "relation-end-missing", "result[19].to_id",
        ["'gone' is no span or trigger", "'victim', a role of events field 'events'"]),
    "relation without a label": (
        [relation("e4", "e5", "right")], "relation-unlabelled", "result[19].labels",
        ["has no label", "field 'entities'", "field 'relations'"]),
    "label from another config": (
        [relation("e4", "e5", "right", "friend_of")], "relation-unknown-label", "result[19].labels",
        ["'friend_of'", "field 'relations': member_of, located_in"]),
    "directed relation drawn both ways": (
        [relation("e4", "e5", "bi", "member_of")], "relation-direction", "result[19].direction",
        ["'bi'", "'member_of' (field 'relations') is directed"]),
    "argument between two triggers": (
        [relation("t1", "t2", "right", "victim")], "relation-end-kind", "result[19].labels",
        ["both ends are triggers", "field 'events'"]),
    "argument between two spans": (
        [relation("e4", "e5", "right", "victim")], "relation-end-kind", "result[19].labels",
        ["no end is a trigger of events field 'events'"]),
    "relation type touching a trigger": (
        [relation("t1", "e5", "right", "member_of")], "relation-end-kind", "result[19].labels",
        ["'member_of' relation (field 'relations')", "an end is an event trigger"]),
    "attribute of a deleted region": (
        [attribute("gone", "killed", "number", 10, 17, "stormed", number=2)], "attribute-orphan", "result[19].id",
        ["attribute 'killed'", "no trigger of field 'events'"]),
    "event attribute on an entity span": (
        [attribute("e1", "killed", "number", 22, 35, "Jazeera Hotel", number=2)], "attribute-orphan",
        "result[19].id", ["region 'e1'", "no trigger of field 'events'"]),
    "two regions with the id a relation names": (
        [region("e4", "entities", 106, 111, "later", "DATE")], "region-duplicate-id", "result[17].labels",
        ["region id 'e4'", "2 regions share"]),
    "trigger with an entity label": (
        [region("t3", "events", 85, 89, "said", "PERSON")], "trigger-label", "result[19].value.labels",
        ["events field 'events'", "'EVENT'"]),
    "attribute answered with the wrong control": (
        [attribute("t1", "killed", "choices", 10, 17, "stormed", choices=["3"])], "wrong-result-type",
        "result[19].type", ["attribute 'killed' of field 'events'"]),
}


@pytest.mark.parametrize("name", sorted(MAPPING_DEFECTS))
def test_a_link_the_record_cannot_hold_quarantines_the_whole_annotation(name):
    extra, code, path, words = MAPPING_DEFECTS[name]
    out = normalise_task(task(RESULTS + extra), SCHEME)
    assert out.records == []  # never a record that looks complete without the link
    (entry,) = out.quarantine
    assert entry["kind"] == "annotation" and entry["task_id"] == TASK_ID and entry["annotation_id"] == ANNOTATION_ID
    assert entry["raw"]["result"] == RESULTS + extra  # everything the annotator did is kept
    assert [(e["type"], e["path"]) for e in entry["errors"]] == [(code, path)]
    message = entry["errors"][0]["message"]
    assert message.startswith(f"task {TASK_ID}, annotation {ANNOTATION_ID}: ")
    for word in words:
        assert word in message
    assert code in QUARANTINE_REASONS and code in ERROR_TYPES


def test_a_scheme_without_relations_still_calls_a_relation_an_unknown_control():
    v1 = builtin_scheme("news-events-v1")
    out = normalise_task(task([ENTITIES[3], ENTITIES[4], relation("e4", "e5", "right", "member_of")]), v1)
    assert out.records == []
    assert [e["type"] for e in out.quarantine[0]["errors"]] == ["unknown-control"]
    entities = records_arrow_schema(v1).field("entities").type
    assert entities == pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()),
                                           ("text", pa.string())]))


# ------------------------------------------------------------------- semantic checks

# One result added to the labelled task: (results, the one error (type, path)).
SEMANTIC_DEFECTS = {
    # Mogadishu (GPE) as a member: member_of goes from a PERSON. Relations by head: 21, 38, 60.
    "relation-end-label": ([relation("e2", "e5", "right", "member_of")], ("relation-end-label",
                                                                          "relations[1].head.label")),
    # Ahmed Ali (PERSON) as the weapon of the storming; arguments of t1 by start: 21, 38, 51, 60.
    "argument-role-label": ([relation("t1", "e4", "right", "weapon")], ("argument-role-label",
                                                                         "events[0].arguments[3].label")),
    # A second time of the storming ("later", DATE, code points 105-110): time is unique.
    "argument-duplicate-role": ([region("e7", "entities", 106, 111, "later", "DATE"),
                                 relation("e7", "t1", "right", "time")],
                                ("argument-duplicate-role", "events[0].arguments[3].role")),
}


def write_export(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(SEMANTIC_DEFECTS))
def test_each_semantic_defect_is_named_in_the_report(tmp_path, name):
    extra, expected = SEMANTIC_DEFECTS[name]
    report = validate_export(write_export(tmp_path / "export.json", [task(RESULTS + extra)]), SCHEME, workers=1)
    assert [(e.type, e.path) for e in report.errors] == [expected]
    (error,) = report.errors
    assert (error.task_id, error.annotation_id, error.annotator) == (TASK_ID, ANNOTATION_ID, "ann@example.org")
    assert error.message.startswith(f"task {TASK_ID}, annotation {ANNOTATION_ID}: {expected[1]}: ")
    assert (report.records, report.quarantined, report.valid) == (1, 1, False)


def test_a_required_event_attribute_left_empty():
    results = [r for r in RESULTS if not (r.get("id") == "t2" and r.get("from_name") == "attack_type")]
    record = record_of(results)
    errors = RecordChecker(SCHEME).errors(record, TEXT)
    assert [(e.type, e.path) for e in errors] == [("attribute-missing", "events[1].attack_type")]
    assert "'attack_type' is required" in errors[0].message and "'exploded'" in errors[0].message
    # A skipped annotation is not asked for it.
    assert RecordChecker(SCHEME).errors({**record, "was_cancelled": True, "entities": [], "events": [],
                                         "relations": []}, TEXT) == []


def edited(change) -> dict[str, Any]:
    # Through JSON: the expected values share span dicts, and a change must touch only one place.
    record = json.loads(json.dumps({**HEAD, **EXPECTED_VALUES}))
    change(record)
    return record


# Records as a hand edit or an older scheme leaves them: (change, the one error (type, path)).
RECORD_DEFECTS = {
    "trigger past the end": (lambda r: r["events"][0]["trigger"].update(end=500),
                             ("span-out-of-bounds", "events[0].trigger")),
    "argument text not the article's": (lambda r: r["events"][1]["arguments"][1].update(text="gun"),
                                        ("span-text-mismatch", "events[1].arguments[1].text")),
    "relation end not a span of the record": (lambda r: r["entities"].remove(AHMED),
                                              ("relation-end-missing", "relations[1].head")),
    "relation without a label": (lambda r: r["relations"][0].update(label=None),
                                 ("relation-unlabelled", "relations[0].label")),
    "argument role the scheme lacks": (lambda r: r["events"][0]["arguments"][0].update(role="bystander"),
                                       ("relation-unknown-label", "events[0].arguments[0].role")),
    "count too large to store": (lambda r: r["events"][0].update(killed=2 ** 64),
                                 ("out-of-range", "events[0].killed")),
}


@pytest.mark.parametrize("name", sorted(RECORD_DEFECTS))
def test_records_are_checked_on_their_own(name):
    change, expected = RECORD_DEFECTS[name]
    errors = RecordChecker(SCHEME).errors(edited(change), TEXT)
    assert [(e.type, e.path) for e in errors] == [expected]
    assert errors[0].message.startswith(f"task {TASK_ID}, annotation {ANNOTATION_ID}: {expected[1]}: ")


def scheme_with(edit) -> Scheme:
    data = SCHEME.to_dict()
    edit(data)
    return Scheme.from_dict(data)


def test_a_relation_type_removed_from_the_scheme_is_reported_by_name():
    def drop_located_in(data):
        relations = next(f for f in data["fields"] if f["name"] == "relations")
        relations["relations"] = [r for r in relations["relations"] if r["value"] != "located_in"]

    errors = RecordChecker(scheme_with(drop_located_in)).errors({**HEAD, **EXPECTED_VALUES}, TEXT)
    # One error, named; not also the schema's generic "not one of" at the same path.
    assert [(e.type, e.path) for e in errors] == [("relation-unknown-label", "relations[0].label")]
    assert "'located_in' is not a relation type of 'relations' (member_of)" in errors[0].message


# ------------------------------------------------------------------ span attributes

CASUALTY = {"name": "casualty", "kind": "choice", "description": "What happened to the person.",
            "required": True, "multiple": False, "labels": ["PERSON"],
            "choices": [{"value": "killed"}, {"value": "injured"}, {"value": "unharmed"}]}
MENTION = {"name": "mention", "kind": "choice", "description": "How the entity is named.", "required": False,
           "multiple": True, "choices": [{"value": "name"}, {"value": "title"}]}


def with_span_attributes(data):
    entities = next(f for f in data["fields"] if f["name"] == "entities")
    entities["attributes"] = [CASUALTY, MENTION]


ATTRIBUTE_SCHEME = scheme_with(with_span_attributes)
ALI_KILLED = attribute("e4", "casualty", "choices", 61, 70, "Ahmed Ali", choices=["killed"])
ALI_NAMED = attribute("e4", "mention", "choices", 61, 70, "Ahmed Ali", choices=["name", "title"])


def test_span_attributes_become_keys_of_every_span():
    record = record_of(RESULTS + [ALI_KILLED, ALI_NAMED], ATTRIBUTE_SCHEME)
    # Every attribute on every span: null / [] when not given or not asked for the label.
    none = {"casualty": None, "mention": []}
    assert record["entities"] == [{**HOTEL, **none}, {**CITY, **none}, {**TUESDAY, **none},
                                  {**AHMED, "casualty": "killed", "mention": ["name", "title"]},
                                  {**SHABAAB, **none}, {**BOMB, **none}]
    # Relation ends and arguments stay {start, end, label, text}.
    assert record["relations"] == EXPECTED_VALUES["relations"]
    assert RecordChecker(ATTRIBUTE_SCHEME).errors(record, TEXT) == []


def test_span_attribute_defects():
    checker = RecordChecker(ATTRIBUTE_SCHEME)  # one run: record_errors leaves out the checks across records
    # The only PERSON span without its required casualty.
    missing = record_of(RESULTS, ATTRIBUTE_SCHEME)
    assert [(e.type, e.path) for e in checker.record_errors(missing, TEXT)] == [("attribute-missing", "entities[3].casualty")]
    # Asked only of PERSON spans, given on the ORG span.
    shabaab = attribute("e5", "casualty", "choices", 74, 84, "Al-Shabaab", choices=["injured"])
    misplaced = record_of(RESULTS + [ALI_KILLED, shabaab], ATTRIBUTE_SCHEME)
    errors = checker.record_errors(misplaced, TEXT)
    assert [(e.type, e.path) for e in errors] == [("attribute-label", "entities[4].casualty")]
    assert "'ORG' span ('Al-Shabaab')" in errors[0].message and "only of PERSON" in errors[0].message
    # The overlap rule of the spans field still holds for spans with attributes.
    # "Ahmed" (60-65) inside "Ahmed Ali" (60-69): sorted by offsets, the longer one (entities[3]) comes second.
    overlapping = record_of(RESULTS + [ALI_KILLED, region("e8", "entities", 61, 66, "Ahmed", "PERSON"),
                                       attribute("e8", "casualty", "choices", 61, 66, "Ahmed", choices=["killed"])],
                            ATTRIBUTE_SCHEME)
    assert [(e.type, e.path) for e in checker.record_errors(overlapping, TEXT)] == [("overlapping-spans", "entities[3]")]


def test_records_of_every_kind_round_trip_through_parquet(tmp_path):
    record = record_of(RESULTS + [ALI_KILLED, ALI_NAMED], ATTRIBUTE_SCHEME)
    path = tmp_path / "annotations.parquet"
    pq.write_table(records_to_table([record], ATTRIBUTE_SCHEME), path)
    types = records_arrow_schema(ATTRIBUTE_SCHEME)
    entity = types.field("entities").type.value_type
    assert entity.field("start").type == pa.int32() and entity.field("mention").type == pa.list_(pa.string())
    event = types.field("events").type.value_type
    assert event.field("killed").type == pa.int64()
    assert event.field("arguments").type.value_type.field("end").type == pa.int32()
    (back,) = iter_parquet_records(path, ATTRIBUTE_SCHEME)
    assert back == {**record, "created_at": "2026-01-05T10:00:00+00:00", "updated_at": "2026-01-05T10:00:00+00:00"}


def test_the_generated_record_schema_accepts_the_record():
    # The JSON Schema of records comes from toolkit.scheme; the record above must satisfy it.
    import jsonschema

    schema = build_annotation_schema(SCHEME)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors({**HEAD, **EXPECTED_VALUES})) == []


# ------------------------------------------------------------------------ workspace


def test_workspace_validation_quarantines_the_defective_annotation_and_keeps_the_other(tmp_path):
    ws = init_workspace(tmp_path / "ws", title="Test events", scheme="news-events")
    row = {"article_id": ARTICLE, "title": "Hotel stormed", "text": TEXT, "published": None, "source_url": None,
           "source_name": None, "language": "en", "n_chars": len(TEXT), "n_words": len(TEXT.split()),
           "format": "jsonl", "source_file": "raw/a.jsonl", "raw_sha256": "0" * 64, "sources": [],
           "cluster_id": ARTICLE, "warnings": []}
    store.write_table(ws, pa.Table.from_pylist([row], schema=ARTICLE_SCHEMA))
    good = record_of(RESULTS)
    extra, (code, path) = SEMANTIC_DEFECTS["argument-duplicate-role"]
    bad = {**record_of(RESULTS + extra), "annotation_id": 71, "annotator_id": 4, "annotator_email": "ben@example.org"}
    pq.write_table(records_to_table([good, bad], SCHEME), ws.annotations_dir / "annotations.parquet")

    report = validate_workspace(ws)
    assert (report.records, report.valid_records, report.quarantined, report.newly_quarantined) == (2, 1, 1, 1)
    assert [(e.type, e.path, e.annotation_id) for e in report.errors] == [(code, path, 71)]
    (entry,) = [json.loads(line) for line in (ws.annotations_dir / "quarantine.jsonl").read_text().splitlines()]
    assert entry["annotation_id"] == 71 and [e["type"] for e in entry["errors"]] == [code]
    assert entry["errors"][0]["message"].startswith(f"task {TASK_ID}, annotation 71: {path}: ")
    assert entry["record"]["events"][0]["arguments"][3]["text"] == "later"
    (kept,) = iter_parquet_records(ws.annotations_dir / "annotations.parquet", SCHEME)
    assert kept["events"] == EXPECTED_VALUES["events"] and kept["relations"] == EXPECTED_VALUES["relations"]


def test_parallel_validation_of_an_export_reports_what_one_process_does(tmp_path):
    tasks = []
    for number, name in enumerate(sorted(SEMANTIC_DEFECTS) + sorted(MAPPING_DEFECTS)):
        extra = (SEMANTIC_DEFECTS.get(name) or MAPPING_DEFECTS[name])[0]
        one = task(RESULTS + extra)
        one["id"], one["annotations"][0]["id"] = 100 + number, 1000 + number
        tasks.append(one)
    path = write_export(tmp_path / "export.json", tasks + [task(RESULTS)])
    report = validate_export(path, SCHEME, workers=1)
    assert (report.records, report.quarantined) == (len(tasks) + 1, len(tasks))
    assert validate_export(path, SCHEME, workers=2).to_dict() == report.to_dict()
