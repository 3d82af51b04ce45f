"""``ospack package`` options mean what they say: credentials, --demo, --api-url, consent for huge jobs."""

from __future__ import annotations

import json
import logging
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from ospack.cli import cli
from ospack.writers import read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = str(ROOT / "sample_areas" / "yr-wyddfa.geojson")
GB = str(ROOT / "sample_areas" / "great-britain-coarse.geojson")
KEY = "k3y-From-A-File-0123456789"
SECRET = "s3cr3t-Of-The-Project-42"


@pytest.fixture
def api(make_emulator):
    return make_emulator(keys=(KEY, "other:premium"), secrets={KEY: SECRET}, limit=100_000)


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv("OS_API_KEY", raising=False)
    monkeypatch.delenv("OS_API_SECRET", raising=False)


def package_args(output, *extra, zoom="0-9"):
    return [
        "package",
        SNOWDON,
        "-o",
        str(output),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        zoom,
        "--context",  # the area's own tiles: tests/test_context_package.py has the context
        "0",
        "--rate",
        "100000",
        *extra,
    ]


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


# --- the key and secret -------------------------------------------------------------------------------------------


def test_key_file_gives_the_key_without_argv_or_a_warning(runner, tmp_path, api):
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"  {KEY}\n\n")
    result = runner.invoke(cli, package_args(tmp_path / "f.gpkg", "--api-url", api.url, "--key-file", str(key_file)))
    assert result.exit_code == 0, result.output
    assert api.stats()["by_key"].get(KEY) == 57
    assert "Warning" not in result.stderr and KEY not in result.output


def test_key_file_dash_reads_stdin(runner, tmp_path, api):
    result = runner.invoke(
        cli, package_args(tmp_path / "s.gpkg", "--api-url", api.url, "--key-file", "-"), input=KEY + "\n"
    )
    assert result.exit_code == 0, result.output
    assert api.stats()["by_key"].get(KEY) == 57


def test_secret_file_gives_the_oauth2_secret(runner, tmp_path, api):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    args = package_args(tmp_path / "o.gpkg", "--api-url", api.url, "--key-file", "-", "--secret-file", str(secret_file))
    result = runner.invoke(cli, args, input=KEY)
    assert result.exit_code == 0, result.output
    assert api.stats()["tokens"] >= 1  # OAuth2 was used: the secret arrived
    assert SECRET not in result.output


@pytest.mark.parametrize("option, variable", [("--key", "OS_API_KEY"), ("--secret", "OS_API_SECRET")])
def test_a_credential_on_the_command_line_warns_once_and_names_the_better_ways(runner, tmp_path, api, option, variable):
    args = package_args(tmp_path / "w.gpkg", "--api-url", api.url, "--key", KEY)
    if option == "--secret":
        args += ["--secret", SECRET]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith(f"Warning: {option} ")]
    assert len(warnings) == 1
    assert "visible to other users" in warnings[0] and variable in warnings[0] and f"{option}-file" in warnings[0]
    assert KEY not in result.output and SECRET not in result.output


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (lambda d: d / "missing.txt", [], "cannot read the key from"),
        (lambda d: d, [], "cannot read the key from"),  # a folder
        (lambda d: (d / "empty.txt", (d / "empty.txt").write_text(" \n"))[0], [], "is empty"),
        (lambda d: (d / "two.txt", (d / "two.txt").write_text(f"{KEY}\n{SECRET}\n"))[0], [], "more than one word"),
        (lambda d: (d / "bin", (d / "bin").write_bytes(b"\xff\xfe\x00"))[0], [], "not UTF-8"),
        (lambda d: (d / "k", (d / "k").write_text(KEY))[0], ["--key", KEY], "give --key or --key-file, not both"),
        (lambda d: "-", ["--secret-file", "-"], "cannot both read stdin"),
    ],
)
def test_bad_key_files_are_one_usage_error(runner, tmp_path, make, extra, message):
    output = tmp_path / "never.gpkg"
    result = runner.invoke(cli, package_args(output, "--key-file", str(make(tmp_path)), *extra), input="")
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1 and message in error_lines(result)[0]
    assert KEY not in error_lines(result)[0] and SECRET not in result.output
    assert "Traceback" not in result.output and not output.exists()


