"""Reading Label Studio export files: formats, gzip, errors; and the export test data.

The ``tests/data/export-*`` files are made by ``build_export_files`` below (run
``python -m tests.test_exports`` to rewrite them); a test checks that the files
on disk are what it makes, so offsets in them are computed, not typed by hand.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from toolkit.errors import InputError, InputNotFound
from toolkit.validation.exports import detect_format, iter_export_tasks, json_min_row_to_task
from toolkit.ingest.dedup import article_id
from toolkit.validation.normalise import normalise_task
from toolkit.scheme import build_labeling_config, builtin_scheme

from .conftest import DATA

SCHEME = builtin_scheme("news-events-v1")

# ------------------------------------------------------------------ test data

HOSTAGE_TEXT = ("A group of gunmen took 12 guards hostage at the IK-15 prison in Volgograd on "
                "Saturday; one guard was killed.")
PLAIN_TEXT = "Officials in Kabul said on Monday that the market reopened after the floods."
EMOJI_TEXT = ("Fire 🔥 at the Kremlin: Vladimir Putin said the blaze 🔥🔥 was put out by Monday. "
              "Fans cheered 😀")
REPAIR_TEXT = "Police in Mosul arrested two men after the bombing near the Grand Mosque."
# "police" occurs at 0 and 40: the stated start 20 is equally far from both.
AMBIGUOUS_TEXT = "police said the attack came at dawn and police found a car bomb."


def utf16(text: str, index: int) -> int:
    """Offset in UTF-16 code units (as the browser counts) of code point ``index``."""
    return len(text[:index].encode("utf-16-le")) // 2


def span(text: str, needle: str, label: str, *, units16: bool = False, shift: int = 0,
         start: int | None = None) -> dict[str, Any]:
    at = text.index(needle) if start is None else start
    begin, end = at + shift, at + shift + len(needle)
    if units16:
        begin, end = utf16(text, begin), utf16(text, end)
    return {"from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": begin, "end": end, "text": needle, "labels": [label]}}


def choice(name: str, *values: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices",
            "value": {"choices": list(values)}}


def number(name: str, value: int) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "number", "value": {"number": value}}


def note(*lines: str) -> dict[str, Any]:
    return {"from_name": "note", "to_name": "text", "type": "textarea",
            "value": {"text": list(lines)}}


def annotation(ann_id: int, completed_by: Any, result: list[dict[str, Any]], *,
               task: int, minute: int, cancelled: bool = False,
               ground_truth: bool = False) -> dict[str, Any]:
    stamp = f"2026-11-25T06:{minute:02d}:24.217278Z"
    return {"id": ann_id, "completed_by": completed_by, "result": result,
            "was_cancelled": cancelled, "ground_truth": ground_truth, "lead_time": 12.5,
            "created_at": stamp, "updated_at": stamp, "task": task, "project": 1}


def task(task_id: int, text: str, annotations: list[dict[str, Any]], *,
         with_article_id: bool = True, **extra: Any) -> dict[str, Any]:
    data = {"text": text, "title": f"Article {task_id}", "published": "2024-11-23",
            "source_url": None}
    if with_article_id:
        data["article_id"] = article_id(text)
    return {"id": task_id, "data": data, "annotations": annotations, "predictions": [],
            "drafts": [], **extra}


def full_export() -> list[dict[str, Any]]:
    """Two annotators, a cancelled and a ground-truth annotation, a draft, a prediction."""
    t = HOSTAGE_TEXT
    first = task(1, t, [
        annotation(11, 2, [span(t, "IK-15 prison", "FAC"), span(t, "Volgograd", "GPE"),
                           span(t, "Saturday", "DATE"),
                           choice("event_type", "Hostage Taking (Barricade Incident)"),
                           number("killed", 1), number("hostages", 12), note("a note")],
                   task=1, minute=1),
        annotation(12, {"id": 3, "email": "b@example.org"},
                   [span(t, "Volgograd", "GPE"),
                    choice("event_type", "Hostage Taking (Barricade Incident)"),
                    number("killed", 1)], task=1, minute=2, ground_truth=True),
        annotation(13, 4, [], task=1, minute=3, cancelled=True),
    ], drafts=[{"id": 21, "user": 2, "annotation": None, "result": [span(t, "gunmen", "PERSON")],
                "lead_time": 3.0, "was_postponed": True,
                "created_at": "2026-11-25T07:00:00.000000Z",
                "updated_at": "2026-11-25T07:00:00.000000Z"}],
        predictions=[{"id": 31, "model_version": "ner-baseline", "score": 0.5,
                      "result": [span(t, "Volgograd", "GPE")],
                      "created_at": "2026-11-25T05:00:00.000000Z"}])
    second = task(2, PLAIN_TEXT, [
        annotation(14, 2, [span(PLAIN_TEXT, "Kabul", "GPE"), span(PLAIN_TEXT, "Monday", "DATE"),
                           choice("event_type", "Not an attack event")], task=2, minute=4),
    ], with_article_id=False)
    return [first, second]


def json_min_export(tasks: list[dict[str, Any]], workdir: Path) -> bytes:
    """What Label Studio's own JSON_MIN converter makes of ``tasks``."""
    from label_studio_sdk.converter import Converter

    source = workdir / "full.json"
    source.write_text(json.dumps(tasks), encoding="utf-8")
    config = build_labeling_config(SCHEME)
    converter = Converter(config=config, project_dir=None, download_resources=False)
    converter.convert_to_json_min(str(source), str(workdir), is_dir=False)
    return (workdir / "result.json").read_bytes()


