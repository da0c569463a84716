"""Read Label Studio export files made in the UI, one task at a time.

Exports can be many gigabytes, so nothing here loads a whole file: a JSON list is streamed
item by item (``toolkit.validation.jsonstream``), a single pretty-printed object with ijson, JSONL line by
line, and gzip is decompressed on the fly. Every
format comes out as full-format tasks (``{"id", "data", "annotations", ...}``), so
``toolkit.validation.normalise.normalise_task`` needs to know only one shape.

Formats:

- ``json``: Label Studio's JSON export, a list of tasks; also a single task object
  (older exports), and the LSF example shapes (a bare annotation, a result list);
- ``json_min``: one flat object per annotation: the task data keys, one key per
  control with a simplified value, and ``id``, ``annotator``, ``annotation_id``,
  ``created_at``, ``updated_at``, ``lead_time``. Rows are rebuilt into tasks using
  the scheme. JSON_MIN leaves out cancelled annotations, drafts, predictions and
  ground-truth flags, so those cannot come back;
- ``jsonl``: one full task per line (the toolkit's own snapshots).

Any of them may be gzipped; that is told from the magic bytes, not the suffix.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, Any

import ijson

from ..errors import InputError, InputNotFound
from ..scheme import ChoiceField, NumberField, Scheme, SpanField
from .jsonstream import too_deep

__all__ = ["EXPORT_FORMATS", "detect_format", "iter_export_tasks", "as_task", "json_min_row_to_task"]

EXPORT_FORMATS: tuple[str, ...] = ("json", "json_min", "jsonl")

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# Keys a full-format task has and a JSON_MIN row never has.
_TASK_SHAPE_KEYS = frozenset({"data", "annotations", "completions", "predictions", "drafts"})
# Keys the JSON_MIN converter adds next to the task data (label_studio_sdk
# converter.convert_to_json_min).
_MIN_META_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
                  "agreement", "history")
_READ_HINT = ("export the project again from Label Studio (Export -> JSON or JSON_MIN) and check "
              "that the download finished")


# ---------------------------------------------------------------------- opening


class _CountingReader(io.RawIOBase):
    """Counts bytes handed to the parser, to say roughly where a parse error is."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    """Binary stream of the (decompressed) content; reading it may raise gzip's errors."""
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise InputNotFound(f"export file not found: {path}",
                            hint="check the path; download the export from Label Studio "
                                 "first") from None
    except OSError as exc:
        raise InputError(f"cannot open export file {path}: {exc.strerror or exc}",
                         hint="check that the file is readable") from None
    with raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not gzipped:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            yield io.BufferedReader(unzipped, buffer_size=1 << 16)  # type: ignore[arg-type]


def _first_byte(stream: IO[bytes]) -> bytes:
    """The first non-whitespace byte, consumed from ``stream`` (b"" at end of file)."""
    while True:
        byte = stream.read(1)
        if byte == b"" or byte not in _WHITESPACE:
            return byte


# -------------------------------------------------------------------- detection


def _row_shape(item: Any, scheme_names: frozenset[str] | None = None) -> str:
    """task | json_min | annotation | result | other — what one top-level item is."""
    if not isinstance(item, dict):
        return "other"
    if _TASK_SHAPE_KEYS & item.keys():
        return "task"
    if "result" in item:
        return "annotation"
    if "from_name" in item:
        return "result"
    if "annotator" in item or "annotation_id" in item:
        return "json_min"
    if scheme_names and scheme_names & item.keys():
        return "json_min"
    return "task"  # a task imported without the "data" wrapper


def detect_format(path: str | Path) -> str:
    """``"json"``, ``"json_min"`` or ``"jsonl"``, from the container and the first item."""
    with closing(_containers(Path(path))) as containers:
        container, items = next(containers)
        if container == "jsonl":
            return "jsonl"
        return "json_min" if _row_shape(next(items, None)) == "json_min" else "json"


