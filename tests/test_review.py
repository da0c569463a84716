"""The review loop end to end against the real server: agree -> review -> adjudicate -> pull -> agree."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from toolkit.agreement import agree
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio import stored_review_project_id
from toolkit.labelstudio import connect
from toolkit.labelstudio.review import review

from .test_pull import Project, choice, number, span

pytestmark = pytest.mark.labelstudio


@pytest.fixture
def project(ls_workspace, label_studio):
    p = Project(ls_workspace, label_studio)
    yield p
    p.close()


def test_unresolved_article_is_adjudicated_and_becomes_gold(project):
    ws = project.ws
    pull(ws)
    first = agree(ws)
    market = project.task["Market"]["data"]["article_id"]
    seed = project.task["Knife-wielding"]["data"]["article_id"]
    reasons = {u["article_id"]: u["reason"] for u in first.unresolved}
    assert set(reasons) == {market, seed}
    assert "1 annotation(s); the policy needs 2" in reasons[market]
    # alice left hostages blank where bob counted 2: one answer is not gold when the policy needs two.
    assert reasons[seed].startswith("hostages: undecided")

    plan = review(ws, dry_run=True)
    assert (plan.sent, plan.project_id) == (2, None)
    sent = review(ws, articles=[market])
    assert sent.sent == 1 and sent.predictions == 1
    review_id = stored_review_project_id(ws, connect(ws))
    assert review_id == sent.project_id != project.project_id
    (task,) = [t for _p, page, _n in project.client.iter_task_pages(review_id, page_size=10) for t in page]
    assert task["data"]["article_id"] == market and task["data"]["toolkit_review"] is True
    (prediction,) = project.client.predictions(review_id)
    # A readable name that fits Label Studio's prediction tab, not a cut e-mail address.
    assert prediction["model_version"] == project.emails[project.alice].split("@")[0][:12]
    assert task["data"]["toolkit_annotators"] == project.emails[project.alice]
    settings = project.client.project(review_id)
    assert settings["show_collab_predictions"] is False  # no annotator's version pre-filled
    assert settings["show_instruction"] is True and "did not annotate" in settings["expert_instruction"]
    labels = [r for r in prediction["result"] if r["type"] == "labels"]
    assert labels[0]["value"]["text"] == "Jane Doe"  # the converted (code point) offsets, as pulled
    assert review(ws, articles=[market]).already_there == 1  # idempotent

    # the reviewer accepts alice's version with a correction
    text = task["data"]["text"]
    project.client.sdk.annotations.create(id=task["id"], completed_by=project.bob, result=[
        span(text, "Jane Doe", "PERSON"), choice("Facility/Infrastructure Attack"), number("injured", 3)])
    report = pull(ws)
    assert report.source["review_project_id"] == review_id
    assert report.ground_truth == 2
    second = agree(ws)
    assert [u["article_id"] for u in second.unresolved] == [seed]
    gold = {g["article_id"]: g for g in pq.read_table(ws.annotations_dir / "gold.parquet").to_pylist()}
    assert gold[market]["decided_by"] == "ground-truth"
    assert gold[market]["event_type"] == "Facility/Infrastructure Attack" and gold[market]["injured"] == 3


def test_an_adjudication_by_the_articles_own_annotator_or_an_invalid_one_is_loud_and_not_gold(project):
    ws = project.ws
    pull(ws)
    agree(ws)
    market = project.task["Market"]["data"]["article_id"]
    sent = review(ws, articles=[market])
    (task,) = [t for _p, page, _n in project.client.iter_task_pages(sent.project_id, page_size=10) for t in page]
    text = task["data"]["text"]
    # alice annotated the Market article herself; her "adjudication" is not gold.
    own = project.client.sdk.annotations.create(id=task["id"], completed_by=project.alice, result=[
        span(text, "Jane Doe", "PERSON"), choice("Armed Assault")]).id
    # bob's adjudication has two identical spans, which the editor allows and the scheme forbids.
    invalid = project.client.sdk.annotations.create(id=task["id"], completed_by=project.bob, result=[
        span(text, "Jane Doe", "PERSON"), span(text, "Jane Doe", "PERSON"), choice("Armed Assault")]).id
    report = pull(ws)
    problems = {p["annotation_id"]: p for p in report.adjudication_problems}
    assert set(problems) == {own, invalid}
    assert "cannot adjudicate it" in problems[own]["reasons"][0]
    assert any(r.startswith("overlapping-spans") for r in problems[invalid]["reasons"])
    assert problems[invalid]["link"] == f"{project.server.url}/projects/{sent.project_id}/data?task={task['id']}"
    # Both are new: `added` counts them, and says they went to quarantine.
    assert {own, invalid} <= set(report.changes.added)
    assert set(report.changes.added_quarantined) == {own, invalid}
    quarantined = [json.loads(line) for line in (ws.annotations_dir / "quarantine.jsonl").read_text().splitlines()]
    assert {q["annotation_id"] for q in quarantined} >= {own, invalid}
    again = agree(ws)
    assert market in [u["article_id"] for u in again.unresolved]
    assert pull(ws).changes.added == []  # a re-pull does not call them new again


def test_with_adjudicators_nobody_is_asked_to_adjudicate_their_own_article(project):
    """[campaign] adjudicators: each review task goes to the queue of an adjudicator who did not
    annotate the article; an answer in someone else's review queue is not gold."""
    ws = project.ws
    alice, bob = project.emails[project.alice], project.emails[project.bob]
    config = ws.root / "toolkit.toml"
    config.write_text(config.read_text().replace("adjudicators = []", f"adjudicators = {json.dumps([alice, bob])}"))
    from toolkit.workspace import Workspace

    ws = Workspace(ws.root)
    pull(ws)
    agree(ws)
    market = project.task["Market"]["data"]["article_id"]  # annotated by alice only
    seed = project.task["Knife-wielding"]["data"]["article_id"]  # annotated by alice and bob
    report = review(ws, articles=[market, seed])
    # the seed was annotated by both adjudicators: nobody may adjudicate it, and the maintainer hears so
    assert report.no_adjudicator == [seed] and report.queues == {bob: 1} and report.sent == 1
    from toolkit.labelstudio.project import REVIEW_QUEUE_PREFIX, stored_queue_ids

    queues = stored_queue_ids(ws, connect(ws), prefix=REVIEW_QUEUE_PREFIX)
    assert list(queues) == [bob]
    (task,) = [t for _p, page, _n in project.client.iter_task_pages(queues[bob], page_size=10) for t in page]
    assert task["data"]["article_id"] == market
    assert "review queue of " + bob in project.client.project(queues[bob])["expert_instruction"]
    assert review(ws, articles=[market]).already_there == 1
    text = task["data"]["text"]
    # alice answers in bob's queue: not gold; bob's own answer is.
    stray = project.client.sdk.annotations.create(id=task["id"], completed_by=project.alice,
                                                  result=[choice("Armed Assault")]).id
    project.client.sdk.annotations.create(id=task["id"], completed_by=project.bob, result=[
        span(text, "Jane Doe", "PERSON"), choice("Facility/Infrastructure Attack"), number("injured", 3)])
    pulled = pull(ws)
    assert [p["annotation_id"] for p in pulled.adjudication_problems] == [stray]
    assert pulled.adjudication_problems[0]["link"].endswith(f"/projects/{queues[bob]}/data?task={task['id']}")
    gold = {g["article_id"]: g for g in pq.read_table(ws.annotations_dir / "gold.parquet").to_pylist()} \
        if agree(ws) else {}
    assert gold[market]["decided_by"] == "ground-truth" and gold[market]["event_type"] == "Facility/Infrastructure Attack"
