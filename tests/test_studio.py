"""`toolkit studio`: the embedded server of a workspace, for real."""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import StudioError
from toolkit.ingest import ingest
from toolkit.labelstudio import connect
from toolkit.labelstudio.push import push
from toolkit.labelstudio.studio import EmbeddedStudio
from toolkit.labelstudio.tasks import build_tasks

from .conftest import SEED, add_raw

pytestmark = pytest.mark.labelstudio
runner = CliRunner()


def cli(ws, *args):
    return runner.invoke(app, ["-w", str(ws.root), *args])


def test_start_status_push_stop_all_safe_to_repeat(workspace, label_studio):
    # (label_studio: the session server is up first, so the server environment exists)
    add_raw(workspace, SEED.name)
    ingest(workspace)
    build_tasks(workspace)
    assert cli(workspace, "studio", "status").exit_code == 1

    started = cli(workspace, "studio", "start")
    assert started.exit_code == 0, started.output
    studio = EmbeddedStudio(workspace)
    creds = studio.credentials()
    try:
        assert f"started at {creds.url}" in started.output
        assert f"login: {creds.email} / {creds.password}" in started.output
        assert creds.token not in started.output
        assert creds.url.startswith("http://127.0.0.1:")
        # the token file is private, and git-ignored with the rest of .labelstudio/
        assert stat.S_IMODE(os.stat(studio.credentials_path).st_mode) == 0o600
        assert ".labelstudio/" in (workspace.root / ".gitignore").read_text()
        assert httpx.get(f"{creds.url}/health").status_code == 200
        # the server listens on the loopback only (--internal-host)
        listening = [line for line in open("/proc/net/tcp").read().splitlines()[1:]
                     if line.split()[1].endswith(f":{int(creds.url.rsplit(':', 1)[1]):04X}") and line.split()[3] == "0A"]
        assert listening and all(line.split()[1].startswith("0100007F:") for line in listening)

        again = cli(workspace, "studio", "start")
        assert again.exit_code == 0 and "already running" in again.output
        assert EmbeddedStudio(workspace).credentials() == creds

        status = cli(workspace, "studio", "status", "--json")
        assert status.exit_code == 0
        assert json.loads(status.output)["url"] == creds.url

        token = cli(workspace, "studio", "token")
        assert token.output.strip() == creds.token

        assert connect(workspace).embedded
        report = push(workspace)
        assert report.imported == 1
    finally:
        stopped = cli(workspace, "studio", "stop")
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert cli(workspace, "studio", "stop").output.strip() == "Label Studio was not running"
    assert cli(workspace, "studio", "status").exit_code == 1
    # a stopped server is a clear error for the commands that need one, and nothing leaks
    with pytest.raises(StudioError, match="not running"):
        push(workspace)
    result = cli(workspace, "pull")
    assert result.exit_code == 1
    assert "toolkit studio start" in result.output
    assert creds.token not in result.output and creds.password not in result.output


def test_env_url_without_key_is_a_clear_error(workspace, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    result = cli(workspace, "pull")
    assert result.exit_code == 1
    assert "LABEL_STUDIO_API_KEY is not" in result.output
