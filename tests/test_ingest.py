"""`toolkit ingest`: readers, duplicates, bad input, determinism, atomic output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest

from toolkit.ingest import store
from toolkit.errors import InputNotFound
from toolkit.ingest import ARTICLE_SCHEMA, ingest
from toolkit.ingest.dedup import article_id, content_key

from .conftest import DATA, SEED, add_raw
from toolkit.articles import read_articles

BAD_FILES = ["empty.txt", "binary.txt", "article-undecodable.txt", "page-no-article.html"]


def rows(ws):
    return read_articles(ws).to_pylist()


def by_source(ws):
    return {r["source_file"]: r for r in rows(ws)}


def test_seed_article_exact_result(workspace):
    add_raw(workspace, SEED.name)
    report = ingest(workspace)
    assert report.new_articles == 1 and not report.rejected
    (row,) = rows(workspace)
    assert row["published"] == dt.date(2024, 11, 23)
    assert row["title"] == "Knife-wielding Russian convicts take prison staff hostage and kill one guard"
    assert row["text"].startswith("A group of prisoners identifying themselves")
    assert row["text"].endswith("in the southern city of Rostov-on-Don.")
    assert "Must read" not in row["text"] and "Latest article" not in row["text"]
    assert "\n\n" in row["text"]  # paragraph breaks kept
    assert row["language"] == "en"
    assert row["source_file"] == "raw/volgograd-prison-hostages.txt"
    assert row["raw_sha256"] == hashlib.sha256(SEED.read_bytes()).hexdigest()
    assert row["n_chars"] == len(row["text"])
    assert row["n_words"] > 300
    assert row["format"] == "text"
    assert row["cluster_id"] == row["article_id"]


def test_article_id_is_derived_from_normalised_content(workspace):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    (row,) = rows(workspace)
    expected = hashlib.sha256(" ".join(row["text"].split()).encode("utf-8")).hexdigest()[:16]
    assert row["article_id"] == expected == article_id(row["text"])
    assert content_key("a  b\n\nc") == "a b c"


def test_html_reader_extracts_body_title_date_url(workspace):
    add_raw(workspace, "article-html.html")
    ingest(workspace)
    (row,) = rows(workspace)
    assert row["title"] == "Flood defences fail as river bursts its banks"
    assert row["published"] == dt.date(2024, 3, 14)
    assert row["source_url"] == "https://courier.example.org/news/2024/03/14/flood-defences-fail"
    assert row["source_name"] == "The Riverside Courier"
    assert row["text"].startswith("Hundreds of homes in the lower town")
    assert row["text"].endswith("not to drive through flood water.")
    assert row["text"].count("\n\n") == 3  # four paragraphs
    for leaked in ("Subscribe", "Share this", "Related stories", "All rights reserved", "Weather", "By A. Reporter"):
        assert leaked not in row["text"]


def test_jsonl_reader_good_lines_kept_bad_lines_rejected_by_line(workspace):
    add_raw(workspace, "articles.jsonl")
    report = ingest(workspace)
    found = {r["source_file"]: r for r in rows(workspace)}
    assert set(found) == {"raw/articles.jsonl#L1", "raw/articles.jsonl#L4"}
    quake = found["raw/articles.jsonl#L1"]
    assert (quake["title"], quake["published"], quake["source_url"], quake["source_name"], quake["format"]) == (
        "Earthquake shakes coastal capital", dt.date(2024, 2, 9), "https://wire.example.org/quake",
        "Example Wire", "jsonl")
    strike = found["raw/articles.jsonl#L4"]
    assert strike["title"] == "Strike halts trains"
    assert strike["published"] == dt.date(2024, 3, 11)
    assert strike["text"].startswith("A strike by signal workers")  # headline not repeated in the body
    assert {(r.source, r.reason) for r in report.rejected} == {
        ("raw/articles.jsonl#L2", "invalid-json"),
        ("raw/articles.jsonl#L3", "missing-text"),
        ("raw/articles.jsonl#L5", "invalid-json"),
    }


def test_gzipped_jsonl_is_read(workspace):
    import gzip

    with gzip.open(workspace.raw_dir / "feed.jsonl.gz", "wb") as fh:
        fh.write((DATA / "articles.jsonl").read_bytes())
    report = ingest(workspace)
    assert report.new_articles == 2


def test_mojibake_is_repaired_and_reported(workspace):
    add_raw(workspace, "article-mojibake.txt")
    ingest(workspace)
    (row,) = rows(workspace)
    assert row["title"] == "Mayor\u2019s caf\u00e9 plan divides the high street"
    assert "\u201cWe\u2019ve been asking" in row["text"]
    assert "â€" not in row["text"]
    assert "repaired broken encoding (mojibake) with ftfy" in row["warnings"]


def test_non_utf8_file_is_decoded_by_detection(workspace):
    add_raw(workspace, "article-cp1252.txt")
    ingest(workspace)
    (row,) = rows(workspace)
    assert row["title"] == "Mayor\u2019s crème brûlée café plan divides the high street"
    assert any(w.startswith("not UTF-8") for w in row["warnings"])


def test_control_characters_removed_newlines_and_tabs_kept(workspace):
    add_raw(workspace, "article-control-chars.txt")
    ingest(workspace)
    (row,) = rows(workspace)
    assert "\x00" not in row["text"] and "\x07" not in row["text"] and "\x0c" not in row["text"]
    assert "struck its parapet" in row["text"]
    assert "the\tbridge" in row["text"]
    assert "\n\n" in row["text"]


def test_exact_duplicates_collapse_with_every_source_recorded(workspace):
    add_raw(workspace, "dup-a.txt", "dup-b.txt")
    report = ingest(workspace)
    (row,) = rows(workspace)
    assert report.new_articles == 1 and report.exact_duplicates == 1
    assert [s["file"] for s in row["sources"]] == ["raw/dup-a.txt", "raw/dup-b.txt"]
    assert row["sources"][1]["sha256"] == hashlib.sha256((DATA / "dup-b.txt").read_bytes()).hexdigest()


def test_near_duplicates_share_a_cluster_and_others_do_not(workspace):
    add_raw(workspace, "near-a.txt", "near-b.txt", SEED.name)
    report = ingest(workspace)
    found = by_source(workspace)
    a, b, seed = found["raw/near-a.txt"], found["raw/near-b.txt"], found[f"raw/{SEED.name}"]
    assert a["article_id"] != b["article_id"]
    assert a["cluster_id"] == b["cluster_id"] == min(a["article_id"], b["article_id"])
    assert seed["cluster_id"] == seed["article_id"]
    assert report.near_duplicate_clusters == 1 and report.articles_in_clusters == 2


def test_near_duplicate_threshold_is_configurable(workspace):
    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("near_duplicate_threshold = 0.8",
                                                 "near_duplicate_threshold = 0.99"))
    add_raw(workspace, "near-a.txt", "near-b.txt")
    ingest(workspace)
    a, b = rows(workspace)
    assert a["cluster_id"] != b["cluster_id"]


def test_bad_files_are_rejected_with_reasons_and_never_stop_the_batch(workspace):
    add_raw(workspace, SEED.name, "article-no-date.txt", *BAD_FILES)
    (workspace.raw_dir / "notes.docx").write_bytes(b"PK\x03\x04")
    big = workspace.raw_dir / "huge.txt"
    with open(big, "wb") as fh:  # 50 MB, written sparse-free but fast
        fh.write(b"word " * (50 * 1024 * 1024 // 5))
    report = ingest(workspace)
    reasons = {r.source: r.reason for r in report.rejected}
    assert reasons == {
        "raw/empty.txt": "empty",
        "raw/binary.txt": "binary",
        "raw/article-undecodable.txt": "undecodable",
        "raw/page-no-article.html": "no-article",
        "raw/notes.docx": "unsupported-type",
        "raw/huge.txt": "too-large",
    }
    assert report.new_articles == 2
    no_date = by_source(workspace)["raw/article-no-date.txt"]
    assert no_date["published"] is None
    assert "no publication date found" in no_date["warnings"]
    saved = json.loads(workspace.ingest_report_path.read_text())
    assert saved == report.to_dict()
    assert saved["rejected_by_reason"]["too-large"] == 1
    assert any("max_file_mb" in r["message"] for r in saved["rejections"])
    assert {"source": "raw/article-no-date.txt", "article_id": no_date["article_id"],
            "warning": "no publication date found"} in saved["warnings"]


def test_counts_add_up(workspace):
    add_raw(workspace, SEED.name, "dup-a.txt", "dup-b.txt", "articles.jsonl", "empty.txt")
    report = ingest(workspace)
    assert report.documents_read == report.new_articles + report.already_ingested + report.exact_duplicates
    assert report.files_read == 5
    assert report.total_articles == len(rows(workspace))


def table_files(ws) -> dict[str, bytes]:
    """Every file of the articles table's folder, by name."""
    return {p.name: p.read_bytes() for p in sorted(ws.articles_path.iterdir())}


