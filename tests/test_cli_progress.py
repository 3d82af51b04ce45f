"""The progress line of ``ospack package``: what it says while the fetch runs and while it waits, and when."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ospack.cli.progress import LOG_EVERY_S, ProgressPrinter, progress_line
from ospack.summary import Progress
from ospack.testing import FakeClock

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


def test_the_line_of_a_running_layer():
    assert progress_line(RUNNING) == "Outdoor_27700: 10/100 tiles  300 tiles/min  ETA 0m18s  2 retries (1 after 429)"
    first = replace(RUNNING, done=1, total=1_234, written=1, retries=1, rate_limited=0, rate_per_min=0.0)
    assert progress_line(first) == "Outdoor_27700: 1/1,234 tiles  rate --  ETA --  1 retry"  # no measure yet
    assert progress_line(replace(first, total=1, retries=0)) == "Outdoor_27700: 1/1 tile  rate --  ETA 0m00s"


def test_failed_tiles_are_counted_apart_not_as_progress():
    line = progress_line(replace(RUNNING, done=10, written=4, failed=6, retries=0))
    assert line.startswith("Outdoor_27700: 4/100 tiles") and line.endswith("6 failed")


def test_a_pause_says_why_counts_down_and_is_in_the_eta():
    line = progress_line(replace(RUNNING, paused_s=41.2, pause_reason=WHY))
    assert line.endswith(f"paused 42 s: {WHY}  2 retries (1 after 429)")
    assert "ETA 0m59s" in line  # 41.2 s of pause, then 90 tiles at 300/min


def test_a_retry_back_off_says_after_what():
    line = progress_line(replace(RUNNING, retrying=1, retry_s=7.3, retry_reason="HTTP 503"))
    assert line.endswith("retrying 1 tile in 8 s after HTTP 503  2 retries (1 after 429)")
    near_the_end = replace(RUNNING, done=98, retrying=2, retry_s=7.3, retry_reason="HTTP 503")
    assert "ETA 0m07s" in progress_line(near_the_end)  # the last tiles wait for their retry, not 0m00s
    assert "retrying 2 tiles in 8 s after HTTP 503" in progress_line(near_the_end)


def test_several_layers_show_the_run_and_the_current_layer():
    second = replace(
        RUNNING, layer="Road_27700", layer_number=2, layer_count=3, run_done=110, run_failed=0, run_total=300
    )
    line = progress_line(second)
    assert line.startswith("110/300 tiles, layer 2/3 Road_27700 10/100  300 tiles/min")
    assert "ETA 0m38s" in line  # the run's 190 tiles left, not the layer's 90


def lines(capsys):
    return capsys.readouterr().err.splitlines()


def test_off_a_terminal_a_line_every_few_seconds_of_time_not_per_tiles(capsys):
    clock = FakeClock()
    printer = ProgressPrinter(clock=clock, tty=False)
    for done in range(1, 91):  # 90 tiles over 22.5 s: a line each 5 s …
        printer.update(replace(RUNNING, done=done))
        clock.advance(0.25)
    assert [line.split()[1] for line in lines(capsys)] == ["1/100", "21/100", "41/100", "61/100", "81/100"]
    for _ in range(12):  # … and a slow run (no tile for 12 s) still gets one each 5 s
        clock.advance(1.0)
        printer.update(replace(RUNNING, done=90))
    assert len(lines(capsys)) == 12 // LOG_EVERY_S


def test_a_pause_is_news_at_once_and_counts_down_while_nothing_arrives(capsys):
    clock = FakeClock()
    printer = ProgressPrinter(clock=clock, tty=False)
    printer.update(RUNNING)
    for left in range(30, 0, -1):  # the fetch's ticks, once a second, while no tile arrives
        printer.update(replace(RUNNING, paused_s=left - 0.5, pause_reason=WHY))
        clock.advance(1.0)
    printer.update(replace(RUNNING, done=11))  # the end of the pause is news too
    said = lines(capsys)
    assert "paused" not in said[0] and "paused" not in said[-1]
    assert [line.split("paused ")[1].split(" s:")[0] for line in said[1:-1]] == ["30", "25", "20", "15", "10", "5"]


def test_a_layer_finishing_is_printed(capsys):
    printer = ProgressPrinter(clock=FakeClock(), tty=False)
    printer.update(RUNNING)
    printer.update(replace(RUNNING, done=100))
    printer.update(replace(RUNNING, done=100))
    assert len(lines(capsys)) == 2


def test_on_a_terminal_the_line_is_rewritten_and_fits_the_width(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    clock = FakeClock()
    printer = ProgressPrinter(clock=clock, tty=True)
    printer.update(replace(RUNNING, paused_s=3.0, pause_reason=WHY))
    clock.advance(0.5)
    printer.update(RUNNING)
    printer.close()
    err = capsys.readouterr().err
    assert "\n" not in err
    shown = [part.rstrip() for part in err.split("\r") if part.strip()]
    assert len(shown) == 2 and all(len(line) <= 79 for line in shown)
    assert shown[0].endswith("…") and "ETA 0m21s  paused 3 s: rate limit" in shown[0]  # the why, cut short


@pytest.mark.parametrize("tty", [True, False])
def test_a_quiet_printer_prints_nothing(capsys, tty):
    ProgressPrinter(enabled=False, tty=tty).update(replace(RUNNING, paused_s=3.0, pause_reason=WHY))
    assert capsys.readouterr().err == ""
