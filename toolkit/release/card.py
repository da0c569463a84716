"""The documents of a release: dataset card (README.md), DATASHEET.md, CHANGELOG.md, plots.

Everything is rendered from the release context that ``toolkit.release`` gathers (real
counts from the data written, the other stages' reports), never from hand-kept text. The
card's YAML front matter declares the configs, data files and features, so that
``datasets.load_dataset(folder, config)`` reads the typed features offline. With an events
field the card has a section per events config (events per type and split, arguments per
role), and when the scheme's version differs from the previous release's, the card and
the datasheet say what the change did (fields removed, added, changed). Splits stratified by
an events field (the articles' main event type) get a table of articles per stratum and split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..scheme import ChoiceField, EventsField, NumberField, RelationsField, SpanField, TextField

SPLITS = ("train", "validation", "test")


# ------------------------------------------------------------------------- helpers


def _n(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return _n(value).replace("|", "\\|").replace("\n", " ")


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def _splits_present(ctx: dict[str, Any], config: str) -> list[str]:
    return [s for s in SPLITS if ctx["files"].get(config, {}).get(s)]


def _total(ctx: dict[str, Any]) -> int:
    return sum(ctx["stats"]["articles"].values())


def _rows(ctx: dict[str, Any], config: str, split: str) -> int:
    """Rows of one config and split: articles, or events for an events config."""
    rows = (ctx.get("rows") or {}).get(config)
    return rows[split] if rows is not None else ctx["stats"]["articles"][split]


def _headline_rows(ctx: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for h in ctx.get("agreement_headline") or []:
        ci = (f"[{_n(h.get('ci_low'))}, {_n(h.get('ci_high'))}]"
              if h.get("ci_low") is not None else "–")
        rows.append([h.get("field"), h.get("metric"), h.get("value"), ci, h.get("n")])
    return rows


# ---------------------------------------------------------------------------- card


def card_metadata(ctx: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter: Hub metadata, configs with data files, features per config."""
    project = ctx["project"]
    configs, infos = [], []
    for config, features in ctx["feature_objects"].items():
        splits = _splits_present(ctx, config)
        if not splits:
            continue
        entry: dict[str, Any] = {"config_name": config,
                                 "data_files": [{"split": s, "path": f"{config}/{s}-*.parquet"} for s in splits]}
        if config == "documents":
            entry["default"] = True
        configs.append(entry)
        infos.append({
            "config_name": config,
            "features": features._to_yaml_list(),
            # name, num_bytes and num_examples: datasets ignores a split entry without all three.
            "splits": [{"name": s, "num_bytes": ctx.get("file_bytes", {}).get(config, {}).get(s, 0),
                        "num_examples": _rows(ctx, config, s)} for s in splits],
        })
    languages = [lang for lang in ctx["stats"]["languages"] if lang != "(unknown)"]
    tasks = ["text-classification"] + (["token-classification"] if ctx.get("ner_field") else [])
    meta: dict[str, Any] = {
        "pretty_name": project["title"],
        "license": project["license"] or "other",
        "size_categories": [_size_category(_total(ctx))],
        "task_categories": tasks,
        "task_ids": ["multi-class-classification"] + (["named-entity-recognition"] if ctx.get("ner_field") else []),
        "tags": ["toolkit", f"scheme-{ctx['scheme'].name}"],
        "configs": configs,
        "dataset_info": infos,
    }
    if languages:
        meta["language"] = languages
    return meta


