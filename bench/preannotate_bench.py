"""Benchmark: `toolkit preannotate` of N synthetic articles (rules, trained model, both) against
``nlp.pipe`` floors measured in the same run, with the peak memory of every process tree.

    python bench/preannotate_bench.py                  # 10,000 articles (about an hour on 2 cores)
    python bench/preannotate_bench.py --quick          # 1,000 articles, to try it
    python bench/preannotate_bench.py --spans ner --beam-widths 1,4 --wait-quiet 120

Issue 13: pre-annotation of 10,000 articles should take a few minutes on two cores. The script

1. builds a workspace (``init_workspace``) under ``bench/out/`` with N seeded news-like
   articles of about 400 words (people, organisations, places, facilities, nationalities,
   dates, weapons, casualty phrases such as "killing at least 15") and gold labels for a few
   hundred of them (two agreeing annotators each, through the toolkit's own gold rules), so
   that the release split gives a train and a validation set. The workspace is kept: the next
   run with the same settings reuses it and its model;
2. trains once, ``toolkit train --spans spancat --epochs 5`` (timed; ``--spans ner`` for the
   beam search's figures below), kept in the workspace for the next run;
3. times the floors, each in its own subprocess, on the same texts read from
   ``annotations/articles/``: ``spacy.blank("en")``'s tokenizer alone (the rules'
   floor); ``spacy.load`` of the same trained pipeline and ``nlp.pipe`` in batches of 32, as
   the toolkit sends them (the model's floor), with the default batch of 1000, and with
   ``n_process=2``; and, for a ``ner`` model, the pipeline with ``ner``'s greedy parse
   replaced by the beam search ``toolkit/preannotate/sources.py`` runs to score each span
   (``ner.beam_parse``), so that the beam's own cost and the toolkit's overhead on top of it
   can be told apart;
4. times ``toolkit preannotate`` as a user runs it, each in its own subprocess with the
   workspace as working directory: rules only (``--model none``), the model only
   (``--no-rules``) and both, each with ``--jobs 1`` and ``--jobs 2``, and the fixed cost of
   each (``--limit 1``: imports, loading the sources, one article);
5. with ``--beam-widths`` (``ner`` only), runs the model alone again with
   ``toolkit.preannotate.sources.BEAM_WIDTH`` set by a monkeypatch in a Python subprocess
   (``sources.py`` is not edited), and compares the suggestions with the default width's.

Time: wall and CPU seconds of each process tree, each process's own CPU (the main process's
share shows whether reading, pickling and writing hold the workers back), and ``other CPU``:
what the rest of the machine used meanwhile (from ``/proc/stat``). The machines are shared,
so ``--wait-quiet`` waits before each run for the others' work to calm down, and a
parallel probe (a pure-Python loop in one process, then in two at once) says how much of a
second core the machine gives at all.

Memory: ``/proc`` of every process tree is sampled (every 50 ms): the sum of ``VmRSS`` over
its processes (workers share the parent's pages after the fork, so this counts shared pages
more than once), the sum of ``Pss`` (once a second: shared pages split between the processes,
what the tree really occupies), and each process's own ``VmHWM`` (its peak). ``ru_maxrss``
from ``wait4`` is kept too: the peak of the largest single process (this script's own
process imports nothing heavy, so that the value inherited through ``exec`` stays below).

Outputs: ``bench/out/<name>.json`` (every figure) and ``.md`` (the tables), the commands'
output and the prediction files under ``bench/out/<name>-logs/`` (``--name``, default
``preannotate-N``); the workspace under ``bench/out/preannotate-ws-N-<spans>/`` (``--workdir``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from proctree import Sampler  # bench/, next to this script

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
GENERATOR_VERSION = 1  # bump when the generated data changes: a kept workspace is rebuilt

# The orchestrating process imports nothing heavy (no pyarrow, no spaCy): every measured
# process is started from it, and a small parent keeps ``ru_maxrss`` of the children honest.


# ------------------------------------------------------------------------------ the articles

FIRST = ["Ahmed", "Maria", "John", "Fatima", "Sergei", "Aisha", "David", "Li", "Omar", "Elena", "Kwame",
         "Priya", "Yusuf", "Anna", "Carlos", "Nadia", "Hassan", "Olga", "Samuel", "Leila", "José", "Zoë",
         "Björn", "Małgorzata", "Ibrahim", "Grace", "Viktor", "Amina", "Tariq", "Sofia", "Musa", "Irina",
         "Daniel", "Halima", "Rashid", "Chen", "Fernando", "Yasmin", "Pavel", "Esther"]
LAST = ["Khan", "Petrov", "Smith", "Haddad", "Okafor", "Rahman", "Garcia", "Ivanova", "Mensah", "Sharma",
        "Nguyen", "Al-Masri", "Kowalski", "Mwangi", "Hussein", "Müller", "Çelik", "Núñez", "Bello",
        "Karimi", "Novak", "Osei", "Yilmaz", "Abdi", "Moreno", "Sokolov", "Adeyemi", "Farouk", "Lindqvist",
        "O'Connor", "Dlamini", "Qureshi", "Volkova", "Tanaka", "Ortiz", "Balogun"]
TITLES = ["police chief", "governor", "spokesman for the army", "local councillor", "witness",
          "shopkeeper", "doctor at the main hospital", "provincial official", "human rights researcher"]
GPE = ["Volgograd", "Kabul", "Baghdad", "Mogadishu", "Lagos", "Nairobi", "Peshawar", "Aleppo", "Mosul",
       "Kyiv", "São Paulo", "Istanbul", "Karachi", "Maiduguri", "Quetta", "Tripoli", "Benghazi", "Sanaa",
       "Aden", "Kandahar", "Jalalabad", "Gao", "Timbuktu", "Bamako", "Niamey", "Kano", "Beirut", "Damascus",
       "Homs", "Kirkuk", "Basra", "Erbil", "Lahore", "Islamabad", "Dhaka", "Manila", "Marawi", "Mindanao",
       "Iraq", "Syria", "Afghanistan", "Nigeria", "Somalia", "Pakistan", "Yemen", "Mali", "Libya", "Kenya",
       "Russia", "Turkey", "Chechnya", "Dagestan", "Borno", "Balochistan", "Nangarhar", "Sinai"]
# Made-up towns (two syllables), so that many places occur that no gold label ever shows.
SYLLABLES = ["ka", "ra", "bad", "tol", "mir", "zan", "gor", "sha", "vel", "dun", "ab", "ost", "kir", "lan",
             "mar", "nov", "pol", "qal", "sur", "tek", "ul", "var", "yaz", "zor"]
FAC_KINDS = ["market", "mosque", "hotel", "bus station", "police station", "checkpoint", "school", "church",
             "hospital", "prison", "bridge", "airport", "stadium", "courthouse", "refinery"]
ORG = ["Islamic State", "the Interior Ministry", "the Red Crescent", "the United Nations", "Al-Shabaab",
       "Boko Haram", "the Taliban", "the police", "the army", "Reuters", "the Associated Press",
       "the World Health Organization", "Médecins Sans Frontières", "the Kurdish Workers' Party", "Hezbollah",
       "the Pakistani Taliban", "al-Qaeda", "the Defence Ministry", "the Red Cross", "Amnesty International",
       "Human Rights Watch", "the European Union", "the African Union", "NATO", "the FSB", "Interpol"]
NORP = ["Iraqi", "Shia", "Sunni", "Maoist", "Somali", "Russian", "Kurdish", "Afghan", "Christian", "Yazidi",
        "Pashtun", "Baloch", "Hausa", "Fulani", "Syrian", "Muslim", "Coptic", "Chechen", "Turkish", "Nigerian"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEAPONS = {
    "gun": ["AK-47 rifles", "assault rifles", "pistols", "a machine gun", "automatic weapons", "a shotgun",
            "sniper rifles", "Kalashnikovs"],
    "bomb": ["a car bomb", "a suicide vest", "grenades", "an improvised explosive device", "a roadside bomb",
             "rocket-propelled grenades", "mortar rounds", "a truck bomb", "explosives"],
    "blade": ["knives", "machetes", "an axe", "a sword"],
    "vehicle": ["a truck", "a van", "a stolen car"],
    "fire": ["petrol bombs", "Molotov cocktails", "gasoline"],
}
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve"]
EVENTS = {  # event type -> (weight, weapon kinds, whether people die, hostages)
    "Armed Assault": (6, ["gun", "blade"], True, False),
    "Bombing/Explosion": (7, ["bomb"], True, False),
    "Assassination": (2, ["gun", "bomb"], True, False),
    "Hijacking": (1, ["gun", "blade"], False, True),
    "Hostage Taking (Barricade Incident)": (2, ["gun", "bomb"], True, True),
    "Hostage Taking (Kidnapping)": (2, ["gun"], False, True),
    "Facility/Infrastructure Attack": (2, ["fire", "bomb"], False, False),
    "Unarmed Assault": (1, ["vehicle"], True, False),
    "Unknown": (1, ["gun", "bomb", "fire"], True, False),
    "Not an attack event": (4, [], False, False),
}
# Lead sentences by event type; {KILLED} {INJURED} {HOSTAGES} are casualty phrases.
LEADS = {
    "Armed Assault": ["Gunmen armed with {WEAPON} opened fire on worshippers at {FAC} in {GPE} {DATE}, {KILLED}, "
                      "{ORG} said.",
                      "Attackers carrying {WEAPON} stormed {FAC} in {GPE} {DATE}; {KILLED} and {INJURED}."],
    "Bombing/Explosion": ["{WEAPON_CAP} exploded near {FAC} in {GPE} {DATE}, {KILLED} and {INJURED}, "
                          "according to {ORG}.",
                          "A blast ripped through {FAC} in {GPE} {DATE}: {KILLED}, {ORG} said, after {WEAPON} "
                          "went off in the crowd."],
    "Assassination": ["{PERSON}, the {TITLE} of {GPE}, was shot dead outside {FAC} {DATE}; {KILLED}.",
                      "Gunmen with {WEAPON} killed {PERSON}, a senior {NORP} politician, in {GPE} {DATE}, "
                      "{ORG} said; {KILLED}."],
    "Hijacking": ["Armed men with {WEAPON} hijacked a bus near {GPE} {DATE} and {HOSTAGES}, {ORG} said.",
                  "A passenger plane from {GPE} was hijacked {DATE} by men carrying {WEAPON}, who {HOSTAGES}."],
    "Hostage Taking (Barricade Incident)": ["Militants with {WEAPON} seized {FAC} in {GPE} {DATE} and {HOSTAGES}; "
                                            "{KILLED} when {ORG} stormed the building.",
                                            "Gunmen {HOSTAGES} at {FAC} in {GPE} {DATE}, and {KILLED}, {ORG} "
                                            "said."],
    "Hostage Taking (Kidnapping)": ["Armed men {HOSTAGES} from a village near {GPE} {DATE}, {ORG} said.",
                                    "{ORG} said gunmen carrying {WEAPON} {HOSTAGES} on the road to {GPE} {DATE}."],
    "Facility/Infrastructure Attack": ["Attackers set fire to {FAC} in {GPE} {DATE} with {WEAPON}, {ORG} said; "
                                       "no one was hurt.",
                                       "Saboteurs damaged {FAC} near {GPE} {DATE} using {WEAPON}, cutting power to "
                                       "thousands of homes."],
    "Unarmed Assault": ["A man drove {WEAPON} into a crowd outside {FAC} in {GPE} {DATE}: {KILLED} and "
                        "{INJURED}.",
                        "A mob attacked {NORP} families in {GPE} {DATE}; {KILLED}, {ORG} said."],
    "Unknown": ["Violence broke out in {GPE} {DATE} and {KILLED}, {ORG} said, without saying who was behind it.",
                "{ORG} reported {DATE} that {KILLED} in {GPE}; the circumstances remain unclear."],
    "Not an attack event": ["{PERSON}, the {TITLE} of {GPE}, opened a new wing of {FAC} {DATE}.",
                            "Thousands gathered at {FAC} in {GPE} {DATE} for a festival organised by {ORG}.",
                            "{ORG} said {DATE} that talks with {NORP} leaders in {GPE} would resume next month."],
}
KILLED = ["killing at least {N} people", "at least {N} people were killed", "{N} people died",
          "leaving {N} dead", "the death toll rose to {N}", "killing {N}", "{N} people were killed"]
INJURED = ["wounding {N} others", "{N} others were injured", "injuring at least {N}", "{N} were wounded",
           "more than {N} people were hurt"]
HOSTAGES = ["took {N} people hostage", "held {N} hostages", "abducted {N} people", "kidnapped {N} passengers",
            "seized {N} hostages"]
BODY = [
    "{PERSON}, a {TITLE}, said {NORP} fighters had been seen near {FAC} in the days before.",
    "Witnesses told {ORG} that the attackers used {WEAPON} and fled towards {GPE}.",
    "\"We heard shouting, then the shooting started,\" said {PERSON}, who works near {FAC}.",
    "{ORG} claimed responsibility in a statement posted online {DATE}.",
    "The {NORP} community in {GPE} has been targeted before, according to {PERSON}.",
    "Officials from {ORG} and {ORG} met in {GPE} to discuss the security situation.",
    "{PERSON} condemned the attack and called for calm {DATE}.",
    "Security was tightened at {FAC} and around {GPE}, {ORG} said.",
    "{PERSON} of {ORG} said investigators were examining {WEAPON} found at the scene.",
    "A similar attack in {GPE} {DATE} was blamed on {ORG}.",
    "{NORP} and {NORP} leaders in {GPE} urged the government to act.",
    "The road between {GPE} and {GPE} was closed {DATE}.",
]
FILLER = ("the a an officials said city local residents police people attack security forces government "
          "reported on in of and to after before during near while minister spokesman statement area region "
          "border district early late morning night crowd market street witnesses emergency services "
          "hospital wounded victims investigation authorities suspects arrested motive unclear according "
          "added that was were had has been would could not yet confirmed sources told news agency "
          "television footage showed smoke rising from building damaged windows shattered roads closed "
          "families relatives waited outside for news of loved ones as ambulances came and went").split()


def _town(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()


def _date(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(2005, 2024)}"
    if kind == 1:
        return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"
    if kind == 2:
        return rng.choice(["last week", "earlier this month", "last month", "last year"])
    return rng.choice(WEEKDAYS) + rng.choice(["", "", " morning", " night", " evening"])


def _number(rng: random.Random, low: int, high: int) -> tuple[int, str]:
    n = rng.randint(low, high)
    return n, (WORDS[n] if n < len(WORDS) and rng.random() < 0.4 else str(n))


class _Writer:
    """Text with its entity spans, in code point offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[dict[str, Any]] = []

    def add(self, chunk: str, label: str | None = None) -> None:
        if label:
            self.spans.append({"start": self.length, "end": self.length + len(chunk), "label": label, "text": chunk})
        self.parts.append(chunk)
        self.length += len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


