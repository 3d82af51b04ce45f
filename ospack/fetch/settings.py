"""How a fetch behaves, as frozen values with one set of defaults (in the manner of httpx's ``Limits``).

:class:`RatePolicy` is what the rate limiter needs: the allowance per window and how it
backs off after a 429. :class:`FetchSettings` holds it with the rest of the pool's
behaviour. Both are built once (by the CLI, or by a caller of the Python API) and passed
whole down to the pool; nothing below re-declares a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ..errors import UsageError
from ..layers import LIVE_RATE_PER_MINUTE

#: retries of one tile after 5xx, timeouts, dropped connections and bad bodies: with the
#: doubling back-off from 0.5 s (capped at 30 s) six retries span about half a minute, long
#: enough for an API that restarts, short enough that a broken tile is reported in one run
DEFAULT_MAX_RETRIES = 6


@dataclass(frozen=True)
class RatePolicy:
    """Requests allowed per window, and the pacing and back-off around that allowance.

    Parameters
    ----------
    per_minute
        Requests a minute never to exceed: 600 for live OS projects, 50 in development
        mode; ``None`` paces nothing (a self-hosted source) but still pauses on 429.
    window_s
        The server's accounting window (60 s for the OS API); it holds
        ``per_minute × window_s / 60`` requests. A window too short to hold one request
        is counted as a minute.
    margin
        Fraction by which the even spacing is stretched, so timing jitter between client
        and server does not read as a burst.
    warmup, warmup_margin
        The first ``warmup`` grants are spaced ``warmup_margin`` wider: new connections
        and a cold server add the most jitter at the start.
    base_backoff_s, max_backoff_s
        Pause after a 429 without ``Retry-After``: ``base × 2**(streak-1)`` (default base
        ``window / 30``), capped at ``max_backoff_s`` (default ``window / 4``) and at what
        remains of the window since the streak's first 429, times a random factor in [0.5, 1).
    max_slowdown
        A 429 episode doubles the spacing, up to this factor; each success halves the extra.
    max_retry_after_s
        The longest ``Retry-After`` obeyed; a longer one stops the fetch rather than wait silently.
    shared_budget
        Book every paced request on the machine's ledger for this key and API (see
        :mod:`ospack.fetch.ledger`), so concurrent runs with one key keep to one budget together.
        False for an API behind a proxy with its own limit, or an emulator of the run's own.
    auto
        ``--rate auto``: start at ``per_minute`` (the documented limit) and find the rate the
        key is really allowed from the 429s, never above 15 × ``per_minute``
        (see :mod:`ospack.fetch.adaptive`).
    """

    per_minute: int | None = LIVE_RATE_PER_MINUTE
    window_s: float = 60.0
    margin: float = 0.01
    warmup: int = 8
    warmup_margin: float = 0.05
    base_backoff_s: float | None = None
    max_backoff_s: float | None = None
    max_slowdown: float = 2.0
    max_retry_after_s: float = 300.0
    shared_budget: bool = True
    auto: bool = False

    def __post_init__(self) -> None:
        if self.per_minute is not None and self.per_minute < 1:
            raise UsageError(f"rate must be at least 1 request a minute, not {self.per_minute}")
        if self.auto and self.per_minute is None:
            raise UsageError("an adaptive rate needs a documented limit to start from; give per_minute")
        if not self.window_s > 0:
            raise UsageError(f"window must be positive, not {self.window_s}")

    @classmethod
    def unpaced(cls) -> RatePolicy:
        """No pacing: for a self-hosted source or the emulator with a generous limit."""
        return cls(per_minute=None)

    @property
    def allowance(self) -> tuple[int | None, float]:
        """``(requests, seconds)``: at most ``requests`` in any window of ``seconds`` (None: unpaced)."""
        if self.per_minute is None:
            return None, self.window_s
        requests = math.floor(self.per_minute * self.window_s / 60.0 + 1e-9)
        if requests < 1:
            return self.per_minute, 60.0
        return requests, self.window_s


@dataclass(frozen=True)
class FetchSettings:
    """Everything about how tiles are fetched, except where from and with which key.

    Parameters
    ----------
    rate
        The :class:`RatePolicy` every request of the run is paced by.
    workers
        Requests in flight.
    max_retries
        Retries per tile after 5xx, timeouts, connection errors and bad bodies (429s do not
        count: those tiles wait for the pool and are never lost). See :data:`DEFAULT_MAX_RETRIES`.
    timeout_s
        Seconds for connect / read / pool waits of each request.
    retry_backoff_s
        First retry delay; it doubles per retry (capped at 30 s), with jitter.
    protocol
        ``"zxy"`` or ``"wmts"`` (KVP GetTile built from GetCapabilities).
    """

    rate: RatePolicy = field(default_factory=RatePolicy)
    workers: int = 8
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_s: float = 30.0
    retry_backoff_s: float = 0.5
    protocol: Literal["zxy", "wmts"] = "zxy"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"workers must be at least 1, not {self.workers}")
        if self.max_retries < 0:
            raise UsageError(f"max_retries must be 0 or more, not {self.max_retries}")
        if self.protocol not in ("zxy", "wmts"):
            raise UsageError(f"protocol must be 'zxy' or 'wmts', not {self.protocol!r}")
