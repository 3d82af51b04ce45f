"""The text of a packaging run's summary (:meth:`ospack.summary.PackageSummary.to_text`), and durations
as people read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .summary import PackageSummary

#: failures listed one by one before the rest are counted (``--json`` has them all)
FAILURES_LISTED = 10


def duration_text(seconds: float | None) -> str:
    """``4m05s``, ``2h07m``, or ``--`` when unknown."""
    if seconds is None:
        return "--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def summary_text(s: PackageSummary) -> str:
    """The human summary printed at the end of every run."""
    state = "complete" if s.complete else ("interrupted, rerun to resume" if s.interrupted else "INCOMPLETE")
    lines = [f"{s.output}: {state}{' (demo data from the emulator)' if s.demo else ''}"]
    if s.zooms:
        lines.append("  zoom  written  absent  failed")
        for z, t in sorted(s.zooms.items()):
            lines.append(f"  {z:>4}  {t.written:>7}  {t.absent:>6}  {t.failed:>6}")
    lines.append(
        f"  {s.tiles_written} written, {s.tiles_absent} absent, {s.tiles_failed} failed"
        f" ({s.tiles_already_stored} already stored); {s.requests} requests ({s.premium_requests} premium),"
        f" {s.retries} retries, {s.rate_limited} rate-limited"
    )
    lines.append(f"  {duration_text(s.elapsed_s)} elapsed, {s.achieved_rate_per_min:.0f} requests/min")
    for failure in s.failures[:FAILURES_LISTED]:
        lines.append(f"  failed: {failure}")
    if len(s.failures) > FAILURES_LISTED:
        lines.append(f"  … and {len(s.failures) - FAILURES_LISTED} more failures (see --json)")
    if s.attribution:  # last, where it is read: any map made from the tiles must show it
        lines.append(f"  attribution: {s.attribution}")
    return "\n".join(lines)
