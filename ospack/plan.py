"""The plan of a job: the area, its layers, the zooms asked of each, and how many tiles each zoom needs.

:func:`plan` reads the area once, checks the layers and zooms once, and counts once, so
``estimate`` and ``package`` (and anything later: a preview, a batch) agree tile for tile and
say the same thing about bad input. A zoom with no tile (near a matrix edge, where the deeper
matrices stop short of zoom 0's) plans 0 tiles; only a job with no tile at any zoom of any
layer is refused, and that happens here, before anything is written.

Every stage that asks which tiles a job has (the counts here, the fetch, the completion check,
a resume, ``verify``) asks one :class:`JobCover`: the area's cover, and at the context zooms the
cover of the regional context around it (:mod:`ospack.context`).

A plan may hold layers on several grids (``estimate`` sizes them all); one output holds one
grid, which :meth:`Plan.one_grid` checks before ``package`` opens anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import shapely

from .area import Area, read_area
from .context import DEFAULT_CONTEXT, NO_CONTEXT, Context, ground_scale
from .cover import count, cover, in_grid_crs
from .errors import AreaOutsideGridError, LayerError, PremiumNotAllowedError, UsageError
from .grids import Grid
from .layers import Layer, ZoomSpec, get_layer, parse_zooms
from .types import ProjectedBounds, Tile


@dataclass(frozen=True)
class JobCover:
    """The tiles of one layer a job holds: the area's, and the context region's at the context zooms.

    Build it with :meth:`of`; the plan's counts, the fetch, the completion check, a resume and
    ``verify`` all read their tiles from here, so they cannot disagree.

    Attributes
    ----------
    area, layer, context
        What the job covers.
    region
        The context region's box in the layer's grid CRS (None without a context).
    context_zooms
        The layer's zooms that get the context (:meth:`ospack.context.Context.zooms`).
    """

    area: Area
    layer: Layer
    context: Context
    region: ProjectedBounds | None
    context_zooms: frozenset[int]
    _region_area: Area | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, area: Area, layer: Layer, context: Context = NO_CONTEXT) -> JobCover:
        """The job cover of ``layer`` over ``area`` with ``context``."""
        region, zooms = _context_region(area, layer, context)
        region_area = None
        if region is not None:
            region_area = Area(shapely.box(*region), layer.grid.crs, source=f"{context} context of {area.source}")
        return cls(area, layer, context, region, frozenset(zooms), region_area)

    def area_at(self, z: int) -> Area:
        """What is covered at zoom ``z``: the context region at a context zoom, else the area."""
        return self._region_area if self._region_area is not None and z in self.context_zooms else self.area

    def tiles(self, z: int) -> Iterator[Tile]:
        """The tiles at zoom ``z`` in (row, column) order (none at a zoom the job misses)."""
        try:
            return cover(self.area_at(z), self.layer, [z])
        except AreaOutsideGridError:
            return iter(())

    def counts(self, zooms: Iterable[int]) -> tuple[dict[int, int], dict[int, int]]:
        """``({zoom: tiles}, {zoom: of which context tiles})`` for ``zooms``, every one listed.

        Raises
        ------
        AreaOutsideGridError
            When the area itself has no tile at any of the zooms (a context alone is no job).
        """
        asked = tuple(zooms)
        counts = count(self.area, self.layer, asked)
        added = dict.fromkeys(asked, 0)
        at_context = [z for z in asked if z in self.context_zooms]
        if at_context and self._region_area is not None:
            for z, n in count(self._region_area, self.layer, at_context).items():
                added[z] = n - counts[z]
                counts[z] = n
        return counts, added


def _context_region(area: Area, layer: Layer, context: Context) -> tuple[ProjectedBounds | None, tuple[int, ...]]:
    if not context.enabled:
        return None, ()
    projected = in_grid_crs(area, layer)
    if projected is None or projected.is_empty:
        return None, ()
    west, south, east, north = area.bounds_wgs84()
    scale = ground_scale(layer.grid.crs, (west + east) / 2, (south + north) / 2)
    zooms = context.zooms(layer.grid, layer.zooms, scale)
    if not zooms:
        return None, ()
    return context.region(ProjectedBounds(*projected.bounds), scale), zooms


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
        ``{layer name: {zoom: tiles}}``: every zoom asked for, in order, 0 where the area has none;
        context tiles included.
    context
        How far the low zooms reach beyond the area (:class:`~ospack.context.Context`).
    context_counts
        ``{layer name: {zoom: tiles}}``: of ``counts``, the tiles the context adds.
    """

    area: Area
    layers: tuple[Layer, ...]
    counts: Mapping[str, Mapping[int, int]]
    context: Context = NO_CONTEXT
    context_counts: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    _covers: dict[str, JobCover] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("counts", "context_counts"):
            frozen = {layer: MappingProxyType(dict(zooms)) for layer, zooms in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(frozen))

    def cover(self, layer: Layer) -> JobCover:
        """The tiles this plan has of ``layer`` (made once per layer)."""
        if layer.name not in self._covers:
            self._covers[layer.name] = JobCover.of(self.area, layer, self.context)
        return self._covers[layer.name]

    def context_tiles(self, layer: str | None = None) -> int:
        """Of :meth:`tiles`, those the context adds, for ``layer`` or every layer."""
        names = [layer] if layer is not None else list(self.context_counts)
        return sum(sum(self.context_counts.get(name, {}).values()) for name in names)

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

    def with_job(self, zooms: ZoomSpec, context: Context | None = None) -> Plan:
        """The same area and layers at ``zooms`` with ``context`` (default this plan's): e.g. a file's job."""
        return _planned(self.area, self.layers, zooms, self.context if context is None else context)


