"""How many tiles a job needs, how long the OS rate limits make it take, and roughly how big it is.

Counts come from a :class:`~ospack.plan.Plan`, as ``package`` plans them, so nothing is enumerated or fetched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .area import Area
from .context import DEFAULT_CONTEXT, Context
from .errors import LargeJobError, LayerError, UsageError
from .layers import DEVELOPMENT_RATE_PER_MINUTE, LIVE_RATE_PER_MINUTE, Layer, ZoomSpec
from .plan import Plan, plan
from .types import GeoBounds

#: Assumed average size of one 256×256 PNG tile, in bytes. This is NOT measured on the OS API
#: (no sample was available offline): it is the usual size of busy 256-pixel raster map tiles
#: (roughly 10–30 kB; the project's benchmark tile is 15 kB). Sea and empty tiles are far smaller
#: and dense town tiles larger, so treat sizes as ±50 %.
BYTES_PER_TILE = 20_000
SIZE_BASIS = "at an assumed 20 kB a tile, typical of 256-px PNG map tiles; not measured on the OS API"

#: A job past either figure starts only with consent (``--allow-huge``): one million tiles is
#: about 20 GB; a day at the live rate is 864,000 tiles. Both are far beyond a field area.
CONSENT_TILES = 1_000_000
CONSENT_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ZoomEstimate:
    """Tiles needed at one zoom, whether that zoom needs a Premium plan, and how many of them are context."""

    zoom: int
    tiles: int
    premium: bool
    context_tiles: int = 0


class _Sized:
    """Totals, download times and size: the same arithmetic for one layer and for a whole job."""

    if TYPE_CHECKING:  # each subclass gives these, as a field or a property

        @property
        def total(self) -> int: ...
        @property
        def premium_total(self) -> int: ...
        @property
        def context_total(self) -> int: ...
        @property
        def bytes_per_tile(self) -> int: ...

    @property
    def opendata_total(self) -> int:
        """Tiles an OpenData plan may fetch."""
        return self.total - self.premium_total

    @property
    def seconds_live(self) -> float:
        """Download time at the live-mode limit (600 tiles a minute)."""
        return self.total * 60 / LIVE_RATE_PER_MINUTE

    @property
    def seconds_development(self) -> float:
        """Download time at the development-mode limit (50 tiles a minute)."""
        return self.total * 60 / DEVELOPMENT_RATE_PER_MINUTE

    @property
    def approx_bytes(self) -> int:
        """Approximate size of the tiles (see :data:`BYTES_PER_TILE`)."""
        return self.total * self.bytes_per_tile

    def _totals_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "premium_total": self.premium_total,
            "opendata_total": self.opendata_total,
            "context_total": self.context_total,
            "seconds_live": self.seconds_live,
            "seconds_development": self.seconds_development,
            "rates_per_minute": {"live": LIVE_RATE_PER_MINUTE, "development": DEVELOPMENT_RATE_PER_MINUTE},
            "approx_bytes": self.approx_bytes,
            "bytes_per_tile": self.bytes_per_tile,
            "size_basis": self._size_basis(),
        }

    def _size_basis(self) -> str:
        if self.bytes_per_tile == BYTES_PER_TILE:
            return SIZE_BASIS
        return f"at {self.bytes_per_tile:,} bytes a tile, as given"

    def _totals_lines(self) -> list[str]:
        context = f", of which {self.context_total:,} context" if self.context_total else ""
        return [
            f"total {self.total:,} tiles (OpenData {self.opendata_total:,}, Premium {self.premium_total:,}{context})",
            f"time  {format_duration(self.seconds_live)} at {LIVE_RATE_PER_MINUTE}/min (live), "
            f"{format_duration(self.seconds_development)} at {DEVELOPMENT_RATE_PER_MINUTE}/min (development)",
            f"size  about {format_size(self.approx_bytes)} ({self._size_basis()})",
        ]


@dataclass(frozen=True)
class Estimate(_Sized):
    """The size of a job: tiles per zoom, totals, download times and an approximate size."""

    layer: str
    crs: str
    zooms: tuple[ZoomEstimate, ...]
    bytes_per_tile: int
    area_source: str
    area_bounds: GeoBounds
    area_notes: tuple[str, ...] = ()
    context_m: float = 0.0

    @property
    def total(self) -> int:
        """All tiles, every zoom (context tiles included)."""
        return sum(z.tiles for z in self.zooms)

    @property
    def context_total(self) -> int:
        """Of :attr:`total`, the tiles of the regional context around the area (see :mod:`ospack.context`)."""
        return sum(z.context_tiles for z in self.zooms)

    @property
    def premium_total(self) -> int:
        """Tiles at zooms that need a Premium plan."""
        return sum(z.tiles for z in self.zooms if z.premium)

    def to_dict(self) -> dict[str, Any]:
        """The estimate as plain JSON-ready data."""
        return {
            "layer": self.layer,
            "crs": self.crs,
            "zooms": {
                str(z.zoom): {"tiles": z.tiles, "premium": z.premium, "context_tiles": z.context_tiles}
                for z in self.zooms
            },
            **self._totals_dict(),
            "context": {"radius_m": self.context_m, "tiles": self.context_total},
            "area": self._area_dict(),
        }

    def _area_dict(self) -> dict[str, Any]:
        return {"source": self.area_source, "bounds_wgs84": list(self.area_bounds), "notes": list(self.area_notes)}

    def to_text(self) -> str:
        """The estimate as a short table for people."""
        lines = [f"{self.layer} ({self.crs}) for {self.area_source}", f"{'zoom':>4} {'tiles':>14}  plan"]
        lines += [f"{z.zoom:>4} {z.tiles:>14,}  {'Premium' if z.premium else 'OpenData'}" for z in self.zooms]
        if self.context_total:
            zooms = [z.zoom for z in self.zooms if z.context_tiles]
            span = f"zoom {zooms[0]}" if len(zooms) == 1 else f"zooms {zooms[0]}-{zooms[-1]}"
            lines.append(
                f"of which {self.context_total:,} context tiles ({Context(self.context_m)} around the area at {span},"
                " so it shows in its region when zoomed out; --context 0 for none)"
            )
        return "\n".join(lines + self._totals_lines())


@dataclass(frozen=True)
class JobEstimate(_Sized):
    """The size of a job of several layers over one area: each layer's estimate, and the totals."""

    layers: tuple[Estimate, ...]

    @property
    def total(self) -> int:
        """All tiles, every layer and zoom."""
        return sum(layer.total for layer in self.layers)

    @property
    def premium_total(self) -> int:
        """Tiles at zooms that need a Premium plan, every layer."""
        return sum(layer.premium_total for layer in self.layers)

    @property
    def context_total(self) -> int:
        """Of :attr:`total`, the regional context's tiles, every layer."""
        return sum(layer.context_total for layer in self.layers)

    @property
    def bytes_per_tile(self) -> int:
        """The tile size assumed for every layer."""
        return self.layers[0].bytes_per_tile

    @property
    def area_notes(self) -> tuple[str, ...]:
        """What was done to the area (repairs, buffers …)."""
        return self.layers[0].area_notes

    @property
    def huge(self) -> bool:
        """True when ``ospack package`` would ask for consent (``--allow-huge``) at the live rate."""
        return needs_consent(self.total, self.seconds_live)

    def to_dict(self) -> dict[str, Any]:
        """Per layer (``layers``: each as :meth:`Estimate.to_dict` without the area), the totals, and the area."""
        per_layer = [{k: v for k, v in layer.to_dict().items() if k != "area"} for layer in self.layers]
        return {"layers": per_layer, **self._totals_dict(), "huge": self.huge, "area": self.layers[0]._area_dict()}

    def to_text(self) -> str:
        """Each layer's table; with several layers, the totals of all of them after."""
        parts = [layer.to_text() for layer in self.layers]
        if len(self.layers) > 1:
            parts.append("\n".join([f"all {len(self.layers)} layers", *self._totals_lines()]))
        if self.huge:
            parts.append(
                f"note  over {CONSENT_TILES:,} tiles or a day at {LIVE_RATE_PER_MINUTE}/min:"
                " `ospack package` starts a job this size only with --allow-huge"
            )
        return "\n\n".join(parts)


