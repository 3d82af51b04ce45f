"""Shared pytest fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ospack.emulator import Emulator


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
