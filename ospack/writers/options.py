"""How a run treats its output file: one frozen :class:`OutputOptions` value, from the CLI to the writer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputFormatError

#: file name extension → format
FORMAT_OF_SUFFIX = {".gpkg": "gpkg", ".mbtiles": "mbtiles"}


@dataclass(frozen=True)
class OutputOptions:
    """The output's format and what a run may do to a file already there.

    Parameters
    ----------
    format
        ``"gpkg"`` or ``"mbtiles"``; None (the default) takes it from the file's extension.
    overwrite
        Replace ospack's tables of another job in the file (a shared GeoPackage keeps the
        user's own layers); without it such a file is refused.
    dedup
        MBTiles only: store identical images once (map/images tables behind a ``tiles`` view).
        An existing file keeps its layout.
    """

    format: str | None = None
    overwrite: bool = False
    dedup: bool = False

    def __post_init__(self) -> None:
        if self.format is not None:
            name = self.format.lower().lstrip(".")
            if name not in FORMAT_OF_SUFFIX.values():
                raise OutputFormatError(f"unknown output format {self.format!r}; choose gpkg or mbtiles")
            object.__setattr__(self, "format", name)

    def format_of(self, path: str | os.PathLike[str]) -> str:
        """The format of the output at ``path``: :attr:`format` if given, else from the extension."""
        suffix = Path(path).suffix.lower()
        named = FORMAT_OF_SUFFIX.get(suffix)
        if self.format is None:
            if named is None:
                raise OutputFormatError(f"cannot tell the format of {os.fspath(path)!r}; name it .gpkg or .mbtiles")
            return named
        if named is not None and named != self.format:
            raise OutputFormatError(
                f"{os.fspath(path)!r} has a {suffix} name but format {self.format} was asked; make them agree"
            )
        return self.format
