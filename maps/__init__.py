"""Rendering of checks and zones as maps."""
