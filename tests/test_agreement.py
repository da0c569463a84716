"""Agreement metrics: hand-computed cases and reference implementations on the same inputs."""

from __future__ import annotations

import json
import math
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from toolkit.agreement.metrics import (
    UndefinedMetric,
    cohen_kappa,
    compare_spans,
    compute_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    observed_agreement,
)
from toolkit.scheme import Scheme, builtin_scheme

SCHEME = builtin_scheme("news-events-v1")
TYPES = list(SCHEME.field("event_type").values)
BOMB, ARMED, KIDNAP = "Bombing/Explosion", "Armed Assault", "Hostage Taking (Kidnapping)"
_ids = iter(range(1, 10**9))


def art(i: int) -> str:
    return f"{i:016x}"


def rec(article: int, who: str, *, event_type=None, killed=None, injured=None, hostages=None,
        entities=(), cancelled=False, ground_truth=False, lead_time=30.0, updated_at=None, **extra) -> dict:
    """One normalised annotation record of the default scheme."""
    aid = next(_ids)
    return {
        "task_id": article, "article_id": art(article), "annotation_id": aid,
        "annotator_id": None, "annotator_email": who,
        "created_at": "2024-05-01T10:00:00Z", "updated_at": updated_at,
        "lead_time": lead_time, "was_cancelled": cancelled, "ground_truth": ground_truth,
        "entities": [{"start": s, "end": e, "label": lab, "text": "x" * (e - s)} for s, e, lab in entities],
        "event_type": event_type, "killed": killed, "injured": injured, "hostages": hostages, "note": None,
        **extra,
    }


def agree(records, **kwargs) -> dict:
    kwargs.setdefault("bootstrap", 0)
    result = compute_agreement(records, SCHEME, **kwargs)
    json.dumps(result, allow_nan=False)  # JSON-able, and no NaN hides anywhere
    return result


def assert_undefined(entry: dict) -> None:
    assert entry["value"] is None  # not 0, not NaN
    assert isinstance(entry["undefined"], str) and entry["undefined"]


# ------------------------------------------------------------- reference implementations


@pytest.mark.parametrize("seed", range(8))
def test_cohen_kappa_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    # Some seeds use only part of the categories, and the two raters different parts.
    a = rng.choice(TYPES[: 2 + seed], size=n).tolist()
    b = [x if rng.random() < 0.6 else str(rng.choice(TYPES[seed % 3: 5 + seed])) for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_cohen_kappa_with_categories_one_rater_never_uses():
    a = ["x", "x", "y", "y", "z"]
    b = ["x", "y", "y", "y", "y"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_fleiss_kappa_matches_statsmodels(seed):
    rng = np.random.default_rng(100 + seed)
    units, categories, raters = int(rng.integers(3, 60)), int(rng.integers(2, 8)), int(rng.integers(2, 7))
    probs = rng.dirichlet(np.ones(categories) * 0.7)
    table = np.array([rng.multinomial(raters, probs) for _ in range(units)])
    if np.count_nonzero(table.sum(axis=0)) < 2:
        table[0, :2] = [raters - 1, 1]
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table, method="fleiss"), abs=1e-9)


def test_krippendorff_classic_nominal_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units
    # with missing values; nominal alpha = 0.743.
    nan = np.nan
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    assert round(krippendorff_alpha(data, "nominal"), 3) == 0.743
    assert krippendorff_alpha(data, "nominal") == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=1e-9)


def test_krippendorff_wikipedia_example_nominal_and_interval():
    nan = np.nan
    data = [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.810845, abs=1e-6)


@pytest.mark.parametrize("level", ["nominal", "interval"])
@pytest.mark.parametrize("seed", range(5))
def test_alpha_from_sums_matches_package(level, seed):
    # The toolkit's own formula (the package is GPL-3.0, so only the tests use it) must be the
    # package's alpha exactly.
    rng = np.random.default_rng(seed)
    coders, units = int(rng.integers(2, 6)), int(rng.integers(5, 80))
    truth = rng.integers(0, 6, size=units) * (40 if level == "interval" else 1)
    data = np.where(rng.random((coders, units)) < 0.7, truth, rng.integers(0, 250, size=(coders, units)))
    data = data.astype(float)
    data[rng.random((coders, units)) < 0.25] = np.nan
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)


