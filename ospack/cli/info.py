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
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(describe(report)))


def describe(report: dict) -> list[str]:
    """The text form of an :func:`ospack.info` report, one fact per line."""
    state = {True: "complete", False: "INCOMPLETE (interrupted; rerun to resume)", None: "unknown (not made by ospack)"}
    if report.get("running"):
        state[False] = f"INCOMPLETE ({report['running']}; wait for it to finish)"
    elif report.get("failure"):
        state[False] = f"INCOMPLETE (the last run stopped: {report['failure']})"
    size_mb = report["size_bytes"] / 1e6
    lines = [f"{report['path']}: {report['format']}, {size_mb:.1f} MB, {state[report['complete']]}"]
    for layer in report["layers"]:
        bounds = ", ".join(f"{v:.1f}" for v in layer["bounds"]) if layer["bounds"] else "unknown"
        lines.append(f"layer {layer['name']} (table {layer['table']}, {layer['crs']}) bounds {bounds}")
        for z, n in layer["zooms"].items():
            absent = layer["absent"].get(z)
            lines.append(f"  zoom {z:>2}: {n} tiles" + (f", {absent} absent at source" if absent else ""))
    if report["attribution"]:
        lines.append(f"attribution: {report['attribution']}")
    job = report["provenance"]
    if job:
        lines.append(
            f"provenance: {job['source']}, created {job['created']}, ospack {job['ospack_version']}"
            + (", emulator tiles (--demo)" if job.get("demo") else "")
        )
    return lines
