"""A measured rule's answer for an array of sites: inside, distance, margin, verdict, boundary.

The single check passes one site, the batch screen every site a rule reaches; both come
here, so a distance becomes a margin and a margin a verdict in one place only. What a site
is measured by is the caller's: a point through the engine's grid and exact path (whether
it lies in the target, metres to its edge), a line or polygon site through GEOS (metres to
the target, how deep it reaches in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spatial.layer import LayerSet
from spatial.rules import Rule, ZoneKind
from spatial.semantics import edge_of_jurisdiction, measured_outcome, partly_covered


@dataclass(frozen=True)
class Measured:
    """Per site: inside the rule's zone, metres from the site to the target (0 in it) and into the
    zone (< 0 outside; NaN beyond the caller's horizon), severity, and the boundary flags."""

    inside: NDArray
    distance_m: NDArray
    margin_m: NDArray
    severity: NDArray  # int8, indices into Verdict
    near_edge: NDArray  # within the layer's accuracy (outwards also the river's bank allowance) of the zone's edge
    boundary: NDArray  # near the zone's edge, the edge of the rule's area, or the edge of its layer's coverage


def measure(rule: Rule, layers: LayerSet, hit: int | NDArray, within: NDArray, distance: NDArray, depth: NDArray | None,
            lon: NDArray, lat: NDArray, at_edge: NDArray, partial: bool = False) -> Measured:
    """A buffer or polygon rule measured at sites.

    ``within``: the site touches the rule's target; ``distance``: metres from the site to the
    target; ``depth``: metres the site reaches into a polygon target where ``within`` (a point:
    its distance to the target's edge; unused for buffers). ``hit`` is the rule's severity for a
    site well inside (``rule_verdict``); ``at_edge``: the site lies within accuracy of the edge
    of the area the rule reaches; ``partial``: the rule's layer covers only part of the site.
    """
    provenance = layers.layers[rule.zone.layer].provenance
    if rule.zone.kind is ZoneKind.BUFFER:
        margin = rule.zone.distance_m - distance
        with np.errstate(invalid="ignore"):
            inside = margin >= 0
        outward_band = provenance.accuracy_m + provenance.bank_m(lon, lat)
    else:
        margin = np.where(within, depth if depth is not None else np.nan, -distance)
        inside = np.asarray(within, dtype=bool)
        outward_band = provenance.accuracy_m
    severity, near_edge = measured_outcome(rule.action, hit, inside, margin, provenance.accuracy_m, outward_band)
    severity = edge_of_jurisdiction(partly_covered(severity, rule.action, partial), at_edge)
    return Measured(inside, np.asarray(distance, dtype=float), margin, severity, near_edge, near_edge | at_edge | partial)
