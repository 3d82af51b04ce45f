"""The engine: package_async over a plan, one session for every layer, package() from inside a running loop."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import ospack
from ospack.errors import AuthError
from ospack.fetch import FetchSettings, RatePolicy
from ospack.inspect import verify

SNOWDON = Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson"
UNPACED = FetchSettings(rate=RatePolicy.unpaced())


@pytest.fixture
def api(make_emulator):
    return make_emulator(keys=("demo", "paid:premium"), secrets={"paid": "paid-secret"}, limit=100_000)


def test_package_async_runs_a_plan_into_a_file(api, tmp_path):
    job = ospack.plan(SNOWDON, "Outdoor_27700", "5-7")
    summary = asyncio.run(
        ospack.package_async(job, tmp_path / "a.gpkg", UNPACED, api=ospack.ApiAccess(key="demo", url=api.url))
    )
    assert summary.complete and summary.tiles_planned == job.tiles()
    assert summary.tiles_written + summary.tiles_absent == job.tiles()
    assert verify(tmp_path / "a.gpkg").ok


def test_package_works_when_called_from_inside_a_running_event_loop(api, tmp_path):
    async def notebook_cell():
        loop = asyncio.get_running_loop()
        summary = ospack.package(
            SNOWDON,
            tmp_path / "nb.gpkg",
            layers="Outdoor_27700",
            zooms="5-7",
            settings=UNPACED,
            api=ospack.ApiAccess(url=api.url, key="demo"),
        )
        assert asyncio.get_running_loop() is loop  # the caller's loop is untouched
        return summary

    summary = asyncio.run(notebook_cell())
    assert summary.complete and verify(tmp_path / "nb.gpkg").ok


def test_an_error_inside_a_running_loop_reaches_the_caller_as_itself(api, tmp_path):
    async def cell():
        ospack.package(
            SNOWDON,
            tmp_path / "bad.gpkg",
            layers="Outdoor_27700",
            zooms="5-7",
            settings=UNPACED,
            api=ospack.ApiAccess(url=api.url, key="not-a-key"),
        )

    with pytest.raises(AuthError, match="refused the API key"):
        asyncio.run(cell())


def test_every_layer_of_a_run_shares_one_client_and_one_token(api, tmp_path):
    summary = ospack.package(
        SNOWDON,
        tmp_path / "two.gpkg",
        layers=["Outdoor_27700", "Road_27700"],
        zooms="6-8",
        settings=UNPACED,
        api=ospack.ApiAccess(url=api.url, key="paid", secret="paid-secret"),
    )
    assert summary.complete and summary.requests > 0
    assert api.stats()["tokens"] == 1  # one token for both layers: one session for the run


@pytest.mark.parametrize("rate", [RatePolicy(100_000), RatePolicy.unpaced()])
def test_the_switch_interval_is_the_callers_again_after_a_run(api, tmp_path, rate):
    before = sys.getswitchinterval()
    seen = []
    ospack.package(
        SNOWDON,
        tmp_path / "s.gpkg",
        layers="Outdoor_27700",
        zooms="5-6",
        settings=FetchSettings(rate=rate),
        progress=lambda p: seen.append(sys.getswitchinterval()),
        api=ospack.ApiAccess(url=api.url, key="demo"),
    )
    assert sys.getswitchinterval() == before
    assert set(seen) == {min(before, 0.0005) if rate.per_minute else before}  # tightened only while paced
    with pytest.raises(AuthError):
        ospack.package(
            SNOWDON,
            tmp_path / "t.gpkg",
            layers="Outdoor_27700",
            zooms="5-6",
            settings=FetchSettings(rate=rate),
            api=ospack.ApiAccess(url=api.url, key="not-a-key"),
        )
    assert sys.getswitchinterval() == before  # restored when the run fails too
