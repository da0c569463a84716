"""Ingest benchmark: body-extraction quality on real news pages, and ingest throughput.

    PYTHONPATH=. python bench/ingest_bench.py [--repeat N] [--json OUT] [--corpus DIR]

1. Quality, on the real pages of ``<corpus>/articles`` (read in place, never copied):
   * ``trafilatura_eval/``: must-contain / must-not-contain snippets, gold title and date;
   * ``newspaper3k_tests/``: bag-of-words token F1 against another extractor's frozen output.
   Each page goes through the toolkit's reader pipeline (``read_file``: decoding, trafilatura
   with the toolkit's settings, ftfy, boilerplate) and, as the baseline, through trafilatura
   with its default settings (``extract`` for the body, which includes comments by default,
   ``bare_extraction(with_metadata=True)`` for title and date).
2. Throughput of ``ingest()`` end to end on synthetic plain-text articles and on the corpus
   HTML pages replicated in a temporary folder, with ``trafilatura.extract`` alone on the same
   HTML bytes as the floor. Each measured part runs in its own subprocess, so its peak RSS
   is its own; the first run in each subprocess is a warm-up (imports, language model) and
   is not timed.
3. Scale (``--only scale``), ``toolkit ingest`` as a user runs it (a subprocess, in the
   workspace, no flags): a full run on ``--scale-articles`` synthetic plain-text articles with
   one worker (the process pinned to one CPU, so the default of one worker per core gives 1)
   and with two (two CPUs); then ``--scale-add`` % more files and an incremental run. Reports
   the two-worker speed-up, checks that both full runs wrote the same bytes, and the
   incremental run's time against the two-worker full run's. Each figure is one run: the
   machine is shared, read the ratios.

4. Targets (``--only targets``; also in the default run), issue 15's numbers, each the whole
   ``toolkit ingest --jobs N --json`` command timed as a subprocess in a fresh workspace:
   * plain text: ``--target-articles`` synthetic seed-shaped files with ``--jobs 1`` (pinned
     to one CPU) and ``--jobs 2`` (two CPUs), against the 2,000 articles/s target and a
     floor measured in the same run (a process that reads each file, decodes UTF-8,
     NFC-normalises, splits lines and hashes the collapsed body);
   * HTML: ``--target-html`` copies of the corpus pages with ``--jobs 1`` against a process
     running ``trafilatura.extract`` alone on the same files (both pinned to one CPU; target:
     at most 1.15x), and ``--jobs 2`` against ``--jobs 1`` (target: at least 1.8x);
   * the HTML per-core ratio again, side by side: the floor and ``--jobs 1`` started at the same
     instant, each pinned to its own CPU, so that both meet the same host load (default
     ``html_focus`` and "balanced", each with the CPUs one way and swapped);
   * the machine's own two-CPU ceiling for the HTML work (``trafilatura.extract`` on the files
     shared by two processes at once) and the command's start-up (one page);
   * what each step of the per-article work costs now, in-process on one CPU
     (``--profile-articles`` of the same plain-text files).
   Every command and floor runs ``--target-rounds`` times (default 2) and the best of each is
   compared. The machine is shared: how many of the two CPUs the run really had is measured too.

Prints Markdown tables; ``--json OUT`` also writes every figure. Nothing is written to the
repository: workspaces, raw files and copies live in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
MAX_BYTES = 10_000_000


# Helpers ---------------------------------------------------------------------------------

def normalise_ws(text: str | None) -> str:
    """NFC and whitespace runs collapsed to one space (the toolkit puts blank lines between paragraphs)."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


def tokens(text: str | None) -> Counter[str]:
    """Lowercase \\w+ tokens; Chinese and Japanese characters count one each."""
    return Counter(_TOKEN.findall((text or "").lower()))


