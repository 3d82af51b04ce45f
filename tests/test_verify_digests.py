"""Tile digests: every tile is stored with one, ``verify`` checks each tile against it and never crashes
on a damaged row, and a resumed ``package`` refetches damaged tiles before it calls a file complete."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from test_writers_support import (
    bbox_tiles,
    fill,
    finished_package,
    install_bbox_cover,
    make_job,
    render_tile,
    tamper,
)

from ospack import package
from ospack.area import read_area
from ospack.cover import cover
from ospack.errors import WriterError
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import verify
from ospack.layers import get_layer
from ospack.types import Tile
from ospack.writers import OutputOptions, open_writer
from ospack.writers.integrity import cover_diff

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
GPKG_LAYER, GPKG_ZOOMS = "Outdoor_27700", (6, 7)
MBT_LAYER, MBT_ZOOMS = "Road_3857", (12, 13)
#: (fixture id, file name, layer, zooms, writer options, tile table, stored row of an XYZ tile)
LAYOUTS = {
    "gpkg": ("area.gpkg", GPKG_LAYER, GPKG_ZOOMS, None, "outdoor_27700", lambda t: t.y),
    "mbtiles": ("area.mbtiles", MBT_LAYER, MBT_ZOOMS, None, "tiles", lambda t: (1 << t.z) - 1 - t.y),
    "dedup": (
        "dedup.mbtiles",
        MBT_LAYER,
        MBT_ZOOMS,
        OutputOptions(dedup=True),
        "tiles",
        lambda t: (1 << t.z) - 1 - t.y,
    ),
}


@pytest.fixture(params=list(LAYOUTS))
def layout(request, tmp_path, monkeypatch):
    install_bbox_cover(monkeypatch)  # the cover is the area's bounding-box tiles; the real cover is tested below
    name, layer, zooms, options, table, stored_row = LAYOUTS[request.param]
    path = finished_package(tmp_path / name, layer, zooms, options)
    return request.param, path, layer, zooms, table, stored_row


def blob_of(path, table, stored_row, tile: Tile) -> bytes:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            f"SELECT tile_data FROM {table} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (tile.z, tile.x, stored_row(tile)),
        ).fetchone()[0]
    finally:
        conn.close()


def put_blob(path, kind, stored_row, tile: Tile, data: bytes) -> None:
    """Replace a stored tile's bytes from outside, as a damaged disk or another program would."""
    z, x, row = tile.z, tile.x, stored_row(tile)
    if kind == "dedup":  # give the position an image of its own, so only it changes
        tamper(
            path,
            ("INSERT INTO images (tile_id, tile_data) VALUES (?, ?)", (f"damage-{z}-{x}-{row}", data)),
            (
                "UPDATE map SET tile_id = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (f"damage-{z}-{x}-{row}", z, x, row),
            ),
        )
    else:
        table = "outdoor_27700" if kind == "gpkg" else "tiles"
        tamper(
            path,
            (
                f"UPDATE {table} SET tile_data = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (data, z, x, row),
            ),
        )


def one_pixel_changed(png: bytes) -> bytes:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    r, g, b = image.getpixel((5, 5))
    image.putpixel((5, 5), ((r + 1) % 256, g, b))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def last_byte_changed(png: bytes) -> bytes:
    return png[:-1] + bytes([png[-1] ^ 0x01])  # the IEND chunk's CRC: no decoder reads it


def test_every_stored_tile_has_the_sha256_of_its_exact_bytes(layout):
    _kind, path, layer, zooms, table, stored_row = layout
    conn = sqlite3.connect(path)
    digests = {
        (z, x, y): d
        for z, x, y, d in conn.execute(
            "SELECT zoom_level, tile_column, tile_row, digest FROM ospack_digest WHERE layer = ?", (layer,)
        )
    }
    conn.close()
    tiles = [t for z in zooms for t in bbox_tiles(layer, z)]
    assert len(digests) == len(tiles)
    for tile in tiles:
        data = blob_of(path, table, stored_row, tile)
        assert digests[tile] == hashlib.sha256(data).digest()[:16]
    report = verify(path)
    assert report.ok and report.notes == [], report.problems + report.notes


