"""``package_batch_async()``: every output of a :class:`~ospack.batch.BatchPlan` in one run.

One :class:`~ospack.engine.RunContext` serves the whole batch: one HTTP client, one rate
limiter and one token, so the sites are one paced stream to the server. The sites run one
after the other through :func:`~ospack.engine.package_output`, the same code a single output
runs through, so each one resumes exactly as a single output does.

A tile several sites need is fetched once: before a site fetches, the tiles of its cover that
an earlier site of the batch also covers are copied from that site's output (its donor, see
:class:`~ospack.batch.Donations`), which is closed and on disk by then. Nothing is held in memory
for later sites, and a rerun finds the shared tiles in the donors' files whether they were
fetched in this run or an earlier one. A tile a donor lacks (it failed there) is fetched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from .batch import BatchPlan, BatchSite
from .batch_summary import BatchSummary, SiteResult
from .clock import Clock, MonotonicClock
from .engine import RunContext, _held_keys, package_output
from .errors import AuthError, OspackError, WriterError
from .estimate import check_job_size
from .fetch import ApiAccess, FetchSettings, TileOutcome
from .fetch.outcome import OutcomeKind
from .summary import PackageSummary, Progress, RateMeter
from .types import Tile, TileRange
from .writers import OutputOptions, TileWriter, open_package
from .writers.state import absent_keys

#: tiles copied from a donor per write transaction
COPY_BATCH = 256


async def package_batch_async(
    batch: BatchPlan,
    settings: FetchSettings | None = None,
    *,
    api: ApiAccess | None = None,
    options: OutputOptions | None = None,
    allow_premium: bool = False,
    allow_huge: bool = False,
    progress: Callable[[Progress], None] | None = None,
    announce: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> BatchSummary:
    """Package every site of ``batch`` (from :func:`ospack.batch.plan_batch`) into its own output.

    The parameters are those of :func:`ospack.package_async`, for every output at once. A site
    that fails (its file cannot be written, the API cannot be reached) is reported and the others
    go on; a refused key stops the batch (:class:`~ospack.errors.AuthError`), as it would refuse
    every site. Premium zooms without ``allow_premium`` are refused for the whole batch before any
    request.
    """
    say = announce or (lambda message: None)
    started = time.monotonic()
    if not allow_premium:
        for site in batch.sites:
            site.plan.refuse_premium()
    _check_size(batch, settings or FetchSettings(), allow_huge)
    for bad in batch.skipped:
        say(f"skipped {bad}")
    results = [SiteResult(s.site.index, s.name, str(s.output)) for s in batch.sites]
    summary = BatchSummary(results, batch.skipped)
    tracker = BatchProgress(progress, batch) if progress else None
    async with RunContext(settings, api) as run:
        for position, site in enumerate(batch.sites):
            if summary.interrupted or (stop_event is not None and stop_event.is_set()):
                summary.interrupted = True
                break
            result = results[position]
            say(f"site {position + 1}/{len(batch.sites)} {site.name}: {site.output}")
            for note in site.plan.area.notes:
                say(note)
            if tracker:
                tracker.start(position, result)
            try:
                _make_folder(site.output)
                result.summary = await package_output(
                    run,
                    site.plan,
                    site.output,
                    options=options or OutputOptions(),
                    allow_premium=allow_premium,
                    allow_huge=allow_huge,
                    progress=tracker,
                    say=say,
                    stop_event=stop_event,
                    before_fetch=partial(_copy_shared, batch, position, result=result),
                )
            except AuthError:
                raise  # the run's key, refused: every site would be, so the batch stops as a single run does
            except OspackError as exc:
                result.error = str(exc)
                say(f"Error: site {site.name}: {exc}")
            if tracker:
                tracker.finish(result.summary)
            summary.interrupted = summary.interrupted or bool(result.summary and result.summary.interrupted)
    summary.elapsed_s = time.monotonic() - started
    return summary


def _check_size(batch: BatchPlan, settings: FetchSettings, allow_huge: bool) -> None:
    """Refuse a huge batch before its first request, as a huge single job is refused.

    Each site is judged again when it opens (by what its file still lacks); this judges the
    batch as a whole by the requests of the sites that have no output yet, which no rerun has
    begun: tens of sites each under the limits may together be days of fetching.
    """
    fresh = [i for i, site in enumerate(batch.sites) if not site.output.exists()]
    if fresh:
        requests = sum(batch.sites[i].plan.tiles() - batch.saved(i) for i in fresh)
        check_job_size(requests, settings.rate.per_minute, batch.sites[fresh[0]].output, allow_huge=allow_huge)


def _make_folder(output: Path) -> None:
    """Create the output's folder: a template such as ``out/{name}.gpkg`` names a folder for the batch."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriterError(
            f"cannot create the folder {output.parent} for {output.name}: {exc.strerror or exc}"
        ) from None


