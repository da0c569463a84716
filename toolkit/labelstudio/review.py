"""``toolkit review``: send unresolved (or low-agreement) articles back for adjudication.

Each selected article becomes a task in a separate review project ("<title> — review", same
labeling config), with every annotator's answer attached as a prediction whose model version
is a short, readable name of its annotator ("ann", "ben"; Label Studio cuts long ones), so
the adjudicator sees the versions side by side and can accept or edit one. None of them is
pre-filled (``show_collab_predictions`` off): the adjudicator starts from the article, not
from one annotator's answer.

The review tasks carry ``data.toolkit_review = true`` and the article's annotators
(``data.toolkit_annotators``); the project's instructions say who may adjudicate (anyone but
an article's own annotators, or ``[campaign] adjudicators``). ``toolkit pull`` reads the
review project with the main one; an adjudicator's submission becomes ground truth, which
``toolkit agree`` takes as the gold answer, and one by an article's own annotator (or by
someone not among the adjudicators) is quarantined as ``self-adjudication``, loudly.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


from .. import parquetio
from ..errors import InputNotFound
from .assignment import least_loaded
from .client import client_for, connect
from .project import (REVIEW_ANNOTATORS_KEY, REVIEW_KEY, REVIEW_QUEUE_PREFIX, save_queue_id,
                      save_review_project_id, server_article_ids, stored_queue_ids, stored_review_project_id, titled)
from ..scheme import (Attribute, ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField, TextField,
                      build_labeling_config)
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
    # With [campaign] adjudicators: review tasks sent to each adjudicator's queue, and articles
    # every listed adjudicator annotated (nobody may adjudicate them).
    queues: dict[str, int] = field(default_factory=dict)
    no_adjudicator: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record_to_results(record: dict[str, Any], scheme: Scheme) -> list[dict[str, Any]]:
    """A normalised record back into Label Studio results (the inverse of the normaliser).

    Spans, triggers, their per-region attributes, event arguments and relations come back as the
    labeling view saves them: regions with ids, attributes carrying their region's id, relations
    between region ids. An argument or relation end that is not a span of the record gets a region
    of its own, so nothing the record says is lost on the way to a reviewer.
    """
    results: list[dict[str, Any]] = []
    region_ids: dict[tuple[int, int, str], str] = {}

    def region(from_name: str, start: int, end: int, text: str, label: str) -> str:
        key = (start, end, label)
        if key not in region_ids:
            region_ids[key] = f"{from_name}-{len(region_ids) + 1}"
            results.append({"id": region_ids[key], "from_name": from_name, "to_name": "text", "type": "labels",
                            "value": {"start": start, "end": end, "text": text, "labels": [label]}})
        return region_ids[key]

    def attribute_results(region_id: str, at: dict[str, Any], attributes: tuple[Attribute, ...],
                          values: dict[str, Any]) -> None:
        for a in attributes:
            result = _value_result(a.field, values.get(a.name))
            if result is not None:
                result["value"] = {**at, **result["value"]}
                results.append({"id": region_id, "from_name": a.name, "to_name": "text", **result})

    span_field_of = {label: f.name for f in reversed(scheme.span_fields) for label in f.values}

    def span_region(span: dict[str, Any]) -> str:
        return region(span_field_of.get(span["label"], scheme.span_fields[0].name if scheme.span_fields else "text"),
                      span["start"], span["end"], span["text"], span["label"])

    links: list[dict[str, Any]] = []
    for f in scheme.fields:
        value = record.get(f.name)
        base = {"from_name": f.name, "to_name": "text"}
        if isinstance(f, SpanField):
            for s in value or []:
                rid = region(f.name, s["start"], s["end"], s["text"], s["label"])
                attribute_results(rid, {"start": s["start"], "end": s["end"], "text": s["text"]},
                                  f.attributes_for(s["label"]), s)
        elif isinstance(f, EventsField):
            for event in value or []:
                t = event["trigger"]
                rid = region(f.name, t["start"], t["end"], t["text"], f.trigger.value)
                attribute_results(rid, dict(t), f.attributes, event)
                links += [{"from_id": rid, "to_id": span_region(a), "type": "relation", "direction": "right",
                           "labels": [a["role"]]} for a in event.get("arguments") or []]
        elif isinstance(f, RelationsField):
            links += [{"from_id": span_region(r["head"]), "to_id": span_region(r["tail"]), "type": "relation",
                       "direction": "right", "labels": [r["label"]]} for r in value or []]
        else:
            result = _value_result(f, value)
            if result is not None:
                results.append({**base, **result})
    return results + links


def _value_result(f: Any, value: Any) -> dict[str, Any] | None:
    """``type`` and ``value`` of a choice, number or text answer; None when it is empty."""
    if isinstance(f, ChoiceField) and value not in (None, []):
        return {"type": "choices", "value": {"choices": value if f.multiple else [value]}}
    if isinstance(f, NumberField) and value is not None:
        return {"type": "number", "value": {"number": value}}
    if isinstance(f, TextField) and value:
        return {"type": "textarea", "value": {"text": [value]}}
    return None


def select_for_review(ws: Workspace, *, lowest: int = 0, include_unresolved: bool = True) -> list[str]:
    """Article ids to adjudicate: the unresolved ones in gold.parquet, plus the ``lowest``
    by per-article agreement (the share of fields on which every annotator gave the same answer)."""
    gold_path = ws.annotations_dir / "gold.parquet"
    if not gold_path.exists():
        raise InputNotFound("annotations/gold.parquet does not exist yet", hint="run `toolkit agree` first")
    gold = parquetio.read_table(gold_path, columns=["article_id", "status", "decided_by"]).to_pylist()
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


def _who(record: dict[str, Any]) -> str:
    return str(record["annotator_email"] or f"user {record['annotator_id']}")


def version_names(annotators: list[str]) -> list[str]:
    """Short names for the annotators' versions, unique within a task: the e-mail's local part
    (Label Studio's prediction tabs show about a dozen characters), numbered when two clash."""
    short = [a.split("@")[0][:12] or a[:12] for a in annotators]
    return [name if short.count(name) == 1 else f"{name} {i + 1}" for i, name in enumerate(short)]


def review_settings(ws: Workspace, adjudicator: str | None = None) -> dict[str, Any]:
    """A review project's settings: one adjudication per task, no version pre-filled, and
    instructions that say who may adjudicate."""
    who = (f"This is the review queue of {adjudicator}: only they adjudicate here, and it holds no article "
           "they annotated." if adjudicator else
           "Anyone may adjudicate an article they did not annotate themselves.")
    return {
        "maximum_annotations": 1,
        "show_collab_predictions": False,
        "show_instruction": True,
        "expert_instruction": (
            "<h2>Adjudication</h2><p>Each task is an article the annotators disagreed on. Their versions are "
            "listed as predictions, named after each annotator; none is filled in for you. Read the article, "
            f"compare the versions, and submit the answer the guidelines call for.</p><p>{html.escape(who)} "
            "If you annotated an article yourself (its annotators are listed in the task), press Skip: "
            "your answer there would not be counted.</p>"),
    }


def review(ws: Workspace, *, articles: list[str] | None = None, lowest: int = 0,
           dry_run: bool = False) -> ReviewReport:
    """Import a review task for each selected article: into the shared review project, or, with
    ``[campaign] adjudicators``, into the review queue of one adjudicator who did not annotate it
    (the least loaded), so that nobody is ever asked to adjudicate their own work."""
    scheme = Scheme.load(ws.scheme_path)
    selected = articles if articles is not None else select_for_review(ws, lowest=lowest)
    versions = _by_article(ws, scheme)
    tasks = {t["data"]["article_id"]: t for _n, t in iter_tasks(ws.tasks_path)} if ws.tasks_path.exists() else {}
    adjudicators = [a.lower() for a in ws.config.campaign.adjudicators]
    conn = connect(ws)
    report = ReviewReport(server=conn.url, project_id=stored_review_project_id(ws, conn), selected=list(selected))
    page_size = ws.config.labelstudio.page_size
    with client_for(ws, conn) as client:
        queues = stored_queue_ids(ws, conn, prefix=REVIEW_QUEUE_PREFIX)
        existing: set[str] = set()
        load = {person: 0 for person in adjudicators}
        if report.project_id is not None:
            client.project(report.project_id)  # a clear 404 if it was deleted
            existing |= server_article_ids(client, report.project_id, page_size)
        for person, project_id in queues.items():
            there = server_article_ids(client, project_id, page_size)
            existing |= there
            if person in load:
                load[person] += len(there)
        to_send: dict[str | None, list[dict[str, Any]]] = {}
        for article in selected:
            if article in existing:
                report.already_there += 1
                continue
            if article not in tasks:
                raise InputNotFound(f"article {article} is not in annotations/tasks.jsonl",
                                    hint="run `toolkit tasks`, or check the article id")
            own = sorted(versions.get(article, []), key=lambda r: r["annotation_id"])
            annotators = sorted({_who(r) for r in own})
            destination = None
            if adjudicators:
                eligible = [a for a in adjudicators if a not in {x.lower() for x in annotators}]
                if not eligible:
                    report.no_adjudicator.append(article)
                    continue
                (destination,) = least_loaded(article, eligible, load, 1)
                load[destination] += 1
            data = {**tasks[article]["data"], REVIEW_KEY: True, REVIEW_ANNOTATORS_KEY: ", ".join(annotators)}
            names = version_names([_who(r) for r in own])
            predictions = [{"model_version": name, "result": record_to_results(r, scheme)}
                           for name, r in zip(names, own)]
            report.predictions += len(predictions)
            to_send.setdefault(destination, []).append({"data": data, "predictions": predictions})
        report.sent = sum(len(batch) for batch in to_send.values())
        report.queues = {person: len(batch) for person, batch in to_send.items() if person}
        if dry_run or not to_send:
            return report
        for person, batch in to_send.items():
            project_id = report.project_id if person is None else queues.get(person)
            if project_id is None:
                suffix = " — review" + (f" · {person.split('@')[0]}" if person else "")
                project_id = client.create_project(titled(ws.config.project.title, suffix),
                                                   build_labeling_config(scheme),
                                                   "Adjudication of unresolved articles; each prediction is one "
                                                   "annotator's version. Your submission becomes the gold answer.")
                if person is None:
                    save_review_project_id(ws, conn, project_id)
                    report.project_id = project_id
                else:
                    save_queue_id(ws, conn, person, project_id, prefix=REVIEW_QUEUE_PREFIX)
            client.update_project(project_id, review_settings(ws, person))
            client.import_tasks(project_id, batch)
    return report
