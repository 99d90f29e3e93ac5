"""The audit log as a GIS layer: one feature per recorded check, for an auditor's map of every site.

Records come one at a time from the log's cursor and leave one at a time through fiona's
record-streaming writer, with a declared schema (field types and widths a desktop GIS shows as
typed columns): memory stays flat however many checks the log holds. pyogrio, which reads and
writes every other file here, writes whole tables (a DataFrame or Arrow batch) and would make this a
collect-then-write; fiona's ``Collection.writerecords`` is the streaming tool GDAL's Python
bindings offer for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import fiona
import shapely

from siting.audit.log import CheckRecord, shown_time
from spatial.crs import STORAGE_EPSG
from spatial.errors import InputError

DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf"}
SCHEMA = {
    "geometry": "Unknown",  # points and land polygons (用地红线) in one layer
    "properties": {
        "check_id": "str:40", "checked_at": "str:30", "checked_on": "str:10", "user": "str:80", "role": "str:20",
        "channel": "str:20", "project": "str:200", "industry": "str:100", "stage": "str:10", "overall": "str:20",
        "verdict": "str:20", "headline": "str:500", "decision": "str:20", "catalog": "str:80",
    },
}
_BATCH = 1000  # features handed to GDAL per call; the writer never holds more


def export_suffix(path: Path, field: str = "--export") -> str:
    """The format a file suffix names, or a bilingual refusal naming the ones accepted."""
    suffix = path.suffix.lower()
    if suffix not in DRIVERS:
        raise InputError(field, str(path), f"导出文件应以 {'、'.join(DRIVERS)} 结尾。",
                         f"the export file must end in {', '.join(DRIVERS)}.")
    return suffix


def feature(record: CheckRecord) -> dict:
    """One check as a GeoJSON-like feature in WGS84 (CGCS2000 coordinates are the same to the centimetre)."""
    decision = record.decisions[-1].decision if record.decisions else ""
    properties = {
        "check_id": record.id, "checked_at": shown_time(record.created_at), "checked_on": record.checked_on,
        "user": record.user, "role": record.role, "channel": record.channel, "project": record.project,
        "industry": str(record.inputs.get("industry", "")), "stage": str(record.result.get("stage", "")),
        "overall": record.overall, "verdict": str(record.result.get("overall_label", "")),
        "headline": str(record.result.get("headline", ""))[:500], "decision": decision,
        "catalog": record.catalog_version,
    }
    return {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.from_wkb(record.site_wkb)),
            "properties": properties}


def _batches(records: Iterable[CheckRecord]) -> Iterator[list[dict]]:
    iterator = iter(records)
    while batch := [feature(record) for record in islice(iterator, _BATCH)]:
        yield batch


def export_checks(records: Iterable[CheckRecord], path: Path) -> int:
    """Write ``records`` to ``path`` (GeoPackage, GeoJSON or FlatGeobuf by suffix); the number written."""
    driver = DRIVERS[export_suffix(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".partial-{path.name}")  # same suffix: GDAL knows the format
    staging.unlink(missing_ok=True)
    written = 0
    options = {"layer": "checks"} if driver == "GPKG" else {}
    with fiona.open(staging, "w", driver=driver, schema=SCHEMA, crs=f"EPSG:{STORAGE_EPSG}", encoding="utf-8",
                    **options) as sink:
        for batch in _batches(records):
            sink.writerecords(batch)
            written += len(batch)
    staging.replace(path)  # a reader never sees half an export
    return written
