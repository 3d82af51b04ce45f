"""The finishing step: a kill at any instant leaves a file the rerun completes, and a reader holding
the file open (a GIS program, an idle connection) never makes the run fail."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from PIL import Image
from test_writers_support import fill, install_bbox_cover, make_job, query, render_tile

from ospack import package
from ospack.area import Area
from ospack.cover import cover
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import info, verify
from ospack.writers import open_writer

LAYER = "Outdoor_27700"
ZOOM = 9
#: ~10 × 10 km: 546 tiles at zoom 9, ~110 MB of noise images, so VACUUM takes a real while
BIG_BOX = (-4.20, 53.00, -4.05, 53.09)
SNOWDON = Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson"


def noise_png(seed: int) -> bytes:
    """A 256 × 256 PNG that does not compress: ~197 KB."""
    out = io.BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3) if seed >= 0 else bytes(196608)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory) -> Path:
    """An incomplete package with every tile stored, a fifth of them rewritten smaller (a resume that
    re-fetched changed tiles), so a sixth of the file is free pages and the finish runs VACUUM."""
    path = tmp_path_factory.mktemp("finish") / "big.gpkg"
    job = make_job(LAYER, (ZOOM,), box=BIG_BOX)
    tiles = list(cover(Area.from_geojson(job.area_geojson), LAYER, [ZOOM]))
    images = [noise_png(i) for i in range(8)]
    with open_writer(path, job) as writer:
        for start in range(0, len(tiles), 64):
            writer.write(LAYER, [(t, images[i % 8]) for i, t in enumerate(tiles[start : start + 64], start)])
        small = tiles[: len(tiles) // 5]
        writer.write(LAYER, [(t, render_tile(t)) for t in small])
    assert path.stat().st_size > 100e6
    return path


def stored(path: Path) -> list[tuple]:
    return query(path, "SELECT zoom_level, tile_column, tile_row, length(tile_data) FROM outdoor_27700 ORDER BY id")


CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    sys.path.insert(0, {tests!r})
    from ospack.writers import open_writer
    from test_writers_support import make_job
    from test_writers_finish import BIG_BOX, LAYER, ZOOM

    trigger, amount = {trigger!r}, {amount!r}
    path = {path!r}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    writer = open_writer(path, make_job(LAYER, (ZOOM,), box=BIG_BOX))
    conn = writer._conn
    state = {{"seen": 0, "ticks": None}}

    def watch_wal():  # the VACUUM's copy back into the file goes through the WAL
        while True:
            try:
                if os.stat(path + "-wal").st_size > amount:
                    print("killed while the WAL held", os.stat(path + "-wal").st_size, flush=True)
                    die()
            except FileNotFoundError:
                pass
            time.sleep(0.0005)

    def trace(statement):
        if statement.strip() != trigger:
            return
        state["seen"] += 1
        print("reached", trigger, state["seen"], flush=True)
        if trigger == "PRAGMA journal_mode=DELETE" and state["seen"] == amount:
            die()
        if trigger == "VACUUM" and amount > 1000:
            threading.Thread(target=watch_wal, daemon=True).start()
        elif state["ticks"] is None and trigger != "PRAGMA journal_mode=DELETE":
            state["ticks"] = 0

    def progress():
        if state["ticks"] is not None:
            state["ticks"] += 1
            if state["ticks"] >= amount:
                die()
        return 0

    conn.set_trace_callback(trace)
    conn.set_progress_handler(progress, 100)
    note = writer.mark_complete()
    print("finished", note, flush=True)
    if trigger == "after":
        die()
    writer.close()
    """
)

KILLS = {
    "during ANALYZE": ("ANALYZE", 3),
    "during the integrity check": ("PRAGMA integrity_check", 50),
    "as VACUUM copies the tables": ("VACUUM", 20),
    "as VACUUM writes the file back": ("VACUUM", 20_000_000),
    "before the last checkpoint": ("PRAGMA journal_mode=DELETE", 2),
    "after the finish": ("after", 0),
}


