"""Pull benchmark: ``toolkit.labelstudio.pull.pull()`` against the SDK's whole-project export, on a real server.

    PYTHONPATH=. python bench/pull_bench.py [--tasks N] [--repeat N] [--chunk N] [--only KINDS]
                                            [--code-at REV] [--profile] [--json OUT]

1. Starts a real Label Studio server from the toolkit's server environment (``toolkit studio
   setup``) with its own data folder in a temporary directory, on a free loopback port, with a
   known admin token (``toolkit.labelstudio.studio``: ``launch_server``, ``wait_until_healthy``).
2. Builds a project of N tasks in the workspace scheme's labeling config: synthetic
   news-article texts of about 400 words (random, seeded, so every run builds the same
   project), ``data.article_id`` of 16 hex digits, two annotations per task (the admin and a
   second user), each with 15 entity spans at valid offsets, one ``event_type`` choice
   and a ``killed`` number. Tasks are imported with their annotations, 2,000 per request.
3. Measures, each run in its own subprocess (so the peak RSS, Linux ``VmHWM``, is that run's
   own; ``ru_maxrss`` of children would be the largest child's, not each one's):
   * ``pull``: ``toolkit.labelstudio.pull.pull()`` end to end into a fresh workspace pointed at the server
     (``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``): chunked reading with its checkpoint,
     the gzip snapshot, normalising, validating and the Parquet files. The run also records
     how long each phase took (the functions are wrapped, not changed);
   * ``sdk-export``: ``LabelStudio(base_url, api_key).projects.exports.as_json(id)`` of
     label-studio-sdk, which on the community edition downloads
     ``/api/projects/{id}/export?exportType=JSON&download_all_tasks=true`` into memory and
     returns it parsed (a list of task dicts): timed until that list is there;
   * ``read-only``: the reading part of pull alone: the same chunked
     ``/api/projects/{id}/export?ids[]=...`` requests, parsed, nothing kept or written;
   * ``read-ahead`` (only with ``--only``): the same requests with two in flight, the next
     sent while the answer to the last is read. It was slower than one at a time (the server's
     threads share one interpreter), so pull reads one chunk at a time.
   The kinds are interleaved and their order rotates between rounds. Bytes are counted as
   received on the wire (httpx ``num_bytes_downloaded`` of every response).
   ``--code-at REV`` measures the toolkit of that commit (extracted into the temporary folder)
   rather than the working tree, which others may be editing meanwhile.
4. Prints a Markdown table (median, range, tasks/s, MB, peak RSS) and the ratios; ``--profile``
   adds a cProfile of one extra, untimed pull run. The server is stopped and the temporary
   folder removed at the end, also on an error or Ctrl-C.

Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
# --code-at REV: the measured runs import the toolkit from an extracted copy of that commit.
CODE = Path(os.environ.get("PULL_BENCH_CODE") or REPO)
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

KINDS = ("pull", "sdk-export", "read-only", "read-ahead")
DEFAULT_KINDS = ("pull", "sdk-export", "read-only")  # read-ahead: asked for by name (BENCHMARKS.md, "Pull")
IMPORT_BATCH = 2000
RESULT_MARK = "PULL-BENCH-RESULT "


# Helpers -----------------------------------------------------------------------------------

def proc_status_mib(key: str) -> float:
    """A memory figure of this process from /proc/self/status (VmHWM: peak RSS), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def count_http_bytes() -> dict[str, int]:
    """Patch httpx so that every response adds its wire bytes to the returned counter."""
    import httpx

    counter = {"bytes": 0, "responses": 0, "encoded": 0}
    original = httpx.Response.close

    def close(self: httpx.Response) -> None:
        if not self.is_closed:
            counter["bytes"] += self.num_bytes_downloaded
            counter["responses"] += 1
            counter["encoded"] += bool(self.headers.get("content-encoding"))
        original(self)

    httpx.Response.close = close  # type: ignore[method-assign]
    return counter


# Synthetic articles and annotations --------------------------------------------------------

FIRST = ["Ahmed", "Maria", "John", "Fatima", "Sergei", "Aisha", "David", "Li", "Omar", "Elena", "Kwame",
         "Priya", "Hassan", "Ana", "Yusuf", "Irina", "Samuel", "Leila", "Pedro", "Nadia"]
