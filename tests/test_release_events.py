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

from toolkit.agreement.gold import gold_table
from toolkit.ingest import ARTICLE_SCHEMA
from toolkit.release import SPLITS, ReleaseOptions, propose_version, release, verify_release
from toolkit.release.data import event_features, events_configs
from toolkit.scaffold import init_workspace
from toolkit.scheme import EventsField, Scheme, builtin_scheme, default_scheme
from toolkit.workspace import Workspace

from .test_release import _offline_hf  # noqa: F401 (autouse here too: datasets stays offline, its cache in tmp)
from toolkit.ingest import store

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
SPAN_LABELS = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]
ROLES = ["perpetrator", "victim", "target", "place", "time", "weapon"]


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
            "cluster_id": a.get("cluster_id", a["article_id"]), "warnings": []})
    store.write_table(ws, pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA))


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


# Three resolved articles, each its own cluster and its own stratum (main event type Armed
# Assault, Hostage Taking (Kidnapping), no event): each stratum is one cluster, whose middle
# (half its articles) lies between the cuts at 0.34 and 0.67, so all three go to validation.
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
    assert set(split_of.values()) == {"validation"}  # see THIRDS

    events = datasets.load_dataset(str(folder), "events")
    rows = {r["event_id"]: (s, r) for s in events for r in events[s]}
    # 2 + 1 events; the article without events gives none, the unresolved one is not released.
    assert set(rows) == {f"{a['article_id']}-e1", f"{a['article_id']}-e2", f"{b['article_id']}-e1"}
    for event_id, (split, row) in rows.items():
        assert row["article_id"] == event_id.rsplit("-e", 1)[0]
        assert split == split_of[row["article_id"]] == row["split"]
    n_events = {a["article_id"]: 2, b["article_id"]: 1, c["article_id"]: 0}
    assert report.events == {"events": {s: sum(n for aid, n in n_events.items() if split_of[aid] == s)
                                        for s in SPLITS}}

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
    assert examples == {s: 2 * (split_of[a] == s) + (split_of[b] == s)
                        for s in SPLITS if s in (split_of[a], split_of[b])}
    assert sum(examples.values()) == 3
    assert "## Events" in card and "3 gold event(s) of field `events` in 2 article(s)" in card
    assert 'load_dataset("ORG/NAME", "events")' in card
    # per type: each type once, in the split of its article
    row = {s: 0 for s in SPLITS}
    row[split_of[a]] = 1
    assert f"| Armed Assault | {row['train']} | {row['validation']} | {row['test']} | 1 |" in card
    # arguments per role: place once per event (twice in article a's split, once in b's), victim once (b)
    place = {s: 2 * (split_of[a] == s) + (split_of[b] == s) for s in SPLITS}
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


# ---------------------------------------------------------------- stratified splits

ASSASSINATION, ARMED, KIDNAPPING = "Assassination", "Armed Assault", "Hostage Taking (Kidnapping)"


def _typed(i: int, types: list[str | None], cluster: str | None = None) -> dict[str, Any]:
    """Article ``i`` with one gold event per entry of ``types`` (a type, or None: untyped), in
    that trigger order, without entities or arguments."""
    text = f"Report {i} from the wires: " + ", ".join(f"strike{k}" for k in range(len(types))) + "."
    article = {"text": text, "article_id": hashlib.sha256(text.encode()).hexdigest()[:16],
               "entities": [], "relations": [],
               "events": [_event(text, f"strike{k}", t, []) for k, t in enumerate(types)]}
    if cluster is not None:
        article["cluster_id"] = cluster
    return article


def _stratified_articles() -> dict[str, list[dict[str, Any]]]:
    """40 articles, each its own cluster: 10 per stratum, keyed by the stratum the rule gives them.

    Besides the plain ones, each type has articles where the rule matters: a tie goes to the
    type first in the scheme's order (Assassination before Armed Assault, though "Armed
    Assault" sorts first by name; Armed Assault before Hostage Taking), the most frequent type
    wins over the order, and untyped events do not count (two of them lose to one typed)."""
    specs: dict[str, list[list[str | None]]] = {
        ASSASSINATION: [[ASSASSINATION]] * 7 + [[ARMED, ASSASSINATION], [KIDNAPPING, ASSASSINATION, ASSASSINATION],
                                               [None, None, ASSASSINATION]],
        ARMED: [[ARMED]] * 8 + [[ASSASSINATION, ARMED, ARMED], [KIDNAPPING, ARMED]],
        KIDNAPPING: [[KIDNAPPING]] * 9 + [[ARMED, KIDNAPPING, KIDNAPPING]],
        "no event": [[]] * 10,
    }
    out, i = {}, 0
    for stratum, lists in specs.items():
        out[stratum] = []
        for types in lists:
            out[stratum].append(_typed(i, types))
            i += 1
    return out


