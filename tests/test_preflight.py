"""package()'s checks before the first request, through the Python API: nothing requested, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospack import package
from ospack.errors import ApiUrlError, LargeJobError, UsageError
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.writers import read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
GB = ROOT / "sample_areas" / "great-britain-coarse.geojson"


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv("OS_API_KEY", raising=False)


@pytest.mark.parametrize("given", [{"url": "http://127.0.0.1:9"}, {"key": "k"}, {"secret": "s"}])
def test_demo_refuses_an_api_or_credentials(tmp_path, given):
    with pytest.raises(UsageError, match="--demo runs against the built-in emulator"):
        ApiAccess(demo=True, **given)
    assert not (tmp_path / "d.gpkg").exists()
    ApiAccess(**given)  # without --demo: fine


def test_insecure_http_is_refused_unless_allowed(tmp_path, make_emulator):
    with pytest.raises(ApiUrlError, match="clear text"):
        package(
            SNOWDON,
            tmp_path / "h.gpkg",
            layers="Outdoor_27700",
            zooms="7",
            api=ApiAccess(key="k", url="http://maps.example.org"),
        )
    assert not (tmp_path / "h.gpkg").exists()
    api = make_emulator(keys=("k",), limit=100_000)
    summary = package(
        SNOWDON,
        tmp_path / "l.gpkg",
        layers="Outdoor_27700",
        zooms="7",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(key="k", url=api.url, allow_insecure_http=False),
    )  # loopback http needs no consent
    assert summary.complete


def test_a_huge_job_is_refused_before_the_file_exists_unless_allowed(tmp_path, monkeypatch):
    output = tmp_path / "gb.gpkg"
    with pytest.raises(LargeJobError, match="--allow-huge"):
        package(GB, output, layers="Road_27700", zooms="9", api=ApiAccess(demo=True))
    assert not output.exists()
    started = []

    def no_fetch(*args, **kwargs):
        started.append(True)
        raise KeyboardInterrupt  # consent given: the run got as far as fetching

    monkeypatch.setattr("ospack.engine._package_layer", no_fetch)
    with pytest.raises(KeyboardInterrupt):
        package(GB, output, layers="Road_27700", zooms="9", allow_huge=True, api=ApiAccess(demo=True))
    assert started


def test_a_refused_resume_leaves_the_package_as_it_was(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from ospack.inspect import info

    done = tmp_path / "done.gpkg"
    package(
        SNOWDON,
        done,
        layers="Outdoor_27700",
        zooms="0-8",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    )
    before = done.read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1, 1, 1))  # no room for the 34 tiles of zoom 9
    with pytest.raises(LargeJobError, match="34 tiles to fetch"):
        package(
            SNOWDON,
            done,
            layers="Outdoor_27700",
            zooms="0-9",
            settings=FetchSettings(rate=RatePolicy.unpaced()),
            api=ApiAccess(demo=True),
        )
    assert read_job(done).zooms == tuple(range(9)) and info(done).complete
    assert done.read_bytes() == before


def test_a_resume_without_a_key_is_refused_before_the_file_changes(tmp_path, make_emulator):
    api = make_emulator(keys=("k",), limit=100_000)
    output = tmp_path / "part.gpkg"
    package(
        SNOWDON,
        output,
        layers="Outdoor_27700",
        zooms="7",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(key="k", url=api.url),
    )
    before = output.read_bytes()
    with pytest.raises(UsageError, match="no API key"):
        package(SNOWDON, output, layers="Outdoor_27700", zooms="7-8", api=ApiAccess(url=api.url))
    assert read_job(output).zooms == (7,) and output.read_bytes() == before
    again = package(
        SNOWDON, output, layers="Outdoor_27700", zooms="7", api=ApiAccess(url=api.url)
    )  # complete: no key needed
    assert again.already_complete and again.requests == 0


def test_an_unreadable_output_is_reported_as_such_not_as_a_missing_key(tmp_path):
    from ospack.errors import WriterError

    junk = tmp_path / "junk.gpkg"
    junk.write_text("not sqlite")
    with pytest.raises(WriterError, match=r"junk.gpkg"):
        package(SNOWDON, junk, layers="Outdoor_27700", zooms="7")
    assert junk.read_text() == "not sqlite"