def token_f1(predicted: str | None, expected: str) -> float:
    got, want = tokens(predicted), tokens(expected)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def peak_rss_mib() -> float:
    """This process's peak resident set size.

    Linux's VmHWM belongs to the process image; ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak for a worker subprocess, so it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def pct(num: int, den: int) -> str:
    return f"{num}/{den} ({100 * num / den:.0f} %)" if den else "0/0"


def mark(ok: bool | None) -> str:
    return "n/a" if ok is None else "ok" if ok else "x"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def quiet_extractor_logs() -> None:
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def make_workspace(root: Path):
    """A fresh workspace; by hand when ``init_workspace`` is unavailable."""
    from toolkit.scaffold import init_workspace
    from toolkit.workspace import Workspace

    try:
        return init_workspace(root, scheme="news-events-v1")
    except Exception:  # noqa: BLE001 - only the layout matters here
        shutil.rmtree(root, ignore_errors=True)
        for sub in ("raw", "annotations"):
            (root / sub).mkdir(parents=True)
        (root / "toolkit.toml").write_text('[project]\nname = "bench"\n', encoding="utf-8")
        return Workspace(root)


# Extractors under test -------------------------------------------------------------------

def toolkit_extract(path: Path, focus: str = "precision") -> dict[str, Any]:
    """The toolkit's per-file pipeline, as ``toolkit ingest`` runs it (min_words=1; ``focus``:
    ``[ingest] html_focus``)."""
    from toolkit.ingest.readers import Document, ReaderOptions, read_file

    items = list(read_file(path, path.name, ReaderOptions(max_bytes=MAX_BYTES, min_words=1, html_focus=focus)))
    doc = items[0] if items else None
    if not isinstance(doc, Document):
        return {"text": None, "title": None, "date": None, "rejected": getattr(doc, "reason", "nothing")}
    return {"text": doc.body, "title": doc.title,
            "date": doc.published.isoformat() if doc.published else None, "rejected": None}


def trafilatura_baseline(path: Path) -> dict[str, Any]:
    """trafilatura with default settings: ``extract`` for the body, ``bare_extraction`` for metadata."""
    import trafilatura

    html = path.read_bytes()
    text = trafilatura.extract(html)
    meta = trafilatura.bare_extraction(html, with_metadata=True)
    return {"text": text, "title": meta.title if meta else None, "date": meta.date if meta else None,
            "rejected": None if text else "no-article"}


EXTRACTORS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "toolkit": toolkit_extract,
    "toolkit, html_focus = balanced": lambda path: toolkit_extract(path, "balanced"),
    "trafilatura": trafilatura_baseline,
}


# 1. Quality ------------------------------------------------------------------------------

def quality_trafilatura_eval(folder: Path) -> dict[str, Any]:
    """Snippet, title and date scores on the trafilatura evaluation pages."""
    gold = json.loads((folder / "evaldata.subset.json").read_text(encoding="utf-8"))
    pages = []
    for url, expected in sorted(gold.items(), key=lambda kv: kv[1]["file"]):
        page: dict[str, Any] = {"file": expected["file"], "url": url}
        for name, extract in EXTRACTORS.items():
            got = extract(folder / "html" / expected["file"])
            body = normalise_ws(got["text"])
            page[name] = {
                "missing": [s for s in expected["with"] if normalise_ws(s) not in body],
                "leaked": [s for s in expected["without"] if normalise_ws(s) in body],
                "title": got["title"],
                # None when the gold data has no title / date for the page
                "title_ok": normalise_ws(got["title"]) == normalise_ws(expected["title"])
                if expected.get("title") else None,
                "date": got["date"],
                "date_ok": got["date"] == expected["date"] if expected.get("date") else None,
                "rejected": got["rejected"],
            }
        page["gold"] = {"title": expected.get("title"), "date": expected.get("date"),
                        "n_with": len(expected["with"]), "n_without": len(expected["without"])}
        pages.append(page)
    n_with = sum(p["gold"]["n_with"] for p in pages)
    n_without = sum(p["gold"]["n_without"] for p in pages)
    summary = {}
    for name in EXTRACTORS:
        summary[name] = {
            "with_found": n_with - sum(len(p[name]["missing"]) for p in pages), "with_total": n_with,
            "without_absent": n_without - sum(len(p[name]["leaked"]) for p in pages), "without_total": n_without,
            "title_exact": sum(p[name]["title_ok"] is True for p in pages),
            "title_total": sum(p[name]["title_ok"] is not None for p in pages),
            "date_exact": sum(p[name]["date_ok"] is True for p in pages),
            "date_total": sum(p[name]["date_ok"] is not None for p in pages),
            "rejected": sum(p[name]["rejected"] is not None for p in pages),
            "pages": len(pages),
        }
    return {"summary": summary, "pages": pages}


def expected_text_for(html: Path, expected_dir: Path) -> Path | None:
    """``cnn_article.html`` -> ``cnn.txt``, ``nypost.com1.html`` -> ``nypost.com1.txt``."""
    candidate = expected_dir / (html.stem.removesuffix("_article") + ".txt")
    return candidate if candidate.is_file() else None


def quality_newspaper3k(folder: Path) -> dict[str, Any]:
    """Token F1 against newspaper3k's frozen outputs."""
    pages = []
    for html in sorted((folder / "html").glob("*.html")):
        expected_path = expected_text_for(html, folder / "expected_text")
        if expected_path is None:
            continue
        expected = expected_path.read_text(encoding="utf-8")
        page: dict[str, Any] = {"file": html.name, "expected": expected_path.name}
        for name, extract in EXTRACTORS.items():
            got = extract(html)
            page[name] = {"f1": token_f1(got["text"], expected), "n_tokens": sum(tokens(got["text"]).values()),
                          "rejected": got["rejected"]}
        page["expected_tokens"] = sum(tokens(expected).values())
        pages.append(page)
    mean = {name: statistics.fmean(p[name]["f1"] for p in pages) for name in EXTRACTORS} if pages else {}
    return {"mean_f1": mean, "pages": pages}


# 2. Throughput: inputs ---------------------------------------------------------------------

_WORDS = """the a of to and in that for on with as by at from was were is are has had have will would
could said says after before during over under against between about into than more most new
police officials government minister city region country people men women children report
statement video attack fire guards prison court army troops security service agency border
news source witnesses residents families victims suspects group members leaders workers
announced confirmed denied claimed warned reported arrested killed injured released seized
opened closed moved began ended called asked told showed found left took gave made held
early late last first second third several many few dozens hundreds local national foreign
northern southern eastern western central small large major recent previous official
building station market bridge road village district province capital hospital school
morning evening night week month year day hour weekend summer winter spring autumn""".split()

_SYLLABLES = "ka ro vi len mar to sha dor el an is bu gra nov tel pri zu kos ber lin ta mo sa ri".split()


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) if rng.random() > 0.12 else _name(rng) for _ in range(rng.randint(8, 26))]
    if rng.random() < 0.3:
        words.insert(rng.randint(2, len(words) - 1), f"{rng.randint(2, 900)}")
    if rng.random() < 0.3:
        words[rng.randint(1, len(words) - 2)] += ","
    sentence = " ".join(words)
    sentence = sentence[0].upper() + sentence[1:] + "."
    return f"“{sentence}” {_name(rng)} said." if rng.random() < 0.1 else sentence


def synthetic_article(rng: random.Random) -> str:
    """Shaped like raw/volgograd-prison-hostages.txt: date line, headline, boilerplate, paragraphs."""
    day = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randint(0, 1000))
    headline = " ".join([_name(rng)] + [rng.choice(_WORDS) for _ in range(rng.randint(6, 12))])
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(8, 12))]
    lines = [day.strftime("%A, %B %d, %Y"), headline, "Must read", *paragraphs, "Latest article"]
    return "\n\n".join(lines) + "\n"


