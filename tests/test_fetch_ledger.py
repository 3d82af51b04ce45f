"""The shared rate ledger on a fake clock: one schedule for every run with a key (processes: ..._processes.py)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import stat

import pytest

from ospack.errors import DownloadError
from ospack.fetch import Credentials, FetchSession, FetchSettings, RatePolicy
from ospack.fetch.ledger import LocalSchedule, SharedLedger, cache_dir, ledger_for
from ospack.fetch.throttle import RateLimiter
from ospack.testing import FakeClock

POLICY = RatePolicy(600, window_s=2.0, warmup=0)  # 20 a 2 s window: one request every 0.101 s
GAP = 0.1 * (1 + POLICY.margin)
BOOT = b"b" * 16


async def grants(limiter: RateLimiter, workers: int, each: int) -> list[float]:
    """The slots ``workers`` concurrent workers are granted, ``each`` apiece."""

    async def work() -> list[float]:
        return [await limiter.acquire() for _ in range(each)]

    return [t for times in await asyncio.gather(*(work() for _ in range(workers))) for t in times]


def limiters(clock: FakeClock, *ledgers: SharedLedger) -> list[RateLimiter]:
    return [RateLimiter(POLICY, clock=clock, schedule=ledger) for ledger in ledgers]


async def together(clock: FakeClock, *ledgers: SharedLedger, each: int = 40) -> list[list[float]]:
    runs = limiters(clock, *ledgers)
    return list(await asyncio.gather(*(grants(limiter, 4, each) for limiter in runs)))


def test_runs_on_one_ledger_interleave_evenly_at_the_total_rate(tmp_path):
    clock = FakeClock(100.0)
    path = tmp_path / "key.ledger"
    first, second, third = asyncio.run(together(clock, *(SharedLedger(path, boot=BOOT) for _ in range(3))))
    merged = sorted(first + second + third)
    gaps = [b - a for a, b in itertools.pairwise(merged)]
    assert min(gaps) >= GAP - 1e-9  # evenly spaced across the runs: no pair closer than one gap
    rate = (len(merged) - 1) / (merged[-1] - merged[0]) * 60
    assert 0.98 * 600 <= rate <= 600
    for times in (first, second, third):  # each run had its turn all along, none waited for the others to end
        assert max(times) - min(times) > 0.9 * (merged[-1] - merged[0])


def test_a_run_with_another_key_is_not_slowed(tmp_path):
    clock = FakeClock(100.0)
    one, two, other = asyncio.run(
        together(clock, *(SharedLedger(tmp_path / f"{name}.ledger", boot=BOOT) for name in ("a", "a", "b")))
    )
    span = max(other) - min(other)
    assert (len(other) - 1) / span * 60 >= 0.98 * 600  # its own full rate
    assert max(one + two) - min(one + two) > 1.9 * span  # the shared pair took twice as long


def test_a_killed_run_leaves_only_the_slots_it_had_booked(tmp_path):
    clock = FakeClock(100.0)
    path = tmp_path / "key.ledger"
    dead = SharedLedger(path, boot=BOOT)
    for _ in range(8):  # a run with 8 workers killed (SIGKILL) just after each booked its next slot
        dead.book(clock.now(), GAP)
    (times,) = asyncio.run(together(clock, SharedLedger(path, boot=BOOT)))
    assert min(times) == pytest.approx(100.0 + 8 * GAP)  # under a second late
    assert (len(times) - 1) / (max(times) - min(times)) * 60 >= 0.98 * 600  # then the whole budget


@pytest.mark.parametrize("stale", ["another boot", "absurdly far ahead"])
def test_a_schedule_from_another_boot_is_ignored(tmp_path, stale):
    # the monotonic clock starts again at boot: a ledger left by the last boot may read hours ahead
    path = tmp_path / "key.ledger"
    boot = b"o" * 16 if stale == "another boot" else BOOT
    SharedLedger(path, boot=boot).book(1e6 if stale == "absurdly far ahead" else 500.0, GAP)
    assert SharedLedger(path, boot=BOOT).book(100.0, GAP) == 100.0


def test_the_ledger_keeps_the_rate_found_across_boots(tmp_path):
    path = tmp_path / "key.ledger"
    assert SharedLedger(path, boot=BOOT).read().found_rate is None
    SharedLedger(path, boot=BOOT).remember_rate(2400.0)
    SharedLedger(path, boot=BOOT).book(50.0, GAP)
    later = SharedLedger(path, boot=b"n" * 16).read()
    assert later.found_rate == 2400.0 and later.found_at > 0


def test_a_local_schedule_books_after_its_last_slot():
    schedule = LocalSchedule()
    assert [schedule.book(t, 1.0) for t in (5.0, 5.0, 9.0)] == [5.0, 6.0, 9.0]


def test_ledgers_are_private_and_named_by_a_salted_hash(tmp_path):
    key = "my-secret-project-key"
    ledger = ledger_for("https://api.os.uk", key, directory=tmp_path / "rate")
    ledger.book(1.0, GAP)
    where = tmp_path / "rate"
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    for path in (ledger.path, where / "salt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in where.iterdir()) == sorted([ledger.path.name, "salt"])
    name = ledger.path.name
    assert key not in name and hashlib.sha256(key.encode()).hexdigest()[:32] not in name
    assert key.encode() not in ledger.path.read_bytes()
    assert ledger_for("https://api.os.uk", key, directory=where).path == ledger.path  # one key, one ledger
    assert ledger_for("https://api.os.uk", "another-key", directory=where).path != ledger.path
    assert ledger_for("http://127.0.0.1:8080", key, directory=where).path != ledger.path  # another API
    other_user = ledger_for("https://api.os.uk", key, directory=tmp_path / "elsewhere")
    assert other_user.path.name != name  # another salt: a name found elsewhere tells nothing


def test_the_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "ospack"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec: relative paths are ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "ospack"


def test_an_unusable_cache_dir_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DownloadError, match=r"cannot keep the shared rate budget in .*--no-shared-budget"):
        ledger_for("https://api.os.uk", "k", directory=blocker / "rate")


@pytest.mark.parametrize(
    ("rate", "shared"),
    [(RatePolicy(600), True), (RatePolicy(600, shared_budget=False), False), (RatePolicy.unpaced(), False)],
)
def test_a_session_books_on_the_ledger_only_when_paced_and_sharing(monkeypatch, tmp_path, rate, shared):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    session = FetchSession(Credentials("k"), "http://127.0.0.1:9", FetchSettings(rate=rate))
    assert isinstance(session.limiter.schedule, SharedLedger) is shared
    assert (tmp_path / "ospack" / "rate").exists() is shared  # nothing is written for a run that does not share


def test_a_session_on_a_fake_clock_keeps_its_own_schedule(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    session = FetchSession(Credentials("k"), "http://127.0.0.1:9", FetchSettings(), clock=FakeClock())
    assert isinstance(session.limiter.schedule, LocalSchedule)
