"""`toolkit release`, `verify`, `load`, `push_to_hub` on a workspace built from small synthetic data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit import atomicio
from toolkit.release import conll
from toolkit.agreement.gold import GoldPolicy, compute_gold, gold_table
from toolkit.ingest import ARTICLE_SCHEMA
from toolkit.validation.normalise import records_to_table
from toolkit.release import (SPLITS, ReleaseError, ReleaseExists, ReleaseLocked, ReleaseTampered, VersionError,
                             list_releases, load, propose_version, push_to_hub, release, verify_release)
from toolkit.scheme import Scheme
from toolkit.workspace import Workspace
from toolkit.articles import read_articles
from toolkit.ingest import store

NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
EVENTS = ["Armed Assault", "Bombing/Explosion", "Hostage Taking (Barricade Incident)", "Not an attack event"]
PEOPLE = ["Ivan Petrov", "Maria Lopez", "Ahmed Khan", "Li Wei", "John O'Neil"]
ORGS = ["the Interior Ministry", "Reuters", "the city council"]
PLACES = ["Volgograd", "Kabul", "São Paulo", "Lagos", "Mosul"]


def _article(i: int, variant: int = 0) -> tuple[str, list[dict[str, Any]]]:
    """Text and gold-to-be entity spans of article ``i`` (``variant`` changes labels, never text)."""
    person, org, place = PEOPLE[i % 5], ORGS[i % 3], PLACES[(i // 2) % 5]
    parts: list[tuple[str, str | None]] = [
        (person, "PERSON"), (" of ", None), (org, "ORG"), (" said an attack in ", None), (place, "GPE"),
        (f" on Monday left {i % 7} people dead. Witnesses described the scene (report #{i}) as “chaotic”. ", None),
        ("Police arrived within minutes and the area was sealed off for the rest of the day. " * (1 + i % 3), None),
    ]
    if variant and i % 4 == 0:  # a relabelled span, same text
        parts[2] = (org, "NORP")
    text, spans, pos = "", [], 0
    for chunk, label in parts:
        if label:
            spans.append({"start": pos, "end": pos + len(chunk), "label": label, "text": chunk})
        text += chunk
        pos += len(chunk)
    return text, spans


def build_workspace(ws: Workspace, n: int = 60, *, variant: int = 0, drop: tuple[int, ...] = (),
                    agreement: bool = True) -> dict[str, Any]:
    """articles.parquet, annotations.parquet, gold.parquet and the reports of a workspace.

    Articles 3k and 3k+1 (k even) share a near-duplicate cluster; every 10th article has a tie
    (unresolved). ``variant`` changes some labels and adds spans, ``drop`` leaves articles out.
    """
    scheme = Scheme.load(ws.scheme_path)
    rows, records = [], []
    annotation_id = 1
    expected: dict[str, Any] = {"unresolved": set(), "ids": []}
    for i in range(n):
        if i in drop:
            continue
        text, spans = _article(i, variant)
        aid = hashlib.sha256(text.encode()).hexdigest()[:16]
        cluster_head = i - 1 if (i % 3 == 1 and (i // 3) % 2 == 0) else i
        cluster = hashlib.sha256(_article(cluster_head, variant)[0].encode()).hexdigest()[:16]
        rows.append({
            "article_id": aid, "title": f"Attack report {i}", "text": text,
            "published": dt.date(2024, 1, 1) + dt.timedelta(days=i), "source_url": f"https://news.example/{i}",
            "source_name": ["news.example", "wire.example"][i % 2], "language": "en", "n_chars": len(text),
            "n_words": len(text.split()), "format": "txt", "source_file": f"raw/{i}.txt",
            "raw_sha256": hashlib.sha256(text.encode()).hexdigest(), "sources": [], "cluster_id": cluster,
            "warnings": [],
        })
        expected["ids"].append(aid)
        event = EVENTS[i % 4]
        if variant and i % 5 == 2:
            event = EVENTS[(i + 1) % 4]
        votes = [event, event, EVENTS[(i + 1) % 4]]
        if i % 10 == 9:  # a tie: unresolved
            votes = [EVENTS[0], EVENTS[1]]
            expected["unresolved"].add(aid)
        for k, vote in enumerate(votes):
            records.append({
                "task_id": i + 1, "article_id": aid, "annotation_id": annotation_id, "annotator_id": k + 1,
                "annotator_email": f"annotator{k}@example.org", "created_at": "2024-11-25T10:00:00+00:00",
                "updated_at": "2024-11-25T10:00:00+00:00", "lead_time": 30.0, "was_cancelled": False,
                "ground_truth": False, "entities": spans, "event_type": vote, "killed": i % 7,
                "injured": None if i % 3 else i, "hostages": None, "note": None})
            annotation_id += 1
    store.write_table(ws, pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA))
    pq.write_table(records_to_table(records, scheme), ws.annotations_dir / "annotations.parquet")
    gold = compute_gold(records, scheme, GoldPolicy())
    pq.write_table(gold_table(gold, scheme), ws.annotations_dir / "gold.parquet")
    if agreement:
        atomicio.write_json(ws.annotations_dir / "agreement.json", {"headline": [
            {"field": "event_type", "metric": "krippendorff_alpha", "value": 0.61, "ci_low": 0.52, "ci_high": 0.7,
             "n": n},
            {"field": "entities", "metric": "span_f1", "value": 0.93, "ci_low": 0.9, "ci_high": 0.95, "n": n}]})
    (ws.annotations_dir / "exports").mkdir(exist_ok=True)
    atomicio.write_json(ws.annotations_dir / "exports" / "index.json",
                        [{"file": "2024-11-25T10-00-00Z.jsonl.gz", "sha256": "ab" * 32, "bytes": 1234, "tasks": n}])
    atomicio.write_text(ws.annotations_dir / "quarantine.jsonl",
                        json.dumps({"kind": "annotation", "errors": []}) + "\n")
    atomicio.write_json(ws.ingest_report_path, {"files_read": n + 2, "documents_read": n + 2, "total_articles": n,
                                                "exact_duplicates": 2, "rejected": 0, "near_duplicate_clusters": 10,
                                                "articles_in_clusters": 20, "rejected_by_reason": {}})
    expected["released"] = [a for a in expected["ids"] if a not in expected["unresolved"]]
    return expected


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    EXPECTED[workspace.root] = build_workspace(workspace)
    return workspace


EXPECTED: dict[Path, dict[str, Any]] = {}


@pytest.fixture(autouse=True)
def _offline_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _documents(folder: Path) -> dict[str, pa.Table]:
    return {s: pa.concat_tables([pq.read_table(p) for p in sorted((folder / "documents").glob(f"{s}-*.parquet"))])
            for s in SPLITS}


# --------------------------------------------------------------------------- the release


def test_release_layout_and_offline_load_dataset(ws: Workspace) -> None:
    import datasets

    report = release(ws, now=NOW)
    assert report.version == "0.1.0" and report.reason.startswith("first release")
    folder = ws.releases_dir / "v0.1.0"
    files = set(_tree(folder))
    for name in ("README.md", "DATASHEET.md", "CHANGELOG.md", "manifest.json", "croissant.json", "scheme.json",
                 "conll/train.txt", "plots/label_distribution.png", "plots/agreement.png"):
        assert name in files, name
    assert {Path(f).suffix for f in files} <= {".parquet", ".md", ".json", ".txt", ".png"}
    released = EXPECTED[ws.root]["released"]
    assert report.unresolved_held_back == len(EXPECTED[ws.root]["unresolved"])
    assert sum(report.articles.values()) == len(released)

    docs = datasets.load_dataset(str(folder), "documents")
    assert set(docs) == set(SPLITS)
    assert {s: docs[s].num_rows for s in SPLITS} == report.articles
    features = docs["train"].features
    assert isinstance(features["event_type"], datasets.ClassLabel)
    assert "Armed Assault" in features["event_type"].names
    entity = features["entities"][0] if isinstance(features["entities"], list) else features["entities"].feature
    assert isinstance(entity["label"], datasets.ClassLabel) and entity["label"].names[0] == "PERSON"
    assert features["killed"].dtype == "int32" and features["agreement"].dtype == "float32"
    assert features["published"].dtype == "date32"
    row = docs["train"][0]
    assert row["text"][row["entities"][0]["start"]:row["entities"][0]["end"]] == row["entities"][0]["text"]
    assert sorted(a for s in SPLITS for a in docs[s]["article_id"]) == sorted(released)
    assert all(0.0 <= a <= 1.0 for a in docs["train"]["agreement"] if a is not None)

    ner = datasets.load_dataset(str(folder), "ner")
    assert {s: ner[s].num_rows for s in SPLITS} == report.articles
    tags = ner["train"].features["ner_tags"]
    tag_label = tags[0] if isinstance(tags, list) else tags.feature
    assert isinstance(tag_label, datasets.ClassLabel) and tag_label.names[:3] == ["O", "B-PERSON", "I-PERSON"]
    # load_dataset must not have written into the release
    assert verify_release(folder).ok


def test_card_datasheet_and_workspace_datasheet(ws: Workspace) -> None:
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n")
    import yaml

    meta = yaml.safe_load(card.split("---\n")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["documents", "ner"]
    assert meta["configs"][0]["data_files"][0] == {"split": "train", "path": "documents/train-*.parquet"}
    # datasets ignores (with a warning) split entries that lack any of these three
    for info in meta["dataset_info"]:
        for split in info["splits"]:
            assert set(split) == {"name", "num_bytes", "num_examples"} and split["num_bytes"] > 0
    for section in ("## Task", "## Scheme", "## Collection", "## Annotation process", "## Agreement", "## Splits",
                    "## Limitations", "## License", "## Citation"):
        assert section in card
    assert "krippendorff_alpha" in card and "0.610" in card
    sheet = (folder / "DATASHEET.md").read_text()
    for section in ("## Motivation", "## Composition", "## Collection process", "## Preprocessing, cleaning, labeling",
                    "## Uses", "## Distribution", "## Maintenance"):
        assert section in sheet
    assert "2024-01-01" in sheet and "news.example" in sheet and "plots/label_distribution.png" in sheet
    assert "1 annotation" in sheet  # quarantined records are counted
    top = (ws.root / "DATASHEET.md").read_text()
    assert "v0.1.0" in top and "releases/v0.1.0/plots/agreement.png" in top


def test_manifest_lists_every_file(ws: Workspace) -> None:
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    manifest = json.loads((folder / "manifest.json").read_text())
    scheme = Scheme.load(ws.scheme_path)
    assert manifest["version"] == "0.1.0" and manifest["scheme"]["hash"] == scheme.hash()
    assert manifest["created"] == "2025-01-02T03:04:05Z" and manifest["toolkit_version"]
    assert manifest["exports"][0]["file"] == "2024-11-25T10-00-00Z.jsonl.gz"
    assert set(manifest["files"]) == set(_tree(folder)) - {"manifest.json"}
    for rel, entry in manifest["files"].items():
        data = (folder / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_release_is_deterministic(tmp_path: Path) -> None:
    from toolkit.scaffold import init_workspace

    # Each release in its own process, with another string hash seed: nothing in a release
    # may depend on the iteration order of a set (the plots once did).
    trees = []
    for name, seed in (("a", "1"), ("b", "2")):
        w = init_workspace(tmp_path / name, title="Test events", scheme="news-events-v1")
        build_workspace(w)
        script = ("import datetime as dt, sys\nfrom pathlib import Path\nfrom toolkit.workspace import Workspace\n"
                  "from toolkit.release import release\n"
                  f"release(Workspace(Path(sys.argv[1])), now=dt.datetime.fromisoformat({NOW.isoformat()!r}))\n")
        subprocess.run([sys.executable, "-c", script, str(w.root)], check=True, cwd=Path(__file__).parent.parent,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        trees.append(_tree(w.releases_dir / "v0.1.0"))
    assert trees[0] == trees[1]
    # Another time changes only the timestamped files, never the data.
    w = init_workspace(tmp_path / "c", title="Test events", scheme="news-events-v1")
    build_workspace(w)
    release(w, now=NOW + dt.timedelta(days=400))
    later = _tree(w.releases_dir / "v0.1.0")
    differ = {name for name in later if later[name] != trees[0].get(name)}
    assert differ <= {"manifest.json", "README.md", "DATASHEET.md", "CHANGELOG.md", "croissant.json"}
    assert not any(name.endswith((".parquet", ".txt")) for name in differ)


def test_clusters_never_split_and_splits_are_stratified(ws: Workspace) -> None:
    release(ws, now=NOW)
    articles = read_articles(ws, columns=["article_id", "cluster_id"]).to_pylist()
    cluster_of = {r["article_id"]: r["cluster_id"] for r in articles}
    splits_of_cluster: dict[str, set[str]] = defaultdict(set)
    docs = _documents(ws.releases_dir / "v0.1.0")
    for split, table in docs.items():
        for aid in table["article_id"].to_pylist():
            splits_of_cluster[cluster_of[aid]].add(split)
    shared = [c for c, s in splits_of_cluster.items() if len(s) > 1]
    assert not shared, f"clusters in several splits: {shared}"
    assert any(sum(1 for a in cluster_of.values() if a == c) > 1 for c in splits_of_cluster)  # clusters exist
    assert all(docs[s].num_rows for s in SPLITS)
    # Every event type with enough articles reaches the training split.
    train_events = set(docs["train"]["event_type"].to_pylist())
    assert len(train_events) == 4


def test_split_assignment_ignores_row_order(tmp_path: Path) -> None:
    from toolkit.scaffold import init_workspace

    splits = []
    for name, reverse in (("a", False), ("b", True)):
        w = init_workspace(tmp_path / name, title="Test events", scheme="news-events-v1")
        build_workspace(w)
        if reverse:
            table = read_articles(w)
            store.write_table(w, table.take(pa.array(range(table.num_rows - 1, -1, -1))))
        release(w, now=NOW)
        docs = _documents(w.releases_dir / "v0.1.0")
        splits.append({s: sorted(docs[s]["article_id"].to_pylist()) for s in SPLITS})
    assert splits[0] == splits[1]


def test_refuses_to_overwrite_and_checks_versions(ws: Workspace) -> None:
    release(ws, "0.1.0", now=NOW)
    before = _tree(ws.releases_dir / "v0.1.0")
    with pytest.raises(ReleaseExists, match="v0.1.0 already exists"):
        release(ws, "0.1.0", now=NOW)
    with pytest.raises(ReleaseExists):
        release(ws, "v0.1.0", now=NOW)
    with pytest.raises(VersionError, match="not greater"):
        release(ws, "0.0.9", now=NOW)
    with pytest.raises(VersionError, match="not a semantic version"):
        release(ws, "0.1", now=NOW)
    assert _tree(ws.releases_dir / "v0.1.0") == before
    version, reason = propose_version(ws)
    assert version == "0.1.1" and reason.startswith("patch: nothing has changed since v0.1.0")


def test_crash_in_the_middle_leaves_nothing(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.release import card

    def boom(*args: Any, **kwargs: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(card, "render_datasheet", boom)
    with pytest.raises(KeyboardInterrupt):
        release(ws, now=NOW)
    assert [p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock")] == []
    monkeypatch.undo()
    assert release(ws, now=NOW).version == "0.1.0"


@pytest.mark.parametrize("target", ["parquet", "conll"])
def test_a_writer_thread_failing_stops_the_release_and_leaves_nothing(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """The files are written on writer threads: an error there (here a full disk) must reach
    the caller as itself, and leave no release and no temporary folder behind."""
    from toolkit.release import data as releasedata

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if target == "parquet":
        monkeypatch.setattr(releasedata.ShardedWriter, "write", full)
    else:
        monkeypatch.setattr(releasedata.TextWriter, "write", full)
    with pytest.raises(OSError, match="No space left"):
        release(ws, now=NOW)
    assert [p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock")] == []
    monkeypatch.undo()
    assert release(ws, now=NOW).version == "0.1.0"


def test_ctrl_c_while_writing_stops_the_writer_threads_and_leaves_nothing(ws: Workspace) -> None:
    import threading

    from toolkit.release.data import ReleaseOptions

    class CtrlC:
        def start(self, total: int, description: str) -> None:
            pass

        def advance(self, amount: int = 1) -> None:
            raise KeyboardInterrupt  # after the first batch, with its writes queued

        def finish(self) -> None:
            pass

    before = set(threading.enumerate())
    options = dataclasses.replace(ReleaseOptions.from_workspace(ws), batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        release(ws, now=NOW, progress=CtrlC(), options=options)
    assert [p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock")] == []
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("release-")]
    assert release(ws, now=NOW, options=options).version == "0.1.0"


def test_killed_process_leaves_no_release_and_next_run_cleans_up(ws: Workspace) -> None:
    script = (
        "import os, signal, sys\nfrom pathlib import Path\n"
        "from toolkit.workspace import Workspace\nfrom toolkit.release import release\n"
        "class Die:\n"
        "    def start(self, total, description): pass\n"
        "    def advance(self, amount=1): os.kill(os.getpid(), signal.SIGKILL)\n"
        "    def finish(self): pass\n"
        "release(Workspace(Path(sys.argv[1])), progress=Die())\n")
    done = subprocess.run([sys.executable, "-c", script, str(ws.root)], cwd=Path(__file__).parent.parent)
    assert done.returncode == -signal.SIGKILL
    leftovers = [p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock")]
    assert leftovers and all(name.startswith(".v0.1.0.tmp-") for name in leftovers)
    assert list_releases(ws) == []
    report = release(ws, now=NOW)
    assert report.stale_temporaries_removed == leftovers
    assert sorted(p.name for p in ws.releases_dir.iterdir() if p.name not in (".gitkeep", ".lock")) == ["v0.1.0"]


def test_lock_refuses_a_second_release(ws: Workspace) -> None:
    import fcntl

    ws.releases_dir.mkdir(exist_ok=True)
    with open(ws.releases_dir / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        script = ("import sys\nfrom pathlib import Path\nfrom toolkit.workspace import Workspace\nfrom toolkit.release import release, "
                  "ReleaseLocked\ntry:\n    release(Workspace(Path(sys.argv[1])))\nexcept ReleaseLocked as e:\n"
                  "    print(e)\n    sys.exit(3)\n")
        done = subprocess.run([sys.executable, "-c", script, str(ws.root)], cwd=Path(__file__).parent.parent,
                              capture_output=True, text=True)
    assert done.returncode == 3 and "another release is running" in done.stdout
    assert list_releases(ws) == []
    assert ReleaseLocked.__mro__[1].__name__ == "ReleaseError"


# ------------------------------------------------------------------------------- verify


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "add"])
def test_verify_catches_tampering(ws: Workspace, damage: str) -> None:
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    assert verify_release(folder).ok
    target = sorted((folder / "documents").glob("train-*.parquet"))[0]
    name = target.relative_to(folder).as_posix()
    if damage != "add":
        os.chmod(target, 0o644)
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-10])
    elif damage == "delete":
        target.unlink()
    else:
        (folder / "documents" / "evil.py").write_text("print('hi')\n")
        name = "documents/evil.py"
    report = verify_release(folder)
    assert not report.ok
    where = {"flip": report.changed, "truncate": report.changed, "delete": report.missing, "add": report.extra}
    assert where[damage] == [name]
    assert report.to_dict()["ok"] is False
    with pytest.raises(ReleaseTampered, match=name):
        load(folder)
    with pytest.raises(ReleaseTampered):
        push_to_hub(folder, "org/name", dry_run=True)


def test_load_returns_datasetdict_or_pandas(ws: Workspace) -> None:
    import datasets

    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    loaded = load(folder)
    assert isinstance(loaded, datasets.DatasetDict) and set(loaded) == set(SPLITS)
    frames = load(folder, config="documents", as_pandas=True)
    assert set(frames) == set(SPLITS)
    assert str(frames["train"]["event_type"].dtype) == "category"
    assert set(frames["train"]["event_type"].dropna()) <= set(EVENTS)
    with pytest.raises(ReleaseError, match="no config 'nope'"):
        load(folder, config="nope")


# ---------------------------------------------------------------------------- changelog


def test_changelog_on_a_crafted_pair_of_releases(tmp_path: Path) -> None:
    from toolkit.scaffold import init_workspace

    w = init_workspace(tmp_path / "ws", title="Test events", scheme="news-events-v1")
    first = build_workspace(w, 40)
    release(w, now=NOW)
    second = build_workspace(w, 44, variant=1, drop=(0, 1))  # +4 new, -2 dropped, labels and spans changed
    assert propose_version(w)[1].startswith("minor")
    version, reason = propose_version(w)
    assert version == "0.2.0" and "article(s) added" in reason
    report = release(w, now=NOW)
    assert report.version == "0.2.0" and report.previous == "v0.1.0"
    text = (w.releases_dir / "v0.2.0" / "CHANGELOG.md").read_text()
    added = sorted(set(second["released"]) - set(first["released"]))
    removed = sorted(set(first["released"]) - set(second["released"]))
    assert added and removed
    assert "Compared with **v0.1.0**" in text
    assert f"| articles added | {len(added)} |" in text and f"| articles removed | {len(removed)} |" in text
    for aid in added + removed:
        assert f"`{aid}`" in text
    # Article 2's event type moved on (variant 1 changes i % 5 == 2), which is also in the first release
    text2, _ = _article(2, 1)
    aid2 = hashlib.sha256(text2.encode()).hexdigest()[:16]
    assert f"| `{aid2}` | event_type | {EVENTS[2]} | {EVENTS[3]} |" in text
    # Article 4's ORG span became NORP: one span removed, one added, listed with its text
    text4, spans4 = _article(4, 1)
    aid4 = hashlib.sha256(text4.encode()).hexdigest()[:16]
    org = spans4[1]
    assert f"| `{aid4}` | entities | + | {org['start']}–{org['end']} | NORP | {org['text']} |" in text
    assert f"| `{aid4}` | entities | - | {org['start']}–{org['end']} | ORG | {org['text']} |" in text
    assert "| gold spans added | " in text and "| articles that moved split |" in text
    assert "## Distribution" in text


def test_scheme_change_proposes_major(ws: Workspace) -> None:
    release(ws, now=NOW)
    data = json.loads(ws.scheme_path.read_text())
    entities = next(f for f in data["fields"] if f["name"] == "entities")
    entities["labels"] = [lb for lb in entities["labels"] if lb["value"] != "WEAPON"]
    ws.scheme_path.write_text(json.dumps(data))
    build_workspace(ws)  # gold recomputed with the new scheme
    version, reason = propose_version(ws)
    assert version == "1.0.0" and "entities label WEAPON" in reason


# ------------------------------------------------------------------------------ CoNLL


def test_conll_round_trips_to_the_gold_spans(ws: Workspace) -> None:
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    docs = _documents(folder)
    for split in SPLITS:
        with open(folder / "conll" / f"{split}.txt", encoding="utf-8") as fh:
            read = conll.read_conll(fh)
        table = docs[split]
        assert len(read) == table.num_rows
        names = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]
        for doc, text, spans in zip(read, table["text"].to_pylist(), table["entities"].to_pylist()):
            expected = [{"start": s["start"], "end": s["end"], "label": names[s["label"]], "text": s["text"]}
                        for s in spans]
            assert conll.spans_from_tags(text, doc.tokens, doc.tags) == sorted(expected, key=lambda s: s["start"])
    ner = pq.read_table(sorted((folder / "ner").glob("train-*.parquet"))[0])
    with open(folder / "conll" / "train.txt", encoding="utf-8") as fh:
        first = conll.read_conll(fh)[0]
    assert ner["tokens"][0].as_py() == first.tokens


def test_batch_tagger_matches_the_reference() -> None:
    texts = ["Ivan Petrov  met the U.S. team in Volgograd. Then! a 3-day siege… “ok” é\u0301 naïve 日本語 done",
             "", "   ", "Hello\u00a0world.\tBye", "x" * 5]
    spans = [[{"start": 0, "end": 11, "label": "PERSON"}, {"start": 21, "end": 24, "label": "GPE"},
              {"start": 5, "end": 9, "label": "ORG"}, {"start": 36, "end": 45, "label": "GPE"},
              {"start": 12, "end": 14, "label": "ORG"}],
             None, [{"start": 0, "end": 2, "label": "PERSON"}], [{"start": 6, "end": 11, "label": "GPE"}],
             [{"start": 1, "end": 3, "label": "ORG"}]]
    labels = ["PERSON", "ORG", "GPE"]
    names = conll.tag_names(labels)
    ref_stats, batch_stats = conll.TagStats(), conll.TagStats()
    reference, out = [], io.StringIO()
    for text, doc in zip(texts, spans):
        tokens, starts, ends = conll.tokenize(text)
        tags = conll.bio_tags(starts, ends, doc or [], ref_stats)
        reference.append((tokens, [names.index(t) for t in tags]))
        if tokens:
            conll.write_document(out, tokens, tags)
    tokens, tags = conll.tag_batch(pa.array(texts), spans, labels, batch_stats)
    assert list(zip(tokens.to_pylist(), tags.to_pylist())) == reference
    assert batch_stats == ref_stats and ref_stats.widened == 3 and ref_stats.dropped_overlap == 1
    assert bytes(conll.conll_buffer(tokens, tags, names)).decode() == out.getvalue()


# ---------------------------------------------------------------------------- Croissant


def test_croissant_validates_with_mlcroissant(ws: Workspace) -> None:
    mlc = pytest.importorskip("mlcroissant")
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    metadata = json.loads((folder / "croissant.json").read_text())
    assert metadata["rai:dataCollection"] and metadata["rai:dataAnnotationProtocol"]
    dataset = mlc.Dataset(jsonld=folder / "croissant.json")
    assert {rs.name for rs in dataset.metadata.record_sets} == {"documents", "ner"}
    records = list(dataset.records("documents"))
    assert len(records) == sum(pq.read_metadata(p).num_rows for p in (folder / "documents").glob("*.parquet"))


# ----------------------------------------------------------------------------- the Hub


def test_push_dry_run_lists_the_commit(ws: Workspace) -> None:
    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    plan = push_to_hub(folder, "org/news-events", dry_run=True)
    assert plan.dry_run and plan.revision_tag == "v0.1.0" and plan.commit_message == "Release v0.1.0"
    paths = [f["path"] for f in plan.files]
    assert paths == sorted(_tree(folder)) and "manifest.json" in paths and "README.md" in paths
    assert plan.bytes == sum(len(b) for b in _tree(folder).values())


def test_push_uses_huggingface_hub_with_the_env_token(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[tuple[str, Any]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            calls.append(("token", token))

        def create_repo(self, repo_id: str, **kwargs: Any) -> None:
            calls.append(("create_repo", (repo_id, kwargs)))

        def create_commit(self, repo_id: str, operations: list[Any], **kwargs: Any) -> Any:
            calls.append(("create_commit", (repo_id, [op.path_in_repo for op in operations], kwargs)))
            return type("Commit", (), {"oid": "c0ffee", "commit_url": "https://hub/commit/c0ffee"})()

        def create_tag(self, repo_id: str, **kwargs: Any) -> None:
            calls.append(("create_tag", (repo_id, kwargs)))

    release(ws, now=NOW)
    folder = ws.releases_dir / "v0.1.0"
    with pytest.raises(ReleaseError, match="HF_TOKEN is not set"):
        push_to_hub(folder, "org/news-events")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    plan = push_to_hub(folder, "org/news-events")
    assert calls[0] == ("token", "hf_secret_token")
    assert calls[1] == ("create_repo", ("org/news-events", {"repo_type": "dataset", "exist_ok": True}))
    name, (repo, paths, kwargs) = calls[2]
    assert name == "create_commit" and paths == [f["path"] for f in plan.files]
    assert kwargs["repo_type"] == "dataset" and kwargs["commit_message"] == "Release v0.1.0"
    assert calls[3] == ("create_tag", ("org/news-events", {"tag": "v0.1.0", "revision": "c0ffee",
                                                          "repo_type": "dataset", "tag_message": "Release v0.1.0"}))
    assert "hf_secret_token" not in json.dumps(plan.to_dict())

    class FailingApi(FakeApi):
        def create_commit(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("401 for token hf_secret_token")

    monkeypatch.setattr(huggingface_hub, "HfApi", FailingApi)
    with pytest.raises(ReleaseError) as info:
        push_to_hub(folder, "org/news-events")
    assert "hf_secret_token" not in str(info.value) and "***" in str(info.value)


def test_missing_inputs_are_clear_errors(workspace: Workspace) -> None:
    with pytest.raises(ReleaseError, match="annotations/articles/ does not exist") as info:
        release(workspace)
    assert "toolkit ingest" in info.value.hint


def _assert_batch_tagger_matches_the_reference(texts: list[str], spans: list[list[dict[str, Any]]],
                                                labels: list[str]) -> conll.TagStats:
    """``tag_batch`` of the texts gives what ``tokenize`` + ``bio_tags`` give text by text, with
    the same conversion figures; those figures."""
    names = conll.tag_names(labels)
    ref_stats, batch_stats = conll.TagStats(), conll.TagStats()
    reference = []
    for text, doc in zip(texts, spans):
        tokens, starts, ends = conll.tokenize(text)
        reference.append((tokens, [names.index(t) for t in conll.bio_tags(starts, ends, doc, ref_stats)]))
    tokens, tags = conll.tag_batch(pa.array(texts), spans, labels, batch_stats)
    assert list(zip(tokens.to_pylist(), tags.to_pylist())) == reference
    assert batch_stats == ref_stats
    return ref_stats


def test_batch_tagger_matches_the_reference_on_random_spans() -> None:
    import random

    labels = ["C", "A", "B"]  # not in alphabetical order: ties sort by label text
    alphabet = "ab cd,.\u00a0\n\téü日-!  \u2003x😀\u0301«\u200b_"
    for seed in range(5):
        rng = random.Random(seed)
        texts, spans = [], []
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
            doc = []
            for _ in range(rng.randint(0, 7)):
                start = rng.randint(0, len(text))
                doc.append({"start": start, "end": rng.randint(start, len(text) + 2), "label": rng.choice(labels)})
                if rng.random() < 0.2:  # the same span twice, another label
                    doc.append(dict(doc[-1], label=rng.choice(labels)))
            texts.append(text)
            spans.append(doc)
        stats = _assert_batch_tagger_matches_the_reference(texts, spans, labels)
        assert stats.dropped_overlap and stats.widened and stats.dropped_empty


NEWS_TEXTS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "articles" / "newspaper3k_tests" \
    / "expected_text"


def test_batch_tagger_matches_the_reference_on_real_news_text() -> None:
    """Real articles in English, Spanish, Arabic and Chinese (from the shared corpus, not copied
    here): the byte-level batch tokeniser gives the regex tokeniser's tokens, and the same
    tags for spans over every word of each text."""
    if not NEWS_TEXTS.is_dir():
        pytest.skip(f"{NEWS_TEXTS} is not there")
    texts = [p.read_text("utf-8") for p in sorted(NEWS_TEXTS.glob("*.txt"))]
    assert any(ord(c) > 0x7FF for c in "".join(texts))  # three-byte characters among them
    labels = ["PERSON", "ORG"]
    spans = []
    for text in texts:
        _, starts, ends = conll.tokenize(text)
        # Every 7th token a span of 1-2 tokens; every 11th also one starting mid-token.
        doc = [{"start": starts[k], "end": ends[min(k + k % 2, len(ends) - 1)], "label": labels[k % 2]}
               for k in range(0, len(starts), 7)]
        doc += [{"start": starts[k] + 1, "end": ends[k], "label": "ORG"} for k in range(3, len(starts), 11)
                if ends[k] - starts[k] > 1]
        spans.append(doc)
    stats = _assert_batch_tagger_matches_the_reference(texts, spans, labels)
    assert stats.widened and stats.dropped_overlap


def test_proposal_tells_corrections_from_no_change(tmp_path: Path) -> None:
    from toolkit.scaffold import init_workspace

    w = init_workspace(tmp_path / "ws", title="Test events", scheme="news-events-v1")
    build_workspace(w, 30)
    release(w, now=NOW)
    assert propose_version(w) == ("0.1.1", "patch: nothing has changed since v0.1.0 (the same articles, "
                                           "gold.parquet and scheme); a new version would only render them again")
    build_workspace(w, 30, variant=1)  # the same articles, some labels corrected
    version, reason = propose_version(w)
    assert version == "0.1.1" and reason.startswith("patch: corrections only")


def test_the_version_reason_says_command_line_only_when_the_proposal_was_overridden(ws: Workspace) -> None:
    # `toolkit release` without VERSION passes the proposal on: its reason is the proposal's own.
    first = release(ws, "0.1.0", now=NOW)
    assert first.reason.startswith("first release")
    assert "Version reason: first release" in (ws.releases_dir / "v0.1.0" / "CHANGELOG.md").read_text()
    second = release(ws, "2.0.0", now=NOW)
    assert second.reason.startswith("given on the command line (the toolkit would propose 0.1.1")
