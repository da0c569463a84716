"""Decoding raw bytes into text: which encoding a news page was written in.

A BOM, UTF-16 without one, and UTF-8 are certain. Other bytes are read in every legacy
encoding of news (``LEGACY_ENCODINGS``, plus charset_normalizer's guess when none reads
cleanly), and each reading is scored by how plausible its non-ASCII characters are for its
language (``implausible_share``): "Attaque ŕ Besançon" is not French, "Attaque à Besançon"
is. The best reading wins, the preferred order breaks ties, and a warning says so when the
choice is unsure. tests/test_hostile_ingest.py measures it on a corpus of news in 15
languages and 16 encodings (and 5 other scripts left to detection).
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata
from dataclasses import dataclass, field

# Characters no article holds (C0 and C1 controls but tab and newlines, BOMs, noncharacters).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)

# The single-byte encodings news sites publish in besides UTF-8, in the order preferred when
# two of them read equally well: Western first, then Central European, Cyrillic, Greek,
# Turkish and Baltic. ISO-8859-1 is not listed: cp1252 reads the same bytes the same way, plus
# the curly quotes, dashes and euro sign that "Latin-1" pages hold in 0x80-0x9F.
LEGACY_ENCODINGS = ("cp1252", "iso-8859-15", "cp1250", "iso-8859-2", "cp1251", "koi8-r", "koi8-u",
                    "cp1253", "iso-8859-7", "cp1254", "cp1257", "cp1255", "iso-8859-8", "cp1256")

# Labels a page declares that mean another encoding (the WHATWG Encoding standard browsers follow).
_WEB_LABELS = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254"}

# A decoding whose share of implausible characters is above UNSURE_SHARE is reported as unsure;
# when no encoding does better than UNDECODABLE_SHARE the bytes are not text in any of them
# (measured: under 1 % for correct readings of news, 40-70 % for random bytes).
UNSURE_SHARE = 0.02
UNDECODABLE_SHARE = 0.25


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we could identify."""


class BinaryContentError(ValueError):
    """The bytes look like a binary file, not text."""


@dataclass
class Decoded:
    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


# Every byte but the controls below 32 that text never holds (tab, newlines, form feed and
# escape do occur in text).
_NOT_BINARY = bytes([9, 10, 12, 13, 27, *range(32, 256)])


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB hold many bytes that never occur in text.

    A stray NUL in a text file is not enough (it is removed later, with a warning); a file
    that is more than 10 % control bytes is an image, archive or other binary.
    """
    sample = data[:8192]
    if not sample:
        return False
    bad = len(sample.translate(None, _NOT_BINARY))  # the control bytes text never holds
    return bad / len(sample) > 0.10


def decode_bytes(data: bytes, *, declared: str | None = None) -> Decoded:
    """Decode article bytes: BOM, UTF-16 without BOM, UTF-8, then the legacy encoding that reads best.

    ``declared`` is a charset named by the document itself (default: an HTML ``<meta charset>``
    found in the bytes); it is used when it reads as plausibly as any other. Otherwise every
    legacy encoding of news (and the guess of ``charset_normalizer``) is tried and the reading
    with the fewest implausible characters for its language wins (``implausible_share``). A
    warning says which encoding was used, and that the choice is unsure when another encoding
    reads as well or the text still holds implausible characters.
    Raises ``BinaryContentError`` or ``UndecodableError``.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                break
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    if looks_binary(data):
        raise BinaryContentError("binary content (control bytes), not text")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    if declared is None:
        match = _META_CHARSET.search(data[:4096])
        declared = match.group(1).decode("ascii", "replace") if match else None
    return _decode_legacy(data, _web_encoding(declared))


@dataclass(frozen=True)
class _Reading:
    encoding: str
    text: str
    share: float  # of non-ASCII characters that are implausible


def _decode_legacy(data: bytes, declared: str | None) -> Decoded:
    readings = _readings(data, ([declared] if declared else []) + list(LEGACY_ENCODINGS))
    if not readings or readings[0].share > 0:
        readings = sorted(readings + _readings(data, _detected_encodings(data)),
                          key=lambda r: r.share)  # stable: the preference order breaks ties
    if not readings or readings[0].share > UNDECODABLE_SHARE:
        raise UndecodableError("not UTF-8 and no charset could be detected")
    best = readings[0]
    if best.encoding == declared:
        warnings = [f"not UTF-8; decoded as declared charset {declared}"]
    elif declared:
        warnings = [f"not UTF-8; decoded as {best.encoding}: the declared charset {declared} does not fit the text"]
    else:
        warnings = [f"not UTF-8; decoded as {best.encoding}"]
    rival = next((r for r in readings[1:] if r.text != best.text), None)
    if rival is not None and rival.share <= best.share:
        warnings.append(f"unsure of the encoding: {best.encoding} and {rival.encoding} read equally well "
                        "and give different text; check the accented letters")
    elif best.share > UNSURE_SHARE:
        warnings.append(f"unsure of the encoding: {best.share:.0%} of the non-ASCII characters look wrong "
                        f"in {best.encoding}; check the text or re-save it as UTF-8")
    return Decoded(best.text, best.encoding, warnings)


