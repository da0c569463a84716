"""Pre-annotation measured on real human annotation: GUM's Wikinews interviews, k-fold by document.

    PYTHONPATH=. .venv/bin/python bench/gum_bench.py [--folds 5] [--epochs 20] [--quick] [--corpus DIR]

Issue 13 asks how good the suggestions are on text annotated by people, not on synthetic
articles. ``../shared/corpus/gum_wikinews/interviews.jsonl`` holds 19 Wikinews interviews with
every entity mention marked by GUM's annotators (read in place, never copied into the repository).

**Mapping onto the scheme** (``schemas/scheme.json``'s span field ``entities``). GUM marks every
mention, pronouns and common noun phrases too; named entities are its proper mentions:

    GUM label      mention kept when                                   scheme label
    person         mention_type == "proper"                            PERSON
    organization   mention_type == "proper"                            ORG
    place          mention_type == "proper"                            GPE (GUM does not tell GPE from FAC or LOC)
    time           head word a proper noun or a number (NNP, NNPS, CD)  DATE
    anything else  (event, object, abstract, substance, plant, animal)  dropped

A time mention is a DATE when it names a calendar point: weekdays, months, seasons, years and
full dates ("Tuesday", "late September", "2012", "September 1, 2015"; GUM calls a date with a
number for its head a *common* mention, hence the head rule instead of ``mention_type``).
Relative and vague ones ("today", "last year", "the past 35 years") are dropped: GUM marks every
time noun phrase and does not tell a date from a duration. GUM's extents are kept as they are,
the whole noun phrase ("the University of Helsinki", "Bos and colleagues", "former Pennsylvania
Senator Rick Santorum"), so exact matching is strict; read the overlap figures beside it.

**Nesting.** GUM nests mentions ("the University of Helsinki" holds "Helsinki"); the scheme does
not allow overlapping spans. Of the mapped mentions, the outermost one is kept and those inside
it are dropped; two mapped mentions that cross (neither inside the other) keep the longer. The
counts are reported.

**The way a team brings them in.** A fresh workspace (``init_workspace``); the 19 texts written
as one JSONL file in ``raw/`` (text, title, date, url) and ingested (``ingest``), the tasks
made (``build_tasks``); a Label Studio JSON export built from those tasks, one annotation per
task by one account (the GUM annotators) marked ``ground_truth: true`` (an adjudicated answer,
which decides gold by the ``[gold]`` policy), with the mapped spans and ``event_type`` "Not an
attack event" (the field is required; no interview reports an attack), imported with ``pull
(from_export=...)``; then ``agree``. Ingest drops a first paragraph that repeats the title, so
offsets are mapped from GUM's text onto the ingested one through the matching blocks of
``difflib``; a span that does not survive is counted as lost. The gold spans in
``gold.parquet`` are checked against the mapped ones.

**Cross-validation.** Documents are ranked by sha256 of GUM's ``doc_id`` and dealt round-robin
into k folds (every document in exactly one test fold, fold sizes differ by at most one). Each
fold's models learn only from the other folds; the predictions of all folds are pooled and
scored once with ``toolkit.preannotate.evaluate.evaluate`` (per label P/R/F1, exact and
overlap, 95 % bootstrap intervals over documents). Methods:

1. *baseline*: every run of capitalised words (``A-Z`` first letter, joined by single spaces),
   without a first word that starts a sentence (after the start of the text, a line break or
   ``. ! ? :``, skipping quotes and brackets) and without the pronoun "I", labelled with the
   most frequent label of the training folds' gold spans;
2. *rules*: ``toolkit.preannotate.rules.Rules(scheme, patterns=[], gold_examples=...)`` with
   gold examples taken only from the training folds (plus its date rules);
3. *ner* and *spancat*: ``toolkit.preannotate.training.fit`` (spaCy blank "en", CPU) on the
   training folds, suggestions by ``PipelineSource.trained`` (the beam's span probabilities for
   ``ner``, spancat's own scores), with ``TrainOptions``' defaults unless ``--epochs`` or
   ``--batch-size`` say otherwise; the train and predict times are reported;
4. *rules+ner*, *rules+spancat*: ``toolkit.preannotate.suggestions.merge([rules, model])``.

Every method's answer goes through ``merge`` (alone when it is one source), as ``toolkit
preannotate`` does, so what is scored is what an annotator would be shown: spancat's overlapping
spans are resolved there (higher score, then longer span, wins).

Prints a Markdown section; writes every figure to ``bench/out/gum_bench.json`` (``--out``).
The workspace and the export live in a temporary folder (``--workdir`` keeps them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from toolkit import parquetio  # noqa: E402
from toolkit.articles import read_articles  # noqa: E402
from toolkit.agreement import agree  # noqa: E402
from toolkit.ingest import ingest  # noqa: E402
from toolkit.labelstudio import pull  # noqa: E402
from toolkit.labelstudio.tasks import build_tasks, iter_tasks  # noqa: E402
from toolkit.preannotate.splits import GoldSet, load_gold  # noqa: E402
from toolkit.preannotate.suggestions import Span, Suggestion, merge, to_record  # noqa: E402
from toolkit.preannotate.training import TrainOptions, fit  # noqa: E402
from toolkit.scaffold import init_workspace  # noqa: E402
from toolkit.scheme import Scheme  # noqa: E402
from toolkit.workspace import Workspace  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
DEFAULT_OUT = REPO / "bench" / "out" / "gum_bench.json"
INTERVIEWS = Path("gum_wikinews") / "interviews.jsonl"
RAW_FILE = "gum_wikinews_interviews.jsonl"
SPAN_FIELD = "entities"
EVENT_TYPE = "Not an attack event"
ANNOTATOR = {"id": 1, "email": "gum-annotators@gucorpling.org"}

# GUM entity type -> scheme label, for the mentions MAPPED_WHEN keeps.
LABEL_MAP = {"person": "PERSON", "organization": "ORG", "place": "GPE", "time": "DATE"}
DATE_HEAD_TAGS = {"NNP", "NNPS", "CD"}
SPANCAT_MAX_TOKENS = 4  # the largest n-gram of training's spancat suggester
METHODS = ("baseline", "rules", "ner", "spancat", "rules+ner", "rules+spancat")


# ------------------------------------------------------------------------------ mapping


def load_documents(corpus: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """GUM's documents, in file order (the first ``limit`` when given)."""
    path = corpus / INTERVIEWS
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return docs[:limit] if limit else docs


