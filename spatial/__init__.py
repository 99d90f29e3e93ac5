"""The pure siting engine: coordinate systems, zones prepared once, what each rule says, and the check.

Owns the engine's types (rules, industries, layers, findings, notes), the measurement of sites against
zones, the one rule decision (``decision``) and the one measure (``measure``) that both the single check
(``checker``) and the batch screen (``screening``) go through. It opens no file and knows no channel:
errors name a ``FieldKey``, never a CLI flag. It may import numpy, shapely, pyproj, geopandas and pandas,
and nothing of ``layers``, ``maps`` or ``siting``.
"""

__all__ = ["answer", "bd09", "cache", "checker", "coordinates", "crs", "decision", "engine", "enums", "errors", "findings", "gcj02",
           "industry", "layer", "limits", "measure", "notes", "rules", "screening", "semantics", "siting_classes", "units"]
