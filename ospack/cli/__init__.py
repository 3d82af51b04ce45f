"""The ``ospack`` command line: a click group over the library.

Each command lives in its own module here and is loaded only when used.
Every :class:`~ospack.errors.OspackError` is turned, in one place
(:meth:`OspackGroup.invoke`), into one ``Error: …`` line on stderr and the
error's exit code, never a traceback.
"""

from __future__ import annotations

import re
from importlib import import_module
from itertools import islice
from typing import Any

import click

from .. import __version__
from ..errors import OspackError

#: command name → "module:function" inside ospack.cli
COMMANDS = {
    "layers": "layers:layers",
    "estimate": "estimate:estimate",
    "package": "package:package_command",
    "info": "info:info",
    "verify": "verify:verify",
    "preview": "preview:preview_command",
    "emulator": "emulator:emulator",
}


#: every exit code of ospack, as the README's table lists them
EXIT_CODES = {
    "ok": 0,
    "failure": 1,
    "usage": 2,
    "tiles_failed": 3,
    "batch_incomplete": 4,
    "interrupted": 130,
    "terminated": 143,
}


class OspackGroup(click.Group):
    """A group that loads commands lazily and renders OspackError as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *sorted(set(super().list_commands(ctx)) - set(COMMANDS))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name) or super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(import_module(f".{module_name}", __name__), attribute)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return name, command, positional_negative_numbers(command, rest) if command else rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OspackError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # outside package's own handler: the shell's code for SIGINT, not click's 1
            click.echo("Interrupted (Ctrl-C)", err=True)
            ctx.exit(EXIT_CODES["interrupted"])


#: An argument starting with a minus sign and a digit (a bbox west of Greenwich: -4.1,53.0,-4.0,53.1).
#: No ospack option is spelt like that, so such an argument is always a value, never an option.
_NEGATIVE_NUMBER = re.compile(r"^-\.?\d")


def positional_negative_numbers(command: click.Command, args: list[str]) -> list[str]:
    """``args`` with each negative-number argument that is not an option's value moved after ``--``.

    Click reads ``-4.1,53.0,…`` as a cluster of short options; after ``--`` it is a plain argument,
    and moving it keeps the order of the positional arguments, so AREA works as written everywhere.
    """
    takes_value = {
        name
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for name in param.opts
    }
    before: list[str] = []
    moved: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            return [*before, "--", *moved, *rest] if moved else args
        if arg in takes_value:
            before += [arg, *islice(rest, 1)]
        elif _NEGATIVE_NUMBER.match(arg):
            moved.append(arg)
        else:
            before.append(arg)
    return [*before, "--", *moved] if moved else args


def one_line(message: str) -> str:
    """Fold a message onto one line, as every error line must be."""
    return " ".join(message.split())


@click.group(cls=OspackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ospack")
def cli() -> None:
    """Package Ordnance Survey Maps API tiles for an area into one offline file.

    \b
    Quick start (no key needed, runs against the built-in emulator):
      ospack estimate sample_areas/yr-wyddfa.geojson --layer Outdoor_27700 --zoom 0-9
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ospack")


if __name__ == "__main__":  # pragma: no cover
    main()
