"""What :func:`ospack.package` checks before its first request, and before it creates or changes a file.

A refusal here costs nothing: no request has been made, and the output is as it was (opening
an existing package for a resume records the asked zooms in it, so it is judged read-only first).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import UsageError, WriterError
from .estimate import check_job_size
from .fetch import Credentials
from .inspect import info
from .writers import JobInfo, read_job


def judge_before_opening(
    output: str | os.PathLike[str],
    job: JobInfo,
    planned: Mapping[str, Mapping[int, int]],
    *,
    overwrite: bool,
    credentials: Credentials | None,
    rate_per_min: float | None,
    allow_huge: bool,
) -> None:
    """Refuse, before ``output`` is created or changed, a run that lacks a key or consent.

    ``planned`` is the job's tile count per layer and zoom. What is already stored is read
    read-only, so a resume is judged by what it still has to fetch, and a complete package
    needs no key. When the output cannot be read read-only (e.g. a journal to roll back),
    opening it for writing recovers it or says what is wrong; the caller judges again once
    the file is open (and checked) in any case, with :func:`ready_to_fetch`.
    """
    total = sum(sum(counts.values()) for counts in planned.values())
    try:
        stored = None if overwrite else read_job(output)
        report = None if stored is None else info(output)
    except WriterError:
        return
    if stored is None or report is None:  # nothing of ours there (or it is to be replaced)
        ready_to_fetch(credentials, total, rate_per_min, output, allow_huge)
        return
    if stored.differences(job):
        return  # opening refuses it and names the differences
    if report.complete and set(job.zooms) <= set(stored.zooms):
        return  # complete: no request, so no key
    held = sum(
        layer.zooms.get(z, 0) + layer.absent.get(z, 0) for layer in report.layers for z in planned.get(layer.name, {})
    )
    ready_to_fetch(credentials, total - held, rate_per_min, output, allow_huge)


def ready_to_fetch(
    credentials: Credentials | None,
    tiles: int,
    rate_per_min: float | None,
    output: str | os.PathLike[str],
    allow_huge: bool,
) -> Credentials:
    """What a run that will make requests needs: a key (returned), and consent when the job is huge."""
    if credentials is None:
        raise UsageError("no API key: set OS_API_KEY or pass --key-file (or try --demo, which needs none)")
    if not all(c.isprintable() and not c.isspace() for c in credentials.key):  # it goes in a request header
        raise UsageError(
            "the API key holds a space or a control character; copy it again from the OS Data Hub "
            "into OS_API_KEY or --key-file"
        )
    check_job_size(tiles, rate_per_min, output, allow_huge=allow_huge)
    return credentials
