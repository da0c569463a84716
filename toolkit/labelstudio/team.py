"""The annotation team: adding annotators to the server, and who has done what.

Label Studio Community has no API that makes a working account: ``POST /api/users/``
answers 201 but ignores the password and leaves the user outside the organisation. What
works is the organisation's invite link, as a person uses it in the browser; so
``add_annotators`` signs each new person up through it with a one-time password that it
returns once (the CLI prints it once) and never stores. On a server of the user's own
(``LABEL_STUDIO_URL``) it hands out the invite link instead, unless asked to create the
accounts.

What is kept: ``.labelstudio/annotators.json`` (mode 0600, like the rest of ``.labelstudio/``)
lists the e-mails, user ids and when each was added, never a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from .. import atomicio
from ..errors import InputError
from ..workspace import Workspace
from .client import LabelStudioClient, client_for, connect

__all__ = ["Annotator", "AnnotatorsReport", "add_annotators", "list_annotators", "Check", "RoundStatus", "round_status"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Annotator:
    email: str
    user_id: int | None = None
    created: bool = False
    password: str | None = None  # a new account's one-time password; never written anywhere

    def to_dict(self) -> dict[str, Any]:
        return {"email": self.email, "user_id": self.user_id, "created": self.created}


@dataclass
class AnnotatorsReport:
    server: str
    embedded: bool
    annotators: list[Annotator] = field(default_factory=list)
    invite_url: str | None = None  # when people sign up themselves

    def to_dict(self) -> dict[str, Any]:
        # The invite link is a credential of sorts too, but it is what the maintainer asked for.
        return {"server": self.server, "embedded": self.embedded, "invite_url": self.invite_url,
                "annotators": [a.to_dict() for a in self.annotators]}


def _roster_path(ws: Workspace):
    return ws.root / ".labelstudio" / "annotators.json"


def _save_roster(ws: Workspace, server: str, people: list[Annotator]) -> None:
    path = _roster_path(ws)
    roster = json.loads(path.read_text()) if path.exists() else {"servers": {}}
    entries = roster.setdefault("servers", {}).setdefault(server, {})
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for person in people:
        entries.setdefault(person.email, {"user_id": person.user_id, "added_at": now})
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    atomicio.write_json(path, roster)
    os.chmod(path, 0o600)


def add_annotators(ws: Workspace, emails: list[str], *, create: bool | None = None,
                   client: LabelStudioClient | None = None) -> AnnotatorsReport:
    """Give each e-mail an account in the server's organisation (``create``, the default on the
    embedded server), or return the invite link for people to sign up themselves."""
    bad = [e for e in emails if not _EMAIL.match(e)]
    if bad:
        raise InputError(f"not an e-mail address: {', '.join(map(repr, bad))}", hint="give addresses like ann@example.org")
    conn = connect(ws)
    create = conn.embedded if create is None else create
    own = client is None
    client = client or client_for(ws, conn)
    try:
        report = AnnotatorsReport(server=conn.url, embedded=conn.embedded)
        known = {email.lower(): user_id for user_id, email in client.users().items() if email}
        if not create:
            report.invite_url = client.invite_url()
            report.annotators = [Annotator(e.lower(), known.get(e.lower())) for e in emails]
            return report
        for email in dict.fromkeys(e.lower() for e in emails):
            if email in known:
                report.annotators.append(Annotator(email, known[email]))
                continue
            password = secrets.token_urlsafe(12)
            user = client.sign_up(email, password)
            # Proof that the person can log in with it, before the password is handed out.
            client.log_in(email, password).close()
            report.annotators.append(Annotator(email, int(user["id"]), created=True, password=password))
        _save_roster(ws, "embedded" if conn.embedded else conn.url, report.annotators)
        return report
    finally:
        if own:
            client.close()


def list_annotators(ws: Workspace, *, client: LabelStudioClient | None = None) -> list[dict[str, Any]]:
    """Every account on the server, with what the workspace's last pull holds of each."""
    from ..validation import iter_parquet_records
    from ..scheme import Scheme

    conn = connect(ws)
    own = client is None
    client = client or client_for(ws, conn)
    try:
        users = client.users()
    finally:
        if own:
            client.close()
    done: dict[int, dict[str, int]] = {}
    annotations = ws.annotations_dir / "annotations.parquet"
    if annotations.exists():
        for record in iter_parquet_records(annotations, Scheme.load(ws.scheme_path)):
            entry = done.setdefault(record.get("annotator_id"), {"submitted": 0, "skipped": 0, "edited_by_others": 0})
            entry["skipped" if record.get("was_cancelled") else "submitted"] += 1
            entry["edited_by_others"] += bool(record.get("edited_by_other"))
    return [{"user_id": user_id, "email": email,
             **done.get(user_id, {"submitted": 0, "skipped": 0, "edited_by_others": 0})}
            for user_id, email in sorted(users.items())]


