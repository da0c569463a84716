"""The project state that push, pull and review share: which project a workspace uses on a server.

``.labelstudio/state.json`` records, per server, the id of the workspace's project and of
its review project; a project is otherwise found by its title. The reads of a project's
tasks that more than one command needs are here too.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from .. import atomicio
from ..config import TITLE_MAX
from ..errors import LabelStudioError, ProjectNotFound
from ..workspace import Workspace
from .client import Connection, LabelStudioClient

REVIEW_KEY = "toolkit_review"  # data key marking the tasks of the review project
REVIEW_ANNOTATORS_KEY = "toolkit_annotators"  # data key: who annotated a review task's article
QUEUE_PREFIX = "queue:"  # state keys of the annotators' own projects in assigned mode
REVIEW_QUEUE_PREFIX = "review:"  # state keys of the adjudicators' own review projects

__all__ = ["REVIEW_KEY", "REVIEW_ANNOTATORS_KEY", "QUEUE_PREFIX", "REVIEW_QUEUE_PREFIX", "titled", "server_key", "load_state", "save_project_id", "stored_project_id", "stored_review_project_id",
           "save_review_project_id", "resolve_project", "save_queue_id", "stored_queue_ids", "iter_export_chunks", "server_article_ids",
           "server_tasks_by_article"]


def _state_path(ws: Workspace):
    return ws.root / ".labelstudio" / "state.json"


def server_key(conn: Connection) -> str:
    # The embedded server's port can change between starts; it is still the same server.
    return "embedded" if conn.embedded else conn.url


def load_state(ws: Workspace) -> dict[str, Any]:
    path = _state_path(ws)
    return json.loads(path.read_text()) if path.exists() else {"servers": {}}


def _save_server_state(ws: Workspace, conn: Connection, key: str, project_id: int) -> None:
    state = load_state(ws)
    state.setdefault("servers", {}).setdefault(server_key(conn), {})[key] = project_id
    folder = _state_path(ws).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # .labelstudio/ is private to its owner, whoever creates it first
    atomicio.write_json(_state_path(ws), state)


def save_project_id(ws: Workspace, conn: Connection, project_id: int) -> None:
    _save_server_state(ws, conn, "project_id", project_id)


def _stored(ws: Workspace, conn: Connection, key: str) -> int | None:
    entry = load_state(ws).get("servers", {}).get(server_key(conn)) or {}
    return int(entry[key]) if entry.get(key) else None


def stored_project_id(ws: Workspace, conn: Connection) -> int | None:
    return _stored(ws, conn, "project_id")


def stored_review_project_id(ws: Workspace, conn: Connection) -> int | None:
    return _stored(ws, conn, "review_project_id")


def save_review_project_id(ws: Workspace, conn: Connection, project_id: int) -> None:
    _save_server_state(ws, conn, "review_project_id", project_id)


def save_queue_id(ws: Workspace, conn: Connection, email: str, project_id: int, *,
                  prefix: str = QUEUE_PREFIX) -> None:
    _save_server_state(ws, conn, prefix + email, project_id)


def stored_queue_ids(ws: Workspace, conn: Connection, *, prefix: str = QUEUE_PREFIX) -> dict[str, int]:
    """e-mail -> id of that person's queue project: an annotator's (``[campaign] mode =
    "assigned"``), or with ``prefix=REVIEW_QUEUE_PREFIX`` an adjudicator's."""
    entry = load_state(ws).get("servers", {}).get(server_key(conn)) or {}
    return {key[len(prefix):]: int(value) for key, value in sorted(entry.items())
            if key.startswith(prefix) and value}


def titled(title: str, suffix: str) -> str:
    """``title`` + ``suffix`` within Label Studio's 50 characters (the title is shortened)."""
    suffix = suffix[:24]
    return title[:TITLE_MAX - len(suffix)].rstrip() + suffix


def resolve_project(ws: Workspace, conn: Connection, client: LabelStudioClient, *, key: str = "project_id",
                    title: str | None = None) -> dict[str, Any] | None:
    """The workspace's project on this server (or, with ``key`` and ``title``, one of its queue
    projects): the stored id, else the one with the title."""
    project_id = _stored(ws, conn, key)
    if project_id is not None:
        try:
            return client.project(project_id)
        except ProjectNotFound:
            raise ProjectNotFound(
                f"project {project_id} (recorded in .labelstudio/state.json) does not exist on {conn.url}",
                hint="if it was deleted on purpose, remove .labelstudio/state.json and push again to create a new one",
            ) from None
    title = title or ws.config.project.title
    found = client.find_projects(title)
    if len(found) > 1:
        raise LabelStudioError(f"{len(found)} projects on {conn.url} are titled {title!r} "
                               f"(ids {', '.join(str(p['id']) for p in found)})",
                               hint="rename the extra ones, or change [project] title in toolkit.toml")
    return client.project(int(found[0]["id"])) if found else None


def iter_export_chunks(client: LabelStudioClient, project_id: int, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """Every task of the project with its annotations, ``chunk`` task ids per request."""
    _total, low, high = client.task_bounds(project_id)
    if low is None or high is None:
        return
    for start in range(low, high + 1, chunk):
        yield client.export_tasks(project_id, range(start, min(start + chunk, high + 1)))


# Tasks ---------------------------------------------------------------------------------

def server_tasks_by_article(client: LabelStudioClient, project_id: int, page_size: int) -> dict[str, list[dict[str, Any]]]:
    """article_id -> the project's tasks that carry it (id and how many annotations and drafts
    each has), in task-id order: more than one is a duplicate."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _page, tasks, _total in client.iter_task_pages(
            project_id, page_size=page_size, include="id,data,total_annotations,cancelled_annotations,drafts"):
        for task in tasks:
            article = (task.get("data") or {}).get("article_id")
            if article:
                found.setdefault(str(article), []).append({
                    "id": int(task["id"]),
                    "annotations": int(task.get("total_annotations") or 0) + int(task.get("cancelled_annotations") or 0),
                    "drafts": len(task.get("drafts") or [])})
    for tasks in found.values():
        tasks.sort(key=lambda t: t["id"])
    return found


def server_article_ids(client: LabelStudioClient, project_id: int, page_size: int) -> set[str]:
    ids: set[str] = set()
    for _page, tasks, _total in client.iter_task_pages(project_id, page_size=page_size, include="id,data"):
        for task in tasks:
            article = (task.get("data") or {}).get("article_id")
            if article:
                ids.add(str(article))
    return ids
