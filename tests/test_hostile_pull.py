"""Hostile input to validate and pull: each case is a clear error or a quarantined record, never a
crash, a silent loss or a corruption. The inputs are made here; nothing large is committed."""

from __future__ import annotations

import gzip
import json
import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import InputError, PullRefused
from toolkit.ingest import ingest
from toolkit.labelstudio import build_tasks, pull
from toolkit.validation import validate_file

from .conftest import DATA, SEED, add_raw

runner = CliRunner()


@pytest.fixture
def pulled(workspace):
    """A workspace holding the seed article and annotations pulled from an export."""
    add_raw(workspace, SEED.name)
    ingest(workspace)
    build_tasks(workspace)
    (task,) = [json.loads(line) for line in workspace.tasks_path.read_text().splitlines()]
    export = workspace.root / "export.json"
    export.write_text(json.dumps([_task(task["data"], 1, [_annotation(10 + n, n) for n in (1, 2, 3)])]))
    pull(workspace, from_export=export)
    return workspace, task["data"]


def _task(data, task_id, annotations):
    return {"id": task_id, "data": data, "annotations": annotations}


def _annotation(annotation_id, user, result=None, **extra):
    return {"id": annotation_id, "completed_by": user, "was_cancelled": False, "ground_truth": False,
            "created_at": "2026-11-25T06:22:24Z", "updated_at": "2026-11-25T06:22:24Z", "lead_time": 10.0,
            "result": result if result is not None else [
                {"from_name": "event_type", "to_name": "text", "type": "choices",
                 "value": {"choices": ["Hostage Taking (Barricade Incident)"]}}], **extra}


def _rows(ws):
    return pq.read_table(ws.annotations_dir / "annotations.parquet").to_pylist()


def _cli(ws, *args):
    return runner.invoke(app, ["--workspace", str(ws.root), *args])


def test_a_wrapped_export_is_an_error_and_wipes_nothing(pulled):
    ws, data = pulled
    before = (ws.annotations_dir / "annotations.parquet").read_bytes()
    wrapped = ws.root / "wrapped.json"
    wrapped.write_text(json.dumps({"tasks": [_task(data, 1, [_annotation(11, 1)])]}, indent=2))
    with pytest.raises(InputError, match="one JSON object with the keys 'tasks'"):
        validate_file(ws, wrapped)
    result = _cli(ws, "pull", "--from-export", str(wrapped))
    assert result.exit_code == 1 and "jq '.tasks'" in result.output and "Traceback" not in result.output
    assert (ws.annotations_dir / "annotations.parquet").read_bytes() == before


def test_a_pull_that_would_delete_most_annotations_is_refused_unless_asked(pulled):
    ws, data = pulled
    empty = ws.root / "empty.json"
    empty.write_text(json.dumps([_task(data, 1, [])]))
    with pytest.raises(PullRefused, match="would delete 3 of the 3 annotation"):
        pull(ws, from_export=empty)
    assert len(_rows(ws)) == 3
    result = _cli(ws, "pull", "--from-export", str(empty))
    assert result.exit_code == 1 and "--allow-deletions" in result.output
    report = pull(ws, from_export=empty, allow_deletions=True)
    assert report.changes.deleted == [11, 12, 13] and _rows(ws) == []


@pytest.mark.parametrize("case, expected", [
    ("surrogate-text", "invalid-text"),
    ("surrogate-span", "span-offsets"),
    ("huge-count", "out-of-range"),
    ("no-annotator", "missing-annotator"),
    ("maybe-cancelled", "wrong-type"),
    ("nan-lead-time", "non-finite-number"),
])
def test_a_hostile_annotation_is_quarantined_with_its_reason_and_the_rest_goes_on(pulled, case, expected):
    ws, data = pulled
    text = data["text"]
    start = text.index("Volgograd")
    bad = {
        "surrogate-text": _annotation(14, 4, [{"from_name": "note", "to_name": "text", "type": "textarea",
                                                "value": {"text": ["a broken \ud800 character"]}}]),
        "surrogate-span": _annotation(14, 4, [{"from_name": "entities", "to_name": "text", "type": "labels",
                                                "value": {"start": start, "end": start + 9, "text": "Volg\ud800grad",
                                                          "labels": ["GPE"]}}]),
        "huge-count": _annotation(14, 4, [{"from_name": "killed", "to_name": "text", "type": "number",
                                           "value": {"number": 10 ** 40}}]),
        "no-annotator": {k: v for k, v in _annotation(14, 4).items() if k != "completed_by"},
        "maybe-cancelled": _annotation(14, 4, was_cancelled="maybe"),
        "nan-lead-time": _annotation(14, 4, lead_time=float("nan")),
    }[case]
    export = ws.root / "export2.json"
    text_json = json.dumps([_task(data, 1, [_annotation(10 + n, n) for n in (1, 2, 3)] + [bad]),
                            _task({**data, "article_id": data["article_id"]}, None, [])], ensure_ascii=True)
    export.write_text(text_json)
    report = pull(ws, from_export=export)
    assert report.valid == 3 and report.quarantined == 1
    (entry,) = [json.loads(line) for line in (ws.annotations_dir / "quarantine.jsonl").read_text().splitlines()]
    assert entry["annotation_id"] == 14 and expected in [e["type"] for e in entry["errors"]]
    assert report.changes.added == [14] and report.changes.added_quarantined == [14]
    assert len(_rows(ws)) == 3  # the valid ones are all there
    assert validate_file(ws, export).quarantined == 1


