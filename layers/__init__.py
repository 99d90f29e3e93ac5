"""Data and what turns it into engine objects.

``catalog`` reads the declared data (plan rules, industry taxonomy, layer declarations); ``io`` reads and
guards the files people hand in and the caches kept on disk; ``build``, ``sources``, ``osm`` and ``demo``
make the default layers from pinned sources; ``imports`` and ``user_catalog`` take an agency's layers.
It may import ``spatial``, never ``maps`` or ``siting``.
"""

__all__ = ["build", "catalog", "demo", "imports", "io", "osm", "sources", "user_catalog"]