def plan(
    area: Area | str | os.PathLike[str] | Any,
    layers: Layer | str | Sequence[Layer | str],
    zooms: ZoomSpec,
    *,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
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
    context
        The regional context at the low zooms: a :class:`~ospack.context.Context`, a distance
        (``"25km"``, metres) or ``0`` for none. Default: 25 km at the zooms whose tiles span
        5 km of ground or more (27700 zooms 0-5, 3857 zooms 7-12 or so).

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
    return _planned(area, tuple(unique.values()), zooms, Context.parse(context))


def _planned(area: Area, layers: tuple[Layer, ...], zooms: ZoomSpec, context: Context) -> Plan:
    covers = {layer.name: JobCover.of(area, layer, context) for layer in layers}
    counts, added = plan_counts(area, layers, zooms, context, covers=covers)
    planned = Plan(area, layers, counts, context, added)
    planned._covers.update(covers)
    return planned


def plan_counts(
    area: Area,
    layers: Sequence[Layer],
    zooms: ZoomSpec,
    context: Context = NO_CONTEXT,
    *,
    covers: Mapping[str, JobCover] | None = None,
) -> tuple[dict[str, dict[int, int]], dict[str, dict[int, int]]]:
    """Tiles per zoom for each layer, and of them the context's (both ``{layer name: {zoom: tiles}}``).

    Every zoom asked for is listed. ``covers`` are the layers' :class:`JobCover` when made already.

    Raises
    ------
    AreaOutsideGridError
        When no layer has a single tile at any of the zooms: the first layer's reason.
    """
    counts: dict[str, dict[int, int]] = {}
    added: dict[str, dict[int, int]] = {}
    refusals: list[AreaOutsideGridError] = []
    for layer in layers:
        asked = parse_zooms(zooms, layer)
        job_cover = covers[layer.name] if covers is not None else JobCover.of(area, layer, context)
        try:
            counts[layer.name], added[layer.name] = job_cover.counts(asked)
        except AreaOutsideGridError as exc:
            refusals.append(exc)
            counts[layer.name] = added[layer.name] = dict.fromkeys(asked, 0)
    if layers and len(refusals) == len(layers):
        raise refusals[0]
    return counts, added
