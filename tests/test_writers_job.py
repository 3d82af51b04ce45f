"""JobInfo: normalisation, refusals, provenance round trip and compatibility."""

from __future__ import annotations

import pytest
import shapely
from test_writers_support import CREATED, SOURCE, box_geojson, make_job

from ospack.area import read_area
from ospack.errors import LayerError, WriterError, ZoomError
from ospack.writers import JobInfo


def test_normalises_layer_names_and_zooms():
    job = JobInfo(("outdoor_27700",), (7, 5, 7, 6), box_geojson(-4.1, 53.0, -4.0, 53.1), SOURCE, CREATED)
    assert job.layers == ("Outdoor_27700",) and job.zooms == (5, 6, 7)
    assert job.grid.id == "EPSG:27700"
    assert job.attribution == "Contains OS data © Crown copyright and database rights 2026"


def test_provenance_round_trips():
    job = make_job(("Outdoor_27700", "Light_27700"), (6, 7), demo=True)
    data = job.to_dict()
    assert data["grid"] == "EPSG:27700" and data["ospack_version"] and data["attribution"]
    assert JobInfo.from_dict(data) == job


@pytest.mark.parametrize(
    "kwargs, error, says",
    [
        ({"layers": ()}, WriterError, "at least one layer"),
        ({"layers": ("Nope_27700",)}, LayerError, "unknown layer"),
        ({"layers": ("Outdoor_27700", "Road_3857")}, WriterError, "different grids"),
        ({"zooms": ()}, WriterError, "at least one zoom"),
        ({"zooms": (30,)}, ZoomError, "outside layer"),
        ({"source": "https://api.os.uk/maps/raster/v1/zxy?key=SECRET"}, WriterError, "must not contain the API key"),
        ({"created": "yesterday"}, WriterError, "ISO 8601"),
        ({"created": "2026-11-30T05:00:00"}, WriterError, "time zone"),
        ({"area_geojson": "{not json"}, WriterError, "not a GeoJSON"),
        ({"area_geojson": '{"type": "Polygon", "coordinates": []}'}, WriterError, "empty"),
    ],
)
def test_bad_jobs_are_refused(kwargs, error, says):
    fields = {
        "layers": ("Outdoor_27700",),
        "zooms": (7,),
        "area_geojson": box_geojson(-4.1, 53.0, -4.0, 53.1),
        "source": SOURCE,
        "created": CREATED,
        **kwargs,
    }
    with pytest.raises(error, match=says) as err:
        JobInfo(**fields)
    assert "SECRET" not in str(err.value)


def test_zooms_may_differ_but_not_the_rest():
    base = make_job("Outdoor_27700", (6,))
    assert base.differences(make_job("Outdoor_27700", (7, 8), source="http://127.0.0.1:9999/zxy")) == []
    assert base.with_zooms((8, 7)).zooms == (6, 7, 8)
    assert base.differences(make_job("Outdoor_27700", (6,), box=(-4.1, 53.0, -4.0, 53.2))) == ["a different area"]
    assert len(base.differences(make_job("Road_3857", (12,)))) == 2  # grid and layers


def test_a_job_for_an_area_keeps_its_geometry_instead_of_parsing_its_geojson(monkeypatch):
    # the run used to serialise the area to GeoJSON for the file and parse it straight back
    area = read_area("-4.1,53.0,-4.0,53.1")
    parsed = []
    real = shapely.from_geojson
    monkeypatch.setattr(shapely, "from_geojson", lambda text: parsed.append(text) or real(text))
    job = JobInfo.for_area(
        area,
        layers=("Outdoor_27700",),
        zooms=(7,),
        source="https://api.os.uk",
        created="2026-12-02T00:00:00+00:00",
        demo=False,
    )
    assert parsed == []
    assert job.area.equals(area.in_crs("EPSG:4326"))
    read_back = JobInfo.from_dict(job.to_dict())  # a file's record is parsed, and is the same job
    assert parsed and read_back == job and not read_back.differences(job)
