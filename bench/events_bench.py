"""Benchmark: what events cost the commands a maintainer runs, as ratios against the
article-level scheme measured in the same run.

    .venv/bin/python bench/events_bench.py                  # 2,000 articles
    .venv/bin/python bench/events_bench.py --n 300 --keep   # to try it; keeps the workspaces

Issue 14 moved the built-in scheme from one event type and counts per article
(``news-events-v1``) to events with triggers, arguments, per-event attributes and relations
between entities (``news-events``, version 2). The script

1. builds two workspaces (``init_workspace``, one per scheme) under ``bench/out/`` holding the
   same N synthetic news articles (about 300 words and 20 entity mentions each, seeded:
   the same arguments give the same bytes), written to the articles table as ``ingest``
   would;
2. writes, per workspace, the Label Studio JSON export (full format, one JSON list, as the
   server's export) of 3 annotators per article. Every annotator labels the same ~20 entity
   spans; with ``news-events`` also 2-4 events per article (a trigger region in the ``events``
   control, its attributes as per-region results carrying the trigger's region id, and 2-4
   arguments as labelled relations from the trigger to entity regions; some drawn the other
   way round) and 1-2 relations between entities; with ``news-events-v1`` the article-level
   ``event_type`` and counts of the main event instead. The annotators disagree the way
   people do: each drops about 5 % of the spans and shortens another 5 %, relabels 3 %,
   drops 7 % of the events, shortens 5 % of the triggers, picks another type for 10 %, another
   count for 10 %, and drops 10 % of the arguments and relations. Every annotation is valid;
3. times, each in its own process as a user runs it (``.venv/bin/toolkit ... --json``, cwd the
   workspace), for both workspaces, interleaved (v1 then v2, then v2 then v1 for the next
   command, so that a slow spell of the shared machine does not fall on one scheme only):
   ``toolkit pull --from-export EXPORT`` (normalise, validate, write annotations.parquet),
   ``toolkit validate`` (the workspace re-validation), ``toolkit agree`` (agreement with its
   bootstrap intervals, and gold) and ``toolkit release 0.1.0``; plus ``toolkit --version``
   once per scheme, the start-up cost every command pays. The same commands run first on two
   workspaces of ``--fixed-n`` articles (default 5): their times are each command's fixed cost
   (imports, reading the scheme, writing reports), and ``(time - fixed) / annotations`` is the
   work per annotation, which decides the ratio at large N;
4. checks the outputs (every annotation pulled, none quarantined, validation clean, gold
   resolved for some articles, gold events and rows in the events config for v2) and fails
   loudly otherwise; prints a table (seconds, ratio v2/v1, Label Studio results per second,
   microseconds per annotation, peak memory) and writes every figure to ``--out``.

Memory: ``/proc`` of the command's process tree is sampled every 50 ms (the approach of
``bench/preannotate_bench.py``): *peak MB* is the larger of the highest sampled sum of
``VmRSS`` over the tree and the highest ``VmHWM`` of one of its processes (exact for a
single-process command, which a sample could miss).

Outputs: ``bench/out/events-N.json`` (``--out``), the commands' stdout/stderr under
``bench/out/events-N-logs/``; the workspaces ``bench/out/events-ws-N/{fixed,full}/{v1,v2}``
(each export file beside its workspace) are removed
at the end unless ``--keep`` is given (or a check failed: then they are kept to look at).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctree import Sampler  # bench/, next to this script

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO))

ANNOTATORS = 3
SCHEMES = {"v1": "news-events-v1", "v2": "news-events"}
COMMANDS = ("pull", "validate", "agree", "release")

# ------------------------------------------------------------------------------ the articles

FIRST = ["Ahmed", "Maria", "John", "Fatima", "Sergei", "Aisha", "David", "Li", "Omar", "Elena", "Kwame",
         "Priya", "Yusuf", "Anna", "Carlos", "Nadia", "Hassan", "Olga", "Samuel", "Leila", "José", "Zoë"]
LAST = ["Khan", "Petrov", "Smith", "Haddad", "Okafor", "Rahman", "Garcia", "Ivanova", "Mensah", "Sharma",
        "Nguyen", "Al-Masri", "Kowalski", "Mwangi", "Hussein", "Müller", "Çelik", "Núñez"]
POOLS = {
    "ORG": ["Islamic State", "the Interior Ministry", "the Red Crescent", "the United Nations", "Al-Shabaab",
            "Boko Haram", "the Taliban", "the police", "the army", "Reuters", "the Kurdish Workers' Party"],
    "GPE": ["Volgograd", "Kabul", "Baghdad", "Mogadishu", "Lagos", "Nairobi", "Peshawar", "Aleppo", "Mosul",
            "Kyiv", "São Paulo", "Istanbul", "Karachi", "Maiduguri", "Quetta", "Tripoli"],
    "FAC": ["the central market", "Kabul airport", "the Serena Hotel", "the Al-Nuri mosque", "Westgate mall",
            "the main bus station", "the Kapitan Bridge", "the IK-15 prison", "the police headquarters"],
    "NORP": ["Iraqi", "Shia", "Sunni", "Maoist", "Somali", "Russian", "Kurdish", "Afghan", "Christian", "Yazidi"],
    "DATE": ["Tuesday", "Monday morning", "last week", "3 May 2014", "Friday", "Sunday night",
             "earlier this month", "on 11 September", "late on Wednesday", "in March"],
    "WEAPON": ["AK-47 rifles", "a car bomb", "a suicide vest", "knives", "grenades",
               "an improvised explosive device", "rocket-propelled grenades", "a truck", "pistols"],
}
LABELS = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]
TYPES = ["Assassination", "Armed Assault", "Bombing/Explosion", "Hijacking", "Hostage Taking (Barricade Incident)",
         "Hostage Taking (Kidnapping)", "Facility/Infrastructure Attack", "Unarmed Assault", "Unknown"]
CERTAINTY = ["confirmed", "claimed", "uncertain"]
# Slots: {role:LABEL} an entity that can be an argument of the sentence's event, {LABEL} an entity,
# {T:words} the trigger, {N} people killed, {I} injured, {H} hostages; {h:LABEL} / {t:LABEL} the
# head and tail of the sentence's relation.
EVENT_TEMPLATES = [
    ("Bombing/Explosion", "{time:DATE}, {T:a bomb exploded} at {target:FAC} in {place:GPE}, killing {N} people and "
                          "wounding {I}; {perpetrator:ORG} said it had used {weapon:WEAPON}."),
    ("Armed Assault", "{perpetrator:NORP} gunmen {T:stormed} {target:FAC} in {place:GPE} {time:DATE} armed with "
                      "{weapon:WEAPON} and killed {N} people, among them {victim:PERSON}."),
    ("Hostage Taking (Barricade Incident)", "Fighters of {perpetrator:ORG} {T:took hostage} {H} staff at "
                                            "{place:FAC} {time:DATE}, among them {victim:PERSON}."),
    ("Assassination", "{victim:PERSON} was {T:shot dead} outside {target:FAC} in {place:GPE} {time:DATE}; "
                      "police blamed {perpetrator:ORG} and said {N} bodyguards also died."),
    ("Hostage Taking (Kidnapping)", "Armed men {T:abducted} {H} aid workers including {victim:PERSON} near "
                                    "{place:GPE} {time:DATE}, and {perpetrator:ORG} demanded a ransom."),
    ("Facility/Infrastructure Attack", "{perpetrator:NORP} militants {T:set fire to} {target:FAC} in {place:GPE} "
                                       "{time:DATE} using {weapon:WEAPON}; nobody was hurt."),
]
RELATION_TEMPLATES = [
    ("member_of", "{h:PERSON}, a commander of {t:ORG}, denied any part in it."),
    ("member_of", "{h:PERSON}, who leads the local {t:NORP} council, called for calm."),
    ("located_in", "{h:FAC} lies in the centre of {t:GPE}, officials said."),
    ("located_in", "The town of {h:GPE} is a district of {t:GPE}."),
]
PLAIN_TEMPLATES = [
    "{PERSON}, a spokesman for {ORG}, said {NORP} fighters had been seen near {FAC} in {GPE} {DATE}.",
    "Witnesses told {ORG} that the attackers carried {WEAPON} and fled towards {GPE}.",
    "\"We heard shouting, then {WEAPON},\" said {PERSON}, who works near {FAC}.",
    "The {NORP} community in {GPE} has been targeted before, according to {PERSON}.",
    "Officials from {ORG} and {ORG} met in {GPE} to discuss the security situation.",
    "{PERSON} condemned the violence and called for calm {DATE}.",
]
FILLER = ("the a an officials said city local residents police people attack security forces government "
          "reported on in of and to after before during near while minister spokesman statement area region "
          "border district early late morning night crowd market street witnesses emergency services hospital "
          "wounded victims investigation authorities suspects arrested motive unclear according added that was "
          "were had has been would could not yet confirmed sources told news agency television footage showed "
          "smoke rising from building damaged windows shattered roads closed").split()
SLOT = re.compile(r"\{([^{}]+)\}")


@dataclass
class Article:
    """An article and what a careful annotator would mark in it (before the annotators differ)."""

    text: str
    mentions: list[tuple[int, int, str]] = field(default_factory=list)  # entity spans (start, end, label)
    # events: trigger (start, end), attributes, arguments as (role, index into mentions)
    events: list[dict[str, Any]] = field(default_factory=list)
    relations: list[tuple[str, int, int]] = field(default_factory=list)  # (label, head, tail) mention indices


def _entity(rng: random.Random, label: str) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}" if label == "PERSON" else rng.choice(POOLS[label])


def _render(template: str, rng: random.Random, start: int, art: Article,
            numbers: dict[str, int]) -> tuple[str, dict[str, Any]]:
    """The sentence, its entity mentions appended to ``art``; returns the sentence and its named
    slots (role / head / tail -> mention index, ``T`` -> trigger offsets)."""
    out, slots, pos = [], {}, 0
    for match in SLOT.finditer(template):
        out.append(template[pos:match.start()])
        slot = match.group(1)
        name, _, label = slot.rpartition(":") if ":" in slot else ("", "", slot)
        if name == "T":
            value = label
        elif label in ("N", "I", "H"):
            value = str(numbers[label])
        else:
            value = _entity(rng, label)
        at = start + sum(len(o) for o in out)
        if at == start and value[:1].islower():
            value = value[0].upper() + value[1:]
        if name == "T":
            slots["T"] = (at, at + len(value))
        elif label not in ("N", "I", "H"):
            art.mentions.append((at, at + len(value), label))
            if name:
                slots[name] = len(art.mentions) - 1
        out.append(value)
        pos = match.end()
    out.append(template[pos:])
    return "".join(out), slots


def make_article(i: int, seed: int, words: int = 300) -> Article:
    """Article ``i``: 2-4 events (the first is the main one), 1-2 relations, about ``words``
    words and 20 entity mentions; the same ``(i, seed)`` always gives the same article."""
    rng = random.Random(f"{seed}-article-{i}")
    kinds = ["event"] * rng.randint(2, 4) + ["relation"] * rng.randint(1, 2) + ["plain"]
    plan = kinds[:1] + rng.sample(kinds[1:], len(kinds) - 1)
    plan += ["filler"] * 14
    plan = plan[:1] + rng.sample(plan[1:], len(plan) - 1)
    art = Article(text="")
    parts: list[str] = []
    length = n_words = 0
    for kind in plan:
        if n_words >= words and kind == "filler":
            continue
        start = length + (1 if parts else 0)
        if kind == "filler":
            sentence = " ".join(rng.choice(FILLER) for _ in range(rng.randint(8, 22))).capitalize() + "."
        elif kind == "event":
            etype, template = rng.choice(EVENT_TEMPLATES)
            numbers = {"N": rng.randint(0, 40), "I": rng.randint(0, 60), "H": rng.randint(1, 30)}
            sentence, slots = _render(template, rng, start, art, numbers)
            roles = [r for r in slots if r != "T"]
            arguments = [(r, slots[r]) for r in sorted(rng.sample(roles, rng.randint(2, min(4, len(roles)))))]
            art.events.append({
                "trigger": slots["T"], "arguments": arguments, "attack_type": etype,
                "killed": numbers["N"] if "{N}" in template else (0 if "nobody" in template else None),
                "injured": numbers["I"] if "{I}" in template else None,
                "hostages": numbers["H"] if "{H}" in template else None,
                "certainty": rng.choice(CERTAINTY) if rng.random() < 0.8 else None})
        elif kind == "relation":
            label, template = rng.choice(RELATION_TEMPLATES)
            sentence, slots = _render(template, rng, start, art, {})
            art.relations.append((label, slots["h"], slots["t"]))
        else:
            sentence, _ = _render(rng.choice(PLAIN_TEMPLATES), rng, start, art, {"N": rng.randint(2, 60)})
        parts.append(sentence)
        length = start + len(sentence)
        n_words += sentence.count(" ") + 1
    # Pad with plain sentences until about 20 mentions.
    while len(art.mentions) < 20:
        start = length + 1
        sentence, _ = _render(rng.choice(PLAIN_TEMPLATES), rng, start, art, {})
        parts.append(sentence)
        length = start + len(sentence)
    art.text = " ".join(parts)
    assert len(art.text) == length
    return art


# ------------------------------------------------------------------------------ the annotators


def annotator_view(art: Article, i: int, k: int, seed: int) -> dict[str, Any]:
    """What annotator ``k`` marks in article ``i``: the article's truth with the usual slips.

    The same view renders both schemes, so that the entities of v1 and v2 are the same spans."""
    rng = random.Random(f"{seed}-annotator-{i}-{k}")
    bound = {m for e in art.events for _, m in e["arguments"]} | {m for _, h, t in art.relations for m in (h, t)}
    mentions: dict[int, tuple[int, int, str]] = {}
    for m, (start, end, label) in enumerate(art.mentions):
        r = rng.random()
        if r < 0.05:
            continue  # missed
        if r < 0.10 and end - start > 3:
            end -= 1  # the last character left out
        elif r < 0.13 and m not in bound:  # relabelled (never an argument: its role would not allow it)
            label = rng.choice([x for x in LABELS if x != label])
        mentions[m] = (start, end, label)
    events, main = [], None
    for n, event in enumerate(art.events):
        start, end = event["trigger"]
        if rng.random() < 0.05:
            end -= 1
        attrs = {name: event[name] for name in ("attack_type", "killed", "injured", "hostages", "certainty")}
        if rng.random() < 0.10:
            attrs["attack_type"] = rng.choice([t for t in TYPES if t != event["attack_type"]])
        for name in ("killed", "injured", "hostages"):
            if attrs[name] is not None and rng.random() < 0.10:
                attrs[name] = max(0, attrs[name] + rng.choice([-2, -1, 1, 3]))
        if n == 0:
            main = attrs  # v1 asks for the main event even from an annotator who missed its trigger
        if rng.random() < 0.07:
            continue
        arguments = [(role, m) for role, m in event["arguments"] if m in mentions and rng.random() >= 0.10]
        events.append({"trigger": (start, end), "attributes": attrs, "arguments": arguments})
    relations = [(label, h, t) for label, h, t in art.relations
                 if h in mentions and t in mentions and rng.random() >= 0.10]
    return {"mentions": mentions, "events": events, "relations": relations, "main": main}


def _rid(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(10))


def _region(rid: str, from_name: str, start: int, end: int, text: str, label: str) -> dict[str, Any]:
    return {"id": rid, "type": "labels", "value": {"start": start, "end": end, "text": text[start:end],
                                                    "labels": [label]},
            "origin": "manual", "to_name": "text", "from_name": from_name}


def results_v2(view: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Label Studio results as the labeling view saves them for ``news-events``: regions with
    ids, the events' attributes as per-region results of the trigger's id, relations last.
    ``view["rng"]`` draws the region ids."""
    rng = view["rng"]
    out, links, ids = [], [], {}
    for m, (start, end, label) in sorted(view["mentions"].items(), key=lambda kv: kv[1]):
        ids[m] = _rid(rng)
        out.append(_region(ids[m], "entities", start, end, text, label))
    for event in view["events"]:
        start, end = event["trigger"]
        tid = _rid(rng)
        out.append(_region(tid, "events", start, end, text, "EVENT"))
        where = {"start": start, "end": end, "text": text[start:end]}
        for name, value in event["attributes"].items():
            if value is None:
                continue
            base = {"id": tid, "origin": "manual", "to_name": "text", "from_name": name}
            if isinstance(value, str):
                out.append({**base, "type": "choices", "value": {**where, "choices": [value]}})
            else:
                out.append({**base, "type": "number", "value": {**where, "number": value}})
        for role, m in event["arguments"]:
            # Most arguments are drawn from the trigger to the entity; some the other way round.
            ends = (tid, ids[m]) if rng.random() >= 0.15 else (ids[m], tid)
            links.append({"from_id": ends[0], "to_id": ends[1], "type": "relation", "direction": "right",
                          "labels": [role]})
    for label, h, t in view["relations"]:
        links.append({"from_id": ids[h], "to_id": ids[t], "type": "relation", "direction": "right",
                      "labels": [label]})
    return out + links