def scheme_label(mention: dict[str, Any]) -> str | None:
    """The scheme label of one GUM mention, or None when the mapping drops it."""
    label = mention["label"]
    if label == "time":
        return "DATE" if (mention.get("head") or {}).get("xpos") in DATE_HEAD_TAGS else None
    if label in LABEL_MAP and mention["mention_type"] == "proper":
        return LABEL_MAP[label]
    return None


def map_mentions(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], Counter]:
    """The document's mapped spans (``{start, end, label, text}`` on GUM's text, sorted, none
    overlapping) and what happened to its mentions: ``mapped`` (kept), ``inside`` (a mapped
    mention inside another one, dropped), ``crossing`` (overlapping a longer one without being
    inside it, dropped), ``unmapped`` (a type or kind the table drops)."""
    stats: Counter = Counter()
    candidates = []
    for mention in doc["entities"]:
        label = scheme_label(mention)
        if label is None:
            stats["unmapped"] += 1
        else:
            candidates.append((mention["start"], mention["end"], label))
    kept: list[tuple[int, int, str]] = []
    # Longest first: an outer mention is seen before every mention inside it.
    for start, end, label in sorted(set(candidates), key=lambda c: (c[0] - c[1], c[0], c[2])):
        holder = next(((s, e) for s, e, _ in kept if s < end and start < e), None)
        if holder is None:
            kept.append((start, end, label))
        elif holder[0] <= start and end <= holder[1]:
            stats["inside"] += 1
        else:
            stats["crossing"] += 1
    stats["inside"] += len(candidates) - len(set(candidates))  # the same extent twice
    stats["mapped"] = len(kept)
    text = doc["text"]
    return [{"start": s, "end": e, "label": lab, "text": text[s:e]} for s, e, lab in sorted(kept)], stats


