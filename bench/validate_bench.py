"""Validation benchmark: `toolkit validate EXPORT --json` as users run it, against the naive loop.

    .venv/bin/python bench/validate_bench.py [--tasks 20000] [--export PATH] [--repeat 3]
                                             [--kinds naive,command] [--variant LABEL=DIR]
                                             [--workers 2] [--profile] [--size-gb 2] [--json OUT]

Validating an export = for every annotation in the file, build its normalised record
(``toolkit.validation.normalise.normalise_task``) and check it against the annotation JSON Schema.

1. Generates the synthetic export with ``bench/gen_export.py`` (seeded, one line as the
   server writes it, 1 % of the annotations with a defect; the v1 article-level scheme
   ``news-events-v1``), or reuses ``--export``; makes a workspace of that scheme
   (``toolkit.scaffold.init_workspace(..., scheme="news-events-v1")``) to run the command in.
2. The two ways that give the headline ratio are whole processes, timed from outside (wall
   time from start to exit, imports and start-up included; peak RSS from ``wait4``: the
   largest process of the tree, and the sum over the tree sampled every 20 ms):
   * ``command``: ``.venv/bin/toolkit validate EXPORT --json`` in the workspace, both layers,
     default workers (what users run); its pairs are read from the JSON report;
   * ``naive``: ``python bench/validate_bench.py --child naive``, a process that imports what
     it needs, then ``json.load``, ``normalise_task`` per task and
     ``Draft202012Validator(schema, format_checker=FORMAT_CHECKER).iter_errors`` per record.
   ``--variant LABEL=DIR`` adds the way ``command:LABEL``: the same command with the toolkit of
   DIR first on ``PYTHONPATH`` (a copy with a change to try, or main before one), in the same run.
   The other ways time an in-process call from inside their child (imports excluded), to see
   where the time goes; they are diagnostics, not what users get:
   * ``naive-inproc``: the naive loop, its clock started after the imports;
   * ``toolkit``: the toolkit's own code path, ``toolkit.validation.validate_export`` with the
     JSON Schema layer only (like for like with naive): items streamed by
     ``toolkit.validation.jsonstream``, normalised, checked by the compiled check
     (``toolkit.validation.fastcheck``) with jsonschema's ``iter_errors`` only for what it rejects, in
     worker processes (the default: one per core, at most 4);
   * ``toolkit-1proc``: the same in one process; ``toolkit-full``: both layers (semantic checks
     too), as `toolkit validate FILE` runs;
   * ``fast`` / ``fast-parallel``: the same work written out in this script, without the
     toolkit's report objects (``fast`` also times its phases: parse / normalise / check).
3. Checks that every way found exactly the same set of (annotation id, error path) pairs
   (the command: those of its JSON Schema error types) and the same quarantine entries, and
   prints a Markdown table: annotations/s, wall time, peak RSS, speed-up over ``naive`` (the
   process; ``naive-inproc`` when only that ran). With ``--repeat N`` the ways alternate and
   the best of N is shown with the range (the machine is shared: say so with the figures). ``--profile`` adds a cProfile of the fast path.
   ``--size-gb N`` instead measures the fast ways' peak RSS on an N GB export generated to
   /tmp and deleted afterwards.

Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULT_MARK = "VALIDATE-BENCH-RESULT "
KINDS = ("naive", "command", "naive-inproc", "toolkit", "toolkit-1proc", "toolkit-full", "fast", "fast-parallel")
DEFAULT_KINDS = "naive,command"
PROCESS_KINDS = ("naive", "command")  # timed from outside, as whole processes
# Error types of the JSON Schema layer: what the naive loop can be compared with.
SCHEMA_TYPES = {"wrong-type", "missing-field", "unexpected-field", "unknown-label", "unknown-choice",
                "too-many-choices", "out-of-range", "too-long", "bad-format", "duplicate-value", "schema"}
BATCH = 64  # tasks per batch sent to a worker


def vmhwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def error_path(error: Any) -> str:
    from toolkit.validation import json_path

    return json_path(error.absolute_path)


def reference_validator(scheme: Any) -> Any:
    import jsonschema

    from toolkit.scheme import build_annotation_schema

    schema = build_annotation_schema(scheme)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def apply_normalise_fix() -> None:
    """What-if: a regex for ``_Utf16Index``'s astral test, patched in this process only."""
    import re

    from toolkit.validation import normalise

    astral = re.compile("[\U00010000-\U0010ffff]")

    def __init__(self: Any, text: str) -> None:
        self._astral = astral.search(text) is not None
        self._text = text
        self._table = None

    normalise._Utf16Index.__init__ = __init__


