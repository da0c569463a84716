"""``toolkit release``: gold labels + articles -> ``releases/vX.Y.Z/``, immutable and checksummed.

A release is a folder laid out as a Hugging Face dataset repository::

    README.md           dataset card; its YAML declares configs, data files and features
    DATASHEET.md        Datasheets for Datasets, filled from the data; plots/*.png
    CHANGELOG.md        row-level diff against the previous release
    croissant.json      MLCommons Croissant metadata (with the RAI fields)
    scheme.json         the annotation scheme the labels follow
    documents/{split}-NNNNN-of-NNNNN.parquet   one row per resolved article
    ner/{split}-NNNNN-of-NNNNN.parquet         tokens + BIO ner_tags
    conll/{split}.txt   the ner config as CoNLL-2003 text
    manifest.json       version, inputs, counts, sha256 + size of every other file

How it is made safe:
- built in ``releases/.vX.Y.Z.tmp-<pid>/`` and renamed into place only when every file is
  written, fsynced and checksummed; a crash leaves at most a hidden temporary folder, which
  the next release removes;
- ``releases/.lock`` (an exclusive ``flock``) keeps two releases from interleaving;
- an existing version is never overwritten, and a version must be greater than the latest.

Memory and speed: articles stream through in batches of ``batch_size`` (text, tokens and
CoNLL text are never held whole); what is held for the whole run is the gold table (labels,
no text), one split code and gold row index per article, the per-article agreement, and the
per-cluster split plan, about 0.25 KB per released article in all. The batches are tagged
on the calling thread while one thread writes the Parquet files and another the CoNLL text,
each file fsynced and hashed as it is closed (see ``_write_data``). ``bench/release_bench.py``
measures it against ``write_table`` of the same rows.

Splits: each near-duplicate cluster (``cluster_id`` from ingest) goes whole to one split.
Clusters are grouped by the majority gold value of the stratifying field (the first single
choice field, e.g. the event type), ordered within a group by a salted sha256 of the
cluster id, and cut at the configured ratios by article count. Same data, same salt: same
splits on any machine. Adding data moves only clusters near the cut points; the changelog
lists articles that changed split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__, atomicio, parquetio
from .config import ReleaseConfig
from .errors import ToolkitError
from .progress import NullProgress, Progress
from .scheme import ChoiceField, Scheme, SpanField, TextField
from .workspace import Workspace

if TYPE_CHECKING:
    import datasets

__all__ = [
    "SPLITS", "ReleaseOptions", "ReleaseReport", "VerifyReport", "HubPlan",
    "ReleaseError", "ReleaseExists", "ReleaseNotFound", "ReleaseLocked", "VersionError",
    "ReleaseInputMissing", "ReleaseInputStale", "ReleaseTampered", "HubError",
    "parse_version", "list_releases", "propose_version", "release", "verify_release", "load",
    "push_to_hub",
]

SPLITS: tuple[str, ...] = ("train", "validation", "test")
MANIFEST = "manifest.json"
LOCK = ".lock"
_VERSION = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_TMP = re.compile(r"^\.v\d+\.\d+\.\d+\.tmp-\d+$")
# What a release may contain: data and documentation, never code or pickles.
ALLOWED_SUFFIXES = frozenset({".parquet", ".md", ".json", ".txt", ".png"})


# ----------------------------------------------------------------------------- errors


class ReleaseError(ToolkitError):
    """A release could not be made, read, checked or published."""


class ReleaseExists(ReleaseError, FileExistsError):
    """The version is already released; releases are never overwritten."""


class ReleaseNotFound(ReleaseError, FileNotFoundError):
    """No release at the given path or version."""


class ReleaseLocked(ReleaseError):
    """Another release is being written in the same workspace."""


class VersionError(ReleaseError, ValueError):
    """The version is not X.Y.Z, or not greater than the latest release."""


class ReleaseInputMissing(ReleaseError, FileNotFoundError):
    """articles.parquet or gold.parquet is not there yet."""


class ReleaseInputStale(ReleaseError):
    """gold.parquet was computed with another scheme than schemas/scheme.json."""


class ReleaseTampered(ReleaseError):
    """A release's files do not match its manifest."""


class HubError(ReleaseError):
    """Publishing to the Hugging Face Hub failed (no token, refused, unreachable)."""


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ReleaseOptions(ReleaseConfig):
    """How a release is cut: the ``[release]`` settings of toolkit.toml (``ReleaseConfig``:
    split ratios, split salt, stratify and NER fields) plus the sizes of the write path."""

    rows_per_shard: int = 250_000
    batch_size: int = 5_000

    @classmethod
    def from_workspace(cls, ws: Workspace) -> ReleaseOptions:
        options = cls(**dataclasses.asdict(ws.config.release))
        options.check()
        return options

    def check(self) -> None:
        ratios = (self.train, self.validation, self.test)
        if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6 or self.train <= 0:
            raise ReleaseError(f"split ratios train={self.train}, validation={self.validation}, "
                               f"test={self.test} must be non-negative and add up to 1",
                               hint="fix [release] in toolkit.toml")
        if self.rows_per_shard < 1 or self.batch_size < 1:
            raise ReleaseError("[release] rows_per_shard and batch_size must be positive")

    @property
    def ratios(self) -> dict[str, float]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


# ---------------------------------------------------------------------------- versions


def parse_version(text: str) -> tuple[int, int, int]:
    match = _VERSION.match(text.strip())
    if not match:
        raise VersionError(f"{text!r} is not a semantic version",
                           hint="give MAJOR.MINOR.PATCH, e.g. 1.2.0, or leave it out to get a proposal")
    return int(match[1]), int(match[2]), int(match[3])


