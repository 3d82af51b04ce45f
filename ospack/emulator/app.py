"""The aiohttp application: OS Maps API routes plus ``/__emulator__`` introspection.

Order of checks on an API request, as a gateway in front of a tile backend
would do them: credentials (401) → rate limit (429) → request validity
(400/404) → plan entitlement (premium: 401 or 403) → injected fault → tile.

Where the real service's behaviour is unrecorded, the emulator is lenient by default, as the
clients that work against OS are: a WMTS ``style`` other than ``default`` is served (a shipping app
sends ``style=Outdoor``; ``strict_style`` refuses it with 400), and an out-of-range WMTS tile is 404,
which GDAL reads as an empty tile (``wmts_error_status=400`` for the strict answer).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from concurrent.futures import Executor

from aiohttp import web

from ..clock import Clock
from ..layers import Layer
from ..types import Tile
from .auth import BAD_GRANT, Authenticator, AuthFailure
from .bodies import HTML_ERROR_PAGE, fault, ows_exception
from .capabilities import capabilities_xml
from .config import EmulatorConfig, KeySpec
from .faults import FaultInjector
from .quota import Quota
from .requests import BadRequest, ogc_params, parse_get_tile, parse_zxy, wmts_operation
from .stats import Stats
from .tilecache import TileCache

MAPS_API, OAUTH_API = "maps", "oauth2"
PNG = "image/png"

STATE = web.AppKey("ospack_emulator_state", object)


class EmulatorState:
    """Everything the handlers share; lives on the event loop's thread."""

    def __init__(self, config: EmulatorConfig, clock: Clock, executor: Executor | None) -> None:
        self.config = config
        self.auth = Authenticator(config, clock)
        self.quota = Quota(clock)
        self.stats = Stats()
        self.faults = FaultInjector(config.faults, config.seed)
        self.tiles = TileCache(executor)
        self.policies = {spec.key: config.quota_policy(spec) for spec in config.keys}
        self.clock = clock
        #: key → clock time until which another consumer takes that key's whole Maps API budget
        self.spells: dict[str, float] = {}

    def reset(self) -> None:
        """Zero the counters, forget rate-limit history and restart the fault sequence."""
        self.stats.reset()
        self.quota.reset()
        self.faults.reset()
        self.spells.clear()

    def spend(self, keys: list[str], seconds: float) -> None:
        """Start a spell: for ``seconds``, another consumer of each key takes every request its budget frees."""
        until = self.clock.now() + seconds
        for key in keys:
            self.spells[key] = max(self.spells.get(key, until), until)
            self.quota.spend(key, MAPS_API, self.policies[key])

    def admit(self, spec: KeySpec) -> bool:
        """Count one Maps API request of ``spec``; False when over its budget (or during a spell)."""
        now = self.clock.now()
        self.stats.arrived(spec.key, now)
        if now < self.spells.get(spec.key, -1.0):
            self.quota.spend(spec.key, MAPS_API, self.policies[spec.key])
        return self.quota.admit(spec.key, MAPS_API, self.policies[spec.key])


def build_app(state: EmulatorState) -> web.Application:
    """The application serving ``state``."""
    app = web.Application()
    app[STATE] = state
    handlers = _Handlers(state)
    app.router.add_get("/maps/raster/v1/zxy/{layer}/{z}/{x}/{y:[^/]+}.png", handlers.zxy)
    app.router.add_get("/maps/raster/v1/wmts", handlers.wmts)
    app.router.add_post("/oauth2/token/v1", handlers.token)
    app.router.add_get("/__emulator__/stats", handlers.stats)
    app.router.add_post("/__emulator__/reset", handlers.reset)
    app.router.add_post("/__emulator__/spend", handlers.spend)
    return app


