"""``toolkit release``: gold labels + articles -> ``releases/vX.Y.Z/``, immutable and checksummed.

A release is a folder laid out as a Hugging Face dataset repository::

    README.md           dataset card; its YAML declares configs, data files and features
    DATASHEET.md        Datasheets for Datasets, filled from the data; plots/*.png
    CHANGELOG.md        row-level diff against the previous release
    croissant.json      MLCommons Croissant metadata (with the RAI fields)
    scheme.json         the annotation scheme the labels follow
    documents/{split}-NNNNN-of-NNNNN.parquet   one row per resolved article
    ner/{split}-NNNNN-of-NNNNN.parquet         tokens + BIO ner_tags
    events/{split}-NNNNN-of-NNNNN.parquet      one row per gold event (one such config per events
                        field of the scheme, named after it), in the split of its article
    conll/{split}.txt   the ner config as CoNLL-2003 text
    manifest.json       version, inputs, counts, sha256 + size of every other file

How it is made safe:
- built in ``releases/.vX.Y.Z.tmp-<pid>/`` and renamed into place only when every file is
  written, fsynced and checksummed; a crash leaves at most a hidden temporary folder, which
  the next release removes;
- ``releases/.lock`` (an exclusive ``flock``) keeps two releases from interleaving;
- an existing version is never overwritten, and a version must be greater than the latest
  (each part at most ``MAX_VERSION_PART``: a huge version would leave none greater for the next);
- every JSON file is strict JSON (``atomicio.write_json``), and the inputs are checked
  first: split ratios and gold numbers must be finite.

The data files (inputs, split plan, features, the streaming write) are made by ``data``;
the changelog by ``changelog``; the card, datasheet and Croissant metadata by ``card`` and
``croissant``; checking a release by ``verify``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..articles import fingerprint, manifest_path
from .. import atomicio, parquetio
from ..version import __version__
from . import changelog, data as releasedata
from ..errors import (ReleaseError, ReleaseExists, ReleaseLocked, ToolkitError, VersionError)
from ..progress import NullProgress, Progress
from .data import ReleaseOptions
from ..scheme import Scheme
from ..workspace import Workspace

__all__ = ["MANIFEST", "ReleaseReport", "parse_version", "list_releases", "propose_version", "release"]

MANIFEST = "manifest.json"
LOCK = ".lock"
_VERSION = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")  # fullmatch; ASCII digits
# Each part of a version stays below a million: a version such as 99999999999999999999999.0.0
# would otherwise be accepted and leave no greater version for any later release.
MAX_VERSION_PART = 999_999
_TMP = re.compile(r"\.v[0-9]+\.[0-9]+\.[0-9]+\.tmp-[0-9]+")  # fullmatch
# What a release may contain: data and documentation, never code or pickles.
ALLOWED_SUFFIXES = frozenset({".parquet", ".md", ".json", ".txt", ".png"})


# ---------------------------------------------------------------------------- versions


def parse_version(text: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of ``X.Y.Z`` or ``vX.Y.Z``, each part at most ``MAX_VERSION_PART``."""
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise VersionError(f"{shown} is not a semantic version",
                           hint="give MAJOR.MINOR.PATCH, e.g. 1.2.0, or leave it out to get a proposal")
    # Compared as text first: int() of thousands of digits is refused (and slow) in Python.
    if any(len(part) > len(str(MAX_VERSION_PART)) or int(part) > MAX_VERSION_PART for part in match.groups()):
        raise VersionError(f"{shown} has a part greater than {MAX_VERSION_PART}",
                           hint=f"each of MAJOR, MINOR and PATCH must be at most {MAX_VERSION_PART}; "
                                "leave VERSION out to get a proposal")
    return int(match[1]), int(match[2]), int(match[3])


def _release_version(name: str) -> tuple[int, int, int] | None:
    """The version a folder of ``releases/`` is named after, or None for any other name."""
    if not name.startswith("v"):
        return None
    try:
        return parse_version(name) if name == name.strip() else None
    except VersionError:
        return None