def _field_rows(ctx: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for f in ctx["scheme"].fields:
        if isinstance(f, TextField):
            rows.append([f.name, "free text", "not published (annotator notes)", f.description])
            continue
        if isinstance(f, EventsField):
            roles = ", ".join(f"{r.value} ({'/'.join(r.labels)}{', at most one' if r.unique else ''})"
                              for r in f.roles)
            rows.append([f.name, "events (trigger, arguments, attributes)",
                         f"trigger {f.trigger.value}; roles: {roles or 'none'}; attributes: "
                         f"{_attributes_text(f.attributes, type_attribute=f.type_attribute) or 'none'}",
                         f.description])
            continue
        if isinstance(f, RelationsField):
            values = ", ".join(f"{r.value} ({'/'.join(r.head) or 'any'} {'->' if r.directed else '--'} "
                               f"{'/'.join(r.tail) or 'any'})" for r in f.relations)
            rows.append([f.name, "relations between spans", values, f.description])
            continue
        if isinstance(f, (SpanField, ChoiceField)):
            values = ", ".join(f.values)
            kind = "entity spans" if isinstance(f, SpanField) else (
                "choices (several)" if f.multiple else "one choice")
            if isinstance(f, SpanField) and f.attributes:
                values += f"; attributes: {_attributes_text(f.attributes)}"
        else:
            assert isinstance(f, NumberField)
            values = "integer" if f.integer else "number"
            kind = "number (null when not stated)"
        rows.append([f.name, kind, values, f.description])
    return rows


def _attributes_text(attributes: tuple[Any, ...], *, type_attribute: str | None = None) -> str:
    """"attack_type (the type: A, B), killed (integer), ..." of span or event attributes."""
    parts = []
    for a in attributes:
        f = a.field
        if isinstance(f, ChoiceField):
            what = ("the type: " if a.name == type_attribute else "several of: " if f.multiple else "") \
                + ", ".join(f.values)
        elif isinstance(f, NumberField):
            what = "integer" if f.integer else "number"
        else:
            what = "text"
        labels = f" for {'/'.join(a.labels)}" if a.labels else ""
        parts.append(f"{a.name} ({what}{labels})")
    return ", ".join(parts)


def _split_table(ctx: dict[str, Any]) -> str:
    stats = ctx["stats"]
    rows = [[s, stats["articles"][s], ctx["clusters"][s], stats["tokens"][s]] for s in SPLITS]
    rows.append(["**total**", _total(ctx), sum(ctx["clusters"].values()), sum(stats["tokens"].values())])
    table = _table(["split", "articles", "near-duplicate clusters", "tokens (ner)"], rows)
    events = _stratifying_events(ctx)
    if events is None:
        return table
    return table + "\n\n" + _strata_table(ctx, events)


def _stratifying_events(ctx: dict[str, Any]) -> EventsField | None:
    """The events field the splits were stratified by (by its articles' main event type), if any."""
    name = ctx.get("stratify_field")
    if not name or name not in ctx["scheme"].field_names:
        return None
    f = ctx["scheme"].field(name)
    return f if isinstance(f, EventsField) and f.type_attribute else None


def _events_stratum_text(f: EventsField) -> str:
    return f"the articles' main event type (`{f.name}.{f.type_attribute}`)"


def _strata_table(ctx: dict[str, Any], f: EventsField) -> str:
    """Articles per stratum (main event type, ``no event``) and split: what the plan cut."""
    strata = ctx.get("strata") or {}
    rows = [[name] + [counts.get(s, 0) for s in SPLITS] + [sum(counts.get(s, 0) for s in SPLITS)]
            for name, counts in strata.items()]
    rows.append(["**total**", *(sum(c.get(s, 0) for c in strata.values()) for s in SPLITS),
                 sum(sum(c.get(s, 0) for s in SPLITS) for c in strata.values())])
    return (f"Articles per stratum: {_events_stratum_text(f)}, the type most of an article's gold events "
            f"have (ties: the first in the scheme's order), `no event` for an article without a gold event"
            f"{', `no type` for one whose events have no type' if 'no type' in strata else ''}.\n\n"
            + _table([f"main `{f.type_attribute}`", *SPLITS, "total"], rows))


def _label_tables(ctx: dict[str, Any]) -> str:
    out = []
    for name, by_split in ctx["stats"]["labels"].items():
        labels = sorted({label for counts in by_split.values() for label in counts})
        rows = [[label] + [by_split[s].get(label, 0) for s in SPLITS]
                + [sum(by_split[s].get(label, 0) for s in SPLITS)] for label in labels]
        out.append(f"**{name}**\n\n" + _table(["value", *SPLITS, "total"], rows))
    for name, n in ctx["stats"]["numbers"].items():
        out.append(f"**{name}**: given for {_n(n['n'])} articles; mean {_n(n['mean'])}, max {_n(n['max'])}, "
                   f"zero in {_n(n['zero'])}.")
    return "\n\n".join(out)


def _events_section(ctx: dict[str, Any], config: str) -> str:
    """How many events an events config holds, per type and split, and arguments per role."""
    figures = ctx["stats"]["events"][config]
    events, articles = figures["events"], figures["articles"]
    total = sum(events.values())
    parts = [
        f"### `{config}`",
        f"{_n(total)} gold event(s) of field `{figures['field']}` in {_n(sum(articles.values()))} article(s) "
        f"(train {_n(events['train'])}, validation {_n(events['validation'])}, test {_n(events['test'])}). One "
        f"row per event: `article_id`, `event_id` (`<article_id>-e<n>`, n counting the article's events in "
        f"the order of their triggers, from 1), `split`, "
        + (f"`{figures['type']}` (the type), " if figures.get("type") else "")
        + "`trigger` (start, end, text), `arguments` (role, entity label, start, end, text) and the event's "
        "other attributes. Each event is in the split of its article, so the `documents` and "
        f"`{config}` configs never mix splits.",
        f"```python\nfrom datasets import load_dataset\n{config} = load_dataset(\"ORG/NAME\", \"{config}\")\n```",
    ]
    if figures.get("type"):
        types = sorted({t for counts in figures["types"].values() for t in counts})
        rows = [[t] + [figures["types"][s].get(t, 0) for s in SPLITS]
                + [sum(figures["types"][s].get(t, 0) for s in SPLITS)] for t in types]
        rows.append(["**total**", *(events[s] for s in SPLITS), total])
        parts.append(f"Events per `{figures['type']}`:\n\n" + _table(["type", *SPLITS, "total"], rows))
    roles = sorted({r for counts in figures["roles"].values() for r in counts})
    if roles:
        rows = [[r] + [figures["roles"][s].get(r, 0) for s in SPLITS]
                + [sum(figures["roles"][s].get(r, 0) for s in SPLITS)] for r in roles]
        parts.append("Arguments per role:\n\n" + _table(["role", *SPLITS, "total"], rows))
    else:
        parts.append("No event has an argument.")
    for name, n in figures["numbers"].items():
        parts.append(f"**{name}**: given for {_n(n['n'])} event(s); total {_n(n['sum'])}, max {_n(n['max'])}.")
    return "\n\n".join(parts)


def _events_sections(ctx: dict[str, Any]) -> str:
    configs = [c for c in (ctx["stats"].get("events") or {}) if _splits_present(ctx, c)]
    if not configs:
        return ""
    return "## Events\n\n" + "\n\n".join(_events_section(ctx, c) for c in configs)


def scheme_change_text(ctx: dict[str, Any]) -> str:
    """What the scheme change did, when this release's scheme version differs from the previous
    release's ("" otherwise)."""
    previous = (ctx.get("previous_manifest") or {}).get("scheme") or {}
    scheme = ctx["scheme"]
    if not previous or (previous.get("name"), previous.get("version")) == (scheme.name, scheme.version):
        return ""
    diff = ctx.get("diff") or {}
    changes = diff.get("scheme") or {}
    lines = [f"The scheme changed since {diff.get('previous') or 'the previous release'}: `{previous.get('name')}` "
             f"version {previous.get('version')} -> `{scheme.name}` version {scheme.version}. Columns of removed "
             f"or changed fields are no longer in the `documents` config; the previous release keeps them.", ""]
    for key, title in (("removed", "removed"), ("changed", "changed"), ("added", "added")):
        if changes.get(key):
            lines.append(f"- {title}: " + "; ".join(changes[key]))
    if not any(changes.get(k) for k in ("removed", "changed", "added")):
        lines.append("- no field, label, role or attribute was added, removed or changed (descriptions only).")
    return "\n".join(lines)


def _agreement_section(ctx: dict[str, Any]) -> str:
    rows = _headline_rows(ctx)
    agreement = ctx["stats"]["agreement"]
    parts = []
    if rows:
        parts.append(_table(["field", "metric", "value", "95% CI", "n"], rows))
    else:
        parts.append("No `annotations/agreement.json` was found when this release was made, so no "
                     "inter-annotator agreement figures are given.")
    if _stratifying_events(ctx) is not None:
        parts.append("The `agreement` column is null: it is given for an article-level single choice only, "
                     "and the splits of this release are stratified by an events field.")
    elif ctx.get("stratify_field"):
        parts.append(
            f"The `agreement` column of each article is the share of its annotators whose "
            f"`{ctx['stratify_field']}` answer equals the gold one; it is null when the gold value comes from a "
            f"ground-truth (reviewer) annotation. Mean over {_n(agreement['n'])} articles: "
            f"{_n(agreement['mean'])}.")
    return "\n\n".join(parts)


def _suggestions_sentence(section: dict[str, Any] | None) -> str:
    """Whether annotators labelled from machine suggestions (pre-annotation), and how often they
    kept them as they were: a user of the data should know the labels may lean towards them."""
    groups = (section or {}).get("groups")
    if not groups:
        return "Annotators labelled from a blank page: no machine suggestions (pre-annotation) were pulled."
    with_, without = groups.get("with", {}), groups.get("without", {})
    accepted = with_.get("accepted_unchanged") or {}
    kept = (f"{100 * accepted['value']:.1f} % of those answers kept the suggestion unchanged"
            if accepted.get("value") is not None else "how often they were kept unchanged is not known")
    return (f"Machine suggestions (`toolkit preannotate`) were shown on {_n(with_.get('articles'))} article(s) "
            f"({_n(with_.get('annotations'))} answers) and withheld on {_n(without.get('articles'))} "
            f"({_n(without.get('annotations'))} answers); {kept}. Labels may lean towards the suggestions "
            "(anchoring): `annotations/agreement.md` compares agreement and gold accuracy with and without them.")


def render_card(ctx: dict[str, Any]) -> str:
    project, scheme, stats = ctx["project"], ctx["scheme"], ctx["stats"]
    front = yaml.safe_dump(card_metadata(ctx), sort_keys=False, allow_unicode=True, width=1000)
    ner = ctx.get("ner_field")
    load = ['ds = load_dataset("ORG/NAME", "documents")  # or a local path to this folder']
    if ner:
        load.append('ner = load_dataset("ORG/NAME", "ner")')
    event_configs = [c for c in (ctx.get("events_configs") or {}) if _splits_present(ctx, c)]
    load += [f'{c} = load_dataset("ORG/NAME", "{c}")' for c in event_configs]
    change = scheme_change_text(ctx)
    events_stratum = _stratifying_events(ctx)
    ingest = ctx.get("ingest") or {}
    counts = ctx.get("annotation_counts") or {}
    citation = (f"@misc{{{project['name'].replace('-', '_')}_{ctx['version'].replace('.', '_')},\n"
                f"  title = {{{project['title']}}},\n  version = {{{ctx['version']}}},\n"
                f"  year = {{{ctx['created'][:4]}}},\n  note = {{Released with toolkit {ctx['toolkit_version']}}}\n}}")
    sections = [
        f"---\n{front}---",
        f"# {project['title']} (v{ctx['version']})",
        project["description"] or f"News articles annotated with the `{scheme.name}` scheme.",
        f"{_n(_total(ctx))} articles, each with gold labels decided from several annotators. Released "
        f"{ctx['created'][:10]}; see [DATASHEET.md](DATASHEET.md) for the full datasheet and "
        f"[CHANGELOG.md](CHANGELOG.md) for what changed.",
        "```python\nfrom datasets import load_dataset\n" + "\n".join(load) + "\n```",
        "## Task",
        "- **documents**: one row per article with its gold labels: "
        + ", ".join(f"`{f.name}`" for f in scheme.fields if not isinstance(f, TextField))
        + ". Use it for document classification or span extraction.",
        (f"- **ner**: the same articles as tokens with BIO `ner_tags` from `{ner}`, for token classification; "
         f"`conll/{{split}}.txt` holds the same as CoNLL-2003 text (`token -X- _ tag`)." if ner else ""),
        "\n".join(f"- **{c}**: one row per gold event of field `{ctx['events_configs'][c]}`, with its trigger, "
                  f"arguments and attributes, in the split of its article; for event extraction."
                  if c in event_configs else
                  f"- **{c}**: not in this release: no released article has a gold event of field "
                  f"`{ctx['events_configs'][c]}`."
                  for c in ctx.get("events_configs") or {}),
        "## Scheme",
        f"Scheme `{scheme.name}` version {scheme.version} (sha256 `{ctx['scheme_hash'][:16]}…`, full text in "
        f"`scheme.json`). {scheme.description}",
        _table(["field", "kind", "values", "description"], _field_rows(ctx)),
        "Class ids follow the order of the values above (`ClassLabel`); spans are character offsets "
        "(Python code points) into `text`."
        + (" In an events config, `arguments.label` is the class id of the argument's span label among "
           f"{', '.join(scheme.span_labels)}." if event_configs else ""),
        change,
        _events_sections(ctx),
        "## Collection",
        f"Articles were scraped from {len(stats['sources'])} source(s), published "
        f"{stats['published']['min'] or '?'} to {stats['published']['max'] or '?'} "
        f"({_n(stats['published']['undated'])} without a date). Ingest read {_n(ingest.get('documents_read'))} "
        f"documents, removed {_n(ingest.get('exact_duplicates'))} exact duplicates and rejected "
        f"{_n(ingest.get('rejected'))}; near-duplicates are kept and grouped into clusters.",
        "## Annotation process",
        f"Annotated in Label Studio by {_n(counts.get('annotators'))} annotator(s) "
        f"({_n(counts.get('annotations'))} submitted annotations). Gold labels follow the policy in "
        f"`toolkit.toml` `[gold]`: ground truth wins, else majority vote per field; articles with a tie "
        f"stay unresolved and are **not** in this release ({_n(ctx['unresolved']['count'])} held back).",
        "## Agreement",
        _agreement_section(ctx),
        "## Splits",
        _split_table(ctx),
        "Deterministic: each near-duplicate cluster goes whole to one split (no leakage of syndicated copies "
        "between train and test), clusters are "
        + (f"stratified by {_events_stratum_text(events_stratum)} and " if events_stratum is not None else
           f"stratified by `{ctx['stratify_field']}` and " if ctx.get("stratify_field") else
           "not stratified (the scheme has no article-level single choice) but ")
        + "ordered by a salted hash of the cluster id, "
        f"then cut at train {ctx['options']['train']} / validation {ctx['options']['validation']} / "
        f"test {ctx['options']['test']} (salt `{ctx['options']['seed']}`).",
        "## Limitations",
        _limitations(ctx),
        "## License",
        f"`{project['license']}`. The article texts remain the property of their publishers; check the "
        f"terms of each source before redistribution.",
        "## Citation",
        f"```bibtex\n{citation}\n```",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _limitations(ctx: dict[str, Any]) -> str:
    items = [
        "News coverage over-represents some places, outlets and kinds of events; the label distribution "
        "below reflects what was scraped, not the world.",
        "Gold labels come from a small number of annotators per article; see the agreement figures.",
        f"{_n(ctx['unresolved']['count'])} article(s) whose annotators disagreed were held back, which may "
        "remove the hardest cases.",
    ]
    conv = ctx.get("ner_conversion") or {}
    if conv.get("widened") or conv.get("dropped_overlap"):
        items.append(f"In the `ner` config {_n(conv.get('widened'))} span(s) were widened to whole tokens and "
                     f"{_n(conv.get('dropped_overlap'))} overlapping span(s) dropped (BIO cannot nest); the "
                     f"`documents` config keeps every gold span as annotated.")
    if ctx.get("gold_without_article"):
        items.append(f"{_n(ctx['gold_without_article'])} gold row(s) refer to articles missing from "
                     "the articles table and were left out.")
    return "\n".join(f"- {item}" for item in items)


# ------------------------------------------------------------------------ datasheet


def render_datasheet(ctx: dict[str, Any], *, prefix: str = "") -> str:
    """The seven sections of *Datasheets for Datasets* (Gebru et al., 2021), with real figures.

    ``prefix`` is put before links to files of the release (for the workspace's copy).
    """
    project, stats, scheme = ctx["project"], ctx["stats"], ctx["scheme"]
    ingest = ctx.get("ingest") or {}
    counts = ctx.get("annotation_counts") or {}
    quarantine = ctx.get("quarantine") or {}
    plots = ctx.get("plots") or {}
    sources = list(stats["sources"].items())
    source_rows = [[name, n] for name, n in sources[:15]]
    if len(sources) > 15:
        source_rows.append([f"({len(sources) - 15} more)", sum(n for _, n in sources[15:])])
    reasons = [[r, n] for r, n in ctx["unresolved"]["reasons"].items()]
    images = "\n\n".join(f"![{title}]({prefix}{path})" for title, path in plots.items())
    exports = ctx.get("exports") or []
    sections = [
        f"# Datasheet: {project['title']} v{ctx['version']}",
        f"Filled in by `toolkit release` on {ctx['created'][:10]} from the data in "
        f"[`{prefix or './'}`]({prefix or './'}), following *Datasheets for Datasets* (Gebru et al., 2021).",
        "## Motivation",
        f"{project['description'] or 'A dataset of annotated news articles.'} It was created to train and "
        f"evaluate models that find the entities and classify the events described in news text, with labels "
        f"defined by the scheme `{scheme.name}` (v{scheme.version}).",
        scheme_change_text(ctx),
        "## Composition",
        f"Each instance is one news article (title, text, publication date, source URL) with gold labels. "
        f"{_n(_total(ctx))} articles are released; {_n(ctx['unresolved']['count'])} annotated articles were "
        f"held back as unresolved"
        + (":" if reasons else ".")
        + ("\n\n" + _table(["reason", "articles"], reasons) if reasons else ""),
        _split_table(ctx),
        "Labels per split:",
        _label_tables(ctx),
        _datasheet_events(ctx),
        images,
        f"Publication dates: {stats['published']['min'] or '?'} to {stats['published']['max'] or '?'} "
        f"({_n(stats['published']['undated'])} undated). Languages: "
        + ", ".join(f"{k} ({_n(v)})" for k, v in stats["languages"].items()) + ".",
        "Sources:",
        _table(["source", "articles"], source_rows) if source_rows else "(none recorded)",
        "The texts are news reports of violent events and name real people (victims, suspects, officials): "
        "they may be offensive or distressing, and contain personal information that was already public.",
        "## Collection process",
        f"Articles were scraped from the sources above and ingested with `toolkit ingest`: "
        f"{_n(ingest.get('files_read'))} files, {_n(ingest.get('documents_read'))} documents read, "
        f"{_n(ingest.get('exact_duplicates'))} exact duplicates removed, {_n(ingest.get('rejected'))} rejected "
        f"({', '.join(f'{k}: {v}' for k, v in (ingest.get('rejected_by_reason') or {}).items()) or 'none'}), "
        f"{_n(ingest.get('near_duplicate_clusters'))} near-duplicate clusters covering "
        f"{_n(ingest.get('articles_in_clusters'))} articles.",
        "Annotation snapshots that went into this release:\n\n"
        + (_table(["snapshot", "sha256", "tasks"], [[e.get("file"), (e.get("sha256") or "")[:16] + "…",
                                                      e.get("tasks")] for e in exports])
           if exports else "(no pull snapshot recorded)"),
        "## Preprocessing, cleaning, labeling",
        f"Encoding repaired, boilerplate stripped, article ids derived from the cleaned text. Labeled in "
        f"Label Studio by {_n(counts.get('annotators'))} annotator(s): {_n(counts.get('annotations'))} submitted "
        f"and {_n(counts.get('cancelled'))} cancelled annotations. Records that failed validation were "
        f"quarantined, not used: "
        + (", ".join(f"{_n(v)} {k}" for k, v in quarantine.items()) if quarantine else "none") + ".",
        _suggestions_sentence(ctx.get("suggestions")),
        "Annotators per released article:\n\n"
        + _table(["annotators", "articles"], [[k, v] for k, v in stats["annotators_per_article"].items()]),
        "How gold labels were decided:\n\n"
        + _table(["decided by", "articles"], [[k, v] for k, v in stats["decided_by"].items()]),
        "Agreement:\n\n" + _agreement_section(ctx),
        "## Uses",
        "Training and evaluating named-entity recognition and event classification on news text; studying "
        "annotation agreement. Not for decisions about individuals, nor as a record of what happened: the "
        "labels describe what the articles report.",
        "## Distribution",
        f"As a folder of Parquet files with a dataset card, laid out as a Hugging Face dataset repository, "
        f"under the license `{project['license']}`; checksums in `manifest.json` (`toolkit verify`), "
        f"Croissant metadata in `croissant.json`.",
        "## Maintenance",
        f"Maintained in the project's workspace; each release is immutable and versioned (this is "
        f"v{ctx['version']}: {ctx['reason']}). Errors are fixed in a new patch release; see CHANGELOG.md.",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _datasheet_events(ctx: dict[str, Any]) -> str:
    """One sentence per events config: events per split, and where to find the details."""
    out = []
    for config, figures in (ctx["stats"].get("events") or {}).items():
        events = figures["events"]
        roles = sum(n for counts in figures["roles"].values() for n in counts.values())
        out.append(f"Events (`{config}` config, field `{figures['field']}`): {_n(sum(events.values()))} gold "
                   f"event(s) in {_n(sum(figures['articles'].values()))} article(s), train {_n(events['train'])}, "
                   f"validation {_n(events['validation'])}, test {_n(events['test'])}, with {_n(roles)} "
                   "argument(s); the dataset card gives them per type and role.")
    return "\n\n".join(out)


# ------------------------------------------------------------------------ changelog


def render_changelog(ctx: dict[str, Any]) -> str:
    diff = ctx.get("diff")
    lines = [f"# Changelog: v{ctx['version']}", "",
             f"Released {ctx['created'][:10]}. Version reason: {ctx['reason']}.", ""]
    if diff is None:
        lines.append(f"First release: {_n(_total(ctx))} articles.")
        return "\n".join(lines) + "\n"
    if diff.get("error"):
        lines.append(diff["error"])
        return "\n".join(lines) + "\n"
    prev = diff["previous"]
    scheme = diff["scheme"]
    lines += [f"Compared with **{prev}**.", "", "## Summary", "",
              _table(["change", "count"], [
                  ["articles added", diff["articles_added"]], ["articles removed", diff["articles_removed"]],
                  *[[f"`{name}` changed", n] for name, n in diff["changed_counts"].items() if name != "split"],
                  ["gold spans added", diff["spans_added"]], ["gold spans removed", diff["spans_removed"]],
                  ["articles whose spans changed", diff["spans_changed_articles"]],
                  ["articles that moved split", diff["changed_counts"].get("split", 0)],
              ]), ""]
    if scheme["added"] or scheme["removed"] or scheme.get("changed"):
        lines += ["## Scheme", ""] + [f"- removed: {x}" for x in scheme["removed"]] \
            + [f"- changed: {x}" for x in scheme.get("changed", [])] \
            + [f"- added: {x}" for x in scheme["added"]] + [""]
    note = f" (first {ctx.get('changelog_rows', 200)} listed)"
    for title, key, count in (("Articles added", "added", "articles_added"),
                              ("Articles removed", "removed", "articles_removed")):
        if diff[count]:
            lines += [f"## {title}" + (note if diff[count] > len(diff[key]) else ""), ""]
            lines += [f"- `{a}`" for a in diff[key]] + [""]
    labels = [c for c in diff["changes"] if c["field"] != "split"]
    moves = [c for c in diff["changes"] if c["field"] == "split"]
    if labels:
        lines += ["## Labels changed", "", _table(["article", "field", "old", "new"],
                                                  [[f"`{c['article_id']}`", c["field"], c["old"], c["new"]]
                                                   for c in labels]), ""]
    if diff["span_changes"]:
        lines += ["## Spans changed", "", _table(
            ["article", "field", "", "span", "label", "text"],
            [[f"`{c['article_id']}`", c["field"], c["change"], f"{c['start']}–{c['end']}", c["label"], c["text"]]
             for c in diff["span_changes"]]), ""]
    if moves:
        lines += ["## Articles that moved split", "",
                  "Splits are recomputed from all the data of each release; adding articles moves a few "
                  "clusters near the cut points.", "",
                  _table(["article", "before", "now"], [[f"`{c['article_id']}`", c["old"], c["new"]] for c in moves]),
                  ""]
    lines += _deltas(ctx)
    return "\n".join(lines).rstrip() + "\n"


def _deltas(ctx: dict[str, Any]) -> list[str]:
    old = ctx.get("previous_manifest") or {}
    lines = []
    old_head = {(h.get("field"), h.get("metric")): h.get("value") for h in old.get("agreement_headline") or []}
    rows = []
    for h in ctx.get("agreement_headline") or []:
        before = old_head.get((h.get("field"), h.get("metric")))
        delta = (h.get("value") - before) if isinstance(before, (int, float)) and isinstance(
            h.get("value"), (int, float)) else None
        rows.append([h.get("field"), h.get("metric"), before, h.get("value"), delta])
    if rows:
        lines += ["## Agreement", "", _table(["field", "metric", "before", "now", "Δ"], rows), ""]
    old_labels = (old.get("stats") or {}).get("labels") or {}
    rows = []
    for name, by_split in ctx["stats"]["labels"].items():
        before_split = old_labels.get(name) or {}
        labels = sorted({lab for d in (*by_split.values(), *before_split.values()) for lab in d})
        for label in labels:
            now = sum(by_split.get(s, {}).get(label, 0) for s in SPLITS)
            before = sum((before_split.get(s) or {}).get(label, 0) for s in SPLITS)
            if now != before:
                rows.append([name, label, before, now, f"{now - before:+,}"])
    if rows:
        lines += ["## Distribution", "", _table(["field", "value", "before", "now", "Δ"], rows), ""]
    return lines


# ---------------------------------------------------------------------------- plots


def write_plots(folder: Path, ctx: dict[str, Any]) -> dict[str, str]:
    """PNG plots of the label distribution and agreement; title -> path inside the release."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    labels = ctx["stats"]["labels"]
    if labels:
        fig, axes = plt.subplots(len(labels), 1, figsize=(8, 3.2 * len(labels)), squeeze=False)
        for ax, (name, by_split) in zip(axes[:, 0], labels.items()):
            # Most frequent first; ties by name (never by set order, which varies between runs).
            values = sorted({v for counts in by_split.values() for v in counts},
                            key=lambda v: (-sum(by_split[s].get(v, 0) for s in SPLITS), v))
            left = [0] * len(values)
            for s in SPLITS:
                widths = [by_split[s].get(v, 0) for v in values]
                ax.barh(values, widths, left=left, label=s)
                left = [a + b for a, b in zip(left, widths)]
            ax.invert_yaxis()
            ax.set_title(f"{name}: count per split")
            ax.legend(loc="lower right", fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
        fig.tight_layout()
        fig.savefig(folder / "label_distribution.png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        written["Label distribution"] = "plots/label_distribution.png"
    headline = [h for h in ctx.get("agreement_headline") or [] if isinstance(h.get("value"), (int, float))]
    hist = ctx["stats"]["agreement"]["histogram"]
    if headline or any(hist):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), squeeze=False)
        ax = axes[0, 0]
        if headline:
            names = [f"{h['field']}\n{h['metric']}" for h in headline]
            values = [h["value"] for h in headline]
            low = [max(0.0, h["value"] - h["ci_low"]) if h.get("ci_low") is not None else 0 for h in headline]
            high = [max(0.0, h["ci_high"] - h["value"]) if h.get("ci_high") is not None else 0 for h in headline]
            ax.bar(names, values, yerr=[low, high], capsize=4)
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title("Agreement (95% CI)")
        else:
            ax.set_axis_off()
        ax = axes[0, 1]
        ax.bar([i / 10 + 0.05 for i in range(10)], hist, width=0.09)
        ax.set_xlim(0, 1)
        ax.set_title(f"Per-article agreement on {ctx.get('stratify_field')}" if _stratifying_events(ctx) is None
                     else "Per-article agreement (not computed for events)")
        ax.set_xlabel("share of annotators agreeing with gold")
        fig.tight_layout()
        fig.savefig(folder / "agreement.png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        written["Agreement"] = "plots/agreement.png"
    return written
