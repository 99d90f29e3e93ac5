"""Thin adapters (command line) over the engine, the layers and the maps."""