def offsets_exports() -> dict[str, list[dict[str, Any]]]:
    e, r, a = EMOJI_TEXT, REPAIR_TEXT, AMBIGUOUS_TEXT
    return {
        # The browser's UTF-16 offsets: "Fire" is before any emoji (right as it is),
        # the others come after one, one, three and four astral characters.
        "export-emoji.json": [task(5, e, [annotation(51, 2, [
            span(e, "Fire", "WEAPON", units16=True),
            span(e, "Kremlin", "FAC", units16=True),
            span(e, "Vladimir Putin", "PERSON", units16=True),
            span(e, "Monday", "DATE", units16=True),
            choice("event_type", "Facility/Infrastructure Attack"),
        ], task=5, minute=5)])],
        # "Mosul" and "Grand Mosque" occur once each, but 3 characters later / earlier.
        "export-offsets-repaired.json": [task(6, r, [annotation(61, 2, [
            span(r, "Mosul", "GPE", shift=3),
            span(r, "Grand Mosque", "FAC", shift=-2),
            choice("event_type", "Bombing/Explosion"),
        ], task=6, minute=6)])],
        "export-offsets-ambiguous.json": [task(7, a, [annotation(71, 2, [
            span(a, "police", "ORG", start=20),
            span(a, "car bomb", "WEAPON"),
            choice("event_type", "Bombing/Explosion"),
        ], task=7, minute=7)])],
        "export-unknown-control.json": [task(8, PLAIN_TEXT, [
            annotation(81, 2, [choice("sentiment", "Positive"),
                               choice("event_type", "Not an attack event")], task=8, minute=8),
            annotation(82, 3, [choice("event_type", "Not an attack event")], task=8, minute=9),
        ])],
    }


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_export_files(workdir: Path) -> dict[str, bytes]:
    tasks = full_export()
    full = _dump(tasks)
    files = {
        "export-full.json": full,
        "export-full.json.gz": gzip.compress(full, mtime=0),
        "export-full.jsonl": b"".join(json.dumps(t, ensure_ascii=False).encode("utf-8") + b"\n"
                                      for t in tasks),
        "export-single-task.json": _dump(tasks[0]),
        "export-json-min.json": json_min_export(tasks, workdir),
        # Cut in the middle of the second task, as an interrupted download would be.
        "export-truncated.json": full[:int(len(full) * 0.8)],
    }
    files.update({name: _dump(content) for name, content in offsets_exports().items()})
    return files


