"""``ospack verify``: check a package end to end."""

from __future__ import annotations

import json

import click

from ..inspect import verify as run_verify
from . import EXIT_CODES, one_line
from .options import json_option


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def verify(file: str, as_json: bool) -> None:
    """Check a package FILE end to end.

    SQLite integrity, format conformance, every tile image, and the stored tiles
    against the recorded area's cover. Exits 1 with one line per problem when
    anything is wrong.

    \b
    Example:
      ospack verify snowdon.gpkg
    """
    report = run_verify(file)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for note in report.notes:
            click.echo(f"note: {one_line(note)}", err=True)
        for problem in report.problems:
            click.echo(f"problem: {one_line(problem)}", err=True)
        if report.ok:
            click.echo(f"{file}: OK ({report.tiles_checked} tiles checked)")
    if not report.ok:
        raise SystemExit(EXIT_CODES["failure"])