def _stratified_workspace(root: Path, *, reverse: bool = False) -> tuple[Workspace, dict[str, list[dict[str, Any]]]]:
    ws = init_workspace(root, title="Attacks")
    by_stratum = _stratified_articles()
    articles = [a for group in by_stratum.values() for a in group]
    if reverse:
        articles.reverse()
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    return ws, by_stratum


# Ten single-article clusters in a stratum, in hash order k = 0..9: the middle of cluster k is
# at (k + 0.5) / 10; below 0.8 -> train (k = 0..7), below 0.9 -> validation (k = 8), else test.
TEN = {"train": 8, "validation": 1, "test": 1}


def test_splits_are_stratified_by_the_articles_main_event_type(tmp_path: Path) -> None:
    from toolkit.release.data import make_plan, read_inputs

    ws, by_stratum = _stratified_workspace(tmp_path / "ws")
    inputs = read_inputs(ws, ReleaseOptions())
    assert isinstance(inputs.stratify, EventsField) and inputs.stratify.name == "events"
    plan = make_plan(ws, inputs)
    # Strata in the scheme's order of the types, then the articles without events.
    assert list(plan.strata) == [ASSASSINATION, ARMED, KIDNAPPING, "no event"]
    assert plan.strata == {stratum: TEN for stratum in by_stratum}

    # The per-article strata: each stratum's ten articles are cut 8 / 1 / 1 (an article given
    # another stratum would make one 9 / 1 / 1 and another 7 / 1 / 1).
    # Votes on events exist: the per-article agreement (article-level choices only) stays null.
    gold = pq.read_table(ws.annotations_dir / "gold.parquet")
    pq.write_table(pa.table({"article_id": gold["article_id"], "was_cancelled": pa.array([False] * gold.num_rows),
                             "ground_truth": pa.array([False] * gold.num_rows), "events": gold["events"]}),
                   ws.annotations_dir / "annotations.parquet")
    report = release(ws, now=NOW)
    assert report.articles == {"train": 32, "validation": 4, "test": 4}
    folder = ws.releases_dir / "v0.1.0"
    split_of = _split_of_article(folder)
    for stratum, articles in by_stratum.items():
        assert {s: sum(split_of[a["article_id"]] == s for a in articles) for s in SPLITS} == TEN, stratum
    documents = pa.concat_tables(pq.read_table(p) for p in sorted((folder / "documents").glob("*.parquet")))
    assert documents["agreement"].null_count == documents.num_rows

    # Every type is in train; each event in its article's split.
    names = default_scheme().field("events").type_field.values
    types_in: dict[str, set[str]] = {s: set() for s in SPLITS}
    for path in (folder / "events").glob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            assert row["split"] == split_of[row["article_id"]]
            if row["attack_type"] is not None:
                types_in[row["split"]].add(names[row["attack_type"]])
    assert types_in["train"] == {ASSASSINATION, ARMED, KIDNAPPING}

    card = (folder / "README.md").read_text()
    assert "clusters are stratified by the articles' main event type (`events.attack_type`) and ordered" in card
    assert "not stratified" not in card
    for stratum in by_stratum:
        assert f"| {stratum} | 8 | 1 | 1 | 10 |" in card
    assert "| **total** | 32 | 4 | 4 | 40 |" in card
    assert "The `agreement` column is null" in card


def test_the_same_events_data_give_the_same_splits(tmp_path: Path) -> None:
    splits = []
    for name, reverse in (("a", False), ("b", True)):  # b: articles and gold rows in reverse order
        ws, _ = _stratified_workspace(tmp_path / name, reverse=reverse)
        release(ws, now=NOW)
        splits.append(_split_of_article(ws.releases_dir / "v0.1.0"))
    assert splits[0] == splits[1] and len(splits[0]) == 40
    # Another salt reorders the clusters, but the cut per stratum stays 8 / 1 / 1.
    ws, by_stratum = _stratified_workspace(tmp_path / "c")
    release(ws, now=NOW, options=ReleaseOptions(seed="another salt"))
    other = _split_of_article(ws.releases_dir / "v0.1.0")
    assert other != splits[0]
    for articles in by_stratum.values():
        assert {s: sum(other[a["article_id"]] == s for a in articles) for s in SPLITS} == TEN


