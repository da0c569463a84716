"""The anchoring guard of `toolkit agree`: answers made with and without a suggestion compared."""

from __future__ import annotations

import json
from itertools import count

import pyarrow.parquet as pq
import pytest

from toolkit.agreement import agree, compute_agreement, suggestion_effect, suggestions_markdown
from toolkit.scheme import Scheme
from toolkit.validation import predictions_to_table

from .test_agree import ARMED, HOSTAGE, annotated  # noqa: F401  (the fixture: a small annotated workspace)
from toolkit.articles import read_articles

BOMBING = "Bombing/Explosion"
CITY, GROUP, PLACE = ({"start": 0, "end": 9, "label": "GPE", "text": "Volgograd"},
                      {"start": 20, "end": 33, "label": "ORG", "text": "Islamic State"},
                      {"start": 40, "end": 57, "label": "FAC", "text": "police checkpoint"})


@pytest.fixture
def scheme(workspace):
    return Scheme.load(workspace.scheme_path)


_ids = count(1)


def answer(article, who, *, entities=(), event=None, killed=None, injured=None, hostages=None, note=None, **extra):
    """One validated annotation record, on task ``t-<article>`` unless ``task_id`` says otherwise."""
    return {"task_id": extra.pop("task_id", 100 + int(article[1:])), "article_id": article,
            "annotation_id": next(_ids), "annotator_id": {"alice": 2, "bob": 3, "carol": 4}[who],
            "annotator_email": f"{who}@example.org", "created_at": "2024-11-25T10:00:00+00:00",
            "updated_at": "2024-11-25T10:00:00+00:00", "lead_time": 30.0, "was_cancelled": False,
            "ground_truth": False, "entities": [dict(s) for s in entities], "event_type": event, "killed": killed,
            "injured": injured, "hostages": hostages, "note": note, **extra}


def prediction(article, *, entities=(), event=None, killed=None, injured=None, hostages=None, note=None,
               model_version="rules-1", created_at="2024-11-20T09:00:00+00:00", **extra):
    """One row of predictions.parquet; with no field given it is a score-only prediction."""
    return {"task_id": extra.pop("task_id", 100 + int(article[1:])), "article_id": article,
            "prediction_id": next(_ids), "model_version": model_version, "score": 0.5, "created_at": created_at,
            "entities": [dict(s) for s in entities], "event_type": event, "killed": killed, "injured": injured,
            "hostages": hostages, "note": note, **extra}


def suggested(article):
    """The suggestion on suggested article ``article``: what alice accepts as it is."""
    return {"entities": [CITY, GROUP], "event": HOSTAGE, "killed": 1, "hostages": int(article[1:])}


def crafted():
    """Four suggested articles (a1-a4) and two blind ones (b5, b6, with score-only predictions).

    alice accepts every suggestion unchanged (her spans in another order); bob changes the
    event type on a2 only; on the blind articles both answer the same.
    """
    records, predictions = [], []
    for article in ("a1", "a2", "a3", "a4"):
        s = suggested(article)
        predictions.append(prediction(article, **s))
        records.append(answer(article, "alice", **{**s, "entities": list(reversed(s["entities"]))}))
        records.append(answer(article, "bob", **{**s, "event": ARMED if article == "a2" else HOSTAGE}))
    for article in ("b5", "b6"):
        predictions.append(prediction(article, note="kept for queue ordering"))  # no span, choice or number
        for who in ("alice", "bob"):
            records.append(answer(article, who, entities=[PLACE], event=BOMBING, killed=0))
    return records, predictions


def resolved(article, **values):
    return {"article_id": article, "status": "resolved", "entities": [], "event_type": None, "killed": None,
            "injured": None, "hostages": None, "note": None, **values}


def test_accepting_unchanged_is_measured_per_annotator_and_field(scheme):
    records, predictions = crafted()
    section = suggestion_effect(records, predictions, {}, scheme)
    alice, bob = section["annotators"]["alice@example.org"], section["annotators"]["bob@example.org"]
    assert alice["accepted_unchanged"]["value"] == 1.0 and alice["accepted_unchanged"]["n"] == 4
    assert bob["accepted_unchanged"]["value"] == pytest.approx(3 / 4) and bob["accepted_unchanged"]["n"] == 4
    assert bob["accepted_by_field"]["event_type"]["value"] == pytest.approx(3 / 4)
    assert all(bob["accepted_by_field"][f]["value"] == 1.0 for f in ("entities", "killed", "injured", "hostages"))
    assert "note" not in bob["accepted_by_field"]  # free text is never compared
    assert (alice["with"]["annotations"], alice["without"]["annotations"]) == (4, 2)
    group = section["groups"]["with"]
    assert group["accepted_unchanged"]["value"] == pytest.approx(7 / 8) and group["accepted_unchanged"]["n"] == 8