def _fill(writer: _Writer, template: str, rng: random.Random, slots: dict[str, tuple[str, str | None]],
          weapons: list[str]) -> None:
    """Writes ``template`` with its {SLOT}s filled: entities labelled, casualty phrases plain."""
    pos = 0
    while (open_ := template.find("{", pos)) >= 0:
        close = template.index("}", open_)
        writer.add(template[pos:open_])
        name = template[open_ + 1:close]
        pos = close + 1
        if name in slots:
            chunk, label = slots[name]
            writer.add(chunk, label)
        elif name == "ORG":
            org = rng.choice(ORG)
            writer.add(org[0].upper() + org[1:] if open_ == 0 else org, "ORG")  # a sentence starts upper case
        elif name == "PERSON":
            writer.add(f"{rng.choice(FIRST)} {rng.choice(LAST)}", "PERSON")
        elif name == "GPE":
            writer.add(rng.choice(GPE) if rng.random() < 0.7 else _town(rng), "GPE")
        elif name == "FAC":
            kind = rng.choice(FAC_KINDS)
            owner = rng.choice(GPE) if rng.random() < 0.5 else _town(rng)
            writer.add("the ")
            writer.add(f"{owner} {kind}" if rng.random() < 0.5 else f"{kind.title()} of {owner}", "FAC")
        elif name == "NORP":
            writer.add(rng.choice(NORP), "NORP")
        elif name == "DATE":
            date = _date(rng)
            if date[0].isdigit() or date.split()[0] in MONTHS:
                writer.add("on ")
            elif date.split()[0] in WEEKDAYS:
                writer.add("on ")
            writer.add(date, "DATE")
        elif name in ("WEAPON", "WEAPON_CAP"):
            weapon = rng.choice(weapons)
            if name == "WEAPON_CAP":
                weapon = weapon[0].upper() + weapon[1:]
            writer.add(weapon, "WEAPON")
        elif name == "TITLE":
            writer.add(rng.choice(TITLES))
        else:
            raise KeyError(name)
    writer.add(template[pos:])


