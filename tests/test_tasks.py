"""`toolkit tasks`: Label Studio import lines, appended only."""

from __future__ import annotations

import json

import jsonschema
import pytest

from toolkit.errors import InputError, InputNotFound
from toolkit.ingest import ingest
from toolkit.labelstudio.tasks import build_tasks

from .conftest import SEED, add_raw


def lines(ws):
    return [json.loads(line) for line in ws.tasks_path.read_text(encoding="utf-8").splitlines()]


def test_tasks_carry_text_title_date_url_and_article_id(workspace):
    add_raw(workspace, SEED.name, "article-html.html")
    ingest(workspace)
    report = build_tasks(workspace)
    assert (report.added, report.already_tasked, report.total) == (2, 0, 2)
    tasks = lines(workspace)
    seed = next(t for t in tasks if t["data"]["title"].startswith("Knife-wielding"))
    assert set(seed) == {"data"}
    assert seed["data"]["published"] == "2024-11-23"
    assert seed["data"]["text"].startswith("A group of prisoners")
    assert seed["data"]["source_url"] is None
    html = next(t for t in tasks if t is not seed)
    assert html["data"]["source_url"].startswith("https://courier.example.org/")
    schema = json.loads((workspace.schemas_dir / "task.schema.json").read_text())
    for task in tasks:
        jsonschema.validate(task, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_existing_lines_are_never_rewritten(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    build_tasks(workspace)
    before = workspace.tasks_path.read_bytes()
    again = build_tasks(workspace)
    assert (again.added, again.already_tasked) == (0, 1)
    assert workspace.tasks_path.read_bytes() == before
    add_raw(workspace, "near-a.txt")
    ingest(workspace)
    third = build_tasks(workspace)
    assert third.added == 1
    after = workspace.tasks_path.read_bytes()
    assert after.startswith(before) and len(lines(workspace)) == 2


def test_one_task_per_near_duplicate_cluster_when_configured(workspace):
    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("one_per_cluster = false", "one_per_cluster = true"))
    add_raw(workspace, "near-a.txt", "near-b.txt", SEED.name)
    ingest(workspace)
    report = build_tasks(workspace)
    assert (report.added, report.skipped_near_duplicates) == (2, 1)


def test_tasks_before_ingest_is_a_clear_error(workspace):
    with pytest.raises(InputNotFound, match="annotations/articles/ does not exist") as caught:
        build_tasks(workspace)
    assert "toolkit ingest" in caught.value.hint


def test_corrupt_tasks_file_names_the_line_and_is_left_alone(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    workspace.tasks_path.write_text('{"data": {"article_id": "0123456789abcdef"}}\nnot json\n')
    before = workspace.tasks_path.read_bytes()
    with pytest.raises(InputError, match="line 2"):
        build_tasks(workspace)
    assert workspace.tasks_path.read_bytes() == before
