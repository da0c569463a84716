"""MinHash signatures (toolkit.ingest.minhash): what near-duplicate detection relies on.

Two texts' signatures agree on a share of their values that estimates the Jaccard similarity
of their word-shingle sets; the same text always gives the same bytes, in any process.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

from toolkit.ingest.minhash import SIGNATURE_SCHEME, signature


def shingle_set(text: str, size: int) -> set[tuple[str, ...]]:
    """The shingles by their definition: lowercased \\w+ words in runs of ``size``."""
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if len(words) <= size:
        return {tuple(words)}
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def estimate(a: str, b: str, num_perm: int = 128, size: int = 5) -> float:
    sa = np.frombuffer(signature(a, num_perm, size), dtype="<u4")
    sb = np.frombuffer(signature(b, num_perm, size), dtype="<u4")
    return float((sa == sb).mean())


def exact(a: str, b: str, size: int = 5) -> float:
    sa, sb = shingle_set(a, size), shingle_set(b, size)
    return len(sa & sb) / len(sa | sb)


def words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(5000)}" for _ in range(n)]


def test_signature_is_num_perm_little_endian_uint32() -> None:
    sig = signature("Police said the fire started early on Sunday.", 128, 5)
    assert isinstance(sig, bytes) and len(sig) == 128 * 4
    assert len(signature("a b c", 16, 3)) == 64
    assert SIGNATURE_SCHEME.endswith("-v1")


def test_identical_texts_identical_signatures() -> None:
    text = "The minister said on Monday that the talks would resume next week in Geneva."
    assert signature(text, 128, 5) == signature(str(text), 128, 5)


def test_case_punctuation_and_spacing_do_not_matter_but_word_order_does() -> None:
    text = "Fire guards at the prison in Volgograd were taken hostage on Sunday"
    assert signature(text.upper(), 64, 3) == signature(text, 64, 3)
    assert signature("  " + text.replace(" ", ",\n  ") + "!!", 64, 3) == signature(text, 64, 3)
    reordered = " ".join(reversed(text.split()))
    assert estimate(text, reordered, 64, 3) < 0.2  # no 3-word shingle in common: exact Jaccard 0


def test_short_text_is_one_shingle() -> None:
    # Fewer words than a shingle: the text is one shingle, so only the same words match.
    assert signature("Two words", 128, 5) == signature("two   WORDS", 128, 5)
    assert estimate("Two words", "Two other words") == 0.0
    assert signature("", 16, 5) == signature("!!! ...", 16, 5)  # no words: the one empty shingle


def test_disjoint_texts_share_almost_nothing() -> None:
    rng = random.Random(7)
    a = " ".join(f"a{i}" for i in range(300))
    b = " ".join(f"b{i}" for i in range(300))
    assert exact(a, b) == 0.0
    assert estimate(a, b) <= 0.03  # only 32-bit collisions of minima could make values equal
    assert estimate(" ".join(words(rng, 300)), " ".join(words(rng, 300))) <= 0.03


@pytest.mark.parametrize("kept", [0.9, 0.75, 0.5, 0.3])
def test_estimate_is_close_to_exact_jaccard(kept: float) -> None:
    """Pairs with a known share of words replaced: each estimate within 0.1 of the exact Jaccard."""
    rng = random.Random(int(kept * 100))
    for _ in range(5):
        a = words(rng, 400)
        b = [w if rng.random() < kept ** (1 / 5) else f"x{rng.randrange(10**6)}" for w in a]
        ta, tb = " ".join(a), " ".join(b)
        assert abs(estimate(ta, tb) - exact(ta, tb)) <= 0.1


def test_estimate_is_unbiased_on_average() -> None:
    """Over many pairs the mean error is far below the per-pair spread (about 0.04 at 128)."""
    rng = random.Random(11)
    errors = []
    for _ in range(60):
        a = words(rng, 300)
        cut = rng.randrange(50, 250)
        b = a[:cut] + words(rng, 300 - cut)  # a shared beginning, then different words
        ta, tb = " ".join(a), " ".join(b)
        errors.append(estimate(ta, tb) - exact(ta, tb))
    assert abs(sum(errors) / len(errors)) <= 0.015


def test_the_same_in_another_process() -> None:
    """No per-process salt (Python's hash()): another interpreter gives the same bytes."""
    text = "Élections à Besançon : le maire sortant réélu, selon les premiers résultats."
    code = ("import sys; from toolkit.ingest.minhash import signature; "
            f"sys.stdout.write(signature({text!r}, 32, 2).hex())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert done.stdout == signature(text, 32, 2).hex()


def test_lone_surrogate_does_not_fail() -> None:
    assert len(signature("a \ud800 b c", 16, 2)) == 64
