"""Reviewer web app and JSON API (FastAPI)."""
