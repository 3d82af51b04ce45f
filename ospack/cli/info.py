"""``ospack info``: what a GeoPackage or MBTiles file holds."""

from __future__ import annotations

import json

import click

from ..inspect import info as read_info
from .options import json_option


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def info(file: str, as_json: bool) -> None:
    """Describe a GeoPackage or MBTiles FILE.

    Format, layers, CRS, zooms with tile counts, bounds, size, completeness,
    attribution and provenance.

    \b
    Example:
      ospack info snowdon.gpkg --json
    """
    report = read_info(file)
    click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json else report.to_text())
