"""This repository's own dataset, as an ML engineer loads it: every release verifies, v0.1.0 keeps
the article-level scheme it was made with, and v1.0.0 has the seed's four events."""

from __future__ import annotations

import json

import datasets
import pytest

from toolkit.release import verify_release
from toolkit.scheme import Scheme, builtin_scheme, default_scheme

from . import events_seed as seed
from .conftest import REPO

RELEASES = REPO / "releases"


@pytest.mark.parametrize("version", ["v0.1.0", "v1.0.0"])
def test_every_release_of_this_repository_matches_its_manifest(version):
    assert verify_release(RELEASES / version).ok


def test_releases_keep_the_scheme_they_were_made_with():
    old = Scheme.from_dict(json.loads((RELEASES / "v0.1.0" / "scheme.json").read_text(encoding="utf-8")))
    new = Scheme.from_dict(json.loads((RELEASES / "v1.0.0" / "scheme.json").read_text(encoding="utf-8")))
    assert old == builtin_scheme("news-events-v1") and new == default_scheme()


def test_v1_0_0_has_the_seed_s_four_events_with_their_arguments_and_counts():
    ds = datasets.load_dataset(str(RELEASES / "v1.0.0"), "events")
    rows = sorted((r for split in ds.values() for r in split), key=lambda r: r["event_id"])
    features = ds["train"].features
    types, roles = features["attack_type"].names, features["arguments"].feature["role"].names
    assert [r["trigger"]["text"] for r in rows] == ["seized hostages", "mass shooting", "opened fire",
                                                   "taken them hostage"]
    assert [(types[r["attack_type"]], r["killed"], r["hostages"]) for r in rows] == [
        (e.attributes["attack_type"], e.attributes["killed"], e.attributes.get("hostages")) for e in seed.SEED_EVENTS]
    for row, event in zip(rows, seed.SEED_EVENTS):
        assert sorted((roles[a["role"]], a["start"], a["end"]) for a in row["arguments"]) == sorted(
            (role, r.start, r.end) for role, r in event.arguments)
    # The article keeps its 32 entity spans of v0.1.0, and the documents config holds the events too.
    (doc,) = [r for split in datasets.load_dataset(str(RELEASES / "v1.0.0"), "documents").values() for r in split]
    (old,) = [r for split in datasets.load_dataset(str(RELEASES / "v0.1.0"), "documents").values() for r in split]
    assert len(doc["entities"]) == 32 and doc["entities"] == old["entities"]
    assert len(doc["events"]) == 4 and len(doc["relations"]) == 4
