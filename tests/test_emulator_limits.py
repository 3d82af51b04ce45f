"""Rate limiting (three styles, --limit/--window semantics) and seeded fault injection."""

from __future__ import annotations

import asyncio
import io
import socket

import httpx
import pytest
from PIL import Image

from ospack.emulator import Emulator, EmulatorConfig
from ospack.emulator.config import QuotaPolicy
from ospack.emulator.quota import Quota
from ospack.errors import EmulatorError
from ospack.testing import FakeClock

TILE = "/maps/raster/v1/zxy/Road_3857/7/63/42.png"


def _admitted(quota, policy, times, clock, key="k", api="maps"):
    results = []
    for t in times:
        clock.advance_to(t)
        results.append(quota.admit(key, api, policy))
    return results


def test_sliding_window_counts_the_last_window():
    clock = FakeClock()
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=60, window=6, enforce="sliding")  # 6 per 6 s
    assert policy.allowance == 6
    t0 = 1000.0
    assert _admitted(quota, policy, [t0 + i * 0.1 for i in range(7)], clock) == [True] * 6 + [False]
    assert _admitted(quota, policy, [t0 + 5.9], clock) == [False]
    assert _admitted(quota, policy, [t0 + 6.0, t0 + 6.05], clock) == [True, False]


def test_fixed_window_resets_on_calendar_boundaries():
    clock = FakeClock()
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=600, window=1, enforce="fixed")  # 10 per calendar second
    start = 2000.5
    assert _admitted(quota, policy, [start + i * 0.01 for i in range(11)], clock) == [True] * 10 + [False]
    # a burst straddling the boundary gets two allowances: the fixed window's known weakness
    assert _admitted(quota, policy, [2001.0 + i * 0.01 for i in range(10)], clock) == [True] * 10


def test_spike_arrest_spreads_the_allowance():
    clock = FakeClock()
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=600, window=60, enforce="spike")  # one per 100 ms
    assert _admitted(quota, policy, [10.0, 10.05, 10.1, 10.15, 10.2], clock) == [True, False, True, False, True]


def test_spike_arrest_reads_arrival_times_with_a_2ms_tolerance():
    clock = FakeClock()
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=600, window=60, enforce="spike")
    times = [10.0, 10.0975, 10.0985, 10.1970, 10.2975]  # 97.5 ms early-refused, then 98.5 ms and 98.5 ms allowed
    assert _admitted(quota, policy, times, clock) == [True, False, True, True, True]


def test_spike_arrest_tolerance_is_configurable_up_to_a_tenth_of_the_interval():
    clock = FakeClock()
    quota = Quota(clock)
    strict = QuotaPolicy(per_minute=600, window=60, enforce="spike", spike_tolerance=0.0)
    assert _admitted(quota, strict, [10.0, 10.0995, 10.2], clock) == [True, False, True]
    lenient = QuotaPolicy(per_minute=600, window=60, enforce="spike", spike_tolerance=0.5)  # capped at 10 ms
    assert _admitted(Quota(clock), lenient, [20.0, 20.0905, 20.1800, 20.2700], clock) == [True, True, False, True]
    config = EmulatorConfig(enforce="spike", spike_tolerance=0.02)
    assert config.quota_policy(config.keys[0]).spike_tolerance == 0.02


def test_limits_are_per_key_and_per_api():
    clock = FakeClock()
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=60, window=1, enforce="sliding")  # 1 per s
    assert quota.admit("a", "maps", policy) and quota.admit("b", "maps", policy)
    assert quota.admit("a", "oauth2", policy)
    assert not quota.admit("a", "maps", policy)


def test_the_quota_reads_the_clock_a_downloader_sleeps_on():
    clock = FakeClock(100.0)  # one Clock protocol: the quota reads now(), a paced client sleeps on it
    quota = Quota(clock)
    policy = QuotaPolicy(per_minute=600, window=60, enforce="spike")

    async def paced() -> list[bool]:
        results = []
        for _ in range(3):
            results += [quota.admit("k", "maps", policy), quota.admit("k", "maps", policy)]
            await clock.sleep(policy.interval)
        return results

    assert asyncio.run(paced()) == [True, False] * 3
    assert clock.now() == pytest.approx(100.3)


