"""``toolkit evaluate``: a model's predictions judged against gold, with bootstrap intervals.

Reads ``annotations/predictions/<model_version>.jsonl`` (Label Studio prediction lines in code
point offsets; UTF-16 offsets from other tools are converted) through the same converter that ``toolkit pull`` uses for the
server's predictions, so a prediction is read exactly as an annotator would have seen it, and
compares it with the gold records of one split (``heldout`` by default: the model never learnt
from those). An article of the split without a prediction line predicts nothing: no spans, no
values; the report counts such articles (``n_missing``) rather than leaving them out, which
would flatter a model that skips hard articles.

The figures, per field of the scheme:

- spans: precision, recall and F1 per label, micro and macro, each matched ``exact`` (same
  start, end and label) and by ``overlap`` (same label, overlapping extent, paired one to one,
  largest overlap first: ``toolkit.agreement``'s ``compare_spans``, so the two reports count
  alike). A span with the right extent and the wrong label is one false positive and one false
  negative;
- single choices: accuracy and the confusion of gold and predicted values (an empty value is
  ``"(none)"``); multiple choices: the rate of exactly the gold set;
- numbers: the exact-match rate over every article (an empty gold and an empty prediction
  match) and over the articles where gold has a number.

A figure without the counts it needs (recall with no gold span of the label, F1 with neither
gold nor predicted spans) is ``None``, never 0, and "n/a" in the Markdown. Intervals are 95 %
percentile bootstraps over articles; every figure is a function of per-article counts, so a
resample is a weight per article and all of them together a matrix product.
"""

from __future__ import annotations

import json
import textwrap
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..agreement.metrics import compare_spans
from ..atomicio import atomic_path, write_json, write_text
from ..errors import PreannotateError
from ..labelstudio.predictions import written_last
from ..release.data import SPLITS
from ..scheme import ChoiceField, NumberField, Scheme, SpanField, TextField
from ..validation.normalise import normalise_task
from ..workspace import Workspace
from .splits import SPLIT_CHOICES, load_gold

__all__ = ["CONFIDENCE", "NONE", "read_prediction_records", "evaluate", "to_markdown", "write_plot",
           "run_evaluate", "latest_model_version"]

CONFIDENCE = 0.95
NONE = "(none)"  # an empty choice in the confusion matrix
_MATCHES = ("exact", "overlap")


# ----------------------------------------------------------------------------- reading


def _predictions_dir(ws: Workspace) -> Path:
    return ws.annotations_dir / "predictions"


def _empty_record(scheme: Scheme, article_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"article_id": article_id}
    for f in scheme.fields:
        if isinstance(f, TextField):
            continue
        record[f.name] = [] if isinstance(f, SpanField) or (isinstance(f, ChoiceField) and f.multiple) else None
    return record


def _bad_line(where: str, message: str) -> PreannotateError:
    return PreannotateError(f"{where}: {message}",
                            hint="fix or remove that line, or write the file again with `toolkit preannotate`")


