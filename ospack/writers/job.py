"""What a package holds: :class:`JobInfo`, its provenance and the rule for resuming into a file."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import shapely

from .. import __version__
from ..context import Context, ground_scale
from ..errors import UsageError, WriterError
from ..grids import Grid
from ..layers import attribution, get_layer
from ..projection import WGS84, transform_bounds
from ..types import ProjectedBounds

if TYPE_CHECKING:
    from ..area import Area

#: what a --demo file says it holds, wherever an OS file gives the OS attribution
DEMO_ATTRIBUTION = "Demo test cards from the ospack emulator — not OS map data"


@dataclass(frozen=True)
class JobInfo:
    """What a package holds: its provenance, and what "compatible" is compared on.

    Parameters
    ----------
    layers
        OS Maps API layer names, all on one grid (normalised to the catalogue's spelling).
    zooms
        Zoom levels (normalised to sorted, unique).
    area_geojson
        WGS84 GeoJSON geometry of the (buffered) area.
    source
        API base URL; must not carry the API key.
    created
        ISO 8601 UTC timestamp of the first run.
    demo
        True when the tiles came from the emulator (``--demo``).
    context_m
        How far the low zooms reach beyond the area, in ground metres (:class:`ospack.context.Context`);
        0, as files written before contexts existed read, is none.
    """

    layers: tuple[str, ...]
    zooms: tuple[int, ...]
    area_geojson: str
    source: str
    created: str
    demo: bool = False
    context_m: float = 0.0
    #: the WGS84 geometry of ``area_geojson`` when the caller has it (:meth:`for_area`); else parsed from it
    _area: Any = field(default=None, repr=False, compare=False, kw_only=True)

    @classmethod
    def for_area(
        cls,
        area: Area,
        *,
        layers: tuple[str, ...],
        zooms: tuple[int, ...],
        source: str,
        created: str,
        demo: bool,
        context_m: float = 0.0,
    ) -> JobInfo:
        """The job of a run over ``area``: its GeoJSON is made once, for the file, and never parsed back."""
        return cls(
            layers=layers,
            zooms=zooms,
            area_geojson=area.to_geojson(),
            source=source,
            created=created,
            demo=demo,
            context_m=context_m,
            _area=area.in_crs(WGS84),
        )

    def __post_init__(self) -> None:
        if not self.layers:
            raise WriterError("a package needs at least one layer")
        layers = tuple(get_layer(name) for name in self.layers)
        names = tuple(layer.name for layer in layers)
        if len(set(names)) != len(names):
            raise WriterError(f"layer listed twice in {', '.join(names)}")
        grids = sorted({layer.grid.id for layer in layers})
        if len(grids) > 1:
            raise WriterError(
                f"layers {', '.join(names)} are on different grids ({', '.join(grids)}); "
                "one package holds one grid, so make one file per grid"
            )
        zooms = tuple(sorted({int(z) for z in self.zooms}))
        if not zooms:
            raise WriterError("a package needs at least one zoom")
        for layer in layers:
            for z in zooms:
                layer.check_zoom(z)
        parts = urlsplit(self.source)
        if parts.password or any(k.lower() == "key" for k in parse_qs(parts.query)):
            raise WriterError("the source URL must not contain the API key; pass the base URL only")
        try:
            stamp = datetime.fromisoformat(self.created.replace("Z", "+00:00"))
        except ValueError:
            raise WriterError(f"created {self.created!r} is not an ISO 8601 timestamp") from None
        if stamp.tzinfo is None:
            raise WriterError(f"created {self.created!r} has no time zone; give it in UTC")
        try:  # the same range as a run's, so a file cannot hold another
            context = Context.parse(self.context_m)
        except UsageError as exc:
            raise WriterError(f"the job's {exc}") from None
        area = self._area
        if area is None:  # read from a file
            try:
                area = shapely.from_geojson(self.area_geojson)
            except shapely.errors.GEOSException as exc:
                raise WriterError(f"the job's area is not a GeoJSON geometry: {exc}") from None
        if area.is_empty:
            raise WriterError("the job's area is empty")
        object.__setattr__(self, "layers", names)
        object.__setattr__(self, "zooms", zooms)
        object.__setattr__(self, "context_m", context.radius_m)
        object.__setattr__(self, "_area", area)

    @property
    def grid(self) -> Grid:
        """The one grid every layer of the package is on."""
        return get_layer(self.layers[0]).grid

    @property
    def created_at(self) -> datetime:
        """``created`` as an aware UTC datetime."""
        return datetime.fromisoformat(self.created.replace("Z", "+00:00")).astimezone(UTC)

    @property
    def attribution(self) -> str:
        """The OS attribution statement for the year the tiles were fetched; for demo tiles, what they are."""
        return DEMO_ATTRIBUTION if self.demo else attribution(self.created_at.year)

    def title(self, layer: str) -> str:
        """A short name for ``layer``'s tiles, as readers list the layer."""
        return f"OS {layer} demo test cards" if self.demo else f"OS {layer}"

    def description(self, layer: str) -> str:
        """One sentence on what ``layer``'s tiles are, ending with the attribution."""
        style = f"OS Maps API {get_layer(layer).style} style on {self.grid.crs}"
        if self.demo:
            return f"Test cards from the ospack emulator, standing in for the {style}. {self.attribution}."
        return f"{style}. {self.attribution}"

    @property
    def version(self) -> str:
        """The ospack version writing the package."""
        return __version__

    @property
    def area(self) -> Any:
        """The area as a shapely geometry (WGS84 lon/lat)."""
        return self._area

    def projected_bounds(self) -> ProjectedBounds:
        """The area's bounding box in the grid's CRS (by OSTN15 onto the National Grid), clipped to the grid."""
        left, bottom, right, top = transform_bounds(self._area.bounds, WGS84, self.grid.crs)
        pyramid = self.grid.pyramid_bounds()
        return ProjectedBounds(
            max(left, pyramid.left), max(bottom, pyramid.bottom), min(right, pyramid.right), min(top, pyramid.top)
        )

    @property
    def context(self) -> Context:
        """The regional context at the low zooms (:data:`~ospack.context.NO_CONTEXT` when none)."""
        return Context(self.context_m)

    def context_bounds(self) -> ProjectedBounds | None:
        """The context region's box in the grid's CRS, clipped to the grid (None without a context zoom).

        Grown from :meth:`projected_bounds` as the plan grows the area's own box (the two boxes
        differ by the densified reprojection of a box's corners): it sizes the extent readers show,
        never which tiles the job holds, which :class:`ospack.plan.JobCover` alone decides.
        """
        lon = (self._area.bounds[0] + self._area.bounds[2]) / 2
        lat = (self._area.bounds[1] + self._area.bounds[3]) / 2
        scale = ground_scale(self.grid.crs, lon, lat)
        if not self.context.zooms(self.grid, self.zooms, scale):
            return None
        return self.context.region(self.projected_bounds(), scale, within=self.grid.pyramid_bounds())

    def extent(self, z: int) -> ProjectedBounds:
        """What readers should show, snapped outwards to the tiles at zoom ``z``: the context region, else the area."""
        return self._snapped(self.context_bounds() or self.projected_bounds(), z)

    def tile_aligned_bounds(self, z: int) -> ProjectedBounds:
        """:meth:`projected_bounds` snapped outwards to the edges of the tiles at zoom ``z``."""
        return self._snapped(self.projected_bounds(), z)

    def _snapped(self, box: ProjectedBounds, z: int) -> ProjectedBounds:
        grid = self.grid
        span = grid.tile_span(z)
        left = grid.origin_x + math.floor((box.left - grid.origin_x) / span) * span
        right = grid.origin_x + math.ceil((box.right - grid.origin_x) / span) * span
        top = grid.origin_y - math.floor((grid.origin_y - box.top) / span) * span
        bottom = grid.origin_y - math.ceil((grid.origin_y - box.bottom) / span) * span
        return ProjectedBounds(left, bottom, right, top)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data provenance, as stored in the file (derived fields included)."""
        return {
            "layers": list(self.layers),
            "zooms": list(self.zooms),
            "grid": self.grid.id,
            "area": json.loads(self.area_geojson),
            "source": self.source,
            "created": self.created,
            "demo": self.demo,
            "context_m": self.context_m,
            "attribution": self.attribution,
            "ospack_version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobInfo:
        """Rebuild a job from :meth:`to_dict` output."""
        try:
            area = data["area"]
            return cls(
                layers=tuple(data["layers"]),
                zooms=tuple(data["zooms"]),
                area_geojson=area if isinstance(area, str) else json.dumps(area),
                source=data["source"],
                created=data["created"],
                demo=bool(data.get("demo", False)),
                context_m=float(data.get("context_m", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WriterError(f"the package's recorded job is unreadable ({exc})") from None

    def differences(self, other: JobInfo) -> list[str]:
        """What makes ``other`` incompatible with this job (empty when a resume may proceed).

        Zooms may differ (a resume records their union), and so may the context (a resume records
        the wider: a wider context holds every tile of a narrower one, since which zooms get it does
        not depend on its radius). The source URL may differ too, because the emulator's port
        changes between runs.
        """
        found = []
        if self.grid.id != other.grid.id:
            found.append(f"grid {self.grid.id} in the file, {other.grid.id} asked")
        if sorted(self.layers) != sorted(other.layers):
            found.append(f"layers {', '.join(self.layers)} in the file, {', '.join(other.layers)} asked")
        if not self._area.equals_exact(other._area, 1e-9) and not self._area.equals(other._area):
            found.append("a different area")
        if self.demo != other.demo:
            found.append("emulator (--demo) tiles" if self.demo else "real OS tiles")
            found[-1] += " in the file, " + ("emulator tiles asked" if other.demo else "real tiles asked")
        return found

    def with_zooms(self, zooms: Iterable[int]) -> JobInfo:
        """This job with ``zooms`` added."""
        return replace(self, zooms=tuple(sorted({*self.zooms, *zooms})))

    def resumed_by(self, other: JobInfo) -> JobInfo:
        """This job as a resume by ``other`` records it: the union of the zooms, the wider context."""
        return replace(self.with_zooms(other.zooms), context_m=max(self.context_m, other.context_m))
