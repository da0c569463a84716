"""The model in the loop: train on gold, preannotate, push onto a real server, pull, evaluate.

A small workspace is made here (articles, two annotators who agree, so every article has a
resolved gold record); a pipeline is trained on its train split and its suggestions go
through the real Label Studio server and back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit import atomicio
from toolkit.agreement.gold import GoldPolicy, compute_gold, gold_table
from toolkit.cli import app
from toolkit.errors import ModelNotFound, PreannotateError
from toolkit.ingest import ARTICLE_SCHEMA
from toolkit.labelstudio import push
from toolkit.labelstudio.client import client_for, connect
from toolkit.labelstudio.predictions import is_blind
from toolkit.labelstudio.project import server_tasks_by_article
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio.tasks import build_tasks
from toolkit.preannotate.evaluate import run_evaluate
from toolkit.preannotate.run import PreannotateOptions, preannotate
from toolkit.preannotate.sources import FunctionSource, LabelMap, PipelineSource
from toolkit.preannotate.splits import load_gold
from toolkit.preannotate.suggestions import Span, Suggestion, Value, merge, to_prediction, to_record
from toolkit.preannotate.training import TrainOptions, curve_subset, find_model, learning_curve, model_dirs, train
from toolkit.scheme import Scheme, build_task_schema, builtin_scheme
from toolkit.validation.normalise import records_to_table
from toolkit.workspace import Workspace
from toolkit.articles import read_articles
from toolkit.ingest import store

PEOPLE = ["Ivan Petrov", "Maria Lopez", "Ahmed Khan", "Li Wei", "Sara Okafor", "Tomas Berg"]
PLACES = ["Volgograd", "Kabul", "Lagos", "Mosul", "Quetta", "Aleppo"]
EVENTS = {"Bombing/Explosion": "A bomb exploded near the market", "Armed Assault": "Gunmen opened fire on a bus",
          "Hostage Taking (Kidnapping)": "Armed men kidnapped two engineers"}


def _article(i: int) -> tuple[str, list[dict[str, Any]], str]:
    person, place = PEOPLE[i % len(PEOPLE)], PLACES[(i // 2) % len(PLACES)]
    event = list(EVENTS)[i % 3]
    lead = "🔥 " if i % 7 == 3 else ""  # an astral character before the spans: UTF-16 offsets differ
    parts: list[tuple[str, str | None]] = [
        (lead + EVENTS[event] + " in ", None), (place, "GPE"), (" on Monday, police said. Officer ", None),
        (person, "PERSON"), (f" told reporters that {i % 9 + 2} people were hurt (report {i}). ", None),
        ("Residents said the area was calm later in the day. " * (1 + i % 2), None)]
    text, spans = "", []
    for chunk, label in parts:
        if label:
            spans.append({"start": len(text), "end": len(text) + len(chunk), "label": label, "text": chunk})
        text += chunk
    return text, spans, event


def make_gold_workspace(ws: Workspace, n: int = 36) -> dict[str, str]:
    """articles.parquet, annotations.parquet (two annotators who agree) and gold.parquet;
    returns article id -> text."""
    scheme = Scheme.load(ws.scheme_path)
    rows, records, texts = [], [], {}
    for i in range(n):
        text, spans, event = _article(i)
        aid = hashlib.sha256(text.encode()).hexdigest()[:16]
        texts[aid] = text
        rows.append({"article_id": aid, "title": f"Report {i}", "text": text,
                     "published": dt.date(2024, 1, 1) + dt.timedelta(days=i), "source_url": None,
                     "source_name": None, "language": "en", "n_chars": len(text), "n_words": len(text.split()),
                     "format": "txt", "source_file": f"raw/{i}.txt", "raw_sha256": hashlib.sha256(text.encode()).hexdigest(),
                     "sources": [], "cluster_id": aid, "warnings": []})
        for k in range(2):
            records.append({"task_id": i + 1, "article_id": aid, "annotation_id": 2 * i + k + 1, "annotator_id": k + 1,
                            "annotator_email": f"annotator{k}@example.org", "created_at": "2024-11-25T10:00:00+00:00",
                            "updated_at": "2024-11-25T10:00:00+00:00", "lead_time": 30.0, "was_cancelled": False,
                            "ground_truth": False, "entities": spans, "event_type": event, "killed": None,
                            "injured": i % 9 + 2, "hostages": None, "note": None})
    store.write_table(ws, pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA))
    pq.write_table(records_to_table(records, scheme), ws.annotations_dir / "annotations.parquet")
    pq.write_table(gold_table(compute_gold(records, scheme, GoldPolicy()), scheme), ws.annotations_dir / "gold.parquet")
    return texts


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with gold and one trained model (trained once for the module's tests)."""
    from toolkit.scaffold import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("trained") / "ws", title="Trained events", scheme="news-events-v1")
    make_gold_workspace(ws)
    train(ws, TrainOptions(epochs=6))
    return ws.root


