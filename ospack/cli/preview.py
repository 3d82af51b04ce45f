"""``ospack preview``: a picture of a job before its download, or of a package after it."""

from __future__ import annotations

import click

from ..context import Context
from ..preview import check_output, preview
from .options import context_option, echo_notes


@click.command("preview")
@click.argument("source", metavar="AREA|FILE")
@click.option("--output", "-o", required=True, metavar="PNG", help="The picture to write (.png).")
@click.option("--layer", "-l", metavar="LAYER", help="The layer: needed for an area, and for a file of several.")
@click.option("--zoom", "-z", type=click.IntRange(min=0), help="One zoom (default for a file: the deepest that fits).")
@click.option(
    "--buffer", "buffer_m", type=click.FloatRange(min=0), default=0.0, metavar="METRES", help="Grow the area."
)
@click.option("--area-crs", metavar="CRS", help="CRS of the area's coordinates, e.g. EPSG:27700.")
@click.option("--against", metavar="OUTPUT", help="An existing output: colour the tiles it already holds.")
@context_option
def preview_command(
    source: str,
    output: str,
    layer: str | None,
    zoom: int | None,
    buffer_m: float,
    area_crs: str | None,
    against: str | None,
    context: Context,
) -> None:
    """Draw AREA's tiles at one zoom before a download, or FILE's stored tiles after one.

    \b
    For an area: its outline over the grid of --zoom, tiles coloured OpenData,
    Premium, or already in --against OUTPUT, with the counts and a scale bar.
    At a low zoom the tiles cover the region --context reaches, as package fetches them.
    For an ospack package: its tiles of one zoom as a mosaic, the area outlined,
    missing tiles crossed out in red, tiles absent at the source hatched (its own
    recorded context applies; --context is for an area).

    \b
    Examples:
      ospack preview sample_areas/yr-wyddfa.geojson --layer Outdoor_27700 --zoom 9 -o plan.png
      ospack preview yr-wyddfa.gpkg -o look.png
    """
    check_output(output)  # before the drawing: a bad name costs nothing
    picture = preview(
        source, layer=layer, zoom=zoom, buffer_m=buffer_m, area_crs=area_crs, against=against, context=context
    )
    saved = picture.save(output)
    echo_notes(picture.notes)
    click.echo(f"Wrote {saved}: {picture.to_text()}")
