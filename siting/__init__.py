"""Thin adapters over the engine, the layers and the maps: what people run.

``cli`` (the ``siting`` command), ``web`` (the reviewer's page and JSON API), ``batch`` (registers in and
out), ``audit`` (the check as every channel runs it, and the signed log), ``report`` (filed reports and map
exports), ``accounts`` (users and roles of a shared server); ``text_fields`` and ``memory`` are shared by
them. May import every room below (spatial, layers, maps).
"""

__all__ = ["accounts", "audit", "batch", "cli", "memory", "report", "text_fields", "web"]
