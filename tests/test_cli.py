import json

import click
import pytest

from ospack import __version__
from ospack.cli import OspackGroup, cli
from ospack.errors import AreaError, UsageError


def test_version(runner):
    result = runner.invoke(cli, ["--version"], catch_exceptions=False)
    assert result.output.strip() == f"ospack, version {__version__}"


def test_layers_json(runner):
    result = runner.invoke(cli, ["layers", "--json"], catch_exceptions=False)
    records = json.loads(result.output)
    road = next(r for r in records if r["name"] == "Road_27700")
    assert road == {
        "name": "Road_27700",
        "style": "Road",
        "crs": "EPSG:27700",
        "min_zoom": 0,
        "max_zoom": 13,
        "open_zooms": [0, 9],
        "premium_zooms": [10, 13],
    }


def test_layers_table(runner):
    result = runner.invoke(cli, ["layers"], catch_exceptions=False)
    assert "Leisure_27700   EPSG:27700  0-9" in result.output


def run_raising(runner, error):
    """Invoke a command of an OspackGroup that raises ``error``."""

    @click.group(cls=OspackGroup)
    def group():
        pass

    @group.command()
    def boom():
        raise error

    return runner.invoke(group, ["boom"])


@pytest.mark.parametrize("error, code", [(AreaError("bad\narea file"), 1), (UsageError("bad zoom"), 2)])
def test_ospack_errors_become_one_line_and_exit_code(runner, error, code):
    result = run_raising(runner, error)
    assert result.exit_code == code
    assert result.stderr == f"Error: {' '.join(str(error).split())}\n"
    assert result.stdout == ""


def test_unknown_command_is_a_usage_error(runner):
    result = runner.invoke(cli, ["nosuch"])
    assert result.exit_code == 2


def test_ctrl_c_outside_package_exits_130_without_a_traceback(runner):
    result = run_raising(runner, KeyboardInterrupt())
    assert result.exit_code == 130
    assert result.stderr == "Interrupted (Ctrl-C)\n"


def test_the_readme_documents_every_exit_code():
    from pathlib import Path

    from ospack.cli import EXIT_CODES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in EXIT_CODES.values():
        assert f"| {code} |" in table, code
