"""The per-file work of an ingest on a Ray cluster: ``pool.run`` for corpora that outgrow one machine.

The same work as ``pool`` (read, decode, extract, clean, language id, article id, MinHash
signature: ``pool.process_file``), sent in chunks of files as Ray tasks to every CPU of a
cluster, with the same contract: one ``FileResult`` per task, in the order of the tasks, and at
most a few chunks in flight per CPU of the cluster, so results never pile up in this process
faster than it merges them. Everything that depends on other documents (exact duplicates,
clusters, the table) stays in this process, so the output is the same bytes as a local run.

Ray over Dask and datatrove, by measurement (``bench/engine_bench.py``, BENCHMARKS.md): its
tasks stream results back one chunk at a time in any order we ask for, retry a chunk whose
worker or node died, and connect to a cluster started once with ``ray start``.

What the cluster must share with this machine:

- the raw files, at the same absolute paths (a shared filesystem: NFS, a mounted bucket...):
  only each file's path is sent, and the worker that gets it reads it (paths are made absolute
  here first, so a relative input folder works too);
- the toolkit, the same version, and Ray, the same version, with the same Python, installed
  on every node (``pip install 'toolkit[cluster]'``);
- the reader settings are sent once per run (``ray.put``), not with every chunk.

``toolkit ingest`` runs here, on a node of the cluster (the head, or one that joined it with
``ray start --address``), or anywhere with a Ray Client address (``ray://HEAD:10001``).

Ray is imported only when a cluster is asked for: the toolkit works without it installed.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import socket
from typing import Any, Iterator, Sequence

from ..errors import InputError, OutputError
from . import pool

__all__ = ["run", "parse_address"]

CONNECT_TIMEOUT_S = 5.0
START_HINT = ("start one with `ray start --head --port 6379` (and `ray start --address HEAD:6379` on "
              "every other machine), pass the address `ray status` shows, or run without --cluster")


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of a Ray address: ``HOST:PORT`` (a node of the cluster) or ``ray://HOST:PORT``
    (Ray Client). Raises ``InputError`` for anything else."""
    rest = address.strip().removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"cluster address {address!r} is not HOST:PORT or ray://HOST:PORT",
                         hint="pass the address `ray start --head` printed, e.g. --cluster 10.0.0.5:6379")
    return host, int(port)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise OutputError("a cluster was asked for, but Ray (the cluster engine) is not installed",
                          hint="pip install 'toolkit[cluster]' here and on every node of the cluster, "
                               "or run without --cluster (and unset TOOLKIT_CLUSTER)") from exc
    return ray


def _check_listening(address: str) -> None:
    """Fail fast, with the address: Ray itself would wait a minute for a head that is not there."""
    host, port = parse_address(address)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise OutputError(f"no Ray cluster answers at {address} ({exc.strerror or exc})",
                          hint=START_HINT) from exc


def _connect(ray: Any, address: str) -> None:
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - Ray raises RuntimeError, ConnectionError, ValueError...
        with contextlib.suppress(Exception):  # a half-made connection would be reused by the next run
            ray.shutdown()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(f"could not join the Ray cluster at {address}: {first}",
                          hint="run `toolkit ingest` on a node of the cluster (`ray start --address "
                               f"{address.removeprefix('ray://')}` here first) or pass a Ray Client address "
                               "ray://HEAD:10001; "
                               "this machine needs the same Ray and Python versions as the cluster") from exc


def _process_chunk(tasks: Sequence[pool.Task], settings: pool.WorkSettings) -> list[pool.FileResult]:
    return [pool.process_file(task, settings) for task in tasks]


def run(tasks: Sequence[pool.Task], settings: pool.WorkSettings, address: str) -> Iterator[pool.FileResult]:
    """One ``FileResult`` per task, in the order of ``tasks``, computed on the Ray cluster at
    ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``). The workers read the files themselves:
    they must see them at the same absolute paths (a shared filesystem, see the module's notes).

    Joins the cluster before it returns, so a cluster that is not there fails here, before the
    caller writes anything; ``close()`` on the iterator leaves the cluster (unless this process
    had joined it already). Raises ``OutputError`` naming the address when Ray is not installed,
    nothing answers there, this process cannot join, or a chunk's worker died more often than
    Ray retries it; an exception of the work itself is raised as ``pool.run`` raises it.
    """
    ray = _import_ray()
    _check_listening(address)
    if not tasks:
        return iter(())
    joined_here = not ray.is_initialized()
    if joined_here:
        _connect(ray, address)
    tasks = [dataclasses.replace(t, path=t.path.absolute()) for t in tasks]  # workers' cwd is not ours
    units, whole = pool.split(tasks)  # a large JSONL file is shared out in spans, as by the pool
    results = _results(ray, [unit for _, unit in units], settings, address, joined_here)
    next(results)  # into its try: from here on, close() leaves the cluster
    return pool.reassemble(tasks, units, whole, results)


def _results(ray: Any, tasks: Sequence[pool.Task], settings: pool.WorkSettings, address: str,
             joined_here: bool) -> Iterator[Any]:
    try:
        yield None
        chunks = pool.chunk(tasks)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # a system failure (worker killed, node lost) is retried by Ray on another worker; an
        # exception of the work itself is not, and reaches the caller as it would from `pool`
        remote = ray.remote(_process_chunk).options(max_retries=3)
        settings_ref = ray.put(settings)
        pending: collections.deque = collections.deque()
        queued = iter(chunks)
        for chunk in queued:
            pending.append(remote.remote(chunk, settings_ref))
            if len(pending) >= cpus * pool.IN_FLIGHT_PER_WORKER:
                break
        while pending:
            results = _get(ray, pending.popleft(), address)
            for chunk in queued:  # keep the cluster busy while this process merges
                pending.append(remote.remote(chunk, settings_ref))
                break
            yield from results
    finally:
        if joined_here:
            ray.shutdown()


def _get(ray: Any, ref: Any, address: str) -> list[pool.FileResult]:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the work itself raised: the same error as locally
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(f"an ingest worker of the Ray cluster at {address} died, even after retries "
                          f"({type(exc).__name__}: {first})",
                          hint="run `toolkit ingest` again; if it happens again, look at `ray status` "
                               "and the workers' logs (/tmp/ray/session_latest/logs on each node), free "
                               "memory or reduce [ingest] max_file_mb") from exc
