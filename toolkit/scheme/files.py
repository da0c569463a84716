"""The files generated from ``schemas/scheme.json``: writing them, and telling when they are stale.

Generated files are checked in next to the scheme; ``check_scheme_files`` names those
that no longer match it, and every command that relies on them calls
``ensure_scheme_files_current`` first.
"""

from __future__ import annotations

from pathlib import Path

from ..atomicio import write_text
from ..errors import GeneratedFilesOutdated
from .annotation_schema import build_annotation_schema
from .features import build_features, features_to_dict
from .labeling_config import build_labeling_config
from .model import Scheme, meta_schema_text, render_json
from .task_schema import build_task_schema

__all__ = ["GENERATED_FILES", "generated_files", "build_scheme_files", "check_scheme_files",
           "ensure_scheme_files_current"]

GENERATED_FILES: tuple[str, ...] = (
    "labeling_config.xml",
    "annotation.schema.json",
    "task.schema.json",
    "features.json",
    "scheme.meta.schema.json",
)


def generated_files(scheme: Scheme) -> dict[str, str]:
    """File name (inside schemas/) -> exact content of every file derived from the scheme."""
    return {
        "labeling_config.xml": build_labeling_config(scheme),
        "annotation.schema.json": render_json(build_annotation_schema(scheme)),
        "task.schema.json": render_json(build_task_schema(scheme)),
        "features.json": render_json(features_to_dict(build_features(scheme))),
        # Copied so that editors can validate scheme.json against it offline.
        "scheme.meta.schema.json": meta_schema_text(),
    }


def build_scheme_files(schemas_dir: str | Path, scheme: Scheme | None = None) -> list[Path]:
    """Write every generated file into ``schemas_dir``; returns the paths written.

    With ``scheme`` None, reads ``schemas_dir/scheme.json``.
    """
    schemas_dir = Path(schemas_dir)
    if scheme is None:
        scheme = Scheme.load(schemas_dir / "scheme.json")
    written = []
    for name, content in generated_files(scheme).items():
        path = schemas_dir / name
        write_text(path, content)
        written.append(path)
    return written


def check_scheme_files(schemas_dir: str | Path) -> list[str]:
    """Names of generated files in ``schemas_dir`` that are missing or out of date."""
    schemas_dir = Path(schemas_dir)
    scheme = Scheme.load(schemas_dir / "scheme.json")
    stale = []
    for name, content in generated_files(scheme).items():
        try:
            current = (schemas_dir / name).read_bytes()
        except FileNotFoundError:
            current = None
        if current != content.encode("utf-8"):
            stale.append(name)
    return stale


def ensure_scheme_files_current(schemas_dir: str | Path) -> None:
    """Raise GeneratedFilesOutdated unless every generated file matches scheme.json."""
    stale = check_scheme_files(schemas_dir)
    if stale:
        raise GeneratedFilesOutdated(
            f"files in {schemas_dir} are out of date with scheme.json: {', '.join(stale)}",
            hint="run `toolkit scheme build`",
        )
