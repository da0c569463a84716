"""Gold labels: one answer per article, decided by a stated policy (``[gold]`` in toolkit.toml).

The policy, in order:
1. a ground-truth annotation (marked in Label Studio, or a reviewer's answer from
   ``toolkit review``) wins: the latest one is the gold record, whoever saved it last (an
   adjudication, not a vote);
2. otherwise the votes are the submitted (not cancelled) annotations that are their
   author's own, one per annotator (the latest): an annotation whose last update was made by
   another account (``edited_by_other``) is nobody's independent vote and is left out (its id
   is kept in ``edited_annotation_ids``). An article needs at least ``min_annotations``
   votes, else it is unresolved;
3. single choices by majority (the one value chosen most often; a tie is unresolved);
   multiple choices keep each value chosen by more than half of the annotators; numbers by
   ``median`` or ``majority`` (``numbers``); spans kept when at least ``span_min_agree``
   annotators mark the same start, end and label (0 = a majority of the annotators); free
   text is not aggregated. A field is decided only from at least ``min_annotations``
   non-empty answers: fewer (but some) leave it undecided, with the reason;
   the attributes of a kept span by the same rules among the annotators who marked that span;
   relations kept when at least ``span_min_agree`` annotators (0 = a majority) give the same
   label between the same exact head and tail spans;
   events (pairings in ``events``): each annotator's events clustered by trigger overlap, one
   event per annotator per cluster; a cluster is a gold event when at least
   ``event_min_agree`` annotators (0 = a majority) are in it; its trigger the most common exact
   offsets among them (a tie to the earliest, then the shortest); its type and other choices
   by majority, numbers by ``numbers``, among the cluster's annotators (a tie is unresolved,
   the reason naming the event by trigger text and offsets; a value given by fewer than
   ``min_annotations`` of them, or than all of them when fewer, is undecided); its arguments
   by vote: per role, arguments clustered by overlap, kept when a majority of the cluster's
   annotators have one, at the most common exact span among them;
4. an article with any tie or undecided field is **unresolved**, listed with the reason, and
   never published as if resolved (releases take only ``status == "resolved"`` rows). Its
   row still carries the fields that were decided, with how (``<field>_decision``), for the
   adjudicator; the tied and undecided fields are empty.
Empty answers (a number left blank, no choice) abstain; an article where every annotator
left a field empty gets an empty gold value for it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa

from ..scheme import (Attribute, ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField,
                      TextField)
from .events import cluster_events, cluster_spans, gold_offsets


@dataclass(frozen=True)
class GoldPolicy:
    min_annotations: int = 2
    numbers: str = "median"  # or "majority"
    span_min_agree: int = 0  # 0: a majority of the annotators
    event_min_agree: int = 0  # 0: a majority of the annotators

    def to_dict(self, scheme: Scheme | None = None) -> dict[str, Any]:
        """The policy as data; given a ``scheme`` without events, without the events' setting
        (so agreement.json reads as it always did for such a scheme)."""
        out = dict(self.__dict__)
        if scheme is not None and not scheme.events_fields:
            del out["event_min_agree"]
        return out


def _majority_needed(n: int) -> int:
    return n // 2 + 1


def _decide_choice(values: list[Any]) -> tuple[Any, str, str | None]:
    votes = [v for v in values if v is not None]
    if not votes:
        return None, "empty: no annotator chose", None
    counts = Counter(votes).most_common()
    top, count = counts[0]
    if len(counts) > 1 and counts[1][1] == count:
        tied = sorted(str(v) for v, c in counts if c == count)
        return None, "tie", f"tie between {' and '.join(repr(t) for t in tied)} ({count} vote(s) each)"
    return top, f"majority {count}/{len(votes)}", None


def _decide_multi(values: list[Any], n: int) -> tuple[Any, str, str | None]:
    counts = Counter(v for chosen in values if isinstance(chosen, list) for v in set(chosen))
    kept = sorted(v for v, c in counts.items() if c >= _majority_needed(n))
    return kept, f"each value chosen by at least {_majority_needed(n)}/{n}", None


def _decide_number(values: list[Any], f: NumberField, how: str) -> tuple[Any, str, str | None]:
    given = [v for v in values if v is not None]
    if not given:
        return None, "empty: no annotator gave a number", None
    if how == "majority":
        counts = Counter(given).most_common()
        top, count = counts[0]
        if count < _majority_needed(len(given)):
            return None, "no majority", f"no majority among {sorted(given)}"
        return top, f"majority {count}/{len(given)}", None
    median = statistics.median(given)
    if f.integer and median != int(median):
        low, high = sorted(given)[len(given) // 2 - 1: len(given) // 2 + 1]
        return None, "tie", f"median falls between {low} and {high}"
    value = int(median) if f.integer else float(median)
    return value, f"median of {len(given)}", None


def _decide_spans(values: list[Any], n: int, k: int) -> tuple[Any, str, str | None]:
    needed = k or _majority_needed(n)
    counts = Counter((s["start"], s["end"], s["label"]) for spans in values if isinstance(spans, list)
                     for s in {(x["start"], x["end"], x["label"]): x for x in spans}.values())
    texts = {(s["start"], s["end"], s["label"]): s["text"] for spans in values if isinstance(spans, list)
             for s in spans}
    kept = [{"start": s, "end": e, "label": lab, "text": texts[(s, e, lab)]}
            for (s, e, lab), c in sorted(counts.items()) if c >= needed]
    return kept, f"spans marked by at least {needed} of {n}", None


def _decide_value(f: Any, values: list[Any], policy: GoldPolicy) -> tuple[Any, str | None]:
    """An attribute's gold value among the ``values`` of the annotators of one span or event
    (null: not given), by the article-level rules; the problem, if any, is returned."""
    if isinstance(f, TextField):
        return None, None
    given = sum(v is not None for v in values)
    needed = min(policy.min_annotations, len(values))
    if 0 < given < needed:
        return (None, f"{f.name}: undecided ({given} of {len(values)} annotators gave a value, "
                      f"[gold] min_annotations is {policy.min_annotations})")
    if isinstance(f, ChoiceField) and f.multiple:
        value, _, tie = _decide_multi(values, len(values))
    elif isinstance(f, ChoiceField):
        value, _, tie = _decide_choice(values)
    else:
        value, _, tie = _decide_number(values, f, policy.numbers)
    if tie:
        return None, f"{f.name}: {tie}"
    if f.required and value in (None, []):
        return value, f"{f.name}: {f.name!r} is required but no annotator gave it"
    return value, None


def _empty_attribute(a: Attribute) -> Any:
    return [] if isinstance(a.field, ChoiceField) and a.field.multiple else None


def _span_attribute_values(f: SpanField, kept: list[dict[str, Any]], values: list[Any],
                           policy: GoldPolicy) -> list[str]:
    """Fill in the attributes of each kept span, among the annotators who marked it; the problems."""
    problems = []
    by_key = [{(x["start"], x["end"], x["label"]): x for x in reversed(spans)} for spans in values
              if isinstance(spans, list)]  # reversed: an annotator's first span of a key is theirs
    for span in kept:
        key = (span["start"], span["end"], span["label"])
        marked = [mine[key] for mine in by_key if key in mine]
        for a in f.attributes:
            span[a.name] = _empty_attribute(a)
            if a.labels and span["label"] not in a.labels:
                continue
            value, problem = _decide_value(a.field, [x.get(a.name) for x in marked], policy)
            span[a.name] = value if value is not None else _empty_attribute(a)
            if problem:
                problems.append(f"span {span['text']!r} ({span['label']}) at {span['start']}-{span['end']}: "
                                f"{problem}")
    return problems


def _decide_relations(values: list[Any], n: int, k: int) -> tuple[list[dict[str, Any]], str]:
    needed = k or _majority_needed(n)

    def end(x: dict[str, Any]) -> tuple[int, int, str]:
        return int(x["start"]), int(x["end"]), str(x["label"])

    counts: Counter = Counter()
    items: dict[tuple[Any, ...], dict[str, Any]] = {}
    for relations in values:
        mine = {(str(r["label"]), end(r["head"]), end(r["tail"])): r for r in relations or []}
        counts.update(mine.keys())
        for key, r in mine.items():
            items.setdefault(key, r)
    kept = [{"label": lab, "head": {"start": h[0], "end": h[1], "label": h[2], "text": items[key]["head"]["text"]},
             "tail": {"start": t[0], "end": t[1], "label": t[2], "text": items[key]["tail"]["text"]}}
            for key in counts if counts[key] >= needed for lab, h, t in [key]]
    kept.sort(key=lambda r: (r["head"]["start"], r["head"]["end"], r["tail"]["start"], r["tail"]["end"], r["label"]))
    return kept, f"relations given by at least {needed} of {n}"


def _most_common(votes: list[dict[str, Any]], start: int, end: int, key: str) -> Any:
    """The most common ``key`` among the votes at exactly (start, end); a tie to the first in order."""
    counts = Counter(str(v[key]) for v in votes if (int(v["start"]), int(v["end"])) == (start, end))
    return min(counts, key=lambda x: (-counts[x], x))


def _gold_arguments(members: list[dict[str, Any]], f: EventsField) -> list[dict[str, Any]]:
    """An event's arguments by vote: per role, clustered by overlap, kept when a majority of
    the event's annotators have one; at the most common exact span among them."""
    needed = _majority_needed(len(members))
    arguments = []
    roles = list(f.role_values) + sorted({x["role"] for e in members for x in e.get("arguments") or []}
                                         - set(f.role_values))
    for role in roles:
        mine = {str(k): [x for x in e.get("arguments") or [] if x["role"] == role] for k, e in enumerate(members)}
        for cluster in cluster_spans({w: [(int(x["start"]), int(x["end"])) for x in xs] for w, xs in mine.items()}):
            if len(cluster) < needed:
                continue
            votes = [mine[w][i] for w, i in cluster.items()]
            start, end = gold_offsets((int(x["start"]), int(x["end"])) for x in votes)
            text = next(x["text"] for x in votes if (int(x["start"]), int(x["end"])) == (start, end))
            arguments.append({"role": role, "start": start, "end": end,
                              "label": _most_common(votes, start, end, "label"), "text": text})
    unique = {(x["start"], x["end"], x["role"]): x for x in arguments}
    return [unique[k] for k in sorted(unique)]