def read_prediction_records(ws: Workspace, scheme: Scheme, model_version: str,
                            texts: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The predictions of ``model_version`` as records shaped like gold, by article id: spans
    as ``{start, end, label, text}`` in code point offsets, one value per choice or number field.

    Only lines for articles in ``texts`` are read into records (their offsets can only be
    checked against the text); a line that is not JSON, names no article, is for an article
    already read, or does not map onto the scheme is an error naming ``file:line``.
    """
    path = _predictions_dir(ws) / f"{model_version}.jsonl"
    shown = ws.relative(path)
    if not path.is_file():
        raise PreannotateError(f"no predictions of model {model_version!r}: {shown} does not exist",
                               hint="run `toolkit preannotate` first, or name a model version that has a "
                                    "file in annotations/predictions/")
    single = [f.name for f in scheme.fields
              if isinstance(f, NumberField) or (isinstance(f, ChoiceField) and not f.multiple)]
    records: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            where = f"{shown}:{number}"
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad_line(where, f"not JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(item, dict) or not isinstance(item.get("article_id"), str):
                raise _bad_line(where, "not a prediction line (an object with an article_id and a result)")
            article = item["article_id"]
            if article in seen:
                raise _bad_line(where, f"article {article} already has a prediction, on line {seen[article]}")
            seen[article] = number
            text = texts.get(article)
            if text is None:
                continue  # not an article being judged
            task = {"id": 0, "data": {"text": text, "article_id": article}, "predictions": [item]}
            out = normalise_task(task, scheme)
            if out.quarantine or not out.predictions:
                errors = [e for entry in out.quarantine for e in entry["errors"]]
                said = "; ".join(e["message"].split(": ", 1)[-1] for e in errors) or "no prediction in it"
                raise _bad_line(where, f"article {article}: {said}")
            prediction = out.predictions[0]
            record = _empty_record(scheme, article)
            for name in record:
                if name != "article_id":
                    record[name] = prediction[name]
            for name in single:
                if isinstance(record[name], list):
                    raise _bad_line(where, f"article {article}: field {name!r} takes one value, "
                                           f"the line gives {len(record[name])}: {record[name]!r}")
            records[article] = record
    return records


# ------------------------------------------------------------------------- bootstrap


class _Bootstrap:
    """Per-article terms (columns) and the figures computed from their sums; ``run`` gives each
    figure its percentile interval over resamples of the articles."""

    def __init__(self, n_articles: int) -> None:
        self.n = n_articles
        self.columns: list[np.ndarray] = []
        self.figures: list[tuple[dict[str, Any], str, Callable[[np.ndarray], np.ndarray]]] = []

    def terms(self, values: np.ndarray) -> list[int]:
        """Add per-article terms (a vector, or a matrix of articles x k); their column indices."""
        block = np.asarray(values, dtype=float)
        block = block[:, None] if block.ndim == 1 else block
        first = len(self.columns)
        self.columns.extend(block[:, k] for k in range(block.shape[1]))
        return list(range(first, len(self.columns)))

    def figure(self, entry: dict[str, Any], key: str, statistic: Callable[[np.ndarray], np.ndarray]) -> None:
        """``entry[key + "_ci"]`` is to hold the interval of ``statistic`` (sums -> values)."""
        entry[f"{key}_ci"] = None
        if entry.get(key) is not None:
            self.figures.append((entry, key, statistic))

    def run(self, resamples: int, seed: int) -> None:
        if resamples <= 0 or self.n == 0 or not self.figures:
            return
        rng = np.random.Generator(np.random.PCG64(seed))
        terms = np.column_stack(self.columns)
        values: list[list[np.ndarray]] = [[] for _ in self.figures]
        block = max(1, min(resamples, 2_000_000 // self.n))  # bounds the weight matrix's memory
        for done in range(0, resamples, block):
            b = min(block, resamples - done)
            draws = rng.integers(0, self.n, size=(b, self.n))
            offsets = (draws + self.n * np.arange(b)[:, None]).ravel()
            weights = np.bincount(offsets, minlength=b * self.n).reshape(b, self.n).astype(float)
            sums = weights @ terms
            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of a resample without any label
                for k, (_, _, statistic) in enumerate(self.figures):
                    values[k].append(statistic(sums))
        tail = (1 - CONFIDENCE) / 2 * 100
        for (entry, key, _), chunks in zip(self.figures, values):
            got = np.concatenate(chunks)
            got = got[np.isfinite(got)]  # a resample without the figure's support has no value
            if got.size:
                entry[f"{key}_ci"] = [float(x) for x in np.percentile(got, [tail, 100 - tail])]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _ratio_of(top: int, bottom: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda sums: sums[:, top] / sums[:, bottom]


def _f1_of(tp: Sequence[int], gold: Sequence[int], pred: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Sums -> F1 (the mean over the columns given: one column is that label's, several a macro
    average of the labels defined in that resample)."""
    def statistic(sums: np.ndarray) -> np.ndarray:
        f1 = 2 * sums[:, tp] / (sums[:, gold] + sums[:, pred])
        return np.nanmean(f1, axis=1)
    return statistic


# ------------------------------------------------------------------------- evaluate


def _counts(tp: int, gold: int, pred: int) -> dict[str, Any]:
    return {"tp": tp, "fp": pred - tp, "fn": gold - tp, "precision": _ratio(tp, pred),
            "recall": _ratio(tp, gold), "f1": _ratio(2 * tp, gold + pred)}


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def _span_field(f: SpanField, predicted: list[dict[str, Any]], gold: list[dict[str, Any]],
                boot: _Bootstrap) -> dict[str, Any]:
    found = {str(s["label"]) for r in (*predicted, *gold) for s in (r.get(f.name) or [])}
    labels = list(f.values) + sorted(found - set(f.values), key=str)
    code = {label: k for k, label in enumerate(labels)}
    # Per article and label: gold spans, predicted spans, exact and overlap matches.
    table = {k: np.zeros((boot.n, len(labels)), dtype=np.int64) for k in ("gold", "pred", *_MATCHES)}
    for i, (p, g) in enumerate(zip(predicted, gold)):
        cmp = compare_spans(g.get(f.name) or [], p.get(f.name) or [])
        for key, counter in (("gold", cmp.count_a), ("pred", cmp.count_b), ("exact", cmp.exact),
                             ("overlap", cmp.overlap)):
            for label, count in counter.items():
                table[key][i, code[label]] += count
    total = {k: v.sum(axis=0) for k, v in table.items()}
    cols = {k: boot.terms(v) for k, v in table.items()}
    micro_cols = {k: boot.terms(v.sum(axis=1)) for k, v in table.items()}

    per_label: dict[str, Any] = {}
    for label, k in code.items():
        entry: dict[str, Any] = {"support": int(total["gold"][k]), "predicted": int(total["pred"][k])}
        for match in _MATCHES:
            entry[match] = _counts(int(total[match][k]), entry["support"], entry["predicted"])
            boot.figure(entry[match], "f1", _f1_of([cols[match][k]], [cols["gold"][k]], [cols["pred"][k]]))
        per_label[label] = entry
    micro: dict[str, Any] = {"support": int(total["gold"].sum()), "predicted": int(total["pred"].sum())}
    macro: dict[str, Any] = {}
    for match in _MATCHES:
        micro[match] = _counts(int(total[match].sum()), micro["support"], micro["predicted"])
        boot.figure(micro[match], "f1", _f1_of(micro_cols[match], micro_cols["gold"], micro_cols["pred"]))
        f1s = [per_label[label][match]["f1"] for label in labels]
        macro[match] = {"labels": sum(v is not None for v in f1s),
                        "precision": _mean([per_label[label][match]["precision"] for label in labels]),
                        "recall": _mean([per_label[label][match]["recall"] for label in labels]),
                        "f1": _mean(f1s)}
        boot.figure(macro[match], "f1", _f1_of(cols[match], cols["gold"], cols["pred"]))
    return {"kind": "spans", "labels": per_label, "micro": micro, "macro": macro}


def _choice_key(value: Any) -> str:
    return NONE if value is None else str(value)


def _choice_field(f: ChoiceField, predicted: list[dict[str, Any]], gold: list[dict[str, Any]],
                  boot: _Bootstrap) -> dict[str, Any]:
    pairs = [(g.get(f.name), p.get(f.name)) for p, g in zip(predicted, gold)]
    if f.multiple:
        correct = [sorted(g or []) == sorted(p or []) for g, p in pairs]
    else:
        correct = [g == p for g, p in pairs]
    out: dict[str, Any] = {"kind": "choice", "multiple": f.multiple, "n": len(pairs), "correct": sum(correct),
                           "accuracy": _ratio(sum(correct), len(pairs))}
    [hit], [one] = boot.terms(np.array(correct)), boot.terms(np.ones(boot.n))
    boot.figure(out, "accuracy", _ratio_of(hit, one))
    if not f.multiple:
        counts = Counter((_choice_key(g), _choice_key(p)) for g, p in pairs)
        order = {v: k for k, v in enumerate((*f.values, NONE))}
        keys = sorted({v for pair in counts for v in pair}, key=lambda v: (order.get(v, len(f.values) - 0.5), v))
        out["values"] = keys
        out["confusion"] = {g: {p: counts[(g, p)] for p in keys if counts[(g, p)]}
                            for g in keys if any(counts[(g, p)] for p in keys)}
    return out


def _number_field(f: NumberField, predicted: list[dict[str, Any]], gold: list[dict[str, Any]],
                  boot: _Bootstrap) -> dict[str, Any]:
    pairs = [(g.get(f.name), p.get(f.name)) for p, g in zip(predicted, gold)]
    match = np.array([g == p for g, p in pairs], dtype=float)
    given = np.array([g is not None for g, _ in pairs], dtype=float)
    out: dict[str, Any] = {"kind": "number"}
    for key, counted in (("all", np.ones(boot.n)), ("gold_given", given)):
        hits = match * counted
        entry = {"n": int(counted.sum()), "matches": int(hits.sum()),
                 "exact_match": _ratio(float(hits.sum()), float(counted.sum()))}
        [top], [bottom] = boot.terms(hits), boot.terms(counted)
        boot.figure(entry, "exact_match", _ratio_of(top, bottom))
        out[key] = entry
    return out


def evaluate(scheme: Scheme, predicted: Mapping[str, Mapping[str, Any]], gold: Mapping[str, Mapping[str, Any]],
             article_ids: Sequence[str], *, bootstrap: int = 1000, seed: int = 0,
             model_version: str | None = None, split: str | None = None) -> dict[str, Any]:
    """The report (plain JSON-able data) of ``predicted`` against ``gold`` on ``article_ids``.

    An article with no predicted record predicts nothing (counted in ``n_missing``); an
    article must have a gold record. ``bootstrap`` resamples of the articles (0: none) with
    ``numpy.random.Generator(PCG64(seed))`` give every F1, accuracy and exact-match rate a
    95 % percentile interval (``*_ci``: ``[lo, hi]``, or None without resamples or value).
    """
    ids = list(article_ids)
    missing_gold = [a for a in ids if a not in gold]
    if missing_gold:
        raise PreannotateError(f"{len(missing_gold)} article(s) to evaluate have no gold record "
                               f"(first: {missing_gold[0]})", hint="evaluate only articles that have gold labels")
    gold_rows = [dict(gold[a]) for a in ids]
    pred_rows = [dict(predicted[a]) if a in predicted else _empty_record(scheme, a) for a in ids]
    boot = _Bootstrap(len(ids))
    fields: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            fields[f.name] = _span_field(f, pred_rows, gold_rows, boot)
        elif isinstance(f, ChoiceField):
            fields[f.name] = _choice_field(f, pred_rows, gold_rows, boot)
        elif isinstance(f, NumberField):
            fields[f.name] = _number_field(f, pred_rows, gold_rows, boot)
    boot.run(bootstrap, seed)
    return {"model_version": model_version, "split": split, "n_articles": len(ids),
            "n_missing": sum(a not in predicted for a in ids),
            "bootstrap": {"resamples": int(bootstrap), "seed": int(seed), "confidence": CONFIDENCE},
            "fields": fields}


# -------------------------------------------------------------------------- Markdown


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_ci(value: float | None, ci: Sequence[float] | None) -> str:
    if value is None:
        return "n/a"
    return _num(value) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]


