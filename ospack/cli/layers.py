"""``ospack layers``: the OS Maps API layer catalogue."""

from __future__ import annotations

import json

import click

from ..layers import Layer, list_layers
from .options import json_option


def layer_record(layer: Layer) -> dict[str, object]:
    """A layer as plain data, for --json."""
    premium = [z for z in layer.zooms if layer.is_premium(z)]
    return {
        "name": layer.name,
        "style": layer.style,
        "crs": layer.grid.crs,
        "min_zoom": layer.min_zoom,
        "max_zoom": layer.max_zoom,
        "open_zooms": [layer.open_zooms.start, layer.open_zooms.stop - 1],
        "premium_zooms": [premium[0], premium[-1]] if premium else None,
    }


@click.command()
@json_option
def layers(as_json: bool) -> None:
    """List the OS Maps API layers with their grids and zooms.

    \b
    Example:
      ospack layers --json
    """
    records = [layer_record(layer) for layer in list_layers()]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    click.echo(f"{'layer':<15} {'crs':<11} {'zooms':<7} {'opendata':<9} premium")
    for r in records:
        premium = "-" if r["premium_zooms"] is None else "{}-{}".format(*r["premium_zooms"])
        click.echo(
            f"{r['name']:<15} {r['crs']:<11} {r['min_zoom']}-{r['max_zoom']:<5} "
            f"{'{}-{}'.format(*r['open_zooms']):<9} {premium}"
        )
