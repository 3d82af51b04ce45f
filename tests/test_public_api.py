"""The public surface: every name in ospack.__all__ resolves, and the pipeline's functions are callable."""

import re
from pathlib import Path

import ospack

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_exported_name_resolves():
    for name in ospack.__all__:
        assert getattr(ospack, name) is not None, name


def test_functions_that_share_a_module_name_stay_functions():
    import ospack.cover
    import ospack.estimate
    import ospack.pipeline
    import ospack.plan

    names = ("cover", "count", "estimate", "plan", "package", "package_async", "verify", "info", "read_area")
    for name in (*names, "open_writer"):
        assert callable(getattr(ospack, name)) and not isinstance(getattr(ospack, name), type(ospack)), name


def test_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    area = ospack.read_area("-4.09,53.06,-4.06,53.08", buffer_m=200)
    assert ospack.count(area, "Outdoor_27700", "7") == {
        7: ospack.estimate(area, "Outdoor_27700", "7").to_dict()["zooms"]["7"]["tiles"]
    }
    with ospack.Emulator() as api:
        summary = ospack.package(
            area,
            "demo.gpkg",
            layers="Outdoor_27700",
            zooms="5-7",
            settings=ospack.FetchSettings(rate=ospack.RatePolicy.unpaced()),
            api=ospack.ApiAccess(url=api.url, key="demo"),
        )
    assert summary.to_dict()["complete"]
    assert ospack.verify("demo.gpkg").ok
    assert ospack.info("demo.gpkg").layers[0].name == "Outdoor_27700"


def test_the_plan_engine_and_settings_are_exported_and_import_ospack_stays_light():
    import subprocess
    import sys

    for name in ("Plan", "plan", "package_async", "FetchSettings", "RatePolicy"):
        assert name in ospack.__all__, name
    assert isinstance(ospack.plan("-4.09,53.06,-4.06,53.08", "Outdoor_27700", "7"), ospack.Plan)
    assert ospack.FetchSettings().rate == ospack.RatePolicy()
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ospack; print(sorted(m for m in ('httpx', 'aiohttp', 'ospack.engine',"
            " 'ospack.fetch', 'ospack.writers') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"  # the engine, HTTP and the writers load when first used


def test_the_public_api_is_exactly_the_documented_list():
    text = README.read_text(encoding="utf-8")
    documented = text[text.index("<!-- public-api -->") : text.index("<!-- /public-api -->")]
    assert sorted(re.findall(r"`(\w+)`", documented)) == sorted(ospack.__all__)
