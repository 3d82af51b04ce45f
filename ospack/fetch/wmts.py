"""WMTS KVP GetTile URLs, built from the service's GetCapabilities document.

The document names the layer's TileMatrixSet, the identifier of each TileMatrix
(``EPSG:27700:7``; matrices of EPSG:3857 start at zoom 7, so list position is not
the zoom) and the GetTile endpoint. The real service echoes the caller's key into
that endpoint; ours travels in a header, so any ``key`` parameter is dropped.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import DownloadError
from ..layers import Layer
from ..types import Tile
from .urls import ApiEndpoints

_NS = {
    "wmts": "http://www.opengis.net/wmts/1.0",
    "ows": "http://www.opengis.net/ows/1.1",
    "xlink": "http://www.w3.org/1999/xlink",
}
#: OGC standardised rendering pixel size, metres
_PIXEL = 0.00028
_TRAILING_ZOOM = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class WmtsUrls:
    """GetTile URLs for one layer, as the capabilities document describes them."""

    get_tile: str
    layer: str
    style: str
    tile_matrix_set: str
    matrices: dict[int, str]
    format: str = "image/png"

    def url(self, tile: Tile) -> str:
        matrix = self.matrices.get(tile.z)
        if matrix is None:
            raise DownloadError(f"the WMTS capabilities list no tile matrix for zoom {tile.z} of {self.layer}")
        query = urlencode(
            {
                "service": "WMTS",
                "request": "GetTile",
                "version": "1.0.0",
                "layer": self.layer,
                "style": self.style,
                "format": self.format,
                "tileMatrixSet": self.tile_matrix_set,
                "tileMatrix": matrix,
                "tileRow": tile.y,
                "tileCol": tile.x,
            }
        )
        separator = "&" if urlsplit(self.get_tile).query else "?"
        return self.get_tile + separator + query


def parse_capabilities(document: bytes | str, layer: Layer, endpoints: ApiEndpoints) -> WmtsUrls:
    """Read ``layer``'s GetTile recipe from a WMTS 1.0.0 capabilities document.

    Raises
    ------
    DownloadError
        The document is not WMTS capabilities XML or does not describe the layer.
    """
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise DownloadError(f"the WMTS capabilities are not readable XML ({exc})") from None
    contents = root.find("wmts:Contents", _NS)
    if contents is None:
        raise DownloadError("the WMTS capabilities document has no Contents section")
    layer_el = next((el for el in contents.findall("wmts:Layer", _NS) if _identifier(el) == layer.name), None)
    if layer_el is None:
        offered = ", ".join(_identifier(el) for el in contents.findall("wmts:Layer", _NS))
        raise DownloadError(f"the WMTS service does not offer layer {layer.name} (it offers {offered})")
    tms_id = _tile_matrix_set_id(layer_el, layer)
    tms_el = next((el for el in contents.findall("wmts:TileMatrixSet", _NS) if _identifier(el) == tms_id), None)
    if tms_el is None:
        raise DownloadError(f"the WMTS capabilities do not define tile matrix set {tms_id}")
    style_el = layer_el.find("wmts:Style[@isDefault='true']", _NS)
    if style_el is None:
        style_el = layer_el.find("wmts:Style", _NS)
    style = _identifier(style_el) if style_el is not None else "default"
    formats = [el.text.strip() for el in layer_el.findall("wmts:Format", _NS) if el.text]
    fmt = "image/png" if "image/png" in formats or not formats else formats[0]
    return WmtsUrls(
        get_tile=_get_tile_href(root, endpoints),
        layer=layer.name,
        style=style or "default",
        tile_matrix_set=tms_id,
        matrices=_matrices_by_zoom(tms_el, layer),
        format=fmt,
    )


def _identifier(element: ET.Element) -> str:
    return (element.findtext("ows:Identifier", default="", namespaces=_NS) or "").strip()


def _tile_matrix_set_id(layer_el: ET.Element, layer: Layer) -> str:
    links = [
        (link.findtext("wmts:TileMatrixSet", default="", namespaces=_NS) or "").strip()
        for link in layer_el.findall("wmts:TileMatrixSetLink", _NS)
    ]
    links = [link for link in links if link]
    if not links:
        raise DownloadError(f"the WMTS capabilities give layer {layer.name} no tile matrix set")
    return layer.grid.id if layer.grid.id in links else links[0]


def _matrices_by_zoom(tms_el: ET.Element, layer: Layer) -> dict[int, str]:
    # Match each TileMatrix to a zoom of our grid by its scale; fall back to a
    # trailing number in the identifier (EPSG:27700:7 → 7) when scales are absent.
    resolutions = layer.grid.resolutions
    matrices: dict[int, str] = {}
    for matrix in tms_el.findall("wmts:TileMatrix", _NS):
        identifier = _identifier(matrix)
        zoom = None
        scale_text = matrix.findtext("wmts:ScaleDenominator", default="", namespaces=_NS)
        try:
            resolution = float(scale_text) * _PIXEL
        except ValueError:
            resolution = math.nan
        for z, expected in enumerate(resolutions):
            if math.isclose(resolution, expected, rel_tol=1e-6):
                zoom = z
                break
        if zoom is None and (match := _TRAILING_ZOOM.search(identifier)):
            zoom = int(match.group(1))
        if zoom is not None and identifier:
            matrices[zoom] = identifier
    if not matrices:
        raise DownloadError(f"the WMTS capabilities list no tile matrices for {layer.name}")
    return matrices


def _get_tile_href(root: ET.Element, endpoints: ApiEndpoints) -> str:
    href = None
    for operation in root.iterfind("ows:OperationsMetadata/ows:Operation", _NS):
        if operation.get("name", "").lower() == "gettile":
            get = operation.find("ows:DCP/ows:HTTP/ows:Get", _NS)
            if get is not None:
                href = get.get(f"{{{_NS['xlink']}}}href")
            break
    # Credentials go only to the host the user chose; an href elsewhere (a proxy
    # echoing its upstream) is replaced by our own WMTS endpoint.
    if not href or not endpoints.receives_credentials(href):
        return endpoints.wmts
    return strip_key(href)


def strip_key(url: str) -> str:
    """``url`` without any ``key`` query parameter (and without a dangling ``?``/``&``)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "key"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
