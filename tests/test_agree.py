"""`toolkit agree` on crafted annotations, and the review loop against the real server."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from toolkit.agreement import agree
from toolkit.cli import app
from toolkit.ingest import ingest
from toolkit.validation.normalise import records_to_table
from toolkit.scheme import Scheme

from .conftest import SEED, add_raw
from toolkit.articles import read_articles

HOSTAGE, ARMED = "Hostage Taking (Barricade Incident)", "Armed Assault"


def _records(ws):
    """Three articles: two agree, one is a tie between two annotators."""
    articles = read_articles(ws).to_pylist()
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


def _write(ws, records):
    """annotations.parquet, with the columns saying who saved each annotation last."""
    table = records_to_table(records, Scheme.load(ws.scheme_path))
    for key, kind in (("updated_by_id", pa.int64()), ("updated_by_email", pa.string()),
                      ("edited_by_other", pa.bool_())):
        if key not in table.column_names and any(key in r for r in records):
            table = table.append_column(pa.field(key, kind), pa.array([r.get(key) for r in records], kind))
    pq.write_table(table, ws.annotations_dir / "annotations.parquet")


@pytest.fixture
def annotated(workspace):
    add_raw(workspace, SEED.name, "near-a.txt", "dup-a.txt")
    ingest(workspace)
    _write(workspace, _records(workspace))
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
    # The fields both annotators agreed on stay visible for the adjudicator.
    assert tie["event_type"] is None and tie["killed"] == 0 and tie["killed_decision"] == "median of 2"
    resolved = [g for g in gold.values() if g["status"] == "resolved"]
    assert {g["event_type"] for g in resolved} == {HOSTAGE, ARMED}
    md = (out / "agreement.md").read_text()
    assert "| event_type | alpha_nominal |" in md and tie["article_id"] in md
    (pair,) = figures["pairs"]
    assert pair["annotators"] == ["alice@example.org", "bob@example.org"] and pair["articles"] == 3
    assert pair["fields"]["event_type"]["observed_agreement"]["value"] == pytest.approx(2 / 3)
    assert "## Annotator pairs" in md and "| alice@example.org | bob@example.org | 3 | 3 | 0.667" in md
    assert figures["edits"] == [] and "## Edits by another account" in md
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


def test_an_edit_by_another_account_is_listed_and_not_a_vote(annotated):
    # On the article they disagree on, bob saves alice's annotation with his own answer.
    records = _records(annotated)
    for r in records:
        r.update(updated_by_id=r["annotator_id"], updated_by_email=r["annotator_email"], edited_by_other=False)
    alice, bob = [r for r in records if r["event_type"] in ("Facility/Infrastructure Attack", "Not an attack event")]
    alice.update(event_type=bob["event_type"], updated_by_id=3, updated_by_email="bob@example.org",
                 edited_by_other=True, updated_at="2024-11-26T09:00:00+00:00")
    _write(annotated, records)
    report = agree(annotated)
    out = annotated.annotations_dir
    figures = json.loads((out / "agreement.json").read_text())
    assert figures["edits"] == [{"task_id": alice["task_id"], "article_id": alice["article_id"],
                                 "annotation_id": alice["annotation_id"], "annotator": "alice@example.org",
                                 "editor": "bob@example.org", "updated_at": "2024-11-26T09:00:00+00:00"}]
    assert (figures["annotations"], figures["edited_by_other_excluded"], figures["articles_multi"]) == (5, 1, 2)
    assert figures["pairs"][0]["articles"] == 2  # not 3: the edited article is no longer shared
    gold = {g["article_id"]: g for g in pq.read_table(out / "gold.parquet").to_pylist()}
    row = gold[alice["article_id"]]
    assert row["status"] == "unresolved" and row["event_type"] is None
    assert "1 edited by another account left out" in row["reason"]
    assert row["edited_annotation_ids"] == [alice["annotation_id"]]
    assert report.edited_by_other == 1 and len(report.unresolved) == 1
    md = (out / "agreement.md").read_text()
    assert "and 1 edited-by-another-account annotation(s) left out" in md
    assert (f"| {alice['task_id']} | {alice['article_id']} | {alice['annotation_id']} | alice@example.org | "
            "bob@example.org |") in md


# ----------------------------------------------------------------------------------- plots


def test_confusion_plot_tick_labels_are_distinct():
    import matplotlib

    matplotlib.use("Agg")
    from toolkit.agreement.report import confusion_figure
    from toolkit.scheme import builtin_scheme

    field = builtin_scheme("news-events-v1").field("event_type")
    fig = confusion_figure({"confusion": [{"labels": [HOSTAGE, "Hostage Taking (Kidnapping)"], "count": 1}]}, field)
    ax = fig.axes[0]
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        texts = [t.get_text() for t in ticks]
        assert len(texts) == len(field.values) and len(set(texts)) == len(texts), texts
        assert [" ".join(t.split()) for t in texts] == list(field.values)  # whole labels, only wrapped
    # The one disagreement is one cell, shown once (the upper triangle is left empty).
    shown = [t.get_text() for t in ax.texts]
    assert shown == ["1"]


def test_span_plot_draws_the_bootstrap_intervals():
    import matplotlib

    matplotlib.use("Agg")
    from toolkit.agreement.metrics import compute_agreement
    from toolkit.agreement.report import span_figure
    from toolkit.scheme import builtin_scheme

    from .test_agreement import _noisy_records

    scheme = builtin_scheme("news-events-v1")
    stats = compute_agreement(_noisy_records(), scheme, bootstrap=200, seed=1)["fields"]["entities"]
    ax = span_figure(stats, scheme.field("entities")).axes[0]
    (bars,) = ax.collections  # the error bars: one segment per label with an interval
    heights = [abs(seg[1][1] - seg[0][1]) for seg in bars.get_segments()]
    assert len(heights) == len(stats["per_label"]) == 3 and all(h > 0 for h in heights)
    assert "95% bootstrap CI" in ax.get_title()
    without = compute_agreement(_noisy_records(), scheme, bootstrap=0)["fields"]["entities"]
    ax = span_figure(without, scheme.field("entities")).axes[0]
    assert not ax.collections and "no intervals" in ax.get_title()
    assert [t.get_text() for t in ax.texts].count("no CI") == 3


def test_agree_says_plainly_when_the_servers_overlap_cannot_satisfy_the_policy(annotated):
    import json as json_

    from typer.testing import CliRunner

    from toolkit.cli import app

    (annotated.annotations_dir / "pull-report.json").write_text(json_.dumps(
        {"source": {"kind": "server", "url": "http://127.0.0.1:1", "project_id": 1, "maximum_annotations": 1}}))
    report = agree(annotated)
    assert report.warnings == [
        "the server gave each task to 1 annotator(s) when last pulled, but [gold] min_annotations is 2: articles "
        "cannot reach gold by agreement. Run `toolkit push` (it sets maximum_annotations), then let annotators "
        "label and pull again"]
    result = CliRunner().invoke(app, ["--workspace", str(annotated.root), "agree"])
    assert result.exit_code == 0 and "warning: the server gave each task to 1 annotator(s)" in result.output
    (annotated.annotations_dir / "pull-report.json").write_text(json_.dumps({"source": {"maximum_annotations": 2}}))
    assert agree(annotated).warnings == []


def test_the_too_few_annotations_reason_is_counted_as_one_kind():
    from toolkit.release.data import reason_kind

    assert reason_kind("1 annotation(s); the policy needs 2") == "too few annotations"
    assert reason_kind("1 annotation(s); the policy needs 2; event_type: tie (1-1)") == \
        "event_type: tie; too few annotations"