# ------------------------------------------------------------------------ children


def child_naive(export: str) -> dict[str, Any]:
    from toolkit.validation.normalise import normalise_task
    from toolkit.scheme import builtin_scheme

    scheme = builtin_scheme("news-events-v1")
    validator = reference_validator(scheme)
    t0 = time.perf_counter()
    with open(export, encoding="utf-8") as fh:
        tasks = json.load(fh)
    pairs, quarantine, annotations = [], [], 0
    for task in tasks:
        result = normalise_task(task, scheme)
        quarantine += [(e["annotation_id"], e["kind"]) for e in result.quarantine]
        for record in result.records:
            annotations += 1
            for error in validator.iter_errors(record):
                pairs.append((record["annotation_id"], error_path(error)))
    annotations += sum(1 for e in quarantine if e[1] == "annotation")
    return {"seconds": time.perf_counter() - t0, "annotations": annotations, "pairs": pairs,
            "quarantine": quarantine, "peak_rss_mib": vmhwm_mib()}


def _timed_items(items: Iterator[Any], clock: dict[str, float]) -> Iterator[Any]:
    perf = time.perf_counter
    while True:
        t = perf()
        try:
            item = next(items)
        except StopIteration:
            clock["parse"] += perf() - t
            return
        clock["parse"] += perf() - t
        yield item


def child_fast(export: str) -> dict[str, Any]:
    from toolkit.validation.fastcheck import compile_record_check
    from toolkit.validation.jsonstream import iter_json_items
    from toolkit.validation.normalise import normalise_task
    from toolkit.scheme import builtin_scheme

    perf = time.perf_counter
    scheme = builtin_scheme("news-events-v1")
    validator = reference_validator(scheme)
    check = compile_record_check(scheme)
    clock = {"parse": 0.0, "normalise": 0.0, "check": 0.0, "errors": 0.0}
    t0 = perf()
    pairs, quarantine, annotations = [], [], 0
    for task in _timed_items(iter_json_items(export), clock):
        t = perf()
        result = normalise_task(task, scheme)
        t1 = perf()
        clock["normalise"] += t1 - t
        quarantine += [(e["annotation_id"], e["kind"]) for e in result.quarantine]
        for record in result.records:
            annotations += 1
            if not check(record):
                t2 = perf()
                for error in validator.iter_errors(record):
                    pairs.append((record["annotation_id"], error_path(error)))
                t1 += perf() - t2
                clock["errors"] += perf() - t2
        clock["check"] += perf() - t1
    annotations += sum(1 for e in quarantine if e[1] == "annotation")
    return {"seconds": perf() - t0, "annotations": annotations, "pairs": pairs,
            "quarantine": quarantine, "peak_rss_mib": vmhwm_mib(), "phases": clock}


