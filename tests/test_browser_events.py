"""An event labelled in the real labeling UI, in a real browser: what Label Studio stores for it.

On a project with the default scheme's config (news-events version 2) and one short article,
an annotator, in Chromium driven by Playwright, marks a PERSON and an EVENT trigger with mouse
drags, sees the event's attributes only while the trigger is selected, sets its attack type
and number killed there, links the trigger to the PERSON and gives the link the role
``victim``, then submits. The annotation read back through the API must be exactly the
results the shared spec describes (ids tying the trigger region, its attribute values and the
relation together; offsets into the article). Screenshots go to ``/tmp/events-*.png``.

Needs what ``tests/test_browser.py`` needs (``make test`` installs it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit.labelstudio.client import Connection, LabelStudioClient
from toolkit.scheme import build_labeling_config, default_scheme

from .test_browser import (SUBMIT, VIEWPORT, article_text, choose, close_guidelines, drag_span,  # noqa: F401
                           log_in, submit)

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture reports it
    Page = expect = None

pytestmark = [pytest.mark.labelstudio]

SHOTS = Path("/tmp")
TITLE = "Judge shot dead in Kabul"
TEXT = "Gunmen shot dead Ali Khan, a judge, in Kabul on Monday, police said."
PERSON = "Ali Khan"
TRIGGER = "shot dead"
CREATE_RELATION = "button[aria-label='Create Relation']"


def highlight(page: Page, text: str):
    return page.locator(".htx-highlight", has_text=text).first


def select_region(page: Page, text: str) -> None:
    """Select the region over `text` (a click on a selected region would unselect it)."""
    page.keyboard.press("Escape")
    highlight(page, text).click()
    expect(page.locator(".lsf-detailed-region").first).to_contain_text(text)


def label_relation(page: Page, value: str) -> None:
    """In the Relations tab, open the only relation's labels and pick `value`."""
    page.locator(".lsf-panel-tabs__tab:visible", has_text="Relations").click()
    item = page.locator(".lsf-relations__item")
    expect(item).to_have_count(1)
    item.hover()
    page.locator("button[aria-label='Show Relation Labels']").click()
    page.locator(".lsf-relation-meta [data-testid=select-trigger]").click()
    page.locator("[data-testid=select-option-label]", has_text=value).click()
    expect(item).to_contain_text(value)
    expect(page.locator("[data-testid=select-option-label]").first).to_be_hidden()


def stored_annotation(base: str, token: str, task_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{base}/api/tasks/{task_id}/annotations/", headers={"Authorization": f"Token {token}"},
                       timeout=30)
    answer.raise_for_status()
    (annotation,) = answer.json()
    return annotation


def test_an_event_with_a_victim_labelled_in_the_browser_is_stored_as_the_spec_says(browser, label_studio):  # noqa: F811
    config = build_labeling_config(default_scheme())
    connection = Connection(url=label_studio.url, token=label_studio.token, embedded=False)
    with LabelStudioClient(connection) as client:
        project_id = client.create_project("events in the browser", config)
        client.import_tasks(project_id, [{"data": {"text": TEXT, "title": TITLE, "article_id": "00112233445566778899"}}])

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        log_in(page, label_studio.url, label_studio.email, label_studio.password)
        page.goto(f"{label_studio.url}/projects/{project_id}/data?labeling=1")
        assert article_text(page) == TEXT
        close_guidelines(page, timeout=500)
        drag_span(page, "PERSON", PERSON)
        drag_span(page, "EVENT", TRIGGER)

        # The attack type is required of every event: Label Studio refuses the submission, with the
        # config's message (the only annotation read back below is the one submitted at the end).
        page.locator(SUBMIT).click()
        refusal = page.locator(".ant-modal-confirm")
        expect(refusal).to_contain_text("Attack type is required for each EVENT span")
        refusal.get_by_role("button").last.click()
        expect(refusal).to_have_count(0)
        attack_type = page.locator("label.lsf-choice__checkbox:has(input[name='Armed Assault'])")
        killed = page.locator("input[name=killed]")
        caption = page.get_by_text("Attack type *", exact=True)
        # ... and selects the trigger that lacks it, which brings up its fields.
        expect(page.locator(".lsf-detailed-region").first).to_contain_text(TRIGGER)
        expect(attack_type).to_be_visible()
        page.keyboard.press("Escape")

        # Nothing selected: the caption says where the event's fields will appear, they are not there.
        expect(page.get_by_text("Shown when you select a span labelled EVENT")).to_be_visible()
        for hidden in (attack_type, killed, caption):
            expect(hidden).to_be_hidden()
        # A PERSON selected: still not there, they are asked of events only.
        select_region(page, PERSON)
        for hidden in (attack_type, killed, caption):
            expect(hidden).to_be_hidden()
        page.screenshot(path=SHOTS / "events-person-selected.png")

        # The trigger selected: there, and what is set goes to this region.
        select_region(page, TRIGGER)
        for shown in (attack_type, killed, caption):
            expect(shown).to_be_visible()
        choose(page, "Armed Assault")
        killed.fill("2")
        killed.press("Tab")
        page.screenshot(path=SHOTS / "events-labeling-1440.png")

        # Link the trigger to the PERSON (the region's "create relation" button, then the other region).
        page.locator(CREATE_RELATION).click()
        highlight(page, PERSON).click()
        label_relation(page, "victim")
        page.screenshot(path=SHOTS / "events-relation.png")
        task_id = submit(page)
    except Exception:
        page.screenshot(path=SHOTS / "events-failure.png")
        raise
    finally:
        context.close()

    annotation = stored_annotation(label_studio.url, label_studio.token, task_id)
    result = annotation["result"]
    (SHOTS / "events-annotation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    regions = {r["from_name"]: r["id"] for r in result if r.get("type") == "labels"}
    assert set(regions) == {"entities", "events"} and regions["entities"] != regions["events"]
    person_id, trigger_id = regions["entities"], regions["events"]
    person_at = {"start": TEXT.index(PERSON), "end": TEXT.index(PERSON) + len(PERSON), "text": PERSON}
    trigger_at = {"start": TEXT.index(TRIGGER), "end": TEXT.index(TRIGGER) + len(TRIGGER), "text": TRIGGER}
    assert (person_at["start"], trigger_at["start"]) == (17, 7)  # counted by hand
    expected = [
        {"id": person_id, "from_name": "entities", "to_name": "text", "type": "labels",
         "value": {**person_at, "labels": ["PERSON"]}},
        {"id": trigger_id, "from_name": "events", "to_name": "text", "type": "labels",
         "value": {**trigger_at, "labels": ["EVENT"]}},
        # Per-region values carry the trigger region's id and its offsets.
        {"id": trigger_id, "from_name": "attack_type", "to_name": "text", "type": "choices",
         "value": {**trigger_at, "choices": ["Armed Assault"]}},
        {"id": trigger_id, "from_name": "killed", "to_name": "text", "type": "number",
         "value": {**trigger_at, "number": 2}},
        # From the trigger (selected first) to the PERSON: no from_name, to_name or value.
        {"type": "relation", "from_id": trigger_id, "to_id": person_id, "direction": "right", "labels": ["victim"]},
    ]
    # Label Studio adds "origin" ("manual") to region results; nothing else.
    assert {r.get("origin", "manual") for r in result} == {"manual"}
    got = [{k: v for k, v in r.items() if k != "origin"} for r in result]

    def order(r: dict[str, Any]) -> tuple[str, str]:
        return (r["type"], r.get("from_name", ""))

    assert sorted(got, key=order) == sorted(expected, key=order)
