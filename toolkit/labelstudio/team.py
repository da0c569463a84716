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

import datetime as dt
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from .. import atomicio
from ..errors import InputError
from ..workspace import Workspace
from .client import LabelStudioClient, client_for, connect

__all__ = ["Annotator", "AnnotatorsReport", "add_annotators", "list_annotators"]

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