LAST = ["Khan", "Petrov", "Smith", "Haddad", "Okafor", "Rahman", "Garcia", "Ivanova", "Mensah", "Sharma",
        "Ali", "Novak", "Torres", "Hussein", "Kim", "Mwangi", "Dubois", "Yilmaz", "Costa", "Nasser"]
ORGS = ["Islamic State", "the Interior Ministry", "the Red Crescent", "the United Nations", "Al-Shabaab",
        "Boko Haram", "the Federal Security Service", "the National Police", "Human Rights Watch",
        "the Taliban", "Amnesty International", "the Defence Ministry", "Reuters", "the army",
        "the Kurdistan Workers' Party", "Hezbollah", "the African Union", "Interpol"]
GPES = ["Volgograd", "Kabul", "Baghdad", "Mogadishu", "Lagos", "Nairobi", "Peshawar", "Aleppo", "Mosul",
        "Karachi", "Russia", "Nigeria", "Somalia", "Afghanistan", "Iraq", "Syria", "Kenya", "Pakistan",
        "Maiduguri", "Quetta", "Istanbul", "Yemen", "Mali", "Gao"]
FACS = ["the central market", "Kabul airport", "the Serena Hotel", "the Al-Nuri mosque", "Westgate mall",
        "Penal Colony No. 19", "the main bus station", "the Grand Bridge", "the city hospital",
        "the police headquarters", "Liberation Square", "the northern highway", "St Mark's Cathedral"]
NORPS = ["Iraqi", "Shia", "Sunni", "Maoist", "Somali", "Russian", "Kurdish", "Afghan", "Christian",
         "Muslim", "Pashtun", "Nigerian", "Syrian", "Chechen"]
DATES = ["Tuesday", "Monday morning", "last week", "3 May 2014", "Friday", "Sunday night", "earlier this month",
         "12 June", "Wednesday evening", "two days ago", "2013", "Thursday", "last year", "Saturday afternoon"]
WEAPONS = ["AK-47 rifles", "a car bomb", "a suicide vest", "knives", "grenades", "an improvised explosive device",
           "rocket-propelled grenades", "pistols", "a truck", "mortar shells", "machetes", "a roadside bomb"]
POOLS = {"PERSON": None, "ORG": ORGS, "GPE": GPES, "FAC": FACS, "NORP": NORPS, "DATE": DATES,
         "WEAPON": WEAPONS}

TEMPLATES = [
    "Attackers armed with {WEAPON} stormed {FAC} in {GPE} on {DATE}, officials said.",
    "{PERSON}, a spokesman for {ORG}, told reporters that the situation was under control.",
    "According to {ORG}, at least {n} people were killed and many more were wounded.",
    "{ORG} said in a statement that it had claimed responsibility for the attack on {DATE}.",
    "Witnesses near {FAC} described hearing gunfire and at least one loud explosion.",
    "{PERSON} said the {NORP} community in {GPE} had been targeted several times before.",
    "Security forces sealed off the area around {FAC} while {ORG} searched nearby buildings.",
    "The governor of {GPE}, {PERSON}, condemned what he called a cowardly act.",
    "Police found {WEAPON} and ammunition in a car abandoned outside {FAC}.",
    "{NORP} leaders in {GPE} called for calm and urged people to stay at home.",
    "It was the deadliest attack in {GPE} since {DATE}, when {WEAPON} killed dozens of people.",
    "{PERSON} of {ORG} said investigators were examining footage from cameras near {FAC}.",
]

FILLER = ("the a an officials said city local residents police people attack security forces government "
          "reported area near after during its their were was had been would could not many several "
          "other early later night morning day week since investigation statement region border town "
          "village children women men hospital wounded injured dead killed victims witnesses gunmen "
          "militants soldiers troops authorities minister president spokesman group groups fighting "
          "violence clashes conflict crisis warned told reporters added according sources condition "
          "anonymity response emergency services scene roads closed checkpoint vehicles building "
          "buildings houses market shops damage fire smoke explosion blast gunfire").split()


def _filler_sentence(rng: random.Random) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(10, 22))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _entity(rng: random.Random, label: str) -> str:
    if label == "PERSON":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return rng.choice(POOLS[label])


