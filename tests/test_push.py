"""`toolkit push` against a real Label Studio server."""

from __future__ import annotations

import importlib
import json

import httpx
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import AuthenticationFailed, ProjectNotFound, PushRefused, ServerTimeout, ServerUnreachable
from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, connect
from toolkit.labelstudio import push, stored_project_id
from toolkit.scheme import Scheme, build_labeling_config
from toolkit.labelstudio.tasks import build_tasks

from .conftest import SEED, add_raw, edit_scheme

pytestmark = pytest.mark.labelstudio

# The module, not the `push` function the package exports under the same name.
push_mod = importlib.import_module("toolkit.labelstudio.push")


def prepare(ws, *names):
    add_raw(ws, *(names or (SEED.name, "near-a.txt", "near-b.txt", "article-html.html", "dup-a.txt")))
    ingest(ws)
    build_tasks(ws)
    return [json.loads(line) for line in ws.tasks_path.read_text().splitlines()]


def server_tasks(ws):
    client = LabelStudioClient(connect(ws))
    project_id = stored_project_id(ws, connect(ws))
    tasks = [t for _p, page, _total in client.iter_task_pages(project_id, page_size=100) for t in page]
    client.close()
    return tasks


def test_push_creates_the_project_from_the_scheme_and_imports_every_task(ls_workspace):
    local = prepare(ls_workspace)
    report = push(ls_workspace)
    assert report.created_project and report.imported == len(local) == 5
    with LabelStudioClient(connect(ls_workspace)) as client:
        project = client.project(report.project_id)
    assert project["title"] == ls_workspace.config.project.title
    assert project["label_config"].strip() == build_labeling_config(Scheme.load(ls_workspace.scheme_path)).strip()
    on_server = server_tasks(ls_workspace)
    assert sorted(t["data"]["article_id"] for t in on_server) == sorted(t["data"]["article_id"] for t in local)
    seed = next(t for t in on_server if t["data"]["title"].startswith("Knife-wielding"))
    assert seed["data"]["published"] == "2024-11-23"
    assert seed["data"]["text"].startswith("A group of prisoners")


def test_push_twice_creates_nothing_new(ls_workspace):
    prepare(ls_workspace)
    push(ls_workspace)
    again = push(ls_workspace)
    assert (again.created_project, again.imported, again.already_there) == (False, 0, 5)
    assert len(server_tasks(ls_workspace)) == 5


def test_dry_run_changes_nothing(ls_workspace):
    prepare(ls_workspace)
    plan = push(ls_workspace, dry_run=True)
    assert (plan.created_project, plan.to_import, plan.imported) == (True, 5, 0)
    with LabelStudioClient(connect(ls_workspace)) as client:
        assert client.find_projects(ls_workspace.config.project.title) == []
    push(ls_workspace)
    add_raw(ls_workspace, "article-no-date.txt")
    ingest(ls_workspace)
    build_tasks(ls_workspace)
    plan = push(ls_workspace, dry_run=True)
    assert (plan.created_project, plan.to_import, plan.already_there) == (False, 1, 5)
    assert len(server_tasks(ls_workspace)) == 5


