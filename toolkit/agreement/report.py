"""``toolkit agree``: agreement figures and gold labels from the validated annotations.

Writes ``annotations/agreement.json`` (every figure), ``annotations/agreement.md`` (tables),
``annotations/agreement-spans.png`` (per-label span F1 with confidence intervals),
``annotations/agreement-<field>-confusion.png`` (confusion between annotators on each single
choice), and ``annotations/gold.parquet`` (one row per article, by the ``[gold]`` policy).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from .. import atomicio
from .metrics import compute_agreement
from ..errors import InputNotFound
from .gold import GoldPolicy, compute_gold, gold_table
from ..scheme import ChoiceField, Scheme, SpanField
from ..articles import article_texts
from ..validation import iter_parquet_records
from ..workspace import Workspace


@dataclass
class AgreeReport:
    agreement: dict[str, Any]
    resolved: int = 0
    unresolved: list[dict[str, str]] = field(default_factory=list)
    by_ground_truth: int = 0
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"resolved": self.resolved, "unresolved": self.unresolved, "by_ground_truth": self.by_ground_truth,
                "outputs": self.outputs, "agreement": self.agreement}


def agree(ws: Workspace) -> AgreeReport:
    path = ws.annotations_dir / "annotations.parquet"
    if not path.exists():
        raise InputNotFound("annotations/annotations.parquet does not exist yet", hint="run `toolkit pull` first")
    scheme = Scheme.load(ws.scheme_path)
    cfg = ws.config.gold
    policy = GoldPolicy(min_annotations=cfg.min_annotations, numbers=cfg.numbers, span_min_agree=cfg.span_min_agree)
    records = list(iter_parquet_records(path, scheme))
    gold_rows = compute_gold(records, scheme, policy)
    texts = article_texts(ws, {r["article_id"] for r in records})
    agreement = compute_agreement(records, scheme, gold={g["article_id"]: g for g in gold_rows}, texts=texts,
                                  bootstrap=cfg.bootstrap, seed=cfg.seed)
    unresolved = [{"article_id": g["article_id"], "reason": g["reason"]} for g in gold_rows
                  if g["status"] == "unresolved"]
    agreement["gold"] = {"policy": policy.to_dict(), "articles": len(gold_rows),
                         "resolved": len(gold_rows) - len(unresolved),
                         "by_ground_truth": sum(g["decided_by"] == "ground-truth" for g in gold_rows),
                         "unresolved": unresolved}
    report = AgreeReport(agreement=agreement, resolved=len(gold_rows) - len(unresolved), unresolved=unresolved,
                         by_ground_truth=agreement["gold"]["by_ground_truth"])
    out = ws.annotations_dir
    with atomicio.atomic_path(out / "gold.parquet") as tmp:
        import pyarrow.parquet as pq

        pq.write_table(gold_table(gold_rows, scheme), tmp)
    atomicio.write_json(out / "agreement.json", agreement)
    atomicio.write_text(out / "agreement.md", render_markdown(agreement, scheme))
    plots = plot_agreement(agreement, records, scheme, out)
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


def headline_rows(agreement: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for h in agreement.get("headline", []):
        value = "undefined" if h["value"] is None else f"{h['value']:.3f}"
        ci = "" if h.get("ci_low") is None else f"[{h['ci_low']:.3f}, {h['ci_high']:.3f}]"
        rows.append((h["field"], h["metric"], value, ci or (h.get("undefined") or "")))
    return rows


def render_markdown(agreement: dict[str, Any], scheme: Scheme) -> str:
    g = agreement["gold"]
    lines = [
        "# Inter-annotator agreement",
        "",
        f"{agreement['annotations']} annotations by {agreement['annotators']} annotator(s) on "
        f"{agreement['articles']} article(s), {agreement['articles_multi']} of them labelled by two or more; "
        f"{agreement['cancelled_excluded']} cancelled and {agreement.get('ground_truth_excluded', 0)} ground-truth "
        "annotation(s) left out of agreement. 95% confidence intervals: percentile bootstrap over articles "
        f"({agreement['bootstrap']['resamples']} resamples, seed {agreement['bootstrap']['seed']}).",
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
        lines.append(f"### {name} ({stats.get('kind')})")
        lines.append("")
        metrics = [(k, v) for k, v in stats.items() if isinstance(v, dict) and "value" in v]
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
    lines += ["## Annotators", "", "| annotator | tasks done | cancelled | median lead time (s) | agreement with gold |",
              "|---|---|---|---|---|"]
    for who, detail in agreement.get("annotators_detail", {}).items():
        gold = detail.get("gold")
        gold_text = "–" if not gold else ", ".join(
            f"{f}: {_fmt(next((v for v in m.values() if isinstance(v, dict) and 'value' in v), None))}"
            for f, m in gold.items() if isinstance(m, dict))
        lines.append(f"| {who} | {detail.get('tasks_done')} | {detail.get('cancelled')} | "
                     f"{detail.get('median_lead_time')} | {gold_text} |")
    lines += ["", "## Gold labels", "",
              f"Policy: {json.dumps(g['policy'])}. {g['resolved']} of {g['articles']} article(s) resolved "
              f"({g['by_ground_truth']} by a ground-truth / reviewed annotation); {len(g['unresolved'])} unresolved."]
    if g["unresolved"]:
        lines += ["", "| unresolved article | reason |", "|---|---|",
                  *[f"| {u['article_id']} | {u['reason']} |" for u in g["unresolved"]]]
    return "\n".join(lines) + "\n"


# Plots -------------------------------------------------------------------------------------

def plot_agreement(agreement: dict[str, Any], records: list[dict[str, Any]], scheme: Scheme, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for f in scheme.fields:
        stats = agreement["fields"].get(f.name, {})
        if isinstance(f, SpanField):
            per = stats.get("per_label", {})
            labels = list(f.values)
            values = [((per.get(l) or {}).get("overlap_f1") or {}).get("value") for l in labels]
            cis = [((per.get(l) or {}).get("overlap_f1") or {}).get("ci") for l in labels]
            fig, ax = plt.subplots(figsize=(7, 3.5))
            xs = range(len(labels))
            heights = [v if v is not None else 0 for v in values]
            errors = [[(v - c[0]) if v is not None and c else 0 for v, c in zip(values, cis)],
                      [(c[1] - v) if v is not None and c else 0 for v, c in zip(values, cis)]]
            ax.bar(xs, heights, yerr=errors, capsize=3, color="#4363d8")
            for x, v in zip(xs, values):
                if v is None:
                    ax.text(x, 0.02, "n/a", ha="center", fontsize=8)
            ax.set_xticks(list(xs), labels)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("pairwise overlap F1")
            ax.set_title(f"{f.name}: span agreement per label (95% CI)")
            fig.tight_layout()
            path = out / f"agreement-{f.name}.png"
            _save(fig, path)
            plt.close(fig)
            written.append(path)
        elif isinstance(f, ChoiceField) and not f.multiple:
            matrix = choice_confusion(records, f)
            labels = list(f.values)
            fig, ax = plt.subplots(figsize=(7.5, 6))
            data = [[matrix.get((a, b), 0) for b in labels] for a in labels]
            ax.imshow(data, cmap="Blues")
            short = [l if len(l) <= 18 else l[:16] + "…" for l in labels]
            ax.set_xticks(range(len(labels)), short, rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(labels)), short, fontsize=7)
            for i, row in enumerate(data):
                for j, count in enumerate(row):
                    if count:
                        ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
            ax.set_title(f"{f.name}: pairs of annotators on the same article")
            fig.tight_layout()
            path = out / f"agreement-{f.name}-confusion.png"
            _save(fig, path)
            plt.close(fig)
            written.append(path)
    return written


def _save(fig: Any, path: Path) -> None:
    with atomicio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})


def choice_confusion(records: list[dict[str, Any]], f: ChoiceField) -> Counter:
    """(answer of one annotator, answer of another) over every pair on the same article, both ways."""
    by_article: dict[str, list[Any]] = {}
    for r in records:
        if r["was_cancelled"] or r["ground_truth"] or r.get(f.name) is None:
            continue
        by_article.setdefault(r["article_id"], []).append(r[f.name])
    counts: Counter = Counter()
    for answers in by_article.values():
        for a, b in combinations(answers, 2):
            counts[(a, b)] += 1
            counts[(b, a)] += 1
    return counts
