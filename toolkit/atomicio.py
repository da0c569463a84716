"""Atomic file output: write to a temporary sibling, fsync, then rename.

A reader (or a crash) never sees a half-written file: either the old file or the
complete new one is there. Used for every file the toolkit produces.

Every JSON the toolkit writes is strict JSON (``strict_json``, ``write_json``): a NaN or
infinite number is an error naming the file and the key (or, in a file that keeps input as it
came, the string ``"NaN"``), never the bare ``NaN`` that other readers refuse.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator

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
    """Write ``data`` as stable, human-readable, strict JSON (sorted keys off: order is meaningful).

    A NaN or infinite number is an ``OutputError`` naming the file and the key, and nothing is written.
    """
    write_text(path, strict_json(data, where=path) + "\n")


def strict_json(data: Any, *, where: str | os.PathLike[str], indent: int | None = 2,
                non_finite: str = "error", **options: Any) -> str:
    """``data`` as strict JSON (RFC 8259), for every JSON or JSON Lines file the toolkit writes.

    Python's ``json`` writes NaN and infinities as the bare words ``NaN`` and ``Infinity``,
    which other JSON readers refuse. By default (``non_finite="error"``) they are an
    ``OutputError`` naming ``where`` (the file) and the key path of the number; a file that
    keeps input as it came (a snapshot, the quarantine) passes ``non_finite="string"`` to write
    them as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` instead. ``options`` go
    to ``json.dumps`` (``separators``, ``default``...).
    """
    try:
        return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False, **options)
    except ValueError:
        found = non_finite_number(data)
        if found is None:  # another ValueError (a circular reference)
            raise
    if non_finite == "string":
        return json.dumps(_non_finite_as_text(data), indent=indent, ensure_ascii=False, allow_nan=False, **options)
    key, value = found
    raise OutputError(f"cannot write {where}: {key} is {value}, which is not a number JSON can hold",
                      hint="a NaN or infinite number reached the output: find where it came from (the "
                           "input or the setting named above) and give a finite number")


def _non_finite_as_text(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {_non_finite_as_text(key): _non_finite_as_text(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_non_finite_as_text(value) for value in data]
    return data


def non_finite_number(data: Any, path: str = "") -> tuple[str, float] | None:
    """The key path (``a.b[2]["c d"]``) and value of the first NaN or infinite number in ``data``."""
    if isinstance(data, float):
        return None if math.isfinite(data) else (path or "the value", data)
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, float) and not math.isfinite(key):
                return (f"{path or 'the value'} (a key)", key)
            step = f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{json.dumps(str(key))}]"
            found = non_finite_number(value, (path + step).lstrip("."))
            if found:
                return found
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            found = non_finite_number(value, f"{path}[{i}]")
            if found:
                return found
    return None


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


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block; raise
    ``busy()`` at once when another process holds it. The lock dies with its process, so a killed
    run never leaves it behind."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise busy() from None
            raise
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