def child_toolkit(export: str, semantic: bool, workers: int | None = None) -> dict[str, Any]:
    """The toolkit's own code path: ``toolkit.validation.validate_export`` (what `toolkit validate
    FILE` runs). ``semantic=False``: the JSON Schema layer only, like for like with naive."""
    from toolkit.scheme import builtin_scheme
    from toolkit.validation import validate_export

    scheme = builtin_scheme("news-events-v1")
    t0 = time.perf_counter()
    report = validate_export(Path(export), scheme, semantic=semantic, workers=workers)
    seconds = time.perf_counter() - t0
    pairs = [(e.annotation_id, e.path) for e in report.errors if e.type in SCHEMA_TYPES]
    import resource

    # The workers' peaks: RUSAGE_CHILDREN gives the largest finished child's, in KiB.
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    used = 1 if workers == 1 else min(os.cpu_count() or 1, 4)
    parent = vmhwm_mib()
    return {"seconds": seconds, "annotations": report.records, "pairs": pairs, "quarantine": None,
            "semantic_errors": sum(e.type not in SCHEMA_TYPES for e in report.errors),
            "peak_rss_mib": parent + (worker * used if used > 1 else 0), "parent_rss_mib": parent,
            "worker_rss_mib": worker if used > 1 else 0}


_WORKER: dict[str, Any] = {}


def _worker_init(fix: bool) -> None:
    from toolkit.validation.fastcheck import compile_record_check
    from toolkit.scheme import builtin_scheme

    if fix:
        apply_normalise_fix()
    scheme = builtin_scheme("news-events-v1")
    _WORKER.update(scheme=scheme, check=compile_record_check(scheme),
                   validator=reference_validator(scheme))


def _worker_batch(batch: list[tuple[int, bytes]]) -> tuple[int, list, list, int, float]:
    from toolkit.validation.jsonstream import decode_item
    from toolkit.validation.normalise import normalise_task

    scheme, check, validator = _WORKER["scheme"], _WORKER["check"], _WORKER["validator"]
    pairs, quarantine, annotations = [], [], 0
    for offset, raw in batch:
        result = normalise_task(decode_item(raw, offset=offset), scheme)
        quarantine += [(e["annotation_id"], e["kind"]) for e in result.quarantine]
        for record in result.records:
            annotations += 1
            if not check(record):
                for error in validator.iter_errors(record):
                    pairs.append((record["annotation_id"], error_path(error)))
    return annotations, pairs, quarantine, os.getpid(), vmhwm_mib()


def _batches(export: str, size: int) -> Iterator[list[tuple[int, bytes]]]:
    from toolkit.validation.jsonstream import iter_raw_items

    batch: list[tuple[int, bytes]] = []
    for item in iter_raw_items(export):
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def child_fast_parallel(export: str, workers: int, fix: bool) -> dict[str, Any]:
    import multiprocessing as mp

    # Import in the parent (as the other ways do before their clock starts), so that the
    # forked workers inherit the modules instead of importing pyarrow & co. each.
    import toolkit.validation.fastcheck  # noqa: F401
    import toolkit.validation.jsonstream  # noqa: F401
    import toolkit.validation.normalise  # noqa: F401
    from toolkit.scheme import builtin_scheme

    reference_validator(builtin_scheme("news-events-v1"))
    t0 = time.perf_counter()
    pairs, quarantine, annotations, worker_peak = [], [], 0, {}
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(fix,)) as pool:
        # imap keeps order and bounds nothing by itself; the parent is the faster side
        # (splitting only), so cap what is in flight to keep memory bounded.
        for n, p, q, pid, peak in _bounded_imap(pool, _batches(export, BATCH), 4 * workers):
            annotations += n
            pairs += p
            quarantine += q
            worker_peak[pid] = max(worker_peak.get(pid, 0.0), peak)
    seconds = time.perf_counter() - t0
    annotations += sum(1 for e in quarantine if e[1] == "annotation")
    return {"seconds": seconds, "annotations": annotations, "pairs": pairs,
            "quarantine": quarantine, "peak_rss_mib": vmhwm_mib() + sum(worker_peak.values()),
            "parent_rss_mib": vmhwm_mib(), "worker_rss_mib": sorted(worker_peak.values())}


