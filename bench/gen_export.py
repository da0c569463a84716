"""Synthetic Label Studio JSON export (full format), for validation benchmarks.

    python bench/gen_export.py --tasks 20000 --out /tmp/export.json [--invalid-rate 0.01]
                               [--seed 7] [--indent N] [--target-mb 2048]

Writes what the server's JSON export gives (``GET /api/projects/{id}/export?exportType=JSON``
and the export snapshots): one JSON list of tasks, dumped by ``json.dump(tasks,
ensure_ascii=False)`` (label_studio/data_export/models.py ``save_export_files``; the snapshot
path uses ``json.JSONEncoder(ensure_ascii=False).iterencode``), i.e. on one line, with
``", "`` / ``": "`` separators and UTF-8 text. ``--indent 2`` gives the pretty-printed form
of label-studio-sdk's converter (``json.dump(record, indent=2, ensure_ascii=False)``).

Each task: ``id``, ``data`` (news-like ``text`` of about 400 words, ``title``, ``published``,
``source_url``, ``article_id`` of 16 hex digits), two ``annotations`` (``completed_by`` user
id, ISO timestamps, ``lead_time``, ``was_cancelled``, ``ground_truth``, a ``result`` of about
15 entity spans at correct offsets with their ``text``, one ``event_type`` choice and one
``killed`` number, plus the bookkeeping keys the server adds), ``predictions: []``,
``drafts: []``. Everything comes from ``random.Random(seed)``: the same arguments give the
same bytes.

``--invalid-rate R`` gives each annotation a defect with probability R, of one of the kinds in
``DEFECTS`` (schema errors such as an unknown label, two choices on a single-choice field, a
negative or fractional number, a bad timestamp, an over-long note; and defects normalisation
catches, such as a span whose text does not match its offsets or a result for an unknown
control). Some "tricky but valid" values (``killed: 3.0``, which JSON Schema counts as an
integer; lower-case ``t``/``z`` in timestamps) are mixed in too.

The file is written task by task, so any size can be generated in a few MB of memory
(``--target-mb`` keeps adding tasks until the file has that size; ``--tasks`` then is a
minimum). A ``.gz`` suffix gzips the output.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

FIRST = ["Ahmed", "Maria", "John", "Fatima", "Sergei", "Aisha", "David", "Li", "Omar", "Elena",
         "Kwame", "Priya", "Yusuf", "Anna", "Carlos", "Nadia", "Hassan", "Olga", "Samuel", "Leila",
         "José", "Zoë", "Björn", "Małgorzata"]
LAST = ["Khan", "Petrov", "Smith", "Haddad", "Okafor", "Rahman", "Garcia", "Ivanova", "Mensah",
        "Sharma", "Nguyen", "Al-Masri", "Kowalski", "Mwangi", "Hussein", "Müller", "Çelik", "Núñez"]
POOLS = {
    "ORG": ["Islamic State", "the Interior Ministry", "the Red Crescent", "the United Nations",
            "Al-Shabaab", "Boko Haram", "the Taliban", "the police", "the army", "Reuters",
            "the World Health Organization", "Médecins Sans Frontières", "the Kurdish Workers' Party"],
    "GPE": ["Volgograd", "Kabul", "Baghdad", "Mogadishu", "Lagos", "Nairobi", "Peshawar", "Aleppo",
            "Mosul", "Kyiv", "São Paulo", "Istanbul", "Karachi", "Maiduguri", "Quetta", "Tripoli"],
    "FAC": ["the central market", "Kabul airport", "the Serena Hotel", "the Al-Nuri mosque",
            "Westgate mall", "the main bus station", "the Kapitan Bridge", "the IK-15 prison"],
    "NORP": ["Iraqi", "Shia", "Sunni", "Maoist", "Somali", "Russian", "Kurdish", "Afghan",
             "Christian", "Yazidi", "Pashtun"],
    "DATE": ["Tuesday", "Monday morning", "last week", "3 May 2014", "Friday", "Sunday night",
             "earlier this month", "on 11 September", "late on Wednesday", "in March"],
    "WEAPON": ["AK-47 rifles", "a car bomb", "a suicide vest", "knives", "grenades",
               "an improvised explosive device", "rocket-propelled grenades", "a truck", "pistols"],
}
LABELS = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]
EVENT_TYPES = ["Assassination", "Armed Assault", "Bombing/Explosion", "Hijacking",
               "Hostage Taking (Barricade Incident)", "Hostage Taking (Kidnapping)",
               "Facility/Infrastructure Attack", "Unarmed Assault", "Unknown", "Not an attack event"]
# Sentences with entity slots {LABEL}; the rest of the words come from FILLER.
TEMPLATES = [
    "{PERSON}, a spokesman for {ORG}, said {NORP} fighters had attacked {FAC} in {GPE} {DATE}.",
    "Witnesses told {ORG} that the attackers used {WEAPON} and fled towards {GPE}.",
    "{DATE}, police in {GPE} said {NUM} people were killed and dozens more injured.",
    "\"We heard shouting, then {WEAPON},\" said {PERSON}, who works near {FAC}.",
    "{ORG} claimed responsibility in a statement posted online {DATE}.",
    "The {NORP} community in {GPE} has been targeted before, according to {PERSON}.",
    "Officials from {ORG} and {ORG} met in {GPE} to discuss the security situation.",
    "{PERSON} condemned the attack on {FAC} and called for calm {DATE}.",
]
FILLER = ("the a an officials said city local residents police people attack security forces "
          "government reported on in of and to after before during near while minister "
          "spokesman statement area region border district early late morning night crowd "
          "market street witnesses emergency services hospital wounded victims investigation "
          "authorities suspects arrested motive unclear according added that was were had has "
          "been would could not yet confirmed sources told news agency television footage "
          "showed smoke rising from building damaged windows shattered roads closed").split()
LEADS = ["Gunmen", "Explosion", "Attack", "Blast", "Siege", "Clashes", "Kidnapping", "Fire"]

# Kinds of defect, each applied to one annotation (or its task) with --invalid-rate.
DEFECTS = (
    "unknown-label",       # a span label outside the scheme -> entities[i].label (enum)
    "two-choices",         # two event types on a single-choice field -> event_type (type)
    "negative-number",     # killed = -3 -> killed (minimum)
    "fractional-number",   # killed = 2.5 -> killed (type integer)
    "string-number",       # killed = "3" -> killed (type)
    "bool-number",         # killed = true -> killed (type: a bool is not an integer)
    "bad-date",            # created_at 2024-02-30 -> created_at (format date-time)
    "null-created",        # created_at null -> created_at (type)
    "negative-lead-time",  # lead_time < 0 -> lead_time (minimum)
    "long-note",           # a note of 2,500 characters -> note (maxLength)
    "bad-annotator",       # completed_by "someone" -> annotator_id (type)
    "bad-article-id",      # article_id upper case -> article_id (pattern), both annotations
    "span-text-mismatch",  # span text not at its offsets nor anywhere in the text -> quarantined span
    "unknown-control",     # a result for a control the scheme lacks -> quarantined annotation
)
# Values that look wrong but that the JSON Schema accepts; mixed in at the same rate.
TRICKY_VALID = ("whole-float-number", "lowercase-timestamp", "zero-killed", "offset-timestamp")


def _filler(rng: random.Random, n: int) -> str:
    words = [rng.choice(FILLER) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def _entity(rng: random.Random, label: str) -> str:
    if label == "PERSON":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return rng.choice(POOLS[label])


def _article(rng: random.Random, target_words: int) -> tuple[str, list[tuple[int, int, str]]]:
    """Text of about ``target_words`` words, and its entity mentions (start, end, label)."""
    parts: list[str] = []
    mentions: list[tuple[int, int, str]] = []
    length = 0
    words = 0
    while words < target_words:
        if parts:
            parts.append(" ")
            length += 1
        if rng.random() < 0.45:
            sentence = _filler(rng, rng.randint(8, 22))
            parts.append(sentence)
            length += len(sentence)
            words += sentence.count(" ") + 1
            continue
        template = rng.choice(TEMPLATES)
        pos = 0
        while True:
            open_at = template.find("{", pos)
            if open_at < 0:
                piece = template[pos:]
                parts.append(piece)
                length += len(piece)
                break
            close_at = template.index("}", open_at)
            piece = template[pos:open_at]
            slot = template[open_at + 1:close_at]
            if slot == "NUM":
                value = str(rng.randint(2, 60))
            else:
                value = _entity(rng, slot)
            if open_at == 0 and value[:1].islower():
                value = value[0].upper() + value[1:]
            parts.append(piece)
            length += len(piece)
            if slot != "NUM":
                mentions.append((length, length + len(value), slot))
            parts.append(value)
            length += len(value)
            pos = close_at + 1
        words += template.count(" ") + 1
    return "".join(parts), mentions


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rid(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                   for _ in range(10))


def _result_item(rng: random.Random, from_name: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"id": _rid(rng), "type": kind, "value": value, "origin": "manual",
            "to_name": "text", "from_name": from_name}


class Generator:
    """Tasks one by one; ``counts`` tells how many of each defect were injected."""

    def __init__(self, seed: int = 7, invalid_rate: float = 0.0, words: int = 400,
                 spans: int = 15) -> None:
        self.rng = random.Random(seed)
        self.invalid_rate = invalid_rate
        self.words = words
        self.spans = spans
        self.counts: dict[str, int] = {}
        self.annotations = 0
        self._epoch = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def task(self, task_id: int, project: int = 1) -> dict[str, Any]:
        rng = self.rng
        text, mentions = _article(rng, self.words)
        title = f"{rng.choice(LEADS)} in {rng.choice(POOLS['GPE'])}: {_filler(rng, 6)[:-1]}"
        published = (self._epoch - timedelta(days=rng.randint(0, 3000))).date().isoformat()
        article_id = "%016x" % rng.getrandbits(64)
        created = self._epoch + timedelta(seconds=task_id * 17 + rng.randint(0, 9))
        data = {"text": text, "title": title, "published": published,
                "source_url": f"https://news.example.org/{published[:4]}/{article_id[:8]}.html",
                "article_id": article_id}
        annotations = []
        for n in range(2):
            annotations.append(self._annotation(task_id, project, text, mentions, created, n, data))
        updated = max(a["updated_at"] for a in annotations)
        return {
            "id": task_id, "annotations": annotations, "file_upload": None, "drafts": [],
            "predictions": [], "data": data, "meta": {}, "created_at": _iso(created),
            "updated_at": updated, "inner_id": task_id, "total_annotations": len(annotations),
            "cancelled_annotations": 0, "total_predictions": 0, "comment_count": 0,
            "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": project,
            "updated_by": None, "comment_authors": [],
        }

    def _annotation(self, task_id: int, project: int, text: str,
                    mentions: list[tuple[int, int, str]], task_created: datetime, n: int,
                    data: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        self.annotations += 1
        annotation_id = task_id * 2 + n
        chosen = sorted(rng.sample(mentions, min(self.spans, len(mentions))))
        result = [_result_item(rng, "entities", "labels",
                               {"start": s, "end": e, "text": text[s:e], "labels": [label]})
                  for s, e, label in chosen]
        killed: Any = rng.randint(0, 40)
        result.append(_result_item(rng, "event_type", "choices",
                                   {"choices": [rng.choice(EVENT_TYPES)]}))
        result.append(_result_item(rng, "killed", "number", {"number": killed}))
        created = task_created + timedelta(minutes=rng.randint(1, 600), microseconds=rng.randint(0, 999999))
        updated = created + timedelta(seconds=rng.randint(0, 300))
        ann: dict[str, Any] = {
            "id": annotation_id, "completed_by": 1 + n + rng.randint(0, 1) * 2, "result": result,
            "was_cancelled": False, "ground_truth": rng.random() < 0.02,
            "created_at": _iso(created), "updated_at": _iso(updated),
            "draft_created_at": None, "lead_time": round(rng.uniform(20, 900), 3),
            "prediction": {}, "result_count": len(result),
            "unique_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "import_id": None, "last_action": None, "bulk_created": False, "task": task_id,
            "project": project, "updated_by": None, "parent_prediction": None,
            "parent_annotation": None, "last_created_by": None,
        }
        if self.invalid_rate and rng.random() < self.invalid_rate:
            kind = rng.choice(DEFECTS)
            self._inject(kind, ann, text, data)
            self._count(kind)
        if self.invalid_rate and rng.random() < self.invalid_rate:
            kind = rng.choice(TRICKY_VALID)
            self._inject(kind, ann, text, data)
            self._count(kind)
        return ann

    def _inject(self, kind: str, ann: dict[str, Any], text: str, data: dict[str, Any]) -> None:
        rng = self.rng
        result = ann["result"]
        spans = [r for r in result if r["from_name"] == "entities"]
        number = next(r for r in result if r["from_name"] == "killed")["value"]
        if kind == "unknown-label" and spans:
            rng.choice(spans)["value"]["labels"] = [rng.choice(["LOCATION", "person", "EVENT"])]
        elif kind == "two-choices":
            next(r for r in result if r["from_name"] == "event_type")["value"]["choices"] = \
                rng.sample(EVENT_TYPES, 2)
        elif kind == "negative-number":
            number["number"] = -rng.randint(1, 9)
        elif kind == "fractional-number":
            number["number"] = rng.randint(0, 9) + 0.5
        elif kind == "string-number":
            number["number"] = str(rng.randint(0, 9))
        elif kind == "bool-number":
            number["number"] = True
        elif kind == "bad-date":
            ann["created_at"] = rng.choice(["2024-02-30T10:00:00Z", "2024-13-01T10:00:00Z",
                                            "2024-05-01 10:00:00", "yesterday", "2024-05-01T25:00:00Z"])
        elif kind == "null-created":
            ann["created_at"] = None
        elif kind == "negative-lead-time":
            ann["lead_time"] = -round(rng.uniform(0.1, 50), 3)
        elif kind == "long-note":
            result.append(_result_item(rng, "note", "textarea",
                                       {"text": [_filler(rng, 500)[:2500].ljust(2500, "x")]}))
        elif kind == "bad-annotator":
            ann["completed_by"] = "someone"
        elif kind == "bad-article-id":
            data["article_id"] = data["article_id"].upper()
        elif kind == "span-text-mismatch" and spans:
            rng.choice(spans)["value"]["text"] = "Nonexistent Placename"
        elif kind == "unknown-control":
            result.append(_result_item(rng, "weapon_type", "choices", {"choices": ["Firearms"]}))
        elif kind == "whole-float-number":
            number["number"] = float(rng.randint(0, 9))
        elif kind == "lowercase-timestamp":
            ann["updated_at"] = ann["updated_at"].replace("T", "t").replace("Z", "z")
        elif kind == "zero-killed":
            number["number"] = 0
        elif kind == "offset-timestamp":
            ann["updated_at"] = ann["updated_at"][:-1] + "+02:00"


def _open_out(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    stream: IO[bytes] = (gzip.open(path, "wb", compresslevel=3) if path.suffix == ".gz"
                         else open(path, "wb", buffering=1 << 20))
    return io.TextIOWrapper(stream, encoding="utf-8", newline="\n")


def write_export(out: str | Path, tasks: int, *, seed: int = 7, invalid_rate: float = 0.0,
                 indent: int | None = None, target_bytes: int | None = None) -> dict[str, Any]:
    """Write the export; returns what was written (tasks, annotations, bytes, defect counts)."""
    out = Path(out)
    gen = Generator(seed, invalid_rate)
    written = 0
    if indent is None:
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        head, sep, tail = "[", ", ", "]"
    else:
        dumps = json.JSONEncoder(ensure_ascii=False, indent=indent).encode
        head, sep, tail = "[\n", ",\n", "\n]"
    size = len(head)
    with _open_out(out) as fh:
        fh.write(head)
        while written < tasks or (target_bytes is not None and size < target_bytes):
            chunk = dumps(gen.task(written + 1))
            if written:
                fh.write(sep)
                size += len(sep)
            fh.write(chunk)
            # ASCII-mostly text: len(str) is close to the byte count; good enough to stop on.
            size += len(chunk)
            written += 1
        fh.write(tail)
    return {"path": str(out), "tasks": written, "annotations": gen.annotations,
            "bytes": out.stat().st_size, "defects": dict(sorted(gen.counts.items())),
            "seed": seed, "invalid_rate": invalid_rate, "indent": indent}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--invalid-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--indent", type=int, default=None,
                        help="pretty-print with this indent (default: one line, as the server exports)")
    parser.add_argument("--target-mb", type=float, default=None,
                        help="keep adding tasks until the file has about this many MiB")
    args = parser.parse_args(argv)
    target = int(args.target_mb * (1 << 20)) if args.target_mb else None
    info = write_export(args.out, args.tasks, seed=args.seed, invalid_rate=args.invalid_rate,
                        indent=args.indent, target_bytes=target)
    json.dump(info, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