def test_no_key_at_all_is_refused_before_the_file_is_created(runner, tmp_path):
    output = tmp_path / "nokey.gpkg"
    result = runner.invoke(cli, package_args(output))
    assert result.exit_code == 2
    assert "no API key" in error_lines(result)[0] and "--key-file" in error_lines(result)[0]
    assert not output.exists()


def test_a_rerun_on_a_complete_file_needs_no_key(runner, tmp_path, api):
    output = tmp_path / "done.gpkg"
    first = runner.invoke(cli, package_args(output, "--api-url", api.url, "--key-file", "-"), input=KEY)
    assert first.exit_code == 0, first.output
    requests = api.stats()["requests"]
    again = runner.invoke(cli, package_args(output))  # no key, no OS_API_KEY, and the real API's URL
    assert again.exit_code == 0, again.output
    assert "already complete" in again.output
    assert api.stats()["requests"] == requests


# --- --demo -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [["--api-url", "http://127.0.0.1:9"], ["--key", "k"], ["--secret", "s"], ["--key-file", "-"]]
)
def test_demo_with_an_api_or_credentials_is_a_usage_error(runner, tmp_path, extra):
    output = tmp_path / "demo.gpkg"
    result = runner.invoke(cli, package_args(output, "--demo", *extra), input="k")
    assert result.exit_code == 2, result.output
    assert "--demo runs against the built-in emulator" in error_lines(result)[0]
    assert not output.exists()


# --- --api-url ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://h:ab/",
        "api.os.uk/s3cr3t",
        "ftp://h/s3cr3t",
        "http:///s3cr3t",
        "https://u:s3cr3t@h/",
        "https://h/?key=s3cr3t",
        "http://h:99999/s3cr3t",
    ],
)
def test_malformed_api_urls_are_one_usage_error_without_the_url(runner, tmp_path, url):
    result = runner.invoke(cli, package_args(tmp_path / "u.gpkg", "--api-url", url, "--key-file", "-"), input=KEY)
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1 and "API URL" in error_lines(result)[0]
    assert "s3cr3t" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "u.gpkg").exists()


def test_plain_http_beyond_loopback_needs_allow_insecure_http(runner, tmp_path, monkeypatch):
    args = package_args(tmp_path / "h.gpkg", "--api-url", "http://maps.example.org:8080", "--key-file", "-")
    result = runner.invoke(cli, args, input=KEY)
    assert result.exit_code == 2
    assert "clear text" in error_lines(result)[0] and "--allow-insecure-http" in error_lines(result)[0]
    assert not (tmp_path / "h.gpkg").exists()

    seen = {}

    def fake_package(*args, **options):
        seen.update(options)
        raise SystemExit(0)

    monkeypatch.setattr("ospack.cli.package.package", fake_package)
    runner.invoke(cli, [*args, "--allow-insecure-http", "--allow-huge"], input=KEY)
    api = seen["api"]
    assert api.allow_insecure_http is True and seen["allow_huge"] is True and api.key == KEY


@pytest.mark.parametrize("where", ["/{hidden}/maps/raster/v1", "/maps/raster/v1/{hidden}", "/{hidden}"])
def test_a_secret_in_the_api_url_path_is_refused_and_reaches_no_output(runner, tmp_path, api, caplog, where):
    caplog.set_level(logging.DEBUG)
    hidden = "pathS3cr3t-abcdef"
    output = tmp_path / "p.gpkg"
    args = package_args(output, "--api-url", api.url + where.format(hidden=hidden), "--key-file", "-", "--json")
    result = runner.invoke(cli, args, input=KEY)
    assert result.exit_code == 2 and "without any other path" in error_lines(result)[0]
    for text in (result.stdout, result.stderr, caplog.text):
        assert hidden not in text
    assert api.stats()["requests"] == 0 and not output.exists()


