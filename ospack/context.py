"""The regional context of a package: at the low zooms, tiles over a region around the area.

GDAL (hence QGIS and QField) gives a tile table one extent for all its zooms. Over the area's
box alone, the low zooms of a small site show as a postage stamp with nothing around it, so a
package also holds, at the zooms whose tiles are large on the ground, the tiles of a region
reaching :attr:`Context.radius_m` beyond the area on every side, and its extent covers that region.

Pure arithmetic on boxes and zooms: which zooms get the context and how far it reaches. Which
tiles that makes is :class:`ospack.plan.JobCover`'s, the one place every stage asks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from .errors import UsageError
from .grids import Grid
from .types import ProjectedBounds

#: Default reach beyond the area: at 27700 zoom 5 (7 km tiles) a 25 km context is about
#: 8 × 8 tiles, a screen's width of map around a site; the whole context costs about 100 tiles.
DEFAULT_RADIUS_M = 25_000.0
#: Far beyond any field area's surroundings; past this a context is a second area, not context.
MAX_RADIUS_M = 500_000.0
#: A zoom gets the context when one of its tiles spans at least this much ground. The threshold
#: depends on the zoom alone (never on the radius), so a wider context holds a narrower one's tiles
#: and a resume may record the wider (see :meth:`ospack.writers.JobInfo.differences`).
MIN_CONTEXT_TILE_M = 5_000.0

_DISTANCE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(km|m)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Context:
    """How far beyond the area the low zooms reach: ``Context(25_000)``, or ``NO_CONTEXT``.

    Attributes
    ----------
    radius_m
        Ground metres the context region reaches beyond the area's box on every side (0: none).
    """

    radius_m: float = DEFAULT_RADIUS_M

    def __post_init__(self) -> None:
        radius = float(self.radius_m)
        if not math.isfinite(radius) or radius < 0 or radius > MAX_RADIUS_M:
            raise UsageError(
                f"context {self.radius_m!r} m is out of range; give 0 (no context) up to {MAX_RADIUS_M / 1000:g} km"
            )
        object.__setattr__(self, "radius_m", radius)

    @classmethod
    def parse(cls, text: str | float | Context) -> Context:
        """``"25km"``, ``"500 m"``, ``"0"`` or a number of metres."""
        if isinstance(text, Context):
            return text
        if isinstance(text, (int, float)):
            return cls(float(text))
        match = _DISTANCE.match(text)
        if match is None:
            raise UsageError(f"context {text!r} is not a distance; give e.g. 25km, 5000m or 0 (no context)")
        value, unit = float(match.group(1)), (match.group(2) or "m").lower()
        return cls(value * 1000 if unit == "km" else value)

    @property
    def enabled(self) -> bool:
        """True when the context reaches beyond the area."""
        return self.radius_m > 0

    def __str__(self) -> str:
        if not self.enabled:
            return "no context"
        km = self.radius_m / 1000
        return f"{km:g} km" if km >= 1 else f"{self.radius_m:g} m"

    def zooms(self, grid: Grid, zooms: Iterable[int], scale: float) -> tuple[int, ...]:
        """The zooms among ``zooms`` that get the context (``scale``: grid metres per ground metre)."""
        if not self.enabled:
            return ()
        return tuple(z for z in sorted(set(zooms)) if grid.tile_span(z) / scale >= MIN_CONTEXT_TILE_M)

    def region(self, box: ProjectedBounds, scale: float, within: ProjectedBounds | None = None) -> ProjectedBounds:
        """``box`` (the area's, in grid metres) grown by the radius, outwards to whole metres, cut to ``within``.

        Whole metres make the region the same however the box was computed to the last bit, so a
        resume and ``verify`` that recompute it find the same tiles as the run.
        """
        reach = self.radius_m * scale
        low: tuple[float, float] = (math.floor(box.left - reach), math.floor(box.bottom - reach))
        high: tuple[float, float] = (math.ceil(box.right + reach), math.ceil(box.top + reach))
        if within is not None:
            low = (max(low[0], within.left), max(low[1], within.bottom))
            high = (min(high[0], within.right), min(high[1], within.top))
        return ProjectedBounds(*low, *high)


#: The context every package gets unless told otherwise.
DEFAULT_CONTEXT = Context()
#: The context of a package that has none (files written before contexts existed read as this).
NO_CONTEXT = Context(0.0)


def ground_scale(crs: str, lon: float, lat: float) -> float:
    """Grid metres per ground metre at ``lon``/``lat`` (about 1 on 27700, 1/cos(lat) on 3857).

    Rounded to 4 decimals at 0.01° so that the same area always gives the same figure.
    """
    return _scale(crs, round(lon, 2), round(lat, 2))


@cache
def _scale(crs: str, lon: float, lat: float) -> float:
    from pyproj import Proj  # a heavy import, needed only once a context is sized

    factors = Proj(crs).get_factors(lon, lat)
    return round(float(factors.meridional_scale), 4)
