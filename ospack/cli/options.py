"""Options shared by several commands, written once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def layer_option(multiple: bool = False) -> Callable[[F], F]:
    """``--layer NAME``: an OS Maps API layer (see ``ospack layers``)."""
    return click.option(
        "--layer",
        "-l",
        required=True,
        multiple=multiple,
        metavar="LAYER",
        help="OS Maps API layer, e.g. Outdoor_27700 or Road_3857 (see `ospack layers`)."
        + (" Repeat for several layers." if multiple else ""),
    )


def zoom_option(f: F) -> F:
    """``--zoom RANGE``: ``7``, ``7-12`` or ``7,9,11``; repeated, the union of all."""
    return click.option(
        "--zoom",
        "-z",
        required=True,
        multiple=True,
        metavar="RANGE",
        callback=lambda _ctx, _param, values: ",".join(values),
        help="Zoom levels: 7, 7-12 or 7,9,11. Repeat to add more (--zoom 0-9 --zoom 12 is 0-9,12).",
    )(f)


def area_options(f: F) -> F:
    """AREA argument with ``--buffer`` and ``--area-crs``."""
    f = click.option(
        "--area-crs",
        metavar="CRS",
        default=None,
        help="CRS of the area's coordinates, overriding the file's (default WGS84), e.g. EPSG:27700.",
    )(f)
    f = click.option(
        "--buffer",
        "buffer_m",
        type=click.FloatRange(min=0),
        default=0.0,
        metavar="METRES",
        help="Grow the area by this many metres on the ground (needed for routes and points).",
    )(f)
    return click.argument("area", metavar="AREA")(f)


def context_option(f: F) -> F:
    """``--context DISTANCE``: how far the low zooms reach beyond the area (0: not at all)."""
    from ..context import DEFAULT_RADIUS_M, MIN_CONTEXT_TILE_M, Context
    from ..errors import UsageError

    def parse(_ctx: click.Context, _param: click.Parameter, value: str) -> Context:
        try:
            return Context.parse(value)
        except UsageError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option(
        "--context",
        metavar="DISTANCE",
        default=f"{DEFAULT_RADIUS_M / 1000:g}km",
        show_default=True,
        callback=parse,
        help="Map around the area when zoomed out: at the zooms whose tiles span "
        f"{MIN_CONTEXT_TILE_M / 1000:g} km or more, also the tiles this far beyond the area (a few hundred "
        "at most), so GIS apps show the region, not a postage stamp. E.g. 10km, 500m; 0 for none.",
    )(f)


def json_option(f: F) -> F:
    """``--json``: print one machine-readable JSON object."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")(f)


def echo_notes(notes: tuple[str, ...] | list[str]) -> None:
    """Tell the user, on stderr, what was done to their input (repairs, buffers …)."""
    for note in notes:
        click.echo(f"Note: {note}", err=True)


def each_options(f: F) -> F:
    """``--each FIELD`` (one output per feature of AREA) and ``--source-layer NAME`` (which layer of it)."""
    f = click.option(
        "--source-layer",
        metavar="NAME",
        default=None,
        help="With --each: the layer of AREA to read the sites from, when the file has several.",
    )(f)
    return click.option(
        "--each",
        metavar="FIELD",
        default=None,
        help="One output per feature of the vector file AREA, named by its FIELD: put {FIELD} in -o.",
    )(f)
