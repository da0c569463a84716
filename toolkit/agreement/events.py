"""Matching events, relations and attributed spans between annotators (``toolkit agree``).

An article-level answer is compared as it is; an event, a relation or an attribute of a span
must first be paired with another annotator's. These pairings are what agreement
(``metrics``) and gold (``gold``) both rest on, so they live here, as pure functions of
the records (the record format of ``annotation.schema.json``):

- ``match_events``: two annotators' events on one article paired one to one by trigger
  overlap (in characters): the largest overlap first, identical triggers first among equal
  overlaps, then the earlier triggers (deterministic);
- ``cluster_spans`` / ``cluster_events``: every annotator's events on one article grouped
  into clusters holding at most one event per annotator, every two of them overlapping
  (built greedily by the same order), which are the units of event-attribute agreement and
  the candidates for gold events;
- ``compare_events``: the counts behind trigger F1 (overlapping triggers), event F1
  (overlapping triggers and the same type) and argument F1 per role (within matched
  events: same role, overlapping spans, one to one; and exactly the same span);
- ``compare_relations``: per relation label, the relations matched exactly (same head and
  tail offsets) and by overlap (head overlapping head, tail overlapping tail, one to one);
  the entity labels of the ends are not compared (span agreement measures them);
- ``exact_span_units``: spans several annotators marked with the same offsets and label,
  the units of span-attribute agreement;
- ``gold_offsets``: the most common exact (start, end) among votes, ties to the earliest
  then the shortest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field
from typing import Any

__all__ = ["EventComparison", "RelationComparison", "cluster_events", "cluster_spans", "compare_events",
           "compare_relations", "exact_span_units", "gold_offsets", "match_events", "overlap"]

Offsets = tuple[int, int]


def overlap(a: Offsets, b: Offsets) -> int:
    """Characters two ranges share (0 when they only touch or are apart)."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _trigger(event: Mapping[str, Any]) -> Offsets:
    t = event["trigger"]
    return int(t["start"]), int(t["end"])


def _pair_by_overlap(a: Sequence[Offsets], b: Sequence[Offsets],
                     same: Sequence[Sequence[bool]] | None = None) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of overlapping ranges (``same[i][j]`` also true when given):
    largest overlap first, identical ranges first on a tie, then by offsets and position."""
    candidates = []
    for i, ra in enumerate(a):
        for j, rb in enumerate(b):
            size = overlap(ra, rb)
            if size > 0 and (same is None or same[i][j]):
                candidates.append((-size, ra != rb, ra, rb, i, j))
    pairs, used_a, used_b = [], set(), set()
    for *_, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def match_events(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Pairs (index in ``a``, index in ``b``) of events matched by trigger overlap, one to one."""
    return _pair_by_overlap([_trigger(e) for e in a], [_trigger(e) for e in b])


def cluster_spans(spans: Mapping[str, Sequence[Offsets]]) -> list[dict[str, int]]:
    """Clusters of annotator -> index into that annotator's ranges: at most one range per
    annotator, every two in a cluster overlapping.

    Links between ranges of different annotators are taken largest overlap first (identical
    ranges first on a tie, then by offsets and annotator); two clusters merge when no
    annotator is in both and every range of one overlaps every range of the other. With two
    annotators this is ``match_events``'s pairing. Clusters come sorted by their
    ``gold_offsets``, then by their members.
    """
    who = sorted(spans)
    links = []
    for x_pos, x in enumerate(who):
        for y in who[x_pos + 1:]:
            for i, rx in enumerate(spans[x]):
                for j, ry in enumerate(spans[y]):
                    size = overlap(rx, ry)
                    if size > 0:
                        links.append((-size, rx != ry, rx, ry, x, i, y, j))
    cluster_of: dict[tuple[str, int], int] = {}
    members: list[dict[str, int]] = []
    for w in who:
        for i in range(len(spans[w])):
            cluster_of[(w, i)] = len(members)
            members.append({w: i})
    for *_, x, i, y, j in sorted(links):
        cx, cy = cluster_of[(x, i)], cluster_of[(y, j)]
        if cx == cy or set(members[cx]) & set(members[cy]):
            continue
        if all(overlap(spans[p][k], spans[q][m]) > 0 for p, k in members[cx].items() for q, m in members[cy].items()):
            for w, k in members[cy].items():
                cluster_of[(w, k)] = cx
            members[cx].update(members[cy])
            members[cy] = {}
    clusters = [c for c in members if c]
    return sorted(clusters, key=lambda c: (gold_offsets(spans[w][k] for w, k in c.items()), sorted(c.items())))


def cluster_events(events: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, int]]:
    """``cluster_spans`` over the events' triggers: annotator -> index into their events."""
    return cluster_spans({w: [_trigger(e) for e in evs] for w, evs in events.items()})