def write_text_articles(folder: Path, n: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        data = synthetic_article(rng).encode("utf-8")
        (folder / f"article-{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def corpus_html_pages(corpus: Path) -> list[Path]:
    articles = corpus / "articles"
    return [page for folder in ("trafilatura_eval", "newspaper3k_tests")
            for page in sorted((articles / folder / "html").glob("*.html"))]


def write_html_copies(folder: Path, pages: list[Path], n: int) -> int:
    """``n`` files cycling through ``pages``, each with a unique comment appended."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = [p.read_bytes() for p in pages]
    total = 0
    for i in range(n):
        k = i % len(pages)
        data = contents[k] + f"\n<!-- ingest bench copy {i} -->\n".encode()
        (folder / f"{i:04d}-{pages[k].name}").write_bytes(data)
        total += len(data)
    return total


# 2. Throughput: workers (each runs in its own subprocess) ---------------------------------

def _time_runs(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def worker_ingest(raw: Path, template: Path, repeat: int) -> dict[str, Any]:
    """``ingest()`` end to end into a fresh copy of ``template``, ``repeat`` times after a warm-up.

    The workspace is copied, not created here, so this process's RSS is that of ingest alone.
    """
    from toolkit.ingest import ingest, read_articles
    from toolkit.workspace import Workspace

    files = sorted(raw.iterdir())
    workspaces: list[Workspace] = []

    def run(paths: list[Path]):
        root = Path(tempfile.mkdtemp(prefix="run-", dir=template.parent)) / "workspace"
        workspaces.append(Workspace(Path(shutil.copytree(template, root))))
        return ingest(workspaces[-1], paths)

    run(files[:5])  # warm-up: imports, language model, dateparser
    rss_warm = peak_rss_mib()
    seconds, report = _time_runs(lambda: run([raw]), repeat)
    # Sanity check of the last run's output, outside the timing.
    table = read_articles(workspaces[-1], ["title", "published", "text"]).to_pydict()
    leaked = sum(any(b in text for b in ("Must read", "Latest article")) for text in table["text"])
    return {"items": len(files), "seconds": seconds, "rss_after_warmup_mib": rss_warm,
            "new_articles": report.new_articles, "exact_duplicates": report.exact_duplicates,
            "rejected": len(report.rejected),
            "with_title": sum(t is not None for t in table["title"]),
            "with_date": sum(d is not None for d in table["published"]), "boilerplate_leaked": leaked}


def worker_extract(raw: Path, repeat: int, which: str) -> dict[str, Any]:
    """One extraction call per HTML file, on the bytes already in memory."""
    if which == "trafilatura":
        import trafilatura

        def extract_one(data: bytes) -> Any:
            return trafilatura.extract(data)
    else:
        from toolkit.ingest.clean import decode_bytes
        from toolkit.ingest.readers import extract_html

        def extract_one(data: bytes) -> Any:
            return extract_html(decode_bytes(data).text)
    contents = [p.read_bytes() for p in sorted(raw.iterdir())]
    extract_one(contents[0])  # warm-up
    rss_warm = peak_rss_mib()
    seconds, _ = _time_runs(lambda: [extract_one(c) for c in contents], repeat)
    return {"items": len(contents), "seconds": seconds, "rss_after_warmup_mib": rss_warm}


def run_worker(args: argparse.Namespace) -> None:
    raw, repeat = Path(args.dir), args.repeat
    if args.worker == "ingest":
        result = worker_ingest(raw, Path(args.template), repeat)
    else:
        result = worker_extract(raw, repeat, args.worker)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


def in_subprocess(worker: str, folder: Path, repeat: int, template: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", worker, "--dir", str(folder),
               "--repeat", str(repeat)]
    if template is not None:
        command += ["--template", str(template)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"worker {worker} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["median_s"] = statistics.median(result["seconds"])
    result["per_s"] = result["items"] / result["median_s"]
    return result


def throughput(corpus: Path, n_text: int, n_html: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        tmp_path = Path(tmp)
        text_raw, html_raw = tmp_path / "text" / "raw", tmp_path / "html" / "raw"
        text_bytes = write_text_articles(text_raw, n_text)
        html_bytes = write_html_copies(html_raw, corpus_html_pages(corpus), n_html)
        template = make_workspace(tmp_path / "workspace").root
        parts = {
            "text_ingest": in_subprocess("ingest", text_raw, repeat, template),
            "html_ingest": in_subprocess("ingest", html_raw, repeat, template),
            "html_extract_html": in_subprocess("extract_html", html_raw, repeat),
            "html_trafilatura": in_subprocess("trafilatura", html_raw, repeat),
        }
    parts["text_ingest"]["input_mb"] = text_bytes / 1e6
    for key in ("html_ingest", "html_extract_html", "html_trafilatura"):
        parts[key]["input_mb"] = html_bytes / 1e6
    floor = parts["html_trafilatura"]["median_s"]
    return {
        "parts": parts,
        "ratio_ingest_vs_trafilatura": parts["html_ingest"]["median_s"] / floor,
        "ratio_extract_html_vs_trafilatura": parts["html_extract_html"]["median_s"] / floor,
    }


# 3. Scale: full runs on one and two cores, an incremental run ---------------------------

def timed_cli_ingest(workspace: Path, cpus: set[int]) -> dict[str, Any]:
    """``toolkit ingest --json`` in ``workspace``, pinned to ``cpus``; seconds and the report."""
    seconds, out = _timed([sys.executable, "-m", "toolkit", "ingest", "--json"], cpus, workspace)
    return {"seconds": seconds, "cpus": len(cpus), "report": json.loads(out)}


_BURN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(30_000_000): x += i\nprint(time.perf_counter() - t)"


def cpu_parallelism(cpus: set[int]) -> float:
    """How many of ``cpus`` this run really gets: the same pure-Python loop run alone, then as
    ``len(cpus)`` processes at once (2.0 on two idle cores; less when others use them)."""
    def burn(n: int) -> float:
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _BURN], stdout=subprocess.DEVNULL,
                                  preexec_fn=lambda: os.sched_setaffinity(0, cpus)) for _ in range(n)]
        for proc in procs:
            proc.wait()
        return time.perf_counter() - start
    return len(cpus) * burn(1) / burn(len(cpus))


def scale(n: int, add_pct: float) -> dict[str, Any]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        raise RuntimeError("the scale benchmark needs two CPUs")
    one, two = set(available[:1]), set(available[:2])
    with tempfile.TemporaryDirectory(prefix="ingest-scale-") as tmp:
        root = make_workspace(Path(tmp) / "workspace").root
        generated = time.perf_counter()
        size = write_text_articles(root / "raw" / "2024-01-01", n)
        added = max(1, round(n * add_pct / 100))
        generated = time.perf_counter() - generated
        state = root / "annotations" / "ingest-state"
        articles = root / "annotations" / "articles"

        def table_bytes() -> dict[str, bytes]:
            return {f.name: f.read_bytes() for f in sorted(articles.iterdir())}

        parallelism_before = cpu_parallelism(two)
        full_1 = timed_cli_ingest(root, one)
        bytes_1 = table_bytes()
        shutil.rmtree(articles)
        shutil.rmtree(state)
        full_2 = timed_cli_ingest(root, two)
        same_bytes = table_bytes() == bytes_1
        del bytes_1
        write_text_articles(root / "raw" / "2024-01-02", added, seed=2)
        incremental = timed_cli_ingest(root, two)
        parallelism_after = cpu_parallelism(two)
    return {
        "articles": n, "input_mb": size / 1e6, "added": added, "generate_s": generated,
        "full_1_worker": full_1, "full_2_workers": full_2, "incremental": incremental,
        "same_bytes_1_vs_2_workers": same_bytes,
        "cpu_parallelism": [parallelism_before, parallelism_after],
        "speedup_2_workers": full_1["seconds"] / full_2["seconds"],
        "incremental_vs_full": incremental["seconds"] / full_2["seconds"],
    }


def render_scale(sc: dict[str, Any]) -> str:
    rows = []
    for key, label in (("full_1_worker", "full run, 1 worker (1 CPU)"), ("full_2_workers", "full run, 2 workers"),
                       ("incremental", f"incremental run, +{sc['added']} files")):
        run, report = sc[key], sc[key]["report"]
        rows.append([label, report["files_read"], report.get("files_unchanged", 0), report["new_articles"],
                     f"{run['seconds']:.1f}", f"{report['files_read'] / run['seconds']:.0f}"])
    out = [f"\n### Scale: `toolkit ingest` on {sc['articles']:,} plain-text articles ({sc['input_mb']:.0f} MB), "
           "one run each\n",
           md_table(["run", "files", "unchanged (not read)", "new articles", "seconds", "files/s"], rows),
           f"\n2-worker speed-up: **{sc['speedup_2_workers']:.2f}x**; same bytes with 1 and 2 workers: "
           f"**{'yes' if sc['same_bytes_1_vs_2_workers'] else 'NO'}**; incremental run (+{sc['added']} files) / "
           f"2-worker full run: **{100 * sc['incremental_vs_full']:.1f} %**",
           f"\nCPUs really available (two pure-Python loops at once vs one, before / after): "
           f"{sc['cpu_parallelism'][0]:.2f} / {sc['cpu_parallelism'][1]:.2f} of 2.00 — the machine is shared; "
           "the 2-worker speed-up cannot exceed it."]
    return "\n".join(out)


# 4. Targets: the whole command, against floors measured in the same run -----------------

TEXT_TARGET_PER_S = 2000
HTML_PER_CORE_TARGET = 1.15
HTML_SPEEDUP_TARGET = 1.8

_TEXT_FLOOR = """
import hashlib, sys, unicodedata
from pathlib import Path
for path in sorted(Path(sys.argv[1]).iterdir()):
    text = unicodedata.normalize("NFC", path.read_bytes().decode("utf-8"))
    body = " ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    hashlib.sha256(body.encode("utf-8")).hexdigest()
"""

_HTML_FLOOR = """
import logging, sys
from pathlib import Path
import trafilatura
for name in ("trafilatura", "htmldate", "courlan"):
    logging.getLogger(name).setLevel(logging.CRITICAL)
for path in sorted(Path(sys.argv[1]).iterdir()):
    trafilatura.extract(path.read_bytes())
"""


def _timed(command: list[str], cpus: set[int], cwd: Path | None = None) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def timed_floor(script: str, folder: Path, cpus: set[int]) -> float:
    return _timed([sys.executable, "-c", script, str(folder)], cpus)[0]


def timed_floor_pair(script: str, folder: Path, cpus: list[int]) -> float:
    """The floor's files shared by two processes at once, one per CPU: the wall time of the
    pair. The floor's own two-CPU speed-up: what this machine allows for the same work (two
    vCPUs that share caches or a core slow each other down on memory-heavy work such as HTML
    parsing, which ``cpu_parallelism``'s pure-Python loop does not show)."""
    files = sorted(folder.iterdir())
    halves = []
    for k in range(2):
        half = folder.parent / f"{folder.name}-half-{k}"
        half.mkdir()
        for path in files[k::2]:
            os.link(path, half / path.name)
        halves.append(half)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", script, str(half)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, {cpu}))
             for half, cpu in zip(halves, cpus)]
    codes = [proc.wait() for proc in procs]
    seconds = time.perf_counter() - start
    for half in halves:
        shutil.rmtree(half)
    if any(codes):
        raise RuntimeError(f"the floor failed on half of {folder}")
    return seconds


def side_by_side(floor_script: str, raw: Path, focus: str | None, cpus: list[int], root: Path) -> dict[str, Any]:
    """The floor and ``toolkit ingest RAW --jobs 1`` started at the same instant, each pinned to
    one of ``cpus`` (floor on the first): both meet the same load from the rest of the host, so
    their ratio holds when the host's speed moves from one minute to the next (the rows run one
    after the other differ by up to 50 %). The two also share the machine's caches and memory
    bandwidth with each other, the same way for both; swapping the CPUs between pairs cancels a
    difference between the CPUs."""
    workspace = make_workspace(root / f"workspace-pair-{focus or 'default'}-{cpus[0]}").root
    if focus is not None:
        _set_focus(workspace, focus)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    commands = [([sys.executable, "-c", floor_script, str(raw)], None),
                ([sys.executable, "-m", "toolkit", "ingest", str(raw), "--jobs", "1", "--json"], workspace)]
    logs = [root / "pair-floor.err", root / "pair-ingest.err"]
    with contextlib.ExitStack() as stack:
        errs = [stack.enter_context(log.open("wb")) for log in logs]
        start = time.perf_counter()
        procs = [subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                  preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, {cpu}))
                 for (command, cwd), cpu, err in zip(commands, cpus, errs)]
        ends: list[float | None] = [None, None]
        while None in ends:
            for k, proc in enumerate(procs):
                if ends[k] is None and proc.poll() is not None:
                    ends[k] = time.perf_counter() - start
            time.sleep(0.01)
    for proc, log in zip(procs, logs):
        if proc.returncode != 0:
            raise RuntimeError(f"{proc.args} failed:\n{log.read_text(errors='replace')[-3000:]}")
    return {"floor_s": ends[0], "ingest_s": ends[1], "ratio": ends[1] / ends[0], "cpus": cpus, "focus": focus}