def _readings(data: bytes, encodings: list[str]) -> list[_Reading]:
    """Each encoding that decodes ``data``, with its share of implausible characters, best first.

    A byte a single-byte encoding leaves undefined (0x81 in cp1252) is read as the C1 control of
    the same number, as browsers do: it counts as implausible and is removed later, with a
    warning, instead of ruling the encoding out for one stray byte.
    """
    readings, seen = [], set()
    for encoding in encodings:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            continue
        if name in seen:
            continue
        seen.add(name)
        errors = _UNDEFINED_AS_C1 if name in _LEGACY_CODECS else "strict"
        try:
            text = data.decode(encoding, errors)
        except UnicodeDecodeError:
            continue
        readings.append(_Reading(encoding.lower(), text, implausible_share(text)))
    return sorted(readings, key=lambda r: r.share)


def _undefined_as_c1(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.end].decode("latin-1"), error.end


_UNDEFINED_AS_C1 = "toolkit-undefined-as-c1"
codecs.register_error(_UNDEFINED_AS_C1, _undefined_as_c1)
_LEGACY_CODECS = {codecs.lookup(encoding).name for encoding in LEGACY_ENCODINGS}


def _detected_encodings(data: bytes) -> list[str]:
    """charset_normalizer's guess: for the encodings of other scripts (CJK, Arabic, Hebrew...)."""
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    return [best.encoding] if best is not None and best.encoding else []


def _web_encoding(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith("utf"):
        return None  # declared UTF-8/16 and yet not decodable as such: the label is wrong
    return _WEB_LABELS.get(name, label.lower())


def _utf16_without_bom(data: bytes) -> Decoded | None:
    """UTF-16 text saved without a byte-order mark, told by where its NUL bytes fall.

    Each ASCII character (space, punctuation, digits, Latin letters) is a NUL byte and its code,
    so in UTF-16-LE text the NULs are at odd offsets, in UTF-16-BE at even ones; a binary file
    has them everywhere. The decoded text must then read as text.
    """
    if len(data) < 8 or len(data) % 2:
        return None
    sample = data[:8192]
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.05 * half and even <= 0.01 * half:
        encoding = "utf-16-le"
    elif even >= 0.05 * half and odd <= 0.01 * half:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if implausible_share(text) > 0.2 or CONTROL_CHARACTERS.search(text[:4096].replace("\x00", "")):
        return None
    return Decoded(text, encoding, [f"no byte-order mark; decoded as {encoding.upper()}"])


# Plausibility of decoded text ------------------------------------------------------------------

# The alphabets text is judged by: the accented Latin letters of each language written in
# Latin script (Western European ones also borrow each other's), and the script of the others.
_WESTERN = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœßªº"
_LATIN_LETTERS = {
    **dict.fromkeys("en fr de es pt it nl ca gl eu oc la af lb br wa da nn no sv ga sq id ms sw tl".split(), _WESTERN),
    "fi": _WESTERN + "šž", "et": _WESTERN + "šž", "is": _WESTERN + "ðþ", "fo": _WESTERN + "ð",
    "mt": _WESTERN + "ċġħż", "cy": _WESTERN + "ŵŷ",
    "pl": "ąćęłńóśźżäöüé", "cs": "áčďéěíňóřšťúůýžäöü", "sk": "áäčďéíĺľňóôŕšťúýžöü",
    "hu": "áéíóöőúüűä", "ro": "ăâîșțşţéáö", "hr": "čćđšžäöüéá", "bs": "čćđšžäöüéá", "sl": "čćđšžäöüéá",
    "sr": "čćđšž", "tr": "çğıİöşüâîûé", "az": "çğıİöşüəé", "lt": "ąčęėįšųūžäöüé", "lv": "āčēģīķļņšūžäöüé",
}
_SCRIPT_OF_LANGUAGE = {
    **dict.fromkeys(_LATIN_LETTERS, "LATIN"),
    **dict.fromkeys("ru uk be bg mk sr kk ky mn tg tt".split(), "CYRILLIC"),
    "el": "GREEK", "he": "HEBREW", "th": "THAI",
    **dict.fromkeys("ar arz ary fa ur ps".split(), "ARABIC"),
    **dict.fromkeys("hi mr ne".split(), "DEVANAGARI"),
    **dict.fromkeys("zh yue wuu ja ko".split(), "CJK"),
}
# Written without spaces between words, so punctuation stands against letters.
_UNSPACED_LANGUAGES = {"zh", "yue", "wuu", "ja", "th"}
# Languages none of whose words of two letters or more lacks a vowel (abbreviations aside).
_VOWELS = {**dict.fromkeys(("ru", "be"), "аеёиоуыэюя"), "uk": "аеєиіїоуюя", "bg": "аеиоуъюя",
           "el": "αεηιουωάέήίόύώϊϋΐΰ"}
# Symbols and numbers news text uses; others (¤ ¦ ¨ ¯ ´ ¸ ¹ box drawing...) are what a wrong
# single-byte decoding makes of letters.
_COMMON_SYMBOLS = set("€£¥¢₽₴₺₹₩°©®™±×÷№‰′″²³¼½¾µ")
_IN_WORD_PUNCTUATION = set("’'·‐‑-.")
# Other punctuation (Po) written against a word; the rest (¶ † ‡ •) stands apart from words.
_ATTACHED_PUNCTUATION = set("…·¿¡§")
_SCRIPT_OVERRIDES = {"ª": "LATIN", "º": "LATIN", "µ": "COMMON"}
# Japanese mixes these in one word; Korean and Chinese texts borrow from them.
_EAST_ASIAN = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "HALFWIDTH", "FULLWIDTH",
               "IDEOGRAPHIC"}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_SAMPLE_CHARS = 20_000


