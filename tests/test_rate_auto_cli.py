"""``ospack package --rate auto`` and ``--no-shared-budget``: parsing, the policy built, the rate found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ospack.cli import cli
from ospack.fetch import RatePolicy
from ospack.fetch.ledger import SharedLedger
from ospack.fetch.throttle import RateLimiter
from ospack.testing import FakeClock

SNOWDON = str(Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson")


def package(runner, tmp_path, *extra):
    args = ["package", SNOWDON, "-o", str(tmp_path / "auto.gpkg"), "-l", "Outdoor_27700", "-z", "0-3", *extra]
    return runner.invoke(cli, args)


@pytest.mark.parametrize("value", ["fast", "0", "-5", "1.5"])
def test_a_rate_that_is_neither_a_number_nor_auto_is_a_usage_error(runner, tmp_path, value):
    result = package(runner, tmp_path, "--demo", "--rate", value)
    assert result.exit_code == 2 and "--rate" in result.stderr and "Traceback" not in result.output


def test_rate_auto_reports_the_rate_it_reached(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = package(runner, tmp_path, "--demo", "--rate", "AUTO", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["discovered_rate_per_min"] == 600.0  # a few tiles: no step up, no 429
    text = package(runner, tmp_path, "--demo", "--rate", "auto", "--overwrite")
    assert "--rate auto: no 429 seen: the limit is at least 600 requests/min" in text.stdout
    fixed = package(runner, tmp_path, "--demo", "--json", "--overwrite")
    assert json.loads(fixed.stdout)["discovered_rate_per_min"] is None


def test_the_cli_builds_the_policy(monkeypatch, runner, tmp_path):
    seen: list[RatePolicy] = []

    def record(*args, settings, **kwargs):
        seen.append(settings.rate)
        raise SystemExit(0)

    monkeypatch.setattr("ospack.cli.package.package", record)
    for extra in (["--rate", "auto"], ["--dev-project", "--rate", "auto"], ["--no-shared-budget"], ["--demo"], []):
        package(runner, tmp_path, *(extra if "--demo" in extra else [*extra, "--key", "k"]))
    auto, dev_auto, opted_out, demo, default = seen
    assert (auto.auto, auto.per_minute, auto.shared_budget) == (True, 600, True)
    assert (dev_auto.auto, dev_auto.per_minute) == (True, 50)  # the development mode's documented limit
    assert not opted_out.shared_budget and not demo.shared_budget  # a demo's emulator is its own
    assert (default.auto, default.per_minute, default.shared_budget) == (False, 600, True)


def test_an_auto_run_starts_at_the_rate_the_ledger_remembers(tmp_path):
    ledger = SharedLedger(tmp_path / "key.ledger", boot=b"b" * 16)
    assert RateLimiter(RatePolicy(600, auto=True), schedule=ledger, clock=FakeClock()).requests == 600
    ledger.remember_rate(2400.0)
    limiter = RateLimiter(RatePolicy(600, auto=True), schedule=ledger, clock=FakeClock())
    assert limiter.requests == 2400 and limiter.found_rate() == 2400.0
    assert RateLimiter(RatePolicy(600), schedule=ledger, clock=FakeClock()).requests == 600  # only auto runs
