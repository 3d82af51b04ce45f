"""``package_async()``: the engine that turns a :class:`~ospack.plan.Plan` into one output file.

One run opens one :class:`~ospack.fetch.FetchSession` — one HTTP client, one rate limiter, one
OAuth2 token — and fetches every layer of the plan through it, so the server sees one paced
stream, not a fresh burst per layer. :func:`ospack.package` is its synchronous wrapper.

A run is a :class:`RunContext` (the settings, the API, the session once a request is due) and
:func:`package_output` does one output's work inside it; :func:`package_async` is the run of one
output, and :func:`ospack.package_batch_async` runs many outputs through the same two.

Everything that refuses a job (the grid, Premium zooms, a missing key, a huge job, a file that
holds another job) runs before the first request; what a run stored is committed however it
ends (done, Ctrl-C, a refused key), and a file it created but filled with nothing is removed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .context import Context
from .errors import DownloadError, PremiumError, WriterError
from .fetch import ApiAccess, Credentials, FetchSession, FetchSettings
from .layers import Layer
from .plan import Plan
from .preflight import judge_before_opening, ready_to_fetch
from .sink import BatchingSink
from .summary import PackageSummary, Progress
from .types import Tile
from .writers import JobInfo, OutputOptions, TileWriter, open_writer, remove_package


async def package_async(
    plan: Plan,
    output: str | os.PathLike[str],
    settings: FetchSettings | None = None,
    *,
    api: ApiAccess | None = None,
    options: OutputOptions | None = None,
    allow_premium: bool = False,
    allow_huge: bool = False,
    progress: Callable[[Progress], None] | None = None,
    announce: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> PackageSummary:
    """Download every tile of ``plan`` into ``output``: the engine behind :func:`ospack.package`.

    Parameters are those of :func:`ospack.package` after the plan is made: ``plan`` from
    :func:`ospack.plan` (its layers on one grid), and ``settings`` how to fetch
    (default :class:`~ospack.fetch.FetchSettings`: the live OS rate, 8 workers).

    Returns
    -------
    PackageSummary
        Per zoom written / absent / failed, requests, retries, 429s, elapsed and achieved rate.
    """
    say = announce or (lambda message: None)
    for note in plan.area.notes:
        say(note)
    plan.one_grid()
    if not allow_premium:
        plan.refuse_premium()
    async with RunContext(settings, api) as run:
        return await package_output(
            run,
            plan,
            output,
            options=options or OutputOptions(),
            allow_premium=allow_premium,
            allow_huge=allow_huge,
            progress=progress,
            say=say,
            stop_event=stop_event,
        )


class RunContext:
    """What every output of one run shares: the settings, the API and, once a request is due, one session.

    The session (one HTTP client, one rate limiter, one token) opens when the first output has
    something to fetch and closes with the run, so a run whose outputs are all complete makes no
    request and needs no key, and the outputs of a batch are one paced stream to the server.
    """

    def __init__(self, settings: FetchSettings | None, api: ApiAccess | None) -> None:
        self.settings = settings or FetchSettings()
        self.api = api or ApiAccess()
        self.demo = self.api.demo
        self._stack = AsyncExitStack()
        self._session: FetchSession | None = None

    async def __aenter__(self) -> RunContext:
        if self.demo:
            self.api = _start_demo_emulator(self._stack, self.api)
        self.credentials = self.api.credentials()
        self.endpoints = self.api.endpoints()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def session(self, credentials: Credentials) -> FetchSession:
        """The run's one session, opened on first use with ``credentials`` (checked by the caller)."""
        if self._session is None:
            session = FetchSession(credentials, self.endpoints, self.settings, transport=self.api.transport)
            self._session = await self._stack.enter_async_context(session)
        return self._session


