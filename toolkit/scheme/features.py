"""The Hugging Face ``Features`` of a release's scheme fields, generated from the scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import ChoiceField, NumberField, Scheme, SpanField

if TYPE_CHECKING:
    import datasets

__all__ = ["build_features", "features_to_dict"]

def build_features(scheme: Scheme) -> datasets.Features:
    """``datasets.Features`` of the scheme's fields (not the reserved columns)."""
    # datasets takes seconds to import; only release-related commands need it.
    from datasets import ClassLabel, Features, Value

    # A one-element Python list is datasets' spelling of a list feature in every
    # version (4.x turns it into ``List``); ``Sequence`` of a dict would instead
    # become a dict of lists.
    features: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            features[f.name] = [{
                "start": Value("int32"),
                "end": Value("int32"),
                "label": ClassLabel(names=list(f.values)),
                "text": Value("string"),
            }]
        elif isinstance(f, ChoiceField):
            label = ClassLabel(names=list(f.values))
            features[f.name] = [label] if f.multiple else label
        elif isinstance(f, NumberField):
            features[f.name] = Value("int32" if f.integer else "float64")
        else:
            features[f.name] = Value("string")
    return Features(features)


def features_to_dict(features: datasets.Features) -> dict[str, Any]:
    return features.to_dict()
