"""Benchmark: `toolkit release` of N synthetic resolved articles against the floor.

The floor is what any release must at least do: ``pyarrow.parquet.write_table`` of the same
released rows, already in memory, plus the sha256 of the files written. Two are measured
(see ``floor``): the documents rows alone, and the full floor, which also writes the ``ner``
rows and their CoNLL text, as a release does. All run in this same invocation, on the same
data; the release runs in a child process so that its peak memory (max RSS) is its own.

    python bench/release_bench.py                 # 1,000,000 articles
    python bench/release_bench.py --articles 100000 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from toolkit.agreement.gold import gold_arrow_schema  # noqa: E402
from toolkit.articles import read_articles  # noqa: E402
from toolkit.ingest import ARTICLE_SCHEMA, store  # noqa: E402
from toolkit.validation.normalise import records_arrow_schema  # noqa: E402
from toolkit.scheme import Scheme  # noqa: E402
from toolkit.workspace import Workspace
from toolkit.scaffold import init_workspace  # noqa: E402

EVENTS = ["Armed Assault", "Bombing/Explosion", "Hostage Taking (Barricade Incident)", "Not an attack event",
          "Assassination", "Unknown"]
PEOPLE = ["Ivan Petrov", "Maria Lopez", "Ahmed Khan", "Li Wei", "Jean Dupont", "Amina Yusuf"]
ORGS = ["the Interior Ministry", "Reuters", "the city council", "the police"]
PLACES = ["Volgograd", "Kabul", "São Paulo", "Lagos", "Mosul", "Manila"]
# Filler drawn from a vocabulary, so that the text compresses about as well as real prose.
VOCABULARY = ("the a of in to and said police attack city officials on was were by after at for with "
              "people killed injured wounded hostages ministry witnesses scene emergency services arrived "
              "within minutes area sealed off rest day while investigators collected evidence more "
              "information would released once relatives informed gunman explosion market station "
              "Monday Tuesday Wednesday Thursday Friday morning evening night local government forces "
              "security spokesman statement reported according several dozens at least hospital").split()


def generate(ws: Workspace, n: int, batch: int = 50_000, annotators: int = 3) -> None:
    """the articles table, annotations.parquet and gold.parquet with ``n`` resolved articles
    (~700 characters each, 3 entity spans, clusters of 1-3 near-duplicates)."""
    scheme = Scheme.load(ws.scheme_path)
    rng = np.random.default_rng(0)
    span_type = gold_arrow_schema(scheme).field("entities").type
    staged = ws.annotations_dir / "articles-staged.parquet"
    articles = pq.ParquetWriter(staged, ARTICLE_SCHEMA)
    gold = pq.ParquetWriter(ws.annotations_dir / "gold.parquet", gold_arrow_schema(scheme))
    votes = pq.ParquetWriter(ws.annotations_dir / "annotations.parquet", records_arrow_schema(scheme))
    for start in range(0, n, batch):
        ids, texts, clusters, spans, events, killed = [], [], [], [], [], []
        for i in range(start, min(n, start + batch)):
            person, org, place = PEOPLE[i % 6], ORGS[(i // 6) % 4], PLACES[(i // 24) % 6]
            head = f"{person} of {org} said an attack in {place} left {i % 9} people dead (report {i}). "
            words = rng.choice(VOCABULARY, size=int(rng.integers(60, 140)))
            text = head + " ".join(words) + "."
            aid = hashlib.sha256(text.encode()).hexdigest()[:16]
            ids.append(aid)
            texts.append(text)
            clusters.append(ids[-2] if i % 5 == 1 and len(ids) > 1 else aid)
            a = len(person) + 4
            b = a + len(org) + 19
            spans.append([{"start": 0, "end": len(person), "label": "PERSON", "text": person},
                          {"start": a, "end": a + len(org), "label": "ORG", "text": org},
                          {"start": b, "end": b + len(place), "label": "GPE", "text": place}])
            events.append(EVENTS[int(rng.integers(0, len(EVENTS)))])
            killed.append(i % 9)
        m = len(ids)
        published = pa.array((np.datetime64("2020-01-01") + rng.integers(0, 1500, m)).astype("datetime64[D]"))
        table = pa.table({
            "article_id": ids, "title": [f"Report {i}" for i in range(start, start + m)], "text": texts,
            "published": pc.cast(published, pa.date32()), "source_url": [f"https://news.example/{i}" for i in range(start, start + m)],
            "source_name": pa.array(["news.example", "wire.example", "daily.example"] * (m // 3 + 1))[:m],
            "language": pa.array(["en"] * m), "n_chars": pa.array([len(t) for t in texts], pa.int32()),
            "n_words": pa.array([len(t.split()) for t in texts], pa.int32()), "format": pa.array(["txt"] * m),
            "source_file": pa.array(["raw/bench.jsonl"] * m), "raw_sha256": ids,
            "sources": pa.array([[]] * m, ARTICLE_SCHEMA.field("sources").type), "cluster_id": clusters,
            "warnings": pa.array([[]] * m, pa.list_(pa.string())),
        }, schema=ARTICLE_SCHEMA)
        articles.write_table(table)
        entity_array = pa.array(spans, span_type)
        gold_schema = gold_arrow_schema(scheme)
        columns = {
            "article_id": ids, "status": ["resolved"] * m, "reason": pa.nulls(m, pa.string()),
            "decided_by": ["policy"] * m, "n_annotators": pa.array([annotators] * m, pa.int32()),
            "n_annotations": pa.array([annotators] * m, pa.int32()),
            "annotation_ids": pa.array([[]] * m, pa.list_(pa.int64())),
            "entities": entity_array, "event_type": events, "killed": pa.array(killed, pa.int64()),
            "injured": pa.nulls(m, pa.int64()), "hostages": pa.nulls(m, pa.int64()), "note": pa.nulls(m, pa.string()),
        }
        for f in scheme.fields:
            columns[f"{f.name}_decision"] = pa.array(["majority"] * m)
        gold.write_table(pa.table({name: columns[name] for name in gold_schema.names}, schema=gold_schema))
        # Annotator k votes the gold event type, except the last one for every 4th article.
        record_schema = records_arrow_schema(scheme)
        rows = {name: [] for name in ("article_id", "event_type", "annotator_id")}
        for k in range(annotators):
            rows["article_id"] += ids
            rows["annotator_id"] += [k + 1] * m
            rows["event_type"] += [e if (k < annotators - 1 or j % 4) else EVENTS[-1] for j, e in enumerate(events)]
        r = len(rows["article_id"])
        data = {name: pa.nulls(r, record_schema.field(name).type) for name in record_schema.names}
        data.update({"task_id": pa.array(np.arange(r), pa.int64()), "article_id": pa.array(rows["article_id"]),
                     "annotation_id": pa.array(np.arange(start * annotators, start * annotators + r), pa.int64()),
                     "annotator_id": pa.array(rows["annotator_id"], pa.int64()),
                     "was_cancelled": pa.array(np.zeros(r, bool)), "ground_truth": pa.array(np.zeros(r, bool)),
                     "event_type": pa.array(rows["event_type"]),
                     "entities": pa.array([[]] * r, record_schema.field("entities").type)})
        votes.write_table(pa.table(data, schema=record_schema))
    for writer in (articles, gold, votes):
        writer.close()
    store.write_table(ws, staged)  # moved in as the table's one part


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def floor(ws: Workspace, out: Path) -> dict[str, float]:
    """The floors, timed on rows built in memory first (untimed):

    - *documents floor*: ``write_table`` of the released documents rows + sha256 of the file;
    - *full floor*: the same, plus ``write_table`` of the ``ner`` rows (tokens and tag ids, as
      the release makes them) and a plain write of their CoNLL text, + sha256 of every file:
      the bytes any release with both configs must write and hash, with none of the work
      of making them.
    """
    from toolkit.release import conll

    scheme = Scheme.load(ws.scheme_path)
    labels = scheme.field("entities").values
    articles = read_articles(ws, columns=["article_id", "title", "published", "source_url", "text"])
    gold = pq.read_table(ws.annotations_dir / "gold.parquet",
                         columns=["article_id", "entities", "event_type", "killed", "injured", "hostages",
                                  "n_annotators"])
    index = pc.index_in(articles["article_id"], gold["article_id"])
    rows = articles
    for name in gold.column_names[1:]:
        rows = rows.append_column(name, gold[name].take(index))
    ner_batches, conll_parts = [], []
    names = conll.tag_names(labels)
    for batch in rows.select(["article_id", "text", "entities"]).to_batches(max_chunksize=10_000):
        tokens, tags = conll.tag_batch(batch.column("text"), batch.column("entities"), labels)
        ner_batches.append(pa.record_batch({"article_id": batch.column("article_id"), "tokens": tokens,
                                            "ner_tags": tags}))
        conll_parts.extend(conll.conll_chunks(tokens, tags, names))
    ner = pa.Table.from_batches(ner_batches)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pq.write_table(rows, out / "rows.parquet", compression="zstd")
    t1 = time.perf_counter()
    _sha256(out / "rows.parquet")
    t2 = time.perf_counter()
    pq.write_table(ner, out / "ner.parquet", compression="zstd")
    with open(out / "conll.txt", "wb") as fh:
        for part in conll_parts:
            fh.write(part)
    t3 = time.perf_counter()
    _sha256(out / "ner.parquet")
    _sha256(out / "conll.txt")
    t4 = time.perf_counter()
    return {"documents_s": t2 - t0, "documents_write_s": t1 - t0, "documents_sha256_s": t2 - t1,
            "full_s": t4 - t0, "ner_conll_write_s": t3 - t2, "ner_conll_sha256_s": t4 - t3,
            "rows": rows.num_rows, "documents_bytes": (out / "rows.parquet").stat().st_size,
            "full_bytes": sum((out / name).stat().st_size for name in ("rows.parquet", "ner.parquet", "conll.txt"))}


def _release_child(root: str, queue: multiprocessing.Queue) -> None:
    from toolkit.release import release

    t0 = time.perf_counter()
    report = release(Workspace(Path(root)), now=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    elapsed = time.perf_counter() - t0
    # VmHWM, the peak of this process's own memory: getrusage's ru_maxrss would also count
    # the parent's memory at the fork that started this child.
    hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    queue.put({"seconds": elapsed, "max_rss_mib": hwm_kib / 1024,
               "report": report.to_dict()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the workspace here; a workspace already there (same --articles) is reused")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="release-bench-"))
    try:
        t0 = time.perf_counter()
        marker = base / "ws" / f".generated-{args.articles}"
        if marker.is_file():
            ws = Workspace(base / "ws")
            for old in ws.releases_dir.glob("v*"):
                shutil.rmtree(old)
        else:
            shutil.rmtree(base / "ws", ignore_errors=True)
            ws = init_workspace(base / "ws", title="Release benchmark", scheme="news-events-v1")
            generate(ws, args.articles)
            marker.touch()
        generated = time.perf_counter() - t0
        shutil.rmtree(base / "floor", ignore_errors=True)
        base_floor = floor(ws, base / "floor")
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_release_child, args=(str(ws.root), queue))
        child.start()
        result = queue.get()
        child.join()
        release_bytes = result["report"]["bytes"]
        summary = {
            "articles": args.articles, "generate_s": round(generated, 1),
            "documents_floor_s": round(base_floor["documents_s"], 2),
            "documents_floor_bytes": base_floor["documents_bytes"],
            "full_floor_s": round(base_floor["full_s"], 2),
            "full_floor_write_s": round(base_floor["documents_write_s"] + base_floor["ner_conll_write_s"], 2),
            "full_floor_sha256_s": round(base_floor["documents_sha256_s"] + base_floor["ner_conll_sha256_s"], 2),
            "full_floor_bytes": base_floor["full_bytes"],
            "release_s": round(result["seconds"], 2), "release_bytes": release_bytes,
            "ratio_full_floor": round(result["seconds"] / base_floor["full_s"], 2),
            "ratio_documents_floor": round(result["seconds"] / base_floor["documents_s"], 2),
            "release_max_rss_mib": round(result["max_rss_mib"]),
            "articles_mib": round(sum(p.stat().st_size for p in ws.articles_path.iterdir()) / 2**20),
            "splits": result["report"]["articles"],
        }
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            for key, value in summary.items():
                print(f"{key:>22}: {value}")
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
