"""The plan of a job: how many tiles each layer needs at each zoom, worked out one way for every caller.

``estimate`` sizes a job with it and ``package`` decides what to fetch with it, so the two agree
tile for tile. A zoom with no tile (near a matrix edge, where the deeper matrices stop short of
zoom 0's) plans 0 tiles; only a job with no tile at any zoom of any layer is refused, and that
happens here, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .area import Area
from .cover import count
from .errors import AreaOutsideGridError
from .layers import Layer, parse_zooms


def plan_counts(area: Area, layers: Sequence[Layer], zooms: object) -> dict[str, dict[int, int]]:
    """Tiles per zoom for each layer (``{layer name: {zoom: tiles}}``), every zoom asked for listed.

    Raises
    ------
    AreaOutsideGridError
        When no layer has a single tile at any of the zooms: the first layer's reason.
    """
    counts: dict[str, dict[int, int]] = {}
    refusals: list[AreaOutsideGridError] = []
    for layer in layers:
        try:
            counts[layer.name] = count(area, layer, zooms)
        except AreaOutsideGridError as exc:
            refusals.append(exc)
            counts[layer.name] = dict.fromkeys(parse_zooms(zooms, layer), 0)  # type: ignore[arg-type]
    if layers and len(refusals) == len(layers):
        raise refusals[0]
    return counts


def zooms_with_tiles(counts: Mapping[int, int]) -> list[int]:
    """The zooms of one layer's plan that have something to fetch, in order."""
    return [z for z, n in counts.items() if n]
