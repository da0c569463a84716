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
from ..scheme import ChoiceField, NumberField, Scheme, SpanField, TextField

__all__ = ["GUIDELINES_FILE", "render_guidelines", "workspace_guidelines"]

GUIDELINES_FILE = "guidelines.md"


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)


def _field_kind(f: object) -> str:
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
            items = "".join(f"<li><strong>{esc(v.value)}</strong>" + (f": {esc(v.description)}" if v.description
                                                                         else "") + "</li>" for v in values)
            parts.append(f"<ul>{items}</ul>")
    parts.append("<p>Label what the article says, not what you know from elsewhere. Skip a task only when it is "
                 "not a news article; every submitted answer is compared with the other annotators'.</p>")
    return "\n".join(parts) + "\n"


def workspace_guidelines(schemas_dir: Path, scheme: Scheme) -> str:
    """The guidelines of a workspace: ``schemas/guidelines.md`` (optional) + the scheme."""
    path = schemas_dir / GUIDELINES_FILE
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="guidelines.md must be a readable UTF-8 Markdown file") \
            from None
    return render_guidelines(scheme, text)
