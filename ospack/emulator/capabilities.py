"""The WMTS 1.0.0 GetCapabilities document, shaped like the real OS Maps API one.

Layer zooms and TileMatrixSetLimits come from ``layers.json``; OS's verbatim
scale denominators, matrix sizes, bounding boxes and titles from
``os-capabilities.json`` (captured in dzfranklin/backpackingmap, os_service_metadata.xml). As the real service
does, the caller's key is echoed into the operation URLs, so WMTS clients
(OpenLayers, GDAL, OWSLib) carry it on every GetTile; a caller who sent the key
in a header or a Bearer token gets URLs without a ``key`` parameter.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from ..layers import Layer, list_layers
from ..resources import read_json

_KEY_SLOT = "\x00KEY\x00"


def capabilities_xml(base_url: str, key: str | None) -> bytes:
    """The document for a service at ``base_url``, echoing ``key`` (None: OAuth2 caller)."""
    template = _template(base_url.rstrip("/"))
    echoed = "" if key is None else f"key={escape(quote(key, safe=''))}&amp;"
    return template.replace(_KEY_SLOT, echoed).encode("utf-8")


@cache
def _template(base_url: str) -> str:
    data = read_json("os-capabilities.json")
    service = data["service"]
    layers = {layer.name: layer for layer in list_layers()}
    endpoint = f"{base_url}/maps/raster/v1/wmts?{_KEY_SLOT}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0'
        ' http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">',
        "<ows:ServiceIdentification>",
        f"<ows:Title>{escape(service['title'])}</ows:Title>",
        f"<ows:Abstract>{escape(service['abstract'])}</ows:Abstract>",
        f"<ows:ServiceType>{escape(service['serviceType'])}</ows:ServiceType>",
        f"<ows:ServiceTypeVersion>{service['serviceTypeVersion']}</ows:ServiceTypeVersion>",
        f"<ows:Fees>{service['fees']}</ows:Fees>",
        f"<ows:AccessConstraints>{service['accessConstraints']}</ows:AccessConstraints>",
        "</ows:ServiceIdentification>",
        "<ows:ServiceProvider>",
        f"<ows:ProviderName>{escape(service['providerName'])}</ows:ProviderName>",
        f"<ows:ProviderSite xlink:href={quoteattr(service['providerSite'])}/>",
        "</ows:ServiceProvider>",
        "<ows:OperationsMetadata>",
        *(_operation(name, endpoint) for name in ("GetCapabilities", "GetTile")),
        "</ows:OperationsMetadata>",
        "<Contents>",
        *(_layer(layers[name], data["tileMatrixSets"][layers[name].grid.id]) for name in data["layerOrder"]),
        *(_matrix_set(grid_id, tms) for grid_id, tms in data["tileMatrixSets"].items()),
        "</Contents>",
        f'<ServiceMetadataURL xlink:href="{base_url}/maps/raster/v1/wmts?key={{...}}&amp;'
        'REQUEST=GetCapabilities&amp;VERSION=1.0.0"/>',
        "</Capabilities>",
    ]
    return "\n".join(parts) + "\n"


def _operation(name: str, endpoint: str) -> str:
    return (
        f'<ows:Operation name="{name}"><ows:DCP><ows:HTTP><ows:Get xlink:href={quoteattr(endpoint)}>'
        '<ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>KVP</ows:Value>'
        "</ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>"
    )


def _layer(layer: Layer, tms: dict[str, Any]) -> str:
    bbox, wgs84 = tms["layerBoundingBox"], tms["layerWGS84BoundingBox"]
    limits = ""
    if layer.limits:
        rows = "".join(
            f"<TileMatrixLimits><TileMatrix>{layer.grid.id}:{z}</TileMatrix>"
            f"<MinTileRow>{r.min_row}</MinTileRow><MaxTileRow>{r.max_row}</MaxTileRow>"
            f"<MinTileCol>{r.min_col}</MinTileCol><MaxTileCol>{r.max_col}</MaxTileCol></TileMatrixLimits>"
            for z, r in sorted(layer.limits.items())
        )
        limits = f"<TileMatrixSetLimits>{rows}</TileMatrixSetLimits>"
    return (
        f"<Layer><ows:Title>{layer.name}</ows:Title>"
        f'<ows:BoundingBox crs="{tms["supportedCRS"]}"><ows:LowerCorner>{bbox["lower"]}</ows:LowerCorner>'
        f"<ows:UpperCorner>{bbox['upper']}</ows:UpperCorner></ows:BoundingBox>"
        f'<ows:WGS84BoundingBox crs="urn:ogc:def:crs:OGC:2:84"><ows:LowerCorner>{wgs84["lower"]}'
        f"</ows:LowerCorner><ows:UpperCorner>{wgs84['upper']}</ows:UpperCorner></ows:WGS84BoundingBox>"
        f"<ows:Identifier>{layer.name}</ows:Identifier>"
        '<Style isDefault="true"><ows:Title>Default Style</ows:Title><ows:Identifier>default</ows:Identifier></Style>'
        "<Format>image/png</Format>"
        f"<TileMatrixSetLink><TileMatrixSet>{layer.grid.id}</TileMatrixSet>{limits}</TileMatrixSetLink>"
        "</Layer>"
    )


def _matrix_set(grid_id: str, tms: dict[str, Any]) -> str:
    bbox = tms["boundingBox"]
    matrices = "".join(
        f"<TileMatrix><ows:Identifier>{grid_id}:{m['zoom']}</ows:Identifier>"
        f"<ScaleDenominator>{m['scaleDenominator']}</ScaleDenominator>"
        f"<TopLeftCorner>{tms['topLeftCorner']}</TopLeftCorner>"
        f"<TileWidth>{tms['tileSize']}</TileWidth><TileHeight>{tms['tileSize']}</TileHeight>"
        f"<MatrixWidth>{m['matrixWidth']}</MatrixWidth><MatrixHeight>{m['matrixHeight']}</MatrixHeight>"
        "</TileMatrix>"
        for m in tms["matrices"]
    )
    return (
        f"<TileMatrixSet><ows:Title>{escape(tms['title'])}</ows:Title>"
        f'<ows:BoundingBox crs="{tms["supportedCRS"]}"><ows:LowerCorner>{bbox["lower"]}</ows:LowerCorner>'
        f"<ows:UpperCorner>{bbox['upper']}</ows:UpperCorner></ows:BoundingBox>"
        f"<ows:Identifier>{grid_id}</ows:Identifier>"
        f"<ows:SupportedCRS>{tms['supportedCRS']}</ows:SupportedCRS>{matrices}</TileMatrixSet>"
    )