# The round's status ---------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RoundStatus:
    server: str
    project_id: int | None
    tasks: int
    needed_per_task: int
    checks: list[Check] = field(default_factory=list)
    annotators: list[dict[str, Any]] = field(default_factory=list)
    short_articles: list[dict[str, Any]] = field(default_factory=list)  # fewer answers than the policy needs
    annotations_left: int = 0
    rate_per_day: float | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    duplicate_articles: dict[str, list[Any]] = field(default_factory=dict)  # from the last pull
    pulled_at: str | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["checks"] = [c.to_dict() for c in self.checks]
        data["ok"] = self.ok
        return data


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def round_status(ws: Workspace, *, client: LabelStudioClient | None = None) -> RoundStatus:
    """Where the annotation round stands: the server's settings checked against the gold
    policy, and per annotator what the last pull holds (done, skipped, quarantined, lead time,
    agreement so far from the last ``toolkit agree``)."""
    from ..scheme import Scheme
    from ..validation import iter_parquet_records

    conn = connect(ws)
    config = ws.config
    needed = config.gold.min_annotations
    own = client is None
    client = client or client_for(ws, conn)
    try:
        if config.campaign.mode == "assigned":
            status = _assigned_checks(ws, conn, client, needed)
        else:
            status = _shared_checks(ws, conn, client, needed)
    finally:
        if own:
            client.close()
    if status.checks and status.checks[0].name == "project":  # nothing pushed yet
        return status
    annotations = ws.annotations_dir / "annotations.parquet"
    per_person: dict[Any, dict[str, Any]] = {}
    per_article: dict[str, int] = {}
    times: list[dt.datetime] = []
    emails: dict[Any, Any] = {}
    if annotations.exists():
        status.pulled_at = dt.datetime.fromtimestamp(annotations.stat().st_mtime, dt.timezone.utc).isoformat(
            timespec="seconds")
        for record in iter_parquet_records(annotations, Scheme.load(ws.scheme_path)):
            who = record.get("annotator_email") or record.get("annotator_id")
            emails[record.get("annotator_id")] = who
            person = per_person.setdefault(who, {"annotator": who, "submitted": 0, "skipped": 0, "quarantined": 0,
                                                 "edited_by_others": 0, "lead_times": []})
            if record.get("was_cancelled"):
                person["skipped"] += 1
                continue
            person["submitted"] += 1
            lead_time = record.get("lead_time")
            if isinstance(lead_time, (int, float)) and math.isfinite(lead_time):  # NaN/inf say nothing
                person["lead_times"].append(float(lead_time))
            if record.get("edited_by_other"):
                person["edited_by_others"] += 1
                status.edits.append({"task_id": record["task_id"], "annotation_id": record["annotation_id"],
                                     "annotator": who,
                                     "editor": record.get("updated_by_email") or record.get("updated_by_id")})
                continue  # not an independent answer
            per_article[record["article_id"]] = per_article.get(record["article_id"], 0) + 1
            with_time = record.get("created_at")
            if with_time:
                times.append(dt.datetime.fromisoformat(str(with_time).replace("Z", "+00:00")))
    quarantine = ws.annotations_dir / "quarantine.jsonl"
    if quarantine.exists():
        for line in quarantine.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line) if line.strip() else {}
            who = emails.get(entry.get("annotator_id"), entry.get("annotator_id"))
            if who is not None and entry.get("kind") == "annotation":
                per_person.setdefault(who, {"annotator": who, "submitted": 0, "skipped": 0, "quarantined": 0,
                                            "edited_by_others": 0, "lead_times": []})["quarantined"] += 1
    pull_report = ws.annotations_dir / "pull-report.json"
    if pull_report.exists():
        with contextlib.suppress(ValueError, AttributeError):
            status.duplicate_articles = json.loads(pull_report.read_text()).get("duplicate_articles") or {}
    if status.duplicate_articles:
        status.checks.append(Check("one task per article", False,
                                   f"{len(status.duplicate_articles)} article(s) are in more than one task "
                                   "(last pull): delete the extra tasks"))
    agreement_path = ws.annotations_dir / "agreement.json"
    detail = json.loads(agreement_path.read_text())["annotators_detail"] if agreement_path.exists() else {}
    for who, person in sorted(per_person.items(), key=lambda item: str(item[0])):
        lead_times = person.pop("lead_times")
        person["median_lead_time"] = _median(lead_times)
        person["agreement"] = (detail.get(str(who)) or {}).get("agreement", {})
        status.annotators.append(person)
    status.short_articles = sorted(({"article_id": a, "independent_answers": n} for a, n in per_article.items()
                                    if n < needed), key=lambda row: row["article_id"])
    answered = sum(min(n, needed) for n in per_article.values())
    status.annotations_left = max(status.tasks * needed - answered, 0)
    if len(times) >= 2 and max(times) > min(times):
        status.rate_per_day = round(len(times) / ((max(times) - min(times)).total_seconds() / 86400), 1)
    return status


