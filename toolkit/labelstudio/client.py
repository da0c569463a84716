"""Talking to a Label Studio server: which one, and a client that fails clearly.

Which server: ``LABEL_STUDIO_URL`` + ``LABEL_STUDIO_API_KEY`` from the environment when set
(a user's own server), else ``[labelstudio] url`` in toolkit.toml with the key from the
environment, else the workspace's embedded server (``toolkit studio start``).

The client uses ``label-studio-sdk`` for project management and imports, and plain HTTP on
the same connection pool for reading tasks page by page: the SDK parses every task into
pydantic models, which costs more than the request itself on large projects, and the pull
needs the raw JSON anyway (it is saved as the snapshot).

Every failure becomes a ``LabelStudioError`` subclass with a one-line message naming the
server and what to do. The API token is only ever put in the Authorization header: it is not
in any message, log line or file the toolkit writes (the embedded server's 0600 credentials
file aside).
"""

from __future__ import annotations

import json
import os
import re
import time
from urllib.parse import urlsplit, urlunsplit
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import httpx

from ..errors import (
    AuthenticationFailed,
    ConfigError,
    LabelStudioError,
    ProjectNotFound,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    StudioError,
    redact,
)
from ..workspace import Workspace

T = TypeVar("T")


@dataclass(frozen=True)
class Connection:
    """Where the server is. ``url`` is fit to print (no ``user:password@``); ``http_url`` is what
    requests go to, as the user gave it."""
    url: str
    token: str
    embedded: bool
    http_url: str = ""

    def __post_init__(self) -> None:
        if not self.http_url:
            object.__setattr__(self, "http_url", self.url)
        object.__setattr__(self, "url", public_url(self.url))

    def __repr__(self) -> str:
        return f"Connection(url={self.url!r}, token='***', embedded={self.embedded})"


def public_url(url: str) -> str:
    """A server URL without any ``user:password@`` part, fit to be printed or written down."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect(workspace: Workspace) -> Connection:
    """The server this workspace talks to (see the module docstring for the order)."""
    env_url = os.environ.get("LABEL_STUDIO_URL", "").strip()
    env_key = os.environ.get("LABEL_STUDIO_API_KEY", "").strip()
    url = env_url or workspace.config.labelstudio.url
    if url:
        if not env_key:
            raise ConfigError(f"a Label Studio URL is set ({public_url(url)}) but LABEL_STUDIO_API_KEY is not",
                              hint="export LABEL_STUDIO_API_KEY=<your token> (Account & Settings in Label Studio)")
        return Connection(url=url.rstrip("/"), token=env_key, embedded=False)
    if env_key:
        raise ConfigError("LABEL_STUDIO_API_KEY is set but LABEL_STUDIO_URL is not",
                          hint="export LABEL_STUDIO_URL=http://host:port too, or unset both to use `toolkit studio`")
    from .studio import EmbeddedStudio

    studio = EmbeddedStudio(workspace)
    status = studio.status()
    creds = studio.credentials()
    if not status.running or creds is None:
        raise StudioError("no Label Studio server to talk to: the embedded one is not running and "
                          "LABEL_STUDIO_URL is not set",
                          hint="run `toolkit studio start`, or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY")
    return Connection(url=creds.url, token=creds.token, embedded=True)


_TRANSIENT_STATUS = {500, 502, 503, 504}


def client_for(workspace: Workspace, connection: Connection) -> "LabelStudioClient":
    """A client with the workspace's [labelstudio] timeout and retries."""
    cfg = workspace.config.labelstudio
    return LabelStudioClient(connection, timeout=cfg.timeout, retries=cfg.retries)


