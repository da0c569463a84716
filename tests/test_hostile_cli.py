"""What reaches the terminal: file names and data with newlines or escape sequences are shown
escaped, and no line can pass for one of the toolkit's own."""

from __future__ import annotations

from typer.testing import CliRunner

from toolkit.cli import app, safe_line

runner = CliRunner()

EVIL = "evil\nerror: everything is fine\x1b[31mred\x07.txt"


def test_safe_line_escapes_every_control_character():
    assert safe_line(EVIL) == "evil\\nerror: everything is fine\\x1b[31mred\\x07.txt"
    assert safe_line("plain — ünïcode 🚨") == "plain — ünïcode 🚨"


def test_a_file_name_with_a_newline_and_escapes_is_printed_escaped(workspace):
    (workspace.raw_dir / EVIL).write_bytes(b"")  # empty: rejected, and named in the summary
    result = runner.invoke(app, ["--workspace", str(workspace.root), "ingest"])
    lines = result.output.splitlines()
    assert not any(line.startswith("error: everything is fine") for line in lines)
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "evil\\nerror: everything is fine\\x1b[31mred\\x07.txt" in result.output


def test_an_error_naming_such_a_file_keeps_it_on_its_own_lines(workspace):
    result = runner.invoke(app, ["--workspace", str(workspace.root), "validate", str(workspace.root / EVIL)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("error: ") and not any(line.startswith("error: everything") for line in lines)
    assert "\x1b" not in result.output


def test_verify_names_an_unsafe_entry_in_its_text_output(tmp_path):
    import shutil

    from .conftest import REPO

    release = tmp_path / "v0.1.0"
    shutil.copytree(REPO / "releases" / "v0.1.0", release)
    (release / "plots" / "link.png").symlink_to("/etc/hostname")
    result = runner.invoke(app, ["verify", str(release)])
    assert result.exit_code == 1
    assert "unsafe: plots/link.png" in result.output and "does NOT match" in result.output


def test_ingest_does_not_read_a_link_out_of_raw_unless_asked(workspace, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("Title\n\n" + "A private note that is not an article for anyone to label. " * 5)
    (workspace.raw_dir / "x.txt").symlink_to(secret)
    result = runner.invoke(app, ["--workspace", str(workspace.root), "ingest"])
    assert "[symlink-outside]" in result.output and "private note" not in result.output
    assert not any("private note" in p.read_bytes().decode("latin-1")
                   for p in workspace.annotations_dir.rglob("*") if p.is_file())
    result = runner.invoke(app, ["--workspace", str(workspace.root), "ingest", "--follow-symlinks"])
    assert result.exit_code == 0 and "symlink-outside" not in result.output
    from toolkit.ingest import read_articles

    assert any("private note" in text for text in read_articles(workspace, ["text"]).column("text").to_pylist())
