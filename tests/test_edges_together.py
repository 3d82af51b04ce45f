"""Issue 8's features used together, as a hostile user would: project GeoPackages, damage, locks,
failures and key rules at once. Each test here was a defect found by combining them."""

from __future__ import annotations

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from click.testing import CliRunner
from test_verify_digests import SNOWDON, run
from test_writers_support import fill, make_job, query, tamper

from ospack import package
from ospack.cli import cli
from ospack.errors import AuthError, WriterError
from ospack.fetch import ApiAccess
from ospack.inspect import info, verify
from ospack.writers import open_writer
from ospack.writers.access import missing_wal_note
from ospack.writers.lock import OutputLock


def test_a_tile_stored_as_text_that_is_not_utf8_is_damage_not_a_crash(fast_emulator, tmp_path):
    # `tile_data || x'00'` in sqlite3 makes a TEXT value of the PNG's bytes (not valid UTF-8):
    # reading it back raised sqlite3.OperationalError out of both verify and the resume's check
    output = tmp_path / "text.gpkg"
    assert run(fast_emulator, output, zooms="6-7").complete
    tamper(output, "UPDATE outdoor_27700 SET tile_data = tile_data || x'00' WHERE id = 1")
    tamper(output, "UPDATE outdoor_27700 SET tile_data = 5 WHERE id = 2")
    problems = verify(output).problems
    assert any("tile_data is integer, not an image" in p for p in problems), problems
    assert any(p.startswith("tile ") and "tile_data is text, not an image" in p for p in problems), problems
    assert not any(p.startswith("Could not decode") for p in problems), problems
    again = run(fast_emulator, output, zooms="6-7")
    assert again.complete and again.tiles_written == 2
    assert verify(output).ok


def test_info_and_verify_name_the_run_that_is_writing_the_file(fast_emulator, tmp_path):
    # while a run holds OUTPUT.ospack-lock, "interrupted; rerun to resume" sent the user to a rerun
    # that is then refused as "in use by another ospack run"
    output = tmp_path / "busy.gpkg"
    assert run(fast_emulator, output, zooms="6").complete
    tamper(output, "UPDATE ospack_state SET value = '0' WHERE name = 'complete'")
    lock = OutputLock(output)
    lock.acquire()
    try:
        assert "being written by another ospack run" in info(output).to_text().splitlines()[0]
        (problem,) = [p for p in verify(output).problems if p.startswith("incomplete")]
        assert "being written by another ospack run" in problem and "rerun" not in problem
    finally:
        lock.release()
    assert "interrupted; rerun to resume" in info(output).to_text().splitlines()[0]


@pytest.mark.parametrize("key", ["de\x01mo", "demo\r\nX-Injected: 1", "de\tmo"])
def test_a_key_with_a_control_character_is_refused_before_any_file(fast_emulator, tmp_path, key):
    # it went into the `key` header, where aiohttp raised ValueError ("header injection") as a
    # traceback, after the new file was created and left behind
    output = tmp_path / "key.gpkg"
    result = CliRunner().invoke(
        cli,
        ["package", str(SNOWDON), "-o", str(output), "-l", "Outdoor_27700", "-z", "6", "--api-url", fast_emulator.url],
        env={"OS_API_KEY": key},
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: the API key ") and key not in result.output
    assert not result.exception or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []


def points_layer(path, layer: str) -> None:
    """A user's point layer written by GDAL (appended when ``path`` exists)."""
    points = shapely.points([(260990.0, 354366.0), (261200.5, 354100.25)])
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(points),
        [np.array(["summit", "cairn"], dtype=object)],
        ["name"],
        layer=layer,
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:27700",
        append=path.exists(),
    )


