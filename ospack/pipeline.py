"""``package()``: the one function that runs the pipeline ``area → cover → fetch → write``.

The CLI's ``ospack package`` is a thin wrapper over it; it is also the Python API::

    import ospack
    summary = ospack.package("site.geojson", "site.gpkg", layers=["Outdoor_27700"], zooms="0-9", key=...)
    print(summary.to_dict())
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .area import Area, read_area
from .cover import cover
from .errors import AreaOutsideGridError, DownloadError, PremiumError, PremiumNotAllowedError, UsageError, WriterError
from .fetch import ApiEndpoints, Credentials, FetchStats, StatsRecorder, fetch_tiles
from .layers import LIVE_RATE_PER_MINUTE, Layer, get_layer, parse_zooms
from .plan import plan_counts, zooms_with_tiles
from .preflight import check_demo_options, judge_before_opening, ready_to_fetch
from .summary import PackageSummary, Progress
from .sink import BatchingSink
from .types import Tile
from .writers import JobInfo, TileWriter, open_writer, remove_package


def package(
    area: str | os.PathLike[str] | Area,
    output: str | os.PathLike[str],
    *,
    layers: str | Sequence[str],
    zooms: str | int | Sequence[int],
    format: str | None = None,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    key: str | None = None,
    secret: str | None = None,
    rate_per_min: int | None = LIVE_RATE_PER_MINUTE,
    rate_window_s: float = 60.0,
    workers: int = 8,
    max_retries: int = 6,
    allow_premium: bool = False,
    api_url: str | None = None,
    allow_insecure_http: bool = False,
    protocol: str = "zxy",
    demo: bool = False,
    allow_huge: bool = False,
    overwrite: bool = False,
    dedup: bool = False,
    progress: Callable[[Progress], None] | None = None,
    announce: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
    transport: Any = None,
) -> PackageSummary:
    """Download every tile covering ``area`` at ``zooms`` for each layer into ``output``.

    Parameters
    ----------
    area
        A path, WKT, bbox string or :class:`~ospack.area.Area` (see :func:`ospack.read_area`).
    output
        The ``.gpkg`` or ``.mbtiles`` file to create or resume.
    layers, zooms
        OS layer name(s) on one grid, and zooms as ``7``, ``7-12``, ``7,9,11`` or a sequence.
    key, secret
        The project API key (default: ``OS_API_KEY``); with a secret (default ``OS_API_SECRET``)
        ospack authenticates with OAuth2 client credentials instead of sending the key.
    rate_per_min, rate_window_s
        Requests per minute never to exceed: 600 for live projects, 50 in development mode
        (``None``: no pacing, for a self-hosted source). The window is the server's
        accounting period (60 s for the OS API; shorter for a quick emulator run).
    workers, max_retries
        Requests in flight, and retries of a tile after 5xx, timeouts, dropped connections
        and bad bodies before it is reported failed (429s wait and never count).
    allow_premium
        Premium zooms are refused before any request unless this is set.
    api_url, allow_insecure_http
        Root URL of the API (default ``https://api.os.uk``), e.g. the emulator's URL. Plain
        ``http://`` to a host other than loopback is refused unless ``allow_insecure_http``.
        Only its origin (``scheme://host[:port]``) is recorded in the file.
    demo
        Start the embedded emulator on loopback with a demo key and package from it
        (so ``api_url``, ``key`` and ``secret`` must not be given).
    allow_huge
        Start a job of more than a million tiles, more than a day at ``rate_per_min``, or
        larger than the free space at ``output``; otherwise refused before any request.
    progress, announce
        Callbacks for progress snapshots and one-off messages (premium count, resume state).
    stop_event
        Set it (the CLI does on Ctrl-C) to stop taking new tiles; stored tiles are committed.

    Returns
    -------
    PackageSummary
        Per zoom written / absent / failed, requests, retries, 429s, elapsed and achieved rate.
    """
    say = announce or (lambda message: None)
    started = time.monotonic()
    check_demo_options(demo, api_url, key, secret)
    the_area = area if isinstance(area, Area) else read_area(area, area_crs=area_crs, buffer_m=buffer_m)
    for note in the_area.notes:
        say(note)
    chosen = _layers_on_one_grid(layers)
    wanted = {layer.name: parse_zooms(zooms, layer) for layer in chosen}
    planned = plan_counts(the_area, chosen, zooms)  # refuses an area with no tile before any file exists
    premium = {
        layer.name: {z: n for z, n in planned[layer.name].items() if n and layer.is_premium(z)} for layer in chosen
    }
    if not allow_premium:
        _refuse_premium(chosen, premium)

    with ExitStack() as stack:
        if demo:
            api_url, key, secret = _start_demo_emulator(stack)
        key = key or os.environ.get("OS_API_KEY")
        secret = secret or os.environ.get("OS_API_SECRET")
        endpoints = ApiEndpoints.from_url(api_url, allow_insecure_http=allow_insecure_http)
        job = JobInfo(
            layers=tuple(layer.name for layer in chosen),
            zooms=tuple(sorted({z for zs in wanted.values() for z in zs})),
            area_geojson=the_area.to_geojson(),
            source=endpoints.origin,  # a path may hide a secret
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            demo=demo,
        )
        judge_before_opening(
            output, job, planned, overwrite=overwrite, key=key, rate_per_min=rate_per_min, allow_huge=allow_huge
        )
        tiles_planned = sum(sum(c.values()) for c in planned.values())
        # only a file that did not exist counts as this run's to remove: --overwrite on a shared
        # GeoPackage keeps the user's layers, so that file is never this run's alone
        created = not Path(output).exists()
        writer = stack.enter_context(open_writer(output, job, format=format, overwrite=overwrite, dedup=dedup))
        repairs = _check_stored(writer, chosen, the_area)  # before `complete` is read: a repair clears it
        summary = PackageSummary(
            output=str(Path(output)),
            format=writer.format,
            layers=job.layers,
            demo=demo,
            tiles_planned=tiles_planned,
        )
        for note in writer.notes:
            _note(summary, say, note)
        for note in repairs:
            _note(summary, say, note)
        if writer.complete:
            summary.complete = summary.already_complete = True
            summary.tiles_already_stored = sum(_held(writer, layer.name, wanted[layer.name]) for layer in chosen)
            _note(summary, say, f"{output} is already complete: no requests made")
            _note(summary, say, writer.compact())  # a reader may have kept the last run from compacting
            return _finish(summary, started)
        # judged again now the file is open: a repair above may have left a "complete" file to fetch
        held = sum(_held(writer, layer.name, wanted[layer.name]) for layer in chosen)
        ready_to_fetch(key, tiles_planned - held, rate_per_min, output, allow_huge)
        premium_total = sum(sum(counts.values()) for counts in premium.values())
        say(f"{summary.tiles_planned} tiles planned, {premium_total} of them at Premium zooms")
        credentials = Credentials(key=key, secret=secret)
        if writer.failure is not None:
            writer.record_failure(None)  # this run tries again; it records its own end
        try:
            premium_refused: PremiumError | None = None
            for layer in chosen:
                try:
                    _package_layer(
                        layer, the_area, zooms_with_tiles(planned[layer.name]), writer, summary,
                        endpoints=endpoints, credentials=credentials, rate_per_min=rate_per_min,
                        rate_window_s=rate_window_s, workers=workers, max_retries=max_retries,
                        allow_premium=allow_premium, protocol=protocol, progress=progress, stop_event=stop_event,
                        transport=transport, planned=sum(planned[layer.name].values()),
                    )
                except PremiumError as exc:  # the plan lacks Premium: the other layers' open zooms go on
                    premium_refused = premium_refused or exc
                if summary.interrupted:
                    break
            if premium_refused is not None:
                raise premium_refused
        except DownloadError as exc:
            _settle_failure(writer, Path(output), created, str(exc))
            raise
        if not summary.interrupted and summary.tiles_failed == 0:
            _confirm_complete(writer, chosen, the_area, output)
            note = writer.mark_complete()
            summary.complete = True
            _note(summary, say, note)
    return _finish(summary, started)


def _held(writer: TileWriter, layer: str, zooms: Iterable[int]) -> int:
    """Tiles of ``layer`` at ``zooms`` the file holds, stored or known absent."""
    stored, absent = writer.tile_counts(layer), writer.absent_counts(layer)
    return sum(stored.get(z, 0) + absent.get(z, 0) for z in zooms)


def _note(summary: PackageSummary, say: Callable[[str], None], note: str | None) -> None:
    if note:
        summary.notes.append(note)
        say(note)


def _settle_failure(writer: TileWriter, output: Path, created: bool, reason: str) -> None:
    """A run that stopped for a reason a rerun alone cannot fix must not read as merely interrupted.

    A file this run created and stored nothing in is removed; any other keeps the reason,
    which ``info`` and ``verify`` show.
    """
    layers = writer.job.layers
    if created and not any(writer.tile_counts(n) or writer.absent_counts(n) for n in layers):
        writer.close()
        remove_package(output)
    else:
        try:
            writer.record_failure(reason)
        except WriterError:
            pass  # the file cannot take the note (locked, read-only): the reason still reaches the user


def _finish(summary: PackageSummary, started: float) -> PackageSummary:
    summary.elapsed_s = time.monotonic() - started
    return summary


def _layers_on_one_grid(names: str | Sequence[str]) -> list[Layer]:
    chosen = [get_layer(name) for name in ([names] if isinstance(names, str) else names)]
    if not chosen:
        raise UsageError("no layer given; pass --layer, e.g. --layer Outdoor_27700")
    grids = {layer.grid.id for layer in chosen}
    if len(grids) > 1:
        raise UsageError(
            f"layers {', '.join(layer.name for layer in chosen)} are on different grids ({', '.join(sorted(grids))});"
            " package each grid into its own file"
        )
    return list({layer.name: layer for layer in chosen}.values())


def _refuse_premium(chosen: list[Layer], premium: dict[str, dict[int, int]]) -> None:
    for layer in chosen:
        counts = premium[layer.name]
        if counts:
            zooms = sorted(counts)
            raise PremiumNotAllowedError(
                f"{_zoom_text(zooms)} of {layer.name} {'are' if len(zooms) > 1 else 'is'} Premium"
                f" ({sum(counts.values())} tiles);"
                f" add --allow-premium if your project has a Premium plan, or ask for zooms"
                f" {layer.open_zooms.start}-{layer.open_zooms.stop - 1} only"
            )


def _zoom_text(zooms: Sequence[int]) -> str:
    return f"zooms {zooms[0]}-{zooms[-1]}" if len(zooms) > 1 else f"zoom {zooms[0]}"


def _start_demo_emulator(stack: ExitStack) -> tuple[str, str, None]:
    from .emulator import Emulator

    emulator = stack.enter_context(Emulator(keys=("demo",)))
    return emulator.url, "demo", None


def _job_cover(area: Area, layer: Layer) -> Callable[[int], Iterator[Tile]]:
    """Zoom → the area's tiles of ``layer`` (none at a zoom the area misses)."""

    def at(z: int) -> Iterator[Tile]:
        try:
            return cover(area, layer, [z])
        except AreaOutsideGridError:
            return iter(())

    return at


def _check_stored(writer: TileWriter, layers: Sequence[Layer], area: Area) -> list[str]:
    """Before fetching: delete damaged tiles and tiles outside the area, so the fetch stores them again."""
    return [note for layer in layers for note in writer.check_stored(layer.name, _job_cover(area, layer))]


def _confirm_complete(writer: TileWriter, layers: Sequence[Layer], area: Area, output: object) -> None:
    """Refuse to mark ``output`` complete while its counts disagree with the job's cover (what verify checks)."""
    planned = plan_counts(area, layers, writer.job.zooms)  # every zoom the file holds, planned as always
    reasons = [reason for layer in layers for reason in writer.unfinished(layer.name, planned[layer.name])]
    if reasons:
        raise WriterError(
            f"{output} is not marked complete: {'; '.join(reasons)}; rerun the same command (with every zoom "
            "the file holds) to fetch what is missing"
        )


def _missing(layer: Layer, area: Area, zooms: Iterable[int], writer: TileWriter) -> Iterator[Tile]:
    """The cover minus what the file already holds (stored or known absent), streamed in cover order."""
    for z in zooms:
        width = layer.grid.pyramid_size(z)[0]
        held = _held_keys(writer, layer.name, z, width)
        i = 0
        for tile in cover(area, layer, [z]):
            key = tile.y * width + tile.x
            while i < len(held) and held[i] < key:
                i += 1
            if i == len(held) or held[i] != key:
                yield tile


def _held_keys(writer: TileWriter, layer: str, z: int, width: int) -> np.ndarray:
    """Sorted ``row * width + column`` keys of the tiles held at zoom ``z``: 8 bytes a tile.

    Read in one go so the reader's snapshot closes at once; a snapshot held open
    through a long zoom would stop SQLite from recycling its write-ahead log.
    """
    return np.fromiter((t.y * width + t.x for t in writer.done(layer, z)), dtype=np.int64)


def _package_layer(
    layer: Layer,
    area: Area,
    zooms: Sequence[int],
    writer: TileWriter,
    summary: PackageSummary,
    *,
    planned: int,
    progress: Callable[[Progress], None] | None,
    **fetch_options: Any,
) -> None:
    already = _held(writer, layer.name, zooms)
    recorder = StatsRecorder()
    sink = BatchingSink(writer, layer, summary, recorder, max(planned - already, 0), progress)
    # The commit thread holds the GIL for up to the switch interval (5 ms by default), which
    # would delay request releases on the event loop by as much: a spike-arrest server reads
    # a late request followed by a punctual one as a burst. Switch threads more often meanwhile.
    switch_interval = sys.getswitchinterval()
    if fetch_options.get("rate_per_min") is not None:  # unpaced, switching more often only costs throughput
        sys.setswitchinterval(min(switch_interval, 0.0005))
    try:
        stats: FetchStats = asyncio.run(
            fetch_tiles(_missing(layer, area, zooms, writer), layer=layer, on_outcome=sink, recorder=recorder,
                        on_tick=(lambda: progress(sink.snapshot())) if progress else None, **fetch_options)
        )
    except DownloadError as exc:
        _add_fetch_figures(summary, getattr(exc, "stats", None))
        raise
    finally:
        sys.setswitchinterval(switch_interval)
        sink.close()
    _add_fetch_figures(summary, stats)
    summary.tiles_already_stored += already
    summary.interrupted = summary.interrupted or stats.stopped


def _add_fetch_figures(summary: PackageSummary, stats: FetchStats | None) -> None:
    if stats is None:
        return
    summary.requests += stats.requests
    summary.premium_requests += stats.premium_requests
    summary.retries += stats.retries
    summary.rate_limited += stats.rate_limited
