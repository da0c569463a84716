"""A workspace: a folder with ``toolkit.toml`` and the standard layout.

```
toolkit.toml  schemas/  raw/  annotations/  releases/  DATASHEET.md  .gitignore
```
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import atomicio
from .config import CONFIG_FILE, Config, load_config, render_default_config
from .errors import WorkspaceExists, WorkspaceNotFound

GITIGNORE = """\
# Label Studio's data for the embedded server, its token and pid file
.labelstudio/
# Checkpoints and temporary files of interrupted runs
annotations/.cache/
# A release being written, and the lock that keeps two from interleaving
releases/.lock
releases/.v*.tmp-*
*.tmp
__pycache__/
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


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> "Workspace":
        """The workspace containing ``start`` (default: the current folder)."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder)
        raise WorkspaceNotFound(
            f"{here} is not inside a toolkit workspace (no {CONFIG_FILE} here or above)",
            hint="run `toolkit init DIR` to create one, or pass --workspace DIR",
        )

    @cached_property
    def config(self) -> Config:
        return load_config(self.root / CONFIG_FILE)

    # Layout -----------------------------------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def scheme_path(self) -> Path:
        return self.schemas_dir / "scheme.json"

    @property
    def annotations_dir(self) -> Path:
        return self.root / "annotations"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def articles_path(self) -> Path:
        return self.annotations_dir / "articles.parquet"

    @property
    def ingest_report_path(self) -> Path:
        return self.annotations_dir / "ingest-report.json"

    @property
    def tasks_path(self) -> Path:
        return self.annotations_dir / "tasks.jsonl"

    @property
    def cache_dir(self) -> Path:
        return self.annotations_dir / ".cache"

    def relative(self, path: Path) -> str:
        """``path`` relative to the workspace root when inside it (POSIX separators), else absolute."""
        resolved = Path(path).resolve()
        try:
            return resolved.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return resolved.as_posix()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"


def init_workspace(directory: str | os.PathLike[str], *, title: str | None = None) -> Workspace:
    """Create a new workspace in ``directory`` (created if missing) and return it.

    Refuses a folder that already holds a ``toolkit.toml``; never overwrites a file.
    """
    from .scheme import build_scheme_files, default_scheme  # scheme imports are heavier

    root = Path(directory).resolve()
    if (root / CONFIG_FILE).exists():
        raise WorkspaceExists(
            f"{root} is already a workspace ({CONFIG_FILE} exists)",
            hint="use it as it is, or choose another folder",
        )
    title = title or root.name.replace("-", " ").replace("_", " ").strip().capitalize() or "Dataset"
    for sub in ("schemas", "raw", "annotations", "releases"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("raw", "annotations", "releases"):
        keep = root / sub / ".gitkeep"
        if not any((root / sub).iterdir()):
            keep.touch()
    scheme = default_scheme()
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
