"""Suggestions and anchoring (``toolkit agree``): do annotators lean on the pre-annotations?

A suggestion shown in Label Studio can anchor an annotator: accepted unchanged it looks like
agreement, while only the model agreed with itself. ``[preannotate] blind_fraction`` keeps a
share of articles without one, so the two groups can be compared. This module splits the
validated answers into articles *with* and *without* a suggestion and reports, for each
group, agreement (the same ``compute_agreement`` as the main figures, run on the group's
records) and accuracy against gold; and, per annotator, how often they accepted the
suggestion unchanged.

What counts:

- the answers measured are those the agreement figures count: each annotator's latest own
  answer per article; cancelled, ground-truth and edited-by-another-account annotations are
  left out;
- an article had a suggestion when a prediction on one of its annotated tasks has a result:
  a span, or a value in a choice or number field (free text does not count). A prediction with
  an empty result (a score kept for queue ordering on a blind article) is no suggestion.
  Predictions on tasks that carry only ground-truth answers are the annotators' versions
  ``toolkit review`` shows an adjudicator, not suggestions, and are left out;
- the suggestion compared is the article's latest prediction with a result (``created_at``,
  then ``prediction_id``);
- gold accuracy is measured on articles whose gold record is resolved: spans by the exact-match
  F1 of the annotation's spans against gold, averaged over annotations (both empty = 1),
  choices and numbers by equality (an empty answer equals an empty gold value);
- accepted unchanged: every non-text field equals the suggestion (spans as sets of (start,
  end, label), choices as sets, numbers equal).

A figure with nothing to measure is ``None`` with ``n`` 0 and the reason, never 0.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import parquetio
from ..scheme import ChoiceField, Field, NumberField, Scheme, SpanField
from .metrics import UndefinedMetric, _collect, compare_spans, compute_agreement, metric

__all__ = ["has_suggestion", "read_predictions", "shown_suggestions", "suggestion_effect",
           "suggestions_markdown", "suggestions_summary"]

WITH, WITHOUT = "with", "without"
_EMPTY_GROUP = "no annotation in this group"
_NO_GOLD = "no annotation of this group is on an article with a resolved gold record"
_NOT_SHOWN = "no annotation on an article with a suggestion"


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """The rows of ``annotations/predictions.parquet``; none when the file does not exist."""
    if not Path(path).exists():
        return []
    return [row for batch in parquetio.iter_batches(path, 2000) for row in batch.to_pylist()]


def _compared(scheme: Scheme) -> list[Field]:
    """The fields a suggestion fills and an answer is compared on: every field but free text."""
    return [f for f in scheme.fields if isinstance(f, (SpanField, ChoiceField, NumberField))]


def has_suggestion(prediction: Mapping[str, Any], scheme: Scheme) -> bool:
    """Whether a prediction shows the annotator anything: a span, a choice or a number."""
    for f in _compared(scheme):
        value = prediction.get(f.name)
        if isinstance(f, SpanField) or (isinstance(f, ChoiceField) and f.multiple):
            if value:
                return True
        elif value is not None:
            return True
    return False


def _recency(prediction: Mapping[str, Any]) -> tuple[str, int]:
    created = prediction.get("created_at")
    if isinstance(created, dt.datetime):
        created = created.astimezone(dt.timezone.utc).isoformat()
    return str(created or ""), int(prediction.get("prediction_id") or 0)


def shown_suggestions(predictions: Iterable[Mapping[str, Any]], records: Iterable[Mapping[str, Any]],
                      scheme: Scheme) -> dict[str, Mapping[str, Any]]:
    """article_id -> the suggestion its annotators saw: its latest prediction with a result.

    Only predictions on tasks the annotators answered count (a task id missing on either side
    falls back to the article), so the annotators' versions that ``toolkit review`` attaches
    to review tasks, answered only by ground-truth adjudications, are not taken for suggestions.
    """
    tasks: dict[str, set[Any]] = defaultdict(set)
    for record in records:
        if not record.get("ground_truth"):
            tasks[str(record.get("article_id"))].add(record.get("task_id"))
    shown: dict[str, Mapping[str, Any]] = {}
    for p in predictions:
        article = str(p.get("article_id"))
        answered = tasks.get(article, set())
        if not has_suggestion(p, scheme):
            continue
        if p.get("task_id") is not None and None not in answered and p.get("task_id") not in answered:
            continue
        if article not in shown or _recency(p) > _recency(shown[article]):
            shown[article] = p
    return shown


# Comparing one answer ------------------------------------------------------------------------

def _span_set(value: Any) -> set[tuple[int, int, str]]:
    return {(int(s["start"]), int(s["end"]), str(s["label"])) for s in value or []}


def _choice_set(f: ChoiceField, value: Any) -> set[Any]:
    if f.multiple:
        return set(value or [])
    return set() if value is None else {value}


def _same(f: Field, a: Any, b: Any) -> bool:
    """Whether two answers to field ``f`` are the same (spans and choices as sets)."""
    if isinstance(f, SpanField):
        return _span_set(a) == _span_set(b)
    if isinstance(f, ChoiceField):
        return _choice_set(f, a) == _choice_set(f, b)
    if a is None or b is None:
        return a is None and b is None
    return float(a) == float(b)


def _gold_score(f: Field, mine: Any, gold: Any) -> float:
    """1/0 for equality; for spans the exact-match F1 against gold (both empty: 1)."""
    if isinstance(f, SpanField):
        try:
            return compare_spans(mine or [], gold or []).f1("exact")
        except UndefinedMetric:  # neither marked a span: the annotation equals gold
            return 1.0
    return float(_same(f, mine, gold))


def _share(values: list[float], undefined: str, **extra: Any) -> dict[str, Any]:
    if not values:
        return metric(None, 0, undefined=undefined, **extra)
    return metric(sum(values) / len(values), len(values), **extra)


class _Scores:
    """Per-field lists of gold scores and acceptances, for one group or one annotator's group."""

    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields
        self.annotations = 0
        self.gold: dict[str, list[float]] = {f.name: [] for f in fields}
        self.accepted: dict[str, list[float]] = {f.name: [] for f in fields}
        self.unchanged: list[float] = []

    def add(self, record: Mapping[str, Any], gold: Mapping[str, Any] | None,
            suggestion: Mapping[str, Any] | None) -> None:
        self.annotations += 1
        for f in self.fields:
            if gold is not None:
                self.gold[f.name].append(_gold_score(f, record.get(f.name), gold.get(f.name)))
        if suggestion is not None:
            same = [_same(f, record.get(f.name), suggestion.get(f.name)) for f in self.fields]
            for f, s in zip(self.fields, same):
                self.accepted[f.name].append(float(s))
            self.unchanged.append(float(all(same)))

    def gold_accuracy(self, undefined: str) -> dict[str, dict[str, Any]]:
        return {f.name: _share(self.gold[f.name], undefined if self.annotations else _EMPTY_GROUP,
                               measure="exact span F1" if isinstance(f, SpanField) else "equal")
                for f in self.fields}

    def acceptance(self) -> dict[str, Any]:
        return {"accepted_unchanged": _share(self.unchanged, _NOT_SHOWN),
                "accepted_by_field": {f.name: _share(self.accepted[f.name], _NOT_SHOWN) for f in self.fields}}


