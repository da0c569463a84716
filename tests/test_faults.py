"""Faults a real Label Studio cannot be made to produce on demand: 5xx, slow answers, malformed
pages. A tiny fake HTTP server injects them; everything else is tested against the real server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import ServerError, ServerTimeout
from toolkit.labelstudio import LabelStudioClient, connect
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio import save_project_id

TOKEN = "s3cr3t-token-that-must-never-be-printed-0"


def task(i):
    return {"id": i, "data": {"text": f"Article number {i} says that something happened somewhere today.",
                              "article_id": f"{i:016x}"}, "annotations": [], "predictions": [], "drafts": []}


class FakeLabelStudio(BaseHTTPRequestHandler):
    export_behaviour = ["ok"]  # consumed one per export request; the last one repeats
    export_calls = 0

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            return self._send(401, {"detail": "Invalid token."})
        if url.path == "/api/projects/1/":
            return self._send(200, {"id": 1, "title": "Fake", "label_config": "<View/>"})
        if url.path == "/api/tasks":
            ordering = json.loads(query.get("query", ['{"ordering": ["tasks:id"]}'])[0])["ordering"][0]
            return self._send(200, {"total": 2, "tasks": [{"id": 2 if ordering.startswith("-") else 1}]})
        if url.path == "/api/users/":
            return self._send(200, [])
        if url.path == "/api/projects/1/export":
            cls = type(self)
            behaviour = cls.export_behaviour[min(cls.export_calls, len(cls.export_behaviour) - 1)]
            cls.export_calls += 1
            if behaviour == "500":
                return self._send(500, b"<h1>Server Error (500)</h1>", "text/html")
            if behaviour == "slow":
                time.sleep(1.5)
            if behaviour == "html":
                return self._send(200, b"<html>Please log in</html>", "text/html")
            if behaviour == "not-a-list":
                return self._send(200, {"detail": "weird"})
            ids = [int(i) for i in query.get("ids[]", [])]
            return self._send(200, [task(i) for i in ids if i in (1, 2)])
        return self._send(404, {"detail": "Not found."})


@pytest.fixture
def fake(workspace, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLabelStudio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("timeout = 60.0", "timeout = 0.5").replace("retries = 4",
                                                                                             "retries = 2"))
    save_project_id(workspace, connect(workspace), 1)
    FakeLabelStudio.export_calls = 0
    yield workspace
    server.shutdown()


def behave(*steps):
    FakeLabelStudio.export_behaviour = list(steps)


def nothing_written(ws):
    names = {p.name for p in ws.annotations_dir.iterdir()}
    assert "annotations.parquet" not in names and "quarantine.jsonl" not in names
    assert not list(ws.annotations_dir.rglob("*.tmp"))
    assert not (ws.annotations_dir / "exports").exists() or not list((ws.annotations_dir / "exports").iterdir())


def fast_client(ws):
    return LabelStudioClient(connect(ws), timeout=0.5, retries=2, backoff=0.01)


def test_transient_5xx_is_retried_with_backoff_and_the_pull_completes(fake):
    behave("500", "500", "ok")
    waits = []
    client = LabelStudioClient(connect(fake), timeout=0.5, retries=2, backoff=0.25, sleep=waits.append)
    report = pull(fake, client=client)
    assert report.tasks == 2
    assert waits == [0.25, 0.5]  # exponential backoff


def test_persistent_5xx_fails_clearly_and_writes_nothing(fake):
    behave("500")
    with pytest.raises(ServerError, match=r"answered 500 while exporting tasks 1-2 of project 1"):
        pull(fake, client=fast_client(fake))
    nothing_written(fake)
    result = CliRunner().invoke(app, ["-w", str(fake.root), "pull"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 2 and result.output.startswith("error: http://127.0.0.1:")
    assert TOKEN not in result.output


def test_timeout_fails_clearly_after_retries(fake):
    behave("slow")
    with pytest.raises(ServerTimeout, match=r"did not answer in time while exporting .* \(3 attempts\)"):
        pull(fake, client=fast_client(fake))
    assert FakeLabelStudio.export_calls == 3
    nothing_written(fake)


@pytest.mark.parametrize("kind", ["html", "not-a-list"])
def test_malformed_page_fails_clearly(fake, kind):
    behave(kind)
    with pytest.raises(ServerError, match="not JSON|malformed"):
        pull(fake, client=fast_client(fake))
    nothing_written(fake)


def test_wrong_token_is_401_not_retried(fake, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "wrong")
    result = CliRunner().invoke(app, ["-w", str(fake.root), "pull"])
    assert result.exit_code == 1
    assert "refused the API token (401)" in result.output
    assert FakeLabelStudio.export_calls == 0


def test_missing_project_is_404(fake):
    save_project_id(fake, connect(fake), 7)
    result = CliRunner().invoke(app, ["-w", str(fake.root), "pull"])
    assert result.exit_code == 1
    assert "project 7 (recorded in .labelstudio/state.json) does not exist" in result.output
