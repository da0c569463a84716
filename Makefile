# Two commands: `make demo` runs the main job on this workspace, `make test` runs the suite.
# Both create the project's virtual environment (.venv) the first time.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test venv venv-dev studio-env browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip   # pip 23 crashes on lxml[html-clean]

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

# The Label Studio server gets its own virtual environment (its pins clash with the toolkit's);
# `toolkit studio setup` creates it once per machine and does nothing when it is there.
studio-env: venv
	$(BIN)/toolkit studio setup

demo: venv studio-env
	$(BIN)/toolkit ingest
	$(BIN)/toolkit tasks
	$(BIN)/toolkit preannotate
	$(BIN)/toolkit studio start
	$(BIN)/toolkit push
	$(BIN)/toolkit verify
	$(BIN)/python -c "$$LOAD_LATEST_RELEASE"

# The last step of the demo: load the latest release the way an ML engineer would.
define LOAD_LATEST_RELEASE
import pathlib, datasets
latest = max(pathlib.Path("releases").glob("v*.*.*"), key=lambda p: tuple(map(int, p.name[1:].split("."))))
print(f"datasets.load_dataset({str(latest)!r}, 'documents'):")
print(datasets.load_dataset(str(latest), "documents"))
endef
export LOAD_LATEST_RELEASE

# tests/test_browser.py drives the labeling UI in Debian's chromium through Playwright (from the
# `dev` extra); Playwright's own browser download is not used. Installed once per machine.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	dpkg -s chromium fonts-noto-color-emoji >/dev/null 2>&1 || ($(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-color-emoji)

test: venv-dev studio-env browser
	$(BIN)/python -m pytest

bench: venv-dev
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/release_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
