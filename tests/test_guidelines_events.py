"""The guidelines annotators read first explain events, arguments and relations of the scheme."""

from __future__ import annotations

from toolkit.labelstudio.guidelines import render_guidelines
from toolkit.scheme import builtin_scheme, default_scheme


def test_guidelines_name_the_trigger_roles_attributes_and_how_to_link():
    html = render_guidelines(default_scheme())
    assert "Trigger label <strong>EVENT</strong>" in html
    # Each role with the entity labels it accepts; a unique role says so.
    assert "<strong>perpetrator</strong> (PERSON, ORG, NORP)" in html
    assert "<strong>time</strong> (DATE; at most one per event)" in html
    # The event's questions, the required one marked, with its choices.
    assert "For each event, once it is selected:" in html
    assert "<strong>Attack type</strong> <strong>(required)</strong>" in html and "Armed Assault" in html
    # Relations with their ends, and the steps in the labeling view.
    assert "<strong>member_of</strong> (PERSON \u2192 ORG, NORP)" in html
    assert "Alt</kbd>+<kbd>R" in html and "Relations</em> tab" in html


def test_guidelines_of_an_article_level_scheme_do_not_talk_about_links():
    html = render_guidelines(builtin_scheme("news-events-v1"))
    assert "Relations" not in html and "Alt</kbd>" not in html
