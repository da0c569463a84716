"""Parquet files read and written batch by batch, in memory that does not grow with the file.

``pyarrow.parquet.ParquetFile`` pre-buffers by default: while ``iter_batches`` walks a file,
the column chunks it has read stay cached until the file object goes away, so reading a
300 MB file holds it all by the end (measured with pyarrow 26: +52 MiB of Arrow memory per
200,000 articles read, and none with ``pre_buffer=False``). Every streaming read in the
toolkit goes through ``iter_batches`` here (or a file from ``open_parquet``), whole small
tables through ``read_table``, and rows made one at a time (ingest, pull) are written
through ``RowWriter``.

A damaged file (truncated, overwritten, not Parquet at all) is found either when it is
opened (no footer) or only when a damaged page is read. Both become one ``InputError`` that
names the file, says what is wrong and what to do (restore it, or make it again with the
command that writes it), wherever the toolkit reads it: ``open_parquet`` returns a
``ParquetFile`` whose reads translate Arrow's errors too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError, InputNotFound

__all__ = ["open_parquet", "iter_batches", "read_table", "RowWriter"]

# The command that writes each file the toolkit reads back: what to run when one is damaged.
_MADE_BY = {"articles.parquet": "toolkit ingest", "articles": "toolkit ingest", "annotations.parquet": "toolkit pull",
            "drafts.parquet": "toolkit pull", "predictions.parquet": "toolkit pull",
            "gold.parquet": "toolkit agree"}


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it lies below it, else as given."""
    with contextlib.suppress(ValueError, OSError):
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    return str(path)


def damaged_hint(path: str | os.PathLike[str]) -> str:
    """What to do about a damaged file: restore it, or make it again with the command that writes it."""
    command = _MADE_BY.get(Path(path).name)
    if command is None:
        return "restore it from version control or a backup"
    return f"restore it from version control or a backup, or move it aside and run `{command}` to make it again"


@contextlib.contextmanager
def _reading(path: Path, hint: str | None) -> Iterator[None]:
    """Arrow's errors while reading ``path`` as one ``InputError`` naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise InputNotFound(f"{_shown(path)} does not exist", hint=hint or damaged_hint(path)) from None
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the system's error, not the file's content
            raise InputError(f"cannot read {_shown(path)}: {exc.strerror or exc}",
                             hint="check the file's permissions and the disk") from None
        raise InputError(f"{_shown(path)} is not a readable Parquet file: it is truncated, damaged or not Parquet "
                         f"at all ({exc})", hint=hint or damaged_hint(path)) from None


class CheckedParquetFile(pq.ParquetFile):
    """A ``ParquetFile`` whose reads turn Arrow's errors about a damaged file into ``InputError``."""

    def __init__(self, path: str | os.PathLike[str], *, hint: str | None = None, **kwargs: Any) -> None:
        self.path, self.hint = Path(path), hint
        with _reading(self.path, hint):
            super().__init__(path, **kwargs)

    def iter_batches(self, *args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        with _reading(self.path, self.hint):
            yield from super().iter_batches(*args, **kwargs)

    def read(self, *args: Any, **kwargs: Any) -> pa.Table:
        with _reading(self.path, self.hint):
            return super().read(*args, **kwargs)

    def read_row_group(self, *args: Any, **kwargs: Any) -> pa.Table:
        with _reading(self.path, self.hint):
            return super().read_row_group(*args, **kwargs)

    def read_row_groups(self, *args: Any, **kwargs: Any) -> pa.Table:
        with _reading(self.path, self.hint):
            return super().read_row_groups(*args, **kwargs)


def open_parquet(path: str | os.PathLike[str], *, hint: str | None = None) -> CheckedParquetFile:
    """A ``ParquetFile`` that does not keep what it has read (``pre_buffer=False``) and reports a
    damaged file as an ``InputError`` naming it (``hint``: what to do, if not the default)."""
    return CheckedParquetFile(path, hint=hint, pre_buffer=False)


def iter_batches(path: str | os.PathLike[str], batch_size: int,
                 columns: Sequence[str] | None = None, *, hint: str | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of ``path`` (at most ``batch_size`` rows each), holding one row group at a time."""
    yield from open_parquet(path, hint=hint).iter_batches(batch_size=batch_size,
                                                           columns=list(columns) if columns is not None else None)


def read_table(path: str | os.PathLike[str], columns: Sequence[str] | None = None, *,
               hint: str | None = None) -> pa.Table:
    """The whole of ``path`` (or its ``columns``) as one table, for files read whole.

    A column that is not in the file is an ``InputError`` (Arrow would leave it out silently)."""
    file = open_parquet(path, hint=hint)
    if columns is not None:
        missing = [c for c in columns if c not in file.schema_arrow.names]
        if missing:
            raise InputError(f"{_shown(file.path)} has no column {', '.join(map(repr, missing))}: it was written "
                             "by another tool or an older version", hint=hint or damaged_hint(path))
        columns = list(columns)
    return file.read(columns=columns)


class RowWriter:
    """Row dicts to a ``ParquetWriter``, written as one table (row group) per ``size`` rows.

    ``to_table`` turns a list of rows into a table of the writer's schema.
    """

    def __init__(self, writer: pq.ParquetWriter, to_table: Callable[[list[dict[str, Any]]], pa.Table],
                 size: int) -> None:
        self.writer, self.to_table, self.size = writer, to_table, size
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.size:
            self.flush()

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.to_table(self.rows))
            self.rows = []

    def close(self) -> None:
        """Write what is buffered and close the writer."""
        self.flush()
        self.writer.close()