class LabelStudioClient:
    """A small, strict client. ``retries`` apply to reads and to the calls marked idempotent."""

    def __init__(self, connection: Connection, *, timeout: float = 60.0, retries: int = 4,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = connection.url  # printable; requests go to connection.http_url
        self._token = connection.token
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self.http = httpx.Client(base_url=connection.http_url, timeout=timeout,
                                 headers={"Authorization": f"Token {connection.token}"})
        from label_studio_sdk import LabelStudio

        # max_retries=0: the SDK would retry a timed-out import and could create tasks twice;
        # retries are decided here, per call.
        self.sdk = LabelStudio(base_url=connection.http_url, api_key=connection.token, httpx_client=self.http,
                               max_retries=0, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "LabelStudioClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Error handling ---------------------------------------------------------------------
    def _fail(self, status: int | None, what: str, detail: str = "") -> LabelStudioError:
        detail = f": {redact(detail, self._token)}" if detail else ""
        if status in (401, 403):
            return AuthenticationFailed(
                f"{self.url} refused the API token ({status}) while {what}",
                hint="check LABEL_STUDIO_API_KEY (or restart `toolkit studio` for the embedded server); "
                     "the legacy token must be enabled on the server")
        if status == 404:
            return ProjectNotFound(f"{self.url}: not found (404) while {what}{detail}",
                                   hint="check the project exists on this server and LABEL_STUDIO_URL is right")
        return ServerError(f"{self.url} answered {status} while {what}{detail}",
                           hint="see the server's log; run the command again once it is healthy")

    def call(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run one request; retry connection errors, timeouts and 5xx with backoff when idempotent."""
        from label_studio_sdk.core.api_error import ApiError

        attempts = self.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return fn()
            except ApiError as exc:
                if exc.status_code in _TRANSIENT_STATUS and not last:
                    self._sleep(self.backoff * 2 ** attempt)
                    continue
                raise self._fail(exc.status_code, what, _short(exc.body)) from None
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code in _TRANSIENT_STATUS and not last:
                    self._sleep(self.backoff * 2 ** attempt)
                    continue
                raise self._fail(exc.response.status_code, what, _short(exc.response.text)) from None
            except httpx.TimeoutException:
                if not last:
                    self._sleep(self.backoff * 2 ** attempt)
                    continue
                raise ServerTimeout(f"{self.url} did not answer in time while {what}"
                                    + (f" ({attempts} attempts)" if attempts > 1 else ""),
                                    hint="the server may be overloaded; run the command again (it resumes)") from None
            except httpx.TransportError as exc:
                if not last:
                    self._sleep(self.backoff * 2 ** attempt)
                    continue
                raise ServerUnreachable(f"cannot reach Label Studio at {self.url} while {what} "
                                        f"({type(exc).__name__})",
                                        hint="is the server running? `toolkit studio start`, or check "
                                             "LABEL_STUDIO_URL") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, path: str, what: str, params: Any = None) -> Any:
        def request() -> Any:
            response = self.http.get(path, params=params)
            response.raise_for_status()
            try:
                return response.json()
            except ValueError:
                raise ServerError(f"{self.url} answered with something that is not JSON while {what}",
                                  hint="check LABEL_STUDIO_URL points at Label Studio") from None

        return self.call(what, request)

    # API --------------------------------------------------------------------------------
    def health(self) -> None:
        self.call("checking its health", lambda: self.http.get("/health").raise_for_status())

    def whoami(self) -> dict[str, Any]:
        return self.get_json("/api/current-user/whoami", "reading the current user")

    def users(self) -> dict[int, str]:
        """User id -> email, for every user the token can see."""
        users = self.get_json("/api/users/", "listing users")
        if isinstance(users, dict):  # some versions page this endpoint
            users = users.get("results", [])
        return {int(u["id"]): u.get("email") or u.get("username") for u in users}

    def project(self, project_id: int) -> dict[str, Any]:
        return self.get_json(f"/api/projects/{project_id}/", f"reading project {project_id}")

    def find_projects(self, title: str) -> list[dict[str, Any]]:
        found, page = [], 1
        while True:
            data = self.get_json("/api/projects/", "listing projects",
                                 {"page": page, "page_size": 100, "title": title})
            results = data.get("results", []) if isinstance(data, dict) else data
            found += [p for p in results if p.get("title") == title]
            if not isinstance(data, dict) or not data.get("next"):
                return found
            page += 1

    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        project = self.call(f"creating project {title!r}",
                            lambda: self.sdk.projects.create(title=title, label_config=label_config,
                                                             description=description),
                            idempotent=False)
        return int(project.id)

    def update_project(self, project_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """PATCH project settings; returns the project as the server then has it."""
        def request() -> Any:
            response = self.http.patch(f"/api/projects/{project_id}/", json=fields)
            response.raise_for_status()
            return response.json()

        self.call(f"updating the settings of project {project_id} ({', '.join(sorted(fields))})", request)
        return self.project(project_id)

    # People -------------------------------------------------------------------------------
    def invite_url(self) -> str:
        """The organisation's invite link (``/user/signup/?token=...``)."""
        invite = self.get_json("/api/invite", "reading the organisation's invite link")
        token = invite.get("token") if isinstance(invite, dict) else None
        if not token:
            raise ServerError(f"{self.url} gave no invite token", hint="is this a Label Studio server?")
        return f"{self.url}/user/signup/?token={token}"

    def sign_up(self, email: str, password: str) -> dict[str, Any]:
        """Create an account through the organisation's invite link, as a person would in the
        browser (the admin API's user creation ignores the password and leaves the user outside
        the organisation). Returns the new user (id, email, active_organization)."""
        signup = self.invite_url()
        with httpx.Client(base_url=self.http.base_url, timeout=self.http.timeout, follow_redirects=False) as browser:
            response = self.call(f"signing up {email}", lambda: _post_form(browser, signup, {
                "email": email, "password": password, "how_find_us": "", "allow_newsletters": ""}),
                idempotent=False)
            if response.status_code != 302:
                errors = _form_errors(response.text) or [f"answer {response.status_code}"]
                raise LabelStudioError(f"{self.url} refused the account {email}: {'; '.join(errors)}",
                                       hint="use another e-mail address, or check the server's log")
            return self.call(f"reading the new account {email}",
                             lambda: _json(browser.get("/api/current-user/whoami")))

    def log_in(self, email: str, password: str) -> httpx.Client:
        """A browser-like session of ``email`` (the caller closes it); an error if the login fails."""
        session = httpx.Client(base_url=self.http.base_url, timeout=self.http.timeout, follow_redirects=False)
        try:
            answer = _post_form(session, "/user/login/", {"email": email, "password": password})
        except httpx.HTTPError as exc:
            session.close()
            raise ServerUnreachable(f"cannot log {email} in at {self.url} ({type(exc).__name__})") from None
        if answer.status_code != 302:
            session.close()
            raise AuthenticationFailed(f"{self.url} refused the login of {email}",
                                       hint="check the e-mail and password")
        return session

    def delete_task(self, task_id: int) -> None:
        """Delete one task (push uses it only for duplicates it made itself, never annotated)."""
        self.call(f"deleting task {task_id}", lambda: self.http.delete(f"/api/tasks/{task_id}/").raise_for_status())

    def update_label_config(self, project_id: int, label_config: str) -> None:
        self.call(f"updating the labeling config of project {project_id}",
                  lambda: self.sdk.projects.update(id=project_id, label_config=label_config))

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> int:
        """Import tasks (with their predictions); returns how many the server created.

        Not retried: a timed-out import may still have been committed. Callers re-check the
        server (by article_id) before importing again.
        """
        result = self.call(f"importing {len(tasks)} tasks into project {project_id}",
                           lambda: self.sdk.projects.import_tasks(project_id, request=tasks),
                           idempotent=False)
        return int(result.task_count or 0)

    def task_bounds(self, project_id: int) -> tuple[int, int | None, int | None]:
        """(number of tasks, smallest task id, largest task id) of a project: two tiny requests."""
        def first(ordering: str) -> tuple[int, int | None]:
            data = self.get_json("/api/tasks", f"counting the tasks of project {project_id}",
                                 {"project": project_id, "page": 1, "page_size": 1, "include": "id",
                                  "query": json.dumps({"ordering": [ordering]})})
            if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
                raise ServerError(f"{self.url}: the task list of project {project_id} is malformed",
                                  hint="check the server version; run the command again")
            tasks = data["tasks"]
            return int(data.get("total", 0)), (int(tasks[0]["id"]) if tasks else None)

        self.project(project_id)  # a clear 404 for a missing project (the task list would be empty)
        total, low = first("tasks:id")
        if total == 0:
            return 0, None, None
        _total, high = first("-tasks:id")
        return total, low, high

    def export_tasks(self, project_id: int, ids: range) -> list[dict[str, Any]]:
        """Full export JSON (annotations, drafts, predictions) of the project's tasks whose id is in ``ids``.

        Label Studio builds this with its export serializer, which is much faster than the task
        list API with ``fields=all``; asking for a range of ids keeps every answer small, where
        the whole-project export builds everything in one request and times out on big projects.
        """
        params = [("exportType", "JSON"), ("download_all_tasks", "true")] + [("ids[]", str(i)) for i in ids]
        what = f"exporting tasks {ids.start}-{ids.stop - 1} of project {project_id}"
        data = self.get_json(f"/api/projects/{project_id}/export", what, params)
        if not isinstance(data, list) or not all(isinstance(t, dict) and "id" in t for t in data):
            raise ServerError(f"{self.url}: the answer {what} is malformed (not a list of tasks)",
                              hint="check the server version; run the command again (it resumes)")
        return data

    def has_predictions(self, project_id: int) -> bool:
        data = self.get_json("/api/tasks", f"counting the predictions of project {project_id}",
                             {"project": project_id, "page": 1, "page_size": 1, "include": "id"})
        return bool(isinstance(data, dict) and data.get("total_predictions"))

    def predictions(self, project_id: int) -> list[dict[str, Any]]:
        """Every prediction of a project (the export gives only their ids)."""
        data = self.get_json("/api/predictions/", f"reading the predictions of project {project_id}",
                             {"project": project_id})
        if isinstance(data, dict):
            data = data.get("results", [])
        if not isinstance(data, list):
            raise ServerError(f"{self.url}: the predictions of project {project_id} are malformed",
                              hint="check the server version; run the command again")
        return data

    def create_prediction(self, task_id: int, model_version: str, result: list[dict[str, Any]],
                          score: float | None = None) -> int:
        """Attach one prediction to a task; returns its id. Not retried blindly (a lost answer
        may have created it): callers check the task's predictions first."""
        body: dict[str, Any] = {"task": task_id, "model_version": model_version, "result": result}
        if score is not None:
            body["score"] = score

        def request() -> Any:
            response = self.http.post("/api/predictions/", json=body)
            response.raise_for_status()
            return response.json()

        return int(self.call(f"adding a prediction to task {task_id}", request, idempotent=False)["id"])

    def iter_task_pages(self, project_id: int, *, page_size: int, include: str | None = None,
                        first_page: int = 1) -> Iterator[tuple[int, list[dict[str, Any]], int]]:
        """(page number, tasks, server's total) for each page, in task-id order.

        Some versions answer the page after the last with 404 "Invalid page": that ends the
        iteration, and the caller checks the count against the total.
        """
        page = first_page
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": page_size, "fields": "all"}
            if include:
                params["include"] = include
            try:
                data = self.get_json("/api/tasks", f"reading page {page} of project {project_id}", params)
            except ProjectNotFound:
                if page > 1:
                    return
                raise
            if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
                raise ServerError(f"{self.url}: page {page} of project {project_id} is malformed "
                                  "(no `tasks` list)", hint="check the server version; run the command again")
            tasks, total = data["tasks"], int(data.get("total", 0))
            yield page, tasks, total
            if len(tasks) < page_size or page * page_size >= total:
                return
            page += 1


def _short(body: object, limit: int = 200) -> str:
    if isinstance(body, dict):
        body = body.get("detail") or body.get("validation_errors") or body
    text = " ".join(str(body).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _post_form(session: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """Post a Django form as a browser does: open the page for its CSRF cookie, then send it back."""
    session.get(path).raise_for_status()
    return session.post(path, data={"csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), **data},
                        headers={"Referer": str(session.base_url.join(path).copy_with(userinfo=b""))})


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def _form_errors(page: str) -> list[str]:
    """The messages of a Django form that was sent back with errors."""
    import html

    blocks = "".join(re.findall(r'<ul class="field_errors">(.*?)</ul>', page, re.S))
    return [html.unescape(item).strip() for item in re.findall(r"<li>([^<]+)</li>", blocks)]