def test_the_digest_table_costs_about_40_bytes_a_tile(tmp_path):
    tiles = bbox_tiles(MBT_LAYER, 16, box=(-4.2, 53.0, -4.0, 53.1))  # ~1,300 tiles
    path = tmp_path / "size.mbtiles"
    with open_writer(path, make_job(MBT_LAYER, (16,), box=(-4.2, 53.0, -4.0, 53.1))) as writer:
        blob = render_tile(tiles[0])
        for start in range(0, len(tiles), 500):
            writer.write(MBT_LAYER, [(t, blob) for t in tiles[start : start + 500]])
        writer.mark_complete()
    conn = sqlite3.connect(path)
    pages = conn.execute("SELECT count(*) FROM dbstat WHERE name = 'ospack_digest'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    per_tile = pages * page_size / len(tiles)
    assert 20 < per_tile < 50, per_tile


@pytest.mark.parametrize("damage", ["swapped", "pixel", "iend_crc"])
def test_verify_fails_a_changed_or_swapped_tile_naming_it(layout, damage):
    kind, path, layer, zooms, table, stored_row = layout
    first, second = bbox_tiles(layer, zooms[-1])[:2]
    a, b = blob_of(path, table, stored_row, first), blob_of(path, table, stored_row, second)
    if damage == "swapped":
        put_blob(path, kind, stored_row, first, b)
        put_blob(path, kind, stored_row, second, a)
        damaged = [first, second]
    else:
        put_blob(path, kind, stored_row, first, one_pixel_changed(a) if damage == "pixel" else last_byte_changed(a))
        damaged = [first]
    report = verify(path)
    assert not report.ok
    assert report.problems == [
        f"tile {t.z}/{t.x}/{t.y} of {layer}: its bytes differ from those stored (digest mismatch: changed or swapped)"
        for t in damaged
    ]


DAMAGED_ROWS = {
    # name: (SQL on a plain MBTiles file, what verify says about the row)
    "empty blob": ("UPDATE tiles SET tile_data = x'' WHERE rowid = 1", "tile_data is empty (0 bytes)"),
    "NULL data": ("UPDATE tiles SET tile_data = NULL WHERE rowid = 1", "tile_data is NULL, not an image"),
    "text data": ("UPDATE tiles SET tile_data = 'not a tile' WHERE rowid = 1", "tile_data is text, not an image"),
    "non-image bytes": ("UPDATE tiles SET tile_data = x'3c68746d6c3e' WHERE rowid = 1", "not a PNG or JPEG image"),
    "text zoom": ("UPDATE tiles SET zoom_level = 'z13' WHERE rowid = 1", "zoom/column/row are text/integer/integer"),
    "NULL column": ("UPDATE tiles SET tile_column = NULL WHERE rowid = 1", "are integer/NULL/integer, not integers"),
    "real row": ("UPDATE tiles SET tile_row = 2.5 WHERE rowid = 1", "are integer/integer/real, not integers"),
    "foreign zoom": ("UPDATE tiles SET zoom_level = 14 WHERE rowid = 1", "zoom 14 is not one of the job's zooms"),
    "outside the matrix": (
        "UPDATE tiles SET tile_column = 9000 WHERE rowid = 1",
        "lies outside the tile matrix (zoom 13 has 8192×8192",
    ),
    "huge zoom": ("UPDATE tiles SET zoom_level = 1000000000000 WHERE rowid = 1", "zoom 1000000000000 is not one of"),
}


@pytest.mark.parametrize("name", list(DAMAGED_ROWS))
def test_verify_reports_a_damaged_row_instead_of_crashing(tmp_path, monkeypatch, name):
    install_bbox_cover(monkeypatch)
    path = finished_package(tmp_path / "area.mbtiles", MBT_LAYER, (13,))
    sql, expected = DAMAGED_ROWS[name]
    tamper(path, sql)
    report = verify(path)
    assert not report.ok
    assert any(p.startswith("tile ") and expected in p for p in report.problems), report.problems


def test_verify_reports_damaged_geopackage_rows_too(tmp_path, monkeypatch):
    install_bbox_cover(monkeypatch)
    path = finished_package(tmp_path / "area.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(
        path,
        "UPDATE outdoor_27700 SET tile_data = x'' WHERE id = 1",
        "UPDATE outdoor_27700 SET tile_data = 'text' WHERE id = 2",
        "UPDATE outdoor_27700 SET tile_row = 'row' WHERE id = 3",
        "UPDATE outdoor_27700 SET tile_column = 5000 WHERE id = 4",
    )
    problems = verify(path).problems
    for expected in ("empty (0 bytes)", "tile_data is text", "are integer/integer/text", "outside the tile matrix"):
        assert any(expected in p for p in problems), (expected, problems)


def test_a_file_made_before_digests_verifies_with_a_note(tmp_path, monkeypatch):
    install_bbox_cover(monkeypatch)
    path = finished_package(tmp_path / "old.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(path, "DROP TABLE ospack_digest")
    report = verify(path)
    assert report.ok, report.problems
    (note,) = report.notes
    assert "the file predates ospack's tile digests" in note and "checked by decoding only" in note
    # ...and a broken tile in it is still found, by decoding
    conn = sqlite3.connect(path)
    png = conn.execute("SELECT tile_data FROM outdoor_27700 WHERE id = 1").fetchone()[0]
    conn.close()
    cut = png[:200] + png[-12:]  # its IDAT cut short, the IEND chunk kept
    tamper(path, ("UPDATE outdoor_27700 SET tile_data = ? WHERE id = 1", (cut,)))
    assert any("does not decode" in p for p in verify(path).problems)


def test_cover_diff_kinds():
    cover_keys = [(0, 0), (0, 1), (1, 0), (1, 1)]
    stored = [(0, 0), (1, 1), (2, 2)]
    absent = [(0, 1), (1, 1), (3, 3)]
    assert list(cover_diff(cover_keys, stored, absent)) == [
        ("missing", 1, 0),
        ("stored_absent", 1, 1),
        ("extra", 2, 2),
        ("extra_absent", 3, 3),
    ]


# ---- package: a resume refetches damaged tiles before it calls the file complete ------------------
def run(emulator, output, zooms="6-9", *, key="demo", overwrite=False, **options):
    return package(
        SNOWDON,
        output,
        layers="Outdoor_27700",
        zooms=zooms,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(url=emulator.url, key=key),
        options=OutputOptions(overwrite=overwrite),
        **options,
    )


def damage(output):
    """A broken PNG, a changed byte and a tile outside the matrix, from outside; returns the two damaged tiles."""
    conn = sqlite3.connect(output)
    try:
        (broken, changed) = [
            Tile(*row)
            for row in conn.execute(
                "SELECT zoom_level, tile_column, tile_row FROM outdoor_27700 WHERE zoom_level = 9 ORDER BY id LIMIT 2"
            )
        ]
        conn.execute(
            "UPDATE outdoor_27700 SET tile_data = x'89504e470d0a1a0a0000' WHERE zoom_level = ? AND "
            "tile_column = ? AND tile_row = ?",
            broken,
        )
        (png,) = conn.execute(
            "SELECT tile_data FROM outdoor_27700 WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", changed
        ).fetchone()
        conn.execute(
            "UPDATE outdoor_27700 SET tile_data = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (last_byte_changed(png), *changed),
        )
        conn.execute(
            "INSERT INTO outdoor_27700 (zoom_level, tile_column, tile_row, tile_data) "
            "SELECT zoom_level, 99999, tile_row, tile_data FROM outdoor_27700 WHERE zoom_level = 8 LIMIT 1"
        )
        conn.commit()
    finally:
        conn.close()
    return broken, changed


@pytest.mark.parametrize("state", ["partly", "fully"])
def test_a_resume_refetches_damaged_tiles_and_the_result_verifies(fast_emulator, tmp_path, state):
    output = tmp_path / f"{state}.gpkg"
    tiles = list(cover(read_area(SNOWDON), get_layer("Outdoor_27700"), range(6, 10)))
    first = run(fast_emulator, output)
    assert first.complete and verify(output).ok
    if state == "partly":
        tamper(
            output,
            "DELETE FROM outdoor_27700 WHERE zoom_level = 9 AND id % 4 = 0",
            "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
        )
    broken, changed = damage(output)
    problems = verify(output).problems
    for tile, what in ((broken, "PNG has no IHDR header"), (changed, "digest mismatch")):
        assert any(
            p.startswith(f"tile {tile.z}/{tile.x}/{tile.y} of Outdoor_27700: ") and what in p for p in problems
        ), problems
    assert any("lies outside the tile matrix" in p for p in problems), problems
    conn = sqlite3.connect(output)
    stored = conn.execute("SELECT count(*) FROM outdoor_27700 WHERE tile_column < 99999").fetchone()[0]
    conn.close()

    fast_emulator.reset()
    notes: list[str] = []
    summary = run(fast_emulator, output, announce=notes.append)
    assert summary.complete and not summary.already_complete
    assert summary.requests == len(tiles) - stored + 2  # what was missing, and the two damaged tiles again
    assert any("3 stored tiles of Outdoor_27700 were damaged" in n for n in notes), notes
    assert [n for n in summary.notes if "were damaged" in n] == [n for n in notes if "were damaged" in n]
    report = verify(output)
    assert report.ok and report.notes == [], report.problems + report.notes


def test_tiles_outside_the_area_are_deleted_with_a_note(fast_emulator, tmp_path):
    output = tmp_path / "stray.gpkg"
    run(fast_emulator, output)
    tamper(output, "UPDATE outdoor_27700 SET tile_column = tile_column + 40 WHERE zoom_level = 9 AND id % 5 = 0")
    assert any("lie outside the area's cover" in p for p in verify(output).problems)
    notes: list[str] = []
    summary = run(fast_emulator, output, announce=notes.append)
    assert summary.complete
    assert any(n.startswith("deleted ") and "outside the job's area" in n for n in notes), notes
    assert verify(output).ok


def test_a_file_made_before_digests_gets_them_on_resume(fast_emulator, tmp_path):
    output = tmp_path / "old.gpkg"
    run(fast_emulator, output)
    tamper(output, "DROP TABLE ospack_digest")
    fast_emulator.reset()
    notes: list[str] = []
    summary = run(fast_emulator, output, announce=notes.append)
    assert summary.complete and fast_emulator.stats()["requests"] == 0
    assert any("recorded digests of" in n and "before ospack kept digests" in n for n in notes), notes
    report = verify(output)
    assert report.ok and report.notes == [], report.problems + report.notes
    # a complete file in good order is left alone: no request, no rewrite
    again = run(fast_emulator, output)
    assert again.already_complete


def test_a_file_is_not_marked_complete_while_a_recorded_zoom_is_short(fast_emulator, tmp_path):
    output = tmp_path / "short.gpkg"
    run(fast_emulator, output, zooms="6-9")
    tamper(
        output,
        "DELETE FROM outdoor_27700 WHERE zoom_level = 9 AND id % 2 = 0",
        "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
    )
    with pytest.raises(WriterError, match=r"not marked complete: Outdoor_27700 zoom 9: \d+ tiles stored"):
        run(fast_emulator, output, zooms="6-8")  # zoom 9 is the file's, but not asked this time
    assert not verify(output).ok
    assert run(fast_emulator, output, zooms="6-9").complete and verify(output).ok


def test_unfinished_reports_tiles_without_digest(tmp_path):
    path = tmp_path / "nodigest.gpkg"
    with open_writer(path, make_job(GPKG_LAYER, (6,))) as writer:
        tiles = fill(writer, GPKG_LAYER, (6,))[6]
        assert writer.unfinished(GPKG_LAYER, {6: len(tiles)}) == []
        tamper(path, ("DELETE FROM ospack_digest WHERE tile_column = ? AND tile_row = ?", (tiles[0].x, tiles[0].y)))
        assert writer.unfinished(GPKG_LAYER, {6: len(tiles)}) == [f"1 stored tiles of {GPKG_LAYER} have no digest"]
        assert writer.unfinished(GPKG_LAYER, {6: len(tiles) + 1})[0] == (
            f"{GPKG_LAYER} zoom 6: {len(tiles)} tiles stored or absent at source, the area's cover has {len(tiles) + 1}"
        )


# ---- the writer's resume check on its own, for every layout ----------------------------------------
def bbox_cover_of(layer):
    return lambda z: iter(bbox_tiles(layer, z))


def test_check_stored_deletes_damaged_and_stray_tiles_and_a_rewrite_verifies(layout):
    kind, path, layer, zooms, table, stored_row = layout
    tiles = bbox_tiles(layer, zooms[-1])
    put_blob(path, kind, stored_row, tiles[0], last_byte_changed(blob_of(path, table, stored_row, tiles[0])))
    key_table = "outdoor_27700" if kind == "gpkg" else ("map" if kind == "dedup" else "tiles")
    stray = Tile(zooms[-1], tiles[-1].x + 5, tiles[-1].y)
    tamper(
        path,
        (
            f"UPDATE {key_table} SET tile_column = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (stray.x, tiles[-1].z, tiles[-1].x, stored_row(tiles[-1])),
        ),
    )
    assert not verify(path).ok
    with open_writer(path, make_job(layer, zooms)) as writer:
        notes = writer.check_stored(layer, bbox_cover_of(layer))
        assert not writer.complete  # something was deleted: the file is incomplete until refilled
        assert notes[0].startswith(
            f"1 stored tiles of {layer} were damaged; deleted, to be fetched again (e.g. "
            f"{tiles[0].z}/{tiles[0].x}/{tiles[0].y}: its bytes differ"
        )
        assert notes[1] == f"deleted 1 stored tiles of {layer} that lie outside the job's area"
        assert not writer.contains(layer, tiles[0]) and not writer.contains(layer, stray)
        assert writer.unfinished(layer, {z: len(bbox_tiles(layer, z)) for z in zooms}) != []
        writer.write(layer, [(t, render_tile(t)) for t in (tiles[0], tiles[-1])])
        assert writer.unfinished(layer, {z: len(bbox_tiles(layer, z)) for z in zooms}) == []
        assert writer.check_stored(layer, bbox_cover_of(layer)) == []  # nothing left to find
        writer.mark_complete()
    report = verify(path)
    assert report.ok and report.notes == [], report.problems + report.notes


def test_check_stored_drops_a_bad_shared_image_and_every_position_holding_it(tmp_path):
    path = tmp_path / "shared.mbtiles"
    tiles = bbox_tiles(MBT_LAYER, 13)
    blank = render_tile(tiles[0])
    with open_writer(path, make_job(MBT_LAYER, (13,)), OutputOptions(dedup=True)) as writer:
        writer.write(MBT_LAYER, [(t, blank) for t in tiles[:3]] + [(t, render_tile(t)) for t in tiles[3:]])
        writer.mark_complete()
    tamper(path, ("UPDATE images SET tile_data = ? WHERE tile_data = ?", (last_byte_changed(blank), blank)))
    with open_writer(path, make_job(MBT_LAYER, (13,))) as writer:
        (note,) = writer.check_stored(MBT_LAYER, bbox_cover_of(MBT_LAYER))
        assert note.startswith(f"3 stored tiles of {MBT_LAYER} were damaged")
        assert [t for t in tiles if not writer.contains(MBT_LAYER, t)] == tiles[:3]
        writer.write(MBT_LAYER, [(t, blank) for t in tiles[:3]])
        writer.mark_complete()
    assert verify(path).ok


def test_check_stored_deletes_rows_whose_address_is_not_integers(tmp_path):
    path = finished_package(tmp_path / "keys.mbtiles", MBT_LAYER, (13,))
    tamper(
        path,
        "UPDATE tiles SET zoom_level = 'thirteen' WHERE rowid = 1",
        "UPDATE tiles SET tile_row = NULL WHERE rowid = 2",
        "UPDATE tiles SET tile_data = x'' WHERE rowid = 3",
    )
    with open_writer(path, make_job(MBT_LAYER, (13,))) as writer:
        (note,) = writer.check_stored(MBT_LAYER, bbox_cover_of(MBT_LAYER))
        assert note.startswith(f"3 stored tiles of {MBT_LAYER} were damaged")
    assert rows_where(path, "zoom_level = 'thirteen' OR tile_row IS NULL OR length(tile_data) = 0") == 0


def rows_where(path, condition) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM tiles WHERE {condition}").fetchone()[0]
    finally:
        conn.close()


def test_verify_reports_a_damaged_tile_matrix_instead_of_crashing(tmp_path, monkeypatch):
    install_bbox_cover(monkeypatch)
    path = finished_package(tmp_path / "area.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(path, "UPDATE gpkg_tile_matrix SET matrix_width = 'wide' WHERE zoom_level = 6")
    problems = verify(path).problems
    assert "GeoPackage table outdoor_27700 zoom 6: tile matrix row holds non-numbers" in problems
