"""Shared fixtures: small, local, never touching real credentials."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.workspace import Workspace, init_workspace

TESTS = Path(__file__).parent
DATA = TESTS / "data"
REPO = TESTS.parent
SEED = REPO / "raw" / "volgograd-prison-hostages.txt"


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never talk to a user's server or the Hub with the user's secrets."""
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "HF_TOKEN", "CI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, empty workspace made by `toolkit init`."""
    return init_workspace(tmp_path / "ws", title="Test events")


def add_raw(ws: Workspace, *names: str) -> list[Path]:
    """Copy named files from tests/data (or the seed) into the workspace's raw/."""
    copied = []
    for name in names:
        source = SEED if name == SEED.name else DATA / name
        target = ws.raw_dir / name
        shutil.copyfile(source, target)
        copied.append(target)
    return copied
