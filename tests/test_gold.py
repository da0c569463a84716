"""Gold policies on crafted conflicts."""

from __future__ import annotations

import pytest

from toolkit.agreement.gold import GoldPolicy, compute_gold, gold_for_article, gold_table
from toolkit.scheme import builtin_scheme

SCHEME = builtin_scheme("news-events-v1")
ARTICLE = "0140e3303133de21"
_ids = iter(range(1, 10_000))


def rec(who, *, event=None, killed=None, spans=(), cancelled=False, truth=False, updated="2024-11-25T10:00:00+00:00",
        article=ARTICLE):
    return {"task_id": 1, "article_id": article, "annotation_id": next(_ids), "annotator_id": None,
            "annotator_email": who, "created_at": updated, "updated_at": updated, "lead_time": 1.0,
            "was_cancelled": cancelled, "ground_truth": truth,
            "entities": [{"start": s, "end": e, "label": lab, "text": "x" * (e - s)} for s, e, lab in spans],
            "event_type": event, "killed": killed, "injured": None, "hostages": None, "note": None}


POLICY = GoldPolicy()
HOSTAGE, ARMED = "Hostage Taking (Barricade Incident)", "Armed Assault"


def test_majority_choice_median_number_and_majority_spans():
    row = gold_for_article(ARTICLE, [
        rec("a", event=HOSTAGE, killed=1, spans=[(0, 5, "GPE"), (10, 20, "ORG")]),
        rec("b", event=HOSTAGE, killed=2, spans=[(0, 5, "GPE"), (10, 20, "PERSON")]),
        rec("c", event=ARMED, killed=2, spans=[(0, 5, "GPE"), (30, 40, "DATE")]),
    ], SCHEME, POLICY)
    assert row["status"] == "resolved" and row["reason"] is None and row["decided_by"] == "policy"
    assert row["event_type"] == HOSTAGE and row["event_type_decision"] == "majority 2/3"
    assert row["killed"] == 2 and row["killed_decision"] == "median of 3"
    assert [(s["start"], s["end"], s["label"]) for s in row["entities"]] == [(0, 5, "GPE")]
    assert row["n_annotators"] == 3 and row["injured"] is None


def test_choice_tie_is_unresolved_with_the_reason_and_no_values():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE), rec("b", event=ARMED)], SCHEME, POLICY)
    assert row["status"] == "unresolved"
    assert row["reason"] == f"event_type: tie between {ARMED!r} and {HOSTAGE!r} (1 vote(s) each)"
    assert row["event_type"] is None and row["entities"] == []


def test_integer_median_between_two_values_is_a_tie():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE, killed=2)],
                           SCHEME, POLICY)
    assert row["status"] == "unresolved" and "killed: median falls between 1 and 2" in row["reason"]


def test_numbers_by_majority_when_configured():
    policy = GoldPolicy(numbers="majority")
    rows = [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE, killed=1), rec("c", event=HOSTAGE, killed=7)]
    row = gold_for_article(ARTICLE, rows, SCHEME, policy)
    assert row["killed"] == 1 and row["killed_decision"] == "majority 2/3"
    split = gold_for_article(ARTICLE, rows[:1] + rows[2:], SCHEME, policy)
    assert split["status"] == "unresolved" and "no majority among [1, 7]" in split["reason"]


def test_span_threshold_k_is_configurable():
    rows = [rec("a", event=HOSTAGE, spans=[(0, 5, "GPE")]), rec("b", event=HOSTAGE, spans=[(0, 5, "GPE")]),
            rec("c", event=HOSTAGE, spans=[(9, 12, "ORG")])]
    assert len(gold_for_article(ARTICLE, rows, SCHEME, POLICY)["entities"]) == 1
    assert len(gold_for_article(ARTICLE, rows, SCHEME, GoldPolicy(span_min_agree=1))["entities"]) == 2
    assert gold_for_article(ARTICLE, rows, SCHEME, GoldPolicy(span_min_agree=3))["entities"] == []


def test_ground_truth_wins_even_against_a_majority():
    row = gold_for_article(ARTICLE, [
        rec("a", event=ARMED), rec("b", event=ARMED),
        rec("reviewer", event=HOSTAGE, killed=1, truth=True, updated="2024-11-26T00:00:00+00:00"),
    ], SCHEME, POLICY)
    assert row["decided_by"] == "ground-truth" and row["status"] == "resolved"
    assert row["event_type"] == HOSTAGE and row["killed"] == 1
    assert row["event_type_decision"].startswith("ground truth (annotation ")


def test_too_few_annotations_is_unresolved_and_cancelled_ones_do_not_count():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE), rec("b", cancelled=True)], SCHEME, POLICY)
    assert row["status"] == "unresolved"
    assert row["reason"] == "1 annotation(s); the policy needs 2"
    assert gold_for_article(ARTICLE, [rec("a", event=HOSTAGE)], SCHEME, GoldPolicy(min_annotations=1))["status"] \
        == "resolved"


def test_required_field_nobody_gave_is_unresolved():
    row = gold_for_article(ARTICLE, [rec("a", killed=1), rec("b", killed=1)], SCHEME, POLICY)
    assert row["status"] == "unresolved" and "'event_type' is required but no annotator gave it" in row["reason"]


def test_gold_table_is_typed_and_one_row_per_article():
    rows = compute_gold([rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE, killed=1),
                         rec("a", event=ARMED, article="ffffffffffffffff")], SCHEME, POLICY)
    table = gold_table(rows, SCHEME)
    assert table.num_rows == 2
    assert table.column("status").to_pylist() == ["resolved", "unresolved"]
    assert str(table.schema.field("killed").type) == "int64"


