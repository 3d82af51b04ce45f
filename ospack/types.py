"""Immutable value types shared by every stage. No I/O here.

Metres and degrees never share a type: projected boxes use
``left/bottom/right/top`` and geographic boxes ``west/south/east/north``.
"""

from __future__ import annotations

from typing import NamedTuple


class Tile(NamedTuple):
    """One tile of a grid: zoom, column (x) and row (y), rows counted from the top."""

    z: int
    x: int
    y: int


class ProjectedBounds(NamedTuple):
    """A box in a projected CRS, in metres."""

    left: float
    bottom: float
    right: float
    top: float


class GeoBounds(NamedTuple):
    """A box in WGS84 longitude/latitude, in degrees."""

    west: float
    south: float
    east: float
    north: float


class TileRange(NamedTuple):
    """Inclusive column and row ranges of tiles at one zoom."""

    min_col: int
    max_col: int
    min_row: int
    max_row: int

    def holds(self, tile: Tile) -> bool:
        """True when ``tile``'s column and row are in the ranges (its zoom is the caller's to check).

        A method, not ``in``: a tuple's ``in`` compares its four numbers, and overriding it hid that.
        """
        return self.min_col <= tile.x <= self.max_col and self.min_row <= tile.y <= self.max_row