def test_score_only_predictions_on_blind_articles_count_as_without(scheme):
    records, predictions = crafted()
    section = suggestion_effect(records, predictions, {}, scheme)
    assert section["predictions"] == 6 and section["predictions_with_result"] == 4
    w, wo = section["groups"]["with"], section["groups"]["without"]
    assert (w["articles"], w["annotations"]) == (4, 8)
    assert (wo["articles"], wo["annotations"]) == (2, 4)
    assert "accepted_unchanged" not in wo


def test_agreement_per_group_is_the_agreement_function_on_that_subset(scheme):
    records, predictions = crafted()
    section = suggestion_effect(records, predictions, {}, scheme, bootstrap=50, seed=3)
    for name, articles in (("with", {"a1", "a2", "a3", "a4"}), ("without", {"b5", "b6"})):
        subset = [r for r in records if r["article_id"] in articles]
        expected = compute_agreement(subset, scheme, bootstrap=50, seed=3)
        got = section["groups"][name]["agreement"]
        assert got["event_type"]["alpha_nominal"]["value"] == expected["fields"]["event_type"]["alpha_nominal"]["value"]
        assert got["event_type"]["alpha_nominal"]["ci"] == expected["fields"]["event_type"]["alpha_nominal"]["ci"]
        assert got["entities"]["exact.micro_f1"]["value"] == expected["fields"]["entities"]["exact"]["micro_f1"]["value"]
        assert got["hostages"]["alpha_interval"]["n"] == expected["fields"]["hostages"]["alpha_interval"]["n"]
    # Spans agree fully on the suggested articles; bob's one other event type shows in that group only.
    assert section["groups"]["with"]["agreement"]["entities"]["exact.micro_f1"]["value"] == 1.0
    assert section["groups"]["with"]["agreement"]["event_type"]["alpha_nominal"]["value"] < 1.0


def test_gold_accuracy_per_group_and_annotator(scheme):
    records, predictions = crafted()
    records.append(answer("b6", "carol", entities=[PLACE, CITY], event=BOMBING, killed=3))
    gold = {a: resolved(a, entities=[CITY, GROUP], event_type=HOSTAGE, killed=1, hostages=int(a[1:]))
            for a in ("a1", "a2", "a3", "a4")}
    gold["b5"] = resolved("b5", entities=[PLACE], event_type=BOMBING, killed=0)
    gold["b6"] = {**resolved("b6", entities=[PLACE], event_type=BOMBING, killed=0), "status": "unresolved"}
    section = suggestion_effect(records, predictions, gold, scheme)
    bob = section["annotators"]["bob@example.org"]
    assert bob["with"]["gold_accuracy"]["event_type"]["value"] == pytest.approx(3 / 4)
    assert bob["with"]["gold_accuracy"]["entities"]["value"] == 1.0
    assert bob["with"]["gold_accuracy"]["injured"]["value"] == 1.0  # empty answer, empty gold value
    # b6 is unresolved: only b5 counts without a suggestion
    assert bob["without"]["gold_accuracy"]["event_type"]["n"] == 1
    carol = section["annotators"]["carol@example.org"]
    assert carol["without"]["annotations"] == 1
    killed = carol["without"]["gold_accuracy"]["killed"]
    assert killed["value"] is None and killed["n"] == 0 and "resolved gold" in killed["undefined"]
    with_group = section["groups"]["with"]["gold_accuracy"]
    assert with_group["event_type"]["value"] == pytest.approx(7 / 8) and with_group["event_type"]["n"] == 8
    assert section["groups"]["without"]["gold_accuracy"]["entities"]["n"] == 2


def test_span_gold_accuracy_is_the_exact_f1_of_each_annotation(scheme):
    records = [answer("a1", "alice", entities=[CITY, GROUP, PLACE], event=HOSTAGE),  # one span too many
               answer("a1", "bob", entities=[{**CITY, "label": "ORG"}], event=HOSTAGE)]  # wrong label
    predictions = [prediction("a1", entities=[CITY])]
    gold = {"a1": resolved("a1", entities=[CITY, GROUP], event_type=HOSTAGE)}
    section = suggestion_effect(records, predictions, gold, scheme)
    people = section["annotators"]
    assert people["alice@example.org"]["with"]["gold_accuracy"]["entities"]["value"] == pytest.approx(2 * 2 / 5)
    assert people["bob@example.org"]["with"]["gold_accuracy"]["entities"]["value"] == 0.0
    assert section["groups"]["with"]["gold_accuracy"]["entities"]["value"] == pytest.approx((4 / 5 + 0) / 2)


