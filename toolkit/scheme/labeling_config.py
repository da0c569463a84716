"""The Label Studio labeling config (XML) generated from the scheme.

A pure function of the scheme; the server accepting it is tested against a real
Label Studio (and the labeling UI built from it, in a real browser).

Events and relations need no control of their own beyond Label Studio's: an events
field is a ``<Labels>`` with its trigger label (in the label bar, next to the entity
labels), relation types and argument roles are the values of the config's one
``<Relations>`` tag, and every attribute of a span or an event is a per-region control
shown only while a span it is asked for is selected.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .model import Attribute, ChoiceField, EventsField, Field, NumberField, RelationsField, Scheme, SpanField

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

# How a link is drawn in Label Studio 1.23 (its <Relation> tag has no hint to say it).
_LINK_HOWTO = ("To link two spans: select the first, press Alt+R (or the link button in its Info panel) and "
               "click the second; then, in the Relations tab, click the link's \u201c\u2026\u201d button and pick "
               "its label.")


def _add_caption(parent: ET.Element, f: Field | Attribute) -> None:
    ET.SubElement(parent, "Header", {"value": _title_of(f.name) + (" *" if f.required else ""),
                                     "style": _FIELD_NAME_STYLE})
    description = f.field.description if isinstance(f, Attribute) else f.description
    if description:
        ET.SubElement(parent, "Header", {"value": _caption(description), "style": _HINT_STYLE})


def _hint(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "Header", {"value": _caption(text), "style": _HINT_STYLE})


def build_labeling_config(scheme: Scheme) -> str:
    """Label Studio labeling config (XML) for the scheme.

    Two columns: headline, span labels (in a bar that stays in view) and the article on
    the left, about 70 % of the width; the other fields as a compact form on the right.
    Descriptions are small hints under each field name and tooltips on labels and choices. The article is always plain ``<Text>``: it is
    scraped web content and must never be rendered as HTML.

    Attributes of spans and events are per-region controls in the right column, under a
    caption naming the span labels that show them; relation types and argument roles are
    explained there in a folded panel each, since Label Studio's relation labels have no tooltip.
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
    row = bar
    if scheme.events_fields:
        # Triggers are spans too: their labels sit in the same bar, on the same row as the
        # entity labels when there is room (each <Labels> is a block of its own otherwise).
        for f in scheme.span_fields:
            if f.description:
                ET.SubElement(bar, "Header", {"value": _caption(f.description), "style": _HINT_STYLE})
        row = ET.SubElement(bar, "View", {"style": "display: flex; flex-wrap: wrap; align-items: center; "
                                                   "column-gap: 12px"})
    for f in scheme.span_fields:
        if f.description and row is bar:
            ET.SubElement(bar, "Header", {"value": _caption(f.description), "style": _HINT_STYLE})
        labels = ET.SubElement(row, "Labels", {"name": f.name, "toName": "text"})
        for label in f.labels:
            _add_label(labels, label.value, label.description, label.color or PALETTE[palette_index % len(PALETTE)])
            palette_index += 1
    for f in scheme.events_fields:
        labels = ET.SubElement(row, "Labels", {"name": f.name, "toName": "text"})
        _add_label(labels, f.trigger.value, f.trigger.description,
                   f.trigger.color or PALETTE[palette_index % len(PALETTE)])
        palette_index += 1
    ET.SubElement(left, "Text", {"name": "text", "value": "$text"})

    for f in scheme.fields:
        if isinstance(f, SpanField):
            if f.attributes:
                _add_span_attributes(right, f)
            continue
        box = ET.SubElement(right, "View", {"style": "margin-bottom: 1em"})
        _add_caption(box, f)
        if isinstance(f, EventsField):
            _add_events(box, f)
        elif isinstance(f, RelationsField):
            _add_relation_list(box, f)
        else:
            _add_control(box, f)

    if scheme.link_values:
        # Label Studio reads only the first <Relations> of a config: one for every relation
        # type and argument role (the scheme keeps their values unique). Single choice: a link
        # has one meaning.
        relations = ET.SubElement(root, "Relations", {"choice": "single"})
        for value in scheme.link_values:
            ET.SubElement(relations, "Relation", {"value": value})

    ET.indent(root, space="  ")
    # ElementTree escapes &, <, >, quotes and newlines in attribute values.
    return ET.tostring(root, encoding="unicode") + "\n"


def _add_label(parent: ET.Element, value: str, description: str, background: str) -> None:
    attrs = {"value": value, "background": background}
    if description:
        attrs["hint"] = description
    ET.SubElement(parent, "Label", attrs)


