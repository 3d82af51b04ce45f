"""ospack: Ordnance Survey Maps API tiles for an area, packed into one offline file.

The pipeline is ``area → cover → fetch → write``: :func:`plan` makes the plan, :func:`package_async`
runs it into one file, and :func:`package` does both in one blocking call.
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
    "FetchSettings": "fetch.settings",
    "GeoBounds": "types",
    "Grid": "grids",
    "IncompatibleOutputError": "errors",
    "JobInfo": "writers",
    "Layer": "layers",
    "OspackError": "errors",
    "ProjectedBounds": "types",
    "RatePolicy": "fetch.settings",
    "Tile": "types",
    "TileRange": "types",
    "WriterError": "errors",
    "attribution": "layers",
    "get_grid": "grids",
    "get_layer": "layers",
    "info": "inspect",
    "list_layers": "layers",
    "open_writer": "writers",
    "package": "pipeline",
    "package_async": "engine",
    "parse_zooms": "layers",
    "read_area": "area",
    "read_job": "writers",
    "verify": "inspect",
}

# These functions share their module's name. Importing ospack.cover (which any
# user of ospack.cover.count does) binds the *module* to ospack.cover, so they are
# bound eagerly here, after their modules load, rather than lazily.
from .cover import count as count, cover as cover  # noqa: E402  (explicit re-exports)
from .estimate import estimate as estimate  # noqa: E402
from .plan import Plan as Plan, plan as plan  # noqa: E402

__all__ = sorted([*_EXPORTS, "Plan", "count", "cover", "estimate", "plan", "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ospack' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