def _span_markdown(name: str, stats: dict[str, Any]) -> list[str]:
    rows = []
    for label, e in stats["labels"].items():
        ex, ov = e["exact"], e["overlap"]
        rows.append([label, e["support"], e["predicted"], f"{ex['tp']} / {ex['fp']} / {ex['fn']}",
                     _num(ex["precision"]), _num(ex["recall"]), _with_ci(ex["f1"], ex["f1_ci"]),
                     _with_ci(ov["f1"], ov["f1_ci"])])
    m = stats["micro"]
    rows.append(["**micro**", m["support"], m["predicted"],
                 f"{m['exact']['tp']} / {m['exact']['fp']} / {m['exact']['fn']}",
                 _num(m["exact"]["precision"]), _num(m["exact"]["recall"]),
                 _with_ci(m["exact"]["f1"], m["exact"]["f1_ci"]), _with_ci(m["overlap"]["f1"], m["overlap"]["f1_ci"])])
    a = stats["macro"]
    rows.append([f"**macro** ({a['exact']['labels']} labels)", "", "", "", _num(a["exact"]["precision"]),
                 _num(a["exact"]["recall"]), _with_ci(a["exact"]["f1"], a["exact"]["f1_ci"]),
                 _with_ci(a["overlap"]["f1"], a["overlap"]["f1_ci"])])
    return [f"## {name} (spans)", "",
            *_table(["label", "support", "predicted", "tp / fp / fn (exact)", "P (exact)", "R (exact)",
                     "F1 exact", "F1 overlap"], rows), "",
            "Overlap: same label, overlapping extent, paired one to one. A right extent with the wrong "
            "label counts as one false positive and one false negative.", ""]


