"""``ospack emulator``: run the local OS Maps API stand-in until SIGINT/SIGTERM."""

from __future__ import annotations

import sys

import click

from ..emulator import ENFORCEMENTS, FAULT_NAMES, EmulatorConfig, serve
from ..emulator.config import DEFAULT_KEYS, SPIKE_TOLERANCE_S, check_port, parse_faults, parse_key_spec, parse_secrets


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=0, show_default=True, help="Port to listen on; 0 picks a free one.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="KEY[:opendata|premium][:live|dev]",
    help="An API key with its plan and mode (repeatable). Default: a key 'demo' (opendata, live).",
)
@click.option(
    "--enforce",
    type=click.Choice(ENFORCEMENTS),
    default="sliding",
    show_default=True,
    help="Rate limit style: sliding window, fixed calendar window, or spike arrest.",
)
@click.option(
    "--limit",
    type=float,
    default=None,
    metavar="N",
    help="Requests per minute per key per API, overriding the plan's (600 live, 50 dev).",
)
@click.option(
    "--window",
    type=float,
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Accounting period; it holds N × window / 60 requests (same rate, shorter period).",
)
@click.option(
    "--retry-after",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Send Retry-After on 429 (default: none, like OS).",
)
@click.option(
    "--premium-status",
    type=click.Choice(["401", "403"]),
    default="401",
    show_default=True,
    help="Status for a premium zoom asked for with an OpenData key.",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="KEY=SECRET",
    help="OAuth2 client secret of a key (repeatable); keys without one get no tokens.",
)
@click.option(
    "--token-ttl",
    type=float,
    default=299.0,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of OAuth2 access tokens.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME=PROBABILITY",
    help=f"Inject a fault with this probability per tile request (repeatable). NAME: {', '.join(FAULT_NAMES)}.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault sequence.")
@click.option(
    "--spike-tolerance",
    type=float,
    default=SPIKE_TOLERANCE_S,
    show_default=True,
    metavar="SECONDS",
    help="Spike arrest: how much early a request may be read and still pass (timing noise; at most 1/10 of 60/N).",
)
def emulator(
    host: str,
    port: int,
    keys: tuple[str, ...],
    enforce: str,
    limit: float | None,
    window: float,
    retry_after: float | None,
    premium_status: str,
    secrets: tuple[str, ...],
    token_ttl: float,
    faults: tuple[str, ...],
    seed: int,
    spike_tolerance: float,
) -> None:
    """Serve a local OS Maps API (ZXY, WMTS, OAuth2) for tests and demos.

    The first line printed is the base URL; it serves until Ctrl-C or SIGTERM.

    \b
    Example:
      ospack emulator --port 0 --key demo:premium --limit 6000 --fault 503=0.05
    """
    check_port(port)
    config = EmulatorConfig(
        keys=tuple(parse_key_spec(k) for k in keys) or DEFAULT_KEYS,
        enforce=enforce,
        limit=limit,
        window=window,
        retry_after=retry_after,
        premium_status=int(premium_status),
        secrets=parse_secrets(secrets),
        token_ttl=token_ttl,
        faults=parse_faults(faults),
        seed=seed,
        spike_tolerance=spike_tolerance,
    )

    def announce(url: str) -> None:
        click.echo(url)
        if not keys:
            click.echo(", ".join(f"key {spec.key} ({spec.plan}, {spec.mode})" for spec in config.keys))
        sys.stdout.flush()

    serve(config, host, port, announce)