def offset_mapper(original: str, cleaned: str) -> Callable[[int, int], tuple[int, int] | None]:
    """(start, end) on ``original`` -> the same characters on ``cleaned``, or None when they
    did not come through unchanged (a span must lie inside one matching block)."""
    if original == cleaned:
        return lambda start, end: (start, end)
    blocks = difflib.SequenceMatcher(None, original, cleaned, autojunk=False).get_matching_blocks()

    def to_cleaned(start: int, end: int) -> tuple[int, int] | None:
        for a, b, size in blocks:
            if a <= start and end <= a + size:
                return b + start - a, b + end - a
        return None

    return to_cleaned


# ------------------------------------------------------------------------------ import


@dataclass
class Imported:
    """A workspace holding the documents as gold, and how it got there."""

    ws: Workspace
    article_of: dict[str, str]  # GUM doc_id -> article_id
    expected: dict[str, list[dict[str, Any]]]  # article_id -> mapped spans on the ingested text
    mention_stats: dict[str, int]
    lost: list[dict[str, Any]]  # mapped spans that did not survive ingest's cleaning
    ingest: dict[str, Any]
    pull: dict[str, Any]
    agree: dict[str, Any]
    check: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"documents": len(self.article_of), "mention_stats": self.mention_stats, "lost_in_ingest": self.lost,
                "ingest": self.ingest, "pull": self.pull, "agree": self.agree, "gold_check": self.check}


def write_raw(ws: Workspace, docs: list[dict[str, Any]]) -> Path:
    """The documents as one JSONL file in ``raw/``, as a scraper would leave them."""
    path = ws.raw_dir / RAW_FILE
    with open(path, "w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps({"text": doc["text"], "title": doc["title"], "date": doc["date"], "url": doc["url"],
                                 "source": "Wikinews"}, ensure_ascii=False) + "\n")
    return path


