"""Models as sources of suggestions: one trained here, an installed spaCy pipeline, or a function.

Every source has a ``version`` (the ``model_version`` its suggestions carry) and
``suggest_many(texts)``, which yields one ``Suggestion`` per text, in order.

- ``PipelineSource.trained``: a pipeline ``toolkit train`` saved under ``models/``. Entity
  scores come from a beam search over the ``ner`` component (the share of the beam's
  probability on parses that hold the span), or from ``spancat``'s own scores; a choice
  field's value is the top label of its text classifier, scored by its probability.
- ``PipelineSource.installed``: any spaCy pipeline a team has, by package name or path. Its
  entity labels (``doc.ents``, and ``doc.spans["sc"]`` when it has a span categorizer) and
  its text categories are mapped onto the scheme by a stated table (``LabelMap``); what the
  table does not map is left out and counted. An outside ``ner`` gives no per-span score:
  its spans are scored 1.0, and the report says so.
- ``FunctionSource``: ``module:function``, called with one text, returning
  ``{"spans": [{"start", "end", "label", "score"?}], "<choice or number field>": value or
  {"value", "score"}}``; labels and values go through the same table.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from ..errors import ModelNotFound, PreannotateError
from ..scheme import ChoiceField, NumberField, Scheme, SpanField
from .suggestions import Span, Suggestion, Value

__all__ = ["Source", "LabelMap", "PipelineSource", "FunctionSource", "BEAM_WIDTH", "MODEL_META", "PIPELINE",
           "read_meta"]

# A model folder under models/: the spaCy pipeline and what toolkit train says about it.
MODEL_META = "model.json"
PIPELINE = "pipeline"

BEAM_WIDTH = 8
# A span the beam gives at least this probability is suggested.
BEAM_THRESHOLD = 0.5


def read_meta(path: Path) -> dict[str, Any]:
    """A saved model's ``model.json``."""
    try:
        return json.loads((path / MODEL_META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"{path / MODEL_META} cannot be read ({exc})",
                            hint="train again with `toolkit train`, or remove the folder") from exc


class Source(Protocol):
    version: str

    def suggest_many(self, texts: Iterable[str]) -> Iterator[Suggestion]: ...


@dataclass
class LabelMap:
    """Outside labels -> the scheme's span labels and choice values. An outside label mapped
    to null (or "" in TOML), or not in the table and not itself a label of the scheme, is left out."""

    table: dict[str, str | None] = field(default_factory=dict)
    unmapped: Counter = field(default_factory=Counter)

    @classmethod
    def load(cls, path: Path | None, scheme: Scheme) -> "LabelMap":
        if path is None:
            return cls()
        try:
            raw = path.read_text(encoding="utf-8")
            data = tomllib.loads(raw) if path.suffix == ".toml" else json.loads(raw)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise PreannotateError(f"{path}: the label map cannot be read ({exc})",
                                   hint="write a JSON or TOML table: outside label = scheme label (or null)") from exc
        if not isinstance(data, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                                 for k, v in data.items()):
            raise PreannotateError(f"{path}: the label map must be a flat table of outside label -> scheme "
                                   "label or null", hint='e.g. {"PER": "PERSON", "LOC": "GPE", "MISC": null}')
        data = {k: (v or None) for k, v in data.items()}  # TOML has no null: "" leaves a label out too
        known = _scheme_values(scheme)
        wrong = sorted(v for v in data.values() if v is not None and v not in known)
        if wrong:
            raise PreannotateError(f"{path}: maps onto {', '.join(map(repr, wrong))}, which the scheme does not have",
                                   hint="map onto labels and choices of schemas/scheme.json, or null to leave out")
        return cls(dict(data))

    def __call__(self, label: str, allowed: Iterable[str]) -> str | None:
        target = self.table.get(label, label) if label in self.table else (label if label in allowed else None)
        if target is None or target not in allowed:
            self.unmapped[label] += 1
            return None
        return target


def _scheme_values(scheme: Scheme) -> set[str]:
    return {v for f in scheme.fields if isinstance(f, (SpanField, ChoiceField)) for v in f.values}


def _beam_scores(ner: Any, docs: list[Any]) -> list[dict[tuple[int, int, str], float]]:
    """Per doc: (start token, end token, label) -> the beam's probability of that entity."""
    beams = ner.beam_parse(docs, beam_width=BEAM_WIDTH, beam_density=0.0001)
    out = []
    for beam in beams:
        scores: dict[tuple[int, int, str], float] = defaultdict(float)
        for probability, entities in ner.moves.get_beam_parses(beam):
            for start, end, label in entities:
                scores[(start, end, label)] += probability
        out.append(scores)
    return out


class PipelineSource:
    """Suggestions from a spaCy pipeline."""

    def __init__(self, nlp: Any, scheme: Scheme, version: str, *, trained_here: bool,
                 label_map: LabelMap | None = None, batch_size: int = 32) -> None:
        self.nlp, self.scheme, self.version = nlp, scheme, version
        self.trained_here, self.batch_size = trained_here, batch_size
        self.label_map = label_map or LabelMap()
        self.span_field = next((f for f in scheme.fields if isinstance(f, SpanField)), None)
        self.choice_fields = [f for f in scheme.fields if isinstance(f, ChoiceField)]
        self.unscored_spans = 0  # spans that came without a score of their own (outside ner)

    @classmethod
    def trained(cls, nlp: Any, scheme: Scheme, version: str) -> "PipelineSource":
        return cls(nlp, scheme, version, trained_here=True)

    @classmethod
    def load_trained(cls, path: Path, scheme: Scheme) -> "PipelineSource":
        import spacy

        meta = read_meta(path)
        if meta.get("scheme_hash") not in (None, scheme.hash()):
            # Labels may have been renamed or removed since: the model would suggest values the
            # scheme no longer has.
            raise PreannotateError(f"{path.name} was trained with another version of the scheme",
                                   hint="train again with `toolkit train`")
        try:
            nlp = spacy.load(path / PIPELINE)
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"{path / PIPELINE} cannot be loaded ({exc})",
                                hint="train again with `toolkit train`, or remove the folder") from exc
        return cls(nlp, scheme, path.name, trained_here=True)

    @classmethod
    def installed(cls, name: str, scheme: Scheme, label_map: LabelMap) -> "PipelineSource":
        import spacy

        try:
            nlp = spacy.load(name)
        except (OSError, ImportError, ValueError) as exc:
            raise ModelNotFound(f"spaCy pipeline {name!r} cannot be loaded ({exc})",
                                hint="install the pipeline's package, or give the path of a saved pipeline") from exc
        meta = getattr(nlp, "meta", {}) or {}
        version = f"spacy-{meta.get('name', Path(name).name)}-{meta.get('version', '0')}"
        return cls(nlp, scheme, version.replace("/", "_"), trained_here=False, label_map=label_map)

    def suggest_many(self, texts: Iterable[str]) -> Iterator[Suggestion]:
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) >= self.batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, texts: list[str]) -> list[Suggestion]:
        beam_ner = self.trained_here and "ner" in self.nlp.pipe_names
        disable = ["ner"] if beam_ner else []
        docs = list(self.nlp.pipe(texts, disable=disable))
        beams = _beam_scores(self.nlp.get_pipe("ner"), [self.nlp.make_doc(t) for t in texts]) if beam_ner else None
        return [self._suggestion(doc, beams[i] if beams is not None else None) for i, doc in enumerate(docs)]

    def _suggestion(self, doc: Any, beam: dict[tuple[int, int, str], float] | None) -> Suggestion:
        suggestion = Suggestion()
        f = self.span_field
        if f is not None:
            allowed = set(f.values)
            candidates: list[tuple[int, int, str, float]] = []
            if beam is not None:
                candidates = [(s, e, label, p) for (s, e, label), p in beam.items() if p >= BEAM_THRESHOLD]
            else:
                for ent in doc.ents:
                    candidates.append((ent.start, ent.end, ent.label_, 1.0))
                    self.unscored_spans += not self.trained_here
                group = doc.spans.get("sc") if hasattr(doc.spans, "get") else None
                if group is not None:
                    scores = group.attrs.get("scores")
                    for i, span in enumerate(group):
                        score = float(scores[i]) if scores is not None else 1.0
                        candidates.append((span.start, span.end, span.label_, score))
            for start, end, label, score in candidates:
                target = self.label_map(label, allowed)
                if target is None:
                    continue
                span = doc[start:end]
                if span.end_char > span.start_char:
                    suggestion.spans.append(Span(f.name, span.start_char, span.end_char, target, min(1.0, score),
                                                 f"model:{self.version}"))
        cats = doc.cats or {}
        for choice in self.choice_fields:
            allowed = set(choice.values)
            scored: dict[str, float] = {}
            for label, score in cats.items():
                name, sep, value = label.partition("=")
                if self.trained_here:
                    if sep and name == choice.name:
                        scored[value] = float(score)
                else:
                    target = self.label_map(label, allowed)
                    if target is not None:
                        scored[target] = max(scored.get(target, 0.0), float(score))
            if not scored:
                continue
            if choice.multiple:
                chosen = sorted(v for v, s in scored.items() if s >= 0.5)
                if chosen:
                    suggestion.values.append(Value(choice.name, chosen, min(scored[v] for v in chosen),
                                                   f"model:{self.version}"))
            else:
                best = max(sorted(scored), key=lambda v: scored[v])
                suggestion.values.append(Value(choice.name, best, scored[best], f"model:{self.version}"))
        return suggestion