def test_only_the_api_origin_is_recorded_as_the_source(runner, tmp_path, api):
    output = tmp_path / "o.gpkg"
    args = package_args(output, "--api-url", api.url + "/maps/raster/v1/", "--key-file", "-")
    assert runner.invoke(cli, args, input=KEY).exit_code == 0
    assert read_job(output).source == api.url
    info = runner.invoke(cli, ["info", str(output)])
    assert f"provenance: {api.url}," in info.stdout


# --- huge jobs need consent --------------------------------------------------------------------------------------


def test_a_huge_job_stops_before_any_request_with_the_figures(runner, tmp_path):
    output = tmp_path / "gb.gpkg"
    args = ["package", GB, "-o", str(output), "--layer", "Road_27700", "--zoom", "9", "--demo"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    (line,) = error_lines(result)
    assert "huge job" in line and "tiles to fetch" in line and "at 600/min" in line and "GB" in line
    assert "free in" in line and "--allow-huge" in line
    assert not output.exists()


def fake_free_space(monkeypatch, free):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(free * 2, free, free))


def test_a_job_larger_than_the_free_space_needs_consent(runner, tmp_path, monkeypatch):
    fake_free_space(monkeypatch, 500_000)  # 25 tiles at the assumed 20 kB; the job is 57
    output = tmp_path / "full.gpkg"
    result = runner.invoke(cli, package_args(output, "--demo"))
    assert result.exit_code == 2
    assert "more space than the disk has" in error_lines(result)[0] and "500.0 kB free" in error_lines(result)[0]
    assert not output.exists()
    allowed = runner.invoke(cli, package_args(output, "--demo", "--allow-huge"))
    assert allowed.exit_code == 0, allowed.output


def test_a_resumed_job_is_judged_by_what_is_still_missing(runner, tmp_path, monkeypatch):
    output = tmp_path / "resume.gpkg"
    assert runner.invoke(cli, package_args(output, "--demo", zoom="0-8")).exit_code == 0  # 23 tiles stored
    fake_free_space(monkeypatch, 800_000)  # 40 tiles: less than the 57 of the job, more than the 34 missing
    fresh = runner.invoke(cli, package_args(tmp_path / "fresh.gpkg", "--demo"))
    assert fresh.exit_code == 2 and "--allow-huge" in fresh.stderr
    resumed = runner.invoke(cli, package_args(output, "--demo", "--json"))
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["tiles_written"] == 34


def test_the_free_space_is_read_where_the_output_goes(tmp_path, monkeypatch):
    from ospack.errors import LargeJobError
    from ospack.estimate import check_job_size

    asked = []
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: asked.append(path) or usage(10, 10, 10))
    with pytest.raises(LargeJobError):
        check_job_size(1, 600, tmp_path / "sub.gpkg")
    assert asked == [tmp_path]
    check_job_size(1, 600, tmp_path / "sub.gpkg", allow_huge=True)  # consent given: no refusal


# --- repeated --zoom ----------------------------------------------------------------------------------------------


def test_repeated_zoom_options_are_combined(runner, tmp_path):
    output = tmp_path / "z.gpkg"
    result = runner.invoke(
        cli,
        [
            "package",
            SNOWDON,
            "-o",
            str(output),
            "-l",
            "Outdoor_27700",
            "-z",
            "7",
            "--zoom",
            "9",
            "-z",
            "7-8",
            "--demo",
            "--rate",
            "100000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["zooms"]) == ["7", "8", "9"]
    assert read_job(output).zooms == (7, 8, 9)


def test_a_key_from_stdin_never_appears_in_the_process_command_line(tmp_path, api, ospack_run):
    import time

    args = package_args(tmp_path / "ps.gpkg", "--api-url", api.url, "--key-file", "-")
    process = ospack_run.start(*args, stdin=True)  # no OS_API_KEY: the key comes only from stdin
    cmdline = b""
    deadline = time.monotonic() + 10
    while not cmdline and time.monotonic() < deadline:  # empty for an instant while exec replaces the image
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()  # what `ps` shows every local user
        time.sleep(0.01)
    out, err = process.communicate(KEY + "\n", timeout=60)
    assert process.returncode == 0, err
    assert KEY.encode() not in cmdline and b"--key-file" in cmdline
    assert api.stats()["by_key"].get(KEY) == 57 and KEY not in out + err