def export_tasks(tasks: list[dict[str, Any]], spans: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A Label Studio JSON export of ``tasks`` (as ``tasks.jsonl`` holds them), each with one
    ground-truth annotation carrying ``spans[article_id]`` and the event type."""
    stamp = "2026-12-01T12:00:00.000000Z"
    exported = []
    for number, task in enumerate(tasks, 1):
        data = task["data"]
        result = [{"id": f"g{number}-{k}", "from_name": SPAN_FIELD, "to_name": "text", "type": "labels",
                   "value": {"start": s["start"], "end": s["end"], "text": s["text"], "labels": [s["label"]]}}
                  for k, s in enumerate(spans[data["article_id"]])]
        result.append({"id": f"g{number}-event", "from_name": "event_type", "to_name": "text", "type": "choices",
                       "value": {"choices": [EVENT_TYPE]}})
        exported.append({"id": number, "data": data, "predictions": [], "annotations": [{
            "id": 1000 + number, "completed_by": dict(ANNOTATOR), "result": result, "was_cancelled": False,
            "ground_truth": True, "lead_time": 0.0, "created_at": stamp, "updated_at": stamp, "task": number,
            "project": 1}]})
    return exported


def import_gold(root: Path, docs: list[dict[str, Any]], title: str = "GUM Wikinews interviews") -> Imported:
    """A fresh workspace in ``root`` with ``docs`` ingested, tasked, imported as a ground-truth
    export and agreed; ``check`` compares gold.parquet with the mapped spans."""
    ws = init_workspace(root / "workspace", title=title, scheme="news-events-v1")
    write_raw(ws, docs)
    ingest_report = ingest(ws)
    build_tasks(ws)
    tasks = [task for _, task in iter_tasks(ws.annotations_dir / "tasks.jsonl")]
    articles = read_articles(ws, columns=["article_id", "text", "source_file"]).to_pylist()
    line_of = {f"raw/{RAW_FILE}#L{i}": doc for i, doc in enumerate(docs, 1)}
    article_of, expected, lost = {}, {}, []
    stats: Counter = Counter()
    for article in articles:
        doc = line_of[article["source_file"]]
        mapped, doc_stats = map_mentions(doc)
        stats.update(doc_stats)
        to_cleaned = offset_mapper(doc["text"], article["text"])
        spans = []
        for span in mapped:
            where = to_cleaned(span["start"], span["end"])
            if where is None or article["text"][where[0]:where[1]] != span["text"]:
                lost.append({"doc_id": doc["doc_id"], **span})
                continue
            spans.append({**span, "start": where[0], "end": where[1]})
        article_of[doc["doc_id"]] = article["article_id"]
        expected[article["article_id"]] = spans
    export_path = root / "gum-export.json"
    export_path.write_text(json.dumps(export_tasks(tasks, expected), ensure_ascii=False), encoding="utf-8")
    pulled = pull(ws, from_export=export_path)
    agreed = agree(ws)
    imported = Imported(ws=ws, article_of=article_of, expected=expected, mention_stats=dict(stats), lost=lost,
                        ingest={"new_articles": ingest_report.new_articles, "rejected": len(ingest_report.rejected),
                                "texts_changed": sum(line_of[a["source_file"]]["text"] != a["text"] for a in articles)},
                        pull={"tasks": pulled.tasks, "annotations": pulled.annotations, "valid": pulled.valid,
                              "ground_truth": pulled.ground_truth, "quarantined": pulled.quarantined,
                              "quarantined_by_type": pulled.quarantined_by_type, "offsets": pulled.offsets},
                        agree={"resolved": agreed.resolved, "unresolved": agreed.unresolved,
                               "by_ground_truth": agreed.by_ground_truth})
    imported.check = check_gold(ws, expected)
    return imported


def _key(span: dict[str, Any]) -> tuple[int, int, str, str]:
    return int(span["start"]), int(span["end"]), str(span["label"]), str(span["text"])


def check_gold(ws: Workspace, expected: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """gold.parquet's resolved spans against ``expected``: counts, and every span missing or extra."""
    rows = parquetio.read_table(ws.annotations_dir / "gold.parquet",
                                columns=["article_id", "status", SPAN_FIELD]).to_pylist()
    gold = {r["article_id"]: r for r in rows if r["status"] == "resolved"}
    missing, extra = [], []
    for article, spans in expected.items():
        want = {_key(s) for s in spans}
        have = {_key(s) for s in (gold.get(article, {}).get(SPAN_FIELD) or [])}
        missing += [{"article_id": article, **dict(zip(("start", "end", "label", "text"), k))} for k in sorted(want - have)]
        extra += [{"article_id": article, **dict(zip(("start", "end", "label", "text"), k))} for k in sorted(have - want)]
    return {"articles_expected": len(expected), "articles_resolved": sum(a in gold for a in expected),
            "spans_expected": sum(len(s) for s in expected.values()),
            "spans_in_gold": sum(len(gold[a].get(SPAN_FIELD) or []) for a in expected if a in gold),
            "missing": missing, "extra": extra, "equal": not missing and not extra and len(gold) == len(expected)}


# ------------------------------------------------------------------------------ folds


def assign_folds(doc_ids: Iterable[str], k: int) -> dict[str, int]:
    """doc_id -> fold in 0..k-1: ranked by sha256 of the id, dealt round-robin."""
    ranked = sorted(doc_ids, key=lambda d: hashlib.sha256(d.encode("utf-8")).hexdigest())
    return {doc_id: rank % k for rank, doc_id in enumerate(ranked)}


# ------------------------------------------------------------------------------ baseline

_WORD = r"[A-Z](?:[\w'’&-]|\.(?=\w))*"
_CAPITAL_RUN = re.compile(rf"(?<![\w'’]){_WORD}(?: {_WORD})*")
_SENTENCE_END = set(".!?:")
_OPENERS = set("\"'“‘([")
_PRONOUN_I = re.compile(r"^I(?:['’](?:m|ve|d|ll))?$")


class CapitalisedBaseline:
    """Every run of capitalised words not at a sentence start, as the training folds' most
    frequent label."""

    version = "baseline-capitalised"

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        counts = Counter(s["label"] for r in records for s in (r.get(SPAN_FIELD) or []))
        self.label = counts.most_common(1)[0][0] if counts else "PERSON"

    @staticmethod
    def _starts_sentence(text: str, at: int) -> bool:
        i = at - 1
        while i >= 0 and (text[i] in " \t" or text[i] in _OPENERS):
            i -= 1
        return i < 0 or text[i] == "\n" or text[i] in _SENTENCE_END

    def suggest(self, text: str) -> Suggestion:
        spans = []
        for match in _CAPITAL_RUN.finditer(text):
            words = [(m.start() + match.start(), m.end() + match.start()) for m in re.finditer(r"\S+", match.group())]
            if self._starts_sentence(text, words[0][0]):
                words = words[1:]
            words = [w for w in words if not _PRONOUN_I.match(text[w[0]:w[1]])] if len(words) == 1 else words
            if words:
                spans.append(Span(SPAN_FIELD, words[0][0], words[-1][1], self.label, 1.0, self.version))
        return Suggestion(spans)

    def suggest_many(self, texts: Iterable[str]) -> Iterator[Suggestion]:
        for text in texts:
            yield self.suggest(text)


# ------------------------------------------------------------------------------ running


def _rules_module() -> Any:
    from toolkit.preannotate import rules

    return rules


@dataclass
class MethodRun:
    suggestions: dict[str, Suggestion] = field(default_factory=dict)
    train_s: float = 0.0
    predict_s: float = 0.0
    dropped_spans: int = 0  # gold spans the model could not learn (off token boundaries, or beyond spancat's suggester), summed over the folds
    losses: list[dict[str, float]] = field(default_factory=list)  # each fold's last epoch


def cross_validate(scheme: Scheme, gold: GoldSet, fold_of: dict[str, int], k: int, options: TrainOptions,
                   methods: Iterable[str] = METHODS, log: Callable[[str], None] = lambda _: None
                   ) -> dict[str, MethodRun]:
    """Every method's suggestion for every article, each made by what learnt from the other folds
    (``options`` for both models; its ``spans`` is set per model)."""
    from toolkit.preannotate.sources import PipelineSource

    methods = list(methods)
    runs = {m: MethodRun() for m in methods}
    for fold in range(k):
        test_ids = sorted(a for a, f in fold_of.items() if f == fold)
        train_ids = sorted(a for a, f in fold_of.items() if f != fold)
        texts = [gold.texts[a] for a in test_ids]
        fold_gold = GoldSet(gold.records, gold.texts,
                            {a: ("test" if f == fold else "train") for a, f in fold_of.items()})
        log(f"fold {fold + 1}/{k}: {len(train_ids)} train, {len(test_ids)} test")
        made: dict[str, list[Suggestion]] = {}
        if "baseline" in methods:
            started = time.perf_counter()
            baseline = CapitalisedBaseline(gold.records[a] for a in train_ids)
            made["baseline"] = list(baseline.suggest_many(texts))
            runs["baseline"].predict_s += time.perf_counter() - started
        if any(m.startswith("rules") for m in methods):
            rules = _rules_module()
            started = time.perf_counter()
            examples = rules.gold_examples_from([gold.records[a] for a in train_ids], scheme)
            source = rules.Rules(scheme, patterns=[], gold_examples=examples)
            runs.setdefault("rules", MethodRun()).train_s += time.perf_counter() - started
            started = time.perf_counter()
            made["rules"] = list(source.suggest_many(texts))
            runs["rules"].predict_s += time.perf_counter() - started
        for kind in ("ner", "spancat"):
            if kind not in methods and f"rules+{kind}" not in methods:
                continue
            run = runs.setdefault(kind, MethodRun())
            started = time.perf_counter()
            nlp, dropped, losses = fit(scheme, fold_gold, train_ids, replace(options, spans=kind))
            run.train_s += time.perf_counter() - started
            run.dropped_spans += dropped
            run.losses.append(losses[-1] if losses else {})
            started = time.perf_counter()
            made[kind] = list(PipelineSource.trained(nlp, scheme, f"gum-{kind}-fold{fold}").suggest_many(texts))
            run.predict_s += time.perf_counter() - started
            log(f"  {kind}: trained in {run.train_s:.0f} s so far")
            if f"rules+{kind}" in methods:
                made[f"rules+{kind}"] = [merge([r, m], scheme) for r, m in zip(made["rules"], made[kind])]
        for method, suggestions in made.items():
            # What an annotator would see: `toolkit preannotate` passes every source through
            # merge, which also removes overlaps the scheme forbids (spancat makes them).
            runs[method].suggestions.update((a, merge([s], scheme)) for a, s in zip(test_ids, suggestions))
    return {m: runs[m] for m in methods}


def spans_over(gold: GoldSet, tokens: int) -> int:
    """Gold spans longer than ``tokens`` tokens of spaCy's English tokenizer: the spancat
    suggester of ``training`` proposes 1 to 4 tokens, so it can never find these."""
    import spacy

    nlp = spacy.blank("en")
    count = 0
    for article, record in gold.records.items():
        doc = nlp.make_doc(gold.texts[article])
        for s in record.get(SPAN_FIELD) or []:
            span = doc.char_span(s["start"], s["end"], alignment_mode="expand")
            count += span is not None and len(span) > tokens
    return count


def score(scheme: Scheme, gold: GoldSet, runs: dict[str, MethodRun], bootstrap: int, seed: int) -> dict[str, Any]:
    """``evaluate`` of each method's pooled predictions on every article."""
    from toolkit.preannotate.evaluate import evaluate

    ids = sorted(gold.records)
    out = {}
    for method, run in runs.items():
        predicted = {a: to_record(s, scheme, gold.texts[a]) for a, s in run.suggestions.items()}
        report = evaluate(scheme, predicted, gold.records, ids, bootstrap=bootstrap, seed=seed, model_version=method)
        out[method] = {"report": report, "train_s": round(run.train_s, 2), "predict_s": round(run.predict_s, 2),
                       "dropped_spans": run.dropped_spans, "last_epoch_losses": run.losses}
    return out


# ------------------------------------------------------------------------------ Markdown


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ci(entry: dict[str, Any]) -> str:
    ci = entry.get("f1_ci")
    return _f(entry["f1"]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def method_table(stats: dict[str, Any]) -> list[str]:
    """Per label (those in gold or predicted) and micro: support, predicted, P/R/F1 exact, F1 overlap."""
    lines = ["| label | gold | predicted | P exact | R exact | F1 exact [95 % CI] | P overlap | R overlap "
             "| F1 overlap [95 % CI] |", "|---|---|---|---|---|---|---|---|---|"]
    rows = [(label, e) for label, e in stats["labels"].items() if e["support"] or e["predicted"]]
    rows.append(("**micro**", stats["micro"]))
    for label, e in rows:
        ex, ov = e["exact"], e["overlap"]
        lines.append(f"| {label} | {e['support']} | {e['predicted']} | {_f(ex['precision'])} | {_f(ex['recall'])} "
                     f"| {_ci(ex)} | {_f(ov['precision'])} | {_f(ov['recall'])} | {_ci(ov)} |")
    return lines


def render(results: dict[str, Any]) -> str:
    imp, m = results["import"], results["machine"]
    check = imp["gold_check"]
    stats = imp["mention_stats"]
    out = [f"## Pre-annotation on GUM's Wikinews interviews — {results['date']}", "",
           "```", results["command"], "```", "",
           f"- Machine: {m['cpus']} cores, Python {m['python']}, spaCy {m['spacy']}",
           f"- {imp['documents']} documents, {results['folds']}-fold cross-validation by document "
           f"(fold sizes {results['fold_sizes']}); models: {results['epochs']} epochs, batches of "
           f"{results['train_options']['batch_size']} articles, dropout {results['train_options']['dropout']}; "
           f"bootstrap {results['bootstrap']} resamples over documents; whole run {results['wall_s']:.0f} s",
           f"- Mapping: {stats.get('mapped', 0)} spans kept, {stats.get('inside', 0)} mapped mentions inside "
           f"another dropped, {stats.get('crossing', 0)} crossing dropped, {stats.get('unmapped', 0)} mentions "
           "of other types or kinds dropped",
           f"- Import: ingest changed {imp['ingest']['texts_changed']} texts (a first paragraph repeating the "
           f"title), {len(imp['lost_in_ingest'])} spans lost with it; pull {imp['pull']['valid']}/"
           f"{imp['pull']['annotations']} annotations valid, {imp['pull']['quarantined']} quarantined; agree "
           f"{imp['agree']['resolved']} resolved ({imp['agree']['by_ground_truth']} by ground truth); gold.parquet "
           f"holds {check['spans_in_gold']} of {check['spans_expected']} spans expected, "
           f"{len(check['missing'])} missing, {len(check['extra'])} extra",
           "", "| method | micro P exact | micro R exact | micro F1 exact [95 % CI] | micro F1 overlap [95 % CI] "
           "| train s | predict s |", "|---|---|---|---|---|---|---|"]
    for method, entry in results["methods"].items():
        micro = entry["report"]["fields"][SPAN_FIELD]["micro"]
        out.append(f"| {method} | {_f(micro['exact']['precision'])} | {_f(micro['exact']['recall'])} "
                   f"| {_ci(micro['exact'])} | {_ci(micro['overlap'])} | {entry['train_s']:.1f} "
                   f"| {entry['predict_s']:.1f} |")
    for method, entry in results["methods"].items():
        extra = f"; {entry['dropped_spans']} gold spans not learnt, summed over the folds' training sets (off token boundaries, or beyond the suggester)" \
            if method in ("ner", "spancat") else ""
        if method.endswith("spancat"):
            extra += (f"; {results['gold_spans_over_4_tokens']} gold spans are longer than "
                      f"{SPANCAT_MAX_TOKENS} tokens, beyond its suggester")
        out += ["", f"### {method}{extra}", "", *method_table(entry["report"]["fields"][SPAN_FIELD])]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold cross-validation (default 5)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of ner and spancat (default 20)")
    parser.add_argument("--batch-size", type=int, default=TrainOptions().batch_size,
                        help=f"articles per update of ner and spancat (default: the toolkit's, "
                             f"{TrainOptions().batch_size})")
    parser.add_argument("--quick", action="store_true", help="2 folds, 3 epochs (a smoke run)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"default: {DEFAULT_CORPUS}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON of every figure (default: {DEFAULT_OUT})")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the workspace and export here (a new folder)")
    args = parser.parse_args(argv)
    if args.quick:
        args.folds, args.epochs = 2, 3
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    return args


def run(args: argparse.Namespace, argv: list[str], root: Path) -> dict[str, Any]:
    import spacy

    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    docs = load_documents(args.corpus, args.limit)
    if len(docs) < args.folds:
        raise SystemExit(f"{len(docs)} documents cannot make {args.folds} folds")
    imported = import_gold(root, docs)
    log(f"imported {len(docs)} documents: gold check {'equal' if imported.check['equal'] else 'DIFFERS'}")
    scheme = Scheme.load(imported.ws.scheme_path)
    gold = load_gold(imported.ws, scheme)
    by_doc = assign_folds(imported.article_of, args.folds)
    fold_of = {imported.article_of[d]: f for d, f in by_doc.items()}
    options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, seed=0)
    options.check()
    runs = cross_validate(scheme, gold, fold_of, args.folds, options, args.methods, log)
    return {
        "date": dt.date.today().isoformat(),
        "command": " ".join(["PYTHONPATH=. .venv/bin/python bench/gum_bench.py", *argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "spacy": spacy.__version__},
        "folds": args.folds, "epochs": args.epochs, "bootstrap": args.bootstrap, "seed": args.seed,
        "train_options": {k: v for k, v in asdict(options).items() if k != "spans"},
        "fold_sizes": sorted(Counter(by_doc.values()).values(), reverse=True),
        "fold_of": dict(sorted(by_doc.items())),
        "mapping": {"labels": LABEL_MAP, "date_head_tags": sorted(DATE_HEAD_TAGS),
                    "rule": "person/organization/place when mention_type is proper; time when its head is "
                            "NNP, NNPS or CD; outermost of nested mapped mentions kept"},
        "gold_spans_over_4_tokens": spans_over(gold, SPANCAT_MAX_TOKENS),
        "gold_support": dict(Counter(s["label"] for r in gold.records.values() for s in r.get(SPAN_FIELD) or [])),
        "import": imported.summary(),
        "methods": score(scheme, gold, runs, args.bootstrap, args.seed),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if not (args.corpus / INTERVIEWS).is_file():
        print(f"corpus not found: {args.corpus / INTERVIEWS} (pass --corpus DIR)", file=sys.stderr)
        return 2
    if args.workdir is not None:
        args.workdir.mkdir(parents=True)
        results = run(args, argv, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="gum-bench-") as tmp:
            results = run(args, argv, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    markdown = render(results)
    args.out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
