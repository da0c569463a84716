"""Readers: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out.

Readers never raise for bad input: every problem becomes a ``Rejection`` with a reason
code from ``REJECTION_REASONS`` and a message, so one bad file never stops a batch. What
is dropped from an article that is kept (a URL that is not http(s), a date that cannot be
resolved, invalid characters) is said in its warnings. No read holds more than
``max_bytes`` of one file or JSONL line in memory.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import urlsplit

from . import clean

TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"}

REJECTION_REASONS = {
    "empty": "the file is empty",
    "too-large": "a file or JSONL line larger than [ingest] max_file_mb",
    "binary": "binary content, not text",
    "undecodable": "not UTF-8 and no charset could be detected",
    "no-article": "no article text could be extracted",
    "too-short": "body shorter than [ingest] min_words",
    "invalid-json": "a JSONL line that is not a JSON object (or is nested too deeply)",
    "missing-text": "a JSONL record with neither `text` nor `html`",
    "unsupported-type": "not a .txt, .html or .jsonl file",
    "unreadable": "the file could not be read",
    "symlink-outside": "a symbolic link leading outside the input folder (read only when asked to follow links)",
}
WEB_SCHEMES = ("http", "https")


@dataclass
class Document:
    source: str
    raw_sha256: str
    format: str
    body: str
    title: str | None = None
    published: dt.date | None = None
    source_url: str | None = None
    source_name: str | None = None
    warnings: list[str] = field(default_factory=list)
    n_words: int | None = None  # counted once, when the body is checked against min_words


@dataclass(frozen=True)
class Rejection:
    source: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class ReaderOptions:
    max_bytes: int
    min_words: int
    boilerplate: tuple[str, ...] = ()
    html_focus: str = "precision"  # one of ``config.HTML_FOCUS``: what trafilatura favours on HTML pages


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if any(name.endswith(s) for s in JSONL_SUFFIXES):
        return "jsonl"
    if path.suffix.lower() in HTML_SUFFIXES:
        return "html"
    if path.suffix.lower() in TEXT_SUFFIXES:
        return "text"
    return None


def read_file(path: Path, source: str, options: ReaderOptions,
              span: tuple[int, int, int] | None = None) -> Iterator[Document | Rejection]:
    """Everything in one raw file: one item for a text or HTML file, one per line of JSONL.

    ``span``: (first byte, end byte, number of the first line) of an uncompressed JSONL file,
    to read only the lines that start in it (so that workers share a large file; see ``pool``)."""
    fmt = file_format(path)
    if fmt is None:
        yield Rejection(source, "unsupported-type",
                        f"{source}: unsupported file type {path.suffix or '(no extension)'!r}; "
                        "use .txt, .html or .jsonl")
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Rejection(source, "unreadable", f"{source}: cannot read: {exc.strerror}")
        return
    if size == 0:
        yield Rejection(source, "empty", f"{source}: the file is empty")
        return
    if fmt == "jsonl":
        yield from _read_jsonl(path, source, options, span)
        return
    if size > options.max_bytes:
        yield Rejection(source, "too-large",
                        f"{source}: {size / 1e6:.1f} MB is larger than the limit of "
                        f"{options.max_bytes / 1e6:.1f} MB ([ingest] max_file_mb); split it or raise the limit")
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Rejection(source, "unreadable", f"{source}: cannot read: {exc.strerror}")
        return
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "html":
        yield _from_html(data, source, sha, options)
    else:
        yield _from_text(data, source, sha, options)


def _decode(data: bytes, source: str) -> clean.Decoded | Rejection:
    try:
        return clean.decode_bytes(data)
    except clean.BinaryContentError:
        return Rejection(source, "binary", f"{source}: binary content (not text, HTML or JSONL); remove it from raw/")
    except clean.UndecodableError:
        return Rejection(source, "undecodable",
                         f"{source}: not UTF-8 and no charset could be detected; re-save it as UTF-8")


def _finish(doc: Document, options: ReaderOptions, extra_warnings: list[str]) -> Document | Rejection:
    doc.warnings = extra_warnings + doc.warnings
    words = doc.n_words = clean.count_words(doc.body)
    if not doc.body:
        return Rejection(doc.source, "no-article", f"{doc.source}: no article text found")
    if words < options.min_words:
        return Rejection(doc.source, "too-short",
                         f"{doc.source}: body has {words} words, fewer than [ingest] min_words = {options.min_words}")
    if doc.published is None:
        doc.warnings.append("no publication date found")
    if doc.title is None:
        doc.warnings.append("no title found")
    return doc


def _from_text(data: bytes, source: str, sha: str, options: ReaderOptions) -> Document | Rejection:
    decoded = _decode(data, source)
    if isinstance(decoded, Rejection):
        return decoded
    text, warnings = clean.normalise_text(decoded.text)
    parsed = clean.parse_plain_article(text, options.boilerplate)
    doc = Document(source=source, raw_sha256=sha, format="text", body=parsed.body,
                   title=parsed.title, published=parsed.published)
    return _finish(doc, options, decoded.warnings + warnings + parsed.warnings)


_quieted = False


def _quiet_extractors() -> None:
    # trafilatura and htmldate log every page they find hard; the ingest report says it better.
    # dateutil (under htmldate) warns about a time zone name it cannot place ("EST") on the
    # user's terminal; the date itself is still read. Once per process: a filter added at every
    # page would make every later warning check slower.
    global _quieted
    if _quieted:
        return
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=r"tzname .* identified but not understood")
    _quieted = True


# What ``extract_html`` asks trafilatura for: the article's text without comments, tables,
# images or links; dates as htmldate's extensive search finds them.
_EXTRACTION = {"include_comments": False, "include_tables": False, "include_images": False,
               "include_links": False}
# ``[ingest] html_focus``: trafilatura's own three settings. "precision" (the default) prunes
# more of the page before and after choosing the article: on the corpus it keeps reader
# comments out that "balanced" lets in (newspaper3k pages, body F1 0.974 against 0.949), and
# it costs more: about a quarter of trafilatura's own time a page, about a tenth of a whole
# ingest's (BENCHMARKS.md, "Throughput targets, third pass").
_FOCUS = {"precision": {"favor_precision": True}, "balanced": {}, "recall": {"favor_recall": True}}
_DATE_SEARCH = {"extensive_search": True, "original_date": True}


def _page_metadata(tree, url: str | None) -> dict[str, str | None]:
    """Title, URL, date and site name of a parsed page, as ``trafilatura.extract_metadata``
    finds them, without the fields the toolkit does not store.

    ``extract_metadata`` also looks for the author (a copy of the whole tree, pruned),
    categories, tags and a licence: a fifth of the per-page time of an ingest, for values that
    are thrown away. The steps kept are its own, in its order, on the same tree;
    tests/test_ingest_html_metadata.py checks the four values equal ``bare_extraction``'s with
    ``with_metadata=True`` on every page of the corpus.
    """
    from trafilatura.metadata import (META_URL, examine_meta, extract_meta_json, extract_sitename,
                                      extract_title, extract_url)
    from courlan import extract_domain
    from htmldate import find_date

    metadata = examine_meta(tree)
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception:  # noqa: BLE001 - as extract_metadata: bugs in the JSON-LD reader
        pass
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    date = find_date(tree, **{**_DATE_SEARCH, "url": metadata.url})
    sitename = metadata.sitename or extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")  # a Twitter handle
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif metadata.url and (found := META_URL.match(metadata.url)):
        sitename = found[1]
    hostname = extract_domain(metadata.url, fast=True) if metadata.url else None
    return {"title": metadata.title, "date": date, "url": metadata.url, "sitename": sitename or hostname}


def extract_html(html: str, url: str | None = None, focus: str = "precision") -> dict[str, str | None]:
    """Body, title, date and URL of a news page, as trafilatura extracts them (``focus``: one
    of ``config.HTML_FOCUS``).

    The page is parsed once: its metadata is read from the tree (``_page_metadata``), then
    ``bare_extraction`` takes the tree for the text, with the URL ``extract_metadata`` would have
    handed it. The body comes back with one paragraph per line; it is turned into
    blank-line-separated paragraphs, the toolkit's text layout.
    """
    import trafilatura
    from trafilatura.settings import DEFAULT_CONFIG
    from trafilatura.utils import load_html

    _quiet_extractors()
    nothing = {"text": None, "title": None, "date": None, "url": url, "sitename": None}
    tree = load_html(html, DEFAULT_CONFIG.getint("DEFAULT", "MAX_FILE_SIZE"))
    if tree is None:
        return nothing
    metadata = _page_metadata(tree, url)
    result = trafilatura.bare_extraction(tree, url=url or metadata["url"], **_EXTRACTION, **_FOCUS[focus])
    if result is None:
        return nothing
    text = result.text or ""
    return {
        "text": "\n\n".join(line for line in text.split("\n") if line.strip()),
        "title": metadata["title"],
        "date": metadata["date"],
        "url": metadata["url"] or url,
        "sitename": metadata["sitename"],
    }


def _from_html(data: bytes | str, source: str, sha: str, options: ReaderOptions,
               meta: dict | None = None) -> Document | Rejection:
    warnings: list[str] = []
    if isinstance(data, bytes):
        decoded = _decode(data, source)
        if isinstance(decoded, Rejection):
            return decoded
        html, warnings = decoded.text, list(decoded.warnings)
    else:
        html = data
    meta = meta or {}
    try:
        extracted = extract_html(html, url=web_url(meta.get("url"))[0], focus=options.html_focus)
    except Exception as exc:  # noqa: BLE001 - a parser crash on one page must not stop the batch
        return Rejection(source, "no-article", f"{source}: the HTML could not be parsed ({type(exc).__name__})")
    if not extracted["text"]:
        return Rejection(source, "no-article", f"{source}: no article text found in the HTML page")
    title = meta.get("title") or extracted["title"]
    if title:
        title = clean.strip_site_name(clean.normalise_text(title)[0].strip(), extracted["sitename"]) or None
    text, fixes = clean.normalise_text(extracted["text"])
    body, _ = clean.clean_body(text, options.boilerplate, title=title)
    if clean.count_words(body) < options.min_words:
        return Rejection(source, "no-article", f"{source}: no article text found in the HTML page "
                                               f"({clean.count_words(body)} words extracted)")
    published, date_warnings = _meta_date(meta.get("date"))
    if published is None:
        published = _parse_meta_date(extracted["date"])
    url, url_warnings = _source_url(meta.get("url"), extracted["url"])
    site, _ = clean.replace_lone_surrogates(extracted["sitename"] or "")
    doc = Document(source=source, raw_sha256=sha, format=meta.get("format", "html"), body=body, title=title,
                   published=published, source_url=url,
                   source_name=meta.get("source") or site or _hostname(url))
    return _finish(doc, options, warnings + meta.get("warnings", []) + fixes + date_warnings + url_warnings)


def _source_url(given: str | None, found: str | None = None) -> tuple[str | None, list[str]]:
    """The article's URL: the one given with it (JSONL ``url``), else the one found in the page."""
    warnings = []
    for candidate in (given, found):
        url, warning = web_url(candidate)
        if url is not None:
            return url, warnings
        if warning and warning not in warnings:
            warnings.append(warning)
    return None, warnings


