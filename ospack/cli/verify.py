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
        for line in report.finding_lines():
            click.echo(one_line(line), err=True)
        verdict = report.verdict()
        if verdict:
            click.echo(verdict)
    if not report.ok:
        raise SystemExit(EXIT_CODES["failure"])
