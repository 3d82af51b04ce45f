"""The OS Maps API layer catalogue (``schemas/layers.json``) and zoom parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from .errors import LayerError, ZoomError
from .grids import GRID_DOCUMENTS, Grid, get_grid
from .resources import read_json
from .types import Tile, TileRange

_GRID_BY_DOCUMENT = {document: grid_id for grid_id, document in GRID_DOCUMENTS.items()}

#: OS Maps API transaction limits per minute, per API and project [os-maps-api.md §5]: live
#: projects, and projects still in development mode. Beyond them the API answers 429.
LIVE_RATE_PER_MINUTE = 600
DEVELOPMENT_RATE_PER_MINUTE = 50


@dataclass(frozen=True)
class Layer:
    """One OS Maps API raster layer: a style drawn on one grid over a zoom range."""

    name: str
    style: str
    grid: Grid
    min_zoom: int
    max_zoom: int
    premium_from: int | None
    limits: Mapping[int, TileRange] = field(default_factory=dict)

    @property
    def zooms(self) -> range:
        """Every zoom the layer serves."""
        return range(self.min_zoom, self.max_zoom + 1)

    @property
    def open_zooms(self) -> range:
        """The zooms an OpenData plan may fetch."""
        top = self.max_zoom if self.premium_from is None else self.premium_from - 1
        return range(self.min_zoom, top + 1)

    def is_premium(self, z: int) -> bool:
        """True where zoom ``z`` needs a Premium plan."""
        return self.premium_from is not None and z >= self.premium_from

    def tile_range(self, z: int) -> TileRange:
        """The tiles the layer serves at zoom ``z``: its limits within the grid's matrix."""
        self.check_zoom(z)
        matrix = self.grid.matrix_range(z)
        limit = self.limits.get(z)
        if limit is None:
            return matrix
        return TileRange(
            max(matrix.min_col, limit.min_col),
            min(matrix.max_col, limit.max_col),
            max(matrix.min_row, limit.min_row),
            min(matrix.max_row, limit.max_row),
        )

    def serves(self, tile: Tile) -> bool:
        """True where the layer has this tile (zoom in range, inside matrix and limits)."""
        return self.min_zoom <= tile.z <= self.max_zoom and self.tile_range(tile.z).holds(tile)

    @property
    def premium_zooms(self) -> range:
        """The zooms that need a Premium plan (empty when the layer has none)."""
        start = self.max_zoom + 1 if self.premium_from is None else max(self.premium_from, self.min_zoom)
        return range(start, self.max_zoom + 1)

    def to_dict(self) -> dict[str, object]:
        """The layer as plain data (``ospack layers --json``)."""
        premium = self.premium_zooms
        return {
            "name": self.name,
            "style": self.style,
            "crs": self.grid.crs,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "open_zooms": [self.open_zooms.start, self.open_zooms.stop - 1],
            "premium_zooms": [premium.start, premium.stop - 1] if premium else None,
        }

    def to_text(self) -> str:
        """The layer's row of :func:`layers_text`."""
        premium = self.premium_zooms
        premium_text = f"{premium.start}-{self.max_zoom}" if premium else "-"
        opendata = f"{self.open_zooms.start}-{self.open_zooms.stop - 1}"
        return f"{self.name:<15} {self.grid.crs:<11} {self.min_zoom}-{self.max_zoom:<5} {opendata:<9} {premium_text}"

    def check_zoom(self, z: int) -> int:
        """Return ``z`` or raise ZoomError naming the layer's valid range."""
        if not self.min_zoom <= z <= self.max_zoom:
            raise ZoomError(f"zoom {z} is outside layer {self.name}, which has zooms {self.min_zoom}-{self.max_zoom}")
        return z


@cache
def _catalogue() -> dict[str, Layer]:
    data = read_json("layers.json")
    layers = {}
    for entry in data["layers"]:
        limits = {
            int(z): TileRange(lim["minTileCol"], lim["maxTileCol"], lim["minTileRow"], lim["maxTileRow"])
            for z, lim in (entry.get("limits") or {}).items()
        }
        layers[entry["name"]] = Layer(
            name=entry["name"],
            style=entry["style"],
            grid=get_grid(_GRID_BY_DOCUMENT[entry["tileMatrixSet"]]),
            min_zoom=entry["minZoom"],
            max_zoom=entry["maxZoom"],
            premium_from=entry["premiumFrom"],
            limits=limits,
        )
    return layers


def list_layers() -> list[Layer]:
    """Every layer of the OS Maps API, in catalogue order."""
    return list(_catalogue().values())


def layers_text(layers: Iterable[Layer] | None = None) -> str:
    """``layers`` (default: the whole catalogue) as the table ``ospack layers`` prints."""
    header = f"{'layer':<15} {'crs':<11} {'zooms':<7} {'opendata':<9} premium"
    return "\n".join([header, *(layer.to_text() for layer in (list_layers() if layers is None else layers))])


def get_layer(name: str) -> Layer:
    """The layer called ``name`` (case-insensitive), or LayerError naming the valid ones."""
    catalogue = _catalogue()
    if name in catalogue:
        return catalogue[name]
    for layer in catalogue.values():
        if layer.name.lower() == name.lower():
            return layer
    raise LayerError(f"unknown layer {name!r}; choose one of {', '.join(catalogue)}")


def attribution(year: int | None = None) -> str:
    """The OS attribution statement for ``year`` (default: this year)."""
    return str(read_json("layers.json")["attribution"]).format(year=year or date.today().year)


_ZOOM_TERM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


#: zooms as a user gives them: ``7``, ``"7-12"``, ``"7,9,11"`` or a sequence of ints
ZoomSpec = str | int | Sequence[int]


def parse_zooms(spec: ZoomSpec, layer: Layer) -> tuple[int, ...]:
    """Parse ``7``, ``7-12`` or ``7,9,11`` (or a sequence) into sorted zooms valid for ``layer``."""
    if isinstance(spec, int):
        zooms = {spec}
    elif isinstance(spec, str):
        zooms = set()
        for term in spec.split(","):
            match = _ZOOM_TERM.match(term)
            if not match:
                raise ZoomError(f"cannot read zoom {spec!r}; write 7, 7-12 or 7,9,11")
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) is not None else low
            if high < low:
                raise ZoomError(f"zoom range {term.strip()!r} runs backwards; write {high}-{low}")
            zooms.update(range(low, high + 1))
    else:
        zooms = {int(z) for z in spec}
    if not zooms:
        raise ZoomError("no zoom given; write 7, 7-12 or 7,9,11")
    for z in sorted(zooms):
        layer.check_zoom(z)
    return tuple(sorted(zooms))
