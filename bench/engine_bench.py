"""Which distributed engine runs ingest's per-file work: the toolkit's pool against Ray, Dask, datatrove.

    PYTHONPATH=. .venv/bin/python bench/engine_bench.py [--text 4000] [--html 200] [--json OUT]

The per-file stage of ``toolkit ingest`` (``pool.process_file``: read, decode, extract, clean,
language id, article id, MinHash signature) on ``--text`` generated seed-shaped plain-text
articles (``ingest_bench.write_text_articles``) and ``--html`` copies of the corpus pages, by:

* ``pool``: the toolkit's own ``pool.run`` with 2 worker processes (the baseline);
* ``ray``: ``toolkit.ingest.distributed.run`` on a local Ray cluster started here with
  ``ray start``: a head and one worker node, 1 CPU each, on loopback (127.0.0.2, 127.0.0.3);
* ``dask``: the same chunks as Dask futures on a ``distributed`` scheduler and 2 single-thread
  worker processes on 127.0.0.1, in input order with the same bound on chunks in flight;
* ``datatrove``: datatrove's ``LocalPipelineExecutor`` (2 workers, 2 ranks) running the same
  function as a pipeline step; each rank writes its results to a file, read back in order
  at the end (datatrove's steps stream documents to writers, not back to the caller);
* ``datatrove-ray``: the same pipeline step with datatrove's ``RayPipelineExecutor`` on the same
  kind of local Ray cluster.

Needs the ``cluster`` extra (Ray) and, for the comparison only, ``pip install "dask[distributed]"
datatrove`` (datatrove without its ``processing`` extra, which would downgrade trafilatura).

Each engine runs in its own subprocess (its peak RSS is the driver's own; Ray and Dask
workers are other processes), on the same files, and its results are compared with the pool's
(equal ids, rows, signatures, rejections: ``same``). ``start`` is the time to start the
cluster (Ray nodes, Dask scheduler and workers) and join it (``join``: ``ray.init`` alone, what
every ``toolkit ingest --cluster`` pays on a running cluster); ``run`` the per-file stage alone,
from the first task sent to the last result received, including the workers' first imports.
``--kill``: also kill one worker process (SIGKILL) a third of the way through and record whether
the run finishes with the same results (Ray, Dask) or fails.

2 cores shared with other work: each figure is one run, read the ratios to the pool. Nothing is
written to the repository; files, clusters and logs live in a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PYTHON_BIN = Path(sys.executable).parent


# A local Ray cluster (also used by tests/test_distributed.py) ---------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRayCluster:
    """A real Ray cluster on this machine: a head and ``workers`` more nodes, each a separate
    ``ray start --block`` process (its own session, stopped by its process group id), each on its
    own loopback address (Ray replaces 127.0.0.1 by the machine's network address for a cluster
    of several nodes; 127.0.0.2 and up stay on loopback), every port chosen free, logs and
    sockets under ``temp_dir``."""

    def __init__(self, temp_dir: Path, *, workers: int = 1, cpus: int = 1, ray_bin: Path | None = None) -> None:
        self.temp_dir = Path(temp_dir)
        self.workers = workers
        self.cpus = cpus
        self.ray_bin = ray_bin or PYTHON_BIN / "ray"
        self.processes: list[subprocess.Popen] = []
        self._ports: set[int] = set()
        self.host = "127.0.0.2"
        self.port = self._free_port()
        self.address = f"{self.host}:{self.port}"
        self.client_address = f"ray://{self.host}:{self._free_port()}"  # Ray Client, for a driver outside the cluster

    def _free_port(self) -> int:
        """A free port no other component of this cluster was given: ``free_port`` releases the
        port it found, and the next call may be handed the same one (Ray then refuses to start a
        node whose components share a port)."""
        while (port := free_port()) in self._ports:
            pass
        self._ports.add(port)
        return port

    def _node(self, ip: str, extra: list[str], log: str) -> subprocess.Popen:
        args = [str(self.ray_bin), "start", "--block", "--num-cpus", str(self.cpus), "--node-ip-address", ip,
                "--disable-usage-stats", "--include-log-monitor", "false",
                "--object-store-memory", str(100 * 2**20), "--node-manager-port", str(self._free_port()),
                "--object-manager-port", str(self._free_port()), "--metrics-export-port", str(self._free_port()),
                "--dashboard-agent-listen-port", str(self._free_port()), "--dashboard-agent-grpc-port", str(self._free_port()),
                "--runtime-env-agent-port", str(self._free_port()), *extra]
        env = {**os.environ, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.temp_dir / log, "wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env, start_new_session=True)
        self.processes.append(process)
        return process

    def start(self, timeout: float = 180) -> "LocalRayCluster":
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            self._node(self.host, ["--head", "--port", str(self.port), "--include-dashboard", "false",
                                   "--temp-dir", str(self.temp_dir / "ray"),
                                   "--ray-client-server-port", self.client_address.rsplit(":", 1)[1]],
                       "head.log")
            # a node joins only a head that is fully up (Ray gives it 40 s, not enough on a busy machine)
            self._wait(lambda: self._started("head.log"), deadline, "the head")
            for i in range(self.workers):
                self._node(f"127.0.0.{3 + i}", ["--address", self.address], f"worker-{i}.log")
            for i in range(self.workers):
                self._wait(lambda: self._started(f"worker-{i}.log"), deadline, f"worker node {i}")
            self._wait(self._all_nodes_up, deadline, "the cluster")
        except BaseException:
            self.stop()
            raise
        return self

    def _started(self, log: str) -> bool:
        return b"Ray runtime started" in (self.temp_dir / log).read_bytes()

    def _all_nodes_up(self) -> bool:
        try:
            out = subprocess.run([str(self.ray_bin), "status", "--address", self.address],
                                 capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return False
        return out.returncode == 0 and f"{float(self.cpus * (1 + self.workers))} CPU" in out.stdout \
            and out.stdout.count("node_") >= 1 + self.workers

    def _wait(self, ready: Any, deadline: float, what: str) -> None:
        while not ready():
            dead = [p for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join((self.temp_dir / n).read_text(errors="replace")[-2000:]
                                 for n in sorted(os.listdir(self.temp_dir)) if n.endswith(".log"))
                raise RuntimeError(f"Ray cluster: {what} did not come up\n{logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers first, then the head
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            try:  # what the node started outlives it only when stuck: its group goes too
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.clear()

    def __enter__(self) -> "LocalRayCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# The work and its results ------------------------------------------------------------------

def make_files(root: Path, n_text: int, n_html: int) -> list[Path]:
    import ingest_bench

    ingest_bench.write_text_articles(root / "text", n_text)
    pages = ingest_bench.corpus_html_pages(ingest_bench.DEFAULT_CORPUS)
    if n_html and pages:
        ingest_bench.write_html_copies(root / "html", pages, n_html)
    return sorted(p for p in root.rglob("*") if p.is_file())


def work(root: Path):
    from toolkit.ingest import pool
    from toolkit.ingest.readers import ReaderOptions

    files = sorted(p for p in (root / "files").rglob("*") if p.is_file())
    tasks = [pool.Task(p, p.relative_to(root).as_posix()) for p in files]
    return tasks, pool.WorkSettings(ReaderOptions(max_bytes=10_000_000, min_words=20), 128, 5)


class Digest:
    """What the results say, hashed in order: every id, row, signature and rejection."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.files = self.articles = 0

    def add(self, result: Any) -> None:
        self.files += 1
        for item in result.items:
            if hasattr(item, "article_id"):
                self.articles += 1
                self.hash.update(json.dumps([item.article_id, item.row], sort_keys=True, default=str).encode())
                self.hash.update(item.signature)
            else:
                self.hash.update(json.dumps(item.to_dict(), sort_keys=True).encode())
        self.hash.update(repr((result.stat, result.sha256, result.unchanged)).encode())


