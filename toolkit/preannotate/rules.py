"""The rule-based source of suggestions: patterns, strings the gold labels, dates and counts.

Four kinds of rule, each span naming the one that made it (``source``):

- patterns from ``schemas/patterns.jsonl``, in spaCy's EntityRuler format (a phrase,
  ``{"label": "WEAPON", "pattern": "AK-47", "id": "weapons-gazetteer"}``, or a token
  pattern, ``{"label": "WEAPON", "pattern": [{"LOWER": "suicide"}, {"LOWER": "vest"}]}``):
  ``rules:pattern:<id or label>``, score ``PATTERN_SCORE``;
- every occurrence (whole words, same case) of a string the gold data labels:
  ``rules:gold-string``, with the label the gold gives it most often, scored by how often it
  gives that one (a string always labelled ORG scores ``GOLD_SCORE``, one labelled ORG 3
  times in 4 scores three quarters of it);
- dates ("Tuesday", "3 May 2014", "May 3, 2014", "2014-05-03", "last week", "earlier this
  month", "in 2015"), when a span field has a DATE label: ``rules:date``, ``DATE_SCORE``;
- counts of killed, injured and hostages from number phrases (``numbers``), for the number
  fields of those names;
- events, for an events field whose attributes count killed / injured / hostages or whose
  type lists Global Terrorism Database attack types (``events``): attack words and the
  sentence's counts, with time and place arguments to the spans above.

Patterns and gold strings go into one spaCy ``entity_ruler`` of a blank English pipeline
(so a gold string matches whole tokens only: "Paris" not inside "Parisian"); dates are one
regular expression over the text (``find_dates``). A label belongs to the first span field
that lists it. Overlapping matches are resolved per span field as the EntityRuler resolves
them, longest first, then the earliest; on the same extent a pattern beats a gold string,
which beats a date (a rule someone wrote for this corpus knows better than one made from
examples, and both better than the generic dates).

``Rules.version`` names the rules' behaviour ("rules-" + a hash of the patterns, the gold
strings and ``RULES_VERSION``), so predictions say which rules made them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

import spacy
from spacy.schemas import validate_token_pattern
from spacy.tokens import Doc

from ..articles import articles_exist
from ..errors import PreannotateError
from ..scheme import Scheme
from ..workspace import Workspace
from .numbers import FIELDS as COUNT_FIELDS
from .numbers import count_values
from .events import EventRules
from .splits import load_gold
from .suggestions import Event, Span, Suggestion, Value

__all__ = ["RULES_VERSION", "EVENTS_VERSION", "PATTERN_SCORE", "GOLD_SCORE", "DATE_SCORE", "Rules", "read_patterns",
           "gold_examples_from", "find_dates"]

# Bump when a change to this module or to ``numbers`` changes what the rules suggest.
RULES_VERSION = "2"
# Bump when a change to ``events`` changes the events suggested. Part of the version only
# under a scheme with events, so that the rules' version under any other stays what it was.
EVENTS_VERSION = "1"

PATTERN_SCORE = 0.9
GOLD_SCORE = 0.9
DATE_SCORE = 0.8

PATTERNS_FILE = "patterns.jsonl"

# Rule ids inside the ruler. A user pattern's id is prefixed, so it can never pass for these.
_GOLD = "gold-string"
_PRIORITY = {"pattern": 0, _GOLD: 1, "date": 2}

# --------------------------------------------------------------------------- dates

# Dates are one regular expression over the text rather than token patterns in the ruler: the
# Matcher evaluates set and regex predicates in Python on every token, which made the dates
# alone take a dozen times as long as tokenising; the expression finds the same dates in a
# fraction of it. Month and weekday names must be capitalised ("may" is a verb).
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_MONTH = (r"(?:" + "|".join(_MONTH_NAMES)
          + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_COUNT = (r"(?:\d{1,3}|(?i:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+few|few"
          r"|several|a\s+couple\s+of))")
_PERIOD = r"(?:week|month|year|weekend|spring|summer|autumn|fall|winter|decade)"
_END = r"(?![\w-])"
_DATE_ALTERNATIVES = "|".join((
    rf"{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?",                          # 3 May 2014, 3rd of May
    rf"{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?",                                    # May 3, 2014
    rf"{_MONTH}\s+{_YEAR}",                                                    # May 2014
    rf"{_YEAR}-(?:0[1-9]|1[0-2])-(?:3[01]|[12]\d|0[1-9])",                     # 2014-05-03
    _WEEKDAY,                                                                  # (on) Tuesday
    r"(?i:yesterday|today|tomorrow)",
    rf"(?i:(?:last|next|this|past|coming)\s+(?:{_PERIOD}))",                   # last week
    rf"(?i:last|next|this)\s+(?:{_WEEKDAY}|{'|'.join(_MONTH_NAMES)})",         # last Tuesday
    r"(?i:(?:earlier|later|early|late)\s+(?:this|last|next)\s+(?:week|month|year))",  # earlier this month
    rf"{_COUNT}\s+(?i:(?:days?|weeks?|months?|years?|decades?)\s+ago)",        # three days ago
    rf"(?i:early|late|mid)(?:\s+|-){_YEAR}",                                   # early 2015, mid-2015
))
# A bare year or month only after a preposition, which is left out of the span: "in 2015".
_DATE = re.compile(rf"(?<![\w-])(?:(?:(?i:in|since|until|till|by|during|from|before|after|of|through)\s+)?"
                   rf"(?P<date>{_DATE_ALTERNATIVES}){_END}"
                   rf"|(?i:in|since|until|till|by|during|from|before|after|of|through)\s+"
                   rf"(?P<bare>{_YEAR}|{'|'.join(_MONTH_NAMES)}){_END})")


def find_dates(text: str) -> list[tuple[int, int]]:
    """(start, end) of every date of ``text`` the date rules find."""
    return [m.span("date") if m.group("date") else m.span("bare") for m in _DATE.finditer(text)]


# ------------------------------------------------------------------------ patterns


def _span_labels(scheme: Scheme) -> dict[str, str]:
    """label -> the first span field that lists it."""
    labels: dict[str, str] = {}
    for f in scheme.span_fields:
        for label in f.values:
            labels.setdefault(label, f.name)
    return labels


def _pattern_problem(entry: Any, labels: dict[str, str]) -> str | None:
    """What is wrong with one pattern, or None."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    label = entry.get("label")
    if not isinstance(label, str) or not label:
        return 'no "label"'
    if label not in labels:
        known = ", ".join(labels) or "none"
        return f"label {label!r} is not a label of a span field of the scheme (labels: {known})"
    if "id" in entry and not isinstance(entry["id"], str):
        return '"id" must be a string'
    pattern = entry.get("pattern")
    if isinstance(pattern, str):
        return None if pattern.strip() else "the pattern is an empty string"
    if (not isinstance(pattern, list) or not pattern
            or not all(isinstance(token, dict) and token for token in pattern)):
        return "the pattern is neither a string nor a list of token dicts"
    errors = validate_token_pattern(pattern)
    return f"not a valid token pattern: {'; '.join(errors)}" if errors else None


