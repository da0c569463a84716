"""Tokens, BIO tags and CoNLL-2003 text for the ``ner`` config of a release.

The tokeniser is deliberately simple and stable (``\\w+|[^\\w\\s]``: words and single
punctuation marks) so that the same text gives the same tokens on any machine and in
any later version. Every token keeps its character offsets, so gold character spans map
to BIO tags and back.

A span whose edges fall inside a token is widened to whole tokens; a span overlapping an
earlier one cannot be written in BIO and is dropped. Both are counted
(``TagStats``) and reported by the release, never silently lost.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cache
from typing import IO, Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOKEN = re.compile(r"\w+|[^\w\s]")
# Sentence ends: a full stop, question or exclamation mark (not inside an entity).
_SENTENCE_END = frozenset({".", "!", "?"})
DOCSTART = "-DOCSTART- -X- -X- O"


@dataclass
class TagStats:
    """What the span -> BIO conversion had to change."""

    spans: int = 0
    widened: int = 0  # edges not on token boundaries: widened to whole tokens
    dropped_overlap: int = 0  # overlapping an earlier span: BIO cannot hold both
    dropped_empty: int = 0  # covering no token (only spaces)

    def add(self, other: TagStats) -> None:
        self.spans += other.spans
        self.widened += other.widened
        self.dropped_overlap += other.dropped_overlap
        self.dropped_empty += other.dropped_empty

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class ConllDocument:
    """One document read back from CoNLL text: sentences of (token, tag)."""

    sentences: list[list[tuple[str, str]]] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        return [tok for sentence in self.sentences for tok, _ in sentence]

    @property
    def tags(self) -> list[str]:
        return [tag for sentence in self.sentences for _, tag in sentence]


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Tokens of ``text`` with their start and end character offsets."""
    tokens: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for match in TOKEN.finditer(text):
        tokens.append(match.group())
        starts.append(match.start())
        ends.append(match.end())
    return tokens, starts, ends


def bio_tags(starts: Sequence[int], ends: Sequence[int], spans: Iterable[dict[str, Any]],
             stats: TagStats | None = None) -> list[str]:
    """BIO tag of every token (``B-LABEL``, ``I-LABEL``, ``O``) from character spans.

    The reference implementation: ``tag_batch`` does the same on Arrow batches.
    """
    tags = ["O"] * len(starts)
    stats = stats if stats is not None else TagStats()
    for span in sorted(spans or (), key=lambda s: (s["start"], -s["end"], s["label"])):
        stats.spans += 1
        # Tokens overlapping [start, end): first whose end > start, up to last whose start < end.
        first = bisect.bisect_right(ends, span["start"])
        last = bisect.bisect_left(starts, span["end"])
        if first >= last or span["end"] <= span["start"]:
            stats.dropped_empty += 1
            continue
        if any(tag != "O" for tag in tags[first:last]):
            stats.dropped_overlap += 1
            continue
        if starts[first] != span["start"] or ends[last - 1] != span["end"]:
            stats.widened += 1
        tags[first] = f"B-{span['label']}"
        for i in range(first + 1, last):
            tags[i] = f"I-{span['label']}"
    return tags


def tag_names(labels: Sequence[str]) -> list[str]:
    """The ``ner_tags`` ClassLabel names: ``O`` then B-/I- of each label, in scheme order."""
    names = ["O"]
    for label in labels:
        names += [f"B-{label}", f"I-{label}"]
    return names


