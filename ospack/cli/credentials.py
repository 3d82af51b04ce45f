"""The API key and secret options of ``ospack package``, and how each way of giving them is read.

A value on the command line is visible to every local user (``ps``, ``/proc/*/cmdline``)
for the whole run, so ``--key`` and ``--secret`` warn; the environment (``OS_API_KEY``,
``OS_API_SECRET``) and ``--key-file`` / ``--secret-file`` (``-``: stdin) never touch argv.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

#: (name, environment variable, what it is)
_CREDENTIALS = (
    ("key", "OS_API_KEY", "OS Data Hub project API key"),
    ("secret", "OS_API_SECRET", "project secret for OAuth2"),
)


def credential_options(f: F) -> F:
    """``--key``/``--key-file`` and ``--secret``/``--secret-file``."""
    for name, variable, what in reversed(_CREDENTIALS):
        f = click.option(
            f"--{name}-file",
            f"{name}_file",
            metavar="PATH",
            help=f"Read the {what} from this file ('-': from stdin); unlike --{name}, it stays out of `ps`.",
        )(f)
        f = click.option(
            f"--{name}",
            name,
            metavar=name.upper(),
            help=f"The {what} (default: the {variable} variable). Visible to other local users; prefer {variable}"
            f" or --{name}-file.",
        )(f)
    return f


def read_credentials(
    key: str | None, key_file: str | None, secret: str | None, secret_file: str | None
) -> tuple[str | None, str | None]:
    """The key and secret from whichever option gave them (None: the library reads the environment)."""
    if key_file == "-" and secret_file == "-":
        raise UsageError("--key-file and --secret-file cannot both read stdin; put one of them in a file")
    values = []
    for (name, variable, _), given, path in zip(_CREDENTIALS, (key, secret), (key_file, secret_file), strict=True):
        if given is not None and path is not None:
            raise UsageError(f"give --{name} or --{name}-file, not both")
        if given is not None:
            click.echo(
                f"Warning: --{name} is visible to other users of this computer (ps, /proc) while ospack runs;"
                f" set {variable} or use --{name}-file instead",
                err=True,
            )
        values.append(_read_file(name, path) if path is not None else given)
    return values[0], values[1]


def _read_file(name: str, path: str) -> str:
    """The one value in ``path`` (or stdin for ``-``), surrounding whitespace stripped. Never echoed."""
    where = "stdin" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UsageError(f"cannot read the {name} from {where} ({reason}); check --{name}-file") from None
    value = text.strip()
    if not value:
        raise UsageError(f"--{name}-file {where} is empty; put the {name} in it, on one line")
    if any(c.isspace() for c in value):
        raise UsageError(f"--{name}-file {where} holds more than one word; put only the {name} in it, on one line")
    return value