@pytest.mark.parametrize("layers", [("ospack_sites",), ("survey", "ospack_sites")])
def test_a_users_layer_named_ospack_something_survives_overwrite(tmp_path, layers):
    # every table named ospack_* was taken for ospack's bookkeeping: --overwrite dropped the user's
    # layer `ospack_sites`, or (when it was the only one) removed the user's whole file
    path = tmp_path / "project.gpkg"
    for layer in layers:
        points_layer(path, layer)
    for extra in ((), ("--overwrite",), ("--overwrite", "--buffer", "500")):
        result = CliRunner().invoke(
            cli,
            [
                "package",
                str(SNOWDON),
                "-o",
                str(path),
                "-l",
                "Outdoor_27700",
                "-z",
                "5-6",
                "--demo",
                "--context",
                "0",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        for layer in layers:
            assert pyogrio.read_info(str(path), layer=layer)["features"] == 2, (extra, layer)
        assert verify(path).ok, verify(path).problems
    assert query(
        path,
        "SELECT count(*) FROM gpkg_extensions WHERE table_name = 'ospack_sites' "
        "AND extension_name = 'ospack_bookkeeping'",
    ) == [(0,)]


def test_a_users_layer_named_like_ospacks_state_table_is_refused_and_kept(tmp_path):
    # a table `ospack_state` without ospack's columns: package, --overwrite, info and verify all
    # ended in a traceback (sqlite3.OperationalError: no such column: value)
    path = tmp_path / "project.gpkg"
    points_layer(path, "ospack_state")
    before = path.read_bytes()
    for extra in ((), ("--overwrite",)):
        result = CliRunner().invoke(
            cli,
            [
                "package",
                str(SNOWDON),
                "-o",
                str(path),
                "-l",
                "Outdoor_27700",
                "-z",
                "5",
                "--demo",
                "--context",
                "0",
                *extra,
            ],
        )
        assert result.exit_code == 1, result.output
        assert "has a table named ospack_state that ospack did not make" in result.output
    assert path.read_bytes() == before
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "ospack_state" in result.output
    assert any("ospack_state" in p for p in verify(path).problems)


def test_a_complete_file_asked_for_fewer_zooms_counts_only_those_as_stored(fast_emulator, tmp_path):
    # the summary said "(22 already stored)" of a 6-tile job: every tile of the file, asked or not
    output = tmp_path / "more.gpkg"
    assert run(fast_emulator, output, zooms="6-7").complete
    fewer = run(fast_emulator, output, zooms="6")
    assert fewer.already_complete and fewer.requests == 0
    assert (
        fewer.tiles_already_stored
        == fewer.tiles_planned
        == run(fast_emulator, tmp_path / "six.gpkg", zooms="6").tiles_written
    )


def test_a_second_run_through_a_symlink_is_refused_too(fast_emulator, tmp_path):
    # the lock sat beside the name given, so a run on project.gpkg and one on a link to it both
    # downloaded everything into the same file
    real = tmp_path / "project.gpkg"
    assert run(fast_emulator, real, zooms="6").complete
    tamper(real, "UPDATE ospack_state SET value = '0' WHERE name = 'complete'")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "link.gpkg"
    link.symlink_to(real)
    lock = OutputLock(link)
    lock.acquire()
    try:
        with pytest.raises(WriterError, match="in use by another ospack run"):
            run(fast_emulator, real, zooms="6")
        assert "being written by another ospack run" in info(real).to_text().splitlines()[0]
    finally:
        lock.release()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["link.gpkg", "project.gpkg", "sub"]


def test_a_failed_first_run_through_a_symlink_removes_the_file_it_made_not_the_link(fast_emulator, tmp_path):
    # the removal unlinked the name given: the user's link went, and the half-made file it
    # pointed to stayed behind
    link = tmp_path / "link.gpkg"
    link.symlink_to("target.gpkg")
    with pytest.raises(AuthError):
        package(SNOWDON, link, layers="Outdoor_27700", zooms="6", api=ApiAccess(url=fast_emulator.url, key="wrong"))
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["link.gpkg"]
    # --overwrite through a link replaces the file it points to, and keeps the link
    assert run(fast_emulator, link, zooms="6").complete
    assert run(fast_emulator, link, zooms="5", overwrite=True).complete
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["link.gpkg", "target.gpkg"]
    assert (info(tmp_path / "target.gpkg").provenance or {}).get("zooms") == [5]


def test_a_file_being_written_read_through_a_symlink_is_not_said_to_lack_its_wal(tmp_path):
    # SQLite keeps the -wal beside the file itself; looking for it beside the link's name said
    # "copied without its -wal" of a file mid-run (and would read it as immutable, without it)
    real = tmp_path / "data" / "project.gpkg"
    real.parent.mkdir()
    link = tmp_path / "link.gpkg"
    link.symlink_to(real)
    with open_writer(real, make_job("Outdoor_27700", (6, 7))) as writer:
        fill(writer, "Outdoor_27700", (6,))
        assert real.with_name("project.gpkg-wal").stat().st_size
        assert missing_wal_note(link) is None


def test_a_project_geopackage_ospack_has_packaged_into_is_still_an_area(tmp_path):
    # the area reader read every layer GDAL lists, ospack's bookkeeping tables too, and GDAL
    # cannot read ospack_digest (WITHOUT ROWID): the project's own file stopped being an area
    path = tmp_path / "project.gpkg"
    points_layer(path, "survey")
    args = [
        "package",
        str(path),
        "--area-crs",
        "EPSG:27700",
        "--buffer",
        "500",
        "-o",
        str(path),
        "-l",
        "Outdoor_27700",
        "-z",
        "5-7",
        "--demo",
        "--context",
        "0",
    ]
    for _ in range(2):  # the first run packages the file's own points; the rerun reads them again
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert "already complete" in result.output


def test_every_table_gdal_lists_in_a_shared_geopackage_can_be_read(tmp_path):
    path = tmp_path / "project.gpkg"
    points_layer(path, "survey")
    result = CliRunner().invoke(
        cli, ["package", str(SNOWDON), "-o", str(path), "-l", "Outdoor_27700", "-z", "5", "--demo", "--context", "0"]
    )
    assert result.exit_code == 0, result.output
    # GDAL lists ospack's bookkeeping tables beside the user's layers: each must read (a WITHOUT ROWID
    # table cannot be read as a layer), as QGIS or ogr2ogr of the whole file does with every listed layer
    listed = [name for name, _ in pyogrio.list_layers(str(path))]
    assert "survey" in listed and "ospack_digest" in listed
    for name in listed:
        pyogrio.raw.read(str(path), layer=name)
