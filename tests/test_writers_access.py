"""Files that cannot be written are found before the first request, and the message says what is wrong.

The checks need a user the permission bits apply to: as root the runs drop to ``nobody``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from test_writers_support import fill, make_job

from ospack import package
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import verify
from ospack.writers import open_writer

SNOWDON = str(Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson")
LAYER, ZOOMS = "Outdoor_27700", "0-8"
NOBODY = 65534


def as_unprivileged_user() -> list[str]:
    """The command prefix that runs a command as ``nobody`` when the tests run as root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no user the permission bits apply to")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def ospack_package(output: Path) -> subprocess.CompletedProcess:
    """``ospack package … --demo`` as a user the file permissions apply to."""
    return subprocess.run(
        [
            *as_unprivileged_user(),
            sys.executable,
            "-m",
            "ospack",
            "package",
            SNOWDON,
            "-o",
            str(output),
            "--layer",
            LAYER,
            "--zoom",
            ZOOMS,
            "--demo",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(output.parent), "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.fixture
def place():
    """A folder outside pytest's private tmp tree, so the unprivileged run can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="ospack-access-"))
    folder.chmod(0o777)
    yield folder
    folder.chmod(0o777)
    shutil.rmtree(folder)


def interrupted(output: Path) -> None:
    stop = threading.Event()
    summary = package(
        SNOWDON,
        output,
        layers=LAYER,
        zooms=ZOOMS,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        progress=lambda snapshot: stop.set(),
        stop_event=stop,
        api=ApiAccess(demo=True),
    )
    assert summary.interrupted and not summary.complete


def owned_by_root(path: Path, mode: int) -> None:
    """Permission bits that make ``path`` read-only for the unprivileged run (root owns it)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the file to another user")
    path.chmod(mode)


def test_a_read_only_file_is_refused_before_any_request(place):
    output = place / "site.gpkg"
    interrupted(output)
    owned_by_root(output, 0o644)
    before = output.read_bytes()
    run = ospack_package(output)
    assert run.returncode == 1
    assert (
        run.stderr.strip() == f"Error: {output} is read-only; make it writable (chmod u+w) or choose another file name"
    )
    assert "planned" not in run.stdout + run.stderr  # stopped before the job started
    assert output.read_bytes() == before


def test_a_read_only_complete_file_is_already_complete(place):
    output = place / "site.gpkg"
    package(
        SNOWDON,
        output,
        layers=LAYER,
        zooms=ZOOMS,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    )
    owned_by_root(output, 0o444)
    place.chmod(0o755)
    run = ospack_package(output)
    assert run.returncode == 0, run.stderr
    assert "already complete" in run.stdout + run.stderr
    assert verify(output).ok


def test_a_writable_file_in_a_read_only_folder_says_the_folder_is_the_problem(place):
    output = place / "site.gpkg"
    interrupted(output)
    owned_by_root(output, 0o666)
    place.chmod(0o755)
    run = ospack_package(output)
    assert run.returncode == 1
    assert f"its folder {place} is not writable, and SQLite needs to create site.gpkg-wal" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_new_file_in_a_read_only_folder(place):
    owned_by_root(place, 0o755)
    run = ospack_package(place / "new.gpkg")
    assert run.returncode == 1
    assert f"cannot create {place / 'new.gpkg'}: its folder {place} is not writable" in run.stderr
    assert not (place / "new.gpkg").exists()


def test_a_copy_taken_mid_job_without_its_wal_is_recognised_and_a_clean_close_is_not(tmp_path):
    job = make_job(LAYER, (6, 7))
    original, usb = tmp_path / "site.gpkg", tmp_path / "usb"
    usb.mkdir()
    copied = usb / "site.gpkg"
    with open_writer(original, job) as writer:
        fill(writer, LAYER, (6,))
        assert Path(f"{original}-wal").stat().st_size > 0  # the batches are in the -wal so far
        shutil.copy(original, copied)  # the .gpkg alone
    warning = (
        f"{copied} is in WAL mode mid-job with no site.gpkg-wal beside it: if it was copied, copy its -wal "
        "with it, which holds the tiles stored last; either way the rerun fetches whatever is missing"
    )
    assert warning in verify(copied).notes
    with open_writer(copied, job) as writer:
        assert writer.notes == [warning]
    with open_writer(original, job) as writer:  # closed cleanly: no -wal, and none missing
        assert writer.notes == []
        reader = sqlite3.connect(original)  # a GIS program still has it open as the run stops
        reader.execute("SELECT count(*) FROM gpkg_contents").fetchone()
    reader.close()
    with open_writer(original, job) as writer:
        assert writer.notes == []
        fill(writer, LAYER, (7,))
        writer.mark_complete()
    assert verify(original).notes == []


def test_package_says_so_when_resuming_a_copy_without_its_wal(tmp_path):
    original, copied = tmp_path / "site.gpkg", tmp_path / "copy.gpkg"

    def copy_mid_job(snapshot) -> None:
        if not copied.exists():
            shutil.copy(original, copied)

    package(
        SNOWDON,
        original,
        layers=LAYER,
        zooms=ZOOMS,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        progress=copy_mid_job,
        api=ApiAccess(demo=True),
    )
    summary = package(
        SNOWDON,
        copied,
        layers=LAYER,
        zooms=ZOOMS,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    )
    assert summary.complete and verify(copied).ok
    assert f"{copied} is in WAL mode mid-job with no copy.gpkg-wal beside it" in summary.notes[0]


def test_a_file_with_its_wal_in_a_read_only_folder_says_what_sqlite_needs(place):
    output = place / "site.gpkg"
    reader_script = (
        "import sqlite3, sys, os, signal; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        "c.execute('CREATE TABLE t (a)'); c.execute('INSERT INTO t VALUES (1)'); c.commit();"
        "os.unlink(sys.argv[1] + '-shm'); os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", reader_script, str(output)])
    assert Path(f"{output}-wal").stat().st_size and not Path(f"{output}-shm").exists()
    owned_by_root(output, 0o644)
    place.chmod(0o755)
    code = f"from ospack.inspect import verify; print(verify({str(output)!r}).problems)"
    run = subprocess.run([*as_unprivileged_user(), sys.executable, "-c", code], capture_output=True, text=True)
    assert "and SQLite needs to create site.gpkg-shm beside it, but the folder" in run.stdout, run.stdout + run.stderr