def test_alpha_from_sums_is_stable_far_from_zero():
    # Squared sums of values near 1e9 cancel badly unless they are centred first.
    rng = np.random.default_rng(0)
    data = 1e9 + rng.integers(0, 5, size=(3, 40)).astype(float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    assert krippendorff_alpha(data, "interval") == pytest.approx(expected, abs=1e-9)


def test_observed_agreement_hand_computed():
    # Unit 1: 3 of 3 agree (1.0); unit 2: pairs a-a agree, a-b twice not (1/3); unit 3 has one
    # value only and does not count; None is not given.
    assert observed_agreement([["a", "a", "a"], ["a", "a", "b"], ["a", None], [None, None]]) \
        == pytest.approx((1 + 1 / 3) / 2)
    with pytest.raises(UndefinedMetric):
        observed_agreement([["a"], [None, "b"]])


def test_formula_helpers_report_undefined_rather_than_zero():
    with pytest.raises(UndefinedMetric, match="one category"):
        cohen_kappa(["x", "x", "x"], ["x", "x", "x"])
    with pytest.raises(UndefinedMetric, match="one category"):
        fleiss_kappa([[3, 0], [3, 0]])
    with pytest.raises(UndefinedMetric, match="'2'"):
        krippendorff_alpha([[2, 2, np.nan], [2, 2, 5]], "interval")
    with pytest.raises(UndefinedMetric, match="two or more"):
        krippendorff_alpha([[1, np.nan], [np.nan, 2]], "nominal")


# ------------------------------------------------------------------ hand-computed cases


def test_perfect_agreement():
    entities = [(0, 5, "PERSON"), (10, 20, "ORG")]
    types = [BOMB, ARMED, KIDNAP, BOMB]
    records = [rec(i, who, event_type=t, killed=i * 3, injured=i, entities=entities)
               for i, t in enumerate(types) for who in ("ann@x", "bob@x")]
    fields = agree(records)["fields"]
    choice = fields["event_type"]
    for name in ("observed_agreement", "cohen_kappa", "fleiss_kappa", "alpha_nominal"):
        assert choice[name]["value"] == pytest.approx(1.0), name
        assert choice[name]["n"] == 4
    killed = fields["killed"]
    assert killed["alpha_interval"]["value"] == pytest.approx(1.0)
    assert killed["exact_match"]["value"] == 1.0
    assert killed["mean_abs_diff"]["value"] == 0.0
    spans = fields["entities"]
    for kind in ("exact", "overlap"):
        assert spans[kind]["micro_f1"]["value"] == 1.0
        assert spans[kind]["macro_f1"]["value"] == 1.0
    assert spans["token_alpha"]["value"] == pytest.approx(1.0)
    assert fields["note"]["kind"] == "text"


def test_total_disagreement_on_two_categories():
    a = [BOMB, ARMED, BOMB, ARMED]
    b = [ARMED, BOMB, ARMED, BOMB]
    records = [rec(i, "ann@x", event_type=x) for i, x in enumerate(a)] + \
              [rec(i, "bob@x", event_type=y) for i, y in enumerate(b)]
    choice = agree(records)["fields"]["event_type"]
    assert choice["cohen_kappa"]["value"] == pytest.approx(-1.0)
    assert choice["observed_agreement"]["value"] == 0.0
    # Hand: n = 8 values, 4 units each with 2 disagreeing ordered pairs: Do sum = 8,
    # De sum = 8^2 - (4^2 + 4^2) = 32, alpha = 1 - (n - 1) * 8 / 32 = -0.75.
    assert choice["alpha_nominal"]["value"] == pytest.approx(-0.75)
    assert choice["fleiss_kappa"]["value"] == pytest.approx(sm_fleiss_kappa([[1, 1]] * 4), abs=1e-9)


def test_one_annotator_missing_on_some_units():
    ann = [BOMB, ARMED, BOMB, KIDNAP, ARMED, BOMB]
    bob = [BOMB, ARMED, ARMED, KIDNAP, None, "absent"]  # None: left empty; "absent": no record at all
    cyd = [BOMB, None, BOMB, KIDNAP, ARMED, ARMED]
    records = []
    for who, labels in (("ann@x", ann), ("bob@x", bob), ("cyd@x", cyd)):
        records += [rec(i, who, event_type=v) for i, v in enumerate(labels) if v != "absent"]
    choice = agree(records)["fields"]["event_type"]
    assert choice["not_given"] == 2
    code = {v: k for k, v in enumerate(TYPES)}
    matrix = [[code[v] if v in code else np.nan for v in labels] for labels in (ann, bob, cyd)]
    assert choice["alpha_nominal"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-9)
    assert choice["alpha_nominal"]["n"] == 6
    # Three annotators: Cohen's kappa is the mean over pairs, each on the pair's common units.
    pair_kappas = []
    for x, y in combinations((ann, bob, cyd), 2):
        common = [(p, q) for p, q in zip(x, y) if p in code and q in code]
        pair_kappas.append(cohen_kappa_score([p for p, _ in common], [q for _, q in common]))
    assert choice["cohen_kappa"]["value"] == pytest.approx(np.mean(pair_kappas), abs=1e-9)
    assert choice["cohen_kappa"]["pairs"] == 3
    # Fleiss: 3 units have 3 ratings, 3 have 2; the modal count ties, the larger wins.
    assert choice["fleiss_kappa"]["raters"] == 3
    assert choice["fleiss_kappa"]["left_out"] == 3
    assert "left out" in choice["fleiss_kappa"]["note"]


def test_cohen_two_annotators_over_common_units():
    ann = [BOMB, ARMED, BOMB, KIDNAP, ARMED]
    bob = [BOMB, ARMED, ARMED, None, ARMED]
    records = [rec(i, "ann@x", event_type=v) for i, v in enumerate(ann)] + \
              [rec(i, "bob@x", event_type=v) for i, v in enumerate(bob) if i != 1]
    kappa = agree(records)["fields"]["event_type"]["cohen_kappa"]
    common = [0, 2, 4]  # bob has no record on 1, gave nothing on 3
    assert kappa["value"] == pytest.approx(
        cohen_kappa_score([ann[i] for i in common], [bob[i] for i in common]), abs=1e-9)
    assert kappa["n"] == 3
    assert kappa["annotators"] == ["ann@x", "bob@x"]


def test_single_category_makes_kappa_and_alpha_undefined():
    records = [rec(i, who, event_type=BOMB, hostages=0) for i in range(5) for who in ("ann@x", "bob@x", "cyd@x")]
    fields = agree(records)["fields"]
    choice = fields["event_type"]
    for name in ("cohen_kappa", "fleiss_kappa", "alpha_nominal"):
        assert_undefined(choice[name])
    assert "one category" in choice["fleiss_kappa"]["undefined"]
    assert choice["observed_agreement"]["value"] == 1.0  # agreement itself is defined
    assert_undefined(fields["hostages"]["alpha_interval"])
    assert "'0'" in fields["hostages"]["alpha_interval"]["undefined"]


def test_cohen_undefined_with_fewer_than_two_annotators():
    choice = agree([rec(i, "ann@x", event_type=BOMB) for i in range(3)])["fields"]["event_type"]
    for name in ("cohen_kappa", "fleiss_kappa", "alpha_nominal", "observed_agreement"):
        assert_undefined(choice[name])


def test_numbers_missing_pairs_and_differences():
    records = [rec(0, "ann@x", killed=3), rec(0, "bob@x", killed=3), rec(0, "cyd@x", killed=None),
               rec(1, "ann@x", killed=10), rec(1, "bob@x", killed=4),
               rec(2, "ann@x", killed=None), rec(2, "bob@x", killed=1)]
    killed = agree(records)["fields"]["killed"]
    assert killed["not_given"] == 2
    assert killed["pairs_one_empty"] == 3  # cyd on 0 (with ann and bob), ann on 2
    assert killed["exact_match"]["value"] == pytest.approx(1 / 2)
    assert killed["exact_match"]["pairs"] == 2
    assert killed["mean_abs_diff"]["value"] == pytest.approx(6 / 2)
    data = [[3, 10, np.nan], [3, 4, 1], [np.nan, np.nan, np.nan]]
    assert killed["alpha_interval"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="interval"), abs=1e-9)
    assert killed["alpha_interval"]["n"] == 2


