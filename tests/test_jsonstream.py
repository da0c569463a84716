"""toolkit.validation.jsonstream: streamed items equal json.load's, at any buffer size; errors say where."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.errors import InputError, InputNotFound
from toolkit.validation.jsonstream import decode_item, iter_json_items, iter_raw_items

# Tiny buffers cut items, strings, escapes, numbers and multi-byte characters everywhere.
BLOCKS = [1, 2, 3, 7, 64, 1 << 20]

TRICKY_STRINGS = [
    "", "]", "[", "}{", "},{", '"', '\\', '\\"', '"]', "\\u005d", "a,b", "}, {\"id\": 1",
    "é", "naïve Zoë", "日本語", "emoji 🔥🚒", "\u2028\u2029", "\x7f", "tab\tnew\nline\r",
    "\u0000nul", "{\"nested\": [1, 2]}", "\\\\", "back\\slash\"quote",
]


def roundtrip(tmp_path: Path, text: str | bytes, name: str = "doc.json", *, block: int = 1 << 20,
              raw: bool = False) -> list:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    if raw:
        return [decode_item(piece) for _offset, piece in iter_raw_items(path, block_size=block)]
    return list(iter_json_items(path, block_size=block))


def same(a, b) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1 (and NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def tricky_document() -> list:
    items = []
    for i, s in enumerate(TRICKY_STRINGS):
        items.append({"id": i, "text": s, s: [s, {"k": s}], "n": [0, -0.0, 1.5e300, -7, 2**70]})
    items += [1, -2.5, 1e-7, "x", None, True, False, [], {}, [[[]]], {"a": {"b": {"c": []}}},
              12345678901234567890123, 0.1, 1.0]
    return items


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("dump", [
    lambda d: json.dumps(d, ensure_ascii=False),
    lambda d: json.dumps(d),  # \uXXXX escapes, surrogate pairs split across buffers
    lambda d: json.dumps(d, indent=2, ensure_ascii=False),
    lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False),
    lambda d: "\n\n  " + json.dumps(d, indent="\t", ensure_ascii=False) + " \r\n",
], ids=["compact", "ascii", "indent", "minimal", "tabs"])
def test_items_equal_json_load(tmp_path, block, dump):
    doc = tricky_document()
    text = dump(doc)
    expected = json.loads(text)
    assert same(roundtrip(tmp_path, text, block=block), expected)
    assert same(roundtrip(tmp_path, text, block=block, raw=True), expected)


def test_raw_items_give_offsets_and_exact_bytes(tmp_path):
    text = '[ {"a": "]"} ,\n"x", 12 ]'
    path = tmp_path / "doc.json"
    path.write_text(text)
    pieces = list(iter_raw_items(path, block_size=3))
    assert [offset for offset, _ in pieces] == [2, 15, 20]
    for offset, piece in pieces:
        assert text.encode()[offset:offset + len(piece)] == piece


@pytest.mark.parametrize("text, expected", [
    ("[]", []), ("  [ ]  ", []), ("[\n]\n", []),
    ('{"a": 1}', [{"a": 1}]),                               # a single object
    ('{"a": 1}\n{"b": [2]}\n\n{"c": null}\n', [{"a": 1}, {"b": [2]}, {"c": None}]),  # JSONL
    ("\ufeff[1, 2]", [1, 2]),                               # byte order mark
    ("[NaN, Infinity, -Infinity]", [math.nan, math.inf, -math.inf]),  # json.load accepts these
    ('["\\ud800", "\\udc00x", "\\ud83d\\ude00"]', ["\ud800", "\udc00x", "😀"]),  # lone surrogates
    ("[1e400, -1e400, 123456789012345678901234567890]", [math.inf, -math.inf, 123456789012345678901234567890]),
    ("[-0, -0.0, 1.0, 10, 1E2]", [0, -0.0, 1.0, 10, 100.0]),
    ('[{"k": 1, "k": 2}]', [{"k": 2}]),                     # duplicate keys: the last wins
])
@pytest.mark.parametrize("block", [1, 4, 1 << 20])
def test_json_semantics(tmp_path, text, expected, block):
    assert same(roundtrip(tmp_path, text, block=block), expected)
    assert same(roundtrip(tmp_path, text, block=block, raw=True), expected)
    assert same(json.loads(text.lstrip("\ufeff")) if text.startswith(("[", "\ufeff")) else expected, expected)


@pytest.mark.parametrize("block", [1, 5, 1 << 20])
def test_gzip(tmp_path, block):
    doc = tricky_document()
    path = tmp_path / "doc.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc, ensure_ascii=False).encode()))
    assert same(list(iter_json_items(path, block_size=block)), doc)
    # the suffix does not matter: gzip is told from the magic bytes
    other = tmp_path / "doc.json"
    other.write_bytes(path.read_bytes())
    assert same(list(iter_json_items(other, block_size=block)), doc)


def errors_of(tmp_path: Path, data: bytes, block: int = 1 << 20, name: str = "bad.json") -> InputError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        list(iter_json_items(path, block_size=block))
    with pytest.raises(InputError):
        for offset, piece in iter_raw_items(path, block_size=block):
            decode_item(piece, source=path, offset=offset)
    error = info.value
    assert str(path) in error.message and error.hint
    return error


@pytest.mark.parametrize("block", [1, 3, 16, 1 << 20])
def test_truncated_anywhere_is_an_error_naming_the_offset(tmp_path, block):
    text = json.dumps([{"id": 1, "text": "a ]} \"b\" é 🔥", "n": [1.5, -2, True]}, {"id": 2}, 3],
                      ensure_ascii=False).encode()
    for cut in range(1, len(text)):
        error = errors_of(tmp_path, text[:cut], block)
        assert "byte" in error.message or "empty" in error.message, (cut, error.message)


def test_truncated_message(tmp_path):
    text = b'[{"id": 1}, {"id": 2, "text": "cut here'
    error = errors_of(tmp_path, text)
    assert "truncated" in error.message and "byte 12" in error.message
    assert "item 2 starts at byte 12" in error.message and "ends at byte 39" in error.message


@pytest.mark.parametrize("data, needle", [
    (b'[1, 2] x', "after the end of the array"),
    (b'[1, 2]]', "after the end of the array"),
    (b'[{"a": 1}] {"b": 2}', "after the end of the array"),
    (b'[1 2]', "expected ',' or ']'"),
    (b'[1, 2,]', "trailing comma"),
    (b'[{"a": 1,}]', "byte 9"),
    (b'[{"a" 1}]', "byte 6"),
    (b'[tru]', "byte 1"),
    (b'[01]', "byte"),
    (b'[{"a": "x\x01y"}]', "control character"),
    (b'[{"a": "\\x"}]', "byte"),
    (b'["\xff\xfe"]', "UTF-8"),
    (b'["\xed\xa0\x80"]', "UTF-8"),  # an encoded surrogate is not UTF-8
])
@pytest.mark.parametrize("block", [1, 1 << 20])
def test_invalid_json_names_file_and_offset(tmp_path, data, needle, block):
    error = errors_of(tmp_path, data, block)
    assert needle in error.message, error.message


@pytest.mark.parametrize("data, needle", [
    (b"", "empty"), (b"  \n ", "empty"), (b"42", "starts with"), (b'"text"', "starts with"),
])
def test_not_a_container(tmp_path, data, needle):
    assert needle in errors_of(tmp_path, data).message


def test_invalid_item_deep_in_a_big_file_is_found_without_reading_on(tmp_path):
    good = json.dumps({"id": 0, "text": "x" * 1000})
    text = "[" + ", ".join([good] * 200) + ", {\"id\": 1, \"bad\": tru}, " + ", ".join([good] * 200) + "]"
    error = errors_of(tmp_path, text.encode(), block=4096)
    assert f"byte {text.index('tru}')}" in error.message
    assert "after 200 complete item(s)" in error.message


def test_damaged_gzip(tmp_path):
    data = gzip.compress(json.dumps([{"id": i, "text": "y" * 100} for i in range(500)]).encode())
    error = errors_of(tmp_path, data[: len(data) // 2], block=1024, name="cut.json.gz")
    assert "gzip" in error.message or "truncated" in error.message


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFound):
        list(iter_json_items(tmp_path / "nope.json"))


def test_lazy_and_bounded(tmp_path):
    """The first item comes before the rest is read (streaming)."""
    path = tmp_path / "big.json"
    path.write_text("[" + ", ".join(json.dumps({"i": i, "t": "z" * 500}) for i in range(2000)) + "]")
    items = iter_json_items(path, block_size=4096)
    assert next(items) == {"i": 0, "t": "z" * 500}
    assert sum(1 for _ in items) == 1999


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False) | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
    | st.sampled_from(["]", "[", "{", "}", ",", '"', "\\", "\\u", "é", "🔥"]),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=6), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.lists(json_values, max_size=8), block=st.sampled_from([1, 2, 5, 13, 4096]),
       indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_generated_documents(tmp_path, doc, block, indent, ascii_only):
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    expected = json.loads(text)
    assert same(roundtrip(tmp_path, text, block=block), expected)
    assert same(roundtrip(tmp_path, text, block=block, raw=True), expected)
