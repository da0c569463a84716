"""``toolkit pull``: every task and annotation back from Label Studio, losing nothing.

1. Read: from the server in chunks of task ids (``/api/projects/{id}/export?ids[]=...``, the
   export serializer, with annotations, drafts and predictions), each chunk saved to a
   checkpoint folder as it arrives, so an interrupted pull resumes where it stopped; or from
   an export file (``--from-export``), streamed. The pull is complete only when the number
   of distinct tasks read equals the server's count, before and after reading.
2. Snapshot: the raw tasks are written to ``annotations/exports/<UTC timestamp>.jsonl.gz``
   (immutable; its sha256 in ``annotations/exports/index.json``) before anything else.
3. Normalise and validate: one record per annotation (``toolkit.validation.normalise``); records that
   fail the annotation JSON Schema, spans whose offsets cannot be trusted, and annotations
   that do not fit the scheme go to ``annotations/quarantine.jsonl`` with their reasons.
4. Write ``annotations.parquet`` (valid records), ``drafts.parquet``, ``predictions.parquet``,
   ``quarantine.jsonl`` and ``pull-report.json`` -- each atomically, only after everything
   above succeeded, so a failed pull leaves the previous state as it was.

What changed since the previous pull (added, changed, deleted annotations; deleted tasks)
is reported. An annotation deleted on the server leaves annotations.parquet (which mirrors
the server) but stays in the earlier snapshot, which is never modified.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from .. import atomicio, journal, parquetio
from ..config import MAX_IDS_PER_REQUEST
from ..errors import InputNotFound, ProjectNotFound, PullIncomplete, PullRefused
from .client import Connection, LabelStudioClient, client_for, connect
from ..validation import (
    NormalisedTask,
    OffsetStats,
    drafts_to_table,
    normalise_task,
    predictions_to_table,
    records_arrow_schema,
    records_to_table,
    result_hash,
)
from ..progress import NullProgress, Progress
from .project import (REVIEW_ANNOTATORS_KEY, REVIEW_KEY, REVIEW_QUEUE_PREFIX, resolve_project, server_key,
                      stored_queue_ids, stored_review_project_id)
from ..scheme import Scheme
from ..articles import article_ids
from ..validation import RecordChecker, ValidationError, json_line, quarantine_entry
from ..workspace import Workspace

_BATCH = 2000


@dataclass
class Changes:
    # New annotations, valid or quarantined: a submission that failed validation is still new.
    added: list[int] = field(default_factory=list)
    added_quarantined: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    tasks_deleted: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"added": len(self.added), "changed": len(self.changed), "deleted": len(self.deleted),
                "tasks_deleted": len(self.tasks_deleted), "added_quarantined": len(self.added_quarantined),
                "added_ids": self.added, "added_quarantined_ids": self.added_quarantined, "changed_ids": self.changed,
                "deleted_ids": self.deleted, "tasks_deleted_ids": self.tasks_deleted}


@dataclass
class PullReport:
    source: dict[str, Any]
    snapshot: str = ""
    snapshot_sha256: str = ""
    tasks: int = 0
    annotations: int = 0
    valid: int = 0
    cancelled: int = 0
    ground_truth: int = 0
    drafts: int = 0
    predictions: int = 0
    quarantined: int = 0
    quarantined_by_type: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    changes: Changes = field(default_factory=Changes)
    resumed_chunks: int = 0
    # When the oldest of those chunks was read (ISO 8601, UTC). Their annotations were checked
    # against the server; their drafts are as they were then: Label Studio moves neither a
    # task's updated_at nor its counts when a draft is saved.
    resumed_read_at: str | None = None
    # Chunks of an interrupted pull that had changed on the server since, and were read again.
    stale_chunks_reread: int = 0
    # Annotations last changed by an account other than their annotator (not independent votes).
    edits: list[dict[str, Any]] = field(default_factory=list)
    # Export files the server wrote for this pull and the toolkit removed (embedded server only).
    server_exports_removed: int = 0
    # Articles present in more than one task of a project (article_id -> task ids): a duplicate
    # import; `toolkit push` repairs those it made, the rest need a look.
    duplicate_articles: dict[str, list[Any]] = field(default_factory=dict)
    # Adjudications (review project answers) that did not become gold, each with a link and why.
    adjudication_problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["changes"] = self.changes.to_dict()
        return data


# Paths -----------------------------------------------------------------------------------

def _exports_dir(ws: Workspace) -> Path:
    return ws.annotations_dir / "exports"


def _paths(ws: Workspace) -> dict[str, Path]:
    a = ws.annotations_dir
    return {"annotations": a / "annotations.parquet", "drafts": a / "drafts.parquet",
            "predictions": a / "predictions.parquet", "quarantine": a / "quarantine.jsonl",
            "report": a / "pull-report.json"}


# Reading from the server, resumably ------------------------------------------------------

class _Checkpoint:
    """Chunks already read, kept in annotations/.cache/pull/project-N/ until the pull completes."""

    def __init__(self, ws: Workspace, key: dict[str, Any]) -> None:
        self.dir = ws.cache_dir / "pull" / f"project-{key['project_id']}"
        self.key = key
        self.meta = self.dir / "checkpoint.json"
        self.done: list[int] = []
        if self.meta.exists():
            with contextlib.suppress(ValueError, KeyError):
                saved = json.loads(self.meta.read_text())
                if saved["key"] == key:
                    self.done = [int(s) for s in saved["done"] if (self.dir / f"chunk-{s}.json.gz").exists()]
        if not self.done:
            self.discard()
        self.dir.mkdir(parents=True, exist_ok=True)

    def chunk_path(self, start: int) -> Path:
        return self.dir / f"chunk-{start}.json.gz"

    def save(self, start: int, tasks: list[dict[str, Any]]) -> None:
        # One serialisation and a fast compression level: the checkpoint is scratch, the snapshot
        # is the record.
        data = gzip.compress(json.dumps(tasks, ensure_ascii=False).encode("utf-8"), compresslevel=1, mtime=0)
        with atomicio.atomic_path(self.chunk_path(start)) as tmp:
            tmp.write_bytes(data)
        self.done.append(start)
        atomicio.write_json(self.meta, {"key": self.key, "done": self.done})

    def forget(self, starts: list[int]) -> None:
        """Drop chunks that must be read again."""
        self.done = [s for s in self.done if s not in starts]
        atomicio.write_json(self.meta, {"key": self.key, "done": self.done})

    def read_at(self) -> str | None:
        """When the oldest chunk kept was read (its file's modification time), ISO 8601 UTC."""
        times = []
        for start in self.done:
            with contextlib.suppress(OSError):
                times.append(self.chunk_path(start).stat().st_mtime)
        if not times:
            return None
        return dt.datetime.fromtimestamp(min(times), dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    def load(self, start: int) -> list[dict[str, Any]]:
        return json.loads(gzip.decompress(self.chunk_path(start).read_bytes()))

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _fingerprint(task: dict[str, Any]) -> tuple[Any, ...]:
    """What changes on a task when an annotation is made, edited, skipped or deleted: Label Studio
    moves the task's updated_at and its counts."""
    updated = task.get("updated_at")
    with contextlib.suppress(TypeError, ValueError):
        updated = dt.datetime.fromisoformat(str(updated).replace("Z", "+00:00"))
    return (updated, int(task.get("total_annotations") or 0), int(task.get("cancelled_annotations") or 0))


def _stale_chunks(client: LabelStudioClient, project_id: int, checkpoint: "_Checkpoint", chunk: int,
                  page_size: int) -> list[int]:
    """Checkpointed chunks whose tasks differ from the server's now (one cheap listing)."""
    now: dict[int, tuple[Any, ...]] = {}
    for _page, tasks, _total in client.iter_task_pages(
            project_id, page_size=page_size, include="id,updated_at,total_annotations,cancelled_annotations"):
        now.update({int(t["id"]): _fingerprint(t) for t in tasks})
    stale = []
    for start in checkpoint.done:
        then = {int(t["id"]): _fingerprint(t) for t in checkpoint.load(start)}
        current = {i: f for i, f in now.items() if start <= i < start + chunk}
        if then != current:
            stale.append(start)
    return stale


def _with_predictions(task: dict[str, Any], predictions: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Label Studio's export lists predictions by id only; put the objects in their place."""
    if predictions and task.get("predictions"):
        task["predictions"] = [predictions.get(p, p) if isinstance(p, int) else p for p in task["predictions"]]
    return task


def _read_project(ws: Workspace, conn: Connection, client: LabelStudioClient, project_id: int, chunk: int,
                  report: PullReport, progress: Progress, sink: "_Sink", checkpoints: list[_Checkpoint]) -> None:
    """Read one project chunk by chunk into ``sink``; fail unless every task was read.

    Chunks are handed to a worker thread that checkpoints, snapshots and normalises them while
    the next request is in flight: the server's time and ours overlap instead of adding up.
    """
    total, low, high = client.task_bounds(project_id)
    key = {"server": server_key(conn), "project_id": project_id, "total": total, "low": low, "high": high,
           "chunk": chunk}
    checkpoint = _Checkpoint(ws, key)
    checkpoints.append(checkpoint)
    if checkpoint.done:
        # The chunks read before the interruption may have changed on the server since (a new
        # annotation, an edit, a deletion): each is kept only if every task in it is as it was.
        stale = _stale_chunks(client, project_id, checkpoint, chunk, ws.config.labelstudio.page_size)
        checkpoint.forget(stale)
        report.stale_chunks_reread += len(stale)
    report.resumed_chunks += len(checkpoint.done)
    if checkpoint.done:
        read_at = checkpoint.read_at()
        report.resumed_read_at = min(filter(None, [report.resumed_read_at, read_at]), default=None)
    predictions = ({int(p["id"]): p for p in client.predictions(project_id)}
                   if client.has_predictions(project_id) else {})
    starts = list(range(low, high + 1, chunk)) if low is not None and high is not None else []
    seen: set[int] = set()

    def process(start: int, tasks: list[dict[str, Any]], fresh: bool) -> None:
        if fresh:
            checkpoint.save(start, tasks)
        for task in sorted(tasks, key=lambda t: t["id"]):
            sink.add(_with_predictions(task, predictions))
        progress.advance(len(tasks))

    progress.start(total, f"pull project {project_id}")
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending: list[Future] = []
        for start in starts:
            fresh = start not in checkpoint.done
            tasks = (client.export_tasks(project_id, range(start, min(start + chunk, high + 1))) if fresh
                     else checkpoint.load(start))
            seen.update(int(t["id"]) for t in tasks)
            pending.append(worker.submit(process, start, tasks, fresh))
            while len(pending) > 1:  # at most one chunk waiting: bounded memory
                pending.pop(0).result()
        for future in pending:
            future.result()
    progress.finish()
    after, _low, _high = client.task_bounds(project_id)
    if len(seen) != total or after != total:
        checkpoint.discard()
        raise PullIncomplete(
            f"read {len(seen)} distinct tasks of project {project_id} on {conn.url}, but the server counts "
            f"{total} before and {after} after the pull: the project changed while it was read",
            hint="run `toolkit pull` again; nothing in annotations/ was changed")


# Snapshots ----------------------------------------------------------------------------------

def _snapshot_name(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z.jsonl.gz"


def _new_snapshot_path(ws: Workspace) -> Path:
    folder = _exports_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    path = folder / _snapshot_name(now)
    while path.exists():  # two pulls within a millisecond
        now += dt.timedelta(milliseconds=1)
        path = folder / _snapshot_name(now)
    return path


def iter_snapshot(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _index(ws: Workspace) -> list[dict[str, Any]]:
    path = _exports_dir(ws) / "index.json"
    return json.loads(path.read_text()) if path.exists() else []


# Normalising and writing -----------------------------------------------------------------

def _previous_state(ws: Workspace, scheme: Scheme) -> tuple[dict[int, tuple[str, str]], set[int] | None]:
    """annotation id -> (updated_at, result hash) of the previous pull, and its task ids."""
    annotations: dict[int, tuple[str, str]] = {}
    path = _paths(ws)["annotations"]
    if path.exists():
        for batch in parquetio.iter_batches(path, _BATCH):
            for row in batch.to_pylist():
                annotations[int(row["annotation_id"])] = (str(row["updated_at"]), result_hash(row, scheme))
    previous = _index(ws)
    tasks = None
    if previous:
        last = _exports_dir(ws) / previous[-1]["file"]
        if last.exists():
            tasks = {int(t["id"]) for t in iter_snapshot(last) if isinstance(t, dict) and "id" in t}
    return annotations, tasks


def _quarantined_annotation_ids(ws: Workspace) -> set[int]:
    """Annotation ids in the previous pull's quarantine (so a re-pull does not call them new)."""
    path = _paths(ws)["quarantine"]
    ids: set[int] = set()
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("kind") == "annotation" and isinstance(entry.get("annotation_id"), int):
                        ids.add(entry["annotation_id"])
    return ids


class _Sink:
    """Takes tasks one at a time: writes the raw snapshot and the normalised, validated outputs,
    all to temporary files. ``commit`` renames them into place, the snapshot first; ``abort``
    (or any exception) leaves the workspace as it was."""

    def __init__(self, ws: Workspace, scheme: Scheme, users: dict[int, str], report: PullReport,
                 server_url: str | None = None) -> None:
        self.ws, self.scheme, self.users, self.report = ws, scheme, users, report
        self.server_url = server_url
        self.adjudicators = {e.lower() for e in ws.config.campaign.adjudicators}
        self.previous_quarantined = _quarantined_annotation_ids(ws)
        self.quarantined_now: set[int] = set()
        self.queue_owner: str | None = None  # whose queue is being read (assigned mode, adjudicators)
        self.review_project: int | None = None  # the review project being read, if it is one
        self.project_id: int | None = None
        self.tasks_of_article: dict[tuple[Any, str], list[Any]] = {}  # (project, article) -> task ids
        self.checker = RecordChecker(scheme, article_ids=article_ids(ws))
        self.previous, self.previous_tasks = _previous_state(ws, scheme)
        self.current: dict[int, tuple[str, str]] = {}
        self.task_ids: set[int] = set()
        self.offsets = OffsetStats()
        self.quarantine_types: dict[str, int] = {}
        self.count = 0
        self.stack = contextlib.ExitStack()
        # Every output is written aside, then all are moved into place together (``journal``).
        self.snapshot_path = _new_snapshot_path(ws)
        self.targets = {**_paths(ws), "snapshot": self.snapshot_path, "index": _exports_dir(ws) / "index.json"}
        tmp = {name: journal.aside(path) for name, path in self.targets.items()}
        self.aside = tmp
        self.writers = {
            "annotations": parquetio.RowWriter(pq.ParquetWriter(tmp["annotations"], records_arrow_schema(scheme)),
                                               lambda rows: records_to_table(rows, scheme), _BATCH),
            "drafts": parquetio.RowWriter(pq.ParquetWriter(tmp["drafts"], drafts_to_table([], scheme).schema),
                                          lambda rows: drafts_to_table(rows, scheme), _BATCH),
            "predictions": parquetio.RowWriter(
                pq.ParquetWriter(tmp["predictions"], predictions_to_table([], scheme).schema),
                lambda rows: predictions_to_table(rows, scheme), _BATCH),
        }
        self.quarantine = self.stack.enter_context(open(tmp["quarantine"], "w", encoding="utf-8"))
        self.snapshot_raw = self.stack.enter_context(open(tmp["snapshot"], "wb"))
        self.snapshot = self.stack.enter_context(
            gzip.GzipFile(fileobj=self.snapshot_raw, mode="wb", mtime=0, compresslevel=6))

    def add(self, task: dict[str, Any]) -> None:
        self.snapshot.write(json_line(task).encode("utf-8"))
        self.count += 1
        report = self.report
        result: NormalisedTask = normalise_task(task, self.scheme, self.users)
        report.tasks += 1
        if isinstance(task, dict) and isinstance(task.get("id"), int) and not isinstance(task["id"], bool):
            self.task_ids.add(task["id"])
        self.offsets = self.offsets + result.offsets
        report.notes.extend(result.notes)
        # Every annotation is accounted for: a record, or a quarantine entry of kind "annotation".
        report.annotations += len(result.records) + sum(q["kind"] == "annotation" for q in result.quarantine)
        data = (task.get("data") or {}) if isinstance(task, dict) else {}
        text = data.get("text")
        if isinstance(data.get("article_id"), str) and isinstance(task, dict):
            self.tasks_of_article.setdefault((self.project_id, data["article_id"]), []).append(task.get("id"))
        valid = []
        for record in result.records:
            errors = self.checker.errors(record, text if isinstance(text, str) else None)
            if self.queue_owner and not data.get(REVIEW_KEY) and not record["was_cancelled"] and \
                    str(record.get("annotator_email") or "").lower() != self.queue_owner:
                who = record.get("annotator_email") or record.get("annotator_id")
                errors.append(ValidationError(
                    "unassigned-annotation", f"{who} answered in the queue of {self.queue_owner}; the article is "
                    "not assigned to them, so the answer is kept here and not counted", "annotator_email", str(who),
                    record.get("task_id"), record.get("annotation_id"), who))
            if data.get(REVIEW_KEY):  # an adjudicator's answer in the review project is the truth
                errors += self._adjudication_errors(record, data)
                record["ground_truth"] = not errors
                if errors and not record["was_cancelled"]:
                    self._adjudication_problem(record, errors)
            if errors:
                result.quarantine.append(quarantine_entry(record, errors))
                continue
            valid.append(record)
            if record.get("edited_by_other"):
                report.edits.append({
                    "task_id": record["task_id"], "article_id": record["article_id"],
                    "annotation_id": record["annotation_id"],
                    "annotator": record["annotator_email"] or record["annotator_id"],
                    "editor": record["updated_by_email"] or record["updated_by_id"]})
            report.cancelled += bool(record["was_cancelled"])
            report.ground_truth += bool(record["ground_truth"])
            self.current[int(record["annotation_id"])] = (str(_ts(record["updated_at"])),
                                                          result_hash(record, self.scheme))
        report.valid += len(valid)
        self.writers["annotations"].extend(valid)
        self.writers["drafts"].extend(result.drafts)
        self.writers["predictions"].extend(result.predictions)
        report.drafts += len(result.drafts)
        report.predictions += len(result.predictions)
        for entry in result.quarantine:
            report.quarantined += 1
            if entry.get("kind") == "annotation" and isinstance(entry.get("annotation_id"), int):
                self.quarantined_now.add(entry["annotation_id"])
            for error in entry["errors"]:
                self.quarantine_types[error["type"]] = self.quarantine_types.get(error["type"], 0) + 1
            self.quarantine.write(json_line(entry))

    def _adjudication_errors(self, record: dict[str, Any], data: dict[str, Any]) -> list[ValidationError]:
        """An adjudication counts only from someone who did not annotate the article (and is
        among ``[campaign] adjudicators`` when that list is set)."""
        who = str(record.get("annotator_email") or record.get("annotator_id") or "").lower()
        own = {str(a).strip().lower() for a in str(data.get(REVIEW_ANNOTATORS_KEY) or "").split(",") if a.strip()}
        reason = None
        if who in own:
            reason = f"{who} annotated this article and cannot adjudicate it"
        elif self.queue_owner and who != self.queue_owner:
            reason = f"{who} answered in the review queue of {self.queue_owner}"
        elif self.adjudicators and who not in self.adjudicators:
            reason = f"{who} is not among [campaign] adjudicators ({', '.join(sorted(self.adjudicators))})"
        if reason is None or record.get("was_cancelled"):
            return []
        return [ValidationError("self-adjudication", reason + "; the answer is kept here, not used as gold",
                                "annotator_email", who, record.get("task_id"), record.get("annotation_id"), who)]

    def _adjudication_problem(self, record: dict[str, Any], errors: list[ValidationError]) -> None:
        link = (f"{self.server_url}/projects/{self.review_project}/data"
                f"?task={record.get('task_id')}" if self.server_url else None)
        self.report.adjudication_problems.append({
            "task_id": record.get("task_id"), "annotation_id": record.get("annotation_id"),
            "article_id": record.get("article_id"),
            "adjudicator": record.get("annotator_email") or record.get("annotator_id"), "link": link,
            "reasons": [f"{e.type} at {e.path}: {e.message}" for e in errors]})

    def check_deletions(self, allowed: bool) -> None:
        """Refuse a pull that would remove most of the annotations the workspace holds (an
        emptied project, an export of the wrong thing) unless it is asked for."""
        gone = set(self.previous) - set(self.current) - self.quarantined_now
        if allowed or not gone or len(gone) * 2 <= len(self.previous):
            return
        source = self.report.source
        where = source.get("file") or source.get("url")
        raise PullRefused(
            f"pulling from {where} would delete {len(gone)} of the {len(self.previous)} annotation(s) in "
            f"annotations/annotations.parquet (it read {len(self.current)}); nothing was changed",
            hint="check that this is the right project or export; if the annotations were deleted on purpose, "
                 "run `toolkit pull --allow-deletions` (earlier snapshots in annotations/exports/ keep them)")

    def commit(self) -> None:
        """Move every output into place together: all of them or, after a crash before the
        journal, none (see ``toolkit.journal``)."""
        report = self.report
        for writer in self.writers.values():
            writer.close()
        self.snapshot.close()
        self.snapshot_raw.flush()
        self.stack.close()
        report.offsets = self.offsets.to_dict()
        report.quarantined_by_type = dict(sorted(self.quarantine_types.items()))
        changes = report.changes
        for annotation_id, (updated, digest) in sorted(self.current.items()):
            if annotation_id not in self.previous:
                changes.added.append(annotation_id)
            elif self.previous[annotation_id] != (updated, digest):
                changes.changed.append(annotation_id)
        report.duplicate_articles = {article: sorted(ids, key=str) for (_pid, article), ids
                                     in sorted(self.tasks_of_article.items(), key=str) if len(ids) > 1}
        changes.added_quarantined = sorted(self.quarantined_now - set(self.previous) - self.previous_quarantined)
        changes.added = sorted(changes.added + changes.added_quarantined)
        changes.deleted = sorted(set(self.previous) - set(self.current))
        changes.tasks_deleted = sorted(self.previous_tasks - self.task_ids) if self.previous_tasks is not None else []
        aside = self.aside
        report.snapshot = self.ws.relative(self.snapshot_path)
        report.snapshot_sha256 = atomicio.sha256_file(aside["snapshot"])
        entry = {"file": self.snapshot_path.name, "sha256": report.snapshot_sha256,
                 "bytes": aside["snapshot"].stat().st_size, "tasks": self.count, "annotations": report.annotations,
                 "source": report.source, "pulled_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        # Strict JSON (no NaN): what is written here is read by other programs.
        aside["index"].write_text(json.dumps(_index(self.ws) + [entry], indent=2, ensure_ascii=False,
                                             allow_nan=False) + "\n", encoding="utf-8")
        aside["report"].write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str,
                                              allow_nan=False) + "\n", encoding="utf-8")
        aside["snapshot"].chmod(0o444)  # immutable: a snapshot is evidence (a rename keeps the mode)
        for path in aside.values():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        # The snapshot first: the raw evidence lands before what was derived from it.
        order = ["snapshot", "index", "annotations", "drafts", "predictions", "quarantine", "report"]
        journal.commit(self.ws.annotations_dir, [(aside[name], self.targets[name]) for name in order])

    def abort(self, exc: BaseException) -> None:
        self.stack.__exit__(type(exc), exc, exc.__traceback__)
        for path in self.aside.values():
            path.unlink(missing_ok=True)


def _ts(value: Any) -> Any:
    """updated_at as the Parquet round trip gives it back, so that a re-pull compares equal."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return value


# The entry points --------------------------------------------------------------------------

def pull(workspace: Workspace, *, from_export: str | Path | None = None, progress: Progress | None = None,
         client: LabelStudioClient | None = None, chunk_size: int | None = None,
         allow_deletions: bool = False) -> PullReport:
    """Pull every task and annotation (from the server, or from an export file) into annotations/."""
    progress = progress or NullProgress()
    journal.recover(workspace.annotations_dir)
    scheme = Scheme.load(workspace.scheme_path)
    if from_export is not None:
        return _pull_from_export(workspace, scheme, Path(from_export), progress, allow_deletions)
    conn = connect(workspace)
    own_client = client is None
    client = client or client_for(workspace, conn)
    started = time.time()
    try:
        review_id = stored_review_project_id(workspace, conn)
        report = PullReport(source={"kind": "server", "url": conn.url})
        owners: dict[int, str | None] = {}
        if workspace.config.campaign.mode == "assigned":
            queues = stored_queue_ids(workspace, conn)
            if not queues:
                raise ProjectNotFound(f"no annotator queues of this workspace on {conn.url} yet",
                                      hint="run `toolkit push` first ([campaign] mode is \"assigned\")")
            owners = {project_id: email for email, project_id in queues.items()}
            report.source["queues"] = queues
            # Each queue has one annotator; the overlap is the assignment's.
            report.source["maximum_annotations"] = workspace.config.annotators_per_task
        else:
            project = resolve_project(workspace, conn, client)
            if project is None:
                raise ProjectNotFound(f"no project titled {workspace.config.project.title!r} on {conn.url} yet",
                                      hint="run `toolkit push` first")
            owners = {int(project["id"]): None}
            report.source["project_id"] = int(project["id"])
            # The overlap the server had when the annotations were read: `toolkit agree` checks it
            # against the gold policy.
            report.source["maximum_annotations"] = project.get("maximum_annotations")
        if review_id is not None:
            report.source["review_project_id"] = review_id
        review_queues = stored_queue_ids(workspace, conn, prefix=REVIEW_QUEUE_PREFIX)
        if review_queues:
            report.source["review_queues"] = review_queues
        chunk = min(max(chunk_size or workspace.config.labelstudio.page_size, 1), MAX_IDS_PER_REQUEST)
        sink = _Sink(workspace, scheme, client.users(), report, server_url=conn.url)
        checkpoints: list[_Checkpoint] = []
        try:
            # The review project (`toolkit review`) is read with the main one: its answers are ground truth.
            reviews = {**({review_id: None} if review_id is not None else {}),
                       **{pid: email for email, pid in review_queues.items()}}
            for pid, owner in [*owners.items(), *reviews.items()]:
                sink.queue_owner, sink.review_project = owner, pid if pid in reviews else None
                sink.project_id = pid
                _read_project(workspace, conn, client, pid, chunk, report, progress, sink, checkpoints)
            sink.check_deletions(allow_deletions)
        except BaseException as exc:
            sink.abort(exc)
            raise
        sink.commit()
        report.server_exports_removed = _remove_server_exports(_server_export_dir(workspace, conn), [*owners, *reviews],
                                                               started)
        for checkpoint in checkpoints:
            checkpoint.discard()
        shutil.rmtree(workspace.cache_dir / "pull", ignore_errors=True)
        return report
    finally:
        if own_client:
            client.close()


def _server_export_dir(ws: Workspace, conn: Connection) -> Path | None:
    """Where the server writes the export files pull asks it for, when the toolkit owns the
    server's data (the embedded one); a server of the user's own keeps them."""
    return ws.root / ".labelstudio" / "data" / "export" if conn.embedded else None


def _remove_server_exports(folder: Path | None, project_ids: list[int], since: float) -> int:
    """Label Studio writes every export it serves to its export folder and never removes it
    (227 MB after 7 pulls of 26k tasks): remove the ones this pull made."""
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for project_id in project_ids:
        for path in folder.glob(f"project-{project_id}-at-*.json"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime >= since - 1:
                    path.unlink()
                    removed += 1
    return removed


def _pull_from_export(ws: Workspace, scheme: Scheme, path: Path, progress: Progress,
                      allow_deletions: bool = False) -> PullReport:
    from ..validation import iter_export_tasks

    if not path.exists():
        raise InputNotFound(f"{path}: no such export file", hint="export the project from Label Studio first")
    report = PullReport(source={"kind": "export", "file": path.name, "sha256": atomicio.sha256_file(path)})
    sink = _Sink(ws, scheme, {}, report)
    progress.start(None, "pull")
    try:
        for task in iter_export_tasks(path, scheme):
            sink.add(task)
            progress.advance()
        sink.check_deletions(allow_deletions)
    except BaseException as exc:
        sink.abort(exc)
        raise
    progress.finish()
    sink.commit()
    return report