# ----------------------------------------------------------------------------------- spans


def test_exact_and_overlap_f1_on_a_crafted_pair():
    a = [(0, 5, "PERSON"), (10, 20, "ORG")]
    b = [(0, 5, "PERSON"), (12, 20, "ORG"), (30, 35, "GPE")]
    spans = agree([rec(0, "ann@x", entities=a), rec(0, "bob@x", entities=b)])["fields"]["entities"]
    assert spans["exact"]["micro_f1"]["value"] == pytest.approx(2 * 1 / (2 + 3))
    assert spans["overlap"]["micro_f1"]["value"] == pytest.approx(2 * 2 / (2 + 3))
    per_label = spans["per_label"]
    assert {lab: (v["exact_f1"]["value"], v["overlap_f1"]["value"]) for lab, v in per_label.items()} == {
        "PERSON": (1.0, 1.0), "ORG": (0.0, 1.0), "GPE": (0.0, 0.0)}
    assert spans["exact"]["macro_f1"]["value"] == pytest.approx(1 / 3)
    assert spans["overlap"]["macro_f1"]["value"] == pytest.approx(2 / 3)
    assert spans["confusion"] == [{"labels": ["O", "GPE"], "count": 1},
                                  {"labels": ["ORG", "ORG"], "count": 1},
                                  {"labels": ["PERSON", "PERSON"], "count": 1}]