def make_article(i: int, seed: int) -> tuple[str, str, dict[str, Any]]:
    """Article ``i``: (title, text of about 400 words, gold record)."""
    rng = random.Random(f"{seed}:{i}")
    event = rng.choices(list(EVENTS), weights=[w for w, *_ in EVENTS.values()])[0]
    _, kinds, deaths, hostages = EVENTS[event]
    weapons = [w for k in kinds for w in WEAPONS[k]] or [w for ws in WEAPONS.values() for w in ws]
    record: dict[str, Any] = {"event_type": event, "killed": None, "injured": None, "hostages": None}
    slots: dict[str, tuple[str, str | None]] = {}
    lead = rng.choice(LEADS[event])
    if "{KILLED}" in lead:
        n, shown = _number(rng, 1 if deaths else 0, 60)
        record["killed"] = n
        slots["KILLED"] = (rng.choice(KILLED).replace("{N}", shown), None)
    if "{INJURED}" in lead:
        n, shown = _number(rng, 2, 150)
        record["injured"] = n
        slots["INJURED"] = (rng.choice(INJURED).replace("{N}", shown), None)
    if "{HOSTAGES}" in lead:
        n, shown = _number(rng, 2, 80)
        record["hostages"] = n
        slots["HOSTAGES"] = (rng.choice(HOSTAGES).replace("{N}", shown), None)
    writer = _Writer()
    _fill(writer, lead, rng, slots, weapons)
    words = len(writer.text().split())
    target = rng.randint(340, 460)
    while words < target:
        before = writer.length
        if rng.random() < 0.55:
            sentence = " ".join(rng.choice(FILLER) for _ in range(rng.randint(8, 24)))
            writer.add(" " + sentence[0].upper() + sentence[1:] + ".")
        else:
            writer.add(" " if rng.random() < 0.8 else "\n\n")
            _fill(writer, rng.choice(BODY), rng, slots, weapons)
        words += len(writer.text()[before:].split())
    title = f"{event if event != 'Not an attack event' else 'News'} report {i}"
    record["entities"] = writer.spans
    return title, writer.text(), record