def implausible_share(text: str) -> float:
    """Share of the non-ASCII characters of ``text`` that a writer of its language would not write.

    The language is the likeliest for py3langid among those whose alphabet we know, so that a
    wrong reading cannot pass for a language we could not judge it by. What a wrong
    single-byte decoding produces: control and unassigned characters, letters outside the
    language's alphabet (or of another script), rare symbols, punctuation inside a word,
    words of three or more Latin letters without an ASCII one, vowel-less Cyrillic or Greek
    words, a lowercase letter followed by a capital inside a word, and a body in capitals.
    0.0 for text with no non-ASCII character.
    """
    sample = text[:_SAMPLE_CHARS]
    positions = [m.start() for m in _NON_ASCII.finditer(sample)]
    if not positions:
        return 0.0
    language = _language_of(sample)
    words = [m.group() for m in _LETTER_RUN.finditer(sample) if not m.group().isascii()]
    bad = sum(_implausible_char(sample, i, language) for i in positions)
    bad += sum(_implausible_word(word, language) for word in words)
    capitals = [word for word in words if len(word) > 1 and word.isupper()]
    if len(capitals) > max(10, len(words) / 2):
        bad += sum(map(len, capitals))  # a body in capitals: KOI8-R read as cp1251, Hebrew as KOI8-R
    return min(1.0, bad / len(positions))


def _language_of(text: str) -> str:
    import py3langid

    ranked = py3langid.rank(text[:5000])
    return next((language for language, _ in ranked if language in _SCRIPT_OF_LANGUAGE), "en")


def _script(char: str) -> str:
    """The script of a letter, near enough: the first word of its Unicode name, East Asian ones as one."""
    if char in _SCRIPT_OVERRIDES:
        return _SCRIPT_OVERRIDES[char]
    script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return "CJK" if script in _EAST_ASIAN else script


def _implausible_char(text: str, i: int, language: str) -> bool:
    char = text[i]
    category = unicodedata.category(char)
    if category in ("Cc", "Cn", "Co", "Cs") or char == "\ufffd":
        return True
    if category[0] == "L":
        return not _in_alphabet(char, language)
    if category[0] == "M":  # a mark goes on a letter, of its own script unless it is a generic one
        return i == 0 or not text[i - 1].isalpha() or _script(char) not in ("COMBINING", _script(text[i - 1]))
    if category[0] in "SN" and category != "Nd" and char not in _COMMON_SYMBOLS:
        return True
    if language in _UNSPACED_LANGUAGES:
        return False
    before = i > 0 and text[i - 1].isalpha()
    after = i < len(text) - 1 and text[i + 1].isalpha()
    if before and after:
        return char not in _IN_WORD_PUNCTUATION
    if char == "\u2019" and after:
        return True  # an apostrophe follows a letter and a closing quote a word: "’μεσα" is cp1253's "Άμεσα"
    return category == "Po" and (before or after) and char not in _ATTACHED_PUNCTUATION


def _in_alphabet(letter: str, language: str) -> bool:
    script = _script(letter)
    if script == "LATIN":
        latin = _LATIN_LETTERS.get(language, "")
        return letter in latin or letter.lower() in latin
    return script == "COMMON" or script == _SCRIPT_OF_LANGUAGE[language] \
        or (language == "sr" and script == "CYRILLIC")


def _implausible_word(word: str, language: str) -> int:
    """Implausible characters of a word that its letters alone do not show."""
    scripts = {_script(c) for c in word} - {"COMMON"}
    if len(scripts) > 1:
        return sum(not c.isascii() for c in word)
    if scripts == {"LATIN"} and len(word) >= 3 and not any(c.isascii() for c in word):
        return len(word)  # no language writes "ùìåùä"; it is Hebrew or Cyrillic read as Latin
    vowels = _VOWELS.get(language)
    if vowels and len(word) > 1 and not word.isupper() and not any(c in vowels for c in word.lower()):
        return len(word)  # "дмймд": Hebrew read as cp1251; only capitalised abbreviations lack vowels
    # "пРЕЗИДЕНТ": cp1251 text read as KOI8-R (and back) swaps the case of every letter.
    return sum(1 for a, b in itertools.pairwise(word) if a.islower() and b.isupper() and not (a + b).isascii())