def test_label_confusion_counts():
    a = [(0, 5, "PERSON"), (10, 20, "ORG"), (30, 35, "ORG"), (40, 45, "DATE")]
    b = [(0, 5, "ORG"), (10, 20, "ORG"), (30, 35, "PERSON"), (50, 55, "GPE")]
    cmp = compare_spans(a, b)
    assert cmp.confusion == {("PERSON", "ORG"): 1, ("ORG", "ORG"): 1, ("ORG", "PERSON"): 1,
                             ("DATE", "O"): 1, ("O", "GPE"): 1}
    spans = agree([rec(0, "ann@x", entities=a), rec(0, "bob@x", entities=b)])["fields"]["entities"]
    assert spans["confusion"] == [{"labels": ["ORG", "PERSON"], "count": 2},
                                  {"labels": ["O", "DATE"], "count": 1},
                                  {"labels": ["O", "GPE"], "count": 1},
                                  {"labels": ["ORG", "ORG"], "count": 1}]


def test_overlap_matching_is_one_to_one_largest_first():
    # B's long span overlaps both of A's; it pairs with the larger overlap only.
    cmp = compare_spans([(0, 4, "ORG"), (5, 20, "ORG")], [(2, 18, "ORG")])
    assert cmp.overlap == {"ORG": 1} and cmp.exact == {}
    assert cmp.f1("overlap") == pytest.approx(2 / 3)
    # Pairing the 1-character overlap (0-10 with 9-20) first would leave 12-20 unpaired.
    cmp = compare_spans([(0, 10, "ORG"), (12, 20, "ORG")], [(0, 10, "ORG"), (9, 20, "ORG")])
    assert cmp.overlap == {"ORG": 2} and cmp.exact == {"ORG": 1}
    with pytest.raises(UndefinedMetric):
        compare_spans([], []).f1("exact")


def test_token_alpha_with_texts_hand_computed():
    text = "Ahmed met Khan today"
    a = [(0, 5, "PERSON")]
    b = [(0, 5, "PERSON"), (6, 9, "ORG")]
    spans = agree([rec(0, "ann@x", entities=a), rec(0, "bob@x", entities=b)],
                  texts={art(0): text})["fields"]["entities"]
    alpha = spans["token_alpha"]
    assert alpha["basis"] == "tokens" and alpha["units"] == 4
    # Tokens (PERSON, PERSON), (O, ORG), (O, O), (O, O): n = 8, Do sum = 2,
    # De sum = 8^2 - (2^2 + 5^2 + 1^2) = 34, alpha = 1 - 7 * 2 / 34.
    assert alpha["value"] == pytest.approx(1 - 7 * 2 / 34)
    # The same through the package, tokens as units.
    assert alpha["value"] == pytest.approx(krippendorff.alpha(
        reliability_data=[[1, 0, 0, 0], [1, 2, 0, 0]], level_of_measurement="nominal"), abs=1e-9)


def test_token_alpha_labels_a_token_by_the_span_covering_it():
    # "Khan" and "Khan's" both label the token "Khan's": no exact match, full token agreement.
    text = "Mr Khan's car"
    spans = agree([rec(0, "ann@x", entities=[(3, 7, "PERSON")]), rec(0, "bob@x", entities=[(3, 9, "PERSON")])],
                  texts={art(0): text})["fields"]["entities"]
    assert spans["exact"]["micro_f1"]["value"] == 0.0
    assert spans["overlap"]["micro_f1"]["value"] == 1.0
    assert spans["token_alpha"]["value"] == pytest.approx(1.0)


def test_token_alpha_without_texts_uses_characters_covered_by_spans():
    a = [(0, 1, "PERSON")]
    b = [(0, 1, "PERSON"), (2, 3, "ORG")]
    alpha = agree([rec(0, "ann@x", entities=a), rec(0, "bob@x", entities=b)])["fields"]["entities"]["token_alpha"]
    assert alpha["basis"] == "characters" and alpha["units"] == 2
    # Characters 0 (PERSON, PERSON) and 2 (O, ORG): n = 4, Do sum = 2, De sum = 16 - 6 = 10.
    assert alpha["value"] == pytest.approx(1 - 3 * 2 / 10)
    assert "character" in alpha["note"]


def test_spans_undefined_when_nobody_marked_anything():
    spans = agree([rec(0, "ann@x"), rec(0, "bob@x")])["fields"]["entities"]
    for kind in ("exact", "overlap"):
        assert_undefined(spans[kind]["micro_f1"])
    assert_undefined(spans["token_alpha"])


