"""Cheap header checks of tile images (PNG IHDR, JPEG SOF) against Pillow."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ospack.errors import InvalidTileError
from ospack.writers.images import check_tile_image, image_size


def encode(size: tuple[int, int], fmt: str, **options) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, (10, 200, 30)).save(out, fmt, **options)
    return out.getvalue()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 600), st.integers(1, 600), st.sampled_from(["PNG", "JPEG", "JPEG-progressive"]))
def test_header_size_matches_pillow(width, height, kind):
    fmt, options = ("JPEG", {"progressive": True}) if kind == "JPEG-progressive" else (kind, {})
    data = encode((width, height), fmt, **options)
    assert image_size(data) == ("png" if fmt == "PNG" else "jpg", width, height)


def test_right_size_passes_and_wrong_size_fails():
    assert check_tile_image(encode((256, 256), "PNG"), 256) == "png"
    assert check_tile_image(encode((256, 256), "JPEG"), 256) == "jpg"
    with pytest.raises(InvalidTileError, match="512×256 pixels"):
        check_tile_image(encode((512, 256), "PNG"), 256)


@pytest.mark.parametrize(
    "data, says",
    [
        (b"", "not a PNG or JPEG"),
        (b'{"error": "quota"}', "not a PNG or JPEG"),
        (encode((256, 256), "PNG")[:-30], "truncated"),
        (encode((256, 256), "JPEG")[:-40], "truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "IHDR"),
        (encode((256, 256), "WEBP"), "not a PNG or JPEG"),
    ],
)
def test_broken_or_foreign_bytes_are_refused(data, says):
    with pytest.raises(InvalidTileError, match=says):
        check_tile_image(data, 256)


def test_non_bytes_are_refused():
    with pytest.raises(InvalidTileError, match="must be bytes"):
        check_tile_image("PNG", 256)  # type: ignore[arg-type]
