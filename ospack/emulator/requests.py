"""Turn ZXY paths and WMTS KVP queries into a (layer, tile) or a precise refusal. Pure.

OGC parameter names are matched case-insensitively, except ``key`` (handled by
auth). ``tileMatrix`` may be ``EPSG:27700:7`` or a bare ``7``, as OS's own
Leaflet demo sends (OrdnanceSurvey/OS-Data-Hub-API-Demos, OSMapsAPI/Leaflet/map.js).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import LayerError
from ..layers import Layer, get_layer
from ..types import Tile


@dataclass(frozen=True)
class BadRequest:
    """Why a request cannot be served: an OWS exception code, the parameter at fault, a message.

    ``out_of_range`` marks requests naming something that does not exist (unknown
    layer, zoom, column or row), whose status is configurable (400 or 404).
    """

    code: str
    locator: str
    message: str
    out_of_range: bool = False


def _layer(name: str, locator: str) -> Layer | BadRequest:
    try:
        layer = get_layer(name)
    except LayerError:
        return BadRequest("InvalidParameterValue", locator, f"Unknown layer: {name}", out_of_range=True)
    if layer.name != name:  # OS layer names are case-sensitive
        return BadRequest("InvalidParameterValue", locator, f"Unknown layer: {name}", out_of_range=True)
    return layer


def _integer(text: str, locator: str) -> int | BadRequest:
    try:
        return int(text, 10)
    except ValueError:
        return BadRequest("InvalidParameterValue", locator, f"{locator} must be an integer, not {text!r}")


def _tile_of(layer: Layer, numbers: list[int | BadRequest], *, wmts: bool) -> Tile | BadRequest:
    """The tile of zoom, column and row as read: the first unreadable one's problem, or the tile checked."""
    z, x, y = numbers
    if isinstance(z, BadRequest):
        return z
    if isinstance(x, BadRequest):
        return x
    if isinstance(y, BadRequest):
        return y
    return _check_tile(layer, Tile(z, x, y), wmts=wmts)


def _check_tile(layer: Layer, tile: Tile, *, wmts: bool) -> Tile | BadRequest:
    matrix = "TileMatrix" if wmts else "z"
    if not layer.min_zoom <= tile.z <= layer.max_zoom:
        return BadRequest(
            "InvalidParameterValue",
            matrix,
            f"{matrix} {tile.z} is outside {layer.name} ({layer.min_zoom}-{layer.max_zoom})",
            out_of_range=True,
        )
    served = layer.tile_range(tile.z)
    if not served.min_row <= tile.y <= served.max_row:
        locator = "TileRow" if wmts else "y"
        return BadRequest(
            "TileOutOfRange",
            locator,
            f"{locator} {tile.y} is outside {served.min_row}-{served.max_row} at zoom {tile.z}",
            out_of_range=True,
        )
    if not served.min_col <= tile.x <= served.max_col:
        locator = "TileCol" if wmts else "x"
        return BadRequest(
            "TileOutOfRange",
            locator,
            f"{locator} {tile.x} is outside {served.min_col}-{served.max_col} at zoom {tile.z}",
            out_of_range=True,
        )
    return tile


def parse_zxy(layer_name: str, z: str, x: str, y: str) -> tuple[Layer, Tile] | BadRequest:
    """Check ``/zxy/{layer}/{z}/{x}/{y}.png`` path parts."""
    layer = _layer(layer_name, "layer")
    if isinstance(layer, BadRequest):
        return layer
    tile = _tile_of(layer, [_integer(text, name) for text, name in ((z, "z"), (x, "x"), (y, "y"))], wmts=False)
    return tile if isinstance(tile, BadRequest) else (layer, tile)


def ogc_params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters with lower-cased names, ``key`` excluded (first value wins)."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name == "key":
            continue
        params.setdefault(name.lower(), value)
    return params


def wmts_operation(params: dict[str, str]) -> str | BadRequest:
    """``GetCapabilities`` or ``GetTile``, checking ``service``."""
    service = params.get("service")
    if service is None:
        return BadRequest("MissingParameterValue", "service", "Missing parameter: service")
    if service.lower() != "wmts":
        return BadRequest("InvalidParameterValue", "service", f"Unknown service: {service}")
    request = params.get("request")
    if request is None:
        return BadRequest("MissingParameterValue", "request", "Missing parameter: request")
    for operation in ("GetCapabilities", "GetTile"):
        if request.lower() == operation.lower():
            return operation
    return BadRequest("OperationNotSupported", "request", f"Operation not supported: {request}")


def parse_get_tile(params: dict[str, str], *, strict_style: bool = False) -> tuple[Layer, Tile] | BadRequest:
    """Check a KVP GetTile request's parameters (names already lower-cased).

    Any ``style`` is served unless ``strict_style``: whether OS refuses another name is
    unrecorded, and a shipping app sends ``style=Outdoor``.
    """
    for name in ("layer", "style", "tilematrixset", "tilematrix", "tilerow", "tilecol"):
        if not params.get(name):
            return BadRequest("MissingParameterValue", name, f"Missing parameter: {name}")
    layer = _layer(params["layer"], "layer")
    if isinstance(layer, BadRequest):
        return layer
    if strict_style and params["style"] != "default":
        return BadRequest("InvalidParameterValue", "style", f"Unknown style: {params['style']}")
    for name in ("format", "outputformat"):
        if name in params and params[name] != "image/png":
            return BadRequest("InvalidParameterValue", name, f"Unsupported format: {params[name]}; use image/png")
    grid_id = params["tilematrixset"]
    if grid_id != layer.grid.id:
        return BadRequest(
            "InvalidParameterValue",
            "tilematrixset",
            f"{layer.name} has TileMatrixSet {layer.grid.id}, not {grid_id}",
        )
    matrix = params["tilematrix"]
    if matrix.startswith(f"{grid_id}:"):
        matrix = matrix[len(grid_id) + 1 :]
    numbers = [
        _integer(matrix, "TileMatrix"),
        _integer(params["tilecol"], "TileCol"),
        _integer(params["tilerow"], "TileRow"),
    ]
    tile = _tile_of(layer, numbers, wmts=True)
    return tile if isinstance(tile, BadRequest) else (layer, tile)
