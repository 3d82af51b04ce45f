"""Locate the data files in ``schemas/`` whether ospack runs from a wheel or a checkout."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import GridError


@cache
def schemas_dir() -> Path:
    """Return the folder holding ospack's shipped data (grids, layers, DDL).

    In a wheel the build copies ``schemas/`` to ``ospack/schemas``; in a source
    checkout or an editable install it is the top-level ``schemas/`` folder.
    """
    packaged = Path(str(resources.files("ospack"))) / "schemas"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    raise GridError("ospack's data folder 'schemas' is missing; reinstall ospack")


def schema_path(name: str) -> Path:
    """Return the path of one shipped data file, by its file name."""
    path = schemas_dir() / name
    if not path.is_file():
        raise GridError(f"ospack's data file {name!r} is missing; reinstall ospack")
    return path


def read_text(name: str) -> str:
    """Return the text of one shipped data file."""
    return schema_path(name).read_text(encoding="utf-8")


def read_json(name: str) -> Any:
    """Return the parsed JSON of one shipped data file."""
    return json.loads(read_text(name))
