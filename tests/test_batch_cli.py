"""``ospack estimate --each`` and ``ospack package --each`` as a user runs them (CliRunner)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import shapely
from batch_sites import squares, write_geojson, write_gpkg

from ospack import plan_batch
from ospack.cli import EXIT_CODES, cli
from ospack.cli.progress import progress_line
from ospack.inspect import verify
from ospack.summary import Progress


@pytest.fixture
def api(make_emulator):
    return make_emulator(keys=("demo",), limit=100_000)


def args(command, source, *extra):
    # the sites' own tiles (--context 0), as plan_batch below is asked for them
    return [command, str(source), "--each", "name", "-l", "Outdoor_27700", "-z", "0-9", "--context", "0", *extra]


def package(runner, source, tmp_path, api, *extra):
    out = str(tmp_path / "out" / "{name}.gpkg")
    return runner.invoke(
        cli,
        args("package", source, "-o", out, "--api-url", api.url, "--rate", "100000", *extra),
        env={"OS_API_KEY": "demo"},
        catch_exceptions=False,
    )


def test_estimate_prints_each_site_and_the_batch_with_the_requests_saved(runner, tmp_path):
    source = write_gpkg(tmp_path / "s.gpkg", squares(2, 2))
    result = runner.invoke(cli, args("estimate", source), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    batch = plan_batch(source, "name", "{name}.gpkg", "Outdoor_27700", "0-9", context=0)
    assert f"{batch.saved():,} requests saved by tiles shared between sites" in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines()[1:6]] == ["s00", "s01", "s10", "s11", "total"]
    data = json.loads(runner.invoke(cli, [*args("estimate", source), "--json"]).stdout)
    assert data["total"] == batch.to_dict()["total"]
    assert [site["name"] for site in data["sites"]] == ["s00", "s01", "s10", "s11"]


def test_package_each_makes_one_complete_output_per_feature_with_the_estimated_requests(runner, tmp_path, api):
    source = write_gpkg(tmp_path / "s.gpkg", squares(2, 2))
    estimated = json.loads(runner.invoke(cli, [*args("estimate", source), "--json"]).stdout)["total"]
    result = package(runner, source, tmp_path, api, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [o["output"] for o in data["outputs"]] == [
        str(tmp_path / "out" / f"{n}.gpkg") for n in ("s00", "s01", "s10", "s11")
    ]
    assert all(o["complete"] and o["status"] == "complete" for o in data["outputs"])
    assert data["totals"]["requests"] == estimated["requests"] == api.stats()["requests"]
    assert data["totals"]["requests_saved"] == estimated["requests_saved"] > 0
    assert verify(tmp_path / "out" / "s11.gpkg").ok
    again = package(runner, source, tmp_path, api)
    assert again.exit_code == 0 and "already complete" in again.stdout


def test_a_bad_feature_is_skipped_listed_and_gives_exit_code_4(runner, tmp_path, api):
    box = squares(1, 1)[0][1]
    source = write_geojson(tmp_path / "s.geojson", [("good", box), ("a/b", box), ("empty", None)])
    result = package(runner, source, tmp_path, api)
    assert result.exit_code == EXIT_CODES["batch_incomplete"] == 4
    assert "skipped feature 1 'a/b': the name holds a path separator" in result.stdout
    assert "skipped feature 2 'empty'" in result.stdout and "skipped before any request" in result.stdout
    assert verify(tmp_path / "out" / "good.gpkg").ok
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".gpkg") == ["good.gpkg"]


def test_usage_errors_are_one_line_and_exit_2(runner, tmp_path, api):
    source = write_gpkg(tmp_path / "s.gpkg", squares(1, 1))
    missing = runner.invoke(cli, [*args("estimate", source)[:3], "nom", "-l", "Outdoor_27700", "-z", "0-9"])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1 and "no field 'nom'" in missing.stderr
    no_each = runner.invoke(cli, ["estimate", str(source), "--source-layer", "sites", "-l", "Outdoor_27700", "-z", "9"])
    assert no_each.exit_code == 2
    no_field_in_output = package(runner, source, tmp_path, api, "-o", str(tmp_path / "one.gpkg"))
    assert no_field_in_output.exit_code == 2 and "put {name} in -o" in no_field_in_output.stderr
    assert api.stats()["requests"] == 0


def test_estimate_reports_a_site_outside_the_grid_as_skipped(runner, tmp_path):
    far = shapely.box(-3e6, -3e6, -2.99e6, -2.99e6)
    source = write_gpkg(tmp_path / "s.gpkg", [*squares(1, 1), ("far", far)])
    result = runner.invoke(cli, args("estimate", source), catch_exceptions=False)
    assert result.exit_code == 0 and "skipped feature 1 'far'" in result.stdout


def test_the_progress_line_shows_the_batch_and_the_current_site():
    p = Progress("Outdoor_27700", 5, 20, 5, 0, 0, 5, 0, 0, 1.0, 300.0)
    assert progress_line(p).startswith("Outdoor_27700: 5/20 tiles")  # one output: as before
    batch = replace(p, site="s01", site_number=2, site_count=6, batch_done=45, batch_total=120)
    assert progress_line(batch).startswith("site 2/6 s01, 45/120 tiles in the batch; Outdoor_27700: 5/20 tiles")
