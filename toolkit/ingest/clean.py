"""Turning decoded text into clean article text: repair, normalisation, boilerplate, dates.

Each rule is a small function so that it can be tested on its own named file. Decoding the
raw bytes is ``decode``'s (its names are re-exported here for the readers).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import ftfy
import ftfy.badness

from .boilerplate import keep_main_block
from .langid import classify_language
from .decode import CONTROL_CHARACTERS
# Decoding, re-exported: the readers and their tests take it from here.
from .decode import (LEGACY_ENCODINGS, UNDECODABLE_SHARE, UNSURE_SHARE, BinaryContentError,  # noqa: F401
                     Decoded, UndecodableError, decode_bytes, implausible_share, looks_binary)

# ftfy repairs mojibake; we switch off the fixes that change correctly encoded text
# (curly quotes, full-width letters and ligatures are what the publisher wrote).
_FTFY = ftfy.TextFixerConfig(
    uncurl_quotes=False,
    fix_character_width=False,
    fix_latin_ligatures=False,
    unescape_html=False,
    explain=False,
    normalization="NFC",
)

# What a step of ``fix_text`` with ``_FTFY`` acts on besides mojibake: ftfy's control
# characters (``remove_control_chars``, terminal escapes), C1 controls, line and paragraph
# separators and carriage returns (``fix_line_breaks``), surrogates (``fix_surrogates``).
_FTFY_TOUCHES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u206a-\u206f\ud800-\udfff\ufeff\ufff9-\ufffc]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# ftfy fixes each line on its own, and one of its mojibake patterns is anchored at the start.
_BAD_AT_LINE_START = re.compile(r"\n[ÃÂ] ")


def _may_hold_mojibake(text: str) -> bool:
    """Whether ftfy's mojibake pattern (``badness.is_bad``) matches any line of ``text``.

    Every match of that pattern is at most 7 characters long and holds a non-ASCII character
    among its first three (its character classes hold no ASCII), so it lies within 2
    characters before and 7 after a run of non-ASCII characters: only there is it looked for.
    Within a line, it has no anchor but one at the line's start (searched for separately;
    ``search(text, pos, endpos)`` never takes ``pos`` for the start), so its matches in a line
    are matches in the text.
    """
    if _BAD_AT_LINE_START.search(text):
        return True
    search = ftfy.badness.BADNESS_RE.search
    return any(search(text, max(0, run.start() - 2), run.end() + 7) for run in _NON_ASCII_RUN.finditer(text))


def fix_text(text: str) -> str:
    """``ftfy.fix_text(text, _FTFY)`` for NFC ``text``, without running ftfy when it cannot change it.

    ftfy fixes a text line by line (up to ``max_decode_length`` characters), running each of
    its steps on each line, most of an ingest's cleaning time. With this configuration a line
    comes back unchanged when it holds none of the characters its steps act on
    (``_FTFY_TOUCHES``), its encoding repair finds no mojibake (``_may_hold_mojibake``), and
    it is NFC (a line of NFC text is: a newline neither composes nor reorders with its
    neighbours). tests/test_ingest_fastpaths.py compares both on random and crafted text.
    """
    if len(text) <= _FTFY.max_decode_length and not _FTFY_TOUCHES.search(text) \
            and not _may_hold_mojibake(text):
        return text
    return ftfy.fix_text(text, _FTFY)


_NUL = "\x00"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates (from JSON ``\\ud800`` escapes or undecodable file names)
    replaced by U+FFFD, and how many there were: they cannot be written as UTF-8."""
    return _SURROGATE.subn("\ufffd", text)


def normalise_text(text: str) -> tuple[str, list[str]]:
    """Repair mojibake, NFC-normalise, unify line ends, drop control characters.

    Newlines and tabs are kept; lone surrogates become U+FFFD. Returns the text and warnings
    about what was changed.
    """
    warnings: list[str] = []
    if not text.isascii():  # surrogates are not ASCII
        text, surrogates = replace_lone_surrogates(text)
        if surrogates:
            warnings.append(f"replaced {surrogates} invalid character(s) (lone surrogates) with U+FFFD")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if CONTROL_CHARACTERS.search(text):
        warnings.append("removed control characters" + (" (NUL)" if _NUL in text else ""))
        text = CONTROL_CHARACTERS.sub("", text)
    # Control characters go first, so that ftfy's changes are only its encoding repairs.
    text = unicodedata.normalize("NFC", text)
    fixed = fix_text(text)
    if fixed == text:  # already NFC and free of control characters
        return text, warnings
    warnings.append("repaired broken encoding (mojibake) with ftfy")
    return unicodedata.normalize("NFC", CONTROL_CHARACTERS.sub("", fixed)), warnings


