"""``bench/gum_bench.py`` on real GUM documents: the mapping onto the scheme, the import as gold,
the folds and the baseline, and a quick cross-validated run on 3 documents."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from toolkit.articles import read_articles

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
INTERVIEWS = CORPUS / "gum_wikinews" / "interviews.jsonl"

pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(not INTERVIEWS.is_file(), reason=f"{INTERVIEWS} is not there")]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gum_bench", REPO / "bench" / "gum_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gum_bench"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gum_bench", None)


@pytest.fixture(scope="module")
def docs(bench):
    return bench.load_documents(CORPUS, limit=3)


def test_mapping_keeps_outermost_proper_mentions_and_calendar_dates(bench, docs):
    for doc in docs:
        spans, stats = bench.map_mentions(doc)
        mentions = {(m["start"], m["end"]): m for m in doc["entities"]}
        mapped = [m for m in doc["entities"] if bench.scheme_label(m) is not None]
        # Every span is a GUM mention, with the label the table gives it, and its text.
        for s in spans:
            assert bench.scheme_label(mentions[(s["start"], s["end"])]) == s["label"]
            assert doc["text"][s["start"]:s["end"]] == s["text"]
        # None overlap (the scheme forbids it), and every mapped mention is kept or lies inside one kept.
        for a, b in zip(spans, spans[1:]):
            assert a["end"] <= b["start"]
        for m in mapped:
            assert any(s["start"] <= m["start"] and m["end"] <= s["end"] for s in spans)
        assert stats["mapped"] == len(spans)
        assert stats["mapped"] + stats["inside"] + stats["crossing"] + stats["unmapped"] == len(doc["entities"])
    # The table: proper person/organization/place, time with a proper or number head; nothing else.
    for doc in docs:
        for m in doc["entities"]:
            label = bench.scheme_label(m)
            if m["label"] == "time":
                assert (label == "DATE") == (m["head"]["xpos"] in ("NNP", "NNPS", "CD"))
            elif m["label"] in ("person", "organization", "place") and m["mention_type"] == "proper":
                assert label == {"person": "PERSON", "organization": "ORG", "place": "GPE"}[m["label"]]
            else:
                assert label is None


def test_nested_mentions_keep_the_outer_one(bench, docs):
    ants = next(d for d in docs if d["doc_id"] == "GUM_interview_ants")
    spans, _ = bench.map_mentions(ants)
    found = {(s["text"], s["label"]) for s in spans}
    assert ("the University of Helsinki", "ORG") in found
    assert ("Helsinki", "GPE") not in {(s["text"], s["label"]) for s in spans if s["start"] < 200}
    assert ("September 1, 2015", "DATE") in found  # a date whose head is a number
    assert ("2015", "DATE") not in {(s["text"], s["label"]) for s in spans if s["start"] < 100}


def test_import_makes_gold_equal_to_the_mapped_spans(bench, docs, tmp_path):
    from toolkit.preannotate.splits import load_gold
    from toolkit.scheme import Scheme

    imported = bench.import_gold(tmp_path, docs)
    mapped = sum(len(bench.map_mentions(d)[0]) for d in docs)
    check = imported.check
    assert check["equal"], (check["missing"][:3], check["extra"][:3])
    assert check["spans_in_gold"] == check["spans_expected"] == mapped - len(imported.lost)
    assert imported.pull["valid"] == imported.pull["ground_truth"] == len(docs)
    assert imported.pull["quarantined"] == 0
    assert imported.agree["resolved"] == imported.agree["by_ground_truth"] == len(docs)
    # Spans are lost only where ingest changed the text.
    articles = read_articles(imported.ws, columns=["article_id", "text"]).to_pylist()
    texts = {a["article_id"]: a["text"] for a in articles}
    for doc in docs:
        if texts[imported.article_of[doc["doc_id"]]] == doc["text"]:
            assert not [x for x in imported.lost if x["doc_id"] == doc["doc_id"]]
    # What the cross-validation learns from is the same gold.
    gold = load_gold(imported.ws, Scheme.load(imported.ws.scheme_path))
    assert set(gold.records) == set(imported.article_of.values())
    for article, spans in imported.expected.items():
        got = [(s["start"], s["end"], s["label"]) for s in gold.records[article]["entities"]]
        assert sorted(got) == sorted((s["start"], s["end"], s["label"]) for s in spans)
        assert all(gold.texts[article][s["start"]:s["end"]] == s["text"] for s in spans)


def test_folds_put_every_document_in_exactly_one_test_fold(bench):
    ids = [f"GUM_interview_{i}" for i in range(19)]
    folds = bench.assign_folds(ids, 5)
    assert set(folds) == set(ids) and set(folds.values()) == set(range(5))
    sizes = sorted(list(folds.values()).count(f) for f in range(5))
    assert sizes == [3, 4, 4, 4, 4]
    assert bench.assign_folds(list(reversed(ids)), 5) == folds  # by the ids, not their order


def test_baseline_labels_capitalised_runs_not_starting_a_sentence(bench):
    records = [{"entities": [{"label": "ORG"}, {"label": "ORG"}, {"label": "PERSON"}]}]
    baseline = bench.CapitalisedBaseline(records)
    text = 'Nick Bos met staff of the University of Helsinki. Then Anna Lee left. "We are here," said I.'
    spans = baseline.suggest(text).spans
    assert [text[s.start:s.end] for s in spans] == ["Bos", "University", "Helsinki", "Anna Lee"]
    assert {s.label for s in spans} == {"ORG"}


def test_quick_run_scores_every_document_once(bench, tmp_path, capsys):
    out = tmp_path / "out" / "gum.json"
    assert bench.main(["--quick", "--limit", "3", "--bootstrap", "20", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["folds"] == 2 and results["epochs"] == 3
    assert len(results["fold_of"]) == 3 and set(results["fold_of"].values()) == {0, 1}
    assert list(results["methods"]) == list(bench.METHODS)
    for method, entry in results["methods"].items():
        report = entry["report"]
        assert report["n_articles"] == 3 and report["n_missing"] == 0, method
        assert report["fields"]["entities"]["micro"]["support"] == results["import"]["gold_check"]["spans_in_gold"]
    printed = capsys.readouterr().out
    assert out.with_suffix(".md").read_text() == printed.rstrip("\n") + "\n"
    for method in bench.METHODS:
        assert f"| {method} |" in printed