def results_v1(view: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Label Studio results for ``news-events-v1``: the same entity regions, then the main
    event's type and counts as article-level controls."""
    rng = view["rng"]
    out = [_region(_rid(rng), "entities", start, end, text, label)
           for start, end, label in sorted(view["mentions"].values())]
    main = view["main"]
    out.append({"id": _rid(rng), "type": "choices", "value": {"choices": [main["attack_type"]]},
                "origin": "manual", "to_name": "text", "from_name": "event_type"})
    for name in ("killed", "injured", "hostages"):
        if main[name] is not None:
            out.append({"id": _rid(rng), "type": "number", "value": {"number": main[name]},
                        "origin": "manual", "to_name": "text", "from_name": name})
    return out


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(roots: dict[str, Path], n: int, seed: int) -> dict[str, Any]:
    """articles.parquet in each workspace, and each one's Label Studio export file
    (``export.json`` beside the workspace); returns what was written."""
    import pyarrow as pa

    from toolkit.articles import ARTICLE_SCHEMA
    from toolkit.ingest import store
    from toolkit.workspace import Workspace

    epoch = dt.datetime(2025, 1, 6, 8, 0, tzinfo=dt.timezone.utc)
    rows = []
    encode = json.JSONEncoder(ensure_ascii=False).encode
    exports = {v: open(roots[v].parent / f"export-{v}.json", "w", encoding="utf-8") for v in roots}
    counts: dict[str, dict[str, int]] = {v: {"tasks": 0, "annotations": 0, "results": 0, "regions": 0,
                                              "relations": 0, "events": 0} for v in roots}
    words = mentions = 0
    for fh in exports.values():
        fh.write("[")
    for i in range(n):
        art = make_article(i, seed)
        text = art.text
        article_id = hashlib.sha256(text.encode()).hexdigest()[:16]
        published = (epoch - dt.timedelta(days=i % 3000)).date()
        words += len(text.split())
        mentions += len(art.mentions)
        rows.append({
            "article_id": article_id, "title": f"Attack report {i}", "text": text, "published": published,
            "source_url": f"https://news.example/{i}", "source_name": ["news.example", "wire.example"][i % 2],
            "language": "en", "n_chars": len(text), "n_words": len(text.split()), "format": "txt",
            "source_file": f"raw/{i}.txt", "raw_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "sources": [], "cluster_id": article_id, "warnings": []})
        data = {"text": text, "title": f"Attack report {i}", "published": published.isoformat(),
                "source_url": f"https://news.example/{i}", "article_id": article_id}
        created = epoch + dt.timedelta(seconds=i * 17)
        views = [annotator_view(art, i, k, seed) for k in range(ANNOTATORS)]
        for v, render in (("v1", results_v1), ("v2", results_v2)):
            if v not in roots:
                continue
            annotations = []
            for k, view in enumerate(views):
                view["rng"] = random.Random(f"{seed}-ids-{v}-{i}-{k}")
                result = render(view, text)
                moment = created + dt.timedelta(minutes=5 * (k + 1))
                annotations.append({
                    "id": (i + 1) * ANNOTATORS + k, "completed_by": k + 1, "result": result,
                    "was_cancelled": False, "ground_truth": False, "created_at": _iso(moment),
                    "updated_at": _iso(moment + dt.timedelta(seconds=40)), "draft_created_at": None,
                    "lead_time": 120.0 + 7 * k, "prediction": {}, "result_count": len(result),
                    "import_id": None, "last_action": None, "bulk_created": False, "task": i + 1, "project": 1,
                    "updated_by": None, "parent_prediction": None, "parent_annotation": None,
                    "last_created_by": None})
                c = counts[v]
                c["annotations"] += 1
                c["results"] += len(result)
                c["regions"] += sum(1 for r in result if r.get("type") == "labels")
                c["relations"] += sum(1 for r in result if r.get("type") == "relation")
                c["events"] += len(view["events"]) if v == "v2" else 0
            task = {"id": i + 1, "annotations": annotations, "file_upload": None, "drafts": [], "predictions": [],
                    "data": data, "meta": {}, "created_at": _iso(created), "updated_at": annotations[-1]["updated_at"],
                    "inner_id": i + 1, "total_annotations": len(annotations), "cancelled_annotations": 0,
                    "total_predictions": 0, "comment_count": 0, "unresolved_comment_count": 0,
                    "last_comment_updated_at": None, "project": 1, "updated_by": None, "comment_authors": []}
            exports[v].write((", " if i else "") + encode(task))
            counts[v]["tasks"] += 1
    for v, fh in exports.items():
        fh.write("]")
        fh.close()
        store.write_table(Workspace(roots[v]), pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA))
        counts[v]["export_bytes"] = (roots[v].parent / f"export-{v}.json").stat().st_size
    return {"articles": n, "words": words, "words_per_article": round(words / n), "mentions": mentions,
            "mentions_per_article": round(mentions / n, 1), "by_scheme": counts}


# ------------------------------------------------------------------------------ measuring


def measure(name: str, argv: list[str], cwd: Path, logs: Path) -> dict[str, Any]:
    """Runs ``argv`` in ``cwd``, stdout and stderr to files under ``logs``; wall time, CPU time,
    peak memory of the tree, exit status and the JSON it printed."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{name}.out", logs / f"{name}.err"
    env = {**os.environ, "CI": "1"}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, env=env)
        sampler = Sampler(proc.pid, pss_every=0)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so that Popen does not wait
        sampler.stopping.set()
        sampler.join()
    peak_kib = max([sampler.peak_rss_sum, *sampler.hwm.values()])
    result: dict[str, Any] = {
        "argv": argv[1:], "returncode": proc.returncode, "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_mib": round(peak_kib / 1024),
        "main_hwm_mib": round(sampler.hwm.get(proc.pid, 0) / 1024), "processes": sampler.max_processes,
        "loadavg": round(os.getloadavg()[0], 2)}
    text = out_path.read_text(encoding="utf-8", errors="replace").strip()
    try:
        result["output"] = json.loads(text[text.index("{"):]) if "{" in text else None
    except ValueError:
        result["output"] = None
    if proc.returncode != 0:
        result["stderr_tail"] = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    return result


# ------------------------------------------------------------------------------ checking


class CheckFailed(Exception):
    pass


def check(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def check_outputs(v: str, command: str, result: dict[str, Any], ws: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Asserts that ``command`` did its work in workspace ``ws``; returns the figures checked."""
    import pyarrow.parquet as pq

    where = f"{v} {command}"
    check(result["returncode"] == 0, f"{where}: exit status {result['returncode']}\n{result.get('stderr_tail', '')}")
    out = result.get("output") or {}
    expected = data["by_scheme"][v]["annotations"]
    if command == "pull":
        rows = pq.read_metadata(ws / "annotations" / "annotations.parquet").num_rows
        check(out.get("annotations") == expected and out.get("quarantined") == 0 and rows == expected,
              f"{where}: {out.get('annotations')} annotations read, {out.get('quarantined')} quarantined "
              f"({out.get('quarantined_by_type')}), {rows} rows in annotations.parquet; expected {expected}, 0, "
              f"{expected}")
        return {"annotations": rows, "quarantined": out.get("quarantined")}
    if command == "validate":
        check(result["returncode"] == 0, f"{where}: the workspace is not valid")
        return {"valid": True}
    if command == "agree":
        gold = pq.read_table(ws / "annotations" / "gold.parquet")
        resolved = sum(1 for s in gold.column("status").to_pylist() if s == "resolved")
        check(resolved > 0, f"{where}: no gold article resolved ({out.get('unresolved', [])[:3]} ...)")
        figures = {"gold_rows": gold.num_rows, "resolved": resolved}
        if v == "v2":
            events = sum(len(e or []) for e in gold.column("events").to_pylist())
            check(events > 0, f"{where}: gold.parquet holds no event")
            figures["gold_events"] = events
        return figures
    if command == "release":
        out = out.get("release", out)
        articles = sum((out.get("articles") or {}).values())
        check(articles > 0, f"{where}: no article released ({out.get('articles')})")
        figures = {"articles": articles, "files": out.get("files"), "bytes": out.get("bytes")}
        if v == "v2":
            reported = sum(sum(splits.values()) for splits in (out.get("events") or {}).values())
            written = sum(pq.read_metadata(p).num_rows for p in (ws / "releases" / "v0.1.0").glob("events/*.parquet"))
            check(reported > 0 and written == reported,
                  f"{where}: {reported} events config rows reported, {written} in releases/v0.1.0/events/")
            figures["events_rows"] = written
        return figures
    return {}


# ------------------------------------------------------------------------------ the run


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def summarise(runs: dict[str, dict[str, dict[str, Any]]], fixed: dict[str, dict[str, dict[str, Any]]] | None,
              data: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """One row per command: seconds, ratios, throughput, memory; with ``fixed`` (the same
    commands on a workspace of a few articles) also the work beyond the fixed cost."""
    rows, table = [], []
    for command in ("startup", *COMMANDS):
        v1, v2 = runs["v1"].get(command), runs["v2"].get(command)
        if not v1 or not v2:
            continue
        row: dict[str, Any] = {"command": command, "v1_s": v1["wall_s"], "v2_s": v2["wall_s"],
                               "ratio_v2_v1": _ratio(v2["wall_s"], v1["wall_s"]),
                               "ratio_cpu_v2_v1": _ratio(v2["cpu_s"], v1["cpu_s"]),
                               "v1_peak_mib": v1["peak_mib"], "v2_peak_mib": v2["peak_mib"]}
        f1, f2 = ((fixed or {}).get("v1", {}).get(command), (fixed or {}).get("v2", {}).get(command))
        if command != "startup":
            if f1 and f2:
                beyond1, beyond2 = v1["wall_s"] - f1["wall_s"], v2["wall_s"] - f2["wall_s"]
                # Within the noise of a shared machine (a small N) the difference means nothing.
                row.update({"v1_fixed_s": f1["wall_s"], "v2_fixed_s": f2["wall_s"],
                            "ratio_v2_v1_beyond_fixed": _ratio(beyond2, beyond1) if min(beyond1, beyond2) > 0 else None})
            for v, r, f in (("v1", v1, f1), ("v2", v2, f2)):
                c = data["by_scheme"][v]
                row[f"{v}_results_per_s"] = round(c["results"] / r["wall_s"])
                row[f"{v}_us_per_annotation"] = round(r["wall_s"] / c["annotations"] * 1e6)
                if f1 and f2:
                    row[f"{v}_us_per_annotation_beyond_fixed"] = round((r["wall_s"] - f["wall_s"]) / c["annotations"] * 1e6)
        rows.append(row)
        table.append([f"`{command}`" if command != "startup" else "start-up (`--version`)", row["v1_s"], row["v2_s"],
                      row["ratio_v2_v1"], row["ratio_cpu_v2_v1"], row.get("v1_fixed_s"), row.get("v2_fixed_s"),
                      row.get("ratio_v2_v1_beyond_fixed"), row.get("v1_results_per_s"), row.get("v2_results_per_s"),
                      row.get("v1_us_per_annotation"), row.get("v2_us_per_annotation"),
                      row.get("v1_us_per_annotation_beyond_fixed"), row.get("v2_us_per_annotation_beyond_fixed"),
                      row["v1_peak_mib"], row["v2_peak_mib"]])
    header = ["command", "v1 s", "v2 s", "v2/v1 wall", "v2/v1 CPU", "v1 fixed s", "v2 fixed s", "v2/v1 beyond fixed",
              "v1 results/s", "v2 results/s", "v1 µs/annotation", "v2 µs/annotation", "v1 µs/annotation beyond fixed",
              "v2 µs/annotation beyond fixed", "v1 peak MB", "v2 peak MB"]
    return rows, md_table(header, table)


def run_set(base: Path, logs: Path, n: int, seed: int, toolkit: str, tag: str) -> dict[str, Any]:
    """Builds the two workspaces of ``n`` articles under ``base``, runs and checks the commands."""
    from toolkit.scaffold import init_workspace

    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    roots = {v: init_workspace(base / v, title=f"Events benchmark {v}", scheme=scheme).root
             for v, scheme in SCHEMES.items()}
    t0 = time.perf_counter()
    data = generate(roots, n, seed)
    data["generate_s"] = round(time.perf_counter() - t0, 1)
    print(f"{tag} data: {json.dumps(data)}", flush=True)
    runs: dict[str, dict[str, dict[str, Any]]] = {"v1": {}, "v2": {}}
    checked: dict[str, dict[str, Any]] = {"v1": {}, "v2": {}}
    argvs = {"pull": lambda v: ["pull", "--from-export", str(base / f"export-{v}.json"), "--json"],
             "validate": lambda v: ["validate", "--json"], "agree": lambda v: ["agree", "--json"],
             "release": lambda v: ["release", "0.1.0", "--json"]}
    failed = None
    try:
        for v in ("v1", "v2"):
            runs[v]["startup"] = measure(f"{tag}-{v}-startup", [toolkit, "--version"], roots[v], logs)
        for c, command in enumerate(COMMANDS):
            for v in (("v1", "v2") if c % 2 == 0 else ("v2", "v1")):
                result = measure(f"{tag}-{v}-{command}", [toolkit, *argvs[command](v)], roots[v], logs)
                runs[v][command] = result
                print(f"{tag} {v} {command}: {result['wall_s']} s, CPU {result['cpu_s']} s, peak {result['peak_mib']} MB, "
                      f"exit {result['returncode']}", flush=True)
                checked[v][command] = check_outputs(v, command, result, roots[v], data)
    except CheckFailed as exc:
        failed = f"{tag}: {exc}"
    return {"data": data, "runs": runs, "checked": checked, "failed": failed}


def _stored(runs: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    return {v: {c: {k: val for k, val in r.items() if k != "output"} for c, r in by.items()} for v, by in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="articles (default 2000)")
    parser.add_argument("--fixed-n", type=int, default=5,
                        help="articles of the workspaces that measure each command's fixed cost (0: skip them)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, default=None, help="the JSON file (default bench/out/events-N.json)")
    parser.add_argument("--keep", action="store_true", help="keep the workspaces (bench/out/events-ws-N/)")
    parser.add_argument("--toolkit", default=str(REPO / ".venv" / "bin" / "toolkit"))
    args = parser.parse_args(argv)
    n = args.n
    base = (OUT / f"events-ws-{n}").resolve()
    logs = OUT / f"events-{n}-logs"
    out_file = args.out or OUT / f"events-{n}.json"
    started = time.perf_counter()
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(logs, ignore_errors=True)
    summary: dict[str, Any] = {
        "date": dt.date.today().isoformat(), "argv": sys.argv[1:] if argv is None else argv,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "articles": n, "fixed_articles": args.fixed_n, "annotators": ANNOTATORS, "seed": args.seed,
        "schemes": SCHEMES}
    toolkit = args.toolkit
    # Untimed: byte-compiles whatever changed since the last run, and warms the page cache.
    subprocess.run([str(Path(toolkit).parent / "python"), "-c",
                    "import toolkit.cli, toolkit.labelstudio, toolkit.validation, toolkit.agreement, toolkit.release"],
                   cwd=REPO, check=True)
    fixed = run_set(base / "fixed", logs, args.fixed_n, args.seed, toolkit, "fixed") if args.fixed_n else None
    failed = fixed["failed"] if fixed else None
    full = run_set(base / "full", logs, n, args.seed, toolkit, "full") if not failed else None
    if full:
        failed = full["failed"]
        data = full["data"]
        rows, table = summarise(full["runs"], fixed["runs"] if fixed else None, data)
        # How far the synthetic annotators agree (to tell that the data looks like people's work).
        headline = {v: [{k: h.get(k) for k in ("field", "metric", "value")}
                        for h in ((by.get("agree") or {}).get("output") or {}).get("agreement", {}).get("headline", [])]
                    for v, by in full["runs"].items()}
        summary.update({"data": data, "rows": rows, "checks": full["checked"], "agreement_headline": headline,
                        "runs": _stored(full["runs"])})
    if fixed:
        summary["fixed"] = {"data": fixed["data"], "checks": fixed["checked"], "runs": _stored(fixed["runs"])}
    summary.update({"failed": failed, "whole_run_s": round(time.perf_counter() - started, 1)})
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(summary, indent=2, default=str))
    if full:
        d1, d2 = data["by_scheme"]["v1"], data["by_scheme"]["v2"]
        print(f"\n{n:,} articles ({data['words_per_article']} words, {data['mentions_per_article']} entity mentions "
              f"each), {ANNOTATORS} annotators; Label Studio results per annotation: v1 "
              f"{d1['results'] / d1['annotations']:.1f}, v2 {d2['results'] / d2['annotations']:.1f} "
              f"({d2['events'] / d2['annotations']:.1f} events, {d2['relations'] / d2['annotations']:.1f} relations "
              f"and arguments); export v1 {d1['export_bytes'] / 2**20:.1f} MB, v2 {d2['export_bytes'] / 2**20:.1f} MB; "
              f"fixed cost measured on {args.fixed_n} articles; whole run {summary['whole_run_s']} s.\n")
        print(table)
        print(f"\nchecks: {json.dumps(full['checked'])}")
    print(f"wrote {out_file}")
    if failed:
        print(f"\nCHECK FAILED: {failed}\nworkspaces kept in {base}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