def test_a_cluster_takes_the_main_event_type_of_most_of_its_articles(tmp_path: Path) -> None:
    from toolkit.release.data import make_plan, read_inputs

    ws = init_workspace(tmp_path / "ws", title="Attacks")
    articles = [
        # 2 Hostage Taking articles against 1 Armed Assault: Hostage Taking (Kidnapping)
        _typed(0, [KIDNAPPING], "x"), _typed(1, [KIDNAPPING], "x"), _typed(2, [ARMED, ARMED], "x"),
        # a tie between a type and no event: the type ("no event" comes after every type)
        _typed(3, [ARMED], "y"), _typed(4, [], "y"),
        # 2 articles without events against one Assassination: no event
        _typed(5, [], "z"), _typed(6, [], "z"), _typed(7, [ASSASSINATION], "z"),
    ]
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    plan = make_plan(ws, read_inputs(ws, ReleaseOptions()))
    # One cluster per stratum: its middle (0.5) is below the train cut (0.8).
    alone = {"validation": 0, "test": 0}
    assert plan.strata == {ARMED: {"train": 2, **alone}, KIDNAPPING: {"train": 3, **alone},
                           "no event": {"train": 3, **alone}}
    assert plan.clusters == {"train": 3, "validation": 0, "test": 0}


def test_event_strata_follow_the_rule_article_by_article() -> None:
    from toolkit.release.data import event_strata

    field = default_scheme().field("events")

    def events(*types: str | None) -> list[dict[str, Any]]:
        return [{"trigger": {"start": k, "end": k + 1, "text": "x"}, "arguments": [], "attack_type": t}
                for k, t in enumerate(types)]

    column = pa.array([
        events(ARMED, ASSASSINATION),  # tie: Assassination is first in the scheme
        events(None, None, KIDNAPPING),  # untyped events do not count
        events(None),  # events, none typed
        [],  # no event
        None,  # no event either
        events(KIDNAPPING, ARMED, ARMED),  # the most frequent type
        events(KIDNAPPING, "Bombing/Explosion", "Bombing/Explosion", KIDNAPPING),  # tie: Bombing/Explosion
    ])
    names, codes = event_strata(column, field)
    assert names == [*field.type_field.values, "no type", "no event"]
    assert [names[c] for c in codes] == [ASSASSINATION, KIDNAPPING, "no type", "no event", "no event", ARMED,
                                         "Bombing/Explosion"]


def test_stratify_field_may_name_an_events_field_with_a_type(tmp_path: Path) -> None:
    from toolkit.release import ReleaseError
    from toolkit.release.data import read_inputs, stratify_field

    data = default_scheme().to_dict()
    data["fields"].append({"name": "topic", "kind": "choice", "choices": [{"value": "crime"}, {"value": "war"}]})
    scheme = Scheme.from_dict(data)
    # An article-level single choice comes first, as before; the events field when named.
    assert stratify_field(scheme).name == "topic"
    assert stratify_field(scheme, "events") is scheme.field("events")
    assert stratify_field(default_scheme()).name == "events"
    untyped = default_scheme().to_dict()
    next(f for f in untyped["fields"] if f["kind"] == "events")["type"] = None
    assert stratify_field(Scheme.from_dict(untyped)) is None
    with pytest.raises(ReleaseError, match="stratify_field 'events' is an events field without a type attribute"):
        stratify_field(Scheme.from_dict(untyped), "events")

    # Through toolkit.toml: the name of the events field is accepted.
    ws, _ = build_events_workspace(tmp_path)
    config = ws.root / "toolkit.toml"
    config.write_text(config.read_text().replace('[release]\n', '[release]\nstratify_field = "events"\n'))
    options = ReleaseOptions.from_workspace(Workspace(ws.root))
    assert options.stratify_field == "events"
    assert read_inputs(ws, options).stratify.name == "events"
    with pytest.raises(ReleaseError, match="stratify_field 'entities' is a spans field") as err:
        read_inputs(ws, ReleaseOptions(stratify_field="entities"))
    assert "events field with a type attribute" in err.value.hint


def test_a_scheme_without_events_is_stratified_by_its_choice_as_before(tmp_path: Path) -> None:
    from toolkit.release.data import make_plan, read_inputs

    ws = init_workspace(tmp_path / "v1", title="Attacks", scheme="news-events-v1")
    articles = _articles()[:3]
    for a, event_type in zip(articles, ("Armed Assault", "Armed Assault", "Bombing/Explosion")):
        a.update(event_type=event_type, killed=1, injured=None, hostages=None, note=None)
    _write_articles(ws, articles)
    _write_gold(ws, articles, Scheme.load(ws.scheme_path))
    inputs = read_inputs(ws, ReleaseOptions())
    assert inputs.stratify.name == "event_type"
    # Two clusters of Armed Assault: middles 0.25 and 0.75, both below 0.8; one of Bombing: 0.5.
    assert make_plan(ws, inputs).strata == {"Armed Assault": {"train": 2, "validation": 0, "test": 0},
                                            "Bombing/Explosion": {"train": 1, "validation": 0, "test": 0}}
    release(ws, now=NOW)
    card = (ws.releases_dir / "v0.1.0" / "README.md").read_text()
    assert "clusters are stratified by `event_type` and ordered" in card
    assert "Articles per stratum" not in card and "main event type" not in card