def synthetic_task(seed: int, index: int, target_words: int = 400, target_spans: int = 17) -> dict[str, Any]:
    """One article (text, title, article_id ...) and the entity mentions in it, as (start, end, label).

    Entity sentences (with their mentions) and filler sentences are mixed until the text has
    about ``target_words`` words and ``target_spans`` mentions. Same seed and index, same task.
    """
    rng = random.Random(f"{seed}:{index}")
    sentences: list[list[tuple[str, str | None]]] = []  # pieces: (text, label or None)
    spans = words = 0
    while words < target_words or spans < target_spans:
        if spans < target_spans and (rng.random() < 0.55 or words >= target_words):
            template = rng.choice(TEMPLATES)
            pieces: list[tuple[str, str | None]] = []
            rest = template.replace("{n}", str(rng.randint(2, 40)))
            while "{" in rest:
                before, _, after = rest.partition("{")
                label, _, rest = after.partition("}")
                pieces += [(before, None), (_entity(rng, label), label)]
                spans += 1
            pieces.append((rest, None))
        else:
            pieces = [(_filler_sentence(rng), None)]
        words += sum(len(text.split()) for text, _ in pieces)
        sentences.append(pieces)
    text, mentions, para = "", [], 0
    for number, pieces in enumerate(sentences):
        if number:
            para += 1
            text += "\n\n" if para % rng.randint(3, 5) == 0 else " "
        for piece, label in pieces:
            if label is not None:
                mentions.append((len(text), len(text) + len(piece), label))
            text += piece
    article_id = hashlib.sha256(f"{seed}:{index}:{text}".encode()).hexdigest()[:16]
    published = dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(3650))
    return {"data": {"text": text, "title": f"{_entity(rng, 'GPE')} attack: {rng.randint(2, 40)} dead",
                     "article_id": article_id, "published": published.isoformat(),
                     "source_url": f"https://news.example.org/{published.year}/{article_id}"},
            "mentions": mentions, "rng": rng}


EVENT_TYPES = ["Assassination", "Armed Assault", "Bombing/Explosion", "Hijacking",
               "Hostage Taking (Barricade Incident)", "Hostage Taking (Kidnapping)",
               "Facility/Infrastructure Attack", "Unarmed Assault", "Unknown", "Not an attack event"]
LABELS = ["PERSON", "ORG", "GPE", "FAC", "NORP", "DATE", "WEAPON"]