def _set_focus(workspace: Path, focus: str) -> None:
    toml = workspace / "toolkit.toml"
    text = toml.read_text(encoding="utf-8")
    if "html_focus = " not in text:
        raise RuntimeError("this toolkit has no [ingest] html_focus")
    lines = [f'html_focus = "{focus}"' if line.startswith("html_focus = ") else line for line in text.splitlines()]
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed_ingest_jobs(raw: Path, jobs: int, cpus: set[int], root: Path, focus: str | None = None) -> dict[str, Any]:
    """``toolkit ingest RAW --jobs N --json`` in a fresh workspace under ``root`` (``focus``:
    its ``[ingest] html_focus``, else the default)."""
    workspace = make_workspace(root / f"workspace-{raw.parent.name}-{jobs}-{focus or 'default'}").root
    if focus is not None:
        _set_focus(workspace, focus)
    seconds, out = _timed([sys.executable, "-m", "toolkit", "ingest", str(raw), "--jobs", str(jobs), "--json"],
                          cpus, cwd=workspace)
    report = json.loads(out)
    articles = workspace / "annotations"
    return {"seconds": seconds, "jobs": jobs, "cpus": len(cpus), "files_read": report["files_read"],
            "new_articles": report["new_articles"], "rejected": report.get("rejected", 0),
            "output_bytes": sum(p.stat().st_size for p in articles.rglob("*.parquet"))}