def _decide_events(f: EventsField, values: list[Any], n: int, policy: GoldPolicy
                   ) -> tuple[list[dict[str, Any]], str, list[str]]:
    """Gold events (``f``'s record format), how they were decided, and the problems."""
    needed = policy.event_min_agree or _majority_needed(n)
    by_who = {str(k): list(v or []) for k, v in enumerate(values)}
    kept, kept_support, dropped_support, problems = [], Counter(), Counter(), []
    for cluster in cluster_events(by_who):
        members = [by_who[w][i] for w, i in sorted(cluster.items(), key=lambda wi: int(wi[0]))]
        if len(cluster) < needed:
            dropped_support[len(cluster)] += 1
            continue
        kept_support[len(cluster)] += 1
        triggers = [e["trigger"] for e in members]
        start, end = gold_offsets((int(t["start"]), int(t["end"])) for t in triggers)
        text = next(t["text"] for t in triggers if (int(t["start"]), int(t["end"])) == (start, end))
        event: dict[str, Any] = {"trigger": {"start": start, "end": end, "text": text},
                                 "arguments": _gold_arguments(members, f)}
        for a in f.attributes:
            value, problem = _decide_value(a.field, [e.get(a.name) for e in members], policy)
            event[a.name] = value if value is not None else _empty_attribute(a)
            if problem:
                problems.append(f"event {text!r} at {start}-{end}: {problem}")
        kept.append(event)
    kept.sort(key=lambda e: (e["trigger"]["start"], e["trigger"]["end"]))

    def support(counts: Counter, annotators: str) -> str:
        # "2 of 3 annotators" when all share it, else "2 by 3 of 3 annotators, 1 by 2 of 3"
        sizes = sorted(counts, reverse=True)
        if len(sizes) == 1:
            return f"{sizes[0]} of {n}{annotators}"
        return ", ".join(f"{counts[k]} by {k} of {n}" + (annotators if k == sizes[0] else "") for k in sizes)

    if not kept_support and not dropped_support:
        return kept, "no annotator marked an event", problems
    decision = f"{sum(kept_support.values())} event(s) kept"
    if kept_support:
        decision += f" ({support(kept_support, ' annotators')})"
    if dropped_support:
        decision += f", {sum(dropped_support.values())} dropped ({support(dropped_support, '')})"
    return kept, decision + f"; an event needs {needed} of {n}", problems


