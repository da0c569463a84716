"""``toolkit push``: create or update the Label Studio project and import the new tasks.

Idempotent by ``article_id``: before importing, the article ids already in the project are
read *from the server*, so re-running after a crash, a timeout or a server restart in the
middle of an import creates no duplicate task. A timed-out import is never blindly retried;
the server is asked again which of the chunk's articles it has.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import InputNotFound, LabelStudioError, ProjectSettingsRejected, PushRefused
from .client import LabelStudioClient, client_for, connect
from ..progress import NullProgress, Progress
from ..scheme import Scheme, build_labeling_config, ensure_scheme_files_current
from .assignment import assign, load_assignments, per_annotator, queue_title, save_assignments
from .project import (QUEUE_PREFIX, iter_export_chunks, resolve_project, save_project_id, save_queue_id,
                      server_article_ids, server_tasks_by_article)
from .guidelines import workspace_guidelines
from .predictions import PREDICTIONS_DIR, import_predictions
from .tasks import iter_tasks
from ..workspace import Workspace

# Controls whose children (<Label>, <Choice>) are values an annotation can hold.
_VALUE_TAGS = {"Labels": "Label", "Choices": "Choice", "HyperTextLabels": "Label", "ParagraphLabels": "Label"}


@dataclass
class PushReport:
    server: str
    project_id: int | None
    project_title: str
    created_project: bool = False
    config_changed: bool = False
    removed_values_in_use: dict[str, int] = field(default_factory=dict)
    already_there: int = 0
    to_import: int = 0
    imported: int = 0
    predictions: int = 0
    # The team settings push keeps on the project (overlap, guidelines) and which it changed.
    settings: dict[str, Any] = field(default_factory=dict)
    settings_changed: list[str] = field(default_factory=list)
    # After an import whose outcome was unknown: extra copies removed, and articles still there
    # more than once (each copy holding work, so none was deleted).
    duplicates_removed: int = 0
    duplicate_articles: dict[str, list[int]] = field(default_factory=dict)
    # Suggestions from annotations/predictions/*.jsonl attached to the tasks, and bad lines.
    suggestions: dict[str, int] = field(default_factory=dict)
    suggestion_problems: list[str] = field(default_factory=list)
    shown_version: str | None = None  # the model_version whose suggestions annotators see
    # [campaign] mode; in "assigned" mode, each annotator's queue project and what it got.
    mode: str = "shared"
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# Labeling config changes ---------------------------------------------------------------

def config_values(xml: str) -> dict[str, set[str]]:
    """Control name -> the label/choice values it offers (empty set for other controls)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    values: dict[str, set[str]] = {}
    for element in root.iter():
        name = element.get("name")
        if name and element.get("toName"):
            child = _VALUE_TAGS.get(element.tag)
            values[name] = {c.get("value", "") for c in element.iter(child)} if child else set()
    return values


def removed_values(old_xml: str, new_xml: str) -> dict[str, set[str]]:
    """What the new config takes away: control -> removed values (``{"*"}`` for a removed control)."""
    old, new = config_values(old_xml), config_values(new_xml)
    removed: dict[str, set[str]] = {}
    for name, values in old.items():
        if name not in new:
            removed[name] = {"*"}
        elif values - new[name]:
            removed[name] = values - new[name]
    return removed


def _result_values(result: dict[str, Any]) -> set[str]:
    value = result.get("value") or {}
    found: set[str] = set()
    for key in ("labels", "choices", "hypertextlabels", "paragraphlabels"):
        items = value.get(key)
        if isinstance(items, list):
            found.update(str(v) for v in items)
    return found


