"""The ``siting`` command line: one module per command, each a thin adapter over the engine.

``main`` parses arguments, reads inputs through ``layers.io``, runs checks through
``siting.audit.audited_check`` and prints what the reviewer needs. Commands may import every
room below them (spatial, layers, maps) and the other ``siting`` packages; nothing imports them
but the entry point.
"""

__all__ = ["batch_command", "history_command", "layers_command", "main", "map_command", "serve_command", "users_command"]
