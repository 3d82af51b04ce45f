"""package()'s checks before the first request, through the Python API: nothing requested, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ospack import package
from ospack.errors import ApiUrlError, LargeJobError, UsageError
from ospack.preflight import check_demo_options, may_hold_a_job
from ospack.writers import read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
GB = ROOT / "sample_areas" / "great-britain-coarse.geojson"


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv("OS_API_KEY", raising=False)


@pytest.mark.parametrize("given", [{"api_url": "http://127.0.0.1:9"}, {"key": "k"}, {"secret": "s"}])
def test_demo_refuses_an_api_or_credentials(tmp_path, given):
    with pytest.raises(UsageError, match="--demo runs against the built-in emulator"):
        package(SNOWDON, tmp_path / "d.gpkg", layers="Outdoor_27700", zooms="7", demo=True, **given)
    assert not (tmp_path / "d.gpkg").exists()
    check_demo_options(False, **{"api_url": None, "key": None, "secret": None, **given})  # without --demo: fine


def test_insecure_http_is_refused_unless_allowed(tmp_path, make_emulator):
    with pytest.raises(ApiUrlError, match="clear text"):
        package(SNOWDON, tmp_path / "h.gpkg", layers="Outdoor_27700", zooms="7", key="k",
                api_url="http://maps.example.org")
    assert not (tmp_path / "h.gpkg").exists()
    api = make_emulator(keys=("k",), limit=100_000)
    summary = package(SNOWDON, tmp_path / "l.gpkg", layers="Outdoor_27700", zooms="7", key="k", api_url=api.url,
                      rate_per_min=None, allow_insecure_http=False)  # loopback http needs no consent
    assert summary.complete


def test_a_huge_job_is_refused_before_the_file_exists_unless_allowed(tmp_path, monkeypatch):
    output = tmp_path / "gb.gpkg"
    with pytest.raises(LargeJobError, match="--allow-huge"):
        package(GB, output, layers="Road_27700", zooms="9", demo=True)
    assert not output.exists()
    started = []

    def no_fetch(*args, **kwargs):
        started.append(True)
        raise KeyboardInterrupt  # consent given: the run got as far as fetching

    monkeypatch.setattr("ospack.pipeline._package_layer", no_fetch)
    with pytest.raises(KeyboardInterrupt):
        package(GB, output, layers="Road_27700", zooms="9", demo=True, allow_huge=True)
    assert started


def test_only_an_output_that_surely_holds_no_job_is_judged_before_it_is_opened(tmp_path):
    import sqlite3
    from contextlib import closing

    assert not may_hold_a_job(tmp_path / "missing.gpkg")
    with closing(sqlite3.connect(tmp_path / "project.gpkg")) as db:  # a user's database, no ospack job in it
        db.execute("CREATE TABLE survey (id INTEGER)")
    assert not may_hold_a_job(tmp_path / "project.gpkg")
    (tmp_path / "junk.gpkg").write_text("not sqlite")
    assert may_hold_a_job(tmp_path / "junk.gpkg")  # opening it says what is wrong, before any key is asked for
    done = tmp_path / "done.gpkg"
    package(SNOWDON, done, layers="Outdoor_27700", zooms="7", demo=True, rate_per_min=None)
    assert may_hold_a_job(done) and read_job(done) is not None


def test_an_unreadable_output_is_reported_as_such_not_as_a_missing_key(tmp_path):
    from ospack.errors import WriterError

    junk = tmp_path / "junk.gpkg"
    junk.write_text("not sqlite")
    with pytest.raises(WriterError, match="junk.gpkg"):
        package(SNOWDON, junk, layers="Outdoor_27700", zooms="7")
    assert junk.read_text() == "not sqlite"
