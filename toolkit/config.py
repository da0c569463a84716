"""Configuration in one place: defaults, then ``toolkit.toml``, then environment, then flags.

Secrets (``LABEL_STUDIO_API_KEY``, ``HF_TOKEN``) are never read from or written to
``toolkit.toml``: they come from the environment only, at the moment they are needed.

Every number has bounds (``BOUNDS``): a value outside them, or a float that is not finite
(``nan``, ``inf``), is a ``ConfigError`` naming the key and the allowed range, so that no
command runs with a setting that would hang it, exhaust memory or make no sense.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILE = "toolkit.toml"
# Label Studio (Django) refuses requests with more than 1,000 query parameters, and a pull asks
# for its chunk as ids[]=... parameters.
MAX_IDS_PER_REQUEST = 900
# `[ingest] html_focus`: trafilatura's three settings (``toolkit.ingest.readers`` maps them).
HTML_FOCUS = ("precision", "balanced", "recall")


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "dataset"
    title: str = "Untitled dataset"
    description: str = ""
    license: str = "other"


@dataclass(frozen=True)
class IngestConfig:
    # Folders or files read by `toolkit ingest` when no path is given, relative to the workspace.
    paths: tuple[str, ...] = ("raw",)
    # A single text or HTML file larger than this is rejected (JSONL files are streamed line by line).
    max_file_mb: float = 10.0
    # An article body shorter than this many words is rejected as "not an article".
    min_words: int = 20
    # Extra full-line regular expressions (case-insensitive) removed as site boilerplate.
    boilerplate: tuple[str, ...] = ()
    # What trafilatura favours when it finds the article in an HTML page: "precision" (less
    # noise, such as reader comments), "balanced" (its default: about a tenth faster, a little
    # more text) or "recall" (the most text).
    html_focus: str = "precision"
    # Near-duplicates: estimated Jaccard similarity of word shingles at or above which two
    # articles share a cluster_id.
    near_duplicate_threshold: float = 0.8
    shingle_size: int = 5
    num_perm: int = 128
    # Rows held in memory before they are flushed to disk.
    batch_size: int = 1000
    # Worker processes reading and cleaning raw files; 0: one per CPU (`toolkit ingest --jobs`
    # overrides it). The output is the same whatever the number.
    jobs: int = 0


@dataclass(frozen=True)
class TasksConfig:
    # Only the first article of each near-duplicate cluster becomes a task, so annotators do
    # not label syndicated copies twice.
    one_per_cluster: bool = False


@dataclass(frozen=True)
class LabelStudioConfig:
    url: str = ""  # empty: the embedded server started by `toolkit studio`
    port: int = 8080
    # Task ids per request when pulling, and per page when listing. At most 900: Label Studio
    # (Django) answers 400 to a request with more than 1,000 query parameters.
    page_size: int = 900
    # Seconds to wait for one answer, and how often a failed read is retried (with backoff).
    timeout: float = 60.0
    retries: int = 4


@dataclass(frozen=True)
class GoldConfig:
    # Articles with fewer submitted annotations (and no ground truth) stay unresolved.
    min_annotations: int = 2
    # Numbers by "median" or "majority".
    numbers: str = "median"
    # A span is gold when at least this many annotators mark it (0: a majority of them).
    span_min_agree: int = 0
    # An event (annotators' events clustered by trigger overlap) is gold when at least this many
    # annotators mark it (0: a majority of them).
    event_min_agree: int = 0
    # Bootstrap resamples and seed for the confidence intervals of `toolkit agree`.
    bootstrap: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class CampaignConfig:
    # Annotators who label each task (Label Studio's maximum_annotations, with every task in
    # the overlap cohort); 0: [gold] min_annotations.
    annotators_per_task: int = 0
    # Show the guidelines (generated from the scheme + schemas/guidelines.md) before labelling.
    show_guidelines: bool = True
    # Accounts (e-mails) that may adjudicate in the review project; empty: anyone but the
    # article's own annotators.
    adjudicators: tuple[str, ...] = ()
    # "shared": one project whose queue every annotator draws from (Label Studio's overlap).
    # "assigned": each article goes to exactly annotators_per_task of `annotators`, balanced and
    # deterministic, and each annotator labels in a project (a queue) of their own.
    mode: str = "shared"
    annotators: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreannotateConfig:
    # A deterministic share of the articles gets no suggestion, so that agreement and gold
    # accuracy with and without suggestions can be compared (anchoring).
    blind_fraction: float = 0.0
    seed: str = "toolkit"
    # Queue order: "sequential" (task order) or "uncertainty" (Label Studio's uncertainty
    # sampling: the tasks whose suggestion has the lowest score first).
    order: str = "sequential"
    # Which prediction file annotators see: a model_version under annotations/predictions/, or
    # "" for the one `toolkit preannotate` wrote last.
    show: str = ""


@dataclass(frozen=True)
class ReleaseConfig:
    # Split ratios (they must add up to 1), and the salt of the split hash.
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    seed: str = "toolkit"
    # Field whose gold value stratifies the splits (default: the first single choice) and span
    # field the `ner` config is made from (default: the first span field).
    stratify_field: str = ""
    ner_field: str = ""


@dataclass(frozen=True)
class Config:
    project: ProjectConfig = field(default_factory=ProjectConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    labelstudio: LabelStudioConfig = field(default_factory=LabelStudioConfig)
    gold: GoldConfig = field(default_factory=GoldConfig)
    campaign: CampaignConfig = field(default_factory=CampaignConfig)
    preannotate: PreannotateConfig = field(default_factory=PreannotateConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def annotators_per_task(self) -> int:
        """How many annotators label each task: [campaign], else what the gold policy needs."""
        return self.campaign.annotators_per_task or self.gold.min_annotations


# Label Studio refuses a project title outside these lengths (400 "Validation error").
TITLE_MIN, TITLE_MAX = 3, 50


@dataclass(frozen=True)
class Bound:
    """The allowed range of a number: ``low`` to ``high``, ``low`` itself excluded when ``open_low``."""

    low: float
    high: float
    open_low: bool = False

    def allows(self, value: float) -> bool:
        return (self.low < value if self.open_low else self.low <= value) and value <= self.high

    def describe(self) -> str:
        if self.open_low:
            return f"in ({self.low:g}, {self.high:g}]"
        return f"{self.low:g}-{self.high:g}"


# Why these limits: each is far beyond any real use and below where the toolkit would hang or
# run out of memory (num_perm = 10^8 hashes every shingle 10^8 times; retries back off
# exponentially; bootstrap resamples every article that many times).
BOUNDS: dict[tuple[str, str], Bound] = {
    ("ingest", "max_file_mb"): Bound(0, 10_000, open_low=True),
    ("ingest", "min_words"): Bound(0, 100_000),
    ("ingest", "near_duplicate_threshold"): Bound(0, 1, open_low=True),
    ("ingest", "shingle_size"): Bound(1, 50),
    ("ingest", "num_perm"): Bound(16, 1024),
    ("ingest", "batch_size"): Bound(1, 1_000_000),
    ("ingest", "jobs"): Bound(0, 1024),
    ("labelstudio", "port"): Bound(1, 65_535),
    ("labelstudio", "page_size"): Bound(1, MAX_IDS_PER_REQUEST),
    ("labelstudio", "timeout"): Bound(0, 3600, open_low=True),
    ("labelstudio", "retries"): Bound(0, 10),
    ("gold", "min_annotations"): Bound(1, 100),
    ("gold", "span_min_agree"): Bound(0, 100),
    ("gold", "event_min_agree"): Bound(0, 100),
    ("gold", "bootstrap"): Bound(0, 100_000),
    ("gold", "seed"): Bound(0, 2**32 - 1),
    ("campaign", "annotators_per_task"): Bound(0, 100),
    ("preannotate", "blind_fraction"): Bound(0, 1),
    ("release", "train"): Bound(0, 1),
    ("release", "validation"): Bound(0, 1),
    ("release", "test"): Bound(0, 1),
}

_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def _coerce(section: str, key: str, value: Any, default: Any, source: str) -> Any:
    where = f"{source}: [{section}] {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(default, (int, float)):
        return _number(where, value, default, BOUNDS.get((section, key)))
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, not {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return value


def _number(where: str, value: Any, default: int | float, bound: Bound | None) -> int | float:
    """``value`` as the type of ``default``, finite and within ``bound``."""
    whole = isinstance(default, int)
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where} must be {kind}, not {value!r}")
    if not whole:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, not {value!r}",
                              hint=f"allowed: {bound.describe()}" if bound else None)
    if bound is not None and not bound.allows(value):
        raise ConfigError(f"{where} must be {bound.describe()}, not {value!r}",
                          hint="fix the value in toolkit.toml")
    return value


def config_from_dict(data: dict[str, Any], source: str = CONFIG_FILE) -> Config:
    """Build a Config from parsed TOML, rejecting unknown sections and keys (typos)."""
    sections: dict[str, Any] = {}
    defaults = Config()
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section [{section}]",
                hint=f"known sections: {', '.join(sorted(_SECTIONS))}",
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        default_section = getattr(defaults, section)
        known = {f.name for f in dataclasses.fields(default_section)}
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key {key!r} in [{section}]",
                    hint=f"known keys: {', '.join(sorted(known))}",
                )
            kwargs[key] = _coerce(section, key, value, getattr(default_section, key), source)
        sections[section] = dataclasses.replace(default_section, **kwargs)
    config = dataclasses.replace(defaults, **sections)
    _check(config, source)
    return config


def _check(config: Config, source: str) -> None:
    """Rules that tie values together (each number's own range is checked in ``_number``)."""
    if config.ingest.html_focus not in HTML_FOCUS:
        raise ConfigError(f"{source}: [ingest] html_focus must be \"precision\", \"balanced\" or \"recall\", "
                          f"not {config.ingest.html_focus!r}")
    gold = config.gold
    if gold.numbers not in ("median", "majority"):
        raise ConfigError(f"{source}: [gold] numbers must be \"median\" or \"majority\", not {gold.numbers!r}")
    campaign = config.campaign
    if 0 < campaign.annotators_per_task < gold.min_annotations:
        raise ConfigError(
            f"{source}: [campaign] annotators_per_task = {campaign.annotators_per_task} cannot satisfy "
            f"[gold] min_annotations = {gold.min_annotations}: no article would ever get a gold label",
            hint="raise annotators_per_task (or set it to 0), or lower [gold] min_annotations")
    if campaign.mode not in ("shared", "assigned"):
        raise ConfigError(f"{source}: [campaign] mode must be \"shared\" or \"assigned\", not {campaign.mode!r}")
    if config.preannotate.order not in ("sequential", "uncertainty"):
        raise ConfigError(f"{source}: [preannotate] order must be \"sequential\" or \"uncertainty\", "
                          f"not {config.preannotate.order!r}")
    if campaign.mode == "assigned":
        people = [a.strip().lower() for a in campaign.annotators]
        if len(set(people)) != len(people) or not all(people):
            raise ConfigError(f"{source}: [campaign] annotators lists an e-mail twice (or an empty one)")
        if len(people) < config.annotators_per_task:
            raise ConfigError(
                f"{source}: [campaign] mode = \"assigned\" needs at least annotators_per_task = "
                f"{config.annotators_per_task} annotators, and [campaign] annotators lists {len(people)}",
                hint="list the annotators' e-mails in [campaign] annotators (`toolkit annotators add` makes accounts)")
    title = config.project.title.strip()
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise ConfigError(f"{source}: [project] title {config.project.title!r} must be {TITLE_MIN} to {TITLE_MAX} "
                          "characters (Label Studio refuses other project titles)",
                          hint="write a longer or shorter title in toolkit.toml")


def load_config(path: Path) -> Config:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found", hint="run `toolkit init DIR` to create a workspace") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the file and run again") from exc
    return config_from_dict(data, source=str(path))


