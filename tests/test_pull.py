"""`toolkit pull` against a real Label Studio server: completeness, offsets, resume, changes, exports."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid

import httpx
import pyarrow.parquet as pq
import pytest

from toolkit.errors import PullIncomplete, ServerUnreachable
from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, connect
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio.push import push
from toolkit.labelstudio.tasks import build_tasks

from .conftest import SEED, add_raw

pytestmark = pytest.mark.labelstudio

EMOJI_TEXT = ("Fire 🔥 crews 🚒 and paramedics 🚑 were called to the market on Friday, where Governor Jane Doe "
              "later told reporters that three people had been injured in the blaze and that the cause was not "
              "yet known.")


def utf16(text: str, index: int) -> int:
    """An offset as the browser counts it: UTF-16 code units."""
    return len(text[:index].encode("utf-16-le")) // 2


def span(text, needle, label, *, offsets=None):
    start = text.index(needle)
    start, end = offsets or (start, start + len(needle))
    return {"from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": needle, "labels": [label]}}


def choice(value):
    return {"from_name": "event_type", "to_name": "text", "type": "choices", "value": {"choices": [value]}}


def number(name, value):
    return {"from_name": name, "to_name": "text", "type": "number", "value": {"number": value}}


class Project:
    """A pushed project with annotations made through the API as annotators submit them."""

    def __init__(self, ws, server):
        self.ws, self.server = ws, server
        self.client = LabelStudioClient(connect(ws))
        (ws.raw_dir / "emoji.txt").write_text("Market fire injures three\n\n" + EMOJI_TEXT + "\n", encoding="utf-8")
        add_raw(ws, SEED.name, "near-a.txt")
        ingest(ws)
        build_tasks(ws)
        self.project_id = push(ws).project_id
        tasks = [t for _p, page, _n in self.client.iter_task_pages(self.project_id, page_size=100) for t in page]
        self.task = {t["data"]["title"].split()[0]: t for t in tasks}  # Knife-wielding / Market / Gunmen
        suffix = uuid.uuid4().hex[:8]
        self.alice = self.client.sdk.users.create(username=f"alice{suffix}", email=f"alice{suffix}@example.org",
                                                  password="alice-pass-123").id
        self.bob = self.client.sdk.users.create(username=f"bob{suffix}", email=f"bob{suffix}@example.org",
                                                password="bob-pass-123").id
        self.emails = {self.alice: f"alice{suffix}@example.org", self.bob: f"bob{suffix}@example.org"}
        seed = self.task["Knife-wielding"]
        text = seed["data"]["text"]
        self.seed_alice = self.annotate(seed, self.alice, [
            span(text, "Volgograd", "GPE"), span(text, "Islamic State", "ORG"),
            choice("Hostage Taking (Barricade Incident)"), number("killed", 1)], lead_time=42.0)
        self.seed_bob = self.annotate(seed, self.bob, [
            span(text, "Volgograd", "GPE"), choice("Hostage Taking (Barricade Incident)"), number("killed", 1),
            number("hostages", 2)], lead_time=30.5)
        market = self.task["Market"]
        mtext = market["data"]["text"]
        index = mtext.index("Jane Doe")
        self.emoji = self.annotate(market, self.alice, [
            span(mtext, "Jane Doe", "PERSON", offsets=(utf16(mtext, index), utf16(mtext, index + 8))),
            choice("Facility/Infrastructure Attack"), number("injured", 3)])
        self.cancelled = self.annotate(self.task["Gunmen"], self.bob, [], was_cancelled=True)
        self.ground_truth = self.annotate(self.task["Gunmen"], self.alice, [choice("Armed Assault"),
                                                                            number("killed", 2)], ground_truth=True)
        draft = httpx.post(f"{server.url}/api/tasks/{self.task['Gunmen']['id']}/drafts",
                           json={"result": [number("injured", 3)], "lead_time": 5.0},
                           headers={"Authorization": f"Token {server.token}"})
        draft.raise_for_status()
        self.draft = draft.json()["id"]

    def annotate(self, task, user, result, **kwargs):
        return self.client.sdk.annotations.create(id=task["id"], result=result, completed_by=user, **kwargs).id

    def close(self):
        self.client.close()


@pytest.fixture
def project(ls_workspace, label_studio):
    p = Project(ls_workspace, label_studio)
    yield p
    p.close()


def rows(ws, name="annotations"):
    return pq.read_table(ws.annotations_dir / f"{name}.parquet").to_pylist()


def test_pull_reads_everything_and_normalises_it(project):
    ws = project.ws
    report = pull(ws)
    assert (report.tasks, report.annotations, report.valid) == (3, 5, 5)
    assert (report.cancelled, report.ground_truth, report.drafts, report.quarantined) == (1, 1, 1, 0)
    records = {r["annotation_id"]: r for r in rows(ws)}
    assert set(records) == {project.seed_alice, project.seed_bob, project.emoji, project.cancelled,
                            project.ground_truth}
    alice = records[project.seed_alice]
    assert alice["annotator_id"] == project.alice and alice["annotator_email"] == project.emails[project.alice]
    assert alice["article_id"] == project.task["Knife-wielding"]["data"]["article_id"]
    assert alice["event_type"] == "Hostage Taking (Barricade Incident)"
    assert alice["killed"] == 1 and alice["hostages"] is None and alice["lead_time"] == 42.0
    assert [(s["label"], s["text"]) for s in alice["entities"]] == [("GPE", "Volgograd"), ("ORG", "Islamic State")]
    text = project.task["Knife-wielding"]["data"]["text"]
    assert all(text[s["start"]:s["end"]] == s["text"] for s in alice["entities"])
    assert records[project.cancelled]["was_cancelled"] and records[project.cancelled]["entities"] == []
    assert records[project.ground_truth]["ground_truth"]
    assert records[project.seed_bob]["annotator_email"] == project.emails[project.bob]
    # drafts live in their own file, never among submitted annotations
    (draft,) = rows(ws, "drafts")
    assert draft["draft_id"] == project.draft and draft["injured"] == 3
    assert draft["annotator_email"] == project.server.email and draft["annotator_id"] is not None
    assert project.draft not in records or records.get(project.draft, {}).get("injured") != 3


def test_utf16_offsets_after_emoji_are_converted(project):
    ws = project.ws
    report = pull(ws)
    assert report.offsets["converted"] == 1 and report.offsets["quarantined"] == 0
    (record,) = [r for r in rows(ws) if r["annotation_id"] == project.emoji]
    (person,) = record["entities"]
    text = project.task["Market"]["data"]["text"]
    assert text[person["start"]:person["end"]] == "Jane Doe" == person["text"]
    assert person["start"] == text.index("Jane Doe")


def test_snapshot_is_saved_first_immutable_and_indexed(project):
    ws = project.ws
    report = pull(ws)
    snapshot = ws.root / report.snapshot
    assert snapshot.name.endswith("Z.jsonl.gz")
    digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    (entry,) = json.loads((ws.annotations_dir / "exports" / "index.json").read_text())
    assert entry["sha256"] == digest == report.snapshot_sha256
    assert entry["tasks"] == 3 and entry["annotations"] == 5
    assert entry["source"] == {"kind": "server", "url": project.server.url, "project_id": project.project_id,
                               "maximum_annotations": 2}  # the overlap when read, for `toolkit agree`
    raw = [json.loads(line) for line in gzip.open(snapshot, "rt")]
    assert sorted(t["id"] for t in raw) == sorted(t["id"] for t in project.task.values())
    assert not (snapshot.stat().st_mode & 0o222)  # read-only
    second = pull(ws)
    assert second.snapshot != report.snapshot and hashlib.sha256(snapshot.read_bytes()).hexdigest() == digest
    # nothing secret is written anywhere in annotations/
    for path in ws.annotations_dir.rglob("*"):
        if path.is_file():
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            assert project.server.token.encode() not in data, path


def interrupt_after_first_chunk(ws, monkeypatch, *, chunk_size):
    """Run a pull whose connection drops after its first chunk; returns the chunks asked for.
    The client is as it was afterwards."""
    real = LabelStudioClient.export_tasks
    calls = []

    def die_after_first_chunk(self, project_id, ids):
        calls.append(ids)
        if len(calls) > 1:
            raise ServerUnreachable("simulated: the connection dropped")
        return real(self, project_id, ids)

    monkeypatch.setattr(LabelStudioClient, "export_tasks", die_after_first_chunk)
    with pytest.raises(ServerUnreachable):
        pull(ws, chunk_size=chunk_size)
    monkeypatch.setattr(LabelStudioClient, "export_tasks", real)
    return calls


def test_interrupted_pull_fails_clearly_keeps_state_and_resumes(project, monkeypatch):
    ws = project.ws
    pull(ws)
    before = {p.name: p.read_bytes() for p in ws.annotations_dir.iterdir() if p.is_file()}
    real = LabelStudioClient.export_tasks
    calls = interrupt_after_first_chunk(ws, monkeypatch, chunk_size=1)
    assert {p.name: p.read_bytes() for p in ws.annotations_dir.iterdir() if p.is_file()} == before
    assert list((ws.cache_dir / "pull").glob("project-*/checkpoint.json"))
    counted = []
    monkeypatch.setattr(LabelStudioClient, "export_tasks",
                        lambda self, pid, ids: counted.append(ids) or real(self, pid, ids))
    report = pull(ws, chunk_size=1)
    assert report.resumed_chunks == 1
    assert len(counted) < len(calls) + len(range(min(t["id"] for t in project.task.values()),
                                                   max(t["id"] for t in project.task.values()) + 1))
    assert (report.tasks, report.valid) == (3, 5)
    assert not (ws.cache_dir / "pull").exists()


def test_pull_is_incomplete_when_the_project_changes_meanwhile(project, monkeypatch):
    ws = project.ws
    real = LabelStudioClient.task_bounds
    calls = []

    def grows(self, project_id):
        total, low, high = real(self, project_id)
        calls.append(1)
        return (total + 1, low, high) if len(calls) > 1 else (total, low, high)

    monkeypatch.setattr(LabelStudioClient, "task_bounds", grows)
    with pytest.raises(PullIncomplete, match="read 3 distinct tasks .* counts 3 before and 4 after"):
        pull(ws)
    assert not (ws.annotations_dir / "annotations.parquet").exists()


def test_changed_and_deleted_annotations_and_tasks_are_reported(project, label_studio):
    ws = project.ws
    first = pull(ws)
    headers = {"Authorization": f"Token {label_studio.token}"}
    text = project.task["Knife-wielding"]["data"]["text"]
    project.client.sdk.annotations.update(id=project.seed_bob, result=[
        span(text, "Volgograd", "GPE"), choice("Hostage Taking (Barricade Incident)"), number("killed", 2)])
    httpx.delete(f"{label_studio.url}/api/annotations/{project.seed_alice}/", headers=headers).raise_for_status()
    httpx.delete(f"{label_studio.url}/api/tasks/{project.task['Market']['id']}/", headers=headers).raise_for_status()
    new = project.annotate(project.task["Gunmen"], project.bob, [choice("Armed Assault")])
    report = pull(ws)
    changes = report.changes
    assert changes.added == [new]
    assert changes.changed == [project.seed_bob]
    assert changes.deleted == sorted([project.seed_alice, project.emoji])
    assert changes.tasks_deleted == [project.task["Market"]["id"]]
    # the deleted annotation is gone from the mirror, but kept in the earlier snapshot
    assert project.seed_alice not in {r["annotation_id"] for r in rows(ws)}
    earlier = [json.loads(line) for line in gzip.open(ws.root / first.snapshot, "rt")]
    assert project.seed_alice in {a["id"] for t in earlier for a in t["annotations"]}


def _export(server, project_id, kind, path):
    response = httpx.get(f"{server.url}/api/projects/{project_id}/export",
                         params={"exportType": kind, "download_all_tasks": "true"},
                         headers={"Authorization": f"Token {server.token}"}, timeout=60)
    response.raise_for_status()
    path.write_bytes(response.content)
    return path


@pytest.mark.parametrize("kind", ["JSON", "JSON_MIN"])
def test_from_export_gives_the_same_records_as_the_server(project, tmp_path, kind):
    ws = project.ws
    server_report = pull(ws)
    from_server = {r["annotation_id"]: r for r in rows(ws)}
    exported = _export(project.server, project.project_id, kind, tmp_path / f"export.{kind.lower()}.json")
    report = pull(ws, from_export=exported)
    assert report.source["kind"] == "export" and report.source["file"] == exported.name
    from_file = {r["annotation_id"]: r for r in rows(ws)}
    fields = ["article_id", "entities", "event_type", "killed", "injured", "hostages", "note"]
    if kind == "JSON":
        assert report.annotations == server_report.annotations
        assert set(from_file) == set(from_server)
        for key, record in from_server.items():
            assert {f: from_file[key][f] for f in fields} == {f: record[f] for f in fields}
    else:
        # JSON_MIN keeps one row per annotated task (the last annotation) and drops cancelled ones
        assert set(from_file) <= set(from_server) and from_file
        for key, record in from_file.items():
            assert {f: record[f] for f in fields} == {f: from_server[key][f] for f in fields}


def test_from_export_gzipped(project, tmp_path):
    exported = _export(project.server, project.project_id, "JSON", tmp_path / "export.json")
    gz = tmp_path / "export.json.gz"
    gz.write_bytes(gzip.compress(exported.read_bytes()))
    report = pull(project.ws, from_export=gz)
    assert report.annotations == 5 and report.valid == 5


def test_a_resumed_pull_reads_again_the_chunks_that_changed_meanwhile(project, monkeypatch):
    """Interrupted after the first chunk; then an annotation is added to, and another edited in,
    that chunk on the server. The resumed pull must not return the old chunk as current."""
    ws = project.ws
    first_chunk = set(interrupt_after_first_chunk(ws, monkeypatch, chunk_size=2)[0])
    # alice's annotations, by task: one of them is on a task of the chunk already read
    alice_on = {project.task["Knife-wielding"]["id"]: project.seed_alice, project.task["Market"]["id"]: project.emoji,
                project.task["Gunmen"]["id"]: project.ground_truth}
    task_id = min(first_chunk & set(alice_on))
    task = next(t for t in project.task.values() if t["id"] == task_id)
    added = project.annotate(task, project.bob, [choice("Armed Assault")])
    import time

    time.sleep(1)
    project.client.sdk.annotations.update(id=alice_on[task_id], result=[choice("Hijacking")])
    report = pull(ws, chunk_size=2)
    assert report.stale_chunks_reread == 1 and report.resumed_chunks == 0
    rows = {r["annotation_id"]: r for r in pq.read_table(ws.annotations_dir / "annotations.parquet").to_pylist()}
    assert added in rows and rows[alice_on[task_id]]["event_type"] == "Hijacking"



def test_a_resumed_pull_says_its_kept_chunks_drafts_are_as_of_the_interruption(project, label_studio, monkeypatch):
    """Saving a draft moves neither the task's updated_at nor its counts (Label Studio 1.23.2), so
    a chunk kept by a resumed pull cannot be known to hold a new draft. The pull says so, with
    the time its kept chunks were read, on the terminal too; the next pull has the draft."""
    import datetime as dt

    from typer.testing import CliRunner

    from toolkit.cli import app

    ws = project.ws
    before_interruption = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    (task_id,) = interrupt_after_first_chunk(ws, monkeypatch, chunk_size=1)[0]
    httpx.post(f"{label_studio.url}/api/tasks/{task_id}/drafts",
               json={"result": [number("injured", 7)], "lead_time": 2.0},
               headers={"Authorization": f"Token {label_studio.token}"}).raise_for_status()

    toml = ws.root / "toolkit.toml"  # the command reads in chunks of [labelstudio] page_size ids, as interrupted
    toml.write_text(re.sub(r"(?m)^page_size = .*$", "page_size = 1", toml.read_text(encoding="utf-8")),
                    encoding="utf-8")
    assert "page_size = 1" in toml.read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["-w", str(ws.root), "pull"])
    assert result.exit_code == 0, result.output
    assert "resumed: 1 chunk(s) read before and unchanged on the server" in result.stdout
    assert "note: the drafts of the 1 chunk(s) kept from the interrupted pull are as they were at " in result.stderr
    report = json.loads((ws.annotations_dir / "pull-report.json").read_text())
    assert report["resumed_chunks"] == 1 and report["stale_chunks_reread"] == 0
    read_at = dt.datetime.fromisoformat(report["resumed_read_at"].replace("Z", "+00:00"))
    assert before_interruption <= read_at <= dt.datetime.now(dt.timezone.utc)
    assert report["resumed_read_at"] in result.stderr
    # what the note says: the kept chunk's drafts are those of the interrupted pull
    assert [d["injured"] for d in rows(ws, "drafts")] == [3]

    again = pull(ws)  # nothing left to resume: every chunk is read now, the new draft with it
    assert again.resumed_chunks == 0 and again.resumed_read_at is None
    assert sorted(d["injured"] for d in rows(ws, "drafts")) == [3, 7]
