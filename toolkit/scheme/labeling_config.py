"""The Label Studio labeling config (XML) generated from the scheme.

A pure function of the scheme; the server accepting it is tested against a real
Label Studio.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .model import ChoiceField, Field, NumberField, Scheme, SpanField

__all__ = ["PALETTE", "build_labeling_config"]

# Used for span labels without a colour; indexed over all span labels of the
# scheme so two span fields do not share colours.
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
    "#f032e6", "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324",
    "#fffac8", "#800000", "#aaffc3", "#808000", "#ffd8b1", "#000075",
)


def _caption(text: str) -> str:
    # Label Studio replaces "$word" in a Header's value with task data, so a
    # literal dollar sign in a description would vanish; show a look-alike.
    return text.replace("$", "\uff04")


def _title_of(name: str) -> str:
    return name.replace("_", " ").capitalize()


# Label Studio renders <Header> at 20-48 px whatever its size; its style's font-size is kept.
# The article is 16 px, so field names and descriptions are set smaller than the text they
# are about: compact hints, not headlines.
_FIELD_NAME_STYLE = "font-size: 14px; line-height: 1.3; margin: 0 0 2px 0"
_HINT_STYLE = "font-size: 12px; line-height: 1.35; font-weight: normal; margin: 0 0 4px 0; opacity: 0.8"


def _add_caption(parent: ET.Element, f: Field) -> None:
    ET.SubElement(parent, "Header", {"value": _title_of(f.name) + (" *" if f.required else ""),
                                     "style": _FIELD_NAME_STYLE})
    if f.description:
        ET.SubElement(parent, "Header", {"value": _caption(f.description), "style": _HINT_STYLE})


def build_labeling_config(scheme: Scheme) -> str:
    """Label Studio labeling config (XML) for the scheme.

    Two columns: headline, span labels (in a bar that stays in view) and the article on
    the left, about 70 % of the width; the other fields as a compact form on the right.
    Descriptions are small hints under each field name and tooltips on labels and choices. The article is always plain ``<Text>``: it is
    scraped web content and must never be rendered as HTML.
    """
    root = ET.Element("View")
    columns = ET.SubElement(root, "View", {"style": "display: flex; gap: 1.5em; align-items: flex-start"})
    # The article keeps the larger share of the screen; the form stays beside it.
    left = ET.SubElement(columns, "View", {"style": "flex: 7; min-width: 0"})
    right = ET.SubElement(columns, "View", {"style": "flex: 3; min-width: 15em; position: sticky; top: 0"})

    ET.SubElement(left, "Header", {"value": "$title"})
    # The label bar stays at the top of the labeling pane while a long article scrolls under it.
    bar = ET.SubElement(left, "View", {"style": "position: sticky; top: 0; z-index: 10; background: white; "
                                               "padding: 4px 0; border-bottom: 1px solid #ddd"})
    palette_index = 0
    for f in scheme.span_fields:
        if f.description:
            ET.SubElement(bar, "Header", {"value": _caption(f.description), "style": _HINT_STYLE})
        labels = ET.SubElement(bar, "Labels", {"name": f.name, "toName": "text"})
        for label in f.labels:
            attrs = {"value": label.value,
                     "background": label.color or PALETTE[palette_index % len(PALETTE)]}
            if label.description:
                attrs["hint"] = label.description
            ET.SubElement(labels, "Label", attrs)
            palette_index += 1
    ET.SubElement(left, "Text", {"name": "text", "value": "$text"})

    for f in scheme.fields:
        if isinstance(f, SpanField):
            continue
        box = ET.SubElement(right, "View", {"style": "margin-bottom: 1em"})
        _add_caption(box, f)
        if isinstance(f, ChoiceField):
            choices = ET.SubElement(box, "Choices", {
                "name": f.name, "toName": "text",
                # "single-radio" shows radio buttons; "single" shows checkboxes, which reads as
                # "pick several" to an annotator.
                "choice": "multiple" if f.multiple else "single-radio",
                "required": _xml_bool(f.required)})
            for choice in f.choices:
                attrs = {"value": choice.value}
                if choice.description:
                    attrs["hint"] = choice.description
                ET.SubElement(choices, "Choice", attrs)
        elif isinstance(f, NumberField):
            attrs = {"name": f.name, "toName": "text"}
            if f.min is not None:
                attrs["min"] = str(f.min)
            if f.max is not None:
                attrs["max"] = str(f.max)
            attrs["step"] = "1" if f.integer else "any"
            attrs["required"] = _xml_bool(f.required)
            ET.SubElement(box, "Number", attrs)
        else:
            ET.SubElement(box, "TextArea", {
                "name": f.name, "toName": "text", "maxSubmissions": "1", "rows": "4",
                "editable": "true", "required": _xml_bool(f.required)})

    ET.indent(root, space="  ")
    # ElementTree escapes &, <, >, quotes and newlines in attribute values.
    return ET.tostring(root, encoding="unicode") + "\n"


def _xml_bool(flag: bool) -> str:
    return "true" if flag else "false"
