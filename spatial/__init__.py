"""The pure siting engine: coordinate systems, geometry, rule evaluation and the checker."""
