"""A team round on a real Label Studio Community server: overlap, guidelines, titles."""

from __future__ import annotations

import json

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
                                            "show_instruction", "show_overlap_first", "show_collab_predictions",
                                            "sampling"}
    assert project["sampling"] == "Sequential sampling" and project["show_collab_predictions"] is True
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
    ws = init_workspace(tmp_path / "ws", scheme="news-events-v1")
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
        init_workspace(tmp_path / "a", title="ab", scheme="news-events-v1")
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


# Annotators and attributable edits -------------------------------------------------------------

from toolkit.labelstudio import pull  # noqa: E402
from toolkit.labelstudio.team import add_annotators, list_annotators  # noqa: E402


def _people(ws, *names):
    suffix = ws.config.project.title.split()[-1]  # unique per test: the server is shared
    return [f"{name}-{suffix}@example.org" for name in names]


def test_annotators_add_makes_accounts_that_log_in_and_are_in_the_organisation(ls_workspace, label_studio):
    ann, ben = _people(ls_workspace, "ann", "ben")
    report = add_annotators(ls_workspace, [ann, ben, ann.upper()], create=True)
    assert [(a.email, a.created) for a in report.annotators] == [(ann, True), (ben, True)]
    with LabelStudioClient(connect(ls_workspace)) as admin:
        for person in report.annotators:
            session = admin.log_in(person.email, person.password)
            me = session.get("/api/current-user/whoami").json()
            session.close()
            assert me["email"] == person.email and me["active_organization"] is not None
    # Nothing of the passwords is kept; the roster is private.
    roster = ls_workspace.root / ".labelstudio" / "annotators.json"
    assert oct(roster.stat().st_mode & 0o777) == "0o600"
    assert all(p.password not in roster.read_text() for p in report.annotators)
    again = add_annotators(ls_workspace, [ann], create=True)
    assert [(a.email, a.created, a.password) for a in again.annotators] == [(ann, False, None)]


def test_on_a_server_of_ones_own_annotators_add_hands_out_the_invite_link(ls_workspace):
    report = add_annotators(ls_workspace, _people(ls_workspace, "cat"))  # LABEL_STUDIO_URL: not embedded
    assert report.invite_url.startswith(f"{connect(ls_workspace).url}/user/signup/?token=")
    assert report.annotators[0].created is False and report.annotators[0].password is None


def _token_of(admin, email, password):
    session = admin.log_in(email, password)
    try:
        return session.get("/api/current-user/token").json()["token"]
    finally:
        session.close()


