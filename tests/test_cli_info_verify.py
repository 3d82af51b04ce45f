"""`ospack info` and `ospack verify` through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_writers_support import bbox_tiles, finished_package, install_bbox_cover, tamper

from ospack.cli import cli

LAYER, ZOOMS = "Outdoor_27700", (6, 7)


@pytest.fixture
def package(tmp_path, monkeypatch):
    # the area cover comes from the bounding box here; tests/test_inspect.py covers the real merge-join
    install_bbox_cover(monkeypatch)
    return finished_package(tmp_path / "snowdon.gpkg", LAYER, ZOOMS)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_info_text(package):
    result = run("info", str(package))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{package}: gpkg,") and lines[0].endswith("complete")
    assert f"layer {LAYER} (table outdoor_27700, EPSG:27700)" in lines[1]
    assert f"  zoom  7: {len(bbox_tiles(LAYER, 7))} tiles" in lines
    assert "attribution: Contains OS data © Crown copyright and database rights 2026" in lines


def test_info_json_has_the_documented_keys(package):
    result = run("info", str(package), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["format"] == "gpkg" and data["complete"] is True
    (layer,) = data["layers"]
    assert set(layer) >= {"name", "crs", "bounds", "zooms"}
    assert layer["zooms"] == {str(z): len(bbox_tiles(LAYER, z)) for z in ZOOMS}


def test_info_of_a_missing_file_is_one_error_line(runner, tmp_path):
    result = runner.invoke(cli, ["info", str(tmp_path / "nope.gpkg")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'nope.gpkg'} does not exist"]


def test_verify_ok(package):
    result = run("verify", str(package))
    assert result.exit_code == 0
    tiles = sum(len(bbox_tiles(LAYER, z)) for z in ZOOMS)
    assert result.output.strip() == f"{package}: OK ({tiles} tiles checked)"


def test_verify_problems_exit_non_zero_one_line_each(package):
    tamper(
        package,
        "DELETE FROM outdoor_27700 WHERE zoom_level = 7",
        "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
    )
    result = run("verify", str(package))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("problem: ") for line in lines)
    assert "incomplete" in lines[0] and f"{LAYER} zoom 7: {len(bbox_tiles(LAYER, 7))} tiles" in lines[1]
    data = json.loads(run("verify", str(package), "--json").output)
    assert data["ok"] is False and len(data["problems"]) == 2


def test_verify_names_a_swapped_tile_and_exits_1(package):
    first, second = bbox_tiles(LAYER, 7)[:2]
    swap = "UPDATE outdoor_27700 SET tile_column = ? WHERE zoom_level = 7 AND tile_column = ? AND tile_row = ?"
    tamper(
        package, (swap, (-1, first.x, first.y)), (swap, (first.x, second.x, second.y)), (swap, (second.x, -1, first.y))
    )  # the two tiles trade places
    result = run("verify", str(package))
    assert result.exit_code == 1
    assert sorted(result.output.strip().splitlines()) == sorted(
        f"problem: tile 7/{t.x}/{t.y} of {LAYER}: its bytes differ from those stored "
        "(digest mismatch: changed or swapped)"
        for t in (first, second)
    )


def test_verify_of_a_file_made_before_digests_is_ok_with_a_note(package):
    tamper(package, "DROP TABLE ospack_digest")
    result = run("verify", str(package))
    assert result.exit_code == 0
    note, ok = result.output.strip().splitlines()
    assert note.startswith("note: ") and "predates ospack's tile digests" in note
    assert ok.startswith(f"{package}: OK (")


def test_the_commands_print_the_reports_own_text_and_data(package):
    from ospack.inspect import info, verify

    assert run("info", str(package)).output == info(package).to_text() + "\n"
    assert json.loads(run("info", str(package), "--json").output) == info(package).to_dict()
    assert run("verify", str(package)).output == verify(package).to_text() + "\n"


def test_layers_prints_the_catalogue_table():
    from ospack.layers import layers_text

    assert run("layers").output == layers_text() + "\n"
