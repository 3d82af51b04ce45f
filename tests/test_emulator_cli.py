"""``ospack emulator`` as a real process: URL on the first line, serves, exits cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal

import httpx
import pytest

from ospack.cli import cli
from ospack.emulator import Emulator, parse_key_spec
from ospack.emulator.config import KeySpec
from ospack.errors import EmulatorError, EmulatorOptionError


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_url_serves_and_stops_cleanly(spawn_emulator, signum):
    process = spawn_emulator()
    url = process.url
    assert url.startswith("http://127.0.0.1:")
    assert process.readline() == "key demo (opendata, live)"
    response = httpx.get(f"{url}/maps/raster/v1/zxy/Road_3857/7/63/42.png", params={"key": "demo"})
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    assert process.stop(signum) == 0
    assert "Traceback" not in process.stderr


def test_cli_options_reach_the_server(spawn_emulator):
    process = spawn_emulator(
        "--key",
        "k1:premium:dev",
        "--key",
        "k2",
        "--window",
        "6",
        "--premium-status",
        "403",
        "--secret",
        "k1=s1",
        "--token-ttl",
        "30",
        "--retry-after",
        "2",
        "--fault",
        "503=0",
        "--seed",
        "3",
        "--enforce",
        "fixed",
    )
    with httpx.Client(base_url=process.url) as c:
        token = c.post("/oauth2/token/v1", auth=("k1", "s1"), data={"grant_type": "client_credentials"}).json()
        assert token["expires_in"] == "30"
        tile = "/maps/raster/v1/zxy/Road_27700/12/2000/3000.png"
        assert c.get(tile, params={"key": "k2"}).status_code == 403
        statuses = [c.get(tile, headers={"key": "k1"}).status_code for _ in range(11)]
        assert statuses[:4] == [200] * 4 and 429 in statuses  # dev: 5 per 6 s slot; 11 requests span at most 2 slots
        refused = c.get(tile, headers={"key": "k1"})
        assert refused.headers.get("Retry-After") == "2"
    assert process.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "bogus=0.1"], "unknown fault"),
        (["--key", "k:gold"], "cannot read key option"),
        (["--secret", "other=s"], "not configured"),
        (["--key", "d:dev", "--window", "0.5"], "less than one request"),
        (["--key", "k", "--secret", "k:hunter2"], "cannot read secret;"),
        (["--port", "99999"], "--port must be a whole number from 0 to 65535"),
        (["--port", "-1"], "--port must be"),
        (["--window", "inf"], "--window must be a positive number"),
        (["--window", "nan"], "--window must be a positive number"),
        (["--limit", "inf"], "--limit must be a positive number"),
        (["--limit", "1e308"], "--limit must be a positive number"),
        (["--limit", "-5"], "--limit must be a positive number"),
        (["--retry-after", "inf"], "--retry-after must be zero or more"),
        (["--retry-after", "-1"], "--retry-after must be zero or more"),
        (["--token-ttl", "nan"], "--token-ttl must be a positive number"),
        (["--token-ttl", "1e400"], "--token-ttl must be a positive number"),
        (["--fault", "503=nan"], "between 0 and 1"),
    ],
)
def test_cli_bad_options_give_one_error_line_and_exit_2(runner, args, message):
    result = runner.invoke(cli, ["emulator", *args])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("Error:") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "hunter2" not in result.output


@pytest.mark.parametrize("port", [65536, -1, 2**70, 1.5, "80", True])
def test_the_python_emulator_checks_its_port_before_listening(port):
    with pytest.raises(EmulatorOptionError, match="--port must be"):
        Emulator(port=port)


def test_key_spec_parsing():
    assert parse_key_spec("abc") == KeySpec("abc", "opendata", "live")
    assert parse_key_spec("abc:premium:dev") == KeySpec("abc", "premium", "dev")
    assert parse_key_spec("abc:dev:premium") == KeySpec("abc", "premium", "dev")
    assert parse_key_spec("abc:Live") == KeySpec("abc", "opendata", "live")
    with pytest.raises(EmulatorError):
        parse_key_spec(":premium")