# ------------------------------------------------------------------------------ bootstrap


def _noisy_records(articles: int = 60, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(articles):
        truth, killed = str(rng.choice(TYPES[:4])), int(rng.integers(0, 30))
        base = [(10 * k, 10 * k + 5, str(rng.choice(["PERSON", "ORG", "GPE"]))) for k in range(int(rng.integers(1, 5)))]
        for who in ("ann@x", "bob@x", "cyd@x"):
            out.append(rec(i, who, event_type=truth if rng.random() < 0.75 else str(rng.choice(TYPES[:4])),
                           killed=killed + int(rng.integers(-2, 3) * (rng.random() < 0.3)),
                           entities=[(s + int(rng.random() < 0.2), e, lab) for s, e, lab in base
                                     if rng.random() < 0.85]))
    return out


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    records = _noisy_records()
    first = agree(records, bootstrap=300, seed=7)
    again = agree(records, bootstrap=300, seed=7)
    other = agree(records, bootstrap=300, seed=8)
    assert first == again
    assert [h["ci_low"] for h in first["headline"]] != [h["ci_low"] for h in other["headline"]]
    picked = {(h["field"], h["metric"]) for h in first["headline"]}
    assert {("event_type", "alpha_nominal"), ("killed", "alpha_interval"), ("entities", "overlap.micro_f1"),
            ("entities", "exact.micro_f1"), ("entities", "token_alpha")} <= picked
    for h in first["headline"]:
        if h["value"] is None:
            continue
        assert h["ci_low"] <= h["value"] <= h["ci_high"], h
        assert h["ci_low"] < h["ci_high"], h
    row = next(h for h in first["headline"] if h["field"] == "event_type")
    assert first["fields"]["event_type"]["alpha_nominal"]["ci"] == [row["ci_low"], row["ci_high"]]


def test_bootstrap_matches_a_plain_resampling_loop():
    # The vectorised resampling must equal recomputing the statistic on resampled articles.
    records = _noisy_records(articles=25)
    result = agree(records, bootstrap=40, seed=11)
    articles = sorted({r["article_id"] for r in records})
    rng = np.random.Generator(np.random.PCG64(11))
    draws = rng.integers(0, len(articles), size=(40, len(articles)))
    values = []
    for row in draws:
        resampled = []
        for k, idx in enumerate(row):  # each drawn copy becomes its own article
            resampled += [{**r, "article_id": f"{k:016x}"} for r in records if r["article_id"] == articles[idx]]
        values.append(agree(resampled)["fields"]["event_type"]["alpha_nominal"]["value"])
    assert result["fields"]["event_type"]["alpha_nominal"]["ci"] == pytest.approx(
        list(np.percentile(values, [2.5, 97.5])), abs=1e-9)


def test_no_bootstrap_no_intervals():
    result = agree(_noisy_records(articles=10), bootstrap=0)
    assert all(h["ci_low"] is None and h["ci_high"] is None for h in result["headline"])


# ------------------------------------------------------------------- records and annotators


def test_cancelled_and_ground_truth_records_are_excluded_and_counted():
    base = [rec(i, who, event_type=t) for i, t in enumerate([BOMB, ARMED, KIDNAP])
            for who in ("ann@x", "bob@x")]
    extra = [rec(0, "cyd@x", event_type=ARMED, cancelled=True), rec(1, "ann@x", cancelled=True),
             rec(2, "rev@x", event_type=BOMB, ground_truth=True)]
    plain, mixed = agree(base), agree(base + extra)
    assert mixed["fields"] == plain["fields"]
    assert (mixed["annotations"], mixed["cancelled_excluded"], mixed["ground_truth_excluded"]) == (6, 2, 1)
    assert (mixed["articles"], mixed["articles_multi"], mixed["annotators"]) == (3, 3, 2)
    assert mixed["annotators_detail"]["ann@x"]["cancelled"] == 1
    assert mixed["annotators_detail"]["cyd@x"]["tasks_done"] == 0
    assert mixed["annotators_detail"]["rev@x"]["ground_truth"] == 1


def test_repeated_annotation_by_one_annotator_counts_once_latest_wins():
    records = [rec(0, "ann@x", event_type=ARMED, updated_at="2024-05-01T10:00:00Z"),
               rec(0, "ann@x", event_type=BOMB, updated_at="2024-05-02T10:00:00Z"),
               rec(0, "bob@x", event_type=BOMB)]
    result = agree(records)
    assert result["repeats_ignored"] == 1
    assert result["fields"]["event_type"]["observed_agreement"]["value"] == 1.0
    assert result["annotators_detail"]["ann@x"]["tasks_done"] == 2


def test_per_annotator_agreement_lead_time_and_gold():
    records = [rec(0, "ann@x", event_type=BOMB, killed=2, lead_time=10, entities=[(0, 5, "PERSON")]),
               rec(0, "bob@x", event_type=BOMB, killed=3, lead_time=20, entities=[(0, 5, "PERSON")]),
               rec(0, "cyd@x", event_type=ARMED, killed=2, lead_time=40, entities=[(0, 4, "PERSON")]),
               rec(1, "ann@x", event_type=KIDNAP, lead_time=30),
               rec(1, "bob@x", event_type=KIDNAP, lead_time=None)]
    gold = {art(0): {"event_type": BOMB, "killed": 2, "entities": [{"start": 0, "end": 5, "label": "PERSON"}]},
            art(1): {"status": "unresolved", "event_type": ARMED, "killed": None, "entities": []}}
    detail = agree(records, gold=gold)["annotators_detail"]
    ann, cyd = detail["ann@x"], detail["cyd@x"]
    assert ann["tasks_done"] == 2 and ann["median_lead_time"] == 20.0
    assert detail["bob@x"]["median_lead_time"] == 20.0
    # ann: agrees with bob twice, with cyd never -> 2 of 3 pairs.
    assert ann["agreement"]["event_type"]["agreement_rate"]["value"] == pytest.approx(2 / 3)
    assert ann["agreement"]["event_type"]["agreement_rate"]["n"] == 2
    assert cyd["agreement"]["event_type"]["agreement_rate"]["value"] == 0.0
    assert cyd["agreement"]["entities"]["exact_f1"]["value"] == 0.0
    assert cyd["agreement"]["entities"]["overlap_f1"]["value"] == 1.0
    assert ann["gold"]["event_type"]["accuracy"]["value"] == 1.0
    assert ann["gold"]["event_type"]["accuracy"]["n"] == 1  # the unresolved article is skipped
    assert cyd["gold"]["event_type"]["accuracy"]["value"] == 0.0
    assert detail["bob@x"]["gold"]["killed"]["exact_match"]["value"] == 0.0
    assert cyd["gold"]["entities"]["exact_f1"]["value"] == 0.0
    assert agree(records)["annotators_detail"]["ann@x"]["gold"] is None


def test_multiple_choice_field_jaccard_and_per_choice_alpha():
    data = SCHEME.to_dict()
    data["fields"].append({"name": "targets", "kind": "choice", "multiple": True,
                           "choices": [{"value": v} for v in ("police", "civilians", "military")]})
    scheme = Scheme.from_dict(data)
    answers = {"ann@x": [["police"], ["police", "civilians"], [], []],
               "bob@x": [["police"], ["civilians"], ["military"], []]}
    records = [rec(i, who, targets=chosen) for who, per in answers.items() for i, chosen in enumerate(per)]
    result = compute_agreement(records, scheme, bootstrap=0)
    targets = result["fields"]["targets"]
    # Two empty selections agree fully.
    assert targets["mean_jaccard"]["value"] == pytest.approx((1 + 1 / 2 + 0 + 1) / 4)
    police = [[1, 1, 0, 0], [1, 0, 0, 0]]
    assert targets["per_choice"]["police"]["alpha_nominal"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=police, level_of_measurement="nominal"), abs=1e-9)
    assert targets["per_choice"]["civilians"]["chosen"] == 2
    assert any(h["field"] == "targets" and h["metric"] == "mean_jaccard" for h in result["headline"])