class BatchProgress:
    """Each site's progress as the batch's: which site, tiles in place over every site's plan, one rate.

    The rate is measured over the tiles the batch fetched (copies from another site are no
    requests), from the batch's first request: a site of a few tiles would never have a
    measure of its own, and a new site starts no new count.
    """

    def __init__(self, progress: Callable[[Progress], None], batch: BatchPlan, *, clock: Clock | None = None) -> None:
        self.progress, self.batch = progress, batch
        self.clock = clock or MonotonicClock()
        self.meter = RateMeter()
        self.first_request_at: float | None = None
        #: planned tiles of the sites before this one, and the tiles they fetched
        self.in_place_before = self.fetched_before = 0
        self.position = 0
        self.result: SiteResult | None = None

    def start(self, position: int, result: SiteResult) -> None:
        self.position, self.result = position, result

    def finish(self, summary: PackageSummary | None) -> None:
        self.in_place_before += self.batch.sites[self.position].plan.tiles()
        if summary is not None:
            self.fetched_before += summary.tiles_written + summary.tiles_absent - summary.tiles_copied

    def __call__(self, p: Progress) -> None:
        now, site = self.clock.now(), self.batch.sites[self.position]
        copied = self.result.shared if self.result else 0
        fetched = self.fetched_before + max(p.all_done - p.all_failed - copied, 0)
        if self.first_request_at is None and fetched > 0:
            self.first_request_at = now - p.elapsed_s  # the site's fetch began with its first request
        rate = self.meter.update(now, fetched, self.first_request_at, p.paused_s)
        # of this site: planned less what this run still fetches is in place already; add what it fetched
        in_place = self.in_place_before + max(site.plan.tiles() - p.all_total, 0) + p.all_done
        self.progress(
            replace(
                p,
                rate_per_min=rate,
                site=site.name,
                site_number=self.position + 1,
                site_count=len(self.batch.sites),
                batch_done=in_place,
                batch_total=self.batch.tiles(),
            )
        )


def _copy_shared(
    batch: BatchPlan, position: int, writer: TileWriter, summary: PackageSummary, result: SiteResult
) -> None:
    """Store into ``writer`` the tiles this site shares with earlier sites, from their outputs; count them.

    Each tile comes from the first site that covers it; one that site lacks (it failed) from
    any later of the earlier sites that covers it too (it fetched the tile itself, or copied it).
    """
    site = batch.sites[position]
    for (layer_name, z), donations in batch.shared[position].items():
        width = site.plan.grid.pyramid_size(z)[0]
        need = ~np.isin(donations.keys, _held_keys(writer, layer_name, z, width))
        copied: list[tuple[Tile, OutcomeKind]] = []
        for donor in np.unique(donations.donors[need]):
            keys = donations.keys[need & (donations.donors == donor)]
            copied += _copy_from(batch.sites[int(donor)], layer_name, z, width, keys, writer)
        still = np.setdiff1d(donations.keys[need], np.array([t.y * width + t.x for t, _ in copied], dtype=np.int64))
        for other in range(position - 1, -1, -1):
            covered = batch.shared[other].get((layer_name, z))
            if not len(still) or covered is None:
                continue
            keys = still[np.isin(still, covered.keys)]
            if len(keys):
                more = _copy_from(batch.sites[other], layer_name, z, width, keys, writer)
                still = np.setdiff1d(still, np.array([t.y * width + t.x for t, _ in more], dtype=np.int64))
                copied += more
        for tile, kind in copied:
            summary.tally.record(TileOutcome(tile, kind), layer_name)
        summary.copied_by_layer[layer_name] = summary.copied_by_layer.get(layer_name, 0) + len(copied)
    result.shared = summary.tiles_copied


def _copy_from(
    donor: BatchSite, layer: str, z: int, width: int, keys: np.ndarray, writer: TileWriter
) -> list[tuple[Tile, OutcomeKind]]:
    """Copy the tiles at ``keys`` that ``donor``'s output holds (stored or absent) into ``writer``."""
    if not donor.output.is_file():
        return []
    wanted = set(keys.tolist())
    rows, cols = keys // width, keys % width
    window = TileRange(int(cols.min()), int(cols.max()), int(rows.min()), int(rows.max()))
    copied: list[tuple[Tile, OutcomeKind]] = []
    try:
        with open_package(donor.output) as package:
            job = package.job
            if job is None or layer not in job.layers:
                return []
            chunk: list[tuple[Tile, bytes]] = []
            for tile, data in package.tile_images(package.table_of(layer), z, window):
                if tile.y * width + tile.x in wanted:
                    chunk.append((tile, data))
                if len(chunk) >= COPY_BATCH:
                    copied += _store(writer, layer, chunk)
                    chunk = []
            copied += _store(writer, layer, chunk)
            absent = [
                Tile(z, col, row) for row, col in absent_keys(package.conn, layer, z) if row * width + col in wanted
            ]
    except WriterError:
        return copied  # a donor that cannot be read donates nothing more: this site fetches the rest
    if absent:
        writer.record_absent(layer, absent)
    return copied + [(tile, "absent") for tile in absent]


def _store(writer: TileWriter, layer: str, tiles: list[tuple[Tile, bytes]]) -> list[tuple[Tile, OutcomeKind]]:
    if tiles:
        writer.write(layer, tiles)
    return [(tile, "ok") for tile, _ in tiles]
