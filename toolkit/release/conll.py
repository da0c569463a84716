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
# Tokenising a million articles one regex match at a time costs minutes. The batch
# tokeniser works on the UTF-8 bytes of a whole batch at once with numpy: a table gives
# every code point its class under Python's own ``\w`` and ``\s`` (so it agrees with
# ``tokenize`` on every code point, tested); tokens start where a run of word characters
# starts or at any other non-space character; and the token strings are the batch's bytes
# with the whitespace taken out, cut at the token boundaries. No Python object per token
# is ever made, and ASCII text (most of it) never leaves bytes.

_SPACE, _WORD, _OTHER = 0, 1, 2


@cache
def _char_classes() -> np.ndarray:
    """Class (``_SPACE``, ``_WORD``, ``_OTHER``) of every code point, from Python's ``re``."""
    table = np.full(0x110000, _OTHER, dtype=np.uint8)
    for low, high in ((0, 0xD800), (0xE000, 0x110000)):  # surrogates never occur in UTF-8
        chars = "".join(map(chr, range(low, high)))
        for pattern, kind in ((r"\w+", _WORD), (r"\s+", _SPACE)):
            for match in re.finditer(pattern, chars):
                table[low + match.start():low + match.end()] = kind
    return table


@cache
def _byte_classes() -> pa.Array:
    """Class of every byte value: ASCII characters, and ``_OTHER`` for the bytes of longer characters."""
    return pa.array(np.concatenate((_char_classes()[:128], np.full(128, _OTHER, dtype=np.uint8))))


def warm_up() -> None:
    """Build the tokeniser's tables now rather than at the first batch."""
    _byte_classes()


@dataclass
class _Tokens:
    """Tokens of a batch: ``tokens`` (list<string>, one list per text) and the byte offsets
    of each token in the batch's UTF-8 data, with what maps character offsets to bytes."""

    tokens: pa.ListArray
    starts: np.ndarray  # byte offset of each token in the batch
    ends: np.ndarray
    char_offsets: np.ndarray  # character offset of each text in the batch, plus the total
    tails: np.ndarray  # the batch's tail bytes (those after the first of a character), minus their rank

    def to_bytes(self, chars: np.ndarray) -> np.ndarray:
        """Byte offsets in the batch of global character offsets (the end of the batch included).

        Character c starts after c whole characters and the tail bytes among them: those
        with at most c non-tail bytes before them.
        """
        return chars + np.searchsorted(self.tails, chars, "right") if len(self.tails) else chars


def _tokenize_arrow(texts: pa.Array) -> _Tokens:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset:texts.offset + len(texts) + 1]
    byte_offsets = offsets.astype(np.int64) - offsets[0]
    n_bytes = int(byte_offsets[-1])
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if n_bytes \
        else np.zeros(0, dtype=np.uint8)
    table = _char_classes()
    kind = pc.take(_byte_classes(), pa.array(data)).to_numpy(zero_copy_only=False)
    high = np.flatnonzero(data >= 0x80)
    tails = np.zeros(0, dtype=np.int64)
    # Byte i continues the token of byte i - 1: within a run of word characters, or a tail
    # byte of a multi-byte character. Never across two texts.
    continues = np.zeros(n_bytes + 1, dtype=bool)
    if len(high):
        tail = (data[high] & 0xC0) == 0x80
        lead = high[~tail]
        b0 = data[lead].astype(np.uint32)
        size = 2 + (b0 >= 0xE0).astype(np.int64) + (b0 >= 0xF0)
        b1, b2, b3 = (data[np.minimum(lead + k, n_bytes - 1)].astype(np.uint32) & 0x3F for k in (1, 2, 3))
        code = np.where(size == 2, ((b0 & 0x1F) << 6) | b1,
                        np.where(size == 3, ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
                                 ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3))
        kind = kind.copy()  # writable
        kind[lead] = table[code]
        for extra in (1, 2, 3):  # tail bytes take their character's class
            has = lead[size > extra]
            kind[has + extra] = kind[has]
        tails = high[tail]
        continues[tails] = True
        tails = tails - np.arange(len(tails))
    word = kind == _WORD
    continues[1:-1] |= word[1:] & word[:-1]
    lengths = byte_offsets[1:] - byte_offsets[:-1]
    continues[byte_offsets[:-1][lengths > 0]] = False
    continues[-1] = False
    keep = kind != _SPACE
    starts = np.flatnonzero(keep & ~continues[:-1])
    ends = np.flatnonzero(keep & ~continues[1:]) + 1
    n_tokens = len(starts)
    # Tokens cover every kept byte, in order: token k starts, in the kept bytes, at the
    # summed lengths of the tokens before it.
    compact = np.zeros(n_tokens + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=compact[1:])
    flat = pa.StringArray.from_buffers(n_tokens, pa.py_buffer(compact.astype(np.int32)),
                                       pa.py_buffer(data[keep]))
    list_offsets = np.searchsorted(starts, byte_offsets).astype(np.int32)
    if len(tails):
        char_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(pc.utf8_length(texts).to_numpy(zero_copy_only=False), out=char_offsets[1:])
    else:
        char_offsets = byte_offsets
    return _Tokens(pa.ListArray.from_arrays(pa.array(list_offsets), flat), starts, ends, char_offsets, tails)