def generate(root: Path, n: int, n_gold: int, seed: int) -> dict[str, Any]:
    """A workspace at ``root`` with ``n`` articles, ``n_gold`` of them with gold labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO))
    from toolkit.agreement.gold import GoldPolicy, compute_gold, gold_table
    from toolkit.ingest import ARTICLE_SCHEMA, store
    from toolkit.scaffold import init_workspace
    from toolkit.scheme import Scheme
    from toolkit.validation.normalise import records_to_table

    ws = init_workspace(root, title="Preannotate benchmark", scheme="news-events-v1")
    scheme = Scheme.load(ws.scheme_path)
    rows, records, words, spans = [], [], 0, 0
    gold_every = max(1, n // max(1, n_gold))
    annotation_id = 1
    for i in range(n):
        title, text, record = make_article(i, seed)
        aid = hashlib.sha256(text.encode()).hexdigest()[:16]
        words += len(text.split())
        rows.append({
            "article_id": aid, "title": title, "text": text,
            "published": dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500),
            "source_url": f"https://news.example/{i}", "source_name": ["news.example", "wire.example"][i % 2],
            "language": "en", "n_chars": len(text), "n_words": len(text.split()), "format": "txt",
            "source_file": f"raw/{i}.txt", "raw_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "sources": [], "cluster_id": aid, "warnings": []})
        if i % gold_every == 0 and len(records) < 2 * n_gold:
            spans += len(record["entities"])
            for k in range(2):  # two annotators who agree: the gold rules resolve the article
                records.append({
                    "task_id": i + 1, "article_id": aid, "annotation_id": annotation_id, "annotator_id": k + 1,
                    "annotator_email": f"annotator{k}@example.org", "created_at": "2024-11-25T10:00:00+00:00",
                    "updated_at": "2024-11-25T10:00:00+00:00", "lead_time": 60.0, "was_cancelled": False,
                    "ground_truth": False, "note": None, **record})
                annotation_id += 1
    store.write_table(ws, pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA))
    pq.write_table(records_to_table(records, scheme), ws.annotations_dir / "annotations.parquet")
    gold = compute_gold(records, scheme, GoldPolicy())
    pq.write_table(gold_table(gold, scheme), ws.annotations_dir / "gold.parquet")
    return {"articles": n, "words": words, "gold_articles": len(gold),
            "gold_resolved": sum(g["status"] == "resolved" for g in gold), "gold_spans": spans,
            "articles_mib": round(sum(p.stat().st_size for p in ws.articles_path.iterdir()) / 2**20, 1)}


# ------------------------------------------------------------------------------ children

# tokenizer: spacy.blank("en") alone (the rules' floor); pipeline: the trained pipeline in
# batches of 32, as the toolkit's PipelineSource sends them; pipeline-b1000: the same with
# nlp.pipe's default batch size; pipeline-2proc: batches of 32, n_process=2; pipeline-beam:
# ner's beam search in place of its greedy parse, as sources.py runs it.
FLOOR_KINDS = ("tokenizer", "pipeline", "pipeline-b1000", "pipeline-2proc", "pipeline-beam")
BATCH = 32  # PipelineSource's batch_size


def floor(root: Path, kind: str, beam_width: int) -> dict[str, Any]:
    """One floor, timed in phases: the texts, then the pipeline over them, nothing written."""
    t0 = time.perf_counter()
    import spacy

    t1 = time.perf_counter()
    from toolkit.articles import read_articles
    from toolkit.workspace import Workspace

    texts = read_articles(Workspace(root), columns=["text"])["text"].to_pylist()
    t2 = time.perf_counter()
    if kind == "tokenizer":
        nlp = spacy.blank("en")
    else:
        model = sorted((root / "models").glob("model-*/pipeline"))[-1]
        nlp = spacy.load(model)
    t3 = time.perf_counter()
    tokens = 0
    if kind == "pipeline-beam":
        # What sources.py does per batch: the pipeline without ner, then ner's beam on fresh
        # docs, every parse of every beam read. No suggestions, no merging, no JSON.
        ner = nlp.get_pipe("ner")
        for start in range(0, len(texts), BATCH):
            batch = texts[start:start + BATCH]
            docs = list(nlp.pipe(batch, disable=["ner"]))
            beams = ner.beam_parse([nlp.make_doc(t) for t in batch], beam_width=beam_width, beam_density=0.0001)
            for beam in beams:
                for _probability, _entities in ner.moves.get_beam_parses(beam):
                    pass
            tokens += sum(len(d) for d in docs)
    else:
        batch_size = {"pipeline-b1000": 1000}.get(kind, BATCH)
        for doc in nlp.pipe(texts, batch_size=batch_size, n_process=2 if kind == "pipeline-2proc" else 1):
            tokens += len(doc)
    t4 = time.perf_counter()
    return {"kind": kind, "texts": len(texts), "tokens": tokens, "pipes": nlp.pipe_names,
            "import_s": round(t1 - t0, 3), "read_s": round(t2 - t1, 3), "load_s": round(t3 - t2, 3),
            "pipe_s": round(t4 - t3, 3)}


def spin(seconds: float) -> dict[str, Any]:
    """Pure-Python work for about ``seconds`` on an idle core: the number of loops done."""
    loops, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        total = 0
        for i in range(10_000):
            total += i * i
        loops += 1
    return {"loops": loops, "seconds": round(time.perf_counter() - started, 3)}


def parallel_probe(python: str, me: str, seconds: float = 5.0) -> dict[str, Any]:
    """How much a second process gets from this machine: loops done by one process alone,
    then by each of two at once. ``speedup`` 2.0 is two whole cores; less is a shared host
    (or someone else's work) taking part of the second one."""
    def start() -> subprocess.Popen:
        return subprocess.Popen([python, me, "_child", "spin", str(seconds)], stdout=subprocess.PIPE, text=True)

    alone = json.loads(start().communicate()[0])["loops"]
    pair = [start(), start()]
    together = [json.loads(p.communicate()[0])["loops"] for p in pair]
    return {"alone_loops": alone, "pair_loops": together, "speedup": round(sum(together) / alone, 2)}


def run_cli_with_beam(width: int, argv: list[str]) -> int:
    """``toolkit <argv>`` with ``sources.BEAM_WIDTH`` set (the module global is read per batch)."""
    from toolkit.preannotate import sources

    sources.BEAM_WIDTH = width
    from toolkit.cli import main as cli_main

    sys.argv = ["toolkit", *argv]
    return cli_main()


# ------------------------------------------------------------------------------ measuring


def _busy_s() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, cores: float = 0.3, window_s: float = 3.0) -> float:
    """Waits (at most ``limit_s``) until the machine's other work uses under ``cores`` cores
    over ``window_s``; returns the seconds waited. Other people's jobs on a shared machine
    would otherwise take the second core from a ``--jobs 2`` run."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        busy0 = _busy_s()
        time.sleep(window_s)
        if (_busy_s() - busy0) / window_s < cores:
            break
    return round(time.perf_counter() - started, 1)


def measure(name: str, argv: list[str], cwd: Path, log_dir: Path) -> dict[str, Any]:
    """Runs ``argv`` (cwd ``cwd``), its stdout and stderr to files; wall time, CPU time and memory.

    ``other_cpu_s`` is the CPU time the machine spent on anything else meanwhile (other
    users' processes, this script's sampler): on a shared 2-core machine, a run with
    ``--jobs 2`` only gets both cores when it is near zero."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "1"}
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        load = os.getloadavg()[0]
        busy0 = _busy_s()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        busy = _busy_s() - busy0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so that Popen does not wait
        sampler.stopping.set()
        sampler.join()
    main_hwm = sampler.hwm.get(proc.pid, 0)
    workers = [v for pid, v in sampler.hwm.items() if pid != proc.pid]
    result = {
        "name": name, "argv": argv, "returncode": proc.returncode, "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "other_cpu_s": round(max(0.0, busy - usage.ru_utime - usage.ru_stime), 1), "loadavg_before": load,
        "peak_rss_sum_mib": round(sampler.peak_rss_sum / 1024), "peak_pss_sum_mib": round(sampler.peak_pss_sum / 1024),
        "main_hwm_mib": round(main_hwm / 1024), "worker_hwm_mib": [round(v / 1024) for v in workers],
        # each process's own CPU seconds, read up to 50 ms before it ended: the main process's
        # share shows whether it (reading, pickling, writing JSON) holds the workers back
        "main_cpu_s": round(sampler.cpu.get(proc.pid, 0.0), 1),
        "worker_cpu_s": [round(v, 1) for pid, v in sampler.cpu.items() if pid != proc.pid],
        "ru_maxrss_mib": round(usage.ru_maxrss / 1024), "processes": sampler.max_processes,
        "samples": sampler.samples,
    }
    text = stdout_path.read_text(encoding="utf-8", errors="replace").strip()
    try:
        result["output"] = json.loads(text[text.index("{"):]) if "{" in text else None
    except ValueError:
        result["output"] = None
    if proc.returncode != 0:
        result["stderr_tail"] = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    return result


