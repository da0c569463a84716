"""The learning curve's outputs and the one-line figures of a model.

``headline`` picks the figures a maintainer looks at first from an ``evaluate`` report: the
micro F1 of the first span field (overlap and exact, with their 95 % intervals) and the
accuracy of the first choice field. ``write_curve`` writes ``toolkit train --curve``'s points
to ``annotations/evaluation/curve.json``, ``curve.md`` and ``curve.png``: if the last points
still climb, more annotation is still paying off.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from .. import atomicio
from ..workspace import Workspace

__all__ = ["headline", "headline_figures", "write_curve"]

EVALUATION_DIR = "evaluation"


def headline_figures(report: dict[str, Any] | None) -> dict[str, Any]:
    """{"overlap": (f1, ci), "exact": (f1, ci), "choice": (accuracy, ci)} from an evaluate report."""
    out: dict[str, Any] = {"overlap": (None, None), "exact": (None, None), "choice": (None, None)}
    if not report:
        return out
    fields = report.get("fields", {})
    spans = next((v for v in fields.values() if v.get("kind") == "spans"), None)
    choice = next((v for v in fields.values() if v.get("kind") == "choice" and not v.get("multiple")), None)
    if spans is not None:
        for match in ("overlap", "exact"):
            micro = spans["micro"][match]
            out[match] = (micro.get("f1"), micro.get("f1_ci"))
    if choice is not None:
        out["choice"] = (choice.get("accuracy"), choice.get("accuracy_ci"))
    return out


def _cell(value: float | None, ci: Any) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.3f}"
    if ci and ci[0] is not None:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def headline(report: dict[str, Any] | None) -> list[str]:
    """[entities F1 overlap, entities F1 exact, choice accuracy] as text with intervals."""
    figures = headline_figures(report)
    return [_cell(*figures["overlap"]), _cell(*figures["exact"]), _cell(*figures["choice"])]


def write_curve(ws: Workspace, curve: dict[str, Any]) -> list[str]:
    """Write curve.json, curve.md and curve.png under annotations/evaluation/; their paths."""
    folder = ws.annotations_dir / EVALUATION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomicio.write_json(folder / "curve.json", curve)
    lines = ["# Learning curve", "",
             f"Pipelines trained on growing shares of the train split ({curve['options']['spans']}, "
             f"{curve['options']['epochs']} epochs, seed {curve['options']['seed']}), each measured on the "
             f"{curve['n_validation']} validation article(s). 95 % bootstrap intervals in brackets.", "",
             "| train share | train articles | entities F1 (overlap) | entities F1 (exact) | choice accuracy |",
             "|---|---:|---|---|---|"]
    for point in curve["points"]:
        cells = headline(point["figures"])
        lines.append(f"| {point['fraction']:.0%} | {point['n_train']} | " + " | ".join(cells) + " |")
    atomicio.write_text(folder / "curve.md", "\n".join(lines) + "\n")
    _plot(curve, folder / "curve.png")
    return [ws.relative(folder / name) for name in ("curve.md", "curve.json", "curve.png")]


def _plot(curve: dict[str, Any], path: os.PathLike[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p["n_train"] for p in curve["points"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, name in (("overlap", "entities F1 (overlap)"), ("exact", "entities F1 (exact)"),
                      ("choice", "choice accuracy")):
        values = [headline_figures(p["figures"])[key] for p in curve["points"]]
        ys = [v[0] for v in values]
        if all(y is None for y in ys):
            continue
        ax.plot(xs, [y if y is not None else float("nan") for y in ys], marker="o", label=name)
        lo = [v[1][0] if v[1] and v[1][0] is not None else float("nan") for v in values]
        hi = [v[1][1] if v[1] and v[1][1] is not None else float("nan") for v in values]
        ax.fill_between(xs, lo, hi, alpha=0.15)
    ax.set_xlabel("training articles")
    ax.set_ylabel("validation score")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Learning curve")
    fig.tight_layout()
    folder = os.path.dirname(os.fspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
