"""`toolkit ingest` on several cores and incrementally: the same bytes as one process reading everything."""

from __future__ import annotations

import os
import shutil
import random

import pytest

from toolkit import ingest as ingest_mod
from toolkit.ingest import ingest, pool, state
from toolkit.errors import OutputError
from toolkit.ingest.dedup import article_id
from toolkit.workspace import Workspace

from .conftest import DATA, SEED
from toolkit.articles import manifest_path, read_articles, read_manifest

WORDS = ("river council harbour station bridge market school hospital court minister police farmers "
         "storm flood village mayor budget strike union teachers doctors road railway airport ferry "
         "election museum library factory workers prices water power grid fire forest coast").split()


def synthetic(seed: int, n_words: int = 120) -> str:
    """A plain-text article: date, title, and a body of random words from a fixed list."""
    rng = random.Random(seed)
    body = " ".join(rng.choice(WORDS) for _ in range(n_words))
    return f"3 May 2024\n\nReport number {seed} on the {rng.choice(WORDS)}\n\n{body}.\n"


def near_copy(text: str) -> str:
    """The same article with one word of the body changed: far above the 0.8 similarity threshold."""
    return text.replace(" river ", " canal ", 1) if " river " in text else text.rstrip(".\n") + " canal.\n"


def fill(folder, day: int, n: int) -> None:
    """``n`` articles in ``raw/2024-05-0<day>/``, with known duplicates and rejections, in several formats.

    Per day: ``n`` distinct text articles, one exact copy (other file, same bytes but one extra
    blank line), one near-copy, one HTML page, one JSONL file (2 articles, 3 rejected lines),
    and four files that are rejected (empty, binary, undecodable, no article in the page).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"a{i:03d}.txt").write_text(synthetic(day * 1000 + i), encoding="utf-8")
    (folder / "b-exact.txt").write_text(synthetic(day * 1000) + "\n", encoding="utf-8")
    (folder / "b-near.txt").write_text(near_copy(synthetic(day * 1000 + 1)), encoding="utf-8")
    for name in ("article-html.html", "articles.jsonl", "empty.txt", "binary.txt", "article-undecodable.txt",
                 "page-no-article.html"):
        shutil.copyfile(DATA / name, folder / f"d{day}-{name}")


def table_bytes(ws) -> dict[str, bytes]:
    """The manifest and every file it lists, by name (the previous generation's side tables,
    kept for readers until the next ingest, are not part of the table)."""
    names = ["_manifest.json", *read_manifest(ws).files()]
    return {name: (ws.articles_path / name).read_bytes() for name in names}


@pytest.fixture
def day_one(workspace):
    fill(workspace.raw_dir / "2024-05-01", 1, 24)
    return workspace


def test_two_workers_write_the_same_bytes_as_one(day_one, tmp_path, monkeypatch):
    ws1, ws2 = day_one, Workspace.find(shutil.copytree(day_one.root, tmp_path / "copy"))
    shutil.copyfile(SEED, ws1.raw_dir / SEED.name)
    shutil.copyfile(SEED, ws2.raw_dir / SEED.name)

    pids = tmp_path / "pids"
    real = pool.process_file

    def spy(task, settings):
        with open(pids, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(task, settings)

    monkeypatch.setattr(pool, "process_file", spy)
    one = ingest(ws1, jobs=1).to_dict()
    assert set(pids.read_text().split()) == {str(os.getpid())}
    pids.unlink()
    two = ingest(ws2, jobs=2).to_dict()
    by_workers = [pid for pid in pids.read_text().split() if pid != str(os.getpid())]
    assert len(by_workers) == 33  # every file was read by a worker (this process only warms up)

    assert table_bytes(ws1) == table_bytes(ws2)
    assert one == two
    # 24 + exact + near + html + 2 jsonl + seed documents; 4 rejected files + 3 JSONL lines.
    assert (one["files_read"], one["documents_read"], one["new_articles"], one["exact_duplicates"]) == (33, 30, 29, 1)
    assert one["rejected"] == 7
    assert (one["near_duplicate_clusters"], one["articles_in_clusters"]) == (1, 2)  # b-near.txt and a001.txt
    rows = {r["source_file"]: r for r in read_articles(ws1).to_pylist()}
    near = rows["raw/2024-05-01/b-near.txt"]
    assert near["cluster_id"] == min(near["article_id"], rows["raw/2024-05-01/a001.txt"]["article_id"])
    assert [s["file"] for s in rows["raw/2024-05-01/a000.txt"]["sources"]] == [
        "raw/2024-05-01/a000.txt", "raw/2024-05-01/b-exact.txt"]


@pytest.fixture
def jobs_used(monkeypatch):
    """The number of workers each ingest run hands to the pool, in order."""
    seen = []
    real = pool.run

    def spy(tasks, settings, jobs):
        seen.append(jobs)
        return real(tasks, settings, jobs)

    monkeypatch.setattr(pool, "run", spy)
    return seen


def test_default_is_one_worker_per_core(day_one, jobs_used):
    ingest(day_one)
    assert jobs_used == [pool.default_jobs()]
    with pytest.raises(ValueError, match="jobs must be"):
        ingest(day_one, jobs=0)


def test_ingesting_a_then_b_equals_a_and_b_at_once(workspace, tmp_path):
    from toolkit.scaffold import init_workspace

    fill(workspace.raw_dir / "2024-05-01", 1, 20)
    ingest(workspace, jobs=2)
    fill(workspace.raw_dir / "2024-05-02", 2, 20)
    # Day 2 also repeats an article of day 1 and edits one word of another (across runs).
    (workspace.raw_dir / "2024-05-02" / "c-exact.txt").write_text(synthetic(1005), encoding="utf-8")
    (workspace.raw_dir / "2024-05-02" / "c-near.txt").write_text(near_copy(synthetic(1006)), encoding="utf-8")
    second = ingest(workspace, jobs=2)

    scratch = init_workspace(tmp_path / "scratch", title="Test events", scheme="news-events-v1")
    shutil.rmtree(scratch.raw_dir)
    shutil.copytree(workspace.raw_dir, scratch.raw_dir)
    at_once = ingest(scratch, jobs=1)

    # The same table (day 2 is a part of its own in one, not in the other): rows, order, ids,
    # clusters and sources.
    assert read_articles(workspace).to_pylist() == read_articles(scratch).to_pylist()
    assert len(read_manifest(workspace).parts) == 2 and len(read_manifest(scratch).parts) == 1
    # Day 1: 20 + near-copy + HTML + 2 JSONL; day 2 adds 20 + 2 near-copies (its HTML and JSONL repeat day 1's).
    assert second.total_articles == at_once.total_articles == 24 + 22
    assert second.files_unchanged == 20 + 8  # every file of day 1
    assert second.already_ingested == 20 + 1 + 1 + 1 + 2  # day 1's documents, the exact copy included
    assert [r.to_dict() for r in second.rejected] == [r.to_dict() for r in at_once.rejected]
    rows = {r["source_file"]: r for r in read_articles(workspace).to_pylist()}
    across = rows["raw/2024-05-02/c-near.txt"]
    assert across["cluster_id"] == min(across["article_id"], rows["raw/2024-05-01/a006.txt"]["article_id"])
    assert "raw/2024-05-02/c-exact.txt" in [s["file"] for s in rows["raw/2024-05-01/a005.txt"]["sources"]]


def test_unchanged_files_are_not_read_and_signatures_not_recomputed(day_one, monkeypatch):
    first = ingest(day_one, jobs=1)
    before = manifest_path(day_one).stat().st_mtime_ns
    folder = day_one.raw_dir / "2024-05-01"
    (folder / "z-new.txt").write_text(synthetic(777), encoding="utf-8")

    read, signed = [], []
    real_read, real_signature = pool.read_file, pool.signature
    monkeypatch.setattr(pool, "read_file", lambda path, *a: read.append(path.name) or real_read(path, *a))
    monkeypatch.setattr(pool, "signature", lambda *a: signed.append(1) or real_signature(*a))
    monkeypatch.setattr(ingest_mod.dedup, "signature", lambda *a: signed.append(0) or real_signature(*a))
    second = ingest(day_one, jobs=1)
    assert read == ["z-new.txt"]
    assert signed == [1]
    assert (second.files_read, second.files_unchanged, second.new_articles) == (first.files_read + 1,
                                                                                  first.files_read, 1)
    assert second.already_ingested == first.documents_read
    assert [r.to_dict() for r in second.rejected] == [r.to_dict() for r in first.rejected]

    # Nothing new: the table is not rewritten (same bytes, same file).
    read.clear()
    mtime, files = manifest_path(day_one).stat().st_mtime_ns, table_bytes(day_one)
    third = ingest(day_one, jobs=1)
    assert read == [] and third.new_articles == 0
    assert manifest_path(day_one).stat().st_mtime_ns == mtime != before
    assert table_bytes(day_one) == files and "part-000001.parquet" in files  # day 2 appended, day 1 untouched


def test_touched_file_is_hashed_not_read_and_changed_file_is_read(day_one, monkeypatch):
    ingest(day_one, jobs=1)
    folder = day_one.raw_dir / "2024-05-01"
    os.utime(folder / "a002.txt", ns=(1, 1))  # same bytes, another modification time
    (folder / "a003.txt").write_text(synthetic(888), encoding="utf-8")  # new content
    read = []
    real_read = pool.read_file
    monkeypatch.setattr(pool, "read_file", lambda path, *a: read.append(path.name) or real_read(path, *a))
    report = ingest(day_one, jobs=1)
    assert read == ["a003.txt"]
    assert report.new_articles == 1  # the old text of a003.txt keeps its row (ids never change)
    saved = state.load(day_one, ingest_mod.run_settings(day_one)[2])
    assert saved.files["raw/2024-05-01/a002.txt"].mtime_ns == 1
    assert saved.files["raw/2024-05-01/a003.txt"].article_ids == [article_id(
        next(r for r in read_articles(day_one).to_pylist()
             if r["source_file"] == "raw/2024-05-01/a003.txt" and "888" in (r["title"] or ""))["text"])]
    read.clear()
    ingest(day_one, jobs=1)
    assert read == []


def test_deleted_file_keeps_its_articles_and_is_reported(day_one):
    ingest(day_one, jobs=1)
    before = table_bytes(day_one)
    (day_one.raw_dir / "2024-05-01" / "a004.txt").unlink()
    report = ingest(day_one, jobs=1)
    assert report.files_gone == ["raw/2024-05-01/a004.txt"]
    assert table_bytes(day_one) == before
    assert report.total_articles == 24 + 1 + 1 + 2


def test_interrupted_run_leaves_table_and_state_as_they_were(day_one, monkeypatch):
    ingest(day_one, jobs=1)
    folder = state.state_dir(day_one)
    before = {**table_bytes(day_one), **{p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}}
    fill(day_one.raw_dir / "2024-05-02", 2, 24)
    real = pool.process_file

    def boom(task, settings):
        if task.path.name == "a010.txt":
            raise RuntimeError("killed midway")
        return real(task, settings)

    monkeypatch.setattr(pool, "process_file", boom)
    with pytest.raises(RuntimeError, match="killed midway"):
        ingest(day_one, jobs=2)
    after = {**table_bytes(day_one), **{p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}}
    assert after == before
    leftovers = [p.name for p in day_one.annotations_dir.rglob("*") if p.suffix == ".tmp" or "staging" in p.name]
    assert leftovers == []

    monkeypatch.setattr(pool, "process_file", real)
    report = ingest(day_one, jobs=2)
    assert report.new_articles == 24 + 1 and report.files_unchanged == 24 + 8  # day 2's HTML and JSONL repeat day 1's


def test_state_is_ignored_when_the_table_is_not_the_one_it_describes(day_one):
    ingest(day_one, jobs=1)
    backup = table_bytes(day_one)
    fill(day_one.raw_dir / "2024-05-02", 2, 24)
    ingest(day_one, jobs=1)
    expected = table_bytes(day_one)
    shutil.rmtree(day_one.articles_path)  # restored from a backup: the state speaks of another table
    day_one.articles_path.mkdir()
    for name, data in backup.items():
        (day_one.articles_path / name).write_bytes(data)
    report = ingest(day_one, jobs=1)
    assert report.files_unchanged == 0
    assert table_bytes(day_one) == expected


def test_a_worker_that_dies_stops_the_run_with_a_message(day_one, monkeypatch):
    ingest(day_one, jobs=1)
    before = table_bytes(day_one)
    fill(day_one.raw_dir / "2024-05-02", 2, 24)
    real = pool.process_file

    def killed(task, settings):
        if task.path.name == "a010.txt":
            os._exit(9)  # as the kernel's out-of-memory killer would end it
        return real(task, settings)

    monkeypatch.setattr(pool, "process_file", killed)
    with pytest.raises(OutputError, match="an ingest worker process died") as exc:
        ingest(day_one, jobs=2)
    assert "run `toolkit ingest` again" in exc.value.hint
    assert table_bytes(day_one) == before


def test_the_number_of_workers_comes_from_the_command_then_toolkit_toml_then_the_cpus(tmp_path, monkeypatch,
                                                                                     jobs_used):
    from toolkit.scaffold import init_workspace

    ws = init_workspace(tmp_path / "ws", title="Jobs here", scheme="news-events-v1")
    (ws.raw_dir / "a.txt").write_text("A headline\n\n" + "Some words of an article body here. " * 10 + "\n",
                                      encoding="utf-8")
    monkeypatch.setattr(pool, "default_jobs", lambda: 7)
    ingest(ws, jobs=1)
    (ws.raw_dir / "b.txt").write_text("Another headline\n\n" + "Other words of a second body. " * 10 + "\n",
                                      encoding="utf-8")
    ingest(ws)  # toolkit.toml says 0: one per CPU
    config = ws.root / "toolkit.toml"
    config.write_text(config.read_text().replace("jobs = 0", "jobs = 3"))
    from toolkit.workspace import Workspace

    (ws.raw_dir / "c.txt").write_text("Third headline\n\n" + "Yet more words of a third body. " * 10 + "\n",
                                      encoding="utf-8")
    ingest(Workspace(ws.root))
    assert jobs_used == [1, 7, 3]


def test_a_large_jsonl_file_is_shared_by_the_workers_and_gives_the_same_table(workspace, tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(pool, "CHUNK_BYTES", 4000)  # spans of about 4 kB: about nine for this file
    monkeypatch.setattr(pool, "SPLIT_BYTES", 8000)
    lines = []
    for i in range(40):
        lines.append(json.dumps({"title": f"Report {i}", "text": synthetic(5000 + i).split("\n\n", 2)[2]}))
        if i % 9 == 4:
            lines.append("{not json")
        if i % 13 == 6:
            lines.append("")
    lines.append(json.dumps({"title": "Again", "text": synthetic(5003).split("\n\n", 2)[2]}))  # an exact copy
    (workspace.raw_dir / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = Workspace.find(shutil.copytree(workspace.root, tmp_path / "copy"))

    spans = tmp_path / "spans"
    real = pool.process_file

    def spy(task, settings):
        if task.span is not None:
            with open(spans, "a") as fh:
                fh.write(f"{os.getpid()} {task.span[0]} {task.span[2]}\n")
        return real(task, settings)

    monkeypatch.setattr(pool, "process_file", spy)
    one = ingest(workspace, jobs=1).to_dict()
    assert not spans.exists()  # one process reads the file whole
    two = ingest(other, jobs=2).to_dict()
    seen = [line.split() for line in spans.read_text().splitlines()]
    starts = sorted({int(start) for _, start, _ in seen})
    assert len(starts) >= 8 and len({pid for pid, _, _ in seen if pid != str(os.getpid())}) == 2

    assert table_bytes(workspace) == table_bytes(other)
    assert {k: v for k, v in one.items() if k != "output"} == {k: v for k, v in two.items() if k != "output"}
    # 40 articles, the copy (another line: another source of the same article), 4 bad lines.
    assert (one["new_articles"], one["exact_duplicates"], one["rejected"]) == (40, 1, 4)
    # Rejections name the line of the whole file, whichever span it was in.
    bad = [n for n, line in enumerate(lines, 1) if line == "{not json"]
    assert [r["source"] for r in two["rejections"]] == [f"raw/dump.jsonl#L{n}" for n in bad]
    # The file is recorded as read: the next run does not read it again.
    assert ingest(other, jobs=2).files_unchanged == 1
