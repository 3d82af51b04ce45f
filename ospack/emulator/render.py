"""Deterministic 256×256 "test card" PNG tiles drawn with Pillow.

A land tile shows, at true coordinates: the land (a coarse outline of Great
Britain) with a smooth relief texture, the sea beyond it, grid lines with
labels (British National Grid on EPSG:27700 layers, a degree graticule on
EPSG:3857 layers), the tile's top and left edges, and a caption with the layer,
``z/x/y`` and the position of the tile's centre. Each style has its own palette.
A tile that misses the outline is plain sea and byte-identical to every other
sea tile of its style, so deduplication can be checked.

The same (layer, z, x, y) always gives the same bytes (for one Pillow version).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from PIL import Image, ImageDraw, ImageFont
from pyproj import Transformer

from ..layers import Layer
from ..resources import read_json
from ..types import ProjectedBounds, Tile

TILE_SIZE = 256
_WEB_MERCATOR_RADIUS = 6378137.0


@dataclass(frozen=True)
class Palette:
    """The colours of one style (RGB)."""

    sea: tuple[int, int, int]
    land: tuple[int, int, int]
    relief: tuple[int, int, int]
    grid: tuple[int, int, int]
    ink: tuple[int, int, int]
    card: tuple[int, int, int]


PALETTES = {
    "Road": Palette((170, 211, 223), (242, 239, 233), (224, 216, 200), (200, 60, 40), (60, 30, 20), (255, 250, 240)),
    "Outdoor": Palette((153, 204, 255), (214, 235, 199), (176, 214, 160), (40, 110, 60), (20, 60, 30), (245, 255, 240)),
    "Light": Palette((220, 228, 235), (250, 250, 250), (235, 235, 238), (120, 120, 140), (70, 70, 80), (255, 255, 255)),
    "Leisure": Palette(
        (120, 190, 240), (250, 230, 200), (235, 200, 160), (130, 50, 150), (70, 20, 80), (255, 245, 235)
    ),
}


def render_tile(layer: Layer, tile: Tile) -> bytes:
    """The PNG bytes of ``tile`` of ``layer`` (the caller checks the layer serves it)."""
    palette = PALETTES[layer.style]
    bounds = layer.grid.tile_bounds(tile)
    land = _land_in(layer.grid.crs, bounds)
    if land.is_empty:
        return sea_tile(layer.style)
    resolution = (bounds.right - bounds.left) / TILE_SIZE
    pixels = np.empty((TILE_SIZE, TILE_SIZE, 3), dtype=np.uint8)
    pixels[:] = palette.sea
    mask = np.asarray(_rasterise(land, bounds, resolution), dtype=bool)
    relief = _relief(bounds, resolution)
    pixels[mask & relief] = palette.relief
    pixels[mask & ~relief] = palette.land
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    if layer.grid.epsg == 27700:
        _draw_bng_grid(draw, bounds, resolution, palette)
        caption = bng_reference((bounds.left + bounds.right) / 2, (bounds.bottom + bounds.top) / 2)
    else:
        _draw_graticule(draw, bounds, resolution, palette)
        lon, lat = _lonlat((bounds.left + bounds.right) / 2, (bounds.bottom + bounds.top) / 2)
        caption = f"{_degrees(lat, 'N', 'S', 2)} {_degrees(lon, 'E', 'W', 2)}"
    draw.line([(0, TILE_SIZE - 1), (0, 0), (TILE_SIZE - 1, 0)], fill=palette.ink, width=1)
    _draw_caption(draw, [layer.name, f"{tile.z}/{tile.x}/{tile.y}", caption], palette)
    return _encode(image)


@cache
def sea_tile(style: str) -> bytes:
    """The one plain sea tile of a style."""
    return _encode(Image.new("RGB", (TILE_SIZE, TILE_SIZE), PALETTES[style].sea))


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


@cache
def _outline(crs: str) -> shapely.Geometry:
    ring = read_json("emulator-gb-outline.json")["ring"]
    lon, lat = zip(*ring, strict=True)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    polygon = shapely.Polygon(list(zip(x, y, strict=True)))
    shapely.prepare(polygon)
    return polygon


def _land_in(crs: str, bounds: ProjectedBounds) -> shapely.Geometry:
    outline = _outline(crs)
    box = shapely.box(*bounds)
    if not outline.intersects(box):
        return shapely.Polygon()
    return shapely.intersection(outline, box)


def _rasterise(land: shapely.Geometry, bounds: ProjectedBounds, resolution: float) -> Image.Image:
    mask = Image.new("1", (TILE_SIZE, TILE_SIZE), 0)
    draw = ImageDraw.Draw(mask)
    for part in shapely.get_parts(land):
        if isinstance(part, shapely.Polygon) and not part.is_empty:
            ring = [((x - bounds.left) / resolution, (bounds.top - y) / resolution) for x, y in part.exterior.coords]
            draw.polygon(ring, fill=1)
    return mask


def _relief(bounds: ProjectedBounds, resolution: float) -> np.ndarray:
    """A smooth banded pattern in world coordinates, so neighbouring tiles join up."""
    centres = (np.arange(TILE_SIZE) + 0.5) * resolution
    x = (bounds.left + centres)[np.newaxis, :]
    y = (bounds.top - centres)[:, np.newaxis]
    scale = resolution * 40.0
    field = (
        np.sin(x / scale)
        + np.sin(y / (scale * 1.3))
        + np.sin((x + y) / (scale * 0.7))
        + 0.5 * np.sin((x - 2 * y) / (scale * 0.45))
    )
    banded: np.ndarray = (np.floor(field * 2.0).astype(np.int64) % 2) == 1
    return banded


_BNG_STEPS = (100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20, 10, 5, 2, 1)


def _step(span: float, steps: tuple[float, ...]) -> float:
    """The largest step giving at least two lines across a tile."""
    for step in steps:
        if step <= span / 2:
            return step
    return steps[-1]


def _draw_bng_grid(draw: ImageDraw.ImageDraw, bounds: ProjectedBounds, res: float, palette: Palette) -> None:
    step = _step(bounds.right - bounds.left, _BNG_STEPS)
    font = _font(10)
    for easting in _multiples(bounds.left, bounds.right, step):
        px = (easting - bounds.left) / res
        draw.line([(px, 0), (px, TILE_SIZE)], fill=palette.grid, width=1)
        draw.text((px + 2, 2), f"E{_metres(easting, step)}", fill=palette.grid, font=font)
    for northing in _multiples(bounds.bottom, bounds.top, step):
        py = (bounds.top - northing) / res
        draw.line([(0, py), (TILE_SIZE, py)], fill=palette.grid, width=1)
        draw.text((2, py - 12), f"N{_metres(northing, step)}", fill=palette.grid, font=font)


def _metres(value: float, step: float) -> str:
    return f"{value / 1000:g}km" if step >= 1000 else f"{value:.0f}"


def _multiples(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step)
    return [k * step for k in range(first, math.floor(high / step) + 1) if low <= k * step < high]


_DEGREE_STEPS = (10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)


def _draw_graticule(draw: ImageDraw.ImageDraw, bounds: ProjectedBounds, res: float, palette: Palette) -> None:
    west, north = _lonlat(bounds.left, bounds.top)
    east, south = _lonlat(bounds.right, bounds.bottom)
    step = _step(east - west, _DEGREE_STEPS)
    decimals = max(0, -math.floor(math.log10(step)))
    font = _font(10)
    for lon in _multiples(west, east, step):
        px = (_mercator_x(lon) - bounds.left) / res
        draw.line([(px, 0), (px, TILE_SIZE)], fill=palette.grid, width=1)
        draw.text((px + 2, 2), _degrees(lon, "E", "W", decimals), fill=palette.grid, font=font)
    for lat in _multiples(south, north, step):
        py = (bounds.top - _mercator_y(lat)) / res
        draw.line([(0, py), (TILE_SIZE, py)], fill=palette.grid, width=1)
        draw.text((2, py - 12), _degrees(lat, "N", "S", decimals), fill=palette.grid, font=font)


def _mercator_x(lon: float) -> float:
    return _WEB_MERCATOR_RADIUS * math.radians(lon)


def _mercator_y(lat: float) -> float:
    return _WEB_MERCATOR_RADIUS * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon = math.degrees(x / _WEB_MERCATOR_RADIUS)
    lat = math.degrees(2 * math.atan(math.exp(y / _WEB_MERCATOR_RADIUS)) - math.pi / 2)
    return lon, lat


def _degrees(value: float, positive: str, negative: str, decimals: int) -> str:
    hemisphere = positive if value >= 0 else negative
    return f"{abs(value):.{decimals}f}°{hemisphere}"


def bng_reference(easting: float, northing: float) -> str:
    """A 1 km British National Grid reference such as ``SH 60 54`` (or ``E…N…`` off the lettered grid)."""
    e100k, n100k = math.floor(easting / 100_000), math.floor(northing / 100_000)
    if not (0 <= e100k < 7 and 0 <= n100k < 13):
        return f"E{easting:.0f} N{northing:.0f}"
    first = (19 - n100k) - (19 - n100k) % 5 + (e100k + 10) // 5
    second = (19 - n100k) * 5 % 25 + e100k % 5
    letters = "".join(chr(65 + i + (1 if i > 7 else 0)) for i in (first, second))
    return f"{letters} {int(easting % 100_000) // 1000:02d} {int(northing % 100_000) // 1000:02d}"


def _draw_caption(draw: ImageDraw.ImageDraw, lines: list[str], palette: Palette) -> None:
    font = _font(13)
    widths = [draw.textlength(line, font=font) for line in lines]
    width, height = max(widths) + 12, 17 * len(lines) + 8
    left, top = (TILE_SIZE - width) / 2, (TILE_SIZE - height) / 2
    draw.rectangle([left, top, left + width, top + height], fill=palette.card, outline=palette.ink)
    for i, line in enumerate(lines):
        draw.text((left + 6, top + 4 + 17 * i), line, fill=palette.ink, font=font)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)
