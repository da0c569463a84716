"""Exact and near-duplicate detection.

Exact duplicates share a content key (the body with whitespace collapsed). Near-duplicates
(syndicated copies with small edits) are found with MinHash LSH from ``datasketch`` over
word shingles; candidates that LSH proposes are confirmed by their estimated Jaccard
similarity, and confirmed pairs are merged into clusters with a union-find. A cluster's id
is the smallest ``article_id`` in it, so it depends only on which articles are in it.
"""

from __future__ import annotations

import re

from datasketch import LeanMinHash, MinHash, MinHashLSH

from ..articles import article_id, content_key

__all__ = ["article_id", "content_key", "shingles", "NearDuplicateIndex"]

_WORDS = re.compile(r"\w+")


def shingles(text: str, size: int) -> set[bytes]:
    words = [w.lower() for w in _WORDS.findall(text)]
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


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

    def add(self, key: str, text: str) -> None:
        if key in self._parent:
            return
        minhash = MinHash(num_perm=self.num_perm)
        minhash.update_batch(shingles(text, self.shingle_size))
        signature = LeanMinHash(minhash)
        self._parent[key] = key
        for other in self._lsh.query(signature):
            if signature.jaccard(self._signatures[other]) >= self.threshold:
                self._union(key, other)
        self._lsh.insert(key, signature)
        self._signatures[key] = signature

    def cluster_id(self, key: str) -> str:
        return self._find(key)

    def clusters(self) -> dict[str, list[str]]:
        """Clusters with more than one member: cluster id -> sorted member ids."""
        groups: dict[str, list[str]] = {}
        for key in self._parent:
            groups.setdefault(self._find(key), []).append(key)
        return {cid: sorted(members) for cid, members in sorted(groups.items()) if len(members) > 1}
