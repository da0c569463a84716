"""The ingest's fast paths give exactly what the slow code they skip or replace gives.

Each fast path (ftfy skipped when it cannot change a text, py3langid's automaton walked with
numpy, the binary-content check with ``bytes.translate``, the menu check) is compared with
the library call or the former code on crafted text and on random text from hypothesis.
"""

from __future__ import annotations

import unicodedata

import ftfy
import py3langid
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toolkit.ingest import boilerplate, clean, decode, pool

# Characters that make ftfy act: mojibake of UTF-8 read as cp1252/latin-1/cp1251/cp1253/
# MacRoman, C1 and other controls, separators, the characters its badness pattern names.
_MOJIBAKE = "ÃÂâ€œ™šžŸ¢£©®°±²³´µ·»¼½¾¿×÷ÎÐØÙàáéèêëíóöúüçñœŒ√∂≠≤≥≈‚ÄВГРСЂўЋћΒΓΞΟβΆāĀ─│┌┐╔═"
_CONTROLS = "\x00\x01\x1b\x7f\x80\x85\x8d\x9d\x9f\u2028\u2029\u206a\ufeff\ufff9\ufffc\r\t\x0b\x0c"
_PLAIN = "abcdeABCDE 0129.,;:!?'\"-()[]“”‘’–—…\n"
ALPHABET = st.sampled_from(_MOJIBAKE + _CONTROLS + _PLAIN) | st.characters()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ftfy ----------------------------------------------------------------------------------------

CRAFTED = [
    "", "plain ASCII text\nwith lines\n", "“Curly” quotes – and dashes — fine…\n\nNext paragraph.",
    "cafÃ© and Ã  la carte", "â€œquotedâ€\x9d", "first line\nÃ fin", "Ã lead", "line\nÂ x",
    "naÃ¯ve", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "Ã\xa0 bientôt", "ГўВЂВ™s", "Ã©tÃ©\n" * 3, "x\u2028y", "a\x1b[31mred",
    "soft\u00adhyphen", "Straße in Zürich, 20 °C", "Москва, 12 марта", "Αθήνα", "東京都 渋谷区",
    "\ufeffBOM", "I\u2019m here", "Â£100 and Â©2024", "β€™", "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©", "√≠ MacRoman",
]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(ALPHABET, max_size=120))
def test_fix_text_equals_ftfy(text: str) -> None:
    text = nfc(text)
    assert clean.fix_text(text) == ftfy.fix_text(text, clean._FTFY)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(CRAFTED), max_size=6), st.text(ALPHABET, max_size=20))
def test_fix_text_equals_ftfy_on_crafted_lines(lines: list[str], noise: str) -> None:
    text = nfc("\n".join(lines) + noise)
    assert clean.fix_text(text) == ftfy.fix_text(text, clean._FTFY)


def test_fix_text_crafted_cases() -> None:
    for text in map(nfc, CRAFTED):
        assert clean.fix_text(text) == ftfy.fix_text(text, clean._FTFY), text
    assert clean.fix_text("cafÃ© au lait") == "café au lait"  # the slow path still repairs
    assert clean.fix_text("x\nÃ y") == ftfy.fix_text("x\nÃ y", clean._FTFY)  # anchored at a line start


def test_normalise_text_keeps_its_results() -> None:
    text, warnings = clean.normalise_text("Caf\u0065\u0301 \x00 ok\r\nl’été\u2028")
    assert text == "Café  ok\nl’été\n" and warnings == ["removed control characters (NUL)",
                                                       "repaired broken encoding (mojibake) with ftfy"]
    assert clean.normalise_text("“Plain” text.\n\nTwo") == ("“Plain” text.\n\nTwo", [])


# Language id ---------------------------------------------------------------------------------

SAMPLES = [
    "The police said on Monday that the fire started in the prison kitchen early in the morning.",
    "La police a déclaré lundi que l'incendie avait commencé tôt le matin dans la cuisine.",
    "Die Polizei teilte am Montag mit, das Feuer sei am frühen Morgen in der Küche ausgebrochen.",
    "La policía dijo el lunes que el incendio comenzó temprano en la cocina de la prisión.",
    "Полиция заявила в понедельник, что пожар начался рано утром на кухне тюрьмы.",
    "Η αστυνομία δήλωσε τη Δευτέρα ότι η φωτιά ξεκίνησε νωρίς το πρωί.",
    "警方周一表示，火灾是清晨在监狱厨房开始的。",
    "الشرطة قالت يوم الاثنين إن الحريق بدأ في الصباح الباكر",
    "THE POLICE SAID ON MONDAY", "12 34 56", "", "a", "Ok ok ok", "x" * 7000,
    "Policja poinformowała w poniedziałek, że pożar wybuchł wcześnie rano w kuchni więzienia.",
]


