"""Is a response body a whole PNG tile of the expected size?

Walks the chunk list and checks every CRC (zlib, in C): a truncated, corrupted or
non-PNG body (an HTML error page sent with status 200) fails in microseconds,
without decoding pixels.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD = struct.Struct(">I4s")


def png_problem(data: bytes, size: int = 256) -> str | None:
    """Why ``data`` is not a complete ``size``×``size`` PNG, or None when it is one."""
    if not data.startswith(PNG_SIGNATURE):
        head = data[:16].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            return "body is an HTML page, not a PNG"
        if head.startswith((b"{", b"[")):
            return "body is JSON, not a PNG"
        if head.startswith(b"<"):
            return "body is XML, not a PNG"
        return "body is not a PNG (bad signature)" if data else "body is empty"
    offset = len(PNG_SIGNATURE)
    first = True
    while True:
        if offset + 8 > len(data):
            return "PNG is truncated (no IEND chunk)"
        length, kind = _CHUNK_HEAD.unpack_from(data, offset)
        end = offset + 8 + length + 4
        if end > len(data):
            return "PNG is truncated inside a chunk"
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, offset + 8 + length)
        if zlib.crc32(kind + body) != crc:
            return f"PNG chunk {kind.decode('latin-1')!r} is corrupt (CRC mismatch)"
        if first:
            if kind != b"IHDR" or length != 13:
                return "PNG does not start with an IHDR chunk"
            width, height = struct.unpack_from(">II", body)
            if (width, height) != (size, size):
                return f"PNG is {width}×{height}, not {size}×{size}"
            first = False
        if kind == b"IEND":
            return None
        offset = end
