"""Batch screening of registries: read a table of sites, screen it in columnar chunks, write three levels.

``files`` reads and writes CSV/XLSX/GeoParquet/GeoPackage, ``rows`` is the one chunk function
(the engine's ``spatial.screening.screen`` plus per-row formatting), ``workers`` runs it in worker
processes forked once the layers are loaded (or on a thread, for one chunk), ``dask_engine`` runs that
same function over dask partitions. Used by the CLI's ``batch`` command.
"""

__all__ = ["dask_engine", "files", "rows", "workers"]
