"""What goes into a release, and the streaming write of its data files.

- ``read_inputs``: the resolved gold labels (and the figures of the unresolved ones), their
  numbers finite;
- ``article_agreement``: per article, the share of annotators who gave the gold answer;
- ``make_plan``: which split every article goes to (whole near-duplicate clusters, stratified);
  ``stratify_field`` picks what it stratifies by, ``event_strata`` an article's main event type;
- ``config_features``: the Hugging Face features of the ``documents`` and ``ner`` configs, and of
  one events config per events field of the scheme (``events_configs``, ``event_features``);
- ``feature_values``: gold values as the Arrow type of their feature (label names -> ClassLabel
  ids, key by key through lists and structs: spans with attributes, relations, events);
- ``event_table``: the rows of an events config (one per gold event) from the gold events column;
- ``write_data``: the articles table, batch by batch, into the Parquet files of each config and
  split and the CoNLL text, with the figures the card and datasheet report.

Events configs: one row per gold event of every released article, in the article's split (the
split files of an events config hold the events of that split's articles), ``event_id``
``<article_id>-e<n>`` with n counting the article's events in trigger order from 1. A split
without events has no file (``datasets`` cannot load an empty split), and a release without
any gold event has no events config (the card says so).

Memory and speed: articles stream through in batches of ``batch_size`` (text, tokens and
CoNLL text are never held whole); what is held for the whole run is the gold table (labels,
no text), one split code and gold row index per article, the per-article agreement, and the
per-cluster split plan, about 0.25 KB per released article in all. The batches are tagged
on the calling thread while one thread writes the Parquet files and another the CoNLL text,
each file fsynced and hashed as it is closed. ``bench/release_bench.py`` measures it against
``write_table`` of the same rows.

Splits: each near-duplicate cluster (``cluster_id`` from ingest) goes whole to one split.
Clusters are grouped by the majority gold value of the stratifying field (the first single
choice field, e.g. the event type), ordered within a group by a salted sha256 of the
cluster id, and cut at the configured ratios by article count. A scheme without an
article-level single choice but with an events field that has a type attribute stratifies by
the articles' main event type: the type most of an article's gold events have (ties: the
first in the scheme's choice order), ``no event`` for an article without gold events,
``no type`` for one whose events have no type; a cluster's majority ties go to the first
in that same order. Same data, same salt: same
splits on any machine. Adding data moves only clusters near the cut points; the changelog
lists articles that changed split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..articles import articles_exist, open_articles, read_articles
from .. import atomicio, parquetio
from ..config import ReleaseConfig
from ..errors import ReleaseError, ReleaseInputMissing, ReleaseInputStale
from ..progress import Progress
from ..scheme import ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField, TextField
from ..scheme import value_feature
from ..workspace import Workspace

if TYPE_CHECKING:
    import datasets

SPLITS: tuple[str, ...] = ("train", "validation", "test")
# Folders of a release that an events config may not take as its name.
RESERVED_CONFIGS: frozenset[str] = frozenset({"documents", "ner", "conll", "plots"})


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
        # Checked first: NaN passes every comparison below, and would reach manifest.json.
        for name, ratio in self.ratios.items():
            if not math.isfinite(ratio):
                raise ReleaseError(f"[release] {name} = {ratio} is not a number between 0 and 1",
                                   hint="fix [release] in toolkit.toml: the split ratios must add up to 1")
        if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6 or self.train <= 0:
            raise ReleaseError(f"split ratios train={self.train}, validation={self.validation}, "
                               f"test={self.test} must be non-negative and add up to 1",
                               hint="fix [release] in toolkit.toml")
        if self.rows_per_shard < 1 or self.batch_size < 1:
            raise ReleaseError("[release] rows_per_shard and batch_size must be positive")

    @property
    def ratios(self) -> dict[str, float]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


# ------------------------------------------------------------------------------ inputs


@dataclass
class Inputs:
    scheme: Scheme
    options: ReleaseOptions
    stratify: ChoiceField | EventsField | None  # ``stratify_field``: an events field has a type attribute
    ner: SpanField | None
    published_fields: tuple[Any, ...]  # scheme fields that go into the release (not free text)
    gold: pa.Table  # resolved rows only, columns needed for the release
    unresolved: int
    unresolved_reasons: Counter
    agreement: pa.Array | None = None  # per-article agreement, aligned with ``gold`` (``article_agreement``)

    @property
    def events(self) -> dict[str, EventsField]:
        """Config name -> the events field it publishes (``events_configs``)."""
        return events_configs(self.scheme)


def events_configs(scheme: Scheme) -> dict[str, EventsField]:
    """One config per events field, named after it (``events`` for a field named events);
    a field whose name is a folder of every release gets ``<name>_events``."""
    return {(f.name if f.name not in RESERVED_CONFIGS else f"{f.name}_events"): f for f in scheme.events_fields}


def read_inputs(ws: Workspace, options: ReleaseOptions) -> Inputs:
    scheme = Scheme.load(ws.scheme_path)
    gold_path = ws.annotations_dir / "gold.parquet"
    if not articles_exist(ws):
        raise ReleaseInputMissing(f"{ws.relative(ws.articles_path)}/ does not exist yet",
                                  hint="run `toolkit ingest` first")
    if not gold_path.is_file():
        raise ReleaseInputMissing(f"{ws.relative(gold_path)} does not exist yet", hint="run `toolkit agree` first")
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

    stratify = stratify_field(scheme, options.stratify_field)
    ner = pick(options.ner_field, SpanField, "ner_field")
    published = tuple(f for f in scheme.fields if not isinstance(f, TextField))
    columns = ["article_id", "status", "reason", "decided_by", "n_annotators"] + [f.name for f in published]
    missing = [c for c in columns if c not in gold_file.schema_arrow.names]
    if missing:
        raise ReleaseInputStale(f"annotations/gold.parquet has no column {', '.join(map(repr, missing))}",
                                hint="run `toolkit agree` again, then release")
    unresolved_reasons: Counter = Counter()
    resolved = []
    for batch in gold_file.iter_batches(batch_size=65_536, columns=columns):
        mask = pc.equal(batch.column("status"), "resolved")
        unresolved_reasons.update(reason_kind(r) for r in batch.filter(pc.invert(mask)).column("reason").to_pylist())
        resolved.append(batch.filter(mask).drop_columns(["status", "reason"]))
    # One chunk per column: the write loop takes rows from it batch by batch, and a take
    # from a chunked column would first concatenate its chunks, every time.
    schema = pa.schema([gold_file.schema_arrow.field(c) for c in columns if c not in ("status", "reason")])
    gold = pa.Table.from_batches(resolved, schema=schema).combine_chunks()
    del resolved
    if pc.count_distinct(gold["article_id"]).as_py() != gold.num_rows:
        raise ReleaseError("annotations/gold.parquet has more than one row for an article",
                           hint="run `toolkit agree` again")
    ensure_finite_numbers(gold, published)
    return Inputs(scheme, options, stratify, ner, published, gold,
                   sum(unresolved_reasons.values()), unresolved_reasons)


def stratify_field(scheme: Scheme, name: str = "") -> ChoiceField | EventsField | None:
    """What the splits are stratified by: the field ``name`` (``[release] stratify_field``), a
    choice field or an events field with a type attribute; by default the first single choice
    field, else the first events field with a type attribute, else nothing."""
    if name:
        f = scheme.field(name)
        if isinstance(f, ChoiceField) or (isinstance(f, EventsField) and f.type_field is not None):
            return f
        what = ("an events field without a type attribute" if isinstance(f, EventsField)
                else f"a {f.kind} field")
        raise ReleaseError(f"[release] stratify_field {name!r} is {what}",
                           hint="name a choice field, or an events field with a type attribute, of the scheme "
                                "(or leave stratify_field out)")
    return next((f for f in scheme.fields if isinstance(f, ChoiceField) and not f.multiple), None) or \
        next((f for f in scheme.events_fields if f.type_field is not None), None)


def ensure_finite_numbers(gold: pa.Table, fields: tuple[Any, ...]) -> None:
    """A NaN or infinite gold number is an error: it cannot be published, nor summed into the
    card's figures (JSON has no such numbers). Numbers of span and event attributes too."""
    for f in fields:
        column = gold[f.name].combine_chunks()
        if isinstance(f, NumberField):
            _ensure_finite(gold, f.name, column, None)
        elif isinstance(f, (SpanField, EventsField)):
            items = pc.list_flatten(column)
            parent = pc.list_parent_indices(column)
            for a in f.attributes:
                if isinstance(a.field, NumberField):
                    _ensure_finite(gold, f"{f.name} {a.name}", pc.struct_field(items, a.name), parent)