def test_classify_language_equals_py3langid() -> None:
    for text in SAMPLES:
        assert pool.classify_language(text) == py3langid.classify(text)[0], text[:40]
    assert pool.classify_language(SAMPLES[1]) == "fr" and pool.classify_language(SAMPLES[4]) == "ru"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(_PLAIN + "éàüßжщαλ中文"),
               max_size=300))
@example("ab")
@example("\u00e9" * 3)
def test_classify_language_equals_py3langid_on_random_text(text: str) -> None:
    assert pool.classify_language(text) == py3langid.classify(text)[0]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SAMPLES[:9]), min_size=1, max_size=5), st.integers(0, 80))
def test_classify_language_equals_py3langid_on_mixed_text(parts: list[str], cut: int) -> None:
    text = " ".join(parts)[cut:]
    assert pool.classify_language(text) == py3langid.classify(text)[0]


# Binary content, menus, paragraphs ------------------------------------------------------------

def looks_binary_before(data: bytes) -> bool:
    sample = data[:8192]
    if not sample:
        return False
    return sum(1 for b in sample if b < 32 and b not in {9, 10, 12, 13, 27}) / len(sample) > 0.10


@given(st.binary(max_size=200) | st.lists(st.sampled_from(b"\x00\x01\x09\x0a\x1b\x1fab "), max_size=200).map(bytes))
def test_looks_binary_equals_the_former_count(data: bytes) -> None:
    assert decode.looks_binary(data) == looks_binary_before(data)


def words_before(text: str) -> list[str]:
    return boilerplate._WORD.findall(text.casefold())


def is_cue_before(text: str) -> bool:
    """boilerplate._is_cue as it was: every pattern on every line, every line split on
    separators, words listed by the former ``_words``."""
    if boilerplate._COOKIE.search(text) and len(text) < 600:
        return True
    if len(text) <= boilerplate._MAX_CUE_LINE and (boilerplate._SECTION_BREAK.match(text)
                                                   or boilerplate._COMMENTS.match(text)):
        return True
    items = boilerplate._SEPARATOR.split(text)
    if len(items) >= 4 and max(len(words_before(item)) for item in items) <= 6:
        return True
    if len(text) > boilerplate._MAX_CUE_LINE:
        return False
    return bool(boilerplate._CUE_LINE.match(text) or boilerplate._COPYRIGHT.search(text)
                or boilerplate._MENU.search(text))


@given(st.text(st.sampled_from("ab cd|•·» \t\u00a0Share"), max_size=100))
@example("Home | World | Business | Sport")
@example("Home|World")
def test_menu_check_equals_the_former_split(text: str) -> None:
    assert boilerplate._is_cue(text, lambda _: False) == is_cue_before(text)


def split_paragraphs_before(text: str) -> list[str]:
    import re

    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [re.sub(r" {2,}", " ", line).strip() for line in block.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return paragraphs


@given(st.text(st.sampled_from("ab \n\t\u00a0  .")))
def test_split_paragraphs_equals_the_former_code(text: str) -> None:
    assert clean.split_paragraphs(text) == split_paragraphs_before(text)


# Prefilters of the line classifier, word lists, word hashes, dates -----------------------------

# Pieces of cookie notices, copyright lines and menus, with the characters IGNORECASE matches
# that lowercasing does not give: the Kelvin sign (k), dotted and dotless i, long s.
_CUE_PIECES = ["cookie", "Cookies", "COOKIE", "coo\u212aie", "cook\u0130e", "cook\u0131e", "we use", "accept",
               "settings", "©", "(c) 2024", "(C)2019", "Copyright 2020", "copyright © 2021",
               "all rights reserved", "ALL RIGHT\u017f RE\u017fERVED", " / ", "/", "|", "•", "·", "»", "Home",
               "News", "Share", "a", " ", ".", "x" * 70, "é", "\u00a0"]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_CUE_PIECES), max_size=12).map("".join))
@example("We use coo\u212aies.")
@example("© 2024 The Paper")
@example("Home / World / Sport")
@example("ALL RIGHT\u017f RE\u017fERVED")
def test_cue_check_equals_the_former_code(text: str) -> None:
    assert boilerplate._is_cue(text, lambda _: False) == is_cue_before(text)


