"""The seed article's four events, as the maintainer annotated them, and Label Studio results built
from such a description the way the labeling view saves them (regions with ids, per-region
attributes carrying their region's id, relations between region ids).

Used by the round-trip test on the real server and by the browser test that re-annotates the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Region:
    """A span of the article: an entity (``label`` one of the span labels) or a trigger."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Event:
    trigger: tuple[int, int]
    attributes: dict[str, Any]
    arguments: tuple[tuple[str, Region], ...] = ()


@dataclass(frozen=True)
class Annotation:
    entities: tuple[Region, ...]
    events: tuple[Event, ...] = ()
    relations: tuple[tuple[str, Region, Region], ...] = ()
    note: str | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)


def ent(start: int, end: int, label: str) -> Region:
    return Region(start, end, label)


# The seed (raw/volgograd-prison-hostages.txt) reports four attacks. Offsets are code points in the
# cleaned article text; the entity spans are the maintainer's 32 of release v0.1.0.
IS_47 = ent(47, 60, "ORG")
RUSSIA_117 = ent(117, 123, "GPE")
VOLGOGRAD = ent(135, 144, "GPE")
KNIVES = ent(568, 574, "WEAPON")
MARCH = ent(1437, 1442, "DATE")
ISKP = ent(1478, 1509, "ORG")
MOSCOW = ent(1559, 1565, "GPE")
CONCERT_HALL = ent(1566, 1578, "FAC")
JUNE = ent(1651, 1655, "DATE")
RUSSIA_1693 = ent(1693, 1699, "GPE")
DAGESTAN = ent(1727, 1735, "GPE")
SYNAGOGUE = ent(1749, 1758, "FAC")
THIS_SUMMER = ent(1999, 2010, "DATE")
IS_2090 = ent(2090, 2092, "ORG")
ROSTOV = ent(2166, 2179, "GPE")

SEED_EVENTS: tuple[Event, ...] = (
    Event((71, 86), {"attack_type": "Hostage Taking (Barricade Incident)", "killed": 1, "certainty": "confirmed"},
          (("perpetrator", IS_47), ("place", VOLGOGRAD), ("weapon", KNIVES))),
    Event((1540, 1553), {"attack_type": "Armed Assault", "killed": 139, "certainty": "confirmed"},
          (("time", MARCH), ("perpetrator", ISKP), ("place", MOSCOW), ("target", CONCERT_HALL))),
    Event((1664, 1675), {"attack_type": "Armed Assault", "killed": 16, "certainty": "confirmed"},
          (("time", JUNE), ("place", DAGESTAN), ("target", SYNAGOGUE))),
    Event((2101, 2119), {"attack_type": "Hostage Taking (Barricade Incident)", "killed": 6, "hostages": 2,
                         "certainty": "confirmed"},
          (("time", THIS_SUMMER), ("perpetrator", IS_2090), ("place", ROSTOV))),
)

SEED_RELATIONS: tuple[tuple[str, Region, Region], ...] = (
    ("located_in", VOLGOGRAD, RUSSIA_117),
    ("located_in", CONCERT_HALL, MOSCOW),
    ("located_in", DAGESTAN, RUSSIA_1693),
    ("located_in", SYNAGOGUE, DAGESTAN),
)

SEED_NOTE = ("Four attacks: the Volgograd prison hostage-taking (at least one member of staff killed, the "
             "prison service's own figure; injured and hostages not counted in the text), the March Moscow "
             "concert hall shooting (139 killed), the June Dagestan shootings (at least 15 police officers and "
             "a priest: 16) and the summer Rostov-on-Don hostage-taking (six hostage-takers killed, two guards "
             "freed).")


def _number_or_choice(name: str, value: Any, region_id: str, start: int, end: int, text: str) -> dict[str, Any]:
    base = {"id": region_id, "from_name": name, "to_name": "text"}
    where = {"start": start, "end": end, "text": text[start:end]}
    if isinstance(value, str):
        return {**base, "type": "choices", "value": {**where, "choices": [value]}}
    return {**base, "type": "number", "value": {**where, "number": value}}


def results(annotation: Annotation, text: str, *, events_field: str = "events",
            entities_field: str = "entities", trigger_label: str = "EVENT") -> list[dict[str, Any]]:
    """Label Studio results for ``annotation`` on ``text``, shaped as the labeling view saves them."""
    out: list[dict[str, Any]] = []
    ids: dict[Region, str] = {}

    def region(r: Region, from_name: str) -> str:
        if r in ids:
            return ids[r]
        rid = f"r{len(ids) + 1}"
        ids[r] = rid
        out.append({"id": rid, "from_name": from_name, "to_name": "text", "type": "labels",
                    "value": {"start": r.start, "end": r.end, "text": text[r.start:r.end], "labels": [r.label]}})
        return rid

    for r in annotation.entities:
        region(r, entities_field)
    links: list[dict[str, Any]] = []
    for event in annotation.events:
        trigger = Region(event.trigger[0], event.trigger[1], trigger_label)
        tid = region(trigger, events_field)
        for name, value in event.attributes.items():
            out.append(_number_or_choice(name, value, tid, trigger.start, trigger.end, text))
        for role, arg in event.arguments:
            links.append({"from_id": tid, "to_id": region(arg, entities_field), "type": "relation",
                          "direction": "right", "labels": [role]})
    for label, head, tail in annotation.relations:
        links.append({"from_id": region(head, entities_field), "to_id": region(tail, entities_field),
                      "type": "relation", "direction": "right", "labels": [label]})
    if annotation.note:
        out.append({"id": "note", "from_name": "note", "to_name": "text", "type": "textarea",
                    "value": {"text": [annotation.note]}})
    return out + links + list(annotation.extra)


def expected_events(events: tuple[Event, ...], text: str, attribute_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The record form of ``events`` (what pull should make of them)."""
    rows = []
    for event in sorted(events, key=lambda e: e.trigger):
        start, end = event.trigger
        row: dict[str, Any] = {"trigger": {"start": start, "end": end, "text": text[start:end]},
                               "arguments": sorted(({"role": role, "start": r.start, "end": r.end, "label": r.label,
                                                     "text": text[r.start:r.end]} for role, r in event.arguments),
                                                   key=lambda a: (a["start"], a["end"], a["role"]))}
        for name in attribute_names:
            row[name] = event.attributes.get(name)
        rows.append(row)
    return rows
