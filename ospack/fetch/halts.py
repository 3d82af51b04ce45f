"""Why a fetch stops early, said in the user's terms, and when an unreachable API counts as gone.

Each stop is a reason a rerun alone cannot fix (or not yet): the key or the plan is
refused, the API cannot be reached, it redirects elsewhere, or it asks to wait for
longer than ospack waits. The messages name hosts and paths only, never a key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..errors import AuthError, DownloadError, PremiumError
from ..layers import Layer
from .clock import Clock


class ConnectionWatch:
    """Consecutive failed connections across the whole pool, and when to give up.

    A failure starts a round: the pool waits (back-off) and the next request
    tries again; failures of requests already in flight belong to the same round.
    Before the API has answered once, ``first_attempts`` rounds are enough (the URL
    is probably wrong); once it has answered, ``attempts`` rounds over about
    ``sum(delays)`` seconds (it may be restarting). Any answer resets the count.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        first_attempts: int = 3,
        attempts: int = 5,
        first_delay: float = 0.5,
        delay: float = 1.0,
        max_delay: float = 8.0,
    ) -> None:
        self._clock = clock
        self._first_attempts, self._attempts = first_attempts, attempts
        self._first_delay, self._delay, self._max_delay = first_delay, delay, max_delay
        self.answered_once = False
        self.rounds = 0
        self._round_until = -1.0
        self._first_failure = 0.0

    def answered(self) -> None:
        """The API answered (any status): it is reachable."""
        self.answered_once = True
        self.rounds = 0
        self._round_until = -1.0

    def failed(self) -> float | None:
        """Record a failed connection; the seconds to wait before trying again, or None to give up."""
        now = self._clock.now()
        if now < self._round_until:
            return self._round_until - now
        if self.rounds == 0:
            self._first_failure = now
        self.rounds += 1
        limit = self._attempts if self.answered_once else self._first_attempts
        if self.rounds >= limit:
            return None
        base = self._delay if self.answered_once else self._first_delay
        wait: float = min(self._max_delay, base * 2.0 ** (self.rounds - 1))
        self._round_until = now + wait
        return wait

    def give_up(self, problem: str) -> DownloadError:
        """The error that ends the fetch after the last failed round."""
        spent = self._clock.now() - self._first_failure
        if self.answered_once:
            where, then = "the API went away mid-run", "rerun the same command to resume (what was stored is kept)"
        else:
            where, then = "the API could not be reached", "rerun the same command"
        return DownloadError(
            f"{problem}: {where} ({self.rounds} attempts over {spent:.0f} s); check --api-url and the network, "
            f"then {then}"
        )


def redirect_error(status: int | None, where: str) -> DownloadError:
    """A 3xx is not a tile and not transient: name where it pointed (without a query)."""
    return DownloadError(
        f"the API answered HTTP {status}, a redirect to {where}; ospack does not follow redirects "
        "(they could carry the key elsewhere): check --api-url, or give the address it points to"
    )


def retry_after_error(seconds: float, cap: float, tiles_ok: int) -> DownloadError:
    """A ``Retry-After`` longer than ospack waits: stop, saying when to rerun."""
    when = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%H:%M UTC")
    return DownloadError(
        f"the API is rate limiting this key and asked to wait {_duration(seconds)} (Retry-After), longer than "
        f"ospack waits ({_duration(cap)}); stopped after {tiles_ok} tiles in this run: rerun the same "
        f"command after {when} to resume"
    )


#: Apigee's fault codes for credentials refused (JSON ``errorcode`` or OWS ``exceptionCode``): a 401 on a
#: premium zoom that carries one is a bad key, not a plan without Premium access
_CREDENTIAL_FAULTS = (b"InvalidApiKey", b"FailedToResolveAPIKey", b"InvalidAccessToken", b"access_token_expired")


def refuses_credentials(body: bytes) -> bool:
    """True when a 401/403 body says the key or token itself was refused."""
    return any(code in body for code in _CREDENTIAL_FAULTS)


def auth_refused(status: int, uses_oauth2: bool) -> AuthError:
    """The key (or token) was refused on an open zoom: nothing else will be fetched."""
    how = "the access token (even after renewing it)" if uses_oauth2 else "the API key"
    return AuthError(
        f"the OS Maps API refused {how} (HTTP {status}); check --key (or OS_API_KEY) "
        "and that the project includes the OS Maps API"
    )


def premium_not_allowed(layer: Layer, z: int) -> str:
    """The failure reason of a premium tile asked for without --allow-premium."""
    return f"zoom {z} of {layer.name} is premium (zooms {_premium_zooms(layer)}); pass --allow-premium to fetch it"


def premium_refused(layer: Layer, z: int, status: int, skipped: int) -> PremiumError:
    """The API refused a premium zoom although --allow-premium was given: the plan has no Premium access."""
    return PremiumError(
        f"this project's plan has no Premium access: the API refused zoom {z} of {layer.name} (HTTP {status}), "
        f"so its Premium zooms {_premium_zooms(layer)} were not fetched ({skipped} tiles); the open zooms are "
        f"stored. Ask for zooms {layer.open_zooms.start}-{layer.open_zooms.stop - 1} only, or use the key of a "
        "project with a Premium plan"
    )


def _premium_zooms(layer: Layer) -> str:
    return f"{layer.premium_from}-{layer.max_zoom}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