def _parse_meta_date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return clean.parse_date(value.strip()[:40])


def _meta_date(value: str | None) -> tuple[dt.date | None, list[str]]:
    """A date given with the article (JSONL ``date``), and a warning when it is not used."""
    if not value:
        return None, []
    published = _parse_meta_date(value)
    if published is not None:
        return published, []
    return None, [clean.unparsed_date_warning(value)]


def web_url(value: str | None) -> tuple[str | None, str | None]:
    """``value`` when it is an http(s) URL with a host; else None and a warning saying it was dropped.

    Only web addresses are published as ``source_url``: a ``javascript:`` or ``file:`` URL from
    a scraper's record would be a link that runs code or reads the reader's disk.
    """
    if value is None or not value.strip():
        return None, None
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and parts.scheme.lower() in WEB_SCHEMES and host and url.isprintable() and " " not in url:
        return url, None
    shown = url[:80] + ("..." if len(url) > 80 else "")
    return None, f"dropped the URL {shown!r}: only http and https URLs are kept"


def _hostname(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


def _read_jsonl(path: Path, source: str, options: ReaderOptions,
                span: tuple[int, int, int] | None = None) -> Iterator[Document | Rejection]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            first, end, number = span if span is not None else (0, None, 1)
            if first:
                fh.seek(first)
            for number, line, size in _bounded_lines(fh, options.max_bytes, end, number):
                where = f"{source}#L{number}"
                if line is None:
                    yield Rejection(where, "too-large", f"{where}: line of {size / 1e6:.1f} MB is larger than "
                                                        f"[ingest] max_file_mb ({options.max_bytes / 1e6:g} MB); "
                                                        "split the record or raise the limit")
                elif line.strip():
                    yield _from_jsonl_line(line, where, options)
    except (OSError, EOFError, zlib.error) as exc:
        yield Rejection(source, "unreadable", f"{source}: stopped reading: {exc}; the lines before were read")


def _bounded_lines(fh: BinaryIO, limit: int, end: int | None = None,
                   first_number: int = 1) -> Iterator[tuple[int, bytes | None, int]]:
    """(number, line, size in bytes) for each line; a line longer than ``limit`` comes as None.

    A long line is skipped a block at a time, never held: a small gzipped file can expand to a
    single line of gigabytes. ``end``: stop at the first line starting at or after that byte.
    """
    number = first_number - 1
    while (end is None or fh.tell() < end) and (line := fh.readline(limit + 1)):
        number += 1
        if len(line) <= limit:
            yield number, line, len(line)
            continue
        size = len(line)
        while not line.endswith(b"\n") and (line := fh.readline(1 << 20)):
            size += len(line)
        yield number, None, size


def _from_jsonl_line(line: bytes, source: str, options: ReaderOptions) -> Document | Rejection:
    sha = hashlib.sha256(line.rstrip(b"\r\n")).hexdigest()
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection(source, "invalid-json", f"{source}: not valid JSON ({exc}); fix or remove the line")
    except RecursionError:
        return Rejection(source, "invalid-json", f"{source}: JSON nested too deeply to be an article record; "
                                                 "fix or remove the line")
    if not isinstance(record, dict):
        return Rejection(source, "invalid-json", f"{source}: a JSON {type(record).__name__}, not an object")
    warnings: list[str] = []
    date = record.get("date") or record.get("published")
    if date is not None and not isinstance(date, str):
        warnings.append(f"unparseable date {str(date)[:40]!r}: not a string")
    meta = {
        "title": _str(record.get("title"), "title", warnings),
        "date": _str(date, "date", warnings),
        "url": _str(record.get("url"), "url", warnings),
        "source": _str(record.get("source"), "source", warnings),
        "format": "jsonl",
        "warnings": warnings,
    }
    if isinstance(record.get("text"), str) and record["text"].strip():
        return _from_jsonl_text(record["text"], meta, source, sha, options)
    if isinstance(record.get("html"), str) and record["html"].strip():
        return _from_html(_str(record["html"], "html", warnings), source, sha, options, meta)
    return Rejection(source, "missing-text", f"{source}: the record has neither a `text` nor an `html` string")


def _from_jsonl_text(raw: str, meta: dict, source: str, sha: str, options: ReaderOptions) -> Document | Rejection:
    text, fixes = clean.normalise_text(raw)
    title = clean.normalise_text(meta["title"])[0].strip() if meta["title"] else None
    body, _ = clean.clean_body(text, options.boilerplate, title=title)
    published, date_warnings = _meta_date(meta["date"])
    url, url_warnings = _source_url(meta["url"])
    doc = Document(source=source, raw_sha256=sha, format="jsonl", body=body, title=title or None,
                   published=published, source_url=url, source_name=meta["source"] or _hostname(url))
    return _finish(doc, options, meta["warnings"] + fixes + date_warnings + url_warnings)


def _str(value: object, name: str, warnings: list[str]) -> str | None:
    """A record's string field, lone surrogates (invalid in UTF-8) replaced, with a warning."""
    if not isinstance(value, str) or not value.strip():
        return None
    value, replaced = clean.replace_lone_surrogates(value)
    if replaced:
        warnings.append(f"replaced {replaced} invalid character(s) (lone surrogates) in `{name}` with U+FFFD")
    return value
