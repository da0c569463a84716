"""The seed article's four events annotated by hand in the real labeling view equal the repository's gold.

A workspace with the default scheme (news-events version 2) and the seed article is pushed to the
session's Label Studio server. The seed's 32 entity spans, read from the repository's gold
(``annotations/gold.parquet``), are attached as a prediction of the project's model version, so
Label Studio pre-fills them. Then, in Chromium driven by Playwright, as an annotator would: each of
the four events of ``tests/events_seed.SEED_EVENTS`` gets its trigger by a mouse drag with the
EVENT label, its attack type, counts and certainty in the per-region controls shown while the
trigger is selected, and its arguments by the trigger's "Create Relation" button, a click on the
entity's highlight and the role picked in the Relations panel; then the four ``located_in``
relations between entities, the note, and submit. ``pull`` must give back exactly the gold's
events, relations and note, and the entities unchanged.

The same words occur several times in the article ("Russia" four times, "IS" three), so regions
are found by their character offsets in the rendered text (a DOM Range over the text nodes),
never by their text. Screenshots go to ``/tmp/seed-hand-*.png``.

Needs what ``tests/test_browser.py`` needs (``make test`` installs it).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from toolkit.ingest import ingest
from toolkit.labelstudio import LabelStudioClient, connect
from toolkit.labelstudio.pull import pull
from toolkit.labelstudio.push import push
from toolkit.labelstudio.tasks import build_tasks
from toolkit.scaffold import init_workspace

from . import events_seed as seed
from .conftest import REPO, SEED, add_raw
from .test_browser import TEXT, VIEWPORT, article_text, choose, close_guidelines, log_in, submit
from .test_browser_events import CREATE_RELATION

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture reports it
    Page = expect = None

pytestmark = [pytest.mark.labelstudio]

GOLD = REPO / "annotations" / "gold.parquet"
SHOTS = Path("/tmp")
MODEL_VERSION = "seed-entities"
# The selected region's details in the Info panel (the Relations panel lists regions with the same class).
DETAILS = ".lsf-detailed-region:not(.lsf-relations .lsf-detailed-region)"

# The rendered article: its text as the concatenation of the text container's text nodes, and
# each highlight's [start, end) in it (from its first and last text node), in document order.
HIGHLIGHTS_JS = """(selector) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  const at = new Map(); let full = ''; let node;
  while ((node = walker.nextNode())) {
    if (node.nodeType === Node.TEXT_NODE) { at.set(node, full.length); full += node.data; }
    else if (node.tagName === 'BR') full += '\\n';
  }
  const spans = [...root.querySelectorAll('.htx-highlight')].map((el) => {
    const inner = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let first = null, last = null, n;
    while ((n = inner.nextNode())) { if (first === null) first = n; last = n; }
    return first === null ? null : [at.get(first), at.get(last) + last.data.length];
  });
  const data = [...root.querySelectorAll('.htx-highlight')].map((el) => [+el.dataset.start, +el.dataset.end]);
  return {text: full, spans, data};
}"""

# Scroll the characters [start, end) to the middle of the view; the viewport rectangles of the
# first and last, and a point on a character of the highlight [start, end) itself (not of a
# highlight nested in it) when there is one.
LOCATE_JS = """([selector, start, end]) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  const nodes = []; let full = ''; let node;
  while ((node = walker.nextNode())) {
    if (node.nodeType === Node.TEXT_NODE) { nodes.push([node, full.length]); full += node.data; }
    else if (node.tagName === 'BR') full += '\\n';
  }
  const place = (i) => { const [n, offset] = nodes.filter(([, s]) => s <= i).pop(); return [n, i - offset]; };
  const rect = (i) => {
    const [n, k] = place(i);
    const range = document.createRange(); range.setStart(n, k); range.setEnd(n, k + 1);
    const r = range.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  };
  const [firstNode] = place(start);
  firstNode.parentElement.scrollIntoView({block: 'center', inline: 'nearest'});
  let own = null;
  for (const el of root.querySelectorAll('.htx-highlight')) {
    const inner = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const texts = []; let n;
    while ((n = inner.nextNode())) texts.push(n);
    if (!texts.length) continue;
    const s = nodes.find(([t]) => t === texts[0])[1];
    const last = nodes.find(([t]) => t === texts[texts.length - 1]);
    if (s !== start || last[1] + last[0].data.length !== end) continue;
    const middle = Math.floor((start + end - 1) / 2);
    for (const i of [middle, ...Array.from({length: end - start}, (_, j) => start + j)]) {
      const [t] = place(i);
      if (t.parentElement.closest('.htx-highlight') === el) { const r = rect(i); own = {x: (r.left + r.right) / 2, y: (r.top + r.bottom) / 2}; break; }
    }
    if (own) break;
  }
  return {first: rect(start), last: rect(end - 1), own};
}"""


def gold_row() -> dict[str, Any]:
    (row,) = pq.read_table(GOLD).to_pylist()
    return row


def rendered(page: Page) -> dict[str, Any]:
    return page.evaluate(HIGHLIGHTS_JS, TEXT)


def click_region(page: Page, start: int, end: int) -> None:
    """Click the highlight of the region [start, end) (whatever other regions have the same words)."""
    where = page.evaluate(LOCATE_JS, [TEXT, start, end])
    assert where["own"], f"no highlight over [{start}, {end})"
    page.mouse.click(where["own"]["x"], where["own"]["y"])


def deselect(page: Page) -> None:
    """Unselect whatever region is selected (Escape is not heard while an input has the focus)."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Escape")
    expect(page.get_by_text("View region details")).to_be_visible()


