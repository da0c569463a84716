"""Cleaning rules, one at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from toolkit.ingest import clean


@pytest.mark.parametrize(
    "line",
    ["Must read", "Latest article", "  Latest articles ", "Share this article", "Subscribe now",
     "Sign up to our daily newsletter", "Advertisement", "Read more", "Related stories:",
     "Follow us on Twitter", "Facebook | Twitter | Email", "Skip to content", "Most read",
     "Trending On Reuters", "Loading weather data ...", "(Credit: Clayton Aldern / Grist)",
     "Get The Times of Israel's Daily Edition by email and never miss our top stories Free Sign Up"],
)
def test_boilerplate_lines_are_recognised(line: str) -> None:
    assert clean.is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Readers who subscribe to the paper were told to share this article with friends.",
        "Latest figures show the death toll has risen to 15.",
        "Must read: the minister resigned after the report was published and the opposition demanded an inquiry.",
        "Share prices fell sharply.",
    ],
)
def test_sentences_mentioning_boilerplate_words_are_kept(line: str) -> None:
    assert not clean.is_boilerplate(line)


def test_extra_boilerplate_patterns_from_config() -> None:
    assert not clean.is_boilerplate("Download our app")
    assert clean.is_boilerplate("Download our app", ("download our app",))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Saturday, November 23, 2024", dt.date(2024, 11, 23)),
        ("2024-11-23", dt.date(2024, 11, 23)),
        ("2024-11-23T08:30:00+00:00", dt.date(2024, 11, 23)),
        ("23 November 2024", dt.date(2024, 11, 23)),
        ("Nov 23, 2024", dt.date(2024, 11, 23)),
        ("23 novembre 2024", dt.date(2024, 11, 23)),
        ("Knife-wielding Russian convicts take prison staff hostage", None),
        ("Must read", None),
        ("In March, 139 people were killed", None),
        ("2024-02-30", None),
    ],
)
def test_parse_date(value: str, expected: dt.date | None) -> None:
    assert clean.parse_date(value) == expected


def test_normalise_keeps_newlines_and_tabs_and_removes_other_controls() -> None:
    text, warnings = clean.normalise_text("a\x00b\tc\r\nd\x07e\x1bf\u0085")
    assert text == "ab\tc\ndef"
    assert warnings == ["removed control characters (NUL)"]


def test_normalise_nfc() -> None:
    decomposed = "cafe\u0301"
    text, warnings = clean.normalise_text(decomposed)
    assert text == "caf\u00e9"
    assert warnings == []


def test_normalise_repairs_mojibake_but_keeps_curly_quotes_and_full_width() -> None:
    text, warnings = clean.normalise_text("The mayorâ€™s cafÃ©")
    assert text == "The mayor\u2019s caf\u00e9"
    assert warnings == ["repaired broken encoding (mojibake) with ftfy"]
    untouched = "\u201cquoted\u201d \uff21\uff22 \ufb01ne"
    assert clean.normalise_text(untouched) == (untouched, [])


def test_decode_utf8_bom_and_utf16() -> None:
    assert clean.decode_bytes("\ufeffhé".encode("utf-8")).text == "hé"
    assert clean.decode_bytes("hé llo".encode("utf-16")).text == "hé llo"


def test_decode_declared_charset_in_html() -> None:
    html = '<html><head><meta charset="iso-8859-7"></head><body>Αθήνα</body></html>'.encode("iso-8859-7")
    decoded = clean.decode_bytes(html)
    assert "Αθήνα" in decoded.text
    assert decoded.encoding == "iso-8859-7"


def test_decode_rejects_binary() -> None:
    with pytest.raises(clean.BinaryContentError):
        clean.decode_bytes(bytes(range(32)) * 20)


def test_split_paragraphs_collapses_spaces_and_blank_lines() -> None:
    assert clean.split_paragraphs("  One  two \n\n\n Three\tfour\u00a0km  \n") == ["One two", "Three\tfour\u00a0km"]


def test_count_words_counts_cjk_characters() -> None:
    assert clean.count_words("Two words") == 2
    assert clean.count_words("北京时间") == 4
    assert clean.count_words("Tokyo 東京 news") == 4


def test_plain_article_layout_date_after_headline() -> None:
    parsed = clean.parse_plain_article(
        "Headline here\n\n5 May 2024\n\nShare this\n\nFirst paragraph of the body.\n\nSecond one.")
    assert parsed.title == "Headline here"
    assert parsed.published == dt.date(2024, 5, 5)
    assert parsed.body == "First paragraph of the body.\n\nSecond one."
    assert parsed.boilerplate_removed == 1


def test_plain_article_without_headline_keeps_first_sentence_in_body() -> None:
    parsed = clean.parse_plain_article("The first paragraph is a sentence.\n\nAnother one.")
    assert parsed.title is None
    assert parsed.body.startswith("The first paragraph")


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Flood defences fail | The Riverside Courier", "The Riverside Courier", "Flood defences fail"),
        ("Flood defences fail - Riverside Courier", "The Riverside Courier", "Flood defences fail"),
        ("Tokyo braces for heat | The Japan Times", "The Japan Times", "Tokyo braces for heat"),
        ("Left - right politics explained", "The Courier", "Left - right politics explained"),
        ("Title only", None, "Title only"),
    ],
)
def test_site_name_is_cut_from_titles(title, site, expected):
    assert clean.strip_site_name(title, site) == expected