def _ensure_finite(gold: pa.Table, what: str, values: pa.Array, parent: pa.Array | None) -> None:
    if not pa.types.is_floating(values.type):
        return
    bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_finite(values)))
    if pc.any(bad).as_py():
        at = pc.index(bad, True).as_py()
        row = parent[at].as_py() if parent is not None else at
        raise ReleaseError(f"annotations/gold.parquet: article {gold['article_id'][row].as_py()} has "
                           f"{what} = {values[at].as_py()}, not a finite number",
                           hint="run `toolkit validate` and `toolkit agree` again, then release")


def reason_kind(reason: str | None) -> str:
    """A short class of an unresolved reason, for counting ("event_type: tie", "too few annotations")."""
    if not reason:
        return "unknown"
    kinds = []
    # "1 annotation(s); the policy needs 2" is one reason, though it holds the separator.
    for part in reason.replace("; the policy needs", " - the policy needs").split("; "):
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


def article_agreement(ws: Workspace, gold: pa.Table, stratify: ChoiceField | EventsField | None) -> pa.Array:
    """Per article: the share of its annotators whose ``stratify`` answer equals the gold one.

    Null when the gold value comes from a ground-truth annotation (no vote was taken), when
    the gold value is empty, or when annotations.parquet is not there. The votes stream
    through in batches (``_VOTES_BATCH``). Null throughout when the splits are stratified by
    an events field: an article's events have no single answer to agree on.
    """
    n = gold.num_rows
    empty = pa.nulls(n, pa.float32())
    path = ws.annotations_dir / "annotations.parquet"
    if not isinstance(stratify, ChoiceField) or not path.is_file() or n == 0:
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
class Plan:
    n_articles: int  # rows of the articles table
    gold_index: np.ndarray  # per article row: row in inputs.gold, or -1
    split: np.ndarray  # per article row: index into SPLITS, or -1 (not released)
    released_ids: pa.Array
    gold_without_article: int
    clusters: dict[str, int]  # split -> number of clusters
    strata: dict[str, dict[str, int]]  # stratum -> split -> articles