def select_region(page: Page, start: int, end: int, text: str) -> None:
    """Select the region [start, end): nothing selected first (a click on a selected region unselects it)."""
    deselect(page)
    click_region(page, start, end)
    expect(page.locator(DETAILS)).to_contain_text(text[start:end])


def drag_trigger(page: Page, start: int, end: int, text: str) -> None:
    """Pick EVENT, then select the characters [start, end) with the mouse, as a person does."""
    deselect(page)
    page.locator(".lsf-label", has_text="EVENT").first.click()
    where = page.evaluate(LOCATE_JS, [TEXT, start, end])
    first, last = where["first"], where["last"]
    x0, y0 = first["left"] + 1, (first["top"] + first["bottom"]) / 2
    x1, y1 = last["right"] - 1, (last["top"] + last["bottom"]) / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    page.wait_for_function(f"([sel, s, e]) => ({HIGHLIGHTS_JS})(sel).spans.some(x => x && x[0] === s && x[1] === e)",
                           arg=[TEXT, start, end], timeout=5_000)


def show_tab(page: Page, name: str) -> None:
    tab = page.locator(".lsf-panel-tabs__tab:visible", has_text=name)
    if tab.count():
        tab.first.click()


def label_newest_relation(page: Page, value: str, count: int) -> None:
    """In the Relations tab, where there are now `count` relations, give the newest (last) one `value`."""
    show_tab(page, "Relations")
    items = page.locator(".lsf-relations__item")
    expect(items).to_have_count(count)
    item = items.nth(count - 1)
    item.hover()
    item.locator("button[aria-label='Show Relation Labels']").click()
    meta = page.locator(".lsf-relation-meta [data-testid=select-trigger]")
    meta.last.click()
    page.locator("[data-testid=select-option-label]", has_text=value).first.click()
    expect(item).to_contain_text(value)
    expect(page.locator("[data-testid=select-option-label]").first).to_be_hidden()
    show_tab(page, "Info")


def link(page: Page, head: tuple[int, int], tail: tuple[int, int], value: str, count: int, text: str) -> None:
    """A relation from the region `head` to the region `tail`, labelled `value`: the `count`-th."""
    select_region(page, *head, text)
    page.locator(CREATE_RELATION).click()
    click_region(page, *tail)
    label_newest_relation(page, value, count)


def set_number(page: Page, name: str, value: int) -> None:
    box = page.locator(f"input[name={name}]")
    box.fill(str(value))
    box.press("Tab")  # the per-region number is taken on change/blur
    expect(box).to_have_value(str(value))


