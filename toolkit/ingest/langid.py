"""Language id: py3langid's model scored with numpy, the same language ``py3langid.classify``
gives at a third of its cost.

The ingest names each article's language (``pool``), and asks dateparser about a line's date
only in the text's own language and English (``clean``): both call ``classify_language``.
"""

from __future__ import annotations

__all__ = ["classify_language"]

# py3langid walks its byte n-gram automaton (Aho-Corasick, full transition table) one byte at
# a time in Python: a third of the per-article cost. The state after a byte is the longest
# suffix of the text so far that is a node of the automaton's trie, so it depends only on the
# last ``depth`` bytes (the trie's depth): running the automaton from its root over each
# position's last ``depth`` bytes, all positions at once with numpy, gives every state the walk
# gives. Features are then counted in the order the walk first meets them, so the scores are
# computed by py3langid's own code on the same arrays, and the language is the one
# ``py3langid.classify`` returns (tests/test_ingest_fastpaths.py compares them).

_KNOWN_DEPTHS = {(9816576, 104583): 6}  # py3langid 0.4's model: (table size, states) -> trie depth


class _FastLangid:
    def __init__(self) -> None:
        import threading

        import numpy as np
        from py3langid import langid

        self.np = np
        self.identifier = identifier = langid._get_identifier()
        self.nextmove = np.asarray(identifier.tk_nextmove, dtype=np.int64)
        self.rowbase = np.asarray(identifier._rowbase, dtype=np.int64)
        self.output = np.asarray(identifier.tk_output, dtype=np.int64)
        self.floor = langid.RAW_FLOOR
        # The model's float16 weights as float32 (exactly the same values): numpy converts the
        # rows it needs at every call otherwise, which costs more than the scoring itself.
        self.table = identifier.nb_ptc.astype(np.float32)
        key = (len(self.nextmove), len(self.rowbase))
        self.depth = _KNOWN_DEPTHS.get(key) or self._trie_depth()
        # Per-feature scratch for counting (see ``_visits``): all "unseen" between calls.
        self.unseen = np.iinfo(np.int64).max
        self.first = np.full(len(self.table), self.unseen, dtype=np.int64)
        self.counts = np.zeros(len(self.table), dtype=np.int64)
        self.lock = threading.Lock()

    def _trie_depth(self) -> int:
        """Levels of a breadth-first walk from the root until every state is reached (0.5 s)."""
        np = self.np
        seen = np.zeros(len(self.rowbase), dtype=bool)
        seen[0], frontier, depth = True, np.array([0]), 0
        while frontier.size:
            reached = np.unique(self.nextmove[(self.rowbase[frontier][:, None] + np.arange(256)).ravel()])
            frontier = reached[~seen[reached]]
            seen[frontier] = True
            depth += bool(frontier.size)
        return depth

    def _visits(self, features):
        """The distinct features in the order the walk first meets them, and their counts
        (py3langid's Counter, as arrays), without sorting.

        ``minimum.at`` and ``add.at`` are unbuffered: every occurrence counts, whatever the
        order numpy visits repeated indices in (a plain fancy assignment guarantees no
        order). Position ``i`` is a feature's first occurrence exactly when the smallest
        position recorded for that feature is ``i``, so selecting those positions keeps the
        walk's order. The scratch arrays are put back to "unseen" whatever happens.
        """
        np = self.np
        positions = np.arange(features.size)
        with self.lock:
            try:
                np.minimum.at(self.first, features, positions)
                np.add.at(self.counts, features, 1)
                ids = features[self.first[features] == positions]
                return ids, self.counts[ids]
            finally:
                self.first[features] = self.unseen  # repeated indices, one value: any order will do
                self.counts[features] = 0

    def classify(self, text: str) -> str:
        np, identifier = self.np, self.identifier
        data = np.frombuffer(identifier._encode(text), dtype=np.uint8).astype(np.int64)
        n = len(data)
        states = np.zeros(n, dtype=np.int64)
        for back in range(min(self.depth, n) - 1, -1, -1):
            # Position i reads bytes i-back..i; positions before ``back`` start from the root later.
            states[back:] = self.nextmove[self.rowbase[states[back:]] + data[:n - back]]
        features = self.output[states]
        features = features[features >= 0]
        if features.size:
            # py3langid's _sparse_score on the features in the order its walk first meets them
            # (its Counter's order): the same numbers summed in the same order.
            ids, counts = self._visits(features)
            scores = np.log1p(counts.astype(np.float32)) @ np.take(self.table, ids, axis=0) + identifier.nb_pc
        else:
            scores = np.full(len(identifier.nb_classes), self.floor, dtype=np.float32)
        for i, j in identifier._alias_pairs:  # as py3langid's _decide, without norm_probs
            scores[i] = max(scores[i], scores[j])
            scores[j] = self.floor
        return identifier.nb_classes[int(scores.argmax())]


_fast_langid: _FastLangid | None = None


def classify_language(text: str) -> str:
    """``py3langid.classify(text)[0]``, computed with numpy (see above)."""
    global _fast_langid
    if _fast_langid is None:
        _fast_langid = _FastLangid()
    return _fast_langid.classify(text)
