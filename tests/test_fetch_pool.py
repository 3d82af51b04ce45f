"""The worker pool against httpx.MockTransport: classification, fail-fast, premium, stop, streaming."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import threading
from collections import Counter

import httpx
import pytest
from PIL import Image

from ospack.errors import AuthError, DownloadError, PremiumError, UsageError
from ospack.fetch import ApiEndpoints, Credentials, FetchSettings, RatePolicy, fetch_tiles
from ospack.layers import get_layer
from ospack.testing import FakeClock
from ospack.types import Tile

KEY = "SeCrEtKeY-0123456789abcdef"
ROOT = "https://api.test"  # plain http is refused for hosts other than loopback
LAYER = get_layer("Road_27700")  # premium from zoom 10
UNPACED = RatePolicy.unpaced()


def png(tile: Tile, size: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (tile.z * 10, tile.x % 256, tile.y % 256)).save(out, "PNG")
    return out.getvalue()


def tile_of(request: httpx.Request) -> Tile:
    z, x, y = request.url.path.removesuffix(".png").split("/")[-3:]
    return Tile(int(z), int(x), int(y))


def run(handler, tiles, **options):
    """fetch_tiles with a mock transport and a fake clock; returns (stats, outcomes)."""
    outcomes = []
    options.setdefault("credentials", Credentials(KEY))
    options.setdefault("layer", LAYER)
    stats = asyncio.run(
        fetch_tiles(
            tiles,
            endpoints=ApiEndpoints.from_url(ROOT),
            transport=httpx.MockTransport(handler),
            clock=FakeClock(),
            on_outcome=outcomes.append,
            **options,
        )
    )
    return stats, {o.tile: o for o in outcomes}


def tiles_at(z: int, n: int) -> list[Tile]:
    return [Tile(z, x, 100) for x in range(300, 300 + n)]


def test_clean_fetch_returns_every_tile_with_the_key_in_the_header_only():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=png(tile_of(request)), headers={"Content-Type": "image/png"})

    tiles = tiles_at(7, 20)
    stats, outcomes = run(handler, tiles)
    assert {t: o.data for t, o in outcomes.items()} == {t: png(t) for t in tiles}
    assert all(o.kind == "ok" and o.attempts == 1 for o in outcomes.values())
    assert stats.requests == 20 and stats.retries == 0 and stats.tiles_ok == 20
    assert stats.zooms[7].ok == 20
    for request in seen:
        assert request.headers["key"] == KEY
        assert KEY not in str(request.url)
        assert request.url.path.startswith("/maps/raster/v1/zxy/Road_27700/7/")


FAULTS = {
    "500": lambda t: httpx.Response(500, text="oops"),
    "503": lambda t: httpx.Response(503),
    "html200": lambda t: httpx.Response(200, html="<!DOCTYPE html><html>maintenance</html>"),
    "json200": lambda t: httpx.Response(200, json={"fault": {"faultstring": "x"}}),
    "truncate": lambda t: httpx.Response(200, content=png(t)[:-40], headers={"Content-Length": str(len(png(t)))}),
    "corrupt": lambda t: httpx.Response(200, content=png(t)[:60] + b"\x00" * 8 + png(t)[68:]),
    "wrong-size": lambda t: httpx.Response(200, content=png(t, 512)),
}


def raise_(exc):
    raise exc


FAULTS["timeout"] = lambda t: raise_(httpx.ReadTimeout("slow"))
FAULTS["reset"] = lambda t: raise_(httpx.ReadError("connection reset by peer"))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_transient_faults_are_retried_until_the_tile_is_whole(fault):
    tries = Counter()

    def handler(request):
        tile = tile_of(request)
        tries[tile] += 1
        if tries[tile] <= 2:
            return FAULTS[fault](tile)
        return httpx.Response(200, content=png(tile))

    tiles = tiles_at(8, 6)
    stats, outcomes = run(handler, tiles, settings=FetchSettings(max_retries=4))
    assert all(outcomes[t].kind == "ok" and outcomes[t].data == png(t) for t in tiles)
    assert all(outcomes[t].attempts == 3 for t in tiles)
    assert stats.retries == 12 and stats.requests == 18


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_persistent_faults_fail_the_tile_and_never_return_data(fault):
    def handler(request):
        return FAULTS[fault](tile_of(request))

    stats, outcomes = run(handler, tiles_at(8, 3), settings=FetchSettings(max_retries=2))
    assert all(o.kind == "failed" and o.data is None and o.attempts == 3 for o in outcomes.values())
    assert all("after 3 attempts" in o.reason for o in outcomes.values())
    assert stats.tiles_failed == 3 and stats.requests == 9 and stats.zooms[8].failed == 3


def test_html_body_reason_says_what_came_back():
    _, outcomes = run(
        FAULTS["html200"] and (lambda r: FAULTS["html200"](None)), tiles_at(8, 1), settings=FetchSettings(max_retries=0)
    )
    assert "HTML" in next(iter(outcomes.values())).reason


@pytest.mark.parametrize("status", [400, 404])
def test_outside_coverage_is_absent_and_not_retried(status):
    stats, outcomes = run(lambda r: httpx.Response(status), tiles_at(9, 4))
    assert all(o.kind == "absent" and o.attempts == 1 for o in outcomes.values())
    assert stats.requests == 4 and stats.tiles_absent == 4 and stats.retries == 0


def test_429_pauses_the_pool_and_the_tile_is_never_lost():
    served = Counter()

    def handler(request):
        served["n"] += 1
        if served["n"] in (5, 6, 7, 30):
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200, content=png(tile_of(request)))

    tiles = tiles_at(7, 40)
    stats, outcomes = run(handler, tiles, settings=FetchSettings(max_retries=0))  # 429s do not use up retries
    assert all(outcomes[t].kind == "ok" for t in tiles)
    assert stats.rate_limited == 4 and stats.requests == 44 and stats.tiles_ok == 40


def test_bad_key_stops_at_once_without_a_retry_storm():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(401, json={"fault": {"faultstring": "Invalid ApiKey"}})

    tiles = (Tile(7, x, 5) for x in range(10_000))
    with pytest.raises(AuthError) as caught:
        run(handler, tiles, settings=FetchSettings(workers=4))
    assert len(calls) <= 4
    message = str(caught.value)
    assert "refused the API key" in message and "--key" in message and KEY not in message
    assert caught.value.stats.requests == len(calls)


def test_premium_zooms_are_never_requested_without_allow_premium():
    calls = []

    def handler(request):
        calls.append(tile_of(request))
        return httpx.Response(200, content=png(tile_of(request)))

    tiles = tiles_at(9, 3) + tiles_at(10, 3) + tiles_at(11, 2)
    stats, outcomes = run(handler, tiles)
    assert {t.z for t in calls} == {9}
    premium = [outcomes[t] for t in tiles if t.z >= 10]
    assert all(o.kind == "failed" and "--allow-premium" in o.reason for o in premium)
    assert "zooms 10-13" in premium[0].reason
    assert stats.premium_requests == 0 and stats.zooms[10].failed == 3 and stats.zooms[9].ok == 3


@pytest.mark.parametrize("status", [401, 403])
def test_a_plan_without_premium_stops_every_premium_zoom_at_the_first_refusal(status):
    calls = Counter()
    outcomes = []

    def handler(request):
        tile = tile_of(request)
        calls[tile.z] += 1
        if tile.z >= 10:
            return httpx.Response(status)
        return httpx.Response(200, content=png(tile))

    tiles = [t for x in range(30) for t in (Tile(9, x, 1), Tile(10, x, 1), Tile(11, x, 1))]
    with pytest.raises(PremiumError) as caught:
        asyncio.run(
            fetch_tiles(
                tiles,
                layer=LAYER,
                credentials=Credentials(KEY),
                endpoints=ROOT,
                allow_premium=True,
                settings=FetchSettings(workers=2),
                transport=httpx.MockTransport(handler),
                clock=FakeClock(),
                on_outcome=outcomes.append,
            )
        )
    assert calls[10] + calls[11] <= 2  # at most the requests in flight when the first refusal came back
    assert sorted(o.tile for o in outcomes) == [t for t in sorted(tiles) if t.z == 9]  # open tiles go on
    assert all(o.kind == "ok" for o in outcomes)  # no line per refused tile
    message = str(caught.value)
    assert "plan has no Premium access" in message and f"HTTP {status}" in message and "10-13" in message
    assert "60 tiles" in message and KEY not in message
    assert caught.value.stats.tiles_ok == 30 and caught.value.stats.premium_requests == calls[10] + calls[11]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_fails_at_once_naming_where_it_pointed(status):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(status, headers={"Location": f"/moved/zxy/Road_27700/7/1/1.png?key={KEY}&x=1"})

    with pytest.raises(DownloadError) as caught:
        run(handler, (Tile(7, x, 5) for x in range(1000)), settings=FetchSettings(workers=4))
    message = str(caught.value)
    assert f"HTTP {status}" in message and "https://api.test/moved/zxy/Road_27700/7/1/1.png" in message
    assert KEY not in message and "?" not in message and "never" not in message
    assert len(calls) <= 4  # the requests in flight, none retried


def test_connection_refused_fails_within_a_few_rounds_and_says_where():
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    clock = FakeClock()
    with pytest.raises(DownloadError) as caught:
        asyncio.run(
            fetch_tiles(
                (Tile(7, x, 5) for x in range(10_000)),
                layer=LAYER,
                credentials=Credentials(KEY),
                endpoints=ROOT,
                transport=httpx.MockTransport(handler),
                clock=clock,
                settings=FetchSettings(workers=8),
            )
        )
    message = str(caught.value)
    assert message.startswith("cannot connect to api.test:443") and "timed out" not in message
    assert "could not be reached" in message and KEY not in message
    assert clock.now() < 5  # three rounds: 0.5 s, then 1 s of waiting
    assert len(calls) <= 3 * 8 and caught.value.stats.tiles_failed == 0


def test_a_server_that_goes_away_mid_run_stops_after_a_bounded_wait_and_loses_no_tile():
    served = []

    def handler(request):
        if len(served) >= 25:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        served.append(tile_of(request))
        return httpx.Response(200, content=png(tile_of(request)))

    clock = FakeClock()
    outcomes = []
    with pytest.raises(DownloadError) as caught:
        asyncio.run(
            fetch_tiles(
                (Tile(7, x, 5) for x in range(10_000)),
                layer=LAYER,
                credentials=Credentials(KEY),
                endpoints=ROOT,
                transport=httpx.MockTransport(handler),
                clock=clock,
                settings=FetchSettings(workers=8, rate=UNPACED),
                on_outcome=outcomes.append,
            )
        )
    assert "went away mid-run" in str(caught.value) and "5 attempts" in str(caught.value)
    assert 10 <= clock.now() <= 20  # 1 + 2 + 4 + 8 s of waiting
    assert [o.kind for o in outcomes] == ["ok"] * 25  # no tile reported failed for a missing server


def test_a_server_back_within_the_rounds_resumes_the_run():
    state = {"down": 0}

    def handler(request):
        if 10 <= state["down"] < 14:  # four refusals in a row, then it is back
            state["down"] += 1
            raise httpx.ConnectError("refused")
        state["down"] += 1
        return httpx.Response(200, content=png(tile_of(request)))

    stats, _outcomes = run(handler, tiles_at(7, 30), settings=FetchSettings(workers=1, rate=UNPACED))
    assert stats.tiles_ok == 30 and stats.tiles_failed == 0


def test_stop_event_stops_taking_tiles_and_returns_stats():
    stop = threading.Event()

    async def handler(request):
        if tile_of(request).x == 305:
            stop.set()
        await asyncio.sleep(0.01)
        return httpx.Response(200, content=png(tile_of(request)))

    stats, outcomes = run(
        handler, (Tile(7, x, 1) for x in range(300, 100_000)), settings=FetchSettings(workers=2), stop_event=stop
    )
    assert stats.stopped
    assert 5 < stats.tiles_ok < 100
    assert all(o.kind == "ok" for o in outcomes.values())


def test_tile_iterator_is_consumed_lazily():
    pulled = []
    in_flight_max = []

    def tiles():
        for x in range(500):
            pulled.append(x)
            yield Tile(7, x, 1)

    def handler(request):
        in_flight_max.append(len(pulled) - tile_of(request).x)
        return httpx.Response(200, content=png(Tile(7, 0, 0)))

    stats, _ = run(handler, tiles(), settings=FetchSettings(workers=4, rate=UNPACED))
    assert stats.tiles_ok == 500
    # the producer never runs ahead of the workers by more than the queue and the pool
    assert max(in_flight_max) <= 4 * 3 + 2


def test_the_key_never_leaks_into_logs_errors_or_reprs(caplog):
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(KEY, "sEcReT-987")

    def handler(request):
        if request.url.path.endswith("/oauth2/token/v1"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": "299"})
        if tile_of(request).x == 301:
            raise httpx.ConnectError(f"cannot reach {request.url}")
        return httpx.Response(401)

    with pytest.raises(AuthError) as caught:
        run(handler, tiles_at(7, 3), credentials=credentials, settings=FetchSettings(workers=1))
    texts = [
        caplog.text,
        str(caught.value),
        repr(caught.value),
        repr(credentials),
        repr(credentials.auth(ApiEndpoints())),
        repr(Credentials(KEY)),
    ]
    assert not [t for t in texts if KEY in t or "sEcReT-987" in t]


def test_a_fetch_of_its_own_and_option_checks():
    stats = asyncio.run(
        fetch_tiles(
            tiles_at(7, 2),
            layer="Road_27700",
            credentials=Credentials(KEY),
            endpoints=ROOT,
            transport=httpx.MockTransport(lambda r: httpx.Response(200, content=png(tile_of(r)))),
            clock=FakeClock(),
        )
    )
    assert stats.tiles_ok == 2 and stats.achieved_rate_per_min > 0
    with pytest.raises(UsageError, match="workers must be at least 1"):
        FetchSettings(workers=0)
    with pytest.raises(AuthError):
        Credentials(" ")


def test_stop_during_a_long_429_pause_returns_promptly():
    stop = threading.Event()

    def handler(request):
        threading.Timer(0.2, stop.set).start()
        return httpx.Response(429, headers={"Retry-After": "60"})

    async def main():
        return await fetch_tiles(
            tiles_at(7, 50),
            layer=LAYER,
            credentials=Credentials(KEY),
            endpoints=ROOT,
            transport=httpx.MockTransport(handler),
            stop_event=stop,
        )

    import time

    started = time.monotonic()
    stats = asyncio.run(main())  # real clock: the pause would last 60 s
    assert time.monotonic() - started < 5
    assert stats.stopped and stats.rate_limited >= 1 and stats.tiles_ok == 0


def test_an_outcome_callback_error_stops_the_pool_and_propagates():
    calls = Counter()

    def handler(request):
        calls["n"] += 1
        return httpx.Response(200, content=png(tile_of(request)))

    def explode(outcome):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(
            fetch_tiles(
                (Tile(7, x, 1) for x in range(10_000)),
                layer=LAYER,
                credentials=Credentials(KEY),
                endpoints=ROOT,
                transport=httpx.MockTransport(handler),
                clock=FakeClock(),
                on_outcome=explode,
                settings=FetchSettings(workers=4),
            )
        )
    assert calls["n"] <= 8


def test_a_spell_of_spent_budget_costs_no_more_than_the_spell_and_its_window():
    """The issue's case on a fake clock: 600/min over a 60 s sliding window; another consumer of
    the key takes the whole budget for 20 s mid-run. Within one window after the spell the job is
    back to >= 0.9 of its rate, and no pause ran past the window it spent."""
    from collections import deque

    clock = FakeClock()
    window, allowance = 60.0, 600
    accepted: deque[float] = deque()
    spell: dict[str, float] = {}
    done: list[float] = []
    body = png(Tile(7, 0, 0))

    def handler(request):
        now = clock.now()
        while accepted and accepted[0] <= now - window:
            accepted.popleft()
        if spell and spell["start"] <= now < spell["end"]:
            accepted.extend([now] * (allowance - len(accepted)))  # the other consumer takes what frees
        if len(accepted) >= allowance:
            return httpx.Response(429)
        accepted.append(now)
        return httpx.Response(200, content=body)

    def on_outcome(outcome):
        done.append(clock.now())
        if len(done) == 300:
            spell.update(start=clock.now(), end=clock.now() + 20.0)

    stats = asyncio.run(
        fetch_tiles(
            (Tile(7, x % 600, 1 + x // 600) for x in range(1800)),
            layer=LAYER,
            credentials=Credentials(KEY),
            endpoints=ROOT,
            transport=httpx.MockTransport(handler),
            clock=clock,
            settings=FetchSettings(workers=8),
            on_outcome=on_outcome,
        )
    )
    assert stats.tiles_ok == 1800 and stats.rate_limited > 0
    end = spell["end"]
    rate = 300 / (spell["start"] - done[0])  # tiles a second before the spell
    in_window = sum(end + window <= t < end + window + 30 for t in done)
    assert in_window >= 0.9 * rate * 30
    # the 429s stop paying off once the spent window has aged out: none lasted past it
    silent = max(b - a for a, b in itertools.pairwise(done))
    assert silent <= window + 1.0
    assert done[-1] - done[0] <= 1800 / rate + 20 + window + 5  # the spell and one window, no long ramp


def test_fetches_through_one_session_share_its_limiter_client_and_token_but_not_their_figures():
    from ospack.fetch import FetchSession

    sent = []

    def handler(request):
        if request.url.path.endswith("/oauth2/token/v1"):
            sent.append("token")
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        sent.append(clock.now())
        return httpx.Response(200, content=png(tile_of(request)))

    clock = FakeClock()
    settings = FetchSettings(rate=RatePolicy(60, warmup=0, margin=0.0), workers=2)  # one request a second

    async def two_layers():
        async with FetchSession(
            Credentials(KEY, "sEcReT"), ROOT, settings, transport=httpx.MockTransport(handler), clock=clock
        ) as session:
            first = await session.fetch(tiles_at(7, 5), layer=LAYER)
            second = await session.fetch(tiles_at(8, 5), layer="Outdoor_27700")
            return session, first, second

    session, first, second = asyncio.run(two_layers())
    assert sent.count("token") == 1  # one token for the whole session
    times = [t for t in sent if t != "token"]
    assert times == pytest.approx([float(i) for i in range(10)])  # the second fetch keeps the first's pace
    assert (first.requests, second.requests) == (5, 5) and first.zooms.keys() == {7} and second.zooms.keys() == {8}
    assert session.limiter.granted == 10
    with pytest.raises(RuntimeError, match="not open"):
        _ = session.client


def test_a_stopped_fetch_drops_only_its_own_waiting_requests():
    from ospack.fetch import FetchSession

    stop = threading.Event()
    clock = FakeClock()

    def handler(request):
        return httpx.Response(200, content=png(tile_of(request)))

    async def together():
        async with FetchSession(
            Credentials(KEY),
            ROOT,
            FetchSettings(rate=RatePolicy(600), workers=2),
            transport=httpx.MockTransport(handler),
            clock=clock,
        ) as session:
            stop.set()  # the first fetch is stopped before it starts; the second one is not
            return await asyncio.gather(
                session.fetch(tiles_at(7, 20), layer=LAYER, stop_event=stop),
                session.fetch(tiles_at(8, 20), layer=LAYER),
            )

    stopped, going = asyncio.run(together())
    assert stopped.stopped and stopped.tiles_ok < 20
    assert not going.stopped and going.tiles_ok == 20 and going.requests == 20


def test_one_tally_counts_each_outcome_once_and_a_summary_reads_it():
    from ospack.fetch import Tally, TileOutcome
    from ospack.summary import PackageSummary

    tally = Tally()
    outcomes = [
        TileOutcome(Tile(7, 1, 2), "ok", data=b"x"),
        TileOutcome(Tile(7, 2, 2), "absent"),
        TileOutcome(Tile(8, 3, 4), "failed", reason="HTTP 500 after 3 attempts"),
    ]
    for outcome in outcomes:
        tally.record(outcome, "Road_27700")
    assert (tally.tiles_ok, tally.tiles_absent, tally.tiles_failed, tally.outcomes) == (1, 1, 1, 3)
    assert tally.failures == ["Road_27700 8/3/4: HTTP 500 after 3 attempts"]
    frozen = tally.freeze(1.0, stopped=False)
    tally.record(outcomes[0], "Road_27700")
    assert frozen.zooms[7].ok == 1 and tally.zooms[7].ok == 2  # a frozen figure stays as it was
    summary = PackageSummary(output="o.gpkg", format="gpkg", layers=("Road_27700",), tally=tally)
    assert summary.tiles_written == 2 and summary.failures is tally.failures
    assert summary.to_dict()["zooms"] == {
        "7": {"written": 2, "absent": 1, "failed": 0},
        "8": {"written": 0, "absent": 0, "failed": 1},
    }


def test_a_download_error_declares_the_figures_it_carries():
    assert DownloadError.__annotations__["stats"] == "FetchStats | None" and DownloadError("x").stats is None
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(401)

    with pytest.raises(AuthError) as caught:
        run(handler, tiles_at(7, 3), settings=FetchSettings(workers=1))
    assert caught.value.stats is not None and caught.value.stats.requests == len(calls) == 1
