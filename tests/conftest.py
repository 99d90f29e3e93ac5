"""Session fixtures: the default layers, built once from their pinned sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers import catalog
from layers.build import load_layers
from spatial.layer import LayerSet
from spatial.rules import Rule
from tests.browser import browser  # noqa: F401  (session fixture: headless Debian chromium)

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private data directory for the whole session, exported for CLI subprocesses."""
    path = tmp_path_factory.mktemp("siting-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SITING_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def layers(data_dir: Path) -> LayerSet:
    return load_layers(data_dir)


@pytest.fixture(scope="session")
def rules() -> list[Rule]:
    return list(catalog.rules())


@pytest.fixture
def user_dir(layers: object, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory of its own, sharing the built defaults (read-only), exported to children."""
    root = tmp_path / "data"
    root.mkdir()
    for shared in ("layers", "sources"):
        (root / shared).symlink_to(data_dir / shared)
    monkeypatch.setenv("SITING_DATA_DIR", str(root))
    return root
