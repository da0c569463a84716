"""The review loop end to end against the real server: agree -> review -> adjudicate -> pull -> agree."""

from __future__ import annotations

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
    assert [u["article_id"] for u in first.unresolved] == [market]
    assert "1 annotation(s); the policy needs 2" in first.unresolved[0]["reason"]

    plan = review(ws, dry_run=True)
    assert (plan.sent, plan.project_id) == (1, None)
    sent = review(ws)
    assert sent.sent == 1 and sent.predictions == 1
    review_id = stored_review_project_id(ws, connect(ws))
    assert review_id == sent.project_id != project.project_id
    (task,) = [t for _p, page, _n in project.client.iter_task_pages(review_id, page_size=10) for t in page]
    assert task["data"]["article_id"] == market and task["data"]["toolkit_review"] is True
    (prediction,) = project.client.predictions(review_id)
    assert prediction["model_version"] == project.emails[project.alice]
    labels = [r for r in prediction["result"] if r["type"] == "labels"]
    assert labels[0]["value"]["text"] == "Jane Doe"  # the converted (code point) offsets, as pulled
    assert review(ws).already_there == 1  # idempotent

    # the reviewer accepts alice's version with a correction
    text = task["data"]["text"]
    project.client.sdk.annotations.create(id=task["id"], completed_by=project.bob, result=[
        span(text, "Jane Doe", "PERSON"), choice("Facility/Infrastructure Attack"), number("injured", 3)])
    report = pull(ws)
    assert report.source["review_project_id"] == review_id
    assert report.ground_truth == 2
    second = agree(ws)
    assert second.unresolved == []
    gold = {g["article_id"]: g for g in pq.read_table(ws.annotations_dir / "gold.parquet").to_pylist()}
    assert gold[market]["decided_by"] == "ground-truth"
    assert gold[market]["event_type"] == "Facility/Infrastructure Attack" and gold[market]["injured"] == 3
