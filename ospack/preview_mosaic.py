"""The picture of a package after its download: its stored tiles of one zoom as one mosaic, the job's
area outlined, the tiles of the area's cover the file lacks crossed out in red, the tiles the source
has no data for hatched, and the attribution in the corner.

Read through the format's :class:`~ospack.writers.files.PackageFile` (MBTiles rows come back XYZ), and
compared with the cover of the area the file records, as ``verify`` compares them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidTileError, LayerError, WriterError, ZoomError
from .preview import Preview

if TYPE_CHECKING:
    from PIL import Image

    from .layers import Layer
    from .preview_draw import View
    from .types import TileRange
    from .writers import JobInfo, PackageFile

__all__ = ["preview_file"]

#: the most tiles a mosaic decodes (~1.2 ms each, so ~20 s at most): a zoom whose window holds more
#: is refused, naming one that fits
MAX_MOSAIC_TILES = 16_384


def preview_file(
    path: str | os.PathLike[str],
    *,
    zoom: int | None = None,
    layer: str | None = None,
    max_px: int | None = None,
) -> Preview:
    """The mosaic of one zoom of an ospack package, with its area, missing and absent tiles marked.

    Parameters
    ----------
    zoom
        The zoom to draw; default the deepest of the job's zooms whose tiles fit ``max_px`` at full
        size (else the shallowest, scaled down).
    layer
        The layer to draw; needed when the file holds several.
    max_px
        The longest side of the map (default 1880, so the picture with its caption is at most 2000);
        tiles are scaled down to fit it.

    Raises
    ------
    WriterError
        The file is missing, not a package, or not made by ospack (its area and grid are unknown).
    LayerError, ZoomError
        A layer or zoom the file does not hold; a zoom with too many tiles to draw.
    """
    from PIL import Image, ImageDraw

    from . import preview_draw as draw
    from .area import Area
    from .context import Context
    from .layers import get_layer
    from .plan import JobCover
    from .writers import open_package
    from .writers.state import absent_keys

    path = Path(path)
    limit_px = max_px or draw.MAX_PIXELS - draw.CAPTION_PIXELS
    with open_package(path) as package:
        job = package.job
        if job is None:
            raise WriterError(f"{path} was not made by ospack: it records no area or grid to draw; preview needs one")
        chosen = get_layer(_layer_of(job, layer, path))
        area = Area.from_geojson(job.area_geojson)
        outline = area.in_crs(chosen.grid.crs)
        # the tiles the job holds: at its context zooms, the region round the area (as verify checks them)
        job_cover = JobCover.of(area, chosen, Context(job.context_m))

        def bounds_at(z: int) -> tuple[float, float, float, float]:
            drawn = job_cover.area_at(z)
            shape = outline if drawn is area else drawn.in_crs(chosen.grid.crs)
            west, south, east, north = shape.bounds
            return float(west), float(south), float(east), float(north)

        z, notes = _zoom(job, chosen, bounds_at, zoom, limit_px)
        window = draw.window_of(chosen.grid, z, bounds_at(z), chosen.tile_range(z))
        view = draw.fit_view(chosen.grid, z, window, limit_px, chosen.grid.tile_size)
        table = package.table_of(chosen.name)
        tiles = Image.new("RGB", view.size, draw.WHITE)
        canvas = ImageDraw.Draw(tiles)
        stored, damaged = _paste(tiles, package, table, view, window)
        absent = set(absent_keys(package.conn, chosen.name, z))
        state = "complete" if package.state and package.state.complete else "incomplete"
        failure = package.state.failure if package.state else None
        attribution = job.attribution
    planned = {(t.y, t.x) for t in job_cover.tiles(z)}
    for row, col in sorted(absent & planned):
        draw.draw_hatch(canvas, view.square_box(col, row), draw.ABSENT)
    missing = sorted(planned - stored - absent) + sorted(damaged)
    for row, col in missing:
        draw.draw_cross(canvas, view.square_box(col, row))
    draw.draw_outline(canvas, view, outline)
    label_in_corner = canvas.textlength(attribution, font=draw.font()) + 24 <= view.size[0]
    if label_in_corner:
        draw.corner_label(tiles, attribution)
    counts = {
        "planned": len(planned),
        "stored": len(stored & planned),
        "absent": len(absent & planned),
        "missing": len(planned - stored - absent),
        "damaged": len(damaged),
        "extra": len(stored - planned),
    }
    lines = [
        f"{chosen.name}, zoom {z} ({chosen.grid.crs}) of {path.name} ({state})",
        f"{counts['stored']:,} of {counts['planned']:,} tiles of the area stored, {counts['absent']:,} absent at "
        f"source (no data there), {counts['missing']:,} missing (failed or not fetched yet)"
        + (f", {counts['damaged']:,} unreadable" if damaged else ""),
    ]
    if failure:
        lines.append(f"the last run stopped: {failure}")
    if not label_in_corner:
        lines.append(attribution)
    legend = [(draw.MISSING, "missing"), (draw.ABSENT, "absent at source"), (draw.OUTLINE, "area")]
    return Preview(draw.compose(tiles, view, lines, legend), view, chosen.name, counts, notes, "file")


def _layer_of(job: JobInfo, layer: str | None, path: Path) -> str:
    if layer is None:
        if len(job.layers) > 1:
            raise LayerError(f"{path} holds layers {', '.join(job.layers)}; choose one with --layer")
        return job.layers[0]
    for name in job.layers:
        if name.lower() == layer.lower():
            return name
    raise LayerError(f"{path} holds {', '.join(job.layers)}, not {layer}; choose one of those with --layer")


def _zoom(
    job: JobInfo,
    layer: Layer,
    bounds_at: Callable[[int], tuple[float, float, float, float]],
    zoom: int | None,
    max_px: int,
) -> tuple[int, tuple[str, ...]]:
    """The zoom to draw and a note when it was chosen here; ZoomError for one the file lacks or cannot be drawn."""
    from .preview_draw import MIN_CELL, window_of

    def side_and_tiles(z: int) -> tuple[int, int]:
        w = window_of(layer.grid, z, bounds_at(z), layer.tile_range(z))
        cols, rows = w.max_col - w.min_col + 1, w.max_row - w.min_row + 1
        return max(cols, rows), cols * rows

    def drawable(z: int) -> bool:
        side, tiles = side_and_tiles(z)
        return tiles <= MAX_MOSAIC_TILES and side * MIN_CELL <= max_px

    zooms = job.zooms
    if zoom is not None:
        if zoom not in zooms:
            raise ZoomError(f"the file holds zooms {_zoom_list(zooms)}, not {zoom}; choose one of those")
        if not drawable(zoom):
            fits = [z for z in zooms if drawable(z)]
            advice = f"choose zoom {fits[-1]} or lower, or leave --zoom out" if fits else "no zoom of it fits either"
            raise ZoomError(
                f"zoom {zoom} has {side_and_tiles(zoom)[1]:,} tiles over the area, too many for one picture "
                f"(at most {MAX_MOSAIC_TILES:,}); {advice}"
            )
        return zoom, ()
    native = [z for z in zooms if side_and_tiles(z)[0] * layer.grid.tile_size <= max_px]
    chosen = native[-1] if native else zooms[0]
    if not drawable(chosen):
        raise ZoomError(f"even zoom {chosen} of the file has too many tiles over the area for one picture")
    fit = "the deepest whose tiles fit one picture at full size" if native else "scaled down to fit one picture"
    return chosen, (f"drawing zoom {chosen}, {fit}; pass --zoom for another",)


def _zoom_list(zooms: tuple[int, ...]) -> str:
    return ", ".join(map(str, zooms))


def _paste(
    tiles: Image.Image, package: PackageFile, table: str, view: View, window: TileRange
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Paste every stored tile of the window, scaled to the view's squares; ``(row, column)`` of those
    stored, and of those whose image does not decode (drawn as missing).

    Pillow decodes and scales without the GIL, so a few threads share the work (decoding is ~90 % of a
    big mosaic's time); tiles are read a batch at a time, so only one batch's bytes are held at once.
    """
    from concurrent.futures import ThreadPoolExecutor
    from itertools import islice

    stored: set[tuple[int, int]] = set()
    damaged: set[tuple[int, int]] = set()
    rows = package.tile_images(table, view.zoom, window)
    with ThreadPoolExecutor(max_workers=_DECODERS) as pool:
        while batch := list(islice(rows, _BATCH)):
            for (tile, _), picture in zip(batch, pool.map(lambda row: _decoded(row[1], view), batch), strict=True):
                key = (tile.y, tile.x)
                if picture is None:
                    damaged.add(key)
                    continue
                left, top, _, _ = view.square_box(tile.x, tile.y)
                tiles.paste(picture, (left, top))
                stored.add(key)
    return stored, damaged


#: threads decoding tiles, and tiles read per batch
_DECODERS = min(4, os.cpu_count() or 1)
_BATCH = 256


def _decoded(data: bytes, view: View) -> Image.Image | None:
    """The tile as an RGB image of the view's square size, or None when it is not an image that decodes."""
    from PIL import Image

    from .writers.images import check_tile_image

    size = view.grid.tile_size
    try:
        check_tile_image(data, size)  # the header first: a hostile size never reaches the decoder
        with Image.open(io.BytesIO(data)) as image:
            picture = image.convert("RGB")
    except (InvalidTileError, OSError, ValueError):
        return None
    if view.cell != size:
        picture = picture.resize((view.cell, view.cell), Image.Resampling.BOX)  # area averaging: 1/5 of LANCZOS
    return picture
