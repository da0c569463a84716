"""Rule-based event suggestions (``toolkit.preannotate.events``): on the repository's seed
article against its gold events, on crafted sentences for each lexicon entry and for what
must not become an event, and as Label Studio predictions that normalise back to the events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest

from toolkit.agreement.events import compare_events
from toolkit.articles import read_articles
from toolkit.ingest import store
from toolkit.preannotate.events import (ARGUMENT_SCORE, COUNT_TRIGGER_SCORE, MIXED_TYPE_SCORE, TRIGGER_SCORE,
                                        TYPE_SCORE, EventRules, split_sentences)
from toolkit.preannotate.rules import RULES_VERSION, Rules, gold_examples_from
from toolkit.preannotate.suggestions import (Argument, Event, Span, Suggestion, Value, merge, to_prediction,
                                             to_record)
from toolkit.scheme import Scheme, build_task_schema, builtin_scheme, default_scheme
from toolkit.validation.normalise import normalise_task
from toolkit.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
SCHEME = default_scheme()
ARMED, BOMBING = "Armed Assault", "Bombing/Explosion"
BARRICADE, KIDNAPPING = "Hostage Taking (Barricade Incident)", "Hostage Taking (Kidnapping)"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules(SCHEME)  # no patterns, no gold strings: dates, counts and events


@pytest.fixture(scope="module")
def seed() -> tuple[str, str, dict[str, Any]]:
    article = read_articles(Workspace.find(REPO)).to_pylist()[0]
    gold = pq.read_table(REPO / "annotations" / "gold.parquet").to_pylist()
    return article["article_id"], article["text"], next(g for g in gold if g["article_id"] == article["article_id"])


def events_of(rules: Rules, text: str) -> list[dict[str, Any]]:
    return to_record(rules.suggest(text), SCHEME, text)["events"]


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str | None, dict[str, int]]]:
    return [(e["trigger"]["text"], e["attack_type"],
             {k: e[k] for k in ("killed", "injured", "hostages") if e[k] is not None}) for e in events]


def scheme_with(change) -> Scheme:
    data = SCHEME.to_dict()
    events = next(f for f in data["fields"] if f["kind"] == "events")
    change(events)
    return Scheme.from_dict(data)


# ------------------------------------------------------------------------------ the seed


def test_seed_article_gives_the_four_gold_attacks(rules: Rules, seed: tuple[str, str, dict[str, Any]]) -> None:
    _, text, gold = seed
    events = events_of(rules, text)
    # Worked out by hand from the text. The hostage-taking is named again four times ("took
    # staff ... as hostages", "free the hostages", "the latest hostage-taking incident") without
    # a count of its own: retellings, no new event. "hostage-takers" are people, not an attack.
    assert summary(events) == [
        ("seized hostages", BARRICADE, {"killed": 1}),  # "killed at least one member of staff"
        ("mass shooting", ARMED, {"killed": 139}),  # "which killed 139 people"
        # Gold says 16 ("at least 15 police officers and a priest"): the rules read 15.
        ("opened fire", ARMED, {"killed": 15}),
        # Gold also has hostages 2 (the two guards the special forces freed): "freed two
        # guards" is no count phrase, so the rules give none.
        ("taken them hostage", BARRICADE, {"killed": 6}),  # "killed six men"
    ]
    comparison = compare_events(events, gold["events"], "attack_type")
    trigger_f1 = 2 * len(comparison.matched) / comparison.total
    event_f1 = 2 * comparison.typed / comparison.total
    assert (trigger_f1, event_f1) == (1.0, 1.0)
    counts_right = sum(all(events[i][k] == gold["events"][j][k] for k in ("killed", "injured", "hostages"))
                       for i, j in comparison.matched)
    assert counts_right == 2
    # Time: the first date of the sentence ("In March", "in June", "this summer"), as gold has it.
    assert [[(a["role"], a["text"]) for a in e["arguments"]] for e in events] == [
        [], [("time", "March")], [("time", "June")], [("time", "this summer")]]
    assert comparison.argument_exact["time"] == 3


def test_seed_places_come_from_the_place_spans_the_rules_suggest(seed: tuple[str, str, dict[str, Any]]) -> None:
    _, text, gold = seed
    # With the seed's own gold strings (so GPE spans are suggested): the sentence's last GPE,
    # "Russia's southern Volgograd region", "Russia's north Caucasus region of Dagestan".
    events = events_of(Rules(SCHEME, gold_examples=gold_examples_from([gold], SCHEME)), text)
    places = [[a["text"] for a in e["arguments"] if a["role"] == "place"] for e in events]
    assert places == [["Volgograd"], ["Moscow"], ["Dagestan"], ["Rostov-on-Don"]]
    comparison = compare_events(events, gold["events"], "attack_type")
    assert comparison.argument_exact["place"] == 4


# --------------------------------------------------------------------------- the lexicon


@pytest.mark.parametrize("text, trigger, attack_type", [
    ("Gunmen opened fire on a bus in the city.", "opened fire", ARMED),
    ("A mass shooting at a school left families grieving.", "mass shooting", ARMED),
    ("A shooting was reported near the border.", "shooting", ARMED),
    ("A man was stabbed outside the station.", "stabbed", ARMED),
    ("Police said the knife attack lasted minutes.", "knife attack", ARMED),
    ("A car bomb went off outside the ministry.", "car bomb", BOMBING),
    ("A suicide bomber blew himself up at the checkpoint.", "suicide bomber", BOMBING),
    ("An explosion ripped through the market.", "explosion", BOMBING),
    ("The blast shattered windows along the street.", "blast", BOMBING),
    ("An IED struck the convoy.", "IED", BOMBING),
    ("Militants seized hostages at the hotel.", "seized hostages", BARRICADE),
    ("The attackers had taken them hostage at dawn.", "taken them hostage", BARRICADE),
    ("The hostages were released after a day.", "hostages", BARRICADE),
    ("Rebels abducted a journalist near the mine.", "abducted", KIDNAPPING),
    ("The governor was assassinated in his car.", "assassinated", "Assassination"),
    ("Armed men hijacked a bus carrying pilgrims.", "hijacked", "Hijacking"),
    ("Protesters set fire to the police station.", "set fire to", "Facility/Infrastructure Attack"),
    ("An arson attack destroyed the depot.", "arson attack", "Facility/Infrastructure Attack"),
])
def test_each_attack_word_makes_an_event_of_its_type(rules: Rules, text: str, trigger: str,
                                                     attack_type: str) -> None:
    suggestion = rules.suggest(text)
    (event,) = suggestion.events
    assert (text[event.start:event.end], event.value("attack_type")) == (trigger, attack_type)
    assert event.score == TRIGGER_SCORE and event.attributes[0].score == TYPE_SCORE


def test_the_act_is_the_trigger_before_its_doers_and_the_count_is_the_sentences(rules: Rules) -> None:
    text = "The gunman barricaded himself inside the bank and took 40 people hostage."
    (event,) = rules.suggest(text).events
    # "took 40 people hostage" names the act and is the longest; "gunman" only its doer. The
    # sentence names an armed assault's doer too: a lower type score.
    assert text[event.start:event.end] == "took 40 people hostage"
    assert {v.field: (v.value, v.score) for v in event.attributes} == {
        "attack_type": (BARRICADE, MIXED_TYPE_SCORE), "hostages": (40, 0.8)}
    assert summary(events_of(rules, "Two engineers were kidnapped near the mine.")) == [
        ("kidnapped", KIDNAPPING, {"hostages": 2})]


@pytest.mark.parametrize("text, expected", [
    # A negation alone reports no attack.
    ("No one was killed.", []),
    ("Hostage-takers released a video on Sunday.", []),  # people, not an attack
    ("The minister spoke to reporters.", []),
    # Counts without an attack word: an event of its own, the verb as trigger, no type.
    ("Five people were killed in the village.", [("killed", None, {"killed": 5})]),
    # ... or the counts of the event of the sentence before, when it has none of them.
    ("A bomb went off in the market. Five people were killed.", [("bomb", BOMBING, {"killed": 5})]),
    ("A bomb exploded near the station. No one was hurt.", [("exploded", BOMBING, {"injured": 0})]),
    ("A blast hit the market. The death toll rose to 25.", [("blast", BOMBING, {"killed": 25})]),
    # A retelling (same type, no count of its own, or the same counts) is no new event.
    ("Gunmen seized hostages at a school. Police are negotiating to free the hostages.",
     [("seized hostages", BARRICADE, {})]),
    ("A bomb killed three soldiers. The bomb killed three soldiers, officials said.",
     [("bomb", BOMBING, {"killed": 3})]),
    # Two attacks of one type with different counts are two events; counts stay in their sentence.
    ("A bomb killed three soldiers. Last year a bomb killed 40 people there.",
     [("bomb", BOMBING, {"killed": 3}), ("bomb", BOMBING, {"killed": 40})]),
    ("Gunmen opened fire on a bus. Separately, a bomb killed 12 people.",
     [("opened fire", ARMED, {}), ("bomb", BOMBING, {"killed": 12})]),
    # One event per sentence, the act's word first.
    ("Gunmen opened fire and killed 4 people.", [("opened fire", ARMED, {"killed": 4})]),
])
def test_what_makes_an_event_and_what_does_not(rules: Rules, text: str,
                                               expected: list[tuple[str, str | None, dict[str, int]]]) -> None:
    assert summary(events_of(rules, text)) == expected


def test_a_count_only_event_is_scored_lower_and_has_no_type(rules: Rules) -> None:
    (event,) = rules.suggest("Five people were killed in the village.").events
    assert event.score == COUNT_TRIGGER_SCORE and event.value("attack_type") is None


def test_time_argument_points_at_the_date_the_rules_suggest(rules: Rules) -> None:
    text = "A bomb went off in the market on Tuesday. Five people were killed."
    suggestion = rules.suggest(text)
    (event,) = suggestion.events
    (argument,) = event.arguments
    assert (argument.role, text[argument.span.start:argument.span.end], argument.score) == (
        "time", "Tuesday", ARGUMENT_SCORE)
    assert argument.span in suggestion.spans


def test_sentences_split_at_end_punctuation_and_line_breaks_not_abbreviations() -> None:
    text = "Mr. Khan said the U.S. embassy was shut. Gen. Ali agreed!\nA new line \n\n“Quoted.” Next one"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Mr. Khan said the U.S. embassy was shut.", "Gen. Ali agreed!", "A new line", "“Quoted.”", "Next one"]


# --------------------------------------------------------------------------- schemes


def test_a_type_the_scheme_does_not_list_is_left_out() -> None:
    def drop_hijacking(events: dict[str, Any]) -> None:
        for attribute in events["attributes"]:
            if attribute["name"] == "attack_type":
                attribute["choices"] = [c for c in attribute["choices"] if c["value"] != "Hijacking"]

    scheme = scheme_with(drop_hijacking)
    text = "Armed men hijacked a bus carrying pilgrims."
    (event,) = Rules(scheme).suggest(text).events
    assert text[event.start:event.end] == "hijacked" and event.attributes == ()


def test_an_events_field_without_counts_or_attack_types_gets_no_rules() -> None:
    def strip(events: dict[str, Any]) -> None:
        events["attributes"] = [a for a in events["attributes"] if a["name"] == "certainty"]
        events["type"] = None

    assert EventRules.for_scheme(scheme_with(strip)) == []
    assert Rules(scheme_with(strip)).suggest("A bomb killed 40 people.").events == []


def test_v1_scheme_gets_no_events_and_keeps_its_version() -> None:
    v1 = builtin_scheme("news-events-v1")
    text = "A bomb killed 40 people in Kabul on Tuesday."
    rules = Rules(v1)
    suggestion = rules.suggest(text)
    assert suggestion.events == [] and {v.field: v.value for v in suggestion.values} == {"killed": 40}
    # The version is the hash of the state it always had: no events key under a scheme without events.
    state = {"rules_version": RULES_VERSION, "patterns": [], "gold": [], "dates": True,
             "counts": ["hostages", "injured", "killed"]}
    canonical = json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert rules.version == "rules-" + hashlib.sha256(canonical.encode()).hexdigest()[:10]
    prediction = to_prediction(v1, "a1", text, suggestion, rules.version)
    assert {r["type"] for r in prediction["result"]} == {"labels", "number"}
    assert all(r["from_name"] in ("entities", "killed") for r in prediction["result"])
    # Under the default scheme, events change the rules' output, and so their version.
    assert Rules(SCHEME).version != Rules(SCHEME, events=False).version
    assert Rules(SCHEME, events=False).suggest(text).events == []


# ----------------------------------------------------------------------- predictions


def test_prediction_is_what_the_labeling_view_saves_and_normalises_back(
        rules: Rules, seed: tuple[str, str, dict[str, Any]]) -> None:
    article_id, text, gold = seed
    suggestion = merge([Rules(SCHEME, gold_examples=gold_examples_from([gold], SCHEME)).suggest(text)], SCHEME)
    prediction = to_prediction(SCHEME, article_id, text, suggestion, "rules-x")
    line = {k: prediction[k] for k in ("model_version", "score", "result")}
    jsonschema.Draft202012Validator(build_task_schema(SCHEME)["properties"]["predictions"]["items"]).validate(line)
    regions = {r["id"]: r for r in prediction["result"] if r["type"] == "labels"}
    assert len(regions) == sum(r["type"] == "labels" for r in prediction["result"])  # ids unique
    triggers = {i: r for i, r in regions.items() if r["from_name"] == "events"}
    assert len(triggers) == 4
    for item in prediction["result"]:
        if item.get("from_name") in ("attack_type", "killed", "injured", "hostages", "certainty"):
            region = triggers[item["id"]]  # an attribute carries its trigger's id and offsets
            assert {k: item["value"][k] for k in ("start", "end", "text")} == {
                k: region["value"][k] for k in ("start", "end", "text")}
        elif item["type"] == "relation":
            assert item["from_id"] in triggers and regions[item["to_id"]]["from_name"] == "entities"
            role = SCHEME.field("events").role(item["labels"][0])
            assert regions[item["to_id"]]["value"]["labels"][0] in role.labels
            assert item["direction"] == "right" and item["score"] == ARGUMENT_SCORE
    assert prediction["score"] == min(r["score"] for r in prediction["result"])
    # Same suggestion, same line: ids are deterministic.
    assert to_prediction(SCHEME, article_id, text, suggestion, "rules-x") == prediction

    task = {"id": 7, "data": {"text": text, "article_id": article_id}, "predictions": [{"id": 3, **line}]}
    out = normalise_task(task, SCHEME)
    assert out.quarantine == []
    (normalised,) = out.predictions
    assert normalised["events"] == to_record(suggestion, SCHEME, text)["events"]
    assert [e["trigger"]["text"] for e in normalised["events"]] == [
        "seized hostages", "mass shooting", "opened fire", "taken them hostage"]


def test_merge_keeps_the_earlier_sources_events_and_drops_arguments_to_lost_spans() -> None:
    # On "A bomb went off in Kabul on Tuesday.": the rules' Kabul beats the model's "Kabul on".
    kabul = Span("entities", 19, 24, "GPE", 0.9, "rules:gold-string")
    model_kabul = Span("entities", 19, 27, "ORG", 0.95, "model:m")
    first = Suggestion([kabul], [], [Event("events", 2, 6, 0.7, "rules:event-word",
                                           (Value("attack_type", BOMBING, 0.6, "rules:event-word"),))])
    second = Suggestion([model_kabul], [], [
        Event("events", 2, 15, 0.99, "model:m", (Value("attack_type", ARMED, 0.9, "model:m"),)),
        Event("events", 28, 35, 0.5, "model:m", (), (Argument("place", model_kabul, 0.5),))])
    merged = merge([first, second], SCHEME)
    assert [(e.start, e.end, e.value("attack_type")) for e in merged.events] == [(2, 6, BOMBING), (28, 35, None)]
    assert merged.events[1].arguments == ()  # its span lost to the rules' Kabul
    assert [(e.start, e.end) for e in merge([second, first], SCHEME).events] == [(2, 15), (28, 35)]


def test_to_prediction_refuses_events_the_scheme_cannot_hold() -> None:
    text = "A bomb went off in Kabul on Tuesday."
    kabul = Span("entities", 19, 24, "GPE", 0.9, "x")
    tuesday = Span("entities", 28, 35, "DATE", 0.8, "x")

    def event(*arguments: Argument, attributes: tuple[Value, ...] = (), start: int = 2, end: int = 6) -> Event:
        return Event("events", start, end, 0.7, "x", attributes, arguments)

    with pytest.raises(ValueError, match="points at a span the suggestion does not have"):
        to_prediction(SCHEME, "a1", text, Suggestion([], [], [event(Argument("place", kabul, 0.4))]), "v")
    with pytest.raises(ValueError, match="no role"):
        to_prediction(SCHEME, "a1", text, Suggestion([kabul], [], [event(Argument("time", kabul, 0.4))]), "v")
    with pytest.raises(ValueError, match="one argument per event"):
        to_prediction(SCHEME, "a1", text, Suggestion([tuesday], [], [
            event(Argument("time", tuesday, 0.4), Argument("time", tuesday, 0.4))]), "v")
    with pytest.raises(ValueError, match="not a valid answer"):
        to_prediction(SCHEME, "a1", text, Suggestion([], [], [
            event(attributes=(Value("attack_type", "Riot", 0.5, "x"),))]), "v")
    with pytest.raises(ValueError, match="is not a choice or number attribute"):
        to_prediction(SCHEME, "a1", text, Suggestion([], [], [event(attributes=(Value("weapon_use", 1, 0.5, "x"),))]),
                      "v")
    with pytest.raises(ValueError, match="outside the text"):
        to_prediction(SCHEME, "a1", text, Suggestion([], [], [event(start=30, end=90)]), "v")
    with pytest.raises(ValueError, match="not an events field"):
        to_prediction(SCHEME, "a1", text, Suggestion([], [], [Event("entities", 2, 6, 0.7, "x")]), "v")


# `toolkit preannotate` counts the results of each line; a relation result has no from_name.
def test_preannotate_writes_event_suggestions_for_the_default_scheme(tmp_path: Path) -> None:
    from toolkit.preannotate.run import PreannotateOptions, preannotate
    from toolkit.scaffold import init_workspace
    from toolkit.workspace import Workspace

    ws: Workspace = init_workspace(tmp_path / "ws", title="Events here", scheme="news-events")
    store.write_table(ws, read_articles(Workspace.find(REPO)))
    report = preannotate(ws, PreannotateOptions(model=None))
    (line,) = [json.loads(x) for x in (ws.root / report.path).read_text(encoding="utf-8").splitlines()]
    assert sum(r.get("from_name") == "events" for r in line["result"]) == 4
    # The report counts events apart from entity spans, and attributes once per event.
    assert report.events == 4 and report.values.get("attack_type") == 4
    assert report.spans == sum(r.get("from_name") == "entities" for r in line["result"])
    assert report.arguments == sum(r.get("type") == "relation" for r in line["result"])
