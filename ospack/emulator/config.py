"""The emulator's settings as one validated, immutable value (:class:`EmulatorConfig`).

Pure: no I/O. The CLI's text forms (``KEY:premium:dev``, ``KEY=SECRET``, ``NAME=P``) are read here.
Every bad value raises :class:`~ospack.errors.EmulatorOptionError` with one line
saying what is wrong and what to write instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import EmulatorOptionError
from ..layers import DEVELOPMENT_RATE_PER_MINUTE, LIVE_RATE_PER_MINUTE

PLANS = ("opendata", "premium")
MODES = ("live", "dev")
#: requests per minute per API per project, by mode (docs.os.uk/os-apis/core-concepts/rate-limiting-policy)
MODE_RATES = {"live": LIVE_RATE_PER_MINUTE, "dev": DEVELOPMENT_RATE_PER_MINUTE}
ENFORCEMENTS = ("sliding", "fixed", "spike")
#: fault names in the order a request's one random draw is matched against them
FAULT_NAMES = ("500", "503", "reset", "slow", "truncate", "corrupt", "html200", "burst429")

#: spike arrest's default reading tolerance, in seconds (see ``EmulatorConfig.spike_tolerance``): the
#: emulator reads arrival times off its event loop, which on a busy 2-core machine runs a few
#: milliseconds late now and then; a real gateway sees network jitter of the same order
SPIKE_TOLERANCE_S = 0.002

_MODE_ALIASES = {"live": "live", "dev": "dev", "development": "dev"}


@dataclass(frozen=True)
class KeySpec:
    """One API key of an emulated OS Data Hub project.

    Parameters
    ----------
    key : str
        The key string clients send.
    plan : str
        ``"opendata"`` (premium zooms refused) or ``"premium"``.
    mode : str
        ``"live"`` (600 requests/min) or ``"dev"`` (50 requests/min).
    """

    key: str
    plan: str = "opendata"
    mode: str = "live"

    def __post_init__(self) -> None:
        if not self.key or any(c in self.key for c in ":=&# \t\r\n"):
            raise EmulatorOptionError("an emulator key must be non-empty without ':', '=', '&', '#' or spaces")
        if self.plan not in PLANS:
            raise EmulatorOptionError(f"unknown plan {self.plan!r}; use opendata or premium")
        if self.mode not in MODES:
            raise EmulatorOptionError(f"unknown mode {self.mode!r}; use live or dev")

    @property
    def premium(self) -> bool:
        """True where the key may fetch premium zooms."""
        return self.plan == "premium"


def parse_key_spec(text: str | KeySpec) -> KeySpec:
    """Read ``KEY[:opendata|premium][:live|dev]`` (either order after the key) into a KeySpec."""
    if isinstance(text, KeySpec):
        return text
    key, *words = text.split(":")
    plan, mode = "opendata", "live"
    for word in words:
        low = word.strip().lower()
        if low in PLANS:
            plan = low
        elif low in _MODE_ALIASES:
            mode = _MODE_ALIASES[low]
        else:
            raise EmulatorOptionError(f"cannot read key option {word!r}; write KEY[:opendata|premium][:live|dev]")
    return KeySpec(key, plan, mode)


def parse_assignment(text: str, what: str) -> tuple[str, str]:
    """Split ``NAME=VALUE`` (for --secret and --fault)."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        shown = "" if what == "secret" else f" {text!r}"  # a malformed secret may still be a secret
        form = "KEY=SECRET" if what == "secret" else "NAME=VALUE"
        raise EmulatorOptionError(f"cannot read {what}{shown}; write {form}")
    return name, value


