"""Where the rate limiter books its request slots: on a schedule of its own, or on one shared by the machine.

The OS limit is per project (per key), so every ospack run on one machine that uses the same
key must keep to one budget together. A :class:`RateLimiter` asks its schedule for the next
slot at or after ``earliest``, ``gap`` seconds clear of the last one booked:
``slot = max(earliest, next_free); next_free = slot + gap``. :class:`LocalSchedule` keeps
``next_free`` in memory; :class:`SharedLedger` keeps it in a small file in the user's cache
directory, read and written under an exclusive ``flock`` for each booking. Runs sharing the
file therefore interleave on one evenly spaced schedule at the total rate, instead of each
pacing itself at the full rate (together over the limit) or at a fraction of it with bursts.

Nothing is leased for longer than a booking: a run killed with SIGKILL leaves at most the
slots its workers had booked ahead (``workers × gap``, under a second at the live rate), or a
pause the server had asked for, and those pass by themselves. The file holds no key: its name
is a salted, deliberately slow hash of the API origin and the key (the salt is a random file
of the user's own, mode 0600, in a directory of mode 0700), so the name neither shows the key
nor lets anyone who sees it test guessed keys cheaply.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from ..errors import DownloadError

T = TypeVar("T")

#: PBKDF2 rounds for a ledger's name: ~30 ms once per run, costly for anyone testing keys against it
_NAME_ROUNDS = 60_000
#: header: magic, boot id, next free slot, discovered rate per minute (0: none), when (wall clock)
_FORMAT = struct.Struct("<8s16sddd")
_MAGIC = b"OSPKRL1\0"
#: no booking is ever this far ahead of now; a ledger that says otherwise is from another boot
_MAX_AHEAD_S = 3600.0


class Schedule(Protocol):
    """Books the limiter's slots (see the module docstring)."""

    def book(self, earliest: float, gap: float) -> float:
        """The slot at or after ``earliest`` and clear of the last booking; the next one is ``gap`` after it."""
        ...

    def remembered_rate(self) -> float | None:
        """The rate ``--rate auto`` last settled at on this schedule (per minute), if any."""
        ...

    def remember_rate(self, per_minute: float) -> None:
        """Keep the rate ``--rate auto`` found, for the next limiter on this schedule to start from."""
        ...


class LocalSchedule:
    """One process's own schedule."""

    def __init__(self) -> None:
        self._next_free = -math.inf
        self._rate: float | None = None

    def book(self, earliest: float, gap: float) -> float:
        slot = max(earliest, self._next_free)
        self._next_free = slot + gap
        return slot

    def remembered_rate(self) -> float | None:
        return self._rate

    def remember_rate(self, per_minute: float) -> None:
        self._rate = per_minute


@dataclass(frozen=True)
class LedgerState:
    """What a ledger file holds."""

    next_free: float = -math.inf
    #: the rate ``--rate auto`` last settled at for this key (requests per minute), or None
    found_rate: float | None = None
    found_at: float = 0.0


def boot_id() -> bytes:
    """16 bytes naming this boot of the machine: the monotonic clock a ledger counts on starts again at boot."""
    try:
        return bytes.fromhex(Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", ""))[:16]
    except (OSError, ValueError):
        # no boot id (not Linux): the ledger's times are checked against _MAX_AHEAD_S only
        return bytes(16)


class SharedLedger:
    """A schedule shared through ``path`` by every process booking on it (times on the machine's monotonic clock).

    Parameters
    ----------
    path
        The ledger file, created (mode 0600) on first use.
    boot
        This boot's id (:func:`boot_id`); a file written in another boot is read as empty.
    """

    def __init__(self, path: Path, *, boot: bytes | None = None) -> None:
        self.path = path
        self.boot = boot_id() if boot is None else boot

    def __repr__(self) -> str:
        return f"SharedLedger({str(self.path)!r})"

    def book(self, earliest: float, gap: float) -> float:
        def take(state: LedgerState) -> tuple[LedgerState, float]:
            slot = max(earliest, state.next_free)
            return LedgerState(slot + gap, state.found_rate, state.found_at), slot

        return self._update(take, now=earliest)

    def read(self) -> LedgerState:
        """The ledger as it stands (empty when there is none yet)."""
        return self._update(lambda state: (state, state), now=-math.inf)

    def remembered_rate(self) -> float | None:
        return self.read().found_rate

    def remember_rate(self, per_minute: float) -> None:
        self._update(lambda state: (LedgerState(state.next_free, per_minute, time.time()), None), now=-math.inf)

    def _update(self, change: Callable[[LedgerState], tuple[LedgerState, T]], *, now: float) -> T:
        import fcntl  # POSIX only, as the package lock is; imported here so the module imports anywhere

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise _unusable(self.path.parent, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state, result = change(self._decode(os.pread(fd, _FORMAT.size, 0), now))
            os.pwrite(fd, self._encode(state), 0)
            return result
        finally:
            os.close(fd)  # closing releases the lock

    def _decode(self, raw: bytes, now: float) -> LedgerState:
        if len(raw) < _FORMAT.size:
            return LedgerState()
        magic, boot, next_free, rate, rate_at = _FORMAT.unpack(raw)
        if magic != _MAGIC:
            return LedgerState()
        found = LedgerState(found_rate=rate if rate > 0 else None, found_at=rate_at)
        if boot != self.boot or next_free > now + _MAX_AHEAD_S:
            return found  # the schedule is another boot's: only the rate found still holds
        return LedgerState(next_free, found.found_rate, found.found_at)

    def _encode(self, state: LedgerState) -> bytes:
        next_free = state.next_free if math.isfinite(state.next_free) else 0.0
        return _FORMAT.pack(_MAGIC, self.boot, next_free, state.found_rate or 0.0, state.found_at)


def cache_dir() -> Path:
    """ospack's cache directory: ``$XDG_CACHE_HOME/ospack``, else ``~/.cache/ospack``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "ospack"


def ledger_for(origin: str, key: str, *, directory: Path | None = None) -> SharedLedger:
    """The shared ledger of ``key`` at the API ``origin`` (in ``cache_dir()/rate`` unless ``directory``).

    Raises
    ------
    DownloadError
        The directory cannot be made or read (a read-only home): the message says how to go on.
    """
    where = directory or cache_dir() / "rate"
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(where, 0o700)  # the ledgers' names are only as private as the salt beside them
        salt = _salt(where)
    except OSError as exc:
        raise _unusable(where, exc) from exc
    name = hashlib.pbkdf2_hmac("sha256", f"{origin}\n{key}".encode(), salt, _NAME_ROUNDS).hex()[:32]
    return SharedLedger(where / f"{name}.ledger")


def _salt(where: Path) -> bytes:
    """The directory's random salt, made once: written aside then linked into place, so no reader sees half of it."""
    path = where / "salt"
    if not path.exists():
        part = where / f"salt.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        try:
            os.link(part, path)
        except FileExistsError:
            pass  # another run made it first: use theirs
        finally:
            part.unlink()
    return path.read_bytes()


def _unusable(where: Path, exc: OSError) -> DownloadError:
    why = exc.strerror or type(exc).__name__
    return DownloadError(
        f"cannot keep the shared rate budget in {where} ({why}); "
        "set XDG_CACHE_HOME to a writable directory, or pass --no-shared-budget"
    )
