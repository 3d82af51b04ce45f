"""Drawing for ``ospack preview``: pure functions from a view of one zoom's tiles to pixels (no I/O).

A :class:`View` is a window of one grid's tiles at one zoom drawn as squares of ``cell`` pixels,
top-left at pixel (0, 0): columns grow east and rows south, as the grid's do, so the picture is in
the layer's own grid and a metre is the same number of pixels everywhere in it. Where a zoom has
too many tiles to draw each one, a square stands for ``factor`` × ``factor`` of them (the grids
nest: a tile of zoom ``z − k`` is exactly ``2^k`` × ``2^k`` tiles of zoom ``z``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import shapely
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry.base import BaseGeometry

from .grids import Grid
from .types import TileRange

Colour = tuple[int, int, int]

#: the longest side a preview may have, in pixels: what a person can look at on one screen
MAX_PIXELS = 2000
#: the caption band below the map (at most 4 lines of text, the legend and the scale bar) takes this much
CAPTION_PIXELS = 120
#: a square smaller than this cannot show its colour between grid lines
MIN_CELL = 4
WHITE: Colour = (255, 255, 255)
INK: Colour = (30, 30, 30)
GRID_LINE: Colour = (190, 190, 190)
OUTLINE: Colour = (230, 0, 126)  # magenta: no OS map style and no tile class uses it
OPENDATA: Colour = (126, 196, 126)
PREMIUM: Colour = (240, 168, 56)
HELD: Colour = (92, 140, 222)
MISSING: Colour = (220, 0, 0)
ABSENT: Colour = (160, 160, 160)
OUTLINE_WIDTH = 3
_LINE = 17  # caption line height at _FONT_SIZE
_FONT_SIZE = 13
_PAD = 8
#: characters Pillow's own font lacks (it draws a box): what is written instead
_PLAIN = str.maketrans({"—": "-", "–": "-", "×": "x", "−": "-"})


@dataclass(frozen=True)
class View:
    """A window of ``grid``'s tiles at ``zoom``, drawn as squares of ``cell`` px, ``factor`` tiles a side each.

    ``min_col``/``min_row``/``cols``/``rows`` count squares (tiles of zoom ``zoom`` divided by ``factor``).
    """

    grid: Grid
    zoom: int
    factor: int
    min_col: int
    min_row: int
    cols: int
    rows: int
    cell: int

    @property
    def square_m(self) -> float:
        """The side of one square on the ground, in grid metres."""
        return self.grid.tile_span(self.zoom) * self.factor

    @property
    def left(self) -> float:
        """Grid x of the picture's left edge."""
        return self.grid.origin_x + self.min_col * self.square_m

    @property
    def top(self) -> float:
        """Grid y of the picture's top edge."""
        return self.grid.origin_y - self.min_row * self.square_m

    @property
    def metres_per_pixel(self) -> float:
        """Ground metres of one pixel."""
        return self.square_m / self.cell

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the map, in pixels."""
        return self.cols * self.cell, self.rows * self.cell

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """The pixel position of the grid point ``(x, y)``."""
        return (x - self.left) / self.metres_per_pixel, (self.top - y) / self.metres_per_pixel

    def square_box(self, col: int, row: int) -> tuple[int, int, int, int]:
        """The pixel box (left, top, right, bottom; inclusive) of the square holding tile ``(col, row)`` of ``zoom``."""
        left = (col // self.factor - self.min_col) * self.cell
        top = (row // self.factor - self.min_row) * self.cell
        return left, top, left + self.cell - 1, top + self.cell - 1

    def squares(self) -> Iterator[tuple[int, int]]:
        """``(column, row)`` of every square, in squares (multiply by ``factor`` for the first tile of each)."""
        for row in range(self.min_row, self.min_row + self.rows):
            for col in range(self.min_col, self.min_col + self.cols):
                yield col, row


def fit_view(grid: Grid, zoom: int, window: TileRange, max_px: int, max_cell: int) -> View:
    """The view of ``window`` (tiles of ``zoom``) in at most ``max_px`` a side, squares of at most ``max_cell`` px.

    Each tile is one square when that leaves it at least :data:`MIN_CELL` px; otherwise squares of
    ``2^k`` × ``2^k`` tiles, the smallest ``k`` that fits.
    """
    cols, rows = window.max_col - window.min_col + 1, window.max_row - window.min_row + 1
    factor = 1
    while math.ceil(max(cols, rows) / factor) * MIN_CELL > max_px:
        factor *= 2
    min_col, min_row = window.min_col // factor, window.min_row // factor
    cols, rows = window.max_col // factor - min_col + 1, window.max_row // factor - min_row + 1
    cell = max(MIN_CELL, min(max_cell, max_px // max(cols, rows)))
    return View(grid, zoom, factor, min_col, min_row, cols, rows, cell)


def window_of(grid: Grid, zoom: int, bounds: tuple[float, float, float, float], limit: TileRange) -> TileRange:
    """The tiles of ``zoom`` meeting the grid box ``bounds`` (left, bottom, right, top), within ``limit``."""
    left, bottom, right, top = bounds
    span = grid.tile_span(zoom)
    min_col = math.floor((left - grid.origin_x) / span)
    max_col = math.ceil((right - grid.origin_x) / span) - 1
    min_row = math.floor((grid.origin_y - top) / span)
    max_row = math.ceil((grid.origin_y - bottom) / span) - 1
    return TileRange(
        min(max(min_col, limit.min_col), limit.max_col),
        max(min(max_col, limit.max_col), limit.min_col),
        min(max(min_row, limit.min_row), limit.max_row),
        max(min(max_row, limit.max_row), limit.min_row),
    )


def grown(window: TileRange, margin: int, limit: TileRange) -> TileRange:
    """``window`` with ``margin`` tiles more on every side, within ``limit``."""
    return TileRange(
        max(window.min_col - margin, limit.min_col),
        min(window.max_col + margin, limit.max_col),
        max(window.min_row - margin, limit.min_row),
        min(window.max_row + margin, limit.max_row),
    )


# --- marks on the map ----------------------------------------------------------------------


def draw_grid_lines(draw: ImageDraw.ImageDraw, view: View) -> None:
    """The squares' edges, thin and grey, where squares are big enough for lines between them."""
    if view.cell < 2 * MIN_CELL:
        return
    width, height = view.size
    for i in range(view.cols + 1):
        x = min(i * view.cell, width - 1)
        draw.line([(x, 0), (x, height - 1)], fill=GRID_LINE)
    for i in range(view.rows + 1):
        y = min(i * view.cell, height - 1)
        draw.line([(0, y), (width - 1, y)], fill=GRID_LINE)


