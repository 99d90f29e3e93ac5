"""Reading and guarding the files people hand in and the caches kept on disk.

Site files (CSV/XLSX/Shapefile/KML/KMZ/GeoJSON/GeoPackage), agency vector layers, the archive and
XML guards run before GDAL sees a byte, the GeoParquet layer caches and the classified grid cache.
Everything here turns bytes into engine objects (or refuses them with an ``InputError`` naming the
field); it imports ``spatial`` and nothing above it.
"""

__all__ = ["file_guards", "geoparquet", "grid_cache", "site_files", "vector_files"]
