"""fetch_tiles end to end against the OS Maps API emulator on loopback."""

from __future__ import annotations

import asyncio

import pytest

from ospack.errors import AuthError, DownloadError, PremiumError
from ospack.fetch import ApiEndpoints, Credentials, FetchSettings, RatePolicy, fetch_tiles
from ospack.layers import get_layer
from ospack.types import Tile

ROAD = get_layer("Road_27700")
UNPACED = RatePolicy.unpaced()


def fetch_sync(tiles, **options):
    return asyncio.run(fetch_tiles(tiles, **options))


# a block of land tiles around Snowdonia at zoom 9 (open) and 10 (premium)
Z9 = [Tile(9, x, y) for x in range(1060, 1068) for y in range(1900, 1906)]
Z10 = [Tile(10, x, y) for x in range(2120, 2124) for y in range(3800, 3802)]


def fetch(emulator, tiles, key="demo", secret=None, settings=None, **options):
    outcomes = {}
    options.setdefault("layer", ROAD)
    stats = fetch_sync(
        tiles,
        settings=settings,
        credentials=Credentials(key, secret),
        endpoints=ApiEndpoints.from_url(emulator.url),
        on_outcome=lambda o: outcomes.__setitem__(o.tile, o),
        **options,
    )
    return stats, outcomes


@pytest.fixture
def clean_tiles(emulator):
    stats, outcomes = fetch(emulator, Z9, settings=FetchSettings(rate=UNPACED))
    assert stats.tiles_ok == len(Z9)
    return {t: o.data for t, o in outcomes.items()}


def test_injected_faults_still_give_every_tile_byte_identical(make_emulator, clean_tiles):
    faults = {name: 0.06 for name in ("500", "503", "reset", "slow", "truncate", "corrupt", "html200", "burst429")}
    emulator = make_emulator(
        keys=("demo",),
        faults=faults,
        slow_seconds=1.0,
        retry_after=0.2,
        seed=7,
        burst_seconds=0.3,
        limit=60_000,
        window=1.0,
    )
    stats, outcomes = fetch(
        emulator, Z9, settings=FetchSettings(rate=UNPACED, timeout_s=0.5, max_retries=10, retry_backoff_s=0.01)
    )
    assert {t: o.data for t, o in outcomes.items()} == clean_tiles
    seen = emulator.stats()
    assert sum(seen["faults"].values()) > 5  # the faults did happen
    assert stats.retries > 0 and stats.tiles_failed == 0


@pytest.mark.parametrize(
    "enforce,rate,count",
    # spike arrest refuses any gap under 60/rate s, less its tolerance of the two processes' scheduling
    # noise on a busy machine; the client's own gaps are judged with no tolerance, on its clock (below)
    [("spike", 300, 15), ("sliding", 600, 30), ("fixed", 600, 30)],
)
def test_paced_fetch_sees_zero_429s(spawn_emulator, send_times, enforce, rate, count):
    emulator = spawn_emulator(
        *("--key", "demo", "--enforce", enforce, "--limit", str(rate), "--window", "2", "--spike-tolerance", "0.02")
    )
    tiles = Z9[:count]
    result = fetch_sync(
        tiles,
        layer=ROAD,
        credentials=Credentials("demo"),
        endpoints=emulator.url,
        settings=FetchSettings(rate=RatePolicy(rate, window_s=2.0)),
        transport=send_times,
    )
    assert result.tiles_ok == len(tiles)
    assert result.rate_limited == 0
    assert emulator.stats()["by_status"].get("429", 0) == 0
    assert len(send_times.times) == len(tiles)
    assert send_times.least_gap() >= 60 / rate
    assert send_times.most_in_any(2.0) <= rate * 2 / 60


def test_unpaced_fetch_against_a_limit_recovers_from_429s(make_emulator, clean_tiles):
    emulator = make_emulator(keys=("demo",), enforce="sliding", limit=1200, window=1.0)
    stats, outcomes = fetch(emulator, Z9, settings=FetchSettings(rate=UNPACED, workers=8))
    assert {t: o.data for t, o in outcomes.items()} == clean_tiles
    assert stats.rate_limited > 0 and stats.tiles_failed == 0


def test_oauth2_token_is_renewed_before_it_expires_mid_run(make_emulator):
    emulator = make_emulator(keys=("paid:premium",), secrets={"paid": "paid-secret"}, token_ttl=2.0)
    stats, _ = fetch(
        emulator, Z9[:40], key="paid", secret="paid-secret", settings=FetchSettings(rate=RatePolicy(1200), workers=4)
    )
    assert stats.tiles_ok == 40
    seen = emulator.stats()
    assert seen["tokens"] >= 2
    assert seen["by_status"].get("401", 0) == 0  # renewed before expiry, never refused


def test_oauth2_token_expired_in_flight_is_renewed_after_a_401(make_emulator):
    # a lifetime shorter than the wait for a rate slot: some requests carry a stale token
    emulator = make_emulator(keys=("paid:premium",), secrets={"paid": "paid-secret"}, token_ttl=1.0)
    # 40 tiles at 1200/min take ~2 s: the run outlives the first token whatever the start-up costs
    stats, _ = fetch(
        emulator, Z9[:40], key="paid", secret="paid-secret", settings=FetchSettings(rate=RatePolicy(1200), workers=8)
    )
    assert stats.tiles_ok == 40 and stats.tiles_failed == 0
    assert emulator.stats()["tokens"] >= 2


