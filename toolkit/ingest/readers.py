"""Readers: one raw file (or JSONL line) in, a cleaned ``Document`` or a ``Rejection`` out.

Readers never raise for bad input: every problem becomes a ``Rejection`` with a reason
code from ``REJECTION_REASONS`` and a message, so one bad file never stops a batch.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from . import clean

TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"}

REJECTION_REASONS = {
    "empty": "the file is empty",
    "too-large": "larger than [ingest] max_file_mb",
    "binary": "binary content, not text",
    "undecodable": "not UTF-8 and no charset could be detected",
    "no-article": "no article text could be extracted",
    "too-short": "body shorter than [ingest] min_words",
    "invalid-json": "a JSONL line that is not a JSON object",
    "missing-text": "a JSONL record with neither `text` nor `html`",
    "unsupported-type": "not a .txt, .html or .jsonl file",
    "unreadable": "the file could not be read",
}


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


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if any(name.endswith(s) for s in JSONL_SUFFIXES):
        return "jsonl"
    if path.suffix.lower() in HTML_SUFFIXES:
        return "html"
    if path.suffix.lower() in TEXT_SUFFIXES:
        return "text"
    return None


def read_file(path: Path, source: str, options: ReaderOptions) -> Iterator[Document | Rejection]:
    """Everything in one raw file: one item for a text or HTML file, one per line of JSONL."""
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
        yield from _read_jsonl(path, source, options)
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
    words = clean.count_words(doc.body)
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
    return _finish(doc, options, decoded.warnings + warnings)


def _quiet_extractors() -> None:
    # trafilatura and htmldate log every page they find hard; the ingest report says it better.
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def extract_html(html: str, url: str | None = None) -> dict[str, str | None]:
    """Body, title, date and URL of a news page, as trafilatura extracts them.

    The body comes back with one paragraph per line; it is turned into blank-line-separated
    paragraphs, the toolkit's text layout.
    """
    import trafilatura

    _quiet_extractors()
    result = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        include_images=False, include_links=False, favor_precision=True,
        date_extraction_params={"extensive_search": True, "original_date": True},
    )
    if result is None:
        return {"text": None, "title": None, "date": None, "url": url, "sitename": None}
    text = result.text or ""
    return {
        "text": "\n\n".join(line for line in text.split("\n") if line.strip()),
        "title": result.title,
        "date": result.date,
        "url": result.url or url,
        "sitename": result.sitename or result.hostname,
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
        extracted = extract_html(html, url=meta.get("url"))
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
    published = _parse_meta_date(meta.get("date")) or _parse_meta_date(extracted["date"])
    url = meta.get("url") or extracted["url"]
    doc = Document(source=source, raw_sha256=sha, format=meta.get("format", "html"), body=body, title=title,
                   published=published, source_url=url,
                   source_name=meta.get("source") or extracted["sitename"] or _hostname(url))
    return _finish(doc, options, warnings + fixes)


def _parse_meta_date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return clean.parse_date(value.strip()[:40])


def _hostname(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


def _read_jsonl(path: Path, source: str, options: ReaderOptions) -> Iterator[Document | Rejection]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                yield _from_jsonl_line(line, f"{source}#L{number}", options)
    except (OSError, EOFError) as exc:
        yield Rejection(source, "unreadable", f"{source}: stopped reading: {exc}")


def _from_jsonl_line(line: bytes, source: str, options: ReaderOptions) -> Document | Rejection:
    sha = hashlib.sha256(line.rstrip(b"\r\n")).hexdigest()
    if len(line) > options.max_bytes:
        return Rejection(source, "too-large", f"{source}: line of {len(line) / 1e6:.1f} MB is larger than "
                                              "[ingest] max_file_mb")
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection(source, "invalid-json", f"{source}: not valid JSON ({exc}); fix or remove the line")
    if not isinstance(record, dict):
        return Rejection(source, "invalid-json", f"{source}: a JSON {type(record).__name__}, not an object")
    meta = {
        "title": _str(record.get("title")),
        "date": _str(record.get("date") or record.get("published")),
        "url": _str(record.get("url")),
        "source": _str(record.get("source")),
        "format": "jsonl",
    }
    if isinstance(record.get("text"), str) and record["text"].strip():
        text, warnings = clean.normalise_text(record["text"])
        title = clean.normalise_text(meta["title"])[0].strip() if meta["title"] else None
        body, _ = clean.clean_body(text, options.boilerplate, title=title)
        doc = Document(source=source, raw_sha256=sha, format="jsonl", body=body, title=title or None,
                       published=_parse_meta_date(meta["date"]), source_url=meta["url"],
                       source_name=meta["source"] or _hostname(meta["url"]))
        if meta["date"] and doc.published is None:
            warnings.append(f"unparseable date {meta['date'][:40]!r}")
        return _finish(doc, options, warnings)
    if isinstance(record.get("html"), str) and record["html"].strip():
        return _from_html(record["html"], source, sha, options, meta)
    return Rejection(source, "missing-text", f"{source}: the record has neither a `text` nor an `html` string")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