def profile_steps(raw: Path, n: int) -> dict[str, float]:
    """CPU ms per article of each step of the plain-text per-file work, in this process."""
    from toolkit.ingest import clean, pool
    from toolkit.ingest.minhash import signature
    from toolkit.ingest.readers import ReaderOptions

    files = sorted(raw.iterdir())[:n]
    settings = pool.WorkSettings(ReaderOptions(max_bytes=MAX_BYTES, min_words=20), 128, 5)
    once: dict[str, float] = {}
    for name, load in (("language model (py3langid)", lambda: pool.classify_language("warm up")),
                       ("dateparser's locales (first relative-date check)",
                        lambda: clean.is_relative_date("Updated 2 hours ago")),
                       ("stopword lists (jusText)", lambda: clean.parse_plain_article(files[0].read_text()))):
        start = time.process_time()
        load()
        once[name] = time.process_time() - start
    for path in files[:50]:  # warm-up of the rest
        pool.process_file(pool.Task(path, path.name), settings)
    datas = [p.read_bytes() for p in files]
    steps: dict[str, float] = {}

    def step(name: str, run: Callable[[], Any]) -> Any:
        start = time.process_time()
        result = run()
        steps[name] = (time.process_time() - start) / len(files) * 1e3
        return result

    decoded = step("decode", lambda: [clean.decode_bytes(d).text for d in datas])
    normal = step("normalise (ftfy, NFC, controls)", lambda: [clean.normalise_text(t)[0] for t in decoded])
    bodies = step("parse (boilerplate, headline, date)", lambda: [clean.parse_plain_article(t).body for t in normal])
    step("count words", lambda: [len(clean._WORD.findall(b)) for b in bodies])
    step("language id", lambda: [pool.classify_language(b[:5000]) for b in bodies])
    step("MinHash signature", lambda: [signature(b, 128, 5) for b in bodies])
    step("whole process_file", lambda: [pool.process_file(pool.Task(p, p.name), settings) for p in files])
    with _replaced_library_calls():
        step("whole process_file, with ftfy, py3langid and datasketch's MinHash called as before",
             lambda: [pool.process_file(pool.Task(p, p.name), settings) for p in files])
    return {"per_article_ms": steps, "once_per_process_s": once}


def profile_html(raw: Path, rounds: int = 5) -> dict[str, float]:
    """CPU ms per page of ``trafilatura.extract`` and of the toolkit's whole per-file work, in
    this process, alternated ``rounds`` times (best of each): the per-core ratio without the
    command's start-up; the toolkit's with the default ``html_focus`` and with "balanced"."""
    import trafilatura

    from toolkit.ingest import pool
    from toolkit.ingest.readers import ReaderOptions

    quiet_extractor_logs()
    files = sorted(raw.iterdir())
    settings = pool.WorkSettings(ReaderOptions(max_bytes=MAX_BYTES, min_words=20), 128, 5)
    datas = [p.read_bytes() for p in files]
    trafilatura.extract(datas[0])
    pool.process_file(pool.Task(files[0], files[0].name), settings)
    balanced = pool.WorkSettings(ReaderOptions(max_bytes=MAX_BYTES, min_words=20, html_focus="balanced"), 128, 5)
    best = {"trafilatura.extract": math.inf, "process_file": math.inf, "process_file, balanced": math.inf}
    for _ in range(rounds):
        start = time.process_time()
        for data in datas:
            trafilatura.extract(data)
        best["trafilatura.extract"] = min(best["trafilatura.extract"], time.process_time() - start)
        for name, work in (("process_file", settings), ("process_file, balanced", balanced)):
            start = time.process_time()
            for path in files:
                pool.process_file(pool.Task(path, path.name), work)
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / len(files) * 1e3 for name, seconds in best.items()}


@contextlib.contextmanager
def _replaced_library_calls() -> Iterator[None]:
    """The per-file work with the library calls its fast paths replace: ``ftfy.fix_text`` on
    every text, ``py3langid.classify``, and datasketch's sha1 MinHash (the former signature)."""
    import ftfy
    import py3langid
    from datasketch import MinHash

    from toolkit.ingest import clean, pool

    def datasketch_signature(text: str, num_perm: int, shingle_size: int) -> bytes:
        words = [w.lower() for w in re.findall(r"\w+", text)]
        shingles = ({" ".join(words).encode()} if len(words) <= shingle_size else
                    {" ".join(words[i:i + shingle_size]).encode() for i in range(len(words) - shingle_size + 1)})
        minhash = MinHash(num_perm=num_perm, seed=1, scheme="affine32")
        minhash.update_batch(shingles)
        return minhash.hashvalues.astype("<u4").tobytes()

    saved = clean.fix_text, pool.classify_language, pool.signature
    clean.fix_text = lambda text: ftfy.fix_text(text, clean._FTFY)
    pool.classify_language = lambda text: py3langid.classify(text)[0]
    pool.signature = datasketch_signature
    try:
        yield
    finally:
        clean.fix_text, pool.classify_language, pool.signature = saved


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of several runs of one command, with every run's seconds."""
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "all_seconds": [run["seconds"] for run in runs]}


