"""The fast path of `toolkit validate FILE` gives the reference path's report, to the byte.

The fast path (what users get) splits the export in this process, decodes, normalises and checks
the items in worker processes (reading a plain file again at the items' offsets), runs the
compiled JSON Schema check and the quick storable test; the reference path is one process with
jsonschema on every record. Crafted exports with defects of every kind, in the formats users
give: one line (as the server exports), pretty-printed, JSON_MIN, gzip, with a BOM.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from toolkit.scheme import builtin_scheme
from toolkit.validation import validate_export
from toolkit.validation.semantic import _storable

REPO = Path(__file__).resolve().parents[1]


def _gen_export() -> Any:
    spec = importlib.util.spec_from_file_location("gen_export", REPO / "bench" / "gen_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scheme() -> Any:
    return builtin_scheme("news-events-v1")


@pytest.fixture(scope="module")
def tasks() -> list[dict[str, Any]]:
    """60 generated tasks, 30 % of the annotations with a defect, plus hand-made hard cases."""
    gen = _gen_export().Generator(11, 0.3)
    tasks = [gen.task(i + 1) for i in range(60)]
    nan_task = json.loads(json.dumps(tasks[0]))
    nan_task["id"] = 1001
    nan_task["annotations"][0]["lead_time"] = math.nan  # written as NaN: json reads it, msgspec does not
    for n, annotation in enumerate(nan_task["annotations"]):
        annotation["id"] = 100100 + n
    surrogate = json.loads(json.dumps(tasks[1]))
    surrogate["id"] = 1002
    for n, annotation in enumerate(surrogate["annotations"]):
        annotation["id"] = 100200 + n
    surrogate["annotations"][1]["result"].append(
        {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": ["broken \ud800 char"]}})
    duplicate = json.loads(json.dumps(tasks[2]))  # same annotation ids again, in another task
    duplicate["id"] = 1003
    return tasks + [nan_task, surrogate, duplicate]


def _json_min(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One JSON_MIN row per annotation, as Label Studio's prettify_result writes it."""
    rows = []
    for task in tasks:
        for annotation in task["annotations"]:
            row: dict[str, Any] = {"id": task["id"], **task["data"], "annotator": annotation["completed_by"],
                                   "annotation_id": annotation["id"], "created_at": annotation["created_at"],
                                   "updated_at": annotation["updated_at"], "lead_time": annotation["lead_time"]}
            for item in annotation["result"]:
                value, name = item["value"], item["from_name"]
                if item["type"] == "labels":
                    row.setdefault(name, []).append(value)
                elif item["type"] == "choices":
                    row[name] = value["choices"][0] if len(value["choices"]) == 1 else value
                elif item["type"] == "number":
                    row[name] = value["number"]
                else:
                    row[name] = value["text"][0]
            rows.append(row)
    return rows


def _write(path: Path, text: str, *, gzipped: bool = False, bom: bool = False) -> Path:
    # A lone surrogate cannot be UTF-8: the file holds it escaped, as a broken client's text arrives.
    data = (b"\xef\xbb\xbf" if bom else b"") + text.replace("\ud800", "\\ud800").encode("utf-8")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, tasks: list[dict[str, Any]]) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("exports")
    one_line = json.dumps(tasks, ensure_ascii=False)  # the server's JSON export: one line
    return {
        "one-line": _write(d / "export.json", one_line),
        "pretty": _write(d / "pretty.json", json.dumps(tasks, indent=2, ensure_ascii=False)),
        "json-min": _write(d / "min.json", json.dumps(_json_min(tasks), ensure_ascii=False)),
        "gzip": _write(d / "export.json.gz", one_line, gzipped=True),
        "bom": _write(d / "bom.json", one_line, bom=True),
    }


@pytest.mark.parametrize("kind", ["one-line", "pretty", "json-min", "gzip", "bom"])
def test_fast_path_report_equals_the_reference(kind: str, exports: dict[str, Path], scheme: Any) -> None:
    path = exports[kind]
    reference = validate_export(path, scheme, fast=False, workers=1).to_dict()
    # The crafted defects are there: schema errors, semantic ones, the NaN, the surrogate, the ids.
    types = {e["type"] for e in reference["errors"]}
    assert {"non-finite-number", "duplicate-id"} <= types
    if kind != "json-min":  # JSON_MIN keeps one text per field: the surrogate note is there too
        assert "invalid-text" in types
    assert not reference["valid"]
    for workers in (1, 2):
        assert validate_export(path, scheme, workers=workers).to_dict() == reference, (kind, workers)


def test_one_line_and_pretty_exports_give_the_same_errors(exports: dict[str, Path], scheme: Any) -> None:
    """Only the source differs: the layout of the file changes nothing else."""
    one = validate_export(exports["one-line"], scheme).to_dict()
    pretty = validate_export(exports["pretty"], scheme).to_dict()
    assert {**one, "source": None} == {**pretty, "source": None}


@pytest.mark.parametrize("record, storable", [
    ({"task_id": 1, "lead_time": 2.5, "entities": [{"text": "Kabul", "start": 0, "end": 5}]}, True),
    ({"task_id": 1, "lead_time": math.nan}, False),
    ({"task_id": 1, "entities": [{"score": -math.inf}]}, False),
    ({"task_id": 1, "note": "broken \ud800 char"}, False),
    ({"task_id": 1, "entities": [{"\udfff": 1}]}, False),
    # json can write any int: storable (the range check of top-level ints is another check).
    ({"task_id": 1, "entities": [{"start": 2 ** 70}]}, True),
    # msgpack writes this uint64 as cf cb 7f f0 00 ...: bytes that look like an infinity.
    ({"task_id": 1, "killed": 0xCB7FF00000000000}, True),
    ({"task_id": 1, "note": "\u02cb\x7f\u00f0 and the bytes of 1e308", "lead_time": 1e308}, True),
])
def test_storable_quick_test_agrees_with_json(record: dict[str, Any], storable: bool) -> None:
    assert _storable(record) is storable


def test_iri_formats_are_still_checked_after_the_lazy_import() -> None:
    """toolkit.scheme imports jsonschema without compiling rfc3987_syntax's grammars up front
    (1.5 s of every command's start-up); an `iri` check still loads and uses the real thing."""
    import toolkit.scheme  # noqa: F401  (imports jsonschema the lazy way)
    from jsonschema import Draft202012Validator

    check = Draft202012Validator({"format": "iri"}, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert check.is_valid("https://example.org/caf\u00e9?q=1")
    assert not check.is_valid("no scheme, spaces and all")
