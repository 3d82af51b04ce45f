import json
from pathlib import Path

import pytest

from ospack.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_areas"
SNOWDON = str(SAMPLES / "yr-wyddfa.geojson")


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
    assert layer["zooms"]["17"] == {"tiles": data["premium_total"], "premium": True, "context_tiles": 0}
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
        (["-4.1,53.0,-4.0", "-l", "Road_27700", "-z", "7"], 1, "has 3 values; a bbox is four finite numbers"),
        (["-4.1,53.0,-4.0,53.1,7", "-l", "Road_27700", "-z", "7"], 1, "has 5 values"),
        (["-4.1,nan,-4.0,53.1", "-l", "Road_27700", "-z", "7"], 1, "has 'nan'; a bbox is four finite numbers"),
        (["-4.1,53.0,inf,53.1", "-l", "Road_27700", "-z", "7"], 1, "has 'inf'"),
        (["", "-l", "Road_27700", "-z", "7"], 1, "the area is empty"),
        (["-4.1,53.0,-4.0,95", "-l", "Road_27700", "-z", "7"], 1, "latitude 95 is out of range"),
        (["POLYGON ((-4 53, -3 54))", "-l", "Road_27700", "-z", "7"], 1, "a ring needs at least 4 positions"),
        (["POLYGON ((nan 53, -3 53, -3 54, nan 53))", "-l", "Road_27700", "-z", "7"], 1, "not a number"),
        (
            ['{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 54]]]}', "-l", "Road_27700", "-z", "7"],
            1,
            "polygon ring of 2 position(s)",
        ),
        (
            [
                '{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 53], [-3, NaN], [-4, 53]]]}',
                "-l",
                "Road_27700",
                "-z",
                "7",
            ],
            1,
            "the value NaN, which is not a number",
        ),
        (["POLYGON ((-4 53, -3 53, -2 53, -4 53))", "-l", "Road_27700", "-z", "7"], 1, "zero area"),
        (
            ["-4.1,53.0,-4.0,53.1", "--area-crs", "EPSG:27700", "-l", "Road_27700", "-z", "7"],
            1,
            "look like longitude/latitude degrees, not metres of EPSG:27700",
        ),
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


@pytest.mark.parametrize(
    "args",
    [
        ["-4.1,53.0,-4.0,53.1", "-l", "Outdoor_27700", "-z", "9"],
        ["-l", "Outdoor_27700", "-4.1,53.0,-4.0,53.1", "-z", "9"],
        ["-l", "Outdoor_27700", "-z", "9", "--", "-4.1,53.0,-4.0,53.1"],
        ["-l", "Outdoor_27700", "-z", "9", "-.5,53.0,-.4,53.1", "--buffer", "0"],
    ],
    ids=["first", "between-options", "after-dashes", "leading-point"],
)
def test_a_bbox_west_of_greenwich_is_the_area_wherever_it_stands(runner, args):
    result = runner.invoke(cli, ["estimate", "--json", *args])
    assert result.exit_code == 0, result.output
    west = json.loads(result.stdout)["area"]["bounds_wgs84"][0]
    assert west in (-4.1, -0.5)


def test_real_options_still_work_and_unknown_ones_are_still_refused(runner):
    buffer = runner.invoke(cli, ["estimate", "-4.1,53.0,-4.0,53.1", "-l", "Road_27700", "-z", "7", "--buffer", "-5"])
    assert buffer.exit_code == 2 and "--buffer" in buffer.stderr  # a negative value stays the option's value
    unknown = runner.invoke(cli, ["estimate", "-4.1,53.0,-4.0,53.1", "-x", "-l", "Road_27700", "-z", "7"])
    assert unknown.exit_code == 2 and "No such option '-x'" in unknown.stderr


def test_estimate_says_when_package_will_ask_for_consent(runner):
    gb = str(SAMPLES / "great-britain-coarse.geojson")
    text = runner.invoke(cli, ["estimate", gb, "-l", "Road_27700", "-z", "9"], catch_exceptions=False).stdout
    assert "only with --allow-huge" in text
    small = runner.invoke(cli, ["estimate", SNOWDON, "-l", "Road_27700", "-z", "9", "--json"], catch_exceptions=False)
    assert json.loads(small.stdout)["huge"] is False and "--allow-huge" not in small.stdout
