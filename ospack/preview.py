"""``ospack preview``: a picture of a job before its download (:func:`preview_plan`) and of a package after
(:func:`ospack.preview_mosaic.preview_file`); :func:`preview` tells which from what it is given.

The plan picture takes its tiles from :func:`ospack.plan` and the cover ``package`` fetches, so its
counts are the ones ``estimate`` and ``package`` give. Both pictures are drawn in the layer's own
grid (:mod:`ospack.preview_draw`) and are at most :data:`~ospack.preview_draw.MAX_PIXELS` a side.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from .context import DEFAULT_CONTEXT, Context
from .errors import AreaError, GridError, IncompatibleOutputError, UsageError, WriterError, ZoomError

if TYPE_CHECKING:
    from PIL import Image

    from .layers import Layer
    from .preview_draw import View
    from .writers import PackageFile

__all__ = ["Preview", "check_output", "preview", "preview_plan"]

#: the largest square a plan picture gives one tile, in pixels (a small area need not fill a screen)
PLAN_MAX_CELL = 128
#: up to this many planned tiles (``package``'s huge-job limit) the tiles already held are counted
#: exactly, by a merge with the cover's tiles; beyond it, by square
EXACT_LIMIT = 1_000_000


@dataclass(frozen=True)
class Preview:
    """A preview picture and what it shows.

    Attributes
    ----------
    image
        The picture (RGB), map on top and caption below, at most 2000 px a side.
    view
        Where the map's tiles are in it: :meth:`~ospack.preview_draw.View.to_pixel` maps grid metres to pixels.
    layer
        The layer drawn.
    counts
        The tiles of the zoom drawn, by kind: for a plan ``planned``, ``opendata``, ``premium``, ``held``
        (already in the ``against`` file), ``to_fetch``; for a file ``planned``, ``stored``, ``absent``,
        ``missing``, ``damaged``, ``extra``.
    notes
        What the user should be told (area repairs, the zoom chosen).
    """

    image: Image.Image
    view: View
    layer: str
    counts: Mapping[str, int]
    notes: tuple[str, ...] = ()
    kind: str = field(default="plan")

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))

    @property
    def zoom(self) -> int:
        """The zoom drawn."""
        return self.view.zoom

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the picture as PNG to ``path``; WriterError when it cannot be written."""
        path = check_output(path)
        try:
            self.image.save(path, "PNG", optimize=True)
        except OSError as exc:
            raise WriterError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path

    def to_text(self) -> str:
        """One line on what the picture shows."""
        width, height = self.image.size
        counts = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in self.counts.items())
        return f"{self.layer} zoom {self.zoom}, {width}×{height} px: {counts}"


