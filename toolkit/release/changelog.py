"""The row-level changelog of a release: what changed against the previous one.

Articles added and removed, articles that changed split, label values changed (field, old
-> new; for relations and events fields the count per article), spans added and removed, and
the scheme's changes (``scheme_changes``): fields, labels, roles and attributes added and
removed, fields and attributes whose kind changed, and article fields that became attributes
(of each event or span) under the same name.
Lists are cut at ``CHANGELOG_ROWS`` rows per section; the counts are always complete.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import parquetio
from ..scheme import ChoiceField, EventsField, RelationsField, Scheme, SpanField, TextField


def previous_release_hint(folder: Path) -> str:
    """What to do when a file of the previous release (the base of a new one) cannot be read."""
    return (f"the release {folder.name} is damaged: `toolkit verify {folder}` names its changed files; restore it "
            "from version control or from where it was published")


def comparable(folder: Path) -> tuple[pa.Table, pa.Table, Scheme] | None:
    """(one row per article: id, split, label values as text), (one row per gold span), scheme."""
    scheme_path = folder / "scheme.json"
    if not scheme_path.is_file():
        return None
    scheme = Scheme.load(scheme_path)
    fields = [f for f in scheme.fields if not isinstance(f, TextField)]
    rows, spans = [], []
    for path in sorted((folder / "documents").glob("*.parquet")):
        split = path.name.split("-")[0]
        table = parquetio.read_table(path, columns=["article_id"] + [f.name for f in fields],
                                     hint=previous_release_hint(folder))
        data: dict[str, Any] = {"article_id": table["article_id"],
                                "split": pa.array([split] * table.num_rows, pa.string())}
        for f in fields:
            column = table[f.name].combine_chunks()
            if isinstance(f, SpanField):
                parent = pc.list_parent_indices(column)
                flat = pc.list_flatten(column)
                if len(flat):
                    spans.append(pa.table({
                        "article_id": table["article_id"].combine_chunks().take(parent),
                        "field": pa.array([f.name] * len(flat), pa.string()),
                        "start": flat.field("start"), "end": flat.field("end"),
                        "label": pa.array(list(f.values)).take(flat.field("label")),
                        "text": flat.field("text")}))
                data[f.name] = pc.cast(pc.list_value_length(column), pa.string())
            elif isinstance(f, (RelationsField, EventsField)):
                data[f.name] = pc.cast(pc.fill_null(pc.list_value_length(column), 0), pa.string())
            elif isinstance(f, ChoiceField) and f.multiple:
                names = pa.array(list(f.values))
                data[f.name] = pa.array([", ".join(names[i].as_py() for i in v) if v is not None else None
                                         for v in column.to_pylist()], pa.string())
            elif isinstance(f, ChoiceField):
                data[f.name] = pa.array(list(f.values)).take(column)
            else:
                data[f.name] = pc.cast(column, pa.string())
        rows.append(pa.table(data))
    span_schema = pa.schema([("article_id", pa.string()), ("field", pa.string()), ("start", pa.int32()),
                             ("end", pa.int32()), ("label", pa.string()), ("text", pa.string())])
    row_table = pa.concat_tables(rows, promote_options="default") if rows else pa.table(
        {"article_id": pa.array([], pa.string()), "split": pa.array([], pa.string())})
    span_table = pa.concat_tables(spans) if spans else span_schema.empty_table()
    return row_table, span_table, scheme


CHANGELOG_ROWS = 200  # rows listed per section; the counts are always complete


def diff(previous: Path, current: Path) -> dict[str, Any]:
    old = comparable(previous)
    new = comparable(current)
    assert new is not None
    if old is None:
        return {"previous": previous.name, "error": "the previous release has no scheme.json; no row-level diff"}
    old_rows, old_spans, old_scheme = old
    new_rows, new_spans, new_scheme = new
    added = new_rows.join(old_rows.select(["article_id"]), "article_id", join_type="left anti")
    removed = old_rows.join(new_rows.select(["article_id"]), "article_id", join_type="left anti")
    common_fields = [f.name for f in new_scheme.fields
                     if not isinstance(f, TextField) and f.name in old_scheme.field_names
                     and f.name in old_rows.column_names]
    keep = ["article_id", "split", *common_fields]
    both = new_rows.select(keep).join(old_rows.select(keep), "article_id", join_type="inner",
                                      left_suffix="", right_suffix="__old")
    changes: list[dict[str, Any]] = []
    counts: Counter = Counter()
    for name in ["split", *common_fields]:
        a, b = both[name], both[f"{name}__old"]
        differ = pc.fill_null(pc.not_equal(a, b), False)
        differ = pc.or_(differ, pc.xor(pc.is_null(a), pc.is_null(b)))
        subset = both.filter(differ)
        counts[name] = subset.num_rows
        for row in subset.select(["article_id", f"{name}__old", name]).slice(0, CHANGELOG_ROWS).to_pylist():
            changes.append({"article_id": row["article_id"], "field": name,
                            "old": row[f"{name}__old"], "new": row[name]})
    # Spans: compared as whole (start, end, label) triples, of articles in both releases.
    span_keys = ["article_id", "field", "start", "end", "label"]
    in_both = pc.is_in(new_spans["article_id"], both["article_id"])
    ns = new_spans.filter(in_both)
    os_ = old_spans.filter(pc.is_in(old_spans["article_id"], both["article_id"]))
    spans_added = ns.join(os_.select(span_keys), span_keys, join_type="left anti")
    spans_removed = os_.join(ns.select(span_keys), span_keys, join_type="left anti")
    span_changes = [dict(r, change="+") for r in spans_added.slice(0, CHANGELOG_ROWS).to_pylist()] + \
        [dict(r, change="-") for r in spans_removed.slice(0, CHANGELOG_ROWS).to_pylist()]
    span_changes.sort(key=lambda r: (r["article_id"], r["field"], r["start"], r["change"]))
    spans_changed_articles = len(set(pc.unique(spans_added["article_id"]).to_pylist())
                                 | set(pc.unique(spans_removed["article_id"]).to_pylist()))
    for f in new_scheme.span_fields:  # the span count column is not a change of its own
        counts.pop(f.name, None)
        changes = [c for c in changes if c["field"] != f.name]
    return {
        "previous": previous.name,
        "articles_added": added.num_rows, "articles_removed": removed.num_rows,
        "added": sorted(added["article_id"].to_pylist())[:CHANGELOG_ROWS],
        "removed": sorted(removed["article_id"].to_pylist())[:CHANGELOG_ROWS],
        "changed_counts": dict(counts),
        "changes": sorted(changes, key=lambda c: (c["field"], c["article_id"])),
        "spans_added": spans_added.num_rows, "spans_removed": spans_removed.num_rows,
        "spans_changed_articles": spans_changed_articles,
        "span_changes": span_changes[:CHANGELOG_ROWS],
        "scheme": scheme_changes(old_scheme, new_scheme),
    }


def scheme_changes(old: Scheme, new: Scheme) -> dict[str, list[str]]:
    """What the scheme lost (``removed``), gained (``added``) and changed in kind or place
    (``changed``): fields, their labels (span labels, choices, relation types), event triggers
    and roles, and attributes with their choices. Removed and changed break a reader of the
    previous release (``propose_version`` makes them a major version)."""
    removed: list[str] = []
    added: list[str] = []
    changed: list[str] = []
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for name, f in old_fields.items():
        g = new_fields.get(name)
        if g is None:
            home = _attribute_home(new, name)
            if home is not None:
                changed.append(f"field {name} ({f.kind}) moved onto each "
                               f"{'event' if isinstance(home[0], EventsField) else 'span'} of {home[0].name} "
                               f"as attribute {name} ({home[1].kind})")
            else:
                removed.append(f"field {name}")
        elif g.kind != f.kind:
            changed.append(f"field {name} ({f.kind} -> {g.kind})")
        else:
            lost, gained, kinds = _member_changes(name, f, g)
            removed += lost
            added += gained
            changed += kinds
    for name, g in new_fields.items():
        if name not in old_fields:
            added.append(f"field {name}")
    return {"removed": removed, "added": added, "changed": changed}


def _members(f: Any) -> list[str]:
    """The values of a field a reader may depend on, as "label X", "role Y", "trigger Z"."""
    out = [f"label {v}" for v in getattr(f, "values", ())]
    if isinstance(f, EventsField):
        out += [f"trigger {f.trigger.value}"] + [f"role {v}" for v in f.role_values]
        if f.type_attribute:
            out.append(f"type {f.type_attribute}")
    return out


def _member_changes(name: str, f: Any, g: Any) -> tuple[list[str], list[str], list[str]]:
    """(removed, added, changed) between two versions of a field of the same kind."""
    before, after = _members(f), _members(g)
    removed = [f"{name} {m}" for m in before if m not in after]
    added = [f"{name} {m}" for m in after if m not in before]
    changed = []
    old_attrs = {a.name: a for a in getattr(f, "attributes", ())}
    new_attrs = {a.name: a for a in getattr(g, "attributes", ())}
    for attr, a in old_attrs.items():
        b = new_attrs.get(attr)
        if b is None:
            removed.append(f"{name} attribute {attr}")
        elif a.kind != b.kind:
            changed.append(f"{name} attribute {attr} ({a.kind} -> {b.kind})")
        else:
            removed += [f"{name} attribute {attr} label {v}" for v in getattr(a.field, "values", ())
                        if v not in getattr(b.field, "values", ())]
            added += [f"{name} attribute {attr} label {v}" for v in getattr(b.field, "values", ())
                      if v not in getattr(a.field, "values", ())]
    added += [f"{name} attribute {attr}" for attr in new_attrs if attr not in old_attrs]
    return removed, added, changed


def _attribute_home(scheme: Scheme, name: str) -> tuple[Any, Any] | None:
    """(field, attribute) of the spans or events field that has an attribute called ``name``."""
    for f in scheme.fields:
        for a in getattr(f, "attributes", ()):
            if a.name == name:
                return f, a
    return None
