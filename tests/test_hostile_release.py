"""Hostile inputs and faults (issue 12): strict JSON, damaged Parquet files, unsafe releases, versions.

Every hostile input is made here, in the test's own folder: non-finite numbers in settings and
data, truncated / damaged / non-Parquet files where the workspace keeps its tables, manifests
naming files outside the release, symbolic links, pipes and scripts inside a release, and
versions too large to leave room for the next. Each must end in a clear error or a reported
problem (exit 1, no traceback) and leave nothing half-written. (An interrupted release's
leftovers: ``test_release.py::test_killed_process_leaves_no_release_and_next_run_cleans_up``.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from toolkit import atomicio, parquetio
from toolkit.agreement import agree
from toolkit.cli import app
from toolkit.errors import InputError, OutputError
from toolkit.ingest import ingest
from toolkit.release import (
    ReleaseError,
    ReleaseTampered,
    VersionError,
    list_releases,
    load,
    parse_version,
    push_to_hub,
    release,
    verify_release,
)
from toolkit.release.data import ReleaseOptions
from toolkit.scaffold import init_workspace
from toolkit.scheme import Scheme
from toolkit.validation.normalise import records_to_table
from toolkit.workspace import Workspace

from .conftest import SEED, add_raw, edit_scheme
from .test_agree import _records, _write
from .test_release import NOW, _offline_hf, build_workspace  # noqa: F401 (_offline_hf: autouse here too)
from toolkit.articles import read_articles


def _strict(text: str) -> Any:
    """JSON as any strict reader takes it: the bare words NaN and Infinity are refused."""
    def refuse(word: str) -> Any:
        raise ValueError(f"not strict JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def _cli(ws: Workspace, *args: str) -> Any:
    result = CliRunner().invoke(app, ["-w", str(ws.root), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _release_folder_names(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock"))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace with its inputs and the release v0.1.0, built once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("hf")
        for name, value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("HF_HOME", str(home))):
            mp.setenv(name, value)
        ws = init_workspace(tmp_path_factory.mktemp("released") / "ws", title="Test events", scheme="news-events-v1")
        build_workspace(ws)
        release(ws, now=NOW)
    return ws


@pytest.fixture
def ws(released: Workspace, tmp_path: Path) -> Workspace:
    """A copy of ``released`` this test may damage (its release files made writable)."""
    root = tmp_path / "ws"
    shutil.copytree(released.root, root, symlinks=True)
    for base, _, names in os.walk(root / "releases"):
        for name in names:
            os.chmod(Path(base) / name, 0o644)
    return Workspace(root)


def _v010(ws: Workspace) -> Path:
    return ws.releases_dir / "v0.1.0"


def _add_to_manifest(folder: Path, name: str, data: bytes) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


# ------------------------------------------------------------------------------ strict JSON


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_write_json_refuses_non_finite_numbers_naming_file_and_key(tmp_path: Path, value: float) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"kept": true}\n')
    data = {"stats": {"numbers": {"killed": {"n": 3, "mean": value}}}, "by annotator": {"a b": [1.0, value]}}
    with pytest.raises(OutputError) as info:
        atomicio.write_json(target, data)
    assert str(target) in info.value.message and "stats.numbers.killed.mean" in info.value.message
    assert info.value.hint
    assert target.read_text() == '{"kept": true}\n'  # nothing written, the old file kept
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
    assert atomicio.non_finite_number({"by annotator": {"a b": [1.0, value]}}) == ('["by annotator"]["a b"][1]', value)
    assert _strict(atomicio.strict_json({"x": [1.5, None]}, where="x.json")) == {"x": [1.5, None]}


def test_strict_json_can_keep_non_finite_input_as_text() -> None:
    """For files that keep input as it came (snapshot, quarantine): nothing lost, still strict JSON."""
    line = atomicio.strict_json({"lead_time": math.inf, "r": [math.nan, -math.inf, 2.0]}, where="q.jsonl",
                                indent=None, non_finite="string", separators=(",", ":"))
    assert _strict(line) == {"lead_time": "Infinity", "r": ["NaN", "-Infinity", 2.0]}


def test_every_json_a_release_writes_is_strict(released: Workspace) -> None:
    for path in sorted(_v010(released).rglob("*.json")):
        _strict(path.read_text())


@pytest.mark.parametrize("key,value", [("test", "nan"), ("train", "inf"), ("validation", "-inf")])
def test_non_finite_split_ratio_is_refused_before_anything_is_written(ws: Workspace, key: str, value: str) -> None:
    toml = ws.root / "toolkit.toml"
    text = toml.read_text()
    default = {"train": "0.8", "validation": "0.1", "test": "0.1"}[key]
    assert f"\n{key} = {default}\n" in text
    toml.write_text(text.replace(f"\n{key} = {default}\n", f"\n{key} = {value}\n"))
    before = _release_folder_names(ws)
    result = _cli(ws, "release", "0.2.0")
    assert result.exit_code == 1
    # Refused where toolkit.toml is read (config) or, at the latest, by the release's own check.
    error = result.output.splitlines()[0]
    assert error.startswith("error: ") and f"[release] {key}" in error and value in error, result.output
    assert "hint: " in result.output
    assert _release_folder_names(ws) == before


def test_split_ratios_given_by_a_caller_are_checked(ws: Workspace) -> None:
    options = dataclasses.replace(ReleaseOptions.from_workspace(ws), test=math.nan)
    with pytest.raises(ReleaseError, match="test = nan"):
        release(ws, "0.2.0", options=options)
    assert _release_folder_names(ws) == ["v0.1.0"]


def test_non_finite_gold_number_is_refused(workspace: Workspace) -> None:
    def decimal_hostages(scheme: dict[str, Any]) -> None:
        next(f for f in scheme["fields"] if f["name"] == "hostages")["integer"] = False

    edit_scheme(workspace, decimal_hostages)
    build_workspace(workspace)
    path = workspace.annotations_dir / "gold.parquet"
    gold = pq.read_table(path)
    row = gold["status"].to_pylist().index("resolved")
    values = gold["hostages"].to_pylist()
    values[row] = math.inf
    column = gold.schema.get_field_index("hostages")
    pq.write_table(gold.set_column(column, gold.schema.field(column), pa.array(values, pa.float64())), path)
    with pytest.raises(ReleaseError, match=f"article {gold['article_id'][row].as_py()} has hostages = inf"):
        release(workspace, now=NOW)
    assert _release_folder_names(workspace) == []


# -------------------------------------------------------------------------------- agreement


@pytest.fixture
def annotated(workspace: Workspace) -> Workspace:
    add_raw(workspace, SEED.name, "near-a.txt", "dup-a.txt")
    ingest(workspace)
    return workspace


def test_non_finite_lead_times_are_left_out_of_the_median_and_counted(annotated: Workspace) -> None:
    records = _records(annotated)
    alice = [r for r in records if r["annotator_email"] == "alice@example.org"]
    for record, lead_time in zip(alice, (math.inf, math.nan, 42.0)):
        record["lead_time"] = lead_time
    _write(annotated, records)
    report = agree(annotated)
    figures = _strict((annotated.annotations_dir / "agreement.json").read_text())
    assert figures["annotators_detail"]["alice@example.org"]["median_lead_time"] == 42.0
    assert figures["annotators_detail"]["alice@example.org"]["lead_times_not_finite"] == 2
    assert figures["annotators_detail"]["bob@example.org"]["lead_times_not_finite"] == 0
    assert figures["lead_times_not_finite"] == 2 == report.agreement["lead_times_not_finite"]
    assert "2 lead time(s) that were not finite" in (annotated.annotations_dir / "agreement.md").read_text()


def test_non_finite_number_answer_stops_agree_naming_the_annotation(annotated: Workspace) -> None:
    records = _records(annotated)
    table = records_to_table(records, Scheme.load(annotated.scheme_path))
    killed = [float(r["killed"]) for r in records]
    killed[3] = math.nan
    column = table.schema.get_field_index("killed")
    table = table.set_column(column, pa.field("killed", pa.float64()), pa.array(killed, pa.float64()))
    pq.write_table(table, annotated.annotations_dir / "annotations.parquet")
    result = _cli(annotated, "agree")
    assert result.exit_code == 1
    assert (f"error: annotations/annotations.parquet: annotation {records[3]['annotation_id']} (task "
            f"{records[3]['task_id']}, article {records[3]['article_id']}) has killed = nan") in result.output
    assert "toolkit validate" in result.output
    assert not (annotated.annotations_dir / "gold.parquet").exists()
    assert not (annotated.annotations_dir / "agreement.json").exists()


# --------------------------------------------------------------------------- damaged Parquet


def _damage_page(path: Path, column: str) -> None:
    """Overwrite the header of ``column``'s first data page: the footer and other columns still read."""
    meta = pq.ParquetFile(path).metadata
    index = [meta.schema.column(i).path for i in range(meta.num_columns)].index(column)
    offset = meta.row_group(0).column(index).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 32] = b"\xff" * 32
    path.write_bytes(bytes(data))


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "not parquet":
        path.write_text('{"article_id": "a"}\n')
    else:
        _damage_page(path, how)