def test_rerun_on_same_input_is_byte_for_byte_identical(workspace, tmp_path):
    add_raw(workspace, SEED.name, "near-a.txt", "near-b.txt", "dup-a.txt", "dup-b.txt", "articles.jsonl")
    ingest(workspace)
    first = table_files(workspace)
    assert "part-000000.parquet" in first and "_manifest.json" in first
    report = ingest(workspace)
    assert table_files(workspace) == first
    assert report.new_articles == 0 and report.exact_duplicates == 0
    # ... and a fresh workspace with the same input gives the same bytes (no timestamps, no paths)
    from toolkit.scaffold import init_workspace

    other = init_workspace(tmp_path / "other", scheme="news-events-v1")
    for f in workspace.raw_dir.iterdir():
        shutil.copyfile(f, other.raw_dir / f.name)
    ingest(other)
    assert table_files(other) == first


def test_adding_files_adds_rows_and_changes_no_existing_id(workspace):
    add_raw(workspace, SEED.name, "near-a.txt")
    ingest(workspace)
    before = rows(workspace)
    add_raw(workspace, "near-b.txt", "article-html.html")
    report = ingest(workspace)
    after = rows(workspace)
    assert report.new_articles == 2 and report.already_ingested == 2
    assert [r["article_id"] for r in after[: len(before)]] == [r["article_id"] for r in before]
    assert len(after) == 4


