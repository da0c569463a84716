"""Ingest at scale: a full `toolkit ingest` of N articles, then adding 1 % and ingesting again;
and the peak memory of full runs of growing size, to state what an article costs and what
10 million would need.

    .venv/bin/python bench/scale_bench.py --articles 1000000            # incremental at 1 M
    .venv/bin/python bench/scale_bench.py --memory 25000,50000,100000,200000 --articles 0

Articles are shaped like the seed (``ingest_bench.synthetic_article``: date line, headline,
boilerplate lines, 8-12 paragraphs, about 4 KB), written as JSONL shards of ``--shard``
articles (a daily dump; ``--format txt`` writes one file an article instead, as a scraper saves
pages). Each run is the command a maintainer types, as a subprocess on both cores
(``toolkit ingest --json``), its process tree sampled from /proc (``proctree``): wall time,
the driver's own peak RSS (VmHWM) and the tree's. The incremental run's figure is a ratio to
the full run measured in the same invocation (the machine is shared: ratios, not seconds).
Memory per article is the slope of the driver's peak over the run sizes (least squares), and
what is left at 0 articles is the fixed cost (interpreter, pyarrow, trafilatura, models).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import synthetic_article  # noqa: E402
from proctree import Sampler  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def write_articles(folder: Path, n: int, first: int, fmt: str, shard: int) -> int:
    """Articles ``first`` .. ``first + n - 1`` (each from its own seed: the same number, the same
    text) under ``folder``; returns the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    if fmt == "txt":
        for i in range(first, first + n):
            sub = folder / f"{i // 10_000:04d}"
            sub.mkdir(exist_ok=True)
            data = synthetic_article(random.Random(i)).encode("utf-8")
            (sub / f"a{i:08d}.txt").write_bytes(data)
            written += len(data)
        return written
    for start in range(first, first + n, shard):
        lines = []
        for i in range(start, min(start + shard, first + n)):
            text = synthetic_article(random.Random(i))
            date, title, body = text.split("\n\n", 2)
            lines.append(json.dumps({"title": title, "text": body, "url": f"https://news.example/{i}",
                                     "published": dt.datetime.strptime(date, "%A, %B %d, %Y").date().isoformat()}))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (folder / f"shard-{start:09d}.jsonl").write_bytes(data)
        written += len(data)
    return written


def init_workspace(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "toolkit", "init", str(root), "--scheme", "news-events-v1"],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return root


