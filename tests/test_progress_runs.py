"""Progress as a real run reports it (package() and ``ospack package`` against the emulator):
the rate never above the pace from the first sample, failed tiles no progress, pauses and retries
said with their reason, several layers one run."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ospack import package
from ospack.cli import cli
from ospack.cli.progress import progress_line
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.summary_text import ABSENT_MEANS

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
LAYER = "Outdoor_27700"


def run(emulator, output, *, settings, layers=LAYER, zooms="0-8"):
    seen = []
    summary = package(
        SNOWDON,
        output,
        layers=layers,
        zooms=zooms,
        context=0,  # the area's own tiles
        settings=settings,
        progress=seen.append,
        api=ApiAccess(key="demo", url=emulator.url),
    )
    return summary, seen


def test_the_rate_is_never_above_the_pace_from_the_first_sample(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000)
    settings = FetchSettings(rate=RatePolicy(per_minute=1500))
    summary, seen = run(emulator, tmp_path / "paced.gpkg", settings=settings, zooms="0-9")  # 57 tiles, over 2 s
    assert summary.complete and len(seen) >= summary.tiles_written
    # the first tile came back within milliseconds of the first request: tiles / elapsed read 10,000+/min
    assert seen[0].rate_per_min == 0.0 and seen[0].eta_s is None
    assert max(s.rate_per_min for s in seen) <= 1500
    assert seen[-1].rate_per_min > 1000


def test_a_run_whose_tiles_all_fail_shows_no_rate(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000, faults={"503": 1.0})
    settings = FetchSettings(rate=RatePolicy.unpaced(), max_retries=0)
    summary, seen = run(emulator, tmp_path / "refused.gpkg", settings=settings)
    assert summary.tiles_failed == summary.tiles_planned and summary.tiles_written == 0
    assert all(s.rate_per_min == 0.0 for s in seen)  # it once read millions of tiles per minute
    assert all(s.eta_s is None for s in seen if s.done < s.total)


def test_a_retry_back_off_is_reported_while_no_tile_arrives(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000, faults={"503": 1.0})
    settings = FetchSettings(rate=RatePolicy.unpaced(), max_retries=1, retry_backoff_s=2.4)  # waits 1.2-2.4 s
    summary, seen = run(emulator, tmp_path / "retrying.gpkg", settings=settings, zooms="0-1")
    waiting = [s for s in seen if s.retrying]
    assert waiting, "a tick must say the tiles wait for their retry"
    assert all(s.retry_reason == "HTTP 503" and 0 < s.retry_s <= 2.4 for s in waiting)
    assert all(s.eta_s is None or s.eta_s >= s.retry_s for s in waiting)
    assert summary.tiles_failed == 2 and not seen[-1].retrying


def test_several_layers_report_the_whole_run(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000)
    layers = [LAYER, "Road_27700"]
    settings = FetchSettings(rate=RatePolicy.unpaced())
    summary, seen = run(emulator, tmp_path / "two.gpkg", settings=settings, layers=layers, zooms="0-7")
    total = summary.tiles_planned
    assert {(s.layer, s.layer_number, s.layer_count) for s in seen} == {(LAYER, 1, 2), ("Road_27700", 2, 2)}
    assert all(s.run_total == total for s in seen)
    assert seen[-1].run_done == total and seen[-1].done == seen[-1].total == total // 2
    per_layer = summary.to_dict()["per_layer"]
    assert {name: d["tiles_written"] for name, d in per_layer.items()} == {LAYER: total // 2, "Road_27700": total // 2}
    text = summary.to_text()
    assert f"  {LAYER}   all       {total // 2:>2}       0       0" in text.splitlines()


def test_the_cli_off_a_terminal_prints_lines_and_explains_absent(runner, make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000)
    output = tmp_path / "cli.gpkg"
    args = [
        "package",
        str(SNOWDON),
        "-o",
        str(output),
        "--layer",
        LAYER,
        "--zoom",
        "0-9",
        "--context",
        "0",
        "--api-url",
        emulator.url,
    ]
    result = runner.invoke(cli, [*args, "--rate", "100000"], env={"OS_API_KEY": "demo"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{LAYER}:")]
    assert lines[0] == f"{LAYER}: 1/57 tiles  rate --  ETA --"  # a fast run: the first line and the last
    assert lines[-1].startswith(f"{LAYER}: 57/57 tiles  ") and "ETA 0m00s" in lines[-1] and "\r" not in result.stderr
    assert "1 retries" not in result.stdout and ABSENT_MEANS not in result.stdout  # no tile was absent
    help_text = runner.invoke(cli, ["package", "--help"]).output
    assert "absent, the tiles the API has no data for" in " ".join(help_text.split())
    summary = json.loads(runner.invoke(cli, [*args, "--json"], env={"OS_API_KEY": "demo"}).stdout)
    assert summary["already_complete"] and summary["per_layer"][LAYER]["tiles_already_stored"] == 57


def test_a_pause_is_said_with_its_reason_and_counted_in_the_eta(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000, window=1.0, retry_after=2.5)
    seen = []

    def progress(snapshot):
        seen.append(snapshot)
        if snapshot.done == 30 and not any(s.paused_s for s in seen):
            emulator.spend(0.5)  # another app spends the key's allowance: the next request gets a 429

    settings = FetchSettings(rate=RatePolicy(per_minute=1200), workers=2)
    summary = package(
        SNOWDON,
        tmp_path / "paused.gpkg",
        layers=LAYER,
        zooms="0-9",
        context=0,
        settings=settings,
        progress=progress,
        api=ApiAccess(key="demo", url=emulator.url),
    )
    assert summary.complete and summary.rate_limited >= 1
    paused = [s for s in seen if s.paused_s > 0 and s.rate_per_min > 0]
    assert len(paused) >= 2, "the fetch's ticks report the pause while no tile arrives"
    assert all(s.eta_s >= s.paused_s for s in paused)  # it once read 0m00s while the pool waited
    assert all(s.rate_per_min > 600 for s in paused)  # a pause is not the pace: the rate holds
    line = progress_line(paused[-1])
    assert f"paused {math.ceil(paused[-1].paused_s)} s: rate limited (HTTP 429), the API asked to wait" in line
