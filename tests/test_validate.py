"""`toolkit validate`: named defects and their exact errors, the quarantine flow, the CLI."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.ingest import ingest
from toolkit.validation.normalise import records_to_table
from toolkit.scheme import Scheme, build_scheme_files
from toolkit.labelstudio.tasks import build_tasks
from toolkit.validation import ERROR_TYPES, validate_file, validate_workspace

from .conftest import DATA, SEED, add_raw, edit_scheme

DEFECTS = DATA / "defects"

# file -> the exact (type, path) errors it must produce
EXPECTED = {
    "valid": set(),
    "wrong-type": {("wrong-type", "killed")},
    "unknown-label": {("unknown-label", "entities[1].label")},
    "span-past-end": {("span-out-of-bounds", "entities[0]")},
    "span-text-mismatch": {("span-text-mismatch", "entities[0].text")},
    "overlapping-spans": {("overlapping-spans", "entities[2]")},
    "two-choices": {("too-many-choices", "event_type")},
    "negative-count": {("out-of-range", "injured")},
    "missing-field": {("missing-field", "(record)")},
    "missing-required": {("missing-required", "event_type")},
    "duplicate-id": {("duplicate-id", "annotation_id")},
    "duplicate-annotation": {("duplicate-annotation", "annotator_id")},
    "cancelled-with-results": {("cancelled-with-results", "entities")},
    "unknown-choice": {("unknown-choice", "event_type")},
    "bad-timestamp": {("bad-format", "created_at")},
    "unknown-article": {("unknown-article", "article_id")},
    "unexpected-field": {("unexpected-field", "(record)")},
    "too-long-note": {("too-long", "note")},
    "float-count": {("wrong-type", "hostages")},
}


@pytest.fixture
def seeded(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    return workspace


def test_every_defect_file_is_named_in_the_table():
    assert {p.stem for p in DEFECTS.glob("*.jsonl")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_defect_file_produces_exactly_its_error(seeded, name):
    report = validate_file(seeded, DEFECTS / f"{name}.jsonl")
    assert {(e.type, e.path) for e in report.errors} == EXPECTED[name]
    assert report.valid == (name == "valid")
    assert report.records == report.valid_records + report.quarantined
    for error in report.errors:
        assert error.type in ERROR_TYPES
        assert error.task_id == 1 and error.annotation_id in (101, 102)
        assert error.annotator in ("alice@example.org", "bob@example.org")
        assert error.message.startswith(f"task 1, annotation {error.annotation_id}: {error.path}: ")


def test_error_values_are_truncated(seeded):
    (error,) = validate_file(seeded, DEFECTS / "too-long-note.jsonl").errors
    assert len(error.value) < 130 and error.value.endswith("...")


def _seed_records(ws):
    return [json.loads(line) for line in (DEFECTS / "valid.jsonl").open()]


def _write_annotations(ws, records):
    scheme = Scheme.load(ws.scheme_path)
    pq.write_table(records_to_table(records, scheme), ws.annotations_dir / "annotations.parquet")


def test_scheme_change_quarantines_with_an_explanation_and_the_fix_moves_records_back(seeded):
    records = _seed_records(seeded)
    _write_annotations(seeded, records)
    assert validate_workspace(seeded).valid
    # the scheme drops ORG, which one span of each annotation uses
    original = seeded.scheme_path.read_text()
    edit_scheme(seeded, lambda s: s["fields"][0]["labels"].pop(1))
    report = validate_workspace(seeded)
    assert not report.valid
    assert (report.records, report.valid_records, report.quarantined, report.newly_quarantined) == (2, 0, 2, 2)
    assert {(e.type, e.path) for e in report.errors} == {("unknown-label", "entities[1].label")}
    assert "'ORG' is not one of the labels of 'entities'" in report.errors[0].message
    assert "removed from the scheme" in report.errors[0].message
    assert pq.read_table(seeded.annotations_dir / "annotations.parquet").num_rows == 0
    quarantined = [json.loads(line) for line in (seeded.annotations_dir / "quarantine.jsonl").open()]
    assert [q["record"]["annotation_id"] for q in quarantined] == [101, 102]
    assert quarantined[0]["errors"][0]["type"] == "unknown-label"
    # the scheme is fixed: both come back, nothing lost
    seeded.scheme_path.write_text(original)
    build_scheme_files(seeded.schemas_dir)
    report = validate_workspace(seeded)
    assert report.valid and (report.records, report.valid_records, report.moved_back) == (2, 2, 2)
    back = pq.read_table(seeded.annotations_dir / "annotations.parquet").to_pylist()
    assert [r["annotation_id"] for r in back] == [101, 102]
    assert back[0]["entities"][1]["label"] == "ORG"
    assert (seeded.annotations_dir / "quarantine.jsonl").read_text() == ""


def test_a_field_added_to_the_scheme_does_not_invalidate_old_records(seeded):
    _write_annotations(seeded, _seed_records(seeded))
    edit_scheme(seeded, lambda s: s["fields"].append({"name": "arrests", "kind": "number", "integer": True,
                                                       "min": 0, "description": "People arrested."}))
    report = validate_workspace(seeded)
    assert report.valid and report.valid_records == 2
    assert pq.read_table(seeded.annotations_dir / "annotations.parquet").column("arrests").to_pylist() == [None, None]


def test_hand_fixed_quarantine_record_moves_back(seeded):
    records = _seed_records(seeded)
    records[1]["injured"] = -1
    _write_annotations(seeded, records)
    report = validate_workspace(seeded)
    assert (report.valid_records, report.quarantined) == (1, 1)
    path = seeded.annotations_dir / "quarantine.jsonl"
    entry = json.loads(path.read_text())
    entry["record"]["injured"] = 1
    path.write_text(json.dumps(entry) + "\n")
    report = validate_workspace(seeded)
    assert report.valid and report.moved_back == 1 and report.valid_records == 2


def test_unmappable_annotations_stay_quarantined_and_are_counted(seeded):
    from toolkit.labelstudio.pull import pull

    report = pull(seeded, from_export=DATA / "export-unknown-control.json")
    quarantined = [json.loads(line) for line in (seeded.annotations_dir / "quarantine.jsonl").open()]
    unmappable = [q for q in quarantined if q["kind"] == "annotation" and q.get("record") is None]
    assert unmappable
    again = validate_workspace(seeded)
    assert again.records == report.annotations
    assert again.records == again.valid_records + again.quarantined
    assert "unknown-control" in again.errors_by_type


def test_validate_export_file_streams_and_reports(seeded):
    report = validate_file(seeded, DATA / "export-unknown-control.json")
    assert not report.valid and "unknown-control" in report.errors_by_type
    good = validate_file(seeded, DATA / "export-full.json")
    assert good.records > 0
    assert good.records == good.valid_records + good.quarantined


def test_validate_tasks_file(seeded):
    build_tasks(seeded)
    assert validate_file(seeded, seeded.tasks_path).valid
    with seeded.tasks_path.open("a") as fh:
        fh.write(json.dumps({"data": {"text": "", "article_id": "XYZ"}}) + "\n")
    report = validate_file(seeded, seeded.tasks_path)
    assert not report.valid and report.records == 2 and report.quarantined == 1
    assert {e.type for e in report.errors} == {"invalid-task"}
    assert {e.path for e in report.errors} == {"data.text", "data.article_id"}


def test_cli_exit_codes_and_json_equal_to_the_library(seeded):
    runner = CliRunner()
    ok = runner.invoke(app, ["-w", str(seeded.root), "validate", str(DEFECTS / "valid.jsonl")])
    assert ok.exit_code == 0 and "2 records = 2 valid + 0 quarantined" in ok.output
    bad = runner.invoke(app, ["-w", str(seeded.root), "validate", "--json", str(DEFECTS / "span-text-mismatch.jsonl")])
    assert bad.exit_code == 1
    assert json.loads(bad.output) == validate_file(seeded, DEFECTS / "span-text-mismatch.jsonl").to_dict()
    summary = runner.invoke(app, ["-w", str(seeded.root), "validate", str(DEFECTS / "duplicate-id.jsonl")])
    assert summary.exit_code == 1
    assert "duplicate-id (1)\n  task 1, annotation 101: annotation_id: annotation id 101 occurs more than once" \
        in summary.output


def test_cli_workspace_without_annotations(seeded):
    result = CliRunner().invoke(app, ["-w", str(seeded.root), "validate"])
    assert result.exit_code == 1
    assert "no annotations to validate yet" in result.output and "toolkit pull" in result.output


def test_readme_documents_every_error_type():
    from .conftest import REPO

    readme = (REPO / "README.md").read_text()
    for kind in ERROR_TYPES:
        assert f"`{kind}`" in readme, kind


@pytest.mark.parametrize("name", ["export-full.json", "export-unknown-control.json", "export-offsets-ambiguous.json",
                                  "export-json-min.json", "export-full.json.gz"])
def test_parallel_validation_reports_exactly_what_one_process_does(seeded, name):
    from toolkit.validation import validate_export

    scheme = Scheme.load(seeded.scheme_path)
    one = validate_export(DATA / name, scheme, workers=1).to_dict()
    two = validate_export(DATA / name, scheme, workers=2).to_dict()
    assert one == two and one["stats"]["records"] > 0


def test_parallel_validation_keeps_cross_record_checks_in_file_order(tmp_path, seeded):
    from toolkit.validation import validate_export

    task = json.loads((DATA / "export-full.json").read_text())[0]
    tasks = []
    for i in range(150):  # several batches; the same annotation id everywhere
        copy = json.loads(json.dumps(task))
        copy["id"] = 1000 + i
        tasks.append(copy)
    path = tmp_path / "dupes.json"
    path.write_text(json.dumps(tasks))
    scheme = Scheme.load(seeded.scheme_path)
    one = validate_export(path, scheme, workers=1)
    two = validate_export(path, scheme, workers=2)
    assert one.to_dict() == two.to_dict()
    assert one.errors_by_type.get("duplicate-id", 0) > 100
