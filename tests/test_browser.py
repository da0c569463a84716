"""Two annotators label the same articles in the real labeling UI, in a real browser.

Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright logs two annotators in to the
session's Label Studio server; each opens the labeling stream, closes the guidelines that
``push`` asks the server to show first, and on every article marks a PERSON span with a real
mouse drag (on the emoji article, a name *after* the emoji), picks the event type, types the
number killed and submits. Then ``pull`` must bring every annotation back with offsets that
index the article text exactly (Python code points, where the browser counts UTF-16 units), and
``agree`` must compute agreement over the two annotators. Screenshots of the labeling view go
to the test's temporary folder.

``make test`` installs what this needs: chromium and the emoji font (``make browser``) and
Playwright (the ``dev`` extra); Playwright's own browser download is not used.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.articles import read_articles

try:
    from playwright.sync_api import Browser, Page, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # reported by the `browser` fixture, as a failure
    sync_playwright = PlaywrightTimeout = None

pytestmark = [pytest.mark.labelstudio]

from .conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (the `browser` fixture is in conftest: one per session)
VIEWPORT = {"width": 1440, "height": 900}
SMALL_VIEWPORT = {"width": 1280, "height": 800}

EMOJI_NAME = "Marc Dupont"  # labelled after the emoji: its offsets shift by one UTF-16 unit
OTHER_NAME = "Amina Yusuf"
ARTICLES = {
    "lyon-arrest.txt": (
        "Man arrested after knife attack in Lyon\n\n"
        "A knife attack near the main station of Lyon left two people dead on Tuesday evening, local "
        "officials said. 🚨 Police said Marc Dupont was arrested in Lyon shortly after the attack and "
        "that no other suspect was being sought.\n\n"
        "Witnesses described panic on the square as passengers ran from the station entrance.\n"),
    "market-blast.txt": (
        "Explosion at a market injures shoppers\n\n"
        "An explosion tore through a crowded market in the city centre on Saturday morning, killing "
        "three people according to the regional governor. Amina Yusuf, a stall owner, said the blast "
        "came from a parked motorcycle.\n\n"
        "Investigators have not said who was behind the explosion or whether it was a bomb.\n"),
}

# Event type per annotator and article: the same answer on the emoji article, different on the other.
EVENT_TYPES = {
    0: {EMOJI_NAME: "Armed Assault", OTHER_NAME: "Armed Assault"},
    1: {EMOJI_NAME: "Armed Assault", OTHER_NAME: "Bombing/Explosion"},
}
KILLED = {EMOJI_NAME: "2", OTHER_NAME: "3"}

TEXT = ".lsf-richtext__container"  # the <Text> tag: a plain element, not an iframe
MODAL = ".lsf-modal-ls_visible"
CLOSE_MODAL = ".lsf-modal-ls button[aria-label='Close modal']"
SUBMIT = "button[aria-label='Submit current annotation']"
ANNOTATIONS_URL = re.compile(r"/api/tasks/(\d+)/annotations")

# The viewport rectangles of the first and last character of `target` in the text, from a DOM
# Range per character (so emoji and surrogate pairs before it do not matter).
CHAR_RECTS_JS = """([selector, target]) => {
  const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
  const nodes = []; let full = ''; let node;
  while ((node = walker.nextNode())) { nodes.push([node, full.length]); full += node.data; }
  const at = full.indexOf(target);
  if (at < 0) return null;
  const rect = (i) => {
    const [n, offset] = nodes.filter(([, start]) => start <= i).pop();
    const range = document.createRange();
    range.setStart(n, i - offset); range.setEnd(n, i - offset + 1);
    const r = range.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  };
  return {first: rect(at), last: rect(at + target.length - 1)};
}"""


@dataclass
class Submitted:
    annotator: str
    task_id: int
    target: str
    event_type: str


# The browser ------------------------------------------------------------------------------



def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/user/login" not in url, timeout=30_000)


def close_guidelines(page: Page, timeout: float = 3_000) -> bool:
    """Close the instructions modal when it is (or comes) up; say whether it was there."""
    close = page.locator(CLOSE_MODAL)
    try:
        close.wait_for(state="visible", timeout=timeout)
    except PlaywrightTimeout:
        return False
    close.click()
    page.locator(MODAL).wait_for(state="detached", timeout=5_000)
    return True


def article_text(page: Page) -> str:
    page.locator(TEXT).wait_for(state="visible", timeout=60_000)
    return page.locator(TEXT).text_content()


def drag_span(page: Page, label: str, target: str) -> None:
    """Pick `label`, then select `target` with the mouse, as a person does."""
    page.locator(".lsf-label", has_text=label).first.click()
    page.locator(TEXT).scroll_into_view_if_needed()
    rects = page.evaluate(CHAR_RECTS_JS, [TEXT, target])
    assert rects, f"{target!r} is not in the rendered text"
    y = (rects["first"]["top"] + rects["first"]["bottom"]) / 2
    x0, x1 = rects["first"]["left"] + 1, rects["last"]["right"] - 1
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=5)
    page.mouse.move(x1, y, steps=5)
    page.mouse.up()
    page.locator(".htx-highlight", has_text=target).first.wait_for(timeout=5_000)
    page.keyboard.press("Escape")  # deselect the region, so the choice goes to the whole task


def choose(page: Page, value: str) -> None:
    box = page.locator(f"label.lsf-choice__checkbox:has(input[name='{value}'])")
    # A single-answer field shows radio buttons, so nobody takes it for "tick several".
    assert box.locator("input").get_attribute("type") == "radio"
    box.click()
    assert box.locator("input").is_checked(), f"the choice {value!r} did not stick"


def type_number(page: Page, value: str) -> None:
    killed = page.locator("input[type=number]").first  # Killed, Injured, Hostages: in the scheme's order
    killed.scroll_into_view_if_needed()
    killed.fill(value)
    killed.press("Tab")


def submit(page: Page) -> int:
    """Submit the annotation and return its task id, once the server has stored it."""
    def stored(r) -> bool:
        return r.request.method == "POST" and ANNOTATIONS_URL.search(r.url) is not None

    with page.expect_response(stored, timeout=30_000) as response:
        page.locator(SUBMIT).click()
    assert response.value.status == 201, f"submit answered {response.value.status}"
    return int(ANNOTATIONS_URL.search(response.value.url).group(1))


def wait_for_next_task(page: Page, previous: str) -> None:
    page.wait_for_function("([sel, old]) => { const el = document.querySelector(sel);"
                           " return el && el.textContent && el.textContent !== old; }",
                           arg=[TEXT, previous], timeout=60_000)


def label_stream(browser: Browser, base: str, project_id: int, person, index: int, n_tasks: int,
                 shots: Path) -> list[Submitted]:
    """One annotator's session: log in, label every task of the stream, submit each."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    done: list[Submitted] = []
    try:
        log_in(page, base, person.email, person.password)
        page.goto(f"{base}/projects/{project_id}/data?labeling=1")
        article_text(page)
        assert close_guidelines(page), "the guidelines (show_instruction) were not shown first"
        for n in range(1, n_tasks + 1):
            close_guidelines(page, timeout=500)  # not seen again in 1.23.2, but it would block the drag
            text = article_text(page)
            target = EMOJI_NAME if EMOJI_NAME in text else OTHER_NAME
            drag_span(page, "PERSON", target)
            event_type = EVENT_TYPES[index][target]
            choose(page, event_type)
            type_number(page, KILLED[target])
            page.screenshot(path=shots / f"{person.email}-task{n}.png")
            if index == 1 and n == n_tasks:  # and the same view on a smaller screen
                page.set_viewport_size(SMALL_VIEWPORT)
                page.screenshot(path=shots / f"{person.email}-task{n}-1280x800.png")
            done.append(Submitted(person.email, submit(page), target, event_type))
            if n < n_tasks:
                wait_for_next_task(page, text)
        return done
    except Exception:
        page.screenshot(path=shots / f"{person.email}-failure.png")
        raise
    finally:
        context.close()