@pytest.fixture
def seed_project(tmp_path, label_studio, monkeypatch):
    """The seed pushed with the default scheme; its gold entities attached as the shown prediction."""
    ws = init_workspace(tmp_path / "ws", title=f"Seed by hand {uuid.uuid4().hex[:8]}")  # news-events v2
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    add_raw(ws, SEED.name)
    ingest(ws)
    build_tasks(ws)
    project_id = push(ws).project_id
    entities = tuple(seed.Region(e["start"], e["end"], e["label"]) for e in gold_row()["entities"])
    client = LabelStudioClient(connect(ws))
    try:
        (task,) = [t for _p, page, _n in client.iter_task_pages(project_id, page_size=10) for t in page]
        text = task["data"]["text"]
        result = seed.results(seed.Annotation(entities), text)
        assert {r["from_name"] for r in result} == {"entities"} and len(result) == 32
        client.create_prediction(task["id"], MODEL_VERSION, result, score=1.0)
        client.update_project(project_id, {"model_version": MODEL_VERSION, "show_collab_predictions": True})
    finally:
        client.close()
    return ws, project_id, text


def test_the_seed_annotated_by_hand_in_the_browser_pulls_as_the_gold(browser, label_studio, seed_project):
    ws, project_id, text = seed_project
    gold = gold_row()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        log_in(page, label_studio.url, label_studio.email, label_studio.password)
        page.goto(f"{label_studio.url}/projects/{project_id}/data?labeling=1")
        close_guidelines(page)
        article_text(page)
        # The 32 suggested entities are there, on their offsets; the highlights add no text (no
        # label text nodes), so offsets in the rendered text are offsets in the article.
        page.locator(".htx-highlight").nth(31).wait_for(timeout=15_000)
        shown = rendered(page)
        assert shown["text"] == text
        assert shown["spans"] == shown["data"]  # the DOM Range offsets are Label Studio's own
        assert sorted(map(tuple, shown["spans"])) == sorted((e["start"], e["end"]) for e in gold["entities"])
        page.screenshot(path=SHOTS / "seed-hand-suggested.png")

        relations = 0
        for event in seed.SEED_EVENTS:
            start, end = event.trigger
            drag_trigger(page, start, end, text)
            select_region(page, start, end, text)
            attributes = dict(event.attributes)
            choose(page, attributes.pop("attack_type"))
            choose(page, attributes.pop("certainty"))
            for name, value in attributes.items():
                set_number(page, name, value)
            for role, argument in event.arguments:
                relations += 1
                link(page, (start, end), (argument.start, argument.end), role, relations, text)
        page.screenshot(path=SHOTS / "seed-hand-events.png")
        for value, head, tail in seed.SEED_RELATIONS:
            relations += 1
            link(page, (head.start, head.end), (tail.start, tail.end), value, relations, text)

        deselect(page)
        note = page.locator("textarea[name=note]")
        note.fill(seed.SEED_NOTE)
        note.press("Shift+Enter")  # the view's own hint: "Press Shift + Enter to Add" (Enter is a new line)
        expect(page.get_by_text(seed.SEED_NOTE[:40])).to_be_visible()
        show_tab(page, "Relations")
        page.screenshot(path=SHOTS / "seed-hand-relations.png", full_page=True)
        submit(page)
    except Exception:
        page.screenshot(path=SHOTS / "seed-hand-failure.png")
        (SHOTS / "seed-hand-failure.html").write_text(page.content(), encoding="utf-8")
        raise
    finally:
        context.close()

    report = pull(ws)
    assert (report.annotations, report.valid, report.quarantined) == (1, 1, 0)
    (record,) = pq.read_table(ws.annotations_dir / "annotations.parquet").to_pylist()
    assert record["events"] == gold["events"]
    assert record["relations"] == gold["relations"]
    assert record["note"] == gold["note"] == seed.SEED_NOTE

    def key(span: dict[str, Any]) -> tuple[int, int, str]:
        return (span["start"], span["end"], span["label"])

    assert sorted(record["entities"], key=key) == sorted(gold["entities"], key=key)
