"""The release stage: gold labels + articles -> ``releases/vX.Y.Z/``, immutable and checksummed.

Takes in: ``annotations/gold.parquet`` (and ``agreement.json``), ``annotations/articles/``,
``schemas/scheme.json`` and the previous release. Writes: ``releases/vX.Y.Z/``, a Hugging Face
dataset folder (Parquet configs and splits, dataset card, datasheet, changelog, Croissant,
CoNLL, manifest), built aside and renamed into place only when complete. The configs:
``documents`` (one row per article, every published field, nested relations and events
included), ``ner`` (tokens and BIO tags) and, per events field of the scheme, an events config
named after it (one row per gold event, in the split of its article).

- ``build``: versions, the proposal, the lock, and ``release`` itself;
- ``data``: the inputs, the deterministic split plan, the features and the streaming write
  (the events configs' rows too);
- ``conll``: tokens, BIO tags and CoNLL text of the ``ner`` config;
- ``card``: the dataset card, the datasheet and the plots; ``croissant``: Croissant metadata;
- ``changelog``: the row-level diff against the previous release, and what the scheme change did;
- ``verify``: checking a release against its manifest (regular files only, every one inside the
  release and listed), and ``load`` (verify, then load);
- ``hub``: publishing a verified release to the Hugging Face Hub.

Names are imported on first use, so ``toolkit verify`` does not pay for what ``release`` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import (HubError, ReleaseError, ReleaseExists, ReleaseInputMissing, ReleaseInputStale, ReleaseLocked,  # noqa: F401
                      ReleaseNotFound, ReleaseTampered, VersionError)

_EXPORTS = {
    "MANIFEST": "build", "ReleaseReport": "build", "parse_version": "build", "list_releases": "build",
    "propose_version": "build", "release": "build",
    "SPLITS": "data", "ReleaseOptions": "data",
    "VerifyReport": "verify", "verify_release": "verify", "load": "verify",
    "HubPlan": "hub", "push_to_hub": "hub",
}

__all__ = sorted([*_EXPORTS, "HubError", "ReleaseError", "ReleaseExists", "ReleaseInputMissing",
                  "ReleaseInputStale", "ReleaseLocked", "ReleaseNotFound", "ReleaseTampered", "VersionError"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
