"""Exact and near-duplicate detection, with the index on disk.

Exact duplicates share a content key (the body with whitespace collapsed), hence an article
id. Near-duplicates (syndicated copies with small edits) are found with MinHash LSH: each
article's signature (``num_perm`` hash values over its word shingles, ``minhash``) is cut into ``b`` bands
of ``r`` values (datasketch's choice of ``b`` and ``r`` for the threshold, ``optimal_bands``); two articles that
share a band are candidates, and a candidate pair is confirmed when the estimated Jaccard
similarity (the share of equal hash values) reaches the threshold. Confirmed pairs are merged
into clusters; a cluster's id is the smallest ``article_id`` in it, so it depends only on which
articles are in it, never on the order they came in.

Nothing of this is held in memory for the whole corpus. Each part of the articles table has
its index on disk (``PartIndex``, under ``annotations/ingest-state/index/``): the signatures
in row order, each band's 64-bit keys sorted, and the article ids and source keys sorted. An
ingest memory-maps them: candidates for new articles are found by binary search of their band
keys in each earlier part's sorted keys (and by sorting the new part's own keys), and only
the signatures of candidate pairs are read. Memory is the ids and source keys of the table
(about 30 bytes an article) plus the new part's band keys while it is sorted; the
verified clusters (a small share of the articles) are kept in ``articles/_clusters-*.parquet``.

Candidate pairs are exactly the pairs sharing a band (a 64-bit key collision only adds a
pair that the Jaccard check then rejects), so the clusters are those of an in-memory LSH over
the same signatures, whatever the parts the articles were ingested in.
"""

from __future__ import annotations

import hashlib
from array import array
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..articles import article_id, content_key
from . import minhash as _minhash

__all__ = ["article_id", "content_key", "signature", "SIGNATURE_SCHEME", "Bands", "PartIndex",
           "optimal_bands", "id_number", "id_text", "source_key", "candidate_pairs", "confirm", "Clusters"]

# The signature (``minhash``): one function for the workers and for an index rebuilt from texts.
signature = _minhash.signature
SIGNATURE_SCHEME = _minhash.SIGNATURE_SCHEME


def id_number(aid: str) -> int:
    """An article id (16 hex digits) as the unsigned 64-bit number it spells; the order of the
    numbers is the order of the ids."""
    return int(aid, 16)


def id_text(number: int) -> str:
    return f"{number:016x}"


def source_key(aid: str, file: str, sha256: str) -> int:
    """64 bits naming one (article, source file, file bytes) triple: was this document already
    ingested from this file?"""
    digest = hashlib.blake2b(f"{aid}\0{file}\0{sha256}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's ``MinHashLSH`` choice of (b, r) for a threshold: the split of ``num_perm``
    hash values into ``b`` bands of ``r`` that minimises the probabilities of a false positive
    and of a false negative, equally weighted. datasketch integrates them with scipy (importing
    it costs most of a second of every ingest); the integrands are polynomials of degree
    ``b * r``, so Gauss-Legendre quadrature with ``num_perm // 2 + 2`` nodes is exact."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    low = (nodes + 1) * threshold / 2  # the nodes mapped onto [0, threshold] ...
    high = threshold + (nodes + 1) * (1 - threshold) / 2  # ... and onto [threshold, 1]
    best, best_error = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            false_positive = threshold / 2 * float(np.dot(weights, 1 - (1 - low ** r) ** b))
            false_negative = (1 - threshold) / 2 * float(np.dot(weights, (1 - high ** r) ** b))
            error = 0.5 * false_positive + 0.5 * false_negative
            if error < best_error:
                best_error, best = error, (b, r)
    return best


@dataclass(frozen=True)
class Bands:
    """How a signature is cut into LSH bands: ``b`` bands of ``r`` hash values.

    LSH only proposes candidates; a lower LSH threshold than the one verified trades a little
    work for fewer missed pairs, and keeps at least two bands (datasketch cannot choose
    parameters for thresholds near 1)."""

    threshold: float
    num_perm: int
    b: int
    r: int

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int) -> "Bands":
        return cls(threshold, num_perm, *optimal_bands(min(max(threshold - 0.1, 0.05), 0.9), num_perm))

    def keys(self, signatures: np.ndarray) -> np.ndarray:
        """(b, n) uint64: each band's key for each of the ``n`` signatures (rows of uint32)."""
        n = signatures.shape[0]
        values = signatures[:, :self.b * self.r].reshape(n, self.b, self.r).astype(np.uint64)
        h = np.full((n, self.b), _FNV_OFFSET, dtype=np.uint64)
        h ^= np.arange(self.b, dtype=np.uint64)  # the same values in two bands are not a match
        for j in range(self.r):
            h ^= values[:, :, j]
            h *= _FNV_PRIME
        return np.ascontiguousarray(_minhash.finalise(h).T)  # splitmix64: every bit mixed


