"""`toolkit evaluate`'s engine: predictions read back from their file, judged against gold."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from toolkit.errors import PreannotateError
from toolkit.preannotate.evaluate import (NONE, evaluate, read_prediction_records, run_evaluate, to_markdown,
                                          write_plot)
from toolkit.preannotate.splits import load_gold
from toolkit.preannotate.suggestions import Span, Suggestion, Value, to_prediction
from toolkit.scheme import Scheme, builtin_scheme
from toolkit.workspace import Workspace

from .test_release import build_workspace

SCHEME = builtin_scheme("news-events-v1")
ARMED, BOMBING = "Armed Assault", "Bombing/Explosion"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def span(start: int, end: int, label: str) -> dict[str, Any]:
    return {"start": start, "end": end, "label": label, "text": "x" * (end - start)}


def record(article: str, spans: list[dict[str, Any]] | None = None, event: str | None = None,
           killed: int | None = None, injured: int | None = None) -> dict[str, Any]:
    return {"article_id": article, "entities": spans or [], "event_type": event, "killed": killed,
            "injured": injured, "hostages": None}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return precision, recall, 2 * precision * recall / (precision + recall)


# Two articles: 5 gold spans, 4 predicted; 3 exact matches, one more by overlap (GPE one off).
GOLD = {
    "a": record("a", [span(0, 4, "PERSON"), span(10, 15, "ORG"), span(20, 25, "GPE")], ARMED, killed=3),
    "b": record("b", [span(0, 5, "PERSON"), span(8, 12, "GPE")], BOMBING, killed=None),
}
PREDICTED = {
    "a": record("a", [span(0, 4, "PERSON"), span(10, 15, "ORG"), span(19, 25, "GPE")], ARMED, killed=3),
    "b": record("b", [span(0, 5, "PERSON")], ARMED, killed=None),
}


def test_span_precision_recall_f1_exact_and_overlap_from_the_counts() -> None:
    report = evaluate(SCHEME, PREDICTED, GOLD, ["a", "b"], bootstrap=0)
    micro = report["fields"]["entities"]["micro"]
    assert (micro["support"], micro["predicted"]) == (5, 4)
    exact, overlap = micro["exact"], micro["overlap"]
    assert (exact["tp"], exact["fp"], exact["fn"]) == (3, 1, 2)
    assert (exact["precision"], exact["recall"], exact["f1"]) == pytest.approx(prf(3, 1, 2))
    assert (overlap["tp"], overlap["fp"], overlap["fn"]) == (4, 0, 1)
    assert (overlap["precision"], overlap["recall"], overlap["f1"]) == pytest.approx(prf(4, 0, 1))

    labels = report["fields"]["entities"]["labels"]
    assert labels["PERSON"]["support"] == 2 and labels["PERSON"]["exact"]["f1"] == 1.0
    gpe = labels["GPE"]
    assert (gpe["exact"]["tp"], gpe["exact"]["fp"], gpe["exact"]["fn"]) == (0, 1, 2)
    assert gpe["exact"]["f1"] == 0.0
    assert gpe["overlap"]["f1"] == pytest.approx(prf(1, 0, 1)[2])
    # Macro: the mean over the labels that were marked or predicted (PERSON, ORG, GPE).
    macro = report["fields"]["entities"]["macro"]
    assert macro["exact"]["labels"] == 3
    assert macro["exact"]["f1"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert macro["overlap"]["f1"] == pytest.approx((1.0 + 1.0 + prf(1, 0, 1)[2]) / 3)


def test_right_extent_with_the_wrong_label_is_a_false_positive_and_a_false_negative() -> None:
    gold = {"a": record("a", [span(0, 4, "PERSON")])}
    predicted = {"a": record("a", [span(0, 4, "ORG")])}
    fields = evaluate(SCHEME, predicted, gold, ["a"], bootstrap=0)["fields"]["entities"]
    for match in ("exact", "overlap"):
        assert fields["labels"]["PERSON"][match] | {"precision": None} == \
            {"tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0, "f1": 0.0, "f1_ci": None}
        assert (fields["labels"]["ORG"][match]["fp"], fields["labels"]["ORG"][match]["fn"]) == (1, 0)
        assert (fields["micro"][match]["tp"], fields["micro"][match]["fp"], fields["micro"][match]["fn"]) == (0, 1, 1)


def test_overlap_matching_is_one_to_one_and_largest_overlap_first() -> None:
    # One gold span, two predictions inside it: only one of them can match it.
    gold = {"a": record("a", [span(0, 10, "GPE")])}
    predicted = {"a": record("a", [span(0, 3, "GPE"), span(5, 10, "GPE")])}
    overlap = evaluate(SCHEME, predicted, gold, ["a"], bootstrap=0)["fields"]["entities"]["micro"]["overlap"]
    assert (overlap["tp"], overlap["fp"], overlap["fn"]) == (1, 1, 0)
    # [3, 8) overlaps both gold spans by 2; [0, 4) overlaps the first by 4 and takes it first,
    # which leaves the second gold span for [3, 8): both predictions match.
    gold = {"a": record("a", [span(0, 5, "GPE"), span(6, 10, "GPE")])}
    predicted = {"a": record("a", [span(3, 8, "GPE"), span(0, 4, "GPE")])}
    overlap = evaluate(SCHEME, predicted, gold, ["a"], bootstrap=0)["fields"]["entities"]["micro"]["overlap"]
    assert (overlap["tp"], overlap["fp"], overlap["fn"]) == (2, 0, 0)


def test_choice_accuracy_and_confusion_with_missing_predictions_as_none() -> None:
    gold = {a: record(a, event=e) for a, e in (("a", ARMED), ("b", ARMED), ("c", BOMBING), ("d", None), ("e", ARMED))}
    predicted = {a: record(a, event=e) for a, e in (("a", ARMED), ("b", BOMBING), ("c", BOMBING), ("d", None))}
    report = evaluate(SCHEME, predicted, gold, list("abcde"), bootstrap=0)
    assert report["n_missing"] == 1  # "e": counted as predicting nothing
    event = report["fields"]["event_type"]
    assert (event["n"], event["correct"]) == (5, 3)
    assert event["accuracy"] == pytest.approx(3 / 5)
    assert event["confusion"] == {ARMED: {ARMED: 1, BOMBING: 1, NONE: 1}, BOMBING: {BOMBING: 1}, NONE: {NONE: 1}}


def test_multiple_choice_accuracy_counts_exactly_the_gold_set() -> None:
    data = SCHEME.to_dict()
    for f in data["fields"]:
        if f["name"] == "event_type":
            f["multiple"] = True
    scheme = Scheme.from_dict(data)
    gold = {"a": record("a", event=[ARMED, BOMBING]), "b": record("b", event=[ARMED])}
    predicted = {"a": record("a", event=[BOMBING, ARMED]), "b": record("b", event=[ARMED, BOMBING])}
    event = evaluate(scheme, predicted, gold, ["a", "b"], bootstrap=0)["fields"]["event_type"]
    assert (event["correct"], event["n"], event["accuracy"]) == (1, 2, 0.5)


def test_numbers_exact_match_over_all_articles_and_where_gold_has_one() -> None:
    killed = {"a": (3, 3), "b": (None, None), "c": (0, 1), "d": (2, None)}  # (gold, predicted)
    gold = {a: record(a, killed=g) for a, (g, _) in killed.items()}
    predicted = {a: record(a, killed=p) for a, (_, p) in killed.items()}
    stats = evaluate(SCHEME, predicted, gold, list(killed), bootstrap=0)["fields"]["killed"]
    assert (stats["all"]["matches"], stats["all"]["n"], stats["all"]["exact_match"]) == (2, 4, 0.5)
    assert (stats["gold_given"]["matches"], stats["gold_given"]["n"]) == (1, 3)
    assert stats["gold_given"]["exact_match"] == pytest.approx(1 / 3)
    # No gold number anywhere: the rate over articles with one has nothing to count.
    injured = evaluate(SCHEME, predicted, gold, list(killed), bootstrap=0)["fields"]["injured"]
    assert injured["gold_given"] == {"n": 0, "matches": 0, "exact_match": None, "exact_match_ci": None}
    assert injured["all"]["exact_match"] == 1.0


def test_figures_without_support_are_null_and_read_n_a() -> None:
    report = evaluate(SCHEME, PREDICTED, GOLD, ["a", "b"], bootstrap=50)
    fac = report["fields"]["entities"]["labels"]["FAC"]
    assert fac["support"] == 0 and fac["predicted"] == 0
    for match in ("exact", "overlap"):
        assert (fac[match]["precision"], fac[match]["recall"], fac[match]["f1"], fac[match]["f1_ci"]) == \
            (None, None, None, None)
    assert "| FAC | 0 | 0 | 0 / 0 / 0 | n/a | n/a | n/a | n/a |" in to_markdown(report)
    empty = evaluate(SCHEME, {}, {}, [], bootstrap=50)
    assert empty["n_articles"] == 0
    assert empty["fields"]["event_type"]["accuracy"] is None
    assert empty["fields"]["entities"]["micro"]["exact"]["f1"] is None
    assert empty["fields"]["entities"]["macro"]["exact"]["f1"] is None
    assert "accuracy: **n/a**" in to_markdown(empty)


def _many(n: int = 40) -> tuple[dict[str, Any], dict[str, Any]]:
    """Articles where the prediction is right on some spans, choices and numbers, not others."""
    gold, predicted = {}, {}
    for i in range(n):
        a = f"art{i:03d}"
        spans = [span(0, 5, "PERSON"), span(10, 14, "GPE")] + ([span(20, 24, "ORG")] if i % 3 else [])
        guess = spans[: 1 + i % 3] + ([span(30, 33, "DATE")] if i % 4 == 0 else [])
        if i % 5 == 0:
            guess = [{**s, "start": s["start"] + 1} for s in guess]
        gold[a] = record(a, spans, ARMED if i % 2 else BOMBING, killed=i % 4)
        predicted[a] = record(a, guess, ARMED if i % 3 else BOMBING, killed=(i % 4) if i % 5 else None)
    return gold, predicted


def _intervals(report: dict[str, Any]) -> list[tuple[float, list[float]]]:
    """(value, [lo, hi]) of every figure with an interval in the report."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_ci") and value is not None:
                    found.append((node[key[:-3]], value))
                else:
                    walk(value)
    walk(report["fields"])
    return found