def gold_offsets(votes: Iterable[Offsets]) -> Offsets:
    """The most common exact (start, end) among ``votes``; a tie goes to the earliest, then the shortest."""
    counts = Counter((int(s), int(e)) for s, e in votes)
    if not counts:
        raise ValueError("gold_offsets needs at least one vote")
    return min(counts, key=lambda se: (-counts[se], se[0], se[1] - se[0]))


# ------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class EventComparison:
    """Two annotators' events on one article, compared.

    ``matched`` are the trigger-overlap pairs (index in a, index in b); ``typed`` how many of
    them agree on the type (every matched pair when the field has no type). Argument
    counters are keyed by role and count only the arguments of matched events.
    """

    count_a: int
    count_b: int
    matched: list[tuple[int, int]]
    typed: int
    argument_count: Counter = dataclass_field(default_factory=Counter)  # both sides' arguments in matched events
    argument_overlap: Counter = dataclass_field(default_factory=Counter)  # same role, overlapping; one to one
    argument_exact: Counter = dataclass_field(default_factory=Counter)  # same role, start and end

    @property
    def total(self) -> int:
        return self.count_a + self.count_b


def _arguments(event: Mapping[str, Any]) -> list[tuple[int, int, str]]:
    return sorted((int(x["start"]), int(x["end"]), str(x["role"])) for x in event.get("arguments") or [])


def compare_events(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]],
                   type_attribute: str | None = None) -> EventComparison:
    """Compare two annotators' events (records' events lists) on one article.

    Events are matched by trigger overlap only (``match_events``); event F1 then counts the
    matched pairs whose ``type_attribute`` values are equal, so a type disagreement costs
    event F1 but not trigger F1. Arguments are compared within each matched pair.
    """
    a, b = list(a or []), list(b or [])
    matched = match_events(a, b)
    typed = sum(1 for i, j in matched
                if type_attribute is None or a[i].get(type_attribute) == b[j].get(type_attribute))
    count, over, exact = Counter(), Counter(), Counter()
    for i, j in matched:
        xa, xb = _arguments(a[i]), _arguments(b[j])
        count.update(r for _, _, r in xa + xb)
        exact.update(r for _, _, r in (Counter(xa) & Counter(xb)).elements())
        same_role = [[ra == rb for _, _, rb in xb] for _, _, ra in xa]
        over.update(xa[k][2] for k, _ in _pair_by_overlap([x[:2] for x in xa], [x[:2] for x in xb], same_role))
    return EventComparison(len(a), len(b), matched, typed, count, over, exact)


# ---------------------------------------------------------------------------------- relations


@dataclass(frozen=True)
class RelationComparison:
    """Two annotators' relations on one article, compared. Counters are keyed by relation label."""

    count_a: Counter
    count_b: Counter
    exact: Counter  # same label, same head and tail offsets
    overlap: Counter  # same label, head overlapping head and tail overlapping tail; one to one


def _relation(r: Mapping[str, Any]) -> tuple[str, Offsets, Offsets]:
    return str(r["label"]), (int(r["head"]["start"]), int(r["head"]["end"])), \
        (int(r["tail"]["start"]), int(r["tail"]["end"]))


def compare_relations(a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]]) -> RelationComparison:
    """Compare two annotators' relations (records' relations lists) on one article.

    Overlap pairs are one to one, the largest overlap of head plus tail first (exact pairs
    first on a tie), so overlap matches are never fewer than exact ones.
    """
    xa, xb = sorted(_relation(r) for r in a or []), sorted(_relation(r) for r in b or [])
    exact = Counter(r[0] for r in (Counter(xa) & Counter(xb)).elements())
    candidates = []
    for i, (la, ha, ta) in enumerate(xa):
        for j, (lb, hb, tb) in enumerate(xb):
            h, t = overlap(ha, hb), overlap(ta, tb)
            if la == lb and h > 0 and t > 0:
                candidates.append((-(h + t), (ha, ta) != (hb, tb), i, j))
    over, used_a, used_b = Counter(), set(), set()
    for _, _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            over[xa[i][0]] += 1
    return RelationComparison(Counter(r[0] for r in xa), Counter(r[0] for r in xb), exact, over)


# ------------------------------------------------------------------------------ span attributes


def exact_span_units(spans: Mapping[str, Iterable[Mapping[str, Any]]], *,
                     min_annotators: int = 2) -> dict[tuple[int, int, str], dict[str, Mapping[str, Any]]]:
    """(start, end, label) -> annotator -> their span item, for the spans at least
    ``min_annotators`` annotators marked with exactly these offsets and label."""
    units: dict[tuple[int, int, str], dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for who in sorted(spans):
        for s in spans[who] or []:
            units[(int(s["start"]), int(s["end"]), str(s["label"]))].setdefault(who, s)
    return {k: by for k, by in sorted(units.items()) if len(by) >= min_annotators}
