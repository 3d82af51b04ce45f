"""ospack: Ordnance Survey Maps API tiles for an area, packed into one offline file.

The pipeline is ``area → cover → fetch → write``: :func:`plan` makes the plan, :func:`package_async`
runs it into one file, and :func:`package` does both in one blocking call.
Every name below is importable from ``ospack``; the heavier ones load on first use.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any

__version__ = "0.1.0"

# name → module that defines it; imported lazily so `import ospack` stays cheap
_EXPORTS = {
    "ApiAccess": "fetch.access",
    "Area": "area",
    "Context": "context",
    "BatchPlan": "batch",
    "BatchSummary": "batch_summary",
    "AreaError": "errors",
    "attribution": "layers",
    "AuthError": "errors",
    "DownloadError": "errors",
    "Emulator": "emulator",
    "Estimate": "estimate",
    "FetchSettings": "fetch.settings",
    "GeoBounds": "types",
    "get_grid": "grids",
    "get_layer": "layers",
    "Grid": "grids",
    "IncompatibleOutputError": "errors",
    "info": "inspect",
    "JobInfo": "writers",
    "Layer": "layers",
    "list_layers": "layers",
    "open_writer": "writers",
    "OspackError": "errors",
    "OutputOptions": "writers.options",
    "package": "pipeline",
    "package_async": "engine",
    "package_batch": "pipeline",
    "package_batch_async": "batch_run",
    "PackageInfo": "inspect",
    "PackageSummary": "summary",
    "parse_zooms": "layers",
    "Plan": "plan",
    "plan_batch": "batch",
    "Preview": "preview",
    "preview_file": "preview_mosaic",
    "preview_plan": "preview",
    "Progress": "summary",
    "ProjectedBounds": "types",
    "RatePolicy": "fetch.settings",
    "read_area": "area",
    "read_job": "writers",
    "Tile": "types",
    "TileRange": "types",
    "verify": "inspect",
    "VerifyReport": "inspect",
    "WriterError": "errors",
}

# cover, estimate, plan and preview are named like their modules (count goes with cover). Importing a
# submodule sets it as an attribute of this package, which would hide the function of the
# same name; _Package keeps the name for the function, so these load lazily like the rest.
_SHARED_NAMES = {"count": "cover", "cover": "cover", "estimate": "estimate", "plan": "plan", "preview": "preview"}

__all__ = sorted([*_EXPORTS, *_SHARED_NAMES, "__version__"])


class _Package(ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHARED_NAMES and isinstance(value, ModuleType):
            return  # the submodule stays reachable as sys.modules["ospack.<name>"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name) or _SHARED_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'ospack' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