def _result(text: str, mentions: list[tuple[int, int, str]], event: str, killed: int,
            rng: random.Random) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for start, end, label in mentions:
        result.append({"id": f"r{rng.getrandbits(40):010x}",
                       "from_name": "entities", "to_name": "text", "type": "labels", "origin": "manual",
                       "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}})
    result.append({"id": f"r{rng.getrandbits(40):010x}", "from_name": "event_type", "to_name": "text",
                   "type": "choices", "origin": "manual", "value": {"choices": [event]}})
    result.append({"id": f"r{rng.getrandbits(40):010x}", "from_name": "killed", "to_name": "text",
                   "type": "number", "origin": "manual", "value": {"number": killed}})
    return result


def build_task(seed: int, index: int, annotators: tuple[int, int]) -> dict[str, Any]:
    """A task to import with two annotations that mostly agree (about 15 spans each)."""
    made = synthetic_task(seed, index)
    rng, text, mentions = made["rng"], made["data"]["text"], made["mentions"]
    event, killed = rng.choice(EVENT_TYPES[:8]), rng.randint(0, 40)
    annotations = []
    for who, user in enumerate(annotators):
        chosen = sorted(rng.sample(mentions, min(len(mentions), 15)))
        if who == 1 and chosen and rng.random() < 0.3:  # the second annotator disagrees now and then
            start, end, _label = chosen[rng.randrange(len(chosen))]
            chosen = [(s, e, rng.choice(LABELS)) if (s, e) == (start, end) else (s, e, lab) for s, e, lab in chosen]
        annotations.append({
            "result": _result(text, chosen, event if who == 0 or rng.random() < 0.9 else rng.choice(EVENT_TYPES),
                              killed if who == 0 or rng.random() < 0.85 else killed + 1, rng),
            "completed_by": user, "lead_time": round(rng.uniform(40, 600), 1)})
    return {"data": made["data"], "annotations": annotations}


# The server and the project ----------------------------------------------------------------

class Server:
    def __init__(self, base: Path) -> None:
        from toolkit.labelstudio.studio import free_port, launch_server, new_token, setup_server_env, wait_until_healthy

        env_dir = setup_server_env(log=lambda msg: print(f"  setting up the server environment: {msg}",
                                                         flush=True))
        self.exe = env_dir / "bin" / "label-studio"
        self.log = base / "server.log"
        self.token, self.email = new_token(), "bench-admin@example.org"
        port = free_port()
        self.process = launch_server(base / "server-data", port, email=self.email,
                                     password=secrets.token_urlsafe(12), token=self.token,
                                     log_path=self.log, executable=self.exe)
        try:
            self.url = wait_until_healthy(f"http://127.0.0.1:{port}", process=self.process, log_path=self.log)
        except BaseException:
            self.stop()
            raise

    def version(self) -> str:
        import httpx

        with contextlib.suppress(Exception):
            info = httpx.get(f"{self.url}/api/version", headers={"Authorization": f"Token {self.token}"},
                             timeout=10).json()
            return str(info.get("release") or info.get("label-studio-os-package", {}).get("version"))
        return "?"

    def stop(self) -> None:
        from toolkit.labelstudio.studio import stop_process

        stop_process(self.process.pid)


def build_project(server: Server, n_tasks: int, seed: int, batch: int) -> dict[str, Any]:
    from toolkit.labelstudio import Connection, LabelStudioClient

    label_config = (REPO / "schemas" / "labeling_config.xml").read_text(encoding="utf-8")
    title = f"Pull bench {n_tasks} tasks seed {seed}"
    with LabelStudioClient(Connection(server.url, server.token, embedded=False), timeout=600) as client:
        admin = int(client.whoami()["id"])
        second = int(client.sdk.users.create(username="bench-annotator", email="bench-annotator@example.org",
                                              password=secrets.token_urlsafe(12)).id)
        project_id = client.create_project(title, label_config)
        started = time.perf_counter()
        sent = 0
        tasks_created = annotations_created = 0
        for first in range(0, n_tasks, batch):
            tasks = [build_task(seed, i, (admin, second)) for i in range(first, min(first + batch, n_tasks))]
            body = json.dumps(tasks).encode()
            sent += len(body)
            response = client.http.post(f"/api/projects/{project_id}/import", content=body,
                                        headers={"Content-Type": "application/json"}, timeout=600)
            response.raise_for_status()
            answer = response.json()
            tasks_created += int(answer.get("task_count", 0))
            annotations_created += int(answer.get("annotation_count", 0))
            print(f"  imported {tasks_created}/{n_tasks} tasks", flush=True)
        seconds = time.perf_counter() - started
        total, _low, _high = client.task_bounds(project_id)
    if total != n_tasks or tasks_created != n_tasks:
        raise RuntimeError(f"the project has {total} tasks ({tasks_created} created), expected {n_tasks}")
    return {"id": project_id, "title": title, "tasks": total, "annotations": annotations_created,
            "import_seconds": seconds, "import_mb": sent / 1e6, "annotators": [admin, second]}


def make_workspace_template(folder: Path, server: Server, project: dict[str, Any]) -> Path:
    """A workspace made by ``init_workspace`` whose title is the project's, with the project id stored."""
    from toolkit.labelstudio import Connection
    from toolkit.labelstudio.push import save_project_id
    from toolkit.scaffold import init_workspace

    ws = init_workspace(folder, title=project["title"], scheme="news-events-v1")
    if ws.config.project.title != project["title"]:
        raise RuntimeError(f"workspace title {ws.config.project.title!r} != project title {project['title']!r}")
    save_project_id(ws, Connection(server.url, server.token, embedded=False), project["id"])
    return ws.root


# Measurements: each runs in its own subprocess ---------------------------------------------

def _timed(counter: dict[str, float], name: str, fn: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            counter[name] = counter.get(name, 0.0) + time.perf_counter() - started
    return wrapper


def child_pull(spec: dict[str, Any]) -> dict[str, Any]:
    from label_studio_sdk import LabelStudio  # noqa: F401 - imported before timing, as in the other kinds

    import importlib

    pull_mod = importlib.import_module("toolkit.labelstudio.pull")  # the module, not the function
    from toolkit.labelstudio import LabelStudioClient
    from toolkit.workspace import Workspace

    ws_dir = Path(spec["workspace"])
    shutil.copytree(spec["template"], ws_dir)
    ws = Workspace(ws_dir)
    # Phase timings: the functions pull() calls are wrapped (same behaviour, timed).
    phases: dict[str, float] = {}
    targets = {  # phase key -> (owner, attribute): what pull() calls, by the name it calls it
        "read": (pull_mod, "_read_server"), "task_counts": (LabelStudioClient, "task_bounds"),
        "export_requests": (LabelStudioClient, "export_tasks"), "checkpoint_save": (pull_mod._Checkpoint, "save"),
        "checkpoint_load": (pull_mod._Checkpoint, "load"), "users": (LabelStudioClient, "users"),
        "prediction_check": (pull_mod, "_prediction_objects"), "snapshot": (pull_mod, "_write_snapshot"),
        "normalise_all": (pull_mod, "_normalise_snapshot"), "normalise_task": (pull_mod, "normalise_task"),
        "validate": (getattr(pull_mod, "RecordChecker", getattr(pull_mod, "RecordValidator", None)), "errors"),
        "result_hash": (pull_mod, "result_hash"), "parquet": (getattr(pull_mod, "_TableWriter", None), "flush"),
    }
    for key, (owner, attribute) in targets.items():
        if hasattr(owner, attribute):  # pull.py may change; a phase it no longer has is just not timed
            setattr(owner, attribute, _timed(phases, key, getattr(owner, attribute)))
    counter = count_http_bytes()
    rss_before = proc_status_mib("VmHWM")
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = pull_mod.pull(ws, chunk_size=spec.get("chunk"))
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    annotations = ws.annotations_dir
    return {"seconds": seconds, "tasks": report.tasks, "annotations": report.annotations, "valid": report.valid,
            "quarantined": report.quarantined, "offsets": report.offsets, "http_bytes": counter["bytes"],
            "responses": counter["responses"], "encoded_responses": counter["encoded"],
            "rss_before_mib": rss_before, "phases": phases, "toolkit_file": pull_mod.__file__,
            "files_mb": {p.name: p.stat().st_size / 1e6 for p in sorted(annotations.rglob("*"))
                         if p.is_file() and p.suffix in (".parquet", ".gz", ".jsonl")}}


def child_sdk_export(spec: dict[str, Any]) -> dict[str, Any]:
    import label_studio_sdk
    from label_studio_sdk import LabelStudio

    counter = count_http_bytes()
    rss_before = proc_status_mib("VmHWM")
    started = time.perf_counter()
    ls = LabelStudio(base_url=os.environ["LABEL_STUDIO_URL"], api_key=os.environ["LABEL_STUDIO_API_KEY"],
                     timeout=spec["sdk_timeout"])
    tasks = ls.projects.exports.as_json(spec["project_id"])
    seconds = time.perf_counter() - started
    if not isinstance(tasks, list):
        raise RuntimeError(f"as_json returned {type(tasks).__name__}, not a list")
    return {"seconds": seconds, "tasks": len(tasks), "annotations": sum(len(t.get("annotations") or []) for t in tasks),
            "http_bytes": counter["bytes"], "responses": counter["responses"],
            "encoded_responses": counter["encoded"], "rss_before_mib": rss_before,
            "returned": f"{type(tasks).__name__} of {type(tasks[0]).__name__ if tasks else '-'}",
            "sdk_version": getattr(label_studio_sdk, "__version__", "?")}


def _export_chunks(client: Any, project_id: int, id_ranges: list[range], in_flight: int) -> Iterator[list[Any]]:
    """pull's chunk requests (``export_tasks``), answers in order: one at a time in this thread,
    or with ``in_flight`` requests sent ahead from a thread pool."""
    if in_flight == 1:
        for ids in id_ranges:
            yield client.export_tasks(project_id, ids)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=in_flight) as readers:
        pending: list[Any] = []
        for ids in id_ranges:
            pending.append(readers.submit(client.export_tasks, project_id, ids))
            if len(pending) >= in_flight:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _read_only(spec: dict[str, Any], in_flight: int) -> dict[str, Any]:
    from label_studio_sdk import LabelStudio  # noqa: F401 - imported before timing, as in the other kinds

    from toolkit.labelstudio import Connection, LabelStudioClient

    counter = count_http_bytes()
    rss_before = proc_status_mib("VmHWM")
    started = time.perf_counter()
    seen = annotations = requests = 0
    conn = Connection(os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"], embedded=False)
    with LabelStudioClient(conn) as client:
        total, low, high = client.task_bounds(spec["project_id"])
        chunk = spec["chunk"]
        id_ranges = [range(start, min(start + chunk, high + 1)) for start in range(low, high + 1, chunk)]
        for tasks in _export_chunks(client, spec["project_id"], id_ranges, in_flight):
            requests += 1
            seen += len(tasks)
            annotations += sum(len(t.get("annotations") or []) for t in tasks)
    seconds = time.perf_counter() - started
    if seen != total:
        raise RuntimeError(f"read {seen} tasks, the server counts {total}")
    return {"seconds": seconds, "tasks": seen, "annotations": annotations, "requests": requests,
            "http_bytes": counter["bytes"], "responses": counter["responses"],
            "encoded_responses": counter["encoded"], "rss_before_mib": rss_before}


def child_read_only(spec: dict[str, Any]) -> dict[str, Any]:
    return _read_only(spec, in_flight=1)


def child_read_ahead(spec: dict[str, Any]) -> dict[str, Any]:
    """pull's chunked export requests, the next one sent while the answer to the last is read
    and parsed (two in flight): does the server build one chunk while the client takes the other?"""
    return _read_only(spec, in_flight=2)


CHILDREN = {"pull": child_pull, "sdk-export": child_sdk_export, "read-only": child_read_only,
            "read-ahead": child_read_ahead}


def run_child(kind: str) -> None:
    spec = json.loads(sys.stdin.read())
    result = CHILDREN[kind](spec)
    result["peak_rss_mib"] = proc_status_mib("VmHWM")
    print(RESULT_MARK + json.dumps(result), flush=True)


def in_subprocess(kind: str, spec: dict[str, Any], server: Server, code: Path = REPO) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update({"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.token,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))})
    if code != REPO:
        env["PULL_BENCH_CODE"] = str(code)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind],
                          input=json.dumps(spec), capture_output=True, text=True, cwd=REPO, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {kind} run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_MARK):])


# Running and reporting ---------------------------------------------------------------------

def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    return {"median_s": median, "min_s": min(seconds), "max_s": max(seconds), "tasks": runs[0]["tasks"],
            "annotations": runs[0]["annotations"], "tasks_per_s": runs[0]["tasks"] / median,
            "mb": statistics.median(r["http_bytes"] for r in runs) / 1e6,
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "rss_before_mib": max(r["rss_before_mib"] for r in runs)}


LABELS_OF_KIND = {
    "pull": "`toolkit.labelstudio.pull.pull()` end to end (read, snapshot, normalise, Parquet)",
    "sdk-export": "SDK `projects.exports.as_json()` (whole-project export, parsed)",
    "read-only": "pull's chunked export requests alone (parsed, nothing written)",
    "read-ahead": "the same requests, two in flight (the next sent while the last is read)",
}


PHASES = [  # (key, indent, label) in the order pull() runs them
    ("read", 0, "read: chunked export requests + checkpoint"),
    ("task_counts", 1, "task counts (before and after)"),
    ("export_requests", 1, "export requests (server + JSON parsing)"),
    ("checkpoint_save", 1, "checkpoint save (`json.dump` into gzip)"),
    ("users", 0, "users"),
    ("prediction_check", 0, "prediction check (loads every chunk)"),
    ("snapshot", 0, "snapshot (loads every chunk again; gzip JSONL, sha256)"),
    ("checkpoint_load", 0, "checkpoint loads, both uses above"),
    ("normalise_all", 0, "normalise, validate, Parquet (reads the snapshot)"),
    ("normalise_task", 1, "`normalise_task`"),
    ("validate", 1, "record validation (`RecordChecker.errors`)"),
    ("result_hash", 1, "`result_hash`"),
    ("parquet", 1, "Parquet batches (Arrow tables + writing)"),
]


def render(results: dict[str, Any]) -> str:
    summary = results["summary"]
    rows = []
    for kind in KINDS:
        if kind not in summary:
            continue
        s = summary[kind]
        rows.append([LABELS_OF_KIND[kind], s["tasks"], s["annotations"], f"{s['mb']:.1f}", f"{s['median_s']:.2f}",
                     f"{s['min_s']:.2f}–{s['max_s']:.2f}", f"{s['tasks_per_s']:.0f}", f"{s['rss_before_mib']:.0f}",
                     f"{s['peak_rss_mib']:.0f}"])
    out = [md_table(["measurement", "tasks", "annotations", "MB received", "median s", "range s", "tasks/s",
                     "RSS after imports MiB", "peak RSS MiB"], rows), ""]
    if "pull" in summary and "sdk-export" in summary:
        pull, sdk = summary["pull"], summary["sdk-export"]
        out.append(f"**Ratio pull / SDK export (time): {pull['median_s'] / sdk['median_s']:.2f}x**; "
                   f"peak RSS: {pull['peak_rss_mib'] / sdk['peak_rss_mib']:.2f}x")
    for kind in ("read-only", "read-ahead"):
        if kind in summary and "sdk-export" in summary:
            out.append(f"Ratio {kind} / SDK export (time): "
                       f"{summary[kind]['median_s'] / summary['sdk-export']['median_s']:.2f}x")
    pull_runs = results["runs"].get("pull", [])
    if pull_runs:
        out += ["", "Pull phases, seconds per run (indented rows are part of the row above them; "
                    "checkpoint loads happen inside the prediction check and the snapshot):", ""]
        rows = [[("&nbsp;&nbsp;" * indent) + label] + [f"{r['phases'][key]:.2f}" for r in pull_runs]
                for key, indent, label in PHASES if key in pull_runs[0]["phases"]]
        rows.append(["**total `pull()`**"] + [f"**{r['seconds']:.2f}**" for r in pull_runs])
        out.append(md_table(["phase"] + [f"run {i + 1}" for i in range(len(pull_runs))], rows))
        first = pull_runs[0]
        out += ["", f"Pull output: {first['valid']} valid records of {first['annotations']} annotations, "
                    f"{first['quarantined']} quarantined; offsets {first['offsets']}; files (MB): "
                    + ", ".join(f"{k} {v:.1f}" for k, v in first["files_mb"].items())]
    return "\n".join(out)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, check=False)
    return done.stdout.strip()