# The workspace ----------------------------------------------------------------------------

def pushed_workspace(ws) -> int:
    from toolkit.ingest import ingest
    from toolkit.labelstudio import build_tasks, push

    for name, text in ARTICLES.items():
        (ws.raw_dir / name).write_text(text, encoding="utf-8")
    ingested = ingest(ws)
    assert (ingested.new_articles, ingested.rejected) == (len(ARTICLES), [])
    assert build_tasks(ws).added == len(ARTICLES)
    pushed = push(ws)
    assert pushed.imported == len(ARTICLES) and pushed.settings["show_instruction"] is True
    return pushed.project_id


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def import_agree():
    """toolkit.agreement is being worked on: give a momentarily broken import a minute."""
    for attempt in range(7):
        try:
            from toolkit.agreement import agree

            return agree
        except (ImportError, SyntaxError):
            if attempt == 6:
                raise
            time.sleep(10)


# The test ---------------------------------------------------------------------------------

def test_two_annotators_label_in_the_browser_and_pull_and_agree_get_it_all(
        browser, ls_workspace, label_studio, tmp_path):
    from toolkit.labelstudio import pull
    from toolkit.labelstudio.team import add_annotators

    ws = ls_workspace
    project_id = pushed_workspace(ws)
    suffix = ws.config.project.title.split()[-1]  # the server is shared by the session
    people = add_annotators(ws, [f"ann-{suffix}@example.org", f"ben-{suffix}@example.org"], create=True).annotators
    shots = tmp_path / "screenshots"
    shots.mkdir()

    submitted = [s for i, person in enumerate(people)
                 for s in label_stream(browser, label_studio.url, project_id, person, i, len(ARTICLES), shots)]
    assert len({(s.annotator, s.task_id) for s in submitted}) == 4  # each person, each task, once
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        [f"{p.email}-task{n}.png" for p in people for n in (1, 2)] + [f"{people[1].email}-task2-1280x800.png"])

    report = pull(ws)
    assert (report.annotations, report.quarantined) == (4, 0)
    # Label Studio 1.23.2's text tag already gives code-point offsets: nothing converted from UTF-16,
    # nothing repaired by searching the text, nothing quarantined.
    assert report.offsets == {"checked": 4, "ok": 4, "converted": 0, "repaired": 0, "quarantined": 0}

    texts = {a["article_id"]: a["text"] for a in read_articles(ws).to_pylist()}
    rows = read_parquet(ws.annotations_dir / "annotations.parquet")
    assert len(rows) == 4
    assert {r["annotator_email"] for r in rows} == {p.email for p in people}
    for row in rows:
        text = texts[row["article_id"]]
        target = EMOJI_NAME if EMOJI_NAME in text else OTHER_NAME
        assert [(s["label"], s["text"]) for s in row["entities"]] == [("PERSON", target)]
        span = row["entities"][0]
        assert text[span["start"]:span["end"]] == span["text"]
        # The Python code-point index: after the emoji, the browser's UTF-16 index is one more.
        assert (span["start"], span["end"]) == (text.index(target), text.index(target) + len(target))
        if target == EMOJI_NAME:
            assert "🚨" in text[:span["start"]]
        expected = next(s for s in submitted if s.annotator == row["annotator_email"] and s.task_id == row["task_id"])
        assert (row["event_type"], row["killed"]) == (expected.event_type, int(KILLED[target]))
        assert expected.target == target

    import_agree()(ws)
    agreement = json.loads((ws.annotations_dir / "agreement.json").read_text())
    assert (agreement["annotations"], agreement["annotators"], agreement["articles_multi"]) == (4, 2, 2)
    assert [sorted(pair["annotators"]) for pair in agreement["pairs"]] == [sorted(p.email for p in people)]
    assert agreement["pairs"][0]["articles"] == 2
    # Same event type on one article, different on the other; the same name marked on both.
    event = agreement["fields"]["event_type"]
    assert event["units"] == 2
    assert (event["observed_agreement"]["value"], event["observed_agreement"]["n"]) == (pytest.approx(0.5), 2)
    headline = {(h["field"], h["metric"]): h for h in agreement["headline"]}
    assert (headline["entities", "exact.micro_f1"]["value"], headline["entities", "exact.micro_f1"]["n"]) == (1.0, 2)