def test_cue_prefilters_keep_their_cases() -> None:
    assert boilerplate._is_cue("We use cookies to improve your experience.", lambda _: False)
    assert boilerplate._is_cue("We use coo\u212aies.", lambda _: False)  # Kelvin sign: k under IGNORECASE
    assert boilerplate._is_cue("© 2024 The Paper", lambda _: False)
    assert boilerplate._is_cue("Copyright 2020 Reuters", lambda _: False)
    assert boilerplate._is_cue("World / Europe / Politics", lambda _: False)
    assert not boilerplate._is_cue("The cookie factory reopened on Monday after the strike ended.", lambda _: False)


@given(st.text(st.sampled_from("abc XYZ 019_.,'-é\u0130\u0131\u212aß東京\u00a0\n")) | st.text())
@example("İstanbul")
@example("Straße ﬁnal")
def test_words_equal_the_former_code(text: str) -> None:
    assert boilerplate._words(text) == words_before(text)


def word_hashes_reference(text: str) -> list[int]:
    """The documented definition: each lowercased \\w+ word's UTF-8 bytes (code units as they
    are for a lone surrogate), hashed with xxh3."""
    import re

    import xxhash

    return [xxhash.xxh3_64_intdigest(word.lower().encode("utf-8", "surrogatepass"))
            for word in re.findall(r"\w+", text)]


@settings(max_examples=300)
@given(st.text(st.sampled_from("ab XY 09_., \n'éÉßİıΣσς东京\ud800") | st.characters(), max_size=80))
@example("")
@example("...")
@example("ASCII Only, Words 42")
@example("İstanbul ΣΟΦΟΣ \ud800x")
def test_word_hashes_equal_each_word_hashed(text: str) -> None:
    from toolkit.ingest import minhash

    assert minhash._word_hashes(text).tolist() == word_hashes_reference(text)


def normalise_text_before(text: str) -> tuple[str, list[str]]:
    """clean.normalise_text as it was: every step on every text."""
    warnings: list[str] = []
    text, surrogates = clean.replace_lone_surrogates(text)
    if surrogates:
        warnings.append(f"replaced {surrogates} invalid character(s) (lone surrogates) with U+FFFD")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if clean.CONTROL_CHARACTERS.search(text):
        warnings.append("removed control characters" + (" (NUL)" if "\x00" in text else ""))
    text = unicodedata.normalize("NFC", clean.CONTROL_CHARACTERS.sub("", text))
    fixed = clean.fix_text(text)
    if fixed == text:
        return text, warnings
    warnings.append("repaired broken encoding (mojibake) with ftfy")
    return unicodedata.normalize("NFC", clean.CONTROL_CHARACTERS.sub("", fixed)), warnings


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(ALPHABET | st.sampled_from("\ud800\udfff\u0301e"), max_size=80))
def test_normalise_text_equals_the_former_code(text: str) -> None:
    assert clean.normalise_text(text) == normalise_text_before(text)


_DATE_PIECES = ["3", "12", "2", "1", "12:30", "ago", "hours", "hour", "days", "minutes", "in", "weeks",
                "il y a", "heures", "jours", "vor", "Stunden", "Tagen", "назад", "часа", "hace", "minutos",
                "5 comments", "Updated", "shares", "Page", "of", "the", "Maris", "summer", "yesterday", "mar",
                "前", "小时", "MMX", "EST", ",", ".", "-"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_DATE_PIECES), min_size=1, max_size=5).map(" ".join))
@example("3 hours ago")
@example("il y a 2 heures")
@example("Updated 12:30")
def test_relative_date_check_equals_dateparser(value: str) -> None:
    import dateparser

    expected = (len(value.strip()) <= 60 and any(c.isdigit() for c in value)
                and clean._UNIT_WORD.search(value) is not None
                and dateparser.parse(value.strip(), settings={"PARSERS": ["relative-time"]}) is not None)
    assert clean.is_relative_date(value) == expected
    assert clean.is_relative_date(value) == expected  # from the cache now


def test_relative_dates_by_hand() -> None:
    assert clean.is_relative_date("3 hours ago") and clean.is_relative_date("il y a 2 heures")
    assert clean.is_relative_date("vor 2 Stunden")
    assert not clean.is_relative_date("Updated 12:30") and not clean.is_relative_date("5 comments")
    assert not clean.is_relative_date("1e400")
