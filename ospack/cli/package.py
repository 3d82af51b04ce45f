"""``ospack package``: the main job, a thin wrapper over :func:`ospack.package`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Literal

import click

from ..batch_summary import BatchSummary
from ..fetch import ApiAccess, FetchSettings, RatePolicy
from ..layers import DEVELOPMENT_RATE_PER_MINUTE as DEV_RATE
from ..layers import LIVE_RATE_PER_MINUTE as LIVE_RATE
from ..pipeline import package, package_batch
from ..summary import PackageSummary
from ..writers import OutputOptions
from . import EXIT_CODES
from .credentials import credential_options, read_credentials
from .options import area_options, context_option, each_options, layer_option, zoom_option
from .progress import ProgressPrinter

if TYPE_CHECKING:
    from ..context import Context

    # generic from click 8.2 on; ospack supports 8.1 too, so it is subscripted for the checker only
    _ParamType = click.ParamType[int | str]
else:
    _ParamType = click.ParamType

EXIT_TILES_FAILED = EXIT_CODES["tiles_failed"]
EXIT_BATCH_INCOMPLETE = EXIT_CODES["batch_incomplete"]
EXIT_ON_SIGNAL = {signal.SIGINT: EXIT_CODES["interrupted"], signal.SIGTERM: EXIT_CODES["terminated"]}


class RateOption(_ParamType):
    """``--rate``: a whole number of requests a minute (at least 1), or ``auto``."""

    name = "N|auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        try:
            number = int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number of requests a minute nor 'auto'", param, ctx)
        if number < 1:
            self.fail(f"{number} is not at least 1 request a minute", param, ctx)
        return number


@click.command("package")
@area_options
@click.option("--output", "-o", required=True, metavar="OUTPUT", help="The .gpkg or .mbtiles file to create or resume.")
@each_options
@layer_option(multiple=True)
@zoom_option
@context_option
@click.option("--format", "fmt", type=click.Choice(["gpkg", "mbtiles"]), help="Default: from OUTPUT's extension.")
@credential_options
@click.option("--dev-project", is_flag=True, help=f"The project is in development mode: {DEV_RATE} requests/min.")
@click.option(
    "--rate",
    type=RateOption(),
    help=f"Requests per minute never to exceed (default {LIVE_RATE}), or 'auto': find the key's real limit"
    " from its 429s, starting at the documented one (see the README).",
)
@click.option(
    "--no-shared-budget",
    is_flag=True,
    help="Do not share the rate budget with other ospack runs using the same key (a proxy with its own limit).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Requests in flight.")
@click.option("--allow-premium", is_flag=True, help="Fetch Premium zooms (your project must have a Premium plan).")
@click.option("--api-url", metavar="URL", help="API root to use instead of https://api.os.uk (an emulator, a proxy).")
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow a plain http:// --api-url beyond this computer (the key crosses the network unencrypted).",
)
@click.option("--protocol", type=click.Choice(["zxy", "wmts"]), default="zxy", show_default=True)
@click.option("--demo", is_flag=True, help="Run against the built-in emulator with a demo key (no key needed).")
@click.option(
    "--allow-huge",
    is_flag=True,
    help="Start a job of over a million tiles, over a day at the rate, or larger than the free disk space.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT that holds a different job.")
@click.option("--dedup", is_flag=True, help="MBTiles: store identical tiles once.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary (no progress lines).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary only.")
def package_command(
    area: str,
    buffer_m: float,
    area_crs: str | None,
    output: str,
    each: str | None,
    source_layer: str | None,
    layer: tuple[str, ...],
    zoom: str,
    context: Context,
    fmt: Literal["gpkg", "mbtiles"] | None,
    key: str | None,
    key_file: str | None,
    secret: str | None,
    secret_file: str | None,
    dev_project: bool,
    rate: int | Literal["auto"] | None,
    no_shared_budget: bool,
    workers: int,
    allow_premium: bool,
    api_url: str | None,
    allow_insecure_http: bool,
    protocol: Literal["zxy", "wmts"],
    demo: bool,
    allow_huge: bool,
    overwrite: bool,
    dedup: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Download the OS tiles covering AREA into one offline file.

    Rerunning the same command resumes an unfinished file and fetches only what is missing.
    Ctrl-C (or SIGTERM) stops cleanly: what was downloaded is kept, and the rerun completes it.
    The key comes from OS_API_KEY, --key-file or --key (the last is visible in `ps`).

    Progress goes to stderr: one line rewritten in place on a terminal, a line every 5 s
    otherwise (a CI log, nohup), with the rate, the ETA and any pause and why. The summary
    counts tiles per layer and zoom: written; absent, the tiles the API has no data for
    (it answers 400/404, e.g. outside its coverage), recorded so a rerun does not ask again;
    and failed, which a rerun fetches.

    With --each FIELD, AREA is a vector file of sites and each feature gets its own output:
    {FIELD} in -o is replaced by the feature's value. The sites share one rate limit, tiles
    neighbours share are fetched once, and bad features are skipped and listed.

    \b
    Example:
      ospack package sample_areas/yr-wyddfa.geojson -o yr-wyddfa.gpkg \\
          --layer Outdoor_27700 --zoom 0-9 --demo
      ospack package sites.gpkg --each name -o 'out/{name}.gpkg' -l Outdoor_27700 -z 0-9 --buffer 200
    """
    key, secret = read_credentials(key, key_file, secret, secret_file)
    api = ApiAccess(url=api_url, key=key, secret=secret, allow_insecure_http=allow_insecure_http, demo=demo)
    settings = fetch_settings(
        rate, dev_project, shared=not (no_shared_budget or demo), workers=workers, protocol=protocol
    )
    printer = ProgressPrinter(enabled=not (quiet or as_json))
    if source_layer and not each:
        raise click.UsageError("--source-layer picks the layer of an --each source; give --each FIELD too")
    # one output, or one per feature of AREA: the same options, the same run, a summary of one or many
    run = (
        partial(package_batch, area, each, output, source_layer=source_layer)
        if each
        else partial(package, area, output)
    )
    with stopping_on_signals() as (stop, received), closing(printer):
        summary = run(
            layers=layer,
            zooms=zoom,
            buffer_m=buffer_m,
            area_crs=area_crs,
            context=context,
            settings=settings,
            api=api,
            options=OutputOptions(format=fmt, overwrite=overwrite, dedup=dedup),
            allow_premium=allow_premium,
            allow_huge=allow_huge,
            progress=printer.update,
            announce=printer.announce,
            stop_event=stop,
        )
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else summary.to_text())
    sys.exit(exit_code(summary, received))


