"""Events from attack words and number phrases: the rules' suggestions for an events field.

Under a scheme whose counts are attributes of each event (the default, news-events version 2)
an article-level count says nothing about which attack it counts, so the rules find the
events themselves, one sentence at a time:

- a sentence naming an attack with a word of a small lexicon ("opened fire", "mass shooting",
  "bomb", "suicide bomber", "seized hostages", "taken them hostage", "kidnapped",
  "assassinated", "hijacked", "set fire to", ...) is an event; its trigger is that word or
  phrase (of several, a phrase naming the act before a word naming its doers, "opened fire"
  before "gunmen", then the longest, then the first), its type the Global Terrorism Database
  attack type the lexicon gives it (``TYPE_SCORE``; ``MIXED_TYPE_SCORE`` when the sentence
  names attacks of another type too), when the scheme's type attribute lists that type;
- its counts are the sentence's own number phrases (``numbers.find_counts``), chosen per
  field as ``numbers.count_values`` chooses for an article: the last death toll, else the
  first count, 0 when the only phrases are negations;
- a sentence naming an attack of a type an earlier event has, and giving no count that
  differs from that event's, retells it ("Measures are being taken to free the hostages",
  "the latest hostage-taking incident") and makes no event of its own: news names its main
  attack again and again, and a second event for each mention would bury the real ones;
- a sentence with counts but no attack word ("Five people were killed.") gives its counts to
  the event of the sentence just before, when that event has none of them ("A bomb went
  off in the market. Five people were killed."); otherwise, when a count is more than a
  negation, it is an event of its own, the trigger the count's verb ("killed"), no type.
  "No one was hurt" alone makes no event: it is no evidence that an attack happened;
- arguments, only to spans the rules suggest in the same sentence: ``time`` to its first
  DATE, ``place`` to its last GPE (else its last FAC): news names the country first, then
  the region ("in Russia's southern Volgograd region"). Both at ``ARGUMENT_SCORE``.

One event per sentence at most: a sentence reporting two attacks gives the first reading.
Sentences are split on end punctuation followed by a capital, and on line breaks, with the
usual abbreviations ("Mr.", "U.S.") kept whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..scheme import EventsField, NumberField, Scheme
from .numbers import FIELDS, Count, choose_count, find_counts
from .suggestions import Argument, Event, Span, Value

__all__ = ["TRIGGER_SCORE", "COUNT_TRIGGER_SCORE", "TYPE_SCORE", "MIXED_TYPE_SCORE", "ARGUMENT_SCORE",
           "ATTACK_TYPES", "AttackWord", "EventRules", "find_attack_words", "split_sentences"]

TRIGGER_SCORE = 0.7  # a trigger from the attack lexicon
COUNT_TRIGGER_SCORE = 0.4  # a trigger that is only a count's verb
TYPE_SCORE = 0.6
MIXED_TYPE_SCORE = 0.4  # the sentence names attacks of another type too
ARGUMENT_SCORE = 0.4

# Global Terrorism Database attack types the lexicon knows.
ARMED = "Armed Assault"
BOMBING = "Bombing/Explosion"
BARRICADE = "Hostage Taking (Barricade Incident)"
KIDNAPPING = "Hostage Taking (Kidnapping)"
ASSASSINATION = "Assassination"
HIJACKING = "Hijacking"
FACILITY = "Facility/Infrastructure Attack"
ATTACK_TYPES = (ARMED, BOMBING, BARRICADE, KIDNAPPING, ASSASSINATION, HIJACKING, FACILITY)

_WORD_GAP = r"(?:[\w’'-]+\s+)"
_TAKE = r"(?:took|taken|taking|takes|take|held|holding|holds|hold|seized|seizing|seizes|seize)"
# (type, the regular expressions naming the act, those naming its doers). Doers ("gunmen")
# are triggers only when nothing names the act itself.
_LEXICON: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (ARMED, (r"mass\s+shootings?", r"open(?:ed|s|ing)?\s+fire", r"shoot-?outs?", r"shootings?", r"gunfire",
             r"shot\s+dead", r"gunned\s+down", r"(?:armed|gun|knife|stabbing)\s+attacks?", r"stabbings?",
             r"stabbed(?:\s+to\s+death)?"),
     (r"gun(?:man|men)",)),
    (BOMBING, (r"suicide\s+(?:bombings?|blasts?|attacks?)", r"car\s+bombs?", r"(?:bomb|grenade)\s+attacks?",
               r"bombings?", r"bombs?", r"explosions?", r"exploded", r"blasts?", r"IEDs?", r"detonated"),
     (r"suicide\s+bombers?", r"bombers?")),
    # "took them hostage", "seized three hostages": a gap of at most two words, longer ones
    # leave the word "hostages" alone as the trigger. "hostage-takers" are people.
    (BARRICADE, (rf"{_TAKE}\s+{_WORD_GAP}{{0,2}}?(?:as\s+)?hostages?", r"hostage-taking", r"hostages?(?!-tak)",
                 r"barricaded"),
     ()),
    (KIDNAPPING, (r"kidnap(?:ped|ping|pings|s)?", r"abduct(?:ed|ion|ions|s)?"), (r"kidnappers?", r"abductors?")),
    (ASSASSINATION, (r"assassinat(?:ed|ion|ions|ing|es|e)",), (r"assassins?",)),
    (HIJACKING, (r"hijack(?:ed|ing|ings|s)?",), (r"hijackers?",)),
    (FACILITY, (r"arson(?:\s+attacks?)?", r"set\s+fire\s+to", rf"set\s+{_WORD_GAP}{{1,3}}?on\s+fire", r"torched"),
     ()),
)


def _pattern(parts: Iterable[str]) -> str:
    return "|".join(parts)


# One pattern per (type, act or doer): a named group each, tried as one alternation.
_GROUPS: list[tuple[str, str, bool]] = []  # (group name, type, names the act)
_ALTERNATIVES = []
for _i, (_type, _acts, _doers) in enumerate(_LEXICON):
    for _kind, _words in (("act", _acts), ("doer", _doers)):
        if _words:
            _GROUPS.append((f"{_kind}{_i}", _type, _kind == "act"))
            _ALTERNATIVES.append(f"(?P<{_kind}{_i}>{_pattern(_words)})")
_ATTACK = re.compile(rf"(?<![\w-])(?:{'|'.join(_ALTERNATIVES)})(?![\w-])", re.IGNORECASE)
_GROUP_INFO = {name: (type_, act) for name, type_, act in _GROUPS}

# The verb of a count phrase: the trigger of an event made of counts alone.
_COUNT_VERB = re.compile(
    r"\b(?:death\s+toll|killed|killing|kills|slain|slew|massacred|murdered|executed|injured|injuring|wounded|"
    r"wounding|hurt|died|dead|deaths|fatalities|perished|kidnapped|abducted|hostages?|captives?|seized|captured)\b",
    re.IGNORECASE)

# ---------------------------------------------------------------------------- sentences

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen col lt sgt capt maj rev prof jr sr no vs etc inc ltd co corp gov sen rep u.s u.k u.n "
    "e.g i.e jan feb mar apr jun jul aug sep sept oct nov dec".split())
_BOUNDARY = re.compile(r"[.!?]+[”\"’)\]]*\s+(?=[“\"‘(\[]?[A-Z0-9])|\n+")
_LAST_WORD = re.compile(r"([\w.]+)[.!?]+[”\"’)\]]*\s*$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace left out."""
    bounds, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if "\n" not in m.group():
            word = _LAST_WORD.search(text, max(start, m.start() - 20), m.end())
            if word and (word.group(1).lower() in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", word.group(1))):
                continue
        bounds.append((start, m.end()))
        start = m.end()
    bounds.append((start, len(text)))
    out = []
    for begin, end in bounds:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if begin < end:
            out.append((begin, end))
    return out


# ------------------------------------------------------------------------- attack words


@dataclass(frozen=True)
class AttackWord:
    """A word or phrase of the lexicon found in the text: where, the attack type it names, and
    whether it names the act ("opened fire") or its doers ("gunmen")."""

    start: int
    end: int
    type: str
    act: bool


def find_attack_words(text: str) -> list[AttackWord]:
    """Every attack word or phrase of ``text``, in text order, none overlapping."""
    words = []
    for m in _ATTACK.finditer(text):
        name = m.lastgroup
        assert name is not None
        type_, act = _GROUP_INFO[name]
        words.append(AttackWord(m.start(), m.end(), type_, act))
    return words


def _best(words: Sequence[AttackWord]) -> AttackWord:
    return min(words, key=lambda w: (not w.act, w.start - w.end, w.start))


def _starting_within(items: Sequence[Any], i: int, start: int, end: int) -> tuple[Sequence[Any], int]:
    """Of ``items`` (in text order), from index ``i`` on, those starting in [start, end), and the
    index to go on from for the next sentence."""
    while i < len(items) and items[i].start < start:
        i += 1
    j = i
    while j < len(items) and items[j].start < end:
        j += 1
    return items[i:j], j


# ---------------------------------------------------------------------------- counts


def _choose(counts: Sequence[Count]) -> dict[str, tuple[Count, float]]:
    """Per field, the count ``numbers.count_values`` would choose among ``counts`` and its score."""
    chosen = {}
    for name in FIELDS:
        of_field = [c for c in counts if c.field == name]
        if not of_field:
            continue
        chosen[name] = choose_count(of_field)
    return chosen


# ---------------------------------------------------------------------------- events


@dataclass
class _Draft:
    """An event while the sentences are read: its trigger, type, counts and arguments."""

    start: int
    end: int
    score: float
    source: str
    type: str | None
    type_score: float
    counts: dict[str, tuple[Count, float]]
    arguments: list[Argument]


class EventRules:
    """The event rules for one events field of a scheme (``for_scheme`` gives those that apply)."""

    def __init__(self, f: EventsField) -> None:
        self.field = f
        type_field = f.type_field
        self.types = frozenset(type_field.values if type_field is not None else ()) & frozenset(ATTACK_TYPES)
        self.type_attribute = f.type_attribute if self.types else None
        self.counts = {a.name: a.field for a in f.attributes if a.name in FIELDS and isinstance(a.field, NumberField)}
        roles = {r.value: r for r in f.roles}
        self.place = roles.get("place")
        self.time = roles.get("time")

    @classmethod
    def for_scheme(cls, scheme: Scheme) -> list[EventRules]:
        """The rules of each events field whose attributes hold counts named like
        ``numbers.FIELDS`` or whose type lists attack types the lexicon knows."""
        rules = [cls(f) for f in scheme.events_fields]
        return [r for r in rules if r.counts or r.types]

    def find(self, text: str, spans: Sequence[Span] = ()) -> list[Event]:
        """The events of ``text``; ``spans`` are the entity spans suggested for it (arguments
        point only at those)."""
        counts = find_counts(text) if self.counts else []
        words = find_attack_words(text)
        drafts: list[_Draft] = []
        previous: _Draft | None = None  # the event the sentence before made or retold
        ci = wi = 0
        for start, end in split_sentences(text):
            here_counts, ci = _starting_within(counts, ci, start, end)
            here_words, wi = _starting_within(words, wi, start, end)
            chosen = {k: v for k, v in _choose(here_counts).items() if self._fits(k, v[0].value)}
            previous = self._sentence(text, (start, end), here_words, chosen, spans, drafts, previous)
        return [self._event(d) for d in drafts]

    def _fits(self, name: str, value: int) -> bool:
        f = self.counts.get(name)
        return f is not None and (f.min is None or value >= f.min) and (f.max is None or value <= f.max)

    def _sentence(self, text: str, bounds: tuple[int, int], words: list[AttackWord],
                  counts: dict[str, tuple[Count, float]], spans: Sequence[Span], drafts: list[_Draft],
                  previous: _Draft | None) -> _Draft | None:
        """Read one sentence; the event it made or retold, if any."""
        if words:
            # A word of a type the scheme does not list still names an attack: an event without type.
            known = [w for w in words if w.type in self.types]
            word = _best(known or words)
            type_ = word.type if known else None
            for earlier in reversed(drafts):
                if type_ is not None and earlier.type == type_ and all(
                        k in earlier.counts and earlier.counts[k][0].value == c.value for k, (c, _) in counts.items()):
                    return earlier  # a retelling of an attack already suggested
            mixed = len({w.type for w in words}) > 1
            draft = _Draft(word.start, word.end, TRIGGER_SCORE, "rules:event-word", type_,
                           MIXED_TYPE_SCORE if mixed else TYPE_SCORE, dict(counts), [])
        elif counts:
            if previous is not None and not set(counts) & set(previous.counts):
                previous.counts.update(counts)
                return previous
            positive = [c for c, _ in counts.values() if not c.rule.startswith("negation:")]
            if not positive:
                return None  # "no one was hurt" alone is no attack
            count = counts["killed"][0] if "killed" in counts else positive[0]
            verb = _COUNT_VERB.search(text, count.start, count.end)
            begin, finish = verb.span() if verb else (count.start, count.end)
            draft = _Draft(begin, finish, COUNT_TRIGGER_SCORE, "rules:event-count", None, 0.0, dict(counts), [])
        else:
            return None
        draft.arguments = self._arguments(bounds, spans)
        drafts.append(draft)
        return draft

    def _arguments(self, bounds: tuple[int, int], spans: Sequence[Span]) -> list[Argument]:
        inside = [s for s in spans if bounds[0] <= s.start and s.end <= bounds[1]]
        out = []
        if self.time is not None:
            dates = [s for s in inside if s.label == "DATE" and (not self.time.labels or "DATE" in self.time.labels)]
            if dates:
                out.append(Argument(self.time.value, dates[0], ARGUMENT_SCORE))
        if self.place is not None:
            for label in ("GPE", "FAC"):
                places = [s for s in inside if s.label == label
                          and (not self.place.labels or label in self.place.labels)]
                if places:
                    out.append(Argument(self.place.value, places[-1], ARGUMENT_SCORE))
                    break
        return out

    def _event(self, draft: _Draft) -> Event:
        attributes = []
        if draft.type is not None and self.type_attribute is not None:
            attributes.append(Value(self.type_attribute, draft.type, draft.type_score, "rules:event-word"))
        for name in FIELDS:
            if name in draft.counts:
                count, score = draft.counts[name]
                attributes.append(Value(name, count.value, score, f"rules:{count.rule}"))
        return Event(self.field.name, draft.start, draft.end, draft.score, draft.source, tuple(attributes),
                     tuple(draft.arguments))
