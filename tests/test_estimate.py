import json
from pathlib import Path

import pytest

from ospack.area import read_area
from ospack.cover import count
from ospack.estimate import BYTES_PER_TILE, estimate, format_duration, format_size

SAMPLES = Path(__file__).resolve().parent.parent / "sample_areas"


@pytest.fixture(scope="module")
def snowdon():
    return read_area(SAMPLES / "yr-wyddfa.geojson")


def test_estimate_adds_up(snowdon):
    job = estimate(snowdon, "Outdoor_27700", "8-11")
    counts = count(snowdon, "Outdoor_27700", "8-11")
    assert [z.tiles for z in job.zooms] == list(counts.values())
    assert [z.premium for z in job.zooms] == [False, False, True, True]
    assert job.total == sum(counts.values())
    assert job.premium_total == counts[10] + counts[11]
    assert job.opendata_total == counts[8] + counts[9]
    assert job.seconds_live == pytest.approx(job.total / 10)
    assert job.seconds_development == pytest.approx(job.total * 1.2)
    assert job.approx_bytes == job.total * BYTES_PER_TILE


def test_to_dict_carries_the_keys_scripts_rely_on(snowdon):
    data = estimate(snowdon, "Road_3857", [15, 17]).to_dict()
    assert data["layer"] == "Road_3857" and data["crs"] == "EPSG:3857"
    assert set(data["zooms"]) == {"15", "17"}
    assert data["zooms"]["17"]["premium"] is True and data["zooms"]["15"]["premium"] is False
    assert data["total"] == data["zooms"]["15"]["tiles"] + data["zooms"]["17"]["tiles"]
    assert data["premium_total"] == data["zooms"]["17"]["tiles"]
    assert "not measured" in data["size_basis"]
    json.dumps(data)  # plain data only


def test_estimate_reads_a_path_and_takes_another_tile_size():
    job = estimate(SAMPLES / "edinburgh-old-town.geojson", "Light_3857", "16", bytes_per_tile=1000)
    assert job.approx_bytes == job.total * 1000
    assert "1,000 bytes" in job.to_text()


def test_text_names_every_zoom_and_the_plan(snowdon):
    text = estimate(snowdon, "Outdoor_27700", "9-10").to_text()
    assert "Outdoor_27700 (EPSG:27700)" in text
    assert "OpenData" in text and "Premium" in text
    assert "600/min (live)" in text and "50/min (development)" in text


def test_whole_of_great_britain_counts_at_every_zoom():
    gb = read_area(SAMPLES / "great-britain-coarse.geojson")
    job = estimate(gb, "Road_27700", "0-13")
    # ~225,000 km² at 28 m tiles is about 290 million tiles at zoom 13
    assert 2.8e8 < job.zooms[-1].tiles < 3.0e8


@pytest.mark.parametrize(
    "seconds, text",
    [(42, "42 s"), (200, "3 min 20 s"), (5 * 3600 + 120, "5 h 02 min"), (10 * 86400 + 7200, "10 days 2 h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("size, text", [(850, "850 B"), (1_200_000, "1.2 MB"), (3.4e12, "3.4 TB"), (5e15, "5000.0 TB")])
def test_format_size(size, text):
    assert format_size(size) == text


def test_ospack_estimate_is_the_function_even_after_the_module_is_imported(snowdon):
    import ospack
    import ospack.estimate  # binds the module to ospack.estimate

    assert ospack.estimate(snowdon, "Outdoor_27700", 9) == estimate(snowdon, "Outdoor_27700", 9)


def test_estimate_layers_sizes_each_layer_and_adds_them_up(snowdon):
    from ospack.estimate import estimate_layers

    job = estimate_layers(snowdon, ["Outdoor_27700", "Road_3857", "Outdoor_27700"], "7-10")
    assert [layer.layer for layer in job.layers] == ["Outdoor_27700", "Road_3857"]
    assert job.layers[0] == estimate(snowdon, "Outdoor_27700", "7-10")
    assert job.total == sum(layer.total for layer in job.layers)
    assert job.premium_total == sum(layer.premium_total for layer in job.layers)
    assert job.approx_bytes == job.total * BYTES_PER_TILE
    assert job.seconds_live == pytest.approx(job.total / 10)
    assert estimate_layers(snowdon, "Outdoor_27700", 9).total == estimate(snowdon, "Outdoor_27700", 9).total
    json.dumps(job.to_dict())


def test_estimate_layers_needs_a_layer(snowdon):
    from ospack.errors import LayerError
    from ospack.estimate import estimate_layers

    with pytest.raises(LayerError, match="no layer given"):
        estimate_layers(snowdon, [], "7")


@pytest.mark.parametrize(
    "tiles, rate, refused",
    [
        (1_000_000, None, False),  # at the tile threshold, unpaced
        (1_000_001, None, True),
        (864_000, 600, False),  # exactly a day at the live rate
        (864_001, 600, True),
        (72_001, 50, True),  # a day at the development rate
        (0, 1, False),
    ],
)
def test_consent_thresholds_by_tiles_and_time(tiles, rate, refused, tmp_path):
    from ospack.errors import LargeJobError
    from ospack.estimate import check_job_size

    if refused:
        with pytest.raises(LargeJobError, match=r"huge job.*--allow-huge") as caught:
            check_job_size(tiles, rate, tmp_path / "x.gpkg")
        assert f"{tiles:,} tiles to fetch" in str(caught.value) and caught.value.exit_code == 2
        check_job_size(tiles, rate, tmp_path / "x.gpkg", allow_huge=True)
    else:
        check_job_size(tiles, rate, tmp_path / "x.gpkg")


def test_consent_names_the_figures_of_all_gb_at_zoom_13(tmp_path):
    from ospack.errors import LargeJobError
    from ospack.estimate import check_job_size

    with pytest.raises(LargeJobError) as caught:
        check_job_size(287_000_000, 600, tmp_path / "gb.gpkg")
    message = str(caught.value)
    assert "287,000,000 tiles" in message and "332 days" in message and "5.7 TB" in message
    assert f"free in {tmp_path}" in message