def test_bootstrap_intervals_hold_the_estimate_and_repeat_for_a_seed() -> None:
    gold, predicted = _many()
    ids = sorted(gold)
    report = evaluate(SCHEME, predicted, gold, ids, bootstrap=300, seed=7)
    intervals = _intervals(report)
    micro = report["fields"]["entities"]["micro"]
    assert micro["exact"]["f1_ci"] and micro["overlap"]["f1_ci"]
    assert report["fields"]["event_type"]["accuracy_ci"] and report["fields"]["killed"]["all"]["exact_match_ci"]
    assert len(intervals) >= 10
    for value, (lo, hi) in intervals:
        assert lo <= value + 1e-12 and value <= hi + 1e-12
    assert micro["exact"]["f1_ci"][0] < micro["exact"]["f1_ci"][1]  # the data vary from article to article
    assert evaluate(SCHEME, predicted, gold, ids, bootstrap=300, seed=7) == report
    other = evaluate(SCHEME, predicted, gold, ids, bootstrap=300, seed=8)
    assert other["fields"]["entities"]["micro"]["exact"]["f1"] == micro["exact"]["f1"]
    assert other["fields"]["entities"]["micro"]["exact"]["f1_ci"] != micro["exact"]["f1_ci"]
    assert report["bootstrap"] == {"resamples": 300, "seed": 7, "confidence": 0.95}
    json.dumps(report, allow_nan=False)  # plain, strict JSON


