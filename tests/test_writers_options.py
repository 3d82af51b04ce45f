"""OutputOptions: the output's format and what a run may do to a file already there."""

from __future__ import annotations

import pytest

from ospack.errors import OutputFormatError
from ospack.writers import OutputOptions


def test_the_format_is_normalised_and_checked_when_made():
    assert OutputOptions(format=".MBTiles").format == "mbtiles"
    assert OutputOptions().format is None
    with pytest.raises(OutputFormatError, match="unknown output format 'tif'; choose gpkg or mbtiles"):
        OutputOptions(format="tif")


@pytest.mark.parametrize(
    "path, given, expected",
    [("a.gpkg", None, "gpkg"), ("a.MBTILES", None, "mbtiles"), ("a.db", "mbtiles", "mbtiles"), ("a", "gpkg", "gpkg")],
)
def test_the_format_of_a_path_is_the_given_one_else_its_extension(path, given, expected):
    assert OutputOptions(format=given).format_of(path) == expected


def test_a_path_whose_extension_disagrees_or_says_nothing_is_refused():
    with pytest.raises(OutputFormatError, match=r"has a \.gpkg name but format mbtiles was asked"):
        OutputOptions(format="mbtiles").format_of("a.gpkg")
    with pytest.raises(OutputFormatError, match=r"cannot tell the format of 'a\.tif'; name it \.gpkg or \.mbtiles"):
        OutputOptions().format_of("a.tif")