def draw_outline(draw: ImageDraw.ImageDraw, view: View, geometry: BaseGeometry) -> None:
    """Every ring of the polygonal ``geometry`` (in the grid's CRS) as a line of :data:`OUTLINE`."""
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            points = [view.to_pixel(x, y) for x, y in ring.coords]
            draw.line(points, fill=OUTLINE, width=OUTLINE_WIDTH, joint="curve")


def draw_cross(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    """A missing tile: a red frame and a red cross corner to corner (through the square's centre)."""
    left, top, right, bottom = box
    width = max(1, (right - left) // 24)
    draw.rectangle(box, outline=MISSING, width=width)
    draw.line([(left, top), (right, bottom)], fill=MISSING, width=width)
    draw.line([(left, bottom), (right, top)], fill=MISSING, width=width)


def draw_hatch(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], colour: Colour) -> None:
    """Diagonal hatching over a square (a tile the source has no data for)."""
    left, top, right, bottom = box
    step = max(4, (right - left) // 6)
    for offset in range(-(bottom - top), right - left, step):
        x0, x1 = left + offset, left + offset + (bottom - top)
        points = [(x0, bottom), (x1, top)]
        clipped = _clip_segment(points, box)
        if clipped:
            draw.line(clipped, fill=colour, width=1)


def _clip_segment(points: Sequence[tuple[float, float]], box: tuple[int, int, int, int]) -> list[tuple[float, float]]:
    segment = shapely.LineString(points).intersection(shapely.box(*box))
    return [] if segment.is_empty or segment.geom_type != "LineString" else list(segment.coords)


# --- the caption band: text, legend and scale bar ---------------------------------------------


def plain(text: str) -> str:
    """``text`` in characters Pillow's own font can draw."""
    return text.translate(_PLAIN)


@cache
def font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own font (no font file needed)."""
    return ImageFont.load_default(size=_FONT_SIZE)


def scale_bar_metres(metres_per_pixel: float, max_px: float) -> float:
    """The longest round length (1, 2 or 5 × 10^n m) drawn in at most ``max_px`` pixels."""
    limit = metres_per_pixel * max_px
    best = 1.0
    for exponent in range(0, 8):
        for step in (1, 2, 5):
            length = step * 10.0**exponent
            if length <= limit:
                best = length
    return best


def distance_text(metres: float) -> str:
    """``500 m``, ``2 km``, ``1.8 km``."""
    if metres < 1000:
        return f"{metres:.0f} m"
    km = metres / 1000
    return f"{km:.0f} km" if km == int(km) or km >= 100 else f"{km:.1f} km"


def compose(tiles: Image.Image, view: View, lines: Sequence[str], legend: Sequence[tuple[Colour, str]]) -> Image.Image:
    """The map with a caption band below it: ``lines`` of text, the legend swatches and a scale bar.

    The band is at most :data:`CAPTION_PIXELS` high, so a map of ``MAX_PIXELS − CAPTION_PIXELS`` fits in ``MAX_PIXELS``.
    """
    if len(lines) > 4:
        raise ValueError("a caption holds at most 4 lines")
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [_fitted(measure, plain(line), MAX_PIXELS - 2 * _PAD) for line in lines]
    legend = [(colour, plain(label)) for colour, label in legend]
    text_width = max((measure.textlength(line, font=font()) for line in lines), default=0)
    legend_width = sum(measure.textlength(label, font=font()) + 28 for _, label in legend)
    map_width, map_height = tiles.size
    width = int(max(map_width, text_width + 2 * _PAD, legend_width + 2 * _PAD, 360))
    band = _PAD + _LINE * (len(lines) + 2) + _PAD
    picture = Image.new("RGB", (width, map_height + band), WHITE)
    picture.paste(tiles, (0, 0))
    draw = ImageDraw.Draw(picture)
    y = map_height + _PAD
    for line in lines:
        draw.text((_PAD, y), line, fill=INK, font=font())
        y += _LINE
    x = float(_PAD)
    for colour, label in legend:
        draw.rectangle([x, y + 2, x + 12, y + 14], fill=colour, outline=INK)
        draw.text((x + 18, y), label, fill=INK, font=font())
        x += measure.textlength(label, font=font()) + 28
    _draw_scale_bar(draw, view, (_PAD, y + _LINE + 4), max_px=min(width - 2 * _PAD - 80, 300))
    return picture


def _fitted(measure: ImageDraw.ImageDraw, text: str, width: float) -> str:
    """``text`` cut short with an ellipsis where it would be wider than ``width`` px."""
    if measure.textlength(text, font=font()) <= width:
        return text
    while text and measure.textlength(text + "…", font=font()) > width:
        text = text[:-1]
    return text + "…"


def _draw_scale_bar(draw: ImageDraw.ImageDraw, view: View, at: tuple[int, int], max_px: float) -> None:
    metres = scale_bar_metres(view.metres_per_pixel, max_px)
    length = metres / view.metres_per_pixel
    x, y = at
    draw.rectangle([x, y, x + length, y + 5], fill=INK)
    draw.rectangle([x + length / 2, y + 1, x + length - 1, y + 4], fill=WHITE)
    draw.text((x + length + 8, y - 5), distance_text(metres), fill=INK, font=font())


def corner_label(image: Image.Image, text: str) -> None:
    """``text`` on a white box in the map's bottom-right corner (the attribution)."""
    text = plain(text)
    draw = ImageDraw.Draw(image)
    width = draw.textlength(text, font=font())
    right, bottom = image.size
    box = (max(0.0, right - width - 2 * _PAD), bottom - _LINE - _PAD, right - 1, bottom - 1)
    draw.rectangle(box, fill=WHITE)
    draw.text((box[0] + _PAD, box[1] + _PAD // 2), text, fill=INK, font=font())
