"""EmulatorConfig: one validated, frozen value, built alike by ``ospack emulator`` and by Python code."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

import ospack.cli.emulator as emulator_cli
from ospack.cli import cli
from ospack.emulator import Emulator, EmulatorConfig, KeySpec
from ospack.emulator.config import DEFAULT_KEYS
from ospack.errors import EmulatorOptionError


def test_defaults_are_one_opendata_live_demo_key_and_no_faults():
    config = EmulatorConfig()
    assert config.keys == DEFAULT_KEYS == (KeySpec("demo", "opendata", "live"),)
    assert (config.enforce, config.limit, config.window, config.retry_after) == ("sliding", None, 60.0, None)
    assert (dict(config.secrets), dict(config.faults), config.seed) == ({}, {}, 0)
    assert config.spell_seconds == 20.0


def test_text_forms_are_read_into_the_same_values():
    from_text = EmulatorConfig(keys=["a:premium:dev", "b"], secrets=["a=s"], faults=["503=0.1", "500=0.2"])
    from_values = EmulatorConfig(
        keys=(KeySpec("a", "premium", "dev"), KeySpec("b")), secrets={"a": "s"}, faults={"500": 0.2, "503": 0.1}
    )
    assert from_text == from_values
    assert list(from_text.faults) == ["500", "503"]  # FAULT_NAMES order: the order one random draw is matched in


def test_the_config_cannot_be_changed_after_it_is_built():
    given = {"503": 0.1}
    config = EmulatorConfig(secrets={"demo": "s"}, faults=given)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.limit = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.faults["500"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        config.secrets["demo"] = "other"  # type: ignore[index]
    given["500"] = 0.5
    assert dict(config.faults) == {"503": 0.1}  # a copy: changing what was passed changes nothing


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"keys": ()}, "the emulator needs at least one key"),
        ({"keys": ["a", "a:premium"]}, "a key is given twice; give each --key once"),
        ({"keys": ["k:gold"]}, "cannot read key option 'gold'"),
        ({"enforce": "leaky"}, "unknown enforcement 'leaky'; choose sliding, fixed or spike"),
        ({"limit": -5}, "--limit must be a positive number of requests per minute"),
        ({"window": float("inf")}, "--window must be a positive number of seconds"),
        ({"retry_after": -1}, "--retry-after must be zero or more seconds"),
        ({"premium_status": 402}, "--premium-status must be 401 or 403, not 402"),
        ({"token_ttl": "soon"}, "--token-ttl must be a positive number of seconds, not 'soon'"),
        ({"zxy_error_status": 500}, "out-of-range error statuses must be 400 or 404"),
        ({"wmts_error_format": "xml"}, "wmts_error_format must be 'ows' or 'json'"),
        ({"slow_seconds": -1}, "slow_seconds must be zero or more seconds"),
        ({"seed": 1.5}, "--seed must be a whole number, not 1.5"),
        ({"burst_seconds": 0}, "burst_seconds must be a positive number of seconds"),
        ({"spike_tolerance": -0.001}, "--spike-tolerance must be zero or more seconds"),
        ({"secrets": {"other": "s"}}, "a --secret names a key that is not configured; add it with --key"),
        ({"faults": {"503": 0.7, "500": 0.7}}, "fault probabilities add up to more than 1"),
        ({"keys": ["d:dev"], "window": 1}, "a 1 s window holds less than one request at the dev rate"),
    ],
)
def test_every_bad_setting_is_one_message_naming_it(settings, message):
    with pytest.raises(EmulatorOptionError) as caught:
        EmulatorConfig(**settings)
    assert str(caught.value).startswith(message)


def test_a_replaced_copy_is_validated_again():
    config = EmulatorConfig(keys=["d:dev"], window=6)
    assert dataclasses.replace(config, limit=1200).quota_policy(config.keys[0]).allowance == 120
    with pytest.raises(EmulatorOptionError, match="less than one request"):
        dataclasses.replace(config, window=1)


def _cli_config(monkeypatch, *args: str) -> EmulatorConfig:
    built: list[EmulatorConfig] = []
    monkeypatch.setattr(emulator_cli, "serve", lambda config, host, port, on_ready: built.append(config))
    result = CliRunner().invoke(cli, ["emulator", *args])
    assert result.exit_code == 0, result.output
    return built[0]


def test_the_cli_and_the_python_api_build_the_same_config(monkeypatch):
    assert _cli_config(monkeypatch) == EmulatorConfig() == Emulator().config
    from_cli = _cli_config(
        monkeypatch,
        "--key",
        "k1:premium:dev",
        "--key",
        "k2",
        "--enforce",
        "fixed",
        "--limit",
        "120",
        "--window",
        "6",
        "--retry-after",
        "2",
        "--premium-status",
        "403",
        "--secret",
        "k1=s1",
        "--token-ttl",
        "30",
        "--fault",
        "503=0.05",
        "--seed",
        "3",
    )
    settings = {
        "keys": ["k1:premium:dev", "k2"],
        "enforce": "fixed",
        "limit": 120,
        "window": 6,
        "retry_after": 2,
        "premium_status": 403,
        "secrets": {"k1": "s1"},
        "token_ttl": 30,
        "faults": {"503": 0.05},
        "seed": 3,
    }
    assert from_cli == EmulatorConfig(**settings) == Emulator(EmulatorConfig(**settings)).config


def test_the_emulator_takes_its_config_whole():
    config = EmulatorConfig(keys=["k:premium"], limit=6000)
    assert Emulator(config).config is config
    assert Emulator().config == EmulatorConfig()
    with pytest.raises(EmulatorOptionError, match="--window must be"):
        dataclasses.replace(config, window=0)
    with pytest.raises(TypeError):
        Emulator(EmulatorConfig(windw=6))  # a misspelt setting is not silently ignored