def _vstr(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def list_releases(ws: Workspace) -> list[str]:
    """Released versions (``X.Y.Z``, complete: with a manifest), oldest first."""
    found = []
    if ws.releases_dir.is_dir():
        for entry in ws.releases_dir.iterdir():
            version = _release_version(entry.name)
            if version is not None and (entry / MANIFEST).is_file():
                found.append(version)
    return [_vstr(v) for v in sorted(found)]


# ----------------------------------------------------------------------- proposing


def _latest(ws: Workspace) -> Path | None:
    versions = list_releases(ws)
    return ws.releases_dir / f"v{versions[-1]}" if versions else None


def _previous_ids(folder: Path) -> pa.Array:
    paths = sorted((folder / "documents").glob("*.parquet"))
    if not paths:
        return pa.array([], pa.string())
    hint = changelog.previous_release_hint(folder)
    return pa.concat_arrays([parquetio.read_table(p, columns=["article_id"], hint=hint)["article_id"].combine_chunks()
                             for p in paths])


def _propose(ws: Workspace, scheme: Scheme, released_ids: pa.Array,
             input_hashes: dict[str, str]) -> tuple[str, str]:
    """The next version and why; ``input_hashes``: ``_input_hashes(ws)``, to tell "nothing
    changed" from "corrections"."""
    latest = _latest(ws)
    if latest is None:
        return "0.1.0", "first release (0.x while the scheme settles)"
    major, minor, patch = parse_version(latest.name)
    try:
        old_scheme = Scheme.load(latest / "scheme.json")
        scheme_diff = changelog.scheme_changes(old_scheme, scheme)
    except ToolkitError:
        scheme_diff = {"removed": ["(the previous scheme could not be read)"], "added": [], "changed": []}
    if scheme_diff["removed"] or scheme_diff.get("changed"):
        # A field that changed kind or moved (e.g. onto each event) breaks readers as a removal does.
        return _vstr((major + 1, 0, 0)), (f"major: the scheme removed, renamed or changed "
                                          f"{', '.join(scheme_diff['removed'] + scheme_diff.get('changed', []))} "
                                          f"since {latest.name}")
    old_ids = _previous_ids(latest)
    added = int(pc.sum(pc.invert(pc.is_in(released_ids, old_ids))).as_py() or 0)
    removed = int(pc.sum(pc.invert(pc.is_in(old_ids, released_ids))).as_py() or 0)
    if scheme_diff["added"] or added:
        parts = []
        if added:
            parts.append(f"{added} article(s) added")
        if scheme_diff["added"]:
            parts.append(f"the scheme added {', '.join(scheme_diff['added'])}")
        return _vstr((major, minor + 1, 0)), f"minor: {'; '.join(parts)} since {latest.name}"
    previous = _read_json(latest / MANIFEST) or {}
    if not removed and previous.get("inputs") == input_hashes \
            and (previous.get("scheme") or {}).get("hash") == scheme.hash():
        return _vstr((major, minor, patch + 1)), (
            f"patch: nothing has changed since {latest.name} (the same articles, gold.parquet and "
            "scheme); a new version would only render them again")
    detail = f"{removed} article(s) removed, " if removed else ""
    return _vstr((major, minor, patch + 1)), (f"patch: corrections only ({detail}no articles, labels or fields "
                                              f"added since {latest.name})")


def _input_hashes(ws: Workspace) -> dict[str, str]:
    """sha256 of the files a release is made from, as the manifest records them."""
    hashes = {}
    articles = fingerprint(ws)
    if articles is not None:
        # the manifest's SHA-256 (it holds every part's); an old single-file table's own
        name = "annotations/articles/" if manifest_path(ws).is_file() else "annotations/articles.parquet"
        hashes[name] = articles
    gold = ws.annotations_dir / "gold.parquet"
    if gold.is_file():
        hashes["annotations/gold.parquet"] = atomicio.sha256_file(gold)
    return hashes


def propose_version(ws: Workspace, *, options: ReleaseOptions | None = None) -> tuple[str, str]:
    """The next version and why: major if the scheme lost a field or label (or renamed one, or
    changed its kind), minor if articles or labels were added, else patch."""
    options = options or ReleaseOptions.from_workspace(ws)
    inputs = releasedata.read_inputs(ws, options)
    plan = releasedata.make_plan(ws, inputs)
    return _propose(ws, inputs.scheme, plan.released_ids, _input_hashes(ws))


# ---------------------------------------------------------------------------- lock


def _release_lock(ws: Workspace) -> contextlib.AbstractContextManager[None]:
    return atomicio.exclusive_lock(ws.releases_dir / LOCK, lambda: ReleaseLocked(
        "another release is running in this workspace", hint="wait for it to finish, then try again"))


def _remove_stale_temporaries(ws: Workspace) -> list[str]:
    """Temporary folders of releases that crashed (we hold the lock, so none is in use)."""
    removed = []
    for entry in ws.releases_dir.iterdir():
        if entry.is_dir() and _TMP.fullmatch(entry.name):
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


# ------------------------------------------------------------------------- checksums


def _release_files(folder: Path) -> list[str]:
    """Every file below ``folder`` except the manifest, as sorted POSIX paths."""
    found = []
    for base, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            rel = (Path(base) / name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                found.append(rel)
    return sorted(found)


def _fsync_tree(folder: Path) -> None:
    for base, _, names in os.walk(folder):
        for name in names:
            with open(Path(base) / name, "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(base, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------- reports


@dataclass
class ReleaseReport:
    version: str
    path: str
    reason: str
    created: str
    previous: str | None
    articles: dict[str, int]
    clusters: dict[str, int]
    unresolved_held_back: int
    gold_without_article: int
    ner: dict[str, int]
    files: int
    bytes: int
    stale_temporaries_removed: list[str] = field(default_factory=list)
    events: dict[str, dict[str, int]] = field(default_factory=dict)  # events config -> split -> events

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------- release


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _context_inputs(ws: Workspace) -> dict[str, Any]:
    """Figures from the other stages' reports (each may be missing)."""
    a = ws.annotations_dir
    agreement = _read_json(a / "agreement.json")
    headline = agreement.get("headline") if isinstance(agreement, dict) else None
    index = _read_json(a / "exports" / "index.json")
    exports = [{k: e.get(k) for k in ("file", "sha256", "bytes", "tasks") if k in e}
               for e in index] if isinstance(index, list) else []
    quarantine: Counter = Counter()
    if (a / "quarantine.jsonl").is_file():
        with open(a / "quarantine.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    try:
                        quarantine[json.loads(line).get("kind", "record")] += 1
                    except (ValueError, AttributeError):
                        quarantine["unreadable"] += 1
    ingest = _read_json(a / "ingest-report.json") or {}
    annotators = None
    annotations_path = a / "annotations.parquet"
    columns = ["annotator_id", "annotator_email", "was_cancelled"]
    source = parquetio.open_parquet(annotations_path) if annotations_path.is_file() else None
    # A file too old to have these columns gives no counts; a damaged one stops the release.
    if source is not None and set(columns) <= set(source.schema_arrow.names):
        with contextlib.suppress(pa.ArrowInvalid):
            who = source.read(columns=columns)
            submitted = who.filter(pc.invert(pc.fill_null(who["was_cancelled"], False)))
            keys = pc.coalesce(submitted["annotator_email"], pc.cast(submitted["annotator_id"], pa.string()))
            annotators = {"annotators": len(pc.unique(pc.drop_null(keys))), "annotations": submitted.num_rows,
                          "cancelled": who.num_rows - submitted.num_rows}
    return {
        "agreement_headline": headline if isinstance(headline, list) else [],
        "exports": exports,
        "quarantine": dict(sorted(quarantine.items())),
        "ingest": {k: ingest.get(k) for k in ("files_read", "documents_read", "total_articles",
                                               "exact_duplicates", "near_duplicate_clusters",
                                               "articles_in_clusters", "rejected", "rejected_by_reason")
                   if k in ingest},
        "annotation_counts": annotators,
        "suggestions": agreement.get("suggestions") if isinstance(agreement, dict) else None,
    }


def _warm_up() -> None:
    """Import what the end of a release needs (datasets for the features, matplotlib for the
    plots) and build the tokeniser's tables."""
    import matplotlib

    matplotlib.use("Agg")
    import datasets  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    from . import conll

    conll.warm_up()


def release(ws: Workspace, version: str | None = None, *, progress: Progress | None = None,
            now: dt.datetime | None = None, options: ReleaseOptions | None = None) -> ReleaseReport:
    """Write ``releases/vX.Y.Z`` from the resolved gold labels; ``version`` None: the proposal."""
    from . import card, croissant

    progress = progress or NullProgress()
    options = options or ReleaseOptions.from_workspace(ws)
    options.check()  # options given by a caller too: a NaN ratio must never reach manifest.json
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    if version is not None:
        parse_version(version)  # fail before any work
    with _release_lock(ws):
        stale = _remove_stale_temporaries(ws)
        inputs = releasedata.read_inputs(ws, options)
        pa.default_memory_pool().release_unused()
        releasedata.ensure_labels_known(inputs.gold, inputs)
        # The libraries and tables needed later load on a second thread meanwhile. (The
        # per-article agreement could be computed beside the plan as well: 0.9 s sooner at
        # 1,000,000 articles, for 150 MiB more at the peak, measured.)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-warm-up") as side:
            warm = side.submit(_warm_up)
            plan = releasedata.make_plan(ws, inputs)
            # Hand back what the plan needed only for a moment (Arrow's allocator keeps it).
            pa.default_memory_pool().release_unused()
            inputs.agreement = releasedata.article_agreement(ws, inputs.gold, inputs.stratify)
            pa.default_memory_pool().release_unused()
            warm.result()
        if plan.released_ids is None or len(plan.released_ids) == 0:
            raise ReleaseError("no resolved article to release",
                               hint="pull annotations and run `toolkit agree`; unresolved articles are "
                                    "never released (see `toolkit review`)")
        input_hashes = _input_hashes(ws)
        proposed, reason = _propose(ws, inputs.scheme, plan.released_ids, input_hashes)
        if version is None:
            version = _vstr(parse_version(proposed))  # a part past MAX_VERSION_PART is refused here too
        else:
            version = _vstr(parse_version(version))
            if version != _vstr(parse_version(proposed)):  # the proposal itself keeps its own reason
                reason = f"given on the command line (the toolkit would propose {proposed}: {reason})"
        target = ws.releases_dir / f"v{version}"
        if target.exists():
            raise ReleaseExists(f"release v{version} already exists at {ws.relative(target)}",
                                hint=f"releases are never overwritten; the next version would be {proposed}")
        latest = _latest(ws)
        if latest is not None and parse_version(version) <= parse_version(latest.name):
            raise VersionError(f"v{version} is not greater than the latest release, {latest.name}",
                               hint=f"use {proposed} (or leave VERSION out)")
        tmp = ws.releases_dir / f".v{version}.tmp-{os.getpid()}"
        tmp.mkdir()
        try:
            features = releasedata.config_features(inputs)
            written = releasedata.write_data(tmp, ws, inputs, plan, features, progress)
            files, stats, tag_stats = written.files, written.stats, written.ner_conversion
            atomicio.write_json(tmp / "scheme.json", inputs.scheme.to_dict())
            diff = changelog.diff(latest, tmp) if latest is not None else None
            previous_manifest = _read_json(latest / MANIFEST) if latest is not None else None
            context = {
                "version": version, "created": now.isoformat().replace("+00:00", "Z"),
                "reason": reason, "toolkit_version": __version__,
                "project": dataclasses.asdict(ws.config.project),
                "scheme": inputs.scheme, "scheme_hash": inputs.scheme.hash(),
                "stratify_field": inputs.stratify.name if inputs.stratify else None,
                "ner_field": inputs.ner.name if inputs.ner else None,
                "features": {name: f.to_dict() for name, f in features.items()},
                "feature_objects": features,
                "files": {config: {s: [p.relative_to(tmp).as_posix() for p in paths] for s, paths in by.items()}
                          for config, by in files.items()},
                "file_bytes": {config: {s: sum(p.stat().st_size for p in paths) for s, paths in by.items()}
                               for config, by in files.items()},
                "options": dataclasses.asdict(options),
                "stats": stats.to_dict(), "rows": written.rows, "clusters": plan.clusters, "strata": plan.strata,
                "events_configs": {config: f.name for config, f in inputs.events.items()},
                "unresolved": {"count": inputs.unresolved, "reasons": dict(inputs.unresolved_reasons.most_common())},
                "gold_without_article": plan.gold_without_article, "ner_conversion": tag_stats,
                "diff": diff, "previous_manifest": previous_manifest,
                **_context_inputs(ws),
            }
            plots = card.write_plots(tmp / "plots", context)
            context["plots"] = plots
            atomicio.write_text(tmp / "README.md", card.render_card(context))
            atomicio.write_text(tmp / "DATASHEET.md", card.render_datasheet(context))
            atomicio.write_text(tmp / "CHANGELOG.md", card.render_changelog(context))
            sealed = {path.relative_to(tmp).as_posix(): entry for path, entry in written.sealed.items()}
            entries = {rel: sealed.get(rel) or atomicio.file_entry(tmp / rel) for rel in _release_files(tmp)}
            atomicio.write_json(tmp / "croissant.json", croissant.build(context, entries))
            entries["croissant.json"] = atomicio.file_entry(tmp / "croissant.json")
            entries = dict(sorted(entries.items()))
            bad = [rel for rel in entries if Path(rel).suffix not in ALLOWED_SUFFIXES]
            if bad:
                raise ReleaseError(f"a release may hold only Parquet, Markdown, JSON, text and PNG: {bad}")
            manifest = {
                "version": version, "created": context["created"], "toolkit_version": __version__,
                "scheme": {"name": inputs.scheme.name, "version": inputs.scheme.version,
                           "hash": inputs.scheme.hash()},
                "reason": reason, "previous": latest.name if latest else None,
                "exports": context["exports"],
                "inputs": input_hashes,
                "options": context["options"],
                "counts": {"articles": stats.to_dict()["articles"], "clusters": plan.clusters,
                           "unresolved_held_back": inputs.unresolved,
                           "gold_without_article": plan.gold_without_article,
                           # rows per split of each events config (only when the scheme has events)
                           **({"events": {config: written.rows[config] for config in inputs.events}}
                              if inputs.events else {})},
                "stats": context["stats"], "agreement_headline": context["agreement_headline"],
                "files": entries,
            }
            atomicio.write_json(tmp / MANIFEST, manifest)
            for base, _, names in os.walk(tmp):
                for name in names:
                    os.chmod(Path(base) / name, 0o444)
            _fsync_tree(tmp)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # The workspace's datasheet describes the latest release.
        atomicio.write_text(ws.root / "DATASHEET.md", card.render_datasheet(context, prefix=f"releases/v{version}/"))
    total_bytes = sum(e["bytes"] for e in entries.values()) + (target / MANIFEST).stat().st_size
    return ReleaseReport(
        version=version, path=ws.relative(target), reason=reason, created=context["created"],
        previous=latest.name if latest else None, articles=stats.to_dict()["articles"], clusters=plan.clusters,
        unresolved_held_back=inputs.unresolved, gold_without_article=plan.gold_without_article,
        ner=tag_stats, files=len(entries) + 1, bytes=total_bytes, stale_temporaries_removed=stale,
        events={config: written.rows[config] for config in inputs.events})
