"""The embedded server keeps its secrets: a private `.labelstudio/`, an allow-listed environment,
nothing on a command line, nothing echoed in its log.

The first tests run a stand-in `label-studio` (a few lines of Python answering /health) so
they are fast; the last one does the same checks on the real server, after it has written
its database, log, uploads and export files.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

from toolkit.errors import StudioError
from toolkit.labelstudio.studio import EmbeddedStudio, make_private, server_environment

from .conftest import SEED, add_raw

SECRETS_OF_THE_SHELL = {
    "HF_TOKEN": "secret-xyz",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-xyz",
    "GITHUB_TOKEN": "gh-secret-xyz",
    "LABEL_STUDIO_API_KEY": "remote-key-xyz",  # a remote server's key, not the embedded one's
    "DATABASE_URL": "postgres://user:pw-secret-xyz@db/x",
}
# Label Studio reads bare names as settings too (get_env('PORT') looks at LABEL_STUDIO_PORT,
# HEARTEX_PORT, then PORT): a shell's own must not steer the server.
STRAY_SETTINGS = {"PORT": "1", "USERNAME": "someone", "STORAGE_TYPE": "s3",
                  "DJANGO_SETTINGS_MODULE": "elsewhere.settings", "PYTHONPATH": "/nowhere"}


def open_modes(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that its group or others may read or enter."""
    return [f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path.relative_to(root.parent)}"
            for path in [root, *root.rglob("*")]
            if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077]


def process_group(leader: int) -> list[int]:
    """The server and every process it started (they share its process group)."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == leader:
            members.append(int(stat_file.parent.name))
    return members


def environ_of(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode(errors="replace").split("=", 1) for entry in entries if b"=" in entry)


def assert_no_secret_reaches(pids: list[int], creds) -> None:
    assert pids
    for pid in pids:
        environ = environ_of(pid)
        for name, value in {**SECRETS_OF_THE_SHELL, **STRAY_SETTINGS}.items():
            assert environ.get(name) != value, f"{name} of the shell reached process {pid}"
        assert not any(secret in "\n".join(environ.values()) for secret in SECRETS_OF_THE_SHELL.values())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert creds.token.encode() not in cmdline and creds.password.encode() not in cmdline


# The environment and the folder, as functions ------------------------------------------------

def test_server_environment_is_an_allow_list():
    parent = {"PATH": "/usr/bin", "HOME": "/home/me", "LANG": "fr_FR.UTF-8", "LC_TIME": "fr_FR.UTF-8",
              "TZ": "Europe/Paris", "TMPDIR": "/tmp/me", "SHELL": "/bin/zsh",
              **SECRETS_OF_THE_SHELL, **STRAY_SETTINGS}
    env = server_environment({"LABEL_STUDIO_USER_TOKEN": "t0k3n"}, parent=parent)
    assert {name: env[name] for name in ("PATH", "HOME", "LANG", "LC_TIME", "TZ", "TMPDIR")} == {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "fr_FR.UTF-8", "LC_TIME": "fr_FR.UTF-8",
        "TZ": "Europe/Paris", "TMPDIR": "/tmp/me"}
    assert env["LABEL_STUDIO_USER_TOKEN"] == "t0k3n"
    for name in [*SECRETS_OF_THE_SHELL, *STRAY_SETTINGS, "SHELL"]:
        assert name not in env
    # no calls home: version check, analytics, Sentry reports
    assert env["LABEL_STUDIO_LATEST_VERSION_CHECK"] == "false"
    assert env["LABEL_STUDIO_COLLECT_ANALYTICS"] == "false"
    assert env["LABEL_STUDIO_SENTRY_DSN"] == "" and env["LABEL_STUDIO_FRONTEND_SENTRY_DSN"] == ""


def test_make_private_covers_everything_and_follows_no_link(tmp_path):
    root = tmp_path / ".labelstudio"
    (root / "data" / "media" / "upload").mkdir(parents=True)
    (root / "data" / "label_studio.sqlite3").write_text("token")
    (root / "data" / "media" / "upload" / "a.json").write_text("[]")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (root / "link-to-outside").symlink_to(outside)
    (tmp_path / "outside-dir").mkdir(mode=0o755)
    (root / "data" / "linked-dir").symlink_to(tmp_path / "outside-dir")

    make_private(root)

    assert open_modes(root) == []
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "data" / "label_studio.sqlite3").st_mode) == 0o600
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link's target is not ours to change
    assert stat.S_IMODE((tmp_path / "outside-dir").stat().st_mode) == 0o755


def test_make_private_names_a_file_it_cannot_change(tmp_path, monkeypatch):
    root = tmp_path / ".labelstudio"
    root.mkdir()
    (root / "server.log").write_text("")

    def refuse(path, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    with pytest.raises(StudioError, match=r"cannot make .*\.labelstudio private.*Operation not permitted") as caught:
        make_private(root)
    assert "chown" in caught.value.hint


# A stand-in server: fast, and it shows what the server process is given ---------------------

FAKE_SERVER = """\
#!{python}
# A stand-in for `label-studio start`: writes a database holding the token and a media file
# (as the real one does), records its umask, then answers /health.
import http.server, os, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
os.makedirs("media/upload", exist_ok=True)
with open("label_studio.sqlite3", "w") as db:
    db.write(os.environ["LABEL_STUDIO_USER_TOKEN"])
