"""``toolkit preannotate``: every article through the chosen sources, one prediction each.

The sources (rules, the latest trained model unless told otherwise, outside pipelines or
functions) look at each article of ``annotations/articles/``; their suggestions are
merged into one Label Studio prediction per article, whose ``model_version`` names them all
(``rules-1a2b3c4d5e+model-0003``), and written to
``annotations/predictions/<model_version>.jsonl``. ``toolkit push`` attaches them.

The file is written aside and renamed into place when complete: an interrupted run leaves
the previous file as it was. An article a source fails on (an outside function raising, a
span outside the text) is named in the report and left without a prediction, the others go
on, and the command exits non-zero.

Two cores: articles go in chunks to worker processes (``jobs``), each with its own copy of
the sources (forked once, not pickled per chunk); the lines come back in article order.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..articles import articles_exist, iter_article_batches, open_articles
from .. import atomicio
from ..errors import PreannotateError
from ..labelstudio.predictions import PREDICTIONS_DIR, record_latest
from ..progress import NullProgress, Progress
from ..scheme import Scheme
from ..workspace import Workspace
from .sources import FunctionSource, LabelMap, PipelineSource, Source
from .suggestions import merge, to_prediction

__all__ = ["PreannotateOptions", "PreannotateReport", "build_sources", "preannotate"]

CHUNK = 256  # articles per piece of work sent to a worker


@dataclass(frozen=True)
class PreannotateOptions:
    rules: bool = True
    model: str | None = "latest"  # a version under models/, "latest", or None for no model
    spacy: tuple[str, ...] = ()  # installed pipelines (package names or paths)
    functions: tuple[str, ...] = ()  # module:function
    label_map: Path | None = None
    jobs: int = 1
    limit: int | None = None  # the first N articles only (trying a source out)


@dataclass
class PreannotateReport:
    model_version: str
    path: str
    sources: list[str]
    articles: int = 0
    predicted: int = 0  # articles with at least one suggestion
    empty: int = 0  # articles no source had anything for
    spans: int = 0
    values: dict[str, int] = field(default_factory=dict)  # field -> articles with a value
    events: int = 0  # suggested events (triggers), every events field
    arguments: int = 0  # suggested arguments and relations (links between regions)
    unmapped_labels: dict[str, int] = field(default_factory=dict)
    unscored_spans: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_sources(ws: Workspace, scheme: Scheme, options: PreannotateOptions) -> list[Source]:
    from .training import latest_model, find_model

    sources: list[Source] = []
    if options.rules:
        from .rules import Rules

        sources.append(Rules.from_workspace(ws, scheme))
    if options.model is not None:
        if options.model == "latest" and latest_model(ws) is None:
            pass  # nothing trained yet: the default quietly goes without
        else:
            sources.append(PipelineSource.load_trained(find_model(ws, options.model), scheme))
    label_map = LabelMap.load(options.label_map, scheme)
    sources += [PipelineSource.installed(name, scheme, label_map) for name in options.spacy]
    sources += [FunctionSource(spec, scheme, label_map) for spec in options.functions]
    if not sources:
        raise PreannotateError("no source of suggestions chosen",
                               hint="leave the rules on, train a model (`toolkit train`), or name --spacy / --function")
    return sources


# Set in the parent before the workers fork, so each worker has the sources without pickling.
_WORK: dict[str, Any] = {}


def _predict_chunk(chunk: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    scheme, sources, version = _WORK["scheme"], _WORK["sources"], _WORK["version"]
    texts = [text for _, text in chunk]
    per_source = []
    for source in sources:
        try:
            per_source.append(list(source.suggest_many(texts)))
        except Exception:  # one article broke the batch: find which, one by one
            per_source.append(None)
    out = []
    for i, (article, text) in enumerate(chunk):
        try:
            answers = [got[i] if got is not None else next(iter(s.suggest_many([text])))
                       for got, s in zip(per_source, sources)]
            out.append((article, to_prediction(scheme, article, text, merge(answers, scheme), version), None))
        except Exception as exc:  # an outside source's bug: name the article, go on
            out.append((article, None, f"{type(exc).__name__}: {exc}"))
    return out


def _chunks(ws: Workspace, limit: int | None) -> Iterator[list[tuple[str, str]]]:
    seen = 0
    for batch in iter_article_batches(ws, CHUNK, ["article_id", "text"]):
        rows = list(zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist()))
        if limit is not None:
            rows = rows[:max(0, limit - seen)]
        seen += len(rows)
        if rows:
            yield rows
        if limit is not None and seen >= limit:
            return


def preannotate(ws: Workspace, options: PreannotateOptions = PreannotateOptions(),
                progress: Progress | None = None) -> PreannotateReport:
    progress = progress or NullProgress()
    if not articles_exist(ws):
        raise PreannotateError(f"{ws.relative(ws.articles_path)}/ does not exist yet", hint="run `toolkit ingest` first")
    scheme = Scheme.load(ws.scheme_path)
    sources = build_sources(ws, scheme, options)
    version = "+".join(s.version for s in sources)
    folder = ws.annotations_dir / PREDICTIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.jsonl"
    report = PreannotateReport(version, ws.relative(path), [s.version for s in sources])
    total = open_articles(ws).num_rows
    progress.start(min(total, options.limit) if options.limit is not None else total, "preannotate")
    _WORK.update(scheme=scheme, sources=sources, version=version)
    jobs = max(1, min(options.jobs, os.cpu_count() or 1))
    triggers = frozenset(f.name for f in scheme.events_fields)
    try:
        with atomicio.atomic_open(path, "w", encoding="utf-8") as out:
            for results in _run(_chunks(ws, options.limit), jobs):
                for article, prediction, problem in results:
                    report.articles += 1
                    if prediction is None:
                        report.problems.append(f"article {article}: {problem}")
                        continue
                    _count(report, prediction, triggers)
                    out.write(atomicio.strict_json(prediction, where=path, indent=None) + "\n")
                progress.advance(len(results))
    finally:
        _WORK.clear()
        progress.finish()
    for source in sources:
        report.unscored_spans += getattr(source, "unscored_spans", 0)
        unmapped = getattr(getattr(source, "label_map", None), "unmapped", None)
        for label, n in (unmapped or {}).items():
            report.unmapped_labels[label] = report.unmapped_labels.get(label, 0) + n
    record_latest(ws, version)
    return report


def _run(chunks: Iterator[list[tuple[str, str]]], jobs: int) -> Iterator[list[Any]]:
    if jobs == 1:
        for chunk in chunks:
            yield _predict_chunk(chunk)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: list[Any] = []
        for chunk in chunks:
            pending.append(pool.submit(_predict_chunk, chunk))
            if len(pending) >= 2 * jobs:  # a bounded window: memory stays flat on any corpus
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _count(report: PreannotateReport, prediction: dict[str, Any], triggers: frozenset[str] = frozenset()) -> None:
    """Add one article's prediction to the report (``triggers``: the events fields' names)."""
    result: Sequence[dict[str, Any]] = prediction["result"]
    if not result:
        report.empty += 1
        return
    report.predicted += 1
    for item in result:
        if item.get("type") == "relation":
            report.arguments += 1
        elif item.get("type") == "labels":
            if item.get("from_name") in triggers:
                report.events += 1
            else:
                report.spans += 1
        else:
            # An event's attribute counts once per event; an article-level field once per article.
            name = str(item.get("from_name"))
            report.values[name] = report.values.get(name, 0) + 1
