"""`toolkit review` shows each annotator's version as a prediction: for events, relations and span
attributes too. A record turned into Label Studio results and normalised back must be the same
record, or a reviewer would adjudicate (and make gold of) a version that lost its events."""

from __future__ import annotations

import copy

import pyarrow.parquet as pq

from toolkit.articles import read_articles
from toolkit.labelstudio.review import record_to_results
from toolkit.scheme import Scheme, default_scheme
from toolkit.validation.normalise import normalise_task
from toolkit.workspace import Workspace

from .conftest import REPO

SCHEME = default_scheme()
FIELDS = SCHEME.field_names


def _repository_gold() -> tuple[dict, str]:
    (gold,) = pq.read_table(REPO / "annotations" / "gold.parquet").to_pylist()
    (article,) = read_articles(Workspace.find(REPO)).to_pylist()
    return gold, article["text"]


def _round_trip(record: dict, text: str, scheme: Scheme) -> dict:
    task = {"id": 1, "data": {"text": text, "article_id": "0140e3303133de21"},
            "annotations": [{"id": 7, "completed_by": 1, "was_cancelled": False, "ground_truth": False,
                             "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z",
                             "result": record_to_results(record, scheme)}]}
    out = normalise_task(task, scheme)
    assert not out.quarantine, out.quarantine
    (back,) = out.records
    return back


def test_the_seed_gold_with_its_four_events_survives_the_way_to_a_reviewer():
    gold, text = _repository_gold()
    assert len(gold["events"]) == 4 and len(gold["relations"]) == 4
    back = _round_trip(gold, text, SCHEME)
    for name in FIELDS:
        assert back[name] == gold[name], name


def test_arguments_and_relation_ends_that_are_not_spans_of_the_record_get_regions_of_their_own():
    gold, text = _repository_gold()
    record = copy.deepcopy(gold)
    # Take the entity spans away: the events still name their arguments, the relations their ends.
    record["entities"] = []
    back = _round_trip(record, text, SCHEME)
    assert back["events"] == gold["events"] and back["relations"] == gold["relations"]
    # ... and the regions made for them come back as spans (every argument and end, once).
    ends = {(a["start"], a["end"], a["label"]) for e in gold["events"] for a in e["arguments"]}
    ends |= {(r[k]["start"], r[k]["end"], r[k]["label"]) for r in gold["relations"] for k in ("head", "tail")}
    assert {(s["start"], s["end"], s["label"]) for s in back["entities"]} == ends


def test_span_attributes_come_back_on_their_spans():
    d = SCHEME.to_dict()
    d["fields"][0]["attributes"] = [{"name": "weapon_use", "kind": "choice", "labels": ["WEAPON"],
                                     "choices": [{"value": "used"}, {"value": "carried"}]}]
    scheme = Scheme.from_dict(d)
    gold, text = _repository_gold()
    record = copy.deepcopy(gold)
    for span in record["entities"]:
        span["weapon_use"] = "used" if span["label"] == "WEAPON" else None
    back = _round_trip(record, text, scheme)
    assert back["entities"] == record["entities"]
    assert [s["weapon_use"] for s in back["entities"] if s["label"] == "WEAPON"] == ["used"]
