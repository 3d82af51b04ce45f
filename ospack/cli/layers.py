"""``ospack layers``: the OS Maps API layer catalogue."""

from __future__ import annotations

import json

import click

from ..layers import layers_text, list_layers
from .options import json_option


@click.command()
@json_option
def layers(as_json: bool) -> None:
    """List the OS Maps API layers with their grids and zooms.

    \b
    Example:
      ospack layers --json
    """
    if as_json:
        click.echo(json.dumps([layer.to_dict() for layer in list_layers()], indent=2))
        return
    click.echo(layers_text())
