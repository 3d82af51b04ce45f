"""Progress lines of ``ospack package``: what a run is doing, how fast, and what it waits for. Never shows a key.

:func:`progress_line` makes the text from a :class:`~ospack.summary.Progress`; :class:`ProgressPrinter`
decides when to print it: a line rewritten in place on a terminal, a line every few seconds
elsewhere (a CI log, ``nohup``), whatever the pace of the tiles.
"""

from __future__ import annotations

import math
import shutil
import sys

import click

from ..clock import Clock, MonotonicClock
from ..summary import Progress
from ..summary_text import counted, duration_text
from ..summary_text import summary_text as summary_text  # callers should use PackageSummary.to_text()

#: seconds between two lines: rewritten this often on a terminal …
TTY_EVERY_S = 0.2
#: … and printed this often elsewhere, where each line stays in the log
LOG_EVERY_S = 5.0


def progress_line(p: Progress) -> str:
    """The progress line for ``p``: tiles stored or absent of those to fetch, rate, ETA, what the run waits for.

    What it waits for comes before the counters, so a terminal too narrow for the whole line still shows it.
    """
    if p.layer_count > 1:
        head = (
            f"{p.all_done - p.all_failed:,}/{counted(p.all_total, 'tile')}, "
            f"layer {p.layer_number}/{p.layer_count} {p.layer} {p.done - p.failed:,}/{p.total:,}"
        )
    else:
        head = f"{p.layer}: {p.done - p.failed:,}/{counted(p.total, 'tile')}"
    if p.site_count > 1 and p.batch_total is not None:
        head = (
            f"site {p.site_number}/{p.site_count} {p.site}, "
            f"{p.batch_done or 0:,}/{counted(p.batch_total, 'tile')} in the batch; {head}"
        )
    rate = f"{p.rate_per_min:,.0f} tiles/min" if p.rate_per_min > 0 else "rate --"
    parts = [head, rate, f"ETA {duration_text(p.eta_s)}"]
    if p.paused_s > 0:
        parts.append(f"paused {math.ceil(p.paused_s)} s: {p.pause_reason}")
    if p.retrying:
        parts.append(f"retrying {counted(p.retrying, 'tile')} in {math.ceil(p.retry_s)} s after {p.retry_reason}")
    if p.all_failed:
        parts.append(f"{p.all_failed:,} failed")
    if p.retries:
        after = f" ({p.rate_limited:,} after 429)" if p.rate_limited else ""
        parts.append(f"{counted(p.retries, 'retry')}{after}")
    return "  ".join(parts)


def _waits_for(p: Progress) -> tuple[bool, bool]:
    return p.paused_s > 0, p.retrying > 0


class ProgressPrinter:
    """Writes progress to stderr: one rewritten line on a terminal, a line every ``LOG_EVERY_S`` otherwise.

    A pause or a retry starting or ending, and a layer finishing, are news at once. The fetch
    calls :meth:`update` with each tile and about once a second besides, so a paused run's
    line keeps counting the pause down.
    """

    def __init__(
        self, enabled: bool = True, *, clock: Clock | None = None, tty: bool | None = None, every_s: float | None = None
    ) -> None:
        self.enabled = enabled
        self.clock = clock or MonotonicClock()
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._every_s = every_s
        self.last = -math.inf
        self.width = 0
        self.waiting = (False, False)
        self.finished: tuple[str | None, str, int] | None = None

    @property
    def every_s(self) -> float:
        """Seconds between lines, unless there is news."""
        return self._every_s or (TTY_EVERY_S if self.tty else LOG_EVERY_S)

    def announce(self, message: str) -> None:
        if self.enabled:
            self._clear()
            click.echo(message, err=True)

    def update(self, p: Progress) -> None:
        if not self.enabled:
            return
        now, waiting = self.clock.now(), _waits_for(p)
        finished = (p.site, p.layer, p.layer_number) if p.done >= p.total else None
        news = waiting != self.waiting or (finished is not None and finished != self.finished)
        if now - self.last < self.every_s and not news:
            return
        self.last, self.waiting, self.finished = now, waiting, finished or self.finished
        line = progress_line(p)
        if self.tty:
            columns = shutil.get_terminal_size().columns - 1  # a wrapped line could not be rewritten
            line = line if len(line) <= columns else line[: columns - 1] + "…"
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