def _kill_one(pids: list[int]) -> int | None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            return pid
        except ProcessLookupError:
            continue
    return None


def _ray_worker_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if (p.info["cmdline"] or [""])[0].startswith("ray::_process_chunk")]


def _consume(results: Iterator[Any], n_tasks: int, kill: Any = None) -> tuple[Digest, str | None, str]:
    digest, killed, outcome = Digest(), None, "finished"
    try:
        for result in results:
            digest.add(result)
            if kill is not None and killed is None and digest.files >= n_tasks // 3:
                killed = kill()
    except Exception as exc:  # noqa: BLE001 - recorded: how the engine reports a dead worker
        outcome = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return digest, None if killed is None else str(killed), outcome


def engine_pool(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    from toolkit.ingest import pool

    tasks, settings = work(root)
    t0 = time.perf_counter()
    digest, _, outcome = _consume(pool.run(tasks, settings, 2), len(tasks))
    return {"start_s": 0.0, "run_s": time.perf_counter() - t0, "digest": digest, "outcome": outcome}


def engine_ray(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from toolkit.ingest import distributed

    tasks, settings = work(root)
    t0 = time.perf_counter()
    with LocalRayCluster(root / "ray-cluster") as cluster:
        t_join = time.perf_counter()
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        join_s = time.perf_counter() - t_join
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        kill = (lambda: _kill_one(_ray_worker_pids())) if args.kill else None
        digest, killed, outcome = _consume(distributed.run(tasks, settings, cluster.address), len(tasks), kill)
        run_s = time.perf_counter() - t1
        ray.shutdown()
    return {"start_s": started, "join_s": join_s, "run_s": run_s, "digest": digest, "outcome": outcome,
            "killed": killed}


def engine_dask(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    import collections

    from dask.distributed import Client, LocalCluster

    from toolkit.ingest import pool

    tasks, settings = work(root)
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, local_directory=str(root / "dask")) as cluster, Client(cluster) as client:
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        settings_future = client.scatter(settings, broadcast=True)

        def results() -> Iterator[Any]:
            chunks = [tasks[i:i + pool.CHUNK_FILES] for i in range(0, len(tasks), pool.CHUNK_FILES)]
            pending: collections.deque = collections.deque()
            queued = iter(chunks)
            for chunk in queued:
                pending.append(client.submit(_chunk, chunk, settings_future, pure=False))
                if len(pending) >= 2 * pool.IN_FLIGHT_PER_WORKER:
                    break
            while pending:
                out = pending.popleft().result()
                for chunk in queued:
                    pending.append(client.submit(_chunk, chunk, settings_future, pure=False))
                    break
                yield from out

        kill = None
        if args.kill:
            pids = list(client.run(os.getpid).values())
            kill = lambda: _kill_one(pids)  # noqa: E731
        digest, killed, outcome = _consume(results(), len(tasks), kill)
        run_s = time.perf_counter() - t1
    return {"start_s": started, "run_s": run_s, "digest": digest, "outcome": outcome, "killed": killed}


def _chunk(tasks: list[Any], settings: Any) -> list[Any]:
    from toolkit.ingest import pool

    return [pool.process_file(task, settings) for task in tasks]


def _datatrove_step(data: Any, rank: int = 0, world_size: int = 1, root: str = "", chunk: int = 16) -> Iterator[Any]:
    """A datatrove pipeline step: rank r takes chunks r, r + world_size, ... and pickles their
    results to ``out/<rank>-<chunk index>.pkl`` (one file per chunk, so memory stays bounded)."""
    tasks, settings = work(Path(root))
    out = Path(root) / "datatrove-out"
    out.mkdir(exist_ok=True)
    for index in range(rank, (len(tasks) + chunk - 1) // chunk, world_size):
        results = _chunk(tasks[index * chunk:(index + 1) * chunk], settings)
        (out / f"{index:06d}.pkl").write_bytes(pickle.dumps(results))
    return iter(())


def engine_datatrove(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    import functools

    from datatrove.executor import LocalPipelineExecutor

    tasks, _ = work(root)
    t0 = time.perf_counter()
    step = functools.partial(_datatrove_step, root=str(root))
    executor = LocalPipelineExecutor(pipeline=[step], tasks=2, workers=2, logging_dir=str(root / "datatrove-logs"),
                                     skip_completed=False, start_method="fork")
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    outcome = _run_executor(executor)
    digest, _, read_outcome = _consume(_datatrove_results(root), len(tasks))
    return {"start_s": started, "run_s": time.perf_counter() - t1, "digest": digest,
            "outcome": outcome if outcome != "finished" else read_outcome}


def _run_executor(executor: Any) -> str:
    """Run a datatrove executor: "finished", or why it failed."""
    try:
        executor.run()
    except Exception as exc:  # noqa: BLE001
        return f"failed: {type(exc).__name__}: {exc}"
    return "finished"


def _datatrove_results(root: Path) -> Iterator[Any]:
    """What the datatrove step wrote, rank by rank, read back in order after the run."""
    for path in sorted((root / "datatrove-out").glob("*.pkl")):
        yield from pickle.loads(path.read_bytes())


def engine_datatrove_ray(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    import functools

    import ray
    from datatrove.executor.ray import RayPipelineExecutor

    tasks, _ = work(root)
    t0 = time.perf_counter()
    with LocalRayCluster(root / "ray-cluster") as cluster:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        step = functools.partial(_datatrove_step, root=str(root))
        executor = RayPipelineExecutor(pipeline=[step], tasks=2, workers=2, logging_dir=str(root / "datatrove-logs"),
                                       skip_completed=False, mem_per_cpu_gb=0.5)
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        outcome = _run_executor(executor)
        ray.shutdown()

    digest, _, read_outcome = _consume(_datatrove_results(root), len(tasks))
    return {"start_s": started, "run_s": time.perf_counter() - t1, "digest": digest,
            "outcome": outcome if outcome != "finished" else read_outcome}


ENGINES = {"pool": engine_pool, "ray": engine_ray, "dask": engine_dask, "datatrove": engine_datatrove,
           "datatrove-ray": engine_datatrove_ray}


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_engine(args: argparse.Namespace) -> None:
    import logging

    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    figures = ENGINES[args.engine](Path(args.root), args)
    digest = figures.pop("digest")
    figures.update(files=digest.files, articles=digest.articles, digest=digest.hash.hexdigest(),
                   driver_peak_rss_mib=round(peak_rss_mib()))
    print(json.dumps(figures))


def in_subprocess(engine: str, root: Path, kill: bool) -> dict[str, Any]:
    shutil.rmtree(root / "datatrove-out", ignore_errors=True)
    shutil.rmtree(root / "datatrove-logs", ignore_errors=True)
    cmd = [sys.executable, __file__, "--engine", engine, "--root", str(root)] + (["--kill"] if kill else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "bench")])}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}",
                "wall_s": wall}
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["wall_s"] = wall
    return figures