# Lines a news site adds around the article. Only whole, short lines are removed, so a
# body sentence that mentions "subscribe" is never touched.
BOILERPLATE_PATTERNS: tuple[str, ...] = (
    r"must[- ]reads?",
    r"latest( articles?| news| stories)?",
    r"(read|see) (more|also|next)\b.*",
    r"related( articles?| stories| news| content| topics)?:?",
    r"more (on|from) (this|that) (story|topic)",
    r"most (read|popular|viewed)",
    r"(trending|recommended|top stories|editor'?s picks?)( now| for you| on [\w .]{1,30})?",
    r"loading( weather data| comments| video)?\s*(\.{3}|…)?",
    r"\(?(photo |image |picture )?credit:? [^()]{1,80}\)?",
    r"(get|sign up for|subscribe to) .{0,60}(newsletter|daily edition|by e-?mail)\b.*",
    r"(share|tweet|email|print|save)( this( article| story| page)?)?( on (facebook|twitter|x|whatsapp|linkedin|email))?",
    r"(share|follow us) on (facebook|twitter|x|whatsapp|linkedin|telegram|instagram)",
    r"(facebook|twitter|whatsapp|linkedin|telegram|email|copy link)( ?[|•·] ?(facebook|twitter|whatsapp|linkedin|telegram|email|copy link))*",
    r"(subscribe|sign up|register)( now| today| for free| here)?( to (our|the) (daily )?newsletters?.*)?",
    r"(get|receive) (our|the) .{0,30}newsletter.*",
    r"advertisement|advertising|sponsored( content)?|ad",
    r"(skip|jump) to (main )?content",
    r"listen to (this )?article.*",
    r"click here( to .*)?",
    r"comments?( \(\d+\))?",
    r"(show|hide|view) comments",
    r"(cookie|privacy) (policy|settings)",
    r"all rights reserved\.?",
)
_MAX_BOILERPLATE_LINE = 120


@lru_cache(maxsize=32)
def _boilerplate_regex(extra: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS + extra)
    return re.compile(rf"^\W*(?:{alternatives})\W*$", re.IGNORECASE)


def is_boilerplate(line: str, extra: tuple[str, ...] = ()) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > _MAX_BOILERPLATE_LINE:
        return False
    return bool(_boilerplate_regex(extra).match(stripped))


_BLANK_LINE = re.compile(r"\n\s*\n")
_SPACES = re.compile(r" {2,}")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; runs of spaces collapse to one.

    Tabs and no-break spaces inside a line are kept: they can be meaningful ("10\u00a0km").
    """
    paragraphs = []
    for block in _BLANK_LINE.split(text):
        lines = [(_SPACES.sub(" ", line) if "  " in line else line).strip() for line in block.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return paragraphs


def join_paragraphs(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def strip_boilerplate(paragraphs: list[str], extra: tuple[str, ...] = ()) -> tuple[list[str], int]:
    """Drop boilerplate lines from each paragraph; returns the paragraphs and lines removed."""
    return _strip_listed(paragraphs, lambda line: is_boilerplate(line, extra))


def _strip_listed(paragraphs: list[str], is_listed: Callable[[str], bool]) -> tuple[list[str], int]:
    kept, removed = [], 0
    for paragraph in paragraphs:
        lines = []
        for line in paragraph.split("\n"):
            if is_listed(line):
                removed += 1
            else:
                lines.append(line)
        if lines:
            kept.append("\n".join(lines))
    return kept, removed


# Dates -----------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_FORMATS = (
    "%A, %B %d, %Y", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%A %d %B %Y", "%A, %d %B %Y",
    "%d %b %Y", "%Y/%m/%d", "%d.%m.%Y",
)
_MAX_DATE_LINE = 60


# The languages dateparser is asked in. Asked in every language it has (about 200 locales),
# a line costs it 15-40 ms, and the first line that no English date reads costs a process 2.4 s
# more (regular expressions of every locale compiled): on scraped pages, whose short lines with
# a digit ("Updated 12:30", "5 comments", captions) are all asked whether they are a date,
# that was most of the per-page time. A page's own lines are asked in the page's language and
# English (under a millisecond a line); a metadata value (HTML, JSONL), whose language is not
# known, in every language as before.
DateLanguages = Callable[[], "tuple[str, ...] | None"]


def text_date_languages(text: str) -> DateLanguages:
    """The languages to read ``text``'s date lines in, found when first asked (most texts never
    ask): its language by ``langid`` on its first 5,000 characters, and English, which sites in
    every language use for their templates ("Updated 2 hours ago"). None, meaning every
    language, when dateparser does not know the text's language."""
    found: list[tuple[str, ...] | None] = []

    def languages() -> tuple[str, ...] | None:
        if not found:
            found.append(_date_languages(classify_language(text[:5000])))
        return found[0]
    return languages


