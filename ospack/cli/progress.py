"""Terminal progress lines and the text summary of ``ospack package``. Never shows a key."""

from __future__ import annotations

import math
import sys
import time

import click

from ..summary import PackageSummary, Progress


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressPrinter:
    """Writes progress to stderr: one rewritten line on a terminal, a line every 10 s otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0
        self.paused = False

    def announce(self, message: str) -> None:
        if self.enabled:
            self._clear()
            click.echo(message, err=True)

    def update(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        paused = p.paused_s > 0
        # a pause starting or ending is news at once, even off a terminal
        if now - self.last < (0.2 if self.tty else 10.0) and p.done < p.total and paused == self.paused:
            return
        self.last, self.paused = now, paused
        line = (
            f"{p.layer}: {p.done}/{p.total} tiles  {p.rate_per_min:.0f}/min  ETA {_duration(p.eta_s)}"
            f"  retries {p.retries}  429s {p.rate_limited}  failed {p.failed}"
        )
        if paused:
            line += f"  PAUSED {math.ceil(p.paused_s)}s: {p.pause_reason}"
        if self.tty:
            click.echo("\r" + line.ljust(self.width), err=True, nl=False)
            self.width = len(line)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self.tty and self.width:
            click.echo("\r" + " " * self.width + "\r", err=True, nl=False)
            self.width = 0


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
    lines.append(f"  {_duration(s.elapsed_s)} elapsed, {s.achieved_rate_per_min:.0f} requests/min")
    for failure in s.failures[:10]:
        lines.append(f"  failed: {failure}")
    if len(s.failures) > 10:
        lines.append(f"  … and {len(s.failures) - 10} more failures (see --json)")
    return "\n".join(lines)