class PartIndex:
    """The on-disk index of one part of the articles table (see the module docstring).

    Files ``<stem>.sig`` (rows x num_perm uint32, row order), ``<stem>.ids.npy`` (article ids as
    uint64, row order), ``<stem>.keys.npy`` / ``<stem>.keyrows.npy`` ((b, rows): each band's keys
    sorted, and the row each came from), ``<stem>.sources.npy`` (source keys of the rows'
    original sources, sorted) and ``<stem>.json`` (what it describes), written last.
    """

    def __init__(self, folder: Path, stem: str, num_perm: int) -> None:
        self.folder, self.stem, self.num_perm = folder, stem, num_perm

    def path(self, suffix: str) -> Path:
        return self.folder / f"{self.stem}{suffix}"

    def valid_for(self, describes: dict) -> bool:
        try:
            return json.loads(self.path(".json").read_text(encoding="utf-8")) == describes
        except (OSError, ValueError):
            return False

    @property
    def rows(self) -> int:
        return int(np.load(self.path(".ids.npy"), mmap_mode="r").shape[0])

    def ids(self) -> np.ndarray:
        return np.load(self.path(".ids.npy"))

    def source_keys(self) -> np.ndarray:
        return np.load(self.path(".sources.npy"))

    def band_keys(self) -> tuple[np.ndarray, np.ndarray]:
        return np.load(self.path(".keys.npy"), mmap_mode="r"), np.load(self.path(".keyrows.npy"), mmap_mode="r")

    def signatures(self) -> np.ndarray:
        rows = os.path.getsize(self.path(".sig")) // (4 * self.num_perm)
        if rows == 0:
            return np.zeros((0, self.num_perm), dtype="<u4")
        return np.memmap(self.path(".sig"), dtype="<u4", mode="r", shape=(rows, self.num_perm))

    def remove(self) -> None:
        for suffix in (".json", ".sig", ".ids.npy", ".keys.npy", ".keyrows.npy", ".sources.npy"):
            self.path(suffix).unlink(missing_ok=True)


class PartIndexWriter:
    """Builds a ``PartIndex`` row by row (signatures go straight to disk), then sorts its keys."""

    def __init__(self, index: PartIndex) -> None:
        self.index = index
        index.remove()
        index.folder.mkdir(parents=True, exist_ok=True)
        self._sig = open(index.path(".sig"), "wb")
        self._ids = array("Q")  # 8 bytes a row, not a Python int's 32
        self._sources = array("Q")

    def add(self, aid_number: int, signature_bytes: bytes, sources: Iterable[int]) -> None:
        if len(signature_bytes) != 4 * self.index.num_perm:
            raise ValueError(f"a signature of {len(signature_bytes) // 4} hash values, "
                             f"not num_perm = {self.index.num_perm}")
        self._sig.write(signature_bytes)
        self._ids.append(aid_number)
        self._sources.extend(sources)

    def finish(self, bands: Bands, describes: dict, chunk: int = 100_000) -> PartIndex:
        """Write the ids, source keys and each band's sorted keys. The keys are made into
        memory-mapped files and sorted one band at a time: about 20 bytes a row in memory."""
        self._sig.close()
        index = self.index
        np.save(index.path(".ids.npy"), np.frombuffer(self._ids, dtype=np.uint64))
        np.save(index.path(".sources.npy"), np.sort(np.frombuffer(self._sources, dtype=np.uint64)))
        self._ids, self._sources = array("Q"), array("Q")
        sigs = index.signatures()
        n = sigs.shape[0]
        keys = np.lib.format.open_memmap(index.path(".keys.npy"), mode="w+", dtype=np.uint64, shape=(bands.b, n))
        rows = np.lib.format.open_memmap(index.path(".keyrows.npy"), mode="w+", dtype=np.uint32, shape=(bands.b, n))
        for start in range(0, n, chunk):
            keys[:, start:start + chunk] = bands.keys(np.asarray(sigs[start:start + chunk]))
        for band in range(bands.b):
            values = np.asarray(keys[band])
            order = np.argsort(values, kind="stable")
            keys[band] = values[order]
            rows[band] = order
            del values, order
        keys.flush()
        rows.flush()
        del keys, rows, sigs
        index.path(".json").write_text(json.dumps(describes, sort_keys=True), encoding="utf-8")
        return index

    def abort(self) -> None:
        self._sig.close()
        self.index.remove()