def test_metric_entries_have_one_shape():
    fields = agree(_noisy_records(articles=8))["fields"]
    entries = [fields["event_type"][k] for k in ("observed_agreement", "cohen_kappa", "fleiss_kappa", "alpha_nominal")]
    entries += [fields["killed"][k] for k in ("alpha_interval", "exact_match", "mean_abs_diff")]
    entries += [fields["entities"]["exact"]["micro_f1"], fields["entities"]["token_alpha"]]
    for entry in entries:
        assert {"value", "n", "ci", "undefined"} <= set(entry)
        assert (entry["value"] is None) == (entry["undefined"] is not None)
        assert entry["value"] is None or math.isfinite(entry["value"])


# --------------------------------------------------------------- per-label span intervals


def test_per_label_span_f1_intervals_resample_articles():
    spans = agree(_noisy_records(), bootstrap=300, seed=7)["fields"]["entities"]
    assert set(spans["per_label"]) == {"PERSON", "ORG", "GPE"}
    for label, per in spans["per_label"].items():
        for kind in ("exact_f1", "overlap_f1"):
            entry = per[kind]
            assert entry["ci"] is not None, (label, kind)
            low, high = entry["ci"]
            assert low < high, (label, kind, entry)  # a positive width, not a constant resampled
            assert low <= entry["value"] <= high, (label, kind, entry)
    for kind in ("exact", "overlap"):
        low, high = spans[kind]["macro_f1"]["ci"]
        assert low < spans[kind]["macro_f1"]["value"] < high


