"""Batch screening of registries: read a table of sites, screen it in columnar chunks, write three levels.

``files`` reads and writes CSV/XLSX/GeoParquet/GeoPackage, ``rows`` is the one chunk function
(the engine's ``spatial.screening.screen`` plus per-row formatting), ``dask_engine`` runs that
same function over dask partitions. Used by the CLI's ``batch`` command and the web API.
"""

__all__ = ["dask_engine", "files", "rows"]
