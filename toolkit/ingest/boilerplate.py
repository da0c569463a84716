"""Generic boilerplate removal for scraped plain text: keep the article's main block.

A scraper that saves a page's visible text keeps its menus, share prompts, related links,
cookie banners and footers around the article. No site-specific line list can know them all,
so each line is classified as jusText does (Pomikálek 2011), and the article is taken as the
run of lines with the most prose in it (the main block boilerpipe-style extractors select):

1. a line is *bad* when it is page furniture: on the configured line list, a short prompt
   ("Share", "Read more", "Sign in", "Related stories", "Comments"), a copyright or cookie
   notice, a menu of items joined by "|", a short line seen three times on the page, a line
   without letters; otherwise *short* under 70 characters, else *good* or *near-good* by its
   share of stopwords (function words are what running prose has and menus lack; each line is
   judged in the language that fits it best, so a quotation in English inside a French
   article counts as prose), and *bad* with too few;
2. short and near-good lines take the class of their neighbours (jusText's context-sensitive
   pass), so a subheading inside the article stays and a menu item does not;
3. the main block is the run of lines with the most words of prose net of bad lines (a
   "Related"/"Share" break costs a block 40 words, and a block never runs across a comments
   heading); only its good lines are kept, with the headline and a date line just before it
   for the cleaner's headline handling.

Stopwords are jusText's lists (100 languages; the package comes with trafilatura). A text with
too few stopwords of any listed language (Chinese, Japanese...) or with no block of at least
``MIN_BLOCK_WORDS`` words of prose (a short article, a list) is returned unchanged: keeping
some furniture costs little, losing an article's body costs the article.

Lines repeated across many articles of one source (a site's footer or newsletter prompt) are
found by ``repeated_lines`` over that source's texts; the caller drops them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Callable, Iterable

__all__ = ["keep_main_block", "repeated_lines", "stopword_language"]

# jusText's defaults (characters and stopword shares), measured on its own stoplists.
LENGTH_LOW = 70
LENGTH_HIGH = 200
STOPWORDS_LOW = 0.30
STOPWORDS_HIGH = 0.32
# A text whose best stopword share is below this is in no language we have stopwords for.
MIN_LANGUAGE_SHARE = 0.15
# Words of prose the language is told from.
_LANGUAGE_SAMPLE = 400
# English stopwords make up 40-50 % of English prose; no other language's text comes near this.
_SURELY_ENGLISH = 0.3
# A block needs this many words of good text to be believed to be the article.
MIN_BLOCK_WORDS = 40
# Words of good text a section break ("Related", "More from", "Share") costs a block crossing it.
SECTION_BREAK_LOSS = 40
# The headline and date are looked for this many lines before the block.
HEAD_WINDOW = 8
_MAX_HEADLINE = 300
_MAX_DATE_LINE = 60
_DATE_TRIES = 2  # lines asked whether they are a date, each up to tens of ms in dateparser

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")

# Cues of page furniture, matched on short lines only (a sentence of the article may say
# "share" or "subscribe"): whole-line prompts, and lines that start like one.
_CUE_LINE = re.compile(
    r"^\W*(?:share|tweet|pin|email|e-mail|print|save|copy link|comments?|reply|like|follow|subscribe|"
    r"sign (?:in|up|out)|log ?(?:in|out)|register|menu|search|home|close|open|next|previous|back to top|"
    r"skip to .*|jump to .*|(?:read|see|view|show|load) (?:more|all|less|full|next|comments?)\b.*|"
    r"more (?:from|on|in|about|stories|news|videos?)\b.*|related\b.*|recommended\b.*|trending\b.*|"
    r"popular\b.*|most (?:read|popular|viewed|shared)\b.*|you (?:may|might) (?:also )?like\b.*|"
    r"advertisement|sponsored\b.*|promoted\b.*|newsletters?\b.*|topics?:?|tags?:.*|filed under\b.*|"
    r"(?:image|photo|picture|video)(?:\s+(?:credit|source|caption))?:.*|"
    r"(?:posted|published|updated|last updated)\b.{0,60}|\d+\s*min(?:ute)?s? read|listen\b.{0,40}|"
    r"terms (?:of|and) .*|privacy\b.*|cookies?\b.*|contact us|about us|all rights reserved.*|"
    r"(?:download|get) (?:the|our) app\b.*|watch\b.{0,40}|click here\b.*)\W*$",
    re.IGNORECASE)
_MAX_CUE_LINE = 80
_LETTER = re.compile(r"[^\W\d_]")
# The comments under an article: prose too, never the article.
_COMMENTS = re.compile(
    r"^\W*(?:\d+\s+)?(?:comments?|comentar(?:ios?)?|commentaires?|commenti|kommentare?|коммента\w*|"
    r"تعليق\w*|leave a (?:comment|reply)|add (?:a )?comment|(?:show|view|load) comments?)\W*(?:\(\d+\))?\W*$",
    re.IGNORECASE)
# Where a page's furniture after the article starts, in the languages of news we see most.
_SECTION_BREAK = re.compile(
    r"^\W*(?:related\b.*|more (?:from|on|in|stories)\b.*|(?:read|see) (?:more|also)\b.*|"
    r"you (?:may|might) (?:also )?like\b.*|recommended\b.*|most (?:read|popular|viewed)\b.*|"
    r"trending\b.*|(?:more )?shar(?:e|ing)\b.*|newsletters?\b.*)\W*$",
    re.IGNORECASE)
_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|copyright\s+(?:©\s*)?\d{4}|all rights reserved", re.IGNORECASE)
_COOKIE = re.compile(r"\bcookies?\b.*\b(?:use|accept|consent|agree|continu|settings|polic)|"
                     r"\b(?:use|accept|consent|agree)\b.*\bcookies?\b", re.IGNORECASE)
# Every match of ``_COOKIE`` holds "cookie" matched with the same flags: a line without it is
# no cookie notice, and looking for the word alone costs a fifth of the whole pattern. For
# ASCII text "cookie" in its lowercase is the same test (IGNORECASE also lets "k" match the
# Kelvin sign and "i" the Turkish dotted and dotless i, which lowercasing does not give).
_COOKIE_WORD = re.compile("cookie", re.IGNORECASE)
_MENU = re.compile(r"\S\s*(?:[|•·»]|\s/\s)\s*\S.*(?:[|•·»]|\s/\s)")  # three items joined by separators
_SEPARATOR_CHARS = "|•·»"
_SEPARATOR = re.compile(rf"\s*[{_SEPARATOR_CHARS}]\s*")


@dataclass
class _Line:
    paragraph: int  # which blank-line-separated paragraph of the input it belongs to
    text: str
    tokens: list[str]
    cls: str = "short"  # good / neargood / short / bad
    first: str = "short"  # the class before the context-sensitive pass
    cue: bool = False  # page furniture by its wording, whatever its neighbours

    @property
    def words(self) -> int:
        return len(self.tokens)


@lru_cache(maxsize=1)
def _stopword_index() -> dict[str, tuple[str, ...]]:
    """word -> languages (jusText's stoplist names) that list it as a stopword."""
    import justext

    index: dict[str, list[str]] = {}
    for language in sorted(justext.get_stoplists()):
        if language == "Simple_English":  # a duplicate of English
            continue
        for word in justext.get_stoplist(language):
            index.setdefault(word.casefold(), []).append(language)
    return {word: tuple(languages) for word, languages in index.items()}


@lru_cache(maxsize=8)
def _stoplist(language: str) -> frozenset[str]:
    import justext

    return frozenset(word.casefold() for word in justext.get_stoplist(language))


_ASCII_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    # ASCII text casefolds as it lowercases and holds no unspaced script: ``_WORD`` is ``\w+`` there.
    return _ASCII_WORD.findall(text.lower()) if text.isascii() else _WORD.findall(text.casefold())


def stopword_language(text: str) -> str | None:
    """The jusText stoplist whose words make up most of ``text``; None when none reaches
    ``MIN_LANGUAGE_SHARE`` (a language we have no stopwords for)."""
    return _best_language(_words(text)[:_LANGUAGE_SAMPLE])


def _best_language(words: list[str]) -> str | None:
    if not words:
        return None
    # Most news is English, and counting 99 languages costs more than the rest of the pass.
    english = _stoplist("English")
    if sum(map(english.__contains__, words)) / len(words) >= _SURELY_ENGLISH:
        return "English"
    index = _stopword_index()
    counts = Counter(chain.from_iterable(index.get(word, ()) for word in words))
    if not counts:
        return None
    language, hits = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return language if hits / len(words) >= MIN_LANGUAGE_SHARE else None


def _language(prose: list[_Line]) -> str | None:
    """``stopword_language`` of the lines long enough to be prose, from their tokens."""
    return _best_language(list(chain.from_iterable(line.tokens for line in prose))[:_LANGUAGE_SAMPLE])


def _has_cookie_word(text: str) -> bool:
    return "cookie" in text.lower() if text.isascii() else bool(_COOKIE_WORD.search(text))


def _separators(text: str) -> int:
    # "|" is the only one of them in ASCII text.
    return text.count("|") if text.isascii() else sum(map(text.count, _SEPARATOR_CHARS))


def _is_cue(text: str, is_listed: Callable[[str], bool]) -> bool:
    if is_listed(text) or len(text) < 600 and _has_cookie_word(text) and _COOKIE.search(text):
        return True
    if len(text) <= _MAX_CUE_LINE and (_SECTION_BREAK.match(text) or _COMMENTS.match(text)):
        return True
    # A menu: "Home | World | ..." (four items need three separators; most lines have none).
    separators = _separators(text)
    if separators >= 3:
        items = _SEPARATOR.split(text)
        if len(items) >= 4 and max(len(_words(item)) for item in items) <= 6:
            return True
    if len(text) > _MAX_CUE_LINE:
        return False
    # A match of ``_MENU`` holds a separator or a "/"; the prefilters of ``_copyright`` are exact too.
    return bool(_CUE_LINE.match(text) or _copyright(text) or (separators or "/" in text) and _MENU.search(text))


def _copyright(text: str) -> bool:
    """``_COPYRIGHT.search(text)``. An ASCII line holds none of its matches unless its lowercase
    holds "(c)", "copyright" or "all rights reserved" (no "©" in ASCII; lowercasing is the whole
    of IGNORECASE on ASCII text)."""
    if text.isascii():
        lowered = text.lower()
        if "(c)" not in lowered and "copyright" not in lowered and "all rights reserved" not in lowered:
            return False
    return bool(_COPYRIGHT.search(text))


def _stopword_share(words: list[str], index: dict[str, tuple[str, ...]]) -> float:
    """The share of ``words`` that are stopwords of the one language that has most of them:
    each line is judged in its own language (a quotation in English inside a French article)."""
    if not words:
        return 0.0
    counts = Counter(chain.from_iterable(index.get(word, ()) for word in words))
    return max(counts.values(), default=0) / len(words)


def _classify(lines: list[_Line], language: str, is_listed: Callable[[str], bool]) -> None:
    """jusText's context-free classes, with navigation cues made bad."""
    main = _stoplist(language)
    # A short line seen three times on one page is its furniture (carousel captions, ratings).
    seen = Counter(line.text for line in lines if len(line.text) < LENGTH_LOW)
    for line in lines:
        line.cue = _is_cue(line.text, is_listed) or seen[line.text] >= 3 or not _LETTER.search(line.text)
        if line.cue:
            line.cls = "bad"
            continue
        if len(line.text) < LENGTH_LOW:
            line.cls = "short"
            continue
        words = line.tokens
        share = sum(map(main.__contains__, words)) / len(words) if words else 0.0
        if share < STOPWORDS_LOW:  # perhaps a quotation in another language
            # The index of every language's stopwords takes a second to build: only here.
            share = max(share, _stopword_share(words, _stopword_index()))
        if share >= STOPWORDS_HIGH:
            line.cls = "good" if len(line.text) > LENGTH_HIGH else "neargood"
        elif share >= STOPWORDS_LOW:
            line.cls = "neargood"
        else:
            line.cls = "bad"


def _neighbours(classes: list[str], skip: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """For each line, the class of the nearest line before and after it whose class is not in
    ``skip``; "bad" past the edges (the edges of a page are its furniture). Linear time."""
    before, after = [], [""] * len(classes)
    last = "bad"
    for cls in classes:
        before.append(last)
        if cls not in skip:
            last = cls
    last = "bad"
    for i in range(len(classes) - 1, -1, -1):
        after[i] = last
        if classes[i] not in skip:
            last = classes[i]
    return before, after


def _revise(lines: list[_Line]) -> None:
    """jusText's context-sensitive pass: short lines, then near-good ones, follow neighbours."""
    classes = [line.cls for line in lines]
    prev, nxt = _neighbours(classes, ("short", "neargood"))
    prev_any, next_any = _neighbours(classes, ("short",))
    final = list(classes)
    for i, cls in enumerate(classes):
        if cls == "short" and not lines[i].cue:
            if prev[i] == nxt[i]:
                final[i] = prev[i]
            else:  # between good and bad: good if a near-good line is next to it on the bad side
                near = prev_any[i] if prev[i] == "bad" else next_any[i]
                final[i] = "good" if near == "neargood" else "bad"
        elif cls == "neargood":
            final[i] = "bad" if prev[i] == nxt[i] == "bad" else "good"
    for line, cls in zip(lines, final):
        line.first, line.cls = line.cls, cls


def _weight(line: _Line) -> float:
    """What a line adds to a block: its words when it is prose (context-free good), nothing when
    only its neighbours made it good, a loss when bad, a large one at a section break
    (comments, related stories), which the article rarely runs across."""
    if line.cue:
        if _COMMENTS.match(line.text):
            return -math.inf
        return -max(line.words, SECTION_BREAK_LOSS if _SECTION_BREAK.match(line.text) else 5)
    if line.cls == "good":
        return line.words if line.first in ("good", "neargood") else -1
    return -max(line.words, 2)


def _main_block(lines: list[_Line]) -> tuple[int, int] | None:
    """The run [start, end) with the most words of good lines net of bad ones (Kadane)."""
    best, best_span = 0.0, None
    total, start = 0.0, 0
    for i, line in enumerate(lines):
        weight = _weight(line)
        if total <= 0:
            total, start = 0.0, i
        total += weight
        if total > best:
            best, best_span = total, (start, i + 1)
    if best_span is None or best < MIN_BLOCK_WORDS:
        return None
    return best_span


def _head(lines: list[_Line], start: int, is_date: Callable[[str], bool]) -> list[int]:
    """The headline and a date line among the lines just before the block.

    Walking up from the block: a date line (byline and date sit between headline and body),
    then the first line that reads like a headline; a date line right above the headline
    belongs to it too (the seed's layout). ``is_date`` is slow (dateparser): it is asked only
    about short lines with a digit.
    """
    kept: list[int] = []
    date_found, tries = False, 0
    for i in range(start - 1, max(start - 1 - HEAD_WINDOW, -1), -1):
        text = lines[i].text
        if lines[i].cue:
            continue
        if _maybe_date(text):
            tries += 1
            if not date_found and tries <= _DATE_TRIES and is_date(text):
                kept.append(i)
                date_found = True
            continue
        if lines[i].words >= 3 and len(text) <= _MAX_HEADLINE and not text.endswith((".", ":")) \
                and not text.lower().startswith("by "):
            kept.append(i)
            if not date_found and i > 0 and _maybe_date(lines[i - 1].text) and is_date(lines[i - 1].text):
                kept.append(i - 1)
            break
    return sorted(kept)


def _maybe_date(text: str) -> bool:
    return len(text) <= _MAX_DATE_LINE and any(c.isdigit() for c in text)


def keep_main_block(paragraphs: list[str], *, is_listed: Callable[[str], bool] = lambda _: False,
                    is_date: Callable[[str], bool] = lambda _: False) -> tuple[list[str], int]:
    """The article's main block of ``paragraphs`` (blank-line-separated, lines within), with
    the headline and date line just before it; returns the paragraphs and lines removed.

    ``is_listed`` says whether a line is on the configured boilerplate list, ``is_date``
    whether it is a date line. Unchanged when the language has no stopword list or no block
    of at least ``MIN_BLOCK_WORDS`` good words stands out.
    """
    lines = [_Line(p, text, _words(text)) for p, paragraph in enumerate(paragraphs)
             for text in paragraph.split("\n") if text.strip()]
    language = _language([line for line in lines if len(line.text) >= LENGTH_LOW])
    if language is None or not lines:
        return paragraphs, 0
    _classify(lines, language, is_listed)
    _revise(lines)
    span = _main_block(lines)
    if span is None:
        return paragraphs, 0
    start, end = span
    head = _head(lines, start, is_date)
    body = [i for i in range(start, end) if not lines[i].cue and lines[i].cls == "good"]
    out = [lines[i].text for i in head]  # each a paragraph of its own, as the headline handling expects
    last = None
    for i in body:  # lines of one input paragraph stay together
        if lines[i].paragraph == last:
            out[-1] += "\n" + lines[i].text
        else:
            out.append(lines[i].text)
        last = lines[i].paragraph
    return out, len(lines) - len(head) - len(body)


def repeated_lines(texts: Iterable[str], *, min_share: float = 0.5, min_documents: int = 5,
                   max_chars: int = 300) -> set[str]:
    """Lines that appear in at least ``min_share`` of a source's texts: its furniture.

    Each text counts a line once; lines are compared with whitespace collapsed. Nothing is
    returned for fewer than ``min_documents`` texts (two articles may share a quotation), and
    lines longer than ``max_chars`` are never returned (a syndicated paragraph is content).
    """
    seen: Counter[str] = Counter()
    documents = 0
    for text in texts:
        documents += 1
        seen.update({key for line in text.split("\n") if (key := " ".join(line.split())) and len(key) <= max_chars})
    if documents < min_documents:
        return set()
    return {line for line, count in seen.items() if count >= min_share * documents}
