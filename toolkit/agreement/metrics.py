"""Inter-annotator agreement (``toolkit agree``): how far annotators agree, field by field.

The unit of analysis is the article: several tasks for one article count as one unit, and an
annotator who answered one article twice counts once (the latest answer). Cancelled
annotations and ground-truth records are left out and counted, and so is an annotation whose
last update was made by another account (``edited_by_other``): it is neither its author's
independent answer nor the editor's, and it is listed in ``edits`` (a cancelled or
ground-truth annotation is not an answer anyway and is not listed; records pulled before
edits were tracked count as unedited, and ``edits_tracked`` is false when no record says who
saved it last). For each field of the scheme:

- single choices: observed agreement, Cohen's kappa (two annotators; the mean over pairs
  with more), Fleiss' kappa, Krippendorff's alpha (nominal, any number of annotators, with
  missing answers), and the confusion of the answers of each pair of annotators;
- multiple choices: a binary (chosen / not chosen) alpha per choice and the mean Jaccard
  similarity between pairs of annotators;
- numbers: Krippendorff's alpha (interval), exact-match rate and mean absolute difference
  over pairs; an empty number is missing, not zero, and is counted;
- spans: pairwise exact-match and overlap F1, per label and micro/macro overall, a
  chance-corrected alpha over tokens (or characters, without the texts) and the label
  confusion between annotators; with span attributes, agreement on each attribute over the
  spans two or more annotators marked identically (as for an article-level field);
- events (pairings in ``events``): trigger F1 (events paired one to one by trigger overlap),
  event F1 (paired and of the same type), argument F1 overall and per role (within paired
  events: same role, overlapping span; and exact), and agreement on each event attribute
  over the events two or more annotators marked, as for an article-level field;
- relations: exact and overlap F1 per relation label and micro/macro overall;
- per annotator: tasks, cancellations, edits by others, median lead time (a NaN or infinite
  lead time is left out of it and counted in ``lead_times_not_finite``), agreement with the
  others and with the gold result;
- per pair of annotators (``pairs``), on the articles both labelled: observed agreement and
  Cohen's kappa (single choices), mean Jaccard (multiple choices), exact-match rate and mean
  absolute difference (numbers), exact and overlap F1 (spans, relations), trigger, event and
  argument F1 (events).

A statistic that does not exist on the data (kappa when one category was used, alpha with
nothing to pair) is ``None`` with the reason in ``undefined``, never 0 or NaN.

Krippendorff's alpha is computed here from per-unit sums (``_alpha_from_sums``), which also
makes each bootstrap resample a matrix product. The ``krippendorff`` package is the
reference the tests hold it to (1e-9), not a runtime dependency: it is GPL-3.0 licensed and
the toolkit is Apache-2.0. Cohen's and Fleiss' kappa are a few lines each, tested against scikit-learn
and statsmodels. Confidence intervals are percentile bootstraps over articles: each
statistic is a function of per-article sums (for span F1, per label too: 2 x matched spans
and spans marked, summed over the pairs on the article), so one resample costs a matrix
product. The pair figures resample the articles the pair shares. Figures over units inside
articles (an event's or a span's attributes) sum their terms per article first, so their
intervals resample articles too.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field
from functools import partial
from itertools import combinations
from typing import Any

import numpy as np

from ..errors import ToolkitError
from ..scheme import Attribute, ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField, TextField
from .events import cluster_events, compare_events, compare_relations, exact_span_units

__all__ = [
    "UndefinedMetric",
    "compute_agreement",
    "metric",
    "cohen_kappa",
    "fleiss_kappa",
    "observed_agreement",
    "krippendorff_alpha",
    "SpanComparison",
    "compare_spans",
]

CONFIDENCE = 0.95
OUTSIDE = "O"  # the token / character label of "no span here"
_TOKEN = re.compile(r"\S+")


class UndefinedMetric(ToolkitError, ValueError):
    """A statistic has no value on these data; the message says why."""


def metric(value: float | None, n: int, *, ci: Sequence[float] | None = None,
           undefined: str | None = None, **extra: Any) -> dict[str, Any]:
    """One metric entry: ``{"value", "n" (units), "ci", "undefined"}`` plus any ``extra`` keys."""
    if value is not None:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"metric value must be finite, got {value}")
    return {"value": value, "n": int(n), "ci": [float(x) for x in ci] if ci is not None else None,
            "undefined": undefined, **extra}


def _entry(compute: Callable[[], float], n: int, **extra: Any) -> dict[str, Any]:
    try:
        return metric(compute(), n, **extra)
    except UndefinedMetric as exc:
        return metric(None, n, undefined=exc.message, **extra)


# ------------------------------------------------------------------------------ formulas


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two annotators' labels on the same units (``a[i]``, ``b[i]``)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs two equally long label lists, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        raise UndefinedMetric("the two annotators share no labelled unit")
    agree = sum(x == y for x, y in zip(a, b))
    count_a, count_b = Counter(a), Counter(b)
    chance = sum(count_a[c] * count_b[c] for c in count_a)  # n^2 times the chance agreement
    if chance == n * n:
        raise UndefinedMetric("only one category was used, so chance agreement is 1 and kappa is undefined")
    return (n * agree - chance) / (n * n - chance)


def fleiss_kappa(table: Any) -> float:
    """Fleiss' kappa of a units x categories table of counts, every row summing to the same m >= 2."""
    table = np.asarray(table, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise UndefinedMetric("no unit to compare")
    raters = table.sum(axis=1)
    m = raters[0]
    if not np.all(raters == m):
        raise ValueError("fleiss_kappa needs the same number of ratings on every unit")
    if m < 2:
        raise UndefinedMetric("Fleiss' kappa needs at least two ratings per unit")
    if np.count_nonzero(table.sum(axis=0)) < 2:
        raise UndefinedMetric("only one category was used, so chance agreement is 1 and kappa is undefined")
    p_category = table.sum(axis=0) / table.sum()
    p_unit = ((table * table).sum(axis=1) - m) / (m * (m - 1))
    p_chance = float((p_category * p_category).sum())
    return (float(p_unit.mean()) - p_chance) / (1 - p_chance)


def observed_agreement(units: Iterable[Iterable[Hashable | None]]) -> float:
    """Mean over units (with >= 2 values) of the share of annotator pairs that agree.

    Each unit is the values the annotators gave; ``None`` (not given) is left out. With two
    annotators this is the share of units they agree on.
    """
    shares = [_pair_agreement(Counter(v for v in values if v is not None)) for values in units]
    shares = [s for s in shares if s is not None]
    if not shares:
        raise UndefinedMetric("no unit has values from two or more annotators, so nothing can be compared")
    return sum(shares) / len(shares)


def _pair_agreement(counts: Counter) -> float | None:
    m = sum(counts.values())
    if m < 2:
        return None
    return sum(c * (c - 1) for c in counts.values()) / (m * (m - 1))


def krippendorff_alpha(reliability_data: Any, level: str = "nominal") -> float:
    """Krippendorff's alpha of an annotators x units matrix (``np.nan`` = missing).

    ``level`` is "nominal" or "interval". Raises ``UndefinedMetric`` when no unit has two
    values or every paired value is the same.
    """
    data = np.asarray(reliability_data, dtype=float)
    present = ~np.isnan(data)
    domain = np.unique(data[present])
    counts = np.zeros((data.shape[1], len(domain)), dtype=np.int64)
    rows, cols = np.nonzero(present)
    np.add.at(counts, (cols, np.searchsorted(domain, data[rows, cols])), 1)
    return _alpha_point(counts, domain, level, names=[_fmt(v) for v in domain])


def _fmt(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _alpha_point(counts: np.ndarray, domain: np.ndarray, level: str, names: Sequence[str]) -> float:
    """Alpha from a units x values count matrix."""
    pairable = counts.sum(axis=1) >= 2
    if not pairable.any():
        raise UndefinedMetric("no unit has values from two or more annotators, so nothing can be compared")
    counts = counts[pairable]
    used = counts.sum(axis=0) > 0
    if used.sum() < 2:
        only = names[int(np.argmax(used))]
        raise UndefinedMetric(f"every value compared is {only!r}, so no disagreement is expected "
                              "by chance and alpha is undefined")
    counts, domain = counts[:, used], np.asarray(domain)[used]
    return float(_alpha_from_sums(level, _alpha_terms(level, counts, domain).sum(axis=0, keepdims=True))[0])


def _alpha_terms(level: str, counts: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Per-unit additive terms from whose (weighted) sums alpha follows; see ``_alpha_from_sums``.

    alpha = 1 - (n - 1) * Do / De with n the number of pairable values, Do the sum over units
    of the within-unit disagreement of all ordered pairs divided by (m_u - 1), and De the
    disagreement of all ordered pairs of pairable values. Nominal: De = n^2 - sum_v n_v^2,
    terms [Do_u, m_u, n_u1..n_uV]. Interval (squared difference): De = 2 (n S2 - S1^2),
    terms [Do_u, m_u, S1_u, S2_u].
    """
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    keep = m >= 2
    denom = np.where(keep, m - 1, 1.0)
    if level == "nominal":
        within = (m * m - (counts * counts).sum(axis=1)) / denom
        terms = np.column_stack([within, m, counts])
    elif level == "interval":
        x = np.asarray(domain, dtype=float)
        x = x - (counts[keep].sum(axis=0) @ x) / max(m[keep].sum(), 1)  # centre: fewer rounding errors
        safe_m = np.where(keep, m, 1.0)
        unit_mean = (counts @ x) / safe_m
        spread = (counts * (x[None, :] - unit_mean[:, None]) ** 2).sum(axis=1)
        within = 2 * m * spread / denom
        terms = np.column_stack([within, m, counts @ x, counts @ (x * x)])
    else:
        raise ValueError(f"level must be 'nominal' or 'interval', not {level!r}")
    terms[~keep] = 0.0
    return terms


def _alpha_from_sums(level: str, sums: np.ndarray) -> np.ndarray:
    """Alpha for each row of summed ``_alpha_terms``; NaN where alpha is undefined."""
    within, n = sums[:, 0], sums[:, 1]
    if level == "nominal":
        expected = n * n - (sums[:, 2:] ** 2).sum(axis=1)
        defined = (n >= 2) & (expected > 0.5)  # counts are whole numbers
    else:
        s1, s2 = sums[:, 2], sums[:, 3]
        expected = 2 * (n * s2 - s1 * s1)
        defined = (n >= 2) & (expected > 1e-12 * 2 * n * s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, 1 - (n - 1) * within / np.where(defined, expected, 1.0), np.nan)


def _ratio(sums: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums[:, 1] > 0, sums[:, 0] / np.where(sums[:, 1] > 0, sums[:, 1], 1), np.nan)


def _macro_f1(sums: np.ndarray) -> np.ndarray:
    """Mean per-label F1 from rows of [2 tp per label..., spans per label...]; labels with no span skipped."""
    tp, count = np.split(sums, 2, axis=1)
    marked = count > 0
    f1 = np.where(marked, tp / np.where(marked, count, 1), 0.0)
    labels = marked.sum(axis=1)
    return np.where(labels > 0, f1.sum(axis=1) / np.maximum(labels, 1), np.nan)


def _kappa_from_sums(sums: np.ndarray) -> np.ndarray:
    """Cohen's kappa from rows of [agreeing units, units, counts of A per category..., of B...]."""
    agree, n = sums[:, 0], sums[:, 1]
    a, b = np.split(sums[:, 2:], 2, axis=1)
    chance = (a * b).sum(axis=1)  # n^2 times the chance agreement
    defined = (n > 0) & (n * n - chance > 0.5)  # counts are whole numbers
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, (n * agree - chance) / np.where(defined, n * n - chance, 1.0), np.nan)


# --------------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class SpanComparison:
    """Two annotators' spans on one article, compared. Counters are keyed by label."""

    count_a: Counter
    count_b: Counter
    exact: Counter  # same start, end and label
    overlap: Counter  # same label, overlapping; one-to-one, largest overlap first
    confusion: Counter  # (label_a, label_b) of paired spans; OUTSIDE for an unpaired one

    def f1(self, kind: str, label: str | None = None) -> float:
        matched = getattr(self, kind)
        tp = matched[label] if label else sum(matched.values())
        total = (self.count_a[label] + self.count_b[label]) if label else \
            sum(self.count_a.values()) + sum(self.count_b.values())
        if total == 0:
            raise UndefinedMetric("neither annotator marked a span")
        return 2 * tp / total


def _as_span(span: Any) -> tuple[int, int, str]:
    if isinstance(span, Mapping):
        return int(span["start"]), int(span["end"]), str(span["label"])
    start, end, label = span[:3]
    return int(start), int(end), str(label)


def compare_spans(a: Iterable[Any], b: Iterable[Any]) -> SpanComparison:
    """Compare two annotators' spans (dicts with start/end/label, or (start, end, label) tuples).

    Exact match: same start, end and label. Overlap match: same label and overlapping ranges,
    paired one-to-one, largest overlap first (exact pairs first on ties), so overlap matches
    are never fewer than exact ones. Confusion pairs spans first by identical offsets (any
    label), then the rest by overlap with the same label; what is left is paired with "O".
    """
    a = sorted(_as_span(s) for s in a)
    b = sorted(_as_span(s) for s in b)
    exact = Counter(s[2] for s in (Counter(a) & Counter(b)).elements())
    overlap = Counter(a[i][2] for i, _ in _match_overlaps(a, b))

    confusion: Counter = Counter()
    by_offsets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for j, (start, end, _) in enumerate(b):
        by_offsets[(start, end)].append(j)
    left_a, used_b = [], set()
    for i, (start, end, label) in enumerate(a):
        free = [j for j in by_offsets.get((start, end), []) if j not in used_b]
        if free:
            j = next((j for j in free if b[j][2] == label), free[0])
            used_b.add(j)
            confusion[(label, b[j][2])] += 1
        else:
            left_a.append(a[i])
    left_b = [s for j, s in enumerate(b) if j not in used_b]
    paired_a, paired_b = set(), set()
    for i, j in _match_overlaps(left_a, left_b):
        paired_a.add(i)
        paired_b.add(j)
        confusion[(left_a[i][2], left_b[j][2])] += 1
    confusion.update((s[2], OUTSIDE) for i, s in enumerate(left_a) if i not in paired_a)
    confusion.update((OUTSIDE, s[2]) for j, s in enumerate(left_b) if j not in paired_b)
    return SpanComparison(Counter(s[2] for s in a), Counter(s[2] for s in b), exact, overlap, confusion)


def _match_overlaps(a: Sequence[tuple[int, int, str]], b: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    candidates = []
    for i, (sa, ea, la) in enumerate(a):
        for j, (sb, eb, lb) in enumerate(b):
            size = min(ea, eb) - max(sa, sb)
            if la == lb and size > 0:
                candidates.append((-size, (sa, ea) != (sb, eb), i, j))
    pairs, used_a, used_b = [], set(), set()
    for _, _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def _label_units(spans_by_annotator: Sequence[list[tuple[int, int, str]]], codes: Mapping[str, int],
                 text: str | None) -> np.ndarray:
    """Units x labels counts for the token alpha of one article (column 0 = OUTSIDE).

    With the text, the units are its whitespace tokens, each labelled with the label covering
    most of its characters (OUTSIDE when none does). Without it, the units are the character
    positions covered by any annotator's span.
    """
    v = len(codes) + 1  # codes number the labels from 1; 0 is OUTSIDE
    length = len(text) if text is not None else max((e for spans in spans_by_annotator for _, e, _ in spans),
                                                     default=0)
    char_labels = np.zeros((len(spans_by_annotator), length), dtype=np.int64)
    for k, spans in enumerate(spans_by_annotator):
        for start, end, label in spans:
            char_labels[k, max(start, 0):min(end, length)] = codes[label]
    if text is not None:
        bounds = np.array([m.span() for m in _TOKEN.finditer(text)], dtype=np.int64).reshape(-1, 2)
        unit_labels = np.zeros((len(spans_by_annotator), len(bounds)), dtype=np.int64)
        for k in range(len(spans_by_annotator)):
            covered = np.zeros((length + 1, v), dtype=np.int64)
            covered[1:] = np.cumsum(np.eye(v, dtype=np.int64)[char_labels[k]], axis=0)
            per_label = (covered[bounds[:, 1]] - covered[bounds[:, 0]])[:, 1:]
            unit_labels[k] = np.where(per_label.sum(axis=1) > 0, per_label.argmax(axis=1) + 1, 0)
    else:
        unit_labels = char_labels[:, (char_labels > 0).any(axis=0)]
    counts = np.zeros((unit_labels.shape[1], v), dtype=np.int64)
    for row in unit_labels:
        counts[np.arange(len(row)), row] += 1
    return counts


# ----------------------------------------------------------------------------- collecting


def _who(record: Mapping[str, Any]) -> str:
    return str(record.get("annotator_email") or record.get("annotator_id"))


def _editor(record: Mapping[str, Any]) -> str:
    editor = record.get("updated_by_email") or record.get("updated_by_id")
    return "unknown account" if editor is None else str(editor)


def _edit_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """An answer left out because an account other than its author's saved it last (``edits``)."""
    return {"task_id": record.get("task_id"), "article_id": record.get("article_id"),
            "annotation_id": record.get("annotation_id"), "annotator": _who(record), "editor": _editor(record),
            "updated_at": record.get("updated_at")}


@dataclass
class _Data:
    votes: dict[str, dict[str, dict[str, Any]]]  # article -> annotator -> latest record
    used: int = 0
    cancelled: int = 0
    ground_truth: int = 0
    edited: int = 0  # votes left out: last saved by another account
    repeats: int = 0
    people: dict[str, dict[str, Any]] = dataclass_field(default_factory=dict)
    edits: list[dict[str, Any]] = dataclass_field(default_factory=list)
    edits_tracked: bool = False  # whether any record says who saved it last

    def __post_init__(self) -> None:
        self.articles = sorted(self.votes)
        self.index = {a: i for i, a in enumerate(self.articles)}


def _collect(records: Iterable[Mapping[str, Any]]) -> _Data:
    votes: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    people: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"tasks_done": 0, "cancelled": 0, "ground_truth": 0, "edited_by_others": 0, "lead_times": [],
                 "lead_times_not_finite": 0})
    counts = Counter()
    edits = []
    tracked = False
    for record in records:
        who = _who(record)
        # Files pulled before Label Studio's updated_by was read have no edited_by_other (read as
        # False) and no updated_by: whether they hold cross-edits is not known.
        tracked = tracked or record.get("updated_by_id") is not None or record.get("updated_by_email") is not None
        if record.get("was_cancelled"):
            counts["cancelled"] += 1
            people[who]["cancelled"] += 1
            continue
        if record.get("ground_truth"):
            counts["ground_truth"] += 1
            people[who]["ground_truth"] += 1
            continue
        if record.get("edited_by_other"):
            # Another account's answer saved under the author's name: neither the author's
            # independent vote nor the editor's (who is not the author of the rest of it).
            counts["edited"] += 1
            people[who]["edited_by_others"] += 1
            edits.append(_edit_entry(record))
            continue
        counts["used"] += 1
        person = people[who]
        person["tasks_done"] += 1
        if record.get("lead_time") is not None:
            lead_time = float(record["lead_time"])
            if math.isfinite(lead_time):
                person["lead_times"].append(lead_time)
            else:  # a NaN or infinite time says nothing about how long it took: left out, counted
                person["lead_times_not_finite"] += 1
        earlier = votes[record["article_id"]].get(who)
        if earlier is not None:
            counts["repeats"] += 1
            if _recency(earlier) > _recency(record):
                continue
        votes[record["article_id"]][who] = dict(record)
    edits.sort(key=lambda e: (str(e["article_id"]), int(e["annotation_id"] or 0)))
    return _Data(dict(votes), used=counts["used"], cancelled=counts["cancelled"],
                 ground_truth=counts["ground_truth"], edited=counts["edited"], repeats=counts["repeats"],
                 people=dict(people), edits=edits, edits_tracked=tracked)


def _recency(record: Mapping[str, Any]) -> tuple[str, int]:
    return str(record.get("updated_at") or record.get("created_at") or ""), int(record.get("annotation_id") or 0)


class _Tally:
    """Sums (numerator, denominator, units) per annotator, field and metric."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[str, dict[str, list[Any]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, set()])))

    def add(self, who: str, field: str, name: str, article: str, num: float, den: float) -> None:
        cell = self.sums[who][field][name]
        cell[0] += num
        cell[1] += den
        cell[2].add(article)

    def entries(self, who: str, missing: str) -> dict[str, dict[str, dict[str, Any]]]:
        # Only span F1 can have nothing to divide: both sides marked no span.
        return {f: {name: metric(num / den if den else None, len(units), undefined=None if den else missing)
                    for name, (num, den, units) in by_name.items()}
                for f, by_name in self.sums.get(who, {}).items()}


class _Bootstrap:
    """Percentile intervals for statistics that are functions of per-article sums."""

    def __init__(self, n_articles: int) -> None:
        self.n = n_articles
        self.stats: list[tuple[dict[str, Any], np.ndarray, Callable[[np.ndarray], np.ndarray]]] = []

    def add(self, entry: dict[str, Any], terms: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray]) -> None:
        if entry["value"] is not None:
            self.stats.append((entry, np.asarray(terms, dtype=float), statistic))

    def run(self, resamples: int, seed: int) -> None:
        if resamples <= 0 or self.n == 0 or not self.stats:
            return
        rng = np.random.Generator(np.random.PCG64(seed))
        values: list[list[np.ndarray]] = [[] for _ in self.stats]
        block = max(1, min(resamples, 2_000_000 // self.n))
        for done in range(0, resamples, block):
            b = min(block, resamples - done)
            draws = rng.integers(0, self.n, size=(b, self.n))
            offsets = (draws + self.n * np.arange(b)[:, None]).ravel()
            weights = np.bincount(offsets, minlength=b * self.n).reshape(b, self.n).astype(float)
            for k, (_, terms, statistic) in enumerate(self.stats):
                values[k].append(statistic(weights @ terms))
        tail = (1 - CONFIDENCE) / 2 * 100
        for (entry, _, _), chunks in zip(self.stats, values):
            got = np.concatenate(chunks)
            got = got[np.isfinite(got)]
            entry["resamples"] = int(got.size)
            if got.size:
                entry["ci"] = [float(x) for x in np.percentile(got, [tail, 100 - tail])]


# --------------------------------------------------------------------------------- fields


def _pairs(given: Mapping[str, Any]) -> Iterable[tuple[tuple[str, Any], tuple[str, Any]]]:
    return combinations(sorted(given.items()), 2)


def _choice_field(f: ChoiceField, data: _Data, boot: _Bootstrap, tally: _Tally) -> dict[str, Any]:
    given = {a: {w: r[f.name] for w, r in by.items() if r.get(f.name) is not None} for a, by in data.votes.items()}
    ratings = sum(len(g) for g in given.values())
    out: dict[str, Any] = {"kind": "choice", "multiple": f.multiple, "ratings": ratings,
                           "not_given": sum(len(by) for by in data.votes.values()) - ratings}
    if f.multiple:
        return out | _multiple_choice(f, given, data, boot, tally)
    seen = Counter(v for g in given.values() for v in g.values())
    domain = list(f.values) + sorted(set(seen) - set(f.values), key=str)
    code = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(data.articles), len(domain)), dtype=np.int64)
    for a, g in given.items():
        for v in g.values():
            counts[data.index[a], code[v]] += 1
    units = int((counts.sum(axis=1) >= 2).sum())
    confusion: Counter = Counter()
    for a, g in given.items():
        for (x, vx), (y, vy) in _pairs(g):
            tally.add(x, f.name, "agreement_rate", a, vx == vy, 1)
            tally.add(y, f.name, "agreement_rate", a, vx == vy, 1)
            confusion[tuple(sorted((vx, vy), key=code.__getitem__))] += 1
    out["units"] = units
    out["values"] = {v: seen[v] for v in domain if seen[v]}
    # Each pair of annotators on one article once, unordered, labels in the scheme's order.
    out["confusion"] = [{"labels": list(k), "count": c}
                        for k, c in sorted(confusion.items(), key=lambda kc: (-kc[1], [code[v] for v in kc[0]]))]
    out["observed_agreement"] = _entry(lambda: observed_agreement(g.values() for g in given.values()), units)
    out["cohen_kappa"] = _cohen(given)
    out["fleiss_kappa"] = _fleiss(counts)
    out["alpha_nominal"] = _entry(lambda: _alpha_point(counts, np.arange(len(domain)), "nominal", domain), units)
    boot.add(out["alpha_nominal"], _alpha_terms("nominal", counts, np.arange(len(domain))),
             lambda s: _alpha_from_sums("nominal", s))
    return out


def _cohen(given: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    pairs: dict[tuple[str, str], tuple[list, list, list]] = defaultdict(lambda: ([], [], []))
    for a, g in given.items():
        for (x, vx), (y, vy) in _pairs(g):
            pairs[(x, y)][0].append(vx)
            pairs[(x, y)][1].append(vy)
            pairs[(x, y)][2].append(a)
    raters = {w for g in given.values() for w in g}
    if not pairs:
        return metric(None, 0, undefined="no article has this field from two annotators, so there is no pair "
                                         "to compute Cohen's kappa on")
    if len(raters) == 2:
        ((x, y), (va, vb, _)), = pairs.items()
        return _entry(lambda: cohen_kappa(va, vb), len(va), annotators=[x, y])
    kappas, units, skipped = [], set(), 0
    for va, vb, arts in pairs.values():
        try:
            kappas.append(cohen_kappa(va, vb))
            units.update(arts)
        except UndefinedMetric:
            skipped += 1
    note = (f"{len(raters)} annotators: the mean of Cohen's kappa over the {len(kappas)} annotator pair(s) "
            f"that share articles" + (f"; {skipped} pair(s) where kappa is undefined left out" if skipped else ""))
    if not kappas:
        return metric(None, 0, undefined="kappa is undefined for every annotator pair (each used one "
                                         "category only)", pairs=0, note=note)
    return metric(sum(kappas) / len(kappas), len(units), pairs=len(kappas), note=note)


def _fleiss(counts: np.ndarray) -> dict[str, Any]:
    m = counts.sum(axis=1)
    rated = m[m >= 2]
    if rated.size == 0:
        return metric(None, 0, undefined="no article has this field from two or more annotators")
    sizes, freq = np.unique(rated, return_counts=True)
    modal = int(sizes[freq == freq.max()].max())
    table = counts[m == modal]
    left_out = int(rated.size - table.shape[0])
    note = (f"Fleiss' kappa needs the same number of annotators on every article: the {table.shape[0]} "
            f"article(s) with {modal} were used, {left_out} with another number left out") if left_out else None
    return _entry(lambda: fleiss_kappa(table), table.shape[0], raters=modal, left_out=left_out, note=note)


def _multiple_choice(f: ChoiceField, given: Mapping[str, Mapping[str, Any]], data: _Data,
                     boot: _Bootstrap, tally: _Tally) -> dict[str, Any]:
    chosen = {a: {w: set(v) for w, v in g.items()} for a, g in given.items()}
    seen = Counter(v for g in chosen.values() for s in g.values() for v in s)
    domain = list(f.values) + sorted(set(seen) - set(f.values), key=str)
    jaccard = np.zeros((len(data.articles), 2))
    for a, g in chosen.items():
        scores = []
        for (x, sx), (y, sy) in _pairs(g):
            score = len(sx & sy) / len(sx | sy) if sx | sy else 1.0
            scores.append(score)
            tally.add(x, f.name, "mean_jaccard", a, score, 1)
            tally.add(y, f.name, "mean_jaccard", a, score, 1)
        if scores:
            jaccard[data.index[a]] = [sum(scores) / len(scores), 1]
    units = int(jaccard[:, 1].sum())
    per_choice = {}
    for value in domain:
        counts = np.zeros((len(data.articles), 2), dtype=np.int64)
        for a, g in chosen.items():
            for s in g.values():
                counts[data.index[a], int(value in s)] += 1
        per_choice[value] = {"chosen": seen[value], "alpha_nominal": _entry(
            partial(_alpha_point, counts, np.arange(2), "nominal", ["not chosen", "chosen"]), units)}
    out = {"units": units, "values": {v: seen[v] for v in domain if seen[v]},
           "mean_jaccard": metric(float(_ratio(jaccard.sum(axis=0, keepdims=True))[0]), units) if units else
           metric(None, 0, undefined="no article has this field from two or more annotators"),
           "per_choice": per_choice,
           "note": "an empty selection is an answer (nothing chosen); two empty selections agree fully"}
    boot.add(out["mean_jaccard"], jaccard, _ratio)
    return out


def _number_field(f: NumberField, data: _Data, boot: _Bootstrap, tally: _Tally) -> dict[str, Any]:
    given = {a: {w: float(r[f.name]) for w, r in by.items() if r.get(f.name) is not None}
             for a, by in data.votes.items()}
    ratings = sum(len(g) for g in given.values())
    domain = np.unique([v for g in given.values() for v in g.values()]).astype(float)
    counts = np.zeros((len(data.articles), len(domain)), dtype=np.int64)
    pair_terms = np.zeros((len(data.articles), 3))  # equal pairs, pairs, sum of |difference|
    one_empty = 0
    for a, by in data.votes.items():
        g, i = given[a], data.index[a]
        for v in g.values():
            counts[i, np.searchsorted(domain, v)] += 1
        for (x, vx), (y, vy) in _pairs(g):
            pair_terms[i] += [vx == vy, 1, abs(vx - vy)]
            tally.add(x, f.name, "exact_match", a, vx == vy, 1)
            tally.add(y, f.name, "exact_match", a, vx == vy, 1)
        k = len(g)
        one_empty += k * (len(by) - k)
    units = int((counts.sum(axis=1) >= 2).sum())
    pairs = int(pair_terms[:, 1].sum())
    no_pairs = "no article has this number from two annotators"
    out: dict[str, Any] = {
        "kind": "number", "ratings": ratings,
        "not_given": sum(len(by) for by in data.votes.values()) - ratings,
        "pairs_one_empty": one_empty, "units": units,
        "alpha_interval": _entry(lambda: _alpha_point(counts, domain, "interval", [_fmt(v) for v in domain]), units),
        "exact_match": metric(pair_terms[:, 0].sum() / pairs, units, pairs=pairs) if pairs else
        metric(None, 0, undefined=no_pairs, pairs=0),
        "mean_abs_diff": metric(pair_terms[:, 2].sum() / pairs, units, pairs=pairs) if pairs else
        metric(None, 0, undefined=no_pairs, pairs=0),
        "note": "an empty number is missing, not zero: pairs compare numbers both annotators gave; "
                "pairs_one_empty counts pairs where only one of them gave a number",
    }
    boot.add(out["alpha_interval"], _alpha_terms("interval", counts, domain), lambda s: _alpha_from_sums("interval", s))
    return out


def _span_field(f: SpanField, data: _Data, boot: _Bootstrap, tally: _Tally,
                texts: Mapping[str, str] | None) -> dict[str, Any]:
    spans = {a: {w: [_as_span(s) for s in (r.get(f.name) or [])] for w, r in by.items()}
             for a, by in data.votes.items()}
    labels = list(f.values) + sorted({s[2] for by in spans.values() for ss in by.values() for s in ss} - set(f.values))
    code = {lab: k for k, lab in enumerate(labels)}
    totals = {k: Counter() for k in ("exact", "overlap", "count")}
    # Per article and label: 2 * exact tp, 2 * overlap tp, spans of both; the bootstrap
    # resamples these rows, so each label's F1 gets an interval over articles.
    by_label = {k: np.zeros((len(data.articles), len(labels))) for k in ("exact", "overlap", "count")}
    label_units: Counter = Counter()
    confusion: Counter = Counter()
    micro = np.zeros((len(data.articles), 3))  # 2 * exact tp, 2 * overlap tp, spans of both
    n_pairs = 0
    for a, by in spans.items():
        labels_here = set()
        for (x, sx), (y, sy) in _pairs(by):
            cmp = compare_spans(sx, sy)
            n_pairs += 1
            totals["exact"].update(cmp.exact)
            totals["overlap"].update(cmp.overlap)
            totals["count"].update(cmp.count_a + cmp.count_b)
            labels_here.update(cmp.count_a + cmp.count_b)
            for kind, counter, weight in (("exact", cmp.exact, 2), ("overlap", cmp.overlap, 2),
                                          ("count", cmp.count_a + cmp.count_b, 1)):
                for lab, c in counter.items():
                    by_label[kind][data.index[a], code[lab]] += weight * c
            confusion.update(tuple(sorted(p, key=lambda lab: (lab != OUTSIDE, lab))) for p in cmp.confusion.elements())
            tp_e, tp_o, total = sum(cmp.exact.values()), sum(cmp.overlap.values()), \
                sum(cmp.count_a.values()) + sum(cmp.count_b.values())
            micro[data.index[a]] += [2 * tp_e, 2 * tp_o, total]
            for who in (x, y):
                tally.add(who, f.name, "overlap_f1", a, 2 * tp_o, total)
                tally.add(who, f.name, "exact_f1", a, 2 * tp_e, total)
        label_units.update(labels_here)
    units = sum(1 for by in spans.values() if len(by) >= 2)
    none = "no spans were marked on any article that two annotators labelled"
    out: dict[str, Any] = {"kind": "spans", "units": units, "pairs": n_pairs, "exact": {}, "overlap": {}}
    per_label = {}
    for lab in labels:
        if totals["count"][lab]:
            per_label[lab] = {"spans": totals["count"][lab]}
            for kind in ("exact", "overlap"):
                entry = metric(2 * totals[kind][lab] / totals["count"][lab], label_units[lab])
                boot.add(entry, np.column_stack([by_label[kind][:, code[lab]], by_label["count"][:, code[lab]]]),
                         _ratio)
                per_label[lab][f"{kind}_f1"] = entry
    total = micro[:, 2].sum()
    for kind, col in (("exact", 0), ("overlap", 1)):
        out[kind]["micro_f1"] = metric(micro[:, col].sum() / total, units) if total else \
            metric(None, units, undefined=none)
        f1s = [per_label[lab][f"{kind}_f1"]["value"] for lab in per_label]
        out[kind]["macro_f1"] = metric(sum(f1s) / len(f1s), units, labels=len(f1s)) if f1s else \
            metric(None, units, undefined=none)
        boot.add(out[kind]["micro_f1"], micro[:, [col, 2]], _ratio)
        boot.add(out[kind]["macro_f1"], np.hstack([by_label[kind], by_label["count"]]), _macro_f1)
    out["per_label"] = per_label
    out["token_alpha"] = _token_alpha(spans, labels, data, boot, texts)
    out["confusion"] = [{"labels": list(k), "count": c}
                        for k, c in sorted(confusion.items(), key=lambda kc: (-kc[1], kc[0]))]
    out["note"] = ("pairs of annotators have no order, so confusion counts unordered label pairs; "
                   f"{OUTSIDE!r} means one annotator marked a span the other did not pair with any of theirs")
    return out


def _token_alpha(spans: Mapping[str, Mapping[str, list[tuple[int, int, str]]]], labels: Sequence[str],
                 data: _Data, boot: _Bootstrap, texts: Mapping[str, str] | None) -> dict[str, Any]:
    codes = {lab: k + 1 for k, lab in enumerate(labels)}
    domain = [OUTSIDE, *labels]
    blocks, terms = [], np.zeros((len(data.articles), 2 + len(domain)))
    with_text = without_text = 0
    for a, by in spans.items():
        if len(by) < 2:
            continue
        text = texts.get(a) if texts is not None else None
        with_text += text is not None
        without_text += text is None
        counts = _label_units([by[w] for w in sorted(by)], codes, text)
        blocks.append(counts)
        terms[data.index[a]] = _alpha_terms("nominal", counts, np.arange(len(domain))).sum(axis=0)
    if with_text and not without_text:
        basis, note = "tokens", "units are the whitespace tokens of the articles"
    else:
        basis = "characters" if not with_text else "mixed"
        note = (f"units are the character positions covered by any annotator's span on {without_text} "
                "article(s) without text (text outside every span is left out, so agreement on unmarked text "
                "does not count)"
                + (f", and whitespace tokens on {with_text} article(s) with text" if with_text else ""))
    counts = np.concatenate(blocks) if blocks else np.zeros((0, len(domain)), dtype=np.int64)
    entry = _entry(lambda: _alpha_point(counts, np.arange(len(domain)), "nominal", domain),
                   with_text + without_text, units=int((counts.sum(axis=1) >= 2).sum()), basis=basis, note=note)
    boot.add(entry, terms, lambda s: _alpha_from_sums("nominal", s))
    return entry



# ---------------------------------------------------------- events, relations, span attributes


class _ByArticle:
    """The bootstrap seen from units inside articles (events, spans): each statistic's per-unit
    terms are summed per article before they reach ``boot``, so intervals still resample
    articles (every statistic here is a function of sums)."""

    def __init__(self, boot: _Bootstrap, article_of_unit: np.ndarray) -> None:
        self.boot, self.article_of_unit = boot, article_of_unit

    def add(self, entry: dict[str, Any], terms: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray]) -> None:
        terms = np.asarray(terms, dtype=float)
        per_article = np.zeros((self.boot.n, terms.shape[1]))
        np.add.at(per_article, self.article_of_unit, terms)
        self.boot.add(entry, per_article, statistic)


def _attribute_figures(attribute: Attribute, units: Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]],
                       data: _Data, boot: _Bootstrap) -> dict[str, Any]:
    """Agreement on one attribute over ``units`` ((article, unit id) -> annotator -> item), by
    the functions of the article-level fields: each unit plays the part of an article."""
    f = attribute.field
    if isinstance(f, TextField):
        return {"kind": "text", "note": "free text is not compared"}
    udata = _Data({unit: {w: {f.name: item.get(f.name)} for w, item in by.items()} for (_, unit), by in units.items()})
    article_of_unit = np.zeros(len(udata.articles), dtype=np.int64)
    for article, unit in units:
        article_of_unit[udata.index[unit]] = data.index[article]
    grouped = _ByArticle(boot, article_of_unit)
    if isinstance(f, ChoiceField):
        return _choice_field(f, udata, grouped, _Tally())  # type: ignore[arg-type]
    return _number_field(f, udata, grouped, _Tally())  # type: ignore[arg-type]


def _f1_entry(terms: np.ndarray, units: int, none: str, boot: _Bootstrap | _ByArticle, **extra: Any) -> dict[str, Any]:
    """F1 from rows of [2 x matched, marked by both]: summed over pairs and articles, as span F1."""
    total = terms[:, 1].sum()
    entry = metric(terms[:, 0].sum() / total, units, **extra) if total else metric(None, units, undefined=none)
    boot.add(entry, terms, _ratio)
    return entry


def _events_field(f: EventsField, data: _Data, boot: _Bootstrap, tally: _Tally) -> dict[str, Any]:
    events = {a: {w: list(r.get(f.name) or []) for w, r in by.items()} for a, by in data.votes.items()}
    seen = {x["role"] for by in events.values() for evs in by.values() for e in evs for x in e.get("arguments") or []}
    roles = list(f.role_values) + sorted(seen - set(f.role_values))
    code = {r: k for k, r in enumerate(roles)}
    # Per article: 2 x matched triggers, 2 x same type, events of both, 2 x argument overlap
    # matches, 2 x exact ones, arguments of both (in matched events); the same per role.
    micro = np.zeros((len(data.articles), 6))
    by_role = {k: np.zeros((len(data.articles), len(roles))) for k in ("overlap", "exact", "count")}
    role_units: Counter = Counter()
    n_pairs = marked = 0
    for a, by in events.items():
        i, roles_here = data.index[a], set()
        marked += sum(len(evs) for evs in by.values()) if len(by) >= 2 else 0
        for (x, ex), (y, ey) in _pairs(by):
            cmp = compare_events(ex, ey, f.type_attribute)
            n_pairs += 1
            micro[i] += [2 * len(cmp.matched), 2 * cmp.typed, cmp.total, 2 * sum(cmp.argument_overlap.values()),
                         2 * sum(cmp.argument_exact.values()), sum(cmp.argument_count.values())]
            for kind, counter, weight in (("overlap", cmp.argument_overlap, 2), ("exact", cmp.argument_exact, 2),
                                          ("count", cmp.argument_count, 1)):
                for role, c in counter.items():
                    by_role[kind][i, code[role]] += weight * c
            roles_here.update(cmp.argument_count)
            for who in (x, y):
                tally.add(who, f.name, "trigger_f1", a, 2 * len(cmp.matched), cmp.total)
                if f.type_attribute:
                    tally.add(who, f.name, "event_f1", a, 2 * cmp.typed, cmp.total)
        role_units.update(roles_here)
    units = sum(1 for by in events.values() if len(by) >= 2)
    no_events = "no events were marked on any article that two annotators labelled"
    no_args = "no arguments in the events two annotators both marked (matched by trigger)"
    type_name = f.type_attribute
    out: dict[str, Any] = {"kind": "events", "units": units, "pairs": n_pairs, "events": marked,
                           "type_attribute": type_name}
    out["trigger_f1"] = _f1_entry(micro[:, [0, 2]], units, no_events, boot)
    out["event_f1"] = _f1_entry(micro[:, [1, 2]], units, no_events, boot) if type_name else \
        metric(None, units, undefined="the events field has no type attribute")
    out["argument_f1"] = _f1_entry(micro[:, [3, 5]], units, no_args, boot)
    out["argument_exact_f1"] = _f1_entry(micro[:, [4, 5]], units, no_args, boot)
    per_role = {}
    for role in roles:
        k = code[role]
        if by_role["count"][:, k].sum():
            per_role[role] = {"arguments": int(by_role["count"][:, k].sum())}
            for kind in ("overlap", "exact"):
                per_role[role][f"{kind}_f1"] = _f1_entry(
                    np.column_stack([by_role[kind][:, k], by_role["count"][:, k]]), role_units[role], no_args, boot)
    out["per_role"] = per_role
    clusters: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for a, by in events.items():
        if len(by) >= 2:
            for k, cluster in enumerate(cluster_events(by)):
                if len(cluster) >= 2:
                    clusters[(a, f"{a}/{k:06d}")] = {w: by[w][idx] for w, idx in cluster.items()}
    out["matched_events"] = len(clusters)
    out["attributes"] = {attr.name: _attribute_figures(attr, clusters, data, boot) for attr in f.attributes}
    out["note"] = ("events are paired one to one by trigger overlap, largest overlap first; trigger F1 counts the "
                   "pairs, event F1 the pairs with the same type" + (f" ({type_name})" if type_name else "")
                   + "; argument F1 compares the arguments of paired events (same role, overlapping span), so an "
                   "unpaired event's arguments do not count; attributes are compared on the events two or more "
                   "annotators marked (clustered by trigger overlap, one event per annotator)")
    return out


def _relations_field(f: RelationsField, data: _Data, boot: _Bootstrap, tally: _Tally) -> dict[str, Any]:
    rels = {a: {w: list(r.get(f.name) or []) for w, r in by.items()} for a, by in data.votes.items()}
    labels = list(f.values) + sorted({x["label"] for by in rels.values() for rs in by.values() for x in rs}
                                     - set(f.values))
    code = {lab: k for k, lab in enumerate(labels)}
    by_label = {k: np.zeros((len(data.articles), len(labels))) for k in ("exact", "overlap", "count")}
    label_units: Counter = Counter()
    n_pairs = 0
    for a, by in rels.items():
        i, here = data.index[a], set()
        for (x, rx), (y, ry) in _pairs(by):
            cmp = compare_relations(rx, ry)
            n_pairs += 1
            count = cmp.count_a + cmp.count_b
            for kind, counter, weight in (("exact", cmp.exact, 2), ("overlap", cmp.overlap, 2), ("count", count, 1)):
                for lab, c in counter.items():
                    by_label[kind][i, code[lab]] += weight * c
            here.update(count)
            total = sum(count.values())
            for who in (x, y):
                tally.add(who, f.name, "overlap_f1", a, 2 * sum(cmp.overlap.values()), total)
                tally.add(who, f.name, "exact_f1", a, 2 * sum(cmp.exact.values()), total)
        label_units.update(here)
    units = sum(1 for by in rels.values() if len(by) >= 2)
    none = "no relations were marked on any article that two annotators labelled"
    out: dict[str, Any] = {"kind": "relations", "units": units, "pairs": n_pairs, "exact": {}, "overlap": {}}
    per_label = {}
    for lab in labels:
        k = code[lab]
        if by_label["count"][:, k].sum():
            per_label[lab] = {"relations": int(by_label["count"][:, k].sum())}
            for kind in ("exact", "overlap"):
                per_label[lab][f"{kind}_f1"] = _f1_entry(
                    np.column_stack([by_label[kind][:, k], by_label["count"][:, k]]), label_units[lab], none, boot)
    for kind in ("exact", "overlap"):
        out[kind]["micro_f1"] = _f1_entry(
            np.column_stack([by_label[kind].sum(axis=1), by_label["count"].sum(axis=1)]), units, none, boot)
        f1s = [per_label[lab][f"{kind}_f1"]["value"] for lab in per_label]
        out[kind]["macro_f1"] = metric(sum(f1s) / len(f1s), units, labels=len(f1s)) if f1s else \
            metric(None, units, undefined=none)
        boot.add(out[kind]["macro_f1"], np.hstack([by_label[kind], by_label["count"]]), _macro_f1)
    out["per_label"] = per_label
    out["note"] = ("exact: same relation label, head and tail offsets; overlap: same label, head overlapping head "
                   "and tail overlapping tail, paired one to one; the entity labels of the ends are not compared "
                   "(the span figures measure them)")
    return out


def _span_attributes(f: SpanField, data: _Data, boot: _Bootstrap) -> dict[str, Any]:
    """Agreement on the attributes of the spans two or more annotators marked identically."""
    units = {a: exact_span_units({w: r.get(f.name) or [] for w, r in by.items()})
             for a, by in data.votes.items() if len(by) >= 2}
    out: dict[str, Any] = {}
    for attr in f.attributes:
        asked = {(a, f"{a}/{s:09d}-{e:09d}/{lab}"): by for a, spans in units.items()
                 for (s, e, lab), by in spans.items() if not attr.labels or lab in attr.labels}
        out[attr.name] = _attribute_figures(attr, asked, data, boot) | {"spans": len(asked)}
    return out


# ------------------------------------------------------------------------ annotator pairs


def _pairwise(data: _Data, scheme: Scheme, resamples: int, seed: int) -> list[dict[str, Any]]:
    """Each pair of annotators against each other, field by field, on the articles both labelled.

    Intervals resample those shared articles (the pair's units), each pair with the same seed.
    """
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in data.articles:
        for x, y in combinations(sorted(data.votes[a]), 2):
            shared[(x, y)].append(a)
    out = []
    for (x, y), articles in sorted(shared.items()):
        boot = _Bootstrap(len(articles))
        fields: dict[str, Any] = {}
        for f in scheme.fields:
            answers = [(data.votes[a][x].get(f.name), data.votes[a][y].get(f.name)) for a in articles]
            if isinstance(f, SpanField):
                fields[f.name] = _pair_spans(answers, boot)
            elif isinstance(f, ChoiceField) and f.multiple:
                fields[f.name] = _pair_multiple(answers, boot)
            elif isinstance(f, ChoiceField):
                fields[f.name] = _pair_choice(f, answers, boot)
            elif isinstance(f, NumberField):
                fields[f.name] = _pair_number(answers, boot)
            elif isinstance(f, EventsField):
                fields[f.name] = _pair_events(f, answers, boot)
            elif isinstance(f, RelationsField):
                fields[f.name] = _pair_relations(answers, boot)
        boot.run(resamples, seed)
        out.append({"annotators": [x, y], "articles": len(articles), "fields": fields})
    return out


_NEVER_BOTH = "the two annotators never both answered this field on an article"


def _pair_choice(f: ChoiceField, answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    both = [(i, vx, vy) for i, (vx, vy) in enumerate(answers) if vx is not None and vy is not None]
    domain = list(f.values) + sorted({v for _, vx, vy in both for v in (vx, vy)} - set(f.values), key=str)
    code = {v: k for k, v in enumerate(domain)}
    terms = np.zeros((len(answers), 2 + 2 * len(domain)))  # agree, 1, one-hot of x, one-hot of y
    for i, vx, vy in both:
        terms[i, [0, 1]] = [vx == vy, 1]
        terms[i, 2 + code[vx]] += 1
        terms[i, 2 + len(domain) + code[vy]] += 1
    n = len(both)
    agreement = metric(terms[:, 0].sum() / n, n) if n else metric(None, 0, undefined=_NEVER_BOTH)
    kappa = _entry(lambda: cohen_kappa([vx for _, vx, _ in both], [vy for _, _, vy in both]), n)
    boot.add(agreement, terms[:, :2], _ratio)
    boot.add(kappa, terms, _kappa_from_sums)
    return {"units": n, "observed_agreement": agreement, "cohen_kappa": kappa}


def _pair_multiple(answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    terms = np.zeros((len(answers), 2))
    for i, (vx, vy) in enumerate(answers):
        if vx is not None and vy is not None:
            sx, sy = set(vx), set(vy)
            terms[i] = [len(sx & sy) / len(sx | sy) if sx | sy else 1.0, 1]
    n = int(terms[:, 1].sum())
    jaccard = metric(terms[:, 0].sum() / n, n) if n else metric(None, 0, undefined=_NEVER_BOTH)
    boot.add(jaccard, terms, _ratio)
    return {"units": n, "mean_jaccard": jaccard}


def _pair_number(answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    terms = np.zeros((len(answers), 3))  # equal, 1, |difference|
    one_empty = 0
    for i, (vx, vy) in enumerate(answers):
        if vx is not None and vy is not None:
            terms[i] = [float(vx) == float(vy), 1, abs(float(vx) - float(vy))]
        else:
            one_empty += (vx is None) != (vy is None)
    n = int(terms[:, 1].sum())
    if not n:
        return {"units": 0, "pairs_one_empty": one_empty, "exact_match": metric(None, 0, undefined=_NEVER_BOTH),
                "mean_abs_diff": metric(None, 0, undefined=_NEVER_BOTH)}
    exact, diff = metric(terms[:, 0].sum() / n, n), metric(terms[:, 2].sum() / n, n)
    boot.add(exact, terms[:, :2], _ratio)
    boot.add(diff, terms[:, [2, 1]], _ratio)
    return {"units": n, "pairs_one_empty": one_empty, "exact_match": exact, "mean_abs_diff": diff}


def _pair_spans(answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    terms = np.zeros((len(answers), 3))  # 2 * exact tp, 2 * overlap tp, spans of both
    for i, (vx, vy) in enumerate(answers):
        cmp = compare_spans(vx or [], vy or [])
        terms[i] = [2 * sum(cmp.exact.values()), 2 * sum(cmp.overlap.values()),
                    sum(cmp.count_a.values()) + sum(cmp.count_b.values())]
    out: dict[str, Any] = {"units": len(answers)}
    total = terms[:, 2].sum()
    for kind, col in (("exact", 0), ("overlap", 1)):
        entry = metric(terms[:, col].sum() / total, len(answers)) if total else \
            metric(None, len(answers), undefined="neither annotator marked a span on the articles both labelled")
        boot.add(entry, terms[:, [col, 2]], _ratio)
        out[f"{kind}_f1"] = entry
    return out


def _pair_events(f: EventsField, answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    terms = np.zeros((len(answers), 5))  # 2 x matched, 2 x same type, events; 2 x argument matches, arguments
    for i, (vx, vy) in enumerate(answers):
        cmp = compare_events(vx or [], vy or [], f.type_attribute)
        terms[i] = [2 * len(cmp.matched), 2 * cmp.typed, cmp.total, 2 * sum(cmp.argument_overlap.values()),
                    sum(cmp.argument_count.values())]
    n = len(answers)
    none = "neither annotator marked an event on the articles both labelled"
    return {"units": n, "trigger_f1": _f1_entry(terms[:, [0, 2]], n, none, boot),
            "event_f1": _f1_entry(terms[:, [1, 2]], n, none, boot) if f.type_attribute else
            metric(None, n, undefined="the events field has no type attribute"),
            "argument_f1": _f1_entry(terms[:, [3, 4]], n, "no arguments in the events both marked", boot)}


def _pair_relations(answers: list[tuple[Any, Any]], boot: _Bootstrap) -> dict[str, Any]:
    terms = np.zeros((len(answers), 3))  # 2 x exact matches, 2 x overlap matches, relations of both
    for i, (vx, vy) in enumerate(answers):
        cmp = compare_relations(vx or [], vy or [])
        terms[i] = [2 * sum(cmp.exact.values()), 2 * sum(cmp.overlap.values()),
                    sum(cmp.count_a.values()) + sum(cmp.count_b.values())]
    n = len(answers)
    none = "neither annotator marked a relation on the articles both labelled"
    return {"units": n, "exact_f1": _f1_entry(terms[:, [0, 2]], n, none, boot),
            "overlap_f1": _f1_entry(terms[:, [1, 2]], n, none, boot)}


# ------------------------------------------------------------------------------ the whole


def _gold_agreement(data: _Data, scheme: Scheme, gold: Mapping[str, Mapping[str, Any]]) -> _Tally:
    tally = _Tally()
    for a, by in data.votes.items():
        row = gold.get(a)
        if row is None or row.get("status") == "unresolved":
            continue
        for who, record in by.items():
            for f in scheme.fields:
                mine, theirs = record.get(f.name), row.get(f.name)
                if isinstance(f, SpanField):
                    cmp = compare_spans(mine or [], theirs or [])
                    total = sum(cmp.count_a.values()) + sum(cmp.count_b.values())
                    tally.add(who, f.name, "overlap_f1", a, 2 * sum(cmp.overlap.values()), total)
                    tally.add(who, f.name, "exact_f1", a, 2 * sum(cmp.exact.values()), total)
                elif isinstance(f, ChoiceField) and mine is not None and theirs is not None:
                    same = set(mine) == set(theirs) if f.multiple else mine == theirs
                    tally.add(who, f.name, "accuracy", a, same, 1)
                elif isinstance(f, NumberField) and mine is not None and theirs is not None:
                    tally.add(who, f.name, "exact_match", a, float(mine) == float(theirs), 1)
                elif isinstance(f, EventsField):
                    cmp = compare_events(mine or [], theirs or [], f.type_attribute)
                    tally.add(who, f.name, "trigger_f1", a, 2 * len(cmp.matched), cmp.total)
                    if f.type_attribute:
                        tally.add(who, f.name, "event_f1", a, 2 * cmp.typed, cmp.total)
                elif isinstance(f, RelationsField):
                    rel = compare_relations(mine or [], theirs or [])
                    total = sum(rel.count_a.values()) + sum(rel.count_b.values())
                    tally.add(who, f.name, "overlap_f1", a, 2 * sum(rel.overlap.values()), total)
                    tally.add(who, f.name, "exact_f1", a, 2 * sum(rel.exact.values()), total)
    return tally


def compute_agreement(records: Iterable[Mapping[str, Any]], scheme: Scheme, *,
                      gold: Mapping[str, Mapping[str, Any]] | None = None,
                      texts: Mapping[str, str] | None = None,
                      bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Agreement between annotators on validated annotation ``records``, for every scheme field.

    ``gold`` maps article_id to a gold record (same field keys; rows with status
    "unresolved" are skipped) for each annotator's agreement with the gold result.
    ``texts`` maps article_id to the article text, so the span alpha runs over tokens rather
    than characters. ``bootstrap`` resamples of the articles (0: none), drawn from
    ``numpy.random.PCG64(seed)``, give 95% percentile intervals for the headline figures.
    Returns plain JSON-able data; see the module docstring for what is measured.
    """
    data = _collect(records)
    boot = _Bootstrap(len(data.articles))
    tally = _Tally()
    fields: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            fields[f.name] = _span_field(f, data, boot, tally, texts)
            if f.attributes:
                fields[f.name]["attributes"] = _span_attributes(f, data, boot)
        elif isinstance(f, EventsField):
            fields[f.name] = _events_field(f, data, boot, tally)
        elif isinstance(f, RelationsField):
            fields[f.name] = _relations_field(f, data, boot, tally)
        elif isinstance(f, ChoiceField):
            fields[f.name] = _choice_field(f, data, boot, tally)
        elif isinstance(f, NumberField):
            fields[f.name] = _number_field(f, data, boot, tally)
        else:
            fields[f.name] = {"kind": "text", "note": "free text is not compared"}
    boot.run(bootstrap, seed)

    pairs = _pairwise(data, scheme, bootstrap, seed)
    gold_tally = _gold_agreement(data, scheme, gold) if gold is not None else None
    shared = Counter(w for by in data.votes.values() if len(by) >= 2 for w in by)
    detail = {}
    for who in sorted(data.people):
        person = data.people[who]
        detail[who] = {
            "tasks_done": person["tasks_done"], "cancelled": person["cancelled"],
            "ground_truth": person["ground_truth"], "edited_by_others": person["edited_by_others"],
            "median_lead_time": statistics.median(person["lead_times"]) if person["lead_times"] else None,
            "lead_times_not_finite": person["lead_times_not_finite"],
            "articles_shared": shared[who],
            "agreement": tally.entries(who, "no spans on the articles shared with others"),
            "gold": gold_tally.entries(who, "no spans on the articles with a gold result")
            if gold_tally is not None else None,
        }

    headline = []
    for name, out in fields.items():
        picks = {"choice": [("alpha_nominal",), ("mean_jaccard",)], "number": [("alpha_interval",)],
                 "spans": [("overlap", "micro_f1"), ("exact", "micro_f1"), ("token_alpha",)],
                 "relations": [("overlap", "micro_f1"), ("exact", "micro_f1")],
                 "events": [("trigger_f1",), ("event_f1",), ("argument_f1",)]
                 + ([("attributes", out["type_attribute"], "alpha_nominal")] if out.get("type_attribute") else [])
                 }.get(out["kind"], [])
        for path in picks:
            entry = out
            for key in path:
                entry = entry.get(key) if entry is not None else None
            if entry is None:
                continue
            ci = entry["ci"]
            headline.append({"field": name, "metric": ".".join(path), "value": entry["value"],
                             "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                             "n": entry["n"], "undefined": entry["undefined"]})
    return {
        "annotations": data.used,
        "cancelled_excluded": data.cancelled,
        "ground_truth_excluded": data.ground_truth,
        "edited_by_other_excluded": data.edited,
        "repeats_ignored": data.repeats,
        "lead_times_not_finite": sum(p["lead_times_not_finite"] for p in data.people.values()),
        "articles": len(data.articles),
        "articles_multi": sum(1 for by in data.votes.values() if len(by) >= 2),
        "annotators": len({w for by in data.votes.values() for w in by}),
        "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": CONFIDENCE, "unit": "article"},
        "fields": fields,
        "annotators_detail": detail,
        "pairs": pairs,
        "edits": data.edits,
        "edits_tracked": data.edits_tracked,
        "headline": headline,
    }
