"""Rendering only: checks and zones as interactive maps (folium, offline Leaflet) and print figures.

Maps draw the zones the engine materialises and the findings a check made; they decide nothing. They
may import ``spatial`` and ``layers``, never ``siting``.
"""

__all__ = ["basemap", "check_map", "figure", "fonts", "industry_map", "leaflet", "offline", "places", "region",
           "region_map", "simplify", "style", "vendor"]