async def package_output(
    run: RunContext,
    plan: Plan,
    output: str | os.PathLike[str],
    *,
    options: OutputOptions,
    allow_premium: bool,
    allow_huge: bool,
    progress: Callable[[Progress], None] | None,
    say: Callable[[str], None],
    stop_event: threading.Event | None,
    before_fetch: Callable[[TileWriter, PackageSummary], None] | None = None,
) -> PackageSummary:
    """One output of a run: open or resume its file, check what it holds, fetch what is missing, confirm it.

    ``before_fetch`` (a batch's) may store tiles into the open writer before the fetch starts,
    so the fetch asks only for what is still missing after it.
    """
    started = time.monotonic()
    rate = run.settings.rate.per_minute
    credentials = run.credentials
    job = JobInfo.for_area(
        plan.area,
        layers=tuple(layer.name for layer in plan.layers),
        zooms=plan.all_zooms,
        source=run.endpoints.origin,  # a path may hide a secret
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        demo=run.demo,
        context_m=plan.context.radius_m,
    )
    judge_before_opening(
        output,
        job,
        plan.counts,
        overwrite=options.overwrite,
        credentials=credentials,
        rate_per_min=rate,
        allow_huge=allow_huge,
    )
    with ExitStack() as stack:
        # only a file that did not exist counts as this run's to remove: --overwrite on a shared
        # GeoPackage keeps the user's layers, so that file is never this run's alone
        created = not Path(output).exists()
        writer = stack.enter_context(open_writer(output, job, options))
        # the job the file records (every zoom it holds, its context), planned once for the check and the end
        job_plan = _job_plan(writer, plan)
        repairs = _check_stored(writer, job_plan)  # before `complete` is read: a repair clears it
        summary = PackageSummary(
            output=str(Path(output)),
            format=writer.format,
            layers=job.layers,
            demo=run.demo,
            tiles_planned=plan.tiles(),
            attribution=writer.job.attribution,  # the file's: the year its tiles were first fetched
        )
        for note in [*writer.notes, *repairs]:
            _note(summary, say, note)
        if writer.complete:
            summary.complete = summary.already_complete = True
            # the asked zooms only: the file may hold more than this run asks for
            for layer in plan.layers:
                summary.already_stored_by_layer[layer.name] = _held(writer, layer.name, plan.zooms(layer.name))
            summary.tiles_already_stored = sum(summary.already_stored_by_layer.values())
            _note(summary, say, f"{output} is already complete: no requests made")
            _note(summary, say, writer.compact())  # a reader may have kept the last run from compacting
            return _finish(summary, started)
        if before_fetch is not None:
            before_fetch(writer, summary)
        # judged again now the file is open: a repair above may have left a "complete" file to fetch
        held = sum(_held(writer, layer.name, plan.zooms(layer.name)) for layer in plan.layers)
        credentials = ready_to_fetch(credentials, plan.tiles() - held, rate, output, allow_huge)
        context = f", {plan.context_tiles()} for the map {plan.context} around the area" if plan.context_tiles() else ""
        say(f"{summary.tiles_planned} tiles planned, {plan.premium_tiles} of them at Premium zooms{context}")
        if writer.failure is not None:
            writer.record_failure(None)  # this run tries again; it records its own end
        try:
            premium_refused: PremiumError | None = None
            session = await run.session(credentials)
            with _switching_often(rate is not None):
                for layer in plan.layers:
                    try:
                        await _package_layer(
                            session,
                            layer,
                            plan,
                            writer,
                            summary,
                            allow_premium=allow_premium,
                            progress=progress,
                            stop_event=stop_event,
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
            _confirm_complete(writer, job_plan, output)
            marked = writer.mark_complete()
            summary.complete = True
            _note(summary, say, marked)
    return _finish(summary, started)


@contextmanager
def _switching_often(paced: bool) -> Iterator[None]:
    """While a paced fetch runs, let the interpreter switch threads every 0.5 ms; restored after.

    The commit thread holds the GIL for up to the switch interval (5 ms by default), which
    would delay request releases on the event loop by as much: a spike-arrest server reads
    a late request followed by a punctual one as a burst. Unpaced, it would only cost throughput.
    """
    interval = sys.getswitchinterval()
    if paced:
        sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


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


def _start_demo_emulator(stack: AsyncExitStack, api: ApiAccess) -> ApiAccess:
    """The embedded emulator, started for this run (and stopped with it), as the run's API."""
    from .emulator import Emulator, EmulatorConfig, KeySpec

    emulator = stack.enter_context(Emulator(EmulatorConfig(keys=(KeySpec("demo"),))))
    return ApiAccess(url=emulator.url, key="demo", transport=api.transport)


def _job_plan(writer: TileWriter, plan: Plan) -> Plan:
    """The plan of the job the file records: every zoom it holds, its context (a resume may have widened both)."""
    return plan.with_job(writer.job.zooms, Context(writer.job.context_m))


def _check_stored(writer: TileWriter, job_plan: Plan) -> list[str]:
    """Before fetching: delete damaged tiles and tiles outside the file's job, so the fetch stores them again."""
    return [note for layer in job_plan.layers for note in writer.check_stored(layer.name, job_plan.cover(layer).tiles)]


def _confirm_complete(writer: TileWriter, job_plan: Plan, output: object) -> None:
    """Refuse to mark ``output`` complete while its counts disagree with the job's cover (what verify checks)."""
    reasons = [
        reason for layer in job_plan.layers for reason in writer.unfinished(layer.name, job_plan.counts[layer.name])
    ]
    if reasons:
        raise WriterError(
            f"{output} is not marked complete: {'; '.join(reasons)}; rerun the same command (with every zoom "
            "the file holds) to fetch what is missing"
        )


def _missing(layer: Layer, plan: Plan, zooms: Iterable[int], writer: TileWriter) -> Iterator[Tile]:
    """The plan's cover minus what the file already holds (stored or known absent), streamed in cover order."""
    job_cover = plan.cover(layer)
    for z in zooms:
        width = layer.grid.pyramid_size(z)[0]
        held = _held_keys(writer, layer.name, z, width)
        i = 0
        for tile in job_cover.tiles(z):
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


def _to_fetch(writer: TileWriter, plan: Plan, layer: Layer) -> int:
    """Tiles of ``layer`` the plan asks for that the file does not hold yet."""
    return max(plan.tiles(layer.name) - _held(writer, layer.name, plan.zooms_with_tiles(layer.name)), 0)


async def _package_layer(
    session: FetchSession,
    layer: Layer,
    plan: Plan,
    writer: TileWriter,
    summary: PackageSummary,
    *,
    allow_premium: bool,
    progress: Callable[[Progress], None] | None,
    stop_event: threading.Event | None,
) -> None:
    zooms = plan.zooms_with_tiles(layer.name)
    # tiles a batch copied in just before are this run's work, counted as written, not as already there
    already = _held(writer, layer.name, zooms) - summary.copied_by_layer.get(layer.name, 0)
    number = plan.layers.index(layer) + 1
    later = sum(_to_fetch(writer, plan, other) for other in plan.layers[number:])  # for the run's overall line
    sink = BatchingSink(
        writer,
        layer,
        summary,
        _to_fetch(writer, plan, layer),
        progress,
        clock=session.clock,
        position=(number, len(plan.layers)),
        later=later,
    )
    try:
        # the fetch counts into the summary's tally itself, so its figures are there however it ends
        stats = await session.fetch(
            _missing(layer, plan, zooms, writer),
            layer=layer,
            allow_premium=allow_premium,
            stop_event=stop_event,
            on_outcome=sink,
            tally=summary.tally,
            on_tick=(lambda: progress(sink.snapshot())) if progress else None,
        )
    finally:
        await asyncio.to_thread(sink.close)  # waits for the disk off the loop: other runs' requests go on
    summary.tiles_already_stored += already
    summary.already_stored_by_layer[layer.name] = already
    summary.interrupted = summary.interrupted or stats.stopped
