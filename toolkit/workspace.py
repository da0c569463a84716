"""A workspace: a folder with ``toolkit.toml`` and the standard layout (``toolkit init`` makes one,
see ``scaffold``).

```
toolkit.toml  schemas/  raw/  annotations/  releases/  DATASHEET.md  .gitignore
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .config import CONFIG_FILE, Config, load_config
from .errors import WorkspaceNotFound

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
        return self.annotations_dir / "articles"

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
