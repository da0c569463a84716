"""Agreement and gold for events, relations and span attributes, on crafted disagreements.

Records are in the record format of the default scheme (news-events version 2): events with
a trigger, arguments and attributes (attack_type the type), relations between entity spans.
Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

import json

import pytest

from toolkit.agreement.events import cluster_events, compare_events, gold_offsets, match_events
from toolkit.agreement.gold import GoldPolicy, gold_arrow_schema, gold_for_article, gold_table
from toolkit.agreement.metrics import compute_agreement
from toolkit.agreement.report import check_finite_answers, headline_rows, render_markdown
from toolkit.agreement.suggestions import suggestion_effect
from toolkit.config import ConfigError, config_from_dict, render_default_config
from toolkit.errors import InputError
from toolkit.scheme import Scheme, builtin_scheme, default_scheme
from toolkit.articles import read_articles

SCHEME = default_scheme()
ARMED, BOMB = "Armed Assault", "Bombing/Explosion"
ARTICLE = "00000000000000aa"
_ids = iter(range(1, 10**9))


def ev(start, end, kind=ARMED, *, killed=None, injured=None, args=(), text=None):
    """One event: trigger (start, end), type, counts and arguments (role, start, end, label)."""
    return {"trigger": {"start": start, "end": end, "text": text or "t" * (end - start)},
            "arguments": [{"role": r, "start": s, "end": e, "label": lab, "text": "a" * (e - s)}
                          for r, s, e, lab in args],
            "attack_type": kind, "killed": killed, "injured": injured, "hostages": None, "certainty": None}


def rel(label, head, tail):
    """One relation between (start, end, label) spans."""
    def end(s, e, lab):
        return {"start": s, "end": e, "label": lab, "text": "x" * (e - s)}
    return {"label": label, "head": end(*head), "tail": end(*tail)}


def rec(who, events=(), relations=(), entities=(), *, article=ARTICLE, truth=False):
    return {"task_id": 1, "article_id": article, "annotation_id": next(_ids), "annotator_id": None,
              "annotator_email": who, "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z",
              "lead_time": 10.0, "was_cancelled": False, "ground_truth": truth,
              "entities": list(entities), "events": list(events), "relations": list(relations), "note": None}


def figures(records, scheme=SCHEME, **kwargs):
    kwargs.setdefault("bootstrap", 0)
    result = compute_agreement(records, scheme, **kwargs)
    json.dumps(result, allow_nan=False)  # JSON-able, no NaN anywhere
    return result


# ----------------------------------------------------------------------------------- matching


def test_events_are_matched_one_to_one_by_the_largest_trigger_overlap():
    # A's (0, 10) overlaps B's (0, 3) by 3 and B's (2, 10) by 8: the larger wins, and B's
    # (0, 3) stays unmatched (one to one).
    assert match_events([ev(0, 10)], [ev(0, 3), ev(2, 10)]) == [(0, 1)]
    # Equal overlaps (4 each): the identical trigger first, then the earlier one.
    assert match_events([ev(5, 9)], [ev(4, 9), ev(5, 9)]) == [(0, 1)]
    assert match_events([ev(5, 10)], [ev(4, 9), ev(6, 10)]) == [(0, 0)]
    # Touching is not overlapping.
    assert match_events([ev(0, 5)], [ev(5, 9)]) == []


def test_clusters_hold_one_event_per_annotator_and_only_mutually_overlapping_ones():
    # b-c overlap by 5 (15-20), a-b by 2 (8-10), a-c not at all: b and c cluster first, and a
    # cannot join them since it does not overlap c.
    clusters = cluster_events({"a": [ev(0, 10)], "b": [ev(8, 20)], "c": [ev(15, 25)]})
    assert clusters == [{"a": 0}, {"b": 0, "c": 0}]
    # Two events of one annotator never share a cluster, even when both overlap another's.
    assert cluster_events({"a": [ev(0, 6), ev(4, 10)], "b": [ev(2, 8)]}) == [{"a": 0, "b": 0}, {"a": 1}]


def test_gold_offsets_take_the_most_common_then_the_earliest_then_the_shortest():
    assert gold_offsets([(5, 9), (5, 9), (3, 9)]) == (5, 9)
    assert gold_offsets([(5, 9), (3, 9)]) == (3, 9)
    assert gold_offsets([(3, 9), (3, 5)]) == (3, 5)


# ---------------------------------------------------------------------------------- agreement


def test_trigger_f1_counts_overlap_and_event_f1_also_the_type():
    # A has 2 events, B has 1 overlapping A's first ((1, 5) in (0, 5)) with another type:
    # trigger F1 = 2 x 1 / (2 + 1) = 2/3, event F1 = 2 x 0 / 3 = 0.
    out = figures([rec("a", [ev(0, 5, ARMED), ev(20, 25, BOMB)]), rec("b", [ev(1, 5, BOMB)])])
    events = out["fields"]["events"]
    assert events["kind"] == "events" and events["units"] == 1 and events["pairs"] == 1 and events["events"] == 3
    assert events["trigger_f1"]["value"] == pytest.approx(2 / 3)
    assert events["event_f1"]["value"] == 0.0
    assert events["trigger_f1"]["n"] == 1  # one article
    # the same figures for the pair, and the headline carries them
    pair = out["pairs"][0]["fields"]["events"]
    assert pair["trigger_f1"]["value"] == pytest.approx(2 / 3) and pair["event_f1"]["value"] == 0.0
    rows = {(f, m): v for f, m, v, _ in headline_rows(out)}
    assert rows[("events", "trigger_f1")] == "0.667" and rows[("events", "event_f1")] == "0.000"


def test_event_f1_sums_over_annotator_pairs_like_span_f1():
    # A and B mark the same event, C none. Pairs: A-B 2 x 1 matched of 2 events, A-C 0 of 1,
    # B-C 0 of 1: F1 = (2 + 0 + 0) / (2 + 1 + 1) = 0.5 (same type, so event F1 too).
    out = figures([rec("a", [ev(0, 5)]), rec("b", [ev(0, 5)]), rec("c", [])])
    assert out["fields"]["events"]["pairs"] == 3
    assert out["fields"]["events"]["trigger_f1"]["value"] == pytest.approx(0.5)
    assert out["fields"]["events"]["event_f1"]["value"] == pytest.approx(0.5)
    # per annotator: A's pairs are A-B (2 of 2) and A-C (0 of 1): 2/3
    assert out["annotators_detail"]["a"]["agreement"]["events"]["trigger_f1"]["value"] == pytest.approx(2 / 3)


def test_argument_f1_by_role_within_matched_events():
    # The matched pair (0, 5) ~ (0, 6): A's arguments victim (10, 15), place (30, 36),
    # time (40, 45); B's victim (11, 15) (overlaps), place (50, 55) (apart), time (40, 45)
    # (exact), weapon (60, 65). 3 + 4 = 7 arguments; overlap matches victim and time:
    # F1 = 2 x 2 / 7 = 4/7; exact only time: 2/7. A's second event (100, 105) has no partner,
    # so its victim does not count.
    a = rec("a", [ev(0, 5, args=[("victim", 10, 15, "PERSON"), ("place", 30, 36, "GPE"), ("time", 40, 45, "DATE")]),
                  ev(100, 105, args=[("victim", 110, 115, "PERSON")])])
    b = rec("b", [ev(0, 6, args=[("victim", 11, 15, "PERSON"), ("place", 50, 55, "GPE"), ("time", 40, 45, "DATE"),
                                 ("weapon", 60, 65, "WEAPON")])])
    events = figures([a, b])["fields"]["events"]
    assert events["argument_f1"]["value"] == pytest.approx(4 / 7)
    assert events["argument_exact_f1"]["value"] == pytest.approx(2 / 7)
    roles = events["per_role"]
    assert {r: p["arguments"] for r, p in roles.items()} == {"victim": 2, "place": 2, "time": 2, "weapon": 1}
    assert roles["victim"]["overlap_f1"]["value"] == 1.0 and roles["victim"]["exact_f1"]["value"] == 0.0
    assert roles["place"]["overlap_f1"]["value"] == 0.0
    assert roles["time"]["exact_f1"]["value"] == 1.0
    assert roles["weapon"]["overlap_f1"]["value"] == 0.0
    # the same role is needed: a perpetrator on the victim's span is no match
    cmp = compare_events([ev(0, 5, args=[("victim", 10, 15, "PERSON")])],
                         [ev(0, 5, args=[("perpetrator", 10, 15, "PERSON")])], "attack_type")
    assert sum(cmp.argument_overlap.values()) == 0 and sum(cmp.argument_count.values()) == 2


def test_relation_f1_exact_and_overlap_per_label():
    # A: member_of (0,5)->(10,15), located_in (20,25)->(30,35). B: member_of (0,4)->(10,15)
    # (head overlaps), located_in exact, member_of (40,45)->(50,55) extra. 2 + 3 = 5
    # relations. Exact: located_in only, 2/5. Overlap: both of A's, 4/5. Per label:
    # member_of exact 0, overlap 2 x 1 / 3; located_in 1 and 1. Macro overlap (2/3 + 1) / 2.
    a = rec("a", relations=[rel("member_of", (0, 5, "PERSON"), (10, 15, "ORG")),
                            rel("located_in", (20, 25, "FAC"), (30, 35, "GPE"))])
    b = rec("b", relations=[rel("member_of", (0, 4, "PERSON"), (10, 15, "ORG")),
                            rel("located_in", (20, 25, "FAC"), (30, 35, "GPE")),
                            rel("member_of", (40, 45, "PERSON"), (50, 55, "ORG"))])
    out = figures([a, b])
    relations = out["fields"]["relations"]
    assert relations["exact"]["micro_f1"]["value"] == pytest.approx(2 / 5)
    assert relations["overlap"]["micro_f1"]["value"] == pytest.approx(4 / 5)
    assert relations["overlap"]["macro_f1"]["value"] == pytest.approx((2 / 3 + 1) / 2)
    assert relations["per_label"]["member_of"]["relations"] == 3
    assert relations["per_label"]["member_of"]["exact_f1"]["value"] == 0.0
    assert relations["per_label"]["member_of"]["overlap_f1"]["value"] == pytest.approx(2 / 3)
    assert relations["per_label"]["located_in"]["exact_f1"]["value"] == 1.0
    assert out["pairs"][0]["fields"]["relations"]["overlap_f1"]["value"] == pytest.approx(4 / 5)


def test_event_attributes_agree_as_article_level_fields_do():
    # Three events both annotators marked. attack_type: A Armed, Bomb, Armed; B Armed, Bomb,
    # Unarmed: observed agreement 2/3. Nominal alpha: 6 values (Armed 3, Bomb 2, Unarmed 1),
    # one disagreeing unit: Do = 2, De = 36 - (9 + 4 + 1) = 22, alpha = 1 - 5 x 2 / 22 = 6/11.
    # killed: 3 vs 3, 2 vs 5, empty vs 1: one pair agrees of the two both gave, 0.5.
    a = rec("a", [ev(0, 5, ARMED, killed=3), ev(20, 25, BOMB, killed=2), ev(40, 45, ARMED)])
    b = rec("b", [ev(0, 5, ARMED, killed=3), ev(21, 25, BOMB, killed=5), ev(40, 44, "Unarmed Assault", killed=1)])
    events = figures([a, b])["fields"]["events"]
    assert events["matched_events"] == 3
    kind = events["attributes"]["attack_type"]
    assert kind["units"] == 3
    assert kind["observed_agreement"]["value"] == pytest.approx(2 / 3)
    assert kind["alpha_nominal"]["value"] == pytest.approx(6 / 11)
    killed = events["attributes"]["killed"]
    assert killed["exact_match"]["value"] == pytest.approx(0.5) and killed["pairs_one_empty"] == 1
    assert killed["mean_abs_diff"]["value"] == pytest.approx(1.5)  # (0 + 3) / 2


def test_attribute_intervals_resample_articles():
    # Two articles, each with one event both annotators marked, agreeing on one and not the
    # other: alpha is defined, and its interval comes from resampling the two articles.
    records = [rec("a", [ev(0, 5, ARMED)], article="00000000000000a1"),
               rec("b", [ev(0, 5, ARMED)], article="00000000000000a1"),
               rec("a", [ev(0, 5, ARMED)], article="00000000000000a2"),
               rec("b", [ev(0, 5, BOMB)], article="00000000000000a2")]
    events = figures(records, bootstrap=200)["fields"]["events"]
    alpha = events["attributes"]["attack_type"]["alpha_nominal"]
    assert alpha["n"] == 2 and alpha["ci"] is not None
    assert events["trigger_f1"]["value"] == 1.0 and events["trigger_f1"]["ci"] == [1.0, 1.0]


def test_undefined_figures_say_why():
    out = figures([rec("a"), rec("b")])
    events = out["fields"]["events"]
    assert events["trigger_f1"]["value"] is None and "no events" in events["trigger_f1"]["undefined"]
    assert events["argument_f1"]["value"] is None and events["argument_f1"]["undefined"]
    assert out["fields"]["relations"]["exact"]["micro_f1"]["value"] is None


def _with_span_attributes() -> Scheme:
    data = SCHEME.to_dict()
    data["fields"][0]["attributes"] = [
        {"name": "negated", "kind": "choice", "choices": [{"value": "yes"}, {"value": "no"}], "labels": ["PERSON"]},
        {"name": "mentions", "kind": "number", "integer": True}]
    return Scheme.from_dict(data)


def span(start, end, label, **attrs):
    return {"start": start, "end": end, "label": label, "text": "x" * (end - start),
            "negated": attrs.get("negated"), "mentions": attrs.get("mentions")}


def test_span_attributes_agree_on_exactly_matched_spans():
    scheme = _with_span_attributes()
    # PERSON (0, 5) matched exactly: negated yes vs no; mentions 2 vs 2. ORG (10, 15) matched
    # exactly: negated is not asked for ORG; mentions 1 vs 3. PERSON (20, 25) vs (20, 24):
    # not exact, so not a unit. negated: 1 unit, agreement 0; mentions: 2 units, 1 of 2 equal.
    a = rec("a", entities=[span(0, 5, "PERSON", negated="yes", mentions=2), span(10, 15, "ORG", mentions=1),
                           span(20, 25, "PERSON", negated="no")])
    b = rec("b", entities=[span(0, 5, "PERSON", negated="no", mentions=2), span(10, 15, "ORG", mentions=3),
                           span(20, 24, "PERSON", negated="no")])
    out = figures([a, b], scheme)
    attributes = out["fields"]["entities"]["attributes"]
    assert attributes["negated"]["spans"] == 1 and attributes["negated"]["observed_agreement"]["value"] == 0.0
    assert attributes["mentions"]["spans"] == 2 and attributes["mentions"]["exact_match"]["value"] == 0.5
    assert "### entities: span attributes" in render_markdown(_with_gold(out, scheme), scheme)


# --------------------------------------------------------------------------------------- gold


def test_gold_events_by_cluster_vote_median_and_argument_vote():
    # E1: a (10,17), b (10,17), c (12,17): 3 of 3; trigger (10,17) (2 votes); type Armed 2/3;
    #     killed 1, 2, 4 -> median 2; victim a (30,35), b (30,36): 2 of 3 -> kept, tie 1-1 ->
    #     the earliest, then the shortest: (30,35); place only a's -> dropped.
    # E2: a (60,65), b (61,65): 2 of 3 -> kept; trigger tie -> the earliest (60,65).
    # E3: c (80,85): 1 of 3 -> dropped.
    a = rec("a", [ev(10, 17, ARMED, killed=1, args=[("victim", 30, 35, "PERSON"), ("place", 50, 55, "GPE")],
                     text="stormed"), ev(60, 65, BOMB)])
    b = rec("b", [ev(10, 17, ARMED, killed=2, args=[("victim", 30, 36, "PERSON")], text="stormed"),
                  ev(61, 65, BOMB)])
    c = rec("c", [ev(12, 17, BOMB, killed=4, text="ormed"), ev(80, 85, BOMB)])
    row = gold_for_article(ARTICLE, [a, b, c], SCHEME, GoldPolicy())
    assert row["status"] == "resolved", row["reason"]
    assert row["events_decision"] == ("2 event(s) kept (1 by 3 of 3 annotators, 1 by 2 of 3), 1 dropped (1 of 3); "
                                      "an event needs 2 of 3")
    first, second = row["events"]
    assert first["trigger"] == {"start": 10, "end": 17, "text": "stormed"}
    assert first["attack_type"] == ARMED and first["killed"] == 2 and first["injured"] is None
    assert first["arguments"] == [{"role": "victim", "start": 30, "end": 35, "label": "PERSON", "text": "aaaaa"}]
    assert second["trigger"]["start"] == 60 and second["attack_type"] == BOMB and second["arguments"] == []
    # k of n: one annotator is enough -> E3 kept too; all three -> E1 only
    assert len(gold_for_article(ARTICLE, [a, b, c], SCHEME, GoldPolicy(event_min_agree=1))["events"]) == 3
    only = gold_for_article(ARTICLE, [a, b, c], SCHEME, GoldPolicy(event_min_agree=3))
    assert [e["trigger"]["start"] for e in only["events"]] == [10]
    assert only["events_decision"].startswith("1 event(s) kept (3 of 3 annotators), 2 dropped (1 by 2 of 3, ")


def test_a_type_tie_is_unresolved_naming_the_event():
    row = gold_for_article(ARTICLE, [rec("a", [ev(10, 17, ARMED, text="stormed")]),
                                     rec("b", [ev(10, 17, BOMB, text="stormed")])], SCHEME, GoldPolicy())
    assert row["status"] == "unresolved"
    assert row["reason"] == (f"events: event 'stormed' at 10-17: attack_type: tie between {ARMED!r} and {BOMB!r} "
                             "(1 vote(s) each)")
    assert row["events"][0]["attack_type"] is None  # kept for the adjudicator, type left empty


def test_event_numbers_follow_the_policy_and_need_enough_answers():
    # killed 1 vs 2: an integer median between them is a tie; injured 3 vs empty: one of two
    # annotators of the event gave it, fewer than min_annotations -> undecided.
    row = gold_for_article(ARTICLE, [rec("a", [ev(0, 5, killed=1, injured=3)]), rec("b", [ev(0, 5, killed=2)])],
                           SCHEME, GoldPolicy())
    assert row["status"] == "unresolved"
    assert "events: event 'ttttt' at 0-5: killed: median falls between 1 and 2" in row["reason"]
    assert ("events: event 'ttttt' at 0-5: injured: undecided (1 of 2 annotators gave a value, "
            "[gold] min_annotations is 2)") in row["reason"]
    majority = gold_for_article(ARTICLE, [rec("a", [ev(0, 5, killed=1)]), rec("b", [ev(0, 5, killed=1)]),
                                          rec("c", [ev(0, 5, killed=7)])], SCHEME, GoldPolicy(numbers="majority"))
    assert majority["events"][0]["killed"] == 1 and majority["status"] == "resolved"


def test_gold_relations_by_vote():
    member = rel("member_of", (0, 5, "PERSON"), (10, 15, "ORG"))
    located = rel("located_in", (20, 25, "FAC"), (30, 35, "GPE"))
    records = [rec("a", relations=[member, located]), rec("b", relations=[member]), rec("c")]
    row = gold_for_article(ARTICLE, records, SCHEME, GoldPolicy())
    assert row["relations"] == [member] and row["relations_decision"] == "relations given by at least 2 of 3"
    assert len(gold_for_article(ARTICLE, records, SCHEME, GoldPolicy(span_min_agree=1))["relations"]) == 2


def test_gold_span_attributes_by_majority_of_those_who_marked_the_span():
    scheme = _with_span_attributes()
    rows = [rec(w, entities=[span(0, 5, "PERSON", negated=n, mentions=m), span(10, 15, "ORG", mentions=1)])
            for w, n, m in (("a", "yes", 2), ("b", "yes", 4), ("c", "no", 3))]
    row = gold_for_article(ARTICLE, rows, scheme, GoldPolicy())
    assert row["status"] == "resolved"
    person, org = row["entities"]
    assert person["negated"] == "yes" and person["mentions"] == 3  # majority 2/3; median of 2, 3, 4
    assert org["negated"] is None and org["mentions"] == 1  # negated is not asked for ORG
    tie = gold_for_article(ARTICLE, rows[1:], scheme, GoldPolicy())
    assert tie["status"] == "unresolved"
    assert "entities: span 'xxxxx' (PERSON) at 0-5: negated: tie between 'no' and 'yes' (1 vote(s) each)" \
        in tie["reason"]


def test_ground_truth_decides_events_alone():
    truth = rec("reviewer", [ev(40, 45, BOMB, killed=9)], truth=True)
    row = gold_for_article(ARTICLE, [rec("a", [ev(0, 5)]), rec("b", [ev(0, 5)]), truth], SCHEME, GoldPolicy())
    assert row["decided_by"] == "ground-truth" and row["events"] == truth["events"]


def test_gold_table_holds_the_events_in_the_record_format():
    rows = [gold_for_article(ARTICLE, [rec("a", [ev(0, 5, killed=2, args=[("victim", 10, 15, "PERSON")])],
                                           [rel("member_of", (0, 5, "PERSON"), (10, 15, "ORG"))]),
                                       rec("b", [ev(0, 5, killed=2, args=[("victim", 10, 15, "PERSON")])],
                                           [rel("member_of", (0, 5, "PERSON"), (10, 15, "ORG"))])],
                                 SCHEME, GoldPolicy())]
    back = gold_table(rows, SCHEME).to_pylist()[0]
    assert back["events"] == rows[0]["events"] and back["relations"] == rows[0]["relations"]
    assert back["events"][0]["arguments"][0]["role"] == "victim"
    assert gold_arrow_schema(_with_span_attributes()).field("entities").type.value_type.get_field_index("negated") >= 0


# ------------------------------------------------------------------------- report and the rest


def _with_gold(out, scheme):
    out["gold"] = {"policy": GoldPolicy().to_dict(scheme), "articles": 1, "resolved": 1, "by_ground_truth": 0,
                   "unresolved": []}
    return out


def test_agreement_md_has_an_events_section():
    out = figures([rec("a", [ev(0, 5, ARMED, args=[("victim", 10, 15, "PERSON")])]),
                   rec("b", [ev(1, 5, BOMB, args=[("victim", 10, 15, "PERSON")])])])
    md = render_markdown(_with_gold(out, SCHEME), SCHEME)
    events = md.split("## Events", 1)[1].split("## Annotator pairs", 1)[0]
    assert "| trigger F1 (triggers overlap) | 1.000 |" in events
    assert "| event F1 (triggers overlap and the same attack_type) | 0.000 |" in events
    assert "| victim | 2 | 1.000 | 1.000 |" in events
    assert "| attack_type | choice | 1 |" in events
    assert "### relations (relations)" in events
    assert '"event_min_agree": 0' in md


def test_a_scheme_without_events_is_unaffected():
    v1 = builtin_scheme("news-events-v1")
    records = [{"task_id": 1, "article_id": ARTICLE, "annotation_id": i, "annotator_id": None,
                "annotator_email": w, "created_at": "2024-05-01T10:00:00Z", "updated_at": None, "lead_time": 1.0,
                "was_cancelled": False, "ground_truth": False,
                "entities": [{"start": 0, "end": 5, "label": "GPE", "text": "xxxxx"}],
                "event_type": ARMED, "killed": 1, "injured": None, "hostages": None, "note": None}
               for i, w in enumerate(["a", "b"], 1)]
    out = figures(records, v1)
    assert {f["kind"] for f in out["fields"].values()} == {"spans", "choice", "number", "text"}
    assert "attributes" not in out["fields"]["entities"]
    assert GoldPolicy(event_min_agree=2).to_dict(v1) == {"min_annotations": 2, "numbers": "median",
                                                         "span_min_agree": 0}
    assert "## Events" not in render_markdown(_with_gold(out, v1), v1)


def test_suggestions_ignore_events_without_crashing():
    records = [rec("a", [ev(0, 5)]), rec("b", [ev(0, 5)])]
    prediction = {"article_id": ARTICLE, "task_id": 1, "prediction_id": 1, "created_at": None,
                  "entities": [{"start": 0, "end": 5, "label": "GPE", "text": "xxxxx"}], "events": [ev(0, 5)],
                  "relations": [], "note": None}
    section = suggestion_effect(records, [prediction], {}, SCHEME)
    assert section["groups"]["with"]["articles"] == 1
    assert section["groups"]["with"]["agreement"]["events"]["trigger_f1"]["value"] == 1.0


def test_non_finite_event_numbers_are_refused():
    bad = rec("a", [ev(0, 5, killed=float("nan"))])
    with pytest.raises(InputError, match=r"events\[0\]\.killed = nan"):
        check_finite_answers([bad], SCHEME, "annotations/annotations.parquet")


def test_event_min_agree_is_a_bounded_gold_setting():
    assert config_from_dict({"gold": {"event_min_agree": 2}}).gold.event_min_agree == 2
    with pytest.raises(ConfigError, match=r"\[gold\] event_min_agree must be 0-100"):
        config_from_dict({"gold": {"event_min_agree": -1}})
    import tomllib
    assert tomllib.loads(render_default_config("x", "A title"))["gold"]["event_min_agree"] == 0


def test_toolkit_agree_on_a_workspace_with_events(tmp_path):
    """Through annotations.parquet and back: figures, the Events section and gold.parquet."""
    import pyarrow.parquet as pq

    from toolkit.agreement import agree
    from toolkit.ingest import ingest
    from toolkit.scaffold import init_workspace
    from toolkit.validation.normalise import records_to_table

    from .conftest import SEED, add_raw

    ws = init_workspace(tmp_path / "ws", title="Test events")
    add_raw(ws, SEED.name)
    ingest(ws)
    article = read_articles(ws).to_pylist()[0]
    text = article["text"]

    def at(word):
        start = text.index(word)
        return start, start + len(word)

    trigger = next(w for w in ("stormed", "attack", "took", "killed", "hostage") if w in text)
    (s, e) = at(trigger)
    records = []
    for who, kind in (("ann@example.org", ARMED), ("ben@example.org", ARMED)):
        r = rec(who, [ev(s, e, kind, text=trigger)], article=article["article_id"])
        r["annotator_id"] = len(records) + 2
        records.append(r)
    pq.write_table(records_to_table(records, Scheme.load(ws.scheme_path)), ws.annotations_dir / "annotations.parquet")
    agree(ws)
    figures_ = json.loads((ws.annotations_dir / "agreement.json").read_text())
    assert figures_["fields"]["events"]["trigger_f1"]["value"] == 1.0
    assert figures_["gold"]["policy"]["event_min_agree"] == 0
    assert "## Events" in (ws.annotations_dir / "agreement.md").read_text()
    gold = pq.read_table(ws.annotations_dir / "gold.parquet").to_pylist()[0]
    assert gold["status"] == "resolved"
    assert gold["events"][0]["trigger"] == {"start": s, "end": e, "text": trigger}
    assert gold["events"][0]["attack_type"] == ARMED
