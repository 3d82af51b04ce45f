"""AREA as a user types it, in every command that takes one: a bbox west of Greenwich is not an option."""

import pytest

from ospack.cli import cli, positional_negative_numbers
from ospack.inspect import verify

WEST = "-4.1,53.05,-4.05,53.09"


def test_package_takes_a_bbox_west_of_greenwich_as_written(runner, tmp_path):
    output = tmp_path / "west.gpkg"
    result = runner.invoke(
        cli,
        ["package", WEST, "-o", str(output), "-l", "Outdoor_27700", "-z", "5-7", "--demo", "--context", "0", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert verify(output).ok


def test_package_refuses_an_area_with_no_tile_and_leaves_no_file(runner, tmp_path):
    result = runner.invoke(
        cli,
        [
            "package",
            "902000,300000,906000,304000",
            "--area-crs",
            "EPSG:27700",
            "-o",
            str(tmp_path / "x.gpkg"),
            "-l",
            "Road_27700",
            "-z",
            "5-6",
            "--demo",
        ],
    )
    assert result.exit_code == 1 and result.stderr.startswith("Error: the area (E 902000…906000")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["estimate", "package"])
def test_every_command_with_an_area_reads_negative_numbers_as_arguments(command):
    area_command = cli.get_command(None, command)
    args = ["-l", "Road_27700", WEST, "--zoom", "7", "--buffer", "-1", "-v"]
    assert positional_negative_numbers(area_command, args) == [
        "-l",
        "Road_27700",
        "--zoom",
        "7",
        "--buffer",
        "-1",
        "-v",
        "--",
        WEST,
    ]
    assert positional_negative_numbers(area_command, ["-z", "7", "--", "x", WEST]) == ["-z", "7", "--", "x", WEST]
