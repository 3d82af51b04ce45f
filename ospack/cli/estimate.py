"""``ospack estimate``: tiles, time and size of a job, before any download."""

from __future__ import annotations

import json

import click

from ..context import Context
from ..estimate import estimate_layers
from ..plan import plan
from .options import area_options, context_option, echo_notes, json_option, layer_option, zoom_option


@click.command()
@area_options
@layer_option(multiple=True)
@zoom_option
@context_option
@json_option
def estimate(
    area: str,
    buffer_m: float,
    area_crs: str | None,
    layer: tuple[str, ...],
    zoom: str,
    context: Context,
    as_json: bool,
) -> None:
    """Count the tiles AREA needs per zoom, the Premium share, download time and size.

    AREA is a GeoJSON, Shapefile, GeoPackage, KML or GPX file, WKT, or a bbox
    minx,miny,maxx,maxy (WGS84 unless the file says or --area-crs is given).
    With several --layer, each is sized and the totals of all follow.

    \b
    Example:
      ospack estimate sample_areas/yr-wyddfa.geojson --layer Outdoor_27700 --zoom 0-9
    """
    job = estimate_layers(plan(area, layer, zoom, buffer_m=buffer_m, area_crs=area_crs, context=context))
    echo_notes(job.area_notes)
    click.echo(json.dumps(job.to_dict(), indent=2) if as_json else job.to_text())