def gold_for_article(article_id: str, records: list[dict[str, Any]], scheme: Scheme,
                     policy: GoldPolicy) -> dict[str, Any]:
    """The gold row of one article from its (validated) annotation records."""
    submitted = [r for r in records if not r.get("was_cancelled")]
    edited = [r for r in submitted if r.get("edited_by_other") and not r.get("ground_truth")]
    votes = _independent_votes(submitted)
    row: dict[str, Any] = {"article_id": article_id, "n_annotators": len(votes),
                           "n_annotations": len(submitted), "status": "resolved", "reason": None,
                           "decided_by": "policy",
                           "annotation_ids": sorted(int(r["annotation_id"]) for r in votes),
                           "edited_annotation_ids": sorted(int(r["annotation_id"]) for r in edited)}
    truth = [r for r in submitted if r.get("ground_truth")]
    if truth:
        latest = max(truth, key=_recency)
        row["decided_by"] = "ground-truth"
        row["annotation_ids"] = [int(latest["annotation_id"])]
        for f in scheme.fields:
            row[f.name] = latest.get(f.name)
            row[f"{f.name}_decision"] = f"ground truth (annotation {latest['annotation_id']})"
        return row
    problems = []
    too_few = len(votes) < policy.min_annotations
    if too_few:
        counted = f"{len(votes)} annotation(s)" if not edited else \
            f"{len(votes)} independent annotation(s) ({len(edited)} edited by another account left out)"
        problems.append(f"{counted}; the policy needs {policy.min_annotations}")
    for f in scheme.fields:
        values = [r.get(f.name) for r in votes]
        given = sum(v is not None for v in values)  # a blank number or choice abstains; [] is an answer
        undecided = not isinstance(f, TextField) and 0 < given < policy.min_annotations
        issues: list[str] = []
        if isinstance(f, TextField):
            value, decision, tie = None, "not aggregated (free text)", None
        elif isinstance(f, EventsField):  # a list is always an answer: never undecided
            undecided = False
            value, decision, issues = _decide_events(f, values, len(votes), policy)
            tie = None
        elif isinstance(f, RelationsField):
            undecided = False
            value, decision = _decide_relations(values, len(votes), policy.span_min_agree)
            tie = None
        elif undecided:
            # Deciding from fewer answers than the policy asks for would pass one annotator's
            # answer off as agreed. When the whole article is short of votes, that is the reason.
            value, decision = None, f"undecided: {given} answer(s), the policy needs {policy.min_annotations}"
            tie = None if too_few else (f"undecided ({given} of {len(votes)} annotators gave a value, "
                                        f"[gold] min_annotations is {policy.min_annotations})")
        elif isinstance(f, SpanField):
            value, decision, tie = _decide_spans(values, len(votes), policy.span_min_agree)
            if f.attributes:
                issues = _span_attribute_values(f, value, values, policy)
        elif isinstance(f, ChoiceField) and f.multiple:
            value, decision, tie = _decide_multi(values, len(votes))
        elif isinstance(f, ChoiceField):
            value, decision, tie = _decide_choice(values)
        else:
            assert isinstance(f, NumberField)
            value, decision, tie = _decide_number(values, f, policy.numbers)
        if f.required and value in (None, []) and tie is None and votes and not undecided:
            tie = f"{f.name!r} is required but no annotator gave it"
        row[f.name] = value
        row[f"{f.name}_decision"] = decision
        if tie:
            problems.append(f"{f.name}: {tie}")
        problems += [f"{f.name}: {issue}" for issue in issues]
    if problems:
        # The decided fields stay in the row for the adjudicator; the status alone keeps the
        # article out of releases (they read resolved rows only).
        row["status"] = "unresolved"
        row["reason"] = "; ".join(problems)
    return row


