"""A batch of sites against an ``ospack emulator`` process: requests saved by shared tiles, and wall time.

A grid of adjacent squares near Yr Wyddfa (Snowdon), one site each, so neighbours share the
tiles along their edges. In one run of this script, against one emulator process enforcing a
sliding-window limit at the rate the client keeps:

0. a warm-up batch, so the emulator has rendered every tile before either measured run;
1. the batch: ``ospack.package_batch`` (one session, shared tiles fetched once), timed;
2. the same sites as separate runs: ``ospack.package`` once per site, one after the other, each
   a session of its own at the same rate; their wall times summed.

Prints, for both: requests the emulator served, 429s, wall time; the requests the batch saved
against the estimate's figure (``plan_batch``), and the ratio of the wall times.

    python benchmarks/batch.py [--columns 6] [--rows 4] [--side 1000] [--rate 3000] [--zooms 0-9]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

# benchmarks/ is sys.path[0] when run as a script: reuse the emulator process and its HTTP calls
from fetch import process
from package import emulator_call
from pyogrio.raw import write

from ospack import package, package_batch, plan_batch
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy

LAYER = "Outdoor_27700"
KEY = "demo"
CORNER = (256_000.0, 350_000.0)  # British National Grid metres, south-west of Yr Wyddfa


def sites_file(path: Path, columns: int, rows: int, side: float) -> Path:
    x0, y0 = CORNER
    boxes = [
        (f"site-{i}-{j}", shapely.box(x0 + i * side, y0 + j * side, x0 + (i + 1) * side, y0 + (j + 1) * side))
        for i in range(columns)
        for j in range(rows)
    ]
    geometries = np.array([shapely.to_wkb(g) for _, g in boxes], dtype=object)
    names = np.array([n for n, _ in boxes], dtype=object)
    write(str(path), geometries, [names], fields=["name"], geometry_type="Polygon", crs="EPSG:27700", layer="sites")
    return path


def served(url: str) -> tuple[int, int]:
    stats = emulator_call(url, "stats")
    return stats["by_status"].get("200", 0) + stats["by_status"].get("404", 0), stats["by_status"].get("429", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--side", type=float, default=1000.0, help="side of each square site, metres")
    parser.add_argument("--rate", type=int, default=3000, help="requests per minute: the client's and the emulator's")
    parser.add_argument("--window", type=float, default=10.0, help="the emulator's sliding window, seconds")
    parser.add_argument("--zooms", default="0-9")
    args = parser.parse_args()
    settings = FetchSettings(rate=RatePolicy(args.rate, window_s=args.window), workers=8)
    emulator = ["-m", "ospack", "emulator", "--key", KEY, "--limit", str(args.rate), "--window", str(args.window)]
    with tempfile.TemporaryDirectory() as folder, process(*emulator) as url:
        tmp = Path(folder)
        source = sites_file(tmp / "sites.gpkg", args.columns, args.rows, args.side)
        template = str(tmp / "batch" / "{name}.gpkg")
        batch = plan_batch(source, "name", template, LAYER, args.zooms)
        api = ApiAccess(url=url, key=KEY)
        # warm-up: the emulator renders a tile on its first request and caches it; without this the
        # run that went first would pay for every render and the other for none
        package_batch(source, "name", str(tmp / "warm" / "{name}.gpkg"), layers=LAYER, zooms=args.zooms,
                      settings=settings, api=api)  # fmt: skip
        emulator_call(url, "reset")

        started = time.monotonic()
        summary = package_batch(source, "name", template, layers=LAYER, zooms=args.zooms, settings=settings, api=api)
        batch_s = time.monotonic() - started
        batch_requests, batch_429 = served(url)
        emulator_call(url, "reset")

        (tmp / "separate").mkdir()
        separate_s = 0.0
        for site in batch.sites:
            started = time.monotonic()
            one = package(site.plan.area, tmp / "separate" / site.output.name, layers=LAYER, zooms=args.zooms,
                          settings=settings, api=api)  # fmt: skip
            separate_s += time.monotonic() - started
            assert one.complete, site.name
        separate_requests, separate_429 = served(url)

    totals = summary.totals()
    result = {
        "sites": len(batch.sites),
        "zooms": args.zooms,
        "rate_per_min": args.rate,
        "tiles_planned": batch.tiles(),
        "estimate_requests": batch.requests,
        "estimate_saved": batch.saved(),
        "batch_complete": summary.complete,
        "batch_requests": batch_requests,
        "batch_saved": totals["requests_saved"],
        "batch_429": batch_429,
        "batch_s": round(batch_s, 2),
        "separate_requests": separate_requests,
        "separate_429": separate_429,
        "separate_sum_s": round(separate_s, 2),
    }
    print(json.dumps(result, indent=2))
    print(
        f"\n{len(batch.sites)} sites, {batch.tiles():,} tiles planned: the batch made {batch_requests:,} requests"
        f" ({batch.tiles() - batch_requests:,} saved by shared tiles; the estimate said {batch.saved():,}),"
        f" separate runs {separate_requests:,}.\nWall time at {args.rate:,}/min: batch {batch_s:.1f} s,"
        f" separate runs {separate_s:.1f} s in sum ({batch_s / separate_s:.2f} ×); 429s: batch {batch_429},"
        f" separate {separate_429}."
    )


if __name__ == "__main__":
    main()
