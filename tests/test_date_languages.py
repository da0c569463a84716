"""A scraped page's date lines are read in the page's language and English only.

Asked in all of dateparser's ~200 locales, each short line with a digit cost 15-40 ms and the
first foreign one 2.4 s a process; asked in the page's language (``langid``) and English, well
under a millisecond. What a user sees: a French page's "il y a 2 heures" and an English page's
"3 hours ago" are still date lines (a warning, not body text), a French date line still gives the
article's date, metadata values (HTML, JSONL) are still read in every language, and a relative
date in a third language (a German line on an English page) is not read as a date, as the README
says.
"""

from __future__ import annotations

import datetime as dt

import dateparser
import pytest

from toolkit.ingest import clean

ENGLISH = ("The council met on Tuesday evening and agreed that the old bridge over the river would be "
           "repaired before the winter floods, after engineers warned that its pillars were failing.")
FRENCH = ("Le conseil municipal s'est réuni mardi soir et a décidé que le vieux pont sur la rivière serait "
          "réparé avant les crues de l'hiver, après que les ingénieurs ont averti que ses piliers cédaient.")
GERMAN = ("Der Stadtrat hat am Dienstagabend beschlossen, dass die alte Brücke über den Fluss vor dem "
          "Winterhochwasser repariert wird, nachdem Ingenieure vor den maroden Pfeilern gewarnt hatten.")


def page(headline: str, date_line: str, prose: str) -> str:
    """A scraped page: a menu, the headline, a date line, four paragraphs of prose (over 200
    characters, jusText's "good" lines), a footer."""
    paragraphs = [f"{prose} {prose}", f"1. {prose} {prose}", f"2. {prose} {prose}", f"3. {prose} {prose}"]
    return "\n\n".join(["Home | World | Sport | Culture", headline, date_line, *paragraphs,
                        "© 2024 The Courier. All rights reserved."]) + "\n"


@pytest.mark.parametrize(("text", "expected"), [
    (ENGLISH, ("en",)), (FRENCH, ("fr", "en")), (GERMAN, ("de", "en")),
    # Norwegian: py3langid says "no", a code dateparser does not have: every language, as before.
    ("Regjeringen la i dag fram statsbudsjettet for neste år, og finansministeren sa at økonomien går godt.", None),
])
def test_a_text_is_read_in_its_language_and_english(text: str, expected: tuple[str, ...] | None) -> None:
    assert clean.text_date_languages(text)() == expected


@pytest.mark.parametrize(("headline", "date_line", "prose"), [
    ("Bridge to be repaired", "3 hours ago", ENGLISH),
    ("Le pont sera réparé", "il y a 2 heures", FRENCH),
    ("Die Brücke wird repariert", "vor 2 Stunden", GERMAN),
    ("Le pont sera réparé", "3 hours ago", FRENCH),  # an English template on a French site
])
def test_a_relative_date_in_the_page_language_or_english_is_a_date_line(headline, date_line, prose) -> None:
    parsed = clean.parse_plain_article(page(headline, date_line, prose))
    assert parsed.title == headline
    assert date_line not in parsed.body
    assert parsed.warnings == [f"relative date {date_line!r} not used: there is no date of the article's own "
                               "to count from"]


def test_a_date_line_in_the_page_language_gives_the_date() -> None:
    parsed = clean.parse_plain_article(page("Le pont sera réparé", "mardi 12 mars 2024", FRENCH))
    assert parsed.published == dt.date(2024, 3, 12)
    assert "12 mars" not in parsed.body


def test_a_relative_date_in_a_third_language_is_not_read() -> None:
    # Not a date line any more: no warning about it. Above the article's block it is dropped as
    # page furniture; the headline and the body are what they were.
    parsed = clean.parse_plain_article(page("Bridge to be repaired", "vor 2 Stunden", ENGLISH))
    assert parsed.warnings == []
    assert parsed.title == "Bridge to be repaired"
    assert parsed.body.startswith("The council met") and "Stunden" not in parsed.body


def test_dateparser_is_asked_only_in_the_page_languages(monkeypatch) -> None:
    asked: list[object] = []
    real = dateparser.parse

    def spy(value, *args, **kwargs):
        asked.append(kwargs.get("languages"))
        return real(value, *args, **kwargs)

    monkeypatch.setattr(dateparser, "parse", spy)
    clean._dateparser_date.cache_clear()
    clean._dateparser_relative.cache_clear()
    clean.parse_plain_article(page("Le pont sera réparé", "il y a 5 heures", FRENCH))
    clean.parse_plain_article(page("Bridge to be repaired", "Updated 7 hours ago", ENGLISH))
    assert asked and set(map(tuple, asked)) <= {("fr", "en"), ("en",)}


def test_metadata_dates_are_still_read_in_every_language() -> None:
    # A value from HTML metadata or a JSONL field: no page language to go by.
    assert clean.parse_date("12 marzo 2024") == dt.date(2024, 3, 12)
    assert clean.is_relative_date("vor 2 Stunden")
