"""`toolkit agree` on crafted annotations, and the review loop against the real server."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from toolkit.agreement import agree
from toolkit.cli import app
from toolkit.ingest import ingest
from toolkit.validation.normalise import records_to_table
from toolkit.scheme import Scheme

from .conftest import SEED, add_raw

HOSTAGE, ARMED = "Hostage Taking (Barricade Incident)", "Armed Assault"


def _records(ws):
    """Three articles: two agree, one is a tie between two annotators."""
    articles = pq.read_table(ws.articles_path).to_pylist()
    ids = iter(range(1, 1000))
    rows = []

    def add(article, who, event, killed, spans):
        text = article["text"]
        rows.append({"task_id": hash(article["article_id"]) % 1000, "article_id": article["article_id"],
                     "annotation_id": next(ids), "annotator_id": {"alice": 2, "bob": 3}[who],
                     "annotator_email": f"{who}@example.org", "created_at": "2024-11-25T10:00:00+00:00",
                     "updated_at": "2024-11-25T10:00:00+00:00", "lead_time": 60.0, "was_cancelled": False,
                     "ground_truth": False,
                     "entities": [{"start": text.index(w), "end": text.index(w) + len(w), "label": lab, "text": w}
                                  for w, lab in spans],
                     "event_type": event, "killed": killed, "injured": None, "hostages": None, "note": None})

    by_title = {a["title"].split()[0]: a for a in articles}
    seed, near, fire = by_title["Knife-wielding"], by_title["Gunmen"], by_title["Fire"]
    add(seed, "alice", HOSTAGE, 1, [("Volgograd", "GPE"), ("Islamic State", "ORG")])
    add(seed, "bob", HOSTAGE, 1, [("Volgograd", "GPE"), ("Islamic State", "NORP")])
    add(near, "alice", ARMED, 2, [("police checkpoint", "FAC")])
    add(near, "bob", ARMED, 2, [("police checkpoint", "FAC")])
    add(fire, "alice", "Facility/Infrastructure Attack", 0, [])
    add(fire, "bob", "Not an attack event", 0, [])
    return rows


@pytest.fixture
def annotated(workspace):
    add_raw(workspace, SEED.name, "near-a.txt", "dup-a.txt")
    ingest(workspace)
    records = _records(workspace)
    pq.write_table(records_to_table(records, Scheme.load(workspace.scheme_path)),
                   workspace.annotations_dir / "annotations.parquet")
    return workspace


def test_agree_writes_figures_gold_and_plots(annotated):
    report = agree(annotated)
    out = annotated.annotations_dir
    figures = json.loads((out / "agreement.json").read_text())
    assert figures["annotations"] == 6 and figures["annotators"] == 2 and figures["articles_multi"] == 3
    event = figures["fields"]["event_type"]
    assert event["observed_agreement"]["value"] == pytest.approx(2 / 3)
    assert event["alpha_nominal"]["ci"] is not None
    spans = figures["fields"]["entities"]
    # Volgograd/GPE and police checkpoint/FAC match exactly; Islamic State is ORG vs NORP
    assert spans["exact"]["micro_f1"]["value"] == pytest.approx(2 * 2 / (3 + 3))
    assert {"labels": sorted(["ORG", "NORP"]), "count": 1} in [
        {"labels": sorted(c["labels"]), "count": c["count"]} for c in spans["confusion"]]
    gold = {g["article_id"]: g for g in pq.read_table(out / "gold.parquet").to_pylist()}
    assert report.resolved == 2 and len(report.unresolved) == 1
    (tie,) = [g for g in gold.values() if g["status"] == "unresolved"]
    assert "event_type: tie between" in tie["reason"]
    resolved = [g for g in gold.values() if g["status"] == "resolved"]
    assert {g["event_type"] for g in resolved} == {HOSTAGE, ARMED}
    md = (out / "agreement.md").read_text()
    assert "| event_type | alpha_nominal |" in md and tie["article_id"] in md
    for png in ("agreement-entities.png", "agreement-event_type-confusion.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")


def test_agree_cli_prints_the_headline_table(annotated):
    result = CliRunner().invoke(app, ["-w", str(annotated.root), "agree"])
    assert result.exit_code == 0, result.output
    assert "event_type" in result.output and "alpha_nominal" in result.output
    assert "Gold: 2 resolved (0 by ground truth), 1 unresolved" in result.output
    as_json = CliRunner().invoke(app, ["-w", str(annotated.root), "agree", "--json"])
    assert json.loads(as_json.output)["agreement"] == json.loads(
        (annotated.annotations_dir / "agreement.json").read_text())


def test_agree_is_reproducible(annotated):
    agree(annotated)
    first = (annotated.annotations_dir / "agreement.json").read_text()
    agree(annotated)
    assert (annotated.annotations_dir / "agreement.json").read_text() == first


def test_agree_before_pull_is_a_clear_error(workspace):
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "agree"])
    assert result.exit_code == 1 and "toolkit pull" in result.output