def _choice_markdown(name: str, stats: dict[str, Any]) -> list[str]:
    what = "exactly the gold set" if stats["multiple"] else "accuracy"
    lines = [f"## {name} (choice)", "",
             f"{what}: **{_with_ci(stats['accuracy'], stats['accuracy_ci'])}** "
             f"({stats['correct']} of {stats['n']} articles)", ""]
    if not stats["multiple"] and stats["confusion"]:
        values = stats["values"]
        rows = [[g, *[stats["confusion"].get(g, {}).get(p, "") for p in values]] for g in values
                if g in stats["confusion"]]
        lines += ["Rows: gold; columns: predicted.", "", *_table(["gold \\ predicted", *values], rows), ""]
    return lines


def to_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: a table per span field, each choice field's accuracy and
    confusion matrix, the numbers' exact-match rates; a missing figure reads "n/a"."""
    boot = report["bootstrap"]
    title = "# Evaluation" + (f": {report['model_version']}" if report.get("model_version") else "")
    lines = [title + (f" on {report['split']}" if report.get("split") else ""), "",
             f"{report['n_articles']} gold articles; {report['n_missing']} without a prediction "
             "(counted as predicting nothing).",
             (f"Intervals: {boot['confidence']:.0%} percentile bootstrap over articles "
              f"({boot['resamples']} resamples, seed {boot['seed']})." if boot["resamples"] > 0
              else "No bootstrap intervals (0 resamples)."), ""]
    numbers = []
    for name, stats in report["fields"].items():
        if stats["kind"] == "spans":
            lines += _span_markdown(name, stats)
        elif stats["kind"] == "choice":
            lines += _choice_markdown(name, stats)
        else:
            every, given = stats["all"], stats["gold_given"]
            numbers.append([name, _with_ci(every["exact_match"], every["exact_match_ci"]), every["n"],
                            _with_ci(given["exact_match"], given["exact_match_ci"]), given["n"]])
    if numbers:
        lines += ["## Numbers", "",
                  *_table(["field", "exact match (all articles)", "n", "exact match (gold has a number)", "n"],
                          numbers), "",
                  "Over all articles an empty gold number and an empty prediction match.", ""]
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------------ plot


