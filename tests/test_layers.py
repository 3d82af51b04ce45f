import pytest

from ospack.errors import LayerError, ZoomError
from ospack.layers import attribution, get_layer, layers_text, list_layers, parse_zooms
from ospack.types import Tile, TileRange


def test_catalogue_has_the_seven_os_layers_in_order():
    assert [layer.name for layer in list_layers()] == [
        "Road_27700",
        "Road_3857",
        "Outdoor_27700",
        "Outdoor_3857",
        "Light_27700",
        "Light_3857",
        "Leisure_27700",
    ]


@pytest.mark.parametrize(
    "name, crs, zooms, open_zooms",
    [
        ("Road_27700", "EPSG:27700", range(0, 14), range(0, 10)),
        ("Outdoor_3857", "EPSG:3857", range(7, 21), range(7, 17)),
        ("Leisure_27700", "EPSG:27700", range(0, 10), range(0, 6)),
    ],
)
def test_zooms_and_premium_split(name, crs, zooms, open_zooms):
    layer = get_layer(name)
    assert layer.grid.crs == crs
    assert layer.zooms == zooms
    assert layer.open_zooms == open_zooms
    assert [z for z in zooms if not layer.is_premium(z)] == list(open_zooms)


def test_layer_names_are_case_insensitive():
    assert get_layer("outdoor_27700").name == "Outdoor_27700"


def test_unknown_layer_names_the_valid_ones():
    with pytest.raises(LayerError, match=r"Road_27700.*Leisure_27700"):
        get_layer("Leisure_3857")


def test_3857_limits_are_the_os_tile_matrix_set_limits():
    layer = get_layer("Road_3857")
    assert layer.tile_range(7) == TileRange(60, 64, 35, 43)
    assert layer.tile_range(20) == TileRange(492935, 530532, 293412, 357745)
    assert layer.serves(Tile(7, 62, 40))
    assert not layer.serves(Tile(7, 59, 40))
    assert not layer.serves(Tile(6, 31, 20))


def test_27700_layers_without_limits_span_the_matrix():
    assert get_layer("Light_27700").tile_range(13) == TileRange(0, 40656, 0, 49848)
    assert get_layer("Leisure_27700").tile_range(9) == TileRange(0, 2541, 0, 3072)


@pytest.mark.parametrize(
    "spec, expected",
    [("7", (7,)), ("7-9", (7, 8, 9)), ("7,9,11", (7, 9, 11)), (" 9 - 10 , 7", (7, 9, 10)), (8, (8,))],
)
def test_parse_zooms(spec, expected):
    assert parse_zooms(spec, get_layer("Road_3857")) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("5", "zoom 5 is outside layer Road_3857, which has zooms 7-20"),
        ("9-7", "runs backwards"),
        ("seven", "write 7, 7-12 or 7,9,11"),
        ("", "write 7, 7-12 or 7,9,11"),
    ],
)
def test_parse_zooms_errors(spec, message):
    with pytest.raises(ZoomError, match=message):
        parse_zooms(spec, get_layer("Road_3857"))


def test_attribution_statement():
    assert attribution(2026) == "Contains OS data © Crown copyright and database rights 2026"


def test_a_layer_as_plain_data():
    assert get_layer("Road_27700").to_dict() == {
        "name": "Road_27700",
        "style": "Road",
        "crs": "EPSG:27700",
        "min_zoom": 0,
        "max_zoom": 13,
        "open_zooms": [0, 9],
        "premium_zooms": [10, 13],
    }
    assert get_layer("Outdoor_3857").premium_zooms == range(17, 21)


def test_the_catalogue_table():
    lines = layers_text().splitlines()
    assert lines[0] == "layer           crs         zooms   opendata  premium"
    assert lines[1:] == [layer.to_text() for layer in list_layers()]
    assert get_layer("Road_27700").to_text() == "Road_27700      EPSG:27700  0-13    0-9       10-13"
    assert layers_text([get_layer("Leisure_27700")]).splitlines()[1].startswith("Leisure_27700   EPSG:27700  0-9")
