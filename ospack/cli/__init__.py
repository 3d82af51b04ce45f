"""The ``ospack`` command line: a click group over the library.

Each command lives in its own module here and is loaded only when used.
Every :class:`~ospack.errors.OspackError` is turned, in one place
(:meth:`OspackGroup.invoke`), into one ``Error: …`` line on stderr and the
error's exit code, never a traceback.
"""

from __future__ import annotations

import sys
from importlib import import_module
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
    "emulator": "emulator:emulator",
}


#: every exit code of ospack, as the README's table lists them
EXIT_CODES = {"ok": 0, "failure": 1, "usage": 2, "tiles_failed": 3, "interrupted": 130, "terminated": 143}


class OspackGroup(click.Group):
    """A group that loads commands lazily and renders OspackError as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [name for name in COMMANDS if self._load(name) is not None]
        return lazy + sorted(set(super().list_commands(ctx)) - set(lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name) or super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = import_module(f".{module_name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{module_name}":
                return None  # command not built yet
            raise
        command: click.Command = getattr(module, attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OspackError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # outside package's own handler: the shell's code for SIGINT, not click's 1
            click.echo("Interrupted (Ctrl-C)", err=True)
            ctx.exit(EXIT_CODES["interrupted"])


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
    sys.exit(main())