def test_export_files_are_current(tmp_path: Path) -> None:
    for name, content in build_export_files(tmp_path).items():
        assert (DATA / name).read_bytes() == content, (
            f"tests/data/{name} is out of date: run `python -m tests.test_exports`")


# ----------------------------------------------------------------------- tests


def _tasks(name: str | Path) -> list[dict[str, Any]]:
    return list(iter_export_tasks(DATA / name, SCHEME))


@pytest.mark.parametrize("name, fmt", [
    ("export-full.json", "json"),
    ("export-full.json.gz", "json"),
    ("export-full.jsonl", "jsonl"),
    ("export-single-task.json", "json"),
    ("export-json-min.json", "json_min"),
])
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(DATA / name) == fmt


@pytest.mark.parametrize("name", ["export-full.json.gz", "export-full.jsonl"])
def test_gzip_and_jsonl_give_the_same_tasks_as_json(name: str) -> None:
    assert _tasks(name) == json.loads((DATA / "export-full.json").read_text("utf-8"))


def test_gzip_is_told_by_magic_bytes_not_suffix(tmp_path: Path) -> None:
    disguised = tmp_path / "export.json"
    shutil.copyfile(DATA / "export-full.json.gz", disguised)
    assert _tasks(disguised) == _tasks("export-full.json")
    plain_named_gz = tmp_path / "export.json.gz"
    shutil.copyfile(DATA / "export-full.json", plain_named_gz)
    assert _tasks(plain_named_gz) == _tasks("export-full.json")


def test_single_task_object() -> None:
    assert _tasks("export-single-task.json") == _tasks("export-full.json")[:1]


def test_export_is_streamed_not_loaded() -> None:
    tasks = iter_export_tasks(DATA / "export-full.json", SCHEME)
    first = next(tasks)
    assert first["id"] == 1
    tasks.close()


def test_json_min_rows_become_tasks_with_the_same_records() -> None:
    """JSON_MIN made by Label Studio's converter normalises to the full export's records,

    except for what JSON_MIN leaves out: cancelled annotations and ground truth.
    """
    def records(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [r for t in tasks for r in normalise_task(t, SCHEME).records]
        return sorted(out, key=lambda r: r["annotation_id"])

    full = [r for r in records(_tasks("export-full.json")) if not r["was_cancelled"]]
    assert [r["annotation_id"] for r in full] == [11, 12, 14]
    for record in full:
        record["ground_truth"] = False
        if record["annotator_email"] is not None:
            record["annotator_id"] = None  # JSON_MIN gives the e-mail instead of the id
    from_min = records(_tasks("export-json-min.json"))
    assert from_min == full
    assert [(r["annotator_id"], r["annotator_email"]) for r in from_min] == [
        (2, None), (None, "b@example.org"), (2, None)]


def test_json_min_values_are_rebuilt_into_results() -> None:
    row = {"id": 9, "text": "Bombs in Kabul and Kabul.", "article_id": "0123456789abcdef",
           "entities": [{"start": 9, "end": 14, "text": "Kabul", "labels": ["GPE"]}],
           "event_type": {"choices": ["Bombing/Explosion", "Unknown"]},
           "killed": [{"number": 3}], "note": "two\nlines",
           "annotator": "a@example.org", "annotation_id": 90,
           "created_at": "2026-11-25T06:00:00Z", "updated_at": None, "lead_time": 1.0}
    task_ = json_min_row_to_task(row, SCHEME)
    assert task_["id"] == 9
    assert task_["data"] == {"text": "Bombs in Kabul and Kabul.", "article_id": "0123456789abcdef"}
    [ann] = task_["annotations"]
    assert ann["completed_by"] == {"email": "a@example.org"}
    assert ann["result"] == [
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 9, "end": 14, "text": "Kabul", "labels": ["GPE"]}},
        {"from_name": "event_type", "to_name": "text", "type": "choices",
         "value": {"choices": ["Bombing/Explosion", "Unknown"]}},
        {"from_name": "killed", "to_name": "text", "type": "number", "value": {"number": 3}},
        {"from_name": "note", "to_name": "text", "type": "textarea",
         "value": {"text": ["two\nlines"]}},
    ]
    record = normalise_task(task_, SCHEME).records[0]
    assert record["event_type"] == ["Bombing/Explosion", "Unknown"]  # kept for validation
    assert record["note"] == "two\nlines"