@pytest.mark.parametrize("how", ["truncated", "empty", "not parquet", "text"])
@pytest.mark.parametrize("read", ["iter_batches", "read_table", "open_parquet"])
def test_damaged_parquet_is_one_input_error_naming_the_file(tmp_path: Path, how: str, read: str) -> None:
    path = tmp_path / "articles.parquet"
    pq.write_table(pa.table({"article_id": ["a", "b"] * 50, "text": [f"text {i}" * 20 for i in range(100)]}), path)
    _damage(path, how)
    with pytest.raises(InputError) as info:
        if read == "iter_batches":
            list(parquetio.iter_batches(path, 10))
        elif read == "read_table":
            parquetio.read_table(path)
        else:  # a ParquetFile handed to the caller reads through the same guard
            list(parquetio.open_parquet(path).iter_batches(batch_size=10))
    assert str(path) in info.value.message
    assert "is not a readable Parquet file: it is truncated, damaged or not Parquet at all" in info.value.message
    assert info.value.hint == ("restore it from version control or a backup, or move it aside and run "
                               "`toolkit ingest` to make it again")


def test_a_missing_column_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "gold.parquet"
    pq.write_table(pa.table({"article_id": ["a"]}), path)
    with pytest.raises(InputError, match="has no column 'status'") as info:
        parquetio.read_table(path, ["article_id", "status"])
    assert "toolkit agree" in info.value.hint


