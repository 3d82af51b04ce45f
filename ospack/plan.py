"""The plan of a job: the area, its layers, the zooms asked of each, and how many tiles each zoom needs.

:func:`plan` reads the area once, checks the layers and zooms once, and counts once, so
``estimate`` and ``package`` (and anything later: a preview, a batch) agree tile for tile and
say the same thing about bad input. A zoom with no tile (near a matrix edge, where the deeper
matrices stop short of zoom 0's) plans 0 tiles; only a job with no tile at any zoom of any
layer is refused, and that happens here, before anything is written.

A plan may hold layers on several grids (``estimate`` sizes them all); one output holds one
grid, which :meth:`Plan.one_grid` checks before ``package`` opens anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .area import Area, read_area
from .cover import count
from .errors import AreaOutsideGridError, LayerError, PremiumNotAllowedError, UsageError
from .grids import Grid
from .layers import Layer, ZoomSpec, get_layer, parse_zooms


@dataclass(frozen=True)
class Plan:
    """What a job is: build it with :func:`ospack.plan`.

    Attributes
    ----------
    area
        The area, read and buffered once.
    layers
        The layers, each named once, in the order given.
    counts
        ``{layer name: {zoom: tiles}}``: every zoom asked for, in order, 0 where the area has none.
    """

    area: Area
    layers: tuple[Layer, ...]
    counts: Mapping[str, Mapping[int, int]]

    def __post_init__(self) -> None:
        frozen = {name: MappingProxyType(dict(zooms)) for name, zooms in self.counts.items()}
        object.__setattr__(self, "counts", MappingProxyType(frozen))

    def zooms(self, layer: str) -> tuple[int, ...]:
        """The zooms asked for ``layer``, in order (including those with no tile)."""
        return tuple(self.counts[layer])

    @property
    def all_zooms(self) -> tuple[int, ...]:
        """Every zoom asked of any layer, sorted: what the output records it holds."""
        return tuple(sorted({z for counts in self.counts.values() for z in counts}))

    def zooms_with_tiles(self, layer: str) -> list[int]:
        """The zooms of ``layer`` that have something to fetch, in order."""
        return [z for z, n in self.counts[layer].items() if n]

    def tiles(self, layer: str | None = None) -> int:
        """Tiles planned for ``layer``, or for every layer."""
        names = [layer] if layer is not None else list(self.counts)
        return sum(sum(self.counts[name].values()) for name in names)

    @property
    def premium(self) -> dict[str, dict[int, int]]:
        """``{layer name: {zoom: tiles}}`` of the planned tiles at zooms that need a Premium plan."""
        return {
            layer.name: {z: n for z, n in self.counts[layer.name].items() if n and layer.is_premium(z)}
            for layer in self.layers
        }

    @property
    def premium_tiles(self) -> int:
        """Planned tiles at Premium zooms, every layer."""
        return sum(sum(zooms.values()) for zooms in self.premium.values())

    @property
    def grid(self) -> Grid:
        """The one grid of every layer (see :meth:`one_grid`)."""
        return self.one_grid().layers[0].grid

    def one_grid(self) -> Plan:
        """This plan, when its layers share one grid (one output holds one grid).

        Raises
        ------
        UsageError
            Naming the layers and their grids.
        """
        grids = {layer.grid.id for layer in self.layers}
        if len(grids) > 1:
            raise UsageError(
                f"layers {', '.join(layer.name for layer in self.layers)} are on different grids"
                f" ({', '.join(sorted(grids))}); package each grid into its own file"
            )
        return self

    def refuse_premium(self) -> None:
        """Refuse a plan with tiles at Premium zooms (what ``package`` does without ``allow_premium``).

        Raises
        ------
        PremiumNotAllowedError
            For the first layer with Premium tiles: its zooms, its tiles, and how to go on.
        """
        for layer in self.layers:
            counts = self.premium[layer.name]
            if counts:
                zooms = sorted(counts)
                what = f"zooms {zooms[0]}-{zooms[-1]}" if len(zooms) > 1 else f"zoom {zooms[0]}"
                raise PremiumNotAllowedError(
                    f"{what} of {layer.name} {'are' if len(zooms) > 1 else 'is'} Premium"
                    f" ({sum(counts.values())} tiles);"
                    f" add --allow-premium if your project has a Premium plan, or ask for zooms"
                    f" {layer.open_zooms.start}-{layer.open_zooms.stop - 1} only"
                )

    def with_zooms(self, zooms: ZoomSpec) -> Plan:
        """The same area and layers at ``zooms`` (e.g. every zoom a resumed file holds)."""
        return Plan(self.area, self.layers, plan_counts(self.area, self.layers, zooms))


def plan(
    area: Area | str | os.PathLike[str] | Any,
    layers: Layer | str | Sequence[Layer | str],
    zooms: ZoomSpec,
    *,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
) -> Plan:
    """Plan a job: read the area, check the layers and zooms, count the tiles of each zoom.

    Parameters
    ----------
    area
        An :class:`~ospack.area.Area`, or anything :func:`ospack.read_area` reads (a path,
        WKT, a bbox string, a shapely geometry), read with ``buffer_m`` and ``area_crs``.
    layers
        One layer or several (names or :class:`~ospack.layers.Layer`); one named twice counts once.
    zooms
        ``7``, ``"7-12"``, ``"7,9,11"`` or a sequence of zooms, the same for every layer.

    Raises
    ------
    LayerError
        No layer, or an unknown one.
    ZoomError
        A zoom spelled wrong or beyond a layer's zooms.
    AreaError
        The area cannot be read; :class:`~ospack.errors.AreaOutsideGridError` when no layer
        has a single tile at any of the zooms.
    """
    if not isinstance(area, Area):  # an Area is already read: its buffer and CRS are its own
        area = read_area(area, area_crs=area_crs, buffer_m=buffer_m)
    named = [layers] if isinstance(layers, (str, Layer)) else list(layers)
    if not named:
        raise LayerError("no layer given; pass --layer, e.g. --layer Outdoor_27700")
    unique = {layer.name: layer for layer in (get_layer(n) if isinstance(n, str) else n for n in named)}
    chosen = tuple(unique.values())
    return Plan(area, chosen, plan_counts(area, chosen, zooms))


def plan_counts(area: Area, layers: Sequence[Layer], zooms: ZoomSpec) -> dict[str, dict[int, int]]:
    """Tiles per zoom for each layer (``{layer name: {zoom: tiles}}``), every zoom asked for listed.

    Raises
    ------
    AreaOutsideGridError
        When no layer has a single tile at any of the zooms: the first layer's reason.
    """
    counts: dict[str, dict[int, int]] = {}
    refusals: list[AreaOutsideGridError] = []
    for layer in layers:
        asked = parse_zooms(zooms, layer)
        try:
            counts[layer.name] = count(area, layer, asked)
        except AreaOutsideGridError as exc:
            refusals.append(exc)
            counts[layer.name] = dict.fromkeys(asked, 0)
    if layers and len(refusals) == len(layers):
        raise refusals[0]
    return counts
