"""Shared pytest fixtures."""

from __future__ import annotations

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