def test_ingest_explicit_paths_merges_into_existing_table(workspace, tmp_path):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    elsewhere = tmp_path / "incoming"
    elsewhere.mkdir()
    shutil.copyfile(DATA / "near-a.txt", elsewhere / "near-a.txt")
    report = ingest(workspace, [elsewhere])
    assert report.new_articles == 1
    assert len(rows(workspace)) == 2
    assert rows(workspace)[1]["source_file"].endswith("incoming/near-a.txt")


def test_missing_path_is_a_clear_error(workspace):
    with pytest.raises(InputNotFound, match="nope"):
        ingest(workspace, [workspace.root / "nope"])


def test_output_is_typed_and_batched(workspace):
    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("[ingest]", "[ingest]\nbatch_size = 2"))
    add_raw(workspace, SEED.name, "near-a.txt", "near-b.txt", "dup-a.txt", "article-html.html")
    ingest(workspace)
    parquet = pq.ParquetFile(workspace.articles_path / "part-000000.parquet")
    assert parquet.schema_arrow.equals(ARTICLE_SCHEMA, check_metadata=False)
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [2, 2, 1]


def test_failure_while_writing_leaves_previous_table_and_no_temp_files(workspace, monkeypatch):
    add_raw(workspace, SEED.name)
    ingest(workspace)
    before = table_files(workspace)
    add_raw(workspace, "near-a.txt", "near-b.txt")  # near-duplicates: a clusters table to write too

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_manifest", boom)
    with pytest.raises(Exception, match="No space left"):
        ingest(workspace)
    assert table_files(workspace) == before
    leftovers = [p.name for p in workspace.annotations_dir.rglob("*") if p.suffix == ".tmp" or "staging" in p.name]
    assert leftovers == []


def test_readme_lists_every_rejection_reason():
    from toolkit.ingest import REJECTION_REASONS

    from .conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Ingest\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE))
    assert set(REJECTION_REASONS) <= listed, f"README's Ingest table lacks {set(REJECTION_REASONS) - listed}"
