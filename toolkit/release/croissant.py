"""``croissant.json``: MLCommons Croissant 1.0 metadata of a release, with the RAI extension.

Written as plain JSON-LD (``mlcroissant`` is only needed to validate it, in the tests).
The Parquet files are listed one by one with their sha256 (``cr:FileObject``); each config
is a ``cr:RecordSet`` read from a ``cr:FileSet`` of its files (``includes`` a glob relative to
the release folder), with one field per column; a list of structs (the gold spans) is a
repeated field whose subfields pick a key of each struct, and a struct (an event's trigger) a
field whose subfields pick its keys. An events config is a RecordSet keyed by ``event_id``.
A list inside a list (the arguments of each event in the ``documents`` config) is left out
(Croissant's ``jsonPath`` picks one value per item, so it cannot be read): the field says
so, and the events RecordSet holds the arguments as a repeated field of their own.
"""

from __future__ import annotations

from typing import Any

from ..scheme import ChoiceField, EventsField, NumberField, RelationsField, SpanField

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

PARQUET = "application/x-parquet"

_VALUE_TYPES = {"string": "sc:Text", "date32": "sc:Date", "int32": "sc:Integer", "int64": "sc:Integer",
                "float32": "sc:Float", "float64": "sc:Float", "bool": "sc:Boolean"}


def _data_type(feature: dict[str, Any]) -> str:
    if feature.get("_type") == "ClassLabel":
        return "sc:Integer"
    return _VALUE_TYPES.get(feature.get("dtype", ""), "sc:Text")


def _is_list(feature: Any) -> bool:
    return isinstance(feature, list) or (isinstance(feature, dict) and feature.get("_type") in ("List", "Sequence",
                                                                                                "LargeList"))


def _field(record_set: str, file_set: str, name: str, feature: Any, description: str,
           parent: str | None = None, column: str | None = None, keys: tuple[str, ...] = (),
           in_list: bool = False) -> dict[str, Any]:
    """One cr:Field from a datasets feature (as its ``to_dict`` form).

    ``parent``: the @id path of the enclosing field below the record set; ``column``: the Parquet
    column the value is read from; ``keys``: the struct keys from the column's value (or from each
    item of its list) down to this field; ``in_list``: a list is already on the way.
    """
    path = f"{record_set}/{parent + '/' if parent else ''}{name}"
    column = column or name
    out: dict[str, Any] = {"@type": "cr:Field", "@id": path, "name": name, "description": description}
    repeated = False
    if _is_list(feature):
        repeated = True
        feature = feature[0] if isinstance(feature, list) else feature["feature"]
    if isinstance(feature, dict) and "_type" not in feature:  # a struct
        below = f"{parent}/{name}" if parent else name
        inside = in_list or repeated
        # A list in a list cannot be read by a jsonPath (see the module's docstring).
        skipped = [key for key, sub in feature.items() if inside and _is_list(sub)]
        out["subField"] = [_field(record_set, file_set, key, sub, f"{name}.{key}", parent=below, column=column,
                                  keys=(*keys, key), in_list=inside)
                           for key, sub in feature.items() if key not in skipped]
        if skipped:
            out["description"] += (f" Not described here: {', '.join(skipped)} (a list in each item); "
                                   "an events record set has them.")
    else:
        out["dataType"] = _data_type(feature)
        if feature.get("_type") == "ClassLabel":
            out["description"] = f"{description} Class ids: " + ", ".join(
                f"{i}={n}" for i, n in enumerate(feature["names"]))
    out["source"] = {"fileSet": {"@id": file_set}, "extract": {"column": column}}
    if keys:  # a key of the column's struct (of each struct in the column's list)
        out["source"]["transform"] = {"jsonPath": ".".join(keys)}
    if repeated:
        out["repeated"] = True
    return out


def _describe(ctx: dict[str, Any], name: str, config: str = "documents") -> str:
    fixed = {
        "article_id": "Content-derived article id (stable across releases).",
        "title": "Headline of the article.", "published": "Publication date.",
        "source_url": "Where the article was scraped from.", "text": "Cleaned article text.",
        "n_annotators": "Number of annotators whose answers were aggregated.",
        "agreement": "Share of annotators agreeing with the gold value of the stratifying field "
                     "(null when decided by a ground-truth annotation).",
        "tokens": "Tokens of the text (words and single punctuation marks).",
        "ner_tags": "BIO tag of each token.",
    }
    events_field = (ctx.get("events_configs") or {}).get(config)
    if events_field is not None:
        fixed.update({
            "article_id": "Id of the article the event is reported in (its row in the documents config).",
            "event_id": "<article_id>-e<n>: n counts the article's events in the order of their triggers, from 1.",
            "split": "The split of the article (and so of the event).",
            "trigger": "The words that name the event: character offsets into the article's text, and the text.",
            "arguments": "The event's arguments: role, entity label, character offsets and text of each.",
        })
    if name in fixed:
        return fixed[name]
    scheme = ctx["scheme"]
    if events_field is not None:
        f = scheme.field(events_field)
        attribute = next((a for a in f.attributes if a.name == name), None)
        if attribute is not None:
            return attribute.field.description or f"Gold value of the event attribute {name}."
    try:
        f = scheme.field(name)
    except Exception:
        return name
    return f.description or f"Gold value of the scheme field {name}."


