"""Boilerplate benchmark: how much of a scraped page's plain text is the article, after cleaning.

    .venv/bin/python bench/boilerplate_bench.py [--corpus DIR] [--json OUT] [--pages]

A scraper that saves "the visible text of the page" keeps menus, share prompts, related links
and footers. This renders that text from the real HTML pages of ``<corpus>/articles`` (read in
place, never copied: script, style, noscript, template, svg and hidden elements removed, block
elements become line breaks, ``<p>``/headings a blank line), and scores the body each cleaner
keeps against the page's expected body:

* ``floor``: the rendered text itself, unstripped;
* ``current``: the cleaner before generic boilerplate removal (``parse_plain_article`` with
  ``generic=False``: the line list and headline/date handling only);
* ``new``: ``parse_plain_article`` as ``toolkit ingest`` runs it on ``.txt`` files now;
* ``trafilatura``: the toolkit's HTML reader settings on the HTML itself (the ceiling: it sees
  the markup a plain-text scraper threw away).

Expected bodies: ``newspaper3k_tests/expected_text`` (another extractor's frozen output, CNN,
Spanish, Arabic, Chinese among them), and for ``trafilatura_eval`` (the evaluation set itself
only has snippets) the publisher's own article body where the page declares one: the JSON-LD
``articleBody``, else the ``<p>`` paragraphs of the element marked ``itemprop="articleBody"``
(figures and asides inside it left out). Score: precision, recall and F1 of the sets of word 4-grams (shingles, as the
public article-extraction benchmarks score bodies; lower-cased words, CJK characters counted
as words), computed per page and averaged over pages (mean per page, not micro-averaged).
Also, on all 19 ``trafilatura_eval`` pages, the share of its "with" snippets kept and of its
"without" snippets dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import unicodedata
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"

# Rendering ---------------------------------------------------------------------------------

_INVISIBLE = ("script", "style", "noscript", "template", "svg", "head", "iframe", "object")
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl", "figure"}
_BLOCK = _PARAGRAPH | {
    "div", "section", "article", "header", "footer", "nav", "aside", "main", "li", "tr", "td", "th", "dd", "dt",
    "form", "figcaption", "address", "br", "hr", "fieldset", "legend", "details", "summary", "caption", "option",
    "button", "label", "menu", "tbody", "thead"}
_SPACES = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def visible_text(html: str) -> str:
    """All visible text of a page as a scraper saves it: blocks on lines of their own."""
    import lxml.html

    root = lxml.html.document_fromstring(html)
    for element in list(root.iter(*_INVISIBLE)):
        element.drop_tree()
    for element in list(root.iter()):
        if not isinstance(element.tag, str):  # comments, processing instructions
            if element.getparent() is not None:
                element.drop_tree()
            continue
        if element.get("hidden") is not None or element.get("aria-hidden") == "true" \
                or _HIDDEN_STYLE.search(element.get("style") or ""):
            if element.getparent() is not None:
                element.drop_tree()
    out: list[str] = []

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        brk = "\n\n" if tag in _PARAGRAPH else "\n" if tag in _BLOCK else ""
        out.append(brk)
        if element.text:  # source line breaks are spaces to a browser, as any whitespace run
            out.append(_SPACES.sub(" ", element.text))
        for child in element:
            walk(child)
            if child.tail:
                out.append(_SPACES.sub(" ", child.tail))
        out.append(brk)

    body = root.find("body")
    walk(body if body is not None else root)
    text = "".join(out)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


# Scoring ------------------------------------------------------------------------------------

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")


def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(unicodedata.normalize("NFC", text).casefold())
    return {tuple(words[i:i + n]) for i in range(max(len(words) - n + 1, 1 if words else 0))}


def prf(predicted: str, expected: str) -> tuple[float, float, float]:
    got, want = shingles(predicted), shingles(expected)
    if not got or not want:
        return 0.0, 0.0, 0.0
    hit = len(got & want)
    p, r = hit / len(got), hit / len(want)
    return p, r, (2 * p * r / (p + r) if hit else 0.0)


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).replace("&#x27;", "'").split()).casefold()


# Expected bodies ---------------------------------------------------------------------------

def json_ld_body(html: str) -> str | None:
    """The longest ``articleBody`` in the page's JSON-LD, if any."""
    best = None
    for block in re.findall(r"<script[^>]*application/ld\+json[^>]*>(.*?)</script>", html, re.S | re.I):
        try:
            data = json.loads(block.strip())
        except json.JSONDecodeError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                body = item.get("articleBody")
                if isinstance(body, str) and len(body.split()) > 50 and (best is None or len(body) > len(best)):
                    best = body
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return best


