"""The articles table as appended Parquet parts with side tables, and the on-disk near-duplicate
index: what a daily ingest appends is read back as one table, with the clusters and sources of
rows written before brought up to date without rewriting them."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasketch import LeanMinHash, MinHashLSH

from toolkit.articles import article_texts, legacy_path, manifest_path, open_articles, read_articles, read_manifest
from toolkit.ingest import dedup, ingest, store
from toolkit.ingest.minhash import signature
from toolkit.scaffold import init_workspace
from toolkit.workspace import Workspace

from .test_ingest_parallel import WORDS, near_copy, synthetic


def write(folder, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def edited(text: str, share: float, seed: int) -> str:
    """``text`` with about ``share`` of its body's words replaced (the first two lines kept)."""
    head, body = text.rsplit("\n\n", 1)
    rng = random.Random(seed)
    words = body.split()
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(WORDS) + "x"
    return f"{head}\n\n{' '.join(words)}\n"


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 5 rows, so that a small corpus spans several parts."""
    monkeypatch.setattr(store, "PART_ROWS", 5)


def test_a_second_day_appends_parts_and_updates_rows_written_before(workspace, tmp_path, small_parts):
    day1, day2 = workspace.raw_dir / "d1", workspace.raw_dir / "d2"
    for i in range(12):
        write(day1, f"a{i:02d}.txt", synthetic(i))
    ingest(workspace, jobs=1)
    first = read_manifest(workspace)
    assert [p.file for p in first.parts] == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert [p.rows for p in first.parts] == [5, 5, 2]
    day_one_files = {p.file: (workspace.articles_path / p.file).read_bytes() for p in first.parts}

    # Day 2: a near copy of a day-1 article whose id is smaller than the original's (so the
    # original's cluster id changes), an exact copy of another, and new articles.
    ids = {i: dedup.article_id(open(day1 / f"a{i:02d}.txt").read().split("\n\n", 2)[2]) for i in range(12)}
    lowering = next(i for i in range(12)
                    if dedup.article_id(near_copy(synthetic(i)).split("\n\n", 2)[2]) < ids[i])
    write(day2, "b-near.txt", near_copy(synthetic(lowering)))
    write(day2, "b-exact.txt", synthetic(3))
    for i in range(100, 104):
        write(day2, f"c{i}.txt", synthetic(i))
    report = ingest(workspace, jobs=1)
    assert (report.new_articles, report.exact_duplicates, report.total_articles) == (5, 1, 17)
    assert (report.near_duplicate_clusters, report.articles_in_clusters) == (1, 2)

    manifest = read_manifest(workspace)
    assert [p.file for p in manifest.parts][:3] == list(day_one_files)
    assert len(manifest.parts) == 4 and manifest.clusters is not None and manifest.extra_sources is not None
    # Day 1's parts are not rewritten ...
    assert {f: (workspace.articles_path / f).read_bytes() for f in day_one_files} == day_one_files
    rows = {r["source_file"]: r for r in read_articles(workspace).to_pylist()}
    original, copy = rows[f"raw/d1/a{lowering:02d}.txt"], rows["raw/d2/b-near.txt"]
    # ... but they read with the cluster and the sources found since.
    assert original["cluster_id"] == copy["cluster_id"] == copy["article_id"] < original["article_id"]
    part, row = divmod(list(rows).index(f"raw/d1/a{lowering:02d}.txt"), 5)
    written = pq.read_table(workspace.articles_path / f"part-{part:06d}.parquet").to_pylist()[row]
    assert written["cluster_id"] == original["article_id"]  # as written on day 1
    assert [s["file"] for s in rows["raw/d1/a03.txt"]["sources"]] == ["raw/d1/a03.txt", "raw/d2/b-exact.txt"]

    # The same table as one ingest of both days, in one part.
    scratch = init_workspace(tmp_path / "scratch", scheme="news-events-v1")
    shutil.rmtree(scratch.raw_dir)
    shutil.copytree(workspace.raw_dir, scratch.raw_dir)
    store.PART_ROWS = 1_000_000
    ingest(scratch, jobs=1)
    assert len(read_manifest(scratch).parts) == 1
    assert read_articles(scratch).to_pylist() == read_articles(workspace).to_pylist()
    # Streaming readers see the same: batches never span two parts.
    table = open_articles(workspace)
    assert [b.num_rows for b in table.iter_batches(4, ["article_id"])] == [4, 1, 4, 1, 2, 4, 1]
    assert article_texts(workspace) == article_texts(scratch)


def test_an_old_single_file_table_is_read_then_moved_into_the_folder(workspace):
    for i in range(6):
        write(workspace.raw_dir, f"a{i}.txt", synthetic(i))
    write(workspace.raw_dir, "near.txt", near_copy(synthetic(2)))
    ingest(workspace, jobs=1)
    expected = read_articles(workspace).to_pylist()
    # What a toolkit before the parts layout left: one file, no folder, no index.
    pq.write_table(read_articles(workspace), legacy_path(workspace))
    shutil.rmtree(workspace.articles_path)
    shutil.rmtree(workspace.annotations_dir / "ingest-state")
    assert read_articles(workspace).to_pylist() == expected

    report = ingest(workspace, jobs=1)
    assert report.new_articles == 0 and report.already_ingested == 7
    assert (report.near_duplicate_clusters, report.articles_in_clusters) == (1, 2)
    assert not legacy_path(workspace).exists() and manifest_path(workspace).is_file()
    assert read_articles(workspace).to_pylist() == expected


def test_changing_the_threshold_clusters_the_whole_table_again(workspace):
    base = synthetic(1, n_words=200)
    write(workspace.raw_dir, "a.txt", base)
    write(workspace.raw_dir, "b.txt", edited(base, 0.04, seed=1))  # about 0.7 similar: below 0.8
    write(workspace.raw_dir, "c.txt", synthetic(2, n_words=200))
    assert ingest(workspace, jobs=1).near_duplicate_clusters == 0

    config = workspace.root / "toolkit.toml"
    config.write_text(config.read_text().replace("near_duplicate_threshold = 0.8", "near_duplicate_threshold = 0.5"))
    workspace = Workspace.find(workspace.root)  # the configuration is read again
    report = ingest(workspace)
    assert report.new_articles == 0 and (report.near_duplicate_clusters, report.articles_in_clusters) == (1, 2)
    rows = {r["source_file"]: r for r in read_articles(workspace).to_pylist()}
    assert rows["raw/a.txt"]["cluster_id"] == rows["raw/b.txt"]["cluster_id"] != rows["raw/c.txt"]["cluster_id"]

    config.write_text(config.read_text().replace("near_duplicate_threshold = 0.5", "near_duplicate_threshold = 0.9"))
    workspace = Workspace.find(workspace.root)
    assert ingest(workspace).near_duplicate_clusters == 0
    assert all(r["cluster_id"] == r["article_id"] for r in read_articles(workspace).to_pylist())


def _reference_clusters(signatures: list[bytes], bands: dedup.Bands, threshold: float) -> dict[int, int]:
    """datasketch's in-memory LSH over the same signatures: candidates queried one by one,
    confirmed by estimated Jaccard, joined: row -> smallest row of its cluster (members only)."""
    lsh = MinHashLSH(num_perm=bands.num_perm, params=(bands.b, bands.r))
    hashes = [LeanMinHash(seed=1, hashvalues=np.frombuffer(s, dtype="<u4").astype(np.uint64), scheme="affine32") for s in signatures]
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for i, h in enumerate(hashes):
        for j in lsh.query(h):
            if np.mean(hashes[j].hashvalues == h.hashvalues) >= threshold:
                a, b = find(i), find(j)
                parent.setdefault(a, a)
                parent.setdefault(b, b)
                parent[max(a, b)] = min(a, b)
        lsh.insert(i, h)
    return {x: find(x) for x in parent}


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_the_on_disk_index_finds_the_clusters_of_an_in_memory_lsh(tmp_path, threshold):
    rng = random.Random(7)
    texts = [synthetic(i, n_words=150) for i in range(240)]
    for _ in range(120):  # near copies at every distance, of originals and of copies
        texts.append(edited(rng.choice(texts), rng.choice([0.01, 0.03, 0.06, 0.1, 0.2]), rng.randrange(10**6)))
    signatures = [signature(t, 128, 5) for t in texts]
    bands = dedup.Bands.for_threshold(threshold, 128)
    settings = {"test": True}
    # Three parts of unequal size, the last two "new" in turn, as three daily runs would add them.
    indexes, offsets = [], [0]
    for number, (start, end) in enumerate([(0, 150), (150, 300), (300, 360)]):
        writer = dedup.PartIndexWriter(dedup.PartIndex(tmp_path, f"part-{number}", 128))
        for i in range(start, end):
            writer.add(i, signatures[i], [i])
        indexes.append(writer.finish(bands, settings))
        offsets.append(end)
    clusters = dedup.Clusters()
    for first_new in range(3):
        upto = first_new + 1
        pairs = dedup.confirm(dedup.candidate_pairs(indexes[:upto], offsets[:upto + 1], first_new, bands),
                              indexes[:upto], offsets[:upto + 1], threshold)
        for a, b in pairs.tolist():
            clusters.join(a, b)
    expected = _reference_clusters(signatures, bands, threshold)
    assert len(expected) > 20  # the corpus does have clusters to find
    assert clusters.members() == expected
    assert all(index.valid_for(settings) for index in indexes)


@pytest.mark.parametrize("num_perm", [32, 128, 256])
def test_band_sizes_are_datasketchs(num_perm):
    for threshold in (0.05, 0.2, 0.35, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9):
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert dedup.optimal_bands(threshold, num_perm) == (lsh.b, lsh.r), threshold


def test_growing_ids_find_what_a_dict_finds(monkeypatch):
    from toolkit.ingest import GrowingIds

    monkeypatch.setattr(GrowingIds, "BUFFER", 7)  # many merges of small blocks
    rng = random.Random(3)
    ids, reference = GrowingIds(), {}
    for row in range(500):
        key = rng.choice([rng.getrandbits(64), rng.getrandbits(8), 2**64 - 1 - rng.getrandbits(8)])
        if key not in reference:
            ids.add(key, row)
            reference[key] = row
    assert len(ids) == len(reference) and len(ids._blocks) <= 7
    assert all(ids.get(k) == v for k, v in reference.items())
    assert all(ids.get(k) is None for k in (rng.getrandbits(64) for _ in range(500)) if k not in reference)