class _Handlers:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.config = state.config
        self.retry_headers = (
            None if state.config.retry_after is None else {"Retry-After": f"{state.config.retry_after:g}"}
        )

    # --- routes ---------------------------------------------------------------------------------

    async def zxy(self, request: web.Request) -> web.StreamResponse:
        spec = self._authenticate(request, wmts=False)
        if not isinstance(spec, KeySpec):
            return spec
        info = request.match_info
        parsed = parse_zxy(info["layer"], info["z"], info["x"], info["y"])
        return await self._serve_tile(request, spec, parsed, wmts=False)

    async def wmts(self, request: web.Request) -> web.StreamResponse:
        spec = self._authenticate(request, wmts=True)
        if not isinstance(spec, KeySpec):
            return spec
        params = ogc_params(request.query.items())
        operation = wmts_operation(params)
        if isinstance(operation, BadRequest):
            return self._answer(self._bad_request(operation, wmts=True), spec)
        if operation == "GetTile":
            return await self._serve_tile(
                request, spec, parse_get_tile(params, strict_style=self.config.strict_style), wmts=True
            )
        # OS echoes the URL's key; what it writes for a header key or a token is unknown (the
        # capture in dzfranklin/backpackingmap, os_service_metadata.xml), so those callers get
        # hrefs without a key parameter
        key = request.query.get("key") or None
        body = capabilities_xml(f"{request.scheme}://{request.host}", key)
        return self._answer(web.Response(body=body, content_type="application/xml", charset="utf-8"), spec)

    async def token(self, request: web.Request) -> web.StreamResponse:
        client = self.state.auth.client_of(request.headers.get("Authorization", ""))
        if isinstance(client, AuthFailure):
            return self._answer(fault(401, client.faultstring, client.errorcode), None)
        if not self.state.quota.admit(client.key, OAUTH_API, self.state.policies[client.key]):
            return self._answer(self._too_many(), client)
        form = await request.post()
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return self._answer(fault(400, BAD_GRANT.faultstring, BAD_GRANT.errorcode), client)
        token = self.state.auth.issue(client)
        self.state.stats.tokens += 1
        return self._answer(web.json_response(self.state.auth.token_response(token)), client)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.state.stats.snapshot())

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.state.reset()
        return web.json_response(self.state.stats.snapshot())

    async def spend(self, request: web.Request) -> web.StreamResponse:
        try:
            seconds = float(request.query.get("seconds", ""))
        except ValueError:
            seconds = -1.0
        key = request.query.get("key")
        if not seconds > 0 or (key is not None and key not in self.state.policies):
            raise web.HTTPBadRequest(text="spend needs seconds > 0 and, optionally, a configured key")
        self.state.spend([key] if key is not None else list(self.state.policies), seconds)
        return web.json_response({"seconds": seconds})

    # --- steps ----------------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, *, wmts: bool) -> KeySpec | web.StreamResponse:
        """The caller's key, or the (already counted) 401 or 429 answer."""
        spec = self.state.auth.resolve(request.query, request.headers)
        if isinstance(spec, AuthFailure):
            if wmts and self.config.wmts_error_format == "ows":
                return self._answer(ows_exception(401, spec.errorcode.rsplit(".", 1)[-1], spec.faultstring), None)
            return self._answer(fault(401, spec.faultstring, spec.errorcode), None)
        if not self.state.admit(spec):
            return self._answer(self._too_many(), spec)
        return spec

    def _too_many(self) -> web.Response:
        if self.config.enforce == "spike":
            text, code = "Spike arrest violation", "policies.ratelimit.SpikeArrestViolation"
        else:
            text, code = "Rate limit quota violation. Quota limit exceeded", "policies.ratelimit.QuotaViolation"
        return fault(429, text, code, headers=self.retry_headers)

    def _bad_request(self, problem: BadRequest, *, wmts: bool) -> web.Response:
        if not problem.out_of_range:
            status = 400
        else:
            status = self.config.wmts_error_status if wmts else self.config.zxy_error_status
        if wmts and self.config.wmts_error_format == "ows":
            return ows_exception(status, problem.code, problem.message, problem.locator)
        reason = "Bad Request" if status == 400 else "Not Found"
        return fault(status, f"{reason}: {problem.message}", f"maps.{problem.code}")

    async def _serve_tile(
        self, request: web.Request, spec: KeySpec, parsed: tuple[Layer, Tile] | BadRequest, *, wmts: bool
    ) -> web.StreamResponse:
        if isinstance(parsed, BadRequest):
            return self._answer(self._bad_request(parsed, wmts=wmts), spec)
        layer, tile = parsed
        if layer.is_premium(tile.z) and not spec.premium:
            status = self.config.premium_status
            return self._answer(
                fault(status, f"Zoom {tile.z} of {layer.name} needs a Premium plan", "maps.PremiumDataNotAllowed"),
                spec,
            )
        name = self.state.faults.draw() if self.state.faults.active else None
        body = self.state.tiles.cached(layer, tile) or await self.state.tiles.get(layer, tile)
        if name is None:
            self.state.stats.tiles += 1
            return self._answer(web.Response(body=body, content_type=PNG), spec)
        self.state.stats.faults[name] += 1
        return await self._fault(name, request, spec, body)

    async def _fault(self, name: str, request: web.Request, spec: KeySpec, body: bytes) -> web.StreamResponse:
        if name == "500":
            return self._answer(fault(500, "Internal Server Error", "messaging.runtime.InternalServerError"), spec)
        if name == "503":
            return self._answer(
                fault(503, "The Service is temporarily unavailable", "messaging.adaptors.http.flow.ServiceUnavailable"),
                spec,
            )
        if name == "burst429":
            self.state.spend([spec.key], self.config.spell_seconds)
            return self._answer(self._too_many(), spec)
        if name == "html200":
            return self._answer(web.Response(text=HTML_ERROR_PAGE, content_type="text/html"), spec)
        if name == "corrupt":
            return self._answer(web.Response(body=self.state.faults.corrupt(body), content_type=PNG), spec)
        if name == "slow":
            # real time, not the clock: a slow answer is there to trip the client's real read timeout
            await asyncio.sleep(self.config.slow_seconds)
            self.state.stats.tiles += 1
            return self._answer(web.Response(body=body, content_type=PNG), spec)
        return await self._broken_body(name, request, spec, body)

    async def _broken_body(self, name: str, request: web.Request, spec: KeySpec, body: bytes) -> web.StreamResponse:
        """Announce the whole body, send half, then reset (RST) or close (FIN) the connection."""
        response = web.StreamResponse(status=200, headers={"Content-Type": PNG})
        response.content_length = len(body)
        self._answer(response, spec)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        transport = request.transport
        if transport is not None:
            if name == "reset":
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            else:
                transport.close()
        return response

    def _answer(self, response: web.StreamResponse, spec: KeySpec | None) -> web.StreamResponse:
        self.state.stats.record(response.status, None if spec is None else spec.key)
        return response