def test_no_resamples_no_intervals() -> None:
    gold, predicted = _many(10)
    report = evaluate(SCHEME, predicted, gold, sorted(gold), bootstrap=0)
    assert _intervals(report) == []
    assert "No bootstrap intervals" in to_markdown(report)


# --------------------------------------------------------------------------------- files


def write_predictions(ws: Workspace, model_version: str, lines: list[Any]) -> Path:
    path = ws.annotations_dir / "predictions" / f"{model_version}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def labels_result(start: int, end: int, text: str, label: str) -> dict[str, Any]:
    return {"from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}, "score": 0.9}


def test_utf16_offsets_in_the_file_read_back_as_code_points(workspace: Workspace) -> None:
    text = "🎉 Ivan Petrov met the Interior Ministry in Kabul."
    start = text.index("Ivan Petrov")
    # Label Studio counts the emoji as two UTF-16 code units, so its offsets are one further on.
    line = {"article_id": "a1", "model_version": "m1", "score": 0.5, "result": [
        labels_result(start + 1, start + 1 + len("Ivan Petrov"), "Ivan Petrov", "PERSON"),
        {"from_name": "event_type", "to_name": "text", "type": "choices", "value": {"choices": [ARMED]}},
        {"from_name": "killed", "to_name": "text", "type": "number", "value": {"number": 2}}]}
    write_predictions(workspace, "m1", [line, {"article_id": "elsewhere", "result": []}])
    records = read_prediction_records(workspace, SCHEME, "m1", {"a1": text})
    assert set(records) == {"a1"}  # a line for an article not being judged is not read
    got = records["a1"]
    assert got["entities"] == [{"start": start, "end": start + len("Ivan Petrov"), "label": "PERSON",
                                "text": "Ivan Petrov"}]
    assert text[got["entities"][0]["start"]:got["entities"][0]["end"]] == "Ivan Petrov"
    assert (got["event_type"], got["killed"], got["injured"]) == (ARMED, 2, None)
    assert set(got) == {"article_id", "entities", "event_type", "killed", "injured", "hostages"}


def test_lines_written_by_to_prediction_read_back_to_the_same_spans(workspace: Workspace) -> None:
    text = "Attack 👮 in Kabul 🇦🇫 left 3 dead, said Ahmed Khan."
    spans = [Span("entities", text.index("Kabul"), text.index("Kabul") + 5, "GPE", 0.8, "rules"),
             Span("entities", text.index("Ahmed"), len(text) - 1, "PERSON", 0.7, "rules")]
    line = to_prediction(SCHEME, "a1", text, Suggestion(spans, [Value("killed", 3, 0.9, "numbers")]), "m2")
    write_predictions(workspace, "m2", [line])
    got = read_prediction_records(workspace, SCHEME, "m2", {"a1": text})["a1"]
    assert sorted((s["start"], s["end"], s["label"]) for s in got["entities"]) == \
        sorted((s.start, s.end, s.label) for s in spans)
    assert got["killed"] == 3


def test_a_bad_line_is_named_by_file_and_line(workspace: Workspace) -> None:
    good = {"article_id": "a1", "result": []}
    write_predictions(workspace, "m1", [good, "", "{not json"])
    with pytest.raises(PreannotateError, match=r"annotations/predictions/m1\.jsonl:3: not JSON"):
        read_prediction_records(workspace, SCHEME, "m1", {"a1": "Some text here."})
    unknown = {"article_id": "a2", "result": [{"from_name": "weapons", "to_name": "text", "type": "choices",
                                                "value": {"choices": ["gun"]}}]}
    write_predictions(workspace, "m1", [good, unknown])
    with pytest.raises(PreannotateError, match=r"m1\.jsonl:2: article a2: .*'weapons'") as caught:
        read_prediction_records(workspace, SCHEME, "m1", {"a1": "Some text.", "a2": "Other text."})
    assert "toolkit preannotate" in caught.value.hint
    write_predictions(workspace, "m1", [good, {"article_id": "a1", "result": []}])
    with pytest.raises(PreannotateError, match=r"m1\.jsonl:2: article a1 already has a prediction, on line 1"):
        read_prediction_records(workspace, SCHEME, "m1", {"a1": "Some text."})
    misplaced = {"article_id": "a1", "result": [labels_result(0, 4, "Ivan", "PERSON")]}
    write_predictions(workspace, "m1", [misplaced])
    with pytest.raises(PreannotateError, match=r"m1\.jsonl:1: article a1: .*'Ivan'"):
        read_prediction_records(workspace, SCHEME, "m1", {"a1": "Some text."})


def test_a_missing_prediction_file_says_to_run_preannotate(workspace: Workspace) -> None:
    with pytest.raises(PreannotateError, match=r"no predictions of model 'nope'") as caught:
        read_prediction_records(workspace, SCHEME, "nope", {})
    assert "toolkit preannotate" in caught.value.hint


def test_markdown_carries_the_figures() -> None:
    gold, predicted = _many(20)
    report = evaluate(SCHEME, predicted, gold, sorted(gold), bootstrap=100, model_version="m1", split="heldout")
    md = to_markdown(report)
    ent = report["fields"]["entities"]
    person = ent["labels"]["PERSON"]["exact"]
    lo, hi = person["f1_ci"]
    assert md.startswith("# Evaluation: m1 on heldout")
    assert f"{person['f1']:.3f} [{lo:.3f}, {hi:.3f}]" in md
    assert f"{ent['micro']['overlap']['f1']:.3f}" in md
    event = report["fields"]["event_type"]
    assert f"accuracy: **{event['accuracy']:.3f}" in md
    assert f"| {BOMBING} | {event['confusion'][BOMBING].get(ARMED, '')} |" in md
    assert f"| killed | {report['fields']['killed']['all']['exact_match']:.3f}" in md


def test_write_plot_writes_a_png_in_place(tmp_path: Path) -> None:
    gold, predicted = _many(20)
    report = evaluate(SCHEME, predicted, gold, sorted(gold), bootstrap=50)
    path = tmp_path / "out" / "m1.png"
    write_plot(report, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in path.parent.iterdir()] == ["m1.png"]  # no temporary file left behind
    write_plot(evaluate(SCHEME, {}, {}, [], bootstrap=0), path)  # nothing to plot still gives a picture
    assert path.read_bytes()[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- run_evaluate


def _perfect_lines(ws: Workspace, ids: list[str]) -> list[dict[str, Any]]:
    """A prediction line per article equal to its gold record."""
    gold = load_gold(ws)
    lines = []
    for a in ids:
        g = gold.records[a]
        spans = [Span("entities", s["start"], s["end"], s["label"], 0.9, "test") for s in g["entities"]]
        values = [Value("event_type", g["event_type"], 0.8, "test")] + \
            [Value(n, g[n], 0.8, "test") for n in ("killed", "injured", "hostages") if g[n] is not None]
        lines.append(to_prediction(SCHEME, a, gold.texts[a], Suggestion(spans, values), "m1"))
    return lines


def test_run_evaluate_writes_the_report_files(workspace: Workspace) -> None:
    build_workspace(workspace)
    gold = load_gold(workspace)
    heldout = gold.ids("heldout")
    assert len(heldout) >= 3
    write_predictions(workspace, "m1", _perfect_lines(workspace, heldout[1:]))
    report = run_evaluate(workspace, "m1", bootstrap=100)
    assert (report["model_version"], report["split"]) == ("m1", "heldout")
    assert (report["n_articles"], report["n_missing"]) == (len(heldout), 1)
    event = report["fields"]["event_type"]
    assert (event["correct"], event["n"]) == (len(heldout) - 1, len(heldout))
    micro = report["fields"]["entities"]["micro"]["exact"]
    assert micro["precision"] == 1.0
    assert micro["fn"] == len(gold.records[heldout[0]]["entities"]) > 0  # the missing article's spans
    assert report["bootstrap"] == {"resamples": 100, "seed": workspace.config.gold.seed, "confidence": 0.95}
    out = workspace.annotations_dir / "evaluation"
    assert json.loads((out / "m1.json").read_text()) == report
    assert (out / "m1.md").read_text() == to_markdown(report)
    assert (out / "m1.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.iterdir()) == ["m1.json", "m1.md", "m1.png"]
    train = run_evaluate(workspace, "m1", split="train", bootstrap=0)
    assert train["n_missing"] == train["n_articles"]  # nothing was predicted for train


def test_run_evaluate_takes_the_newest_prediction_file_and_the_configured_bootstrap(workspace: Workspace) -> None:
    build_workspace(workspace)
    heldout = load_gold(workspace).ids("heldout")
    old = write_predictions(workspace, "old", [])
    new = write_predictions(workspace, "new", _perfect_lines(workspace, heldout))
    os.utime(old, (2_000_000_000, 2_000_000_000))
    os.utime(new, (1_000_000_000, 1_000_000_000))
    report = run_evaluate(workspace)
    assert report["model_version"] == "old" and report["n_missing"] == len(heldout)
    assert report["bootstrap"]["resamples"] == workspace.config.gold.bootstrap
    os.utime(new, (2_000_000_100, 2_000_000_100))
    assert run_evaluate(workspace, bootstrap=0)["model_version"] == "new"


def test_run_evaluate_without_gold_in_the_split_names_the_counts(workspace: Workspace) -> None:
    build_workspace(workspace, n=4)  # four articles, all in train
    write_predictions(workspace, "m1", [])
    with pytest.raises(PreannotateError, match=r"no gold articles in split 'heldout' \(gold articles per split: "
                                               r"train 4, validation 0, test 0\)") as caught:
        run_evaluate(workspace, "m1")
    assert "--split" in caught.value.hint
    assert run_evaluate(workspace, "m1", split="train", bootstrap=0)["n_articles"] == 4


def test_run_evaluate_without_prediction_files(workspace: Workspace) -> None:
    build_workspace(workspace, n=10)
    with pytest.raises(PreannotateError, match="no predictions to evaluate") as caught:
        run_evaluate(workspace)
    assert "toolkit preannotate" in caught.value.hint
    with pytest.raises(PreannotateError, match="unknown split 'dev'"):
        run_evaluate(workspace, "m1", split="dev")
    with pytest.raises(PreannotateError, match="is not a file name"):
        run_evaluate(workspace, "../m1")
