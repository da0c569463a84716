"""A team round on a real Label Studio Community server: overlap, guidelines, titles."""

from __future__ import annotations

import httpx
import pytest

from toolkit.config import config_from_dict
from toolkit.errors import ConfigError, ProjectSettingsRejected
from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, build_tasks, connect, push
from toolkit.scaffold import default_title, init_workspace

from .conftest import SEED, add_raw

pytestmark = pytest.mark.labelstudio


def prepare(ws):
    add_raw(ws, SEED.name, "near-a.txt", "article-html.html")
    ingest(ws)
    build_tasks(ws)


def server_project(ws, project_id):
    with LabelStudioClient(connect(ws)) as client:
        return client.project(project_id)


def test_push_sets_overlap_and_guidelines_on_a_new_project(ls_workspace):
    prepare(ls_workspace)
    report = push(ls_workspace)
    project = server_project(ls_workspace, report.project_id)
    # [gold] min_annotations = 2 by default, so every task goes to two annotators.
    assert project["maximum_annotations"] == 2
    assert project["overlap_cohort_percentage"] == 100
    assert project["show_overlap_first"] is True
    assert project["show_instruction"] is True
    guide = project["expert_instruction"]
    # Every field and every label of the scheme is in the guidelines, with its description.
    assert "Entities" in guide and "WEAPON" in guide and "Weapons used or carried" in guide
    assert "Event type" in guide and "Killed" in guide
    assert set(report.settings_changed) == {"expert_instruction", "maximum_annotations", "overlap_cohort_percentage",
                                            "show_instruction", "show_overlap_first"}
    again = push(ls_workspace)
    assert again.settings_changed == []


def test_push_restores_the_settings_on_an_existing_project(ls_workspace):
    prepare(ls_workspace)
    report = push(ls_workspace)
    with LabelStudioClient(connect(ls_workspace)) as client:
        client.update_project(report.project_id, {"maximum_annotations": 1, "show_instruction": False})
    plan = push(ls_workspace, dry_run=True)
    assert plan.settings_changed == ["maximum_annotations", "show_instruction"]
    assert server_project(ls_workspace, report.project_id)["maximum_annotations"] == 1  # dry run changed nothing
    fixed = push(ls_workspace)
    assert fixed.settings_changed == ["maximum_annotations", "show_instruction"]
    project = server_project(ls_workspace, report.project_id)
    assert (project["maximum_annotations"], project["show_instruction"]) == (2, True)


def test_annotators_per_task_and_the_maintainers_guidelines_reach_the_server(ls_workspace):
    config = ls_workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("annotators_per_task = 0", "annotators_per_task = 3"))
    (ls_workspace.schemas_dir / "guidelines.md").write_text(
        "# Before you start\n\nRead the **whole** article first.\n\n<script>alert(1)</script>\n")
    from toolkit.workspace import Workspace

    ws = Workspace(ls_workspace.root)
    prepare(ws)
    report = push(ws)
    project = server_project(ws, report.project_id)
    assert project["maximum_annotations"] == 3
    guide = project["expert_instruction"]
    assert "<strong>whole</strong>" in guide and "Before you start" in guide
    assert "<script>" not in guide  # raw HTML in the Markdown is shown as text, never run


def test_a_server_that_does_not_keep_a_setting_fails_the_push(ls_workspace, monkeypatch):
    prepare(ls_workspace)
    real = LabelStudioClient.update_project

    def ignores_overlap(self, project_id, fields):  # what a server that drops the field looks like
        after = real(self, project_id, {k: v for k, v in fields.items() if k != "maximum_annotations"})
        return after

    monkeypatch.setattr(LabelStudioClient, "update_project", ignores_overlap)
    with pytest.raises(ProjectSettingsRejected, match="maximum_annotations: asked 2, server has 1"):
        push(ls_workspace)


def test_a_two_letter_folder_still_gets_a_title_label_studio_accepts(tmp_path, label_studio, monkeypatch):
    assert default_title("ws") == "Ws dataset"
    assert len(default_title("x" * 80)) == 50
    ws = init_workspace(tmp_path / "ws")
    assert ws.config.project.title == "Ws dataset"
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    prepare(ws)
    report = push(ws)
    assert server_project(ws, report.project_id)["title"] == "Ws dataset"


def test_titles_label_studio_would_refuse_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[project\] title 'Ws' must be 3 to 50 characters"):
        config_from_dict({"project": {"title": "Ws"}})
    with pytest.raises(ConfigError, match="must be 3 to 50 characters"):
        init_workspace(tmp_path / "a", title="ab")
    assert not (tmp_path / "a" / "toolkit.toml").exists()


def test_fewer_annotators_per_task_than_the_gold_policy_needs_is_a_config_error():
    with pytest.raises(ConfigError, match="annotators_per_task = 1 cannot satisfy \\[gold\\] min_annotations = 2"):
        config_from_dict({"campaign": {"annotators_per_task": 1}})
    assert config_from_dict({"campaign": {"annotators_per_task": 3}}).annotators_per_task == 3
    assert config_from_dict({"gold": {"min_annotations": 3}}).annotators_per_task == 3


def test_the_settings_are_checked_by_reading_them_back(ls_workspace):
    """Label Studio's create call is known not to keep maximum_annotations; push updates after create."""
    prepare(ls_workspace)
    report = push(ls_workspace)
    response = httpx.get(f"{connect(ls_workspace).url}/api/projects/{report.project_id}/",
                         headers={"Authorization": f"Token {connect(ls_workspace).token}"})
    assert response.json()["maximum_annotations"] == 2
