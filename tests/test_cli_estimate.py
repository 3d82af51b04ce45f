import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ospack.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_areas"
SNOWDON = str(SAMPLES / "yr-wyddfa.geojson")


@pytest.fixture
def runner():
    return CliRunner()


def test_quick_start_command(runner):
    result = runner.invoke(
        cli, ["estimate", SNOWDON, "--layer", "Outdoor_27700", "--zoom", "0-9"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "Outdoor_27700 (EPSG:27700)" in result.stdout
    assert "total" in result.stdout and "600/min" in result.stdout and "about" in result.stdout


def test_json_output(runner):
    result = runner.invoke(
        cli, ["estimate", SNOWDON, "-l", "Road_3857", "-z", "7,9,17", "--json"], catch_exceptions=False
    )
    data = json.loads(result.stdout)
    assert {"layers", "total", "premium_total", "approx_bytes", "area"} <= set(data)
    (layer,) = data["layers"]
    assert {"layer", "crs", "total", "premium_total", "zooms"} <= set(layer)
    assert list(layer["zooms"]) == ["7", "9", "17"]
    assert layer["zooms"]["17"] == {"tiles": data["premium_total"], "premium": True}
    assert layer["total"] == data["total"]


def test_several_layers_are_each_sized_and_totalled(runner):
    args = ["estimate", SNOWDON, "-l", "Outdoor_27700", "-l", "Road_3857", "-l", "Outdoor_27700", "-z", "7-9"]
    data = json.loads(runner.invoke(cli, [*args, "--json"], catch_exceptions=False).stdout)
    assert [layer["layer"] for layer in data["layers"]] == ["Outdoor_27700", "Road_3857"]
    for key in ("total", "premium_total", "opendata_total", "approx_bytes", "seconds_live", "seconds_development"):
        assert data[key] == pytest.approx(sum(layer[key] for layer in data["layers"]))
    assert data["total"] > data["layers"][0]["total"] > 0
    text = runner.invoke(cli, args, catch_exceptions=False).stdout
    assert "Outdoor_27700 (EPSG:27700)" in text and "Road_3857 (EPSG:3857)" in text
    assert f"all 2 layers\ntotal {data['total']:,} tiles" in text


def test_a_single_layer_prints_its_totals_once(runner):
    text = runner.invoke(cli, ["estimate", SNOWDON, "-l", "Outdoor_27700", "-z", "7"], catch_exceptions=False).stdout
    assert text.count("total ") == 1 and "all " not in text


def test_repeated_zoom_options_are_the_union(runner):
    args = ["estimate", SNOWDON, "-l", "Outdoor_27700", "-z", "9", "--zoom", "7", "-z", "7-8", "--json"]
    data = json.loads(runner.invoke(cli, args, catch_exceptions=False).stdout)
    assert list(data["layers"][0]["zooms"]) == ["7", "8", "9"]


def test_buffer_area_crs_and_notes(runner):
    route = str(SAMPLES / "pennine-way-edale-crowden.geojson")
    result = runner.invoke(cli, ["estimate", route, "-l", "Outdoor_27700", "-z", "8", "--buffer", "250"])
    assert result.exit_code == 0
    assert "Note: grew the area by 250 m" in result.stderr
    bng = runner.invoke(
        cli,
        [
            "estimate",
            "216000,770000,218000,772000",
            "--area-crs",
            "EPSG:27700",
            "-l",
            "Road_27700",
            "-z",
            "7",
            "--json",
        ],
    )
    assert json.loads(bng.stdout)["total"] == 4


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["nosuch.geojson", "-l", "Outdoor_27700", "-z", "7"], 1, "does not exist"),
        ([SNOWDON, "-l", "Outdoor", "-z", "7"], 2, "unknown layer 'Outdoor'; choose one of Road_27700"),
        ([SNOWDON, "-l", "Outdoor_27700", "-z", "14"], 2, "which has zooms 0-13"),
        ([SNOWDON, "-l", "Outdoor_3857", "-z", "5-8"], 2, "which has zooms 7-20"),
        ([SNOWDON, "-l", "Outdoor_3857", "-z", "seven"], 2, "cannot read zoom"),
        ([str(SAMPLES / "pennine-way-edale-crowden.geojson"), "-l", "Road_27700", "-z", "7"], 1, "--buffer"),
        (["53.05,-4.1,53.09,-4.05", "-l", "Road_27700", "-z", "7"], 1, "swapped"),
        (["260000,350000,270000,360000", "-l", "Road_27700", "-z", "7"], 1, "--area-crs EPSG:27700"),
        (["10,45,10.1,45.1", "-l", "Road_3857", "-z", "7"], 1, "wholly outside layer Road_3857"),
        ([SNOWDON, "-l", "Road_27700", "-z", "7", "--buffer", "-5"], 2, "--buffer"),
        ([SNOWDON, "-l", "Road_27700"], 2, "--zoom"),
        ([SNOWDON, "-l", "Road_27700", "-l", "Road_3857", "-z", "5"], 2, "which has zooms 7-20"),
        ([SNOWDON, "-l", "Road_27700", "-l", "Nope_3857", "-z", "7"], 2, "unknown layer 'Nope_3857'"),
        ([SNOWDON, "-l", "Road_27700", "-z", "7", "-z", "x"], 2, "cannot read zoom"),
        ([SNOWDON, "-l", "Road_27700", "-z", "7", "--area-crs", "EPSG:999999"], 2, "unknown CRS"),
    ],
)
def test_errors_are_one_line(runner, args, code, message):
    result = runner.invoke(cli, ["estimate", *args])
    assert result.exit_code == code
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output and result.stdout == ""


def test_estimate_says_when_package_will_ask_for_consent(runner):
    gb = str(SAMPLES / "great-britain-coarse.geojson")
    text = runner.invoke(cli, ["estimate", gb, "-l", "Road_27700", "-z", "9"], catch_exceptions=False).stdout
    assert "only with --allow-huge" in text
    small = runner.invoke(cli, ["estimate", SNOWDON, "-l", "Road_27700", "-z", "9", "--json"], catch_exceptions=False)
    assert json.loads(small.stdout)["huge"] is False and "--allow-huge" not in small.stdout