def _group_agreement(records: list[Mapping[str, Any]], scheme: Scheme, texts: Mapping[str, str] | None,
                     bootstrap: int, seed: int) -> tuple[dict[str, dict[str, Any]], int]:
    """The headline agreement figures of ``compute_agreement`` on one group's records."""
    figures = compute_agreement(records, scheme, texts=texts, bootstrap=bootstrap, seed=seed)
    out: dict[str, dict[str, Any]] = {}
    for h in figures["headline"]:
        ci = None if h["ci_low"] is None else [h["ci_low"], h["ci_high"]]
        out.setdefault(h["field"], {})[h["metric"]] = {"value": h["value"], "ci": ci, "n": h["n"],
                                                       "undefined": h["undefined"]}
    return out, figures["articles_multi"]


def suggestion_effect(records: Iterable[Mapping[str, Any]], predictions: Iterable[Mapping[str, Any]],
                      gold: Mapping[str, Mapping[str, Any]], scheme: Scheme, *,
                      texts: Mapping[str, str] | None = None, bootstrap: int = 0, seed: int = 0) -> dict[str, Any]:
    """The "suggestions" section of agreement.json: the answers with and without a suggestion.

    ``records`` are the validated annotation records (as ``compute_agreement`` takes them),
    ``predictions`` the rows of predictions.parquet, ``gold`` article_id -> gold record (only
    ``status == "resolved"`` rows are used). ``texts``, ``bootstrap`` and ``seed`` go to
    ``compute_agreement`` for each group. Returns plain JSON-able data.
    """
    records = list(records)
    predictions = list(predictions)
    fields = _compared(scheme)
    section: dict[str, Any] = {"predictions": len(predictions),
                               "predictions_with_result": sum(has_suggestion(p, scheme) for p in predictions)}
    if not predictions:
        section["note"] = ("no predictions were pulled (annotations/predictions.parquet is missing or empty), so no "
                           "annotation can be compared with a suggestion")
        return section
    shown = shown_suggestions(predictions, records, scheme)
    votes = _collect(records).votes
    resolved = {a: g for a, g in gold.items() if g.get("status") == "resolved"}
    in_group = {a: WITH if a in shown else WITHOUT for a in votes}

    groups = {name: _Scores(fields) for name in (WITH, WITHOUT)}
    people: dict[str, dict[str, _Scores]] = defaultdict(lambda: {WITH: _Scores(fields), WITHOUT: _Scores(fields)})
    for article in sorted(votes):
        group = in_group[article]
        suggestion = shown.get(article)
        for who, record in sorted(votes[article].items()):
            for scores in (groups[group], people[who][group]):
                scores.add(record, resolved.get(article), suggestion)

    section["groups"] = {}
    for name, scores in groups.items():
        subset = [r for r in records if in_group.get(str(r.get("article_id"))) == name]
        agreement, multi = _group_agreement(subset, scheme, texts, bootstrap, seed)
        entry = {"articles": sum(1 for g in in_group.values() if g == name), "articles_multi": multi,
                 "annotations": scores.annotations, "agreement": agreement,
                 "gold_accuracy": scores.gold_accuracy(_NO_GOLD)}
        if name == WITH:
            entry |= scores.acceptance()
        section["groups"][name] = entry
    section["annotators"] = {
        who: {WITH: {"annotations": by[WITH].annotations, "gold_accuracy": by[WITH].gold_accuracy(_NO_GOLD)},
              WITHOUT: {"annotations": by[WITHOUT].annotations,
                        "gold_accuracy": by[WITHOUT].gold_accuracy(_NO_GOLD)},
              **by[WITH].acceptance()}
        for who, by in sorted(people.items())}
    return section