def test_json_min_row_of_a_task_without_annotations() -> None:
    row = {"id": 3, "text": "x", "annotator": None, "annotation_id": None,
           "created_at": None, "updated_at": None, "lead_time": None}
    assert json_min_row_to_task(row, SCHEME)["annotations"] == []


def test_truncated_file_raises_input_error_naming_file_and_position() -> None:
    with pytest.raises(InputError) as info:
        _tasks("export-truncated.json")
    message = str(info.value)
    assert "export-truncated.json" in message
    assert "ends in the middle of an item (it is truncated): item 2 starts at byte" in message
    assert f"the file ends at byte {(DATA / 'export-truncated.json').stat().st_size}" in message
    assert info.value.hint


def test_truncated_gzip_raises_input_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json.gz"
    data = (DATA / "export-full.json.gz").read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="damaged or truncated gzip"):
        list(iter_export_tasks(cut, SCHEME))
    # JSON cut short and then compressed: a JSON error, placed in the decompressed bytes
    cut.write_bytes(gzip.compress((DATA / "export-truncated.json").read_bytes()))
    with pytest.raises(InputError, match="ends in the middle of an item"):
        list(iter_export_tasks(cut, SCHEME))


def test_memory_stays_bounded_on_a_large_export(tmp_path: Path) -> None:
    import tracemalloc

    big = tmp_path / "big.json"
    one = full_export()[0]
    with big.open("w", encoding="utf-8") as out:
        out.write("[")
        for index in range(10000):
            one["id"] = index
            one["data"]["text"] = HOSTAGE_TEXT + " filler" * 400
            out.write(("," if index else "") + json.dumps(one))
        out.write("]")
    size = big.stat().st_size
    from toolkit.validation.jsonstream import BLOCK_SIZE

    assert size > 6 * BLOCK_SIZE
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_export_tasks(big, SCHEME))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10000
    # a read block and the item being decoded, not the file
    assert peak < 4 * BLOCK_SIZE


def test_missing_file_raises_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="export file not found"):
        list(iter_export_tasks(tmp_path / "nope.json", SCHEME))


@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b"id,text\n1,hello\n", "not a JSON export"),
    (b'{"id": 1, "data": {"text": "a"}}\n{"id": 2, "data": \n', "line 2 is not valid JSON"),
    (b"[1, 2]", "not a task object"),
])
def test_not_an_export(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        list(iter_export_tasks(path, SCHEME))


def test_byte_order_mark_and_bare_shapes(tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + (DATA / "export-full.json").read_bytes())
    assert _tasks(bom) == _tasks("export-full.json")
    results = tmp_path / "results.json"
    results.write_text(json.dumps([choice("event_type", "Unknown"), number("killed", 1)]))
    assert _tasks(results) == [{"annotations": [{"result": [choice("event_type", "Unknown"),
                                                            number("killed", 1)]}]}]
    bare = tmp_path / "annotation.json"
    bare.write_text(json.dumps({"id": 5, "result": []}))
    assert detect_format(bare) == "json"
    assert _tasks(bare) == [{"annotations": [{"id": 5, "result": []}]}]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for file_name, file_content in build_export_files(Path(scratch)).items():
            (DATA / file_name).write_bytes(file_content)
            print("wrote", DATA / file_name)