def removed_values_in_use(client: LabelStudioClient, project_id: int, removed: dict[str, set[str]],
                          page_size: int) -> dict[str, int]:
    """``"control: value"`` -> number of annotations using it, for the values about to be removed."""
    counts: dict[str, int] = {}
    for tasks in iter_export_chunks(client, project_id, page_size):
        for task in tasks:
            for annotation in task.get("annotations") or []:
                used: set[str] = set()
                for result in annotation.get("result") or []:
                    name = result.get("from_name")
                    if name not in removed:
                        continue
                    if "*" in removed[name]:
                        used.add(f"{name}: (the whole control)")
                    used.update(f"{name}: {v}" for v in _result_values(result) & removed[name])
                for key in used:
                    counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _chunks(ws: Workspace, skip: set[str], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for _number, task in iter_tasks(ws.tasks_path):
        article = str(task["data"]["article_id"])
        if article in skip:
            continue
        skip.add(article)  # a line repeated in tasks.jsonl is imported once
        chunk.append(task)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Target:
    """One project push keeps in step: the shared project, or an annotator's queue."""
    state_key: str
    title: str
    settings: dict[str, Any]
    articles: set[str] | None = None  # the articles it gets (None: all of tasks.jsonl)
    annotator: str | None = None


def _targets(ws: Workspace, scheme: Scheme) -> tuple[list[_Target], dict[str, list[str]] | None]:
    settings = team_settings(ws, scheme)
    title = ws.config.project.title
    campaign = ws.config.campaign
    if campaign.mode != "assigned":
        return [_Target("project_id", title, settings)], None
    order = [str(task["data"]["article_id"]) for _n, task in iter_tasks(ws.tasks_path)]
    assignments = assign(order, campaign.annotators, ws.config.annotators_per_task, load_assignments(ws))
    queues = per_annotator(assignments)
    # One annotator per queue: the overlap is made by the assignment, not by the server.
    queue_settings = {**settings, "maximum_annotations": 1}
    return [_Target(QUEUE_PREFIX + email.lower(), queue_title(title, email), queue_settings,
                    queues.get(email.lower(), set()), email.lower())
            for email in campaign.annotators], assignments


def push(workspace: Workspace, *, dry_run: bool = False, force: bool = False, chunk_size: int = 500,
         progress: Progress | None = None, client: LabelStudioClient | None = None,
         sleep: Callable[[float], None] = time.sleep) -> PushReport:
    """Create/find the project (or, in assigned mode, each annotator's queue project), update its
    config and team settings, import the tasks it does not have yet."""
    progress = progress or NullProgress()
    if not workspace.tasks_path.exists():
        raise InputNotFound(f"{workspace.relative(workspace.tasks_path)} does not exist yet",
                            hint="run `toolkit ingest` and `toolkit tasks` first")
    ensure_scheme_files_current(workspace.schemas_dir)
    scheme = Scheme.load(workspace.scheme_path)
    label_config = build_labeling_config(scheme)
    targets, assignments = _targets(workspace, scheme)
    conn = connect(workspace)
    own_client = client is None
    client = client or client_for(workspace, conn)
    try:
        report = PushReport(server=conn.url, project_id=None, project_title=workspace.config.project.title,
                            dry_run=dry_run, settings=targets[0].settings)
        if assignments is not None:
            report.mode = "assigned"
            if not dry_run:
                save_assignments(workspace, assignments, workspace.config.annotators_per_task)
        for target in targets:
            part = _push_one(workspace, conn, client, target, label_config, dry_run=dry_run, force=force,
                             chunk_size=chunk_size, progress=progress, sleep=sleep, scheme=scheme)
            if target.annotator is None:
                report.project_id = part.project_id
            else:
                report.queues[target.annotator] = {
                    "project_id": part.project_id, "title": target.title, "assigned": len(target.articles or ()),
                    "imported": part.imported, "already_there": part.already_there}
            report.duplicate_articles.update(part.duplicate_articles)
            for key, count in part.suggestions.items():
                report.suggestions[key] = report.suggestions.get(key, 0) + count
            report.suggestion_problems = sorted(set(report.suggestion_problems) | set(part.suggestion_problems))
            report.shown_version = part.shown_version or report.shown_version
            for name in ("already_there", "to_import", "imported", "predictions", "duplicates_removed"):
                setattr(report, name, getattr(report, name) + getattr(part, name))
            report.created_project |= part.created_project
            report.config_changed |= part.config_changed
            report.removed_values_in_use.update(part.removed_values_in_use)
            report.settings_changed = sorted(set(report.settings_changed) | set(part.settings_changed))
        return report
    finally:
        if own_client:
            client.close()


def _push_one(ws: Workspace, conn: Any, client: LabelStudioClient, target: _Target, label_config: str, *,
              dry_run: bool, force: bool, chunk_size: int, progress: Progress,
              sleep: Callable[[float], None], scheme: Scheme) -> PushReport:
    page_size = ws.config.labelstudio.page_size
    project = resolve_project(ws, conn, client, key=target.state_key, title=target.title)
    report = PushReport(server=conn.url, project_id=project["id"] if project else None, project_title=target.title,
                        dry_run=dry_run, settings=target.settings)
    report.settings_changed = sorted(target.settings) if project is None else _differing(project, target.settings)
    existing: set[str] = set()
    listing: dict[str, list[dict[str, Any]]] = {}
    if project is None:
        report.created_project = True
    else:
        _save_state(ws, conn, target, int(project["id"]))
        if project.get("label_config", "").strip() != label_config.strip():
            report.config_changed = True
            removed = removed_values(project.get("label_config", ""), label_config)
            if removed:
                report.removed_values_in_use = removed_values_in_use(client, int(project["id"]), removed, page_size)
        listing = server_tasks_by_article(client, int(project["id"]), page_size)
        existing = set(listing)
        if not dry_run and any(len(tasks) > 1 for tasks in listing.values()):
            report.duplicates_removed, report.duplicate_articles = repair_duplicates(
                client, int(project["id"]), page_size, listing)
    if report.removed_values_in_use and not force and not dry_run:
        used = "; ".join(f"{k} in {n} annotation(s)" for k, n in report.removed_values_in_use.items())
        raise PushRefused(f"the scheme removes values that annotations on {conn.url} still use: {used}",
                          hint="put them back in schemas/scheme.json, or push with --force to update anyway "
                               "(those annotations will no longer validate)")
    skip = set(existing)
    if target.articles is not None:  # a queue gets only its annotator's articles
        skip |= {str(t["data"]["article_id"]) for _n, t in iter_tasks(ws.tasks_path)} - target.articles
    report.already_there = len(existing)
    local_new = sum(1 for _ in _iter_new(ws, set(skip)))
    report.to_import = local_new
    if dry_run:
        return report
    if project is None:
        report.project_id = client.create_project(target.title, label_config, ws.config.project.description)
        _save_state(ws, conn, target, int(report.project_id))
    elif report.config_changed:
        client.update_label_config(int(project["id"]), label_config)
    # Creating a project with these settings is known not to stick (label-studio-sdk issue 339):
    # they are set by an update after the create, and read back.
    if report.settings_changed:
        apply_team_settings(client, int(report.project_id), target.settings)
    progress.start(local_new, "push" if target.annotator is None else f"push to {target.annotator}")
    uncertain: list[int] = []
    for chunk in _chunks(ws, skip, chunk_size):
        imported = _import_chunk(client, int(report.project_id), chunk, page_size, sleep, uncertain)
        report.imported += imported
        report.predictions += sum(len(t.get("predictions") or []) for t in chunk)
        progress.advance(len(chunk))
    progress.finish()
    if uncertain:
        # An import whose answer was lost may have landed after all: make sure every article is
        # there once, removing only extra copies without work in them.
        removed, report.duplicate_articles = repair_duplicates(client, int(report.project_id), page_size)
        report.duplicates_removed += removed
    if (ws.annotations_dir / PREDICTIONS_DIR).is_dir():
        if report.imported or report.duplicates_removed or project is None:  # the first listing is out of date
            listing = server_tasks_by_article(client, int(report.project_id), page_size)
        attached = import_predictions(ws, scheme, client, int(report.project_id), listing, target.articles)
        report.suggestions = {"imported": attached.imported, "already_there": attached.already_there,
                              "not_on_server": attached.not_on_server, "blind": attached.blind}
        report.suggestion_problems = attached.problems
        if attached.shown and (attached.imported or attached.already_there):
            show_suggestions(client, int(report.project_id), attached.shown)
            report.shown_version = attached.shown
    return report


def _save_state(ws: Workspace, conn: Any, target: _Target, project_id: int) -> None:
    if target.annotator is None:
        save_project_id(ws, conn, project_id)
    else:
        save_queue_id(ws, conn, target.annotator, project_id)


# Team settings: overlap and guidelines -------------------------------------------------------

SAMPLING = {"sequential": "Sequential sampling", "uncertainty": "Uncertainty sampling"}


def team_settings(ws: Workspace, scheme: Scheme) -> dict[str, Any]:
    """The project settings a team round needs, as Label Studio names them.

    Every task goes to ``annotators_per_task`` people (all tasks in the overlap cohort, shown
    first), and the guidelines are the project's instructions, shown before labelling.
    """
    return {
        "maximum_annotations": ws.config.annotators_per_task,
        "overlap_cohort_percentage": 100,
        "show_overlap_first": True,
        "expert_instruction": workspace_guidelines(ws.schemas_dir, scheme),
        "show_instruction": ws.config.campaign.show_guidelines,
        # Suggestions shown to annotators, and the queue order (uncertainty sampling: the tasks
        # whose suggestion has the lowest score first).
        "show_collab_predictions": True,
        "sampling": SAMPLING[ws.config.preannotate.order],
    }


def show_suggestions(client: LabelStudioClient, project_id: int, model_version: str) -> None:
    """Make ``model_version`` the project's: Label Studio shows annotators only its predictions,
    and uncertainty sampling orders by them. Set after the predictions are attached (the server
    refuses a version it has no prediction of), and read back."""
    project = client.project(project_id)
    if project.get("model_version") == model_version:
        return
    after = client.update_project(project_id, {"model_version": model_version})
    if after.get("model_version") != model_version:
        raise ProjectSettingsRejected(
            f"project {project_id} on {client.url} did not take model_version {model_version!r} "
            f"(it has {_brief(after.get('model_version'))})",
            hint="annotators would see no suggestions or another model's; check the server's log and push again")


def _differing(project: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    return sorted(key for key, value in settings.items() if project.get(key) != value)


def apply_team_settings(client: LabelStudioClient, project_id: int, settings: dict[str, Any]) -> None:
    """Set the team settings on the project, then read them back; an error if any did not stick."""
    after = client.update_project(project_id, settings)
    wrong = _differing(after, settings)
    if wrong:
        shown = "; ".join(f"{key}: asked {_brief(settings[key])}, server has {_brief(after.get(key))}"
                          for key in wrong)
        raise ProjectSettingsRejected(
            f"project {project_id} on {client.url} did not keep its team settings ({shown})",
            hint="check the server's version and log; these settings decide who gets which task, so "
                 "annotation should not start until `toolkit push` succeeds")


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _iter_new(ws: Workspace, existing: set[str]) -> Iterator[str]:
    for _number, task in iter_tasks(ws.tasks_path):
        article = str(task["data"]["article_id"])
        if article not in existing:
            existing.add(article)
            yield article


def _import_chunk(client: LabelStudioClient, project_id: int, chunk: list[dict[str, Any]], page_size: int,
                  sleep: Callable[[float], None], uncertain: list[int] | None = None) -> int:
    """Import one chunk. After a failure whose outcome is unknown (a lost answer, a timeout), the
    import may still reach the server later: wait for its articles to appear, and send again only
    those that do not. ``uncertain`` collects how often that happened, for the duplicate check."""
    pending = chunk
    for attempt in range(client.retries + 1):
        try:
            return client.import_tasks(project_id, pending) + (len(chunk) - len(pending))
        except LabelStudioError as exc:
            if attempt == client.retries or not _transient(exc):
                raise
            if uncertain is not None:
                uncertain.append(project_id)
            pending = _still_missing(client, project_id, pending, page_size, sleep)
            if not pending:
                return len(chunk)
    raise AssertionError("unreachable")  # pragma: no cover


# How long to wait, in total, for an import whose answer was lost to show on the server.
UNKNOWN_OUTCOME_WAIT = (0.5, 1.0, 2.0, 4.0, 8.0)


def _still_missing(client: LabelStudioClient, project_id: int, pending: list[dict[str, Any]], page_size: int,
                   sleep: Callable[[float], None]) -> list[dict[str, Any]]:
    """The tasks of ``pending`` the server still lacks once the lost import had time to land."""
    missing = pending
    for pause in UNKNOWN_OUTCOME_WAIT:
        sleep(pause)
        on_server = server_article_ids(client, project_id, page_size)
        missing = [t for t in pending if str(t["data"]["article_id"]) not in on_server]
        if not missing:
            break
    return missing


def repair_duplicates(client: LabelStudioClient, project_id: int, page_size: int,
                      listing: dict[str, list[dict[str, Any]]] | None = None) -> tuple[int, dict[str, list[int]]]:
    """Make every article appear once in the project: delete the extra tasks that carry no
    annotation and no draft (copies a lost import answer made). Returns how many were deleted,
    and the article ids still present more than once (their extra tasks hold work: nothing of
    that is deleted, it is reported)."""
    removed, left = 0, {}
    listing = listing if listing is not None else server_tasks_by_article(client, project_id, page_size)
    for article, tasks in listing.items():
        if len(tasks) < 2:
            continue
        keep = next((t for t in tasks if t["annotations"] or t["drafts"]), tasks[0])
        for task in tasks:
            if task is not keep and not task["annotations"] and not task["drafts"]:
                client.delete_task(task["id"])
                removed += 1
        remaining = [t["id"] for t in tasks if t is keep or t["annotations"] or t["drafts"]]
        if len(remaining) > 1:
            left[article] = remaining
    return removed, left


def _transient(exc: LabelStudioError) -> bool:
    from ..errors import ServerError, ServerTimeout, ServerUnreachable

    return isinstance(exc, (ServerTimeout, ServerUnreachable, ServerError))
