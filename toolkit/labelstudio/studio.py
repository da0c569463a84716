"""The embedded Label Studio: its own virtual environment, and a local server per workspace.

``label-studio`` pins ``pytz<2023`` while trafilatura's date extraction needs a current
``dateparser`` (``pytz>=2024.2``), so the server can never live in the toolkit's environment.
It gets a virtual environment of its own, shared by every workspace on the machine
(``~/.cache/toolkit/label-studio-<version>``, or ``$TOOLKIT_STUDIO_ENV``), with
``label-studio`` pinned to the version the toolkit is tested with.

A workspace's server keeps everything under ``.labelstudio/`` (git-ignored): its database
and media in ``data/``, ``server.pid``, ``server.log``, and ``credentials.json`` (mode 0600)
holding the admin login and API token. The token is passed to the server through its
environment, never on a command line where ``ps`` would show it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .. import atomicio
from ..errors import StudioError
from ..workspace import Workspace

LABEL_STUDIO_VERSION = "1.23.2"
ADMIN_EMAIL = "admin@localhost.localdomain"
HEALTH_TIMEOUT = 240.0


# The server's virtual environment -------------------------------------------------------

def server_env_dir() -> Path:
    configured = os.environ.get("TOOLKIT_STUDIO_ENV")
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "toolkit" / f"label-studio-{LABEL_STUDIO_VERSION}"


_READY_MARK = ".toolkit-ready"


def server_executable(env_dir: Path | None = None) -> Path:
    """The ``label-studio`` program of the server environment; an error if it is not set up."""
    env_dir = env_dir or server_env_dir()
    exe = env_dir / "bin" / "label-studio"
    if not (env_dir / _READY_MARK).exists() or not exe.exists():
        raise StudioError(
            f"the Label Studio server environment is not set up ({env_dir})",
            hint="run `toolkit studio setup` once (about a minute; needs the package registry)",
        )
    return exe


def setup_server_env(env_dir: Path | None = None, *, log: Callable[[str], None] | None = None,
                     python: str | None = None) -> Path:
    """Create the server's virtual environment with ``label-studio`` pinned; safe to repeat.

    The ready mark is written last, so an interrupted set-up is redone from scratch.
    """
    env_dir = env_dir or server_env_dir()
    log = log or (lambda _msg: None)
    if (env_dir / _READY_MARK).exists() and (env_dir / "bin" / "label-studio").exists():
        return env_dir
    if env_dir.exists():
        shutil.rmtree(env_dir)
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    base_python = python or getattr(sys, "_base_executable", None) or sys.executable
    steps = [
        [base_python, "-m", "venv", str(env_dir)],
        # pip 23 as shipped with Python 3.11 crashes resolving lxml[html-clean]: upgrade first.
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
         f"label-studio=={LABEL_STUDIO_VERSION}"],
    ]
    for step in steps:
        log(" ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise StudioError(f"setting up the Label Studio environment failed: {tail}",
                              hint="check the package registry is reachable, then run `toolkit studio setup` again")
    (env_dir / _READY_MARK).write_text(f"label-studio=={LABEL_STUDIO_VERSION}\n")
    return env_dir


# Starting one server --------------------------------------------------------------------

def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens on it on the loopback, else a free port from the OS."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", preferred)) != 0:
                return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_token() -> str:
    """A 40-character token, the length of Label Studio's own legacy tokens."""
    return secrets.token_hex(20)


