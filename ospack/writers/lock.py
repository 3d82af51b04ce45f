"""One ospack run per output at a time: an OS lock on a sidecar file ``OUTPUT.ospack-lock``.

``flock`` dies with the process, so a run that was killed never blocks the next one. The lock is
taken on a sidecar rather than the database because SQLite's own locks are POSIX locks on the
database file, and closing any other descriptor of that file in this process would drop them
(sqlite.org/howtocorrupt.html §2.2); on NFS, flock is emulated with those same POSIX locks.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import WriterError
from .access import side_file

SUFFIX = ".ospack-lock"


def _holder(fd: int) -> str:
    """The run holding the lock, as the sidecar names it."""
    pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return f"another ospack run{f' (process {pid})' if pid.isdigit() else ''}"


def writing_run(path: Path) -> str | None:
    """Says which ospack run holds ``path``'s lock now (so its file is being written), or None.

    The probe is a shared lock taken and dropped at once; a run starting in that instant would
    be refused as "in use", a window of microseconds.
    """
    try:
        fd = os.open(side_file(path, SUFFIX), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"being written by {_holder(fd)} now"
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the probe's lock
    return None


class OutputLock:
    """The claim of this run on ``path``; :meth:`release` (or process death) gives it up."""

    def __init__(self, path: Path):
        self.path = path
        self.lock_path = side_file(path, SUFFIX)  # beside the file itself: a symlink to it shares the lock
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once, or raise WriterError naming the run that holds it.

        Where the sidecar cannot be created (a read-only folder) no lock is taken: this run
        cannot write there either, and says so when it tries.
        """
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise WriterError(
                    f"{self.path} is in use by {holder}; wait for it to finish or stop it, or choose another file name"
                ) from None
            # a run that was finishing may have removed the sidecar between our open and our lock
            try:
                current = os.stat(self.lock_path)
                locked = os.fstat(fd)
                same = (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the sidecar and give up the lock (in that order, so nobody locks a removed file)."""
        if self._fd is None:
            return
        try:
            self.lock_path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None
