"""Assigned queues: each article to exactly ``annotators_per_task`` named annotators.

Label Studio Community has no task assignment (its paid edition does). With
``[campaign] mode = "assigned"`` the toolkit gives each annotator a project of their own (a
queue: "<title> · <name>"), imports into it exactly the articles assigned to them, and pulls
all queues back together. Each queue has one annotator, so nobody sees another person's
answer while labelling, and an article's annotators are decided here, not by who opens the
stream first.

The assignment is balanced and deterministic: articles are taken in ``tasks.jsonl`` order
and each goes to the ``k`` least-loaded annotators, ties broken by a hash of the article id
and the e-mail (so the same inputs give the same assignment on every machine). It is kept in
``annotations/assignments.json``: an article keeps its annotators when people join later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from .. import atomicio
from ..errors import InputError
from ..workspace import Workspace
from .project import titled

__all__ = ["ASSIGNMENTS_FILE", "assign", "least_loaded", "load_assignments", "save_assignments", "queue_title", "per_annotator"]

ASSIGNMENTS_FILE = "assignments.json"


def least_loaded(article_id: str, people: Iterable[str], load: Mapping[str, int], count: int) -> list[str]:
    """The ``count`` people with the least work, ties broken by a hash of the article id and the
    e-mail: the same choice on every machine, whatever order the people are listed in."""
    def key(person: str) -> tuple[int, str]:
        return load[person], hashlib.sha256(f"{article_id}\0{person}".encode()).hexdigest()

    return sorted(people, key=key)[:count]


def assign(article_ids: Iterable[str], annotators: Iterable[str], per_task: int,
           previous: Mapping[str, list[str]] | None = None) -> dict[str, list[str]]:
    """article_id -> the annotators it goes to. Articles already assigned keep theirs; new
    ones go to the ``per_task`` least-loaded annotators."""
    people = [a.lower() for a in annotators]
    if per_task > len(people):
        raise InputError(f"{per_task} annotators per task, but only {len(people)} annotators are listed",
                         hint="add e-mails to [campaign] annotators in toolkit.toml")
    result = {aid: list(who) for aid, who in (previous or {}).items()}
    load = {person: 0 for person in people}
    for who in result.values():
        for person in who:
            if person in load:
                load[person] += 1
    for article in article_ids:
        if article in result:
            continue
        chosen = least_loaded(article, people, load, per_task)
        for person in chosen:
            load[person] += 1
        result[article] = sorted(chosen)
    return result


def per_annotator(assignments: Mapping[str, list[str]]) -> dict[str, set[str]]:
    """annotator -> the article ids in their queue."""
    queues: dict[str, set[str]] = {}
    for article, people in assignments.items():
        for person in people:
            queues.setdefault(person, set()).add(article)
    return queues


def _path(ws: Workspace):
    return ws.annotations_dir / ASSIGNMENTS_FILE


def load_assignments(ws: Workspace) -> dict[str, list[str]]:
    path = _path(ws)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): [str(p) for p in v] for k, v in data["articles"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{ws.relative(path)} is not a valid assignment file ({type(exc).__name__})",
                         hint="restore it from version control; deleting it re-assigns every article") from None


def save_assignments(ws: Workspace, assignments: Mapping[str, list[str]], per_task: int) -> None:
    atomicio.write_json(_path(ws), {"annotators_per_task": per_task,
                                    "articles": {k: assignments[k] for k in sorted(assignments)}})


def queue_title(title: str, email: str) -> str:
    """The title of an annotator's queue project, within Label Studio's 50 characters."""
    return titled(title, f" · {email.split('@')[0]}")