def tag_batch(texts: pa.Array, spans: pa.Array, labels: Sequence[str],
              stats: TagStats | None = None) -> tuple[pa.ListArray, pa.ListArray]:
    """Tokens and BIO tag ids (indices into ``tag_names(labels)``) of a batch of texts.

    ``spans``: list<struct<start, end, label: string>> per text (or a Python list of lists).
    Same result as ``tokenize`` + ``bio_tags`` per text, computed with Arrow and numpy:
    span offsets, moved to the batch's global character offsets, map to token indices by
    binary search on the token starts and ends.
    """
    stats = stats if stats is not None else TagStats()
    if not isinstance(spans, (pa.Array, pa.ChunkedArray)):
        spans = pa.array([s or [] for s in spans],
                         pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("label", pa.string())])))
    if isinstance(spans, pa.ChunkedArray):
        spans = spans.combine_chunks()
    tok = _tokenize_arrow(texts)
    n_tokens = len(tok.starts)
    tags = np.zeros(n_tokens, dtype=np.int64)
    flat_spans = pc.list_flatten(spans)
    n_spans = len(flat_spans)
    if n_spans:
        doc = pc.list_parent_indices(spans).to_numpy()
        raw_start = flat_spans.field("start").to_numpy(zero_copy_only=False).astype(np.int64)
        raw_end = flat_spans.field("end").to_numpy(zero_copy_only=False).astype(np.int64)
        label = pc.index_in(flat_spans.field("label"), pa.array(list(labels))).to_numpy(zero_copy_only=False)
        # The reference order: by document, then start, longest first, then label.
        alphabetical = np.argsort(np.argsort(np.array(list(labels), dtype=object)))
        order = np.lexsort((alphabetical[label.astype(np.int64)], -raw_end, raw_start, doc))
        doc, raw_start, raw_end, label = doc[order], raw_start[order], raw_end[order], label[order].astype(np.int64)
        base = tok.char_offsets[doc]
        length = tok.char_offsets[doc + 1] - base
        clipped_start, clipped_end = np.clip(raw_start, 0, length), np.clip(raw_end, 0, length)
        start, end = tok.to_bytes(base + clipped_start), tok.to_bytes(base + clipped_end)
        # Tokens overlapping [start, end): the first whose end > start to the last whose start < end.
        first = np.searchsorted(tok.ends, start, "right")
        last = np.searchsorted(tok.starts, end, "left") - 1
        empty = (first > last) | (raw_end <= raw_start)
        # Token indices are global and increase with the document, so a span overlaps an
        # earlier one of its document exactly when it starts at or before their furthest end.
        reach = np.where(empty, -1, last)
        before = np.concatenate(([-1], np.maximum.accumulate(reach)[:-1]))
        overlap = ~empty & (first <= before)
        keep = ~empty & ~overlap
        if overlap.any():
            # Which overlapping spans BIO keeps depends on the ones kept before: decide those
            # documents one span at a time, as bio_tags does.
            for d in np.unique(doc[overlap]):
                last_kept = -1
                for k in np.flatnonzero(doc == d):
                    keep[k] = not empty[k] and first[k] > last_kept
                    if keep[k]:
                        last_kept = last[k]
        widened = keep & ((tok.starts[np.minimum(first, n_tokens - 1)] != start)
                          | (tok.ends[np.maximum(last, 0)] != end)
                          | (clipped_start != raw_start) | (clipped_end != raw_end)) if n_tokens else keep
        first, last, label = first[keep], last[keep], label[keep]
        stats.spans += n_spans
        stats.dropped_empty += int(empty.sum())
        stats.dropped_overlap += int((~empty & ~keep).sum())
        stats.widened += int(widened.sum())
        # Kept spans do not overlap: tag ids are B = 1 + 2 * label, then I = 2 + 2 * label.
        inside = np.zeros(n_tokens + 1, dtype=np.int64)
        inside[first + 1] += 2 + 2 * label
        inside[last + 1] -= 2 + 2 * label
        tags = np.cumsum(inside[:-1])
        tags[first] = 1 + 2 * label
    tag_lists = pa.ListArray.from_arrays(tok.tokens.offsets, pa.array(tags, pa.int64()))
    return tok.tokens, tag_lists


