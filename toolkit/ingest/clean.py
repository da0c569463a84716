"""Turning raw bytes into clean article text: decoding, repair, normalisation, boilerplate.

Each rule is a small function so that it can be tested on its own named file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import ftfy

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

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we could identify."""


class BinaryContentError(ValueError):
    """The bytes look like a binary file, not text."""


@dataclass
class Decoded:
    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB hold many bytes that never occur in text.

    A stray NUL in a text file is not enough (it is removed later, with a warning); a file
    that is more than 10 % control bytes is an image, archive or other binary.
    """
    sample = data[:8192]
    if not sample:
        return False
    text_controls = {9, 10, 12, 13, 27}
    bad = sum(1 for b in sample if b < 32 and b not in text_controls)
    return bad / len(sample) > 0.10


def decode_bytes(data: bytes, *, declared: str | None = None) -> Decoded:
    """Decode article bytes: BOM, then UTF-8, then the declared charset, then detection.

    ``declared`` is a charset named by the document itself (an HTML ``<meta charset>``).
    Raises ``BinaryContentError`` or ``UndecodableError``.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                break
    if looks_binary(data):
        raise BinaryContentError("binary content (control bytes), not text")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    if declared is None:
        match = _META_CHARSET.search(data[:4096])
        declared = match.group(1).decode("ascii", "replace") if match else None
    if declared:
        try:
            codecs.lookup(declared)
            return Decoded(data.decode(declared), declared.lower(),
                           [f"not UTF-8; decoded as declared charset {declared.lower()}"])
        except (LookupError, UnicodeDecodeError):
            pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.encoding is None:
        raise UndecodableError("not UTF-8 and no charset could be detected")
    return Decoded(str(best), best.encoding, [f"not UTF-8; detected charset {best.encoding}"])


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_NUL = "\x00"


def normalise_text(text: str) -> tuple[str, list[str]]:
    """Repair mojibake, NFC-normalise, unify line ends, drop control characters.

    Newlines and tabs are kept. Returns the text and warnings about what was changed.
    """
    warnings: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        warnings.append("removed control characters" + (" (NUL)" if _NUL in text else ""))
    # Control characters go first, so that ftfy's changes are only its encoding repairs.
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    fixed = ftfy.fix_text(text, _FTFY)
    if fixed != text:
        warnings.append("repaired broken encoding (mojibake) with ftfy")
    return unicodedata.normalize("NFC", _CONTROL.sub("", fixed)), warnings


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


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; runs of spaces collapse to one.

    Tabs and no-break spaces inside a line are kept: they can be meaningful ("10\u00a0km").
    """
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [re.sub(r" {2,}", " ", line).strip() for line in block.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return paragraphs


def join_paragraphs(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def strip_boilerplate(paragraphs: list[str], extra: tuple[str, ...] = ()) -> tuple[list[str], int]:
    """Drop boilerplate lines from each paragraph; returns the paragraphs and lines removed."""
    kept, removed = [], 0
    for paragraph in paragraphs:
        lines = []
        for line in paragraph.split("\n"):
            if is_boilerplate(line, extra):
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


def parse_date(value: str) -> dt.date | None:
    """Parse a publication date written as a line or a metadata value; None if it is none.

    Fast paths for ISO 8601 and common English formats; dateparser (strict: day, month and
    year all required) for the rest, including other languages. Only short strings with a
    digit are tried, so a headline is never mistaken for a date.
    """
    value = value.strip().strip(".")
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
    import dateparser  # slow to import; needed only for unusual formats

    parsed = dateparser.parse(
        value,
        settings={"STRICT_PARSING": True, "REQUIRE_PARTS": ["day", "month", "year"],
                  "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False},
    )
    return parsed.date() if parsed else None


# Plain text articles -----------------------------------------------------------------------

@dataclass
class ParsedText:
    title: str | None
    published: dt.date | None
    body: str
    boilerplate_removed: int


_MAX_TITLE = 300


def parse_plain_article(text: str, extra_boilerplate: tuple[str, ...] = ()) -> ParsedText:
    """Split a scraped plain-text article into date line, headline and body.

    The layout scrapers produce: an optional date line, the headline, then paragraphs, with
    site boilerplate lines anywhere. The date may also come after the headline.
    """
    paragraphs, removed = strip_boilerplate(split_paragraphs(text), extra_boilerplate)
    published = None
    title = None
    # Look for a date line and the headline among the first few short paragraphs.
    head: list[int] = []
    for index, paragraph in enumerate(paragraphs[:3]):
        if "\n" in paragraph:
            break
        if published is None:
            date = parse_date(paragraph)
            if date is not None:
                published = date
                head.append(index)
                continue
        if title is None and len(paragraph) <= _MAX_TITLE and not paragraph.endswith((".", ":")) \
                and index + 1 < len(paragraphs):
            title = paragraph
            head.append(index)
            continue
        break
    body = [p for i, p in enumerate(paragraphs) if i not in head]
    return ParsedText(title=title, published=published, body=join_paragraphs(body), boilerplate_removed=removed)


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


def count_words(text: str) -> int:
    return len(_WORD.findall(text))