@pytest.mark.parametrize("bad", [{"numbers": "mean"}, {"min_annotations": 0}])
def test_bad_gold_config_is_an_error(workspace, bad):
    from toolkit.config import config_from_dict
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[gold\]"):
        config_from_dict({"gold": bad})


# ------------------------------------------------- unresolved rows, undecided fields, edits


def test_unresolved_article_keeps_its_decided_fields_for_the_adjudicator():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1, spans=[(0, 5, "GPE")]),
                                     rec("b", event=ARMED, killed=1, spans=[(0, 5, "GPE")])], SCHEME, POLICY)
    assert row["status"] == "unresolved" and row["reason"].startswith("event_type: tie between")
    assert row["event_type"] is None and row["event_type_decision"] == "tie"
    assert row["killed"] == 1 and row["killed_decision"] == "median of 2"
    assert [(s["start"], s["end"], s["label"]) for s in row["entities"]] == [(0, 5, "GPE")]
    assert row["entities_decision"] == "spans marked by at least 2 of 2"
    (stored,) = gold_table([row], SCHEME).to_pylist()
    assert stored["status"] == "unresolved" and stored["killed"] == 1 and stored["killed_decision"] == "median of 2"


def test_a_field_with_fewer_answers_than_the_policy_needs_is_undecided():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE, killed=None)],
                           SCHEME, POLICY)
    assert row["status"] == "unresolved"
    assert row["reason"] == "killed: undecided (1 of 2 annotators gave a value, [gold] min_annotations is 2)"
    assert row["killed"] is None and row["killed_decision"] == "undecided: 1 answer(s), the policy needs 2"
    assert row["event_type"] == HOSTAGE and row["event_type_decision"] == "majority 2/2"
    # Two of three answers are enough; nobody answering is an empty answer, not a shortfall.
    three = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE, killed=1),
                                       rec("c", event=HOSTAGE)], SCHEME, POLICY)
    assert three["status"] == "resolved" and three["killed"] == 1 and three["killed_decision"] == "median of 2"
    assert three["injured"] is None and three["injured_decision"] == "empty: no annotator gave a number"
    # A policy of one annotation decides from one.
    assert gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE)], SCHEME,
                            GoldPolicy(min_annotations=1))["killed"] == 1


def test_too_few_annotations_names_no_field_twice():
    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=3)], SCHEME, POLICY)
    assert row["reason"] == "1 annotation(s); the policy needs 2"
    assert row["event_type"] is None and row["event_type_decision"] == "undecided: 1 answer(s), the policy needs 2"
    assert row["killed"] is None and row["entities"] is None


def test_undecided_reasons_are_counted_by_field_in_releases():
    from toolkit.release.data import reason_kind

    row = gold_for_article(ARTICLE, [rec("a", event=HOSTAGE, killed=1), rec("b", event=HOSTAGE)], SCHEME, POLICY)
    assert reason_kind(row["reason"]) == "killed: undecided"


def _cross_edit(record, editor_email, editor_id, **values):
    """``record`` as it reads after another account saved it with ``values``."""
    return {**record, **values, "updated_by_email": editor_email, "updated_by_id": editor_id,
            "edited_by_other": True, "updated_at": "2024-11-26T09:00:00+00:00"}


def test_an_annotation_edited_by_another_account_is_not_a_vote():
    alice, bob = rec("alice", event=HOSTAGE), rec("bob", event=ARMED)
    assert gold_for_article(ARTICLE, [alice, bob], SCHEME, POLICY)["status"] == "unresolved"  # the tie
    edited = _cross_edit(alice, "bob", 3, event_type=ARMED)  # bob makes alice's answer his own
    row = gold_for_article(ARTICLE, [edited, bob], SCHEME, POLICY)
    assert row["status"] == "unresolved" and row["event_type"] is None
    assert row["reason"] == "1 independent annotation(s) (1 edited by another account left out); the policy needs 2"
    assert row["annotation_ids"] == [bob["annotation_id"]]
    assert row["edited_annotation_ids"] == [alice["annotation_id"]]
    assert row["n_annotators"] == 1 and row["n_annotations"] == 2
    # With a third annotator the edit does not break the tie either.
    carol = rec("carol", event=HOSTAGE)
    row = gold_for_article(ARTICLE, [edited, bob, carol], SCHEME, POLICY)
    assert row["status"] == "unresolved" and row["reason"].startswith("event_type: tie between")
    # A ground-truth answer is an adjudication, not a vote: it decides whoever saved it last.
    truth = _cross_edit(rec("reviewer", event=HOSTAGE, truth=True), "manager", 9)
    row = gold_for_article(ARTICLE, [edited, bob, truth], SCHEME, POLICY)
    assert row["decided_by"] == "ground-truth" and row["event_type"] == HOSTAGE
    # Records pulled before edits were tracked have no such key: they are votes.
    assert "edited_by_other" not in alice and "edited_by_other" not in bob
    assert gold_for_article(ARTICLE, [alice, {**bob, "event_type": HOSTAGE}], SCHEME, POLICY)["status"] == "resolved"


def test_one_vote_per_annotator_the_latest():
    old = rec("a", event=ARMED, updated="2024-11-25T09:00:00+00:00")
    new = rec("a", event=HOSTAGE, updated="2024-11-25T11:00:00+00:00")
    other = rec("b", event=ARMED)
    row = gold_for_article(ARTICLE, [old, new, other], SCHEME, POLICY)
    assert row["status"] == "unresolved" and "tie between" in row["reason"]  # not ARMED by 2 of 3
    assert row["annotation_ids"] == sorted([new["annotation_id"], other["annotation_id"]])
    assert row["n_annotators"] == 2 and row["n_annotations"] == 3