# Showing it ----------------------------------------------------------------------------------

def _pct(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return f"– (n={entry.get('n', 0) if entry else 0})"
    return f"{100 * entry['value']:.1f}% (n={entry['n']})"


def _num(entry: Mapping[str, Any]) -> str:
    if entry.get("value") is None:
        return "– (n=0)" if not entry.get("n") else f"undefined (n={entry['n']})"
    text = f"{entry['value']:.3f}"
    if entry.get("ci"):
        text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
    return text + f" (n={entry['n']})"


def _accuracies(entries: Mapping[str, Mapping[str, Any]], fields: list[str]) -> str:
    if all(not entries[f].get("n") for f in fields):
        return "–"
    return ", ".join(f"{f}: {_pct(entries[f])}" for f in fields)


def suggestions_summary(section: Mapping[str, Any] | None) -> str | None:
    """One line for the terminal: how many answers had a suggestion and how many were accepted as is."""
    if not section:
        return None
    if "groups" not in section:
        return "Suggestions: no predictions pulled, nothing to compare"
    w, wo = section["groups"][WITH], section["groups"][WITHOUT]
    return (f"Suggestions: {w['articles']} article(s) with ({w['annotations']} annotation(s)), {wo['articles']} "
            f"without ({wo['annotations']}); accepted unchanged: {_pct(w['accepted_unchanged'])}")


def suggestions_markdown(section: Mapping[str, Any] | None) -> list[str]:
    """The "Suggestions and anchoring" section of agreement.md, without a blank line at its end
    (no lines when there is no section)."""
    if not section:
        return []
    lines = ["## Suggestions and anchoring", ""]
    if "groups" not in section:
        return lines + [f"No predictions: {section.get('note', 'nothing to compare')}."]
    groups = section["groups"]
    w, wo = groups[WITH], groups[WITHOUT]
    lines += [
        (f"{section['predictions']} prediction(s) pulled, {section['predictions_with_result']} with a result. An "
         "article counts as with a suggestion when a prediction with a span or a value was on a task its annotators "
         "answered (the latest such prediction is the one compared); a score-only prediction or none counts as "
         "without."),
        "",
        ("Gold accuracy is measured against gold made from these same annotations, so following the majority "
         "(suggestion included) scores well: it is not an independent check of correctness."),
        "",
        "| | with suggestions | without suggestions |",
        "|---|---|---|",
        f"| articles | {w['articles']} | {wo['articles']} |",
        f"| annotations | {w['annotations']} | {wo['annotations']} |",
    ]
    for name, metrics in w["agreement"].items():
        for key, entry in metrics.items():
            lines.append(f"| agreement: {name} {key} | {_num(entry)} | {_num(wo['agreement'][name][key])} |")
    for name, entry in w["gold_accuracy"].items():
        lines.append(f"| gold accuracy: {name} ({entry.get('measure')}) | {_pct(entry)} | "
                     f"{_pct(wo['gold_accuracy'][name])} |")
    lines.append(f"| accepted unchanged | {_pct(w['accepted_unchanged'])} | |")

    people = section["annotators"]
    if not people:
        return lines
    fields = list(w["gold_accuracy"])
    lines += ["", "| annotator | annotations with / without | accepted unchanged | gold accuracy with | "
              "gold accuracy without |", "|---|---|---|---|---|"]
    for who, p in people.items():
        lines.append(f"| {who} | {p[WITH]['annotations']} / {p[WITHOUT]['annotations']} | "
                     f"{_pct(p['accepted_unchanged'])} | "
                     + " | ".join(_accuracies(p[g]["gold_accuracy"], fields) for g in (WITH, WITHOUT)) + " |")
    lines += ["", "Accepted per field (share of an annotator's answers on suggested articles equal to the suggestion):",
              "", "| annotator | " + " | ".join(fields) + " |", "|---|" + "---|" * len(fields)]
    for who, p in people.items():
        lines.append(f"| {who} | " + " | ".join(_pct(p["accepted_by_field"][f]) for f in fields) + " |")
    return lines
