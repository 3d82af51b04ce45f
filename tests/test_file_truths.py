"""What a file says about itself is true: demo files say they hold test cards, MBTiles bounds lie on tile edges."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import rasterio
from test_writers_support import (
    bbox_tiles,
    finished_package,
    make_job,
    quadrant_colour,
    tamper,
    tile_edges_wgs84,
)

from ospack import package
from ospack.cli import cli
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import info
from ospack.layers import get_layer
from ospack.writers.job import DEMO_ATTRIBUTION

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
CROWN = "Crown copyright"


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_demo_geopackage_says_it_holds_test_cards(runner, tmp_path):
    output = tmp_path / "demo.gpkg"
    assert package(
        SNOWDON,
        output,
        layers="Outdoor_27700",
        zooms="6-7",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    ).complete
    ((identifier, description),) = rows(output, "SELECT identifier, description FROM gpkg_contents")
    assert identifier == "OS Outdoor_27700 demo test cards"
    assert description.startswith("Test cards from the ospack emulator") and DEMO_ATTRIBUTION in description
    documents = [doc for (doc,) in rows(output, "SELECT metadata FROM gpkg_metadata")]
    assert all(CROWN not in doc for doc in documents) and any(DEMO_ATTRIBUTION in doc for doc in documents)
    with rasterio.open(output) as src:  # what GDAL-based readers (QGIS, QField) show
        assert src.tags()["ATTRIBUTION"] == DEMO_ATTRIBUTION
    assert info(output).attribution == DEMO_ATTRIBUTION
    lines = runner.invoke(cli, ["info", str(output)]).output.splitlines()
    assert f"attribution: {DEMO_ATTRIBUTION}" in lines


def test_a_demo_mbtiles_says_it_holds_test_cards(tmp_path):
    output = tmp_path / "demo.mbtiles"
    assert package(
        SNOWDON,
        output,
        layers="Road_3857",
        zooms="10-11",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    ).complete
    meta = dict(rows(output, "SELECT name, value FROM metadata"))
    assert meta["attribution"] == DEMO_ATTRIBUTION
    assert meta["description"].startswith("Test cards from the ospack emulator") and CROWN not in meta["description"]
    assert meta["name"] == "OS Road_3857 demo test cards" and meta["ospack_demo"] == "true"


def test_info_tells_the_truth_about_a_demo_file_made_before_it_said_so(tmp_path):
    path = finished_package(tmp_path / "old-demo.gpkg", "Outdoor_27700", (6,))
    job = json.dumps(
        {
            **make_job("Outdoor_27700", (6,), demo=True).to_dict(),
            "attribution": "Contains OS data © Crown copyright and database rights 2026",
        }
    )
    tamper(path, ("UPDATE ospack_state SET value = ? WHERE name = 'job'", (job,)))
    assert info(path).attribution == DEMO_ATTRIBUTION


def test_real_files_keep_the_os_attribution(tmp_path):
    path = finished_package(tmp_path / "real.mbtiles", "Road_3857", (12,))
    meta = dict(rows(path, "SELECT name, value FROM metadata"))
    assert meta["attribution"] == "Contains OS data © Crown copyright and database rights 2026"
    assert meta["description"] == f"OS Maps API Road style on EPSG:3857. {meta['attribution']}"


@pytest.mark.parametrize("zooms", [(12, 13), (9, 14)])
def test_gdal_builds_the_mbtiles_grid_on_the_tile_edges(tmp_path, zooms):
    layer = "Road_3857"
    grid = get_layer(layer).grid
    path = finished_package(tmp_path / "edges.mbtiles", layer, zooms)
    west, south, east, north = map(float, dict(rows(path, "SELECT name, value FROM metadata"))["bounds"].split(","))
    assert (west, south, east, north) == pytest.approx(tile_edges_wgs84(layer, zooms[-1]), abs=1e-9)
    top = zooms[-1]
    tiles = bbox_tiles(layer, top)
    res = grid.tile_span(top) / grid.tile_size
    with rasterio.open(path) as src:
        t = src.transform
        assert t.a == pytest.approx(res) and t.e == pytest.approx(-res)
        # origin and extent in whole pixels of the top zoom's tile grid
        for offset in ((t.c - grid.origin_x) / res, (grid.origin_y - t.f) / res, src.width, src.height):
            assert offset == pytest.approx(round(offset), abs=1e-4)
        first = grid.tile_bounds(tiles[0])
        assert (t.c, t.f) == pytest.approx((first.left, first.top), abs=res * 1e-4)
        # every tile's corner pixels are its own corner quadrants: nothing is shifted by a pixel
        for tile in tiles:
            b = grid.tile_bounds(tile)
            col, row = round((b.left - t.c) / res), round((t.f - b.top) / res)
            last = grid.tile_size - 1
            for q, (dx, dy) in enumerate([(0, 0), (last, 0), (0, last), (last, last)]):
                pixel = src.read([1, 2, 3], window=((row + dy, row + dy + 1), (col + dx, col + dx + 1)))[:, 0, 0]
                assert tuple(pixel) == quadrant_colour(tile, q), (tile, q)


# --- names and attribution where users look (GDAL, hence QGIS and QField) ---------------------------------------------

OS_ATTRIBUTION = "Contains OS data © Crown copyright and database rights"


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the file itself: only sublayers
def test_each_layer_of_a_geopackage_reads_like_the_layer_and_carries_the_attribution_in_gdal(fast_emulator, tmp_path):
    output = tmp_path / "two.gpkg"
    summary = package(
        SNOWDON,
        output,
        layers=["Outdoor_27700", "Light_27700"],
        zooms="7",
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(url=fast_emulator.url, key="demo"),
    )
    assert summary.complete and summary.attribution.startswith(OS_ATTRIBUTION)
    with rasterio.open(output) as dataset:
        listed = dataset.tags(ns="SUBDATASETS")  # what QGIS offers when the file holds several layers
        names = [v for k, v in sorted(listed.items()) if k.endswith("_NAME")]
    descriptions = sorted(v for k, v in listed.items() if k.endswith("_DESC"))
    assert descriptions == ["light_27700 - OS Light_27700", "outdoor_27700 - OS Outdoor_27700"]
    for name in names:
        layer = name.rsplit(":", 1)[1]
        with rasterio.open(name) as sublayer:
            tags = sublayer.tags()  # the layer's metadata in QGIS's Information panel
        os_name = get_layer(layer).name
        assert tags["IDENTIFIER"] == f"OS {os_name}"
        assert tags["ATTRIBUTION"] == summary.attribution
        assert tags["DESCRIPTION"].endswith(summary.attribution) and get_layer(layer).style in tags["DESCRIPTION"]


@pytest.mark.parametrize("demo", [False, True])
def test_every_package_run_ends_with_the_attribution(runner, fast_emulator, tmp_path, demo):
    source = ["--demo"] if demo else ["--api-url", fast_emulator.url, "--key", "demo"]
    args = ["package", str(SNOWDON), "-o", str(tmp_path / "a.mbtiles"), "--layer", "Light_3857", "--zoom", "13"]
    result = runner.invoke(cli, [*args, *source, "--rate", "100000", "--quiet"])
    assert result.exit_code == 0, result.output
    expected = DEMO_ATTRIBUTION if demo else OS_ATTRIBUTION
    assert result.stdout.splitlines()[-1].startswith(f"  attribution: {expected}")
    again = runner.invoke(cli, [*args, *source, "--json"])  # a rerun that fetches nothing says it too
    assert json.loads(again.stdout)["attribution"].startswith(expected)
    with rasterio.open(tmp_path / "a.mbtiles") as dataset:  # and GDAL reads it from the file
        assert dataset.tags()["attribution"].startswith(expected)
