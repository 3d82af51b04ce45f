"""Shared pytest fixtures."""

from __future__ import annotations

import bisect
import itertools
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ospack.emulator import Emulator, EmulatorConfig
from ospack.fetch.transport import default_transport

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


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every process it starts) keeps ospack's cache, the shared rate ledgers, in a temporary
    directory: never the user's, and never shared with another test's runs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


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
def runner() -> CliRunner:
    """A click CliRunner for invoking ``ospack.cli.cli`` in this process."""
    return CliRunner()


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """A factory: ``make_emulator(**Emulator keyword arguments)`` returns a started in-process emulator,
    stopped after the test."""
    started: list[Emulator] = []

    def make(**settings: Any) -> Emulator:
        emulator = Emulator(EmulatorConfig(**settings))
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    _stop_all(started)


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A running OS Maps API emulator with keys ``demo`` (opendata, live) and ``paid`` (premium, live).

    ``paid`` has the OAuth2 secret ``paid-secret``. Read ``emulator.url``; ``emulator.stats()``.
    """
    return make_emulator(keys=("demo", "paid:premium"), secrets={"paid": "paid-secret"})


@pytest.fixture
def fast_emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """The :func:`emulator` with a generous limit, so tests run unpaced in well under a second."""
    return make_emulator(keys=("demo", "paid:premium"), secrets={"paid": "paid-secret"}, limit=100_000)


#: how long ``ospack emulator`` may take to print its URL, and to exit once signalled
_START_SECONDS = _STOP_SECONDS = 15.0


class EmulatorProcess:
    """``ospack emulator --port 0 *args`` in its own process (its own GIL), so the timestamps it
    judges rate limits by are not delayed by the client's thread.

    Ready once started: ``url`` is the first line it printed, after it began listening.
    ``readline()`` reads its further output, ``stats()`` its counters, ``stop()`` ends it,
    ``stderr`` is what it wrote there.
    """

    def __init__(self, *args: str) -> None:
        # stderr goes to a file: a pipe nobody reads could fill and stall the server
        self._stderr = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ospack", "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        # lines are read on a thread, so waiting for one can time out; "" marks the end of output
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        self.url = self.readline(_START_SECONDS)
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            why = self.stderr
            self.close()
            pytest.fail(f"ospack emulator did not start: {self.url!r} {why}", pytrace=False)

    def _read_lines(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(line.strip())
        self._lines.put("")

    def readline(self, timeout: float = _START_SECONDS) -> str:
        """The next line it prints (stripped); empty if it ends or none comes within ``timeout`` seconds."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__emulator__/stats", timeout=10) as response:
            return json.load(response)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = _STOP_SECONDS) -> int:
        """Send ``signum`` unless it has exited, kill it if still running after ``timeout`` s; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    @property
    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def close(self) -> None:
        self.stop()
        self._stderr.close()


@pytest.fixture
def spawn_emulator() -> Iterator[Callable[..., EmulatorProcess]]:
    """A factory: ``spawn_emulator(*cli_args)`` starts ``ospack emulator`` as a process, ready to serve;
    stopped after the test (terminated, killed if it lingers), whether or not the test passed."""
    started: list[EmulatorProcess] = []

    def spawn(*args: str) -> EmulatorProcess:
        started.append(EmulatorProcess(*args))
        return started[-1]

    yield spawn
    for process in started:
        process.close()


class SendTimes(httpx.AsyncBaseTransport):
    """The client's own I/O transport, noting when each tile request reaches it: below the rate
    limiter, so its pacing is read on the client's clock, free of the server's scheduling noise.

    Inject it as ``ApiAccess(transport=...)`` or ``fetch_tiles(transport=...)``.
    """

    def __init__(self, connections: int = 8) -> None:
        self._inner = default_transport(connections)
        self.times: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".png") or "gettile" in str(request.url.query).lower():
            self.times.append(time.monotonic())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def least_gap(self) -> float:
        """The shortest time between two tile requests sent one after the other, in seconds."""
        return min(b - a for a, b in itertools.pairwise(self.times))

    def most_in_any(self, seconds: float) -> int:
        """The most tile requests sent within any span of ``seconds``."""
        return max(bisect.bisect_left(self.times, t + seconds) - i for i, t in enumerate(self.times))


@pytest.fixture
def send_times() -> SendTimes:
    """A :class:`SendTimes` transport for one paced run."""
    return SendTimes()


def _stop_all(emulators: list[Emulator]) -> None:
    """Stop every emulator, even when stopping one of them fails."""
    if emulators:
        try:
            emulators[-1].stop()
        finally:
            _stop_all(emulators[:-1])


class OspackRun:
    """A factory for ``python -m ospack ARGS`` runs as processes of their own (a real CLI, real signals).

    ``start(*args, key=...)`` starts one (stdout and stderr piped as text; ``OS_API_KEY`` is ``key``
    or unset), ``package(output, url, *extra, ...)`` the usual ``package`` of an area from an API,
    ``wait(process, until)`` polls ``until()`` while the process runs. Still running after the test:
    killed.
    """

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, key: str | None = None, stdin: bool = False) -> subprocess.Popen[str]:
        env = {name: value for name, value in os.environ.items() if name not in ("OS_API_KEY", "OS_API_SECRET")}
        if key is not None:
            env["OS_API_KEY"] = key
        process = subprocess.Popen(
            [sys.executable, "-m", "ospack", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.started.append(process)
        return process

    def package(
        self,
        area: str,
        output: object,
        url: str,
        *extra: str,
        layer: str = "Outdoor_27700",
        zooms: str = "0-9",
        key: str = "demo",
        context: str = "0",
    ) -> subprocess.Popen[str]:
        """``ospack package AREA -o OUTPUT --layer L --zoom Z --context C --api-url URL --workers 2 *extra``.

        No regional context unless asked: the tests count the area's own tiles.
        """
        args = ("package", area, "-o", str(output), "--layer", layer, "--zoom", zooms, "--context", context)
        return self.start(*args, "--api-url", url, "--workers", "2", *extra, key=key)

    @staticmethod
    def wait(process: subprocess.Popen[str], until: Callable[[], bool], timeout: float = 30.0) -> None:
        """Return once ``until()`` holds; fail if the process ends first or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not until():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"still waiting after {timeout} s"
            time.sleep(0.05)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.communicate()


@pytest.fixture
def ospack_run() -> Iterator[OspackRun]:
    """Start ``ospack`` commands as processes (see :class:`OspackRun`); any still running are killed after."""
    runs = OspackRun()
    yield runs
    runs.close()
