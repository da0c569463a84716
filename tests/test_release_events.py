"""Releases of a scheme with events: the ``events`` config, its card section, Croissant and verify.

The workspace uses the default scheme (news-events version 2: entities, events with a type,
counts and arguments, relations) and hand-made gold for a few articles, written with
``gold_table`` as `toolkit agree` writes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from toolkit import atomicio
from toolkit.agreement.gold import gold_table
from toolkit.ingest import ARTICLE_SCHEMA
from toolkit.release import SPLITS, ReleaseOptions, propose_version, release, verify_release
from toolkit.release.data import event_features, events_configs
from toolkit.scaffold import init_workspace
from toolkit.scheme import Scheme, builtin_scheme, default_scheme
from toolkit.workspace import Workspace

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
SPAN_LABELS = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]
ROLES = ["perpetrator", "victim", "target", "place", "time", "weapon"]


@pytest.fixture(autouse=True)
def _offline_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


# ------------------------------------------------------------------------------ the data


def _span(text: str, words: str, label: str, nth: int = 0) -> dict[str, Any]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(words, start + 1)
    return {"start": start, "end": start + len(words), "label": label, "text": words}


def _event(text: str, trigger: str, attack_type: str | None, arguments: list[tuple[str, dict[str, Any]]],
           **attributes: Any) -> dict[str, Any]:
    t = _span(text, trigger, "EVENT")
    return {"trigger": {"start": t["start"], "end": t["end"], "text": trigger},
            "arguments": sorted(({"role": role, **span} for role, span in arguments),
                                key=lambda a: (a["start"], a["end"], a["role"])),
            "attack_type": attack_type, "killed": attributes.get("killed"), "injured": attributes.get("injured"),
            "hostages": attributes.get("hostages"), "certainty": attributes.get("certainty")}


def _articles() -> list[dict[str, Any]]:
    """Four articles: two with events, one without, one unresolved (with an event)."""
    texts = [
        "The Taliban stormed the Grand Hotel in Kabul on Monday, killing 5 guests. "
        "A car bomb exploded near it on Tuesday.",
        "Maria Lopez was kidnapped in Lagos, her family said.",
        "Police held a press conference in Mosul about the traffic plan.",
        "Ahmed Khan was shot in Volgograd.",
    ]
    out = []
    for text in texts:
        out.append({"text": text, "article_id": hashlib.sha256(text.encode()).hexdigest()[:16]})
    a, b, c, d = (x["text"] for x in out)
    taliban, hotel, kabul = _span(a, "The Taliban", "ORG"), _span(a, "Grand Hotel", "FAC"), _span(a, "Kabul", "GPE")
    monday, bomb, tuesday = _span(a, "Monday", "DATE"), _span(a, "car bomb", "WEAPON"), _span(a, "Tuesday", "DATE")
    out[0]["entities"] = [taliban, hotel, kabul, monday, bomb, tuesday]
    # Listed against trigger order on purpose: the release numbers events by trigger offset.
    out[0]["events"] = [
        _event(a, "exploded", "Bombing/Explosion", [("weapon", bomb), ("time", tuesday), ("place", kabul)],
               certainty="uncertain"),
        _event(a, "stormed", "Armed Assault", [("perpetrator", taliban), ("target", hotel), ("place", kabul),
                                               ("time", monday)], killed=5, certainty="confirmed"),
    ]
    out[0]["relations"] = [{"label": "located_in", "head": hotel, "tail": kabul}]
    maria, lagos = _span(b, "Maria Lopez", "PERSON"), _span(b, "Lagos", "GPE")
    out[1]["entities"] = [maria, lagos]
    out[1]["events"] = [_event(b, "kidnapped", "Hostage Taking (Kidnapping)", [("victim", maria), ("place", lagos)],
                               hostages=1, certainty="claimed")]
    out[1]["relations"] = []
    out[2]["entities"] = [_span(c, "Mosul", "GPE")]
    out[2]["events"] = []
    out[2]["relations"] = []
    ahmed, volgograd = _span(d, "Ahmed Khan", "PERSON"), _span(d, "Volgograd", "GPE")
    out[3]["entities"] = [ahmed, volgograd]
    out[3]["events"] = [_event(d, "shot", None, [("victim", ahmed)])]
    out[3]["relations"] = []
    out[3]["unresolved"] = True
    return out


def _write_articles(ws: Workspace, articles: list[dict[str, Any]]) -> None:
    rows = []
    for i, a in enumerate(articles):
        rows.append({
            "article_id": a["article_id"], "title": f"Report {i}", "text": a["text"],
            "published": dt.date(2024, 5, 1) + dt.timedelta(days=i), "source_url": f"https://news.example/{i}",
            "source_name": "news.example", "language": "en", "n_chars": len(a["text"]),
            "n_words": len(a["text"].split()), "format": "txt", "source_file": f"raw/{i}.txt",
            "raw_sha256": hashlib.sha256(a["text"].encode()).hexdigest(), "sources": [],
            "cluster_id": a["article_id"], "warnings": []})
    atomicio.write_text(ws.articles_path, "")  # the folder exists
    pq.write_table(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), ws.articles_path)


def _write_gold(ws: Workspace, articles: list[dict[str, Any]], scheme: Scheme) -> None:
    rows = []
    for k, a in enumerate(articles):
        row = {"article_id": a["article_id"], "status": "unresolved" if a.get("unresolved") else "resolved",
               "reason": "events: attack_type: tie" if a.get("unresolved") else None, "decided_by": "policy",
               "n_annotators": 2, "n_annotations": 2, "annotation_ids": [2 * k + 1, 2 * k + 2],
               "edited_annotation_ids": []}
        for f in scheme.fields:
            row[f.name] = a.get(f.name)
        rows.append(row)
    pq.write_table(gold_table(rows, scheme), ws.annotations_dir / "gold.parquet")


def build_events_workspace(tmp_path: Path) -> tuple[Workspace, list[dict[str, Any]]]:
    ws = init_workspace(tmp_path / "ws", title="Attacks")
    articles = _articles()
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    return ws, articles


# Three resolved articles, each its own cluster, no stratifying field: cut at a third and two
# thirds, one article goes to each split.
THIRDS = ReleaseOptions(train=0.34, validation=0.33, test=0.33)


def _split_of_article(folder: Path) -> dict[str, str]:
    out = {}
    for s in SPLITS:
        for path in (folder / "documents").glob(f"{s}-*.parquet"):
            for aid in pq.read_table(path, columns=["article_id"])["article_id"].to_pylist():
                out[aid] = s
    return out


# ------------------------------------------------------------------------------- tests


def test_events_config_has_one_row_per_gold_event_in_its_articles_split(tmp_path: Path) -> None:
    import datasets

    ws, articles = build_events_workspace(tmp_path)
    report = release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    a, b, c, unresolved = articles
    split_of = _split_of_article(folder)
    assert set(split_of) == {a["article_id"], b["article_id"], c["article_id"]}
    assert sorted(split_of.values()) == sorted(SPLITS)  # one article per split

    events = datasets.load_dataset(str(folder), "events")
    rows = {r["event_id"]: (s, r) for s in events for r in events[s]}
    # 2 + 1 events; the article without events gives none, the unresolved one is not released.
    assert set(rows) == {f"{a['article_id']}-e1", f"{a['article_id']}-e2", f"{b['article_id']}-e1"}
    for event_id, (split, row) in rows.items():
        assert row["article_id"] == event_id.rsplit("-e", 1)[0]
        assert split == split_of[row["article_id"]] == row["split"]
    assert report.events == {"events": {s: (2 if s == split_of[a["article_id"]] else
                                            1 if s == split_of[b["article_id"]] else 0) for s in SPLITS}}

    features = events[split_of[a["article_id"]]].features
    assert features["attack_type"].names == [ch.value for ch in default_scheme().field("events").type_field.choices]
    assert features["certainty"].names == ["confirmed", "claimed", "uncertain"]
    argument = features["arguments"].feature if hasattr(features["arguments"], "feature") else features["arguments"][0]
    assert argument["role"].names == ROLES and argument["label"].names == SPAN_LABELS
    assert features["killed"].dtype == "int32"
    assert list(features)[:6] == ["article_id", "event_id", "split", "attack_type", "trigger", "arguments"]

    names = features["attack_type"].names
    # e1 is the first trigger in the text ("stormed"), though gold listed "exploded" first.
    _, first = rows[f"{a['article_id']}-e1"]
    assert first["trigger"] == {"start": a["text"].index("stormed"), "end": a["text"].index("stormed") + 7,
                                "text": "stormed"}
    assert names[first["attack_type"]] == "Armed Assault"
    assert first["killed"] == 5 and first["injured"] is None and first["hostages"] is None
    assert [(ROLES[x["role"]], SPAN_LABELS[x["label"]], x["text"]) for x in first["arguments"]] == [
        ("perpetrator", "ORG", "The Taliban"), ("target", "FAC", "Grand Hotel"), ("place", "GPE", "Kabul"),
        ("time", "DATE", "Monday")]
    for x in first["arguments"]:
        assert a["text"][x["start"]:x["end"]] == x["text"]
    _, second = rows[f"{a['article_id']}-e2"]
    assert second["trigger"]["text"] == "exploded" and names[second["attack_type"]] == "Bombing/Explosion"
    assert [ROLES[x["role"]] for x in second["arguments"]] == ["place", "weapon", "time"]
    _, kidnap = rows[f"{b['article_id']}-e1"]
    assert kidnap["hostages"] == 1 and features["certainty"].names[kidnap["certainty"]] == "claimed"

    # The documents config keeps the nested events column (and relations) of every article.
    docs = datasets.load_dataset(str(folder), "documents")
    by_id = {r["article_id"]: r for s in docs for r in docs[s]}
    assert sorted(e["trigger"]["text"] for e in by_id[a["article_id"]]["events"]) == ["exploded", "stormed"]
    assert by_id[c["article_id"]]["events"] == []
    assert len(by_id[a["article_id"]]["relations"]) == 1
    assert verify_release(folder).ok


def test_card_lists_the_events_config_with_its_figures(tmp_path: Path) -> None:
    ws, articles = build_events_workspace(tmp_path)
    release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    split_of = _split_of_article(folder)
    a, b = articles[0]["article_id"], articles[1]["article_id"]
    card = (folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert list(configs) == ["documents", "ner", "events"]
    assert {"split": split_of[a], "path": f"events/{split_of[a]}-*.parquet"} in configs["events"]["data_files"]
    info = next(i for i in meta["dataset_info"] if i["config_name"] == "events")
    examples = {sp["name"]: sp["num_examples"] for sp in info["splits"]}
    assert examples[split_of[a]] == 2 and examples[split_of[b]] == 1
    assert sum(examples.values()) == 3
    assert "## Events" in card and "3 gold event(s) of field `events` in 2 article(s)" in card
    assert 'load_dataset("ORG/NAME", "events")' in card
    # per type: each type once, in the split of its article
    row = {s: 0 for s in SPLITS}
    row[split_of[a]] = 1
    assert f"| Armed Assault | {row['train']} | {row['validation']} | {row['test']} | 1 |" in card
    # arguments per role: place once per event (twice in article a's split, once in b's), victim once (b)
    place = {s: 2 if s == split_of[a] else 1 if s == split_of[b] else 0 for s in SPLITS}
    assert f"| place | {place['train']} | {place['validation']} | {place['test']} | 3 |" in card
    victim = {s: 1 if s == split_of[b] else 0 for s in SPLITS}
    assert f"| victim | {victim['train']} | {victim['validation']} | {victim['test']} | 1 |" in card
    assert "**killed**: given for 1 event(s); total 5" in card
    sheet = (folder / "DATASHEET.md").read_text()
    assert "Events (`events` config, field `events`): 3 gold event(s) in 2 article(s)" in sheet
    assert "with 9 argument(s)" in sheet  # 4 (stormed) + 3 (exploded) + 2 (kidnapped)


def test_croissant_has_an_events_record_set_that_validates(tmp_path: Path) -> None:
    mlc = pytest.importorskip("mlcroissant")
    ws, _ = build_events_workspace(tmp_path)
    release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    metadata = json.loads((folder / "croissant.json").read_text())
    events = next(rs for rs in metadata["recordSet"] if rs["@id"] == "events")
    assert events["key"] == {"@id": "events/event_id"}
    fields = {f["name"]: f for f in events["field"]}
    assert list(fields)[:6] == ["article_id", "event_id", "split", "attack_type", "trigger", "arguments"]
    assert [sub["name"] for sub in fields["arguments"]["subField"]] == ["role", "label", "start", "end", "text"]
    assert fields["arguments"]["repeated"] is True and "repeated" not in fields["trigger"]
    dataset = mlc.Dataset(jsonld=folder / "croissant.json")
    assert {rs.name for rs in dataset.metadata.record_sets} == {"documents", "ner", "events"}
    records = list(dataset.records("events"))
    assert len(records) == 3
    ids = sorted(r["events/event_id"].decode() if isinstance(r["events/event_id"], bytes) else r["events/event_id"]
                 for r in records)
    assert all(i.rsplit("-e", 1)[1] in ("1", "2") for i in ids)
    assert len(list(dataset.records("documents"))) == 3


def test_verify_checks_the_events_files(tmp_path: Path) -> None:
    ws, _ = build_events_workspace(tmp_path)
    release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    manifest = json.loads((folder / "manifest.json").read_text())
    event_files = sorted(rel for rel in manifest["files"] if rel.startswith("events/"))
    assert event_files and all(rel.endswith(".parquet") for rel in event_files)
    rows = {s: sum(pq.read_metadata(folder / rel).num_rows for rel in event_files if rel.startswith(f"events/{s}-"))
            for s in SPLITS}
    assert manifest["counts"]["events"] == {"events": rows} and sum(rows.values()) == 3
    assert verify_release(folder).ok
    target = folder / event_files[0]
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = verify_release(folder)
    assert not report.ok and report.changed == [event_files[0]]


def test_a_scheme_without_events_makes_no_events_config(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "v1", title="Attacks", scheme="news-events-v1")
    scheme = Scheme.load(ws.scheme_path)
    assert events_configs(scheme) == {}
    articles = _articles()[:3]
    for a in articles:
        a.update(event_type="Armed Assault", killed=1, injured=None, hostages=None, note=None)
    _write_articles(ws, articles)
    _write_gold(ws, articles, scheme)
    report = release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    assert report.events == {}
    assert not (folder / "events").exists()
    meta = yaml.safe_load((folder / "README.md").read_text().split("---\n")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["documents", "ner"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "events" not in manifest["counts"] and "events" not in manifest["stats"]
    assert "## Events" not in (folder / "README.md").read_text()


def test_moving_to_the_events_scheme_is_major_and_the_documents_say_what_changed(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", title="Attacks", scheme="news-events-v1")
    articles = _articles()
    for a in articles:
        a.update(event_type="Armed Assault", killed=1, injured=None, hostages=None, note=None)
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    release(ws, now=NOW, options=THIRDS)
    # The workspace moves to scheme version 2; gold is recomputed with it.
    ws.scheme_path.write_text(json.dumps(default_scheme().to_dict(), indent=2))
    from toolkit.scheme import build_scheme_files

    build_scheme_files(ws.schemas_dir)
    _write_gold(ws, _articles(), Scheme.load(ws.scheme_path))
    version, reason = propose_version(ws, options=THIRDS)
    assert version == "1.0.0" and reason.startswith("major:") and "field event_type" in reason
    release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v1.0.0"
    changelog = (folder / "CHANGELOG.md").read_text()
    assert "- removed: field event_type" in changelog
    for name in ("killed", "injured", "hostages"):
        assert f"- changed: field {name} (number) moved onto each event of events as attribute {name} (number)" \
            in changelog
    assert "- added: field events" in changelog and "- added: field relations" in changelog
    for doc in ("README.md", "DATASHEET.md"):
        text = (folder / doc).read_text()
        assert "The scheme changed since v0.1.0: `news-events` version 1 -> `news-events` version 2." in text
        assert "- removed: field event_type\n" in text and "field killed (number) moved onto each event" in text
        assert "- added: field events; field relations" in text
    # A release with the same scheme version says nothing about a change.
    assert "The scheme changed" not in (ws.releases_dir / "v0.1.0" / "README.md").read_text()


def test_events_fields_without_type_and_several_fields_make_their_own_configs() -> None:
    data = default_scheme().to_dict()
    events = next(f for f in data["fields"] if f["kind"] == "events")
    events["type"] = None
    second = json.loads(json.dumps(events))
    second["name"] = "ner"  # a folder every release has: the config gets another name
    second["trigger"]["value"] = "PROTEST"
    for role in second["roles"]:
        role["value"] = f"protest_{role['value']}"
    for attribute in second["attributes"]:
        attribute["name"] = f"protest_{attribute['name']}"
    data["fields"].append(second)
    scheme = Scheme.from_dict(data)
    configs = events_configs(scheme)
    assert {c: f.name for c, f in configs.items()} == {"events": "events", "ner_events": "ner"}
    features = event_features(configs["events"], scheme)
    # No type column: attack_type is an ordinary attribute, after the arguments.
    assert list(features)[:5] == ["article_id", "event_id", "split", "trigger", "arguments"]
    assert list(features)[5:] == ["attack_type", "killed", "injured", "hostages", "certainty"]
    protest = event_features(configs["ner_events"], scheme)
    argument = protest["arguments"].feature if hasattr(protest["arguments"], "feature") else protest["arguments"][0]
    assert argument["role"].names == [f"protest_{r}" for r in ROLES]


def test_no_gold_event_at_all_makes_no_events_config_and_the_card_says_why(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", title="Attacks")
    articles = _articles()[:3]
    for a in articles:
        a["events"] = []
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    report = release(ws, now=NOW, options=THIRDS)
    folder = ws.releases_dir / "v0.1.0"
    assert report.events == {"events": {s: 0 for s in SPLITS}}
    assert not (folder / "events").exists()  # datasets cannot load a config without rows
    card = (folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["documents", "ner"]
    assert "- **events**: not in this release: no released article has a gold event of field `events`." in card
    assert verify_release(folder).ok


def test_feature_values_turn_nested_gold_into_class_ids() -> None:
    """Spans with attributes (a choice asked for some labels, a number): label names become
    ClassLabel ids at every depth, a null list an empty one, a missing attribute stays null."""
    from datasets import Features

    from toolkit.release.data import feature_values
    from toolkit.scheme import build_features

    data = builtin_scheme("news-events-v1").to_dict()
    entities = data["fields"][0]
    entities["attributes"] = [
        {"name": "role_in_text", "kind": "choice", "choices": [{"value": "main"}, {"value": "minor"}],
         "labels": ["PERSON"]},
        {"name": "age", "kind": "number", "integer": True}]
    scheme = Scheme.from_dict(data)
    feature = build_features(scheme)["entities"]
    item = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.string()), ("text", pa.string()),
                      ("role_in_text", pa.string()), ("age", pa.int64())])
    gold = pa.array([[{"start": 0, "end": 4, "label": "PERSON", "text": "Anna", "role_in_text": "minor", "age": 30},
                      {"start": 9, "end": 14, "label": "GPE", "text": "Paris", "role_in_text": None, "age": None}],
                     None], pa.list_(item))
    out = feature_values(gold, feature, "entities")
    assert out.type == Features({"entities": feature}).arrow_schema.field("entities").type
    assert out.to_pylist() == [
        [{"start": 0, "end": 4, "label": 0, "text": "Anna", "role_in_text": 1, "age": 30},
         {"start": 9, "end": 14, "label": 2, "text": "Paris", "role_in_text": None, "age": None}],
        []]
    # a slice (as a batch of the write loop takes) keeps exactly its own items
    assert feature_values(gold.slice(1), feature, "entities").to_pylist() == [[]]
    assert feature_values(gold.slice(0, 1), feature, "entities").to_pylist()[0][1]["label"] == 2


def test_a_gold_role_or_type_the_scheme_lacks_stops_the_release(tmp_path: Path) -> None:
    from toolkit.release import ReleaseInputStale

    ws = init_workspace(tmp_path / "ws", title="Attacks")
    articles = _articles()
    articles[1]["events"][0]["arguments"][0]["role"] = "hostage"  # not a role of the scheme
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    with pytest.raises(ReleaseInputStale, match="events role value 'hostage'"):
        release(ws, now=NOW, options=THIRDS)
    articles = _articles()
    articles[0]["events"][1]["attack_type"] = "Riot"
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    with pytest.raises(ReleaseInputStale, match="events attack_type value 'Riot'"):
        release(ws, now=NOW, options=THIRDS)
    assert not [p for p in ws.releases_dir.iterdir() if p.name.startswith("v")]