# ------------------------------------------------------------------------------ comparing


def _spans_and_values(path: Path) -> tuple[set[tuple[str, int, int, str]], dict[str, Any], int]:
    spans, values, lines = set(), {}, 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            lines += 1
            pred = json.loads(line)
            for item in pred["result"]:
                if item["type"] == "labels":
                    v = item["value"]
                    spans.add((pred["article_id"], v["start"], v["end"], v["labels"][0]))
                elif item["from_name"] == "event_type":
                    values[pred["article_id"]] = item["value"]["choices"][0]
    return spans, values, lines


def compare_predictions(a: Path, b: Path) -> dict[str, Any]:
    """How far two prediction files agree: shared spans (exact), event types."""
    spans_a, values_a, lines_a = _spans_and_values(a)
    spans_b, values_b, lines_b = _spans_and_values(b)
    same = len(spans_a & spans_b)
    both = set(values_a) & set(values_b)
    return {"a": a.name, "b": b.name, "lines": [lines_a, lines_b], "spans": [len(spans_a), len(spans_b)],
            "spans_shared": same, "spans_jaccard": round(same / max(1, len(spans_a | spans_b)), 4),
            "event_type_same": sum(values_a[k] == values_b[k] for k in both), "event_type_both": len(both)}


# ------------------------------------------------------------------------------ the run


