"""The text of a packaging run's summary (:meth:`ospack.summary.PackageSummary.to_text`), durations
as people read them, and counts with their nouns (``1 tile``, ``2 tiles``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .fetch.outcome import ZoomCounts, zoom_sum

if TYPE_CHECKING:
    from .summary import PackageSummary

#: failures listed one by one before the rest are counted (``--json`` has them all)
FAILURES_LISTED = 10

#: what "absent" means, where a summary or ``--help`` uses the word
ABSENT_MEANS = (
    "absent: tiles the API has no data for (it answers 400/404, e.g. outside its coverage); "
    "recorded as such, so a rerun does not ask again"
)

_PLURALS = {"retry": "retries", "is": "are", "was": "were"}


def counted(n: int, noun: str) -> str:
    """``1 tile``, ``2 tiles``, ``1,234 retries``: the count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else _PLURALS.get(noun, noun + 's')}"


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
    lines += _table(s.layer_zooms)
    lines.append(
        f"  {s.tiles_written:,} written, {s.tiles_absent:,} absent, {s.tiles_failed:,} failed"
        f" ({s.tiles_already_stored:,} already stored); {counted(s.requests, 'request')}"
        f" ({s.premium_requests:,} premium), {counted(s.retries, 'retry')}, {s.rate_limited:,} rate-limited (429)"
    )
    if s.tiles_absent:
        lines.append(f"  {ABSENT_MEANS}")
    lines.append(f"  {duration_text(s.elapsed_s)} elapsed, {s.achieved_rate_per_min:.0f} requests/min")
    if s.discovered_rate_per_min is not None:
        how = "settled at" if s.rate_limited else "no 429 seen: the limit is at least"
        lines.append(f"  --rate auto: {how} {s.discovered_rate_per_min:.0f} requests/min")
    for failure in s.failures[:FAILURES_LISTED]:
        lines.append(f"  failed: {failure}")
    if len(s.failures) > FAILURES_LISTED:
        lines.append(f"  … and {counted(len(s.failures) - FAILURES_LISTED, 'more failure')} (see --json)")
    if s.attribution:  # last, where it is read: any map made from the tiles must show it
        lines.append(f"  attribution: {s.attribution}")
    return "\n".join(lines)


def _table(layers: dict[str, dict[int, ZoomCounts]]) -> list[str]:
    """Per zoom written / absent / failed; with several layers, a column for the layer and a total row each."""
    if not any(layers.values()):
        return []
    if len(layers) == 1:
        (zooms,) = layers.values()
        return ["  zoom  written  absent  failed", *(_row("", z, c) for z, c in sorted(zooms.items()))]
    width = max(len("layer"), *map(len, layers))
    lines = [f"  {'layer':<{width}}  zoom  written  absent  failed"]
    for name, zooms in layers.items():
        lines += [_row(f"{name:<{width}}  ", z, c) for z, c in sorted(zooms.items())]
        lines.append(_row(f"{name:<{width}}  ", "all", zoom_sum(zooms)))
    return lines


def _row(prefix: str, zoom: int | str, c: ZoomCounts) -> str:
    return f"  {prefix}{zoom:>4}  {c.written:>7,}  {c.absent:>6,}  {c.failed:>6,}"