# ---------------------------------------------------------------------------- training


def test_train_learns_from_the_train_split_only_and_saves_a_versioned_model(trained: Path) -> None:
    ws = Workspace(trained)
    gold = load_gold(ws)
    meta = json.loads((find_model(ws, "latest") / "model.json").read_text())
    assert meta["version"] == "model-0001" and meta["n_train"] == len(gold.ids("train"))
    assert meta["n_validation"] == len(gold.ids("validation")) and meta["figures"]["n_articles"] == meta["n_validation"]
    # The data hash is over the train articles only: changing a test article's gold leaves it alone.
    from toolkit.preannotate.training import data_hash

    assert meta["data_hash"] == data_hash(gold, gold.ids("train"))
    assert gold.ids("test") and not set(gold.ids("test")) & set(gold.ids("train"))
    assert meta["spacy"].startswith("3.") and meta["scheme_hash"] == Scheme.load(ws.scheme_path).hash()


def test_training_again_makes_the_next_version_and_preannotate_takes_the_latest(trained: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    report = train(ws, TrainOptions(epochs=1))
    assert report.version == "model-0002" and list(model_dirs(ws)) == ["model-0001", "model-0002"]
    done = preannotate(ws, PreannotateOptions(rules=False))
    assert done.sources == ["model-0002"]
    done = preannotate(ws, PreannotateOptions(rules=False, model="model-0001"))
    assert done.sources == ["model-0001"]
    with pytest.raises(ModelNotFound, match="model-0009"):
        preannotate(ws, PreannotateOptions(rules=False, model="model-0009"))


def test_predictions_are_valid_and_every_span_slices_its_text(trained: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    report = preannotate(ws, PreannotateOptions(rules=False, jobs=2))
    scheme = Scheme.load(ws.scheme_path)
    lines = _lines(ws.root / report.path)
    texts = dict(zip(*[read_articles(ws)[c].to_pylist() for c in ("article_id", "text")]))
    assert [line["article_id"] for line in lines] == list(texts)  # every article, in order
    validator = jsonschema.Draft202012Validator(build_task_schema(scheme)["properties"]["predictions"]["items"])
    astral = 0
    for line in lines:
        validator.validate({k: line[k] for k in ("model_version", "score", "result")})
        text = texts[line["article_id"]]
        astral += "🔥" in text
        for item in line["result"]:
            assert 0 <= item["score"] <= 1 and item["meta"]["text"] == ["model:model-0001"]
            if item["type"] == "labels":  # code points, as Label Studio 1.23 counts them
                assert text[item["value"]["start"]:item["value"]["end"]] == item["value"]["text"]
        assert line["score"] == min((r["score"] for r in line["result"]), default=0.0)
    assert astral  # spans after an emoji were among them
    assert report.predicted == len(lines) and report.values["event_type"] == len(lines)


def test_same_model_same_predictions_and_the_file_is_replaced_whole(trained: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    path = ws.root / preannotate(ws, PreannotateOptions(rules=False)).path
    first = path.read_bytes()
    assert preannotate(ws, PreannotateOptions(rules=False, jobs=2)).path == str(path.relative_to(ws.root))
    assert path.read_bytes() == first  # one or two workers: the same lines, in the same order

    import toolkit.preannotate.run as run

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "to_prediction", broken)
    with pytest.raises(KeyboardInterrupt):
        preannotate(ws, PreannotateOptions(rules=False))
    assert path.read_bytes() == first  # an interrupted run leaves the previous file
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]


def test_learning_curve_points_are_nested_and_reported(trained: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    ids = load_gold(ws).ids("train")
    subsets = [curve_subset(ids, f, 0) for f in (0.25, 0.5, 0.75, 1.0)]
    assert all(set(a) < set(b) for a, b in zip(subsets, subsets[1:])) and subsets[-1] == sorted(ids)
    curve = learning_curve(ws, TrainOptions(epochs=1), fractions=(0.5, 1.0))
    assert [p["n_train"] for p in curve["points"]] == [len(subsets[1]), len(ids)]
    assert all(p["figures"]["n_articles"] == curve["n_validation"] for p in curve["points"])
    assert list(model_dirs(ws)) == ["model-0001"]  # a curve keeps no model


def test_train_without_gold_in_train_is_a_clear_error(workspace: Workspace) -> None:
    make_gold_workspace(workspace, n=1)
    gold = load_gold(workspace)
    if gold.ids("train"):  # one article: the split may put it in train; then nothing to validate on
        with pytest.raises(PreannotateError, match="train and validation"):
            learning_curve(workspace, TrainOptions(epochs=1))
    else:
        with pytest.raises(PreannotateError, match="none of the 1 gold article"):
            train(workspace, TrainOptions(epochs=1))


# ---------------------------------------------------------------------------- sources


def test_merge_gives_the_earlier_source_precedence_where_spans_overlap() -> None:
    scheme = builtin_scheme("news-events-v1")  # the article-level scheme: counts and event_type per article
    rules = Suggestion([Span("entities", 0, 5, "GPE", 0.9, "rules:gold-string"),
                        Span("entities", 10, 14, "DATE", 0.8, "rules:date")],
                       [Value("killed", 3, 0.8, "rules:number-phrase")])
    model = Suggestion([Span("entities", 0, 9, "ORG", 0.6, "model:m"), Span("entities", 12, 20, "PERSON", 0.95, "model:m")],
                       [Value("event_type", "Armed Assault", 0.7, "model:m"), Value("killed", 4, 0.5, "model:m")])
    merged = merge([rules, model], scheme)
    # The model's surer PERSON loses to the rules' DATE it overlaps: the rules come first.
    assert [(s.start, s.end, s.label) for s in merged.spans] == [(0, 5, "GPE"), (10, 14, "DATE")]
    assert {v.field: v.value for v in merged.values} == {"event_type": "Armed Assault", "killed": 3}
    # In the other order the model's spans win where they overlap.
    swapped = merge([model, rules], scheme)
    assert [(s.start, s.end, s.label) for s in swapped.spans] == [(0, 9, "ORG"), (12, 20, "PERSON")]
    assert {v.field: v.value for v in swapped.values} == {"event_type": "Armed Assault", "killed": 4}
    text = "Lagos on Tuesday Ahmed Khan spoke"
    prediction = to_prediction(scheme, "a1", text, merged, "rules-x+model-y")
    assert prediction["score"] == 0.7 and {r["meta"]["text"][0] for r in prediction["result"]} == {
        "rules:gold-string", "rules:date", "model:m", "rules:number-phrase"}
    assert to_record(merged, scheme, text)["entities"][0] == {"start": 0, "end": 5, "label": "GPE", "text": "Lagos"}
    with pytest.raises(ValueError, match="outside the text"):
        to_prediction(scheme, "a1", "short", Suggestion([Span("entities", 2, 40, "GPE", 1.0, "x")]), "v")
    with pytest.raises(ValueError, match="not in the scheme"):
        to_prediction(scheme, "a1", text, Suggestion([Span("entities", 0, 5, "LOC", 1.0, "x")]), "v")


def test_function_source_goes_through_the_stated_label_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A team's own module in the folder the command runs in.
    (tmp_path / "team_source.py").write_text(
        "def suggest_for_test(text):\n"
        "    at = text.find('Kabul')\n"
        "    spans = [{'start': at, 'end': at + 5, 'label': 'LOC', 'score': 0.4}] if at >= 0 else []\n"
        "    return {'spans': spans + [{'start': 0, 'end': 1, 'label': 'MISC'}],\n"
        "            'event_type': {'value': 'bomb', 'score': 0.6}, 'killed': 2}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    scheme = builtin_scheme("news-events-v1")  # the article-level scheme: counts and event_type per article
    table = tmp_path / "map.json"
    table.write_text(json.dumps({"LOC": "GPE", "MISC": None, "bomb": "Bombing/Explosion"}))
    source = FunctionSource("team_source:suggest_for_test", scheme, LabelMap.load(table, scheme))
    got = source.suggest("Blast in Kabul today")
    assert [(s.start, s.end, s.label, s.score) for s in got.spans] == [(9, 14, "GPE", 0.4)]
    assert {v.field: v.value for v in got.values} == {"event_type": "Bombing/Explosion", "killed": 2}
    assert source.label_map.unmapped == {"MISC": 1}
    table.write_text(json.dumps({"LOC": "PLACE"}))
    with pytest.raises(PreannotateError, match="PLACE"):
        LabelMap.load(table, scheme)
    with pytest.raises(PreannotateError, match="module:function"):
        FunctionSource("no_colon_here", scheme, LabelMap())


def test_an_installed_pipeline_by_path_with_a_label_map(trained: Path, tmp_path: Path) -> None:
    scheme = Scheme.load(trained / "schemas" / "scheme.json")
    table = tmp_path / "map.toml"
    table.write_text('PERSON = "PERSON"\nGPE = "ORG"\n')  # a deliberately odd table: GPE shown as ORG
    path = str(find_model(Workspace(trained), "latest") / "pipeline")
    source = PipelineSource.installed(path, scheme, LabelMap.load(table, scheme))
    got = list(source.suggest_many(["Gunmen opened fire on a bus in Kabul on Monday, police said. Officer Li Wei told reporters."]))
    labels = {s.label for s in got[0].spans}
    assert "GPE" not in labels and labels <= {"PERSON", "ORG"}


def test_a_function_that_raises_names_the_article_and_the_rest_goes_on(trained: Path, tmp_path: Path) -> None:
    import shutil
    import sys
    import types

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    first = read_articles(ws)["article_id"][0].as_py()
    module = types.ModuleType("fragile_source")

    def fragile(text: str) -> dict[str, Any]:
        if "report 0)" in text:
            raise RuntimeError("cannot read this one")
        return {"killed": 1}

    module.fragile = fragile  # type: ignore[attr-defined]
    sys.modules["fragile_source"] = module
    try:
        report = preannotate(ws, PreannotateOptions(rules=False, model=None, functions=("fragile_source:fragile",)))
    finally:
        del sys.modules["fragile_source"]
    assert report.problems == [f"article {first}: RuntimeError: cannot read this one"]
    assert report.articles == 36 and len(_lines(ws.root / report.path)) == 35


# ---------------------------------------------------------------------------- the server


def _configure(ws: Workspace, **preannotate_keys: Any) -> Workspace:
    text = ws.root.joinpath("toolkit.toml").read_text()
    for key, value in preannotate_keys.items():
        line = f"{key} = {json.dumps(value)}"
        head, sep, tail = text.partition("[preannotate]\n")
        text = head + sep + line + "\n" + "\n".join(l for l in tail.split("\n") if not l.startswith(f"{key} ="))
    ws.root.joinpath("toolkit.toml").write_text(text)
    return Workspace(ws.root)


@pytest.mark.labelstudio
def test_model_predictions_round_trip_through_the_server(ls_workspace: Workspace, tmp_path: Path) -> None:
    ws = ls_workspace
    texts = make_gold_workspace(ws)
    build_tasks(ws)
    train(ws, TrainOptions(epochs=4))
    made = preannotate(ws, PreannotateOptions(rules=False))
    lines = {line["article_id"]: line for line in _lines(ws.root / made.path)}

    first = push(ws)
    assert first.suggestions["imported"] == len(texts) and first.shown_version == made.model_version
    again = push(ws)  # onto tasks already on the server: nothing twice
    assert again.suggestions["imported"] == 0 and again.suggestions["already_there"] == len(texts)

    client = client_for(ws, connect(ws))
    try:
        project = client.project(int(first.project_id))
        predictions = client.predictions(int(first.project_id))
    finally:
        client.close()
    assert project["model_version"] == made.model_version and project["sampling"] == "Sequential sampling"
    per_task = {}
    for p in predictions:
        per_task.setdefault((p["task"], p["model_version"]), []).append(p)
    assert len(per_task) == len(texts) and all(len(v) == 1 for v in per_task.values())

    pull(ws, allow_deletions=True)  # the gold here was made without the server
    table = pq.read_table(ws.annotations_dir / "predictions.parquet").to_pylist()
    assert len(table) == len(texts) and {row["model_version"] for row in table} == {made.model_version}
    scheme = Scheme.load(ws.scheme_path)
    for row in table:  # back in code point offsets, the same spans and values as the file
        text, line = texts[row["article_id"]], lines[row["article_id"]]
        spans = sorted((s["start"], s["end"], s["label"]) for s in row["entities"] or [])
        assert all(text[s] == t for s, t in [(slice(a, b), x["text"]) for (a, b, _), x in
                                             zip(spans, sorted(row["entities"] or [], key=lambda s: (s["start"], s["end"])))])
        expected = [r for r in line["result"] if r["type"] == "labels"]
        assert len(spans) == len(expected)
        choice = next((r["value"]["choices"][0] for r in line["result"] if r["from_name"] == "event_type"), None)
        assert row["event_type"] == choice and row["score"] == pytest.approx(line["score"])
    assert scheme.name

    report = run_evaluate(ws, made.model_version, split="all")
    assert report["n_articles"] == len(texts) and report["n_missing"] == 0
    assert (ws.annotations_dir / "evaluation" / f"{made.model_version}.md").is_file()


@pytest.mark.labelstudio
def test_uncertainty_order_and_the_blind_share_on_the_server(ls_workspace: Workspace) -> None:
    ws = _configure(ls_workspace, order="uncertainty", blind_fraction=0.3)
    texts = make_gold_workspace(ws, n=24)
    build_tasks(ws)
    scheme = Scheme.load(ws.scheme_path)
    folder = ws.annotations_dir / "predictions"
    folder.mkdir()
    lines = []
    for i, (article, text) in enumerate(texts.items()):
        at = text.find("Officer ") + len("Officer ")
        end = text.find(" told")
        suggestion = Suggestion([Span("entities", at, end, "PERSON", 0.2 + 0.03 * i, "test")],
                                [Value("event_type", "Armed Assault", 0.9, "test")])
        lines.append(to_prediction(scheme, article, text, suggestion, "scored-1"))
    atomicio.write_text(folder / "scored-1.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    report = push(ws)
    blind = {a for a in texts if is_blind(a, 0.3, "toolkit")}
    assert blind and report.suggestions["blind"] == len(blind)
    assert report.suggestions["imported"] == len(texts)  # the blind share: a score, no result

    client = client_for(ws, connect(ws))
    try:
        project = client.project(int(report.project_id))
        assert project["sampling"] == "Uncertainty sampling" and project["model_version"] == "scored-1"
        listing = server_tasks_by_article(client, int(report.project_id), 100)
        tasks = {t["id"]: article for article, found in listing.items() for t in found}
        by_article = {tasks[p["task"]]: p for p in client.predictions(int(report.project_id))}
        assert len(by_article) == len(texts)
        for article, p in by_article.items():
            assert (p["result"] == []) == (article in blind)
        # Label Studio serves the task whose suggestion has the lowest score first.
        response = client.http.get(f"/api/projects/{report.project_id}/next/")
        response.raise_for_status()
        lowest = min(lines, key=lambda line: line["score"])["article_id"]
        assert response.json()["data"]["article_id"] == lowest
    finally:
        client.close()


def test_cli_preannotate_and_evaluate_exit_codes(trained: Path, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    runner = CliRunner()
    done = runner.invoke(app, ["--workspace", str(root), "preannotate", "--no-rules", "--limit", "5"])
    assert done.exit_code == 0, done.output
    assert "Suggestions for 5 of 5 article(s)" in done.output
    scored = runner.invoke(app, ["--workspace", str(root), "evaluate", "--split", "all", "--json"])
    assert scored.exit_code == 0 and json.loads(scored.output)["n_articles"] == 36
    missing = runner.invoke(app, ["--workspace", str(root), "preannotate", "--no-rules", "--model", "model-0042"])
    assert missing.exit_code == 1 and "model-0042" in missing.output and "Traceback" not in missing.output


def test_cli_train_and_curve_write_what_they_say(trained: Path, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    runner = CliRunner()
    done = runner.invoke(app, ["--workspace", str(root), "train", "--epochs", "1", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["version"] == "model-0002" and (root / "models" / "model-0002" / "pipeline").is_dir()
    assert report["figures"]["n_articles"] == report["n_validation"]
    curve = runner.invoke(app, ["--workspace", str(root), "train", "--curve", "--epochs", "1"])
    assert curve.exit_code == 0, curve.output
    for name in ("curve.md", "curve.json", "curve.png"):
        assert (root / "annotations" / "evaluation" / name).stat().st_size > 0
    points = json.loads((root / "annotations" / "evaluation" / "curve.json").read_text())["points"]
    assert [p["fraction"] for p in points] == [0.25, 0.5, 0.75, 1.0]
    assert [p["n_train"] for p in points] == sorted(p["n_train"] for p in points)
    assert not (root / "models" / "model-0003").exists()
    ner = runner.invoke(app, ["--workspace", str(root), "train", "--spans", "ner", "--epochs", "2", "--json"])
    assert ner.exit_code == 0 and json.loads(ner.output)["options"]["spans"] == "ner"
    assert preannotate(Workspace(root), PreannotateOptions(rules=False)).sources == ["model-0003"]
    bad = runner.invoke(app, ["--workspace", str(root), "train", "--spans", "crf"])
    assert bad.exit_code == 1 and "ner or spancat" in bad.output and "Traceback" not in bad.output


def test_the_datasheet_says_whether_annotators_labelled_from_suggestions() -> None:
    from toolkit.release.card import _suggestions_sentence

    assert "blank page" in _suggestions_sentence(None)
    assert "blank page" in _suggestions_sentence({"predictions": 0, "note": "no predictions"})
    section = {"groups": {"with": {"articles": 30, "annotations": 60, "accepted_unchanged": {"value": 0.75, "n": 60}},
                          "without": {"articles": 10, "annotations": 20}}}
    sentence = _suggestions_sentence(section)
    assert "shown on 30 article(s) (60 answers)" in sentence and "withheld on 10 (20 answers)" in sentence
    assert "75.0 % of those answers kept the suggestion unchanged" in sentence and "anchoring" in sentence


def test_same_gold_and_seed_train_the_same_model(trained: Path) -> None:
    from toolkit.preannotate.training import fit

    ws = Workspace(trained)
    scheme = Scheme.load(ws.scheme_path)
    gold = load_gold(ws, scheme)
    texts = [gold.texts[a] for a in gold.ids("validation")]
    runs = []
    for _ in range(2):
        nlp, _, losses = fit(scheme, gold, gold.ids("train"), TrainOptions(spans="ner", epochs=2, seed=7))
        source = PipelineSource.trained(nlp, scheme, "same")
        runs.append((losses, [to_prediction(scheme, "a", t, s, "same") for s, t in zip(source.suggest_many(texts), texts)]))
    assert runs[0] == runs[1]


def test_a_model_trained_on_another_scheme_version_is_refused(trained: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root)
    meta_path = find_model(ws, "latest") / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["scheme_hash"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PreannotateError, match="another version of the scheme"):
        preannotate(ws, PreannotateOptions(rules=False))
    assert not list((ws.annotations_dir / "predictions").glob("*.jsonl")) if (ws.annotations_dir / "predictions").is_dir() else True
