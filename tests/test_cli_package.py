"""``ospack package`` as a user runs it: CliRunner for the command, real processes for kill and Ctrl-C."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import pytest
from test_writers_support import query

from ospack.area import read_area
from ospack.cli import cli
from ospack.cover import count
from ospack.inspect import verify
from ospack.layers import get_layer
from ospack.writers import read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = str(ROOT / "sample_areas" / "yr-wyddfa.geojson")
SECRET_KEY = "k3y-That-Must-Never-Leak-0123456789"
SUMMARY_KEYS = {
    "output",
    "complete",
    "tiles_written",
    "tiles_absent",
    "tiles_failed",
    "requests",
    "premium_requests",
    "retries",
    "rate_limited",
    "elapsed_s",
    "achieved_rate_per_min",
    "zooms",
}


@pytest.fixture
def api(make_emulator):
    return make_emulator(keys=(SECRET_KEY, "demo"), limit=100_000)


def package_args(output, *extra):
    # no context: these tests count the area's own tiles (tests/test_context_package.py has the context)
    return [
        "package",
        SNOWDON,
        "-o",
        str(output),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        "0-9",
        "--context",
        "0",
        *extra,
    ]


def test_demo_run_needs_no_key(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("OS_API_KEY", raising=False)
    result = runner.invoke(
        cli, package_args(tmp_path / "demo.gpkg", "--demo", "--rate", "100000"), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "complete (demo data from the emulator)" in result.stdout
    assert "57 written, 0 absent, 0 failed" in result.stdout
    assert read_job(tmp_path / "demo.gpkg").demo


def test_json_summary_has_the_keys_scripts_rely_on(runner, tmp_path, api, monkeypatch):
    monkeypatch.setenv("OS_API_KEY", SECRET_KEY)
    args = package_args(tmp_path / "j.gpkg", "--api-url", api.url, "--rate", "100000", "--json")
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["complete"] is True and summary["tiles_written"] == 57
    assert summary["zooms"]["9"] == {"written": 34, "absent": 0, "failed": 0}
    assert result.stderr == ""  # --json prints nothing else


def test_quiet_prints_only_the_summary(runner, tmp_path, api, monkeypatch):
    monkeypatch.setenv("OS_API_KEY", SECRET_KEY)
    args = package_args(tmp_path / "q.gpkg", "--api-url", api.url, "--rate", "100000", "-q")
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"{tmp_path / 'q.gpkg'}: complete")


def test_the_key_never_leaks(runner, tmp_path, api, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OS_API_KEY", SECRET_KEY)
    output = tmp_path / "secret.gpkg"
    result = runner.invoke(cli, package_args(output, "--api-url", api.url, "--rate", "100000"), catch_exceptions=False)
    assert result.exit_code == 0
    info = runner.invoke(cli, ["info", str(output), "--json"])
    for text in (result.stdout, result.stderr, caplog.text, info.stdout):
        assert SECRET_KEY not in text
    assert SECRET_KEY.encode() not in output.read_bytes()
    assert api.stats()["by_key"].get(SECRET_KEY) == 57  # it was used, in the header


def test_bad_key_is_one_line_without_the_key(runner, tmp_path, api):
    result = runner.invoke(cli, package_args(tmp_path / "b.gpkg", "--api-url", api.url, "--key", "wrong-key-42"))
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: ") and "HTTP 401" in last
    assert "wrong-key-42" not in result.stderr and "Traceback" not in result.output
    assert api.stats()["requests"] <= 8


def test_premium_zooms_need_allow_premium(runner, tmp_path, api):
    args = [
        "package",
        SNOWDON,
        "-o",
        str(tmp_path / "p.gpkg"),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        "9-10",
        "--api-url",
        api.url,
        "--key",
        SECRET_KEY,
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2  # a usage error: the command line lacks --allow-premium
    assert "--allow-premium" in result.stderr and api.stats()["requests"] == 0


def test_failed_tiles_give_exit_code_3_and_an_incomplete_file(runner, tmp_path, make_emulator, monkeypatch):
    import functools

    import ospack.cli.package

    monkeypatch.setattr(
        ospack.cli.package, "FetchSettings", functools.partial(ospack.cli.package.FetchSettings, retry_backoff_s=0.001)
    )
    api = make_emulator(keys=(SECRET_KEY,), limit=100_000, faults={"500": 1.0})
    output = tmp_path / "p.gpkg"
    args = [
        "package",
        SNOWDON,
        "-o",
        str(output),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        "5",
        "--api-url",
        api.url,
        "--key",
        SECRET_KEY,
        "--rate",
        "100000",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 3
    assert "INCOMPLETE" in result.stdout and "failed:" in result.stdout
    assert not verify(output).ok


def test_a_plan_without_premium_is_one_error_line_and_recorded_in_the_file(runner, tmp_path, api):
    from ospack.errors import PremiumError

    output = tmp_path / "p.gpkg"
    args = [
        "package",
        SNOWDON,
        "-o",
        str(output),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        "9-10",
        "--api-url",
        api.url,
        "--key",
        SECRET_KEY,
        "--allow-premium",
        "--rate",
        "100000",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == PremiumError.exit_code
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "plan has no Premium access" in errors[0] and "HTTP 401" not in result.stdout
    assert SECRET_KEY not in result.output and "Traceback" not in result.output
    info_text = runner.invoke(cli, ["info", str(output)]).stdout
    assert "the last run stopped: this project's plan has no Premium access" in info_text
    assert "interrupted; rerun to resume" not in info_text


def test_mbtiles_of_a_27700_layer_suggests_geopackage(runner, tmp_path, api):
    args = package_args(tmp_path / "x.mbtiles", "--api-url", api.url, "--key", SECRET_KEY)
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and ".gpkg" in result.stderr
    assert api.stats()["requests"] == 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dev-project", "--rate", "10"], "--dev-project or --rate"),
        (["--rate", "0"], "--rate"),
        (["--zoom", "21"], "zoom 21 is outside layer Outdoor_27700"),
        (["--layer", "Nope_27700"], "unknown layer"),
        (["--zoom", "9-10", "--demo"], "--allow-premium"),
        (["--area-crs", "EPSG:999999", "--demo"], "unknown CRS"),
        (["--dedup", "--demo"], "deduplication is an MBTiles option"),
        (["--format", "mbtiles", "--demo"], "has a .gpkg name but format mbtiles"),
    ],
)
def test_usage_errors_exit_2(runner, tmp_path, extra, message):
    args = ["package", SNOWDON, "-o", str(tmp_path / "u.gpkg"), "--layer", "Outdoor_27700", "--zoom", "7", *extra]
    if "--layer" in extra:
        args[5] = extra[1]
        extra = []
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def stored_tiles(output):
    [(count,)] = query(output, "SELECT count(*) FROM outdoor_27700")
    return count


def test_kill_9_loses_at_most_the_uncommitted_batch_and_the_rerun_completes(tmp_path, api, ospack_run):
    output = tmp_path / "killed.gpkg"
    process = ospack_run.package(SNOWDON, output, api.url, "--rate", "1200", key=SECRET_KEY)
    ospack_run.wait(process, lambda: api.stats()["tiles"] >= 40)  # two seconds: a commit or two have happened
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    fetched_before = api.stats()["tiles"]
    kept = stored_tiles(output)
    assert 0 < kept <= fetched_before  # whole batches survive; the batch in flight may be lost
    report = verify(output)
    assert not report.ok  # incomplete, and says so; nothing else is wrong with it
    assert report.problems[0].startswith("incomplete")
    assert not any("application_id" in problem for problem in report.problems)
    api.reset()
    rerun = ospack_run.package(SNOWDON, output, api.url, "--rate", "100000", "--json", key=SECRET_KEY)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    summary = json.loads(out)
    planned = sum(count(read_area(SNOWDON), get_layer("Outdoor_27700"), range(10)).values())
    assert summary["complete"] and summary["tiles_already_stored"] == kept
    assert api.stats()["tiles"] == summary["tiles_written"] == planned - kept  # nothing stored is fetched twice
    report = verify(output)
    assert report.ok, report.problems
    assert SECRET_KEY not in out + err


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_commits_prints_the_summary_and_exits_130(tmp_path, api, signum, code, ospack_run):
    output = tmp_path / "interrupted.gpkg"
    process = ospack_run.package(SNOWDON, output, api.url, "--rate", "1200", key=SECRET_KEY)
    ospack_run.wait(process, lambda: api.stats()["tiles"] >= 15)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "interrupted, rerun to resume" in out and "Traceback" not in err
    kept = stored_tiles(output)
    assert kept >= 15
    rerun = ospack_run.package(SNOWDON, output, api.url, "--rate", "100000", "-q", key=SECRET_KEY)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0 and ": complete" in out, err
    assert verify(output).ok


def test_two_layers_into_mbtiles_is_a_usage_error(runner, tmp_path):
    args = [
        "package",
        SNOWDON,
        "-o",
        str(tmp_path / "two.mbtiles"),
        "--layer",
        "Road_3857",
        "--layer",
        "Outdoor_3857",
        "--zoom",
        "7",
        "--demo",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Error: an MBTiles file holds one layer" in result.stderr
    assert not (tmp_path / "two.mbtiles").exists()