def _span_panel(ax: Any, name: str, stats: dict[str, Any]) -> None:
    labels = list(stats["labels"])
    xs = np.arange(len(labels))
    width = 0.4
    for shift, match, color in ((-width / 2, "exact", "#4363d8"), (width / 2, "overlap", "#f58231")):
        entries = [stats["labels"][label][match] for label in labels]
        heights = [e["f1"] or 0 for e in entries]
        ax.bar(xs + shift, heights, width, color=color, label=f"F1 {match}")
        with_ci = [(x + shift, e["f1"], e["f1_ci"]) for x, e in zip(xs, entries) if e["f1_ci"]]
        if with_ci:
            ax.errorbar([x for x, _, _ in with_ci], [v for _, v, _ in with_ci],
                        yerr=[[max(0.0, v - c[0]) for _, v, c in with_ci], [max(0.0, c[1] - v) for _, v, c in with_ci]],
                        fmt="none", ecolor="black", capsize=3)
        for x, e in zip(xs, entries):
            if e["f1"] is None:
                ax.text(x + shift, 0.02, "n/a", ha="center", fontsize=7, rotation=90)
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("F1")
    ax.set_title(f"{name}: F1 per label ({CONFIDENCE:.0%} bootstrap intervals over articles)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")


def _confusion_panel(ax: Any, name: str, stats: dict[str, Any]) -> None:
    values = stats["values"]
    data = np.array([[stats["confusion"].get(g, {}).get(p, 0) for p in values] for g in values], dtype=float)
    top = max(1.0, float(data.max(initial=0)))
    ax.imshow(data, cmap="Blues", vmin=0, vmax=top)
    ticks = [textwrap.fill(v, 18, break_long_words=False) or v for v in values]
    ax.set_xticks(range(len(values)), ticks, rotation=90, fontsize=7)
    ax.set_yticks(range(len(values)), ticks, fontsize=7)
    for i, j in zip(*np.nonzero(data)):
        ax.text(j, i, str(int(data[i, j])), ha="center", va="center", fontsize=7,
                color="white" if data[i, j] > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{name}: accuracy {_with_ci(stats['accuracy'], stats['accuracy_ci'])}", fontsize=10)


def write_plot(report: Mapping[str, Any], path: str | Path) -> None:
    """A PNG of the per-label F1 (exact and overlap, with their intervals) of every span field
    and the confusion matrix of every single choice field, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, stats) for name, stats in report["fields"].items()
              if stats["kind"] == "spans" or (stats["kind"] == "choice" and stats.get("confusion"))]
    heights = [4.0 if stats["kind"] == "spans" else 7.5 for _, stats in panels] or [2.0]
    fig, axes = plt.subplots(len(heights), 1, figsize=(9, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    try:
        for ax, (name, stats) in zip(axes[:, 0], panels):
            (_span_panel if stats["kind"] == "spans" else _confusion_panel)(ax, name, stats)
        if not panels:
            axes[0, 0].axis("off")
            axes[0, 0].text(0.5, 0.5, "no span or single choice field to plot", ha="center", va="center")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------- run


def latest_model_version(ws: Workspace) -> str:
    """The model version ``toolkit preannotate`` wrote last (else the newest file)."""
    files = sorted(_predictions_dir(ws).glob("*.jsonl"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    latest = written_last(ws)
    if latest is not None and latest in {p.stem for p in files}:
        return latest
    if not files:
        raise PreannotateError(f"no predictions to evaluate: {ws.relative(_predictions_dir(ws))} has no .jsonl file",
                               hint="run `toolkit preannotate` first")
    return files[-1].stem


def _check_version(model_version: str) -> None:
    if not model_version or model_version in (".", "..") or Path(model_version).name != model_version:
        raise PreannotateError(f"model version {model_version!r} is not a file name",
                               hint="name a file of annotations/predictions/ without its .jsonl")


def run_evaluate(ws: Workspace, model_version: str | None = None, split: str = "heldout",
                 bootstrap: int | None = None) -> dict[str, Any]:
    """``toolkit evaluate``: the predictions of ``model_version`` (default: the newest file)
    against the gold of ``split``; writes ``annotations/evaluation/<model_version>.json``,
    ``.md`` and ``.png`` and returns the report."""
    if split not in SPLIT_CHOICES:
        raise PreannotateError(f"unknown split {split!r}", hint=f"name one of {', '.join(SPLIT_CHOICES)}")
    model_version = latest_model_version(ws) if model_version is None else model_version
    _check_version(model_version)
    scheme = Scheme.load(ws.scheme_path)
    gold = load_gold(ws, scheme)
    ids = [a for a in gold.ids(split) if a in gold.records]
    if not ids:
        per_split = Counter(gold.splits[a] for a in gold.records)
        counts = ", ".join(f"{s} {per_split[s]}" for s in SPLITS)
        raise PreannotateError(f"no gold articles in split {split!r} (gold articles per split: {counts})",
                               hint="evaluate on another split with --split, or label more articles")
    predicted = read_prediction_records(ws, scheme, model_version, {a: gold.texts[a] for a in ids})
    resamples = ws.config.gold.bootstrap if bootstrap is None else bootstrap
    if resamples < 0:
        raise PreannotateError(f"bootstrap must be 0 or more resamples, not {resamples}",
                               hint="give --bootstrap 0 for no intervals, or e.g. 1000")
    report = evaluate(scheme, predicted, gold.records, ids, bootstrap=resamples, seed=ws.config.gold.seed,
                      model_version=model_version, split=split)
    report["predictions"] = ws.relative(_predictions_dir(ws) / f"{model_version}.jsonl")
    out = ws.annotations_dir / "evaluation"
    write_json(out / f"{model_version}.json", report)
    write_text(out / f"{model_version}.md", to_markdown(report))
    write_plot(report, out / f"{model_version}.png")
    return report
