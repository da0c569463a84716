"""``toolkit review``: send unresolved (or low-agreement) articles back for adjudication.

Each selected article becomes a task in a separate review project ("<title> — review", same
labeling config), with every annotator's answer attached as a prediction whose model version
is the annotator's name, so the reviewer sees the versions side by side and can accept or
edit one. The review tasks carry ``data.toolkit_review = true``; ``toolkit pull`` reads the
review project together with the main one and marks the reviewer's submissions as ground
truth, which ``toolkit agree`` then takes as the gold answer.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from ..errors import InputNotFound
from .client import client_for, connect
from .project import REVIEW_KEY, save_review_project_id, server_article_ids, stored_review_project_id
from ..scheme import ChoiceField, NumberField, Scheme, SpanField, TextField, build_labeling_config
from .tasks import iter_tasks
from ..validation import iter_parquet_records
from ..workspace import Workspace


@dataclass
class ReviewReport:
    server: str
    project_id: int | None
    selected: list[str] = field(default_factory=list)
    sent: int = 0
    already_there: int = 0
    predictions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record_to_results(record: dict[str, Any], scheme: Scheme) -> list[dict[str, Any]]:
    """A normalised record back into Label Studio results (the inverse of the normaliser)."""
    results: list[dict[str, Any]] = []
    for f in scheme.fields:
        value = record.get(f.name)
        base = {"from_name": f.name, "to_name": "text"}
        if isinstance(f, SpanField):
            results += [{**base, "type": "labels", "value": {"start": s["start"], "end": s["end"], "text": s["text"],
                                                              "labels": [s["label"]]}} for s in value or []]
        elif isinstance(f, ChoiceField) and value not in (None, []):
            results.append({**base, "type": "choices", "value": {"choices": value if f.multiple else [value]}})
        elif isinstance(f, NumberField) and value is not None:
            results.append({**base, "type": "number", "value": {"number": value}})
        elif isinstance(f, TextField) and value:
            results.append({**base, "type": "textarea", "value": {"text": [value]}})
    return results


def select_for_review(ws: Workspace, *, lowest: int = 0, include_unresolved: bool = True) -> list[str]:
    """Article ids to adjudicate: the unresolved ones in gold.parquet, plus the ``lowest``
    by per-article agreement (the share of fields on which every annotator gave the same answer)."""
    gold_path = ws.annotations_dir / "gold.parquet"
    if not gold_path.exists():
        raise InputNotFound("annotations/gold.parquet does not exist yet", hint="run `toolkit agree` first")
    gold = pq.read_table(gold_path, columns=["article_id", "status", "decided_by"]).to_pylist()
    chosen = [g["article_id"] for g in gold if include_unresolved and g["status"] == "unresolved"]
    if lowest:
        scheme = Scheme.load(ws.scheme_path)
        truth = {g["article_id"] for g in gold if g["decided_by"] == "ground-truth"}
        scores = article_agreement(ws, scheme)
        ranked = sorted((score, aid) for aid, score in scores.items() if aid not in truth and aid not in chosen)
        chosen += [aid for _score, aid in ranked[:lowest]]
    return chosen


def _by_article(ws: Workspace, scheme: Scheme) -> dict[str, list[dict[str, Any]]]:
    path = ws.annotations_dir / "annotations.parquet"
    if not path.exists():
        raise InputNotFound("annotations/annotations.parquet does not exist yet", hint="run `toolkit pull` first")
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in iter_parquet_records(path, scheme):
        if not record["was_cancelled"] and not record["ground_truth"]:
            grouped[record["article_id"]].append(record)
    return grouped


def article_agreement(ws: Workspace, scheme: Scheme) -> dict[str, float]:
    scores = {}
    for article, records in _by_article(ws, scheme).items():
        if len(records) < 2:
            continue
        same = 0
        for f in scheme.fields:
            answers = {json.dumps(sorted(r[f.name], key=json.dumps) if isinstance(r[f.name], list) else r[f.name],
                                  sort_keys=True) for r in records}
            same += len(answers) == 1
        scores[article] = same / len(scheme.fields)
    return scores


def review(ws: Workspace, *, articles: list[str] | None = None, lowest: int = 0,
           dry_run: bool = False) -> ReviewReport:
    """Create/find the review project and import a review task for each selected article."""
    scheme = Scheme.load(ws.scheme_path)
    selected = articles if articles is not None else select_for_review(ws, lowest=lowest)
    versions = _by_article(ws, scheme)
    tasks = {t["data"]["article_id"]: t for _n, t in iter_tasks(ws.tasks_path)} if ws.tasks_path.exists() else {}
    conn = connect(ws)
    report = ReviewReport(server=conn.url, project_id=stored_review_project_id(ws, conn), selected=list(selected))
    with client_for(ws, conn) as client:
        existing: set[str] = set()
        if report.project_id is not None:
            client.project(report.project_id)  # a clear 404 if it was deleted
            existing = server_article_ids(client, report.project_id, ws.config.labelstudio.page_size)
        to_send = []
        for article in selected:
            if article in existing:
                report.already_there += 1
                continue
            if article not in tasks:
                raise InputNotFound(f"article {article} is not in annotations/tasks.jsonl",
                                    hint="run `toolkit tasks`, or check the article id")
            data = {**tasks[article]["data"], REVIEW_KEY: True}
            predictions = [{"model_version": str(r["annotator_email"] or f"annotator {r['annotator_id']}"),
                            "result": record_to_results(r, scheme)}
                           for r in sorted(versions.get(article, []), key=lambda r: r["annotation_id"])]
            report.predictions += len(predictions)
            to_send.append({"data": data, "predictions": predictions})
        report.sent = len(to_send)
        if dry_run or not to_send:
            return report
        if report.project_id is None:
            title = f"{ws.config.project.title} — review"
            report.project_id = client.create_project(title, build_labeling_config(scheme),
                                                      "Adjudication of unresolved articles; each prediction is one "
                                                      "annotator's version. Your submission becomes the gold answer.")
            save_review_project_id(ws, conn, report.project_id)
        client.import_tasks(report.project_id, to_send)
    return report
