"""The audit log: every check, decision and layer change as a signed, hash-chained record.

``audited_check`` is the check as every adapter runs it (resolve, check, record); ``log`` the
log itself; ``store`` its SQLite/PostgreSQL back ends; ``writer`` the group commit; ``signing``
and ``verify`` the keys, checkpoints and proof; ``export`` history as GIS files. Imports the
engine, the layers and the maps, never the CLI or the web app.
"""

__all__ = ["audited_check", "export", "log", "signing", "store", "verify", "writer"]
