"""ospack: Ordnance Survey Maps API tiles for an area, packed into one offline file.

The pipeline is ``area → cover → fetch → write``, run by :func:`package`.
Every name below is importable from ``ospack``; the heavier ones load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# name → module that defines it; imported lazily so `import ospack` stays cheap
_EXPORTS = {
    "AreaError": "errors",
    "AuthError": "errors",
    "DownloadError": "errors",
    "Emulator": "emulator",
    "GeoBounds": "types",
    "Grid": "grids",
    "IncompatibleOutputError": "errors",
    "Layer": "layers",
    "OspackError": "errors",
    "ProjectedBounds": "types",
    "Tile": "types",
    "TileRange": "types",
    "WriterError": "errors",
    "attribution": "layers",
    "count": "cover",
    "cover": "cover",
    "estimate": "estimate",
    "get_grid": "grids",
    "get_layer": "layers",
    "info": "inspect",
    "list_layers": "layers",
    "open_writer": "writers",
    "package": "package",
    "parse_zooms": "layers",
    "read_area": "area",
    "verify": "inspect",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ospack' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
