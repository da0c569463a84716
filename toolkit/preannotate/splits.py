"""The gold records a model may learn from, and those it is judged on.

A model trained here learns only from the gold articles that the deterministic release split
(``toolkit.release``'s plan: whole near-duplicate clusters, stratified, salted hash) puts in
``train``, so no model ever sees an article a release calls ``test``, and none needs a
release to exist first. Its figures come from the articles the split puts in ``validation``;
``toolkit evaluate`` reports on the held-out ones (``validation`` and ``test``) unless told.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc

from ..articles import read_articles
from ..errors import PreannotateError
from ..release.data import SPLITS, ReleaseOptions, make_plan, read_inputs
from ..scheme import Scheme, TextField
from ..workspace import Workspace

__all__ = ["SPLIT_CHOICES", "GoldSet", "load_gold"]

# What `--split` may name: one split, "heldout" (validation and test) or "all".
SPLIT_CHOICES = (*SPLITS, "heldout", "all")


class GoldSet:
    """Resolved gold records with their article text and split, by article id."""

    def __init__(self, records: dict[str, dict[str, Any]], texts: dict[str, str], splits: dict[str, str]) -> None:
        self.records, self.texts, self.splits = records, texts, splits

    def ids(self, split: str) -> list[str]:
        """The article ids of ``split`` (a split name, "heldout" or "all"), sorted."""
        if split not in SPLIT_CHOICES:
            raise PreannotateError(f"unknown split {split!r}", hint=f"name one of {', '.join(SPLIT_CHOICES)}")
        wanted = {"heldout": {"validation", "test"}, "all": set(SPLITS)}.get(split, {split})
        return sorted(a for a, s in self.splits.items() if s in wanted)

    def __len__(self) -> int:
        return len(self.records)


def load_gold(ws: Workspace, scheme: Scheme | None = None) -> GoldSet:
    """Every resolved gold record (fields of the scheme, no free text) with its text and its
    split. Raises ``ReleaseInputMissing`` when there is no gold or no articles yet."""
    scheme = scheme or Scheme.load(ws.scheme_path)
    options = ReleaseOptions.from_workspace(ws)
    inputs = read_inputs(ws, options)
    plan = make_plan(ws, inputs)
    names = [f.name for f in scheme.fields if not isinstance(f, TextField)]
    gold_rows = inputs.gold.select(["article_id", *names]).to_pylist()
    records = {row["article_id"]: row for row in gold_rows}
    ids = read_articles(ws, columns=["article_id"])["article_id"].to_pylist()
    splits = {ids[i]: SPLITS[int(s)] for i, s in enumerate(plan.split) if s >= 0}
    articles = read_articles(ws, columns=["article_id", "text"])
    articles = articles.filter(pc.is_in(articles["article_id"], value_set=plan.released_ids))
    texts = dict(zip(articles["article_id"].to_pylist(), articles["text"].to_pylist()))
    records = {a: r for a, r in records.items() if a in splits}
    return GoldSet(records, texts, splits)