def _independent_votes(submitted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One vote per annotator: their latest own annotation (not ground truth, not edited by another)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in submitted:
        if r.get("ground_truth") or r.get("edited_by_other"):
            continue
        who = _who(r)
        if who not in latest or _recency(r) > _recency(latest[who]):
            latest[who] = r
    return [latest[w] for w in sorted(latest)]


def _recency(record: dict[str, Any]) -> tuple[str, int]:
    return str(record.get("updated_at") or record.get("created_at") or ""), int(record.get("annotation_id") or 0)


def _who(record: dict[str, Any]) -> str:
    return str(record.get("annotator_email") or record.get("annotator_id"))


def compute_gold(records: Iterable[dict[str, Any]], scheme: Scheme, policy: GoldPolicy) -> list[dict[str, Any]]:
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_article[record["article_id"]].append(record)
    return [gold_for_article(a, rs, scheme, policy) for a, rs in sorted(by_article.items())]


def gold_arrow_schema(scheme: Scheme) -> pa.Schema:
    from ..validation import records_arrow_schema

    # The same nested types as annotations.parquet (events, relations, span attributes included).
    field_types = {f.name: f.type for f in records_arrow_schema(scheme)}
    fields = [pa.field("article_id", pa.string(), nullable=False), pa.field("status", pa.string(), nullable=False),
              pa.field("reason", pa.string()), pa.field("decided_by", pa.string(), nullable=False),
              pa.field("n_annotators", pa.int32(), nullable=False), pa.field("n_annotations", pa.int32(),
                                                                             nullable=False),
              pa.field("annotation_ids", pa.list_(pa.int64()), nullable=False),
              pa.field("edited_annotation_ids", pa.list_(pa.int64()), nullable=False)]
    for f in scheme.fields:
        fields.append(pa.field(f.name, field_types[f.name]))
        fields.append(pa.field(f"{f.name}_decision", pa.string()))
    return pa.schema(fields, metadata={b"toolkit.table": b"gold", b"toolkit.scheme_hash": scheme.hash().encode()})


def gold_table(rows: list[dict[str, Any]], scheme: Scheme) -> pa.Table:
    schema = gold_arrow_schema(scheme)
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
