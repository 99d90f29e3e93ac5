"""The reviewer's web page and JSON API (FastAPI under uvicorn), for one user or a whole agency.

``app`` holds the routes and middleware, ``service`` the shared state and jobs, ``workers`` the forked
check processes, ``auth`` logins, sessions, tokens and CSRF, ``schemas`` the API's types and how an
engine error names its field in JSON. May import ``siting.audit``, ``siting.batch``, ``siting.report``,
``siting.accounts`` and every room below; never ``siting.cli``.
"""

__all__ = ["app", "audit_schemas", "auth", "headers", "limits", "map_page", "schemas", "service", "siting_maps", "uploads",
           "workers"]