def test_an_annotator_finds_the_suggestions_waiting_and_accepting_them_is_measured(
        browser, ls_workspace, label_studio, tmp_path):
    """`toolkit preannotate`'s suggestions, attached by push, are in the labeling view when the
    annotator opens a task (the name after the emoji highlighted on the right words, the event
    type and the count filled in); submitted unchanged, they come back through pull as the
    annotator's answer, and agree counts them as accepted unchanged."""
    from toolkit.agreement import agree
    from toolkit.ingest import ingest
    from toolkit.labelstudio import build_tasks, pull, push
    from toolkit.labelstudio.team import add_annotators
    from toolkit.preannotate.suggestions import Span, Suggestion, Value, to_prediction
    from toolkit.scheme import Scheme

    ws = ls_workspace
    for name, text in ARTICLES.items():
        (ws.raw_dir / name).write_text(text, encoding="utf-8")
    ingest(ws)
    build_tasks(ws)
    scheme = Scheme.load(ws.scheme_path)
    texts = {a["article_id"]: a["text"] for a in read_articles(ws).to_pylist()}
    folder = ws.annotations_dir / "predictions"
    folder.mkdir()
    lines = []
    for article, text in texts.items():
        target = EMOJI_NAME if EMOJI_NAME in text else OTHER_NAME
        at = text.index(target)
        suggestion = Suggestion([Span("entities", at, at + len(target), "PERSON", 0.9, "rules:test")],
                                [Value("event_type", EVENT_TYPES[1][target], 0.8, "model:test"),
                                 Value("killed", int(KILLED[target]), 0.7, "rules:number-phrase")])
        lines.append(json.dumps(to_prediction(scheme, article, text, suggestion, "suggest-1")))
    (folder / "suggest-1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pushed = push(ws)
    assert pushed.suggestions["imported"] == len(ARTICLES) and pushed.shown_version == "suggest-1"

    suffix = ws.config.project.title.split()[-1]
    person = add_annotators(ws, [f"cat-{suffix}@example.org"], create=True).annotators[0]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        log_in(page, label_studio.url, person.email, person.password)
        page.goto(f"{label_studio.url}/projects/{pushed.project_id}/data?labeling=1")
        article_text(page)
        close_guidelines(page)
        for n in range(1, len(ARTICLES) + 1):
            close_guidelines(page, timeout=500)
            text = article_text(page)
            target = EMOJI_NAME if EMOJI_NAME in text else OTHER_NAME
            # The suggested region is there, on exactly the suggested words (after the emoji too).
            highlight = page.locator(".htx-highlight", has_text=target).first
            highlight.wait_for(timeout=15_000)
            assert highlight.text_content().strip() == target
            radio = page.locator(f"label.lsf-choice__checkbox:has(input[name='{EVENT_TYPES[1][target]}']) input")
            assert radio.is_checked(), "the suggested event type is not pre-selected"
            assert page.locator("input[type=number]").first.input_value() == KILLED[target]
            page.screenshot(path=shots / f"suggested-task{n}.png")
            submit(page)
            if n < len(ARTICLES):
                wait_for_next_task(page, text)
    except Exception:
        page.screenshot(path=shots / "suggested-failure.png")
        raise
    finally:
        context.close()

    report = pull(ws)
    assert (report.annotations, report.quarantined) == (len(ARTICLES), 0)
    for row in read_parquet(ws.annotations_dir / "annotations.parquet"):
        text = texts[row["article_id"]]
        target = EMOJI_NAME if EMOJI_NAME in text else OTHER_NAME
        at = text.index(target)
        assert [(s["start"], s["end"], s["label"]) for s in row["entities"]] == [(at, at + len(target), "PERSON")]
        assert (row["event_type"], row["killed"]) == (EVENT_TYPES[1][target], int(KILLED[target]))
    agree(ws)
    section = json.loads((ws.annotations_dir / "agreement.json").read_text())["suggestions"]
    mine = section["annotators"][person.email]
    assert mine["accepted_unchanged"]["value"] == 1.0 and mine["accepted_unchanged"]["n"] == len(ARTICLES)