def _bounded_imap(pool: Any, jobs: Iterator[Any], in_flight: int) -> Iterator[Any]:
    from collections import deque

    pending: deque = deque()
    for job in jobs:
        pending.append(pool.apply_async(_worker_batch, (job,)))
        if len(pending) >= in_flight:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def run_child(kind: str, export: str, workers: int) -> None:
    if kind.endswith("+fix"):
        apply_normalise_fix()
    if kind in ("naive", "naive-inproc"):
        result = child_naive(export)
    elif kind in ("toolkit", "toolkit-full"):
        result = child_toolkit(export, semantic=kind == "toolkit-full")
    elif kind == "toolkit-1proc":
        result = child_toolkit(export, semantic=False, workers=1)
    elif kind in ("fast", "fast+fix"):
        result = child_fast(export)
    else:
        result = child_fast_parallel(export, workers, kind.endswith("+fix"))
    print(RESULT_MARK + json.dumps(result))


def in_subprocess(kind: str, export: Path, workers: int, workspace: Path | None = None,
                  variants: dict[str, str] | None = None) -> dict[str, Any]:
    if kind == "command":
        return run_command(export, workspace)
    if kind.startswith("command:"):  # the command with another copy of the toolkit first on the path
        return run_command(export, workspace, pythonpath=(variants or {})[kind.partition(":")[2]])
    # A PYTHONPATH given to the bench comes first (to measure a scratch copy of the toolkit).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))}
    argv = [sys.executable, __file__, "--child", kind, "--export", str(export), "--workers", str(workers)]
    code, out, err, timing = timed_process(argv, env=env)
    for line in out.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            if kind in PROCESS_KINDS:  # the whole process, as a user would wait for it
                result.update(timing)
            return result
    raise RuntimeError(f"{kind} child failed ({code}):\n{err[-3000:]}")