def _vstr(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def list_releases(ws: Workspace) -> list[str]:
    """Released versions (``X.Y.Z``, complete: with a manifest), oldest first."""
    found = []
    if ws.releases_dir.is_dir():
        for entry in ws.releases_dir.iterdir():
            if entry.name.startswith("v") and _VERSION.match(entry.name) and (entry / MANIFEST).is_file():
                found.append(parse_version(entry.name))
    return [_vstr(v) for v in sorted(found)]


# ------------------------------------------------------------------------------ inputs


@dataclass
class _Inputs:
    scheme: Scheme
    options: ReleaseOptions
    stratify: ChoiceField | None
    ner: SpanField | None
    published_fields: tuple[Any, ...]  # scheme fields that go into the release (not free text)
    gold: pa.Table  # resolved rows only, columns needed for the release
    unresolved: int
    unresolved_reasons: Counter
    agreement: pa.Array | None = None  # per-article agreement, aligned with ``gold`` (``_article_agreement``)


def _read_inputs(ws: Workspace, options: ReleaseOptions) -> _Inputs:
    scheme = Scheme.load(ws.scheme_path)
    gold_path = ws.annotations_dir / "gold.parquet"
    for path, command in ((ws.articles_path, "toolkit ingest"), (gold_path, "toolkit agree")):
        if not path.is_file():
            raise ReleaseInputMissing(f"{ws.relative(path)} does not exist yet",
                                      hint=f"run `{command}` first")
    gold_file = parquetio.open_parquet(gold_path)
    metadata = gold_file.schema_arrow.metadata or {}
    gold_hash = metadata.get(b"toolkit.scheme_hash", b"").decode()
    if gold_hash and gold_hash != scheme.hash():
        raise ReleaseInputStale("annotations/gold.parquet was computed with another version of the scheme",
                                hint="run `toolkit pull` and `toolkit agree` again, then release")

    def pick(name: str, kind: type, what: str) -> Any:
        if name:
            f = scheme.field(name)
            if not isinstance(f, kind):
                raise ReleaseError(f"[release] {what} {name!r} is a {f.kind} field",
                                   hint=f"name a {kind.kind} field of the scheme")
            return f
        return next((f for f in scheme.fields if isinstance(f, kind)
                     and not getattr(f, "multiple", False)), None)

    stratify = pick(options.stratify_field, ChoiceField, "stratify_field")
    ner = pick(options.ner_field, SpanField, "ner_field")
    published = tuple(f for f in scheme.fields if not isinstance(f, TextField))
    columns = ["article_id", "status", "reason", "decided_by", "n_annotators"] + [f.name for f in published]
    unresolved_reasons: Counter = Counter()
    resolved = []
    for batch in gold_file.iter_batches(batch_size=65_536, columns=columns):
        mask = pc.equal(batch.column("status"), "resolved")
        unresolved_reasons.update(_reason_kind(r) for r in batch.filter(pc.invert(mask)).column("reason").to_pylist())
        resolved.append(batch.filter(mask).drop_columns(["status", "reason"]))
    # One chunk per column: the write loop takes rows from it batch by batch, and a take
    # from a chunked column would first concatenate its chunks, every time.
    gold = pa.Table.from_batches(resolved, schema=resolved[0].schema if resolved else None).combine_chunks() \
        if resolved else pq.read_table(gold_path, columns=columns).drop_columns(["status", "reason"])
    del resolved
    if pc.count_distinct(gold["article_id"]).as_py() != gold.num_rows:
        raise ReleaseError("annotations/gold.parquet has more than one row for an article",
                           hint="run `toolkit agree` again")
    return _Inputs(scheme, options, stratify, ner, published, gold,
                   sum(unresolved_reasons.values()), unresolved_reasons)


def _reason_kind(reason: str | None) -> str:
    """A short class of an unresolved reason, for counting ("event_type: tie", "too few annotations")."""
    if not reason:
        return "unknown"
    kinds = []
    for part in reason.split("; "):
        if "the policy needs" in part:
            kinds.append("too few annotations")
        else:
            name, _, rest = part.partition(": ")
            kinds.append(f"{name}: {rest.split(' ')[0]}" if rest else name)
    return "; ".join(sorted(set(kinds)))


# Votes read at a time when computing the per-article agreement. Each batch is looked up in a
# hash table of the gold article ids, built again per batch: larger batches build it fewer
# times, smaller ones hold less.
_VOTES_BATCH = 262_144


def _article_agreement(ws: Workspace, gold: pa.Table, stratify: ChoiceField | None) -> pa.Array:
    """Per article: the share of its annotators whose ``stratify`` answer equals the gold one.

    Null when the gold value comes from a ground-truth annotation (no vote was taken), when
    the gold value is empty, or when annotations.parquet is not there. The votes stream
    through in batches (``_VOTES_BATCH``).
    """
    n = gold.num_rows
    empty = pa.nulls(n, pa.float32())
    path = ws.annotations_dir / "annotations.parquet"
    if stratify is None or not path.is_file() or n == 0:
        return empty
    columns = ["article_id", "was_cancelled", "ground_truth", stratify.name]
    try:
        source = parquetio.open_parquet(path)
        if not set(columns) <= set(source.schema_arrow.names):
            return empty
        batches = source.iter_batches(batch_size=_VOTES_BATCH, columns=columns)
        ids = gold["article_id"].combine_chunks()
        truth = gold[stratify.name].combine_chunks()
        agree = np.zeros(n, dtype=np.float64)
        votes = np.zeros(n, dtype=np.float64)
        for batch in batches:
            counted = pc.and_(pc.invert(pc.fill_null(batch.column("was_cancelled"), False)),
                              pc.invert(pc.fill_null(batch.column("ground_truth"), False)))
            batch = batch.filter(counted)
            row = pc.index_in(batch.column("article_id"), value_set=ids)
            known = pc.is_valid(row)
            row = pc.filter(row, known)
            answer = pc.filter(batch.column(stratify.name), known)
            same = pc.fill_null(pc.equal(answer, truth.take(row)), False)
            row = row.to_numpy()
            agree += np.bincount(row, weights=same.to_numpy(zero_copy_only=False), minlength=n)
            votes += np.bincount(row, minlength=n)
    except (pa.ArrowInvalid, KeyError):
        return empty
    with np.errstate(invalid="ignore", divide="ignore"):
        share = agree / votes
    by_vote = (pc.and_(pc.equal(gold["decided_by"], "policy"), pc.is_valid(gold[stratify.name])).to_numpy(
        zero_copy_only=False) & (votes > 0))
    return pa.array(share.astype(np.float32), mask=~by_vote)


# -------------------------------------------------------------------------------- plan


@dataclass
class _Plan:
    n_articles: int  # rows of articles.parquet
    gold_index: np.ndarray  # per article row: row in inputs.gold, or -1
    split: np.ndarray  # per article row: index into SPLITS, or -1 (not released)
    released_ids: pa.Array
    gold_without_article: int
    clusters: dict[str, int]  # split -> number of clusters
    strata: dict[str, dict[str, int]]  # stratum -> split -> articles


def _cluster_keys(cluster_ids: pa.Array, seed: str) -> np.ndarray:
    """The split order of each cluster: the first 8 bytes of sha256(seed NUL cluster_id)."""
    salt = seed.encode() + b"\0"
    sha256 = hashlib.sha256
    keys = np.empty(len(cluster_ids), dtype=np.uint64)
    for start in range(0, len(cluster_ids), 100_000):  # a slice at a time as Python strings
        part = cluster_ids.slice(start, 100_000).to_pylist()
        digests = b"".join([sha256(salt + c.encode()).digest()[:8] for c in part])
        keys[start:start + len(part)] = np.frombuffer(digests, dtype=">u8")
    return keys


def _make_plan(ws: Workspace, inputs: _Inputs) -> _Plan:
    articles = pq.read_table(ws.articles_path, columns=["article_id", "cluster_id"])
    n = articles.num_rows
    if pc.count_distinct(articles["article_id"]).as_py() != n:
        raise ReleaseError("annotations/articles.parquet has duplicate article ids",
                           hint="run `toolkit ingest` again")
    gold_index = pc.index_in(articles["article_id"], inputs.gold["article_id"])
    gold_index = pc.fill_null(gold_index, -1).to_numpy().astype(np.int64)
    released = gold_index >= 0
    split = np.full(n, -1, dtype=np.int8)
    clusters: dict[str, int] = {s: 0 for s in SPLITS}
    strata: dict[str, dict[str, int]] = {}
    if released.any():
        # Clusters and strata as integer codes: the plan is then numpy on a few ints per article.
        encoded = pc.dictionary_encode(articles["cluster_id"].combine_chunks().filter(pa.array(released)))
        cluster_ids = encoded.dictionary  # each cluster once
        cluster_code = encoded.indices.to_numpy().astype(np.int64)
        n_clusters = len(cluster_ids)
        if inputs.stratify is not None:
            values = inputs.gold[inputs.stratify.name].combine_chunks().take(pa.array(gold_index[released]))
            stratum = pc.dictionary_encode(pc.fill_null(values, ""))
            by_name = sorted(stratum.dictionary.to_pylist())
            rank = np.argsort(np.argsort(np.array(stratum.dictionary.to_pylist(), dtype=object)))
            stratum_code = rank[stratum.indices.to_numpy()].astype(np.int64)
        else:
            by_name, stratum_code = [""], np.zeros(len(cluster_code), dtype=np.int64)
        # Majority stratum of each cluster (ties: the value first in sort order), and its size.
        pair, count = np.unique(cluster_code * len(by_name) + stratum_code, return_counts=True)
        pair_cluster, pair_stratum = pair // len(by_name), pair % len(by_name)
        ranked = np.lexsort((pair_stratum, -count, pair_cluster))
        first = np.ones(len(ranked), dtype=bool)
        first[1:] = pair_cluster[ranked][1:] != pair_cluster[ranked][:-1]
        majority = np.empty(n_clusters, dtype=np.int64)
        majority[pair_cluster[ranked][first]] = pair_stratum[ranked][first]
        cluster_size = np.bincount(cluster_code, minlength=n_clusters)
        keys = _cluster_keys(cluster_ids, inputs.options.seed)
        id_rank = np.empty(n_clusters, dtype=np.int64)
        id_rank[pc.sort_indices(cluster_ids).to_numpy()] = np.arange(n_clusters)
        # Within each stratum (in sort order), clusters in key order (ties: cluster id), cut
        # where the middle of a cluster passes the ratio of the stratum's articles.
        order = np.lexsort((id_rank, keys, majority))
        code, size = majority[order], cluster_size[order]
        ends = np.cumsum(size)
        group_start = np.r_[0, np.flatnonzero(np.diff(code)) + 1]
        group_of = np.repeat(np.arange(len(group_start)), np.diff(np.r_[group_start, len(code)]))
        before = np.r_[0, ends][group_start][group_of]
        total = (ends[np.r_[group_start[1:], len(code)] - 1] - np.r_[0, ends][group_start])[group_of]
        middle = (ends - before - size / 2) / total
        cut1 = inputs.options.train
        cut2 = inputs.options.train + inputs.options.validation
        cluster_split = np.empty(n_clusters, dtype=np.int8)
        cluster_split[order] = np.where(middle < cut1, 0, np.where(middle < cut2, 1, 2))
        for g, start in enumerate(group_start):
            stop = group_start[g + 1] if g + 1 < len(group_start) else len(code)
            in_group = cluster_split[order[start:stop]]
            strata[by_name[code[start]]] = {name: int(size[start:stop][in_group == k].sum())
                                            for k, name in enumerate(SPLITS)}
        for k, name in enumerate(SPLITS):
            clusters[name] = int((cluster_split == k).sum())
        split[released] = cluster_split[cluster_code]
    released_ids = articles["article_id"].combine_chunks().filter(pa.array(released))
    return _Plan(n, gold_index, split, released_ids, inputs.gold.num_rows - int(released.sum()), clusters, strata)


# ----------------------------------------------------------------------- features


def _features(inputs: _Inputs) -> dict[str, datasets.Features]:
    from datasets import ClassLabel, Features, Value

    from .conll import tag_names
    from .scheme import build_features

    scheme_features = build_features(inputs.scheme)
    documents = {
        "article_id": Value("string"), "title": Value("string"), "published": Value("date32"),
        "source_url": Value("string"), "text": Value("string"),
    }
    for f in inputs.published_fields:
        documents[f.name] = scheme_features[f.name]
    documents["n_annotators"] = Value("int32")
    documents["agreement"] = Value("float32")
    result = {"documents": Features(documents)}
    if inputs.ner is not None:
        result["ner"] = Features({"article_id": Value("string"), "tokens": [Value("string")],
                                  "ner_tags": [ClassLabel(names=tag_names(inputs.ner.values))]})
    return result


def _label_ids(values: pa.Array, names: tuple[str, ...]) -> pa.Array:
    return pc.cast(pc.index_in(values, pa.array(list(names), pa.string())), pa.int64())


def _gold_columns(gold: pa.Table, inputs: _Inputs, schema: pa.Schema) -> dict[str, pa.Array]:
    """Gold field values as the release's Arrow types (label names -> ClassLabel ids)."""
    out: dict[str, pa.Array] = {}
    for f in inputs.published_fields:
        column = gold[f.name].combine_chunks()
        target = schema.field(f.name).type
        if isinstance(f, SpanField):
            spans = pc.list_flatten(column)
            struct = pa.StructArray.from_arrays(
                [pc.cast(spans.field("start"), pa.int32()), pc.cast(spans.field("end"), pa.int32()),
                 _label_ids(spans.field("label"), f.values), spans.field("text")],
                fields=list(target.value_type))
            offsets = pc.subtract(column.offsets, column.offsets[0])
            out[f.name] = pa.ListArray.from_arrays(offsets, struct, type=target)
        elif isinstance(f, ChoiceField) and f.multiple:
            values = pc.list_flatten(column)
            offsets = pc.subtract(column.offsets, column.offsets[0])
            out[f.name] = pa.ListArray.from_arrays(offsets, _label_ids(values, f.values), type=target)
        elif isinstance(f, ChoiceField):
            out[f.name] = _label_ids(column, f.values)
        else:
            out[f.name] = pc.cast(column, target)
    return out


# ---------------------------------------------------------------------------- writing


class _ShardedWriter:
    """Parquet files of one config and split, a new file every ``rows_per_shard`` rows."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, rows_per_shard: int) -> None:
        self.folder, self.split, self.schema, self.rows_per_shard = folder, split, schema, rows_per_shard
        self.paths: list[Path] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0
        self.sealed: dict[Path, dict[str, Any]] = {}  # closed file -> manifest entry

    def write(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            if self._writer is None or self._in_shard >= self.rows_per_shard:
                self._open()
            take = min(table.num_rows - start, self.rows_per_shard - self._in_shard)
            assert self._writer is not None
            self._writer.write_table(table.slice(start, take))
            self._in_shard += take
            self.rows += take
            start += take

    def _open(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.split}-{len(self.paths):05d}.parquet"
        self.paths.append(path)
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd", write_statistics=True)
        self._in_shard = 0

    def close(self) -> list[Path]:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self.sealed[self.paths[-1]] = _seal(self.paths[-1])
        return self.paths

    def finish(self) -> list[Path]:
        """Close, and name the files ``{split}-NNNNN-of-NNNNN.parquet`` (the Hub's convention)."""
        self.close()
        final = []
        for i, path in enumerate(self.paths):
            target = path.with_name(f"{self.split}-{i:05d}-of-{len(self.paths):05d}.parquet")
            os.rename(path, target)
            self.sealed[target] = self.sealed.pop(path)
            final.append(target)
        self.paths = final
        return final


def _seal(path: Path) -> dict[str, Any]:
    """fsync a finished file and take its manifest entry (sha256, bytes) while it is in the page cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
        while block := fh.read(1 << 20):
            digest.update(block)
        size = fh.tell()
    return {"sha256": digest.hexdigest(), "bytes": size}


class _TextWriter:
    """A text file written in chunks, hashed as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb")
        self._digest = hashlib.sha256()
        self._bytes = 0

    def write(self, chunks: list[Any]) -> None:
        for chunk in chunks:
            self._fh.write(chunk)
            self._digest.update(chunk)
            self._bytes += len(memoryview(chunk))

    def close(self) -> dict[str, Any]:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        return {"sha256": self._digest.hexdigest(), "bytes": self._bytes}


@dataclass
class _Stats:
    """Figures of the released data, gathered batch by batch."""

    scheme: Scheme
    fields: tuple[Any, ...]
    articles: Counter = field(default_factory=Counter)  # split -> n
    tokens: Counter = field(default_factory=Counter)
    chars: Counter = field(default_factory=Counter)
    labels: dict[str, dict[str, Counter]] = field(default_factory=dict)  # field -> split -> label -> n
    numbers: dict[str, dict[str, float]] = field(default_factory=dict)  # field -> {n, sum, max}
    sources: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    annotators: Counter = field(default_factory=Counter)  # n_annotators -> articles
    decided_by: Counter = field(default_factory=Counter)
    agreement_sum: float = 0.0
    agreement_n: int = 0
    agreement_hist: np.ndarray = field(default_factory=lambda: np.zeros(10, dtype=np.int64))
    date_min: str | None = None
    date_max: str | None = None
    undated: int = 0

    def add(self, split: str, articles: pa.Table, gold: pa.Table, agreement: pa.Array) -> None:
        n = articles.num_rows
        self.articles[split] += n
        self.chars[split] += int(pc.sum(pc.utf8_length(articles["text"])).as_py() or 0)
        for f in self.fields:
            column = gold[f.name]
            if isinstance(f, SpanField):
                labels = pc.struct_field(pc.list_flatten(column), "label")
                counts = pc.value_counts(labels)
            elif isinstance(f, ChoiceField):
                counts = pc.value_counts(pc.list_flatten(column) if f.multiple else column)
            else:
                stats = self.numbers.setdefault(f.name, {"n": 0, "sum": 0.0, "max": None, "zero": 0})
                valid = pc.drop_null(column)
                stats["n"] += len(valid)
                if len(valid):
                    stats["sum"] += float(pc.sum(valid).as_py())
                    top = pc.max(valid).as_py()
                    stats["max"] = top if stats["max"] is None else max(stats["max"], top)
                    stats["zero"] += int(pc.sum(pc.equal(valid, 0)).as_py() or 0)
                continue
            target = self.labels.setdefault(f.name, {}).setdefault(split, Counter())
            for item in counts.to_pylist():
                target[item["values"] if item["values"] is not None else "(empty)"] += item["counts"]
        for name, counter in (("source_name", self.sources), ("language", self.languages)):
            for item in pc.value_counts(articles[name]).to_pylist():
                counter[item["values"] or "(unknown)"] += item["counts"]
        for item in pc.value_counts(gold["n_annotators"]).to_pylist():
            self.annotators[int(item["values"])] += item["counts"]
        for item in pc.value_counts(gold["decided_by"]).to_pylist():
            self.decided_by[item["values"]] += item["counts"]
        valid = pc.drop_null(agreement)
        if len(valid):
            self.agreement_sum += float(pc.sum(valid).as_py())
            self.agreement_n += len(valid)
            values = valid.to_numpy(zero_copy_only=False)
            self.agreement_hist += np.histogram(values, bins=10, range=(0.0, 1.0))[0]
        dates = pc.drop_null(articles["published"])
        self.undated += n - len(dates)
        if len(dates):
            low, high = pc.min(dates).as_py().isoformat(), pc.max(dates).as_py().isoformat()
            self.date_min = low if self.date_min is None else min(self.date_min, low)
            self.date_max = high if self.date_max is None else max(self.date_max, high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": {s: self.articles[s] for s in SPLITS},
            "tokens": {s: self.tokens[s] for s in SPLITS},
            "characters": {s: self.chars[s] for s in SPLITS},
            "labels": {name: {s: dict(sorted(by_split.get(s, Counter()).items())) for s in SPLITS}
                       for name, by_split in self.labels.items()},
            "numbers": {name: {"n": v["n"], "mean": (v["sum"] / v["n"]) if v["n"] else None,
                               "max": v["max"], "zero": v["zero"]} for name, v in self.numbers.items()},
            "sources": dict(self.sources.most_common()),
            "languages": dict(self.languages.most_common()),
            "annotators_per_article": {str(k): v for k, v in sorted(self.annotators.items())},
            "decided_by": dict(sorted(self.decided_by.items())),
            "agreement": {"mean": self.agreement_sum / self.agreement_n if self.agreement_n else None,
                          "n": self.agreement_n, "histogram": self.agreement_hist.tolist()},
            "published": {"min": self.date_min, "max": self.date_max, "undated": self.undated},
        }


def _ensure_labels_known(gold: pa.Table, inputs: _Inputs) -> None:
    """Every gold label must be one of the scheme's (gold.parquet could predate a scheme edit)."""
    for f in inputs.published_fields:
        if isinstance(f, SpanField):
            values = pc.struct_field(pc.list_flatten(gold[f.name]), "label")
        elif isinstance(f, ChoiceField):
            values = pc.list_flatten(gold[f.name]) if f.multiple else gold[f.name]
        else:
            continue
        unknown = pc.drop_null(pc.filter(values, pc.invert(pc.is_in(values, pa.array(list(f.values))))))
        if len(unknown):
            raise ReleaseInputStale(
                f"annotations/gold.parquet has {f.name} value {unknown[0].as_py()!r}, which the scheme does not "
                "declare", hint="run `toolkit pull` and `toolkit agree` again, then release")


@dataclass
class _Written:
    """What ``_write_data`` wrote: files per config and split, and the manifest entry
    (sha256, bytes) of each, taken as it was written."""

    files: dict[str, dict[str, list[Path]]]
    sealed: dict[Path, dict[str, Any]]
    stats: _Stats
    ner_conversion: dict[str, int]


# Batches prepared ahead of the writer thread (each holds one batch's tables): bounds memory.
_IN_FLIGHT = 8


def _write_data(tmp: Path, ws: Workspace, inputs: _Inputs, plan: _Plan, features: dict[str, Any],
                progress: Progress) -> _Written:
    """Stream articles.parquet batch by batch into the ``documents`` and ``ner`` Parquet files
    and the CoNLL text of each split.

    Three stages overlap: this thread joins each batch with its gold labels, gathers the
    figures and tokenises and tags it; one thread encodes and writes the Parquet files, and
    one renders, writes and hashes the CoNLL text (Arrow, numpy and hashlib release the GIL
    for that work). Each writer takes the batches in order; at most ``_IN_FLIGHT`` writes
    wait for them, which bounds the memory held.
    """
    from . import conll

    options = inputs.options
    doc_schema = features["documents"].arrow_schema
    ner_schema = features["ner"].arrow_schema if "ner" in features else None
    writers = {s: _ShardedWriter(tmp / "documents", s, doc_schema, options.rows_per_shard) for s in SPLITS}
    ner_writers = {s: _ShardedWriter(tmp / "ner", s, ner_schema, options.rows_per_shard) for s in SPLITS} \
        if ner_schema is not None else {}
    conll_files: dict[str, _TextWriter] = {}
    stats = _Stats(inputs.scheme, inputs.published_fields)
    tag_stats = conll.TagStats()
    names = conll.tag_names(inputs.ner.values) if inputs.ner is not None else []
    columns = ["article_id", "title", "published", "source_url", "text", "source_name", "language"]

    def write_tables(split: str, documents: pa.Table, ner: pa.Table | None) -> None:
        writers[split].write(documents)
        if ner is not None:
            ner_writers[split].write(ner)

    def write_text(split: str, tokens: pa.ListArray, tags: pa.ListArray) -> None:
        conll_files[split].write(conll.conll_chunks(tokens, tags, names))

    offset = 0
    progress.start(plan.n_articles, "Writing release")
    # One thread per kind of output, so that each file is written in batch order.
    tables = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-parquet")
    texts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-conll")
    pending: deque[Future[None]] = deque()
    try:
        if ner_schema is not None:
            (tmp / "conll").mkdir()
            for s in SPLITS:
                conll_files[s] = _TextWriter(tmp / "conll" / f"{s}.txt")
        source = parquetio.open_parquet(ws.articles_path)
        for batch in source.iter_batches(batch_size=options.batch_size, columns=columns):
            codes = plan.split[offset:offset + batch.num_rows]
            rows = plan.gold_index[offset:offset + batch.num_rows]
            offset += batch.num_rows
            for k, s in enumerate(SPLITS):
                mask = codes == k
                if not mask.any():
                    continue
                articles = pa.Table.from_batches([batch]).filter(pa.array(mask))
                take = pa.array(rows[mask])
                gold = inputs.gold.take(take)
                agreement = inputs.agreement.take(take) if inputs.agreement is not None \
                    else pa.nulls(len(take), pa.float32())
                stats.add(s, articles, gold, agreement)
                values = _gold_columns(gold, inputs, doc_schema)
                data = {"article_id": articles["article_id"], "title": articles["title"],
                        "published": articles["published"], "source_url": articles["source_url"],
                        "text": articles["text"], **values,
                        "n_annotators": pc.cast(gold["n_annotators"], pa.int32()),
                        "agreement": agreement}
                ner = None
                if ner_schema is not None:
                    tokens, tags = conll.tag_batch(articles["text"], gold[inputs.ner.name], inputs.ner.values,
                                                   tag_stats)
                    stats.tokens[s] += int(tokens.offsets[-1].as_py() - tokens.offsets[0].as_py())
                    ner = pa.table({"article_id": articles["article_id"], "tokens": tokens, "ner_tags": tags},
                                   schema=ner_schema)
                    pending.append(texts.submit(write_text, s, tokens, tags))
                pending.append(tables.submit(write_tables, s, pa.table(data, schema=doc_schema), ner))
                while len(pending) > _IN_FLIGHT:
                    pending.popleft().result()
            progress.advance(batch.num_rows)
        while pending:
            pending.popleft().result()
    finally:
        for pool in (tables, texts):
            pool.shutdown(wait=True, cancel_futures=True)
        sealed: dict[Path, dict[str, Any]] = {}
        for s, text in conll_files.items():
            sealed[text.path] = text.close()
        for writer in (*writers.values(), *ner_writers.values()):
            writer.close()
        progress.finish()
    files = {"documents": {s: writers[s].finish() for s in SPLITS}}
    if ner_writers:
        files["ner"] = {s: ner_writers[s].finish() for s in SPLITS}
        for s in SPLITS:
            if not files["ner"][s]:
                (tmp / "conll" / f"{s}.txt").unlink()
                del sealed[tmp / "conll" / f"{s}.txt"]
    for writer in (*writers.values(), *ner_writers.values()):
        sealed.update(writer.sealed)
    return _Written(files, sealed, stats, tag_stats.to_dict())


# ------------------------------------------------------------------------- changelog


def _comparable(folder: Path) -> tuple[pa.Table, pa.Table, Scheme] | None:
    """(one row per article: id, split, label values as text), (one row per gold span), scheme."""
    scheme_path = folder / "scheme.json"
    if not scheme_path.is_file():
        return None
    scheme = Scheme.load(scheme_path)
    fields = [f for f in scheme.fields if not isinstance(f, TextField)]
    rows, spans = [], []
    for path in sorted((folder / "documents").glob("*.parquet")):
        split = path.name.split("-")[0]
        table = pq.read_table(path, columns=["article_id"] + [f.name for f in fields])
        data: dict[str, Any] = {"article_id": table["article_id"],
                                "split": pa.array([split] * table.num_rows, pa.string())}
        for f in fields:
            column = table[f.name].combine_chunks()
            if isinstance(f, SpanField):
                parent = pc.list_parent_indices(column)
                flat = pc.list_flatten(column)
                if len(flat):
                    spans.append(pa.table({
                        "article_id": table["article_id"].combine_chunks().take(parent),
                        "field": pa.array([f.name] * len(flat), pa.string()),
                        "start": flat.field("start"), "end": flat.field("end"),
                        "label": pa.array(list(f.values)).take(flat.field("label")),
                        "text": flat.field("text")}))
                data[f.name] = pc.cast(pc.list_value_length(column), pa.string())
            elif isinstance(f, ChoiceField) and f.multiple:
                names = pa.array(list(f.values))
                data[f.name] = pa.array([", ".join(names[i].as_py() for i in v) if v is not None else None
                                         for v in column.to_pylist()], pa.string())
            elif isinstance(f, ChoiceField):
                data[f.name] = pa.array(list(f.values)).take(column)
            else:
                data[f.name] = pc.cast(column, pa.string())
        rows.append(pa.table(data))
    span_schema = pa.schema([("article_id", pa.string()), ("field", pa.string()), ("start", pa.int32()),
                             ("end", pa.int32()), ("label", pa.string()), ("text", pa.string())])
    row_table = pa.concat_tables(rows, promote_options="default") if rows else pa.table(
        {"article_id": pa.array([], pa.string()), "split": pa.array([], pa.string())})
    span_table = pa.concat_tables(spans) if spans else span_schema.empty_table()
    return row_table, span_table, scheme


CHANGELOG_ROWS = 200  # rows listed per section; the counts are always complete


def _diff(previous: Path, current: Path) -> dict[str, Any]:
    old = _comparable(previous)
    new = _comparable(current)
    assert new is not None
    if old is None:
        return {"previous": previous.name, "error": "the previous release has no scheme.json; no row-level diff"}
    old_rows, old_spans, old_scheme = old
    new_rows, new_spans, new_scheme = new
    added = new_rows.join(old_rows.select(["article_id"]), "article_id", join_type="left anti")
    removed = old_rows.join(new_rows.select(["article_id"]), "article_id", join_type="left anti")
    common_fields = [f.name for f in new_scheme.fields
                     if not isinstance(f, TextField) and f.name in old_scheme.field_names
                     and f.name in old_rows.column_names]
    keep = ["article_id", "split", *common_fields]
    both = new_rows.select(keep).join(old_rows.select(keep), "article_id", join_type="inner",
                                      left_suffix="", right_suffix="__old")
    changes: list[dict[str, Any]] = []
    counts: Counter = Counter()
    for name in ["split", *common_fields]:
        a, b = both[name], both[f"{name}__old"]
        differ = pc.fill_null(pc.not_equal(a, b), False)
        differ = pc.or_(differ, pc.xor(pc.is_null(a), pc.is_null(b)))
        subset = both.filter(differ)
        counts[name] = subset.num_rows
        for row in subset.select(["article_id", f"{name}__old", name]).slice(0, CHANGELOG_ROWS).to_pylist():
            changes.append({"article_id": row["article_id"], "field": name,
                            "old": row[f"{name}__old"], "new": row[name]})
    # Spans: compared as whole (start, end, label) triples, of articles in both releases.
    span_keys = ["article_id", "field", "start", "end", "label"]
    in_both = pc.is_in(new_spans["article_id"], both["article_id"])
    ns = new_spans.filter(in_both)
    os_ = old_spans.filter(pc.is_in(old_spans["article_id"], both["article_id"]))
    spans_added = ns.join(os_.select(span_keys), span_keys, join_type="left anti")
    spans_removed = os_.join(ns.select(span_keys), span_keys, join_type="left anti")
    span_changes = [dict(r, change="+") for r in spans_added.slice(0, CHANGELOG_ROWS).to_pylist()] + \
        [dict(r, change="-") for r in spans_removed.slice(0, CHANGELOG_ROWS).to_pylist()]
    span_changes.sort(key=lambda r: (r["article_id"], r["field"], r["start"], r["change"]))
    spans_changed_articles = len(set(pc.unique(spans_added["article_id"]).to_pylist())
                                 | set(pc.unique(spans_removed["article_id"]).to_pylist()))
    for f in new_scheme.span_fields:  # the span count column is not a change of its own
        counts.pop(f.name, None)
        changes = [c for c in changes if c["field"] != f.name]
    return {
        "previous": previous.name,
        "articles_added": added.num_rows, "articles_removed": removed.num_rows,
        "added": sorted(added["article_id"].to_pylist())[:CHANGELOG_ROWS],
        "removed": sorted(removed["article_id"].to_pylist())[:CHANGELOG_ROWS],
        "changed_counts": dict(counts),
        "changes": sorted(changes, key=lambda c: (c["field"], c["article_id"])),
        "spans_added": spans_added.num_rows, "spans_removed": spans_removed.num_rows,
        "spans_changed_articles": spans_changed_articles,
        "span_changes": span_changes[:CHANGELOG_ROWS],
        "scheme": _scheme_changes(old_scheme, new_scheme),
    }


def _scheme_changes(old: Scheme, new: Scheme) -> dict[str, list[str]]:
    removed, added = [], []
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for name, f in old_fields.items():
        g = new_fields.get(name)
        if g is None:
            removed.append(f"field {name}")
        elif g.kind != f.kind:
            removed.append(f"field {name} ({f.kind} -> {g.kind})")
        else:
            gone = [v for v in getattr(f, "values", ()) if v not in getattr(g, "values", ())]
            removed += [f"{name} label {v}" for v in gone]
    for name, g in new_fields.items():
        f = old_fields.get(name)
        if f is None:
            added.append(f"field {name}")
        elif f.kind == g.kind:
            added += [f"{name} label {v}" for v in getattr(g, "values", ()) if v not in getattr(f, "values", ())]
    return {"removed": removed, "added": added}


# ----------------------------------------------------------------------- proposing


def _latest(ws: Workspace) -> Path | None:
    versions = list_releases(ws)
    return ws.releases_dir / f"v{versions[-1]}" if versions else None


def _previous_ids(folder: Path) -> pa.Array:
    paths = sorted((folder / "documents").glob("*.parquet"))
    if not paths:
        return pa.array([], pa.string())
    return pa.concat_arrays([pq.read_table(p, columns=["article_id"])["article_id"].combine_chunks()
                             for p in paths])


def _propose(ws: Workspace, scheme: Scheme, released_ids: pa.Array) -> tuple[str, str]:
    latest = _latest(ws)
    if latest is None:
        return "0.1.0", "first release (0.x while the scheme settles)"
    major, minor, patch = parse_version(latest.name)
    try:
        old_scheme = Scheme.load(latest / "scheme.json")
        scheme_diff = _scheme_changes(old_scheme, scheme)
    except ToolkitError:
        scheme_diff = {"removed": ["(the previous scheme could not be read)"], "added": []}
    if scheme_diff["removed"]:
        return _vstr((major + 1, 0, 0)), (f"major: the scheme removed or renamed "
                                          f"{', '.join(scheme_diff['removed'])} since {latest.name}")
    old_ids = _previous_ids(latest)
    added = int(pc.sum(pc.invert(pc.is_in(released_ids, old_ids))).as_py() or 0)
    removed = int(pc.sum(pc.invert(pc.is_in(old_ids, released_ids))).as_py() or 0)
    if scheme_diff["added"] or added:
        parts = []
        if added:
            parts.append(f"{added} article(s) added")
        if scheme_diff["added"]:
            parts.append(f"the scheme added {', '.join(scheme_diff['added'])}")
        return _vstr((major, minor + 1, 0)), f"minor: {'; '.join(parts)} since {latest.name}"
    detail = f"{removed} article(s) removed, " if removed else ""
    return _vstr((major, minor, patch + 1)), (f"patch: corrections only ({detail}no articles, labels or fields "
                                              f"added since {latest.name})")


def propose_version(ws: Workspace, *, options: ReleaseOptions | None = None) -> tuple[str, str]:
    """The next version and why: major if the scheme lost a field or label (or renamed one),
    minor if articles or labels were added, else patch."""
    options = options or ReleaseOptions.from_workspace(ws)
    inputs = _read_inputs(ws, options)
    plan = _make_plan(ws, inputs)
    return _propose(ws, inputs.scheme, plan.released_ids)


# ---------------------------------------------------------------------------- lock


@contextlib.contextmanager
def _release_lock(ws: Workspace) -> Iterator[None]:
    ws.releases_dir.mkdir(parents=True, exist_ok=True)
    with open(ws.releases_dir / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise ReleaseLocked("another release is running in this workspace",
                                    hint="wait for it to finish, then try again") from None
            raise
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_stale_temporaries(ws: Workspace) -> list[str]:
    """Temporary folders of releases that crashed (we hold the lock, so none is in use)."""
    removed = []
    for entry in ws.releases_dir.iterdir():
        if entry.is_dir() and _TMP.match(entry.name):
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


# ------------------------------------------------------------------------- checksums


def _release_files(folder: Path) -> list[str]:
    """Every file below ``folder`` except the manifest, as sorted POSIX paths."""
    found = []
    for base, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            rel = (Path(base) / name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                found.append(rel)
    return sorted(found)


def _fsync_tree(folder: Path) -> None:
    for base, _, names in os.walk(folder):
        for name in names:
            with open(Path(base) / name, "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(base, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------- reports


@dataclass
class ReleaseReport:
    version: str
    path: str
    reason: str
    created: str
    previous: str | None
    articles: dict[str, int]
    clusters: dict[str, int]
    unresolved_held_back: int
    gold_without_article: int
    ner: dict[str, int]
    files: int
    bytes: int
    stale_temporaries_removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class VerifyReport:
    path: str
    ok: bool
    changed: list[str]
    missing: list[str]
    extra: list[str]
    checked: int
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------- release


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _context_inputs(ws: Workspace) -> dict[str, Any]:
    """Figures from the other stages' reports (each may be missing)."""
    a = ws.annotations_dir
    agreement = _read_json(a / "agreement.json")
    headline = agreement.get("headline") if isinstance(agreement, dict) else None
    index = _read_json(a / "exports" / "index.json")
    exports = [{k: e.get(k) for k in ("file", "sha256", "bytes", "tasks") if k in e}
               for e in index] if isinstance(index, list) else []
    quarantine: Counter = Counter()
    if (a / "quarantine.jsonl").is_file():
        with open(a / "quarantine.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    try:
                        quarantine[json.loads(line).get("kind", "record")] += 1
                    except (ValueError, AttributeError):
                        quarantine["unreadable"] += 1
    ingest = _read_json(a / "ingest-report.json") or {}
    annotators = None
    annotations_path = a / "annotations.parquet"
    if annotations_path.is_file():
        with contextlib.suppress(pa.ArrowInvalid, KeyError):
            who = pq.read_table(annotations_path, columns=["annotator_id", "annotator_email", "was_cancelled"])
            submitted = who.filter(pc.invert(pc.fill_null(who["was_cancelled"], False)))
            keys = pc.coalesce(submitted["annotator_email"], pc.cast(submitted["annotator_id"], pa.string()))
            annotators = {"annotators": len(pc.unique(pc.drop_null(keys))), "annotations": submitted.num_rows,
                          "cancelled": who.num_rows - submitted.num_rows}
    return {
        "agreement_headline": headline if isinstance(headline, list) else [],
        "exports": exports,
        "quarantine": dict(sorted(quarantine.items())),
        "ingest": {k: ingest.get(k) for k in ("files_read", "documents_read", "total_articles",
                                               "exact_duplicates", "near_duplicate_clusters",
                                               "articles_in_clusters", "rejected", "rejected_by_reason")
                   if k in ingest},
        "annotation_counts": annotators,
    }


def _warm_up() -> None:
    """Import what the end of a release needs (datasets for the features, matplotlib for the
    plots) and build the tokeniser's tables."""
    import matplotlib

    matplotlib.use("Agg")
    import datasets  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    from . import conll

    conll.warm_up()


def release(ws: Workspace, version: str | None = None, *, progress: Progress | None = None,
            now: dt.datetime | None = None, options: ReleaseOptions | None = None) -> ReleaseReport:
    """Write ``releases/vX.Y.Z`` from the resolved gold labels; ``version`` None: the proposal."""
    from . import card, croissant

    progress = progress or NullProgress()
    options = options or ReleaseOptions.from_workspace(ws)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    if version is not None:
        parse_version(version)  # fail before any work
    with _release_lock(ws):
        stale = _remove_stale_temporaries(ws)
        inputs = _read_inputs(ws, options)
        pa.default_memory_pool().release_unused()
        _ensure_labels_known(inputs.gold, inputs)
        # The libraries and tables needed later load on a second thread meanwhile. (The
        # per-article agreement could be computed beside the plan as well: 0.9 s sooner at
        # 1,000,000 articles, for 150 MiB more at the peak, measured.)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-warm-up") as side:
            warm = side.submit(_warm_up)
            plan = _make_plan(ws, inputs)
            # Hand back what the plan needed only for a moment (Arrow's allocator keeps it).
            pa.default_memory_pool().release_unused()
            inputs.agreement = _article_agreement(ws, inputs.gold, inputs.stratify)
            pa.default_memory_pool().release_unused()
            warm.result()
        if plan.released_ids is None or len(plan.released_ids) == 0:
            raise ReleaseError("no resolved article to release",
                               hint="pull annotations and run `toolkit agree`; unresolved articles are "
                                    "never released (see `toolkit review`)")
        proposed, reason = _propose(ws, inputs.scheme, plan.released_ids)
        if version is None:
            version = proposed
        else:
            version = _vstr(parse_version(version))
            reason = f"given on the command line (the toolkit would propose {proposed}: {reason})"
        target = ws.releases_dir / f"v{version}"
        if target.exists():
            raise ReleaseExists(f"release v{version} already exists at {ws.relative(target)}",
                                hint=f"releases are never overwritten; the next version would be {proposed}")
        latest = _latest(ws)
        if latest is not None and parse_version(version) <= parse_version(latest.name):
            raise VersionError(f"v{version} is not greater than the latest release, {latest.name}",
                               hint=f"use {proposed} (or leave VERSION out)")
        tmp = ws.releases_dir / f".v{version}.tmp-{os.getpid()}"
        tmp.mkdir()
        try:
            features = _features(inputs)
            written = _write_data(tmp, ws, inputs, plan, features, progress)
            files, stats, tag_stats = written.files, written.stats, written.ner_conversion
            atomicio.write_json(tmp / "scheme.json", inputs.scheme.to_dict())
            diff = _diff(latest, tmp) if latest is not None else None
            previous_manifest = _read_json(latest / MANIFEST) if latest is not None else None
            context = {
                "version": version, "created": now.isoformat().replace("+00:00", "Z"),
                "reason": reason, "toolkit_version": __version__,
                "project": dataclasses.asdict(ws.config.project),
                "scheme": inputs.scheme, "scheme_hash": inputs.scheme.hash(),
                "stratify_field": inputs.stratify.name if inputs.stratify else None,
                "ner_field": inputs.ner.name if inputs.ner else None,
                "features": {name: f.to_dict() for name, f in features.items()},
                "feature_objects": features,
                "files": {config: {s: [p.relative_to(tmp).as_posix() for p in paths] for s, paths in by.items()}
                          for config, by in files.items()},
                "file_bytes": {config: {s: sum(p.stat().st_size for p in paths) for s, paths in by.items()}
                               for config, by in files.items()},
                "options": dataclasses.asdict(options),
                "stats": stats.to_dict(), "clusters": plan.clusters, "strata": plan.strata,
                "unresolved": {"count": inputs.unresolved, "reasons": dict(inputs.unresolved_reasons.most_common())},
                "gold_without_article": plan.gold_without_article, "ner_conversion": tag_stats,
                "diff": diff, "previous_manifest": previous_manifest,
                **_context_inputs(ws),
            }
            plots = card.write_plots(tmp / "plots", context)
            context["plots"] = plots
            atomicio.write_text(tmp / "README.md", card.render_card(context))
            atomicio.write_text(tmp / "DATASHEET.md", card.render_datasheet(context))
            atomicio.write_text(tmp / "CHANGELOG.md", card.render_changelog(context))
            sealed = {path.relative_to(tmp).as_posix(): entry for path, entry in written.sealed.items()}
            entries = {rel: sealed.get(rel) or {"sha256": atomicio.sha256_file(tmp / rel),
                                                "bytes": (tmp / rel).stat().st_size}
                       for rel in _release_files(tmp)}
            atomicio.write_json(tmp / "croissant.json", croissant.build(context, entries))
            entries["croissant.json"] = {"sha256": atomicio.sha256_file(tmp / "croissant.json"),
                                         "bytes": (tmp / "croissant.json").stat().st_size}
            entries = dict(sorted(entries.items()))
            bad = [rel for rel in entries if Path(rel).suffix not in ALLOWED_SUFFIXES]
            if bad:
                raise ReleaseError(f"a release may hold only Parquet, Markdown, JSON, text and PNG: {bad}")
            manifest = {
                "version": version, "created": context["created"], "toolkit_version": __version__,
                "scheme": {"name": inputs.scheme.name, "version": inputs.scheme.version,
                           "hash": inputs.scheme.hash()},
                "reason": reason, "previous": latest.name if latest else None,
                "exports": context["exports"],
                "inputs": {name: atomicio.sha256_file(path) for name, path in (
                    ("annotations/articles.parquet", ws.articles_path),
                    ("annotations/gold.parquet", ws.annotations_dir / "gold.parquet")) if path.is_file()},
                "options": context["options"],
                "counts": {"articles": stats.to_dict()["articles"], "clusters": plan.clusters,
                           "unresolved_held_back": inputs.unresolved,
                           "gold_without_article": plan.gold_without_article},
                "stats": context["stats"], "agreement_headline": context["agreement_headline"],
                "files": entries,
            }
            atomicio.write_json(tmp / MANIFEST, manifest)
            for base, _, names in os.walk(tmp):
                for name in names:
                    os.chmod(Path(base) / name, 0o444)
            _fsync_tree(tmp)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # The workspace's datasheet describes the latest release.
        atomicio.write_text(ws.root / "DATASHEET.md", card.render_datasheet(context, prefix=f"releases/v{version}/"))
    total_bytes = sum(e["bytes"] for e in entries.values()) + (target / MANIFEST).stat().st_size
    return ReleaseReport(
        version=version, path=ws.relative(target), reason=reason, created=context["created"],
        previous=latest.name if latest else None, articles=stats.to_dict()["articles"], clusters=plan.clusters,
        unresolved_held_back=inputs.unresolved, gold_without_article=plan.gold_without_article,
        ner=tag_stats, files=len(entries) + 1, bytes=total_bytes, stale_temporaries_removed=stale)


# ------------------------------------------------------------------------------ verify


def _release_dir(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise ReleaseNotFound(f"no release at {folder}", hint="give a folder like releases/v1.0.0")
    return folder


def verify_release(path: str | os.PathLike[str]) -> VerifyReport:
    """Recompute every checksum of a release against its manifest. Never raises for a
    damaged release: the report lists changed, missing and extra files."""
    folder = _release_dir(path)
    manifest = _read_json(folder / MANIFEST)
    present = _release_files(folder)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        which = "missing" if not (folder / MANIFEST).exists() else "changed"
        return VerifyReport(str(folder), False, [MANIFEST] if which == "changed" else [],
                            [MANIFEST] if which == "missing" else [], present, 0)
    listed = manifest["files"]
    changed, missing = [], []
    for rel, entry in sorted(listed.items()):
        file = folder / rel
        if not file.is_file():
            missing.append(rel)
        elif file.stat().st_size != entry.get("bytes") or atomicio.sha256_file(file) != entry.get("sha256"):
            changed.append(rel)
    extra = [rel for rel in present if rel not in listed]
    return VerifyReport(str(folder), not (changed or missing or extra), changed, missing, extra, len(listed),
                        manifest.get("version"))


def _require_verified(folder: Path) -> dict[str, Any]:
    report = verify_release(folder)
    if not report.ok:
        problems = [f"{kind}: {', '.join(files)}" for kind, files in
                    (("changed", report.changed), ("missing", report.missing), ("extra", report.extra)) if files]
        raise ReleaseTampered(f"release {folder} does not match its manifest ({'; '.join(problems)})",
                              hint="restore the release from its source, or make a new one")
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


# -------------------------------------------------------------------------------- load


def load(path: str | os.PathLike[str], config: str = "documents", *,
         as_pandas: bool = False) -> datasets.DatasetDict | dict[str, Any]:
    """Verify a release, then load one config: a ``datasets.DatasetDict`` of its splits, or
    with ``as_pandas`` a dict split -> DataFrame (ClassLabel columns as categoricals)."""
    import datasets

    folder = _release_dir(path)
    _require_verified(folder)
    if not any((folder / config).glob("*.parquet")):
        configs = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet")))
        raise ReleaseError(f"release {folder} has no config {config!r}", hint=f"configs: {', '.join(configs)}")
    loaded = datasets.load_dataset(str(folder.resolve()), config)
    if not as_pandas:
        return loaded
    import pandas as pd

    frames = {}
    for split, ds in loaded.items():
        frame = ds.to_pandas()
        for name, feature in ds.features.items():
            if isinstance(feature, datasets.ClassLabel):
                frame[name] = pd.Categorical.from_codes(frame[name].fillna(-1).astype(int),
                                                        categories=feature.names)
        frames[split] = frame
    return frames


# ---------------------------------------------------------------------------- the Hub


@dataclass
class HubPlan:
    repo_id: str
    repo_type: str
    revision_tag: str
    commit_message: str
    files: list[dict[str, Any]]
    bytes: int
    dry_run: bool
    commit_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def push_to_hub(path: str | os.PathLike[str], repo_id: str, *, dry_run: bool = False,
                token: str | None = None) -> HubPlan:
    """Upload a (verified) release to the Hub as one commit, tagged ``vX.Y.Z``.

    The token comes from ``token`` or else ``HF_TOKEN``; it is never logged, stored or put
    into an error message. ``dry_run`` returns the plan without any network call.
    """
    folder = _release_dir(path)
    manifest = _require_verified(folder)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise HubError(f"{repo_id!r} is not a Hub repository id", hint="write it as ORG/NAME")
    version = manifest["version"]
    files = [{"path": rel, "bytes": entry["bytes"]} for rel, entry in manifest["files"].items()]
    files.append({"path": MANIFEST, "bytes": (folder / MANIFEST).stat().st_size})
    files.sort(key=lambda f: f["path"])
    plan = HubPlan(repo_id=repo_id, repo_type="dataset", revision_tag=f"v{version}",
                   commit_message=f"Release v{version}", files=files, bytes=sum(f["bytes"] for f in files),
                   dry_run=dry_run)
    if dry_run:
        return plan
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise HubError("HF_TOKEN is not set", hint="export HF_TOKEN=<a write token>; it is read from the "
                                                   "environment only")
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    operations = [CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=str(folder / f["path"]))
                  for f in files]
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        commit = api.create_commit(repo_id, operations=operations, commit_message=plan.commit_message,
                                   commit_description=f"{len(files)} files, {plan.bytes} bytes, made by "
                                                      f"toolkit {manifest.get('toolkit_version')}",
                                   repo_type="dataset")
        api.create_tag(repo_id, tag=plan.revision_tag, revision=commit.oid, repo_type="dataset",
                       tag_message=plan.commit_message)
    except Exception as exc:  # network, auth, refusal: all become one error without the token
        message = str(exc).replace(token, "***")
        raise HubError(f"uploading {folder.name} to {repo_id} failed: {type(exc).__name__}: {message}",
                       hint="check HF_TOKEN has write access to the organisation and the network") from None
    plan.commit_url = getattr(commit, "commit_url", None)
    return plan
