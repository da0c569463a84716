"""Label Studio tasks -> normalised records: mapping, offsets, quarantine, Arrow."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pytest

from toolkit.errors import InputError
from toolkit.validation.exports import iter_export_tasks
from toolkit.ingest.dedup import article_id
from toolkit.validation.normalise import (
    DRAFT_KEYS,
    PREDICTION_KEYS,
    QUARANTINE_REASONS,
    RECORD_KEYS,
    NormalisedTask,
    OffsetStats,
    drafts_to_table,
    normalise_task,
    predictions_arrow_schema,
    predictions_to_table,
    records_arrow_schema,
    records_to_table,
    result_hash,
)
from toolkit.scheme import Label, Scheme, SpanField, build_annotation_schema, builtin_scheme

from .conftest import DATA, REPO
from .test_exports import EMOJI_TEXT, PLAIN_TEXT, REPAIR_TEXT

# The article-level scheme (version 1) this module's cases are written for.
SCHEME = builtin_scheme("news-events-v1")
VALIDATOR = jsonschema.Draft202012Validator(
    build_annotation_schema(SCHEME),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
CORPUS = REPO.parent / "shared" / "corpus" / "ls_exports"

EXAMPLE_TEXT = "A group of men held guards hostage in the prison for two days."
EXAMPLE_TASK: dict[str, Any] = {
    "id": 1,
    "data": {"text": EXAMPLE_TEXT, "title": "Prison siege", "published": "2024-11-23",
             "source_url": None, "article_id": "0140e3303133de21"},
    "annotations": [
        {"id": 1, "completed_by": 2, "updated_by": 2, "was_cancelled": False, "ground_truth": False,
         "lead_time": 12.5, "created_at": "2026-11-25T06:22:24.217278Z",
         "updated_at": "2026-11-25T06:22:24.217305Z", "task": 1, "project": 1,
         "result": [
             {"from_name": "entities", "to_name": "text", "type": "labels",
              "value": {"start": 2, "end": 9, "text": "group o", "labels": ["PERSON"]}},
             {"from_name": "event_type", "to_name": "text", "type": "choices",
              "value": {"choices": ["Hostage Taking (Barricade Incident)"]}},
             {"from_name": "killed", "to_name": "text", "type": "number", "value": {"number": 1}},
             {"from_name": "note", "to_name": "text", "type": "textarea",
              "value": {"text": ["a note"]}}]},
        {"id": 2, "completed_by": 1, "was_cancelled": True, "ground_truth": False,
         "lead_time": 1.0, "created_at": "2026-11-25T06:30:00.000000Z",
         "updated_at": "2026-11-25T06:30:00.000000Z", "task": 1, "project": 1, "result": []}],
    "predictions": [{"id": 1, "model_version": "m1", "score": 0.5,
                     "created_at": "2026-11-25T05:00:00.000000Z", "result": [
                         {"from_name": "event_type", "to_name": "text", "type": "choices",
                          "value": {"choices": ["Unknown"]}}]}],
    "drafts": [{"id": 3, "user": 2, "annotation": None, "lead_time": 3.0, "was_postponed": False,
                "created_at": "2026-11-25T06:10:00.000000Z",
                "updated_at": "2026-11-25T06:11:00.000000Z", "result": [
                    {"from_name": "killed", "to_name": "text", "type": "number",
                     "value": {"number": 2}}]}],
}


def normalise_file(name: str, users: dict[int, str] | None = None) -> NormalisedTask:
    total = NormalisedTask()
    for task in iter_export_tasks(DATA / name, SCHEME):
        one = normalise_task(task, SCHEME, users)
        total.records += one.records
        total.drafts += one.drafts
        total.predictions += one.predictions
        total.quarantine += one.quarantine
        total.offsets += one.offsets
        total.notes += one.notes
    return total


def results(*items: dict[str, Any]) -> dict[str, Any]:
    """A task on EXAMPLE_TEXT with one annotation made of ``items``."""
    task = copy.deepcopy(EXAMPLE_TASK)
    task["annotations"] = [dict(task["annotations"][0], result=list(items))]
    task["drafts"], task["predictions"] = [], []
    return task


def spans(value: dict[str, Any], name: str = "entities") -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "labels", "value": value}


def error_types(entry: dict[str, Any]) -> list[str]:
    return [error["type"] for error in entry["errors"]]


# -------------------------------------------------------------------- mapping


def test_example_record_is_exactly_the_contract() -> None:
    out = normalise_task(EXAMPLE_TASK, SCHEME, {2: "ann@example.org"})
    assert out.records[0] == {
        "task_id": 1, "article_id": "0140e3303133de21", "annotation_id": 1, "annotator_id": 2,
        "annotator_email": "ann@example.org", "created_at": "2026-11-25T06:22:24.217278Z",
        "updated_at": "2026-11-25T06:22:24.217305Z", "lead_time": 12.5, "was_cancelled": False,
        "ground_truth": False, "updated_by_id": 2, "updated_by_email": "ann@example.org", "edited_by_other": False,
        "entities": [{"start": 2, "end": 9, "label": "PERSON", "text": "group o"}],
        "event_type": "Hostage Taking (Barricade Incident)", "killed": 1, "injured": None,
        "hostages": None, "note": "a note",
    }
    assert list(out.records[0]) == [*RECORD_KEYS, *SCHEME.field_names]
    assert out.offsets == OffsetStats(checked=1, ok=1)
    assert out.quarantine == [] and out.notes == []


def test_an_edit_by_another_account_is_told_from_an_import_on_someones_behalf() -> None:
    users = {2: "ann@example.org", 3: "ben@example.org", 1: "admin@example.org"}
    task = copy.deepcopy(EXAMPLE_TASK)
    annotation = task["annotations"][0]
    # Made by the admin's API call on ann's behalf: updated_by is the admin, in the same save.
    annotation["updated_by"] = 1
    record = normalise_task(task, SCHEME, users).records[0]
    assert (record["updated_by_id"], record["edited_by_other"]) == (1, False)
    # Ben opened ann's annotation a minute later and pressed Update.
    annotation["updated_by"] = 3
    annotation["updated_at"] = "2026-11-25T06:23:30.000000Z"
    record = normalise_task(task, SCHEME, users).records[0]
    assert (record["annotator_email"], record["updated_by_email"], record["edited_by_other"]) == \
        ("ann@example.org", "ben@example.org", True)
    # Ann's own later change is still her answer.
    annotation["updated_by"] = 2
    assert normalise_task(task, SCHEME, users).records[0]["edited_by_other"] is False
    # An export without updated_by says nothing either way.
    del annotation["updated_by"]
    assert normalise_task(task, SCHEME, users).records[0]["edited_by_other"] is False


def test_cancelled_annotation_is_kept_and_flagged() -> None:
    cancelled = normalise_task(EXAMPLE_TASK, SCHEME).records[1]
    assert cancelled["was_cancelled"] is True
    assert cancelled["annotation_id"] == 2 and cancelled["annotator_email"] is None
    assert {name: cancelled[name] for name in SCHEME.field_names} == {
        "entities": [], "event_type": None, "killed": None, "injured": None, "hostages": None,
        "note": None}


def test_drafts_and_predictions() -> None:
    out = normalise_task(EXAMPLE_TASK, SCHEME, {2: "ann@example.org"})
    assert out.drafts == [{
        "task_id": 1, "article_id": "0140e3303133de21", "draft_id": 3, "annotation_id": None,
        "annotator_id": 2, "annotator_email": "ann@example.org",
        "created_at": "2026-11-25T06:10:00.000000Z", "updated_at": "2026-11-25T06:11:00.000000Z",
        "lead_time": 3.0, "was_postponed": False, "entities": [], "event_type": None,
        "killed": 2, "injured": None, "hostages": None, "note": None}]
    assert out.predictions == [{
        "task_id": 1, "article_id": "0140e3303133de21", "prediction_id": 1,
        "model_version": "m1", "score": 0.5, "created_at": "2026-11-25T05:00:00.000000Z",
        "entities": [], "event_type": "Unknown", "killed": None, "injured": None,
        "hostages": None, "note": None}]
    assert list(out.drafts[0]) == [*DRAFT_KEYS, *SCHEME.field_names]
    assert list(out.predictions[0]) == [*PREDICTION_KEYS, *SCHEME.field_names]


def test_full_export_two_annotators_ground_truth_cancelled_draft_prediction() -> None:
    out = normalise_file("export-full.json", users={2: "a@example.org"})
    by_id = {r["annotation_id"]: r for r in out.records}
    assert sorted(by_id) == [11, 12, 13, 14]
    assert (by_id[11]["annotator_id"], by_id[11]["annotator_email"]) == (2, "a@example.org")
    # completed_by as a dict (older exports) carries its own e-mail
    assert (by_id[12]["annotator_id"], by_id[12]["annotator_email"]) == (3, "b@example.org")
    assert (by_id[13]["annotator_id"], by_id[13]["annotator_email"]) == (4, None)
    assert [r["annotation_id"] for r in out.records if r["ground_truth"]] == [12]
    assert [r["annotation_id"] for r in out.records if r["was_cancelled"]] == [13]
    assert by_id[11]["hostages"] == 12 and by_id[11]["note"] == "a note"
    assert [s["label"] for s in by_id[11]["entities"]] == ["FAC", "GPE", "DATE"]
    assert [(d["draft_id"], d["was_postponed"]) for d in out.drafts] == [(21, True)]
    assert out.drafts[0]["entities"] == [
        {"start": 11, "end": 17, "label": "PERSON", "text": "gunmen"}]
    assert [(p["prediction_id"], p["model_version"]) for p in out.predictions] == [
        (31, "ner-baseline")]
    assert out.quarantine == []
    assert out.offsets == OffsetStats(checked=8, ok=8)  # 3 + 1 + draft + prediction + 2
    # Task 2 has no data.article_id: derived from the text, and said so.
    assert by_id[14]["article_id"] == article_id(PLAIN_TEXT)
    assert out.notes == [f"task 2: no data.article_id; derived {article_id(PLAIN_TEXT)} "
                         "from the text"]


@pytest.mark.parametrize("name", ["export-full.json", "export-emoji.json",
                                  "export-offsets-repaired.json"])
def test_records_of_valid_input_validate_against_the_annotation_schema(name: str) -> None:
    out = normalise_file(name)
    assert out.records
    for record in out.records:
        assert list(VALIDATOR.iter_errors(record)) == []


def test_faithful_mapping_keeps_what_is_wrong_for_validation_to_see() -> None:
    out = normalise_task(results(
        spans({"start": 2, "end": 9, "text": "group o", "labels": ["PERSON", "MONSTER"]}),
        {"from_name": "event_type", "to_name": "text", "type": "choices",
         "value": {"choices": ["Assassination", "Unknown"]}},
        {"from_name": "killed", "to_name": "text", "type": "number", "value": {"number": -3}},
        {"from_name": "note", "to_name": "text", "type": "textarea",
         "value": {"text": ["line one", "line two"]}},
    ), SCHEME)
    [record] = out.records
    assert record["entities"] == [
        {"start": 2, "end": 9, "label": "PERSON", "text": "group o"},
        {"start": 2, "end": 9, "label": "MONSTER", "text": "group o"}]
    assert record["event_type"] == ["Assassination", "Unknown"]
    assert record["killed"] == -3
    assert record["note"] == "line one\nline two"
    assert out.offsets.checked == 1  # one region, two labels
    # ... and the validation stage sees each of them
    assert {tuple(e.absolute_path) for e in VALIDATOR.iter_errors(record)} == {
        ("entities", 1, "label"), ("event_type",), ("killed",)}


def test_textarea_plain_string_and_span_without_text() -> None:
    out = normalise_task(results(
        spans({"start": 42, "end": 48, "labels": ["FAC"]}),
        {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": "5/5"}},
    ), SCHEME)
    assert out.records[0]["note"] == "5/5"
    assert out.records[0]["entities"] == [
        {"start": 42, "end": 48, "label": "FAC", "text": "prison"}]


@pytest.mark.parametrize("result, code, path", [
    ({"from_name": "sentiment", "to_name": "text", "type": "choices",
      "value": {"choices": ["Positive"]}}, "unknown-control", "result[1].from_name"),
    ({"from_name": "event_type", "to_name": "text", "type": "taxonomy",
      "value": {"taxonomy": [["Unknown"]]}}, "wrong-result-type", "result[1].type"),
    (spans({"start": "/div[1]/p[1]/text()[1]", "end": "/div[1]/p[1]/text()[1]",
            "startOffset": 0, "endOffset": 5, "text": "group",
            "hypertextlabels": ["PERSON"]}), "span-without-offsets", "result[1].value.start"),
    ("not a result", "malformed-result", "result[1]"),
    ({"from_name": "killed", "to_name": "text", "type": "number"}, "malformed-result",
     "result[1].value"),
    ({"from_name": "event_type", "to_name": "text", "type": "choices",
      "value": {"choice": "Unknown"}}, "malformed-result", "result[1].value.choices"),
])
def test_unmappable_result_quarantines_the_whole_annotation(result: Any, code: str,
                                                            path: str) -> None:
    task = results({"from_name": "killed", "to_name": "text", "type": "number",
                    "value": {"number": 1}}, result)
    out = normalise_task(task, SCHEME)
    assert out.records == []
    [entry] = out.quarantine
    assert entry["kind"] == "annotation"
    assert (entry["task_id"], entry["annotation_id"], entry["annotator_id"]) == (1, 1, 2)
    assert entry["article_id"] == "0140e3303133de21"
    assert entry["raw"] == task["annotations"][0]
    [error] = entry["errors"]
    assert (error["type"], error["path"]) == (code, path)
    assert "task 1, annotation 1" in error["message"]
    assert code in QUARANTINE_REASONS
    json.dumps(entry)  # JSON-able as it is


def test_unknown_control_export() -> None:
    out = normalise_file("export-unknown-control.json")
    assert [r["annotation_id"] for r in out.records] == [82]
    [entry] = out.quarantine
    assert (entry["kind"], entry["annotation_id"], error_types(entry)) == (
        "annotation", 81, ["unknown-control"])
    assert "'sentiment'" in entry["errors"][0]["message"]
    assert "event_type" in entry["errors"][0]["message"]  # says which fields there are


def test_task_without_text_quarantines_every_annotation_draft_and_prediction() -> None:
    task = copy.deepcopy(EXAMPLE_TASK)
    task["data"] = {"image": "cat.jpg"}
    out = normalise_task(task, SCHEME)
    assert out.records == out.drafts == out.predictions == []
    assert [(e["kind"], error_types(e)[0]) for e in out.quarantine] == [
        ("annotation", "missing-text"), ("annotation", "missing-text"),
        ("draft", "missing-text"), ("prediction", "missing-text")]
    assert "image" in out.quarantine[0]["errors"][0]["message"]
    assert out.quarantine[2]["draft_id"] == 3 and out.quarantine[3]["prediction_id"] == 1


def test_legacy_completions_nested_results_and_flat_task() -> None:
    legacy = {"id": 7, "text": EXAMPLE_TEXT, "article_id": "0140e3303133de21", "completions": [
        {"id": 70, "completed_by": 5, "result": [[
            {"from_name": "event_type", "to_name": "text", "type": "choices",
             "value": {"choices": ["Unknown"]}}]]}]}
    out = normalise_task(legacy, SCHEME, {5: "e@example.org"})
    [record] = out.records
    assert (record["task_id"], record["annotation_id"], record["annotator_email"]) == (
        7, 70, "e@example.org")
    assert record["event_type"] == "Unknown"
    assert record["was_cancelled"] is False and record["ground_truth"] is False


def test_predictions_given_as_ids_are_quarantined_not_dropped() -> None:
    task = copy.deepcopy(EXAMPLE_TASK)
    task["predictions"] = [155]
    [entry] = normalise_task(task, SCHEME).quarantine
    assert (entry["kind"], error_types(entry), entry["raw"]) == (
        "prediction", ["malformed-result"], 155)


# -------------------------------------------------------------------- offsets


def test_emoji_offsets_in_utf16_units_are_converted() -> None:
    out = normalise_file("export-emoji.json")
    [record] = out.records
    assert out.offsets == OffsetStats(checked=4, ok=1, converted=3)
    for span in record["entities"]:
        assert EMOJI_TEXT[span["start"]:span["end"]] == span["text"]
    putin = EMOJI_TEXT.index("Vladimir Putin")
    assert {"start": putin, "end": putin + 14, "label": "PERSON",
            "text": "Vladimir Putin"} in record["entities"]
    # as submitted, the offsets were one code unit further on
    raw = json.loads((DATA / "export-emoji.json").read_text("utf-8"))
    assert raw[0]["annotations"][0]["result"][2]["value"]["start"] == putin + 1
    assert out.quarantine == []


def test_offsets_a_few_characters_off_are_repaired() -> None:
    out = normalise_file("export-offsets-repaired.json")
    assert out.offsets == OffsetStats(checked=2, ok=0, repaired=2)
    assert out.records[0]["entities"] == [
        {"start": REPAIR_TEXT.index("Mosul"), "end": REPAIR_TEXT.index("Mosul") + 5,
         "label": "GPE", "text": "Mosul"},
        {"start": REPAIR_TEXT.index("Grand Mosque"), "end": REPAIR_TEXT.index("Grand Mosque") + 12,
         "label": "FAC", "text": "Grand Mosque"}]


def test_an_annotation_with_an_ambiguous_span_is_quarantined_whole() -> None:
    """A span that cannot be placed makes the annotation incomplete: kept whole in quarantine
    (every value in ``raw``), never a record that looks complete without the span."""
    out = normalise_file("export-offsets-ambiguous.json")
    assert out.offsets == OffsetStats(checked=2, ok=1, quarantined=1)
    assert out.records == []
    [entry] = out.quarantine
    assert (entry["kind"], entry["task_id"], entry["annotation_id"]) == ("annotation", 7, 71)
    [error] = entry["errors"]
    assert (error["type"], error["path"]) == ("span-offsets", "result[0].value.start")
    assert "occurs 2 times (at 0, 40)" in error["message"]
    assert "equally near" in error["message"]
    texts = [r["value"].get("text") for r in entry["raw"]["result"] if r.get("type") == "labels"]
    assert texts == ["police", "car bomb"]  # nothing of the annotation is lost
    assert any(r.get("type") == "choices" for r in entry["raw"]["result"])


def test_repair_picks_the_unique_nearest_occurrence_within_the_window() -> None:
    text = "police " + "x" * 100 + " police came, police left"
    task = results(spans({"start": 111, "end": 117, "text": "police", "labels": ["ORG"]}))
    task["data"] = {"text": text, "article_id": article_id(text)}
    out = normalise_task(task, SCHEME)
    assert out.offsets.repaired == 1
    assert out.records[0]["entities"][0]["start"] == text.index("police", 10)


def test_repair_refuses_occurrences_outside_the_window() -> None:
    text = "police " + "x" * 200 + " police"
    task = results(spans({"start": 100, "end": 106, "text": "police", "labels": ["ORG"]}))
    task["data"] = {"text": text, "article_id": article_id(text)}
    out = normalise_task(task, SCHEME)
    assert out.offsets.quarantined == 1 and out.records == []
    assert "none lies within 64 characters" in out.quarantine[0]["errors"][0]["message"]


def test_offset_stats_add_up() -> None:
    total = OffsetStats(1, 1, 0, 0, 0) + OffsetStats(3, 0, 1, 1, 1)
    assert total == OffsetStats(checked=4, ok=1, converted=1, repaired=1, quarantined=1)
    assert total.to_dict() == {"checked": 4, "ok": 1, "converted": 1, "repaired": 1,
                               "quarantined": 1}
    assert sum([OffsetStats(1, 1), OffsetStats(2, 2)], OffsetStats()) == OffsetStats(3, 3)


# ------------------------------------------------------------- hashing, Arrow


def test_result_hash_follows_the_answer_not_the_metadata() -> None:
    record = normalise_task(EXAMPLE_TASK, SCHEME).records[0]
    other = dict(record, annotation_id=99, updated_at="2027-01-01T00:00:00Z", lead_time=1.0)
    assert result_hash(record) == result_hash(other) == result_hash(record, SCHEME)
    assert len(result_hash(record)) == 64
    assert result_hash(dict(record, killed=2)) != result_hash(record)
    two = [{"start": 0, "end": 1, "label": "ORG", "text": "A"},
           {"start": 2, "end": 7, "label": "PERSON", "text": "group"}]
    assert (result_hash(dict(record, entities=two))
            == result_hash(dict(record, entities=two[::-1])))


def test_records_to_table_types_and_timestamps() -> None:
    out = normalise_file("export-full.json")
    table = records_to_table(out.records, SCHEME)
    schema = records_arrow_schema(SCHEME)
    assert table.schema.equals(schema)
    assert schema.field("task_id").type == pa.int64()
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("entities").type == pa.list_(pa.struct([
        ("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()),
        ("text", pa.string())]))
    assert schema.field("event_type").type == pa.string()
    assert schema.field("killed").type == pa.int64()
    assert schema.field("note").type == pa.string()
    assert table.num_rows == 4
    first = table.to_pylist()[0]
    assert first["created_at"] == datetime(2026, 11, 25, 6, 1, 24, 217278, tzinfo=timezone.utc)
    assert first["entities"] == out.records[0]["entities"]
    assert drafts_to_table(out.drafts, SCHEME).column("draft_id").to_pylist() == [21]
    predictions = predictions_to_table(out.predictions, SCHEME)
    assert predictions.schema.equals(predictions_arrow_schema(SCHEME))
    assert predictions.column("score").to_pylist() == [0.5]


def test_records_to_table_refuses_a_bad_timestamp() -> None:
    record = dict(normalise_task(EXAMPLE_TASK, SCHEME).records[0], created_at="yesterday")
    with pytest.raises(InputError, match="'yesterday' is not an ISO 8601 timestamp"):
        records_to_table([record], SCHEME)


# ---------------------------------------------------------------- the corpus


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.rglob("*.json"))


def count_annotations(path: Path) -> int:
    """Annotations in the file, counted without the toolkit's reader."""
    data = json.loads(path.read_text("utf-8"))
    tasks = data if isinstance(data, list) else [data]
    count = 0
    for task in tasks:
        annotations = task.get("annotations", task.get("completions")) or []
        count += len(annotations)
    return count