def labelstudio_url(config: Config) -> str | None:
    """The URL of a user-provided Label Studio: environment first, then toolkit.toml."""
    return os.environ.get("LABEL_STUDIO_URL") or config.labelstudio.url or None


def render_default_config(name: str, title: str) -> str:
    """The commented toolkit.toml that `toolkit init` writes."""
    return f'''# Workspace settings for the dataset toolkit. Secrets never go here: set
# LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY / HF_TOKEN in the environment instead.

[project]
name = {_toml_str(name)}
title = {_toml_str(title)}
description = ""
license = "other"

[ingest]
paths = ["raw"]
# A single text or HTML file larger than this is rejected (JSONL is streamed line by line).
max_file_mb = 10.0
# Bodies shorter than this are rejected as "not an article".
min_words = 20
# Extra full-line regular expressions removed as site boilerplate (case-insensitive).
boilerplate = []
# HTML pages: what the extractor favours, "precision" (less noise, e.g. reader comments),
# "balanced" (about a tenth faster, a little more text) or "recall" (the most text).
html_focus = "precision"
# Near-duplicates: estimated Jaccard similarity of {IngestConfig.shingle_size}-word shingles at or
# above which two articles share a cluster_id.
near_duplicate_threshold = {IngestConfig.near_duplicate_threshold}
shingle_size = {IngestConfig.shingle_size}
num_perm = {IngestConfig.num_perm}
# Worker processes reading and cleaning raw files (0: one per CPU); the output is the same either way.
jobs = {IngestConfig.jobs}

[tasks]
# true: only the first article of each near-duplicate cluster becomes a task.
one_per_cluster = false

[labelstudio]
# Empty: the embedded server (`toolkit studio start`). LABEL_STUDIO_URL overrides it.
url = ""
port = 8080
# Task ids per request when pulling (at most 900).
page_size = 900
timeout = 60.0
retries = 4

[gold]
# How `toolkit agree` turns each article's annotations into one gold record (see README).
min_annotations = 2
numbers = "median"
span_min_agree = 0
# An event is gold when at least this many annotators mark it (triggers overlapping; 0: a majority).
event_min_agree = 0
bootstrap = 1000
seed = 0

[campaign]
# Annotators per task (0: [gold] min_annotations). `toolkit push` sets it on the server.
annotators_per_task = 0
# Show the guidelines (from the scheme + schemas/guidelines.md) before labelling.
show_guidelines = true
# Who may adjudicate in the review project (e-mails); empty: anyone but the article's annotators.
adjudicators = []
# "shared": one project, one queue for all. "assigned": each article to annotators_per_task of
# `annotators` (balanced, deterministic), each annotator in a project of their own.
mode = "shared"
annotators = []

[preannotate]
# Share of articles that get no suggestion (deterministic by article id and seed): agreement
# with and without suggestions can then be compared.
blind_fraction = 0.0
seed = "toolkit"
# Annotators' queue order: "sequential" or "uncertainty" (lowest suggestion score first).
order = "sequential"
# The prediction file annotators see (a model_version); "": the one `toolkit preannotate` wrote last.
show = ""

[release]
# Split ratios (must add up to 1) and the salt of the deterministic split hash.
train = 0.8
validation = 0.1
test = 0.1
seed = "toolkit"
'''


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