def cluster_keys(cluster_ids: pa.Array, seed: str) -> np.ndarray:
    """The split order of each cluster: the first 8 bytes of sha256(seed NUL cluster_id)."""
    salt = seed.encode() + b"\0"
    sha256 = hashlib.sha256
    keys = np.empty(len(cluster_ids), dtype=np.uint64)
    for start in range(0, len(cluster_ids), 100_000):  # a slice at a time as Python strings
        part = cluster_ids.slice(start, 100_000).to_pylist()
        digests = b"".join([sha256(salt + c.encode()).digest()[:8] for c in part])
        keys[start:start + len(part)] = np.frombuffer(digests, dtype=">u8")
    return keys


def make_plan(ws: Workspace, inputs: Inputs) -> Plan:
    articles = read_articles(ws, columns=["article_id", "cluster_id"])
    n = articles.num_rows
    if pc.count_distinct(articles["article_id"]).as_py() != n:
        raise ReleaseError(f"{ws.relative(ws.articles_path)}/ has duplicate article ids",
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
        if isinstance(inputs.stratify, EventsField):
            events = inputs.gold[inputs.stratify.name].combine_chunks().take(pa.array(gold_index[released]))
            by_name, stratum_code = event_strata(events, inputs.stratify)
        elif inputs.stratify is not None:
            values = inputs.gold[inputs.stratify.name].combine_chunks().take(pa.array(gold_index[released]))
            stratum = pc.dictionary_encode(pc.fill_null(values, ""))
            names = stratum.dictionary.to_pylist()
            by_name = sorted(names)
            rank = np.argsort(np.argsort(np.array(names, dtype=object)))
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
        keys = cluster_keys(cluster_ids, inputs.options.seed)
        id_rank = np.empty(n_clusters, dtype=np.int64)
        id_rank[pc.sort_indices(cluster_ids).to_numpy()] = np.arange(n_clusters)
        # Within each stratum (in sort order), clusters in key order (ties: cluster id), cut
        # where the middle of a cluster passes the ratio of the stratum's articles.
        order = np.lexsort((id_rank, keys, majority))
        code, size = majority[order], cluster_size[order]
        # bounds[g]:bounds[g + 1] are the clusters of stratum group g; cum[i]: articles before cluster i.
        bounds = np.r_[0, np.flatnonzero(np.diff(code)) + 1, len(code)]
        cum = np.r_[0, np.cumsum(size)]
        group_of = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
        before = cum[bounds[:-1]][group_of]
        total = (cum[bounds[1:]] - cum[bounds[:-1]])[group_of]
        middle = (cum[1:] - before - size / 2) / total
        cut1 = inputs.options.train
        cut2 = inputs.options.train + inputs.options.validation
        cluster_split = np.empty(n_clusters, dtype=np.int8)
        cluster_split[order] = np.where(middle < cut1, 0, np.where(middle < cut2, 1, 2))
        for start, stop in zip(bounds[:-1], bounds[1:]):
            in_group = cluster_split[order[start:stop]]
            strata[by_name[code[start]]] = {name: int(size[start:stop][in_group == k].sum())
                                            for k, name in enumerate(SPLITS)}
        for k, name in enumerate(SPLITS):
            clusters[name] = int((cluster_split == k).sum())
        split[released] = cluster_split[cluster_code]
    released_ids = articles["article_id"].combine_chunks().filter(pa.array(released))
    return Plan(n, gold_index, split, released_ids, inputs.gold.num_rows - int(released.sum()), clusters, strata)


NO_EVENT = "no event"
NO_TYPE = "no type"


def event_strata(events: pa.Array, f: EventsField) -> tuple[list[str], np.ndarray]:
    """The stratum of each article from its gold ``events`` (a list of events per article):
    the names of the strata, in the scheme's choice order of the type, then ``no type``, then
    ``no event``, and each article's index into them.

    An article's stratum is the type most of its events have (ties: the first in the
    scheme's order; untyped events do not count), ``no type`` when it has events and none has
    a type, ``no event`` when it has none. Numpy over the events, like the cluster majority.
    """
    assert f.type_field is not None and f.type_attribute is not None
    types = list(f.type_field.values)
    # A type may not take the name of the strata of articles without one.
    names = types + [x if x not in types else f"({x})" for x in (NO_TYPE, NO_EVENT)]
    n_types = len(types)
    has_events = pc.fill_null(pc.greater(pc.list_value_length(events), 0), False).to_numpy(zero_copy_only=False)
    code = np.where(has_events, n_types, n_types + 1).astype(np.int64)
    items = pc.list_flatten(events)
    if len(items):
        article = pc.list_parent_indices(events).to_numpy().astype(np.int64)
        type_code = pc.index_in(pc.struct_field(items, f.type_attribute), value_set=pa.array(types, pa.string()))
        typed = pc.is_valid(type_code).to_numpy(zero_copy_only=False)
        if typed.any():
            pair, count = np.unique(article[typed] * n_types + type_code.to_numpy(zero_copy_only=False)[typed]
                                    .astype(np.int64), return_counts=True)
            pair_article, pair_type = pair // n_types, pair % n_types
            # Per article, the most frequent type first (ties: the first in the scheme's order).
            ranked = np.lexsort((pair_type, -count, pair_article))
            first = np.ones(len(ranked), dtype=bool)
            first[1:] = pair_article[ranked][1:] != pair_article[ranked][:-1]
            code[pair_article[ranked][first]] = pair_type[ranked][first]
    return names, code


# ----------------------------------------------------------------------- features


def config_features(inputs: Inputs) -> dict[str, datasets.Features]:
    from datasets import ClassLabel, Features, Value

    from .conll import tag_names
    from ..scheme import build_features

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
    for config, f in inputs.events.items():
        result[config] = event_features(f, inputs.scheme)
    return result


def event_features(f: EventsField, scheme: Scheme) -> datasets.Features:
    """The features of an events config: ids, the split, the type (when the field names one),
    the trigger, the arguments and every other attribute."""
    from datasets import ClassLabel, Features, Value

    columns: dict[str, Any] = {"article_id": Value("string"), "event_id": Value("string"), "split": Value("string")}
    if f.type_field is not None:
        columns[f.type_field.name] = value_feature(f.type_field)
    columns["trigger"] = {"start": Value("int32"), "end": Value("int32"), "text": Value("string")}
    columns["arguments"] = [{"role": ClassLabel(names=list(f.role_values)),
                             "label": ClassLabel(names=list(scheme.span_labels)),
                             "start": Value("int32"), "end": Value("int32"), "text": Value("string")}]
    for a in f.attributes:
        if a.name not in columns:
            columns[a.name] = value_feature(a.field)
    return Features(columns)


def _label_ids(values: pa.Array, names: tuple[str, ...]) -> pa.Array:
    return pc.cast(pc.index_in(values, pa.array(list(names), pa.string())), pa.int64())


def feature_values(values: pa.Array, feature: Any, what: str) -> pa.Array:
    """Gold values (label names, Arrow numbers, lists, structs) as the Arrow type of ``feature``:
    a ClassLabel's names become its ids, numbers are cast, lists and structs are rebuilt key by key
    (the keys the feature names, in its order). A null list becomes an empty one (a null span or
    event list in gold means none); ``what`` names the column in errors."""
    from datasets import ClassLabel, LargeList, List, Value

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(feature, ClassLabel):
        return _label_ids(values, tuple(feature.names))
    if isinstance(feature, Value):
        return pc.cast(values, feature.pa_type)
    if isinstance(feature, (list, List, LargeList)):
        inner = feature[0] if isinstance(feature, list) else feature.feature
        if not pa.types.is_list(values.type) and not pa.types.is_large_list(values.type):
            raise ReleaseInputStale(f"annotations/gold.parquet: {what} is {values.type}, not a list",
                                    hint="run `toolkit agree` again, then release")
        offsets = values.offsets.to_numpy(zero_copy_only=False)
        first, last = int(offsets[0]), int(offsets[-1])
        # Null entries of a list may still span child values in principle; their length is
        # taken as 0 so that every non-null list keeps exactly its own items.
        lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
        if int(lengths.sum()) == last - first:
            child = values.values.slice(first, last - first)
        else:
            child = pc.list_flatten(values)
        items = feature_values(child, inner, what)
        new_offsets = pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32), pa.int32())
        target = pa.list_(items.type)
        return pa.ListArray.from_arrays(new_offsets, items, type=target)
    if isinstance(feature, dict):
        if not pa.types.is_struct(values.type):
            raise ReleaseInputStale(f"annotations/gold.parquet: {what} is {values.type}, not a struct",
                                    hint="run `toolkit agree` again, then release")
        present = {values.type.field(i).name for i in range(values.type.num_fields)}
        missing = [key for key in feature if key not in present]
        if missing:
            raise ReleaseInputStale(f"annotations/gold.parquet: {what} has no key {', '.join(map(repr, missing))}",
                                    hint="run `toolkit pull` and `toolkit agree` again, then release")
        children = [feature_values(pc.struct_field(values, key), sub, f"{what}.{key}") for key, sub in feature.items()]
        mask = values.is_null() if values.null_count else None
        return pa.StructArray.from_arrays(children, names=list(feature), mask=mask)
    raise ReleaseError(f"{what}: no Arrow conversion for the feature {feature!r}")