def _pairs_within(keys: np.ndarray, rows: np.ndarray, offset: int) -> Iterator[np.ndarray]:
    """Pairs (global row numbers, low first) of rows sharing a key, one band's sorted keys."""
    if len(keys) < 2:
        return
    same = np.flatnonzero(keys[1:] == keys[:-1])
    if not len(same):
        return
    # Runs of equal keys: every pair in a run (runs are short; a long one is rare and costly
    # in any LSH, which compares a query with its whole bucket too).
    starts = same[np.r_[True, np.diff(same) > 1]]
    ends = np.searchsorted(keys, keys[starts], side="right")
    for start, end in zip(starts.tolist(), ends.tolist()):
        members = rows[start:end].astype(np.int64) + offset
        a, b = np.triu_indices(len(members), k=1)
        yield np.stack([members[a], members[b]], axis=1)


def _pairs_across(new_keys: np.ndarray, new_rows: np.ndarray, new_offset: int, old_keys: np.ndarray,
                  old_rows: np.ndarray, old_offset: int) -> np.ndarray | None:
    """Pairs (old global row, new global row) sharing a key in one band of two parts."""
    lo = np.searchsorted(old_keys, new_keys, side="left")
    hi = np.searchsorted(old_keys, new_keys, side="right")
    counts = hi - lo
    hit = np.flatnonzero(counts)
    if not len(hit):
        return None
    counts = counts[hit]
    new_side = np.repeat(np.asarray(new_rows[hit], dtype=np.int64) + new_offset, counts)
    # positions lo[h] .. hi[h]-1 for each hit h, flattened
    starts = np.repeat(lo[hit], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    old_side = np.asarray(old_rows[starts + within], dtype=np.int64) + old_offset
    return np.stack([old_side, new_side], axis=1)


def candidate_pairs(parts: Sequence[PartIndex], offsets: Sequence[int], first_new: int,
                    bands: Bands) -> np.ndarray:
    """Unique candidate pairs (global rows, low first) that involve a part from ``first_new`` on:
    within each such part, and between it and every part before it."""
    found: list[np.ndarray] = []
    for p in range(first_new, len(parts)):
        keys_p, rows_p = parts[p].band_keys()
        for band in range(bands.b):
            new_keys, new_rows = np.asarray(keys_p[band]), np.asarray(rows_p[band])
            found.extend(_pairs_within(new_keys, new_rows, offsets[p]))
            for q in range(p):
                keys_q, rows_q = parts[q].band_keys()
                pairs = _pairs_across(new_keys, new_rows, offsets[p], keys_q[band], rows_q[band], offsets[q])
                if pairs is not None:
                    found.append(pairs)
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


def confirm(pairs: np.ndarray, parts: Sequence[PartIndex], offsets: Sequence[int], threshold: float,
            chunk: int = 50_000) -> np.ndarray:
    """The candidate pairs whose estimated Jaccard similarity reaches ``threshold``."""
    if not len(pairs):
        return pairs
    signatures = [p.signatures() for p in parts]
    bounds = np.asarray(offsets, dtype=np.int64)

    def gather(rows: np.ndarray) -> np.ndarray:
        part = np.searchsorted(bounds, rows, side="right") - 1
        out = np.empty((len(rows), signatures[0].shape[1] if signatures else 0), dtype="<u4")
        for p in np.unique(part).tolist():
            mask = part == p
            out[mask] = signatures[p][rows[mask] - bounds[p]]
        return out

    kept = []
    for start in range(0, len(pairs), chunk):
        block = pairs[start:start + chunk]
        left, right = gather(block[:, 0]), gather(block[:, 1])
        similar = (left == right).mean(axis=1) >= threshold
        kept.append(block[similar])
    return np.concatenate(kept)


class Clusters:
    """Union-find over article ids (as numbers), the smallest id the root: a cluster's id is its
    smallest member. Holds only articles in a cluster of two or more."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}

    def _find(self, key: int) -> int:
        parent = self._parent
        root = key
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(key, key) != root:
            parent[key], key = root, parent[key]
        return root

    def join(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        self._parent.setdefault(ra, ra)
        self._parent.setdefault(rb, rb)
        if ra != rb:
            low, high = (ra, rb) if ra < rb else (rb, ra)
            self._parent[high] = low

    def members(self) -> dict[int, int]:
        """Every article in a cluster -> its cluster's id."""
        return {key: self._find(key) for key in self._parent}
