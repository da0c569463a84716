"""`[ingest] html_focus`: what trafilatura favours when it finds the article in an HTML page.

"precision" (the default) keeps reader comments out that "balanced" lets in; "balanced" makes
an HTML ingest about a tenth faster (BENCHMARKS.md, "Throughput targets, third pass"). The Spanish page of
``../shared/corpus/articles/newspaper3k_tests`` (ultimahora.es) ends with readers' comments,
each after a "Hace 28 minutos"-style time. Checked by hand: both bodies hold the whole article
(its last sentence ends "la Audiencia anuló su decisión"); the balanced body goes on with the
comments themselves, the precision body has none of them. Changing the setting makes the next
ingest read every file again (the saved state names the settings it was made with); a state
saved before the setting existed, made with "precision", stays usable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit import config
from toolkit.articles import read_articles
from toolkit.errors import ConfigError
from toolkit.ingest import ingest, readers, run_settings, state
from toolkit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SPANISH = REPO.parent / "shared" / "corpus" / "articles" / "newspaper3k_tests" / "html" / "spanish_article.html"
COMMENT = "Lo importante no es si imputa o no, lo importante es el cocido Madrileño"
LAST_ARTICLE_WORDS = "la Audiencia anuló su decisión"  # the article's last sentence, kept by every focus

needs_page = pytest.mark.skipif(not SPANISH.is_file(), reason=f"{SPANISH} is not there")


def test_every_focus_of_the_config_is_one_trafilatura_setting() -> None:
    assert set(config.HTML_FOCUS) == set(readers._FOCUS)
    assert config.IngestConfig().html_focus == "precision"
    assert readers.ReaderOptions(max_bytes=1, min_words=1).html_focus == "precision"


def test_an_unknown_focus_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        config.config_from_dict({"ingest": {"html_focus": "fast"}})
    assert "[ingest] html_focus" in str(err.value) and "'fast'" in str(err.value)
    assert config.config_from_dict({"ingest": {"html_focus": "balanced"}}).ingest.html_focus == "balanced"


def test_the_written_config_names_the_default_focus(workspace) -> None:
    text = (workspace.root / config.CONFIG_FILE).read_text(encoding="utf-8")
    assert 'html_focus = "precision"' in text
    assert workspace.config.ingest.html_focus == "precision"


@needs_page
def test_precision_keeps_the_readers_comments_out_and_balanced_lets_them_in() -> None:
    html = SPANISH.read_bytes().decode("utf-8")
    precision = readers.extract_html(html)["text"]
    assert readers.extract_html(html, focus="precision")["text"] == precision
    balanced = readers.extract_html(html, focus="balanced")["text"]
    assert LAST_ARTICLE_WORDS in precision and LAST_ARTICLE_WORDS in balanced
    assert COMMENT not in precision and "Hace 28 minutos" not in precision
    assert COMMENT in balanced and "Hace 28 minutos" in balanced
    assert balanced.startswith(precision.split("\n\n")[0])  # the same article, more after it


def _set_focus(workspace: Workspace, focus: str) -> Workspace:
    path = workspace.root / config.CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    lines = [f'html_focus = "{focus}"' if line.startswith("html_focus = ") else line for line in text.splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Workspace.find(workspace.root)


@needs_page
def test_changing_the_focus_reads_the_page_again_with_it(workspace) -> None:
    (workspace.root / "raw" / SPANISH.name).write_bytes(SPANISH.read_bytes())
    first = ingest(workspace)
    assert first.new_articles == 1 and first.files_read == 1
    (row,) = read_articles(workspace).to_pylist()
    assert COMMENT not in row["text"]

    again = ingest(workspace)  # same settings: the file is known and not read
    assert again.files_unchanged == 1 and again.new_articles == 0

    balanced = _set_focus(workspace, "balanced")
    assert balanced.config.ingest.html_focus == "balanced"
    report = ingest(balanced)
    assert report.files_read == 1 and report.new_articles == 1
    texts = [r["text"] for r in read_articles(balanced).to_pylist()]
    assert sum(COMMENT in text for text in texts) == 1


def test_a_state_saved_before_the_setting_existed_stays_usable(workspace) -> None:
    """The key of the default focus is the key the same settings had without it."""
    options, index_settings, key = run_settings(workspace)
    assert options.html_focus == "precision"
    former = state.settings_key(max_bytes=options.max_bytes, min_words=options.min_words,
                                boilerplate=options.boilerplate, clustering=index_settings.clustering)
    assert key == former
    _, _, balanced_key = run_settings(_set_focus(workspace, "balanced"))
    assert balanced_key != key and json.loads(balanced_key)["html_focus"] == "balanced"
