"""Counts of people killed, injured and taken hostage, read from number phrases in news text.

News reports state their casualty figures in a handful of set phrases: "killed at least 15",
"two guards were wounded", "the death toll rose to 1,200", "took 40 people hostage", "no one
was hurt". ``find_counts`` finds every such phrase with regular expressions (compiled once,
at import: the rules run over every article of a corpus) and reads its number, written in
digits ("1,200") or words ("twenty-one", "a dozen", "two hundred"). Vague amounts ("dozens",
"scores", "hundreds of") give no number; negations give 0.

What must not be read as a count: years ("in 2015"; a bare year-like number is taken only
before a word for people, "2000 people"), ages ("a 25-year-old", "aged 30"), times, money,
percentages, ordinals and durations ("killed 2 years ago"). "Casualties" may mean the dead,
the wounded or both, so a number of casualties is left alone; "no casualties" means neither.

``count_values`` turns the phrases into at most one suggested value per field: the last
death-toll phrase when there is one ("the death toll had risen to 25": tolls are updated
upwards as an article goes on), else the first count (news puts the main event first; later
counts are often earlier attacks given as background: the Volgograd article in ``raw/`` gives
"killed at least one" for its own attack, then 139, 15 and 6 for others), 0 when the only
phrases are negations, with a lower score when the phrases of a field disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .suggestions import Value

__all__ = ["FIELDS", "Count", "find_counts", "count_values", "choose_count", "parse_number"]

FIELDS = ("killed", "injured", "hostages")

# Scores of one phrase, by what qualifies its number: "at least 15" is as good a count as
# "15" (the annotation guide asks for the confirmed count), "about 15" less so.
EXACT_SCORE = 0.8
ROUGH_SCORE = 0.7
UPPER_BOUND_SCORE = 0.6
# The score of a field's value when its phrases disagree.
DISAGREE_SCORE = 0.5

# ---------------------------------------------------------------------------- numbers

_UNITS = {w: i for i, w in enumerate("one two three four five six seven eight nine".split(), 1)}
_TEENS = {w: i for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                     "nineteen".split(), 10)}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_WORD_VALUES = {**_UNITS, **_TEENS, **_TENS}


def _alternatives(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words`` (a space in one matches any run of
    whitespace), as a trie: the engine reads each character once instead of trying every word
    in turn, which is what keeps the patterns fast on a whole corpus. Longer words win."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [(r"\s+" if ch == " " else re.escape(ch)) + emit(child)
                    for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return "(?:" + emit(trie) + ")"


_NUMBER_WORD = _alternatives(_WORD_VALUES)
# Word numbers are read loosely here ("twenty-one", "two hundred and five", "a dozen") and
# strictly by ``parse_number``, which refuses what is not a number ("two and three").
_WORDS = (rf"(?:(?:half\s+a|a)\s+(?:dozen|hundred|thousand)|{_NUMBER_WORD})"
          rf"(?:[-\s]+(?:{_NUMBER_WORD}|hundred|thousand|dozen)|\s+and\s+{_NUMBER_WORD})*")
_DIGITS = r"\d+(?:\.\d+)?\s+(?:hundred|thousand|million)|\d{1,3}(?:,\d{3})+|\d+"
# What a number must not be followed by: a unit of time, age, distance, money or share
# ("2 years ago", "25-year-old", "10 am", "5 million dollars", "15 percent", "3 May").
_UNIT_WORDS = """years year yrs yr months month weeks week days day hours hour hrs minutes minute mins seconds
second decades decade century centuries miles mile km kilometers kilometres kilometer kilometre metres meters
metre meter feet foot inches inch percent per cent am pm a.m p.m o'clock gmt utc times dollars dollar euros
euro pounds pound rupees rupee yuan naira shillings shilling kg kilos kilo kilograms kilogram tons ton tonnes
tonne hundred thousand million billion bn m k january february march april june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec""".split()
_NOT_UNIT = rf"(?!\s*-?\s*(?:{_alternatives(_UNIT_WORDS)}|(?-i:May))\b)"
# Before the number: not inside a word, an amount ($5), a decimal, a time (10:30), a date
# (3/5), "no one", "aged 30", or "another 5" (an addition, not a total).
_NUM = (r"(?<!\baged\s)(?<!\bage\s)(?<!\bages\s)(?<!\banother\s)(?<!\bfurther\s)(?<!\badditional\s)"
        rf"(?P<num>(?<![\w$£€¥#.,/:'’-])(?:{_DIGITS})|(?<![\w'’-])(?<!\bno\s)(?:{_WORDS}))"
        rf"(?![-\w]|[.,:/]\d|\s*%){_NOT_UNIT}")

# "at least 15", "nearly 40": the qualifier names the rule and sets the phrase's score.
_QUALIFIERS = {
    **dict.fromkeys(("at least", "more than", "over", "upwards of", "in excess of"), "at-least"),
    **dict.fromkeys(("nearly", "almost", "about", "around", "approximately", "roughly", "some", "up to",
                     "as many as", "an estimated", "estimated", "close to"), "about"),
    **dict.fromkeys(("at most", "fewer than", "less than", "under"), "at-most"),
    "a total of": "",
}
_Q_WORDS = _alternatives(_QUALIFIERS)
_Q = rf"(?:(?P<q>{_Q_WORDS})\s+)?"
_Q_BEFORE = re.compile(rf"(?<![\w'’-])(?P<q>{_Q_WORDS})\s+\Z", re.IGNORECASE)

# Words naming people: a bare year-like number ("2015") counts only before one of these,
# and "seized 3" / "took 3 ... hostage" need one ("seized 3 ships" is no hostage count).
_PERSON_WORDS = frozenset("""
people persons person civilians civilian soldiers soldier troops police policemen policewomen officers officer
guards guard workers worker children child kids women woman men man students student pupils schoolchildren
schoolgirls schoolboys girls boys passengers passenger tourists tourist worshippers worshipers villagers
militants militant fighters fighter insurgents insurgent rebels rebel gunmen gunman attackers attacker members
staff employees employee hostages hostage miners pilgrims residents patients farmers journalists reporters
foreigners foreign nationals citizens crew sailors fishermen engineers contractors teachers doctors nurses
volunteers protesters demonstrators bystanders victims others commuters shoppers spectators guests detainees
prisoners inmates convicts security personnel servicemen marines policeman peacekeepers
""".split())
_PERSON = _alternatives(_PERSON_WORDS)

# Words that end a noun phrase between a number and its verb ("15 people [in] the market").
_STOP = _alternatives("""were was are is be been being have has had who that which and or but nor in on at by
with from after before during near for to into than as while when of the a an dozen dozens hundred hundreds
thousand thousands""".split() + list(_WORD_VALUES))
_WORD = r"[a-z][a-z'’-]*"
# Between the number and its verb: "of the" and up to four words ("aid workers").
_NP = rf"(?P<np>(?:\s+of\s+(?:the|them|those|these|whom))?(?:\s+(?!{_STOP}\b){_WORD}){{0,4}}?)"
# After an object number: optional words ending in a word for people ("three aid workers").
_OBJECT_NP = rf"(?P<np>(?:\s+(?!{_STOP}\b){_WORD}){{0,2}}?\s+{_PERSON}\b(?:\s+{_PERSON}\b)?)?"

_AUX = (r"(?P<aux>\s+" + _alternatives((
    "were", "was", "are", "is", "have been", "has been", "had been", "have", "has", "had", "been", "being",
    "got", "get", "remain", "remained", "lay", "lie", "are now", "were later", "are feared", "were feared",
    "are believed to have been", "were believed to have been", "are believed to be", "were believed to be",
    "are reported", "were reported")) + r")?")
_ADV = (r"(?:\s+" + _alternatives((
    "reportedly", "also", "all", "now", "later", "confirmed", "believed", "feared", "thought", "known", "found",
    "critically", "seriously", "badly", "slightly", "fatally", "mortally", "severely", "lightly", "gravely",
    "allegedly", "initially", "subsequently", "either", "reported", "said to have been", "to have been",
    "to be")) + r"){0,3}")

# Verbs after the number (subject phrases). Transitive verbs without an auxiliary must not be
# followed by an object ("15 militants killed two soldiers").
_TRANSITIVE = _alternatives((
    "killed", "slain", "massacred", "murdered", "executed", "gunned down", "shot dead", "injured", "wounded",
    "hurt", "kidnapped", "abducted", "taken hostage", "held hostage", "taken captive", "held captive"))
_INTRANSITIVE = _alternatives(("dead", "died", "perished", "lost their lives"))
_OBJECT_START = (r"(?!\s+(?:" + _alternatives(["the", "a", "an", "his", "her", "their", "its", "our", "at least",
                                                "more than", *_WORD_VALUES]) + r"|\d)\b)")
# Nouns straight after the number and its adjectives: "15 deaths", "twenty-one foreign hostages".
_NOUNS = _alternatives(("deaths", "fatalities", "bodies", "injuries", "hostages", "captives"))

# Active verbs before the number (object phrases). Those in _NEEDS_PERSON count only with a
# word for people after the number.
_VERB_WORDS = (
    "killed", "killing", "kills", "kill", "slew", "slaying", "massacred", "massacring", "murdered", "murdering",
    "executed", "executing", "gunned down", "gunning down", "shot dead", "injured", "injuring", "injures",
    "wounded", "wounding", "wounds", "hurt", "hurting", "kidnapped", "kidnapping", "kidnaps", "abducted",
    "abducting", "abducts", "seized", "seizing", "captured", "capturing")
_VERB = _alternatives(_VERB_WORDS)
_NEEDS_PERSON = frozenset({"seized", "seizing", "captured", "capturing", "kill"})

_FIELD_OF_WORD = {
    **dict.fromkeys("killed killing kills kill slew slaying slain massacred massacring murdered murdering executed "
                    "executing gunned gunning shot dead died perished lost deaths fatalities bodies toll".split(),
                    "killed"),
    **dict.fromkeys("injured injuring injures wounded wounding wounds hurt hurting injuries".split(), "injured"),
    **dict.fromkeys("kidnapped kidnapping kidnaps abducted abducting abducts seized seizing captured capturing "
                    "taken took taking takes take held holding holds hold kept keeping hostages captives "
                    "hostage".split(), "hostages"),
}

_FLAGS = re.IGNORECASE

# Every number; the phrases around it are read by the anchored patterns below.
_NUMBER = re.compile(_NUM, _FLAGS)
# After a number: "[at least 15] people were killed", "[two] guards were wounded", "[139] people died"
_SUBJECT = re.compile(rf"{_NP}(?:\s+(?:who|that))?{_AUX}{_ADV}\s+"
                      rf"(?P<verb>{_TRANSITIVE}\b(?(aux)|{_OBJECT_START})|{_INTRANSITIVE}\b)", _FLAGS)
# After a number: "[15] deaths", "[twenty-one] hostages"
_NOUN = re.compile(rf"(?P<np>(?:\s+(?!{_STOP}\b){_WORD}){{0,2}}?)\s+(?P<verb>{_NOUNS})\b", _FLAGS)
# "killed at least 15 people", "kidnapped three aid workers"
_OBJECT = re.compile(rf"\b(?P<verb>{_VERB})\s+{_Q}{_NUM}{_OBJECT_NP}", _FLAGS)
# "the death toll rose to 1,200", "the number of injured stands at 40"
_TOLL = re.compile(
    r"\b(?P<verb>death\s+toll|number\s+of\s+(?:the\s+)?" + _alternatives((
        "dead", "deaths", "fatalities", "people killed", "injured", "wounded", "injuries", "people injured",
        "people wounded", "hostages", "people kidnapped")) + ")"
    r"(?:[\s,]+[^\s.;!?,]+){0,8}?[\s,]+" + _alternatives((
        "to", "at", "of", "reached", "hit", "passed", "topped", "exceeded", "surpassed", "is", "was", "stands",
        "stood", "now", "climbed", "rose", "risen", "jumped")) + rf"\s+{_Q}{_NUM}", _FLAGS)
# "the blast left 15 people dead"
_LEFT = re.compile(rf"\bleft\s+{_Q}{_NUM}{_OBJECT_NP}\s+(?P<verb>dead|injured|wounded|hurt)\b", _FLAGS)
# "took 40 people hostage", "holding three foreigners captive"
_TAKE_WORDS = ("took", "taken", "taking", "takes", "take", "held", "holding", "holds", "hold", "kept", "keeping",
               "seized", "seizing")
_TAKEN = re.compile(rf"\b{_alternatives(_TAKE_WORDS)}\s+{_Q}{_NUM}{_OBJECT_NP}\s+(?:as\s+)?"
                    r"(?P<verb>hostages?|captives?)\b", _FLAGS)

# After a number: what it counts.
_NUMBER_FIRST = (("subject", _SUBJECT), ("noun", _NOUN))

# Negations: "no one was killed or injured", "nobody was hurt", "no deaths were reported",
# "there were no casualties", "no reports of injuries".
_NEG_VERB = _alternatives(("killed", "dead", "died", "hurt", "injured", "wounded", "harmed", "kidnapped",
                           "abducted", "taken hostage"))
_NEGATION_SUBJECT = re.compile(
    r"\b(?:no\s+one|no-one|nobody|none)(?:\s+(?:else|of\s+(?:the|them|those)(?:\s+[a-z]+){0,2}))?"
    r"(?:\s+(?:was|were|has\s+been|had\s+been|have\s+been|is|are|got|appears\s+to\s+have\s+been"
    r"|appeared\s+to\s+have\s+been))?"
    r"(?:\s+(?:reported|reportedly|immediately|seriously|badly|critically|believed|thought|known|to\s+have\s+been"
    r"|physically)){0,3}"
    rf"\s+(?P<verbs>{_NEG_VERB}(?:\s*(?:,|or|and|nor)\s*{_NEG_VERB})*)\b", _FLAGS)
_NEG_NOUN = _alternatives(("deaths", "fatalities", "injuries", "casualties", "dead", "injured", "wounded"))
_NEGATION_NOUN = re.compile(
    r"\bno\s+(?:immediate\s+|other\s+|further\s+|known\s+|reported\s+|more\s+)?(?:reports?\s+of\s+(?:any\s+)?)?"
    rf"(?P<verbs>{_NEG_NOUN}(?:\s*(?:,|or|and)\s*{_NEG_NOUN})*)\b", _FLAGS)
_NEGATION_FIELDS = {
    "killed": ("killed",), "dead": ("killed",), "died": ("killed",), "deaths": ("killed",),
    "fatalities": ("killed",), "hurt": ("injured",), "injured": ("injured",), "wounded": ("injured",),
    "injuries": ("injured",), "harmed": ("killed", "injured"), "casualties": ("killed", "injured"),
    "kidnapped": ("hostages",), "abducted": ("hostages",), "taken": ("hostages",),
}
_LIST_SPLIT = re.compile(r"\s*(?:,|\bor\b|\band\b|\bnor\b)\s*", re.IGNORECASE)

# One pass over the text finds the words a phrase can begin with; each phrase pattern is then
# tried only there (anchored), instead of each searching the whole text: the search is what
# costs, and one search for all of them costs about as much as one for each.
def _phrase_starts() -> dict[str, tuple[tuple[str, re.Pattern[str]], ...]]:
    """First word(s) of a phrase -> the (shape, pattern) pairs that may begin there."""
    starts: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
    for words, shape, pattern in ((_VERB_WORDS, "object", _OBJECT), (("death toll", "number of"), "toll", _TOLL),
                                  (("left",), "left", _LEFT), (_TAKE_WORDS, "taken-hostage", _TAKEN),
                                  (("no", "nobody", "none"), "negation", _NEGATION_SUBJECT),
                                  (("no",), "negation", _NEGATION_NOUN)):
        for word in words:
            starts[word] = (*starts.get(word, ()), (shape, pattern))
    return starts


_STARTS = _phrase_starts()
_NUMBER_STARTS = (*_WORD_VALUES, "a dozen", "a hundred", "a thousand", "half a dozen")
_TRIGGER = re.compile(rf"\b(?:{_alternatives((*_STARTS, *_NUMBER_STARTS))}\b|\d)", _FLAGS)

_SPACE = re.compile(r"\s+")
_WORD_SPLIT = re.compile(r"[\s-]+")
_HYPHEN_WORDS = re.compile(r"[a-z][a-z'’-]*", re.IGNORECASE)


@dataclass(frozen=True)
class Count:
    """One count phrase: the field it counts, its number and where it is in the text."""

    field: str
    value: int
    start: int
    end: int
    rule: str
    score: float


def parse_number(phrase: str) -> int | None:
    """The value of a number phrase ("1,200", "1.5 million", "twenty-one", "a dozen", "two
    hundred and five", "half a dozen"); None when the words make no number ("two and three",
    "six seven")."""
    words = [w for w in _WORD_SPLIT.split(phrase.strip().lower().replace(",", "")) if w]
    if not words:
        return None
    if words[0][0].isdigit():
        try:
            number = float(words[0])
        except ValueError:
            return None
        if len(words) == 1:
            return int(number) if number.is_integer() else None
        scale = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}.get(words[1])
        return int(round(number * scale)) if scale and len(words) == 2 else None
    if words == ["half", "a", "dozen"]:
        return 6
    total, current, last = 0, 0, ""
    for i, word in enumerate(words):
        if word in _WORD_VALUES:
            # "twenty-one" and "hundred and five", never two small numbers in a row
            if last in _UNITS or last in _TEENS or (last in _TENS and word not in _UNITS):
                return None
            current += _WORD_VALUES[word]
        elif word == "a" and i == 0:
            current = 1
        elif word == "hundred" and 0 < current < 100 and last != "and":
            current *= 100
        elif word == "thousand" and 0 < current < 1000 and last != "and":
            total, current = total + current * 1000, 0
        elif word == "dozen" and 0 < current < 100 and last != "and":
            current *= 12
        elif word == "and" and last in ("hundred", "thousand"):
            pass
        else:
            return None
        last = word
    return None if last == "and" else total + current


def _is_year(num_text: str) -> bool:
    return len(num_text) == 4 and num_text.isdigit() and 1800 <= int(num_text) <= 2100


def _has_person(words: str | None) -> bool:
    return any(w.lower() in _PERSON_WORDS for w in _HYPHEN_WORDS.findall(words or ""))


def _count(shape: str, verb: str, num: str, qualifier: str | None, np: str | None,
           start: int, end: int) -> Count | None:
    """The count a matched phrase gives, or None when its guards refuse it."""
    verb = _SPACE.sub(" ", verb.lower())
    key = verb.split(" ")[0]
    if shape == "toll":
        key = "toll" if verb.startswith("death") else verb.split(" ")[-1]
    field = _FIELD_OF_WORD.get(key)
    kind = _QUALIFIERS.get(_SPACE.sub(" ", qualifier.lower())) if qualifier else ""
    if field is None or kind is None:
        return None
    if shape == "object" and key in _NEEDS_PERSON and not _has_person(np):
        return None
    if _is_year(num) and not qualifier and not _has_person(np):
        return None
    value = parse_number(num)
    if value is None:
        return None
    rule = f"number-phrase:{field}-{shape}" + (f"-{kind}" if kind else "")
    score = {"about": ROUGH_SCORE, "at-most": UPPER_BOUND_SCORE}.get(kind, EXACT_SCORE)
    return Count(field, value, start, end, rule, score)


def find_counts(text: str) -> list[Count]:
    """Every count phrase of ``text``, in text order. A number read by two patterns for the
    same field counts once (the first pattern's reading)."""
    found: dict[tuple[str, int], Count] = {}
    number_end = 0  # "one" in "twenty one" is no number of its own
    for trigger in _TRIGGER.finditer(text):
        at = trigger.start()
        for shape, pattern in _STARTS.get(_SPACE.sub(" ", trigger.group().lower()), ()):
            m = pattern.match(text, at)
            if m is None:
                continue
            if shape == "negation":
                for count in _negations(m):
                    found.setdefault((count.field, m.start()), count)
                continue
            count = _count(shape, m["verb"], m["num"], m["q"], m.groupdict().get("np"), m.start(), m.end())
            if count is not None:
                found.setdefault((count.field, m.start("num")), count)
        number = _NUMBER.match(text, at) if at >= number_end else None
        if number is None:
            continue
        number_end = number.end()
        before = _Q_BEFORE.search(text[max(0, at - 32):at])
        start = at - len(before.group(0)) if before else at
        for shape, pattern in _NUMBER_FIRST:
            m = pattern.match(text, number.end())
            if m is not None:
                count = _count(shape, m["verb"], number["num"], before and before["q"], m["np"], start, m.end())
                if count is not None:
                    found.setdefault((count.field, at), count)
    return sorted(found.values(), key=lambda c: (c.start, c.end, FIELDS.index(c.field)))


def _negations(m: re.Match[str]) -> list[Count]:
    """The zero counts of one negation ("no one was killed or injured": killed and injured)."""
    words = [w for w in _LIST_SPLIT.split(m["verbs"].lower()) if w]
    rule = "negation:no-casualties" if "casualties" in words else None
    fields = dict.fromkeys(f for w in words for f in _NEGATION_FIELDS.get(w.split()[0], ()))
    return [Count(f, 0, m.start(), m.end(), rule or f"negation:{f}", EXACT_SCORE) for f in fields]


def count_values(text: str, fields: Iterable[str] | None = None) -> list[Value]:
    """At most one value per field (of ``fields``, default all three): the last toll phrase,
    else the first count found for it, or 0 when its only phrases are negations. The score is the chosen phrase's
    when every phrase of the field gives the same number, ``DISAGREE_SCORE`` otherwise; the
    source names the rule that gave the chosen number."""
    wanted = set(FIELDS if fields is None else fields)
    by_field: dict[str, list[Count]] = {}
    for count in find_counts(text):
        if count.field in wanted:
            by_field.setdefault(count.field, []).append(count)
    values = []
    for field in FIELDS:
        counts = by_field.get(field)
        if not counts:
            continue
        chosen, score = choose_count(counts)
        values.append(Value(field, chosen.value, score, f"rules:{chosen.rule}"))
    return values


def choose_count(counts: list[Count]) -> tuple[Count, float]:
    """The count to suggest among one field's phrases (the last toll, else the first positive count,
    else the first: a negation) and its score (lowered when the phrases disagree)."""
    positive = [c for c in counts if not c.rule.startswith("negation:")]
    tolls = [c for c in positive if c.rule.endswith("-toll")]
    chosen = tolls[-1] if tolls else (positive[0] if positive else counts[0])
    agree = len({c.value for c in counts}) == 1
    return chosen, chosen.score if agree else min(chosen.score, DISAGREE_SCORE)