# The commands that read each table (tasks does not read annotations, nor any command but release gold).
READERS = [("articles", "validate"), ("articles", "agree"), ("articles", "tasks"), ("articles", "ingest"),
           ("articles", "release"), ("annotations", "validate"), ("annotations", "agree"),
           ("annotations", "release"), ("gold", "release")]
MADE_BY = {"articles": "toolkit ingest", "annotations": "toolkit pull", "gold": "toolkit agree"}


@pytest.mark.parametrize("table,command", READERS)
def test_damaged_workspace_table_stops_each_command_with_a_hint(ws: Workspace, table: str, command: str) -> None:
    name = "articles/part-000000.parquet" if table == "articles" else f"{table}.parquet"
    path = ws.annotations_dir / name
    _damage(path, "truncated")
    damaged = path.read_bytes()
    before = _release_folder_names(ws)
    result = _cli(ws, *([command, "0.2.0"] if command == "release" else [command]))
    assert result.exit_code == 1
    assert f"annotations/{name} is not a readable Parquet file: it is truncated" in result.output
    hint = result.output[result.output.index("hint: "):]  # the module reading a table may say more
    assert "restore" in hint and "version control" in hint and f"`{MADE_BY[table]}`" in hint
    assert path.read_bytes() == damaged  # left for the user to restore
    assert _release_folder_names(ws) == before
    assert not list(ws.cache_dir.glob("ingest-staging-*"))


def test_a_damaged_page_found_while_writing_a_release_leaves_nothing(ws: Workspace) -> None:
    _damage_page(ws.articles_path / "part-000000.parquet", "text")  # the split plan reads ids and clusters fine
    with pytest.raises(InputError, match="articles/part-000000.parquet is not a readable Parquet file"):
        release(ws, "0.2.0", now=NOW)
    assert _release_folder_names(ws) == ["v0.1.0"]


def test_articles_without_a_column_the_release_needs(ws: Workspace) -> None:
    pq.write_table(read_articles(ws).drop_columns(["cluster_id"]), ws.articles_path / "part-000000.parquet")
    result = _cli(ws, "release", "0.2.0")
    assert result.exit_code == 1
    assert "annotations/articles/part-000000.parquet has no column 'cluster_id'" in result.output
    assert _release_folder_names(ws) == ["v0.1.0"]


# ---------------------------------------------------------------------------- unsafe releases


