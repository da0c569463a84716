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
from .project import (iter_export_chunks, resolve_project, save_project_id, server_article_ids)
from .guidelines import workspace_guidelines
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


def push(workspace: Workspace, *, dry_run: bool = False, force: bool = False, chunk_size: int = 500,
         progress: Progress | None = None, client: LabelStudioClient | None = None,
         sleep: Callable[[float], None] = time.sleep) -> PushReport:
    """Create/find the project, update its config if the scheme changed, import new tasks."""
    progress = progress or NullProgress()
    if not workspace.tasks_path.exists():
        raise InputNotFound(f"{workspace.relative(workspace.tasks_path)} does not exist yet",
                            hint="run `toolkit ingest` and `toolkit tasks` first")
    ensure_scheme_files_current(workspace.schemas_dir)
    scheme = Scheme.load(workspace.scheme_path)
    label_config = build_labeling_config(scheme)
    settings = team_settings(workspace, scheme)
    conn = connect(workspace)
    own_client = client is None
    client = client or client_for(workspace, conn)
    page_size = workspace.config.labelstudio.page_size
    try:
        project = resolve_project(workspace, conn, client)
        report = PushReport(server=conn.url, project_id=project["id"] if project else None,
                            project_title=workspace.config.project.title, dry_run=dry_run, settings=settings)
        report.settings_changed = sorted(settings) if project is None else _differing(project, settings)
        existing: set[str] = set()
        if project is None:
            report.created_project = True
        else:
            save_project_id(workspace, conn, int(project["id"]))
            if project.get("label_config", "").strip() != label_config.strip():
                report.config_changed = True
                removed = removed_values(project.get("label_config", ""), label_config)
                if removed:
                    report.removed_values_in_use = removed_values_in_use(client, int(project["id"]), removed,
                                                                         page_size)
            existing = server_article_ids(client, int(project["id"]), page_size)
        if report.removed_values_in_use and not force and not dry_run:
            used = "; ".join(f"{k} in {n} annotation(s)" for k, n in report.removed_values_in_use.items())
            raise PushRefused(f"the scheme removes values that annotations on {conn.url} still use: {used}",
                              hint="put them back in schemas/scheme.json, or push with --force to update anyway "
                                   "(those annotations will no longer validate)")
        report.already_there = len(existing)
        local_new = sum(1 for _ in _iter_new(workspace, set(existing)))
        report.to_import = local_new
        if dry_run:
            return report
        if project is None:
            project_id = client.create_project(report.project_title, label_config,
                                               workspace.config.project.description)
            save_project_id(workspace, conn, project_id)
            report.project_id = project_id
        elif report.config_changed:
            client.update_label_config(int(project["id"]), label_config)
        # Creating a project with these settings is known not to stick (label-studio-sdk issue 339):
        # they are set by an update after the create, and read back.
        if report.settings_changed:
            apply_team_settings(client, int(report.project_id), settings)
        progress.start(local_new, "push")
        for chunk in _chunks(workspace, set(existing), chunk_size):
            imported = _import_chunk(client, int(report.project_id), chunk, page_size, sleep)
            report.imported += imported
            report.predictions += sum(len(t.get("predictions") or []) for t in chunk)
            progress.advance(len(chunk))
        progress.finish()
        return report
    finally:
        if own_client:
            client.close()


# Team settings: overlap and guidelines -------------------------------------------------------

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
    }


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
                  sleep: Callable[[float], None]) -> int:
    """Import one chunk; after a failure, import only what the server does not have yet."""
    pending = chunk
    for attempt in range(client.retries + 1):
        try:
            return client.import_tasks(project_id, pending) + (len(chunk) - len(pending))
        except LabelStudioError as exc:
            if attempt == client.retries or not _transient(exc):
                raise
            sleep(client.backoff * 2 ** attempt)
            on_server = server_article_ids(client, project_id, page_size)
            pending = [t for t in pending if str(t["data"]["article_id"]) not in on_server]
            if not pending:
                return len(chunk)
    raise AssertionError("unreachable")  # pragma: no cover


def _transient(exc: LabelStudioError) -> bool:
    from ..errors import ServerError, ServerTimeout, ServerUnreachable

    return isinstance(exc, (ServerTimeout, ServerUnreachable, ServerError))