@lru_cache(maxsize=None)
def _date_languages(language: str) -> tuple[str, ...] | None:
    from dateparser.data.languages_info import language_order  # the codes dateparser knows

    if language not in language_order:
        return None
    return ("en",) if language == "en" else (language, "en")


_ASK_DATEPARSER = object()


@lru_cache(maxsize=4096)
def _known_format_date(value: str):
    """A date in ISO 8601 or a common English format, None for no date, ``_ASK_DATEPARSER``
    when only dateparser can tell."""
    if not value or len(value) > _MAX_DATE_LINE or not any(c.isdigit() for c in value):
        return None
    match = _ISO_DATE.match(value)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return _ASK_DATEPARSER


def parse_date(value: str, languages: DateLanguages | None = None) -> dt.date | None:
    """Parse a publication date written as a line or a metadata value; None if it is none.

    Fast paths for ISO 8601 and common English formats; dateparser (strict: day, month and
    year all required) for the rest, including other languages (``languages``: those of the
    text the line comes from; every language dateparser has when not given). Only short
    strings with a digit are tried, so a headline is never mistaken for a date. Only absolute
    dates count: "3 days ago" or a number ("1e400", a Unix time) would be read against the day
    of the run.
    """
    value = value.strip().strip(".")
    known = _known_format_date(value)
    if known is not _ASK_DATEPARSER:
        return known
    return _dateparser_date(value, languages() if languages else None)


