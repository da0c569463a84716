"""Faults between the toolkit and a real Label Studio: a lost import answer (the request delivered
late), a connection reset in the middle of a body, a slow answer, an error page that echoes the
Authorization header, a URL with a password in it. A small proxy (tests/faultproxy.py) in front of
the real server injects what the server cannot be made to do."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, build_tasks, connect, pull, push
from toolkit.labelstudio.project import server_tasks_by_article

from .conftest import SEED, add_raw
from .faultproxy import FaultProxy

pytestmark = pytest.mark.labelstudio

ARTICLES = (SEED.name, "near-a.txt", "near-b.txt", "article-html.html", "dup-a.txt")


def prepare(ws):
    add_raw(ws, *ARTICLES)
    ingest(ws)
    build_tasks(ws)


def first_import(request):
    return request.method == "POST" and request.path.split("?")[0].endswith("/import")


class Once:
    """A rule that injects ``fault`` into the first request ``matches`` accepts."""

    def __init__(self, fault, matches):
        self.fault, self.matches, self.done = fault, matches, False

    def __call__(self, request):
        if not self.done and self.matches(request):
            self.done = True
            return self.fault
        return None


def through(monkeypatch, proxy):
    monkeypatch.setenv("LABEL_STUDIO_URL", proxy.url)


def listing(ws):
    with LabelStudioClient(connect(ws)) as client:
        project_id = push(ws, dry_run=True).project_id
        return server_tasks_by_article(client, project_id, 100)


def test_a_lost_import_answer_delivered_late_makes_no_duplicate(ls_workspace, label_studio, monkeypatch):
    prepare(ls_workspace)
    with FaultProxy(label_studio.url, Once("lose-answer-deliver-late", first_import), late_by=4.0) as proxy:
        through(monkeypatch, proxy)
        report = push(ls_workspace)
    assert proxy.injected and report.imported == 5 and report.duplicates_removed == 0
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    tasks = listing(ls_workspace)
    assert len(tasks) == 5 and all(len(copies) == 1 for copies in tasks.values())


def test_a_copy_that_lands_after_push_ends_is_reported_and_repaired_by_the_next_push(ls_workspace, label_studio,
                                                                                      monkeypatch):
    prepare(ls_workspace)
    with FaultProxy(label_studio.url, Once("lose-answer-deliver-late", first_import), late_by=22.0) as proxy:
        through(monkeypatch, proxy)
        first = push(ls_workspace)  # waits about 15 s, then sends the chunk again
        assert first.imported == 5
    # the proxy has now delivered the lost request too: every article is there twice
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    assert all(len(copies) == 2 for copies in listing(ls_workspace).values())
    pulled = pull(ls_workspace)
    assert len(pulled.duplicate_articles) == 5
    from toolkit.labelstudio.team import round_status

    status = round_status(ls_workspace)
    assert not status.ok and any(c.name == "one task per article" and not c.ok for c in status.checks)
    again = push(ls_workspace)
    assert again.duplicates_removed == 5 and again.duplicate_articles == {} and again.imported == 0
    assert all(len(copies) == 1 for copies in listing(ls_workspace).values())


def test_a_connection_reset_mid_body_and_a_slow_answer_are_retried(ls_workspace, label_studio, monkeypatch):
    prepare(ls_workspace)
    push(ls_workspace)
    exports = Once("reset-mid-body", lambda r: r.method == "GET" and "/export" in r.path)
    with FaultProxy(label_studio.url, exports) as proxy:
        through(monkeypatch, proxy)
        report = pull(ls_workspace)
    assert proxy.injected and report.tasks == 5
    slow = Once("slow", lambda r: r.method == "GET" and "/export" in r.path)
    (ls_workspace.root / "toolkit.toml").write_text(
        (ls_workspace.root / "toolkit.toml").read_text().replace("timeout = 60.0", "timeout = 1.0"))
    from toolkit.workspace import Workspace

    with FaultProxy(label_studio.url, slow, slow_by=3.0) as proxy:
        through(monkeypatch, proxy)
        report = pull(Workspace(ls_workspace.root))
    assert proxy.injected and report.tasks == 5


def test_an_error_page_that_echoes_the_token_never_prints_it(ls_workspace, label_studio, monkeypatch):
    prepare(ls_workspace)
    echo = lambda r: "echo-headers" if r.path.startswith("/api/projects") else None  # noqa: E731
    with FaultProxy(label_studio.url, echo) as proxy:
        through(monkeypatch, proxy)
        result = CliRunner().invoke(app, ["--workspace", str(ls_workspace.root), "push"])
    assert result.exit_code == 1 and "502" in result.output
    assert label_studio.token not in result.output and "Token ***" not in result.output.replace("***", "***")
    assert label_studio.token not in result.output


def test_a_password_in_the_server_url_is_never_printed(ls_workspace, monkeypatch):
    prepare(ls_workspace)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://maintainer:hunter2-secret@127.0.0.1:9")
    result = CliRunner().invoke(app, ["--workspace", str(ls_workspace.root), "push"])
    assert result.exit_code == 1 and "127.0.0.1:9" in result.output
    assert "hunter2-secret" not in result.output


def test_pull_removes_the_export_files_it_made_on_a_server_whose_data_it_owns(ls_workspace, label_studio,
                                                                             monkeypatch):
    import importlib

    pull_module = importlib.import_module("toolkit.labelstudio.pull")
    prepare(ls_workspace)
    project_id = push(ls_workspace).project_id
    export_dir = label_studio.data_dir / "export"
    export_dir.mkdir(exist_ok=True)
    someone_elses = export_dir / f"project-{project_id}-at-2020-01-01-00-00-aaaaaaaa.json"
    someone_elses.write_text("[]")
    import os

    os.utime(someone_elses, (0, 0))  # made long before this pull: not ours to remove
    before = set(export_dir.iterdir())
    # The embedded server's data folder is the workspace's; here the test server's stands in for it.
    monkeypatch.setattr(pull_module, "_server_export_dir", lambda ws, conn: export_dir)
    report = pull(ls_workspace)
    assert report.server_exports_removed >= 1
    assert set(export_dir.iterdir()) == before and someone_elses.exists()
