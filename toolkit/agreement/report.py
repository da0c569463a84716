"""``toolkit agree``: agreement figures and gold labels from the validated annotations.

Writes ``annotations/agreement.json`` (every figure, the annotator pairs, the edits made by
another account), ``annotations/agreement.md`` (the same as tables),
``annotations/agreement-<span field>.png`` (per-label span F1 with bootstrap intervals over
articles), ``annotations/agreement-<field>-confusion.png`` (each pair of annotators' answers
on one article, for each single choice) and ``annotations/gold.parquet`` (one row per
article, by the ``[gold]`` policy). A scheme with events, relations or span attributes
gets an "Events" section in agreement.md (trigger, event, argument and relation F1, and
agreement on the attributes). With ``annotations/predictions.parquet`` pulled, both
reports also compare the answers made with and without a suggestion (``suggestions``).
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomicio
from .metrics import compute_agreement
from ..errors import InputError, InputNotFound
from .gold import GoldPolicy, compute_gold, gold_table
from .suggestions import read_predictions, suggestion_effect, suggestions_markdown
from ..scheme import ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField
from ..articles import article_texts
from ..validation import iter_parquet_records
from ..workspace import Workspace


@dataclass
class AgreeReport:
    agreement: dict[str, Any]
    resolved: int = 0
    unresolved: list[dict[str, str]] = field(default_factory=list)
    by_ground_truth: int = 0
    edited_by_other: int = 0  # annotations last saved by another account (not votes)
    warnings: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"resolved": self.resolved, "unresolved": self.unresolved, "by_ground_truth": self.by_ground_truth,
                "edited_by_other": self.edited_by_other, "warnings": self.warnings, "outputs": self.outputs,
                "agreement": self.agreement}


def overlap_warning(ws: Workspace, min_annotations: int) -> str | None:
    """Said plainly when the server, as the last pull found it, gives each task to fewer
    annotators than the gold policy needs: then no article can ever be resolved by agreement."""
    path = ws.annotations_dir / "pull-report.json"
    try:
        source = json.loads(path.read_text(encoding="utf-8")).get("source", {})
    except (OSError, ValueError, AttributeError):
        return None
    overlap = source.get("maximum_annotations")
    if isinstance(overlap, int) and overlap < min_annotations:
        return (f"the server gave each task to {overlap} annotator(s) when last pulled, but [gold] min_annotations "
                f"is {min_annotations}: articles cannot reach gold by agreement. Run `toolkit push` (it sets "
                f"maximum_annotations), then let annotators label and pull again")
    return None


def check_finite_answers(records: list[dict[str, Any]], scheme: Scheme, source: str) -> None:
    """A NaN or infinite number answer is an error: it has no place in a median or an alpha,
    and leaving it out quietly would change the figures. (Validation quarantines such records;
    this guards a file that did not pass through it.)"""
    numbers = [f.name for f in scheme.fields if isinstance(f, NumberField)]
    # Numbers inside items: attributes of events and of spans, as (field, attribute names).
    nested = [(f.name, [a.name for a in f.attributes if isinstance(a.field, NumberField)])
              for f in scheme.fields if isinstance(f, (SpanField, EventsField))]
    nested = [(name, attrs) for name, attrs in nested if attrs]
    for record in records:
        if record.get("was_cancelled"):
            continue
        answers = [(name, record.get(name)) for name in numbers]
        answers += [(f"{name}[{k}].{attr}", item.get(attr)) for name, attrs in nested
                    for k, item in enumerate(record.get(name) or []) for attr in attrs]
        for name, value in answers:
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(f"{source}: annotation {record.get('annotation_id')} (task {record.get('task_id')}, "
                                 f"article {record.get('article_id')}) has {name} = {value}, not a finite number",
                                 hint="run `toolkit validate` to move it to quarantine, or correct it in Label Studio "
                                      "and `toolkit pull` again")


def agree(ws: Workspace) -> AgreeReport:
    path = ws.annotations_dir / "annotations.parquet"
    if not path.exists():
        raise InputNotFound("annotations/annotations.parquet does not exist yet", hint="run `toolkit pull` first")
    scheme = Scheme.load(ws.scheme_path)
    cfg = ws.config.gold
    policy = GoldPolicy(min_annotations=cfg.min_annotations, numbers=cfg.numbers, span_min_agree=cfg.span_min_agree,
                        event_min_agree=cfg.event_min_agree)
    records = list(iter_parquet_records(path, scheme))
    check_finite_answers(records, scheme, ws.relative(path))
    gold_rows = compute_gold(records, scheme, policy)
    texts = article_texts(ws, {r["article_id"] for r in records})
    agreement = compute_agreement(records, scheme, gold={g["article_id"]: g for g in gold_rows}, texts=texts,
                                  bootstrap=cfg.bootstrap, seed=cfg.seed)
    unresolved = [{"article_id": g["article_id"], "reason": g["reason"]} for g in gold_rows
                  if g["status"] == "unresolved"]
    agreement["suggestions"] = suggestion_effect(
        records, read_predictions(ws.annotations_dir / "predictions.parquet"),
        {g["article_id"]: g for g in gold_rows}, scheme, texts=texts, bootstrap=cfg.bootstrap, seed=cfg.seed)
    agreement["gold"] = {"policy": policy.to_dict(scheme), "articles": len(gold_rows),
                         "resolved": len(gold_rows) - len(unresolved),
                         "by_ground_truth": sum(g["decided_by"] == "ground-truth" for g in gold_rows),
                         "unresolved": unresolved}
    report = AgreeReport(agreement=agreement, resolved=len(gold_rows) - len(unresolved), unresolved=unresolved,
                         by_ground_truth=agreement["gold"]["by_ground_truth"],
                         edited_by_other=len(agreement["edits"]))
    warning = overlap_warning(ws, cfg.min_annotations)
    if warning:
        report.warnings.append(warning)
        agreement["gold"]["warnings"] = [warning]
    out = ws.annotations_dir
    with atomicio.atomic_path(out / "gold.parquet") as tmp:
        import pyarrow.parquet as pq

        pq.write_table(gold_table(gold_rows, scheme), tmp)
    atomicio.write_json(out / "agreement.json", agreement)
    atomicio.write_text(out / "agreement.md", render_markdown(agreement, scheme))
    plots = plot_agreement(agreement, scheme, out)
    report.outputs = [ws.relative(p) for p in [out / "gold.parquet", out / "agreement.json", out / "agreement.md",
                                                *plots]]
    return report


# Markdown ---------------------------------------------------------------------------------

def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    if entry.get("value") is None:
        return f"undefined ({entry.get('undefined')})"
    text = f"{entry['value']:.3f}"
    if entry.get("ci"):
        text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
    return text


def _metrics(stats: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in stats.items() if isinstance(v, dict) and "value" in v]


def headline_rows(agreement: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for h in agreement.get("headline", []):
        value = "undefined" if h["value"] is None else f"{h['value']:.3f}"
        ci = "" if h.get("ci_low") is None else f"[{h['ci_low']:.3f}, {h['ci_high']:.3f}]"
        rows.append((h["field"], h["metric"], value, ci or (h.get("undefined") or "")))
    return rows


def render_markdown(agreement: dict[str, Any], scheme: Scheme) -> str:
    g = agreement["gold"]
    edits = agreement.get("edits", [])
    lines = [
        "# Inter-annotator agreement",
        "",
        f"{agreement['annotations']} annotations by {agreement['annotators']} annotator(s) on "
        f"{agreement['articles']} article(s), {agreement['articles_multi']} of them labelled by two or more; "
        f"{agreement['cancelled_excluded']} cancelled, {agreement.get('ground_truth_excluded', 0)} ground-truth "
        f"and {agreement.get('edited_by_other_excluded', 0)} edited-by-another-account annotation(s) left out of "
        "agreement. 95% confidence intervals: percentile bootstrap over articles "
        f"({agreement['bootstrap']['resamples']} resamples, seed {agreement['bootstrap']['seed']}).",
        "",
        f"Edits by another account: {_edits_summary(agreement)}",
        "",
        "## Headline",
        "",
        "| field | metric | value | 95% CI / note |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in headline_rows(agreement)],
        "",
        "## Fields",
        "",
    ]
    for name, stats in agreement["fields"].items():
        if stats.get("kind") in ("events", "relations"):
            continue  # in the Events section
        lines.append(f"### {name} ({stats.get('kind')})")
        lines.append("")
        metrics = _metrics(stats)
        if metrics:
            lines += ["| metric | value |", "|---|---|", *[f"| {k} | {_fmt(v)} |" for k, v in metrics], ""]
        if stats.get("kind") == "spans":
            lines += ["| label | spans | exact F1 | overlap F1 |", "|---|---|---|---|"]
            for label, per in stats.get("per_label", {}).items():
                lines.append(f"| {label} | {per.get('spans')} | {_fmt(per.get('exact_f1'))} | "
                             f"{_fmt(per.get('overlap_f1'))} |")
            lines.append("")
            for kind in ("exact", "overlap"):
                part = stats.get(kind, {})
                lines.append(f"- {kind} match: micro F1 {_fmt(part.get('micro_f1'))}, "
                             f"macro F1 {_fmt(part.get('macro_f1'))}")
            lines.append(f"- token-level alpha: {_fmt(stats.get('token_alpha'))}")
            lines.append("")
        if stats.get("note"):
            lines += [f"_{stats['note']}_", ""]
    lines += events_markdown(agreement, scheme)
    lines += _pairs_markdown(agreement)
    lines += ["## Annotators", "",
              ("| annotator | tasks done | cancelled | edited by others (left out) | median lead time (s) | "
               "agreement with gold |"),
              "|---|---|---|---|---|---|"]
    for who, detail in agreement.get("annotators_detail", {}).items():
        gold = detail.get("gold")
        gold_text = "–" if not gold else ", ".join(
            f"{f}: {_fmt(next((v for v in m.values() if isinstance(v, dict) and 'value' in v), None))}"
            for f, m in gold.items() if isinstance(m, dict))
        lines.append(f"| {who} | {detail.get('tasks_done')} | {detail.get('cancelled')} | "
                     f"{detail.get('edited_by_others', 0)} | {detail.get('median_lead_time')} | {gold_text} |")
    if agreement.get("lead_times_not_finite"):
        lines += ["", (f"{agreement['lead_times_not_finite']} lead time(s) that were not finite numbers (NaN or "
                       "infinite) are left out of the medians.")]
    lines += ["", "## Edits by another account", "", _edits_summary(agreement)]
    if edits:
        lines += ["", "| task | article | annotation | annotator (author) | edited by | updated at |",
                  "|---|---|---|---|---|---|",
                  *[f"| {e['task_id']} | {e['article_id']} | {e['annotation_id']} | {e['annotator']} | "
                    f"{e['editor']} | {e.get('updated_at') or '–'} |" for e in edits]]
    lines += ["", "## Gold labels", "",
              (f"Policy: {json.dumps(g['policy'])}. {g['resolved']} of {g['articles']} article(s) resolved "
               f"({g['by_ground_truth']} by a ground-truth / reviewed annotation); {len(g['unresolved'])} unresolved. "
               "gold.parquet keeps the fields of an unresolved article that were decided, for the adjudicator; "
               "the article is not released until it is resolved.")]
    if g["unresolved"]:
        lines += ["", "| unresolved article | reason |", "|---|---|",
                  *[f"| {u['article_id']} | {u['reason']} |" for u in g["unresolved"]]]
    suggestions = suggestions_markdown(agreement.get("suggestions"))
    if suggestions:
        lines += ["", *suggestions]
    return "\n".join(lines) + "\n"


def _attribute_rows(attributes: dict[str, Any]) -> list[str]:
    """One row per attribute: how often the annotators agree, and the chance-corrected figure."""
    rows = ["| attribute | kind | units | agreement | chance-corrected |", "|---|---|---|---|---|"]
    for name, stats in attributes.items():
        kind = stats.get("kind")
        if kind == "text":
            rows.append(f"| {name} | text | – | not compared | – |")
        elif not stats.get("units"):
            rows.append(f"| {name} | {kind} | 0 | – (never given by two annotators of one unit) | – |")
        elif kind == "number":
            rows.append(f"| {name} | number | {stats.get('units')} | exact match {_fmt(stats.get('exact_match'))} | "
                        f"alpha (interval) {_fmt(stats.get('alpha_interval'))} |")
        elif stats.get("multiple"):
            rows.append(f"| {name} | multiple choice | {stats.get('units')} | mean Jaccard "
                        f"{_fmt(stats.get('mean_jaccard'))} | – |")
        else:
            rows.append(f"| {name} | choice | {stats.get('units')} | observed {_fmt(stats.get('observed_agreement'))} | "
                        f"alpha {_fmt(stats.get('alpha_nominal'))}; Cohen's kappa {_fmt(stats.get('cohen_kappa'))} |")
    return rows


def events_markdown(agreement: dict[str, Any], scheme: Scheme) -> list[str]:
    """The "Events" section of agreement.md: events, relations and span attributes (no lines
    when the scheme has none of them)."""
    fields = agreement["fields"]
    events = [f.name for f in scheme.fields if isinstance(f, EventsField) and f.name in fields]
    relations = [f.name for f in scheme.fields if isinstance(f, RelationsField) and f.name in fields]
    spans = [f.name for f in scheme.fields if isinstance(f, SpanField) and fields.get(f.name, {}).get("attributes")]
    if not (events or relations or spans):
        return []
    lines = ["## Events", ""]
    for name in events:
        stats = fields[name]
        kind = f" and the same {stats['type_attribute']}" if stats.get("type_attribute") else ""
        lines += [f"### {name}", "",
                  (f"{stats.get('events')} event(s) marked on the {stats.get('units')} article(s) labelled by two or "
                   f"more annotators; {stats.get('matched_events')} of them marked by two or more (clustered by "
                   "trigger overlap)."), "",
                  "| figure | value |", "|---|---|",
                  f"| trigger F1 (triggers overlap) | {_fmt(stats.get('trigger_f1'))} |",
                  f"| event F1 (triggers overlap{kind}) | {_fmt(stats.get('event_f1'))} |",
                  f"| argument F1 (same role, spans overlap) | {_fmt(stats.get('argument_f1'))} |",
                  f"| argument F1 (same role, same span) | {_fmt(stats.get('argument_exact_f1'))} |", ""]
        if stats.get("per_role"):
            lines += ["| role | arguments | overlap F1 | exact F1 |", "|---|---|---|---|",
                      *[f"| {role} | {per.get('arguments')} | {_fmt(per.get('overlap_f1'))} | "
                        f"{_fmt(per.get('exact_f1'))} |" for role, per in stats["per_role"].items()], ""]
        if stats.get("attributes"):
            lines += ["Attributes, on the events two or more annotators marked:", "",
                      *_attribute_rows(stats["attributes"]), ""]
        if stats.get("note"):
            lines += [f"_{stats['note']}_", ""]
    for name in relations:
        stats = fields[name]
        lines += [f"### {name} (relations)", "",
                  f"- exact match: micro F1 {_fmt(stats['exact'].get('micro_f1'))}, "
                  f"macro F1 {_fmt(stats['exact'].get('macro_f1'))}",
                  f"- overlap match: micro F1 {_fmt(stats['overlap'].get('micro_f1'))}, "
                  f"macro F1 {_fmt(stats['overlap'].get('macro_f1'))}", ""]
        if stats.get("per_label"):
            lines += ["| relation | relations | exact F1 | overlap F1 |", "|---|---|---|---|",
                      *[f"| {lab} | {per.get('relations')} | {_fmt(per.get('exact_f1'))} | "
                        f"{_fmt(per.get('overlap_f1'))} |" for lab, per in stats["per_label"].items()], ""]
        if stats.get("note"):
            lines += [f"_{stats['note']}_", ""]
    for name in spans:
        lines += [f"### {name}: span attributes", "",
                  "On the spans two or more annotators marked with the same start, end and label:", "",
                  *_attribute_rows(fields[name]["attributes"]), ""]
    return lines


def _edits_summary(agreement: dict[str, Any]) -> str:
    edits = agreement.get("edits", [])
    if edits:
        return (f"{len(edits)} annotation(s) were last saved by an account other than their author's. They are "
                "neither the author's nor the editor's independent vote, so agreement and gold leave them out.")
    if not agreement.get("edits_tracked", True):
        return ("not known: annotations.parquet does not say who saved each annotation last (pulled before edits "
                "were tracked); pull again to check.")
    return "none: every annotation was last saved by its author."


def _pairs_markdown(agreement: dict[str, Any]) -> list[str]:
    pairs = agreement.get("pairs", [])
    lines = ["## Annotator pairs", "",
             ("Each pair of annotators against each other on the articles both labelled (95% intervals: "
              "bootstrap over those articles)."), ""]
    if not pairs:
        return lines + ["No two annotators labelled the same article.", ""]
    for name in agreement["fields"]:
        first = next((p["fields"][name] for p in pairs if name in p["fields"]), None)
        if first is None:
            continue
        names = [k for k, _ in _metrics(first)]
        lines += [f"### {name}", "",
                  "| annotator A | annotator B | shared articles | answered by both | " + " | ".join(names) + " |",
                  "|---|---|---|---|" + "---|" * len(names)]
        for p in pairs:
            stats = p["fields"][name]
            a, b = p["annotators"]
            lines.append(f"| {a} | {b} | {p['articles']} | {stats.get('units')} | "
                         + " | ".join(_fmt(stats.get(k)) for k in names) + " |")
        lines.append("")
    return lines


# Plots -------------------------------------------------------------------------------------

def plot_agreement(agreement: dict[str, Any], scheme: Scheme, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for f in scheme.fields:
        stats = agreement["fields"].get(f.name, {})
        if isinstance(f, SpanField):
            fig, path = span_figure(stats, f), out / f"agreement-{f.name}.png"
        elif isinstance(f, ChoiceField) and not f.multiple:
            fig, path = confusion_figure(stats, f), out / f"agreement-{f.name}-confusion.png"
        else:
            continue
        _save(fig, path)
        plt.close(fig)
        written.append(path)
    return written


def span_figure(stats: dict[str, Any], f: SpanField) -> Any:
    """Per-label pairwise overlap F1; error bars only where the bootstrap gave an interval."""
    import matplotlib.pyplot as plt

    per = stats.get("per_label", {})
    labels = list(f.values) + [lab for lab in per if lab not in f.values]
    entries = [(per.get(lab) or {}).get("overlap_f1") or {} for lab in labels]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = list(range(len(labels)))
    ax.bar(xs, [e.get("value") or 0 for e in entries], color="#4363d8")
    with_ci = [(x, e["value"], e["ci"]) for x, e in zip(xs, entries) if e.get("value") is not None and e.get("ci")]
    if with_ci:
        ax.errorbar([x for x, _, _ in with_ci], [v for _, v, _ in with_ci],
                    yerr=[[v - c[0] for _, v, c in with_ci], [c[1] - v for _, v, c in with_ci]],
                    fmt="none", ecolor="black", capsize=3)
    for x, e in zip(xs, entries):
        if e.get("value") is None:
            ax.text(x, 0.02, "n/a", ha="center", fontsize=8)
        elif not e.get("ci"):
            ax.text(x, e["value"] + 0.02, "no CI", ha="center", fontsize=7)
    ax.set_xticks(xs, labels)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("pairwise overlap F1")
    ax.set_title(f"{f.name}: span agreement per label"
                 + (" (95% bootstrap CI over articles)" if with_ci else " (no intervals)"))
    fig.tight_layout()
    return fig


def tick_labels(values: list[str], width: int = 18) -> list[str]:
    """Choice values wrapped onto lines of ``width`` characters: whole, so never two alike."""
    return [textwrap.fill(v, width, break_long_words=False) or v for v in values]


def confusion_figure(stats: dict[str, Any], f: ChoiceField) -> Any:
    """Each pair of annotators on one article counted once: the lower triangle and the diagonal."""
    import matplotlib.pyplot as plt
    import numpy as np

    confusion = stats.get("confusion", [])
    labels = list(f.values) + sorted({v for c in confusion for v in c["labels"]} - set(f.values), key=str)
    code = {v: k for k, v in enumerate(labels)}
    data = np.full((len(labels), len(labels)), np.nan)
    data[np.tril_indices(len(labels))] = 0
    for c in confusion:
        i, j = sorted(code[v] for v in c["labels"])
        data[j, i] += c["count"]
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    ax.imshow(np.ma.masked_invalid(data), cmap="Blues", vmin=0, vmax=max(1.0, float(np.nanmax(data))))
    ticks = tick_labels(labels)
    ax.set_xticks(range(len(labels)), ticks, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), ticks, fontsize=7)
    for i, j in zip(*np.nonzero(np.nan_to_num(data))):
        ax.text(j, i, str(int(data[i, j])), ha="center", va="center", fontsize=7)
    ax.set_xlabel("one annotator's answer")
    ax.set_ylabel("the other's answer")
    ax.set_title(f"{f.name}: pairs of annotators on one article\n(each pair once; agreement on the diagonal)")
    fig.tight_layout()
    return fig


def _save(fig: Any, path: Path) -> None:
    with atomicio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
