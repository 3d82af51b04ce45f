"""``package()``: the pipeline ``area → cover → fetch → write`` in one synchronous call.

The CLI's ``ospack package`` is a thin wrapper over it; it is also the Python API::

    import ospack
    summary = ospack.package("site.geojson", "site.gpkg", layers=["Outdoor_27700"], zooms="0-9")
    print(summary.to_dict())

It plans the job (:func:`ospack.plan`) and runs the engine (:func:`ospack.package_async`) to
the end, on this thread's own event loop — or, when called where a loop already runs (a
notebook, an async service), on a worker thread with a loop of its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .area import Area
from .batch import plan_batch
from .batch_run import package_batch_async
from .batch_summary import BatchSummary
from .context import DEFAULT_CONTEXT, Context
from .engine import package_async
from .fetch import ApiAccess, FetchSettings
from .layers import ZoomSpec
from .plan import plan
from .summary import PackageSummary, Progress
from .writers import OutputOptions

T = TypeVar("T")


def package(
    area: str | os.PathLike[str] | Area,
    output: str | os.PathLike[str],
    *,
    layers: str | Sequence[str],
    zooms: ZoomSpec,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
    settings: FetchSettings | None = None,
    api: ApiAccess | None = None,
    options: OutputOptions | None = None,
    allow_premium: bool = False,
    allow_huge: bool = False,
    progress: Callable[[Progress], None] | None = None,
    announce: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> PackageSummary:
    """Download every tile covering ``area`` at ``zooms`` for each layer into ``output``.

    Parameters
    ----------
    area, buffer_m, area_crs
        A path, WKT, bbox string or :class:`~ospack.area.Area` (see :func:`ospack.read_area`).
    context
        The regional context at the low zooms, as :func:`ospack.plan` takes it (default 25 km; 0: none).
    output
        The ``.gpkg`` or ``.mbtiles`` file to create or resume.
    layers, zooms
        OS layer name(s) on one grid, and zooms as ``7``, ``7-12``, ``7,9,11`` or a sequence.
    settings
        How to fetch: :class:`~ospack.fetch.FetchSettings` (rate policy, workers, retries,
        timeouts, protocol). Default: 600 requests a minute (a live project) with 8 workers;
        ``FetchSettings(rate=RatePolicy(50))`` for a project in development mode,
        ``RatePolicy.unpaced()`` for a self-hosted source.
    api
        Which API, as whom: :class:`~ospack.fetch.ApiAccess` (URL, key and secret, or
        ``ApiAccess(demo=True)`` for the embedded emulator). Default: ``https://api.os.uk``
        with the key in ``OS_API_KEY``. Only the URL's origin is recorded in the file.
    options
        The output's format, ``overwrite`` and MBTiles ``dedup``:
        :class:`~ospack.writers.OutputOptions` (default: format from the extension).
    allow_premium
        Premium zooms are refused before any request unless this is set.
    allow_huge
        Start a job of more than a million tiles, more than a day at the rate, or
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
    job = plan(area, layers, zooms, buffer_m=buffer_m, area_crs=area_crs, context=context)
    return run_to_end(
        package_async(
            job,
            output,
            settings,
            api=api,
            options=options,
            allow_premium=allow_premium,
            allow_huge=allow_huge,
            progress=progress,
            announce=announce,
            stop_event=stop_event,
        )
    )


def package_batch(
    source: str | os.PathLike[str],
    each: str,
    output: str,
    *,
    layers: str | Sequence[str],
    zooms: ZoomSpec,
    source_layer: str | None = None,
    buffer_m: float = 0.0,
    area_crs: str | None = None,
    context: Context | str | float = DEFAULT_CONTEXT,
    settings: FetchSettings | None = None,
    api: ApiAccess | None = None,
    options: OutputOptions | None = None,
    allow_premium: bool = False,
    allow_huge: bool = False,
    progress: Callable[[Progress], None] | None = None,
    announce: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> BatchSummary:
    """One output per feature of the vector file ``source``: ``{each}`` in ``output`` is the feature's ``each`` field.

    ``ospack package SOURCE --each FIELD -o 'out/{FIELD}.gpkg'`` in one blocking call: the sites are
    planned with :func:`ospack.batch.plan_batch` (``source_layer`` picks the layer of a file with
    several) and run by :func:`ospack.package_batch_async` through one session; the other parameters
    are :func:`package`'s. Features that cannot be a site are skipped and listed in the summary.
    """
    batch = plan_batch(
        source,
        each,
        output,
        layers,
        zooms,
        source_layer=source_layer,
        buffer_m=buffer_m,
        area_crs=area_crs,
        context=context,
    )
    return run_to_end(
        package_batch_async(
            batch,
            settings,
            api=api,
            options=options,
            allow_premium=allow_premium,
            allow_huge=allow_huge,
            progress=progress,
            announce=announce,
            stop_event=stop_event,
        )
    )


def run_to_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end and return its result, whether or not this thread runs an event loop.

    Without a running loop it gets one of its own here (so a signal handler of the main thread
    keeps working). Inside a running loop a second one cannot start on the same thread, so
    ``work`` runs on a worker thread with its own loop while this call waits, as a blocking
    call in async code does.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ospack-engine") as worker:
        return worker.submit(asyncio.run, work).result()
