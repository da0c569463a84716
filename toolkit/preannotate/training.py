"""``toolkit train``: a spaCy pipeline learnt from this workspace's own gold labels.

The pipeline starts from a blank language (``spacy.blank``: a tokenizer and nothing else, no
pretrained vectors, nothing downloaded) and learns, on CPU:

- the entity spans of the first span field, with ``spancat`` (default) or ``ner``. Suggestions
  need a score per span, for the queue order and for the annotator: ``spancat`` scores every
  candidate span (1 to 4 tokens) directly, ``ner`` gets its scores from a beam search (the
  probability mass of the beam's parses that contain the span). On GUM's Wikinews interviews
  (``bench/gum_bench.py``, BENCHMARKS.md) spancat was the more precise and, merged with the
  rules, the better pair; ``ner`` reaches spans longer than 4 tokens;
- one text classifier per choice field (``textcat``, or ``textcat_multilabel`` for a multiple
  choice), its labels written ``field=value`` so that several fields share ``doc.cats``.

It learns from the gold articles the deterministic release split puts in ``train`` (``splits``),
reports its figures on those it puts in ``validation``, and is saved, built aside and renamed
into place, as ``models/model-NNNN/``: the spaCy pipeline (``pipeline/``) and ``model.json``
(its version, the hash of the data it learnt from, its settings and figures). Training again
as gold grows makes the next version; ``toolkit preannotate`` uses the latest unless told.

``--curve`` trains on 25, 50, 75 and 100 % of the train split (a deterministic, nested choice
of articles) and reports each one's validation figures, to show whether more annotation is
still paying off. Its models are not kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import atomicio
from ..errors import ModelNotFound, PreannotateError
from ..scheme import ChoiceField, Scheme, SpanField
from ..workspace import Workspace
from .sources import MODEL_META, PIPELINE, PipelineSource, read_meta  # noqa: F401 (read_meta: re-exported)
from .splits import GoldSet, load_gold

__all__ = ["MODELS_DIR", "TrainOptions", "TrainReport", "model_dirs", "latest_model", "find_model", "train",
           "learning_curve", "fit", "cat_label"]

MODELS_DIR = "models"
_NAME = re.compile(r"^model-(\d{4,})$")


@dataclass(frozen=True)
class TrainOptions:
    spans: str = "spancat"  # or "ner" (bench/gum_bench.py: spancat with the rules is the better pair)
    epochs: int = 20
    dropout: float = 0.2
    batch_size: int = 8
    seed: int = 0
    language: str = "en"

    def check(self) -> None:
        if self.spans not in ("ner", "spancat"):
            raise PreannotateError(f"--spans must be ner or spancat, not {self.spans!r}")
        if not (1 <= self.epochs <= 1000 and 1 <= self.batch_size <= 10_000 and 0 <= self.dropout < 1):
            raise PreannotateError("--epochs must be 1 to 1000, --batch-size 1 to 10000, --dropout in [0, 1)")


@dataclass
class TrainReport:
    version: str | None  # None for a curve (nothing kept)
    path: str | None
    data_hash: str
    n_train: int
    n_validation: int
    options: dict[str, Any]
    span_field: str | None
    choice_fields: list[str]
    dropped_spans: int  # gold spans off token boundaries, overlapping (ner) or too long (spancat): not learnt
    seconds: float
    figures: dict[str, Any] | None  # evaluate() on the validation split, None when it is empty
    losses: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cat_label(field_name: str, value: str) -> str:
    """A text classifier's label for a choice value: ``field=value``."""
    return f"{field_name}={value}"


# ------------------------------------------------------------------------------ models/


def model_dirs(ws: Workspace) -> dict[str, Path]:
    """Every saved model, by version, oldest first."""
    folder = ws.root / MODELS_DIR
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            if _NAME.match(path.name) and (path / MODEL_META).is_file():
                found[path.name] = path
    return dict(sorted(found.items(), key=lambda item: int(_NAME.match(item[0]).group(1))))


def latest_model(ws: Workspace) -> Path | None:
    dirs = model_dirs(ws)
    return list(dirs.values())[-1] if dirs else None


