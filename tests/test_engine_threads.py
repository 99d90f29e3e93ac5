"""Threads sharing one prepared index (web requests, batch chunks) get what one thread gets.

GEOS prepared geometries are not thread-safe; the engine serialises predicates on them.
Each round starts from cold zones (a new LayerSet over the same layers), so threads race
to prepare targets and use them for the first time, where the races would be.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from layers import catalog
from spatial.checker import check
from spatial.layer import LayerSet
from spatial.rules import Stage
from spatial.screening import screen

THREADS = 4
ROUNDS = 3


def _cold(layers: LayerSet) -> LayerSet:
    return LayerSet(dict(layers.layers), dict(layers.missing))


def test_concurrent_screens_and_checks_equal_sequential_ones(layers, rules):
    taxonomy = catalog.taxonomy()
    combos = [(taxonomy.resolve(text), stage) for text in ("造纸", "焦化", "软件开发") for stage in (Stage.NEW, Stage.EXISTING)]
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(110.3, 114.4, 8 * 5000), rng.uniform(34.6, 40.6, 8 * 5000)
    group = np.arange(len(lon)) % len(combos)
    chunks = [slice(k * 5000, (k + 1) * 5000) for k in range(8)]
    sites = [shapely.Point(x, y) for x, y in zip(lon[:40], lat[:40], strict=True)]

    def run(layer_set: LayerSet, threads: int) -> tuple[list, list]:
        with ThreadPoolExecutor(threads) as pool:
            screens = pool.map(lambda c: screen(lon[c], lat[c], group[c], combos, rules, layer_set), chunks)
            singles = pool.map(lambda i: check(sites[i], *combos[i % len(combos)], rules, layer_set).to_dict(), range(len(sites)))
            return list(screens), list(singles)

    expected_screens, expected_singles = run(_cold(layers), 1)
    for _ in range(ROUNDS):
        screens, singles = run(_cold(layers), THREADS)
        assert singles == expected_singles
        for mine, theirs in zip(screens, expected_screens, strict=True):
            assert np.array_equal(mine.overall, theirs.overall)
            assert mine.measured.equals(theirs.measured)
