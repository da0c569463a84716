"""``toolkit pull``: every task and annotation back from Label Studio, losing nothing.

1. Read: from the server in chunks of task ids (``/api/projects/{id}/export?ids[]=...``, the
   export serializer, with annotations, drafts and predictions), each chunk saved to a
   checkpoint folder as it arrives, so an interrupted pull resumes where it stopped; or from
   an export file (``--from-export``), streamed. The pull is complete only when the number
   of distinct tasks read equals the server's count, before and after reading.
2. Snapshot: the raw tasks are written to ``annotations/exports/<UTC timestamp>.jsonl.gz``
   (immutable; its sha256 in ``annotations/exports/index.json``) before anything else.
3. Normalise and validate: one record per annotation (``toolkit.normalise``); records that
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
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq

from . import atomicio
from .errors import InputNotFound, ProjectNotFound, PullIncomplete
from .labelstudio import Connection, LabelStudioClient, client_for, connect
from .normalise import (
    NormalisedTask,
    OffsetStats,
    drafts_to_table,
    normalise_task,
    predictions_to_table,
    records_arrow_schema,
    records_to_table,
    result_hash,
)
from .progress import NullProgress, Progress
from .push import _server_key, resolve_project, stored_review_project_id
from .scheme import Scheme
from .validate import RecordChecker, _article_ids, quarantine_entry
from .workspace import Workspace

_BATCH = 2000
REVIEW_KEY = "toolkit_review"  # data key marking the tasks of the review project


@dataclass
class Changes:
    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    tasks_deleted: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"added": len(self.added), "changed": len(self.changed), "deleted": len(self.deleted),
                "tasks_deleted": len(self.tasks_deleted), "added_ids": self.added, "changed_ids": self.changed,
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


def _public_url(url: str) -> str:
    """The server URL without any user:password part, fit to be written down."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# Reading from the server, resumably ------------------------------------------------------

class _Checkpoint:
    """Chunks already read, kept in annotations/.cache/pull/ until the pull completes."""

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
        with atomicio.atomic_path(self.chunk_path(start)) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as fh:
            json.dump(tasks, fh, ensure_ascii=False)
        self.done.append(start)
        atomicio.write_json(self.meta, {"key": self.key, "done": self.done})

    def load(self, start: int) -> list[dict[str, Any]]:
        with gzip.open(self.chunk_path(start), "rt", encoding="utf-8") as fh:
            return json.load(fh)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _read_server(ws: Workspace, conn: Connection, client: LabelStudioClient, project_id: int, chunk: int,
                 report: PullReport, progress: Progress) -> Iterator[dict[str, Any]] | None:
    total, low, high = client.task_bounds(project_id)
    key = {"server": _server_key(conn), "project_id": project_id, "total": total, "low": low, "high": high,
           "chunk": chunk}
    checkpoint = _Checkpoint(ws, key)
    report.resumed_chunks += len(checkpoint.done)
    starts = list(range(low, high + 1, chunk)) if low is not None and high is not None else []
    progress.start(total, "pull")
    seen: set[int] = set()
    for start in starts:
        if start in checkpoint.done:
            tasks = checkpoint.load(start)
        else:
            tasks = client.export_tasks(project_id, range(start, min(start + chunk, high + 1)))
            checkpoint.save(start, tasks)
        seen.update(int(t["id"]) for t in tasks)
        progress.advance(len(tasks))
    progress.finish()
    after, _low, _high = client.task_bounds(project_id)
    if len(seen) != total or after != total:
        checkpoint.discard()
        raise PullIncomplete(
            f"read {len(seen)} distinct tasks of project {project_id} on {conn.url}, but the server counts "
            f"{total} before and {after} after the pull: the project changed while it was read",
            hint="run `toolkit pull` again; nothing in annotations/ was changed")
    return checkpoint


def _prediction_objects(client: LabelStudioClient, project_id: int, checkpoint: _Checkpoint,
                        starts: list[int]) -> dict[int, dict[str, Any]]:
    """Label Studio's export lists predictions by id only; fetch them when it did."""
    by_id = any(isinstance(p, int) for start in starts for t in checkpoint.load(start)
                for p in t.get("predictions") or [])
    if not by_id:
        return {}
    return {int(p["id"]): p for p in client.predictions(project_id)}


def _with_predictions(task: dict[str, Any], predictions: dict[int, dict[str, Any]]) -> dict[str, Any]:
    if predictions and task.get("predictions"):
        task["predictions"] = [predictions.get(p, p) if isinstance(p, int) else p for p in task["predictions"]]
    return task


