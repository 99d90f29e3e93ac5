"""The report's map figure, drawn by the maps package (one renderer for every static map)."""

from __future__ import annotations

import threading
from pathlib import Path

from spatial.findings import CheckResult
from spatial.layer import LayerSet

# matplotlib's pyplot state is global: the web app renders figures from worker threads one at a time.
_RENDER_LOCK = threading.Lock()


def map_figure(result: CheckResult, layers: LayerSet, out: Path) -> Path:
    """A PNG of the site against the zones that reached it, written to ``out``."""
    from maps.figure import render_check_figure

    with _RENDER_LOCK:
        return render_check_figure(result, layers, out)