def spans_from_tags(text: str, tokens: Sequence[str], tags: Sequence[str]) -> list[dict[str, Any]]:
    """Character spans ({start, end, label, text}) from tokens and BIO tags of ``text``.

    Tokens are found again in ``text`` in order, so CoNLL output (which has no offsets)
    can be checked against the gold spans of the ``documents`` config.
    """
    offsets = []
    position = 0
    for token in tokens:
        start = text.index(token, position)
        position = start + len(token)
        offsets.append((start, position))
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for (start, end), tag in zip(offsets, tags):
        kind, _, label = tag.partition("-")
        if kind == "I" and current is not None and current["label"] == label:
            current["end"] = end
            continue
        if current is not None:
            spans.append(current)
            current = None
        if kind in ("B", "I"):  # a stray I- starts a span, as conlleval does
            current = {"start": start, "end": end, "label": label}
    if current is not None:
        spans.append(current)
    for span in spans:
        span["text"] = text[span["start"]:span["end"]]
    return spans


def sentences(tokens: Sequence[str], tags: Sequence[str]) -> Iterator[list[tuple[str, str]]]:
    """Split a document into sentences after ``.``, ``!``, ``?`` that are not inside an entity."""
    sentence: list[tuple[str, str]] = []
    for i, (token, tag) in enumerate(zip(tokens, tags)):
        sentence.append((token, tag))
        next_tag = tags[i + 1] if i + 1 < len(tags) else "O"
        if token in _SENTENCE_END and not next_tag.startswith("I-"):
            yield sentence
            sentence = []
    if sentence:
        yield sentence


def write_document(fh: IO[str], tokens: Sequence[str], tags: Sequence[str]) -> None:
    """One document in CoNLL-2003 layout: ``-DOCSTART-``, then ``token -X- _ tag`` lines,
    a blank line after each sentence."""
    fh.write(DOCSTART + "\n\n")
    for sentence in sentences(tokens, tags):
        fh.write("".join(f"{token} -X- _ {tag}\n" for token, tag in sentence))
        fh.write("\n")


def read_conll(fh: IO[str]) -> list[ConllDocument]:
    """Documents of a CoNLL-2003 file (the last column is the tag)."""
    documents: list[ConllDocument] = []
    sentence: list[tuple[str, str]] = []

    def close_sentence() -> None:
        nonlocal sentence
        if sentence:
            if not documents:
                documents.append(ConllDocument())
            documents[-1].sentences.append(sentence)
            sentence = []

    for line in fh:
        line = line.rstrip("\n")
        if not line.strip():
            close_sentence()
            continue
        if line.startswith("-DOCSTART-"):
            close_sentence()
            documents.append(ConllDocument())
            continue
        parts = line.split(" ")
        sentence.append((parts[0], parts[-1]))
    close_sentence()
    return documents


# ------------------------------------------------------------------ Arrow batches
#
# Tokenising a million articles one regex match at a time costs minutes; Arrow's RE2
# kernels do the same in C++. RE2's \w is ASCII-only and its Unicode tables differ from
# Python's, so the character classes are spelled out from Python's own \w and \s: the
# batch tokeniser then agrees with ``tokenize`` on every code point (tested).


def _ranges(pattern: re.Pattern[str]) -> str:
    parts = []
    start = None
    for code in range(0x110001):
        hit = code < 0x110000 and not 0xD800 <= code <= 0xDFFF and pattern.match(chr(code)) is not None
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            end = code - 1
            parts.append(f"\\x{{{start:x}}}" if start == end else f"\\x{{{start:x}}}-\\x{{{end:x}}}")
            start = None
    return "".join(parts)


@cache
def _classes() -> tuple[str, str, np.ndarray]:
    word, space = _ranges(re.compile(r"\w")), _ranges(re.compile(r"\s"))
    space_codes = np.array([c for c in range(0x3001) if chr(c).isspace() and re.match(r"\s", chr(c))],
                           dtype=np.uint32)
    return word, space, space_codes