def test_a_cross_edit_is_attributed_and_is_not_the_authors_vote(ls_workspace):
    prepare(ls_workspace)
    project_id = push(ls_workspace).project_id
    ann, ben = add_annotators(ls_workspace, _people(ls_workspace, "ann", "ben"), create=True).annotators
    base = connect(ls_workspace).url
    with LabelStudioClient(connect(ls_workspace)) as admin:
        tokens = {p.email: _token_of(admin, p.email, p.password) for p in (ann, ben)}
        task = next(t for _p, page, _n in admin.iter_task_pages(project_id, page_size=100) for t in page)

    def as_person(email):
        return httpx.Client(base_url=base, headers={"Authorization": f"Token {tokens[email]}"})

    def event(value):
        return [{"from_name": "event_type", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]

    with as_person(ann.email) as a, as_person(ben.email) as b:
        first = a.post(f"/api/tasks/{task['id']}/annotations/", json={"result": event("Armed Assault")}).json()
        b.post(f"/api/tasks/{task['id']}/annotations/", json={"result": event("Bombing/Explosion")})
        import time

        time.sleep(3)  # a person's edit comes later than the annotation it changes
        patched = b.patch(f"/api/annotations/{first['id']}/", json={"result": event("Bombing/Explosion")})
        assert patched.status_code == 200
    report = pull(ls_workspace)
    assert report.edits == [{"task_id": task["id"], "article_id": task["data"]["article_id"],
                             "annotation_id": first["id"], "annotator": ann.email, "editor": ben.email}]
    import pyarrow.parquet as pq

    rows = {r["annotation_id"]: r for r in pq.read_table(ls_workspace.annotations_dir / "annotations.parquet")
            .to_pylist()}
    edited = rows[first["id"]]
    # Nothing dropped, and both people are named: the author and the editor.
    assert (edited["annotator_email"], edited["updated_by_email"], edited["edited_by_other"]) == \
        (ann.email, ben.email, True)
    assert edited["event_type"] == "Bombing/Explosion"
    assert len(rows) == 2 and not any(r["edited_by_other"] for r in rows.values() if r["annotation_id"] != first["id"])
    listed = {row["email"]: row for row in list_annotators(ls_workspace)}
    assert listed[ann.email]["edited_by_others"] == 1 and listed[ben.email]["submitted"] == 1
    from toolkit.labelstudio.team import round_status

    status = round_status(ls_workspace)
    assert status.edits == [{"task_id": task["id"], "annotation_id": first["id"], "annotator": ann.email,
                             "editor": ben.email}]
    # The edited annotation is not ann's independent answer: the article is still short of one.
    assert {"article_id": task["data"]["article_id"], "independent_answers": 1} in status.short_articles
    # Agreement and gold: the edit is listed, not counted; the tied article stays unresolved
    # (before, ben's edit made both answers "Bombing/Explosion" and the article "resolved").
    from toolkit.agreement import agree

    agreed = agree(ls_workspace)
    assert agreed.edited_by_other == 1
    assert [(e["annotation_id"], e["editor"]) for e in agreed.agreement["edits"]] == [(first["id"], ben.email)]
    assert task["data"]["article_id"] in [u["article_id"] for u in agreed.unresolved]
    gold = {g["article_id"]: g for g in pq.read_table(ls_workspace.annotations_dir / "gold.parquet").to_pylist()}
    assert gold[task["data"]["article_id"]]["status"] == "unresolved"
    assert "Edits by another account" in (ls_workspace.annotations_dir / "agreement.md").read_text()


def test_status_checks_the_servers_settings_against_the_policy(ls_workspace):
    from typer.testing import CliRunner

    from toolkit.cli import app
    from toolkit.labelstudio.team import round_status

    prepare(ls_workspace)
    report = push(ls_workspace)
    status = round_status(ls_workspace)
    assert status.ok and status.tasks == 3 and status.annotations_left == 6
    assert [c.name for c in status.checks] == ["overlap", "overlap cohort", "guidelines"]
    # Someone sets the project back to one annotator per task in the server's API.
    with LabelStudioClient(connect(ls_workspace)) as client:
        client.update_project(report.project_id, {"maximum_annotations": 1})
    status = round_status(ls_workspace)
    overlap = status.checks[0]
    assert not status.ok and not overlap.ok
    assert overlap.detail == "each task goes to 1 annotator(s); the gold policy needs 2: run `toolkit push` to set it"
    result = CliRunner().invoke(app, ["--workspace", str(ls_workspace.root), "status"])
    assert result.exit_code == 1 and "FAIL overlap" in result.output
    as_json = CliRunner().invoke(app, ["--workspace", str(ls_workspace.root), "status", "--json"])
    import json

    assert json.loads(as_json.output) == json.loads(json.dumps(round_status(ls_workspace).to_dict()))


# Assigned queues ------------------------------------------------------------------------------

from toolkit.labelstudio.assignment import assign, load_assignments, per_annotator  # noqa: E402


def test_assignment_is_balanced_deterministic_and_stable():
    people = ["ann@x.org", "ben@x.org", "cat@x.org"]
    articles = [f"{i:016x}" for i in range(30)]
    first = assign(articles, people, 2)
    assert first == assign(articles, list(reversed(people)), 2)  # order of the list does not matter
    assert all(len(set(who)) == 2 for who in first.values())
    loads = {p: len(a) for p, a in per_annotator(first).items()}
    assert sorted(loads.values()) == [20, 20, 20]
    # New articles keep the old ones where they were, and go to whoever has least.
    grown = assign(articles + ["f" * 16], people + ["dan@x.org"], 2, first)
    assert {k: grown[k] for k in first} == first
    assert "dan@x.org" in grown["f" * 16]


def test_assigned_mode_gives_each_annotator_a_queue_of_their_own(ls_workspace):
    ann, ben, cat = _people(ls_workspace, "ann", "ben", "cat")
    people = add_annotators(ls_workspace, [ann, ben, cat], create=True).annotators
    config = ls_workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace('mode = "shared"', 'mode = "assigned"').replace(
        "annotators = []", f"annotators = {json.dumps([ann, ben, cat])}"))
    from toolkit.workspace import Workspace

    ws = Workspace(ls_workspace.root)
    prepare(ws)
    report = push(ws)
    assert report.mode == "assigned" and set(report.queues) == {ann, ben, cat}
    assignments = load_assignments(ws)
    assert len(assignments) == 3 and all(len(who) == 2 for who in assignments.values())
    with LabelStudioClient(connect(ws)) as admin:
        for email, queue in report.queues.items():
            project = admin.project(queue["project_id"])
            tasks = [t for _p, page, _n in admin.iter_task_pages(queue["project_id"], page_size=100) for t in page]
            # exactly the articles assigned to this person, one annotator per queue
            assert {t["data"]["article_id"] for t in tasks} == {a for a, who in assignments.items() if email in who}
            assert project["maximum_annotations"] == 1 and project["title"].endswith(email.split("@")[0])
        tokens = {p.email: _token_of(admin, p.email, p.password) for p in people}
    again = push(ws)
    assert again.imported == 0 and load_assignments(ws) == assignments

    base = connect(ws).url

    def answer(email, queue_owner, value):
        project_id = report.queues[queue_owner]["project_id"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {tokens[email]}"}) as me:
            tasks = me.get("/api/tasks", params={"project": project_id, "page_size": 100}).json()["tasks"]
            task = sorted(tasks, key=lambda t: t["id"])[0]
            result = [{"from_name": "event_type", "to_name": "text", "type": "choices",
                       "value": {"choices": [value]}}]
            return me.post(f"/api/tasks/{task['id']}/annotations/", json={"result": result}).json()["id"]

    for email in (ann, ben, cat):
        answer(email, email, "Armed Assault")
    stray = answer(cat, ann, "Hijacking")  # cat opens ann's queue
    pulled = pull(ws)
    assert set(pulled.source["queues"]) == {ann, ben, cat}
    assert pulled.valid == 3 and pulled.quarantined == 1
    quarantine = [json.loads(line) for line in (ws.annotations_dir / "quarantine.jsonl").read_text().splitlines()]
    assert [(q["annotation_id"], q["errors"][0]["type"]) for q in quarantine] == [(stray, "unassigned-annotation")]
    from toolkit.labelstudio.team import round_status

    status = round_status(ws)
    assert status.ok, [c for c in status.checks if not c.ok]
    assert [c.name for c in status.checks][:2] == ["assignment", f"queue of {ann}"]


# Suggestions (predictions) attached by push ---------------------------------------------------


def test_push_attaches_prediction_files_once_and_reports_bad_lines(ls_workspace):
    from typer.testing import CliRunner

    from toolkit.cli import app

    prepare(ls_workspace)
    articles = [json.loads(line)["data"]["article_id"] for line in ls_workspace.tasks_path.read_text().splitlines()]
    folder = ls_workspace.annotations_dir / "predictions"
    folder.mkdir()

    def line(article, value="Armed Assault", version="rules-1"):
        return json.dumps({"article_id": article, "model_version": version, "score": 0.5, "result": [
            {"from_name": "event_type", "to_name": "text", "type": "choices", "value": {"choices": [value]},
             "score": 0.5}]})

    (folder / "rules-1.jsonl").write_text("\n".join([
        line(articles[0]), line(articles[1]), line("f" * 16),  # the last article is on no task
        line(articles[2], value="No Such Type"),                # not a choice of the scheme
        line(articles[2], version="other"),                     # does not belong in this file
        "{not json",
    ]) + "\n")
    result = CliRunner().invoke(app, ["--workspace", str(ls_workspace.root), "push"])
    assert result.exit_code == 1, result.output
    assert "Suggestions: 2 attached, 0 already there, 1 for articles with no task here" in result.output
    assert "predictions/rules-1.jsonl:4:" in result.output and "predictions/rules-1.jsonl:6:" in result.output
    with LabelStudioClient(connect(ls_workspace)) as client:
        project_id = push(ls_workspace, dry_run=True).project_id
        on_server = client.predictions(project_id)
    assert sorted(p["model_version"] for p in on_server) == ["rules-1", "rules-1"]
    again = push(ls_workspace)
    assert again.suggestions == {"imported": 0, "already_there": 2, "not_on_server": 1, "blind": 0}
    with LabelStudioClient(connect(ls_workspace)) as client:
        assert len(client.predictions(project_id)) == 2  # no second copy, however often push runs


def test_the_blind_share_is_deterministic_and_about_the_fraction_asked():
    from toolkit.labelstudio.predictions import is_blind

    ids = [f"{i:016x}" for i in range(20_000)]
    blind = [a for a in ids if is_blind(a, 0.2, "toolkit")]
    assert 0.19 < len(blind) / len(ids) < 0.21
    assert blind == [a for a in reversed(ids) if is_blind(a, 0.2, "toolkit")][::-1]  # order does not matter
    assert not any(is_blind(a, 0.0, "toolkit") for a in ids[:100])
    assert set(blind) != {a for a in ids if is_blind(a, 0.2, "another seed")}


def test_blind_articles_get_no_suggestion_on_the_server(ls_workspace):
    config = ls_workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("blind_fraction = 0.0", "blind_fraction = 1.0"))
    from toolkit.workspace import Workspace

    ws = Workspace(ls_workspace.root)
    prepare(ws)
    folder = ws.annotations_dir / "predictions"
    folder.mkdir()
    articles = [json.loads(line)["data"]["article_id"] for line in ws.tasks_path.read_text().splitlines()]
    (folder / "rules-1.jsonl").write_text("".join(json.dumps({
        "article_id": a, "model_version": "rules-1", "score": 0.5, "result": [
            {"from_name": "event_type", "to_name": "text", "type": "choices",
             "value": {"choices": ["Armed Assault"]}}]}) + "\n" for a in articles))
    report = push(ws)
    assert report.suggestions == {"imported": 0, "already_there": 0, "not_on_server": 0, "blind": 3}
    with LabelStudioClient(connect(ws)) as client:
        assert client.predictions(report.project_id) == []