def _guidelines_check(project: dict[str, Any], show: bool, where: str = "") -> Check:
    text = (project.get("expert_instruction") or "").strip()
    return Check("guidelines" + where, bool(text) and bool(project.get("show_instruction")) == show,
                 ("guidelines set and " + ("shown before labelling" if project.get("show_instruction")
                                           else "not shown first")) if text else "no guidelines: run `toolkit push`")


def _shared_checks(ws: Workspace, conn: Any, client: LabelStudioClient, needed: int) -> RoundStatus:
    from .project import resolve_project

    project = resolve_project(ws, conn, client)
    status = RoundStatus(server=conn.url, project_id=int(project["id"]) if project else None,
                         tasks=int(project.get("task_number") or 0) if project else 0, needed_per_task=needed)
    if project is None:
        status.checks.append(Check("project", False, "no project on the server yet: run `toolkit push`"))
        return status
    overlap = project.get("maximum_annotations")
    enough = isinstance(overlap, int) and overlap >= needed
    status.checks += [
        Check("overlap", enough, f"each task goes to {overlap} annotator(s); the gold policy needs {needed}"
              + ("" if enough else ": run `toolkit push` to set it")),
        Check("overlap cohort", project.get("overlap_cohort_percentage") == 100,
              f"{project.get('overlap_cohort_percentage')} % of tasks are in the overlap cohort (needs 100)"),
        _guidelines_check(project, ws.config.campaign.show_guidelines),
    ]
    return status


def _assigned_checks(ws: Workspace, conn: Any, client: LabelStudioClient, needed: int) -> RoundStatus:
    """Assigned mode: every listed annotator has a queue holding exactly their articles, and
    every article is assigned to enough people for the gold policy."""
    from .assignment import load_assignments, per_annotator
    from .project import stored_queue_ids

    assignments = load_assignments(ws)
    status = RoundStatus(server=conn.url, project_id=None, tasks=len(assignments), needed_per_task=needed)
    short = sum(len(people) < needed for people in assignments.values())
    status.checks.append(Check("assignment", bool(assignments) and short == 0,
                               f"{len(assignments)} article(s) assigned, {short} to fewer than {needed} annotator(s)"
                               if assignments else "nothing assigned yet: run `toolkit push`"))
    queues = stored_queue_ids(ws, conn)
    mine = per_annotator(assignments)
    for email in (a.lower() for a in ws.config.campaign.annotators):
        project_id = queues.get(email)
        if project_id is None:
            status.checks.append(Check(f"queue of {email}", False, "no queue project: run `toolkit push`"))
            continue
        project = client.project(project_id)
        on_server, assigned = int(project.get("task_number") or 0), len(mine.get(email, ()))
        status.checks.append(Check(f"queue of {email}", on_server == assigned and project.get("maximum_annotations") == 1,
                                   f"project {project_id}: {on_server} task(s) of {assigned} assigned"))
        status.checks.append(_guidelines_check(project, ws.config.campaign.show_guidelines, f" of {email}"))
    return status
