"""The progress line of ``ospack package``: what it says while the fetch runs and while it waits."""

from __future__ import annotations

from dataclasses import replace

from ospack.cli.progress import ProgressPrinter
from ospack.summary import Progress

RUNNING = Progress(
    layer="Outdoor_27700",
    done=10,
    total=100,
    written=10,
    absent=0,
    failed=0,
    requests=12,
    retries=2,
    rate_limited=1,
    elapsed_s=2.0,
    rate_per_min=300.0,
)
WHY = "rate limited (HTTP 429): the key's allowance is spent, perhaps by another app using the same key"


def test_a_pause_is_shown_at_once_with_its_reason_and_time_left(capsys):
    printer = ProgressPrinter()
    printer.tty = False  # a line every 10 s off a terminal …
    printer.update(RUNNING)
    printer.update(replace(RUNNING, done=11, paused_s=12.4, pause_reason=WHY))  # … but a pause is news now
    printer.update(replace(RUNNING, done=12, paused_s=11.0, pause_reason=WHY))  # still paused: no new line
    printer.update(replace(RUNNING, done=13))  # and so is the end of it
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert "PAUSED" not in lines[0]
    assert lines[1].endswith(f"PAUSED 13s: {WHY}") and "11/100 tiles" in lines[1]
    assert "PAUSED" not in lines[2] and "13/100 tiles" in lines[2]


def test_a_quiet_printer_prints_nothing(capsys):
    ProgressPrinter(enabled=False).update(replace(RUNNING, paused_s=3.0, pause_reason=WHY))
    assert capsys.readouterr().err == ""
