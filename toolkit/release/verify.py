"""Checking a release against its manifest, and loading a checked release.

``verify_release`` recomputes every checksum and never raises for a damaged release: the
report lists changed, missing and extra files. ``load`` verifies first, then loads one
config with ``datasets`` (or as pandas frames).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import atomicio
from ..errors import ReleaseError, ReleaseNotFound, ReleaseTampered
from .build import MANIFEST, _read_json, _release_files

if TYPE_CHECKING:
    import datasets

__all__ = ["VerifyReport", "verify_release", "load", "require_verified", "release_dir"]


@dataclass
class VerifyReport:
    path: str
    ok: bool
    changed: list[str]
    missing: list[str]
    extra: list[str]
    checked: int
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def release_dir(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise ReleaseNotFound(f"no release at {folder}", hint="give a folder like releases/v1.0.0")
    return folder


def verify_release(path: str | os.PathLike[str]) -> VerifyReport:
    """Recompute every checksum of a release against its manifest. Never raises for a
    damaged release: the report lists changed, missing and extra files."""
    folder = release_dir(path)
    manifest = _read_json(folder / MANIFEST)
    present = _release_files(folder)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        which = "missing" if not (folder / MANIFEST).exists() else "changed"
        return VerifyReport(str(folder), False, [MANIFEST] if which == "changed" else [],
                            [MANIFEST] if which == "missing" else [], present, 0)
    listed = manifest["files"]
    changed, missing = [], []
    for rel, entry in sorted(listed.items()):
        file = folder / rel
        if not file.is_file():
            missing.append(rel)
        elif file.stat().st_size != entry.get("bytes") or atomicio.sha256_file(file) != entry.get("sha256"):
            changed.append(rel)
    extra = [rel for rel in present if rel not in listed]
    return VerifyReport(str(folder), not (changed or missing or extra), changed, missing, extra, len(listed),
                        manifest.get("version"))


def require_verified(folder: Path) -> dict[str, Any]:
    report = verify_release(folder)
    if not report.ok:
        problems = [f"{kind}: {', '.join(files)}" for kind, files in
                    (("changed", report.changed), ("missing", report.missing), ("extra", report.extra)) if files]
        raise ReleaseTampered(f"release {folder} does not match its manifest ({'; '.join(problems)})",
                              hint="restore the release from its source, or make a new one")
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


# -------------------------------------------------------------------------------- load


def load(path: str | os.PathLike[str], config: str = "documents", *,
         as_pandas: bool = False) -> datasets.DatasetDict | dict[str, Any]:
    """Verify a release, then load one config: a ``datasets.DatasetDict`` of its splits, or
    with ``as_pandas`` a dict split -> DataFrame (ClassLabel columns as categoricals)."""
    import datasets

    folder = release_dir(path)
    require_verified(folder)
    if not any((folder / config).glob("*.parquet")):
        configs = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet")))
        raise ReleaseError(f"release {folder} has no config {config!r}", hint=f"configs: {', '.join(configs)}")
    loaded = datasets.load_dataset(str(folder.resolve()), config)
    if not as_pandas:
        return loaded
    import pandas as pd

    frames = {}
    for split, ds in loaded.items():
        frame = ds.to_pandas()
        for name, feature in ds.features.items():
            if isinstance(feature, datasets.ClassLabel):
                frame[name] = pd.Categorical.from_codes(frame[name].fillna(-1).astype(int),
                                                        categories=feature.names)
        frames[split] = frame
    return frames
