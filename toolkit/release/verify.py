"""Checking a release against its manifest, and loading a checked release.

``verify_release`` recomputes every checksum and never raises for a damaged release: the
report lists changed, missing and extra files, and unsafe entries. A release holds regular
files only, each named in the manifest by a plain relative path inside the release; a
symbolic link (to a file or a folder), a pipe or a device in the folder, and a manifest
entry that points outside it (``../../etc/passwd``, ``/etc/hostname``) or at a kind of file a
release never holds, are unsafe: never read, never uploaded. ``load`` and ``push_to_hub``
verify first and refuse a release that is not clean.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from .. import atomicio
from ..errors import ReleaseError, ReleaseNotFound, ReleaseTampered
from .build import ALLOWED_SUFFIXES, MANIFEST, _read_json

if TYPE_CHECKING:
    import datasets

__all__ = ["VerifyReport", "load", "release_dir", "require_verified", "scan_release", "verify_release"]


@dataclass
class VerifyReport:
    path: str
    ok: bool
    changed: list[str]
    missing: list[str]
    extra: list[str]
    checked: int
    version: str | None = None
    # Entries that are not regular files inside the release, each with what it is.
    unsafe: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def problems(self) -> list[tuple[str, str]]:
        """(kind, entry) of every problem: changed, missing, extra, unsafe."""
        return [(kind, name) for kind in ("changed", "missing", "extra", "unsafe") for name in getattr(self, kind)]


def release_dir(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise ReleaseNotFound(f"no release at {folder}", hint="give a folder like releases/v1.0.0")
    return folder


def scan_release(folder: Path) -> tuple[list[str], dict[str, str]]:
    """The regular files below ``folder`` (the manifest left out), as sorted POSIX paths, and
    every entry that is not a regular file or a folder -> what it is. Links are not followed."""
    files: list[str] = []
    unsafe: dict[str, str] = {}
    pending = [(folder, "")]
    while pending:  # a stack, not recursion: a hostile release may nest folders very deep
        directory, prefix = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:  # a folder that cannot be listed may hide anything
            unsafe[prefix.rstrip("/") or "."] = f"a folder that cannot be read: {exc.strerror or exc}"
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                unsafe[rel] = "a symbolic link"
            elif entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), rel + "/"))
            elif not entry.is_file(follow_symlinks=False):
                unsafe[rel] = "not a regular file"
            elif rel != MANIFEST:
                files.append(rel)
    return sorted(files), dict(sorted(unsafe.items()))


def _unsafe_name(rel: Any) -> str | None:
    """Why a manifest entry may not name a file of the release, or None when it may."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return "not a file name"
    if rel.startswith("/") or PureWindowsPath(rel).drive or PureWindowsPath(rel).root:
        return "an absolute path, outside the release"
    parts = PurePosixPath(rel).parts
    if ".." in rel.split("/"):
        return "a path leading out of the release"
    if "\\" in rel or rel.split("/") != list(parts):
        return "not a plain relative path"
    if PurePosixPath(rel).suffix not in ALLOWED_SUFFIXES:
        return "a kind of file a release never holds"
    return None


def verify_release(path: str | os.PathLike[str]) -> VerifyReport:
    """Recompute every checksum of a release against its manifest. Never raises for a
    damaged release: the report lists changed, missing, extra and unsafe entries."""
    folder = release_dir(path)
    present, odd = scan_release(folder)
    unsafe = dict(odd)
    manifest = _read_json(folder / MANIFEST) if MANIFEST not in odd else None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        which = "missing" if not os.path.lexists(folder / MANIFEST) else "changed"
        return VerifyReport(str(folder), False, [MANIFEST] if which == "changed" and MANIFEST not in odd else [],
                            [MANIFEST] if which == "missing" else [], present, 0,
                            unsafe=[f"{rel} ({why})" for rel, why in unsafe.items()])
    listed = manifest["files"]
    on_disk = set(present)
    changed, missing = [], []
    for rel, entry in sorted(listed.items()):
        why = _unsafe_name(rel)
        if why is not None:
            unsafe[rel] = why  # never opened: it could be any file of the machine
        elif rel in on_disk:
            if not isinstance(entry, dict) or not _matches(folder / rel, entry):
                changed.append(rel)
        elif not any(rel == bad or rel.startswith(bad + "/") for bad in odd):  # else the link is reported
            missing.append(rel)
    extra = [rel for rel in present if rel not in listed]
    return VerifyReport(str(folder), not (changed or missing or extra or unsafe), changed, missing, extra, len(listed),
                        manifest.get("version"), unsafe=[f"{rel} ({why})" for rel, why in sorted(unsafe.items())])


def _matches(file: Path, entry: dict[str, Any]) -> bool:
    """Whether ``file`` is still the regular file the manifest ``entry`` describes (one that
    cannot be read does not match)."""
    try:
        info = os.lstat(file)
        return (stat.S_ISREG(info.st_mode) and info.st_size == entry.get("bytes")
                and atomicio.sha256_file(file) == entry.get("sha256"))
    except OSError:
        return False


def require_verified(folder: Path) -> dict[str, Any]:
    report = verify_release(folder)
    if not report.ok:
        problems = [f"{kind}: {', '.join(files)}" for kind, files in
                    (("changed", report.changed), ("missing", report.missing), ("extra", report.extra),
                     ("unsafe", report.unsafe)) if files]
        raise ReleaseTampered(f"release {folder} does not match its manifest ({'; '.join(problems)})",
                              hint="restore the release from its source, or make a new one; a release holds "
                                   "regular files only, every one inside it and listed in manifest.json")
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
