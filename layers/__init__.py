"""Declared layers and plan rules (data files) and the builders that turn sources into layers."""
