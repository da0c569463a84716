"""`toolkit pull --from-export` on the real exports of ../shared/corpus: every annotation accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.labelstudio.pull import pull

from .test_normalise import CORPUS, corpus_files, count_annotations


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)) if CORPUS.is_dir() else "")
def test_every_corpus_annotation_is_normalised_or_quarantined_with_a_reason(workspace, path: Path):
    report = pull(workspace, from_export=path)
    assert report.annotations == count_annotations(path)
    quarantine = [json.loads(line) for line in (workspace.annotations_dir / "quarantine.jsonl").open()]
    quarantined_annotations = [q for q in quarantine if q["kind"] == "annotation"]
    assert report.valid + len(quarantined_annotations) == report.annotations
    assert all(q["errors"] and all(e["message"] for e in q["errors"]) for q in quarantine)
    assert report.quarantined == len(quarantine)


def test_from_export_cli_reports_counts(workspace):
    from .conftest import DATA

    result = CliRunner().invoke(app, ["-w", str(workspace.root), "pull", "--from-export",
                                      str(DATA / "export-full.json")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Pull <- export-full.json")
    assert "snapshot: annotations/exports/" in result.output


def test_from_export_missing_file(workspace):
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "pull", "--from-export", "nope.json"])
    assert result.exit_code == 1
    assert "nope.json: no such export file" in result.output


def test_from_export_truncated_file_writes_nothing(workspace):
    from .conftest import DATA

    result = CliRunner().invoke(app, ["-w", str(workspace.root), "pull", "--from-export",
                                      str(DATA / "export-truncated.json")])
    assert result.exit_code == 1
    assert "export-truncated.json" in result.output
    assert not (workspace.annotations_dir / "annotations.parquet").exists()
    exports = workspace.annotations_dir / "exports"
    assert not exports.exists() or not [p for p in exports.iterdir() if p.suffix == ".gz"]
