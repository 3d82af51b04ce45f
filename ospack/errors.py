"""The one exception tree of ospack.

This module must not import click: the library raises these, and only the CLI
turns them into a line on stderr and an exit code (``exit_code``).

    OspackError                      exit 1 unless stated
    ├── UsageError                   bad option values (exit 2)
    │   ├── LayerError               unknown layer, zoom outside a layer
    │   └── ZoomError
    ├── AreaError                    unreadable / unusable area
    │   └── AreaOutsideGridError     area misses the layer's grid or limits
    ├── GridError                    grid data missing or inconsistent
    ├── DownloadError                fetch stage
    │   ├── AuthError                bad / missing key (fail fast)
    │   └── PremiumError             premium zoom refused or not allowed
    ├── WriterError                  output file stage
    │   ├── IncompatibleOutputError  existing file holds another job
    │   └── InvalidTileError         a tile that is not a valid image of the grid's size
    └── EmulatorError                emulator configuration
"""

from __future__ import annotations


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


class AreaError(OspackError, ValueError):
    """Raised when an area cannot be read, parsed, repaired or used."""


class AreaOutsideGridError(AreaError):
    """Raised when an area lies wholly outside a layer's grid or limits."""


class GridError(OspackError):
    """Raised when a tile grid definition is missing or inconsistent."""


class DownloadError(OspackError):
    """Raised when tiles cannot be fetched from the API."""


class AuthError(DownloadError):
    """Raised when the API refuses the credentials (bad, missing or expired key)."""


class PremiumError(DownloadError):
    """Raised when premium zooms are refused or were not allowed."""


class WriterError(OspackError):
    """Raised when an output file cannot be created, written or read."""


class IncompatibleOutputError(WriterError):
    """Raised when an existing output holds a different job than the one asked for."""


class InvalidTileError(WriterError, ValueError):
    """Raised when tile bytes are not a PNG/JPEG of the grid's tile size."""


class EmulatorError(OspackError):
    """Raised when the emulator is misconfigured or cannot start."""