def parse_faults(faults: Mapping[str, float] | Iterable[str] | None) -> dict[str, float]:
    """Validate fault probabilities (a mapping, or ``NAME=P`` strings), in FAULT_NAMES order."""
    if faults is None:
        return {}
    items: Iterable[tuple[str, object]]
    if isinstance(faults, Mapping):
        items = faults.items()
    else:
        items = (parse_assignment(text, "fault") for text in faults)
    chosen: dict[str, float] = {}
    for name, raw in items:
        name = str(name)
        if name not in FAULT_NAMES:
            raise EmulatorOptionError(f"unknown fault {name!r}; choose from {', '.join(FAULT_NAMES)}")
        try:
            if not isinstance(raw, (int, float, str)):
                raise ValueError(raw)
            probability = float(raw)
        except ValueError:
            raise EmulatorOptionError(f"fault {name} probability {raw!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise EmulatorOptionError(f"fault {name} probability {probability} must be between 0 and 1")
        chosen[name] = probability
    if sum(chosen.values()) > 1.0 + 1e-9:
        raise EmulatorOptionError("fault probabilities add up to more than 1; lower some of them")
    return {name: chosen[name] for name in FAULT_NAMES if chosen.get(name)}


@dataclass(frozen=True)
class QuotaPolicy:
    """How many requests a key may make per API, and how that is enforced.

    ``per_minute`` requests per 60 s is the rate; ``window`` seconds is the accounting
    period, which holds ``per_minute * window / 60`` requests (the same rate).
    """

    per_minute: float
    window: float
    enforce: str
    spike_tolerance: float = SPIKE_TOLERANCE_S

    @property
    def allowance(self) -> int:
        """Requests allowed in one window (sliding or fixed)."""
        return math.floor(self.per_minute * self.window / 60.0 + 1e-9)

    @property
    def interval(self) -> float:
        """Spike arrest: the least spacing between two accepted requests, in seconds."""
        return 60.0 / self.per_minute


#: the key an emulator serves when none is given: OpenData, live
DEFAULT_KEYS = (KeySpec("demo"),)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator's behaviour depends on, validated once on construction.

    Built alike by ``ospack emulator`` (from its options) and by Python code
    (``Emulator(EmulatorConfig(...))``, or ``Emulator(**fields)``); change a copy with
    :func:`dataclasses.replace`. Every bad value raises
    :class:`~ospack.errors.EmulatorOptionError` naming the option and what to write.

    Parameters
    ----------
    keys : tuple of KeySpec
        The project's API keys; ``KEY[:opendata|premium][:live|dev]`` strings are read into KeySpecs.
    enforce : {"sliding", "fixed", "spike"}
        How the per-minute limit is enforced.
    limit : float, optional
        Requests per minute per key per API, overriding the keys' modes (600 live, 50 dev).
    window : float
        Accounting period in seconds; it holds ``rate * window / 60`` requests.
    retry_after : float, optional
        Seconds to send in ``Retry-After`` on 429 (default: no header, like OS).
    premium_status : {401, 403}
        Status for a premium zoom asked for with an OpenData key.
    secrets : mapping of key → secret
        OAuth2 client secrets (``KEY=SECRET`` strings are read too); a key without one cannot get tokens.
    token_ttl : float
        Lifetime of OAuth2 access tokens in seconds (``expires_in``).
    faults : mapping of name → probability
        Names from ``FAULT_NAMES`` (``NAME=P`` strings are read too): 500, 503, reset, slow,
        truncate, corrupt, html200, burst429.
    seed : int
        Seed of the fault sequence.
    slow_seconds : float
        Delay of a ``slow`` fault.
    zxy_error_status, wmts_error_status : {400, 404}
        Status for an unknown layer or an out-of-range zoom/column/row.
    wmts_error_format : {"ows", "json"}
        Body of WMTS errors: OWS ExceptionReport or the gateway's JSON fault.
    burst_seconds : float, optional
        Length of a ``burst429`` spell, in which another consumer of the key takes its whole
        budget (default: a third of ``window``).
    strict_style : bool
        Refuse a WMTS ``style`` other than ``default`` with 400 (default: accept any).
    spike_tolerance : float
        Spike arrest: how much earlier than ``60 / rate`` s after the last accepted request a
        request may be read and still be accepted (default 2 ms, at most a tenth of that
        interval). It stands for the network's and the machine's timing noise: a loaded
        test machine may need more, to judge the client's pacing rather than its own scheduler.
    """

    keys: tuple[KeySpec, ...] = DEFAULT_KEYS
    enforce: str = "sliding"
    limit: float | None = None
    window: float = 60.0
    retry_after: float | None = None
    premium_status: int = 401
    secrets: Mapping[str, str] = field(default_factory=dict)
    token_ttl: float = 299.0
    faults: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 2.0
    zxy_error_status: int = 404
    wmts_error_status: int = 404
    wmts_error_format: str = "ows"
    burst_seconds: float | None = None
    strict_style: bool = False
    spike_tolerance: float = SPIKE_TOLERANCE_S

    def __post_init__(self) -> None:
        # frozen: the validated, normalised values replace what was given, once, here
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        specs = tuple(parse_key_spec(k) for k in self.keys)
        if not specs:
            raise EmulatorOptionError("the emulator needs at least one key")
        names = [spec.key for spec in specs]
        if len(set(names)) != len(names):
            raise EmulatorOptionError("a key is given twice; give each --key once")
        put("keys", specs)
        if self.enforce not in ENFORCEMENTS:
            raise EmulatorOptionError(f"unknown enforcement {self.enforce!r}; choose sliding, fixed or spike")
        if self.limit is not None:
            put("limit", _number(self.limit, "--limit", "a positive number of requests per minute", positive=True))
        put("window", _number(self.window, "--window", "a positive number of seconds", positive=True))
        if self.retry_after is not None:
            put("retry_after", _number(self.retry_after, "--retry-after", "zero or more seconds"))
        if self.premium_status not in (401, 403):
            raise EmulatorOptionError(f"--premium-status must be 401 or 403, not {self.premium_status}")
        put("token_ttl", _number(self.token_ttl, "--token-ttl", "a positive number of seconds", positive=True))
        if self.zxy_error_status not in (400, 404) or self.wmts_error_status not in (400, 404):
            raise EmulatorOptionError("out-of-range error statuses must be 400 or 404")
        if self.wmts_error_format not in ("ows", "json"):
            raise EmulatorOptionError("wmts_error_format must be 'ows' or 'json'")
        put("slow_seconds", _number(self.slow_seconds, "slow_seconds", "zero or more seconds"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise EmulatorOptionError(f"--seed must be a whole number, not {self.seed!r}")
        if self.burst_seconds is not None:
            put(
                "burst_seconds",
                _number(self.burst_seconds, "burst_seconds", "a positive number of seconds", positive=True),
            )
        secrets = parse_secrets(self.secrets)
        if any(key not in names for key in secrets):
            raise EmulatorOptionError("a --secret names a key that is not configured; add it with --key")
        put("secrets", MappingProxyType(secrets))
        put("faults", MappingProxyType(parse_faults(self.faults)))
        put("strict_style", bool(self.strict_style))
        put("spike_tolerance", _number(self.spike_tolerance, "--spike-tolerance", "zero or more seconds"))
        for spec in specs:
            if self.enforce != "spike" and self.quota_policy(spec).allowance < 1:
                raise EmulatorOptionError(
                    f"a {self.window:g} s window holds less than one request at the {spec.mode} rate; "
                    "lengthen --window or raise --limit"
                )

    @property
    def spell_seconds(self) -> float:
        """How long a ``burst429`` spell keeps the key's budget spent (default a third of the window)."""
        return self.window / 3 if self.burst_seconds is None else self.burst_seconds

    def quota_policy(self, spec: KeySpec) -> QuotaPolicy:
        """The quota of one key: --limit, else its mode's rate."""
        per_minute = self.limit if self.limit is not None else MODE_RATES[spec.mode]
        return QuotaPolicy(float(per_minute), self.window, self.enforce, self.spike_tolerance)


#: the largest number of seconds or requests per minute a setting may have: beyond it,
#: arithmetic on clocks and windows overflows (a year is far more than any test needs)
MAX_SETTING = 366 * 86400.0


def _number(value: object, name: str, what: str, *, positive: bool = False) -> float:
    """``value`` as a finite float within range, or an EmulatorOptionError naming the option."""
    try:
        if not isinstance(value, (int, float, str)):
            raise TypeError(value)
        number = float(value)
    except (TypeError, ValueError):
        raise EmulatorOptionError(f"{name} must be {what}, not {value!r}") from None
    low_ok = number > 0 if positive else number >= 0
    if not (math.isfinite(number) and low_ok and number <= MAX_SETTING):
        raise EmulatorOptionError(f"{name} must be {what} (at most {MAX_SETTING:g}), not {value}")
    return number


def check_port(port: object) -> int:
    """A TCP port to listen on (0 picks a free one), or an EmulatorOptionError."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise EmulatorOptionError(f"--port must be a whole number from 0 to 65535 (0 picks a free one), not {port!r}")
    return port


def parse_secrets(secrets: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """Read OAuth2 client secrets (a mapping, or ``KEY=SECRET`` strings) into a dict."""
    if secrets is None:
        return {}
    if isinstance(secrets, Mapping):
        return {str(k): str(v) for k, v in secrets.items()}
    return dict(parse_assignment(text, "secret") for text in secrets)
