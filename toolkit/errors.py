"""One exception tree for the whole toolkit.

Every error the library raises on purpose is a ``ToolkitError``. Each carries a
``hint``: what the user should do next. The CLI prints ``message`` and ``hint``
on stderr and exits non-zero; library callers can catch the subclasses they care
about (several also inherit the matching builtin, so ``except FileNotFoundError``
keeps working).
"""

from __future__ import annotations

import os
import re


class ToolkitError(Exception):
    """Base class of every error the toolkit raises deliberately."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class WorkspaceNotFound(ToolkitError, FileNotFoundError):
    """The current folder is not inside a workspace (no toolkit.toml above it)."""


class WorkspaceExists(ToolkitError, FileExistsError):
    """``toolkit init`` was pointed at a folder that already is a workspace."""


class ConfigError(ToolkitError, ValueError):
    """toolkit.toml is malformed or holds a value of the wrong type."""


class SchemeError(ToolkitError, ValueError):
    """The scheme (schemas/scheme.json) is invalid or inconsistent."""


class GeneratedFilesOutdated(SchemeError):
    """A file derived from the scheme differs from what the scheme produces."""


class InputError(ToolkitError, ValueError):
    """An input file or argument cannot be used (missing, wrong format)."""


class InputNotFound(InputError, FileNotFoundError):
    """A path given on the command line does not exist."""


class OutputError(ToolkitError, OSError):
    """An output file could not be written."""


class StudioError(ToolkitError):
    """The embedded Label Studio server could not be set up, started or stopped."""


class LabelStudioError(ToolkitError):
    """Talking to a Label Studio server failed."""


class ServerUnreachable(LabelStudioError, ConnectionError):
    """No server answers at the URL (down, wrong URL, refused)."""


class ServerTimeout(LabelStudioError, TimeoutError):
    """The server did not answer in time, even after retries."""


class AuthenticationFailed(LabelStudioError, PermissionError):
    """The server refused the API token (401/403)."""


class ProjectNotFound(LabelStudioError, LookupError):
    """The Label Studio project does not exist on the server (404)."""


class ServerError(LabelStudioError):
    """The server answered 5xx, or with something that is not the expected JSON."""


class PushRefused(LabelStudioError):
    """A push would invalidate annotations already made (e.g. a removed label in use)."""


class ProjectSettingsRejected(LabelStudioError):
    """The server did not keep a project setting the toolkit set (read back after the update)."""


class PullRefused(LabelStudioError):
    """A pull would delete most of what the workspace holds; it needs to be asked for."""


class PullIncomplete(LabelStudioError):
    """A pull read fewer (or other) tasks than the server counts; nothing was replaced."""


# ----------------------------------------------------------------------------- releases


class ReleaseError(ToolkitError):
    """A release could not be made, read, checked or published."""


class ReleaseExists(ReleaseError, FileExistsError):
    """The version is already released; releases are never overwritten."""


class ReleaseNotFound(ReleaseError, FileNotFoundError):
    """No release at the given path or version."""


class ReleaseLocked(ReleaseError):
    """Another release is being written in the same workspace."""


class VersionError(ReleaseError, ValueError):
    """The version is not X.Y.Z, or not greater than the latest release."""


class ReleaseInputMissing(ReleaseError, FileNotFoundError):
    """The articles table or gold.parquet is not there yet."""


class ReleaseInputStale(ReleaseError):
    """gold.parquet was computed with another scheme than schemas/scheme.json."""


class ReleaseTampered(ReleaseError):
    """A release's files do not match its manifest."""


class HubError(ReleaseError):
    """Publishing to the Hugging Face Hub failed (no token, refused, unreachable)."""


class PreannotateError(ToolkitError):
    """Pre-annotation, training or evaluation cannot go on: no gold to train on, a pattern file
    or model that cannot be read, a label map that names labels the scheme does not have."""


class ModelNotFound(PreannotateError, FileNotFoundError):
    """No trained model (``models/``) or installed pipeline by the name given."""


# What may reach a message from outside and carry a credential: an error page that echoes the
# request's Authorization header, a token, a URL with user:password in it.
_SECRET_PATTERNS = re.compile(r"(?i)(authorization\s*[:=]\s*\S+(\s+\S+)?"
                              r"|\b(token|bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
                              r"|(?<=//)[^/@\s:]+:[^/@\s]+(?=@))")
_SECRET_ENVIRONMENT = ("LABEL_STUDIO_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the given secrets, the secrets of the environment and anything that looks
    like a credential replaced by ``***``. Every message the toolkit prints goes through it."""
    for secret in (*secrets, *(os.environ.get(name) for name in _SECRET_ENVIRONMENT)):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_PATTERNS.sub("***", text)
