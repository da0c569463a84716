"""``toolkit init``: a new workspace, laid out and ready for ``toolkit ingest``.

It writes the default scheme and the files generated from it, so it sits above the scheme
stage, beside the command line, not in the shared ``workspace`` module below every stage.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import atomicio
from .config import CONFIG_FILE, TITLE_MAX, TITLE_MIN, render_default_config
from .errors import ConfigError, WorkspaceExists
from .scheme import Scheme, build_scheme_files, builtin_scheme
from .workspace import Workspace

__all__ = ["init_workspace", "default_title", "GITIGNORE", "DATASHEET_TEMPLATE"]

GITIGNORE = """\
# Label Studio's data for the embedded server, its token and pid file
.labelstudio/
# Checkpoints and temporary files of interrupted runs
annotations/.cache/
# What `toolkit ingest` remembers: unchanged raw files, the near-duplicate index (a cache: safe to delete)
annotations/ingest-state/
# Files a command writes aside and its commit journal, while it replaces files together
.*.aside
.commit-journal.json*
# A release being written, and the lock that keeps two from interleaving
releases/.lock
releases/.v*.tmp-*
*.tmp
__pycache__/
# Pipelines `toolkit train` makes (tens of MB each; model.json records what made them)
models/
"""

DATASHEET_TEMPLATE = """\
# Datasheet: {title}

Filled in from real figures by `toolkit release`, following *Datasheets for Datasets*
(Gebru et al., 2021). Until the first release, the sections below are to be written.

## Motivation
## Composition
## Collection process
## Preprocessing, cleaning, labeling
## Uses
## Distribution
## Maintenance
"""



def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"


def default_title(folder_name: str) -> str:
    """A project title from a folder name that Label Studio accepts (3 to 50 characters)."""
    title = " ".join(folder_name.replace("-", " ").replace("_", " ").split()).capitalize() or "Dataset"
    if len(title) < TITLE_MIN:
        title = f"{title} dataset"
    return title[:TITLE_MAX].rstrip()


def init_workspace(directory: str | os.PathLike[str], *, title: str | None = None,
                   scheme: str | os.PathLike[str] | Scheme = "news-events") -> Workspace:
    """Create a new workspace in ``directory`` (created if missing) and return it.

    ``scheme`` is a built-in scheme's name (``news-events``, the default: events with
    arguments; ``news-events-v1``: one event type and counts per article), a scheme.json
    path, or a ``Scheme``.

    Refuses a folder that already holds a ``toolkit.toml``; never overwrites a file.
    """
    root = Path(directory).resolve()
    if not isinstance(scheme, Scheme):
        scheme = (builtin_scheme(scheme) if isinstance(scheme, str) and not scheme.endswith(".json")
                  else Scheme.load(scheme))
    if (root / CONFIG_FILE).exists():
        raise WorkspaceExists(
            f"{root} is already a workspace ({CONFIG_FILE} exists)",
            hint="use it as it is, or choose another folder",
        )
    title = (title or default_title(root.name)).strip()
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise ConfigError(f"the title {title!r} must be {TITLE_MIN} to {TITLE_MAX} characters "
                          "(Label Studio refuses other project titles)", hint="give another --title")
    for sub in ("schemas", "raw", "annotations", "releases"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("raw", "annotations", "releases"):
        keep = root / sub / ".gitkeep"
        if not any((root / sub).iterdir()):
            keep.touch()
    scheme_path = root / "schemas" / "scheme.json"
    if not scheme_path.exists():
        atomicio.write_json(scheme_path, scheme.to_dict())
    build_scheme_files(root / "schemas")
    for name, content in (
        ("DATASHEET.md", DATASHEET_TEMPLATE.format(title=title)),
        (".gitignore", GITIGNORE),
    ):
        if not (root / name).exists():
            atomicio.write_text(root / name, content)
    # toolkit.toml last: its presence marks a complete workspace.
    atomicio.write_text(root / CONFIG_FILE, render_default_config(_slug(title), title))
    return Workspace(root)
