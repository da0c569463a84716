"""The annotation guidelines annotators read before labelling, as the project's instructions.

Generated from the scheme (every field with its description, whether it is required, and
every label or choice with its description and examples as the scheme gives them), after
the maintainer's own ``schemas/guidelines.md`` when there is one. Label Studio shows the
result (its ``expert_instruction``, HTML) before the first task when ``show_instruction``
is on, and again from the labeling view.

The Markdown is rendered by markdown-it (CommonMark) with raw HTML off, and every scheme
text is escaped: the guidelines are shown to every annotator, so nothing in them may run.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..errors import InputError
from ..scheme import Attribute, ChoiceField, EventsField, NumberField, RelationsField, Scheme, SpanField, TextField

__all__ = ["GUIDELINES_FILE", "render_guidelines", "workspace_guidelines"]

GUIDELINES_FILE = "guidelines.md"


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)


def _field_kind(f: object) -> str:
    if isinstance(f, EventsField):
        return "mark each event: its trigger words, then its attributes and arguments"
    if isinstance(f, RelationsField):
        return "link two spans"
    if isinstance(f, SpanField):
        return "mark spans in the article" + ("" if not f.allow_overlap else " (spans may overlap)")
    if isinstance(f, ChoiceField):
        return "choose several" if f.multiple else "choose one"
    if isinstance(f, NumberField):
        bounds = [f"at least {f.min:g}" if f.min is not None else "", f"at most {f.max:g}" if f.max is not None else ""]
        kind = "a whole number" if f.integer else "a number"
        return ", ".join([kind] + [b for b in bounds if b])
    assert isinstance(f, TextField)
    return "free text" + (f", at most {f.max_length} characters" if f.max_length else "")


def render_guidelines(scheme: Scheme, maintainer_markdown: str = "") -> str:
    """The guidelines as HTML: the maintainer's text first, then one section per field."""
    esc = html.escape
    parts = [f"<h2>{esc(scheme.title)}: annotation guidelines</h2>"]
    if scheme.description:
        parts.append(f"<p>{esc(scheme.description)}</p>")
    if maintainer_markdown.strip():
        parts.append(_markdown(maintainer_markdown))
    parts.append("<h3>What to label</h3>")
    for f in scheme.fields:
        required = " <strong>(required)</strong>" if f.required else ""
        parts.append(f"<h4>{esc(f.name.replace('_', ' ').capitalize())}{required}</h4>")
        parts.append(f"<p><em>{esc(_field_kind(f))}</em>" + (f": {esc(f.description)}" if f.description else "")
                     + "</p>")
        values = f.labels if isinstance(f, SpanField) else f.choices if isinstance(f, ChoiceField) else ()
        if values:
            parts.append(_items(values))
        if isinstance(f, EventsField):
            parts.append(f"<p>Trigger label <strong>{esc(f.trigger.value)}</strong>"
                         + (f": {esc(f.trigger.description)}" if f.trigger.description else "") + "</p>")
            if f.roles:
                parts.append("<p>Arguments: draw a relation from the trigger to the entity span and give it "
                             "its role.</p><ul>" + "".join(
                                 f"<li><strong>{esc(r.value)}</strong> ({esc(', '.join(r.labels))}"
                                 + ("; at most one per event" if r.unique else "") + ")"
                                 + (f": {esc(r.description)}" if r.description else "") + "</li>" for r in f.roles)
                             + "</ul>")
        if isinstance(f, RelationsField):
            parts.append("<ul>" + "".join(
                f"<li><strong>{esc(r.value)}</strong> ({esc(_ends(r.head))} \u2192 {esc(_ends(r.tail))}"
                + ("" if r.directed else ", either way") + ")"
                + (f": {esc(r.description)}" if r.description else "") + "</li>" for r in f.relations) + "</ul>")
        attributes = f.attributes if isinstance(f, (SpanField, EventsField)) else ()
        if attributes:
            parts.append("<p>For each " + ("event" if isinstance(f, EventsField) else "span")
                         + ", once it is selected:</p><ul>" + "".join(_attribute(a) for a in attributes) + "</ul>")
    if scheme.events_fields or scheme.relations_fields or any(f.attributes for f in scheme.span_fields):
        parts.append(_how_to_link())
    parts.append("<p>Label what the article says, not what you know from elsewhere. Skip a task only when it is "
                 "not a news article; every submitted answer is compared with the other annotators'.</p>")
    return "\n".join(parts) + "\n"


def _items(values: tuple) -> str:
    esc = html.escape
    return "<ul>" + "".join(f"<li><strong>{esc(v.value)}</strong>" + (f": {esc(v.description)}" if v.description
                                                                        else "") + "</li>" for v in values) + "</ul>"


def _ends(labels: tuple[str, ...]) -> str:
    return ", ".join(labels) if labels else "any span"


def _attribute(a: Attribute) -> str:
    esc = html.escape
    where = f" (for {', '.join(a.labels)})" if a.labels else ""
    required = " <strong>(required)</strong>" if a.required else ""
    text = (f"<li><strong>{esc(a.name.replace('_', ' ').capitalize())}</strong>{esc(where)}{required}: "
            f"<em>{esc(_field_kind(a.field))}</em>" + (f". {esc(a.field.description)}" if a.field.description else ""))
    if isinstance(a.field, ChoiceField):
        text += _items(a.field.choices)
    return text + "</li>"


def _how_to_link() -> str:
    return ("<h3>Events, arguments and relations in the labeling view</h3><ol>"
            "<li>Select the words that name the event with its trigger label (as you mark an entity). "
            "With the trigger selected, the event's questions appear on the right: answer them there.</li>"
            "<li>To add an argument, keep the trigger selected, press <kbd>Alt</kbd>+<kbd>R</kbd> (or the link "
            "button in the region's panel), then click the entity span. In the <em>Relations</em> tab, open the "
            "new link's labels (its \u2026 button) and choose the role. Mark the entity first if it is not "
            "marked yet.</li>"
            "<li>Relations between two entities are made the same way, from the first (head) to the "
            "second (tail) span.</li>"
            "<li>Questions about an entity (its attributes) appear when you select the entity.</li></ol>")


def workspace_guidelines(schemas_dir: Path, scheme: Scheme) -> str:
    """The guidelines of a workspace: ``schemas/guidelines.md`` (optional) + the scheme."""
    path = schemas_dir / GUIDELINES_FILE
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="guidelines.md must be a readable UTF-8 Markdown file") \
            from None
    return render_guidelines(scheme, text)