def timed_ingest(workspace: Path, jobs: int) -> dict[str, Any]:
    """``toolkit ingest --json --jobs N`` as a subprocess: seconds, peaks and the report."""
    command = [sys.executable, "-m", "toolkit", "ingest", "--json", "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sampler = Sampler(proc.pid, interval=0.1, pss_every=0)
    sampler.start()
    anon = AnonSampler(proc.pid)
    anon.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    sampler.stopping.set()
    anon.stopping.set()
    sampler.join()
    anon.join()
    if proc.returncode != 0:
        raise RuntimeError(f"toolkit ingest failed:\n{err[-3000:]}")
    report = json.loads(out)
    return {"seconds": seconds, "driver_peak_mib": sampler.hwm.get(proc.pid, 0) / 1024,
            "driver_anon_peak_mib": anon.peak_kib / 1024,
            "tree_peak_mib": sampler.peak_rss_sum / 1024, "new_articles": report["new_articles"],
            "total_articles": report["total_articles"], "files_read": report["files_read"],
            "files_unchanged": report["files_unchanged"], "rejected": report["rejected"]}


class AnonSampler(threading.Thread):
    """The highest RssAnon of one process: its own memory, without the pages of files it maps
    (the near-duplicate index is read through memory maps: those pages are the page cache's,
    counted in VmRSS and VmHWM while mapped, and given back under memory pressure)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("RssAnon:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            self.stopping.wait(self.interval)


def disk_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def incremental(n: int, add_pct: float, fmt: str, shard: int, jobs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scale-bench-", dir=OUT) as tmp:
        root = init_workspace(Path(tmp) / "ws")
        t = time.perf_counter()
        size = write_articles(root / "raw" / "2024-01-01", n, 0, fmt, shard)
        generated = time.perf_counter() - t
        full = timed_ingest(root, jobs)
        added = max(1, round(n * add_pct / 100))
        write_articles(root / "raw" / "2024-01-02", added, n, fmt, shard)
        inc = timed_ingest(root, jobs)
        again = timed_ingest(root, jobs)  # nothing new: what recognising the corpus costs
        table = disk_mib(root / "annotations" / "articles")
        index = disk_mib(root / "annotations" / "ingest-state")
    return {"articles": n, "added": added, "format": fmt, "input_mb": size / 1e6, "generate_s": generated,
            "full": full, "incremental": inc, "nothing_new": again, "table_mib": table, "state_mib": index,
            "ratio": inc["seconds"] / full["seconds"], "articles_per_s": n / full["seconds"]}


def memory(points: list[int], fmt: str, shard: int, jobs: int) -> dict[str, Any]:
    runs = []
    for n in points:
        with tempfile.TemporaryDirectory(prefix="scale-mem-", dir=OUT) as tmp:
            root = init_workspace(Path(tmp) / "ws")
            write_articles(root / "raw", n, 0, fmt, shard)
            run = timed_ingest(root, jobs)
            runs.append({"articles": n, **run})
            print(f"  {n:>9,} articles: {run['seconds']:.1f} s, driver peak {run['driver_peak_mib']:.0f} MiB "
                  f"({run['driver_anon_peak_mib']:.0f} anonymous), "
                  f"tree {run['tree_peak_mib']:.0f} MiB", flush=True)
    xs = [r["articles"] for r in runs]
    fit = {}
    for key in ("driver_peak_mib", "driver_anon_peak_mib", "tree_peak_mib"):
        ys = [r[key] * 2**20 for r in runs]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        fit[key] = {"bytes_per_article": slope, "fixed_mib": (my - slope * mx) / 2**20,
                    "at_10m_gib": (my + slope * (10_000_000 - mx)) / 2**30}
    return {"runs": runs, "fit": fit}


def render(result: dict[str, Any]) -> str:
    lines = []
    inc = result.get("incremental")
    if inc:
        lines += [f"Incremental: {inc['articles']:,} {inc['format']} articles ({inc['input_mb']:.0f} MB), then "
                  f"{inc['added']:,} more", "",
                  "| run | seconds | articles/s | driver peak RSS MiB | driver peak anonymous MiB | tree peak MiB |",
                  "|---|---|---|---|---|---|"]
        for name in ("full", "incremental", "nothing_new"):
            r = inc[name]
            rate = f"{r['new_articles'] / r['seconds']:,.0f}" if r["new_articles"] else "-"
            lines.append(f"| {name} | {r['seconds']:.1f} | {rate} | {r['driver_peak_mib']:.0f} | "
                         f"{r['driver_anon_peak_mib']:.0f} | {r['tree_peak_mib']:.0f} |")
        lines += ["", f"incremental / full = **{inc['ratio']:.3f}**; table {inc['table_mib']:.0f} MiB on disk, "
                      f"ingest-state (index, signatures) {inc['state_mib']:.0f} MiB"]
    mem = result.get("memory")
    if mem:
        lines += ["", "| articles | seconds | driver peak RSS MiB | driver peak anonymous MiB | tree peak MiB |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['articles']:,} | {r['seconds']:.1f} | {r['driver_peak_mib']:.0f} | "
                  f"{r['driver_anon_peak_mib']:.0f} | {r['tree_peak_mib']:.0f} |" for r in mem["runs"]]
        for key, f in mem["fit"].items():
            lines.append(f"\n{key}: {f['bytes_per_article']:.0f} bytes per article over a fixed "
                         f"{f['fixed_mib']:.0f} MiB; at 10 M articles {f['at_10m_gib']:.1f} GiB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000, help="articles of the incremental run (0: skip)")
    parser.add_argument("--add-pct", type=float, default=1.0)
    parser.add_argument("--memory", default="", help="comma-separated run sizes for the memory fit")
    parser.add_argument("--format", choices=("jsonl", "txt"), default="jsonl")
    parser.add_argument("--shard", type=int, default=10_000, help="articles per JSONL file")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"cpus": len(os.sched_getaffinity(0)), "jobs": args.jobs}
    if args.memory:
        result["memory"] = memory([int(x) for x in args.memory.split(",")], args.format, args.shard, args.jobs)
    if args.articles:
        result["incremental"] = incremental(args.articles, args.add_pct, args.format, args.shard, args.jobs)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"scale-{stamp}.json").write_text(json.dumps(result, indent=1))
    print(render(result))


if __name__ == "__main__":
    main()
