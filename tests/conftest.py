"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ospack.emulator import Emulator

#: the files a test must not leave open: a package and its SQLite side files
_PACKAGE_SUFFIXES = (".gpkg", ".mbtiles")


def _open_package_files() -> set[tuple[str, str]]:
    """(fd, target) of every package file (or its -wal/-shm/-journal, or ospack's lock) this process holds open."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        base = target.removesuffix(" (deleted)")
        for side in ("-wal", "-shm", "-journal", ".ospack-lock"):
            base = base.removesuffix(side)
        if base.endswith(_PACKAGE_SUFFIXES):
            found.add((fd, target))
    return found


@pytest.fixture(autouse=True)
def _no_package_left_open() -> Iterator[None]:
    """Fail a test that leaves a connection (sqlite3, a writer, a GDAL dataset) to a package open.

    A sqlite3.Connection is only freed by the cycle collector, so an unclosed one lingers for
    an unknown time and can hold a lock another run needs (``with sqlite3.connect(...)`` only
    commits). gc is deliberately not run first: the point is to catch what the test forgot.
    Handles open before the test (module or session fixtures) are not the test's.
    """
    if not os.path.isdir("/proc/self/fd"):
        yield
        return
    before = _open_package_files()
    yield
    left = sorted(target for _, target in _open_package_files() - before)
    if left:
        pytest.fail("the test left package files open (close every connection): " + ", ".join(left), pytrace=False)


@pytest.fixture
def open_db() -> Iterator[Callable[..., sqlite3.Connection]]:
    """A factory: ``open_db(path)`` is a sqlite3 connection to ``path``, closed after the test."""
    opened: list[sqlite3.Connection] = []

    def connect(path: Any, **options: Any) -> sqlite3.Connection:
        opened.append(sqlite3.connect(path, **options))
        return opened[-1]

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running OS Maps API emulator with keys ``demo`` (opendata, live) and ``paid`` (premium, live).

    ``paid`` has the OAuth2 secret ``paid-secret``. Read ``emulator.url``; ``emulator.stats()``.
    """
    with Emulator(keys=("demo", "paid:premium"), secrets={"paid": "paid-secret"}) as running:
        yield running


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """A factory: ``make_emulator(**Emulator keyword arguments)`` returns a started emulator, stopped after the test."""
    started: list[Emulator] = []

    def make(**settings: Any) -> Emulator:
        emulator = Emulator(**settings)
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


class EmulatorProcess:
    """``ospack emulator`` in its own process (its own GIL), so the timestamps it judges
    rate limits by are not delayed by the client's thread. ``url``; ``stats()``."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "ospack", "emulator", *args],
                                        stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__emulator__/stats", timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def spawn_emulator() -> Iterator[Callable[..., EmulatorProcess]]:
    """A factory: ``spawn_emulator(*cli_args)`` starts ``ospack emulator`` as a process, stopped after the test."""
    started: list[EmulatorProcess] = []

    def spawn(*args: str) -> EmulatorProcess:
        started.append(EmulatorProcess(*args))
        return started[-1]

    yield spawn
    for process in started:
        process.stop()