def _assert_refused(ws: Workspace, folder: Path, entry: str) -> None:
    """verify reports ``entry`` (exit 1); load and push_to_hub refuse the release."""
    report = verify_release(folder)
    assert not report.ok and [u for u in report.unsafe if u.startswith(entry)], report
    assert ("unsafe", next(u for u in report.unsafe if u.startswith(entry))) in report.problems()
    result = _cli(ws, "verify", str(folder), "--json")
    assert result.exit_code == 1 and _strict(result.output)["unsafe"] == report.unsafe
    result = _cli(ws, "verify", str(folder))
    assert result.exit_code == 1 and "does NOT match its manifest" in result.output
    with pytest.raises(ReleaseTampered, match="unsafe: "):
        push_to_hub(folder, "org/name", dry_run=True)
    with pytest.raises(ReleaseTampered):
        load(folder)
    result = _cli(ws, "release", "0.1.0", "--push-to-hub", "org/name", "--dry-run")
    assert result.exit_code == 1 and "unsafe: " in result.output


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_manifest_entry_outside_the_release_is_unsafe_and_never_uploaded(ws: Workspace, tmp_path: Path,
                                                                           where: str) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    folder = _v010(ws)
    name = os.path.relpath(secret, folder) if where == "relative" else str(secret)
    assert name.startswith(("../", "/"))
    _add_to_manifest(folder, name, secret.read_bytes())
    _assert_refused(ws, folder, name)
    reason = "a path leading out of the release" if where == "relative" else "an absolute path, outside the release"
    assert f"{name} ({reason})" in verify_release(folder).unsafe


def test_manifest_entry_of_a_kind_a_release_never_holds_is_unsafe(ws: Workspace) -> None:
    folder = _v010(ws)
    (folder / "payload.py").write_text("import os\n")
    _add_to_manifest(folder, "payload.py", b"import os\n")
    _assert_refused(ws, folder, "payload.py (a kind of file a release never holds)")


@pytest.mark.parametrize("kind", ["folder", "file", "manifest"])
def test_symbolic_links_in_a_release_are_unsafe(ws: Workspace, tmp_path: Path, kind: str) -> None:
    folder = _v010(ws)
    name = {"folder": "documents", "file": "README.md", "manifest": "manifest.json"}[kind]
    moved = tmp_path / "elsewhere" / name
    moved.parent.mkdir()
    shutil.move(folder / name, moved)
    (folder / name).symlink_to(moved)
    assert (folder / name).exists()  # the link resolves: only the check of what it is can catch it
    _assert_refused(ws, folder, f"{name} (a symbolic link)")
    assert verify_release(folder).missing == []  # the files under a linked folder are not "missing"


def test_a_pipe_in_a_release_is_unsafe_and_never_read(ws: Workspace) -> None:
    folder = _v010(ws)
    os.mkfifo(folder / "conll" / "train.txt.fifo")
    report = verify_release(folder)  # reading the pipe would block forever
    assert not report.ok and report.unsafe == ["conll/train.txt.fifo (not a regular file)"]
    assert stat.S_ISFIFO(os.lstat(folder / "conll" / "train.txt.fifo").st_mode)


# ---------------------------------------------------------------------------------- versions


@pytest.mark.parametrize("text,message", [
    ("99999999999999999999999.0.0", "has a part greater than 999999"),
    ("1.1000000.0", "has a part greater than 999999"),
    ("1" * 5000 + ".0.0", "has a part greater than 999999"),
    ("١.٢.٣", "is not a semantic version"),  # Arabic-Indic digits
    ("1.2.3\n4", "is not a semantic version"),
])
def test_version_parts_are_bounded(text: str, message: str) -> None:
    with pytest.raises(VersionError, match=message):
        parse_version(text)


def test_largest_version_is_accepted() -> None:
    assert parse_version("v999999.999999.999999") == (999999, 999999, 999999)


def test_a_huge_version_is_refused_and_never_blocks_later_releases(ws: Workspace) -> None:
    result = _cli(ws, "release", "99999999999999999999999.0.0")
    assert result.exit_code == 1
    assert "error: '99999999999999999999999.0.0' has a part greater than 999999" in result.output
    assert _release_folder_names(ws) == ["v0.1.0"]
    # One made before the bound (by hand or an older toolkit) is not taken for the latest release.
    old = ws.releases_dir / "v99999999999999999999999.0.0"
    old.mkdir()
    (old / "manifest.json").write_text('{"version": "99999999999999999999999.0.0", "files": {}}\n')
    assert list_releases(ws) == ["0.1.0"]
    assert release(ws, "0.2.0", now=NOW).version == "0.2.0"
    assert list_releases(ws) == ["0.1.0", "0.2.0"]