def test_window_keeps_the_rate():
    config = EmulatorConfig(keys=["live", "d:dev"], window=6)
    live, dev = (config.quota_policy(spec) for spec in config.keys)
    assert (live.allowance, dev.allowance) == (60, 5)
    assert EmulatorConfig(keys=["x"], limit=1200, window=3).quota_policy(config.keys[0]).allowance == 60
    with pytest.raises(EmulatorError, match="less than one request"):
        EmulatorConfig(keys=["d:dev"], window=1)


def test_dev_key_gets_429_without_retry_after_over_http():
    with Emulator(EmulatorConfig(keys=["d:dev"], window=6)) as emu, httpx.Client(base_url=emu.url) as c:
        statuses = [c.get(TILE, params={"key": "d"}).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        refused = c.get(TILE, params={"key": "d"})
        assert "Retry-After" not in refused.headers
        assert refused.json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.QuotaViolation"
        assert emu.stats()["by_status"] == {"200": 5, "429": 3}
        emu.reset()
        assert c.get(TILE, params={"key": "d"}).status_code == 200


def test_limit_window_and_retry_after_over_http():
    clock = FakeClock()
    with (
        Emulator(EmulatorConfig(limit=120, window=2, retry_after=1.5), clock=clock) as emu,
        httpx.Client(base_url=emu.url) as c,
    ):
        assert [c.get(TILE, params={"key": "demo"}).status_code for _ in range(5)] == [200] * 4 + [429]
        assert c.get(TILE, params={"key": "demo"}).headers["Retry-After"] == "1.5"
        clock.advance(2.0)
        assert c.get(TILE, params={"key": "demo"}).status_code == 200


def test_spike_enforcement_over_http():
    clock = FakeClock()
    with Emulator(EmulatorConfig(enforce="spike"), clock=clock) as emu, httpx.Client(base_url=emu.url) as c:
        first, second = (c.get(TILE, params={"key": "demo"}) for _ in range(2))
        assert (first.status_code, second.status_code) == (200, 429)
        assert second.json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.SpikeArrestViolation"
        clock.advance(0.1)
        assert c.get(TILE, params={"key": "demo"}).status_code == 200


def _statuses(url: str, n: int) -> list[str]:
    out = []
    with httpx.Client(base_url=url, timeout=5) as c:
        for _ in range(n):
            try:
                r = c.get(TILE, params={"key": "demo"})
            except httpx.HTTPError as exc:
                out.append(type(exc).__name__)
                continue
            kind = str(r.status_code)
            if r.status_code == 200:
                kind = r.headers["content-type"].split(";")[0]
                if kind == "image/png":
                    try:
                        Image.open(io.BytesIO(r.content)).load()
                    except Exception:
                        kind = "corrupt-png"
            out.append(kind)
    return out


class StepClock(FakeClock):
    """A clock a second later at every reading: each burst429 spell is over by the next request."""

    def __init__(self) -> None:
        super().__init__(1_000_000.0)

    def now(self) -> float:
        self.advance(1.0)
        return super().now()


def test_faults_are_seeded_and_reproducible():
    faults = {"500": 0.1, "503": 0.1, "corrupt": 0.1, "html200": 0.1, "burst429": 0.05}
    with Emulator(
        EmulatorConfig(faults=faults, seed=7, limit=1e6, window=1.0, burst_seconds=0.5), clock=StepClock()
    ) as emu:
        first = _statuses(emu.url, 80)
        emu.reset()
        again = _statuses(emu.url, 80)
        stats = emu.stats()
    assert first == again
    kinds = set(first)
    assert {"500", "503", "429", "text/html", "corrupt-png", "image/png"} <= kinds
    with Emulator(
        EmulatorConfig(faults=faults, seed=8, limit=1e6, window=1.0, burst_seconds=0.5), clock=StepClock()
    ) as emu:
        assert _statuses(emu.url, 80) != first
    assert sum(stats["faults"].values()) == sum(k != "image/png" for k in again)


def _status_at(emu, clock, t, key="demo"):
    clock.advance_to(t)
    return httpx.get(f"{emu.url}{TILE}", params={"key": key}, timeout=10).status_code


def test_spend_is_another_consumer_taking_the_whole_budget_for_a_spell():
    clock = FakeClock(1000.0)
    # 60/min in a 10 s window: 10 requests a window
    with Emulator(EmulatorConfig(keys=("demo", "other"), limit=60, window=10.0), clock=clock) as emu:
        assert _status_at(emu, clock, 1000.0) == 200
        emu.spend(4.0, key="demo")
        assert _status_at(emu, clock, 1000.5, key="other") == 200  # budgets are per key
        assert [_status_at(emu, clock, t) for t in (1001.0, 1003.0, 1003.9)] == [429] * 3
        # the spell is over, but what the other consumer took still fills the window
        assert _status_at(emu, clock, 1006.0) == 429
        assert _status_at(emu, clock, 1014.5) == 200  # a window after the spell it has all aged out
        assert emu.stats()["by_status"]["429"] == 4


def test_burst429_starts_a_spell_of_burst_seconds():
    clock = FakeClock(1000.0)
    with Emulator(
        EmulatorConfig(faults={"burst429": 1.0}, limit=600, window=1.0, burst_seconds=5.0), clock=clock
    ) as emu:
        statuses = [_status_at(emu, clock, 1000.0 + 0.5 * i) for i in range(10)]  # t = 1000 … 1004.5
        assert statuses == [429] * 10
        assert emu.stats()["faults"]["burst429"] == 1  # one spell, not one fault per request
        assert _status_at(emu, clock, 1006.5) == 429  # admitted, then the next spell starts
        assert emu.stats()["faults"]["burst429"] == 2
    with Emulator(
        EmulatorConfig(faults={"burst429": 0.5}, limit=600, window=1.0, burst_seconds=5.0), clock=clock
    ) as emu:
        clock.advance_to(2000.0)
        emu.spend(1.0)
        emu.reset()  # a reset ends the spell
        assert _status_at(emu, clock, 2000.0) in (200, 429)
        assert emu.stats()["by_status"].get("429", 0) == emu.stats()["faults"].get("burst429", 0)


def _raw_get(url: str) -> tuple[bytes, int, str]:
    """Send one request on a raw socket; return what arrived, the announced length and how it ended."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {TILE}?key=demo HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data, ending = b"", "eof"
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            ending = "reset"
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return body, length, ending


@pytest.mark.parametrize(("fault", "ending"), [("truncate", "eof"), ("reset", "reset")])
def test_truncated_and_reset_bodies_fall_short_of_content_length(fault, ending):
    with Emulator(EmulatorConfig(faults={fault: 1.0})) as emu:
        body, length, how = _raw_get(emu.url)
    assert len(body) < length
    assert how == ending


def test_slow_fault_delays_the_tile():
    with Emulator(EmulatorConfig(faults={"slow": 1.0}, slow_seconds=0.6)) as emu:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{emu.url}{TILE}", params={"key": "demo"}, timeout=0.3)
        response = httpx.get(f"{emu.url}{TILE}", params={"key": "demo"}, timeout=5)
        assert response.status_code == 200 and response.elapsed.total_seconds() >= 0.5


@pytest.mark.parametrize("faults", [{"teapot": 0.1}, {"500": 1.5}, {"500": 0.6, "503": 0.6}, {"503": "often"}])
def test_bad_fault_settings_are_refused(faults):
    with pytest.raises(EmulatorError):
        Emulator(EmulatorConfig(faults=faults))


def test_async_clients_can_share_the_server():
    async def fetch_many(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url) as c:
            responses = await asyncio.gather(*(c.get(TILE, params={"key": "demo"}) for _ in range(20)))
        return [r.status_code for r in responses]

    with Emulator(EmulatorConfig(limit=1e6)) as emu:
        assert asyncio.run(fetch_many(emu.url)) == [200] * 20
        assert emu.stats()["tiles"] == 20


def test_token_endpoint_has_its_own_allowance(make_emulator):
    emu = make_emulator(keys=["k:dev"], secrets={"k": "s"}, window=6)  # 5 per 6 s per API
    with httpx.Client(base_url=emu.url) as c:
        assert [c.get(TILE, params={"key": "k"}).status_code for _ in range(6)] == [200] * 5 + [429]
        grants = [
            c.post("/oauth2/token/v1", auth=("k", "s"), data={"grant_type": "client_credentials"}).status_code
            for _ in range(6)
        ]
        assert grants == [200] * 5 + [429]
        capabilities = c.get(
            "/maps/raster/v1/wmts", params={"key": "k", "service": "WMTS", "request": "GetCapabilities"}
        )
        assert capabilities.status_code == 429  # capabilities are Maps API transactions too
