"""One ospack run per output: a second run is refused at once, before any request, and a killed
run never blocks the next one."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from test_writers_support import fill, make_job

from ospack.cli import cli
from ospack.errors import WriterError
from ospack.inspect import verify
from ospack.writers import open_writer

LAYER = "Outdoor_27700"
SNOWDON = str(Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson")


def test_a_second_writer_on_the_same_output_is_refused_and_the_lock_goes_with_the_first(tmp_path):
    path = tmp_path / "one.gpkg"
    lock = Path(f"{path}.ospack-lock")
    with open_writer(path, make_job(LAYER, (7,))):
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(WriterError, match=rf"^{path} is in use by another ospack run \(process {os.getpid()}\)"):
            open_writer(path, make_job(LAYER, (7,)))
    assert not lock.exists()  # removed on a clean close
    with open_writer(path, make_job(LAYER, (7,))) as writer:
        fill(writer, LAYER, (7,))
        writer.mark_complete()


@pytest.mark.parametrize("fmt, layer", [("gpkg", LAYER), ("mbtiles", "Road_3857")])
def test_two_runs_started_at_the_same_instant_on_a_new_file(tmp_path, fmt, layer):
    """Before the lock, one of them crashed with 'table gpkg_spatial_ref_sys already exists'."""
    for attempt in range(6):
        path = tmp_path / f"race{attempt}.{fmt}"
        start, done = threading.Barrier(2), threading.Barrier(2)
        outcomes: list[object] = []

        def run(path=path, start=start, done=done, outcomes=outcomes) -> None:
            start.wait()
            try:
                writer = open_writer(path, make_job(layer, (12,) if fmt == "mbtiles" else (7,)))
            except Exception as exc:
                outcomes.append(exc)
                done.wait()
                return
            outcomes.append(writer)
            done.wait()  # hold the file until the other run has tried
            writer.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(outcomes) == 2 and len(errors) == 1, outcomes
        assert isinstance(errors[0], WriterError) and "in use by another ospack run" in str(errors[0])
        with open_writer(path, make_job(layer, (12,) if fmt == "mbtiles" else (7,))) as writer:
            assert not writer.complete  # the winner's file is sound and resumable


def test_a_second_package_run_is_refused_before_any_request_and_a_killed_run_blocks_nothing(
    runner, tmp_path, emulator, make_emulator, ospack_run
):
    output = tmp_path / "shared.gpkg"
    first = ospack_run.package(SNOWDON, output, emulator.url, "--rate", "600", layer=LAYER)
    try:
        ospack_run.wait(first, lambda: emulator.stats()["tiles"] >= 3)
        other = make_emulator(keys=("demo",))  # the second run's own source: it must see no request
        second = runner.invoke(
            cli,
            [
                "package",
                SNOWDON,
                "-o",
                str(output),
                "--layer",
                LAYER,
                "--zoom",
                "0-9",
                "--api-url",
                other.url,
                "--key",
                "demo",
            ],
        )
        assert second.exit_code == 1
        assert f"Error: {output} is in use by another ospack run (process {first.pid})" in second.output
        assert other.stats()["requests"] == 0
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert Path(f"{output}.ospack-lock").exists()  # a killed run leaves its sidecar, but not its lock
    rerun = ospack_run.package(SNOWDON, output, emulator.url, "--rate", "100000", "-q", layer=LAYER)
    _out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert not Path(f"{output}.ospack-lock").exists()
    assert verify(output).ok
