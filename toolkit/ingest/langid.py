"""Language id: py3langid's model scored with numpy, the same language ``py3langid.classify``
gives at a third of its cost.

The model's arrays, converted for numpy, are kept in ``~/.cache/toolkit/langid-<model>/``
(``$XDG_CACHE_HOME`` if set; 137 MB): loading py3langid's compressed model and converting it
took about a second of every ingest's start-up, reading and checking the cache 0.1 s. Worker processes
inherit the arrays from the parent. The folder is named after the SHA-256 of py3langid's model
file, so another model never reads it; a cache that cannot be read or written is ignored
(the model is loaded as before).

The ingest names each article's language (``pool``), and asks dateparser about a line's date
only in the text's own language and English (``clean``): both call ``classify_language``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

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
        self.floor = langid.RAW_FLOOR
        self.encode = langid.LanguageIdentifier._encode  # py3langid's own text-to-bytes step
        folder = _cache_folder()
        arrays = _read_cache(folder) if folder is not None else None
        if arrays is None:
            arrays = _model_arrays()
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)  # a damaged cache, written again whole
                _write_cache(folder, arrays)
        self.nextmove, self.rowbase, self.output = arrays["nextmove"], arrays["rowbase"], arrays["output"]
        self.table, self.pc, self.classes = arrays["table"], arrays["pc"], arrays["classes"]
        self.alias_pairs = _alias_pairs(self.classes)
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
        np = self.np
        data = np.frombuffer(self.encode(text), dtype=np.uint8).astype(np.int64)
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
            scores = np.log1p(counts.astype(np.float32)) @ np.take(self.table, ids, axis=0) + self.pc
        else:
            scores = np.full(len(self.classes), self.floor, dtype=np.float32)
        for i, j in self.alias_pairs:  # as py3langid's _decide, without norm_probs
            scores[i] = max(scores[i], scores[j])
            scores[j] = self.floor
        return self.classes[int(scores.argmax())]


def _model_arrays() -> dict:
    """py3langid's model, loaded by py3langid, as the arrays ``_FastLangid`` scores with."""
    import numpy as np
    from py3langid import langid

    identifier = langid._get_identifier()
    return {
        "nextmove": np.asarray(identifier.tk_nextmove, dtype=np.int64),
        "rowbase": np.asarray(identifier._rowbase, dtype=np.int64),
        "output": np.asarray(identifier.tk_output, dtype=np.int64),
        # The model's float16 weights as float32 (exactly the same values): numpy converts the
        # rows it needs at every call otherwise, which costs more than the scoring itself.
        "table": identifier.nb_ptc.astype(np.float32),
        "pc": np.asarray(identifier.nb_pc),
        "classes": list(identifier.nb_classes),
    }


def _alias_pairs(classes: list[str]) -> list[tuple[int, int]]:
    """(first, repeat) column pairs of labels listed twice, by py3langid's own
    ``_set_alias_pairs`` (it reads ``nb_classes`` and sets ``_alias_pairs``, nothing else)."""
    from types import SimpleNamespace

    from py3langid.langid import LanguageIdentifier

    holder = SimpleNamespace(nb_classes=classes)
    LanguageIdentifier._set_alias_pairs(holder)
    return holder._alias_pairs


_CACHE_FORMAT = 1
_CACHED_ARRAYS = ("nextmove", "rowbase", "output", "table", "pc")


def _cache_folder() -> Path | None:
    """Where this model's arrays are cached; None when the model file cannot be read."""
    from py3langid import langid

    model = Path(langid.MODEL_FILE)
    if not model.is_absolute():
        model = langid.MODEL_DIR / model
    try:
        with model.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "toolkit" / f"langid-{digest[:16]}-v{_CACHE_FORMAT}"


def _read_cache(folder: Path) -> dict | None:
    """The cached arrays (read whole: a memory map made every call slower); None when absent or
    not whole."""
    import numpy as np

    try:
        arrays: dict = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in _CACHED_ARRAYS}
        arrays["classes"] = json.loads((folder / "classes.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, EOFError):
        return None
    if not (isinstance(arrays["classes"], list) and arrays["table"].ndim == 2
            and arrays["table"].shape[1] == len(arrays["classes"]) == len(arrays["pc"])
            and len(arrays["output"]) == len(arrays["rowbase"])
            # every state's row of 256 moves is there, and every move leads to a state
            and len(arrays["nextmove"]) >= int(arrays["rowbase"].max()) + 256
            and 0 <= int(arrays["nextmove"].min()) and int(arrays["nextmove"].max()) < len(arrays["rowbase"])
            and int(arrays["output"].max()) < len(arrays["table"])):
        return None
    return arrays


def _write_cache(folder: Path, arrays: dict) -> None:
    """Write the arrays to a folder of their own, renamed into place when whole; any failure
    (a read-only home, a full disk, another process first) leaves no cache, which is fine."""
    import numpy as np

    staging = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    try:
        staging.mkdir(parents=True, exist_ok=True)
        for name in _CACHED_ARRAYS:
            np.save(staging / f"{name}.npy", arrays[name], allow_pickle=False)
        (staging / "classes.json").write_text(json.dumps(arrays["classes"]), encoding="utf-8")
        os.rename(staging, folder)
    except OSError:
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_fast_langid: _FastLangid | None = None


def classify_language(text: str) -> str:
    """``py3langid.classify(text)[0]``, computed with numpy (see above)."""
    global _fast_langid
    if _fast_langid is None:
        _fast_langid = _FastLangid()
    return _fast_langid.classify(text)