def repo_state() -> str:
    """The commit the working tree is at, and whether toolkit/ had uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD") or "?"
    return commit + (" + uncommitted changes in toolkit/" if _git("status", "--porcelain", "--", "toolkit") else "")


def extract_commit(rev: str, folder: Path) -> tuple[Path, str]:
    """``toolkit/`` and ``schemas/`` of commit ``rev`` extracted into ``folder`` (other people may be
    editing the working tree while the benchmark runs); returns (folder, short commit)."""
    commit = _git("rev-parse", "--short", rev)
    if not commit:
        raise SystemExit(f"--code-at: {rev!r} is not a commit of {REPO}")
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "toolkit", "schemas"], capture_output=True, cwd=REPO,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder, commit


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in the project (default 10,000)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per measurement (default 2)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="pull's chunk of task ids (default: pull's own, the workspace's page_size)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(DEFAULT_KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)} (default: {','.join(DEFAULT_KINDS)})")
    parser.add_argument("--sdk-timeout", type=float, default=600.0,
                        help="the SDK client's timeout in seconds (its default, 60, is too short for big projects)")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, one more (untimed) pull run under cProfile; prints the top costs")
    parser.add_argument("--code-at", metavar="REV",
                        help="measure the toolkit code of this commit (e.g. HEAD), extracted to the temporary "
                             "folder, instead of the working tree")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("label-studio-sdk")
    except PackageNotFoundError:
        return "?"


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0
    kinds = [k for k in args.only.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        raise SystemExit(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    began = time.perf_counter()
    code_at_start = repo_state()
    base = Path(tempfile.mkdtemp(prefix="pull-bench-"))
    server: Server | None = None
    try:
        code, code_label = REPO, None
        if args.code_at:
            code, commit = extract_commit(args.code_at, base / "code")
            code_label = f"commit {commit} (extracted; working tree not used)"
        print(f"Starting Label Studio (data in {base})...", flush=True)
        started = time.perf_counter()
        server = Server(base)
        startup = time.perf_counter() - started
        print(f"  healthy at {server.url} after {startup:.0f} s", flush=True)
        print(f"Building a project of {args.tasks} tasks (2 annotations each, {IMPORT_BATCH} per request)...",
              flush=True)
        project = build_project(server, args.tasks, args.seed, IMPORT_BATCH)
        print(f"  {project['tasks']} tasks, {project['annotations']} annotations in {project['import_seconds']:.1f} s "
              f"({project['import_mb']:.0f} MB sent)", flush=True)
        template = make_workspace_template(base / "template", server, project)
        from toolkit.workspace import Workspace

        chunk = min(max(args.chunk or Workspace(template).config.labelstudio.page_size, 1), 1000)
        # Untimed warm-up: one small chunk, so the server's first-request costs are not in a timed run.
        with contextlib.suppress(Exception):
            from toolkit.labelstudio import Connection, LabelStudioClient

            with LabelStudioClient(Connection(server.url, server.token, embedded=False)) as client:
                _total, low, _high = client.task_bounds(project["id"])
                client.export_tasks(project["id"], range(low, low + chunk))
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for round_ in range(args.repeat):
            order = kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]
            for kind in order:
                spec = {"template": str(template), "workspace": str(base / f"ws-{kind}-{round_}"),
                        "project_id": project["id"], "chunk": chunk, "sdk_timeout": args.sdk_timeout}
                result = in_subprocess(kind, spec, server, code)
                if "toolkit_file" in result and not Path(result["toolkit_file"]).is_relative_to(code):
                    raise RuntimeError(f"the {kind} run imported {result['toolkit_file']}, not the code in {code}")
                runs[kind].append(result)
                print(f"  round {round_ + 1} {kind}: {result['seconds']:.2f} s, {result['tasks']} tasks, "
                      f"{result['http_bytes'] / 1e6:.1f} MB, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
                shutil.rmtree(base / f"ws-{kind}-{round_}", ignore_errors=True)
        for kind in kinds:
            if any(r["tasks"] != project["tasks"] for r in runs[kind]):
                raise RuntimeError(f"{kind} did not read every task: {[r['tasks'] for r in runs[kind]]}")
        profile_text = None
        if args.profile:
            import io
            import pstats

            stats_path = base / "pull.prof"
            spec = {"template": str(template), "workspace": str(base / "ws-profile"), "project_id": project["id"],
                    "chunk": chunk, "profile": str(stats_path)}
            profiled = in_subprocess("pull", spec, server, code)
            buffer = io.StringIO()
            stats = pstats.Stats(str(stats_path), stream=buffer)
            buffer.write(f"pull() under cProfile: {profiled['seconds']:.2f} s\n")
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            profile_text = buffer.getvalue()
        results = {
            "date": dt.date.today().isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "label_studio": server.version(),
            "sdk": sdk_version(),
            "server_startup_s": startup, "project": project, "chunk": chunk, "repeat": args.repeat,
            "toolkit_code": code_label or (f"working tree at {code_at_start}" if repo_state() == code_at_start
                                           else f"working tree, changed during the run: {code_at_start} -> "
                                                f"{repo_state()}"),
            "runs": runs, "summary": {k: summarise(v) for k, v in runs.items() if v},
            "whole_run_s": time.perf_counter() - began,
        }
        print()
        print(f"Label Studio {results['label_studio']}, label-studio-sdk {results['sdk']}, "
              f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}; "
              f"{project['tasks']} tasks, {project['annotations']} annotations; pull chunk {chunk}; "
              f"{args.repeat} runs each; project import {project['import_seconds']:.1f} s; "
              f"whole run {results['whole_run_s']:.0f} s; toolkit code {results['toolkit_code']}")
        print()
        print(render(results))
        if profile_text:
            print()
            print(profile_text)
            results["profile"] = profile_text
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return 0
    except BaseException:
        if server is not None and server.log.exists():
            tail = server.log.read_text(errors="replace").splitlines()[-15:]
            print("Last lines of the server log:\n  " + "\n  ".join(tail), file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
