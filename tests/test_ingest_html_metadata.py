"""An HTML page's text, title, date, URL and site name are what trafilatura's own metadata pass
gives, though ``readers.extract_html`` skips the fields the toolkit does not store.

``extract_html`` parses a page once, reads title, URL, date and site name with the steps of
``trafilatura.metadata.extract_metadata`` (without author, categories, tags and licence), and
hands the tree to ``bare_extraction``. The reference here is the former call: one
``bare_extraction(..., with_metadata=True)`` with the same settings. Real news pages from
``../shared/corpus/articles`` and crafted pages (canonical link, JSON-LD, Open Graph, a Twitter
handle as site name, nothing at all) must give the same five values, with and without a URL
given by the caller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.ingest import clean, readers

REPO = Path(__file__).resolve().parents[1]
CORPUS_PAGES = REPO.parent / "shared" / "corpus" / "articles"
GIVEN_URL = "https://news.example.org/2024/05/01/story"


def former_extract_html(html: str, url: str | None = None) -> dict[str, str | None]:
    """``extract_html`` as it was: trafilatura's whole metadata pass inside ``bare_extraction``."""
    import trafilatura

    result = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        include_images=False, include_links=False, favor_precision=True,
        date_extraction_params={"extensive_search": True, "original_date": True})
    if result is None:
        return {"text": None, "title": None, "date": None, "url": url, "sitename": None}
    text = result.text or ""
    return {"text": "\n\n".join(line for line in text.split("\n") if line.strip()), "title": result.title,
            "date": result.date, "url": result.url or url, "sitename": result.sitename or result.hostname}


PROSE = " ".join(["The council met on Tuesday and agreed to repair the old bridge before the winter floods."] * 12)


def page(head: str, body: str = f"<article><h1>Bridge to be repaired</h1><p>{PROSE}</p><p>{PROSE}</p></article>") -> str:
    return f"<html><head>{head}</head><body><nav><a href='/'>Home</a> | <a href='/w'>World</a></nav>{body}" \
           "<footer>© 2024 Example News. All rights reserved.</footer></body></html>"


CRAFTED = {
    "canonical and title": page("<title>Bridge to be repaired | Example News</title>"
                                "<link rel='canonical' href='https://www.example-news.com/local/bridge'>"),
    "open graph, lower-case site": page("<meta property='og:title' content='Bridge to be repaired'>"
                                        "<meta property='og:site_name' content='example news'>"
                                        "<meta property='article:published_time' content='2024-03-05T10:00:00Z'>"),
    "twitter handle as site": page("<meta name='twitter:site' content='@examplenews'><title>Bridge</title>"),
    "json-ld": page('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
                    ' "headline": "Bridge to be repaired", "datePublished": "2023-11-02",'
                    ' "publisher": {"@type": "Organization", "name": "Example News"},'
                    ' "author": {"@type": "Person", "name": "Ann Smith"}}</script>'),
    "url only from canonical, no site": page("<link rel='canonical' href='https://example.org/x'>"),
    "nothing but text": page(""),
    "author byline in the body": page("<title>Bridge</title>",
                                      f"<article><p class='byline'>By Ann Smith</p><p>{PROSE}</p></article>"),
    "no article": "<html><body><p>short</p></body></html>",
}


@pytest.mark.parametrize("url", [None, GIVEN_URL])
@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_pages_give_what_the_whole_metadata_pass_gives(name: str, url: str | None) -> None:
    html = CRAFTED[name]
    assert readers.extract_html(html, url) == former_extract_html(html, url)


def test_crafted_pages_find_the_values_the_tests_above_compare() -> None:
    """The comparisons above are not of two empty results: the crafted metadata is found."""
    canonical = readers.extract_html(CRAFTED["canonical and title"])
    assert canonical["url"] == "https://www.example-news.com/local/bridge"
    assert canonical["title"] == "Bridge to be repaired"  # trafilatura cuts the site name off
    assert "repair the old bridge" in canonical["text"] and "All rights reserved" not in canonical["text"]
    og = readers.extract_html(CRAFTED["open graph, lower-case site"])
    assert og["sitename"] == "Example News" and og["date"] == "2024-03-05"
    assert readers.extract_html(CRAFTED["json-ld"])["date"] == "2023-11-02"
    assert readers.extract_html(CRAFTED["twitter handle as site"])["sitename"] == "Examplenews"
    assert readers.extract_html(CRAFTED["url only from canonical, no site"])["sitename"] == "example.org"
    # A page with one word: its text is that word, the date is read from the URL given, and the
    # site name falls back to the URL's host.
    assert readers.extract_html(CRAFTED["no article"], GIVEN_URL) == {
        "text": "short", "title": None, "date": "2024-05-01", "url": GIVEN_URL, "sitename": "news.example.org"}


def corpus_pages() -> list[Path]:
    return sorted(CORPUS_PAGES.glob("*/html/*.html")) if CORPUS_PAGES.is_dir() else []


@pytest.mark.skipif(not corpus_pages(), reason=f"{CORPUS_PAGES} is not there")
def test_every_corpus_page_gives_what_the_whole_metadata_pass_gives() -> None:
    pages = corpus_pages()
    assert len(pages) >= 20
    found = {"title": 0, "date": 0, "url": 0, "sitename": 0}
    for path in pages:
        html = clean.decode_bytes(path.read_bytes()).text
        for url in (None, GIVEN_URL):
            got = readers.extract_html(html, url)
            assert got == former_extract_html(html, url), path.name
        for key in found:
            found[key] += got[key] is not None
    # Most real pages carry each value: the equality above covers found values, not only None.
    assert all(count >= len(pages) // 2 for count in found.values()), found


@pytest.mark.skipif(not (CORPUS_PAGES / "newspaper3k_tests" / "html" / "theglobeandmail.com1.html").is_file(),
                    reason="the corpus page is not there")
def test_a_time_zone_dateutil_cannot_place_prints_nothing_on_the_terminal(tmp_path) -> None:
    """The Globe and Mail page's "EST" made dateutil print an UnknownTimezoneWarning, with its
    source line, on the user's terminal at every ingest; the date is read all the same."""
    import subprocess
    import sys

    raw = tmp_path / "raw"
    raw.mkdir()
    page = CORPUS_PAGES / "newspaper3k_tests" / "html" / "theglobeandmail.com1.html"
    (raw / page.name).write_bytes(page.read_bytes())
    (tmp_path / "toolkit.toml").write_text('[project]\nname = "tz"\n', encoding="utf-8")
    (tmp_path / "annotations").mkdir()
    done = subprocess.run([sys.executable, "-W", "default", "-m", "toolkit", "ingest", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert '"new_articles": 1' in done.stdout