def _containers(path: Path) -> Iterator[tuple[str, Iterator[Any]]]:
    """Yield once: the container kind ("list", "object", "jsonl") and an iterator of its items.

    A generator so that the file stays open while the caller consumes the items.
    """
    with _open(path) as stream:
        gzipped = isinstance(getattr(stream, "raw", None), gzip.GzipFile)
        try:
            first, line, lines_after = _peek(stream)
        except _STREAM_ERRORS as exc:
            raise _parse_error(path, exc, 0, 0, gzipped) from None
        if first == b"":
            raise InputError(f"{path} is empty", hint=_READ_HINT)
        if first == b"[":
            # The common case (what the Label Studio UI exports): the fast streaming splitter,
            # which reads the file on its own.
            from .jsonstream import iter_json_items

            yield "list", iter_json_items(path)
        elif first != b"{":
            raise InputError(f"{path} is not a JSON export: it starts with {first!r}",
                             hint="give a Label Studio export in JSON, JSON_MIN or JSONL format "
                                  "(optionally gzipped)")
        elif isinstance(line, dict) and lines_after:
            yield "jsonl", _parse_lines(path, line, lines_after, stream)
        elif isinstance(line, dict):
            yield "object", iter([line])  # one object on one line
        else:
            source = _Chain(_CountingReader(io.BytesIO(lines_after)), _CountingReader(stream))
            yield "object", _parse_object(path, source, gzipped)


def _peek(stream: IO[bytes]) -> tuple[bytes, Any, bytes]:
    """First non-space byte; for "{" also the first line parsed (or None) and what follows.

    A first line that is a whole object means JSONL, unless nothing follows it
    (a single task written on one line). Otherwise it is one pretty-printed object,
    and the bytes read so far are handed back for the streaming parser.
    """
    if stream.peek(3)[:3] == _BOM:  # type: ignore[attr-defined]
        stream.read(3)
    first = _first_byte(stream)
    if first != b"{":
        return first, None, b""
    line = b"{" + stream.readline()
    try:
        parsed = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return first, None, line
    except RecursionError:
        raise too_deep(getattr(stream, "name", "the export"), " (line 1)") from None
    if not isinstance(parsed, dict):
        return first, None, line
    following = stream.readline()
    while following and not following.strip():
        following = stream.readline()
    return first, parsed, following


class _Chain(io.RawIOBase):
    """Readers one after the other: bytes already consumed while peeking, then the rest."""

    def __init__(self, *parts: _CountingReader) -> None:
        self._parts = list(parts)
        self._done = 0  # bytes read from parts already used up

    @property
    def position(self) -> int:
        return self._done + (self._parts[0].position if self._parts else 0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not len(buffer):
            return 0  # ijson probes with read(0); that must not use up a part
        while self._parts:
            count = self._parts[0].readinto(buffer)
            if count:
                return count
            self._done += self._parts.pop(0).position
        return 0


def _parse_error(path: Path, exc: Exception, position: int, done: int,
                 gzipped: bool) -> InputError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
        what = f"{path} is a damaged or truncated gzip file ({detail})"
    else:
        what = f"{path} is not valid JSON: {detail}"
    where = f"near byte {position}" + (" of the decompressed content" if gzipped else "")
    return InputError(f"{what}, {where}, after {done} complete item(s)", hint=_READ_HINT)


_STREAM_ERRORS = (ijson.JSONError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)


def _parse_object(path: Path, source: _Chain, gzipped: bool) -> Iterator[Any]:
    try:
        for item in ijson.items(source, "", use_float=True):
            yield item
    except _STREAM_ERRORS as exc:
        raise _parse_error(path, exc, source.position, 0, gzipped) from None


def _parse_lines(path: Path, first: dict[str, Any], second: bytes,
                 stream: IO[bytes]) -> Iterator[Any]:
    yield first
    number = 1
    try:
        for number, line in enumerate(itertools.chain([second], stream), start=2):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: line {number} is not valid JSON ({exc}); the file "
                                 "may be truncated", hint=_READ_HINT) from None
            except RecursionError:
                raise too_deep(path, f" (line {number})") from None
            if not isinstance(item, dict):
                raise InputError(f"{path}: line {number} is a {type(item).__name__}, not a task "
                                 "object", hint="each line of a JSONL export must be one task")
            yield item
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{path} is a damaged or truncated gzip file ({exc}), after line "
                         f"{number}", hint=_READ_HINT) from None


# ------------------------------------------------------------------------ tasks


