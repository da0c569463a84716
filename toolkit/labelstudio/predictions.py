"""Suggestions waiting for annotators: prediction files imported onto the tasks, once each.

``annotations/predictions/<model_version>.jsonl`` holds one prediction per article, as the
pre-annotation step writes it (``article_id``, ``model_version``, ``score``, ``result`` in Label
Studio's format). ``toolkit push`` attaches them to the tasks already on the server,
idempotently: a task never gets a second prediction of the same ``model_version``, however often
push runs. A line that is not a valid prediction for the scheme is reported with its file and
line, and the others go on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from ..scheme import Scheme, build_task_schema
from ..workspace import Workspace
from .client import LabelStudioClient

__all__ = ["PREDICTIONS_DIR", "PredictionsReport", "is_blind", "iter_prediction_files", "import_predictions"]

PREDICTIONS_DIR = "predictions"


@dataclass
class PredictionsReport:
    imported: int = 0
    already_there: int = 0
    not_on_server: int = 0  # articles with no task in this project (not pushed, or not theirs)
    blind: int = 0  # kept without a suggestion by [preannotate] blind_fraction
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
    given), skipping a (task, model_version) the server already has and the blind share."""
    blind_fraction, seed = ws.config.preannotate.blind_fraction, ws.config.preannotate.seed
    report = PredictionsReport()
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
        if is_blind(article, blind_fraction, seed):
            report.blind += 1
            continue
        task_id = tasks[0]["id"]
        key = (task_id, record["model_version"])
        if key in have:
            report.already_there += 1
            continue
        client.create_prediction(task_id, record["model_version"], record["result"], record.get("score"))
        have.add(key)
        report.imported += 1
    return report
