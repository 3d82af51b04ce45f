"""What :func:`ospack.package` checks before its first request, and before it creates a file.

A refusal here costs nothing: no request has been made and no output created or changed.
"""

from __future__ import annotations

import os

from .errors import UsageError, WriterError
from .estimate import check_job_size
from .writers import read_job


def check_demo_options(demo: bool, api_url: str | None, key: str | None, secret: str | None) -> None:
    """``--demo`` brings its own API and key: given with others, one of them would be silently ignored."""
    if demo and (api_url or key or secret):
        raise UsageError(
            "--demo runs against the built-in emulator with its own key; drop --api-url, --key and --secret,"
            " or drop --demo to use them"
        )


def may_hold_a_job(output: str | os.PathLike[str]) -> bool:
    """False only when ``output`` surely holds no ospack job: missing, or a database without one.

    Such an output is judged before it is created or changed. Anything else may be complete
    (no request, no key needed) or hold part of the job, so it is judged once open.
    """
    try:
        return read_job(output) is not None
    except WriterError:  # unreadable read-only (e.g. a journal to roll back): opening it recovers it or says why
        return True


def ready_to_fetch(
    key: str | None, tiles: int, rate_per_min: float | None, output: str | os.PathLike[str], allow_huge: bool
) -> None:
    """What a run that will make requests needs: a key, and consent when the job is huge."""
    if not key:
        raise UsageError("no API key: set OS_API_KEY or pass --key-file (or try --demo, which needs none)")
    check_job_size(tiles, rate_per_min, output, allow_huge=allow_huge)
