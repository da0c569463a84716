"""MinHash signatures of word shingles, computed with numpy: a third of a millisecond an article.

The shingles are those near-duplicate detection has always used: the lowercased ``\\w+``
words of a text in runs of ``shingle_size`` (a text with fewer words is one shingle). Each
word is hashed once (xxh3, 64 bits, a C function mapped over the words), a shingle's hash is
combined from its words' hashes (a weighted sum per position, then the splitmix64 finaliser,
all on numpy arrays), and the ``num_perm`` hash functions are multiply-shift functions
``(a * x + b) mod 2**64 >> 32`` with fixed odd multipliers, applied to every shingle in one
numpy operation, with the minimum taken per function. The signature is ``num_perm``
little-endian uint32 values.

Why not datasketch's ``MinHash``: it hashes each shingle string with sha1 in Python and
permutes them with per-call setup, about 2.6 times the time (0.9 ms an article, measured in
BENCHMARKS.md), about 30 % of an ingest's per-article time. Every constant here is derived
from fixed seeds with splitmix64 (never Python's ``hash()``, which is salted per process), so a
signature is the same in every process and every run. Signatures of another scheme (an
earlier ingest's datasketch ones) are not comparable with these: ``SIGNATURE_SCHEME`` names
this one, and whoever stores signatures stores it with them.

The fraction of equal values of two signatures estimates the Jaccard similarity of the two
shingle sets without bias: after the finaliser, shingle hashes behave as random 64-bit
values, each function maps them one-to-one, so the smallest of the union falls in the
intersection with probability Jaccard (tests/test_minhash.py checks it against exact Jaccard).
"""

from __future__ import annotations

import re

import numpy as np
import xxhash

__all__ = ["SIGNATURE_SCHEME", "signature", "shingle_hashes", "finalise"]

SIGNATURE_SCHEME = "xxh3-multiplyshift-v1"

_WORDS = re.compile(r"\w+")
_ASCII_WORDS = re.compile(rb"\w+")
_MASK64 = (1 << 64) - 1
_MAX_SHINGLE = 64  # position weights precomputed; config bounds shingle_size to 50
_MAX_PERM = 4096  # config bounds num_perm to 1024


def _splitmix64(state: int) -> tuple[int, int]:
    """(next state, output): the splitmix64 generator, in plain integers (stable forever)."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _constants(seed: int, n: int) -> np.ndarray:
    values, state = [], seed
    for _ in range(n):
        state, value = _splitmix64(state)
        values.append(value)
    return np.array(values, dtype=np.uint64)


_POSITION = _constants(0x5EED_0001, _MAX_SHINGLE) | np.uint64(1)  # odd: a position weight never zeroes a word
_A = _constants(0x5EED_0002, _MAX_PERM) | np.uint64(1)  # odd multipliers: one-to-one on 64-bit values
_B = _constants(0x5EED_0003, _MAX_PERM)
_LENGTH = _constants(0x5EED_0004, _MAX_SHINGLE + 1)  # tells a short text's one shingle from a full one


def finalise(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on each value (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash_word(word: str) -> int:
    # A lone surrogate cannot be UTF-8; hash its code units as they are.
    return xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"))


def _word_hashes(text: str) -> np.ndarray:
    if text.isascii():
        # In ASCII, lowercasing maps word characters to word characters one for one, and
        # ``\w`` of bytes is ``\w`` of str: the words of the lowercased bytes, already encoded.
        encoded = _ASCII_WORDS.findall(text.lower().encode("ascii"))
    else:
        words = _WORDS.findall(text)
        if not words:
            return np.zeros(0, dtype=np.uint64)
        # Lowering the words joined by spaces lowers each word as word.lower() would (a space is
        # neither cased nor case-ignorable, so no casing context crosses it), in one call; no
        # lowercase word holds a space, and in UTF-8 byte 0x20 is only ever a space, so the
        # encoding of the whole split at spaces is the words' encodings.
        joined = " ".join(words).lower()
        try:
            encoded = joined.encode("utf-8").split(b" ")
        except UnicodeEncodeError:
            words = joined.split(" ")
            return np.fromiter(map(_hash_word, words), dtype=np.uint64, count=len(words))
    return np.fromiter(map(xxhash.xxh3_64_intdigest, encoded), dtype=np.uint64, count=len(encoded))


def shingle_hashes(text: str, shingle_size: int) -> np.ndarray:
    """One 64-bit hash per shingle of ``text`` (repeated shingles repeat their hash)."""
    if not 1 <= shingle_size <= _MAX_SHINGLE:
        raise ValueError(f"shingle_size must be between 1 and {_MAX_SHINGLE}, not {shingle_size}")
    words = _word_hashes(text)
    size = min(shingle_size, len(words))  # fewer words than a shingle: all of them are one
    count = len(words) - size + 1
    combined = np.full(count, _LENGTH[size], dtype=np.uint64)
    for position in range(size):
        combined += words[position:position + count] * _POSITION[position]
    return finalise(combined)


def signature(text: str, num_perm: int, shingle_size: int) -> bytes:
    """The MinHash signature of ``text``'s word shingles: ``num_perm`` little-endian uint32."""
    if not 1 <= num_perm <= _MAX_PERM:
        raise ValueError(f"num_perm must be between 1 and {_MAX_PERM}, not {num_perm}")
    shingles = shingle_hashes(text, shingle_size)
    # (a * x + b) mod 2**64, high 32 bits: one row per shingle, one column per hash function.
    # The shift is monotone, so it is taken of the column minima only.
    values = shingles[:, None] * _A[None, :num_perm]
    values += _B[None, :num_perm]
    return (values.min(axis=0) >> np.uint64(32)).astype("<u4").tobytes()
