"""Concurrent ``ospack package`` processes sharing one key: one budget for the machine (issue 11 §2).

An ``ospack emulator`` process enforces the live 600/min as a sliding window (2 s by default,
20 requests a window); N ``ospack package`` processes with the same key start at once, each
with the default --rate 600. Printed per N: the summed rate the emulator saw while all ran /
the limit (target >= 0.95) and its 429s (target 0); with --no-shared-budget, the same N for
contrast; and a run with another key alongside, which keeps its own full rate.

    python benchmarks/concurrent_runs.py [--tiles 150] [--window 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from fetch import process
from package import KEY, LAYER, ZOOM, emulator_call, rectangle

LIMIT = 600
OTHER = "other"


def watch(url: str, stop: threading.Event, seen: list[tuple[float, int]]) -> None:
    """Sample the emulator's count of the key's answered requests every 50 ms."""
    while not stop.is_set():
        stats = emulator_call(url, "stats")
        seen.append((time.monotonic(), stats["by_key"].get(KEY, 0)))
        time.sleep(0.05)


def summed_rate(seen: list[tuple[float, int]]) -> float:
    """Requests per minute from the key's first answered request to its last."""
    total = seen[-1][1]
    start = next(t for t, n in seen if n > 0)
    end = next(t for t, n in seen if n == total)
    return (total - 1) / (end - start) * 60 if end > start else 0.0


def case(runs: int, tiles: int, window: float, tmp: Path, *extra: str, other: bool = False) -> dict:
    emulator = ["-m", "ospack", "emulator", "--key", KEY, "--key", OTHER, "--limit", str(LIMIT)]
    bbox = rectangle(tiles)
    with process(*emulator, "--window", str(window)) as url:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
        keys = [KEY] * runs + ([OTHER] if other else [])
        seen: list[tuple[float, int]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(url, stop, seen))
        watcher.start()
        command = [sys.executable, "-m", "ospack", "package", bbox, "--area-crs", "EPSG:27700", "-l", LAYER]
        command += ["-z", str(ZOOM), "--api-url", url, "--json", "--overwrite", *extra]
        children = [
            subprocess.Popen(
                [*command, "-o", str(tmp / f"{runs}-{i}-{'-'.join(extra)}.gpkg")],
                stdout=subprocess.PIPE,
                env={**env, "OS_API_KEY": key},
                text=True,
            )
            for i, key in enumerate(keys)
        ]
        summaries = [json.loads(child.communicate()[0]) for child in children]
        stop.set()
        watcher.join()
        stats = emulator_call(url, "stats")
    rejected = sum(s["rate_limited"] for s in summaries[:runs])
    return {
        "runs": runs,
        "options": " ".join(extra) or "(shared budget)",
        "requests": sum(s["requests"] for s in summaries[:runs]),
        "summed_rate_over_limit": round(summed_rate(seen) / LIMIT, 4),
        "429_emulator": stats["by_status"].get("429", 0),
        "429_client": rejected,
        "other_key_rate_over_limit": round(summaries[-1]["achieved_rate_per_min"] / LIMIT, 4) if other else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=150, help="tiles per run (default 150)")
    parser.add_argument("--window", type=float, default=2.0, help="the emulator's sliding window in seconds")
    args = parser.parse_args()
    print(f"== {LIMIT}/min sliding window of {args.window:g} s; {args.tiles} tiles a run; targets >= 0.95, 0 x 429")
    met = True
    with tempfile.TemporaryDirectory() as tmp:
        for runs, extra, other in ((2, (), False), (3, (), True), (2, ("--no-shared-budget",), False)):
            result = case(runs, args.tiles, args.window, Path(tmp), *extra, other=other)
            print(json.dumps(result))
            if not extra:
                met &= result["summed_rate_over_limit"] >= 0.95 and result["429_emulator"] == 0
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