def targets(corpus: Path, n_text: int, n_html: int, n_profile: int, rounds: int = 2) -> dict[str, Any]:
    """Issue 15's numbers. Every command and floor runs ``rounds`` times, the rounds one after
    the other, and the best of each is compared: the host's load moves single runs by ±30 %."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        raise RuntimeError("the targets need two CPUs")
    one, two = set(available[:1]), set(available[:2])
    runs: dict[str, list] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="ingest-targets-") as tmp:
        root = Path(tmp)
        text_raw, html_raw = root / "text" / "raw", root / "html" / "raw"
        text_mb = write_text_articles(text_raw, n_text) / 1e6
        html_mb = write_html_copies(html_raw, corpus_html_pages(corpus), n_html) / 1e6
        parallelism_before = cpu_parallelism(two)
        for r in range(rounds):
            where = root / f"round-{r}"
            runs["text_floor"].append(timed_floor(_TEXT_FLOOR, text_raw, one))
            runs["text_1"].append(timed_ingest_jobs(text_raw, 1, one, where))
            runs["text_2"].append(timed_ingest_jobs(text_raw, 2, two, where))
            runs["html_floor"].append(timed_floor(_HTML_FLOOR, html_raw, one))
            runs["html_1"].append(timed_ingest_jobs(html_raw, 1, one, where))
            runs["html_1_balanced"].append(timed_ingest_jobs(html_raw, 1, one, where, focus="balanced"))
            runs["html_2"].append(timed_ingest_jobs(html_raw, 2, two, where))
            runs["html_pair"].append(timed_floor_pair(_HTML_FLOOR, html_raw, available[:2]))
        pairs = [side_by_side(_HTML_FLOOR, html_raw, focus, cpus, root / f"pairs-{n}")
                 for n, (focus, cpus) in enumerate((focus, cpus) for cpus in (available[:2], available[1::-1])
                                                   for focus in (None, "balanced"))]
        one_page = root / "one-page" / "raw"
        write_html_copies(one_page, corpus_html_pages(corpus)[:1], 1)
        startup = {"floor_s": timed_floor(_HTML_FLOOR, one_page, one),
                   "ingest_s": timed_ingest_jobs(one_page, 1, one, root)["seconds"]}
        parallelism_after = cpu_parallelism(two)
        steps = profile_steps(text_raw, n_profile)
        html_pages = profile_html(root / "html" / "pages") if _corpus_copy(corpus, root / "html" / "pages") else {}
    text_floor, html_floor_s, html_floor_pair = min(runs["text_floor"]), min(runs["html_floor"]), min(runs["html_pair"])
    text_1, text_2, html_1, html_2, html_1_balanced = (
        _best(runs[key]) for key in ("text_1", "text_2", "html_1", "html_2", "html_1_balanced"))
    return {
        "rounds": rounds,
        "text": {"articles": n_text, "input_mb": text_mb, "floor_s": text_floor, "floor_all_s": runs["text_floor"],
                 "jobs_1": text_1, "jobs_2": text_2,
                 "per_s_1": n_text / text_1["seconds"], "per_s_2": n_text / text_2["seconds"],
                 "floor_per_s": n_text / text_floor, "speedup_2": text_1["seconds"] / text_2["seconds"]},
        "html": {"files": n_html, "input_mb": html_mb, "trafilatura_s": runs["html_floor"],
                 "jobs_1": html_1, "jobs_2": html_2,
                 "per_core_ratio": html_1["seconds"] / html_floor_s,
                 "jobs_1_balanced": html_1_balanced, "per_core_ratio_balanced": html_1_balanced["seconds"] / html_floor_s,
                 "speedup_2": html_1["seconds"] / html_2["seconds"], "one_page": startup,
                 "floor_pair_s": html_floor_pair, "floor_pair_all_s": runs["html_pair"],
                 "floor_speedup_2": html_floor_s / html_floor_pair, "side_by_side": pairs},
        "cpu_parallelism": [parallelism_before, parallelism_after],
        "steps_ms": steps, "profile_articles": n_profile, "html_pages_ms": html_pages,
    }


def _corpus_copy(corpus: Path, folder: Path) -> bool:
    """One copy of each corpus page (what ``profile_html`` times)."""
    pages = corpus_html_pages(corpus)
    write_html_copies(folder, pages, len(pages))
    return bool(pages)


def _runs(timed: dict[str, Any] | list[float]) -> str:
    """"best (every run)" of a row's seconds."""
    seconds = timed if isinstance(timed, list) else timed.get("all_seconds", [timed["seconds"]])
    best = f"{min(seconds):.1f}"
    return best if len(seconds) == 1 else f"{best} ({' / '.join(f'{x:.1f}' for x in seconds)})"