# dateparser's answers are cached per process: the same lines come back again and again (a
# date line is asked about by the main block, then by the headline handling; a site's "Updated
# 12:30" by every page). They depend on the line alone, except where dateparser reads the
# clock: a relative date reaching outside years 1-9999 ("2026 years ago") is none, and a
# two-digit year is placed in the past, both as of the day of the call; a cached answer is
# that of the first call in the process (an ingest's worker).
@lru_cache(maxsize=4096)
def _dateparser_date(value: str, languages: tuple[str, ...] | None) -> dt.date | None:
    import dateparser  # slow to import; needed only for unusual formats

    parsed = dateparser.parse(
        value, languages=list(languages) if languages else None,
        settings={"STRICT_PARSING": True, "REQUIRE_PARTS": ["day", "month", "year"],
                  "PARSERS": ["custom-formats", "absolute-time"],
                  "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False},
    )
    return parsed.date() if parsed else None


_UNIT_WORD = re.compile(r"[^\W\d_]{2,}")


def is_relative_date(value: str, languages: DateLanguages | None = None) -> bool:
    """True for a date given relative to an unknown day: "3 days ago", "il y a 2 heures"
    (``languages`` as for ``parse_date``)."""
    value = value.strip()
    if len(value) > _MAX_DATE_LINE or not any(c.isdigit() for c in value) or not _UNIT_WORD.search(value):
        return False  # "1e400" is no relative date, though dateparser reads one in it
    return _dateparser_relative(value, languages() if languages else None)


@lru_cache(maxsize=4096)
def _dateparser_relative(value: str, languages: tuple[str, ...] | None) -> bool:
    import dateparser

    return dateparser.parse(value, languages=list(languages) if languages else None,
                            settings={"PARSERS": ["relative-time"]}) is not None


def unparsed_date_warning(value: str, languages: DateLanguages | None = None) -> str:
    """What to tell about a date that was given and not used."""
    shown = value.strip()[:40]
    if is_relative_date(value, languages):
        return f"relative date {shown!r} not used: there is no date of the article's own to count from"
    return f"unparseable date {shown!r}"


# Plain text articles -----------------------------------------------------------------------

@dataclass
class ParsedText:
    title: str | None
    published: dt.date | None
    body: str
    boilerplate_removed: int
    warnings: list[str] = field(default_factory=list)


_MAX_TITLE = 300


def parse_plain_article(text: str, extra_boilerplate: tuple[str, ...] = (), *, generic: bool = True) -> ParsedText:
    """Split a scraped plain-text article into date line, headline and body.

    The layout scrapers produce: an optional date line, the headline, then paragraphs, with
    site boilerplate lines anywhere. The date may also come after the headline. When the text
    is a whole page (menus, related links, footers around the article), ``generic`` keeps only
    the article's main block and the headline and date just before it (``boilerplate``).
    """
    paragraphs, removed = split_paragraphs(text), 0
    languages = text_date_languages(text)
    listed: dict[str, bool] = {}  # each line is asked twice: by the main block, then by the line list

    def is_listed(line: str) -> bool:
        found = listed.get(line)
        if found is None:
            found = listed[line] = is_boilerplate(line, extra_boilerplate)
        return found

    if generic:  # before the line list: its lines ("Comments", "Related") tell where the article ends
        paragraphs, removed = keep_main_block(paragraphs, is_listed=is_listed,
                                              is_date=lambda line: _is_date_line(line, languages))
    paragraphs, listed_lines = _strip_listed(paragraphs, is_listed)
    removed += listed_lines
    published = None
    title = None
    warnings: list[str] = []
    # Look for a date line and the headline among the first few short paragraphs.
    head: list[int] = []
    for index, paragraph in enumerate(paragraphs[:3]):
        if "\n" in paragraph:
            break
        if published is None:
            date = parse_date(paragraph, languages)
            if date is not None:
                published = date
                head.append(index)
                continue
            if is_relative_date(paragraph, languages):  # a date line, but of no day we know
                warnings.append(unparsed_date_warning(paragraph, languages))
                head.append(index)
                continue
        if title is None and len(paragraph) <= _MAX_TITLE and not paragraph.endswith((".", ":")) \
                and index + 1 < len(paragraphs):
            title = paragraph
            head.append(index)
            continue
        break
    body = [p for i, p in enumerate(paragraphs) if i not in head]
    return ParsedText(title=title, published=published, body=join_paragraphs(body), boilerplate_removed=removed,
                      warnings=warnings)


_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")


def _is_date_line(line: str, languages: DateLanguages | None = None) -> bool:
    """A date line of a page, absolute or relative (an absolute one has a year: without one
    it is no date we can use, and asking dateparser costs time)."""
    return parse_date(line, languages) is not None if _YEAR.search(line) else is_relative_date(line, languages)


def clean_body(text: str, extra_boilerplate: tuple[str, ...] = (), title: str | None = None) -> tuple[str, int]:
    """Clean an article body that came without layout (HTML extraction, JSONL).

    A first paragraph repeating the headline is dropped: the headline is shown above the
    text already, and annotators should not label it twice.
    """
    paragraphs, removed = strip_boilerplate(split_paragraphs(text), extra_boilerplate)
    if title and paragraphs and _same_words(paragraphs[0], title):
        paragraphs = paragraphs[1:]
    return join_paragraphs(paragraphs), removed


_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " » ")


def strip_site_name(title: str, site: str | None) -> str:
    """'Headline | The Paper' -> 'Headline' when the part after the last separator is the site.

    Pages put their site name in <title>; the headline is what annotators need. Only a
    trailing part equal to the known site name (ignoring case and a leading "The") is cut.
    """
    if not site:
        return title
    wanted = site.casefold().removeprefix("the ").strip()
    for separator in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and head.strip() and tail.casefold().removeprefix("the ").strip() == wanted:
            return head.strip()
    return title


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# Scripts written without spaces between words: each character counts as a word, which is
# how word counts for Chinese and Japanese are usually reported.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


@lru_cache(maxsize=4)  # a body is counted by the reader, then for its row: once is enough
def count_words(text: str) -> int:
    return len(_WORD.findall(text))