@cache
def _line_ends(names: tuple[str, ...]) -> pa.Array:
    """What follows a token on its line, per (tag, where): ``where`` 0 inside a sentence,
    1 at a sentence end, 2 at the end of a document followed by another."""
    ends = ("\n", "\n\n", "\n\n" + DOCSTART + "\n\n")
    return pa.array([f" -X- _ {name}{end}" for name in names for end in ends], pa.string())


def conll_buffer(tokens: pa.ListArray, tags: pa.ListArray, names: Sequence[str]) -> bytes:
    """CoNLL-2003 text of a batch, exactly what ``write_document`` writes for each document
    (documents without tokens are left out)."""
    return b"".join(conll_chunks(tokens, tags, names))


def conll_chunks(tokens: pa.ListArray, tags: pa.ListArray, names: Sequence[str]) -> list[Any]:
    """``conll_buffer`` as buffers to write one after the other, without copying them into one."""
    flat_tokens = pc.list_flatten(tokens)
    n = len(flat_tokens)
    if n == 0:
        return []
    tag_ids = pc.list_flatten(tags).to_numpy(zero_copy_only=False)
    offsets = tokens.offsets.to_numpy()
    doc_last = offsets[1:][offsets[1:] > offsets[:-1]] - 1
    inside_next = np.zeros(n + 1, dtype=bool)
    inside_next[:n] = (tag_ids > 0) & (tag_ids % 2 == 0)
    # Sentence ends: one-byte tokens that are a full stop, question or exclamation mark.
    value_offsets = np.frombuffer(flat_tokens.buffers()[1], dtype=np.int32)[flat_tokens.offset:][:n + 1]
    data = np.frombuffer(flat_tokens.buffers()[2], dtype=np.uint8)
    first_byte = data[np.minimum(value_offsets[:-1], len(data) - 1)]
    mark = np.zeros(n, dtype=bool)
    for char in _SENTENCE_END:
        mark |= first_byte == ord(char)
    where = (mark & (np.diff(value_offsets) == 1) & ~inside_next[1:]).astype(np.int64)
    where[doc_last] = 2
    where[doc_last[-1]] = 1
    # Token k, then what ends its line: one ``take`` from the tokens followed by the line
    # ends leaves the whole text back to back in the result's data buffer.
    source = pa.concat_arrays([flat_tokens, _line_ends(tuple(names))])
    order = np.empty(2 * n, dtype=np.int32)
    order[0::2] = np.arange(n, dtype=np.int32)
    order[1::2] = n + tag_ids * 3 + where
    lines = source.take(pa.array(order))
    value_offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:lines.offset + 2 * n + 1]
    body = lines.buffers()[2][int(value_offsets[0]):int(value_offsets[-1])]
    return [DOCSTART.encode() + b"\n\n", body]