def iter_export_tasks(path: str | Path, scheme: Scheme) -> Iterator[dict[str, Any]]:
    """Yield the tasks of an export file as full-format task dicts, streaming.

    ``scheme`` is needed to rebuild results from JSON_MIN rows. Raises InputError
    (InputNotFound for a missing file) naming the file and, when known, where the
    problem is.
    """
    path = Path(path)
    names = frozenset(scheme.field_names)
    for container, items in _containers(path):
        if container == "object":
            for item in items:
                _check_single_object(item, path)
                yield as_task(item, path, scheme)
            return
        first = next(items, None)
        if first is None:
            return
        if _row_shape(first, names) == "result":
            # A bare result list (LSF examples): all of it is one annotation.
            yield {"annotations": [{"result": [first, *items]}]}
            return
        yield as_task(first, path, scheme)
        for item in items:
            yield as_task(item, path, scheme)


def _check_single_object(item: Any, path: Path) -> None:
    """A file holding one object is one task only if it looks like one. An object that wraps
    the tasks (``{"tasks": [...]}``) would otherwise pass as a single task without annotations,
    and a pull from it would delete every annotation the workspace holds."""
    if not isinstance(item, dict) or _TASK_SHAPE_KEYS & item.keys() or "result" in item:
        return
    lists = [key for key, value in item.items()
             if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)]
    keys = ", ".join(repr(k) for k in list(item)[:8])
    hint = (f"the tasks seem to be in {lists[0]!r}: give a file holding that list (e.g. "
            f"`jq '.{lists[0]}' {path.name} > tasks.json`)" if lists else
            "give a Label Studio export: a JSON list of tasks, JSON_MIN or JSONL")
    raise InputError(f"{path}: the file is one JSON object with the keys {keys}, not a Label Studio task or "
                     "a list of tasks; no task in a recognised shape was found", hint=hint)


def as_task(item: Any, path: Path, scheme: Scheme) -> dict[str, Any]:
    shape = _row_shape(item, frozenset(scheme.field_names))
    if shape == "task":
        return item
    if shape == "json_min":
        return json_min_row_to_task(item, scheme)
    if shape == "annotation":
        return {"annotations": [item]}
    if shape == "result":
        return {"annotations": [{"result": [item]}]}
    raise InputError(f"{path}: an item of the export is a {type(item).__name__}, not a task "
                     f"object: {repr(item)[:80]}",
                     hint="give a Label Studio export in JSON, JSON_MIN or JSONL format")


def json_min_row_to_task(row: dict[str, Any], scheme: Scheme) -> dict[str, Any]:
    """Rebuild a full-format task with one annotation from one JSON_MIN row."""
    names = set(scheme.field_names)
    data = {k: v for k, v in row.items() if k not in names and k not in _MIN_META_KEYS}
    result: list[dict[str, Any]] = []
    for f in scheme.fields:
        if f.name in row:
            result.extend({"from_name": f.name, "to_name": "text", "type": kind, "value": value}
                          for kind, value in _min_values(f, row[f.name]))
    annotator = row.get("annotator")
    # JSON_MIN gives the e-mail when the export knew it, else the user id.
    completed_by = {"email": annotator} if isinstance(annotator, str) else annotator
    task: dict[str, Any] = {"id": row.get("id"), "data": data, "annotations": []}
    if row.get("annotation_id") is not None or result or annotator is not None:
        task["annotations"].append({
            "id": row.get("annotation_id"), "completed_by": completed_by, "result": result,
            "created_at": row.get("created_at"), "updated_at": row.get("updated_at"),
            "lead_time": row.get("lead_time"),
            # JSON_MIN leaves cancelled annotations out and has no ground-truth flag.
            "was_cancelled": False, "ground_truth": False,
        })
    return task


def _min_values(f: Any, value: Any) -> list[tuple[str, Any]]:
    """(result type, result value) pairs that JSON_MIN's ``prettify_result`` turned into ``value``.

    Shapes it cannot have made pass through unchanged, so that normalisation
    reports them as malformed instead of this guessing.
    """
    if isinstance(f, SpanField):
        regions = value if isinstance(value, list) else [value]
        return [("labels", region) for region in regions]
    if isinstance(f, ChoiceField):
        # One result with one choice -> the string; with several -> {"choices": [...]};
        # several results -> a list of those.
        items = value if isinstance(value, list) else [value]
        return [("choices", {"choices": [item]} if isinstance(item, str) else item)
                for item in items]
    if isinstance(f, NumberField):
        items = value if isinstance(value, list) else [value]
        return [("number", item if isinstance(item, dict) else {"number": item})
                for item in items]
    items = value if isinstance(value, list) else [value]
    return [("textarea", {"text": [item]} if isinstance(item, str) else item) for item in items]
