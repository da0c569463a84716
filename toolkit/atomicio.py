"""Atomic file output: write to a temporary sibling, fsync, then rename.

A reader (or a crash) never sees a half-written file: either the old file or the
complete new one is there. Used for every file the toolkit produces.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it into place.

    For writers that want a file name (pyarrow, matplotlib). On any exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it into place on success."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "\n")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()


def write_text(path: str | os.PathLike[str], text: str) -> None:
    try:
        with atomic_open(path, "w") as fh:
            fh.write(text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}",
                          hint="check the folder exists and is writable") from exc


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as stable, human-readable JSON (sorted keys off: order is meaningful)."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def file_entry(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A manifest's entry for a file: its sha256 and size in bytes."""
    return {"sha256": sha256_file(path), "bytes": os.stat(path).st_size}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (snapshots and releases can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
