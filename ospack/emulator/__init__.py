"""A faithful local stand-in for the OS Maps API (raster), for tests, demos and benchmarks.

Serves, on a real HTTP/1.1 server (aiohttp) bound to 127.0.0.1 by default:

- ``GET /maps/raster/v1/zxy/{layer}/{z}/{x}/{y}.png``
- ``GET /maps/raster/v1/wmts?service=wmts&request=GetCapabilities|GetTile&…`` (KVP, WMTS 1.0.0)
- ``POST /oauth2/token/v1`` (client credentials, HTTP Basic key:secret)
- ``GET /__emulator__/stats`` → ``{"requests", "by_status", "by_key", "tiles", "tokens", "faults"}``
- ``POST /__emulator__/reset`` (zeroes the stats, forgets rate-limit history, restarts faults)
- ``POST /__emulator__/spend?seconds=S[&key=K]`` (another consumer takes the key's whole budget for S s)

Python API::

    from ospack.emulator import Emulator, EmulatorConfig
    config = EmulatorConfig(keys=["demo", "paid:premium:dev"], limit=6000, faults={"503": 0.1})
    with Emulator(config) as emu:
        emu.url            # 'http://127.0.0.1:40123'
        emu.stats()        # dict as served at /__emulator__/stats
        emu.reset()

``Emulator(config=None, *, host="127.0.0.1", port=0, clock=None)``: the service's behaviour is
one validated, frozen :class:`EmulatorConfig` (its fields are the settings, the same ones
``ospack emulator`` builds from its options), taken whole.
``start() -> str``, ``stop()``, ``url``, ``config``, ``stats() -> dict``, ``reset()``,
``spend(seconds, key=None)``, and use as a context manager.

Where the real service's answer is unrecorded, the emulator is lenient by default: any WMTS
``style`` is served (``strict_style=True`` refuses all but ``default``), and an out-of-range WMTS
tile is 404, which GDAL reads as empty (``wmts_error_status=400`` for the strict answer).

The API key is never logged (no access log); only the capabilities document
echoes the caller's key, as the real service does.
"""

from __future__ import annotations

from .config import ENFORCEMENTS, FAULT_NAMES, MODE_RATES, EmulatorConfig, KeySpec, QuotaPolicy, parse_key_spec
from .render import render_tile, sea_tile
from .server import Emulator, serve

__all__ = [
    "ENFORCEMENTS",
    "FAULT_NAMES",
    "MODE_RATES",
    "Emulator",
    "EmulatorConfig",
    "KeySpec",
    "QuotaPolicy",
    "parse_key_spec",
    "render_tile",
    "sea_tile",
    "serve",
]