def _add_control(parent: ET.Element, f: Field, per_region: dict[str, str] | None = None
                 ) -> None:
    """The control of a choice, number or text field; ``per_region`` holds the attributes that
    make it one value per span instead of one per article."""
    extra = per_region or {}
    if isinstance(f, ChoiceField):
        choices = ET.SubElement(parent, "Choices", {
            "name": f.name, "toName": "text",
            # "single-radio" shows radio buttons; "single" shows checkboxes, which reads as
            # "pick several" to an annotator.
            "choice": "multiple" if f.multiple else "single-radio",
            "required": _xml_bool(f.required), **extra})
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
        ET.SubElement(parent, "Number", {**attrs, **extra})
    else:
        ET.SubElement(parent, "TextArea", {
            "name": f.name, "toName": "text", "maxSubmissions": "1", "rows": "4" if per_region is None else "2",
            "editable": "true", "required": _xml_bool(f.required), **extra})


def _shown_for(labels: Sequence[str]) -> str:
    return "Shown when you select a span labelled " + " or ".join(labels)


def _add_attributes(parent: ET.Element, tag_name: str, groups: list[tuple[tuple[str, ...], list[Attribute]]]
                    ) -> None:
    """Per-region controls, grouped by the span labels they are asked for.

    Each group has a caption that is always in view (where the controls will appear); each
    attribute's name, description and control show only while a span it is asked for is
    selected. ``whenLabelValue`` is always given: Label Studio 1.23 ignores ``whenTagName`` on
    per-region controls, so without it an entity attribute would also show for an event
    trigger, and the reverse.
    """
    for labels, attributes in groups:
        _hint(parent, _shown_for(labels))
        when = {"whenTagName": tag_name, "whenLabelValue": ",".join(labels)}
        for attribute in attributes:
            # The View hides the caption with the control (a per-region control hides itself,
            # its Headers would stay).
            view = ET.SubElement(parent, "View", {"visibleWhen": "region-selected", **when,
                                                  "style": "margin: 0 0 0.75em 0"})
            _add_caption(view, attribute)
            per_region = {"perRegion": "true", **when}
            if attribute.required:
                # Label Studio's own message names the control ("Checkbox \"attack_type\" is required").
                per_region["requiredMessage"] = (f"{_title_of(attribute.name)} is required for each "
                                                 f"{' or '.join(labels)} span: select the span to set it.")
            _add_control(view, attribute.field, per_region)


def _add_span_attributes(parent: ET.Element, f: SpanField) -> None:
    groups: dict[tuple[str, ...], list[Attribute]] = {}
    for attribute in f.attributes:
        groups.setdefault(attribute.labels or f.values, []).append(attribute)
    box = ET.SubElement(parent, "View", {"style": "margin-bottom: 1em"})
    ET.SubElement(box, "Header", {"value": _title_of(f.name) + ": attributes", "style": _FIELD_NAME_STYLE})
    _add_attributes(box, f.name, list(groups.items()))


def _glossary(parent: ET.Element, title: str, lines: list[str]) -> None:
    """Reference text folded away under a title, so the form keeps its controls in view."""
    panel = ET.SubElement(ET.SubElement(parent, "Collapse", {"bordered": "false"}), "Panel", {"value": title})
    for line in lines:
        _hint(panel, line)


def _add_events(box: ET.Element, f: EventsField) -> None:
    if f.attributes:
        _add_attributes(box, f.name, [((f.trigger.value,), list(f.attributes))])
    if f.roles:
        lines = [f"Link the {f.trigger.value} span to each entity span that plays a role in the event. "
                 + _LINK_HOWTO]
        for role in f.roles:
            text = f"\u2022 {role.value} ({', '.join(role.labels)}" + (", at most one" if role.unique else "") + ")"
            lines.append(text + (f": {role.description}" if role.description else ""))
        _glossary(box, "Arguments: " + ", ".join(f.role_values), lines)


def _add_relation_list(box: ET.Element, f: RelationsField) -> None:
    lines = [_LINK_HOWTO]
    for rel in f.relations:
        arrow = "\u2192" if rel.directed else "\u2194"
        ends = f"{', '.join(rel.head) or 'any'} {arrow} {', '.join(rel.tail) or 'any'}"
        lines.append(f"\u2022 {rel.value} ({ends})" + (f": {rel.description}" if rel.description else ""))
    _glossary(box, "Types: " + ", ".join(f.values), lines)


def _xml_bool(flag: bool) -> str:
    return "true" if flag else "false"