def read_patterns(path: Path, scheme: Scheme) -> list[dict]:
    """The patterns of ``schemas/patterns.jsonl`` (JSON Lines; blank lines and lines starting
    with ``//`` are skipped). A missing file means no patterns; a bad line raises
    ``PreannotateError`` naming the file and line."""
    path = Path(path)
    name = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise PreannotateError(f"cannot read {name}: {exc}",
                               hint="patterns.jsonl must be a readable UTF-8 text file") from None
    labels = _span_labels(scheme)
    patterns = []
    # Lines of the file as an editor numbers them (str.splitlines would also split at
    # characters JSON strings may hold, such as U+2028).
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PreannotateError(f"{name}:{number}: not JSON ({exc.msg}, column {exc.colno})",
                                   hint="each line must be one JSON object, such as "
                                        '{"label": "WEAPON", "pattern": "AK-47"}') from None
        problem = _pattern_problem(entry, labels)
        if problem:
            raise PreannotateError(f"{name}:{number}: {problem}",
                                   hint="each line needs a \"label\" of the scheme's span fields and a "
                                        "\"pattern\": a phrase, or a list of spaCy token dicts")
        patterns.append(entry)
    return patterns


def gold_examples_from(records: Iterable[dict], scheme: Scheme) -> list[tuple[str, str]]:
    """(text, label) of every span of the span fields of ``records`` (gold records as
    ``splits.GoldSet.records`` holds them)."""
    names = [f.name for f in scheme.span_fields]
    examples = []
    for record in records:
        for name in names:
            for span in record.get(name) or ():
                text, label = span.get("text"), span.get("label")
                if isinstance(text, str) and isinstance(label, str):
                    examples.append((text, label))
    return examples


