"""``toolkit tasks``: the articles table -> ``annotations/tasks.jsonl`` (Label Studio import format).

One line per article: ``{"data": {"text", "title", "published", "source_url", "article_id"}}``.
``article_id`` is the idempotency key that ``toolkit push`` checks against the server. The
file only grows: articles already tasked are skipped and existing lines are copied byte for
byte, never rewritten.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..articles import open_articles
from .. import atomicio
from ..errors import InputError
from ..progress import NullProgress, Progress
from ..workspace import Workspace

TASK_COLUMNS = ["article_id", "title", "text", "published", "source_url", "cluster_id"]


@dataclass
class TasksReport:
    added: int
    already_tasked: int
    skipped_near_duplicates: int
    total: int
    output: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def task_for(article: dict[str, Any]) -> dict[str, Any]:
    published = article.get("published")
    return {
        "data": {
            "text": article["text"],
            "title": article.get("title"),
            "published": published.isoformat() if published is not None else None,
            "source_url": article.get("source_url"),
            "article_id": article["article_id"],
        }
    }


def iter_tasks(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, task) for every line of a tasks.jsonl; a broken line is an error naming it."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
                task["data"]["article_id"]
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                raise InputError(
                    f"{path} line {number}: not a task with data.article_id ({exc})",
                    hint="restore the file from version control, or delete the line and run `toolkit tasks` again",
                ) from exc
            yield number, task


def build_tasks(workspace: Workspace, *, progress: Progress | None = None) -> TasksReport:
    """Append a task for every article of the articles table that has none yet."""
    progress = progress or NullProgress()
    parquet = open_articles(workspace)  # InputNotFound before the first ingest
    target = workspace.tasks_path
    tasked: set[str] = set()
    if target.exists():
        tasked = {task["data"]["article_id"] for _, task in iter_tasks(target)}
    one_per_cluster = workspace.config.tasks.one_per_cluster
    seen_clusters: set[str] = set()
    added = already = skipped = 0
    progress.start(parquet.num_rows, "tasks")
    with atomicio.atomic_open(target, "wb") as out:
        if target.exists():
            with open(target, "rb") as existing:
                shutil.copyfileobj(existing, out)
                if out.tell() and not _ends_with_newline(target):
                    out.write(b"\n")
        for batch in parquet.iter_batches(1000, TASK_COLUMNS):
            for article in batch.to_pylist():
                progress.advance()
                cluster = article["cluster_id"]
                if article["article_id"] in tasked:
                    already += 1
                    seen_clusters.add(cluster)
                    continue
                if one_per_cluster and cluster in seen_clusters:
                    skipped += 1
                    continue
                seen_clusters.add(cluster)
                tasked.add(article["article_id"])
                line = atomicio.strict_json(task_for(article), where=workspace.tasks_path, indent=None) + "\n"
                out.write(line.encode("utf-8"))
                added += 1
    progress.finish()
    return TasksReport(added=added, already_tasked=already, skipped_near_duplicates=skipped,
                       total=len(tasked), output=workspace.relative(target))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"