class FunctionSource:
    """Suggestions from a Python function ``module:function`` (one text in, one dict out)."""

    def __init__(self, spec: str, scheme: Scheme, label_map: LabelMap) -> None:
        module_name, _, name = spec.partition(":")
        if not module_name or not name:
            raise PreannotateError(f"--function {spec!r} is not module:function",
                                   hint="e.g. --function mypackage.suggest:annotate")
        try:
            # The folder the command runs in holds a team's own modules (console scripts do not
            # put it on the path by themselves).
            if os.getcwd() not in sys.path:
                sys.path.append(os.getcwd())
            function = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError) as exc:
            raise ModelNotFound(f"--function {spec!r} cannot be imported ({exc})",
                                hint="install the module, or run the command in the folder that holds it") from exc
        if not callable(function):
            raise PreannotateError(f"--function {spec!r} is not callable")
        self.function: Callable[[str], Any] = function
        self.scheme, self.label_map = scheme, label_map
        self.version = "fn-" + spec.replace(":", "-").replace("/", "_")

    def suggest_many(self, texts: Iterable[str]) -> Iterator[Suggestion]:
        for text in texts:
            yield self.suggest(text)

    def suggest(self, text: str) -> Suggestion:
        answer = self.function(text)
        if not isinstance(answer, dict):
            raise PreannotateError(f"{self.version} returned {type(answer).__name__}, not a dict")
        suggestion = Suggestion()
        source = f"function:{self.version}"
        span_fields = [f for f in self.scheme.fields if isinstance(f, SpanField)]
        for item in answer.get("spans") or []:
            try:
                start, end, label = int(item["start"]), int(item["end"]), str(item["label"])
                score = float(item.get("score", 1.0))
            except (KeyError, TypeError, ValueError) as exc:
                raise PreannotateError(f"{self.version}: span {item!r} needs start, end and label ({exc})") from exc
            f = next((f for f in span_fields if item.get("field", f.name) == f.name), None)
            if f is None:
                continue
            target = self.label_map(label, f.values)
            if target is not None:
                suggestion.spans.append(Span(f.name, start, end, target, score, source))
        for f in self.scheme.fields:
            if f.name not in answer or not isinstance(f, (ChoiceField, NumberField)):
                continue
            given = answer[f.name]
            value, score = (given.get("value"), float(given.get("score", 1.0))) if isinstance(given, dict) else (given, 1.0)
            if value is None:
                continue
            if isinstance(f, ChoiceField):
                values = value if isinstance(value, list) else [value]
                mapped = [m for v in values if (m := self.label_map(str(v), f.values)) is not None]
                if not mapped:
                    continue
                value = mapped if f.multiple else mapped[0]
            suggestion.values.append(Value(f.name, value, score, source))
        return suggestion
