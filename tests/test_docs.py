"""The README's two quick-start commands are the ones CI runs, and every command is documented."""

import re
from pathlib import Path

from ospack.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)[:2]


def test_ci_runs_the_readme_commands():
    install_and_run, test = readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    # CI uses python3 for the venv because a fresh machine may have no `python`
    assert install_and_run in ci_lines
    assert test in ci_lines


def test_every_command_has_help_and_is_in_the_readme(runner):
    readme = (ROOT / "README.md").read_text()
    listed = cli.list_commands(None)
    for name in listed:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output, f"ospack {name} --help shows no example"
        assert f"ospack {name}" in readme, f"README does not mention `ospack {name}`"
    assert set(listed) <= set(COMMANDS)
