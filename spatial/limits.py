"""Every size, count and time bound on the files people hand in, in one place.

A site file is one parcel or one line: small. An agency layer may cover a province in
detail: large, but still bounded. Anything over these bounds is refused with a message
before it can exhaust memory or time (zip bombs, billion-vertex rings).
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class FileLimits:
    """Bounds on one input file, checked before and while it is read."""

    max_file_bytes: int  # the file as given (an archive: its compressed size)
    max_archive_members: int  # files inside a zip/KMZ (a FileGDB folder holds a few dozen)
    max_unpacked_bytes: int  # what an archive really inflates to, counted while inflating
    max_xml_bytes: int  # one KML document, parsed by a hardened parser before GDAL sees it
    max_features: int
    max_vertices: int  # coordinates over all features
    max_table_rows: int  # rows of a 界址点 table


SITE_FILE_LIMITS = FileLimits(
    max_file_bytes=64 * MiB, max_archive_members=200, max_unpacked_bytes=256 * MiB, max_xml_bytes=64 * MiB,
    max_features=100_000, max_vertices=1_000_000, max_table_rows=100_000,
)
LAYER_FILE_LIMITS = FileLimits(
    max_file_bytes=2048 * MiB, max_archive_members=5_000, max_unpacked_bytes=4096 * MiB, max_xml_bytes=512 * MiB,
    max_features=2_000_000, max_vertices=50_000_000, max_table_rows=1_000_000,
)
# Free-text coordinates: longer than any real way of writing one point.
MAX_COORDINATE_TEXT = 200
# A polygon site smaller than this is a ring folded onto a line (collinear 界址点), not a parcel.
MIN_SITE_AREA_M2 = 1.0