def test_bad_key_fails_fast_with_at_most_one_request_per_worker(emulator):
    with pytest.raises(AuthError) as caught:
        fetch(emulator, iter(Z9 * 50), key="not-a-key", settings=FetchSettings(rate=UNPACED, workers=4))
    assert emulator.stats()["requests"] <= 4
    assert "not-a-key" not in str(caught.value)


def test_a_plan_without_premium_is_said_once_and_the_open_zooms_are_fetched(emulator):
    outcomes = {}
    with pytest.raises(PremiumError, match="plan has no Premium access") as caught:
        fetch_sync(
            Z9[:6] + Z10,
            layer=ROAD,
            credentials=Credentials("demo"),
            endpoints=emulator.url,
            allow_premium=True,
            settings=FetchSettings(rate=UNPACED, workers=2),
            on_outcome=lambda o: outcomes.__setitem__(o.tile, o),
        )
    stats = caught.value.stats
    assert sorted(outcomes) == sorted(Z9[:6]) and stats.tiles_ok == 6
    assert stats.premium_requests <= 2 and 10 not in stats.zooms
    assert f"({len(Z10)} tiles)" in str(caught.value)


def test_a_bad_key_on_premium_zooms_is_a_bad_key_not_a_plan_without_premium(emulator):
    with pytest.raises(AuthError, match="refused the API key"):
        fetch(emulator, Z10, key="not-a-key", allow_premium=True, settings=FetchSettings(rate=UNPACED, workers=2))


def test_an_unreachable_api_fails_within_seconds_saying_so():
    import socket
    import time

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch_sync(Z9, layer=ROAD, credentials=Credentials("demo"), endpoints=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"cannot connect to 127.0.0.1:{port} (connection refused)")
    assert "timed out" not in message and "demo" not in message


def test_premium_key_gets_premium_zooms(emulator):
    stats, _ = fetch(emulator, Z10, key="paid", allow_premium=True, settings=FetchSettings(rate=UNPACED))
    assert stats.zooms[10].ok == len(Z10) and stats.premium_requests == len(Z10)


def test_wmts_tiles_equal_zxy_tiles(emulator, clean_tiles):
    stats, outcomes = fetch(emulator, Z9, settings=FetchSettings(rate=UNPACED, protocol="wmts"))
    assert {t: o.data for t, o in outcomes.items()} == clean_tiles
    assert stats.requests == len(Z9) + 1  # GetCapabilities, then one GetTile per tile


def test_the_key_never_leaks_through_the_real_transport(make_emulator, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    secret_key = "leakcheck0123456789"
    emulator = make_emulator(keys=(secret_key,), faults={"500": 0.3, "reset": 0.2, "html200": 0.2}, seed=3)
    stats, outcomes = fetch(
        emulator, Z9[:12], key=secret_key, settings=FetchSettings(rate=UNPACED, max_retries=1, retry_backoff_s=0.01)
    )
    assert stats.tiles_failed > 0  # some reasons were produced
    texts = [caplog.text, repr(stats)] + [repr(o) + str(o.reason) for o in outcomes.values()]
    assert not [t for t in texts if secret_key in t]
    with pytest.raises(AuthError) as caught:
        fetch(emulator, Z9[:4], key=secret_key + "x", settings=FetchSettings(rate=UNPACED))
    assert secret_key not in str(caught.value) + repr(caught.value) + caplog.text


def test_after_another_consumer_spends_the_budget_the_pace_is_back_within_a_window(make_emulator):
    """The issue's proof, on a 2 s window: a spell a third of the window long in which another
    consumer of the key takes its whole budget; a window after the spell the job is at >= 0.9 of
    its rate again, and while it waits the pool says it is paused, why and for how long."""
    import threading
    import time

    from ospack.fetch import Tally

    window, rate, spell = 2.0, 1200, 0.7  # 40 requests a window, 20 a second
    emulator = make_emulator(keys=("demo",), limit=rate, window=window)
    tiles = [Tile(9, x, y) for x in range(1040, 1053) for y in range(1890, 1900)]  # 130 tiles, ~6.5 s
    done: list[float] = []
    marks: dict[str, float] = {}
    recorder = Tally()
    pauses: list[tuple[float, str]] = []

    def on_outcome(outcome):
        assert outcome.kind == "ok"
        done.append(time.monotonic())
        if len(done) == 25:
            marks["spell"] = time.monotonic()
            emulator.spend(spell)

    def watch_pauses():
        while "end" not in marks:
            left, why = recorder.pause_status()
            if left > 0:
                pauses.append((left, why))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_pauses)
    watcher.start()
    try:
        stats = fetch_sync(
            tiles,
            layer=ROAD,
            credentials=Credentials("demo"),
            endpoints=emulator.url,
            settings=FetchSettings(rate=RatePolicy(rate, window_s=window), workers=4),
            on_outcome=on_outcome,
            tally=recorder,
        )
    finally:
        marks["end"] = time.monotonic()
        watcher.join()
    assert stats.tiles_ok == len(tiles) and stats.rate_limited > 0
    back = marks["spell"] + spell + window  # one window after the spell
    assert marks["end"] > back + 1.5, "the job must outlast the measurement"
    its_rate = 24 / (done[24] - done[0])  # tiles a second before the spell
    in_next = sum(back <= t < back + 1.5 for t in done)
    assert in_next / 1.5 >= 0.9 * its_rate, (in_next, its_rate, stats)
    assert pauses and all(0 < left <= window / 4 + 1e-6 for left, _ in pauses)
    assert all("429" in why and "allowance is spent" in why for _, why in pauses)