def render_targets(tg: dict[str, Any]) -> str:
    t, h = tg["text"], tg["html"]
    ok = lambda good: "**met**" if good else "not met"  # noqa: E731
    rows = [
        ["plain text, floor (read, decode, NFC, split, hash), 1 CPU", t["articles"], _runs(t.get("floor_all_s", [t["floor_s"]])),
         f"{t['floor_per_s']:.0f}", ""],
        ["plain text, `toolkit ingest --jobs 1`, 1 CPU", t["jobs_1"]["files_read"], _runs(t["jobs_1"]),
         f"{t['per_s_1']:.0f}", ""],
        ["plain text, `toolkit ingest --jobs 2`, 2 CPUs", t["jobs_2"]["files_read"], _runs(t["jobs_2"]),
         f"{t['per_s_2']:.0f}", f"≥ {TEXT_TARGET_PER_S:,}/s: {ok(t['per_s_2'] >= TEXT_TARGET_PER_S)}"],
        ["HTML, `trafilatura.extract` alone (floor), 1 CPU", h["files"],
         _runs(h["trafilatura_s"]), f"{h['files'] / min(h['trafilatura_s']):.1f}", ""],
        ["HTML, `toolkit ingest --jobs 1`, 1 CPU", h["jobs_1"]["files_read"], _runs(h["jobs_1"]),
         f"{h['files'] / h['jobs_1']['seconds']:.1f}",
         f"≤ {HTML_PER_CORE_TARGET}x the floor: {h['per_core_ratio']:.2f}x, {ok(h['per_core_ratio'] <= HTML_PER_CORE_TARGET)}"],
        *([["HTML, `toolkit ingest --jobs 1`, 1 CPU, `html_focus = \"balanced\"`", h["jobs_1_balanced"]["files_read"],
            _runs(h["jobs_1_balanced"]), f"{h['files'] / h['jobs_1_balanced']['seconds']:.1f}",
            f"≤ {HTML_PER_CORE_TARGET}x the floor: {h['per_core_ratio_balanced']:.2f}x, "
            f"{ok(h['per_core_ratio_balanced'] <= HTML_PER_CORE_TARGET)}"]] if "jobs_1_balanced" in h else []),
        ["HTML, `toolkit ingest --jobs 2`, 2 CPUs", h["jobs_2"]["files_read"], _runs(h["jobs_2"]),
         f"{h['files'] / h['jobs_2']['seconds']:.1f}",
         f"≥ {HTML_SPEEDUP_TARGET}x --jobs 1: {h['speedup_2']:.2f}x, {ok(h['speedup_2'] >= HTML_SPEEDUP_TARGET)}"],
    ]
    rounds = tg.get("rounds", 1)
    out = [f"\n### Targets: the whole `toolkit ingest` command ({t['articles']:,} plain-text files, "
           f"{t['input_mb']:.0f} MB; {h['files']} HTML copies of the corpus pages, {h['input_mb']:.0f} MB), "
           + ("one run each\n" if rounds == 1 else f"{rounds} rounds: the best of each row (every run in brackets)\n"),
           md_table(["run", "files", "seconds", "files/s", "target"], rows),
           f"\nPlain text: --jobs 2 / --jobs 1 speed-up {t['speedup_2']:.2f}x; --jobs 2 is "
           f"{t['floor_per_s'] / t['per_s_2']:.1f}x slower than the one-CPU floor.",
           f"\nCPUs really available (two pure-Python loops at once vs one, before / after): "
           f"{tg['cpu_parallelism'][0]:.2f} / {tg['cpu_parallelism'][1]:.2f} of 2.00 — the machine is shared; "
           "a two-CPU figure cannot beat it.",
           f"\nCPU ms per plain-text article, step by step, in one process ({tg['profile_articles']} files, "
           "after the loads below):\n",
           md_table(["step", "CPU ms / article"], [[k, f"{v:.2f}"] for k, v in tg["steps_ms"]["per_article_ms"].items()]),
           "\nLoaded once per process (each worker that needs it and did not inherit it from the parent):\n",
           md_table(["load", "CPU s"], [[k, f"{v:.2f}"] for k, v in tg["steps_ms"]["once_per_process_s"].items()])]
    if "floor_speedup_2" in h:
        out.append(f"\nThe machine's ceiling for this work: `trafilatura.extract` alone on the same files, shared by "
                   f"two processes at once (one per CPU), {h['floor_pair_s']:.1f} s: **{h['floor_speedup_2']:.2f}x** "
                   f"faster than one process. `toolkit ingest --jobs 2` reaches {h['speedup_2']:.2f}x, "
                   f"{h['speedup_2'] / h['floor_speedup_2']:.0%} of that ceiling.")
    if h.get("side_by_side"):
        rows = [[f"`html_focus = \"{pair['focus']}\"`" if pair["focus"] else "default (`\"precision\"`)",
                 f"{pair['cpus'][0]} / {pair['cpus'][1]}", f"{pair['floor_s']:.1f}", f"{pair['ingest_s']:.1f}",
                 f"**{pair['ratio']:.2f}x**"] for pair in h["side_by_side"]]
        out += ["\nHTML per core, side by side: the floor and `toolkit ingest --jobs 1` started together, each on "
                "its own CPU, so both meet the same host load (swapped between pairs):\n",
                md_table(["ingest", "CPU floor / ingest", "floor s", "ingest s", "ingest / floor"], rows)]
    if "one_page" in h:
        out.append(f"\nStart-up, one HTML page, 1 CPU: `toolkit ingest` {h['one_page']['ingest_s']:.2f} s, "
                   f"the floor's script {h['one_page']['floor_s']:.2f} s (imports; the language model).")
    pages = tg.get("html_pages_ms")
    if pages:
        out.append(f"\nHTML in one process, CPU ms per page (corpus pages, best of 5 alternated rounds): "
                   f"`trafilatura.extract` {pages['trafilatura.extract']:.1f}, the toolkit's whole per-file work "
                   f"{pages['process_file']:.1f}: **{pages['process_file'] / pages['trafilatura.extract']:.2f}x**"
                   + (f"; with `html_focus = \"balanced\"` {pages['process_file, balanced']:.1f}: "
                      f"**{pages['process_file, balanced'] / pages['trafilatura.extract']:.2f}x**"
                      if "process_file, balanced" in pages else ""))
    return "\n".join(out)


# Report ----------------------------------------------------------------------------------

