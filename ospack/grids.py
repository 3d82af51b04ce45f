"""Tile grids, loaded from the OGC TileMatrixSet 2.0 documents in ``schemas/tms``.

morecantile validates the documents; the maths below then runs on plain
numbers derived once, because cover and fetch call it in hot loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import morecantile
from pydantic import ValidationError

from .errors import GridError
from .resources import read_text
from .types import ProjectedBounds, Tile, TileRange

#: Grid id (as users and the OS API name it) → TileMatrixSet document name.
GRID_DOCUMENTS = {"EPSG:27700": "OSBritishNationalGrid", "EPSG:3857": "WebMercatorQuad"}


@dataclass(frozen=True)
class Grid:
    """A tile grid: top-left origin, square tiles, one tile matrix per zoom from 0.

    Columns grow eastwards and rows southwards from ``(origin_x, origin_y)``,
    in the grid's projected CRS (metres).
    """

    id: str
    epsg: int
    origin_x: float
    origin_y: float
    tile_size: int
    resolutions: tuple[float, ...]
    matrix_sizes: tuple[tuple[int, int], ...]

    @property
    def max_zoom(self) -> int:
        """Highest zoom the grid defines."""
        return len(self.resolutions) - 1

    @property
    def crs(self) -> str:
        """The grid's CRS as ``EPSG:n``."""
        return f"EPSG:{self.epsg}"

    def tile_span(self, z: int) -> float:
        """Width (= height) of one tile at zoom ``z``, in metres."""
        return self.resolutions[self._check(z)] * self.tile_size

    def matrix_range(self, z: int) -> TileRange:
        """All tiles of the matrix at zoom ``z``."""
        width, height = self.matrix_sizes[self._check(z)]
        return TileRange(0, width - 1, 0, height - 1)

    def tile_bounds(self, tile: Tile) -> ProjectedBounds:
        """The square a tile covers, in metres."""
        span = self.tile_span(tile.z)
        left = self.origin_x + tile.x * span
        top = self.origin_y - tile.y * span
        return ProjectedBounds(left, top - span, left + span, top)

    def tile_at(self, x: float, y: float, z: int) -> Tile:
        """The tile whose square holds the projected point ``(x, y)`` at zoom ``z``.

        A point on a shared edge belongs to the tile east / south of it.
        """
        span = self.tile_span(z)
        return Tile(z, int((x - self.origin_x) // span), int((self.origin_y - y) // span))

    def pyramid_bounds(self) -> ProjectedBounds:
        """The square-tiled extent of zoom 0, which every zoom's tiles nest in exactly."""
        width, height = self.matrix_sizes[0]
        span = self.tile_span(0)
        return ProjectedBounds(
            self.origin_x, self.origin_y - height * span, self.origin_x + width * span, self.origin_y
        )

    def pyramid_size(self, z: int) -> tuple[int, int]:
        """Matrix width and height of zoom ``z`` when zoom 0 is doubled exactly (GeoPackage)."""
        width, height = self.matrix_sizes[0]
        return width << z, height << z

    def _check(self, z: int) -> int:
        if not 0 <= z <= self.max_zoom:
            raise GridError(f"zoom {z} is outside grid {self.id} (0-{self.max_zoom})")
        return z


def list_grids() -> list[str]:
    """Ids of the grids ospack ships."""
    return sorted(GRID_DOCUMENTS)


@cache
def get_grid(grid_id: str) -> Grid:
    """Load, validate and return a shipped grid by id (``EPSG:27700`` or ``EPSG:3857``)."""
    try:
        document = GRID_DOCUMENTS[grid_id]
    except KeyError:
        raise GridError(f"unknown grid {grid_id!r}; ospack knows {', '.join(list_grids())}") from None
    try:
        tms = morecantile.TileMatrixSet.model_validate_json(read_text(f"tms/{document}.json"))
    except ValidationError as exc:
        raise GridError(f"grid document {document}.json is not a valid TileMatrixSet: {exc}") from exc
    return _grid_from_tms(grid_id, tms)


def _grid_from_tms(grid_id: str, tms: morecantile.TileMatrixSet) -> Grid:
    matrices = tms.tileMatrices
    first = matrices[0]
    if [int(m.id) for m in matrices] != list(range(len(matrices))):
        raise GridError(f"grid {grid_id}: tile matrices must be numbered 0, 1, 2, …")
    for matrix in matrices:
        if (
            matrix.cornerOfOrigin != "topLeft"
            or tuple(matrix.pointOfOrigin) != tuple(first.pointOfOrigin)
            or matrix.tileWidth != matrix.tileHeight
            or matrix.tileWidth != first.tileWidth
        ):
            raise GridError(f"grid {grid_id}: every matrix must share one top-left origin and square tile size")
    epsg = tms.crs.to_epsg()
    if epsg is None or f"EPSG:{epsg}" != grid_id:
        raise GridError(f"grid document for {grid_id} declares EPSG:{epsg}")
    origin_x, origin_y = first.pointOfOrigin
    return Grid(
        id=grid_id,
        epsg=epsg,
        origin_x=float(origin_x),
        origin_y=float(origin_y),
        tile_size=first.tileWidth,
        resolutions=tuple(float(m.cellSize) for m in matrices),
        matrix_sizes=tuple((m.matrixWidth, m.matrixHeight) for m in matrices),
    )