def fetch_settings(
    rate: int | str | None, dev_project: bool, *, shared: bool, workers: int, protocol: Literal["zxy", "wmts"]
) -> FetchSettings:
    """The fetch settings the options ask for: ``--rate N``, ``--rate auto`` or the project's documented limit.

    ``shared`` is False for ``--no-shared-budget`` and for ``--demo``, whose emulator's budget is nobody
    else's (and then the user's cache stays untouched).
    """
    if dev_project and isinstance(rate, int):
        raise click.UsageError("give --dev-project or --rate N, not both")
    per_minute = rate if isinstance(rate, int) else (DEV_RATE if dev_project else LIVE_RATE)
    policy = RatePolicy(per_minute=per_minute, auto=rate == "auto", shared_budget=shared)
    return FetchSettings(rate=policy, workers=workers, protocol=protocol)


def exit_code(summary: PackageSummary | BatchSummary, received: list[signal.Signals]) -> int:
    """0 when done; the signal's code when stopped; else why the file (or a batch's files) is not complete."""
    if summary.interrupted:
        return EXIT_ON_SIGNAL[received[0]] if received else EXIT_ON_SIGNAL[signal.SIGINT]
    if isinstance(summary, BatchSummary) and not summary.complete:
        return EXIT_BATCH_INCOMPLETE
    if isinstance(summary, PackageSummary) and summary.tiles_failed:
        return EXIT_TILES_FAILED
    return 0


@contextmanager
def stopping_on_signals() -> Iterator[tuple[threading.Event, list[signal.Signals]]]:
    """While the run lasts, SIGINT and SIGTERM set the event (and are recorded) instead of killing it.

    The engine then stops taking tiles and commits what it stored; the previous handlers come back after.
    """
    stop = threading.Event()
    received: list[signal.Signals] = []

    def stop_cleanly(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum))
        stop.set()

    previous = {signum: signal.signal(signum, stop_cleanly) for signum in EXIT_ON_SIGNAL}
    try:
        yield stop, received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
