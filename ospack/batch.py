"""The plan of a batch: one :class:`~ospack.plan.Plan` per site, and the tiles neighbouring sites share.

``ospack estimate`` and ``ospack package`` with ``--each FIELD`` both start from
:func:`plan_batch`, so the estimate's per-site figures and its "requests saved" are the numbers
the package run then uses. A tile in the cover of several sites is fetched once, by the
first of them in the batch's order, and the later ones copy it from that site's output (its
*donor*): :attr:`BatchPlan.shared` records, for every site, which of its tiles an earlier
site fetches and which site that is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .batch_source import BadFeature, Site, SiteSource, read_sites
from .context import DEFAULT_CONTEXT, Context
from .errors import AreaError, UsageError
from .estimate import estimate_layers, format_duration
from .layers import LIVE_RATE_PER_MINUTE, ZoomSpec
from .plan import Plan, plan


@dataclass(frozen=True)
class Donations:
    """Tiles of one site at one layer and zoom that an earlier site of the batch fetches.

    ``keys`` are ``row * width + column`` (ascending), ``donors`` the index in the batch of
    the site each one comes from.
    """

    keys: np.ndarray
    donors: np.ndarray


@dataclass(frozen=True)
class BatchSite:
    """One output of a batch: the site, its output path and its plan."""

    site: Site
    output: Path
    plan: Plan

    @property
    def name(self) -> str:
        return self.site.name


@dataclass(frozen=True)
class BatchPlan:
    """A batch: the sites in the order they run, the features skipped, and the tiles sites share."""

    source: SiteSource
    sites: tuple[BatchSite, ...]
    skipped: tuple[BadFeature, ...]
    #: per site (by position in ``sites``): ``{(layer, zoom): Donations}``
    shared: tuple[Mapping[tuple[str, int], Donations], ...] = field(repr=False)

    def tiles(self) -> int:
        """Tiles planned over every site (a tile two sites share counts twice: each output holds it)."""
        return sum(s.plan.tiles() for s in self.sites)

    def saved(self, position: int | None = None) -> int:
        """Requests the batch saves by sharing tiles: of the site at ``position``, or of them all."""
        shared = self.shared if position is None else [self.shared[position]]
        return sum(len(d.keys) for by_zoom in shared for d in by_zoom.values())

    @property
    def requests(self) -> int:
        """Requests a fresh run of the batch makes: every planned tile, less those shared."""
        return self.tiles() - self.saved()

    def to_dict(self) -> dict[str, Any]:
        """What ``ospack estimate --each --json`` prints."""
        sites = []
        for position, s in enumerate(self.sites):
            job = estimate_layers(s.plan).to_dict()
            sites.append(
                {"index": s.site.index, "name": s.name, "output": str(s.output), "saved": self.saved(position), **job}
            )
        return {
            "sites": sites,
            "skipped": [{"index": b.index, "name": b.name, "reason": b.reason} for b in self.skipped],
            "total": {
                "sites": len(self.sites),
                "tiles": self.tiles(),
                "requests": self.requests,
                "requests_saved": self.saved(),
                "seconds_live": self.requests * 60 / LIVE_RATE_PER_MINUTE,
            },
        }

    def to_text(self) -> str:
        """The per-site table and the totals ``ospack estimate --each`` prints."""
        width = max([len("site"), *(len(s.name) for s in self.sites)])
        lines = [f"{'site':<{width}}  {'tiles':>9}  {'shared':>7}  {'requests':>9}  {'time':>8}  output"]
        for position, s in enumerate(self.sites):
            tiles, saved = s.plan.tiles(), self.saved(position)
            time = format_duration((tiles - saved) * 60 / LIVE_RATE_PER_MINUTE)
            lines.append(f"{s.name:<{width}}  {tiles:>9,}  {saved:>7,}  {tiles - saved:>9,}  {time:>8}  {s.output}")
        lines.append(
            f"{'total':<{width}}  {self.tiles():>9,}  {self.saved():>7,}  {self.requests:>9,}"
            f"  {format_duration(self.requests * 60 / LIVE_RATE_PER_MINUTE):>8}  {len(self.sites)} sites"
        )
        lines.append(f"{self.saved():,} requests saved by tiles shared between sites (time at the live 600/min)")
        lines += [f"skipped {bad}" for bad in self.skipped]
        return "\n".join(lines)


def plan_batch(
    source: str | os.PathLike[str],
    field: str,
    output: str,
    layers: str | Sequence[str],
    zooms: ZoomSpec,
    *,
    source_layer: str | None = None,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
) -> BatchPlan:
    """Plan one output per feature of ``source``, named by its ``field``: ``{field}`` in ``output`` is the name.

    Each site is planned as :func:`ospack.plan` plans one area, with ``context`` round it.

    Features that cannot be a site (see :mod:`ospack.batch_source`), or have no tile at
    these zooms (outside the layer's grid), are skipped and listed in ``skipped``.

    Raises
    ------
    UsageError
        ``output`` lacks ``{field}``, a layer or zoom is wrong, or no feature is left to package.
    """
    placeholder = "{" + field + "}"
    if placeholder not in output:
        raise UsageError(
            f"--each {field} makes one output per feature: put {placeholder} in -o, e.g. 'out/{placeholder}.gpkg'"
        )
    found = read_sites(source, field, layer=source_layer, area_crs=area_crs, buffer_m=buffer_m)
    sites: list[BatchSite] = []
    skipped = list(found.bad)
    for site in found.sites:
        try:
            job = plan(site.area, layers, zooms, context=context)
        except AreaError as exc:  # no tile at any zoom: outside the grid
            skipped.append(BadFeature(site.index, site.name, str(exc)))
            continue
        sites.append(BatchSite(site, Path(output.replace(placeholder, site.name)), job.one_grid()))
    if not sites:
        reasons = "; ".join(str(b) for b in skipped[:3])
        raise UsageError(f"no feature of {found.path} can be packaged: {reasons}")
    return BatchPlan(found, tuple(sites), tuple(sorted(skipped, key=lambda b: b.index)), _shared(sites))


def _shared(sites: Sequence[BatchSite]) -> tuple[dict[tuple[str, int], Donations], ...]:
    """For each site, the tiles of its cover that an earlier site's cover holds too, and the first such site."""
    shared: tuple[dict[tuple[str, int], Donations], ...] = tuple({} for _ in sites)
    first = sites[0].plan
    for layer in first.layers:
        zooms = sorted({z for s in sites for z in s.plan.zooms_with_tiles(layer.name)})
        covers = [s.plan.cover(layer).tiles for s in sites]  # what the engine fetches, so shared is what it would
        for z in zooms:
            width = layer.grid.pyramid_size(z)[0]
            keys = [np.fromiter((t.y * width + t.x for t in at(z)), dtype=np.int64) for at in covers]
            all_keys = np.concatenate(keys)
            owners = np.concatenate([np.full(len(k), i, dtype=np.int64) for i, k in enumerate(keys)])
            order = np.lexsort((owners, all_keys))
            all_keys, owners = all_keys[order], owners[order]
            starts = np.r_[True, all_keys[1:] != all_keys[:-1]]
            donors = owners[np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))]
            later = ~starts
            for position in np.unique(owners[later]):
                mine = later & (owners == position)
                shared[int(position)][(layer.name, z)] = Donations(all_keys[mine], donors[mine])
    return shared
