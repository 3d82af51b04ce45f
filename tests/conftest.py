"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ospack.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running OS Maps API emulator with keys ``demo`` (opendata, live) and ``paid`` (premium, live).

    ``paid`` has the OAuth2 secret ``paid-secret``. Read ``emulator.url``; ``emulator.stats()``.
    """
    with Emulator(keys=("demo", "paid:premium"), secrets={"paid": "paid-secret"}) as running:
        yield running
