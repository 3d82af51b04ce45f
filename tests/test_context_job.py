"""The context a package records (JobInfo.context_m): round trip, old files, resume, the extent readers show."""

from __future__ import annotations

import dataclasses

import pytest
from test_writers_support import CREATED, SOURCE, box_geojson

from ospack.context import NO_CONTEXT, Context
from ospack.errors import WriterError
from ospack.writers import JobInfo

AREA = box_geojson(-4.09, 53.06, -4.06, 53.08)


def job(zooms=(0, 1, 2, 3, 4, 5, 6, 7), context_m=25_000.0, **changes):
    return JobInfo(("Outdoor_27700",), zooms, AREA, SOURCE, CREATED, context_m=context_m, **changes)


def test_the_context_round_trips_through_the_file_s_record():
    data = job().to_dict()
    assert data["context_m"] == 25_000.0
    assert JobInfo.from_dict(data) == job() and JobInfo.from_dict(data).context == Context()


def test_a_file_written_before_contexts_existed_reads_as_no_context():
    data = job().to_dict()
    del data["context_m"]
    assert JobInfo.from_dict(data).context == NO_CONTEXT


@pytest.mark.parametrize("bad", [-1.0, 1e9, float("nan"), "far"])
def test_a_recorded_context_out_of_range_is_refused(bad):
    with pytest.raises(WriterError, match=r"context|unreadable"):
        JobInfo.from_dict({**job().to_dict(), "context_m": bad})


def test_another_context_is_the_same_job_and_a_resume_records_the_wider():
    narrow, wide = job(zooms=(0, 5), context_m=5_000.0), job(zooms=(6, 7), context_m=30_000.0)
    assert narrow.differences(wide) == [] and wide.differences(narrow) == []
    assert narrow.resumed_by(wide) == dataclasses.replace(wide, zooms=(0, 5, 6, 7))
    assert wide.resumed_by(narrow).context_m == 30_000.0  # a narrower ask keeps what the file holds
    assert job().resumed_by(job()) == job()


def test_the_extent_holds_the_context_region_only_when_the_job_has_a_context_zoom():
    with_context = job()
    area, region = with_context.projected_bounds(), with_context.context_bounds()
    assert region is not None  # 25 km of ground is 24,996 grid metres here (scale 0.99984)
    assert region.left <= area.left - 24_990 and region.top >= area.top + 24_990
    assert region.right - region.left < area.right - area.left + 50_010
    assert with_context.extent(7) == with_context._snapped(region, 7)
    assert job(context_m=0.0).context_bounds() is None
    assert job(zooms=(6, 7, 8)).context_bounds() is None  # no zoom whose tiles span 5 km
    assert job(zooms=(6, 7, 8)).extent(8) == job(zooms=(6, 7, 8)).tile_aligned_bounds(8)