def render(results: dict[str, Any], n_files: int, mb: float) -> str:
    base = results["pool"]
    lines = [f"{n_files} files ({mb:.0f} MB); each figure one run on 2 shared cores", "",
             "| engine | start (s) | run (s) | run vs pool | files/s | driver peak RSS (MiB) | same as pool | "
             "worker killed |", "|---|---|---|---|---|---|---|---|"]
    for name, fig in results.items():
        if "error" in fig:
            lines.append(f"| {name} | error: {fig['error'][:120]} | | | | | | |")
            continue
        ratio = fig["run_s"] / base["run_s"] if "run_s" in base else float("nan")
        killed = fig.get("kill", {})
        kill_text = "" if not killed else ("n/a" if "error" in killed else
                                           f"{killed.get('outcome', '')[:90]}, same: "
                                           f"{'yes' if killed.get('digest') == base.get('digest') else 'no'}")
        start = f"{fig['start_s']:.1f}" + (f" (join {fig['join_s']:.1f})" if "join_s" in fig else "")
        lines.append(f"| {name} | {start} | {fig['run_s']:.1f} | {ratio:.2f}x | "
                     f"{fig['files'] / fig['run_s']:.0f} | {fig['driver_peak_rss_mib']} | "
                     f"{'yes' if fig['digest'] == base['digest'] else 'NO'} | {kill_text} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=int, default=4000, help="generated plain-text articles")
    parser.add_argument("--html", type=int, default=200, help="copies of the corpus HTML pages")
    parser.add_argument("--engines", default="pool,ray,dask,datatrove,datatrove-ray")
    parser.add_argument("--kill", action="store_true", help="also run Ray and Dask killing one worker")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        run_engine(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        root = Path(tmp)
        files = make_files(root / "files", args.text, args.html)
        mb = sum(p.stat().st_size for p in files) / 1e6
        results: dict[str, Any] = {}
        for engine in ["pool"] + [e for e in args.engines.split(",") if e != "pool"]:
            results[engine] = in_subprocess(engine, root, False)
            print(engine, json.dumps(results[engine]), file=sys.stderr, flush=True)
            if args.kill and engine in ("ray", "dask"):
                results[engine]["kill"] = in_subprocess(engine, root, True)
                print(engine, "kill", json.dumps(results[engine]["kill"]), file=sys.stderr, flush=True)
        print(render(results, len(files), mb))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