def _tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and its descendants now (Linux /proc), in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def timed_process(argv: list[str], *, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> tuple[int, str, str, dict[str, float]]:
    """Run ``argv`` to its end; wall time, and peak RSS of the largest process of its tree
    (``wait4``'s maxrss) and of the whole tree (sampled every 20 ms)."""
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        peak_tree = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak_tree[0] = max(peak_tree[0], _tree_rss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        timing = {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024,
                  "tree_rss_mib": peak_tree[0] / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}
        return (proc.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), timing)


def toolkit_command() -> Path:
    venv = REPO / ".venv" / "bin" / "toolkit"
    return venv if venv.exists() else Path(sys.executable).with_name("toolkit")


def run_command(export: Path, workspace: Path | None, pythonpath: str | None = None) -> dict[str, Any]:
    """`toolkit validate EXPORT --json` in the workspace, as a user runs it."""
    argv = [str(toolkit_command()), "validate", str(export), "--json"]
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    code, out, err, timing = timed_process(argv, cwd=workspace, env=env)
    if code not in (0, 1):
        raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{err[-3000:]}")
    report = json.loads(out)
    errors = report["errors"]
    pairs = [(e["annotation_id"], e["path"]) for e in errors if e["type"] in SCHEMA_TYPES]
    return {**timing, "annotations": report["stats"]["records"], "pairs": pairs, "quarantine": None,
            "semantic_errors": sum(e["type"] not in SCHEMA_TYPES for e in errors)}


def make_workspace(root: Path) -> Path:
    """A workspace of the scheme the export was made for (the v1 article-level scheme)."""
    from toolkit.scaffold import init_workspace

    ws = root / "ws-news-events-v1"
    if not (ws / "toolkit.toml").exists():
        init_workspace(ws, scheme="news-events-v1")
    return ws


def profile_fast(export: Path, fix: bool = False) -> str:
    """cProfile of one extra, untimed fast run (in a subprocess), top functions by own time."""
    code = (
        "import cProfile, io, pstats, sys\n"
        "sys.path[:0] = [sys.argv[1], sys.argv[1] + '/bench']\n"
        "import validate_bench as vb\n"
        "if sys.argv[3] == '1':\n"
        "    vb.apply_normalise_fix()\n"
        "profiler = cProfile.Profile()\n"
        "profiler.runcall(vb.child_fast, sys.argv[2])\n"
        "out = io.StringIO()\n"
        "pstats.Stats(profiler, stream=out).sort_stats('tottime').print_stats(15)\n"
        "print(out.getvalue())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(REPO), str(export), "1" if fix else "0"],
                          capture_output=True, text=True)
    out = proc.stdout
    return out[out.find("function calls"):] if "ncalls" in out else proc.stderr[-3000:]


# ------------------------------------------------------------------------ report


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def compare(results: dict[str, dict[str, Any]]) -> list[str]:
    name = next((k for k in ("naive", "naive-inproc") if k in results), next(iter(results)))
    base = results[name]
    # Sets: jsonschema may report two errors at one path (type and enum for a list given to a
    # single choice); the toolkit reports that one problem once.
    want_pairs = sorted(set(map(tuple, base["pairs"])))
    want_q = sorted(map(tuple, base["quarantine"]))
    lines = []
    for kind, res in results.items():
        pairs = sorted(set(map(tuple, res["pairs"])))
        same = pairs == want_pairs and (res["quarantine"] is None
                                        or sorted(map(tuple, res["quarantine"])) == want_q)
        invalid = len({p[0] for p in pairs})
        quarantine = ("(not compared)" if res["quarantine"] is None
                      else f"{len(res['quarantine'])} quarantine entries")
        extra = (f", plus {res['semantic_errors']} errors of the semantic layer and the mapping"
                 if res.get("semantic_errors") else "")
        lines.append(f"- {kind}: {len(pairs)} (annotation id, error path) pairs in {invalid} "
                     f"invalid records{extra}, {quarantine}, "
                     f"{res['annotations']} annotations: "
                     + (f"identical to {name}" if same else f"**DIFFERENT from {name}**"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--export", type=Path, default=None,
                        help="reuse this export (default: generate one to /tmp)")
    parser.add_argument("--invalid-rate", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--kinds", default=DEFAULT_KINDS, help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR",
                        help="also time the command as way `command:LABEL` with DIR (a copy of the "
                             "repository holding another toolkit/) first on PYTHONPATH; repeatable")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="run the command here (default: a news-events-v1 workspace made in /tmp)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--size-gb", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, str(args.export), args.workers)
        return 0

    import gen_export

    print(f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    if args.size_gb:
        return big_export(args)
    export = args.export
    if export is None:
        export = Path(tempfile.gettempdir()) / f"validate-bench-{args.tasks}-{args.invalid_rate}.json"
    if not export.exists():
        t = time.perf_counter()
        info = gen_export.write_export(export, args.tasks, invalid_rate=args.invalid_rate)
        print(f"Generated {export}: {info['tasks']} tasks, {info['annotations']} annotations, "
              f"{info['bytes'] / 1e6:.0f} MB, defects {info['defects']} "
              f"({time.perf_counter() - t:.0f} s)")
    size_mb = export.stat().st_size / 1e6
    print(f"Export: {export} ({size_mb:.0f} MB)\n")

    variants = dict(v.split("=", 1) for v in args.variant)
    kinds = [k for k in args.kinds.split(",") if k] + [f"command:{label}" for label in variants]
    unknown = set(kinds) - set(KINDS) - {"fast+fix", "fast-parallel+fix"} - {f"command:{v}" for v in variants}
    if unknown:
        parser.error(f"unknown --kinds {', '.join(sorted(unknown))}")
    workspace = args.workspace
    if any(k.startswith("command") for k in kinds) and workspace is None:
        workspace = make_workspace(Path(tempfile.gettempdir()) / "validate-bench")
    if any(k.startswith("command") for k in kinds):
        print(f"Command: cd {workspace} && {toolkit_command()} validate {export} --json\n")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for round_ in range(args.repeat):
        order = kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]
        for kind in order:
            res = in_subprocess(kind, export, args.workers, workspace, variants)
            runs[kind].append(res)
            print(f"  {kind}: {res['seconds']:.2f} s, {res['peak_rss_mib']:.0f} MiB", flush=True)
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
    base = "naive" if "naive" in best else "naive-inproc" if "naive-inproc" in best else None
    naive_s = best[base]["seconds"] if base else None
    rows = []
    for kind, res in best.items():
        secs = [r["seconds"] for r in runs[kind]]
        timed_as = "process" if kind in PROCESS_KINDS or kind.startswith("command:") else "in-process call"
        rows.append([kind, timed_as,
                     f"{res['annotations'] / res['seconds']:,.0f}",
                     f"{res['seconds']:.2f}" + (f" ({min(secs):.2f}-{max(secs):.2f})" if len(secs) > 1 else ""),
                     f"{res['cpu_s']:.1f}" if "cpu_s" in res else "-",
                     f"{res['peak_rss_mib']:,.0f}",
                     f"{res['tree_rss_mib']:,.0f}" if "tree_rss_mib" in res else "-",
                     f"{naive_s / res['seconds']:.1f}x" if naive_s else "-"])
    print()
    print(md_table(["way", "timed as", "annotations/s", "wall s", "CPU s", "peak RSS MiB (largest process)",
                    "peak RSS MiB (process tree, sampled)", f"vs {base}"], rows))
    print()
    print("\n".join(compare(best)))
    if "fast" in best:
        phases = best["fast"]["phases"]
        total = best["fast"]["seconds"]
        print("\nfast, where the time goes: " + ", ".join(
            f"{k} {v:.2f} s ({v / total:.0%})" for k, v in phases.items()))
    if "fast+fix" in best:
        phases = best["fast+fix"]["phases"]
        total = best["fast+fix"]["seconds"]
        print("fast+fix, where the time goes: " + ", ".join(
            f"{k} {v:.2f} s ({v / total:.0%})" for k, v in phases.items()))
    if args.profile:
        for fix in (False, True):
            print(f"\ncProfile of the fast path{' with the normalise fix' if fix else ''} "
                  "(cProfile's overhead inflates small, frequent calls):\n")
            print(profile_fast(export, fix))
    if args.json:
        args.json.write_text(json.dumps({k: [{kk: vv for kk, vv in r.items()
                                               if kk not in ("pairs", "quarantine")} for r in v]
                                          for k, v in runs.items()}, indent=2))
    return 0


def big_export(args: argparse.Namespace) -> int:
    import gen_export

    path = Path(tempfile.gettempdir()) / f"validate-bench-{args.size_gb:g}gb.json"
    try:
        t = time.perf_counter()
        info = gen_export.write_export(path, 1, invalid_rate=args.invalid_rate,
                                       target_bytes=int(args.size_gb * (1 << 30)))
        print(f"Generated {path}: {info['tasks']} tasks, {info['annotations']} annotations, "
              f"{info['bytes'] / (1 << 30):.2f} GiB ({time.perf_counter() - t:.0f} s)\n")
        kinds = [k for k in args.kinds.split(",") if k and not k.startswith("naive")]
        workspace = args.workspace or make_workspace(Path(tempfile.gettempdir()) / "validate-bench")
        rows = []
        for kind in kinds:
            res = in_subprocess(kind, path, args.workers, workspace)
            rows.append([kind, f"{info['bytes'] / (1 << 30):.2f} GiB",
                         f"{res['annotations'] / res['seconds']:,.0f}", f"{res['seconds']:.1f}",
                         f"{res['peak_rss_mib']:,.0f}"])
            print(f"  {kind}: {res['seconds']:.1f} s, {res['peak_rss_mib']:.0f} MiB", flush=True)
        print()
        print(md_table(["way", "export", "annotations/s", "wall s", "peak RSS MiB"], rows))
    finally:
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
