"""Suggestions waiting for annotators: prediction files imported onto the tasks, once each.

``annotations/predictions/<model_version>.jsonl`` holds one prediction per article, as the
pre-annotation step writes it (``article_id``, ``model_version``, ``score``, ``result`` in Label
Studio's format). ``toolkit push`` attaches them to the tasks already on the server,
idempotently: a task never gets a second prediction of the same ``model_version``, however often
push runs. A line that is not a valid prediction for the scheme is reported with its file and
line, and the others go on.

Which suggestions annotators see: Label Studio shows the predictions of one ``model_version``,
the project's. Push sets it to ``[preannotate] show``, or to the version ``toolkit preannotate``
wrote last (``annotations/predictions/index.json``). With ``[preannotate] order =
"uncertainty"`` a blind article still gets a prediction of that version, with its score and no
result: Label Studio's uncertainty sampling serves only tasks with a prediction of the
project's version, so without one the blind share would wait at the end of every queue, and
the with/without comparison would mix in how far into the round each was labelled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from .. import atomicio
from ..errors import InputNotFound
from ..scheme import Scheme, build_task_schema
from ..workspace import Workspace
from .client import LabelStudioClient

__all__ = ["PREDICTIONS_DIR", "PredictionsReport", "is_blind", "iter_prediction_files", "import_predictions",
           "shown_version", "record_latest", "written_last"]

PREDICTIONS_DIR = "predictions"
INDEX = "index.json"


@dataclass
class PredictionsReport:
    imported: int = 0
    already_there: int = 0
    not_on_server: int = 0  # articles with no task in this project (not pushed, or not theirs)
    blind: int = 0  # kept without a suggestion by [preannotate] blind_fraction
    shown: str | None = None  # the model_version annotators see
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def is_blind(article_id: str, fraction: float, seed: str) -> bool:
    """Whether an article is in the deterministic share that gets no suggestion: the same
    articles on every machine and every run, whatever order they come in."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\0{article_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def record_latest(ws: Workspace, model_version: str) -> None:
    """Note ``model_version`` as the prediction file written last (what push shows by default)."""
    atomicio.write_json(ws.annotations_dir / PREDICTIONS_DIR / INDEX, {"latest": model_version})


def written_last(ws: Workspace) -> str | None:
    """The model_version ``toolkit preannotate`` wrote last, as ``index.json`` records it."""
    try:
        latest = json.loads((ws.annotations_dir / PREDICTIONS_DIR / INDEX).read_text(encoding="utf-8")).get("latest")
    except (OSError, ValueError, AttributeError):
        return None
    return latest if isinstance(latest, str) else None


def shown_version(ws: Workspace) -> str | None:
    """The model_version whose suggestions annotators see: ``[preannotate] show``, else the one
    ``toolkit preannotate`` wrote last, else the newest file; None when there is none."""
    folder = ws.annotations_dir / PREDICTIONS_DIR
    files = {p.stem: p for p in folder.glob("*.jsonl")} if folder.is_dir() else {}
    wanted = ws.config.preannotate.show
    if wanted:
        if wanted not in files:
            raise InputNotFound(f"[preannotate] show = {wanted!r}: there is no "
                                f"{ws.relative(folder / (wanted + '.jsonl'))}",
                                hint="run `toolkit preannotate`, or name one of: " + (", ".join(sorted(files)) or "(none yet)"))
        return wanted
    latest = written_last(ws)
    if latest is not None and latest in files:
        return latest
    if not files:
        return None
    return max(files, key=lambda name: (files[name].stat().st_mtime, name))


def iter_prediction_files(ws: Workspace, scheme: Scheme,
                          problems: list[str]) -> Iterator[dict[str, Any]]:
    """Every valid prediction line of ``annotations/predictions/*.jsonl``; each bad line is
    named in ``problems`` (file:line and why) and skipped."""
    folder = ws.annotations_dir / PREDICTIONS_DIR
    if not folder.is_dir():
        return
    item_schema = build_task_schema(scheme)["properties"]["predictions"]["items"]
    validator = jsonschema.Draft202012Validator(item_schema)
    for path in sorted(folder.glob("*.jsonl")):
        where = ws.relative(path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                problem = _problem(line, path, validator)
                if isinstance(problem, str):
                    problems.append(f"{where}:{number}: {problem}")
                else:
                    yield problem


def _problem(line: str, path: Path, validator: jsonschema.protocols.Validator) -> str | dict[str, Any]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        return f"not JSON ({exc if isinstance(exc, json.JSONDecodeError) else 'nested too deeply'})"
    if not isinstance(record, dict) or not isinstance(record.get("article_id"), str):
        return "not a prediction: an object with article_id, model_version, score and result is expected"
    if record.get("model_version") != path.stem:
        return f"model_version {record.get('model_version')!r} differs from the file's name {path.stem!r}"
    prediction = {k: record[k] for k in ("model_version", "score", "result") if k in record}
    error = next(iter(sorted(validator.iter_errors(prediction), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top)"
        return f"{at}: {error.message}"
    return record


def import_predictions(ws: Workspace, scheme: Scheme, client: LabelStudioClient, project_id: int,
                       tasks_by_article: dict[str, list[dict[str, Any]]],
                       articles: set[str] | None = None) -> PredictionsReport:
    """Attach every prediction file's suggestions to the project's tasks (only ``articles`` when
    given), skipping a (task, model_version) the server already has and the blind share (with
    uncertainty ordering, the blind share gets the shown version's score and no result)."""
    blind_fraction, seed = ws.config.preannotate.blind_fraction, ws.config.preannotate.seed
    score_only = ws.config.preannotate.order == "uncertainty"
    report = PredictionsReport(shown=shown_version(ws))
    records = list(iter_prediction_files(ws, scheme, report.problems))
    if not records:
        return report
    have = {(int(p["task"]), str(p.get("model_version"))) for p in client.predictions(project_id)}
    for record in records:
        article = record["article_id"]
        if articles is not None and article not in articles:
            continue
        tasks = tasks_by_article.get(article)
        if not tasks:
            report.not_on_server += 1
            continue
        result = record["result"]
        if is_blind(article, blind_fraction, seed):
            report.blind += 1
            if not (score_only and record["model_version"] == report.shown):
                continue
            result = []
        task_id = tasks[0]["id"]
        key = (task_id, record["model_version"])
        if key in have:
            report.already_there += 1
            continue
        client.create_prediction(task_id, record["model_version"], result, record.get("score"))
        have.add(key)
        report.imported += 1
    return report
