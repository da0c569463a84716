"""The Hugging Face ``Features`` of a release's scheme fields, generated from the scheme.

Labels, roles, relation types and choices are ``ClassLabel`` (nullable, like every
choice: a value not given is null, a multiple choice not given an empty list); offsets are
``int32``; spans, relations, events and arguments are lists of structs, so one article's
row holds all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Attribute, ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField, ValueField

if TYPE_CHECKING:
    import datasets

__all__ = ["build_features", "features_to_dict", "value_feature"]


def value_feature(f: ValueField) -> Any:
    """The feature of a choice, number or text (an article-level field or an attribute)."""
    from datasets import ClassLabel, Value

    if isinstance(f, ChoiceField):
        label = ClassLabel(names=list(f.values))
        return [label] if f.multiple else label
    if isinstance(f, NumberField):
        return Value("int32" if f.integer else "float64")
    return Value("string")


def build_features(scheme: Scheme) -> datasets.Features:
    """``datasets.Features`` of the scheme's fields (not the reserved columns)."""
    # datasets takes seconds to import; only release-related commands need it.
    from datasets import ClassLabel, Features, Value

    def with_attributes(item: dict[str, Any], attributes: tuple[Attribute, ...]) -> dict[str, Any]:
        return {**item, **{a.name: value_feature(a.field) for a in attributes}}

    def span(labels: tuple[str, ...]) -> dict[str, Any]:
        return {"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=list(labels)),
                "text": Value("string")}

    # A one-element Python list is datasets' spelling of a list feature in every
    # version (4.x turns it into ``List``); ``Sequence`` of a dict would instead
    # become a dict of lists.
    features: dict[str, Any] = {}
    for f in scheme.fields:
        if isinstance(f, SpanField):
            features[f.name] = [with_attributes(span(f.values), f.attributes)]
        elif isinstance(f, RelationsField):
            features[f.name] = [{"label": ClassLabel(names=list(f.values)),
                                 "head": span(scheme.span_labels), "tail": span(scheme.span_labels)}]
        elif isinstance(f, EventsField):
            trigger = {"start": Value("int32"), "end": Value("int32"), "text": Value("string")}
            argument = {"role": ClassLabel(names=list(f.role_values)), **span(scheme.span_labels)}
            features[f.name] = [with_attributes({"trigger": trigger, "arguments": [argument]}, f.attributes)]
        else:
            features[f.name] = value_feature(f)
    return Features(features)


def features_to_dict(features: datasets.Features) -> dict[str, Any]:
    return features.to_dict()