def microdata_body(html: str) -> str | None:
    """The paragraphs (``<p>``) of the element the publisher marks ``itemprop="articleBody"``."""
    import lxml.html

    root = lxml.html.document_fromstring(html)
    marked = root.xpath('//*[@itemprop="articleBody" or @property="articleBody"]')
    if not marked:
        return None
    for element in list(marked[0].iter("script", "style", "noscript", "figure", "aside")):
        element.drop_tree()
    paragraphs = [" ".join(p.text_content().split()) for p in marked[0].iter("p")]
    body = "\n\n".join(p for p in paragraphs if p)
    return body if len(body.split()) > 50 else None


def pages(corpus: Path) -> list[dict[str, Any]]:
    found = []
    traf = corpus / "articles" / "trafilatura_eval"
    gold = json.loads((traf / "evaldata.subset.json").read_text(encoding="utf-8"))
    for expected in sorted(gold.values(), key=lambda g: g["file"]):
        html = (traf / "html" / expected["file"]).read_text(encoding="utf-8", errors="replace")
        found.append({"set": "trafilatura_eval", "name": expected["file"], "html": html,
                      "expected": json_ld_body(html) or microdata_body(html), "with": expected["with"], "without": expected["without"]})
    news = corpus / "articles" / "newspaper3k_tests"
    for path in sorted((news / "html").glob("*.html")):
        stem = path.stem.removesuffix("_article")
        expected = news / "expected_text" / f"{stem}.txt"
        if expected.exists():
            found.append({"set": "newspaper3k_tests", "name": path.name,
                          "html": path.read_text(encoding="utf-8", errors="replace"),
                          "expected": expected.read_text(encoding="utf-8")})
    return found


# Cleaners ------------------------------------------------------------------------------------

def cleaners() -> dict[str, Callable[[dict[str, Any]], str]]:
    from toolkit.ingest import clean
    from toolkit.ingest.readers import extract_html

    def plain(generic: bool) -> Callable[[dict[str, Any]], str]:
        def run(page: dict[str, Any]) -> str:
            text, _ = clean.normalise_text(page["text"])
            return clean.parse_plain_article(text, generic=generic).body
        return run

    def trafilatura(page: dict[str, Any]) -> str:
        extracted = extract_html(page["html"])
        return clean.clean_body(clean.normalise_text(extracted["text"] or "")[0], title=extracted["title"])[0]

    return {"floor": lambda page: page["text"], "current": plain(False), "new": plain(True),
            "trafilatura": trafilatura}


def run(corpus: Path) -> dict[str, Any]:
    import logging

    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    methods = cleaners()
    rows = []
    for page in pages(corpus):
        page["text"] = visible_text(page["html"])
        row: dict[str, Any] = {"set": page["set"], "page": page["name"]}
        for method, clean_page in methods.items():
            body = clean_page(page)
            if page["expected"]:
                row[method] = dict(zip(("precision", "recall", "f1"), prf(body, page["expected"])))
            if "with" in page:
                squashed = _squash(body)
                row.setdefault("snippets", {})[method] = {
                    "with_kept": sum(_squash(s) in squashed for s in page["with"]),
                    "without_dropped": sum(_squash(s) not in squashed for s in page["without"]),
                    "n_with": len(page["with"]), "n_without": len(page["without"])}
        rows.append(row)
    summary: dict[str, Any] = {}
    scored = [r for r in rows if "new" in r]
    for method in methods:
        summary[method] = {k: statistics.mean(r[method][k] for r in scored) for k in ("precision", "recall", "f1")}
        snips = [r["snippets"][method] for r in rows if "snippets" in r]
        summary[method]["with_kept"] = sum(s["with_kept"] for s in snips) / sum(s["n_with"] for s in snips)
        summary[method]["without_dropped"] = sum(s["without_dropped"] for s in snips) / sum(s["n_without"] for s in snips)
    return {"pages_scored": len(scored), "pages": rows, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--pages", action="store_true", help="print the F1 of each page too")
    args = parser.parse_args()
    result = run(args.corpus)
    methods = list(result["summary"])
    if args.pages:
        print("| page | " + " | ".join(methods) + " |")
        print("|---|" + "---:|" * len(methods))
        for row in result["pages"]:
            if "new" in row:
                print(f"| {row['page']} | " + " | ".join(f"{row[m]['f1']:.3f}" for m in methods) + " |")
        print()
    print(f"4-gram shingle scores, mean over {result['pages_scored']} pages with an expected body; "
          "snippets over the 19 trafilatura_eval pages")
    print()
    print("| text kept | precision | recall | F1 | 'with' snippets kept | 'without' snippets dropped |")
    print("|---|---:|---:|---:|---:|---:|")
    for method, s in result["summary"].items():
        print(f"| {method} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
              f"{s['with_kept']:.0%} | {s['without_dropped']:.0%} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