@pytest.mark.parametrize("moment", sorted(KILLS))
def test_a_kill_anywhere_in_the_finish_leaves_a_file_the_rerun_completes(unfinished, tmp_path, moment):
    trigger, amount = KILLS[moment]
    path = tmp_path / "big.gpkg"
    shutil.copy(unfinished, path)
    before = stored(path)
    script = CHILD.format(tests=str(Path(__file__).parent), path=str(path), trigger=trigger, amount=amount)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    if trigger != "after":
        assert f"reached {trigger}" in child.stdout, child.stdout
        assert "finished" not in child.stdout
    # readers work on the file as the kill left it: complete, or incomplete and saying so
    assert info(path).layers[0].zooms == {ZOOM: len(before)}
    problems = verify(path).problems
    assert problems == [] or problems[0].startswith("incomplete"), problems
    with open_writer(path, make_job(LAYER, (ZOOM,), box=BIG_BOX)) as writer:
        assert (writer.compact() if writer.complete else writer.mark_complete()) is None
    assert verify(path).ok
    assert stored(path) == before
    assert query(path, "PRAGMA journal_mode") == [("delete",)]
    assert query(path, "PRAGMA freelist_count") == [(0,)]  # compacted
    assert not any(Path(f"{path}{side}").exists() for side in ("-wal", "-shm", "-journal"))
    assert validate_gpkg(str(path), abort_at_first_error=False) == []