@pytest.mark.corpus
def test_corpus_is_there() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is not there")
    assert len(corpus_files()) >= 40


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files(),
                         ids=lambda p: str(p.relative_to(CORPUS)) if CORPUS.is_dir() else "")
def test_corpus_every_annotation_is_accounted_for(path: Path) -> None:
    expected = count_annotations(path)
    records, quarantined = 0, 0
    for task in iter_export_tasks(path, SCHEME):
        out = normalise_task(task, SCHEME)
        records += len(out.records)
        for entry in out.quarantine:
            assert entry["errors"], entry
            assert all(e["type"] in QUARANTINE_REASONS and e["message"] for e in entry["errors"])
            json.dumps(entry)
            quarantined += entry["kind"] == "annotation"
    assert records + quarantined == expected


def _corpus_task(example: str) -> dict[str, Any]:
    path = CORPUS / "lsf_examples" / example / "annotation_1.json"
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    [task] = iter_export_tasks(path, SCHEME)
    return task


def _span_scheme(name: str, *labels: str) -> Scheme:
    return Scheme(name="corpus", title="Corpus",
                  fields=(SpanField(name=name, labels=tuple(Label(v) for v in labels)),))


@pytest.mark.corpus
def test_corpus_named_entity_span_with_its_own_config() -> None:
    task = _corpus_task("named_entity")
    scheme = _span_scheme("ner", "Person", "Organization", "Date", "Location")
    out = normalise_task(task, scheme)
    assert out.offsets == OffsetStats(checked=1, ok=1)
    assert out.records[0]["ner"] == [{"start": 343, "end": 354, "label": "Date",
                                      "text": "February 22"}]


@pytest.mark.corpus
def test_corpus_span_whose_text_does_not_match_its_offsets() -> None:
    task = _corpus_task("rich_text_plain")
    task["data"]["text"] = task["data"].pop("ner")  # its config reads $ner
    out = normalise_task(task, _span_scheme("label", "PER", "ORG", "LOC", "MISC", "Date"))
    assert out.offsets == OffsetStats(checked=1, quarantined=1)
    assert out.records == []
    [entry] = out.quarantine
    assert entry["kind"] == "annotation"
    assert "does not occur in the article" in entry["errors"][0]["message"]