def tokenize_batch(texts: pa.Array) -> pa.ListArray:
    """``tokenize`` (tokens only) of every text, as a list<string> array.

    Every character that is neither a word character nor a plain space gets spaces around
    it, the text is split at spaces, and the empty pieces and whitespace characters other
    than the space (now tokens of their own) are dropped.
    """
    word, _, _ = _classes()
    spaced = pc.replace_substring_regex(texts, f"([^{word} ])", r" \1 ")
    pieces = pc.split_pattern(spaced, " ")
    flat = pc.list_flatten(pieces)
    keep = pc.invert(pc.is_in(flat, value_set=_dropped_pieces())).to_numpy(zero_copy_only=False)
    kept = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    offsets = kept[pieces.offsets.to_numpy()]
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat.filter(pa.array(keep)))


@cache
def _dropped_pieces() -> pa.Array:
    return pa.array(["", *(chr(c) for c in _classes()[2] if c != 0x20)], pa.string())


@cache
def _space_table() -> np.ndarray:
    table = np.zeros(0x3001, dtype=bool)
    table[_classes()[2]] = True
    return table


def _is_space(codes: np.ndarray) -> np.ndarray:
    table = _space_table()
    return table[np.minimum(codes, len(table) - 1)] & (codes < len(table))


def _code_points(texts: pa.Array) -> np.ndarray:
    """All code points of the batch, back to back."""
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset:texts.offset + len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    if not (data >= 0x80).any():  # ASCII: bytes are code points
        return data.astype(np.uint32)
    return np.frombuffer(data.tobytes().decode("utf-8").encode("utf-32-le"), dtype=np.uint32)


def tag_batch(texts: pa.Array, spans: pa.Array, labels: Sequence[str],
              stats: TagStats | None = None) -> tuple[pa.ListArray, pa.ListArray]:
    """Tokens and BIO tag ids (indices into ``tag_names(labels)``) of a batch of texts.

    ``spans``: list<struct<start, end, label: string>> per text (or a Python list of lists).
    Same result as ``tokenize`` + ``bio_tags`` per text, computed with Arrow and numpy.
    Tokens cover every character that is not whitespace, so in the batch's text with its
    whitespace removed ("compact" coordinates) token i starts at the sum of the lengths of
    the tokens before it, and span offsets map to token indices by binary search.
    """
    stats = stats if stats is not None else TagStats()
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(spans, (pa.Array, pa.ChunkedArray)):
        spans = pa.array([s or [] for s in spans],
                         pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("label", pa.string())])))
    if isinstance(spans, pa.ChunkedArray):
        spans = spans.combine_chunks()
    tokens = tokenize_batch(texts)
    flat = pc.list_flatten(tokens)
    tags = np.zeros(len(flat), dtype=np.int64)
    flat_spans = pc.list_flatten(spans)
    n_spans = len(flat_spans)
    if n_spans:
        doc = pc.list_parent_indices(spans).to_numpy()
        text_lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
        raw_start = flat_spans.field("start").to_numpy(zero_copy_only=False).astype(np.int64)
        raw_end = flat_spans.field("end").to_numpy(zero_copy_only=False).astype(np.int64)
        label = pc.index_in(flat_spans.field("label"), pa.array(list(labels))).to_numpy(zero_copy_only=False)
        # The reference order: by document, then start, longest first, then label.
        alphabetical = np.argsort(np.argsort(np.array(list(labels), dtype=object)))
        order = np.lexsort((alphabetical[label.astype(np.int64)], -raw_end, raw_start, doc))
        doc, raw_start, raw_end, label = doc[order], raw_start[order], raw_end[order], label[order].astype(np.int64)
        start = np.clip(raw_start, 0, text_lengths[doc])
        end = np.clip(raw_end, 0, text_lengths[doc])
        text_offsets = np.concatenate(([0], np.cumsum(text_lengths)))
        is_space = _is_space(_code_points(texts))
        spaces = np.concatenate(([0], np.cumsum(is_space, dtype=np.int64)))
        # Global compact coordinates: the whitespace-free text of the whole batch.
        base = text_offsets[doc]
        compact_start = base + start - spaces[base + start]
        compact_end = base + end - spaces[base + end]
        lengths = pc.utf8_length(flat).to_numpy(zero_copy_only=False).astype(np.int64)
        token_starts = np.concatenate(([0], np.cumsum(lengths)))
        empty = (compact_end <= compact_start) | (raw_end <= raw_start)
        first = np.searchsorted(token_starts, compact_start, "right") - 1
        last = np.searchsorted(token_starts, compact_end - 1, "right") - 1
        # Token indices are global and increase with the document, so a span overlaps an
        # earlier one of its document exactly when it starts at or before their furthest end.
        reach = np.where(empty, -1, last)
        before = np.concatenate(([-1], np.maximum.accumulate(reach)[:-1]))
        overlap = ~empty & (first <= before)
        if overlap.any():
            # Which overlapping spans BIO keeps depends on the ones kept before: decide those
            # documents one span at a time, as bio_tags does.
            keep = ~empty & ~overlap
            for d in np.unique(doc[overlap]):
                last_kept = -1
                for k in np.flatnonzero(doc == d):
                    keep[k] = not empty[k] and first[k] > last_kept
                    if keep[k]:
                        last_kept = last[k]
        else:
            keep = ~empty
        starts_in_space = is_space[np.minimum(base + start, len(is_space) - 1)]
        ends_in_space = is_space[np.maximum(base + end - 1, 0)]
        widened = keep & ((token_starts[first] != compact_start) | (token_starts[last + 1] != compact_end)
                          | starts_in_space | ends_in_space | (raw_start != start) | (raw_end != end))
        stats.spans += n_spans
        stats.dropped_empty += int(empty.sum())
        stats.dropped_overlap += int((~empty & ~keep).sum())
        stats.widened += int(widened.sum())
        first, last, label = first[keep], last[keep], label[keep]
        inside = np.zeros(len(flat) + 1, dtype=np.int64)
        np.add.at(inside, first + 1, 2 + 2 * label)
        np.add.at(inside, last + 1, -(2 + 2 * label))
        tags = np.cumsum(inside[:-1])
        tags[first] = 1 + 2 * label
    tag_lists = pa.ListArray.from_arrays(tokens.offsets, pa.array(tags, pa.int64()))
    return tokens, tag_lists