def find_model(ws: Workspace, version: str | None) -> Path:
    """The folder of model ``version`` (None or "latest": the newest)."""
    dirs = model_dirs(ws)
    if version in (None, "", "latest"):
        if not dirs:
            raise ModelNotFound("no trained model under models/ yet", hint="run `toolkit train` first")
        return list(dirs.values())[-1]
    if version not in dirs:
        raise ModelNotFound(f"no model {version!r} under models/",
                            hint="name one of: " + (", ".join(dirs) or "(none: run `toolkit train`)"))
    return dirs[version]


def _next_version(ws: Workspace) -> str:
    folder = ws.root / MODELS_DIR
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name))] if folder.is_dir() else []
    return f"model-{max(numbers, default=0) + 1:04d}"


# ------------------------------------------------------------------------------ training


def _fields(scheme: Scheme) -> tuple[SpanField | None, list[ChoiceField]]:
    span_field = next((f for f in scheme.fields if isinstance(f, SpanField)), None)
    return span_field, [f for f in scheme.fields if isinstance(f, ChoiceField)]


def data_hash(gold: GoldSet, ids: Sequence[str]) -> str:
    """sha256 of the training data: each article's id, text and gold record, in id order."""
    digest = hashlib.sha256()
    for article in sorted(ids):
        digest.update(json.dumps([article, gold.texts[article], gold.records[article]], sort_keys=True,
                                 ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


# spancat's suggester proposes spans of 1 to SPANCAT_MAX tokens; longer gold spans are beyond it.
SPANCAT_MAX = 4


def _blank(options: TrainOptions, span_field: SpanField | None, choice_fields: list[ChoiceField],
           seen_labels: set[str] | None = None) -> Any:
    import spacy

    try:
        nlp = spacy.blank(options.language)
    except Exception as exc:  # spaCy raises ImportError or its own error for an unknown code
        raise PreannotateError(f"spaCy has no language {options.language!r}: {exc}",
                               hint="use a language code spaCy knows (en, de, fr, ...)") from exc
    if span_field is not None:
        # Only labels the training data has: an untrained label of spancat starts near its
        # threshold and would be suggested at random (seen on GUM after 3 epochs).
        labels = [v for v in span_field.values if seen_labels is None or v in seen_labels] or list(span_field.values)
        if options.spans == "ner":
            ner = nlp.add_pipe("ner")
            for label in labels:
                ner.add_label(label)
        else:
            spancat = nlp.add_pipe("spancat", config={"spans_key": "sc", "threshold": 0.5,
                                                       "suggester": {"@misc": "spacy.ngram_suggester.v1",
                                                                     "sizes": list(range(1, SPANCAT_MAX + 1))}})
            for label in labels:
                spancat.add_label(label)
    for f in choice_fields:
        component = nlp.add_pipe("textcat_multilabel" if f.multiple else "textcat", name=f"textcat_{f.name}")
        for value in f.values:
            component.add_label(cat_label(f.name, value))
    return nlp


# Pieces of an article the span model learns from: about a paragraph each, never cutting a span.
PIECE_CHARS = 600
_CUT = re.compile(r"\n\s*\n|(?<=[.!?])\s+(?=[A-Z\"“‘(])")


def pieces(text: str, spans: Sequence[dict[str, Any]], size: int = PIECE_CHARS) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``text`` cut at paragraph and sentence ends, each about
    ``size`` characters or less, none cutting through a span."""
    inside = sorted((s["start"], s["end"]) for s in spans)
    cuts = []
    for match in _CUT.finditer(text):
        at = match.end()
        if not any(a < at < b for a, b in inside):
            cuts.append(at)
    out, start = [], 0
    while start < len(text):
        if start + size >= len(text):
            end = len(text)
        else:
            fitting = [c for c in cuts if start < c <= start + size]
            later = [c for c in cuts if c > start + size]
            end = fitting[-1] if fitting else (later[0] if later else len(text))
        out.append((start, end))
        start = end
    return [(a, b) for a, b in out if text[a:b].strip()]


def _reference_spans(reference: Any, spans: Sequence[dict[str, Any]], offset: int, spans_kind: str) -> int:
    """Put ``spans`` (shifted by ``offset``) on ``reference``; how many could not be (off token
    boundaries, or overlapping for ``ner``)."""
    from spacy.util import filter_spans

    made, dropped = [], 0
    for span in spans:
        piece = reference.char_span(span["start"] - offset, span["end"] - offset, label=span["label"],
                                    alignment_mode="strict")
        if piece is None:
            dropped += 1
        else:
            made.append(piece)
    if spans_kind == "ner":
        kept = filter_spans(made)
        dropped += len(made) - len(kept)
        reference.ents = kept
    else:
        dropped += sum(len(piece) > SPANCAT_MAX for piece in made)  # beyond the suggester: never found
        reference.spans["sc"] = made
    return dropped


def _cats(record: dict[str, Any], choice_fields: list[ChoiceField]) -> dict[str, float]:
    cats = {}
    for f in choice_fields:
        value = record.get(f.name)
        chosen = set(value) if isinstance(value, list) else ({value} if value is not None else set())
        for choice in f.values:
            cats[cat_label(f.name, choice)] = 1.0 if choice in chosen else 0.0
    return cats


@dataclass
class _Examples:
    whole: list[Any]  # whole articles with spans and classes (initialising, and the classifiers)
    pieces: list[Any]  # paragraph-sized pieces with their spans (the span model)
    dropped: int


def _examples(nlp: Any, gold: GoldSet, ids: Sequence[str], span_field: SpanField | None,
              choice_fields: list[ChoiceField], spans_kind: str) -> _Examples:
    """Whole-article examples, and the span model's: a long article is one update among a
    batch, so a few long articles make a handful of updates per epoch; cut into paragraphs
    they make many, and the span model learns."""
    from spacy.training import Example

    out = _Examples([], [], 0)
    for article in ids:
        record, text = gold.records[article], gold.texts[article]
        doc = nlp.make_doc(text)
        reference = doc.copy()
        spans = (record.get(span_field.name) or []) if span_field is not None else []
        if span_field is not None:
            out.dropped += _reference_spans(reference, spans, 0, spans_kind)
            for a, b in pieces(text, spans):
                piece_doc = nlp.make_doc(text[a:b])
                piece_reference = piece_doc.copy()
                _reference_spans(piece_reference, [s for s in spans if a <= s["start"] and s["end"] <= b], a,
                                 spans_kind)
                out.pieces.append(Example(piece_doc, piece_reference))
        reference.cats = _cats(record, choice_fields)
        out.whole.append(Example(doc, reference))
    return out


def fit(scheme: Scheme, gold: GoldSet, ids: Sequence[str], options: TrainOptions,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> tuple[Any, int, list[dict[str, float]]]:
    """A pipeline trained on the gold articles ``ids``: (nlp, spans not learnt, losses per epoch).

    Each epoch updates the span model on paragraph-sized pieces (``batch_size`` per batch)
    and the classifiers on whole articles (``batch_size`` per batch)."""
    from spacy.util import fix_random_seed, minibatch

    options.check()
    span_field, choice_fields = _fields(scheme)
    fix_random_seed(options.seed)
    seen = {s["label"] for a in ids for s in (gold.records[a].get(span_field.name) or [])} if span_field else None
    nlp = _blank(options, span_field, choice_fields, seen)
    examples = _examples(nlp, gold, ids, span_field, choice_fields, options.spans)
    if not examples.whole:
        raise PreannotateError("no gold article to learn from", hint="label more articles, then `toolkit agree`")
    nlp.initialize(lambda: examples.whole)
    span_pipes = [name for name in nlp.pipe_names if name in ("ner", "spancat")]
    cat_pipes = [name for name in nlp.pipe_names if name.startswith("textcat_")]
    shuffle = random.Random(options.seed)
    history = []
    for epoch in range(options.epochs):
        losses: dict[str, float] = {}
        for pipes, pool, size in ((span_pipes, examples.pieces, options.batch_size),
                                  (cat_pipes, examples.whole, options.batch_size)):
            if not pipes or not pool:
                continue
            order = list(pool)
            shuffle.shuffle(order)
            with nlp.select_pipes(enable=pipes):
                for batch in minibatch(order, size=size):
                    nlp.update(batch, drop=options.dropout, losses=losses)
        history.append({k: round(float(v), 4) for k, v in losses.items()})
        if on_epoch is not None:
            on_epoch(epoch + 1, losses)
    return nlp, examples.dropped, history


def _figures(ws: Workspace, scheme: Scheme, nlp: Any, version: str, gold: GoldSet,
             ids: Sequence[str]) -> dict[str, Any] | None:
    if not ids:
        return None
    from .evaluate import evaluate
    from .suggestions import merge, to_record

    source = PipelineSource.trained(nlp, scheme, version)
    texts = [gold.texts[a] for a in ids]
    # Through merge, as preannotate writes them: spancat's overlapping spans resolved.
    predicted = {a: to_record(merge([s], scheme), scheme, t)
                 for a, s, t in zip(ids, source.suggest_many(texts), texts)}
    return evaluate(scheme, predicted, gold.records, list(ids), bootstrap=ws.config.gold.bootstrap,
                    seed=ws.config.gold.seed)


def train(ws: Workspace, options: TrainOptions = TrainOptions(),
          on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> TrainReport:
    """Train on the train split, measure on validation, save ``models/model-NNNN/``."""
    scheme = Scheme.load(ws.scheme_path)
    gold = load_gold(ws, scheme)
    train_ids, validation_ids = gold.ids("train"), gold.ids("validation")
    if not train_ids:
        raise PreannotateError(f"the release split puts none of the {len(gold)} gold article(s) in train",
                               hint="label more articles (`toolkit agree` decides gold), then train again")
    started = time.perf_counter()
    nlp, dropped, history = fit(scheme, gold, train_ids, options, on_epoch)
    span_field, choice_fields = _fields(scheme)
    version = _next_version(ws)
    figures = _figures(ws, scheme, nlp, version, gold, validation_ids)
    report = TrainReport(version=version, path=f"{MODELS_DIR}/{version}", data_hash=data_hash(gold, train_ids),
                         n_train=len(train_ids), n_validation=len(validation_ids), options=asdict(options),
                         span_field=span_field.name if span_field else None,
                         choice_fields=[f.name for f in choice_fields], dropped_spans=dropped,
                         seconds=round(time.perf_counter() - started, 2), figures=figures, losses=history)
    _save(ws, nlp, report, scheme)
    return report


def _save(ws: Workspace, nlp: Any, report: TrainReport, scheme: Scheme) -> None:
    """Write the model aside, then rename it into place: a model folder is whole or absent."""
    import spacy

    folder = ws.root / MODELS_DIR
    folder.mkdir(exist_ok=True)
    final = folder / str(report.version)
    aside = folder / f".{report.version}.tmp-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    try:
        aside.mkdir()
        nlp.to_disk(aside / PIPELINE)
        meta = {**report.to_dict(), "scheme": scheme.name, "scheme_version": scheme.version,
                "scheme_hash": scheme.hash(), "spacy": spacy.__version__,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomicio.write_json(aside / MODEL_META, meta)
        os.replace(aside, final)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise




# ------------------------------------------------------------------------------ curve


def curve_subset(ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """The first ``fraction`` of ``ids`` in a fixed salted-hash order: the 25 % subset is inside
    the 50 % one, and so on, so each point adds articles to the one before."""
    ranked = sorted(ids, key=lambda a: hashlib.sha256(f"{seed}\0{a}".encode()).hexdigest())
    return sorted(ranked[:max(1, round(len(ranked) * fraction))])


def learning_curve(ws: Workspace, options: TrainOptions = TrainOptions(),
                   fractions: Sequence[float] = (0.25, 0.5, 0.75, 1.0)) -> dict[str, Any]:
    """Validation figures of pipelines trained on growing shares of the train split."""
    scheme = Scheme.load(ws.scheme_path)
    gold = load_gold(ws, scheme)
    train_ids, validation_ids = gold.ids("train"), gold.ids("validation")
    if not train_ids or not validation_ids:
        raise PreannotateError(f"a learning curve needs gold articles in train and validation; the split "
                               f"has {len(train_ids)} and {len(validation_ids)}",
                               hint="label more articles, then `toolkit agree`")
    points = []
    for fraction in fractions:
        subset = curve_subset(train_ids, fraction, options.seed)
        started = time.perf_counter()
        nlp, dropped, _ = fit(scheme, gold, subset, options)
        figures = _figures(ws, scheme, nlp, f"curve-{int(fraction * 100)}", gold, validation_ids)
        points.append({"fraction": fraction, "n_train": len(subset), "seconds": round(time.perf_counter() - started, 2),
                       "dropped_spans": dropped, "figures": figures})
    return {"n_validation": len(validation_ids), "options": asdict(options), "points": points}