def _predictions_file(ws: Path, result: dict[str, Any]) -> Path | None:
    output = result.get("output") or {}
    return ws / output["path"] if output.get("path") else None


def _headline(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    """Entities micro F1 (overlap, exact) and event type accuracy of an evaluate report."""
    if not figures:
        return None
    fields = figures.get("fields", {})
    spans = next((v for v in fields.values() if v.get("kind") == "spans"), {})
    choice = next((v for v in fields.values() if v.get("kind") == "choice"), {})
    return {"entities_f1_overlap": (spans.get("micro") or {}).get("overlap", {}).get("f1"),
            "entities_f1_exact": (spans.get("micro") or {}).get("exact", {}).get("f1"),
            "event_type_accuracy": choice.get("accuracy"), "n_articles": figures.get("n_articles")}


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs, with the range of wall times and the highest memory."""
    ok = [r for r in runs if r["returncode"] == 0] or runs
    best = dict(min(ok, key=lambda r: r["wall_s"]))
    best["wall_range_s"] = [min(r["wall_s"] for r in ok), max(r["wall_s"] for r in ok)]
    for key in ("peak_pss_sum_mib", "peak_rss_sum_mib", "main_hwm_mib", "ru_maxrss_mib"):
        best[key] = max(r[key] for r in ok)
    best["repeats"] = len(runs)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 articles (overrides --articles)")
    parser.add_argument("--gold", type=int, default=400, help="articles with gold labels (default 400)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--spans", choices=("spancat", "ner"), default="spancat",
                        help="`toolkit train --spans`: spancat (the toolkit's default) or ner (scored by the beam "
                             "search; needed for the pipeline-beam floor and --beam-widths)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--kinds", default="rules,model,both", help="comma-separated: rules, model, both")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--floors", default=",".join(FLOOR_KINDS), help="comma-separated: " + ", ".join(FLOOR_KINDS))
    parser.add_argument("--beam-widths", default="", help="also run the model alone (--jobs 1) with these "
                        "BEAM_WIDTHs, monkeypatched, and compare their suggestions with the default's (e.g. 1,4)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each command and floor (best kept)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each timed run, wait up to SECONDS for the machine's other work to use "
                             "under 0.3 cores (shared machines)")
    parser.add_argument("--no-fixed", action="store_true", help="skip the --limit 1 runs (fixed cost)")
    parser.add_argument("--workdir", type=Path, default=None, help="the workspace (default bench/out/preannotate-ws-N)")
    parser.add_argument("--retrain", action="store_true", help="train again even if the kept workspace has a model")
    parser.add_argument("--name", default=None, help="outputs bench/out/<name>.json, .md and <name>-logs/ "
                        "(default preannotate-N)")
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    args = parser.parse_args(argv)
    n = 1000 if args.quick else args.articles
    python = args.python
    toolkit = str(Path(python).parent / "toolkit")
    OUT.mkdir(parents=True, exist_ok=True)
    ws = (args.workdir or OUT / f"preannotate-ws-{n}-{args.spans}").resolve()
    out_name = args.name or f"preannotate-{n}"
    logs = OUT / f"{out_name}-logs"
    me = str(Path(__file__).resolve())
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "date": dt.date.today().isoformat(), "argv": sys.argv[1:] if argv is None else argv,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "articles": n, "spans": args.spans, "workspace": str(ws)}

    # 1. The workspace, kept between runs with the same settings.
    marker = ws / f".bench-{GENERATOR_VERSION}-{n}-{args.gold}-{args.seed}.json"
    if marker.is_file():
        summary["data"] = json.loads(marker.read_text())
        print(f"reusing {ws}", flush=True)
    else:
        shutil.rmtree(ws, ignore_errors=True)
        gen = measure("generate", [python, me, "_child", "generate", str(ws), str(n), str(args.gold), str(args.seed)],
                      REPO, logs)
        if gen["returncode"] != 0:
            print(gen.get("stderr_tail"), file=sys.stderr)
            return 1
        summary["data"] = {**gen["output"], "generate_s": gen["wall_s"]}
        marker.write_text(json.dumps(summary["data"]))
    print(f"data: {summary['data']}", flush=True)

    # 2. Training, once per workspace.
    kept_train = ws / ".bench-train.json"
    kept = json.loads(kept_train.read_text()) if kept_train.is_file() else {}
    if (args.retrain or kept.get("spans") != args.spans or kept.get("epochs") != args.epochs
            or not any((ws / "models").glob("model-*/model.json"))):
        shutil.rmtree(ws / "models", ignore_errors=True)
        train = measure("train", [toolkit, "train", "--spans", args.spans, "--epochs", str(args.epochs), "--json"],
                        ws, logs)
        if train["returncode"] != 0:
            print(train.get("stderr_tail"), file=sys.stderr)
            return 1
        out = train["output"] or {}
        summary["train"] = {key: train[key] for key in ("wall_s", "cpu_s", "other_cpu_s", "main_hwm_mib")}
        summary["train"].update({"spans": args.spans, "epochs": args.epochs, "n_train": out.get("n_train"),
                                 "n_validation": out.get("n_validation"), "dropped_spans": out.get("dropped_spans"),
                                 "figures": _headline(out.get("figures"))})
        kept_train.write_text(json.dumps(summary["train"]))
    else:
        summary["train"] = {**kept, "reused": True}
        meta = sorted((ws / "models").glob("model-*/model.json"))[-1]
        summary["train"]["figures"] = _headline(json.loads(meta.read_text()).get("figures"))
    print(f"train: {summary['train']}", flush=True)
    probe = subprocess.run([python, "-c", "from toolkit.preannotate.sources import BEAM_WIDTH; print(BEAM_WIDTH)"],
                           cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    beam_width = int(probe.stdout.strip()) if probe.returncode == 0 else 8
    summary["beam_width_default"] = beam_width

    # 3. Floors, then the commands; every one in its own process.
    results: dict[str, dict[str, Any]] = {}

    def run(name: str, argv_: list[str], cwd: Path, repeat: int = args.repeat) -> dict[str, Any]:
        runs = []
        for i in range(repeat):
            print(f"-> {name}{f' ({i + 1}/{repeat})' if repeat > 1 else ''}: {' '.join(argv_[1:])}", flush=True)
            waited = wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
            result = measure(name, argv_, cwd, logs)
            result["waited_s"] = waited
            shown = {k: result[k] for k in ("waited_s", "wall_s", "cpu_s", "other_cpu_s", "peak_pss_sum_mib", "peak_rss_sum_mib",
                                            "main_hwm_mib", "worker_hwm_mib", "main_cpu_s", "worker_cpu_s",
                                            "returncode")}
            print(f"   {shown}", flush=True)
            if result["returncode"] != 0:
                print("   " + result.get("stderr_tail", "").strip().replace("\n", "\n   "), flush=True)
            runs.append(result)
        results[name] = _best(runs)
        return results[name]

    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    summary["parallel_probe"] = parallel_probe(python, me)
    print(f"parallel probe: {summary['parallel_probe']}", flush=True)
    floors = [f for f in args.floors.split(",") if f]
    widths = [int(w) for w in args.beam_widths.split(",") if w]
    if args.spans != "ner" and ("pipeline-beam" in floors or widths):
        print("note: the beam search scores ner's spans only: pipeline-beam and --beam-widths need --spans ner",
              flush=True)
        floors, widths = [f for f in floors if f != "pipeline-beam"], []
    for kind in floors:
        run(f"floor-{kind}", [python, me, "_child", "floor", str(ws), kind, str(beam_width)], REPO)
    flags = {"rules": ["--model", "none"], "model": ["--no-rules"], "both": []}
    jobs = [int(j) for j in args.jobs.split(",") if j]
    saved: dict[str, Path] = {}
    for kind in [k for k in args.kinds.split(",") if k]:
        if not args.no_fixed:
            run(f"{kind}-fixed", [toolkit, "preannotate", *flags[kind], "--limit", "1", "--json"], ws)
        for j in jobs:
            result = run(f"{kind}-j{j}", [toolkit, "preannotate", *flags[kind], "--jobs", str(j), "--json"], ws)
            path = _predictions_file(ws, result)
            if path is not None and path.is_file() and kind not in saved:
                saved[kind] = logs / f"predictions-{kind}.jsonl"
                shutil.copyfile(path, saved[kind])
    for width in widths:
        result = run(f"model-beam{width}-j1", [python, me, "_child", "beam", str(width), "preannotate", "--no-rules",
                                               "--jobs", "1", "--json"], ws)
        path = _predictions_file(ws, result)
        if path is not None and path.is_file():
            saved[f"beam{width}"] = logs / f"predictions-beam{width}.jsonl"
            shutil.copyfile(path, saved[f"beam{width}"])
    summary["runs"] = results

    # 4. Ratios, comparisons, tables.
    def ok(name: str) -> dict[str, Any] | None:
        r = results.get(name)
        return r if r and r["returncode"] == 0 else None

    rows = []
    for name, result in results.items():
        if name.startswith("floor-") or name.endswith("-fixed"):
            continue
        kind = name.split("-")[0]
        floor_name = "floor-tokenizer" if kind == "rules" else "floor-pipeline"
        row = {"name": name, "floor": floor_name, "wall_s": result["wall_s"], "cpu_s": result["cpu_s"],
               "other_cpu_s": result["other_cpu_s"],
               "articles_per_s": round(n / result["wall_s"], 1) if result["returncode"] == 0 else None,
               "peak_pss_sum_mib": result["peak_pss_sum_mib"], "peak_rss_sum_mib": result["peak_rss_sum_mib"],
               "main_hwm_mib": result["main_hwm_mib"], "worker_hwm_mib": result["worker_hwm_mib"],
               "main_cpu_s": result.get("main_cpu_s"), "worker_cpu_s": result.get("worker_cpu_s", []),
               "returncode": result["returncode"]}
        base, fixed = ok(floor_name), ok(f"{kind}-fixed")
        if base is not None:
            row["ratio_floor"] = round(result["wall_s"] / base["wall_s"], 2)
            # CPU seconds are less disturbed than wall time by other work on a shared machine.
            row["ratio_floor_cpu"] = round(result["cpu_s"] / base["cpu_s"], 2) if base["cpu_s"] else None
            pipe_s = (base.get("output") or {}).get("pipe_s")
            if fixed is not None and pipe_s:
                # The work per article alone: the command less its own fixed cost, against the floor's pipe.
                row["ratio_floor_work"] = round(max(0.0, result["wall_s"] - fixed["wall_s"]) / pipe_s, 2)
        if kind in ("model", "both") and name.endswith("-j2") and ok("floor-pipeline-2proc"):
            row["ratio_floor_2proc"] = round(result["wall_s"] / results["floor-pipeline-2proc"]["wall_s"], 2)
        rows.append(row)
    summary["rows"] = rows
    comparisons = [compare_predictions(saved["model"], p) for k, p in saved.items()
                   if k.startswith("beam") and "model" in saved]
    if "rules" in saved and "model" in saved:
        comparisons.append(compare_predictions(saved["rules"], saved["model"]))
    summary["comparisons"] = comparisons
    summary["whole_run_s"] = round(time.perf_counter() - started, 1)
    markdown = to_markdown(summary, results)
    (OUT / f"{out_name}.json").write_text(json.dumps(summary, indent=2, default=str))
    (OUT / f"{out_name}.md").write_text(markdown)
    print(markdown)
    print(f"\nwrote {OUT / f'{out_name}.json'} and .md", flush=True)
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


def _mib(values: list[int]) -> str:
    return " + ".join(str(v) for v in values)


def to_markdown(summary: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    n = summary["articles"]
    data = summary["data"]
    parts = [f"`--spans {summary.get('spans')}`; {n:,} articles, {data.get('words'):,} words ({data.get('articles_mib')} MiB of Parquet), "
             f"{data.get('gold_resolved')} with gold; BEAM_WIDTH {summary['beam_width_default']}; "
             f"{summary['machine']['cores']} cores, Python {summary['machine']['python']}; "
             f"whole run {summary['whole_run_s']} s.", ""]
    probe = summary.get("parallel_probe")
    if probe:
        parts += [f"Parallel probe (pure-Python loop, 5 s): two processes at once did {probe['speedup']}x "
                  "the work of one alone (2.0 = two whole cores).", ""]
    train = summary.get("train") or {}
    if "wall_s" in train:
        figures = train.get("figures") or {}
        parts += [f"Training (`toolkit train --spans {train.get('spans')} --epochs {train.get('epochs')}`"
                  + (", kept from an earlier run" if train.get("reused") else "") + f"): {train['wall_s']} s wall, "
                  f"{train['cpu_s']} s CPU, peak {train['main_hwm_mib']} MiB; {train.get('n_train')} train / "
                  f"{train.get('n_validation')} validation articles; validation entities F1 (overlap) "
                  f"{figures.get('entities_f1_overlap')}, exact {figures.get('entities_f1_exact')}, event type "
                  f"accuracy {figures.get('event_type_accuracy')}.", ""]
    floor_rows = []
    for name, r in results.items():
        if name.startswith("floor-"):
            o = r.get("output") or {}
            floor_rows.append([name, r["wall_s"], o.get("pipe_s"), o.get("load_s"), r["cpu_s"], r["other_cpu_s"],
                               round(n / o["pipe_s"], 1) if o.get("pipe_s") else None, r["peak_pss_sum_mib"],
                               r["peak_rss_sum_mib"], _mib([r["main_hwm_mib"], *r["worker_hwm_mib"]])])
    parts += ["Floors:", "", md_table(["floor", "wall s", "pipe s", "load s", "CPU s", "other CPU s",
                                       "articles/s (pipe)", "peak PSS sum MiB", "peak RSS sum MiB",
                                       "VmHWM MiB (main + workers)"], floor_rows), ""]
    fixed = [[name, r["wall_s"], r["cpu_s"], r["other_cpu_s"], r["main_hwm_mib"]] for name, r in results.items()
             if name.endswith("-fixed")]
    if fixed:
        parts += ["Fixed cost (`--limit 1`: imports, sources loaded, one article):", "",
                  md_table(["run", "wall s", "CPU s", "other CPU s", "VmHWM MiB"], fixed), ""]
    rows = [[r["name"], r["floor"], r["wall_s"], r["cpu_s"],
             _mib([r["main_cpu_s"], *r["worker_cpu_s"]]) if r.get("main_cpu_s") is not None else "", r["other_cpu_s"],
             r["articles_per_s"],
             r.get("ratio_floor"), r.get("ratio_floor_cpu"), r.get("ratio_floor_work"), r.get("ratio_floor_2proc"),
             r["peak_pss_sum_mib"],
             r["peak_rss_sum_mib"], _mib([r["main_hwm_mib"], *r["worker_hwm_mib"]]), r["returncode"]]
            for r in summary["rows"]]
    parts += ["Commands:", "", md_table(["run", "floor", "wall s", "CPU s", "CPU s (main + workers)", "other CPU s",
                                         "articles/s",
                                         "wall / floor wall", "CPU / floor CPU", "(wall - fixed) / floor pipe",
                                         "wall / 2-proc floor",
                                         "peak PSS sum MiB", "peak RSS sum MiB", "VmHWM MiB (main + workers)",
                                         "exit"], rows), ""]
    if summary.get("comparisons"):
        parts += ["Suggestions compared (exact spans; event type where both give one):", "", md_table(
            ["a", "b", "lines", "spans", "spans shared", "Jaccard", "same event type"],
            [[c["a"], c["b"], _mib(c["lines"]), _mib(c["spans"]), c["spans_shared"], c["spans_jaccard"],
              f"{c['event_type_same']}/{c['event_type_both']}"] for c in summary["comparisons"]]), ""]
    return "\n".join(parts)


def child(argv: list[str]) -> int:
    what = argv[0]
    if what == "generate":
        print(json.dumps(generate(Path(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]))))
        return 0
    if what == "floor":
        print(json.dumps(floor(Path(argv[1]), argv[2], int(argv[3]))))
        return 0
    if what == "spin":
        print(json.dumps(spin(float(argv[1]))))
        return 0
    if what == "beam":
        return run_cli_with_beam(int(argv[1]), argv[2:]) or 0
    raise SystemExit(f"unknown child {what!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