def test_a_span_past_the_end_quarantines_its_annotation_whole(pulled):
    ws, data = pulled
    end = len(data["text"])
    export = ws.root / "past-end.json"
    result = [{"from_name": "entities", "to_name": "text", "type": "labels",
               "value": {"start": end - 2, "end": end + 5, "text": "xx beyond", "labels": ["GPE"]}},
              {"from_name": "event_type", "to_name": "text", "type": "choices",
               "value": {"choices": ["Armed Assault"]}}]
    export.write_text(json.dumps([_task(data, 1, [_annotation(10 + n, n) for n in (1, 2, 3)]
                                        + [_annotation(14, 4, result)])]))
    pull(ws, from_export=export)
    assert 14 not in {r["annotation_id"] for r in _rows(ws)}  # never a record that looks complete
    (entry,) = [json.loads(line) for line in (ws.annotations_dir / "quarantine.jsonl").read_text().splitlines()]
    assert entry["kind"] == "annotation" and entry["raw"]["result"] == result


def test_json_nested_too_deeply_is_a_clear_error(workspace):
    deep = "[" * 100_000 + "]" * 100_000
    for name, content in (("deep.json", f'[{{"data": {{"text": "x"}}}}, {deep}]'),
                          ("deep.jsonl", '{"a": ' + deep + '}\n{"data": {"text": "x"}}\n')):
        path = workspace.root / name
        path.write_text(content)
        result = _cli(workspace, "validate", str(path))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "nested too deeply" in result.output
    result = _cli(workspace, "pull", "--from-export", str(workspace.root / "deep.json"))
    assert result.exit_code == 1 and "nested too deeply" in result.output
    assert not (workspace.annotations_dir / "annotations.parquet").exists()


@pytest.mark.parametrize("keep", [15, 0.5])
def test_a_truncated_gzip_export_is_a_clear_error(workspace, keep):
    data = gzip.compress(json.dumps([{"id": i, "data": {"text": "x " * 400}, "annotations": []}
                                     for i in range(3000)]).encode())
    path = workspace.root / "export.json.gz"
    path.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    result = _cli(workspace, "validate", str(path))
    assert result.exit_code == 1 and "damaged or truncated gzip file" in result.output
    assert "Aborted" not in result.output


def test_a_task_with_a_null_id_is_no_crash(workspace):
    shutil.copyfile(DATA / "export-single-task.json", workspace.root / "one.json")
    tasks = json.loads((workspace.root / "one.json").read_text())
    tasks = tasks if isinstance(tasks, list) else [tasks]
    tasks[0]["id"] = None
    (workspace.root / "one.json").write_text(json.dumps(tasks))
    report = pull(workspace, from_export=workspace.root / "one.json")
    assert report.tasks == 1 and report.annotations == report.valid + sum(
        1 for line in (workspace.annotations_dir / "quarantine.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "annotation")


KILL_MID_COMMIT = """
import os, signal, sys
from pathlib import Path
import toolkit.journal as journal
from toolkit.workspace import Workspace
from toolkit.labelstudio import pull

real, done = os.replace, []

def die_before(src, dst):
    if len(done) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: as a kill -9 does
    real(src, dst)
    done.append(dst)

journal.os.replace = die_before
pull(Workspace(Path(sys.argv[1])), from_export=sys.argv[2])
"""


@pytest.mark.parametrize("renames_done", [0, 1, 3])
def test_a_pull_killed_during_its_commit_is_all_or_nothing(pulled, renames_done):
    # renames_done: the journal's own rename, then the files'; 0 = killed before the commit began
    """SIGKILL after some of the renames: the next command finishes the commit (or, killed
    before the journal, nothing changed); never a mix of old and new files."""
    import os
    import subprocess
    import sys

    ws, data = pulled
    names = ["annotations.parquet", "drafts.parquet", "predictions.parquet", "quarantine.jsonl", "pull-report.json"]
    before = {n: (ws.annotations_dir / n).read_bytes() for n in names}
    export = ws.root / "more.json"
    export.write_text(json.dumps([_task(data, 1, [_annotation(10 + n, n) for n in (1, 2, 3, 4)])]))
    script = ws.root / "kill.py"
    script.write_text(KILL_MID_COMMIT)
    run = subprocess.run([sys.executable, str(script), str(ws.root), str(export), str(renames_done)],
                         env={**os.environ, "PYTHONPATH": str(ws.root.parent.parent)}, capture_output=True)
    assert run.returncode == -9, run.stderr.decode()[-2000:]
    result = _cli(ws, "validate")  # any command: it finishes or drops the interrupted commit first
    assert "Traceback" not in result.output
    after = {n: (ws.annotations_dir / n).read_bytes() for n in names}
    index = json.loads((ws.annotations_dir / "exports" / "index.json").read_text())
    snapshots = sorted((ws.annotations_dir / "exports").glob("*.jsonl.gz"))
    if renames_done == 0:
        assert after == before and len(index) == len(snapshots) == 1
    else:
        assert len(_rows(ws)) == 4 and all(after[n] != before[n] for n in ("annotations.parquet", "pull-report.json"))
        assert len(index) == len(snapshots) == 2 and not (snapshots[-1].stat().st_mode & 0o222)
    assert not list(ws.annotations_dir.rglob(".*.aside")) and not (ws.annotations_dir / ".commit-journal.json").exists()