def _fields_text(scheme: Any) -> str:
    """Each field of the scheme and what it holds, for the annotation protocol."""
    parts = []
    for f in scheme.fields:
        if isinstance(f, SpanField):
            what = "spans: " + ", ".join(f.values)
            if f.attributes:
                what += "; attributes: " + ", ".join(a.name for a in f.attributes)
        elif isinstance(f, ChoiceField):
            what = "choice: " + ", ".join(f.values)
        elif isinstance(f, NumberField):
            what = "number"
        elif isinstance(f, RelationsField):
            what = "relations: " + ", ".join(f.values)
        elif isinstance(f, EventsField):
            what = (f"events: trigger {f.trigger.value}, roles " + ", ".join(f.role_values)
                    + "; attributes: " + ", ".join(a.name for a in f.attributes))
        else:
            what = "free text, not published"
        parts.append(f"{f.name} ({what})")
    return "; ".join(parts)


def build(ctx: dict[str, Any], files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Croissant JSON-LD of a release; ``files`` maps path -> {sha256, bytes}."""
    project, stats, scheme = ctx["project"], ctx["stats"], ctx["scheme"]
    distribution: list[dict[str, Any]] = []
    record_sets: list[dict[str, Any]] = []
    for config, features in ctx["features"].items():
        paths = [p for split in ctx["files"].get(config, {}).values() for p in split]
        if not paths:
            continue
        for path in sorted(paths):
            distribution.append({"@type": "cr:FileObject", "@id": path, "name": path, "contentUrl": path,
                                 "encodingFormat": PARQUET, "sha256": files[path]["sha256"],
                                 "contentSize": f"{files[path]['bytes']} B"})
        file_set = f"{config}-parquet"
        distribution.append({"@type": "cr:FileSet", "@id": file_set, "name": file_set,
                             "description": f"Parquet files of the {config} config (all splits).",
                             "encodingFormat": PARQUET, "includes": f"{config}/*.parquet"})
        events_field = (ctx.get("events_configs") or {}).get(config)
        if events_field is not None:
            description = (f"One row per gold event (field {events_field}) of the released articles, in the "
                           "split of its article.")
        elif config == "documents":
            description = "One row per released article with its gold labels."
        else:
            description = "Articles as tokens with BIO tags, for token classification."
        record_sets.append({
            "@type": "cr:RecordSet", "@id": config, "name": config, "description": description,
            "key": {"@id": f"{config}/{'event_id' if events_field is not None else 'article_id'}"},
            "field": [_field(config, file_set, name, feature, _describe(ctx, name, config))
                      for name, feature in features.items()],
        })
    counts = ctx.get("annotation_counts") or {}
    ingest = ctx.get("ingest") or {}
    published = stats["published"]
    timeframe = [d for d in (published["min"], published["max"]) if d]
    fields_text = _fields_text(scheme)
    metadata: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": project["name"],
        "alternateName": project["title"],
        "description": project["description"] or f"News articles annotated with the {scheme.name} scheme.",
        "conformsTo": ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"],
        "license": project["license"] or "other",
        "url": f"https://huggingface.co/datasets/{project['name']}",
        "version": ctx["version"],
        "datePublished": ctx["created"],
        "citeAs": f"{project['title']}, version {ctx['version']} ({ctx['created'][:4]}).",
        "isLiveDataset": False,
        "distribution": distribution,
        "recordSet": record_sets,
        # Responsible AI extension: how the data was collected and annotated.
        "rai:dataCollection": (
            f"News articles scraped from {len(stats['sources'])} source(s), then cleaned and deduplicated by "
            f"`toolkit ingest` ({ingest.get('documents_read', '?')} documents read, "
            f"{ingest.get('exact_duplicates', '?')} exact duplicates removed, {ingest.get('rejected', '?')} "
            f"rejected)."),
        "rai:dataCollectionType": ["Web Scraping"],
        "rai:dataCollectionRawData": "Public news web pages and text files (raw/ of the project workspace).",
        "rai:dataCollectionMissingData": (
            f"{published['undated']} article(s) have no publication date; "
            f"{ctx['unresolved']['count']} annotated article(s) without an agreed label were held back."),
        "rai:dataPreprocessingProtocol": [
            "Encoding repair, boilerplate removal, date/title extraction, content-derived ids.",
            "Exact duplicates collapsed; near-duplicates (MinHash) grouped into clusters kept in one split.",
        ],
        "rai:dataAnnotationProtocol": [
            f"Annotators labeled in Label Studio with the scheme {scheme.name} v{scheme.version}: {fields_text}.",
            "Gold labels by a stated policy: ground truth wins, else majority vote; ties stay unresolved "
            "and are not released.",
        ],
        "rai:dataAnnotationPlatform": ["Label Studio"],
        "rai:dataAnnotationAnalysis": [
            f"{h.get('field')} {h.get('metric')} = {h.get('value')} (95% CI {h.get('ci_low')}–{h.get('ci_high')}, "
            f"n={h.get('n')})" for h in ctx.get("agreement_headline") or []] or ["No agreement report available."],
        "rai:annotationsPerItem": ", ".join(f"{k} annotator(s): {v} article(s)"
                                            for k, v in stats["annotators_per_article"].items()),
        "rai:annotatorDemographics": [f"{counts.get('annotators', 'unknown')} annotator(s); "
                                      "demographics not collected."],
        "rai:dataLimitations": [
            "News coverage is skewed towards some places, outlets and kinds of events.",
            "Few annotators per article; held-back ties may remove the hardest cases.",
        ],
        "rai:dataBiases": ["Selection bias of the scraped sources; the label distribution reflects coverage."],
        "rai:dataUseCases": ["Named-entity recognition and event-type classification of news text."],
        "rai:personalSensitiveInformation": [
            "Names of real people (victims, suspects, officials) as published in the news."],
        "rai:dataReleaseMaintenancePlan": (
            "Immutable semantic versions; corrections are published as new patch releases with a changelog."),
    }
    if timeframe:
        metadata["rai:dataCollectionTimeframe"] = timeframe
    return metadata
