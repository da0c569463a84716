"""Several files replaced together, all or nothing, even when the process is killed midway.

One file is made safe by writing it aside and renaming it into place (``atomicio``). A command
that replaces several files that belong together (pull writes annotations, drafts, predictions,
quarantine, the snapshot and its index) also needs them to change together: a reader must never
see the new annotations with the old quarantine. So the new files are written aside first, then a
journal listing every rename is written (atomically), then the renames are done, then the journal
is removed. A crash before the journal exists leaves the old files; a crash after it is rolled
forward by ``recover``, which every command runs before it reads the workspace.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["JOURNAL", "ASIDE_SUFFIX", "aside", "commit", "recover"]

JOURNAL = ".commit-journal.json"
ASIDE_SUFFIX = ".aside"


def aside(path: Path) -> Path:
    """Where the new version of ``path`` is written until ``commit`` moves it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}{ASIDE_SUFFIX}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(folder: Path, renames: list[tuple[Path, Path]]) -> None:
    """Move every ``(written aside, final)`` pair into place, all or nothing. The files written
    aside must be complete and fsynced; the journal lives in ``folder``."""
    journal = folder / JOURNAL
    pending = journal.with_name(JOURNAL + ".tmp")
    pending.write_text(json.dumps({"renames": [[str(a), str(b)] for a, b in renames]}), encoding="utf-8")
    with open(pending, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pending, journal)  # from here on, the commit happens even if we are killed
    _fsync_dir(folder)
    recover(folder)


def recover(folder: Path) -> bool:
    """Finish a commit that was interrupted after its journal was written (True if there was
    one), then remove what a command killed before its commit left aside. A journal still being
    written (the commit had not begun) is removed: the old files stand."""
    if not folder.is_dir():
        return False
    (folder / (JOURNAL + ".tmp")).unlink(missing_ok=True)
    journal = folder / JOURNAL
    finished = journal.exists()
    if finished:
        renames = json.loads(journal.read_text(encoding="utf-8"))["renames"]
        for written, final in renames:
            if os.path.exists(written):
                os.replace(written, final)
        for _written, final in renames:
            _fsync_dir(Path(final).parent)
        journal.unlink()
        _fsync_dir(folder)
    for leftover in folder.rglob(f".*{ASIDE_SUFFIX}"):
        try:
            leftover.chmod(0o600)
            leftover.unlink()
        except OSError:
            pass
    return finished