HOT_JOURNAL = textwrap.dedent(
    """
    import os, signal, sqlite3
    conn = sqlite3.connect({path!r}, isolation_level=None)
    conn.execute("PRAGMA cache_size=1")  # spill changed pages into the file before the commit
    conn.execute("BEGIN")
    conn.execute("UPDATE outdoor_27700 SET tile_data = zeroblob(3000)")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_hot_journal_left_by_a_killed_writer_is_rolled_back_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "hot.gpkg"
    with open_writer(path, make_job(LAYER, (7,))) as writer:
        fill(writer, LAYER, (7,))
        writer.mark_complete()
    before = query(path, "SELECT tile_data FROM outdoor_27700 ORDER BY id")
    child = subprocess.run([sys.executable, "-c", HOT_JOURNAL.format(path=str(path))], capture_output=True)
    assert child.returncode == -signal.SIGKILL
    journal = Path(f"{path}-journal")
    assert journal.stat().st_size > 0
    install_bbox_cover(monkeypatch)
    assert info(path).complete is True
    assert not journal.exists()
    assert verify(path).ok
    assert query(path, "SELECT tile_data FROM outdoor_27700 ORDER BY id") == before


def test_a_hot_journal_on_a_read_only_file_is_one_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "hot.gpkg"
    with open_writer(path, make_job(LAYER, (7,))) as writer:
        fill(writer, LAYER, (7,))
        writer.mark_complete()
    subprocess.run([sys.executable, "-c", HOT_JOURNAL.format(path=str(path))], capture_output=True)
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # the tests run as root
    report = verify(path)
    assert report.problems == [
        f"{path} has an unfinished transaction in hot.gpkg-journal (a program was stopped while writing it); "
        "SQLite needs write access to the file and its folder to roll it back: make them writable and retry"
    ]


# ---- a reader holding the file when the run ends --------------------------------------------------
def open_reader(kind: str, path: Path, writer=None):
    """A reader of ``path`` as a GIS program or a script would hold it; returns its closer."""
    if kind == "read transaction":
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM outdoor_27700").fetchone()
        return conn.close
    if kind == "idle connection":
        conn = sqlite3.connect(path)
        conn.execute("SELECT count(*) FROM gpkg_contents").fetchone()
        return conn.close
    if kind == "GDAL dataset":  # in its own process, as QGIS is (GDAL links its own SQLite)
        viewer = subprocess.Popen(
            [sys.executable, "-c", GDAL_VIEWER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert viewer.stdout.readline().strip() == "open"

        def close() -> None:
            viewer.stdin.close()
            assert viewer.wait(timeout=30) == 0

        return close
    pending = writer.done(LAYER, 7)  # ospack's own snapshot reader, left unfinished
    next(pending)
    return pending.close


GDAL_VIEWER = textwrap.dedent(
    """
    import sys, rasterio
    with rasterio.open(sys.argv[1]) as dataset:
        dataset.read(1, window=((0, 1), (0, 1)))
        print("open", flush=True)
        sys.stdin.read()
    """
)
READERS = ["read transaction", "idle connection", "GDAL dataset", "unfinished done() iteration"]


@pytest.mark.parametrize("kind", READERS)
def test_a_reader_holding_the_file_does_not_stop_it_being_marked_complete(tmp_path, kind, monkeypatch):
    path = tmp_path / "watched.gpkg"
    with open_writer(path, make_job(LAYER, (6, 7))) as writer:
        fill(writer, LAYER, (6, 7))
        close_reader = open_reader(kind, path, writer)
        try:
            note = writer.mark_complete()
            assert writer.complete
            assert query(path, "SELECT value FROM ospack_state WHERE name = 'complete'") == [("1",)]
        finally:
            close_reader()
    assert note == (
        f"{path} is complete, but another program has it open, so it stays in WAL mode with watched.gpkg-wal "
        "and watched.gpkg-shm beside it (copy all three together); close that program and run the same "
        "command again to fold them into one file"
    )
    install_bbox_cover(monkeypatch)
    assert verify(path).ok
    with open_writer(path, make_job(LAYER, (6, 7))) as writer:  # the rerun the note asks for
        assert writer.complete and writer.compact() is None
    assert query(path, "PRAGMA journal_mode") == [("delete",)]
    assert not Path(f"{path}-wal").exists()
    assert validate_gpkg(str(path), abort_at_first_error=False) == []


@pytest.mark.parametrize("kind", ["read transaction", "GDAL dataset"])
def test_package_succeeds_while_a_gis_program_has_the_file_open(tmp_path, kind):
    output = tmp_path / "site.gpkg"
    readers = []
    announced = []

    def on_progress(snapshot):
        if not readers:  # the file exists from the first tile on: QGIS opens it while it downloads
            readers.append(open_reader(kind, output))

    try:
        summary = package(
            SNOWDON,
            output,
            layers=LAYER,
            zooms="0-8",
            settings=FetchSettings(rate=RatePolicy.unpaced()),
            progress=on_progress,
            announce=announced.append,
            api=ApiAccess(demo=True),
        )
        assert readers, "the reader never opened"
        assert summary.complete and summary.tiles_failed == 0
        assert query(output, "SELECT value FROM ospack_state WHERE name = 'complete'") == [("1",)]
    finally:
        for close in readers:
            close()
    assert any("another program has it open" in line for line in summary.notes)
    assert announced[-1] == summary.notes[-1] and "done()" not in announced[-1]
    assert verify(output).ok
    rerun = package(SNOWDON, output, layers=LAYER, zooms="0-8", api=ApiAccess(demo=True))
    assert rerun.already_complete and not any("another program" in n for n in rerun.notes)
    assert query(output, "PRAGMA journal_mode") == [("delete",)]


def test_short_of_space_for_vacuum_the_file_is_complete_and_the_note_says_how_much(tmp_path, monkeypatch):
    path = tmp_path / "full.gpkg"
    with open_writer(path, make_job(LAYER, (7,))) as writer:
        tiles = fill(writer, LAYER, (7,))[7]
        writer.write(LAYER, [(t, noise_png(i)) for i, t in enumerate(tiles)])
        writer.write(LAYER, [(t, render_tile(t)) for t in tiles])  # frees the noise images' pages
        free = shutil.disk_usage(tmp_path)
        monkeypatch.setattr(shutil, "disk_usage", lambda folder: free._replace(free=50_000))
        note = writer.mark_complete()
        assert writer.complete
    assert note.startswith(f"{path} is complete but was not compacted: that needs ")
    assert "MB free in" in note and "which has 0.1 MB; free some space and run the same command again" in note
    assert query(path, "PRAGMA journal_mode") == [("delete",)]  # one file, just not compacted
    monkeypatch.undo()
    with open_writer(path, make_job(LAYER, (7,))) as writer:
        assert writer.compact() is None
    assert query(path, "PRAGMA freelist_count") == [(0,)]


def test_an_mbtiles_file_held_by_a_reader_is_marked_complete(tmp_path):
    path = tmp_path / "watched.mbtiles"
    with open_writer(path, make_job("Road_3857", (12,))) as writer:
        fill(writer, "Road_3857", (12,))
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM tiles").fetchone()
        try:
            assert "another program has it open" in writer.mark_complete()
        finally:
            reader.close()
        assert writer.compact() is None
    assert query(path, "SELECT value FROM ospack_state WHERE name = 'complete'") == [("1",)]
    assert query(path, "PRAGMA journal_mode") == [("delete",)]