def gold_columns(gold: pa.Table, inputs: Inputs, features: datasets.Features) -> dict[str, pa.Array]:
    """Gold field values as the release's Arrow types (label names -> ClassLabel ids)."""
    schema = features.arrow_schema
    out: dict[str, pa.Array] = {}
    for f in inputs.published_fields:
        values = feature_values(gold[f.name], features[f.name], f.name)
        target = schema.field(f.name).type
        out[f.name] = values if values.type == target else values.cast(target)
    return out


def event_table(article_ids: pa.Array, events: pa.Array, split: str, config: str,
                features: datasets.Features) -> tuple[pa.Table, pa.Array]:
    """The rows of an events config for some articles: one per event of ``events`` (the gold
    events column, aligned with ``article_ids``), in article order then trigger order; and the
    gold events themselves in that order (for the figures)."""
    if isinstance(events, pa.ChunkedArray):
        events = events.combine_chunks()
    if isinstance(article_ids, pa.ChunkedArray):
        article_ids = article_ids.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(events), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(events)
    parent = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    if len(flat):
        trigger = pc.struct_field(flat, "trigger")
        order = pc.sort_indices(pa.table({"article": parent, "start": pc.struct_field(trigger, "start"),
                                          "end": pc.struct_field(trigger, "end")}),
                                sort_keys=[("article", "ascending"), ("start", "ascending"), ("end", "ascending")])
        flat = flat.take(order)
        parent = parent[order.to_numpy()]
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    number = np.arange(len(parent), dtype=np.int64) - first[parent] + 1
    ids = article_ids.take(pa.array(parent))
    data: dict[str, pa.Array] = {
        "article_id": ids,
        "event_id": pc.binary_join_element_wise(ids, pc.cast(pa.array(number), pa.string()), "-e"),
        "split": pa.array([split] * len(parent), pa.string()),
    }
    for name, feature in features.items():
        if name not in data:
            data[name] = feature_values(pc.struct_field(flat, name), feature, f"{config} {name}")
    return pa.Table.from_pydict(data).cast(features.arrow_schema), flat


