"""Events end to end on the real Label Studio server: push the default (events) scheme, three
annotators' annotations made through the API as the labeling view saves them (regions with ids,
per-region attributes, relations), pull, agree, release, and load the ``events`` config."""

from __future__ import annotations

import uuid

import pyarrow.parquet as pq
import pytest

from toolkit.agreement import agree
from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, connect
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio.push import push
from toolkit.labelstudio.tasks import build_tasks
from toolkit.scaffold import init_workspace

from . import events_seed as seed
from .conftest import SEED, add_raw

pytestmark = pytest.mark.labelstudio

ATTRIBUTES = ("attack_type", "killed", "injured", "hostages", "certainty")
ENTITIES = tuple(dict.fromkeys(r for e in seed.SEED_EVENTS for _role, r in e.arguments)) + (
    seed.RUSSIA_117, seed.RUSSIA_1693)


@pytest.fixture
def events_workspace(tmp_path, label_studio, monkeypatch):
    ws = init_workspace(tmp_path / "ws", title=f"Events {uuid.uuid4().hex[:8]}")  # the default: news-events v2
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    add_raw(ws, SEED.name)
    ingest(ws)
    build_tasks(ws)
    return ws


def _annotators(client, n):
    suffix = uuid.uuid4().hex[:8]
    return [client.sdk.users.create(username=f"{name}{suffix}", email=f"{name}{suffix}@example.org",
                                    password=f"{name}-pass-123").id for name in ("alice", "bob", "carol")[:n]]


def test_events_round_trip_through_the_server(events_workspace):
    ws = events_workspace
    project_id = push(ws).project_id
    client = LabelStudioClient(connect(ws))
    try:
        (task,) = [t for _p, page, _n in client.iter_task_pages(project_id, page_size=10) for t in page]
        text = task["data"]["text"]
        alice, bob, carol = _annotators(client, 3)
        e1, e2, e3, e4 = seed.SEED_EVENTS
        # Bob counts 15 in Dagestan (the police officers without the priest): median of 16, 16, 15 is 16.
        e3_bob = seed.Event(e3.trigger, {**e3.attributes, "killed": 15}, e3.arguments)
        # Carol misses the Rostov-on-Don event (kept: 2 of 3) and marks the video as an event (dropped: 1 of 3),
        # and gives the Moscow shooting no time argument (kept: alice and bob have it).
        e2_carol = seed.Event(e2.trigger, e2.attributes, tuple(a for a in e2.arguments if a[0] != "time"))
        video = seed.Event((600, 606), {"attack_type": "Unknown"})
        answers = {
            alice: seed.Annotation(ENTITIES, (e1, e2, e3, e4), seed.SEED_RELATIONS),
            bob: seed.Annotation(ENTITIES, (e1, e2, e3_bob, e4), seed.SEED_RELATIONS[:2]),
            carol: seed.Annotation(ENTITIES, (e1, e2_carol, e3, video), seed.SEED_RELATIONS[1:]),
        }
        for user, answer in answers.items():
            client.sdk.annotations.create(id=task["id"], result=seed.results(answer, text), completed_by=user)
    finally:
        client.close()

    report = pull(ws)
    assert report.quarantined == 0 and report.valid == 3
    records = pq.read_table(ws.annotations_dir / "annotations.parquet").to_pylist()
    alice_record = next(r for r in records if r["annotator_id"] == alice)
    assert alice_record["events"] == seed.expected_events(answers[alice].events, text, ATTRIBUTES)
    assert {(r["label"], r["head"]["text"], r["tail"]["text"]) for r in alice_record["relations"]} == {
        ("located_in", "Volgograd", "Russia"), ("located_in", "concert hall", "Moscow"),
        ("located_in", "Dagestan", "Russia"), ("located_in", "synagogue", "Dagestan")}

    agree(ws)
    gold = pq.read_table(ws.annotations_dir / "gold.parquet").to_pylist()
    (row,) = gold
    assert row["status"] == "resolved", row["reason"]
    events = row["events"]
    # E1-E4 kept (3, 3, 3 and 2 of 3 annotators); the video (1 of 3) dropped.
    assert [e["trigger"]["text"] for e in events] == ["seized hostages", "mass shooting", "opened fire",
                                                       "taken them hostage"]
    assert [e["killed"] for e in events] == [1, 139, 16, 6]
    assert events[3]["hostages"] == 2
    assert [e["attack_type"] for e in events] == ["Hostage Taking (Barricade Incident)", "Armed Assault",
                                                  "Armed Assault", "Hostage Taking (Barricade Incident)"]
    # The Moscow shooting's time is kept by 2 of 3 votes.
    assert ("time", "March") in {(a["role"], a["text"]) for a in events[1]["arguments"]}
    # Relations by vote: concert hall in Moscow (3 of 3), Volgograd (alice, bob), synagogue (alice, carol)
    # and Dagestan (alice, carol) in Russia/Dagestan: every one has 2 or more of 3.
    assert len(row["relations"]) == 4

    from toolkit.release import release

    built = release(ws, version="1.0.0")
    import datasets

    ds = datasets.load_dataset(str(ws.root / built.path), "events")
    rows = [r for split in ds.values() for r in split]
    assert len(rows) == 4
    names = ds[next(iter(ds))].features["attack_type"].names
    assert sorted(names[r["attack_type"]] for r in rows) == sorted(e["attack_type"] for e in events)
    assert {r["event_id"] for r in rows} == {f"{row['article_id']}-e{i}" for i in range(1, 5)}
