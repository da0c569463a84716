"""`toolkit ingest --cluster`: the per-file work on a real Ray cluster gives what the local pool gives.

One cluster for the module: a head and one worker node, each a separate `ray start` process of
this environment with 1 CPU, on loopback (127.0.0.2, 127.0.0.3), its own temporary folder,
stopped at the end even when a test fails (``bench/engine_bench.py``'s ``LocalRayCluster``).
Starting it takes 25-50 s on a busy 2-core machine, the whole module about 70 s. Skipped only
when Ray (the `cluster` extra) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import InputError, OutputError
from toolkit.ingest import distributed, pool
from toolkit.ingest.readers import ReaderOptions, Rejection
from toolkit.workspace import Workspace

from .conftest import DATA, REPO, SEED
from .test_ingest_parallel import synthetic

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")

runner = CliRunner()


def _bench():
    spec = importlib.util.spec_from_file_location("engine_bench", REPO / "bench" / "engine_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cluster():
    bench = _bench()
    # a short path: Ray's sockets live under it, and a Unix socket's path is limited to 107 bytes
    temp = Path(tempfile.mkdtemp(prefix="toolkit-ray-"))
    nodes = bench.LocalRayCluster(temp, workers=1, cpus=1, ray_bin=Path(sys.executable).parent / "ray")
    try:
        yield nodes.start()
    finally:
        nodes.stop()
        shutil.rmtree(temp, ignore_errors=True)


def _mixed_files(folder: Path, outside: Path) -> list[pool.Task]:
    """Plain text, HTML, JSONL with bad lines, two rejected files and a link outside, in this order."""
    folder.mkdir()
    for name in ("article-html.html", "articles.jsonl", "empty.txt", "binary.txt", "near-a.txt"):
        shutil.copyfile(DATA / name, folder / name)
    shutil.copyfile(SEED, folder / SEED.name)
    (outside / "secret.txt").write_text("not to be read\n", encoding="utf-8")
    (folder / "link.txt").symlink_to(outside / "secret.txt")
    names = ["volgograd-prison-hostages.txt", "article-html.html", "articles.jsonl", "empty.txt", "link.txt",
             "binary.txt", "near-a.txt"]
    return [pool.Task(folder / name, f"raw/{name}",
                      link_target=(outside / "secret.txt") if name == "link.txt" else None) for name in names]


def test_cluster_gives_the_pools_results_in_order(cluster, tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(tmp_path)  # relative paths: the workers' own folder is another one
    tasks = [pool.Task(Path("raw") / t.path.name, t.source, link_target=t.link_target)
             for t in _mixed_files(tmp_path / "raw", outside)]
    settings = pool.WorkSettings(ReaderOptions(max_bytes=10_000_000, min_words=20), 128, 5)

    local = list(pool.run(tasks, settings, 1))
    remote = list(distributed.run(tasks, settings, cluster.address))

    assert remote == local
    kinds = [[type(item).__name__ if not isinstance(item, Rejection) else item.reason for item in r.items]
             for r in remote]
    assert kinds[0] == ["Parsed"]  # the seed article
    assert kinds[1] == ["Parsed"]  # the HTML page
    # articles.jsonl, line by line: an article, not JSON, no text, an article, a list (not an object)
    assert kinds[2] == ["Parsed", "invalid-json", "missing-text", "Parsed", "invalid-json"]
    assert (kinds[3], kinds[4], kinds[5], kinds[6]) == (["empty"], ["symlink-outside"], ["binary"], ["Parsed"])
    assert remote[0].items[0].row["source_file"] == "raw/volgograd-prison-hostages.txt"
    assert not ray.is_initialized()  # the run left the cluster


def test_a_worker_killed_midway_is_retried_and_nothing_is_lost(cluster, tmp_path):
    bench = _bench()
    for i in range(640):  # 40 chunks: some are still to run or running when the worker dies
        (tmp_path / f"a{i:03d}.txt").write_text(synthetic(i, n_words=600), encoding="utf-8")
    tasks = [pool.Task(p, p.name) for p in sorted(tmp_path.glob("*.txt"))]
    settings = pool.WorkSettings(ReaderOptions(max_bytes=10_000_000, min_words=20), 128, 5)

    results, killed = [], None
    for result in distributed.run(tasks, settings, cluster.address):
        results.append(result)
        deadline = time.monotonic() + 10
        while killed is None and time.monotonic() < deadline:  # a worker between two chunks has another title
            killed = bench._kill_one(bench._ray_worker_pids())  # SIGKILL, as the out-of-memory killer does
            if killed is None:
                time.sleep(0.02)

    assert killed is not None
    assert results == list(pool.run(tasks, settings, 1))
    assert len({r.items[0].article_id for r in results}) == 640


def _invoke(*args: str, cwd: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.delenv("TOOLKIT_CLUSTER", raising=False)
        return runner.invoke(app, list(args))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _report(ws: Workspace) -> dict:
    return json.loads(ws.ingest_report_path.read_text())


def test_ingest_on_the_cluster_writes_what_a_local_run_writes(cluster, workspace, tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    _mixed_files(workspace.raw_dir / "2024-05-01", outside)
    shutil.copyfile(DATA / "near-b.txt", workspace.raw_dir / "near-b.txt")
    local_ws = Workspace.find(shutil.copytree(workspace.root, tmp_path / "local", symlinks=True))

    local = _invoke("ingest", "--json", cwd=local_ws.root)
    assert local.exit_code == 0, local.output

    def no_local_pool(*args, **kwargs):
        raise AssertionError("--cluster must not run the local pool")

    monkeypatch.setattr(pool, "run", no_local_pool)
    remote = _invoke("ingest", "--json", "--cluster", cluster.address, cwd=workspace.root)
    assert remote.exit_code == 0, remote.output

    assert _report(workspace) == _report(local_ws)
    assert _files(workspace.root / "annotations").keys() == _files(local_ws.root / "annotations").keys()
    assert _files(workspace.articles_path) == _files(local_ws.articles_path)
    report = _report(workspace)
    # 8 files under raw/; the seed, the HTML page, 2 JSONL articles, near-a and near-b: 6 articles
    # (near-a and near-b are near-duplicates of each other); empty, binary, the link, 3 JSONL lines rejected
    assert (report["files_read"], report["documents_read"], report["new_articles"]) == (8, 6, 6)
    assert report["rejected_by_reason"]["symlink-outside"] == 1
    assert (report["near_duplicate_clusters"], report["articles_in_clusters"]) == (1, 2)


def test_no_cluster_at_the_address_is_a_clear_error_and_writes_nothing(workspace):
    shutil.copyfile(SEED, workspace.raw_dir / SEED.name)
    before = _files(workspace.root)
    address = f"127.0.0.1:{_bench().free_port()}"  # nothing listens there

    result = _invoke("ingest", "--cluster", address, cwd=workspace.root)

    assert result.exit_code == 1
    assert f"error: no Ray cluster answers at {address}" in result.output
    assert "hint: start one with `ray start --head --port 6379`" in result.output
    assert "Traceback" not in result.output
    assert {k: v for k, v in _files(workspace.root).items() if not k.startswith("annotations/.cache/")} == \
        {k: v for k, v in before.items() if not k.startswith("annotations/.cache/")}


def test_a_malformed_address_or_no_ray_is_a_clear_error(monkeypatch):
    settings = pool.WorkSettings(ReaderOptions(max_bytes=1000, min_words=1), 128, 5)
    task = pool.Task(SEED, "raw/seed.txt")
    with pytest.raises(InputError, match="'head' is not HOST:PORT or ray://HOST:PORT"):
        distributed.run([task], settings, "head")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(OutputError, match="Ray .* is not installed") as caught:
        distributed.run([task], settings, "127.0.0.1:6379")
    assert "pip install 'toolkit[cluster]'" in caught.value.hint
