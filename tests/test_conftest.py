"""The shared test launchers of tests/conftest.py: a spawned emulator is ready when handed over and always ends."""

from __future__ import annotations

import signal

import httpx


def test_a_spawned_emulator_serves_as_soon_as_it_is_handed_over(spawn_emulator):
    process = spawn_emulator("--key", "k")
    assert process.url.startswith("http://127.0.0.1:") and process.readline(timeout=0.1) == ""
    response = httpx.get(f"{process.url}/maps/raster/v1/zxy/Road_3857/7/63/42.png", params={"key": "k"})
    assert response.status_code == 200 and process.stats()["tiles"] == 1


def test_a_spawned_emulator_that_ignores_the_signal_is_killed(spawn_emulator):
    process = spawn_emulator()
    process.process.send_signal(signal.SIGSTOP)  # a stopped process acts on no signal but SIGKILL
    assert process.stop(timeout=0.2) == -signal.SIGKILL
    assert process.stop() == -signal.SIGKILL  # stopping again is harmless


def test_the_emulator_fixture_is_the_documented_one(emulator):
    keys = {"demo": 200, "paid": 200, "nobody": 401}
    for key, status in keys.items():
        response = httpx.get(f"{emulator.url}/maps/raster/v1/zxy/Road_3857/7/63/42.png", params={"key": key})
        assert response.status_code == status, key
