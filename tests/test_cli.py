"""The command line, through the CLI runner: exit codes, messages, --json equal to the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.ingest import ingest
from toolkit.workspace import Workspace

from .conftest import REPO, SEED, add_raw

runner = CliRunner()


def invoke(*args: str, cwd=None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_init_creates_the_workspace_layout(tmp_path):
    result = invoke("init", str(tmp_path / "new"), "--title", "Protest events")
    assert result.exit_code == 0, result.output
    root = tmp_path / "new"
    for name in ("toolkit.toml", "schemas/scheme.json", "schemas/labeling_config.xml",
                 "schemas/annotation.schema.json", "schemas/task.schema.json", "schemas/features.json",
                 "DATASHEET.md", ".gitignore"):
        assert (root / name).is_file(), name
    for name in ("raw", "annotations", "releases"):
        assert (root / name).is_dir()
    ws = Workspace.find(root / "raw")
    assert ws.root == root.resolve()
    assert ws.config.project.title == "Protest events"
    assert ".labelstudio/" in (root / ".gitignore").read_text()


def test_init_refuses_an_existing_workspace(workspace):
    before = (workspace.root / "toolkit.toml").read_bytes()
    result = invoke("init", str(workspace.root))
    assert result.exit_code == 1
    assert "already a workspace" in result.output
    assert (workspace.root / "toolkit.toml").read_bytes() == before


def test_command_outside_a_workspace_says_how_to_make_one(tmp_path):
    result = invoke("ingest", cwd=tmp_path)
    assert result.exit_code == 1
    assert f"error: {tmp_path.resolve()} is not inside a toolkit workspace" in result.output
    assert "hint: run `toolkit init DIR`" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path):
    from toolkit.errors import WorkspaceNotFound

    with pytest.raises(WorkspaceNotFound):
        invoke("--debug", "ingest", cwd=tmp_path)


def test_ingest_json_equals_the_library_report(workspace):
    add_raw(workspace, SEED.name, "dup-a.txt", "dup-b.txt", "empty.txt")
    result = invoke("--workspace", str(workspace.root), "ingest", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads(workspace.ingest_report_path.read_text())
    # the library on the same input reports the same (a re-run: everything already ingested)
    again = ingest(workspace).to_dict()
    assert {k: printed[k] for k in ("files_read", "documents_read", "total_articles", "rejections")} == \
        {k: again[k] for k in ("files_read", "documents_read", "total_articles", "rejections")}


def test_ingest_summary_lists_counts_and_rejections(workspace):
    add_raw(workspace, SEED.name, "dup-a.txt", "dup-b.txt", "empty.txt")
    result = invoke("ingest", cwd=workspace.root)
    assert result.exit_code == 0
    out = result.output
    assert "new articles kept" in out and "exact duplicates" in out
    assert "[empty] raw/empty.txt: the file is empty" in out
    strict = invoke("ingest", "--strict", cwd=workspace.root)
    assert strict.exit_code == 1


def test_ingest_missing_path_exit_code_and_message(workspace):
    result = invoke("ingest", "no-such-folder", cwd=workspace.root)
    assert result.exit_code == 1
    assert "error: no-such-folder: no such file or folder" in result.output


def test_tasks_command_and_json(workspace):
    add_raw(workspace, SEED.name)
    invoke("ingest", cwd=workspace.root)
    result = invoke("tasks", "--json", cwd=workspace.root)
    assert json.loads(result.output) == {"added": 1, "already_tasked": 0, "skipped_near_duplicates": 0,
                                         "total": 1, "output": "annotations/tasks.jsonl"}
    result = invoke("tasks", cwd=workspace.root)
    assert "0 added, 1 already there; 1 in all" in result.output


def test_scheme_check_and_build(workspace):
    assert invoke("scheme", "check", cwd=workspace.root).exit_code == 0
    config = workspace.schemas_dir / "labeling_config.xml"
    config.write_text("<View/>")
    result = invoke("scheme", "check", cwd=workspace.root)
    assert result.exit_code == 1
    assert "labeling_config.xml" in result.output and "toolkit scheme build" in result.output
    assert invoke("scheme", "build", cwd=workspace.root).exit_code == 0
    assert invoke("scheme", "check", cwd=workspace.root).exit_code == 0


def test_invalid_scheme_is_reported_with_its_path(workspace):
    scheme = json.loads(workspace.scheme_path.read_text())
    scheme["fields"][0]["kind"] = "rating"
    workspace.scheme_path.write_text(json.dumps(scheme))
    result = invoke("scheme", "build", cwd=workspace.root)
    assert result.exit_code == 1
    assert "fields[0].kind" in result.output


def test_bad_config_names_the_key(workspace):
    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text() + "\n[ingest.extra]\n")
    result = invoke("ingest", cwd=workspace.root)
    assert result.exit_code == 1
    config.write_text(config.read_text().replace("[ingest.extra]\n", "").replace("min_words = 20", "min_wrds = 20"))
    result = invoke("ingest", cwd=workspace.root)
    assert result.exit_code == 1
    assert "unknown key 'min_wrds' in [ingest]" in result.output


def all_commands():
    """(name, click command) for every leaf command, e.g. ('scheme build', cmd)."""
    import typer.main

    root = typer.main.get_command(app)
    found = []

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")
            else:
                found.append((f"{prefix}{name}", cmd))

    walk(root, "")
    return found


@pytest.mark.parametrize("name", [name for name, _ in all_commands()])
def test_every_command_has_help_with_an_example(name):
    result = invoke(*name.split(), "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output, f"`toolkit {name} --help` has no example"


def test_readme_command_table_lists_every_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, _ in all_commands():
        assert f"`toolkit {name}" in readme, f"README does not document `toolkit {name}`"


def test_python_dash_m_toolkit_runs():
    result = subprocess.run([sys.executable, "-m", "toolkit", "--version"], capture_output=True, text=True,
                            check=False, cwd=REPO)
    assert result.returncode == 0
    assert result.stdout.startswith("toolkit ")


def test_page_size_above_what_label_studio_accepts_is_refused():
    from toolkit.config import config_from_dict
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"page_size must be 1-900"):
        config_from_dict({"labelstudio": {"page_size": 1000}})
