"""The one exception tree of ospack.

This module must not import click: the library raises these, and only the CLI
turns them into a line on stderr and an exit code (``exit_code``).

    OspackError                      exit 1 unless stated
    ├── UsageError                   bad option values (exit 2, and so is every class marked *)
    │   ├── LayerError               unknown layer, zoom outside a layer
    │   ├── ZoomError
    │   ├── ApiUrlError              malformed or insecure --api-url
    │   └── LargeJobError            a huge job asked without --allow-huge
    ├── AreaError                    unreadable / unusable area
    │   ├── AreaOutsideGridError     area misses the layer's grid or limits
    │   └── CrsError *               a CRS pyproj does not know
    ├── GridError                    grid data missing or inconsistent
    ├── DownloadError                fetch stage
    │   ├── AuthError                key or secret refused by the API (fail fast)
    │   └── PremiumError             premium zoom refused by the API
    │       └── PremiumNotAllowedError *  premium zooms asked without --allow-premium
    ├── WriterError                  output file stage
    │   ├── IncompatibleOutputError  existing file holds another job
    │   ├── OutputFormatError *      the format cannot hold the job (MBTiles: one 3857 layer; --dedup)
    │   └── InvalidTileError         a tile that is not a valid image of the grid's size
    └── EmulatorError                emulator cannot start
        └── EmulatorOptionError *    a bad emulator setting (port, limit, window, fault …)

A class marked * is also a UsageError (it inherits its exit code 2): the user
can fix it by changing the command line, so it is reported as a usage error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the error tree imports nothing at run time
    from .fetch.outcome import FetchStats


class OspackError(Exception):
    """Base of every error ospack raises on purpose."""

    exit_code = 1


class UsageError(OspackError, ValueError):
    """Raised when an option or argument has a value ospack cannot use."""

    exit_code = 2


class LayerError(UsageError):
    """Raised when a layer name is unknown or a layer cannot serve a request."""


class ZoomError(UsageError):
    """Raised when a zoom or zoom range is malformed or outside a layer."""


class ApiUrlError(UsageError):
    """Raised when an API URL is malformed, carries credentials, or is insecure without consent."""


class LargeJobError(UsageError):
    """Raised before any request when a job is huge or will not fit the disk, unless allowed."""


class AreaError(OspackError, ValueError):
    """Raised when an area cannot be read, parsed, repaired or used."""


class AreaOutsideGridError(AreaError):
    """Raised when an area lies wholly outside a layer's grid or limits."""


class CrsError(AreaError, UsageError):
    """Raised when a CRS given for an area is unknown."""


class GridError(OspackError):
    """Raised when a tile grid definition is missing or inconsistent."""


class DownloadError(OspackError):
    """Raised when tiles cannot be fetched from the API."""

    #: what the fetch had done when it stopped (requests, outcomes per zoom, failures), set by the
    #: pool on the error it raises; None for an error raised before any fetch began
    stats: FetchStats | None = None


class AuthError(DownloadError):
    """Raised when the API refuses the credentials (bad, missing or expired key)."""


class PremiumError(DownloadError):
    """Raised when the API refuses premium zooms."""


class PremiumNotAllowedError(PremiumError, UsageError):
    """Raised before any request when premium zooms are asked without allowing them."""


class WriterError(OspackError):
    """Raised when an output file cannot be created, written or read."""


class IncompatibleOutputError(WriterError):
    """Raised when an existing output holds a different job than the one asked for."""


class OutputFormatError(WriterError, UsageError):
    """Raised when the output format cannot hold the job or an option does not apply to it."""


class InvalidTileError(WriterError, ValueError):
    """Raised when tile bytes are not a PNG/JPEG of the grid's tile size."""


class EmulatorError(OspackError):
    """Raised when the emulator cannot start (e.g. its port is taken)."""


class EmulatorOptionError(EmulatorError, UsageError):
    """Raised when an emulator setting has a value the emulator cannot use."""
