"""The emulator's data files agree with the grids and layers the rest of ospack uses."""

from __future__ import annotations

import ospack
from ospack.emulator import Emulator
from ospack.grids import get_grid
from ospack.layers import list_layers
from ospack.resources import read_json


def test_capabilities_data_matches_the_grids():
    data = read_json("os-capabilities.json")
    bng = get_grid("EPSG:27700")
    matrices = data["tileMatrixSets"]["EPSG:27700"]["matrices"]
    assert [(m["matrixWidth"], m["matrixHeight"]) for m in matrices] == list(bng.matrix_sizes)
    for m in matrices:  # OGC 0.28 mm pixel: scale x 0.00028 = resolution
        assert abs(float(m["scaleDenominator"]) * 0.00028 - bng.resolutions[m["zoom"]]) < 1e-6
    merc = get_grid("EPSG:3857")
    for m in data["tileMatrixSets"]["EPSG:3857"]["matrices"]:
        assert abs(float(m["scaleDenominator"]) * 0.00028 - merc.resolutions[m["zoom"]]) < 1e-4


def test_layer_limits_fit_the_truncated_3857_matrices():
    sizes = {
        m["zoom"]: (m["matrixWidth"], m["matrixHeight"])
        for m in read_json("os-capabilities.json")["tileMatrixSets"]["EPSG:3857"]["matrices"]
    }
    for layer in list_layers():
        if layer.grid.id == "EPSG:3857":
            assert set(layer.zooms) == set(sizes)
            for z in layer.zooms:
                served = layer.tile_range(z)
                assert served.max_col < sizes[z][0] and served.max_row < sizes[z][1]


def test_layer_order_names_every_layer():
    assert sorted(read_json("os-capabilities.json")["layerOrder"]) == sorted(x.name for x in list_layers())


def test_emulator_is_exported_from_ospack():
    assert ospack.Emulator is Emulator