def test_client_killed_mid_import_then_push_again_creates_no_duplicate(ls_workspace, monkeypatch):
    prepare(ls_workspace)
    real = push_mod._import_chunk
    calls = []

    def crash_after_first_chunk(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # the user pressed Ctrl-C / the process was killed
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(push_mod, "_import_chunk", crash_after_first_chunk)
    with pytest.raises(KeyboardInterrupt):
        push(ls_workspace, chunk_size=2)
    assert len(server_tasks(ls_workspace)) == 2
    monkeypatch.setattr(push_mod, "_import_chunk", real)
    # the project id was stored before importing; and even without it the server is asked
    (ls_workspace.root / ".labelstudio" / "state.json").unlink()
    report = push(ls_workspace, chunk_size=2)
    assert (report.already_there, report.imported) == (2, 3)
    ids = [t["data"]["article_id"] for t in server_tasks(ls_workspace)]
    assert len(ids) == len(set(ids)) == 5


def test_import_that_times_out_after_the_server_committed_is_not_repeated(ls_workspace, monkeypatch):
    """The classic duplicate: the server creates the tasks, the answer is lost, the client retries."""
    prepare(ls_workspace)
    real = LabelStudioClient.import_tasks
    lost = []

    def commit_then_lose_the_answer(self, project_id, tasks):
        created = real(self, project_id, tasks)
        if not lost:
            lost.append(created)
            raise ServerTimeout("simulated: the answer to the import was lost")
        return created

    monkeypatch.setattr(LabelStudioClient, "import_tasks", commit_then_lose_the_answer)
    report = push(ls_workspace, chunk_size=2, sleep=lambda s: None)
    assert report.imported == 5
    ids = [t["data"]["article_id"] for t in server_tasks(ls_workspace)]
    assert len(ids) == len(set(ids)) == 5


def test_predictions_are_imported_with_their_model_version(ls_workspace):
    local = prepare(ls_workspace, SEED.name)
    text = local[0]["data"]["text"]
    start = text.index("Volgograd")
    local[0]["predictions"] = [{
        "model_version": "spacy-en-3.7", "score": 0.8,
        "result": [{"from_name": "entities", "to_name": "text", "type": "labels",
                    "value": {"start": start, "end": start + 9, "text": "Volgograd", "labels": ["GPE"]}}],
    }]
    ls_workspace.tasks_path.write_text(json.dumps(local[0]) + "\n")
    report = push(ls_workspace)
    assert report.predictions == 1
    (task,) = server_tasks(ls_workspace)
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "spacy-en-3.7"
    assert prediction["result"][0]["value"]["text"] == "Volgograd"


def test_scheme_change_updates_the_config_and_refuses_to_remove_a_label_in_use(ls_workspace):
    prepare(ls_workspace, SEED.name)
    push(ls_workspace)
    # an added label: the config is updated
    edit_scheme(ls_workspace, lambda s: s["fields"][0]["labels"].append({"value": "EVENT", "description": "x"}))
    report = push(ls_workspace)
    assert report.config_changed and not report.removed_values_in_use
    with LabelStudioClient(connect(ls_workspace)) as client:
        assert 'value="EVENT"' in client.project(report.project_id)["label_config"]
        task = server_tasks(ls_workspace)[0]
        client.sdk.annotations.create(id=task["id"], result=[
            {"from_name": "entities", "to_name": "text", "type": "labels",
             "value": {"start": 0, "end": 7, "text": task["data"]["text"][:7], "labels": ["EVENT"]}}])
    # removing EVENT now would orphan that annotation: refused, nothing changed
    edit_scheme(ls_workspace, lambda s: s["fields"][0]["labels"].pop())
    with pytest.raises(PushRefused, match="entities: EVENT in 1 annotation"):
        push(ls_workspace)
    with LabelStudioClient(connect(ls_workspace)) as client:
        assert 'value="EVENT"' in client.project(report.project_id)["label_config"]
    plan = push(ls_workspace, dry_run=True)
    assert plan.removed_values_in_use == {"entities: EVENT": 1}


def test_wrong_token_is_a_clear_error_without_the_token(ls_workspace, monkeypatch):
    prepare(ls_workspace, SEED.name)
    bad = "f" * 40
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", bad)
    with pytest.raises(AuthenticationFailed, match="refused the API token"):
        push(ls_workspace)
    result = CliRunner().invoke(app, ["-w", str(ls_workspace.root), "push"])
    assert result.exit_code == 1
    assert "refused the API token (401)" in result.output
    assert bad not in result.output


def test_server_down_is_a_clear_error(ls_workspace, monkeypatch):
    from toolkit.labelstudio.studio import free_port

    prepare(ls_workspace, SEED.name)
    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(app, ["-w", str(ls_workspace.root), "push"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot reach Label Studio at http://127.0.0.1:")
    assert "hint:" in result.output
    with pytest.raises(ServerUnreachable):
        push(ls_workspace)


def test_project_deleted_on_the_server_is_a_clear_error(ls_workspace, label_studio):
    prepare(ls_workspace, SEED.name)
    report = push(ls_workspace)
    httpx.delete(f"{label_studio.url}/api/projects/{report.project_id}/",
                 headers={"Authorization": f"Token {label_studio.token}"}).raise_for_status()
    with pytest.raises(ProjectNotFound, match=f"project {report.project_id} .* does not exist"):
        push(ls_workspace)


def test_article_text_never_goes_into_the_labeling_config(ls_workspace):
    (ls_workspace.raw_dir / "xml.txt").write_text(
        "Headline with <View> and $text\n\nA body that zqxwv <Labels name=\"x\" toName=\"text\"/> markup and "
        "$title variables and &amp; entities, long enough to be an article with twenty words in it, really.\n")
    ingest(ls_workspace)
    build_tasks(ls_workspace)
    report = push(ls_workspace)
    with LabelStudioClient(connect(ls_workspace)) as client:
        config = client.project(report.project_id)["label_config"]
    assert "zqxwv" not in config and "Headline with" not in config
    (task,) = server_tasks(ls_workspace)
    assert '<Labels name="x"' in task["data"]["text"]
