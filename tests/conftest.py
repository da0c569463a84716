"""Shared fixtures: small, local, never touching real credentials."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.workspace import Workspace
from toolkit.scaffold import init_workspace

TESTS = Path(__file__).parent
DATA = TESTS / "data"
REPO = TESTS.parent
SEED = REPO / "raw" / "volgograd-prison-hostages.txt"


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never talk to a user's server or the Hub with the user's secrets."""
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "HF_TOKEN", "CI", "TOOLKIT_CLUSTER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, empty workspace made by `toolkit init`."""
    return init_workspace(tmp_path / "ws", title="Test events", scheme="news-events-v1")


def edit_scheme(ws: Workspace, edit) -> None:
    """Change schemas/scheme.json with ``edit(dict)`` and regenerate the derived files."""
    import json

    from toolkit.scheme import build_scheme_files

    scheme = json.loads(ws.scheme_path.read_text())
    edit(scheme)
    ws.scheme_path.write_text(json.dumps(scheme, indent=2))
    build_scheme_files(ws.schemas_dir)


def add_raw(ws: Workspace, *names: str) -> list[Path]:
    """Copy named files from tests/data (or the seed) into the workspace's raw/."""
    copied = []
    for name in names:
        source = SEED if name == SEED.name else DATA / name
        target = ws.raw_dir / name
        shutil.copyfile(source, target)
        copied.append(target)
    return copied


# A real Label Studio server, once per test session ----------------------------------------

import secrets  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402


@dataclass
class LiveServer:
    url: str
    token: str
    email: str
    password: str
    data_dir: Path
    log: Path
    pid: int


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    """The real `label-studio` server from its isolated environment, on a free loopback port,
    with its own temporary data folder and a known admin token. `make test` sets the
    environment up (`toolkit studio setup`); set up here too when run without make."""
    from toolkit.labelstudio.studio import free_port, launch_server, new_token, setup_server_env, stop_process, \
        wait_until_healthy

    env_dir = setup_server_env()
    base = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    token, email, password = new_token(), "admin@example.org", secrets.token_urlsafe(12)
    log = base / "server.log"
    process = launch_server(base / "data", port, email=email, password=password, token=token, log_path=log,
                            executable=env_dir / "bin" / "label-studio")
    try:
        url = wait_until_healthy(f"http://127.0.0.1:{port}", process=process, log_path=log)
        yield LiveServer(url=url, token=token, email=email, password=password, data_dir=base / "data", log=log,
                         pid=process.pid)
    finally:
        stop_process(process.pid)
        process.wait(timeout=30)


@pytest.fixture
def ls_workspace(tmp_path: Path, label_studio: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace talking to the session's server, with a project title of its own."""
    ws = init_workspace(tmp_path / "ws", title=f"Test events {uuid.uuid4().hex[:8]}", scheme="news-events-v1")
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    return ws


# A real browser, once per test session (every browser test module shares it: Playwright's sync
# API allows one running instance per thread) ----------------------------------------------

import shutil as _shutil  # noqa: E402

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by the `browser` fixture, as a failure
    sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")  # session: checked before the server starts, when listed first
def browser():
    missing = [what for what, ok in [("Playwright (pip package `playwright`)", sync_playwright is not None),
                                     (f"chromium at {CHROMIUM}", _shutil.which(CHROMIUM) is not None)] if not ok]
    if missing:
        pytest.fail(f"the browser test needs {' and '.join(missing)}: run `make test`, which installs them "
                    "(`make browser` for chromium and the emoji font, the `dev` extra for Playwright)",
                    pytrace=False)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