def test_an_empty_group_is_null_with_n_zero_never_zero_percent(scheme):
    records, predictions = crafted()
    blind_only = [r for r in records if r["article_id"].startswith("b")]
    section = suggestion_effect(blind_only, [p for p in predictions if p["article_id"].startswith("b")], {}, scheme)
    w = section["groups"]["with"]
    assert (w["articles"], w["annotations"]) == (0, 0)
    assert w["accepted_unchanged"]["value"] is None and w["accepted_unchanged"]["n"] == 0
    assert all(e["value"] is None and e["n"] == 0 for e in w["gold_accuracy"].values())
    assert all(e["value"] is None and e["n"] == 0 for m in w["agreement"].values() for e in m.values())
    alice = section["annotators"]["alice@example.org"]
    assert alice["accepted_unchanged"]["value"] is None and alice["accepted_unchanged"]["n"] == 0
    md = "\n".join(suggestions_markdown(section))
    assert "| accepted unchanged | – (n=0) |" in md and "0.0%" not in md


def test_the_latest_suggestion_is_compared_and_review_versions_are_not_suggestions(scheme):
    records = [answer("a1", "alice", entities=[CITY], event=ARMED, killed=2),
               answer("a2", "alice", entities=[CITY], event=ARMED, killed=2),
               # a2's adjudication in the review project, on its own task
               answer("a2", "carol", entities=[CITY], event=ARMED, killed=2, ground_truth=True, task_id=900)]
    predictions = [prediction("a1", entities=[CITY], event=HOSTAGE, killed=2, model_version="rules-1",
                              created_at="2024-11-20T09:00:00+00:00"),
                   prediction("a1", entities=[CITY], event=ARMED, killed=2, model_version="ner-2",
                              created_at="2024-11-21T09:00:00+00:00"),
                   prediction("a1", model_version="ranker", created_at="2024-11-22T09:00:00+00:00"),  # score only
                   prediction("a2", entities=[CITY], event=ARMED, killed=2, model_version="alice", task_id=900)]
    section = suggestion_effect(records, predictions, {}, scheme)
    assert section["annotators"]["alice@example.org"]["accepted_unchanged"]["value"] == 1.0
    assert section["groups"]["with"]["articles"] == 1 and section["groups"]["without"]["articles"] == 1


def test_without_predictions_the_section_says_so(scheme):
    records, _ = crafted()
    section = suggestion_effect(records, [], {}, scheme)
    assert section["predictions"] == 0 and "groups" not in section and "no predictions" in section["note"]
    md = suggestions_markdown(section)
    assert md[0] == "## Suggestions and anchoring" and "No predictions" in md[-1]


def test_agree_writes_the_suggestions_section(annotated):  # noqa: F811
    out = annotated.annotations_dir
    scheme = Scheme.load(annotated.scheme_path)
    records = pq.read_table(out / "annotations.parquet").to_pylist()
    by_title = {a["article_id"]: a["title"] for a in read_articles(annotated).to_pylist()}
    task = {r["article_id"]: r["task_id"] for r in records}
    suggested_ids = sorted(a for a in task if not by_title[a].startswith("Fire"))
    blind = next(a for a in task if by_title[a].startswith("Fire"))
    rows = [{"task_id": task[a], "article_id": a, "prediction_id": k, "model_version": "rules-1", "score": 0.9,
             "created_at": "2024-11-20T09:00:00+00:00", "entities": [], "event_type": HOSTAGE, "killed": 1}
            for k, a in enumerate(suggested_ids, start=1)]
    rows.append({"task_id": task[blind], "article_id": blind, "prediction_id": 9, "model_version": "rules-1",
                 "score": 0.1, "created_at": "2024-11-20T09:00:00+00:00", "entities": []})
    pq.write_table(predictions_to_table(rows, scheme), out / "predictions.parquet")

    report = agree(annotated)
    figures = json.loads((out / "agreement.json").read_text())
    section = figures["suggestions"]
    assert report.agreement["suggestions"] == section
    assert section["predictions"] == 3 and section["predictions_with_result"] == 2
    assert (section["groups"]["with"]["articles"], section["groups"]["with"]["annotations"]) == (2, 4)
    assert (section["groups"]["without"]["articles"], section["groups"]["without"]["annotations"]) == (1, 2)
    # alice and bob both answered HOSTAGE, 1 on the seed article only: one of their two suggested answers
    for who in ("alice@example.org", "bob@example.org"):
        assert section["annotators"][who]["accepted_by_field"]["event_type"]["value"] == pytest.approx(1 / 2)
    md = (out / "agreement.md").read_text()
    assert "## Suggestions and anchoring" in md
    assert "Gold accuracy is measured against gold made from these same annotations" in md
    assert "| alice@example.org | 2 / 1 |" in md


def test_agree_without_predictions_file_notes_it(annotated):  # noqa: F811
    agree(annotated)
    section = json.loads((annotated.annotations_dir / "agreement.json").read_text())["suggestions"]
    assert section["predictions"] == 0 and "groups" not in section
    assert "## Suggestions and anchoring" in (annotated.annotations_dir / "agreement.md").read_text()