with open("media/upload/tasks.json", "w") as upload:
    upload.write("[]")
with open("umask", "w") as out:
    out.write(oct(os.umask(0o077)))

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", port), Health)
print(f"Starting development server at http://127.0.0.1:{{port}}/", flush=True)
server.serve_forever()
"""


@pytest.fixture
def fake_server_env(tmp_path, monkeypatch):
    env_dir = tmp_path / "studio-env"
    (env_dir / "bin").mkdir(parents=True)
    exe = env_dir / "bin" / "label-studio"
    exe.write_text(FAKE_SERVER.format(python=sys.executable))
    exe.chmod(0o755)
    (env_dir / ".toolkit-ready").write_text("fake\n")
    monkeypatch.setenv("TOOLKIT_STUDIO_ENV", str(env_dir))
    return env_dir


@pytest.fixture
def shell_with_secrets(monkeypatch):
    for name, value in {**SECRETS_OF_THE_SHELL, **STRAY_SETTINGS}.items():
        monkeypatch.setenv(name, value)


def test_start_makes_labelstudio_private_and_gives_the_server_no_secret(workspace, fake_server_env,
                                                                         shell_with_secrets):
    # what another command or an older toolkit left, readable by all
    studio = EmbeddedStudio(workspace)
    (studio.data_dir / "media").mkdir(parents=True, mode=0o755)
    studio.dir.chmod(0o755)
    studio.data_dir.chmod(0o755)
    (studio.data_dir / "label_studio.sqlite3").write_text("old database with the token")
    (studio.data_dir / "label_studio.sqlite3").chmod(0o644)
    (studio.dir / "state.json").write_text("{}")
    (studio.dir / "state.json").chmod(0o644)
    studio.log_path.write_text("an old log\n")
    studio.log_path.chmod(0o644)

    status = studio.start(timeout=30)
    try:
        creds = studio.credentials()
        assert status.running and httpx.get(f"{creds.url}/health").status_code == 200
        # what existed, and what the server wrote since, is its owner's only
        assert (studio.data_dir / "label_studio.sqlite3").read_text() == creds.token
        assert (studio.data_dir / "umask").read_text() == "0o77"
        assert open_modes(studio.dir) == []
        # the shell's secrets and stray settings stay out; the token is on no command line
        assert_no_secret_reaches(process_group(status.pid), creds)
        environ = environ_of(status.pid)
        assert environ["LABEL_STUDIO_USER_TOKEN"] == creds.token
        assert environ["PATH"] == os.environ["PATH"] and environ["HOME"] == os.environ["HOME"]
        assert creds.token not in studio.log_path.read_text()
    finally:
        assert studio.stop()
    assert open_modes(studio.dir) == []


# The real server -----------------------------------------------------------------------------

@pytest.mark.labelstudio
def test_real_server_keeps_its_secrets(workspace, label_studio, shell_with_secrets, tmp_path, monkeypatch):
    # (label_studio: the session server is up first, so the server environment exists)
    from toolkit.ingest import ingest
    from toolkit.labelstudio.push import push
    from toolkit.labelstudio.tasks import build_tasks

    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(server_tmp))  # to see what the server leaves there
    add_raw(workspace, SEED.name)
    ingest(workspace)
    build_tasks(workspace)
    studio = EmbeddedStudio(workspace)
    studio.dir.mkdir(mode=0o755)
    (studio.dir / "state.json").write_text("{}")
    (studio.dir / "state.json").chmod(0o644)

    status = studio.start()
    creds = studio.credentials()
    try:
        assert httpx.get(f"{creds.url}/health").status_code == 200
        assert_no_secret_reaches(process_group(status.pid), creds)
        # the database, the log, an upload, an export snapshot and the toolkit's own calls
        monkeypatch.delenv("LABEL_STUDIO_API_KEY")  # (with it, push would want a server of one's own)
        assert push(workspace).imported == 1
        with httpx.Client(base_url=creds.url, headers={"Authorization": f"Token {creds.token}"}) as api:
            project = api.get("/api/projects").json()["results"][0]["id"]
            assert api.get(f"/api/projects/{project}/export", params={"exportType": "JSON"}).status_code == 200
            upload = api.post(f"/api/projects/{project}/import",
                              files={"file": ("more.json", json.dumps([{"text": "uploaded"}]), "application/json")})
            assert upload.status_code == 201, upload.text
            assert api.post(f"/api/projects/{project}/exports", json={}).status_code == 201
        assert httpx.get(f"{creds.url}/api/projects", headers={"Authorization": "Token wrong"}).status_code == 401
        written = {path.relative_to(studio.dir).parts[:3] for path in studio.dir.rglob("*") if path.is_file()}
        assert ("data", "media", "upload") in written and ("data", "media", "export") in written
        assert (studio.data_dir / "label_studio.sqlite3").exists()
        assert open_modes(studio.dir) == []
    finally:
        assert studio.stop()
    # stopped: nothing readable by others, and no secret echoed where it does not belong
    assert open_modes(studio.dir) == []
    log = studio.log_path.read_bytes()
    assert log and creds.token.encode() not in log and creds.password.encode() not in log
    for path in server_tmp.rglob("*"):
        assert not (path.is_file() and creds.token.encode() in path.read_bytes()), path
        assert not stat.S_IMODE(path.lstat().st_mode) & 0o077, path