def test_per_label_span_bootstrap_matches_a_plain_resampling_loop():
    records = _noisy_records(articles=20)
    result = agree(records, bootstrap=30, seed=5)["fields"]["entities"]
    articles = sorted({r["article_id"] for r in records})
    draws = np.random.Generator(np.random.PCG64(5)).integers(0, len(articles), size=(30, len(articles)))
    values, macros = [], []
    for row in draws:
        resampled = []
        for k, idx in enumerate(row):
            resampled += [{**r, "article_id": f"{k:016x}"} for r in records if r["article_id"] == articles[idx]]
        spans = agree(resampled)["fields"]["entities"]
        values.append(spans["per_label"]["ORG"]["overlap_f1"]["value"])
        macros.append(spans["exact"]["macro_f1"]["value"])
    assert result["per_label"]["ORG"]["overlap_f1"]["ci"] == pytest.approx(
        list(np.percentile(values, [2.5, 97.5])), abs=1e-9)
    assert result["exact"]["macro_f1"]["ci"] == pytest.approx(list(np.percentile(macros, [2.5, 97.5])), abs=1e-9)


# ------------------------------------------------------------------------ annotator pairs


def test_pairwise_agreement_between_annotators():
    ann = [BOMB, ARMED, BOMB, KIDNAP, ARMED]
    bob = [BOMB, ARMED, ARMED, KIDNAP, None]
    records = [rec(i, "ann@x", event_type=v, killed=i, entities=[(0, 5, "PERSON")]) for i, v in enumerate(ann)]
    records += [rec(i, "bob@x", event_type=v, killed=i + (i == 2), entities=[(0, 5, "PERSON"), (9, 12, "ORG")]
                    if i == 0 else [(0, 4, "PERSON")]) for i, v in enumerate(bob)]
    records += [rec(i, "cyd@x", event_type=BOMB) for i in (0, 2)]
    result = agree(records, bootstrap=200, seed=3)
    pairs = {tuple(p["annotators"]): p for p in result["pairs"]}
    assert list(pairs) == [("ann@x", "bob@x"), ("ann@x", "cyd@x"), ("bob@x", "cyd@x")]
    ab = pairs[("ann@x", "bob@x")]
    assert ab["articles"] == 5
    event = ab["fields"]["event_type"]
    assert event["units"] == 4  # bob left article 4 empty
    assert event["observed_agreement"]["value"] == pytest.approx(3 / 4)
    assert event["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(ann[:4], bob[:4]), abs=1e-9)
    assert event["observed_agreement"]["ci"] is not None and event["cohen_kappa"]["ci"] is not None
    killed = ab["fields"]["killed"]
    assert (killed["exact_match"]["value"], killed["mean_abs_diff"]["value"]) == (pytest.approx(4 / 5),
                                                                                pytest.approx(1 / 5))
    spans = ab["fields"]["entities"]
    # Article 0: PERSON matches, ORG unmatched (2 * 1 / 3); articles 1-4: 0-5 against 0-4, overlap only.
    assert spans["exact_f1"]["value"] == pytest.approx(2 * 1 / (3 + 2 * 4))
    assert spans["overlap_f1"]["value"] == pytest.approx(2 * 5 / (3 + 2 * 4))
    ac = pairs[("ann@x", "cyd@x")]
    assert ac["articles"] == 2
    assert ac["fields"]["event_type"]["observed_agreement"]["value"] == 1.0
    assert_undefined(ac["fields"]["event_type"]["cohen_kappa"])  # both used one category only
    assert_undefined(ac["fields"]["killed"]["exact_match"])  # cyd gave no number
    assert ac["fields"]["killed"]["pairs_one_empty"] == 2


def test_choice_confusion_counts_each_pair_of_annotators_once():
    records = [rec(0, "ann@x", event_type=BOMB), rec(0, "bob@x", event_type=BOMB),
               rec(1, "ann@x", event_type=KIDNAP), rec(1, "bob@x", event_type=ARMED), rec(1, "cyd@x", event_type=ARMED)]
    confusion = agree(records)["fields"]["event_type"]["confusion"]
    # Labels in the scheme's order: Armed Assault comes before Hostage Taking (Kidnapping).
    assert confusion == [{"labels": [ARMED, KIDNAP], "count": 2}, {"labels": [ARMED, ARMED], "count": 1},
                         {"labels": [BOMB, BOMB], "count": 1}]


# --------------------------------------------------------------------- edits by others


def _edited(record: dict, editor: str, editor_id: int, **values) -> dict:
    """``record`` after another account saved it with ``values``."""
    return {**record, **values, "updated_by_email": editor, "updated_by_id": editor_id, "edited_by_other": True,
            "updated_at": "2024-05-02T10:00:00Z"}


def test_an_annotation_edited_by_another_account_is_left_out_and_listed():
    # ann and bob disagree on article 0; bob then saves ann's annotation with his own answer.
    ann, bob = rec(0, "ann@x", event_type=KIDNAP), rec(0, "bob@x", event_type=ARMED)
    edited = _edited(ann, "bob@x", 3, event_type=ARMED)
    alone = agree([edited, bob])
    choice = alone["fields"]["event_type"]
    for name in ("observed_agreement", "alpha_nominal", "cohen_kappa"):
        assert_undefined(choice[name])  # not 1.0: one independent answer has no one to agree with
    assert alone["pairs"] == []
    assert (alone["annotations"], alone["edited_by_other_excluded"], alone["articles_multi"]) == (1, 1, 0)
    assert alone["edits"] == [{"task_id": 0, "article_id": art(0), "annotation_id": ann["annotation_id"],
                               "annotator": "ann@x", "editor": "bob@x", "updated_at": "2024-05-02T10:00:00Z"}]
    assert alone["edits_tracked"] is True
    assert alone["annotators_detail"]["ann@x"]["edited_by_others"] == 1
    assert alone["annotators_detail"]["ann@x"]["tasks_done"] == 0
    assert alone["annotators_detail"]["bob@x"]["tasks_done"] == 1
    # Among other articles it counts for nobody: the figures are those without it.
    others = [rec(1, "ann@x", event_type=BOMB), rec(1, "bob@x", event_type=BOMB),
              rec(2, "ann@x", event_type=BOMB), rec(2, "bob@x", event_type=ARMED)]
    mixed = agree([edited, bob, *others])
    without = agree([bob, *others])
    assert mixed["fields"] == without["fields"] and mixed["pairs"] == without["pairs"]
    assert mixed["fields"]["event_type"]["observed_agreement"]["value"] == pytest.approx(1 / 2)
    # An editor id without an email names the editor by id; a record without the keys is unedited.
    by_id = _edited(ann, None, 3, event_type=ARMED)
    assert agree([by_id, bob])["edits"][0]["editor"] == "3"
    # Only answers are listed: a cancelled or ground-truth annotation is no vote anyway.
    other = agree([edited, bob, _edited(rec(0, "rev@x", event_type=ARMED, ground_truth=True), "boss@x", 9),
                   _edited(rec(0, "cyd@x", cancelled=True), "boss@x", 9)])
    assert [e["annotator"] for e in other["edits"]] == ["ann@x"] and other["edited_by_other_excluded"] == 1
    plain = agree([ann, bob])
    assert plain["edits"] == [] and plain["edits_tracked"] is False
    assert agree([{**ann, "edited_by_other": False, "updated_by_id": 2}, bob])["edits_tracked"] is True


def test_pairwise_bootstrap_matches_a_plain_resampling_loop():
    # Two annotators on every article: the pair's articles are all articles, drawn the same way.
    records = [r for r in _noisy_records(articles=20) if r["annotator_email"] != "cyd@x"]
    (pair,) = agree(records, bootstrap=30, seed=5)["pairs"]
    articles = sorted({r["article_id"] for r in records})
    draws = np.random.Generator(np.random.PCG64(5)).integers(0, len(articles), size=(30, len(articles)))
    kappas, diffs = [], []
    for row in draws:
        resampled = []
        for k, idx in enumerate(row):
            resampled += [{**r, "article_id": f"{k:016x}"} for r in records if r["article_id"] == articles[idx]]
        (again,) = agree(resampled)["pairs"]
        kappas.append(again["fields"]["event_type"]["cohen_kappa"]["value"])
        diffs.append(again["fields"]["killed"]["mean_abs_diff"]["value"])
    kappas = [k for k in kappas if k is not None]  # undefined resamples are left out, as in the bootstrap
    assert pair["fields"]["event_type"]["cohen_kappa"]["ci"] == pytest.approx(
        list(np.percentile(kappas, [2.5, 97.5])), abs=1e-9)
    assert pair["fields"]["killed"]["mean_abs_diff"]["ci"] == pytest.approx(
        list(np.percentile(diffs, [2.5, 97.5])), abs=1e-9)