def render(results: dict[str, Any]) -> str:
    out = []
    if "trafilatura_eval" in results:
        ev = results["trafilatura_eval"]
        out.append(f"### Extraction quality: trafilatura_eval ({len(ev['pages'])} pages)\n")
        rows = []
        for name, s in ev["summary"].items():
            rows.append([name, pct(s["with_found"], s["with_total"]), pct(s["without_absent"], s["without_total"]),
                         pct(s["title_exact"], s["title_total"]), pct(s["date_exact"], s["date_total"]), s["rejected"]])
        out.append(md_table(["extractor", "must-contain found", "must-not-contain absent", "title exact",
                             "date exact", "no text"], rows))
        out.append("\nPer page (toolkit / trafilatura; `ok` = all found, all absent, or exact match):\n")
        rows = []
        for p in ev["pages"]:
            t, b, g = p["toolkit"], p["trafilatura"], p["gold"]
            found = [f"{g['n_with'] - len(r['missing'])}/{g['n_with']}" for r in (t, b)]
            absent = [f"{g['n_without'] - len(r['leaked'])}/{g['n_without']}" for r in (t, b)]
            rows.append([p["file"], " · ".join(found), " · ".join(absent),
                         f"{mark(t['title_ok'])} · {mark(b['title_ok'])}",
                         f"{mark(t['date_ok'])} · {mark(b['date_ok'])}"])
        out.append(md_table(["page", "must-contain", "must-not-contain absent", "title", "date"], rows))
        misses = []
        for p in ev["pages"]:
            t, g = p["toolkit"], p["gold"]
            for s in t["missing"]:
                misses.append(f"- {p['file']}: missing {s!r}")
            for s in t["leaked"]:
                misses.append(f"- {p['file']}: leaked {s!r}")
            if t["title_ok"] is False:
                misses.append(f"- {p['file']}: title {t['title']!r}, gold {g['title']!r}")
            if t["date_ok"] is False:
                misses.append(f"- {p['file']}: date {t['date']}, gold {g['date']}")
        if misses:
            out.append("\nToolkit misses:\n\n" + "\n".join(misses))
    if "newspaper3k" in results:
        np3 = results["newspaper3k"]
        out.append(f"\n### Extraction quality: newspaper3k_tests token F1 ({len(np3['pages'])} pages)\n")
        names = [name for name in np3["mean_f1"]]
        rows = [[p["file"], p["expected"], p["expected_tokens"], *(f"{p[name]['f1']:.3f}" for name in names)]
                for p in np3["pages"]]
        rows.append(["**mean**", "", "", *(f"**{np3['mean_f1'][name]:.3f}**" for name in names)])
        out.append(md_table(["page", "expected", "expected tokens", *(f"{name} F1" for name in names)], rows))
    if "throughput" in results:
        tp = results["throughput"]
        parts = tp["parts"]
        labels = {
            "text_ingest": "`ingest()` end to end, synthetic plain text",
            "html_ingest": "`ingest()` end to end, corpus HTML copies",
            "html_extract_html": "`readers.extract_html()` alone, same HTML",
            "html_trafilatura": "`trafilatura.extract()` defaults alone, same HTML (floor)",
        }
        out.append(f"\n### Throughput (median of {len(parts['text_ingest']['seconds'])} runs after a warm-up; "
                   "each row in its own process)\n")
        rows = [[labels[k], p["items"], f"{p['input_mb']:.1f}", f"{p['median_s']:.2f}",
                 f"{min(p['seconds']):.2f}–{max(p['seconds']):.2f}", f"{p['per_s']:.1f}",
                 f"{p['rss_after_warmup_mib']:.0f}", f"{p['peak_rss_mib']:.0f}"]
                for k, p in parts.items()]
        out.append(md_table(["measurement", "files", "MB", "median s", "range s", "articles/s",
                             "peak RSS after warm-up MiB", "peak RSS MiB"], rows))
        h, t = parts["html_ingest"], parts["text_ingest"]
        out.append(f"\nText ingest kept {t['new_articles']} of {t['items']} articles ({t['with_title']} with a title, "
                   f"{t['with_date']} with a date, {t['boilerplate_leaked']} with boilerplate left); HTML ingest kept "
                   f"{h['new_articles']} ({h['exact_duplicates']} exact duplicates of the replicated pages, "
                   f"{h['rejected']} rejected).\n")
        out.append(f"Ratio HTML `ingest()` / `trafilatura.extract()`: **{tp['ratio_ingest_vs_trafilatura']:.2f}x**; "
                   f"`extract_html()` / `trafilatura.extract()`: **{tp['ratio_extract_html_vs_trafilatura']:.2f}x**")
    if "scale" in results:
        out.append(render_scale(results["scale"]))
    if "targets" in results:
        out.append(render_targets(results["targets"]))
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per throughput row (median reported)")
    parser.add_argument("--json", metavar="OUT", help="also write every figure to this JSON file")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"default: {DEFAULT_CORPUS}")
    parser.add_argument("--text-articles", type=int, default=2000, help="synthetic plain-text articles")
    parser.add_argument("--html-files", type=int, default=200, help="HTML copies of the corpus pages")
    parser.add_argument("--only", choices=["quality", "throughput", "scale", "targets"], help="run one part only")
    parser.add_argument("--target-articles", type=int, default=20_000,
                        help="synthetic plain-text files of the targets part")
    parser.add_argument("--target-rounds", type=int, default=2,
                        help="rounds of the targets' commands and floors; the best of each is compared")
    parser.add_argument("--target-html", type=int, default=1000,
                        help="HTML copies of the targets part (a day's crawl: the command's start-up, "
                             "timed on one page, is a small part of it)")
    parser.add_argument("--profile-articles", type=int, default=1000,
                        help="plain-text files the targets part times step by step in-process")
    parser.add_argument("--scale-articles", type=int, default=20_000,
                        help="synthetic plain-text articles of the scale part's full runs")
    parser.add_argument("--scale-add", type=float, default=1.0,
                        help="percent more files for the scale part's incremental run")
    parser.add_argument("--worker", choices=["ingest", "extract_html", "trafilatura"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    articles = args.corpus / "articles"
    if not articles.is_dir():
        print(f"corpus not found: {articles} (pass --corpus DIR)", file=sys.stderr)
        return 2
    import trafilatura

    # dateutil warns about "EST" in some pages' dates; the warning says nothing about the figures.
    warnings.filterwarnings("ignore", message="tzname .* identified but not understood")
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "trafilatura": trafilatura.__version__},
        "command": " ".join(["python", "bench/ingest_bench.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    started = time.perf_counter()
    if args.only not in ("throughput", "scale", "targets"):
        quiet_extractor_logs()  # the baseline's log lines would drown the tables
        results["trafilatura_eval"] = quality_trafilatura_eval(articles / "trafilatura_eval")
        results["newspaper3k"] = quality_newspaper3k(articles / "newspaper3k_tests")
    if args.only == "scale":
        results["scale"] = scale(args.scale_articles, args.scale_add)
    else:
        if args.only in (None, "throughput"):
            results["throughput"] = throughput(args.corpus, args.text_articles, args.html_files, args.repeat)
        if args.only in (None, "targets"):
            results["targets"] = targets(args.corpus, args.target_articles, args.target_html,
                                         args.profile_articles, args.target_rounds)
    results["wall_s"] = time.perf_counter() - started
    m = results["machine"]
    print(f"## Ingest benchmark — {results['date']}, {m['cpus']} CPUs, Python {m['python']}, "
          f"trafilatura {m['trafilatura']}\n")
    print(render(results))
    print(f"\n(total {results['wall_s']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