# --------------------------------------------------------------------------- rules


class Rules:
    """The rule-based source of suggestions for one scheme."""

    def __init__(self, scheme: Scheme, patterns: Iterable[dict] = (),
                 gold_examples: Iterable[tuple[str, str]] = (), dates: bool = True, counts: bool = True,
                 events: bool = True) -> None:
        self.scheme = scheme
        self._labels = _span_labels(scheme)
        self._patterns = [dict(p) for p in patterns]
        for i, entry in enumerate(self._patterns, 1):
            problem = _pattern_problem(entry, self._labels)
            if problem:
                raise PreannotateError(f"pattern {i} ({entry.get('id') or entry.get('pattern')!r}): {problem}",
                                       hint="give each pattern a label that a span field of the scheme lists")
        self._gold_examples = sorted((text, label) for text, label in gold_examples)
        self._dates = dates and "DATE" in self._labels
        self._number_fields = {f.name: f for f in scheme.number_fields if counts and f.name in COUNT_FIELDS}
        self._events = EventRules.for_scheme(scheme) if events else []

        self.nlp = spacy.blank("en")
        self._ruler = self.nlp.add_pipe("entity_ruler", config={"validate": True})
        # a gold string's tokens -> (its text, its label, the share of its occurrences with that label)
        self._gold = self._choose_gold_labels(self._gold_examples)
        ruler_patterns: list[dict[str, Any]] = [
            {"label": p["label"], "pattern": p["pattern"], "id": f"pattern:{p.get('id') or p['label']}"}
            for p in self._patterns]
        ruler_patterns += [{"label": label, "pattern": text, "id": _GOLD} for text, label, _ in self._gold.values()]
        self._ruler.add_patterns(ruler_patterns)

    def _choose_gold_labels(self, examples: list[tuple[str, str]]) -> dict[tuple[str, ...], tuple[str, str, float]]:
        """Per gold string (as its tokens: the ruler matches tokens): one of its texts, its
        most frequent label (ties: the scheme's order) and that label's share."""
        by_tokens: dict[tuple[str, ...], Counter[str]] = {}
        text_of: dict[tuple[str, ...], str] = {}
        order = {label: i for i, label in enumerate(self._labels)}
        kept = [(" ".join(t.split()), label) for t, label in examples
                if label in self._labels and len(t.strip()) > 1 and any(ch.isalnum() for ch in t)]
        for (text, label), doc in zip(kept, self.nlp.tokenizer.pipe(t for t, _ in kept)):
            key = tuple(token.text for token in doc if not token.is_space)
            by_tokens.setdefault(key, Counter())[label] += 1
            text_of.setdefault(key, text)
        chosen = {}
        for key, labels in by_tokens.items():
            label = max(labels, key=lambda name: (labels[name], -order[name]))
            chosen[key] = (text_of[key], label, labels[label] / sum(labels.values()))
        return chosen

    @classmethod
    def from_workspace(cls, ws: Workspace, scheme: Scheme, gold_records: Iterable[dict] | None = None, *,
                       dates: bool = True, counts: bool = True, events: bool = True) -> Rules:
        """Rules from ``schemas/patterns.jsonl`` and gold strings: of ``gold_records`` when given,
        otherwise of the resolved gold records the release split puts in train (none when there
        is no gold or no articles yet). Like the trained model, the rules never learn from an
        article a release calls validation or test, so ``toolkit evaluate`` on held-out gold
        stays honest."""
        patterns = read_patterns(ws.schemas_dir / PATTERNS_FILE, scheme)
        if gold_records is None:
            has_gold = (ws.annotations_dir / "gold.parquet").is_file() and articles_exist(ws)
            gold = load_gold(ws, scheme) if has_gold else None
            gold_records = [gold.records[a] for a in gold.ids("train")] if gold is not None else ()
        return cls(scheme, patterns, gold_examples_from(gold_records, scheme), dates=dates, counts=counts,
                   events=events)

    @property
    def version(self) -> str:
        """"rules-" + 10 hex digits naming the patterns, gold strings and code behind them."""
        state: dict[str, Any] = {"rules_version": RULES_VERSION, "patterns": self._patterns,
                                 "gold": self._gold_examples, "dates": self._dates,
                                 "counts": sorted(self._number_fields)}
        if self._events:
            state["events"] = {"version": EVENTS_VERSION, "fields": [r.field.name for r in self._events]}
        canonical = json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "rules-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]

    # ------------------------------------------------------------------ suggesting

    def suggest(self, text: str) -> Suggestion:
        """The rules' suggestion for one article text."""
        return next(self.suggest_many([text]))

    def suggest_many(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[Suggestion]:
        """One suggestion per text, in order (texts are tokenised in batches)."""
        if len(self._ruler) == 0:  # nothing to match on tokens: no need to tokenise
            for text in texts:
                spans = self._spans(text, None)
                yield Suggestion(spans, self._values(text), self._find_events(text, spans))
            return
        # The ruler is used for its matches, resolved per field in ``_spans``, not for the
        # entities it would set. The text travels with its doc: Doc.text rebuilds it.
        pairs = ((text, text) for text in texts)
        for doc, text in self.nlp.pipe(pairs, as_tuples=True, batch_size=batch_size, disable=["entity_ruler"]):
            spans = self._spans(text, doc)
            yield Suggestion(spans, self._values(text), self._find_events(text, spans))

    def _spans(self, text: str, doc: Doc | None) -> list[Span]:
        # (start, end, priority, label, score, source) of every match, overlaps resolved below
        candidates: list[tuple[int, int, int, str, float, str]] = []
        if doc is not None:
            strings, sep = self.nlp.vocab.strings, self._ruler.ent_id_sep
            for match_id, start, end in self._ruler.match(doc):
                label, rule = strings[match_id].split(sep, 1)
                begin, finish = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
                while begin < finish and text[begin].isspace():
                    begin += 1
                while finish > begin and text[finish - 1].isspace():
                    finish -= 1
                if begin == finish:
                    continue
                if rule == _GOLD:
                    share = self._gold[tuple(t.text for t in doc[start:end] if not t.is_space)][2]
                    candidates.append((begin, finish, _PRIORITY[_GOLD], label, GOLD_SCORE * share, f"rules:{rule}"))
                else:
                    candidates.append((begin, finish, _PRIORITY["pattern"], label, PATTERN_SCORE, f"rules:{rule}"))
        if self._dates:
            candidates += [(begin, finish, _PRIORITY["date"], "DATE", DATE_SCORE, "rules:date")
                           for begin, finish in find_dates(text)]
        # Longest first, then the earliest, then by kind of rule (pattern, gold string, date).
        candidates.sort(key=lambda c: (c[0] - c[1], c[0], c[2], c[3]))
        kept: dict[str, list[Span]] = {}
        for begin, finish, _, label, score, source in candidates:
            field = self._labels[label]
            held = kept.setdefault(field, [])
            if not any(begin < s.end and s.start < finish for s in held):
                held.append(Span(field, begin, finish, label, round(score, 4), source))
        return sorted((s for spans in kept.values() for s in spans), key=lambda s: (s.field, s.start, s.end))

    def _values(self, text: str) -> list[Value]:
        if not self._number_fields:
            return []
        values = []
        for value in count_values(text, set(self._number_fields)):
            f = self._number_fields[value.field]
            if (f.min is None or value.value >= f.min) and (f.max is None or value.value <= f.max):
                values.append(value)
        return values

    def _find_events(self, text: str, spans: list[Span]) -> list[Event]:
        return [event for rules in self._events for event in rules.find(text, spans)]