def check_output(path: str | os.PathLike[str]) -> Path:
    """``path`` as a picture's output, checked before any drawing: a ``.png`` name in a folder that exists.

    Raises
    ------
    UsageError
        Another extension.
    WriterError
        The folder does not exist.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"the preview is a PNG picture; name the output {path.stem}.png")
    if not path.parent.is_dir():
        raise WriterError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
    return path


def preview(
    source: str | os.PathLike[str] | Any,
    *,
    layer: str | None = None,
    zoom: int | None = None,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    against: str | os.PathLike[str] | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
) -> Preview:
    """The picture of ``source``: of the package it is when it is an ospack output, else of the plan for that area.

    A GeoPackage may hold both an area and ospack's tiles; one holding ospack's job is taken as the package.

    Raises
    ------
    UsageError
        Options of the other kind of preview (``--buffer``, ``--area-crs``, ``--against`` for a package;
        a missing ``--layer`` or ``--zoom`` for an area).
    """
    if _is_package(source):
        given = [
            name for name, value in (("--buffer", buffer_m), ("--area-crs", area_crs), ("--against", against)) if value
        ]
        if given:
            raise UsageError(f"{source} is a package, so {', '.join(given)} do not apply; they are for an area")
        from .preview_mosaic import preview_file

        return preview_file(source, zoom=zoom, layer=layer)
    missing = [name for name, value in (("--layer", layer), ("--zoom", zoom)) if value is None]
    if missing:
        raise UsageError(
            f"previewing the plan for an area needs {' and '.join(missing)}, e.g. --layer Outdoor_27700 --zoom 9"
        )
    assert layer is not None and zoom is not None
    return preview_plan(source, layer, zoom, buffer_m=buffer_m, area_crs=area_crs, against=against, context=context)


def _is_package(source: object) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    try:
        if not Path(source).is_file():
            return False
    except OSError:  # WKT longer than a file name can be
        return False
    from .writers import read_job

    try:
        return read_job(source) is not None
    except WriterError:  # not SQLite at all: an area file (GeoJSON, KML …)
        return False


def preview_plan(
    area: Any,
    layer: str | Layer,
    zoom: int,
    *,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    against: str | os.PathLike[str] | None = None,
    max_px: int | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
) -> Preview:
    """The plan of ``area`` at one ``zoom`` of ``layer``: its tiles over the grid, coloured by kind.

    Tiles are OpenData or Premium (by the layer's Premium zooms), or already held by ``against``
    (stored or recorded absent there: what a ``package`` run into that file would not fetch). Where the
    zoom has too many tiles for one square each, a square stands for 2^k × 2^k tiles, drawn where any
    of them is planned and shaded by the share of them ``against`` holds. The counts are exact, but for
    the held ones of a plan of over :data:`EXACT_LIMIT` tiles, counted by square (``notes`` says so).

    Parameters
    ----------
    area, buffer_m, area_crs
        Anything :func:`ospack.plan` takes, or a :class:`~ospack.plan.Plan` (its area is drawn).
    against
        An existing output whose tiles are coloured as held (a path that does not exist holds none).
    max_px
        The longest side of the map (default 1880, so the picture with its caption is at most 2000).
    """
    from PIL import Image, ImageDraw

    from . import preview_draw as draw
    from .plan import Plan, plan

    if isinstance(area, Plan):  # its area, read once; the one zoom is counted again, as the plan counts
        area = area.area
    job = plan(area, layer, [zoom], buffer_m=buffer_m, area_crs=area_crs, context=context)
    chosen = job.layers[0]
    grid = chosen.grid
    planned = job.counts[chosen.name][zoom]
    drawn = job.cover(chosen).area_at(zoom)  # at a context zoom: the region round the area, as package fetches it
    try:
        outline = job.area.in_crs(grid.crs)
    except AreaError:  # an area far beyond the grid: its tiles are still drawn, without the outline
        outline = None
    limit = chosen.tile_range(zoom)
    if drawn is not job.area:
        bounds = drawn.in_crs(grid.crs).bounds
    elif outline is not None and not outline.is_empty:
        bounds = outline.bounds
    else:
        bounds = _range_bounds(grid, zoom, limit)
    window = draw.grown(draw.window_of(grid, zoom, bounds, limit), 1, limit)
    view = draw.fit_view(grid, zoom, window, max_px or draw.MAX_PIXELS - draw.CAPTION_PIXELS, PLAN_MAX_CELL)
    colour = draw.PREMIUM if chosen.is_premium(zoom) else draw.OPENDATA
    tiles = Image.new("RGB", view.size, draw.WHITE)
    canvas = ImageDraw.Draw(tiles)
    held = _squares(drawn, chosen, view, planned, against)
    held_planned = 0
    for (col, row), (tiles_here, held_here) in held.squares.items():
        held_planned += held_here
        fill = _blend(colour, draw.HELD, held_here / tiles_here)
        canvas.rectangle(view.square_box(col * view.factor, row * view.factor), fill=fill)
    held_planned = min(held_planned, planned)
    draw.draw_grid_lines(canvas, view)
    if outline is not None:
        draw.draw_outline(canvas, view, _near(outline, view))
    kind = "Premium" if chosen.is_premium(zoom) else "OpenData"
    lines = _plan_lines(chosen, view, planned, held_planned, held)
    legend = [(colour, kind), *([(draw.HELD, f"in {held.name}")] if held.name else []), (draw.OUTLINE, "area")]
    counts = {
        "planned": planned,
        "opendata": 0 if chosen.is_premium(zoom) else planned,
        "premium": planned if chosen.is_premium(zoom) else 0,
        "held": held_planned,
        "to_fetch": planned - held_planned,
    }
    inexact = (
        () if held.exact else (f"over {EXACT_LIMIT:,} tiles: the tiles already in {held.name} are counted by square",)
    )
    around = () if drawn is job.area else (f"zoom {zoom} covers the map {job.context} around the area (--context)",)
    notes = (*job.area.notes, *around, *_block_note(view), *inexact)
    return Preview(draw.compose(tiles, view, lines, legend), view, chosen.name, counts, notes, "plan")


def _plan_lines(layer: Layer, view: View, planned: int, held_planned: int, held: Held) -> list[str]:
    """The caption: the zoom and its tiles, those already held, and what one square is."""
    from .preview_draw import distance_text

    premium = layer.is_premium(view.zoom)
    square = "one tile" if view.factor == 1 else f"{view.factor}×{view.factor} tiles"
    lines = [
        f"{layer.name}, zoom {view.zoom} ({layer.grid.crs}): {planned:,} {_tiles(planned)} planned, "
        + ("Premium (package needs --allow-premium)" if premium else "OpenData"),
        f"one square: {square}, {distance_text(view.square_m)} a side",
    ]
    if held.name is not None:
        state = "" if held.exists else " (no such file yet)"
        about = "" if held.exact else "about "
        lines.insert(1, f"{about}{held_planned:,} already in {held.name}{state}, {planned - held_planned:,} to fetch")
    return lines


def _tiles(n: int) -> str:
    return "tile" if n == 1 else "tiles"


def _block_note(view: View) -> tuple[str, ...]:
    if view.factor == 1:
        return ()
    return (
        f"zoom {view.zoom} has too many tiles here to draw one square each; each square stands for "
        f"{view.factor}×{view.factor} tiles",
    )


def _range_bounds(grid: Any, zoom: int, limit: Any) -> tuple[float, float, float, float]:
    from .types import Tile

    first = grid.tile_bounds(Tile(zoom, limit.min_col, limit.min_row))
    last = grid.tile_bounds(Tile(zoom, limit.max_col, limit.max_row))
    return first.left, last.bottom, last.right, first.top


def _near(geometry: Any, view: View) -> Any:
    """The outline cut to a little beyond the picture: drawing stays cheap and coordinates stay small."""
    from .projection import clip_rect

    width, height = view.size
    margin = 10 * view.metres_per_pixel
    right, bottom = view.left + width * view.metres_per_pixel, view.top - height * view.metres_per_pixel
    return clip_rect(geometry, view.left - margin, bottom - margin, right + margin, view.top + margin)


class Held(NamedTuple):
    """What the plan's squares hold: ``{(column, row) in squares: (planned tiles, of them held)}``, the
    ``against`` file's name (None: none given), whether it exists, and whether the held counts are exact."""

    squares: dict[tuple[int, int], tuple[int, int]]
    name: str | None
    exists: bool
    exact: bool


def _squares(area: Any, layer: Layer, view: View, planned: int, against: str | os.PathLike[str] | None) -> Held:
    """Every square holding planned tiles, with the planned tiles in it and those of them ``against`` holds."""
    name = None if against is None else Path(against).name
    if against is None or not Path(against).exists():
        nothing = _tally(area, layer, view, iter(())) if view.factor == 1 else _coarse(area, layer, view, {})
        return Held(nothing, name, False, True)
    from .writers import open_package

    with ExitStack() as stack:
        package = stack.enter_context(open_package(against))
        _check_against(package, Path(against), layer)
        held = package.held_keys(layer.name, view.zoom)
        # closed before the connection is: a stream left part-read must not outlive it (held_keys is a generator)
        stack.callback(cast(Generator[tuple[int, int], None, None], held).close)
        if view.factor == 1 or planned <= EXACT_LIMIT:
            return Held(_tally(area, layer, view, held), name, True, True)
        return Held(_coarse(area, layer, view, _per_square(view, held)), name, True, False)


def _tally(
    area: Any, layer: Layer, view: View, held: Iterator[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, int]]:
    """Per square, the planned tiles and those of them in ``held`` (ascending ``(row, column)``): one
    merge of the cover's tiles, which come in the same order, with the held ones."""
    from .cover import cover

    tally: dict[tuple[int, int], tuple[int, int]] = {}
    factor = view.factor
    next_held = next(held, None)
    for tile in cover(area, layer, [view.zoom]):
        key = (tile.y, tile.x)
        while next_held is not None and next_held < key:
            next_held = next(held, None)
        square = (tile.x // factor, tile.y // factor)
        tiles_here, held_here = tally.get(square, (0, 0))
        tally[square] = (tiles_here + 1, held_here + (next_held == key))
    return tally


def _coarse(
    area: Any, layer: Layer, view: View, held: dict[tuple[int, int], int]
) -> dict[tuple[int, int], tuple[int, int]]:
    """Per square holding planned tiles, all its 4^k tiles and those of them ``held`` — without
    enumerating the zoom's tiles.

    A square of 2^k × 2^k tiles is a tile of zoom ``z − k`` (the grids nest), and it holds a planned
    tile exactly when the area meets its interior, so those squares are the cover at ``z − k``. On the
    area's edge not all its tiles are planned, which only lightens the held shading there.
    """
    from .cover import cover

    zoom, factor = view.zoom, view.factor
    coarse = zoom - (factor.bit_length() - 1)
    grid = layer.grid
    if coarse < layer.min_zoom:
        raise ZoomError(f"zoom {zoom} of {layer.name} has too many tiles over this area to draw; preview a lower zoom")
    if grid.tile_span(coarse) != grid.tile_span(zoom) * factor:
        raise GridError(f"grid {grid.id}: zoom {coarse} tiles are not {factor}×{factor} tiles of zoom {zoom}")
    full = factor * factor
    return {(t.x, t.y): (full, min(full, held.get((t.x, t.y), 0))) for t in cover(area, layer, [coarse])}


def _per_square(view: View, held: Iterator[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Held tiles per square (column, row in squares) of the picture. Streamed: a huge file is never in memory."""
    counts: dict[tuple[int, int], int] = {}
    factor = view.factor
    cols, rows = range(view.min_col, view.min_col + view.cols), range(view.min_row, view.min_row + view.rows)
    for row, col in held:
        key = (col // factor, row // factor)
        if key[0] in cols and key[1] in rows:
            counts[key] = counts.get(key, 0) + 1
    return counts


def _check_against(package: PackageFile, path: Path, layer: Layer) -> None:
    job = package.job
    if job is None:
        raise IncompatibleOutputError(f"{path} was not made by ospack, so it holds none of the plan's tiles")
    if job.grid.id != layer.grid.id:
        raise IncompatibleOutputError(f"{path} holds {job.grid.id} tiles, and {layer.name} is on {layer.grid.id}")
    if layer.name not in job.layers:
        raise IncompatibleOutputError(f"{path} holds {', '.join(job.layers)}, not {layer.name}")


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * share),
        round(a[1] + (b[1] - a[1]) * share),
        round(a[2] + (b[2] - a[2]) * share),
    )