def estimate(
    area: Plan | Area | Any,
    layer: Layer | str | None = None,
    zooms: ZoomSpec | None = None,
    *,
    bytes_per_tile: int = BYTES_PER_TILE,
    context: Context | str | float = DEFAULT_CONTEXT,
) -> Estimate:
    """Estimate a job of one layer without fetching anything.

    Parameters
    ----------
    area : Plan, Area or anything :func:`ospack.read_area` reads
        The area to cover; or a :class:`~ospack.plan.Plan` of one layer (then give no layer or zooms).
    layer : Layer or str
        The OS Maps API layer.
    zooms : str, int or sequence of int
        ``7``, ``"7-12"``, ``"7,9,11"`` or a sequence of zooms.
    bytes_per_tile : int
        Assumed average tile size; the default is explained at :data:`BYTES_PER_TILE`.
    context : Context, distance or 0
        The regional context at the low zooms, as :func:`ospack.plan` takes it (a plan has its own).

    Returns
    -------
    Estimate
    """
    job = _planned(area, layer, zooms, context)
    if len(job.layers) != 1:
        raise LayerError(f"estimate() sizes one layer, this plan has {len(job.layers)}; use estimate_layers()")
    return _estimate(job, job.layers[0], bytes_per_tile)


def _planned(
    area: Plan | Area | Any,
    layers: Layer | str | Sequence[Layer | str] | None,
    zooms: ZoomSpec | None,
    context: Context | str | float,
) -> Plan:
    """``area`` when it is a plan already, else the plan of ``layers`` at ``zooms`` over it."""
    if isinstance(area, Plan):
        if layers is not None or zooms is not None:
            raise UsageError("a plan already has its layers and zooms; give the plan alone")
        return area
    if layers is None or zooms is None:
        raise UsageError("give the layers and zooms to estimate, or a plan")
    return plan(area, layers, zooms, context=context)


