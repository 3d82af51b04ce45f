"""Terminal progress lines of ``ospack package``. Never shows a key."""

from __future__ import annotations

import math
import sys
import time

import click

from ..summary import Progress
from ..summary_text import duration_text
from ..summary_text import summary_text as summary_text  # callers should use PackageSummary.to_text()


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
            f"{p.layer}: {p.done}/{p.total} tiles  {p.rate_per_min:.0f}/min  ETA {duration_text(p.eta_s)}"
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
