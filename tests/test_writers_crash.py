"""kill -9 in the middle of a job: the file stays sound, keeps whole batches only, and resumes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from test_writers_support import make_job, render_tile

from ospack.types import Tile
from ospack.writers import open_writer, read_job
from ospack.writers.access import missing_wal_note

BATCH = 25
ZOOM = 9
CASES = {"gpkg": "Outdoor_27700", "mbtiles": "Road_3857"}

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from ospack.types import Tile
    from ospack.writers import open_writer
    from test_writers_support import make_job, render_tile
    from test_writers_crash import planned
    layer = {layer!r}
    tiles = planned(layer)
    image = render_tile(tiles[0])
    with open_writer({path!r}, make_job(layer, ({zoom},))) as writer:
        for start in range(0, len(tiles), {batch}):
            writer.write(layer, [(t, image) for t in tiles[start:start + {batch}]])
            print(start + {batch}, flush=True)
    print("finished", flush=True)
    """
)


def planned(layer: str) -> list[Tile]:
    """The job's tiles: a block of rows at zoom 9, far more than the child writes before it is killed."""
    base = {"Outdoor_27700": (800, 1000), "Road_3857": (240, 160)}[layer]
    return [Tile(ZOOM, base[0] + x, base[1] + y) for y in range(100) for x in range(100)]


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_sigkill_mid_job_then_resume(tmp_path, fmt):
    layer = CASES[fmt]
    path = tmp_path / f"killed.{fmt}"
    script = CHILD.format(tests=str(Path(__file__).parent), layer=layer, path=str(path), zoom=ZOOM, batch=BATCH)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    reported = 0
    try:
        for line in child.stdout:
            assert line.strip() != "finished", "the child finished before it was killed"
            reported = int(line)
            if reported >= 40 * BATCH:
                os.kill(child.pid, signal.SIGKILL)
                break
        # the child may have committed (and printed) more batches before the signal landed
        for line in child.stdout:
            assert line.strip() != "finished", "the child finished before it was killed"
            reported = int(line)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").exists() and missing_wal_note(path) is None  # the kill leaves its -wal: none lost

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT value FROM ospack_state WHERE name = 'complete'").fetchone() == ("0",)
    conn.close()
    assert read_job(path) == make_job(layer, (ZOOM,))

    tiles = planned(layer)
    with open_writer(path, make_job(layer, (ZOOM,))) as writer:
        assert not writer.complete
        done = list(writer.done(layer, ZOOM))
        # every batch reported committed survived; at most the one in flight is lost or was committed whole
        assert reported <= len(done) <= reported + BATCH and len(done) % BATCH == 0
        assert set(done) == set(tiles[: len(done)])
        remaining = sorted(set(tiles) - set(done), key=lambda t: (t.y, t.x))
        image = render_tile(tiles[0])
        for start in range(0, len(remaining), 500):
            writer.write(layer, [(t, image) for t in remaining[start : start + 500]])
        writer.mark_complete()
        assert writer.tile_counts(layer) == {ZOOM: len(tiles)}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM ospack_state WHERE name = 'complete'").fetchone() == ("1",)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()
    assert not Path(f"{path}-wal").exists()
    if fmt == "gpkg":
        assert validate_gpkg(str(path), abort_at_first_error=False) == []