def _snapshot_name(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z.jsonl.gz"


def _write_snapshot(ws: Workspace, tasks: Iterable[dict[str, Any]]) -> tuple[Path, str, int]:
    """The raw tasks, one per line, gzipped; returns (path, sha256, number of tasks). Never overwrites."""
    folder = _exports_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    path = folder / _snapshot_name(now)
    while path.exists():  # two pulls within a millisecond
        now += dt.timedelta(milliseconds=1)
        path = folder / _snapshot_name(now)
    count = 0
    with atomicio.atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            for task in tasks:
                fh.write(json.dumps(task, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
                count += 1
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
    with contextlib.suppress(OSError):
        path.chmod(0o444)  # immutable: a snapshot is evidence
    return path, digest, count


def iter_snapshot(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _index(ws: Workspace) -> list[dict[str, Any]]:
    path = _exports_dir(ws) / "index.json"
    return json.loads(path.read_text()) if path.exists() else []


def _record_snapshot(ws: Workspace, entry: dict[str, Any]) -> None:
    entries = _index(ws) + [entry]
    atomicio.write_json(_exports_dir(ws) / "index.json", entries)


# Normalising and writing -----------------------------------------------------------------

class _TableWriter:
    """Rows to a Parquet file in batches (bounded memory), into a temporary path."""

    def __init__(self, path: Path, schema: pa.Schema, to_table) -> None:
        self.path, self.schema, self.to_table = path, schema, to_table
        self.writer = pq.ParquetWriter(path, schema)
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.to_table(self.rows))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _previous_state(ws: Workspace, scheme: Scheme) -> tuple[dict[int, tuple[str, str]], set[int] | None]:
    """annotation id -> (updated_at, result hash) of the previous pull, and its task ids."""
    annotations: dict[int, tuple[str, str]] = {}
    path = _paths(ws)["annotations"]
    if path.exists():
        for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH):
            for row in batch.to_pylist():
                annotations[int(row["annotation_id"])] = (str(row["updated_at"]), result_hash(row, scheme))
    previous = _index(ws)
    tasks = None
    if previous:
        last = _exports_dir(ws) / previous[-1]["file"]
        if last.exists():
            tasks = {int(t["id"]) for t in iter_snapshot(last) if isinstance(t, dict) and "id" in t}
    return annotations, tasks


def _normalise_snapshot(ws: Workspace, scheme: Scheme, snapshot: Path, users: dict[int, str],
                        report: PullReport) -> None:
    paths = _paths(ws)
    checker = RecordChecker(scheme, article_ids=_article_ids(ws))
    previous, previous_tasks = _previous_state(ws, scheme)
    current: dict[int, tuple[str, str]] = {}
    task_ids: set[int] = set()
    offsets = OffsetStats()
    quarantine_types: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomicio.atomic_path(path)) for name, path in paths.items()
               if name != "report"}
        writers = {
            "annotations": _TableWriter(tmp["annotations"], records_arrow_schema(scheme),
                                        lambda rows: records_to_table(rows, scheme)),
            "drafts": _TableWriter(tmp["drafts"], drafts_to_table([], scheme).schema,
                                   lambda rows: drafts_to_table(rows, scheme)),
            "predictions": _TableWriter(tmp["predictions"], predictions_to_table([], scheme).schema,
                                        lambda rows: predictions_to_table(rows, scheme)),
        }
        quarantine = stack.enter_context(open(tmp["quarantine"], "w", encoding="utf-8"))
        for task in iter_snapshot(snapshot):
            result: NormalisedTask = normalise_task(task, scheme, users)
            report.tasks += 1
            if isinstance(task, dict) and "id" in task:
                task_ids.add(int(task["id"]))
            offsets = offsets + result.offsets
            report.notes.extend(result.notes)
            # Every annotation is accounted for: a record, or a quarantine entry of kind "annotation".
            report.annotations += len(result.records) + sum(q["kind"] == "annotation" for q in result.quarantine)
            valid = []
            data = (task.get("data") or {}) if isinstance(task, dict) else {}
            text = data.get("text")
            for record in result.records:
                if data.get(REVIEW_KEY):  # a reviewer's answer in the review project is the truth
                    record["ground_truth"] = True
                errors = checker.errors(record, text if isinstance(text, str) else None)
                if errors:
                    result.quarantine.append(quarantine_entry(record, errors))
                    continue
                valid.append(record)
                report.cancelled += bool(record["was_cancelled"])
                report.ground_truth += bool(record["ground_truth"])
                current[int(record["annotation_id"])] = (str(_ts(record["updated_at"])),
                                                         result_hash(record, scheme))
            report.valid += len(valid)
            writers["annotations"].add(valid)
            writers["drafts"].add(result.drafts)
            writers["predictions"].add(result.predictions)
            report.drafts += len(result.drafts)
            report.predictions += len(result.predictions)
            for entry in result.quarantine:
                report.quarantined += 1
                for error in entry["errors"]:
                    quarantine_types[error["type"]] = quarantine_types.get(error["type"], 0) + 1
                quarantine.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        for writer in writers.values():
            writer.close()
        report.offsets = offsets.to_dict()
        report.quarantined_by_type = dict(sorted(quarantine_types.items()))
        changes = report.changes
        for annotation_id, (updated, digest) in sorted(current.items()):
            if annotation_id not in previous:
                changes.added.append(annotation_id)
            elif previous[annotation_id] != (updated, digest):
                changes.changed.append(annotation_id)
        changes.deleted = sorted(set(previous) - set(current))
        changes.tasks_deleted = sorted(previous_tasks - task_ids) if previous_tasks is not None else []
        atomicio.write_json(paths["report"], report.to_dict())


