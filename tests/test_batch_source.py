"""ospack.batch_source: features read as named sites, and every class of bad feature reported by index and name."""

from __future__ import annotations

import pytest
import shapely
from batch_sites import squares, write_geojson, write_gpkg

from ospack.area import read_area
from ospack.batch_source import MAX_NAME_BYTES, name_problem, read_sites
from ospack.errors import AreaError, UsageError


def test_each_feature_is_a_site_named_by_its_field_with_the_area_a_single_read_gives(tmp_path):
    features = squares(2, 1)
    source = read_sites(write_gpkg(tmp_path / "sites.gpkg", features), "name", buffer_m=200)
    assert [(s.index, s.name) for s in source.sites] == [(0, "s00"), (1, "s10")]
    assert source.bad == ()
    alone = read_area(shapely.to_wkt(features[1][1]), area_crs="EPSG:27700", buffer_m=200)
    assert source.sites[1].area.crs == "EPSG:27700"
    assert source.sites[1].area.geometry.equals(alone.geometry)
    assert any("grew the area by 200 m" in note for note in source.sites[1].area.notes)


def test_a_geojson_feature_collection_is_read_the_same_way(tmp_path):
    source = read_sites(write_geojson(tmp_path / "sites.geojson", squares(1, 2)), "name")
    assert [s.name for s in source.sites] == ["s00", "s01"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "folder reference"),
        (".", "folder reference"),
        ("", "empty"),
        ("   ", "empty"),
        ("tab\there", "control character"),
        ("x" * (MAX_NAME_BYTES + 1), "longer than"),
    ],
)
def test_a_name_that_is_no_safe_file_name_is_bad(tmp_path, name, reason):
    box = squares(1, 1)[0][1]
    source = read_sites(write_geojson(tmp_path / "s.geojson", [("good", box), (name, box)]), "name")
    assert [s.name for s in source.sites] == ["good"]
    (bad,) = source.bad
    assert bad.index == 1 and reason in bad.reason
    assert str(bad).startswith("feature 1 ")


def test_a_missing_value_and_bad_geometries_are_bad_features_with_their_index_and_name(tmp_path):
    box = squares(1, 1)[0][1]
    features = [
        ("ok", box),
        (None, box),
        ("nogeom", None),
        ("line", shapely.LineString([(258000, 352000), (259000, 352000)])),
    ]
    source = read_sites(write_geojson(tmp_path / "s.geojson", features), "name")
    assert [s.name for s in source.sites] == ["ok"]
    reasons = {(b.index, b.name): b.reason for b in source.bad}
    assert "NULL" in reasons[(1, None)]
    assert "no geometry" in reasons[(2, "nogeom")]
    assert "--buffer" in reasons[(3, "line")]  # the very check a single area gets


def test_two_features_with_one_name_are_both_bad_case_folded(tmp_path):
    a, b, c = (g for _, g in squares(3, 1))
    source = read_sites(write_gpkg(tmp_path / "s.gpkg", [("Site", a), ("other", b), ("site", c)]), "name")
    assert [s.name for s in source.sites] == ["other"]
    assert [(x.index, x.name) for x in source.bad] == [(0, "Site"), (2, "site")]
    assert all("share this name" in x.reason for x in source.bad)


def test_a_missing_field_and_an_unchosen_layer_refuse_the_whole_source(tmp_path):
    path = write_gpkg(tmp_path / "s.gpkg", squares(1, 1))
    with pytest.raises(UsageError, match=r"no field 'nom'.*name"):
        read_sites(path, "nom")
    write_gpkg(path, squares(1, 1), layer="more")
    with pytest.raises(UsageError, match="--source-layer"):
        read_sites(path, "name")
    assert [s.name for s in read_sites(path, "name", layer="more").sites] == ["s00"]
    with pytest.raises(UsageError, match="no layer 'nope'"):
        read_sites(path, "name", layer="nope")


def test_an_unreadable_source_is_an_area_error(tmp_path):
    with pytest.raises(AreaError, match="does not exist"):
        read_sites(tmp_path / "none.gpkg", "name")
    (tmp_path / "junk.gpkg").write_bytes(b"not a vector file")
    with pytest.raises(AreaError, match="cannot read site file"):
        read_sites(tmp_path / "junk.gpkg", "name")


def test_name_problem_accepts_ordinary_names():
    for name in ("Site 1", "Cwm Idwal", "llyn-ogwen_2024", "été"):
        assert name_problem(name) is None


@pytest.mark.parametrize(("suffix", "driver", "field"), [(".shp", "ESRI Shapefile", "name"), (".kml", "KML", "Name")])
def test_shapefiles_and_kml_are_read_in_their_own_crs(tmp_path, suffix, driver, field):
    import numpy as np
    from pyogrio.raw import write

    box = shapely.box(-4.09, 53.06, -4.08, 53.07)  # WGS84, as KML always is
    path = tmp_path / f"sites{suffix}"
    write(str(path), np.array([shapely.to_wkb(box)], dtype=object), [np.array(["Cwm"], dtype=object)],
          fields=[field], geometry_type="Polygon", crs="EPSG:4326", driver=driver)  # fmt: skip
    (site,) = read_sites(path, field).sites
    assert site.name == "Cwm" and site.area.crs == "EPSG:4326"
    assert site.area.geometry.equals(read_area(shapely.to_wkt(box)).geometry)