# ---------------------------------------------------------------------------- writing


class ShardedWriter:
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

    def close(self, *, seal_file: bool = True) -> list[Path]:
        """Close the open shard; ``seal_file``: fsync it and take its manifest entry (not
        worth reading a file back when the release is being abandoned)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            if seal_file:
                self.sealed[self.paths[-1]] = seal(self.paths[-1])
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


def seal(path: Path) -> dict[str, Any]:
    """fsync a finished file and take its manifest entry while it is in the page cache."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return atomicio.file_entry(path)


class TextWriter:
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
        """fsync and close the file; its manifest entry."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return {"sha256": self._digest.hexdigest(), "bytes": self._bytes}

    def abort(self) -> None:
        self._fh.close()


@dataclass
class Stats:
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
    # events config -> {"field", "events": split -> n, "articles": split -> n with an event,
    # "types": split -> type -> n, "roles": split -> role -> arguments, "numbers": attribute -> {n, sum, max}}
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_events(self, config: str, f: EventsField, split: str, events: pa.Array, articles: int) -> None:
        """Figures of one batch of gold events (``event_table``'s second value) of ``articles``
        articles with at least one event."""
        entry = self.events.setdefault(config, {
            "field": f.name, "type": f.type_attribute if f.type_field is not None else None,
            "events": Counter(), "articles": Counter(), "types": {}, "roles": {}, "numbers": {}})
        entry["events"][split] += len(events)
        entry["articles"][split] += articles
        if entry["type"] is not None:
            target = entry["types"].setdefault(split, Counter())
            for item in pc.value_counts(pc.struct_field(events, entry["type"])).to_pylist():
                target[item["values"] if item["values"] is not None else "(empty)"] += item["counts"]
        roles = pc.struct_field(pc.list_flatten(pc.struct_field(events, "arguments")), "role")
        target = entry["roles"].setdefault(split, Counter())
        for item in pc.value_counts(roles).to_pylist():
            target[item["values"]] += item["counts"]
        for a in f.attributes:
            if isinstance(a.field, NumberField):
                # an integer attribute sums to an integer (the card shows 5, not 5.000)
                stats = entry["numbers"].setdefault(a.name, {"n": 0, "sum": 0 if a.field.integer else 0.0,
                                                             "max": None})
                valid = pc.drop_null(pc.struct_field(events, a.name))
                stats["n"] += len(valid)
                if len(valid):
                    total = pc.sum(valid).as_py()
                    stats["sum"] += int(total) if a.field.integer else float(total)
                    top = pc.max(valid).as_py()
                    stats["max"] = top if stats["max"] is None else max(stats["max"], top)

    def add(self, split: str, articles: pa.Table, gold: pa.Table, agreement: pa.Array) -> None:
        n = articles.num_rows
        self.articles[split] += n
        self.chars[split] += int(pc.sum(pc.utf8_length(articles["text"])).as_py() or 0)
        for f in self.fields:
            column = gold[f.name]
            if isinstance(f, EventsField):
                continue  # counted per event (``add_events``)
            if isinstance(f, (SpanField, RelationsField)):
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
            # Only with events fields: a scheme without them keeps the figures it always had.
            **({"events": {config: {
                "field": e["field"], "type": e["type"],
                "events": {s: e["events"][s] for s in SPLITS}, "articles": {s: e["articles"][s] for s in SPLITS},
                "types": {s: dict(sorted(e["types"].get(s, Counter()).items())) for s in SPLITS},
                "roles": {s: dict(sorted(e["roles"].get(s, Counter()).items())) for s in SPLITS},
                "numbers": {name: {"n": v["n"], "sum": v["sum"], "max": v["max"]} for name, v in e["numbers"].items()},
            } for config, e in self.events.items()}} if self.events else {}),
        }


def ensure_labels_known(gold: pa.Table, inputs: Inputs) -> None:
    """Every gold label must be one of the scheme's (gold.parquet could predate a scheme edit):
    span and choice values, relation types and their ends' labels, event roles and argument labels,
    and the choices of span and event attributes."""
    for what, values, allowed in _label_values(gold, inputs):
        unknown = pc.drop_null(pc.filter(values, pc.invert(pc.is_in(values, pa.array(list(allowed), pa.string())))))
        if len(unknown):
            raise ReleaseInputStale(
                f"annotations/gold.parquet has {what} value {unknown[0].as_py()!r}, which the scheme does not "
                "declare", hint="run `toolkit pull` and `toolkit agree` again, then release")


def _label_values(gold: pa.Table, inputs: Inputs) -> Iterator[tuple[str, pa.Array, tuple[str, ...]]]:
    """(what, gold values, the values the scheme allows) of every labelled thing in gold."""
    span_labels = inputs.scheme.span_labels

    def choices(items: pa.Array, owner: str, attributes: tuple[Any, ...]) -> Iterator[tuple[str, pa.Array, tuple[str, ...]]]:
        for a in attributes:
            if isinstance(a.field, ChoiceField):
                values = pc.struct_field(items, a.name)
                yield f"{owner} {a.name}", pc.list_flatten(values) if a.field.multiple else values, a.field.values

    for f in inputs.published_fields:
        column = gold[f.name]
        if isinstance(f, ChoiceField):
            yield f.name, pc.list_flatten(column) if f.multiple else column, f.values
            continue
        if not isinstance(f, (SpanField, RelationsField, EventsField)):
            continue
        items = pc.list_flatten(column)
        if isinstance(items, pa.ChunkedArray):
            items = items.combine_chunks()
        if isinstance(f, SpanField):
            yield f.name, pc.struct_field(items, "label"), f.values
            yield from choices(items, f.name, f.attributes)
        elif isinstance(f, RelationsField):
            yield f.name, pc.struct_field(items, "label"), f.values
            for end in ("head", "tail"):
                yield f"{f.name} {end}", pc.struct_field(pc.struct_field(items, end), "label"), span_labels
        else:
            arguments = pc.list_flatten(pc.struct_field(items, "arguments"))
            yield f"{f.name} role", pc.struct_field(arguments, "role"), f.role_values
            yield f"{f.name} argument", pc.struct_field(arguments, "label"), span_labels
            yield from choices(items, f.name, f.attributes)


@dataclass
class Written:
    """What ``write_data`` wrote: files per config and split, and the manifest entry
    (sha256, bytes) of each, taken as it was written."""

    files: dict[str, dict[str, list[Path]]]
    sealed: dict[Path, dict[str, Any]]
    stats: Stats
    ner_conversion: dict[str, int]
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows written


# Writes queued for the writer threads (each holds one batch's tables): bounds memory.
_IN_FLIGHT = 8


def write_data(tmp: Path, ws: Workspace, inputs: Inputs, plan: Plan, features: dict[str, Any],
                progress: Progress) -> Written:
    """Stream the articles table batch by batch into the ``documents``, ``ner`` and events Parquet
    files and the CoNLL text of each split.

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
    writers = {s: ShardedWriter(tmp / "documents", s, doc_schema, options.rows_per_shard) for s in SPLITS}
    ner_writers = {s: ShardedWriter(tmp / "ner", s, ner_schema, options.rows_per_shard) for s in SPLITS} \
        if ner_schema is not None else {}
    event_configs = inputs.events
    event_writers = {config: {s: ShardedWriter(tmp / config, s, features[config].arrow_schema, options.rows_per_shard)
                              for s in SPLITS} for config in event_configs}
    every_writer = [*writers.values(), *ner_writers.values(), *(w for by in event_writers.values() for w in by.values())]
    conll_files: dict[str, TextWriter] = {}
    stats = Stats(inputs.scheme, inputs.published_fields)
    tag_stats = conll.TagStats()
    names = conll.tag_names(inputs.ner.values) if inputs.ner is not None else []
    columns = ["article_id", "title", "published", "source_url", "text", "source_name", "language"]

    def write_tables(split: str, documents: pa.Table, ner: pa.Table | None, events: dict[str, pa.Table]) -> None:
        writers[split].write(documents)
        if ner is not None:
            ner_writers[split].write(ner)
        for config, table in events.items():
            event_writers[config][split].write(table)

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
                conll_files[s] = TextWriter(tmp / "conll" / f"{s}.txt")
        source = open_articles(ws)
        for batch in source.iter_batches(options.batch_size, columns):
            codes = plan.split[offset:offset + batch.num_rows]
            rows = plan.gold_index[offset:offset + batch.num_rows]
            offset += batch.num_rows
            table = pa.Table.from_batches([batch])
            for k, s in enumerate(SPLITS):
                mask = codes == k
                if not mask.any():
                    continue
                articles = table.filter(pa.array(mask))
                take = pa.array(rows[mask])
                gold = inputs.gold.take(take)
                agreement = inputs.agreement.take(take) if inputs.agreement is not None \
                    else pa.nulls(len(take), pa.float32())
                stats.add(s, articles, gold, agreement)
                values = gold_columns(gold, inputs, features["documents"])
                events = {}
                for config, f in event_configs.items():
                    events[config], flat = event_table(articles["article_id"], gold[f.name], s, config,
                                                       features[config])
                    with_events = int(pc.sum(pc.greater(pc.fill_null(pc.list_value_length(gold[f.name]), 0), 0))
                                      .as_py() or 0)
                    stats.add_events(config, f, s, flat, with_events)
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
                pending.append(tables.submit(write_tables, s, pa.table(data, schema=doc_schema), ner, events))
                while len(pending) > _IN_FLIGHT:
                    pending.popleft().result()
            progress.advance(batch.num_rows)
        while pending:
            pending.popleft().result()
        sealed = {text.path: text.close() for text in conll_files.values()}
        for writer in every_writer:
            writer.close()
    finally:
        # On the way out after an error: the writes still running finish, queued ones are
        # dropped, and every file is closed without being read back (it is about to go).
        for pool in (tables, texts):
            pool.shutdown(wait=True, cancel_futures=True)
        for text in conll_files.values():
            text.abort()
        for writer in every_writer:
            writer.close(seal_file=False)
        progress.finish()
    files = {"documents": {s: writers[s].finish() for s in SPLITS}}
    if ner_writers:
        files["ner"] = {s: ner_writers[s].finish() for s in SPLITS}
        for s in SPLITS:
            if not files["ner"][s]:
                (tmp / "conll" / f"{s}.txt").unlink()
                del sealed[tmp / "conll" / f"{s}.txt"]
    for config, by_split in event_writers.items():
        files[config] = {s: by_split[s].finish() for s in SPLITS}
    for writer in every_writer:
        sealed.update(writer.sealed)
    rows = {"documents": {s: writers[s].rows for s in SPLITS}}
    if ner_writers:
        rows["ner"] = {s: ner_writers[s].rows for s in SPLITS}
    rows.update({config: {s: by_split[s].rows for s in SPLITS} for config, by_split in event_writers.items()})
    return Written(files, sealed, stats, tag_stats.to_dict(), rows)