def conll_buffer(tokens: pa.ListArray, tags: pa.ListArray, names: Sequence[str]) -> pa.Buffer | bytes:
    """CoNLL-2003 text of a batch, exactly what ``write_document`` writes for each document
    (documents without tokens are left out)."""
    flat_tokens = pc.list_flatten(tokens)
    n = len(flat_tokens)
    if n == 0:
        return b""
    tag_ids = pc.list_flatten(tags).to_numpy(zero_copy_only=False)
    tag_text = pa.array(list(names), pa.string()).take(pa.array(tag_ids))
    offsets = tokens.offsets.to_numpy()
    non_empty = offsets[1:] > offsets[:-1]
    inside_next = np.zeros(n + 1, dtype=bool)
    inside_next[:n] = (tag_ids > 0) & (tag_ids % 2 == 0)
    blank = pc.is_in(flat_tokens, pa.array(sorted(_SENTENCE_END))).to_numpy(zero_copy_only=False)
    blank = blank & ~inside_next[1:]
    blank[offsets[1:][non_empty] - 1] = True
    first = np.zeros(n, dtype=np.int8)
    first[offsets[:-1][non_empty]] = 1
    prefix = pa.array(["", DOCSTART + "\n\n"]).take(pa.array(first))
    suffix = pa.array(["\n", "\n\n"]).take(pa.array(blank.astype(np.int8)))
    lines = pc.binary_join_element_wise(prefix, flat_tokens, " -X- _ ", tag_text, suffix, "")
    # A string array without nulls keeps its values back to back in one buffer.
    value_offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if lines.type == pa.string() else np.int64)
    value_offsets = value_offsets[lines.offset:lines.offset + n + 1]
    return lines.buffers()[2][int(value_offsets[0]):int(value_offsets[-1])]
