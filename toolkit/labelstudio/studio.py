"""The embedded Label Studio: its own virtual environment, and a local server per workspace.

``label-studio`` pins ``pytz<2023`` while trafilatura's date extraction needs a current
``dateparser`` (``pytz>=2024.2``), so the server can never live in the toolkit's environment.
It gets a virtual environment of its own, shared by every workspace on the machine
(``~/.cache/toolkit/label-studio-<version>``, or ``$TOOLKIT_STUDIO_ENV``), with
``label-studio`` pinned to the version the toolkit is tested with.

A workspace's server keeps everything under ``.labelstudio/`` (git-ignored): its database
and media in ``data/``, ``server.pid``, ``server.log``, and ``credentials.json`` holding the
admin login and API token. The token is in the database too, so the whole folder is private
to its owner: folders 0700 and files 0600 at every start, and what the server writes later
stays so (a umask of 0o077, and upload modes of 0600/0700 in a settings module of ours, as
Django chmods uploads and export files to 0644 by default).

The server process gets a short allow-list of the parent's environment (``server_environment``)
plus the settings the toolkit gives it: no ``HF_TOKEN``, cloud keys or other secrets of the
shell, and no stray ``PORT`` or ``USERNAME`` (Label Studio reads bare names as settings too).
The token and password go through that environment, never on a command line where ``ps``
would show them. The server's calls home are turned off: the PyPI version check, usage
analytics, and Sentry error reports (sent with ``send_default_pii``: user e-mails, request
bodies, that is the articles and annotations).
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


# What the server may see of the parent's environment: where programs, home and temporary
# files are, language and time zone. It needs none of them to start (verified with an empty
# parent environment); they keep its paths and dates the user's. Nothing else gets through.
INHERITED_ENV = ("PATH", "HOME", "LANG", "TZ", "TMPDIR")
INHERITED_ENV_PREFIXES = ("LC_",)

# Label Studio calls home by default; the embedded server does not.
NO_CALLS_HOME = {
    "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",  # a PyPI request at every start
    "LABEL_STUDIO_COLLECT_ANALYTICS": "false",  # usage reports to tele.labelstud.io
    "LABEL_STUDIO_SENTRY_DSN": "",  # error reports with e-mails and request bodies
    "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
}

SERVER_UMASK = 0o077

# Django saves uploads and export snapshots with an explicit chmod to FILE_UPLOAD_PERMISSIONS
# (0644 by default), whatever the umask, and Label Studio has no setting for it: the server
# runs with a settings module of ours, Label Studio's own plus private modes. Label Studio's
# module reads django.conf.settings while it is being imported, which sets up a first,
# interim Settings from the module named in DJANGO_SETTINGS_MODULE: that must be its own
# (complete at that point), as when it runs alone; ours replaces it once imported.
SETTINGS_MODULE = "toolkit_private_settings"
SETTINGS_FOLDER = ".toolkit-settings"  # in the server's data folder, its working directory
_SETTINGS_SOURCE = f"""\
# Written by the toolkit at every start of the server ({__name__}); not to be edited.
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "label_studio.core.settings.label_studio"
from label_studio.core.settings.label_studio import *  # noqa: E402,F401,F403

os.environ["DJANGO_SETTINGS_MODULE"] = __name__
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
"""


def server_environment(settings: dict[str, str], parent: dict[str, str] | None = None) -> dict[str, str]:
    """The server's whole environment: the allow-listed part of ``parent`` plus ``settings``."""
    parent = os.environ if parent is None else parent
    env = {name: value for name, value in parent.items()
           if name in INHERITED_ENV or name.startswith(INHERITED_ENV_PREFIXES)}
    env.update(NO_CALLS_HOME)
    env.update(settings)
    return env


def make_private(root: Path) -> None:
    """Make ``root`` and everything under it its owner's only: folders 0700, files 0600.

    Symbolic links are left alone, never followed (chmod would change their target).
    """
    for folder, dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / name for name in files)]:
            if path.is_symlink():
                continue
            try:
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
            except FileNotFoundError:
                continue  # gone since it was listed
            except OSError as exc:
                raise StudioError(f"cannot make {path} private to its owner: {exc.strerror or exc}",
                                  hint=f"give {root} back to your user (chown -R), then try again") from exc
        dirs[:] = [name for name in dirs if not (Path(folder) / name).is_symlink()]


def write_settings_module(data_dir: Path) -> None:
    """Write the server's settings module into ``data_dir / SETTINGS_FOLDER``."""
    folder = data_dir / SETTINGS_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    atomicio.write_text(folder / f"{SETTINGS_MODULE}.py", _SETTINGS_SOURCE)  # mkstemp: 0600


def open_private_log(log_path: Path, *, truncate: bool = False) -> int:
    """A file descriptor on ``log_path`` for appending, created (or reset to) mode 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
    fd = os.open(log_path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def launch_server(data_dir: Path, port: int, *, email: str, password: str, token: str,
                  log_path: Path, executable: Path | None = None) -> subprocess.Popen:
    """Start ``label-studio`` bound to 127.0.0.1:port in its own process group.

    The admin login and token go through the environment (LABEL_STUDIO_USERNAME/PASSWORD/
    USER_TOKEN), which the server reads at start; the legacy token must be enabled for the
    SDK's ``api_key`` and ``Authorization: Token`` to work. The server runs with a umask of
    0o077 and private upload modes, and writes its output to ``log_path`` (mode 0600).
    """
    exe = executable or server_executable()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_settings_module(data_dir)
    env = server_environment({
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "PYTHONPATH": SETTINGS_FOLDER,  # relative to cwd, made absolute at start: a ':' cannot split it
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
        "PYTHONUNBUFFERED": "1",
    })
    log = open_private_log(log_path)
    try:
        return subprocess.Popen(
            [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
             "--host", f"http://127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data_dir,
            start_new_session=True, umask=SERVER_UMASK,
        )
    finally:
        os.close(log)


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
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(self.dir)
        creds = self.credentials() or Credentials(url="", email=ADMIN_EMAIL, password=secrets.token_urlsafe(12),
                                                  token=new_token())
        port = free_port(port or self.workspace.config.labelstudio.port)
        os.close(open_private_log(self.log_path, truncate=True))
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
