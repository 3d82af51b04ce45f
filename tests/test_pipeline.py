"""package() end to end against the emulator on loopback: the main job."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import httpx
import pytest
import rasterio
from PIL import Image
from pyproj import Transformer
from test_writers_support import query, tamper

from ospack import package
from ospack.area import read_area
from ospack.cover import count, cover
from ospack.emulator import render_tile
from ospack.errors import (
    AreaOutsideGridError,
    AuthError,
    DownloadError,
    IncompatibleOutputError,
    PremiumError,
    UsageError,
)
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import verify
from ospack.layers import get_layer
from ospack.writers import OutputOptions, read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
UNPACED = RatePolicy.unpaced()
SUMMIT_BNG = (260990.0, 354366.0)  # Yr Wyddfa summit, easting/northing
SUMMIT_MERCATOR = Transformer.from_crs("EPSG:27700", "EPSG:3857", always_xy=True).transform(*SUMMIT_BNG)


def run(emulator, output, layer="Outdoor_27700", zooms="0-9", *, key="demo", secret=None, transport=None, **options):
    options.setdefault("settings", FetchSettings(rate=UNPACED))
    options.setdefault("context", 0)  # the area's own tiles: tests/test_context_package.py has the context
    api = ApiAccess(url=emulator.url, key=key, secret=secret, transport=transport)
    return package(SNOWDON, output, layers=layer, zooms=zooms, api=api, **options)


def tile_from_emulator(emulator, layer, tile) -> bytes:
    url = f"{emulator.url}/maps/raster/v1/zxy/{layer}/{tile.z}/{tile.x}/{tile.y}.png"
    response = httpx.get(url, headers={"key": "demo"})
    response.raise_for_status()
    return response.content


def pixel_of_tile(png: bytes, col: int, row: int) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((col, row))


@pytest.mark.parametrize(
    "layer, zooms, suffix, point",
    [
        ("Outdoor_27700", "0-9", ".gpkg", SUMMIT_BNG),
        ("Road_3857", "7-13", ".gpkg", SUMMIT_MERCATOR),
        ("Light_3857", "7-13", ".mbtiles", SUMMIT_MERCATOR),
    ],
)
def test_package_opens_in_gdal_at_the_right_place(fast_emulator, tmp_path, layer, zooms, suffix, point):
    output = tmp_path / f"out{suffix}"
    summary = run(fast_emulator, output, layer=layer, zooms=zooms)
    lyr = get_layer(layer)
    area = read_area(SNOWDON)
    planned = count(area, lyr, range(int(zooms.split("-")[0]), int(zooms.split("-")[1]) + 1))
    assert summary.complete and summary.tiles_failed == 0
    assert {z: t.written + t.absent for z, t in summary.zooms.items()} == planned
    assert summary.requests == sum(planned.values())

    top = int(zooms.split("-")[1])
    tile = lyr.grid.tile_at(*point, top)
    left, _bottom, _right, top_y = lyr.grid.tile_bounds(tile)
    resolution = lyr.grid.resolutions[top]
    col, row = int((point[0] - left) / resolution), int((top_y - point[1]) / resolution)
    expected = pixel_of_tile(tile_from_emulator(fast_emulator, layer, tile), col, row)

    with rasterio.open(output) as dataset:
        assert dataset.crs.to_epsg() == lyr.grid.epsg
        assert dataset.res == pytest.approx((resolution, resolution))
        assert dataset.bounds.left <= point[0] <= dataset.bounds.right
        assert dataset.bounds.bottom <= point[1] <= dataset.bounds.top
        assert len(dataset.overviews(1)) >= 1  # lower zooms are overviews
        r, c = dataset.index(*point)
        got = tuple(int(dataset.read(band, window=((r, r + 1), (c, c + 1)))[0, 0]) for band in (1, 2, 3))
    assert got == expected
    assert verify(output).ok


def test_every_tile_is_byte_identical_to_a_clean_fetch_despite_faults(make_emulator, tmp_path):
    faults = {name: 0.05 for name in ("500", "503", "reset", "slow", "truncate", "corrupt", "html200", "burst429")}
    emulator = make_emulator(
        keys=("demo",),
        faults=faults,
        slow_seconds=1.0,
        retry_after=0.2,
        seed=11,
        burst_seconds=0.3,
        limit=60_000,
        window=1.0,
    )
    output = tmp_path / "faults.gpkg"
    # short back-offs: at a 40 % fault rate a tile with a streak of faults would otherwise wait out ~30 s
    settings = FetchSettings(rate=UNPACED, max_retries=12, retry_backoff_s=0.02)
    summary = run(emulator, output, zooms="6-9", settings=settings)
    assert summary.complete and summary.tiles_failed == 0
    assert summary.retries > 0 and sum(emulator.stats()["faults"].values()) > 0
    layer = get_layer("Outdoor_27700")
    stored = {
        (z, x, y): data
        for z, x, y, data in query(output, "SELECT zoom_level, tile_column, tile_row, tile_data FROM outdoor_27700")
    }
    expected = {tuple(t): render_tile(layer, t) for t in cover(read_area(SNOWDON), layer, range(6, 10))}
    assert stored == expected


@pytest.mark.parametrize("enforce, rate", [("sliding", 600), ("spike", 300)])
def test_paced_package_sees_zero_429s(spawn_emulator, send_times, tmp_path, enforce, rate):
    # a 2 s window: 20 requests a window at 600/min; 57 tiles span ~3 windows (~6 s at 600/min, ~12 s at 300)
    emulator = spawn_emulator(
        *("--key", "demo", "--enforce", enforce, "--limit", str(rate), "--window", "2"),
        # the server reads arrival times after two processes' scheduling on 2 shared cores, late by up to
        # ~20 ms when the machine is busy: spike arrest tolerates that much, and the client's own pacing
        # is judged exactly, on its own clock, by what it sent (below)
        *("--spike-tolerance", "0.02"),
    )
    # This pytest process holds every earlier test's objects; a full collection of them between a
    # release and its send would delay that one request: freeze them (a CLI run has no such heap).
    gc.collect()
    gc.freeze()
    try:
        settings = FetchSettings(rate=RatePolicy(rate, window_s=2.0))
        summary = run(emulator, tmp_path / "paced.gpkg", settings=settings, transport=send_times)
    finally:
        gc.unfreeze()
    assert summary.complete
    assert summary.rate_limited == 0
    assert emulator.stats()["by_status"].get("429", 0) == 0
    assert len(send_times.times) == summary.requests
    assert send_times.least_gap() >= 60 / rate  # what a strict spike arrest needs, with no tolerance at all
    assert send_times.most_in_any(2.0) <= rate * 2 / 60  # what a sliding window needs


def test_bad_key_stops_at_once_and_leaves_no_file_it_created(fast_emulator, tmp_path):
    output = tmp_path / "bad.gpkg"
    with pytest.raises(AuthError) as caught:
        run(fast_emulator, output, key="not-a-real-key", settings=FetchSettings(rate=UNPACED, workers=4))
    assert "not-a-real-key" not in str(caught.value)
    assert fast_emulator.stats()["requests"] <= 4
    assert list(tmp_path.iterdir()) == []  # nothing stored: no .gpkg, -wal or -shm left to look resumable


def test_a_refused_key_on_a_file_with_tiles_records_why_for_info_and_verify(fast_emulator, tmp_path):
    from ospack.inspect import info

    output = tmp_path / "kept.gpkg"
    run(fast_emulator, output, zooms="0-8")
    with pytest.raises(AuthError):
        run(fast_emulator, output, zooms="0-9", key="not-a-real-key")
    described = info(output)
    assert described.complete is False and "refused the API key" in (described.failure or "")
    problems = verify(output).problems
    assert any(p.startswith("incomplete: the last run stopped: the OS Maps API refused") for p in problems)
    assert not any("rerun the same package command to resume" in p for p in problems)
    assert "not-a-real-key" not in str(described) + str(problems)
    summary = run(fast_emulator, output, zooms="0-9")  # the right key: resumed, and the reason is gone
    assert summary.complete and info(output).failure is None


def test_an_unreachable_api_fails_fast_and_leaves_no_file(tmp_path):
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"cannot connect to 127.0.0.1:{port}"):
        package(
            SNOWDON,
            tmp_path / "x.gpkg",
            layers="Outdoor_27700",
            zooms="0-9",
            api=ApiAccess(key="demo", url=f"http://127.0.0.1:{port}"),
        )
    assert time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == []


def test_premium_zooms_are_refused_before_any_request(fast_emulator, tmp_path):
    with pytest.raises(PremiumError, match=r"zoom 10 of Outdoor_27700 is Premium.*--allow-premium"):
        run(fast_emulator, tmp_path / "p.gpkg", zooms="9-10")
    assert fast_emulator.stats()["requests"] == 0
    assert not (tmp_path / "p.gpkg").exists()


def test_a_plan_without_premium_stops_at_the_first_refusal_and_says_so_once(fast_emulator, tmp_path):
    from ospack.inspect import info

    output = tmp_path / "p.gpkg"
    with pytest.raises(PremiumError) as caught:
        run(fast_emulator, output, zooms="9-11", allow_premium=True)
    message = str(caught.value)
    assert "plan has no Premium access" in message and "Outdoor_27700" in message and "demo" not in message
    assert fast_emulator.stats()["by_status"]["401"] <= 8  # the requests in flight at the first refusal
    described = info(output)
    assert described.layers[0].zooms == {9: 34}  # the open zoom is stored
    assert described.failure == message


def test_premium_key_gets_premium_zooms_with_oauth2_renewed_mid_run(make_emulator, tmp_path):
    emulator = make_emulator(keys=("paid:premium",), secrets={"paid": "paid-secret"}, token_ttl=1.0, limit=100_000)
    summary = run(
        emulator,
        tmp_path / "p.gpkg",
        zooms="9-10",
        key="paid",
        secret="paid-secret",
        allow_premium=True,
        settings=FetchSettings(rate=RatePolicy(3000), workers=4),
    )
    assert summary.complete and summary.tiles_failed == 0
    # every premium tile was requested (a request retried after its token expired in flight counts twice)
    assert summary.premium_requests >= summary.zooms[10].written == 111
    assert emulator.stats()["tokens"] >= 2  # the run outlived its first token


def test_rerun_on_a_complete_file_makes_no_requests(fast_emulator, tmp_path):
    output = tmp_path / "done.gpkg"
    first = run(fast_emulator, output)
    fast_emulator.reset()
    again = run(fast_emulator, output)
    assert again.already_complete and again.complete
    assert again.requests == 0 and fast_emulator.stats()["requests"] == 0
    assert again.tiles_already_stored == first.tiles_written
    assert "no requests" in again.notes[-1]


def test_rerun_on_an_incomplete_file_fetches_only_what_is_missing(fast_emulator, tmp_path):
    output = tmp_path / "half.gpkg"
    layer = get_layer("Outdoor_27700")
    tiles = list(cover(read_area(SNOWDON), layer, range(0, 10)))
    first = run(fast_emulator, output)
    # lose a third of the tiles, as if a crash came first
    tamper(
        output,
        "DELETE FROM outdoor_27700 WHERE id % 3 = 0",
        "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
    )
    [(remaining,)] = query(output, "SELECT count(*) FROM outdoor_27700")
    fast_emulator.reset()
    summary = run(fast_emulator, output)
    assert summary.complete
    assert summary.requests == len(tiles) - remaining == fast_emulator.stats()["tiles"]
    assert summary.tiles_already_stored == remaining
    assert first.tiles_written == len(tiles)
    assert verify(output).ok


def test_more_zooms_on_a_complete_file_resume_it(fast_emulator, tmp_path):
    output = tmp_path / "grow.gpkg"
    run(fast_emulator, output, zooms="0-7")
    fast_emulator.reset()
    summary = run(fast_emulator, output, zooms="0-9")
    assert summary.complete
    assert fast_emulator.stats()["tiles"] == 10 + 34  # only zooms 8 and 9


def test_another_area_is_refused_unless_overwrite(fast_emulator, tmp_path):
    output = tmp_path / "site.gpkg"
    run(fast_emulator, output, zooms="5-7")
    other = "260000,354000,262000,356000"
    with pytest.raises(IncompatibleOutputError, match="--overwrite"):
        package(
            other,
            output,
            layers="Outdoor_27700",
            zooms="5-7",
            area_crs="EPSG:27700",
            settings=FetchSettings(rate=UNPACED),
            api=ApiAccess(url=fast_emulator.url, key="demo"),
        )
    summary = package(
        other,
        output,
        layers="Outdoor_27700",
        zooms="5-7",
        area_crs="EPSG:27700",
        settings=FetchSettings(rate=UNPACED),
        api=ApiAccess(url=fast_emulator.url, key="demo"),
        options=OutputOptions(overwrite=True),
    )
    assert summary.complete


def test_two_layers_on_one_grid_share_a_geopackage(fast_emulator, tmp_path):
    output = tmp_path / "two.gpkg"
    summary = run(fast_emulator, output, layer=["Outdoor_27700", "Road_27700"], zooms="7-8")
    assert summary.complete and summary.tiles_written == 2 * (5 + 10)
    assert read_job(output).layers == ("Outdoor_27700", "Road_27700")
    again = run(fast_emulator, output, layer=["Outdoor_27700", "Road_27700"], zooms="7-8").to_dict()
    assert again["already_complete"] and again["tiles_already_stored"] == 30
    assert {name: layer["tiles_already_stored"] for name, layer in again["per_layer"].items()} == {
        "Outdoor_27700": 15,
        "Road_27700": 15,
    }


def test_layers_on_two_grids_are_refused(fast_emulator, tmp_path):
    with pytest.raises(UsageError, match="different grids"):
        run(fast_emulator, tmp_path / "x.gpkg", layer=["Outdoor_27700", "Road_3857"], zooms="7")


def test_wmts_protocol_packages_the_same_tiles(fast_emulator, tmp_path):
    zxy, wmts = tmp_path / "zxy.gpkg", tmp_path / "wmts.gpkg"
    run(fast_emulator, zxy, zooms="7-9")
    run(fast_emulator, wmts, zooms="7-9", settings=FetchSettings(rate=UNPACED, protocol="wmts"))
    sql = "SELECT zoom_level, tile_column, tile_row, tile_data FROM outdoor_27700 ORDER BY 1, 2, 3"
    assert query(zxy, sql) == query(wmts, sql)


def test_missing_key_says_how_to_give_one(fast_emulator, tmp_path, monkeypatch):
    monkeypatch.delenv("OS_API_KEY", raising=False)
    with pytest.raises(UsageError, match=r"OS_API_KEY.*--demo"):
        run(fast_emulator, tmp_path / "k.gpkg", key=None)


def test_key_from_the_environment(fast_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("OS_API_KEY", "demo")
    assert run(fast_emulator, tmp_path / "env.gpkg", key=None, zooms="7").complete


def test_area_outside_the_layer_is_refused_before_any_request(fast_emulator, tmp_path):
    with pytest.raises(AreaOutsideGridError):
        package(
            "2.0,48.0,2.1,48.1",
            tmp_path / "paris.gpkg",
            layers="Road_3857",
            zooms="12",
            api=ApiAccess(url=fast_emulator.url, key="demo"),
        )
    assert fast_emulator.stats()["requests"] == 0


def test_demo_mode_records_that_the_tiles_are_not_os_data(tmp_path):
    summary = package(
        SNOWDON,
        tmp_path / "demo.gpkg",
        layers="Outdoor_27700",
        zooms="5-7",
        settings=FetchSettings(rate=UNPACED),
        api=ApiAccess(demo=True),
    )
    assert summary.complete and summary.demo
    job = read_job(tmp_path / "demo.gpkg")
    assert job.demo and job.source.startswith("http://127.0.0.1:")


def test_stop_event_interrupts_cleanly_and_keeps_what_was_fetched(make_emulator, tmp_path):
    import threading

    emulator = make_emulator(keys=("demo",), limit=100_000)
    stop = threading.Event()
    output = tmp_path / "stop.gpkg"

    def stop_after_ten(progress):
        if progress.done >= 10:
            stop.set()

    summary = run(
        emulator,
        output,
        settings=FetchSettings(rate=RatePolicy(1200), workers=2),
        progress=stop_after_ten,
        stop_event=stop,
    )
    assert summary.interrupted and not summary.complete
    kept = summary.tiles_written
    assert 10 <= kept < 57
    rerun = run(emulator, output)
    assert rerun.complete and rerun.tiles_written == 57 - kept


@pytest.mark.parametrize("signame, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_retry_backoff_ends_in_the_clean_summary(make_emulator, tmp_path, signame, code, ospack_run):
    import signal

    emulator = make_emulator(keys=("demo",), limit=100_000, faults={"503": 1.0})  # every tile backs off
    process = ospack_run.package(SNOWDON, tmp_path / "backoff.gpkg", emulator.url, "--rate", "100000", zooms="0-5")
    # two workers, back-off 0.5, 1, 2, 4 s (× jitter 0.5-1): after eight requests both sleep past the 2 s grace
    ospack_run.wait(process, lambda: emulator.stats()["requests"] >= 8)
    process.send_signal(getattr(signal, signame))
    out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "interrupted, rerun to resume" in out
    assert "Traceback" not in err and "CancelledError" not in err and "never retrieved" not in err


def test_a_signal_while_the_api_is_unreachable_ends_cleanly(tmp_path, ospack_run):
    import signal
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = ospack_run.package(SNOWDON, tmp_path / "gone.gpkg", f"http://127.0.0.1:{port}", zooms="0-5")
    first = process.stderr.readline()  # "… tiles planned": the signal handlers are in place
    time.sleep(0.3)  # inside the first rounds of waiting for the API
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    err = first + err
    assert process.returncode in (1, 130), err
    assert "Traceback" not in err and "CancelledError" not in err
    assert ("cannot connect to" in err) or ("interrupted" in out)


def test_progress_keeps_coming_while_paused_and_says_why(make_emulator, tmp_path):
    emulator = make_emulator(keys=("demo",), limit=100_000, window=1.0, retry_after=2.5)
    seen = []

    def progress(snapshot):
        seen.append(snapshot)
        if snapshot.done == 10 and not any(s.paused_s for s in seen):
            emulator.spend(0.5)

    summary = run(
        emulator,
        tmp_path / "paused.gpkg",
        zooms="0-9",
        settings=FetchSettings(rate=UNPACED, workers=2),
        progress=progress,
    )
    assert summary.complete and summary.rate_limited >= 1
    paused = [s for s in seen if s.paused_s > 0]
    assert paused, "a tick must report the pause while no tile arrives"
    assert all(0 < s.paused_s <= 2.5 and "asked to wait 2 s" in s.pause_reason for s in paused)
    assert not seen[-1].paused_s


def test_a_retry_after_beyond_the_cap_stops_cleanly_saying_when_to_rerun(make_emulator, tmp_path):
    from ospack.inspect import info

    emulator = make_emulator(keys=("demo",), limit=100_000, window=1.0, retry_after=3600)
    output = tmp_path / "later.gpkg"
    run(emulator, output, zooms="0-7")
    emulator.spend(5.0)
    with pytest.raises(DownloadError) as caught:
        run(emulator, output, zooms="0-9", settings=FetchSettings(rate=UNPACED, workers=2))
    message = str(caught.value)
    assert "asked to wait 60 min (Retry-After)" in message and "rerun the same command after" in message
    assert info(output).failure == message  # the file keeps its tiles and says why it stopped
    assert emulator.stats()["by_status"]["429"] <= 2  # the requests in flight: no silent hour, no hammering


def test_a_redirect_fails_at_once_and_leaves_no_file(tmp_path):
    requests = []

    def handler(request):
        requests.append(request)
        return httpx.Response(307, headers={"Location": "https://login.example.com/sso?key=demo&next=/maps"})

    with pytest.raises(DownloadError) as caught:
        package(
            SNOWDON,
            tmp_path / "moved.gpkg",
            layers="Outdoor_27700",
            zooms="0-9",
            settings=FetchSettings(rate=UNPACED, workers=2),
            api=ApiAccess(key="demo", url="http://127.0.0.1:9", transport=httpx.MockTransport(handler)),
        )
    message = str(caught.value)
    assert "HTTP 307, a redirect to https://login.example.com/sso;" in message and "key=" not in message
    assert len(requests) <= 2 and list(tmp_path.iterdir()) == []
