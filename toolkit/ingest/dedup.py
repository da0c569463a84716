"""Exact and near-duplicate detection.

Exact duplicates share a content key (the body with whitespace collapsed). Near-duplicates
(syndicated copies with small edits) are found with MinHash LSH from ``datasketch`` over
word shingles; candidates that LSH proposes are confirmed by their estimated Jaccard
similarity, and confirmed pairs are merged into clusters with a union-find. A cluster's id
is the smallest ``article_id`` in it, so it depends only on which articles are in it.

Signatures travel as bytes (``num_perm`` little-endian uint32 hash values, ``signature``), so
worker processes compute them and an incremental ingest keeps them on disk: ``restore`` puts
an article already clustered back into the index (its stored signature and cluster id) without
querying it again. Candidate pairs are the pairs sharing an LSH band, whatever the order of
insertion, so the clusters do not depend on the order articles are added or restored in.
"""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from ..articles import article_id, content_key

__all__ = ["article_id", "content_key", "shingles", "signature", "NearDuplicateIndex"]

_WORDS = re.compile(r"\w+")


def shingles(text: str, size: int) -> set[bytes]:
    words = [w.lower() for w in _WORDS.findall(text)]
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


_SEED = 1  # datasketch's default: the same permutations in every process and every run
_SCHEME = "affine32"  # datasketch 2's default; stored signatures are valid only with the same one


def signature(text: str, num_perm: int, shingle_size: int) -> bytes:
    """The MinHash signature of ``text``'s word shingles, as bytes (see the module docstring)."""
    minhash = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
    minhash.update_batch(shingles(text, shingle_size))
    return minhash.hashvalues.astype("<u4").tobytes()


class NearDuplicateIndex:
    """Streaming near-duplicate clustering; memory grows with one signature per article."""

    def __init__(self, threshold: float, num_perm: int, shingle_size: int) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        # LSH only proposes candidates; a lower LSH threshold than the one verified below
        # trades a little work for fewer missed pairs, and keeps at least two bands (datasketch
        # cannot build an index for thresholds near 1).
        self._lsh = MinHashLSH(threshold=min(max(threshold - 0.1, 0.05), 0.9), num_perm=num_perm)
        self._signatures: dict[str, LeanMinHash] = {}
        self._parent: dict[str, str] = {}

    def _find(self, key: str) -> str:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:  # path compression
            self._parent[key], key = root, self._parent[key]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # The smaller id becomes the root, so the cluster id is the minimum member.
            low, high = sorted((ra, rb))
            self._parent[high] = low

    def _lean(self, signature_bytes: bytes) -> LeanMinHash:
        values = np.frombuffer(signature_bytes, dtype="<u4")
        if len(values) != self.num_perm:
            raise ValueError(f"a signature of {len(values)} hash values, not num_perm = {self.num_perm}")
        return LeanMinHash(seed=_SEED, hashvalues=values.astype(np.uint32), scheme=_SCHEME)

    def add(self, key: str, text: str) -> None:
        """Add an article by its text (its signature computed here)."""
        if key not in self._parent:
            self.add_signature(key, signature(text, self.num_perm, self.shingle_size))

    def add_signature(self, key: str, signature_bytes: bytes) -> None:
        """Add an article by its signature, joining the clusters of the articles it is close to."""
        if key in self._parent:
            return
        lean = self._lean(signature_bytes)
        self._parent[key] = key
        for other in self._lsh.query(lean):
            if lean.jaccard(self._signatures[other]) >= self.threshold:
                self._union(key, other)
        self._lsh.insert(key, lean)
        self._signatures[key] = lean

    def restore(self, key: str, cluster_id: str, signature_bytes: bytes) -> None:
        """Put back an article clustered by an earlier run, as it was: no query, no comparison.

        Valid when every article restored was clustered together in that run with the same
        settings (its ``cluster_id`` is then the smallest member, itself restored).
        """
        if key in self._parent:
            return
        lean = self._lean(signature_bytes)
        self._parent.setdefault(cluster_id, cluster_id)
        if key != cluster_id:
            self._parent[key] = cluster_id
        self._lsh.insert(key, lean)
        self._signatures[key] = lean

    def signatures(self) -> Iterator[tuple[str, bytes]]:
        """(article id, signature bytes) of every article, in the order they were added."""
        for key, lean in self._signatures.items():
            yield key, lean.hashvalues.astype("<u4").tobytes()

    def cluster_id(self, key: str) -> str:
        return self._find(key)

    def clusters(self) -> dict[str, list[str]]:
        """Clusters with more than one member: cluster id -> sorted member ids."""
        groups: dict[str, list[str]] = {}
        for key in self._parent:
            groups.setdefault(self._find(key), []).append(key)
        return {cid: sorted(members) for cid, members in sorted(groups.items()) if len(members) > 1}