def _ts(value: Any) -> Any:
    """updated_at as the Parquet round trip gives it back, so that a re-pull compares equal."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return value


# The entry points --------------------------------------------------------------------------

def pull(workspace: Workspace, *, from_export: str | Path | None = None, progress: Progress | None = None,
         client: LabelStudioClient | None = None, chunk_size: int | None = None) -> PullReport:
    """Pull every task and annotation (from the server, or from an export file) into annotations/."""
    progress = progress or NullProgress()
    scheme = Scheme.load(workspace.scheme_path)
    if from_export is not None:
        return _pull_from_export(workspace, scheme, Path(from_export), progress)
    conn = connect(workspace)
    own_client = client is None
    client = client or client_for(workspace, conn)
    try:
        project = resolve_project(workspace, conn, client)
        if project is None:
            raise ProjectNotFound(f"no project titled {workspace.config.project.title!r} on {conn.url} yet",
                                  hint="run `toolkit push` first")
        project_id = int(project["id"])
        review_id = stored_review_project_id(workspace, conn)
        report = PullReport(source={"kind": "server", "url": _public_url(conn.url), "project_id": project_id})
        if review_id is not None:
            report.source["review_project_id"] = review_id
        chunk = min(max(chunk_size or workspace.config.labelstudio.page_size, 1), 1000)
        # The review project (`toolkit review`) is read with the main one: its answers are ground truth.
        read = [(pid, _read_server(workspace, conn, client, pid, chunk, report, progress))
                for pid in [project_id] + ([review_id] if review_id is not None else [])]
        users = client.users()

        def tasks() -> Iterator[dict[str, Any]]:
            for pid, checkpoint in read:
                starts = sorted(checkpoint.done)
                predictions = _prediction_objects(client, pid, checkpoint, starts)
                for start in starts:
                    for task in sorted(checkpoint.load(start), key=lambda t: t["id"]):
                        yield _with_predictions(task, predictions)

        snapshot, digest, count = _write_snapshot(workspace, tasks())
        _finish(workspace, scheme, snapshot, digest, count, users, report)
        shutil.rmtree(workspace.cache_dir / "pull", ignore_errors=True)
        return report
    finally:
        if own_client:
            client.close()


def _pull_from_export(ws: Workspace, scheme: Scheme, path: Path, progress: Progress) -> PullReport:
    from .exports import iter_export_tasks

    if not path.exists():
        raise InputNotFound(f"{path}: no such export file", hint="export the project from Label Studio first")
    file_digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            file_digest.update(block)
    report = PullReport(source={"kind": "export", "file": path.name, "sha256": file_digest.hexdigest()})
    progress.start(None, "pull")
    snapshot, digest, count = _write_snapshot(ws, _counting(iter_export_tasks(path, scheme), progress))
    progress.finish()
    _finish(ws, scheme, snapshot, digest, count, {}, report)
    return report


def _counting(tasks: Iterator[dict[str, Any]], progress: Progress) -> Iterator[dict[str, Any]]:
    for task in tasks:
        progress.advance()
        yield task


def _finish(ws: Workspace, scheme: Scheme, snapshot: Path, digest: str, count: int, users: dict[int, str],
            report: PullReport) -> None:
    report.snapshot = ws.relative(snapshot)
    report.snapshot_sha256 = digest
    try:
        _normalise_snapshot(ws, scheme, snapshot, users, report)
    except BaseException:
        # The snapshot stays (it is the raw data, complete); it is just not indexed as pulled.
        raise
    _record_snapshot(ws, {"file": snapshot.name, "sha256": digest, "bytes": snapshot.stat().st_size, "tasks": count,
                          "annotations": report.annotations, "source": report.source,
                          "pulled_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
