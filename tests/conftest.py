"""Session fixtures: the default layers, built once from their pinned sources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely

from layers import catalog
from layers.build import load_layers
from spatial.layer import LayerSet
from spatial.rules import Rule
from tests.browser import LAPTOP, OfflinePage, browser, offline_page  # noqa: F401  (browser: session fixture, headless Debian chromium)
from tests.postgres import postgres_server
from tests.sites import site_near
from tests.webapp import running_server

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


@pytest.fixture(scope="session")
def mill_site(layers: LayerSet) -> shapely.Point:
    """The paper-mill site 400 m from the 汾河 in 新绛县 (运城市) that many tests check."""
    return site_near(layers, "fen_river", "140825", 400)


@pytest.fixture(scope="module")
def app_url(data_dir: Path, layers: LayerSet) -> Iterator[str]:
    """`siting serve` on a loopback port for the page's browser tests, one per test module."""
    with running_server(data_dir) as base:
        yield base


@pytest.fixture()
def session(browser) -> Iterator[OfflinePage]:  # noqa: F811  (the browser fixture imported above)
    """A fresh offline page at the reviewer's laptop size."""
    page = offline_page(browser, viewport=LAPTOP)
    yield page
    page.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server (Debian's package) for the whole session: its ``postgresql://`` URL."""
    with postgres_server() as url:
        yield url
