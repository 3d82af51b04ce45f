"""The shared rate ledger across real ``ospack package`` processes, against an emulator process.

The emulator enforces the live 600/min as a sliding window of 2 s (20 requests a window), so
two runs with one key that each paced themselves at 600/min would draw 429s within a second.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = str(ROOT / "sample_areas" / "yr-wyddfa.geojson")
LIMIT = ("--limit", "600", "--window", "2")


def server_rate(times: list[float]) -> float:
    """Requests a minute between the first and the last of ``times``, as the emulator read them."""
    return (len(times) - 1) / (times[-1] - times[0]) * 60


def finished(process) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out)


def test_runs_with_one_key_share_the_budget_and_another_key_is_not_slowed(spawn_emulator, ospack_run, tmp_path):
    emulator = spawn_emulator("--key", "demo", "--key", "other", *LIMIT)
    runs = [
        ospack_run.package(SNOWDON, tmp_path / f"{name}.gpkg", emulator.url, "--json", key=key, zooms="0-8")
        for name, key in (("one", "demo"), ("two", "demo"), ("other", "other"))
    ]
    one, two, other = (finished(run) for run in runs)
    stats = emulator.stats()
    assert stats["by_status"].get("429", 0) == 0
    assert one["complete"] and two["complete"] and other["complete"]
    assert stats["by_key"]["demo"] == one["requests"] + two["requests"]
    # alone on its key, the other run keeps its own full rate while the pair shares theirs, as the
    # server saw them (each run's own figure also counts its start-up, which a busy machine stretches)
    assert server_rate(stats["arrivals"]["other"]) >= 0.85 * 600
    assert 0.85 * 600 <= server_rate(stats["arrivals"]["demo"]) <= 600
    assert one["achieved_rate_per_min"] + two["achieved_rate_per_min"] < 1.05 * 600


def test_a_run_killed_with_sigkill_holds_no_budget(spawn_emulator, ospack_run, tmp_path):
    emulator = spawn_emulator("--key", "demo", *LIMIT)
    killed = ospack_run.package(SNOWDON, tmp_path / "killed.gpkg", emulator.url, zooms="0-8")
    ospack_run.wait(killed, lambda: emulator.stats()["requests"] >= 10)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    started = time.monotonic()
    survivor = finished(ospack_run.package(SNOWDON, tmp_path / "after.gpkg", emulator.url, "--json", zooms="0-8"))
    assert survivor["complete"] and emulator.stats()["by_status"].get("429", 0) == 0
    # the whole budget at once: the killed run's bookings (two workers' next slots) passed in 0.2 s
    assert server_rate(emulator.stats()["arrivals"]["demo"][-survivor["requests"] :]) >= 0.85 * 600
    assert time.monotonic() - started < survivor["requests"] / 10 + 5
