"""GPS longitude/latitude ↔ British National Grid by OSTN15, the Ordnance Survey's own transformation.

The National Grid (EPSG:27700) is defined by OSTN15: ETRS89 longitude/latitude projected with
the grid's transverse Mercator on the GRS80 ellipsoid, then shifted by the OS's grid of shifts
(one per kilometre over E 0–700 km, N 0–1250 km, bilinearly interpolated). pyproj without the
OSTN15 grid file uses a seven-parameter Helmert transformation instead, up to 7.3 m out over
that grid (4.3 m at Land's End), and beyond a box round Great Britain a mere "ballpark" shift
that is about 100 m out. At 27700 zoom 13 a tile is 28 m, so either misplaces edge tiles.

Here pyproj projects (its transverse Mercator is exact to well under a millimetre) and
``convertbng`` applies the OS shifts: vectorised Rust, about 0.2 µs a point. Where the shifts
give no answer (beyond their grid: out at sea, Ireland, France) points are placed by the
Helmert transformation EPSG:1314, the one pyproj uses, and marked approximate, so that
callers can grow what they cover by :data:`HELMERT_ERROR_M`.

WGS84 and ETRS89 are taken as one (EPSG:4326 and EPSG:4258 alike), as the OS and EPSG do for
mapping: they drift apart by 2.5 cm a year, about a metre since 1989, far below a tile.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pyproj import Transformer

#: The British National Grid.
BNG = "EPSG:27700"
#: Longitude/latitude CRSs taken as ETRS89, the datum OSTN15 starts from.
LONLAT = frozenset({"EPSG:4326", "EPSG:4258"})
#: How far the Helmert fallback may place a point from where OSTN15 puts it, in grid metres.
#: Measured on every kilometre of OSTN15's grid the worst is 7.32 m (its north-west corner, out
#: at sea; 4.94 m on the OS test points, 1–4 m inland); beyond the grid OSTN15 gives no figure
#: to measure against, and the difference grows slowly towards the edges, so 10 m leaves room.
HELMERT_ERROR_M = 10.0
#: What an area is told when part of it was placed by the fallback.
HELMERT_NOTE = (
    f"part of the area lies beyond OSTN15's grid (National Grid E 0–700 km, N 0–1250 km), where a Helmert "
    f"transformation places it to within {HELMERT_ERROR_M:g} m; grew the area there by {HELMERT_ERROR_M:g} m "
    "so that no tile is missed"
)

#: The National Grid's transverse Mercator on GRS80: OSTN15's first step, before the shifts.
_ETRS89_GRID = (
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
    "+step +proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=GRS80"
)
#: EPSG:1314 "OSGB36 to WGS 84 (6)", inverted, then the National Grid: what pyproj applies
#: between EPSG:4326 and EPSG:27700 within Great Britain, fixed here to one operation so that
#: points beyond Great Britain do not fall to pyproj's ballpark shift.
_HELMERT = (
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=push +v_3 "
    "+step +proj=cart +ellps=WGS84 +step +inv +proj=helmert +x=446.448 +y=-125.157 +z=542.06 "
    "+rx=0.15 +ry=0.247 +rz=0.842 +s=-20.489 +convention=position_vector +step +inv +proj=cart +ellps=airy "
    "+step +proj=pop +v_3 +step +proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy"
)

#: How near the forward shifts must bring the inverse's answer back, in metres: convertbng's
#: iteration and millimetre rounding leave at most 4 mm on the OS test points.
_ROUND_TRIP_M = 0.01

Coordinates = tuple[np.ndarray, np.ndarray, np.ndarray]


def to_grid(lon: np.ndarray, lat: np.ndarray) -> Coordinates:
    """Eastings and northings of ETRS89/WGS84 points, and which of them the Helmert fallback placed."""
    from convertbng.cutil import convert_etrs89_to_osgb36

    lon, lat = _floats(lon), _floats(lat)
    x, y = _pipeline(_ETRS89_GRID).transform(lon, lat)
    easting, northing = convert_etrs89_to_osgb36(_floats(x), _floats(y))
    return _fallback(easting, northing, lon, lat, "FORWARD")


def to_lonlat(easting: np.ndarray, northing: np.ndarray) -> Coordinates:
    """ETRS89/WGS84 longitudes and latitudes of National Grid points, and which the fallback placed."""
    from convertbng.cutil import convert_etrs89_to_osgb36, convert_osgb36_to_etrs89

    easting, northing = _floats(easting), _floats(northing)
    x, y = convert_osgb36_to_etrs89(easting, northing)
    # the inverse iterates on the shifts and extrapolates past their grid without saying so:
    # an answer counts where the forward shifts take it back to the point it came from
    back_x, back_y = convert_etrs89_to_osgb36(x, y)
    answered = (np.abs(back_x - easting) < _ROUND_TRIP_M) & (np.abs(back_y - northing) < _ROUND_TRIP_M)
    x, y = np.where(answered, x, np.nan), np.where(answered, y, np.nan)
    lon, lat = _pipeline(_ETRS89_GRID).transform(x, y, direction="INVERSE")
    return _fallback(_floats(lon), _floats(lat), easting, northing, "INVERSE")


def _fallback(x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, direction: str) -> Coordinates:
    """``x, y`` with the points OSTN15 left as NaN placed by Helmert from ``u, v`` instead."""
    approximate = ~(np.isfinite(x) & np.isfinite(y))
    if approximate.any():
        x, y = x.copy(), y.copy()
        x[approximate], y[approximate] = _pipeline(_HELMERT).transform(
            u[approximate], v[approximate], direction=direction
        )
    return x, y, approximate


def _floats(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).reshape(-1)


@cache
def _pipeline(definition: str) -> Transformer:
    return Transformer.from_pipeline(definition)