def _estimate(job: Plan, layer: Layer, bytes_per_tile: int) -> Estimate:
    area = job.area
    return Estimate(
        layer=layer.name,
        crs=layer.grid.crs,
        zooms=tuple(
            ZoomEstimate(z, n, layer.is_premium(z), job.context_counts.get(layer.name, {}).get(z, 0))
            for z, n in job.counts[layer.name].items()
        ),
        bytes_per_tile=bytes_per_tile,
        area_source=area.source,
        area_bounds=area.bounds_wgs84(),
        area_notes=area.notes,
        context_m=job.context.radius_m,
    )


def needs_consent(tiles: int, seconds: float | None) -> bool:
    """True for a job past :data:`CONSENT_TILES` tiles or :data:`CONSENT_SECONDS` (None: unpaced)."""
    return tiles > CONSENT_TILES or (seconds is not None and seconds > CONSENT_SECONDS)


def check_job_size(
    tiles: int, rate_per_min: float | None, output: str | os.PathLike[str], *, allow_huge: bool = False
) -> None:
    """Refuse, before any request, a job of ``tiles`` to fetch that is huge or will not fit the disk.

    Huge means more than :data:`CONSENT_TILES` tiles or :data:`CONSENT_SECONDS` at
    ``rate_per_min`` (None: unpaced, judged by tiles alone); the size is estimated at
    :data:`BYTES_PER_TILE` against the free space of ``output``'s folder.

    Raises
    ------
    LargeJobError
        With the figures and the flag that starts the job anyway, unless ``allow_huge``.
    """
    if allow_huge or tiles <= 0:
        return
    size = tiles * BYTES_PER_TILE
    seconds = None if rate_per_min is None else tiles * 60 / rate_per_min
    folder = Path(output).absolute().parent
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:  # the folder is missing: opening the output says so
        free = None
    too_big = free is not None and size > free
    if not (too_big or needs_consent(tiles, seconds)):
        return
    figures = [
        f"{tiles:,} tiles to fetch",
        "unpaced" if seconds is None else f"{format_duration(seconds)} at {rate_per_min:g}/min",
        f"about {format_size(size)} at an assumed {BYTES_PER_TILE // 1000} kB a tile",
    ]
    if free is not None:
        figures.append(f"{format_size(free)} free in {folder}")
    reason = "this job needs more space than the disk has" if too_big else "this is a huge job"
    raise LargeJobError(
        f"{reason} ({', '.join(figures)}); make the area or the zooms smaller"
        f"{', or free some space' if too_big else ''}, or pass --allow-huge to start it anyway"
    )


def estimate_layers(
    area: Plan | Area | Any,
    layers: Layer | str | Sequence[Layer | str] | None = None,
    zooms: ZoomSpec | None = None,
    *,
    bytes_per_tile: int = BYTES_PER_TILE,
    context: Context | str | float = DEFAULT_CONTEXT,
) -> JobEstimate:
    """Estimate a job of one or several layers over one area, each as :func:`estimate` does.

    ``area`` may be a :class:`~ospack.plan.Plan` (then give no layers or zooms): the layers are
    planned together as :func:`ospack.package` plans them (only a job with no tile at all is
    refused), on one grid or several.
    """
    job = _planned(area, layers, zooms, context)
    return JobEstimate(tuple(_estimate(job, layer, bytes_per_tile) for layer in job.layers))


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 20 s``, ``5 h 02 min``, ``12 days 3 h``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days:,} days {hours} h"


def format_size(size: float) -> str:
    """Bytes in decimal units: ``850 B``, ``1.2 MB``, ``3.4 GB``."""
    units = ("B", "kB", "MB", "GB", "TB")
    step = 0
    while size >= 1000 and step < len(units) - 1:
        size /= 1000
        step += 1
    return f"{size:.0f} B" if step == 0 else f"{size:.1f} {units[step]}"
