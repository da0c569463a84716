"""The rule-based suggestions: counts from number phrases, patterns, gold strings and dates,
checked on crafted sentences whose answers are known, and on generated ones for the
properties every span must have (it slices its text exactly, none overlap in a field)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import PreannotateError
from toolkit.preannotate.numbers import count_values, find_counts, parse_number
from toolkit.preannotate.rules import Rules, gold_examples_from, read_patterns
from toolkit.preannotate.suggestions import Suggestion, to_prediction
from toolkit.scheme import Scheme, build_task_schema, builtin_scheme
from toolkit.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
ARTICLE_ID = "0123456789abcdef"


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return builtin_scheme("news-events-v1")


def scheme_without(scheme: Scheme, *, labels: tuple[str, ...] = (), fields: tuple[str, ...] = ()) -> Scheme:
    data = scheme.to_dict()
    data["fields"] = [f for f in data["fields"] if f["name"] not in fields]
    for f in data["fields"]:
        if f["kind"] == "spans":
            f["labels"] = [label for label in f["labels"] if label["value"] not in labels]
    return Scheme.from_dict(data)


def values_of(text: str, fields: set[str] | None = None) -> dict[str, int]:
    return {v.field: v.value for v in count_values(text, fields)}


def spans_of(suggestion: Suggestion, text: str) -> list[tuple[str, str, str]]:
    return [(text[s.start:s.end], s.label, s.source) for s in suggestion.spans]


# ------------------------------------------------------------------------------ counts


@pytest.mark.parametrize("text, expected", [
    ("Gunmen killed at least 15 people in the market.", {"killed": 15}),
    ("At least 15 people were killed when the bomb went off.", {"killed": 15}),
    ("Two guards were wounded in the exchange of fire.", {"injured": 2}),
    ("The attackers opened fire, killing 139 people.", {"killed": 139}),
    ("In all, 139 people died.", {"killed": 139}),
    ("By Friday the death toll rose to 1,200.", {"killed": 1200}),
    ("A dozen were injured.", {"injured": 12}),
    ("The rebels are holding twenty-one hostages.", {"hostages": 21}),
    ("Militants kidnapped three aid workers on the road.", {"hostages": 3}),
    ("The gunmen took 40 people hostage.", {"hostages": 40}),
    ("Two hundred and five people were injured and one person was killed.", {"killed": 1, "injured": 205}),
    ("The blast left 15 people dead and 30 wounded.", {"killed": 15, "injured": 30}),
    ("Three of the hostages were killed.", {"killed": 3}),
])
def test_counts_in_words_and_digits(text: str, expected: dict[str, int]) -> None:
    assert values_of(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("No one was killed in the attack.", {"killed": 0}),
    ("Nobody was hurt.", {"injured": 0}),
    ("No one was killed or injured.", {"killed": 0, "injured": 0}),
    ("There were no injuries.", {"injured": 0}),
    ("There were no casualties.", {"killed": 0, "injured": 0}),
    ("No deaths were reported.", {"killed": 0}),
])
def test_negations_count_as_zero(text: str, expected: dict[str, int]) -> None:
    assert values_of(text) == expected


@pytest.mark.parametrize("text", [
    "Dozens were injured and scores were killed.",
    "Hundreds of people died in the fighting.",
    "In 2015 a man was killed in the same street.",
    "A 25-year-old man was wounded.",
    "John Smith, aged 30, was killed.",
    "Her brother was killed 2 years ago.",
    "The bomb exploded at 10:30 and the station was hurt badly by it.",
    "The reward of $5,000 was paid after he was killed.",
    "Some 15% were injured, the survey says.",
    "The 15th victim died in hospital.",
    "She was killed on 15 May.",
    "Another 5 were killed.",
])
def test_years_ages_times_money_shares_and_ordinals_are_not_counts(text: str) -> None:
    assert find_counts(text) == []
    assert count_values(text) == []


def test_the_last_toll_is_chosen_with_a_lower_score_when_reports_disagree() -> None:
    text = ("Initially 10 people were reported killed. Officials later said 12 people were killed. "
            "By the evening the death toll had risen to 25.")
    [value] = count_values(text)
    assert (value.field, value.value) == ("killed", 25)
    assert value.source == "rules:number-phrase:killed-toll"
    agreeing = "Gunmen killed 25 people. In all, 25 people died."
    [agreed] = count_values(agreeing)
    assert agreed.value == 25
    assert agreed.score > value.score


def test_without_a_toll_the_first_count_is_the_main_event_and_later_ones_are_background() -> None:
    text = ("Gunmen stormed a prison and killed at least one member of staff, officials said. In March, an "
            "attack on a concert hall killed 139 people. In June, gunmen killed at least 15 police officers.")
    [value] = count_values(text)
    assert (value.field, value.value) == ("killed", 1) and value.score < 0.8


def test_a_count_beats_a_negation_and_each_value_names_the_rule_that_gave_it() -> None:
    text = "No one was killed in the first blast. In the second, militants killed at least 3 people."
    [value] = count_values(text)
    assert value.value == 3
    assert value.score < 0.8  # a negation and a count disagree
    chosen = [c for c in find_counts(text) if c.field == "killed" and c.value == 3]
    assert value.source == f"rules:{chosen[0].rule}"
    assert "at-least" in chosen[0].rule


def test_every_value_source_is_the_rule_of_a_phrase_with_that_number() -> None:
    text = ("The gunmen took 40 people hostage, killing two guards. Five hostages were wounded. "
            "No one else was hurt.")
    counts = find_counts(text)
    values = count_values(text)
    assert {v.field for v in values} == {"killed", "injured", "hostages"}
    for value in values:
        assert value.source.startswith("rules:")
        rules = {c.rule for c in counts if c.field == value.field and c.value == value.value}
        assert value.source.removeprefix("rules:") in rules


def test_count_offsets_cover_the_phrase() -> None:
    text = "Officials said that killing 139 people was the aim. ✨ Two guards were wounded."
    by_value = {c.value: text[c.start:c.end] for c in find_counts(text)}
    assert by_value[139] == "killing 139 people"
    assert by_value[2] == "Two guards were wounded"


def test_count_values_keeps_to_the_fields_asked_for() -> None:
    text = "Gunmen killed 4 people and wounded 9."
    assert values_of(text) == {"killed": 4, "injured": 9}
    assert values_of(text, {"injured"}) == {"injured": 9}


@pytest.mark.parametrize("phrase, value", [
    ("1,200", 1200), ("twenty-one", 21), ("twenty one", 21), ("a dozen", 12), ("half a dozen", 6),
    ("two hundred and five", 205), ("a thousand", 1000), ("1.5 million", 1_500_000), ("two and three", None),
    ("six seven", None),
])
def test_parse_number(phrase: str, value: int | None) -> None:
    assert parse_number(phrase) == value


# ---------------------------------------------------------------------------- patterns

WEAPONS = [
    {"label": "WEAPON", "pattern": "AK-47", "id": "weapons-gazetteer"},
    {"label": "WEAPON", "pattern": [{"LOWER": "suicide"}, {"LOWER": {"IN": ["vest", "belt"]}}]},
]


def test_string_and_token_patterns_name_their_rule(scheme: Scheme) -> None:
    rules = Rules(scheme, WEAPONS, dates=False, counts=False)
    text = "He carried an AK-47 and wore a Suicide Vest; an ak-47 was found later."
    suggestion = rules.suggest(text)
    assert spans_of(suggestion, text) == [
        ("AK-47", "WEAPON", "rules:pattern:weapons-gazetteer"),
        ("Suicide Vest", "WEAPON", "rules:pattern:WEAPON"),  # no id: the label names it
    ]
    assert all(s.score == pytest.approx(0.9) and s.field == "entities" for s in suggestion.spans)


def test_a_pattern_label_not_in_the_scheme_is_refused(scheme: Scheme) -> None:
    with pytest.raises(PreannotateError, match="VEHICLE"):
        Rules(scheme, [{"label": "VEHICLE", "pattern": "truck"}])
    with pytest.raises(PreannotateError, match="DATE"):
        Rules(scheme_without(scheme, labels=("DATE",)), [{"label": "DATE", "pattern": "Ramadan"}])


def write_patterns(ws_root: Path, lines: list[str]) -> Path:
    path = ws_root / "schemas" / "patterns.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_patterns_skips_comments_and_blank_lines(tmp_path: Path, scheme: Scheme) -> None:
    path = write_patterns(tmp_path, ["// weapons", "", json.dumps(WEAPONS[0]), "  ", json.dumps(WEAPONS[1])])
    assert read_patterns(path, scheme) == WEAPONS
    assert read_patterns(tmp_path / "schemas" / "absent.jsonl", scheme) == []


@pytest.mark.parametrize("bad_line, problem", [
    ('{"label": "WEAPON", "pattern": "AK-47"', "not JSON"),
    ('{"pattern": "AK-47"}', "no \"label\""),
    ('{"label": "VEHICLE", "pattern": "truck"}', "'VEHICLE' is not a label"),
    ('{"label": "WEAPON", "pattern": 47}', "neither a string nor a list of token dicts"),
    ('{"label": "WEAPON", "pattern": ["AK", "47"]}', "neither a string nor a list of token dicts"),
    ('["WEAPON", "AK-47"]', "not a JSON object"),
])
def test_a_bad_patterns_line_is_named_by_file_and_line(tmp_path: Path, scheme: Scheme, bad_line: str,
                                                       problem: str) -> None:
    path = write_patterns(tmp_path, ["// gazetteer", json.dumps(WEAPONS[0]), bad_line])
    with pytest.raises(PreannotateError) as caught:
        read_patterns(path, scheme)
    assert caught.value.message.startswith("schemas/patterns.jsonl:3: ")
    assert problem in caught.value.message
    assert caught.value.hint


# ------------------------------------------------------------------------ gold strings


def test_gold_strings_label_every_whole_word_occurrence(scheme: Scheme) -> None:
    rules = Rules(scheme, gold_examples=[("Paris", "GPE"), ("Boko Haram", "ORG")], dates=False, counts=False)
    text = "Paris police, Parisian officials and paris fans said Boko Haram struck Paris-based Boko Haram rivals."
    assert [t for t, _, _ in spans_of(rules.suggest(text), text)] == ["Paris", "Boko Haram", "Paris", "Boko Haram"]
    starts = [s.start for s in rules.suggest(text).spans]
    assert starts == [0, text.index("Boko"), text.index("Paris-"), text.rindex("Boko")]


def test_an_ambiguous_gold_string_takes_its_majority_label_scored_by_its_share(scheme: Scheme) -> None:
    gold = [("Jordan", "GPE"), ("Jordan", "GPE"), ("Jordan", "PERSON"), ("Jordan", "GPE"), ("Hamas", "ORG")]
    rules = Rules(scheme, gold_examples=gold, dates=False, counts=False)
    text = "Jordan condemned Hamas."
    [jordan, hamas] = rules.suggest(text).spans
    assert (jordan.label, jordan.source) == ("GPE", "rules:gold-string")
    assert jordan.score == pytest.approx(0.9 * 3 / 4)
    assert hamas.score == pytest.approx(0.9)


def test_one_character_and_punctuation_gold_strings_are_left_out(scheme: Scheme) -> None:
    rules = Rules(scheme, gold_examples=[("A", "ORG"), ("--", "ORG"), ("“", "ORG"), ("UN", "ORG")], dates=False,
                  counts=False)
    text = "A spokesman -- quoted by the UN -- said “no”."
    assert spans_of(rules.suggest(text), text) == [("UN", "ORG", "rules:gold-string")]


def test_equal_extent_goes_to_the_pattern_then_the_gold_string_then_the_date(scheme: Scheme) -> None:
    rules = Rules(scheme, [{"label": "GPE", "pattern": "Jordan", "id": "countries"}],
                  [("Jordan", "PERSON"), ("Tuesday", "DATE"), ("Ashura", "DATE")], counts=False)
    text = "Jordan said on Tuesday that Ashura passed quietly last week."
    assert spans_of(rules.suggest(text), text) == [
        ("Jordan", "GPE", "rules:pattern:countries"),
        ("Tuesday", "DATE", "rules:gold-string"),
        ("Ashura", "DATE", "rules:gold-string"),
        ("last week", "DATE", "rules:date"),
    ]


def test_the_longer_match_wins_an_overlap(scheme: Scheme) -> None:
    rules = Rules(scheme, WEAPONS, [("vest", "WEAPON"), ("Islamic State", "ORG"), ("State", "ORG")], counts=False)
    text = "A suicide vest, claimed by Islamic State; the State Department said a vest was found on 3 May 2014."
    found = spans_of(rules.suggest(text), text)
    assert ("suicide vest", "WEAPON", "rules:pattern:WEAPON") in found
    assert ("Islamic State", "ORG", "rules:gold-string") in found
    assert ("3 May 2014", "DATE", "rules:date") in found
    assert [t for t, _, _ in found].count("vest") == 1  # "a vest", not the one inside "suicide vest"


def test_gold_examples_from_records(scheme: Scheme) -> None:
    records = [
        {"entities": [{"start": 0, "end": 5, "label": "GPE", "text": "Kabul"},
                      {"start": 10, "end": 17, "label": "DATE", "text": "Tuesday"}],
         "event_type": "Bombing/Explosion", "killed": 3},
        {"entities": None, "event_type": "Unknown", "killed": None},
    ]
    assert gold_examples_from(records, scheme) == [("Kabul", "GPE"), ("Tuesday", "DATE")]


# ------------------------------------------------------------------------------- dates


@pytest.mark.parametrize("text, dates", [
    ("The attack happened on Tuesday.", ["Tuesday"]),
    ("It was on 3 May 2014, not May 3, 2014 or 2014-05-03.", ["3 May 2014", "May 3, 2014", "2014-05-03"]),
    ("Police said last week and again yesterday that it was planned earlier this month.",
     ["last week", "yesterday", "earlier this month"]),
    ("The group was founded in March 2015 and banned in 2015.", ["March 2015", "2015"]),
    ("Saturday, November 23, 2024", ["Saturday", "November 23, 2024"]),
    ("He may come three days ago... The May 2014 vote", ["three days ago", "May 2014"]),
])
def test_dates(scheme: Scheme, text: str, dates: list[str]) -> None:
    suggestion = Rules(scheme, counts=False).suggest(text)
    assert spans_of(suggestion, text) == [(d, "DATE", "rules:date") for d in dates]
    assert all(s.score == pytest.approx(0.8) for s in suggestion.spans)


def test_no_dates_without_a_date_label_and_no_counts_without_number_fields(scheme: Scheme) -> None:
    text = "On Tuesday gunmen killed 12 people."
    bare = scheme_without(scheme, labels=("DATE",), fields=("killed", "injured"))
    assert Rules(bare).suggest(text) == Suggestion()
    full = Rules(scheme).suggest(text)
    assert spans_of(full, text) == [("Tuesday", "DATE", "rules:date")]
    assert [(v.field, v.value) for v in full.values] == [("killed", 12)]
    assert Rules(scheme, dates=False, counts=False).suggest(text) == Suggestion()


# ------------------------------------------------------------------- spans and offsets

FRAGMENTS = [
    "Paris", "Parisian", "Boko Haram", "Boko", "Haram", "Islamic State", "State", "AK-47", "ak-47", "suicide vest",
    "Suicide Belt", "vest", "on Tuesday", "3 May 2014", "May 3, 2014", "2014-05-03", "last week", "in 2015",
    "earlier this month", "killed at least 15 people", "no one was hurt", "twenty-one hostages", "São Paulo",
    "Zoë Ångström", "Zoë", "🙂", "👩‍👩‍👧", "🇫🇷", "naïve", "Jordan", "—", ",", ".", "\n\n", "  ", "\t", "’s", "-",
]
GOLD = [("Paris", "GPE"), ("Boko Haram", "ORG"), ("Islamic State", "ORG"), ("São Paulo", "GPE"),
        ("Zoë Ångström", "PERSON"), ("Jordan", "GPE"), ("Jordan", "PERSON"), ("State", "ORG"), ("vest", "WEAPON"),
        ("Tuesday", "DATE")]


@pytest.fixture(scope="module")
def rules(scheme: Scheme) -> Rules:
    return Rules(scheme, WEAPONS, GOLD)


def check_spans(scheme: Scheme, text: str, suggestion: Suggestion) -> None:
    labels = {f.name: set(f.values) for f in scheme.span_fields}
    last_end: dict[str, int] = {}
    for span in sorted(suggestion.spans, key=lambda s: (s.field, s.start)):
        piece = text[span.start:span.end]
        assert 0 <= span.start < span.end <= len(text)
        assert piece and piece == piece.strip()
        assert span.label in labels[span.field]
        assert span.start >= last_end.get(span.field, 0), f"{piece!r} overlaps an earlier span"
        last_end[span.field] = span.end
        if span.source == "rules:gold-string":
            assert (piece, span.label) in GOLD


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), min_size=1, max_size=25),
       st.sampled_from([" ", "", "  ", "\n", " 🙂 "]))
def test_every_span_slices_its_text_and_none_overlap(rules: Rules, scheme: Scheme, pieces: list[str],
                                                     glue: str) -> None:
    text = glue.join(pieces)
    suggestion = rules.suggest(text)
    check_spans(scheme, text, suggestion)
    prediction = to_prediction(scheme, ARTICLE_ID, text, suggestion, rules.version)
    assert [r["value"]["text"] for r in prediction["result"] if r["type"] == "labels"] == [
        text[s.start:s.end] for s in suggestion.spans]


def test_emoji_and_accents_keep_exact_offsets_in_the_prediction(rules: Rules, scheme: Scheme) -> None:
    text = "👩‍👩‍👧 🇫🇷 Zoë Ångström left São Paulo on Tuesday 🙂 — an AK-47 killed 2 people."
    suggestion = rules.suggest(text)
    assert [t for t, _, _ in spans_of(suggestion, text)] == ["Zoë Ångström", "São Paulo", "Tuesday", "AK-47"]
    prediction = to_prediction(scheme, ARTICLE_ID, text, suggestion, rules.version)
    regions = [r["value"] for r in prediction["result"] if r["type"] == "labels"]
    assert len(regions) == 4
    for value in regions:  # code point offsets, as the prediction line holds them
        assert text[value["start"]:value["end"]] == value["text"]


def test_predictions_validate_against_the_task_schema(rules: Rules, scheme: Scheme) -> None:
    item_schema = build_task_schema(scheme)["properties"]["predictions"]["items"]
    text = ("On Tuesday Boko Haram fighters with AK-47 rifles killed at least 15 people in Paris and took "
            "twenty-one hostages; no one was hurt in the second blast, officials said on 3 May 2014.")
    suggestion = rules.suggest(text)
    assert {v.field for v in suggestion.values} == {"killed", "injured", "hostages"}
    line = to_prediction(scheme, ARTICLE_ID, text, suggestion, rules.version)
    prediction = {k: line[k] for k in ("model_version", "score", "result")}
    jsonschema.Draft202012Validator(item_schema).validate(prediction)
    assert {r["meta"]["text"][0] for r in line["result"]} >= {"rules:gold-string", "rules:date",
                                                              "rules:pattern:weapons-gazetteer"}


def test_suggest_many_gives_one_suggestion_per_text_in_order(rules: Rules) -> None:
    texts = [f"Boko Haram killed {n} people in Paris on Tuesday." for n in range(2, 12)] + ["", "🙂"]
    assert list(rules.suggest_many(texts, batch_size=3)) == [rules.suggest(t) for t in texts]
    assert [v.value for s in rules.suggest_many(texts[:10]) for v in s.values] == list(range(2, 12))


def test_version_names_the_patterns_and_gold(scheme: Scheme) -> None:
    base = Rules(scheme, WEAPONS, GOLD).version
    assert base.startswith("rules-") and len(base) == len("rules-") + 10
    assert Rules(scheme, WEAPONS, list(reversed(GOLD))).version == base
    assert Rules(scheme, WEAPONS[:1], GOLD).version != base
    assert Rules(scheme, WEAPONS, GOLD[:-1]).version != base


# --------------------------------------------------------------------------- workspace


def test_from_workspace_reads_patterns_and_the_given_gold_records(workspace: Workspace) -> None:
    scheme = Scheme.load(workspace.scheme_path)
    write_patterns(workspace.root, [json.dumps(WEAPONS[0])])
    records: list[dict[str, Any]] = [{"entities": [{"start": 0, "end": 6, "label": "ORG", "text": "Hamas"}]}]
    rules = Rules.from_workspace(workspace, scheme, records)
    text = "Hamas fighters with an AK-47 were seen in Gaza."
    assert spans_of(rules.suggest(text), text) == [("Hamas", "ORG", "rules:gold-string"),
                                                   ("AK-47", "WEAPON", "rules:pattern:weapons-gazetteer")]
    # no gold.parquet yet: no gold strings, and no error
    assert spans_of(Rules.from_workspace(workspace, scheme).suggest(text), text) == [
        ("AK-47", "WEAPON", "rules:pattern:weapons-gazetteer")]


def test_from_workspace_takes_gold_strings_from_gold_parquet(workspace: Workspace) -> None:
    from tests.test_release import build_workspace

    build_workspace(workspace, n=12)
    scheme = Scheme.load(workspace.scheme_path)
    rules = Rules.from_workspace(workspace, scheme)
    text = "Reuters quoted Maria Lopez in Kabul."
    assert spans_of(rules.suggest(text), text) == [("Reuters", "ORG", "rules:gold-string"),
                                                   ("Maria Lopez", "PERSON", "rules:gold-string"),
                                                   ("Kabul", "GPE", "rules:gold-string")]
    assert rules.version != Rules.from_workspace(workspace, scheme, gold_records=[]).version