def launch_server(data_dir: Path, port: int, *, email: str, password: str, token: str,
                  log_path: Path, executable: Path | None = None) -> subprocess.Popen:
    """Start ``label-studio`` bound to 127.0.0.1:port in its own process group.

    The admin login and token go through the environment (LABEL_STUDIO_USERNAME/PASSWORD/
    USER_TOKEN), which the server reads at start; the legacy token must be enabled for the
    SDK's ``api_key`` and ``Authorization: Token`` to work.
    """
    exe = executable or server_executable()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
        "PYTHONUNBUFFERED": "1",
    })
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen(
            [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
             "--host", f"http://127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data_dir,
            start_new_session=True,
        )
    finally:
        log.close()


_STARTED_AT = re.compile(r"Starting development server at http://[^:/]+:(\d+)/")


def wait_until_healthy(url: str, *, process: subprocess.Popen | None = None, log_path: Path | None = None,
                       timeout: float = HEALTH_TIMEOUT) -> str:
    """Poll ``/health`` until it answers 200; returns the URL that answered.

    Label Studio moves to the next free port by itself when the one asked for is taken, so
    the port it announces in its log wins over the one we asked for.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StudioError(f"Label Studio exited during start-up (status {process.returncode})",
                              hint=f"see {log_path} for its output" if log_path else None)
        if log_path is not None and log_path.exists():
            match = _STARTED_AT.search(log_path.read_text(errors="replace")[-20000:])
            if match:
                url = re.sub(r":\d+$", f":{match.group(1)}", url)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return url
        time.sleep(0.5)
    raise StudioError(f"Label Studio did not answer at {url} within {timeout:.0f} s",
                      hint=f"see {log_path} for its output" if log_path else None)


def stop_process(pid: int, *, grace: float = 20.0) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it is still there after ``grace``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def _is_label_studio(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return b"label-studio" in cmdline.read_bytes()
    except OSError:
        return _alive(pid)


# A workspace's embedded server ----------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    url: str
    email: str
    password: str
    token: str

    def __repr__(self) -> str:  # never show secrets in a traceback or log
        return f"Credentials(url={self.url!r}, email={self.email!r}, password='***', token='***')"


@dataclass(frozen=True)
class StudioStatus:
    running: bool
    url: str | None
    pid: int | None
    email: str | None
    data_dir: str
    log: str

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddedStudio:
    """The local Label Studio of one workspace: start, stop and status, all safe to repeat."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.dir = workspace.root / ".labelstudio"
        self.data_dir = self.dir / "data"
        self.pid_path = self.dir / "server.pid"
        self.log_path = self.dir / "server.log"
        self.credentials_path = self.dir / "credentials.json"

    def credentials(self) -> Credentials | None:
        if not self.credentials_path.exists():
            return None
        try:
            return Credentials(**json.loads(self.credentials_path.read_text()))
        except (ValueError, TypeError) as exc:
            raise StudioError(f"{self.credentials_path} is damaged",
                              hint="stop the server, delete .labelstudio/ and start again") from exc

    def _save_credentials(self, creds: Credentials) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomicio.write_json(self.credentials_path, asdict(creds))  # mkstemp: created 0600
        os.chmod(self.credentials_path, 0o600)

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _is_label_studio(pid) else None

    def status(self) -> StudioStatus:
        pid = self._pid()
        creds = self.credentials()
        return StudioStatus(running=pid is not None, url=creds.url if creds and pid else None, pid=pid,
                            email=creds.email if creds else None, data_dir=self.workspace.relative(self.data_dir),
                            log=self.workspace.relative(self.log_path))

    def start(self, *, port: int | None = None, timeout: float = HEALTH_TIMEOUT) -> StudioStatus:
        """Start the server in the background, or return the status of the one running."""
        if self._pid() is not None:
            return self.status()
        exe = server_executable()
        self.dir.mkdir(parents=True, exist_ok=True)
        creds = self.credentials() or Credentials(url="", email=ADMIN_EMAIL, password=secrets.token_urlsafe(12),
                                                  token=new_token())
        port = free_port(port or self.workspace.config.labelstudio.port)
        self.log_path.write_bytes(b"")
        process = launch_server(self.data_dir, port, email=creds.email, password=creds.password, token=creds.token,
                                log_path=self.log_path, executable=exe)
        atomicio.write_text(self.pid_path, f"{process.pid}\n")
        try:
            url = wait_until_healthy(f"http://127.0.0.1:{port}", process=process, log_path=self.log_path,
                                     timeout=timeout)
        except BaseException:
            stop_process(process.pid)
            self.pid_path.unlink(missing_ok=True)
            raise
        self._save_credentials(Credentials(url=url, email=creds.email, password=creds.password, token=creds.token))
        return self.status()

    def stop(self) -> bool:
        """Stop the server; False when none was running."""
        pid = self._pid()
        if pid is not None:
            stop_process(pid)
        self.pid_path.unlink(missing_ok=True)
        return pid is not None
