"""The emulator over real HTTP: paths, auth, plans, errors, tiles, stats."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import httpx
import pytest
from PIL import Image

from ospack.emulator import Emulator, EmulatorConfig
from ospack.testing import FakeClock

ZXY = "/maps/raster/v1/zxy"
WMTS = "/maps/raster/v1/wmts"
NS = {
    "w": "http://www.opengis.net/wmts/1.0",
    "ows": "http://www.opengis.net/ows/1.1",
    "xlink": "http://www.w3.org/1999/xlink",
}


@pytest.fixture
def client(emulator: Emulator):
    with httpx.Client(base_url=emulator.url, timeout=10) as c:
        yield c


def _png(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_zxy_tile_is_a_256px_png_of_realistic_size(client):
    response = client.get(f"{ZXY}/Outdoor_27700/7/321/486.png", params={"key": "demo"})
    assert _png(response).size == (256, 256)
    assert 2_000 < len(response.content) < 60_000


def test_tiles_are_deterministic_and_differ_by_style_and_position(client):
    def get(path):
        return client.get(path, params={"key": "demo"}).content

    first = get(f"{ZXY}/Road_3857/12/2012/1336.png")
    assert get(f"{ZXY}/Road_3857/12/2012/1336.png") == first
    assert get(f"{ZXY}/Outdoor_3857/12/2012/1336.png") != first
    assert get(f"{ZXY}/Road_3857/12/2013/1336.png") != first


def test_sea_tiles_are_plain_and_byte_identical_per_style(client):
    # far west of Ireland / mid-Atlantic corner of the 27700 matrix: no land
    a = client.get(f"{ZXY}/Light_27700/3/0/0.png", params={"key": "demo"})
    b = client.get(f"{ZXY}/Light_27700/5/1/1.png", params={"key": "demo"})
    assert a.content == b.content
    assert len(_png(a).convert("RGB").getcolors()) == 1
    other = client.get(f"{ZXY}/Road_27700/3/0/0.png", params={"key": "demo"})
    assert other.content != a.content


def test_land_tile_draws_grid_lines_at_true_coordinates(client):
    # z7 27700: tile span 1792 m, grid step 500 m; tile 321 starts at E 336857
    image = _png(client.get(f"{ZXY}/Outdoor_27700/7/321/486.png", params={"key": "demo"})).convert("RGB")
    grid = (40, 110, 60)  # Outdoor palette grid colour
    res = 7.0
    column = round((337000 - 336857) / res)  # E 337000 line
    row = round((1376256 - 486 * 1792 - 504000) / res)  # N 504000 line
    assert sum(image.getpixel((column, y)) == grid for y in range(256)) > 200
    assert sum(image.getpixel((x, row)) == grid for x in range(256)) > 200


def test_auth_by_header_and_lowercase_query_only(client):
    assert client.get(f"{ZXY}/Road_3857/7/63/42.png", headers={"key": "demo"}).status_code == 200
    missing = client.get(f"{ZXY}/Road_3857/7/63/42.png", params={"KEY": "demo"})
    assert missing.status_code == 401
    assert missing.json()["fault"]["detail"]["errorcode"] == "steps.oauth.v2.FailedToResolveAPIKey"
    unknown = client.get(f"{ZXY}/Road_3857/7/63/42.png", params={"key": "nope"})
    assert unknown.status_code == 401
    assert unknown.json()["fault"]["detail"]["errorcode"] == "oauth.v2.InvalidApiKey"


def test_oauth2_token_grants_bearer_access(client):
    token = client.post("/oauth2/token/v1", auth=("paid", "paid-secret"), data={"grant_type": "client_credentials"})
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and float(body["expires_in"]) == 299
    assert int(body["issued_at"]) > 1_600_000_000_000
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get(f"{ZXY}/Road_27700/12/2000/3000.png", headers=headers).status_code == 200
    bad = client.get(f"{ZXY}/Road_27700/7/1/1.png", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("auth", "data", "status"),
    [
        (("paid", "wrong"), {"grant_type": "client_credentials"}, 401),
        (("demo", "x"), {"grant_type": "client_credentials"}, 401),  # no secret configured for demo
        (("paid", "paid-secret"), {"grant_type": "password"}, 400),
    ],
)
def test_token_endpoint_refusals(client, auth, data, status):
    response = client.post("/oauth2/token/v1", auth=auth, data=data)
    assert response.status_code == status
    assert "fault" in response.json()


def test_tokens_really_expire():
    clock = FakeClock(1_000_000.0)
    with Emulator(EmulatorConfig(keys=["k"], secrets={"k": "s"}, token_ttl=5), clock=clock) as emu:
        with httpx.Client(base_url=emu.url) as c:
            token = c.post("/oauth2/token/v1", auth=("k", "s"), data={"grant_type": "client_credentials"}).json()
            assert token["expires_in"] == "5"
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            clock.advance(4.9)
            assert c.get(f"{ZXY}/Road_3857/7/63/42.png", headers=headers).status_code == 200
            clock.advance(0.2)
            expired = c.get(f"{ZXY}/Road_3857/7/63/42.png", headers=headers)
            assert expired.status_code == 401
            assert expired.json()["fault"]["detail"]["errorcode"] == "keymanagement.service.access_token_expired"


def test_premium_zoom_needs_premium_plan(client):
    assert client.get(f"{ZXY}/Road_27700/10/2000/3000.png", params={"key": "demo"}).status_code == 401
    assert client.get(f"{ZXY}/Road_3857/17/64000/42000.png", params={"key": "demo"}).status_code == 401
    assert client.get(f"{ZXY}/Leisure_27700/6/200/250.png", params={"key": "demo"}).status_code == 401
    assert client.get(f"{ZXY}/Road_27700/9/1000/1500.png", params={"key": "demo"}).status_code == 200
    assert client.get(f"{ZXY}/Road_27700/10/2000/3000.png", params={"key": "paid"}).status_code == 200


def test_premium_status_403_is_configurable():
    with Emulator(EmulatorConfig(premium_status=403)) as emu:
        response = httpx.get(f"{emu.url}{ZXY}/Road_27700/13/2/2.png", params={"key": "demo"})
        assert response.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "Nope_3857/7/63/42.png",
        "road_3857/7/63/42.png",  # layer names are case-sensitive
        "Leisure_3857/7/63/42.png",
        "Road_3857/6/31/21.png",  # below the 3857 zooms
        "Leisure_27700/10/1/1.png",  # Leisure stops at 9
        "Road_3857/7/59/40.png",  # column outside TileMatrixSetLimits
        "Road_3857/7/63/44.png",  # row outside limits
        "Road_27700/0/5/0.png",  # outside the 5x7 matrix
        "Outdoor_3857/5/47/-765.png",
    ],
)
def test_out_of_range_zxy_is_404(client, path):
    response = client.get(f"{ZXY}/{path}", params={"key": "demo"})
    assert response.status_code == 404
    assert "faultstring" in response.json()["fault"]


def test_non_numeric_zxy_is_400(client):
    assert client.get(f"{ZXY}/Road_3857/7/x/42.png", params={"key": "demo"}).status_code == 400


def test_out_of_range_status_is_configurable():
    with Emulator(EmulatorConfig(zxy_error_status=400, wmts_error_status=404, wmts_error_format="json")) as emu:
        assert httpx.get(f"{emu.url}{ZXY}/Road_3857/6/1/1.png", params={"key": "demo"}).status_code == 400
        params = {
            "key": "demo",
            "service": "WMTS",
            "request": "GetTile",
            "layer": "Nope",
            "style": "default",
            "tilematrixset": "EPSG:3857",
            "tilematrix": "7",
            "tilerow": "40",
            "tilecol": "62",
        }
        response = httpx.get(f"{emu.url}{WMTS}", params=params)
        assert response.status_code == 404 and "fault" in response.json()


def _get_tile(client, **overrides):
    params = {
        "key": "demo",
        "SERVICE": "WMTS",
        "REQUEST": "GetTile",
        "VERSION": "1.0.0",
        "LAYER": "Road_27700",
        "STYLE": "default",
        "TILEMATRIXSET": "EPSG:27700",
        "TILEMATRIX": "EPSG:27700:7",
        "TILEROW": "486",
        "TILECOL": "321",
        "FORMAT": "image/png",
    }
    params.update(overrides)
    return client.get(WMTS, params={k: v for k, v in params.items() if v is not None})


def test_wmts_get_tile_equals_zxy_tile(client):
    zxy = client.get(f"{ZXY}/Road_27700/7/321/486.png", params={"key": "demo"})
    assert _get_tile(client).content == zxy.content
    # OS Leaflet demo: bare zoom, camelCase names, no format
    leaflet = client.get(
        WMTS,
        params={
            "key": "demo",
            "tileMatrixSet": "EPSG:27700",
            "version": "1.0.0",
            "style": "default",
            "layer": "Road_27700",
            "service": "WMTS",
            "request": "GetTile",
            "tileCol": "321",
            "tileRow": "486",
            "tileMatrix": "7",
        },
    )
    assert leaflet.content == zxy.content


@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"TILEMATRIXSET": "EPSG:3857"}, "InvalidParameterValue", 400),
        ({"FORMAT": "image/jpeg"}, "InvalidParameterValue", 400),
        ({"TILEROW": None}, "MissingParameterValue", 400),
        ({"TILEMATRIX": "EPSG:27700:14"}, "InvalidParameterValue", 404),  # out of range: 404, an empty tile to GDAL
        ({"TILECOL": "636"}, "TileOutOfRange", 404),
        ({"REQUEST": "GetFeatureInfo"}, "OperationNotSupported", 400),
        ({"SERVICE": "WMS"}, "InvalidParameterValue", 400),
    ],
)
def test_wmts_errors_are_ows_exception_reports(client, overrides, code, status):
    response = _get_tile(client, **overrides)
    assert response.status_code == status
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.opengis.net/ows/1.1}ExceptionReport"
    assert root.find("ows:Exception", NS).get("exceptionCode") == code


def test_wmts_style_is_lenient_by_default_and_strict_on_request(client):
    # a shipping app sends style=Outdoor; what OS answers is unrecorded, so the emulator serves it
    assert _get_tile(client, STYLE="Outdoor").content == _get_tile(client).content
    with Emulator(EmulatorConfig(strict_style=True)) as emu, httpx.Client(base_url=emu.url) as strict:
        response = _get_tile(strict, STYLE="fancy")
        assert response.status_code == 400 and b"InvalidParameterValue" in response.content
        assert _get_tile(strict).status_code == 200


def test_out_of_range_wmts_tile_can_be_strict_400():
    with Emulator(EmulatorConfig(wmts_error_status=400)) as emu, httpx.Client(base_url=emu.url) as strict:
        assert _get_tile(strict, TILECOL="636").status_code == 400


def test_wmts_missing_key_is_401(client):
    response = _get_tile(client, key=None)
    assert response.status_code == 401
    assert b"FailedToResolveAPIKey" in response.content


def test_capabilities_document_is_faithful_and_echoes_key(client, emulator):
    response = client.get(WMTS, params={"key": "demo", "service": "wmts", "request": "GetCapabilities"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.get("version") == "1.0.0"
    hrefs = [e.get(f"{{{NS['xlink']}}}href") for e in root.iterfind(".//ows:Operation//ows:Get", NS)]
    assert hrefs == [f"{emulator.url}/maps/raster/v1/wmts?key=demo&"] * 2
    layers = [e.findtext("ows:Identifier", namespaces=NS) for e in root.iterfind("w:Contents/w:Layer", NS)]
    assert layers == [
        "Light_27700",
        "Light_3857",
        "Outdoor_27700",
        "Outdoor_3857",
        "Road_27700",
        "Road_3857",
        "Leisure_27700",
    ]
    for layer in root.iterfind("w:Contents/w:Layer", NS):
        assert layer.findtext("w:Style/ows:Identifier", namespaces=NS) == "default"
        assert layer.findtext("w:Format", namespaces=NS) == "image/png"
    sets = {s.findtext("ows:Identifier", namespaces=NS): s for s in root.iterfind("w:Contents/w:TileMatrixSet", NS)}
    assert list(sets) == ["EPSG:27700", "EPSG:3857"]
    bng = sets["EPSG:27700"].findall("w:TileMatrix", NS)
    assert [m.findtext("ows:Identifier", namespaces=NS) for m in bng] == [f"EPSG:27700:{z}" for z in range(14)]
    assert bng[0].findtext("w:ScaleDenominator", namespaces=NS) == "3199999.999496063"
    assert bng[0].findtext("w:TopLeftCorner", namespaces=NS) == "-238375.0 1376256.0"
    assert (bng[13].findtext("w:MatrixWidth", namespaces=NS), bng[13].findtext("w:MatrixHeight", namespaces=NS)) == (
        "40657",
        "49849",
    )
    merc = sets["EPSG:3857"].findall("w:TileMatrix", NS)
    assert merc[0].findtext("ows:Identifier", namespaces=NS) == "EPSG:3857:7"
    assert merc[0].findtext("w:TopLeftCorner", namespaces=NS) == "-2.0037508342787E7 2.0037508342787E7"
    assert (merc[0].findtext("w:MatrixWidth", namespaces=NS), merc[0].findtext("w:MatrixHeight", namespaces=NS)) == (
        "65",
        "44",
    )
    leisure = root.find("w:Contents/w:Layer[ows:Identifier='Leisure_27700']", NS)
    limits = leisure.findall("w:TileMatrixSetLink/w:TileMatrixSetLimits/w:TileMatrixLimits", NS)
    assert [lim.findtext("w:TileMatrix", namespaces=NS) for lim in limits] == [f"EPSG:27700:{z}" for z in range(10)]
    assert limits[9].findtext("w:MaxTileRow", namespaces=NS) == "3072"


def test_capabilities_by_bearer_token_echoes_no_key(client):
    token = client.post(
        "/oauth2/token/v1", auth=("paid", "paid-secret"), data={"grant_type": "client_credentials"}
    ).json()["access_token"]
    response = client.get(
        WMTS, params={"service": "WMTS", "request": "GetCapabilities"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert b"key=" not in response.content.split(b"ServiceMetadataURL")[0] and b"paid" not in response.content
    root = ET.fromstring(response.content)
    hrefs = [e.get(f"{{{NS['xlink']}}}href") for e in root.iterfind(".//ows:Operation//ows:Get", NS)]
    assert all(href.endswith("/maps/raster/v1/wmts?") for href in hrefs)


@pytest.mark.parametrize("how", ["header", "bearer"])
def test_header_and_bearer_callers_follow_the_capabilities_hrefs(client, how):
    # OS's own key-header and OAuth demos build GetTile from the hrefs; an empty key= must not break them
    if how == "header":
        headers = {"key": "demo"}
    else:
        token = client.post(
            "/oauth2/token/v1", auth=("paid", "paid-secret"), data={"grant_type": "client_credentials"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
    capabilities = client.get(WMTS, params={"service": "WMTS", "request": "GetCapabilities"}, headers=headers)
    href = ET.fromstring(capabilities.content).find(".//ows:Operation//ows:Get", NS).get(f"{{{NS['xlink']}}}href")
    tile = (
        "service=WMTS&request=GetTile&layer=Road_27700&style=default&tilematrixset=EPSG:27700&tilematrix=7"
        "&tilerow=486&tilecol=321"
    )
    for url in (href + tile, href + "key=&" + tile):  # as written, and as a client that copies an empty key=
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert client.get(href + "key=&" + tile).status_code == 401  # an empty key alone is still no key


def test_stats_and_reset(client, emulator):
    client.get(f"{ZXY}/Road_3857/7/63/42.png", params={"key": "demo"})
    client.get(f"{ZXY}/Road_3857/7/63/42.png", params={"key": "paid"})
    client.get(f"{ZXY}/Road_3857/7/63/42.png")
    client.get(f"{ZXY}/Road_3857/6/1/1.png", params={"key": "demo"})
    stats = client.get("/__emulator__/stats").json()
    assert stats["requests"] == 4
    assert stats["by_status"] == {"200": 2, "401": 1, "404": 1}
    assert stats["by_key"] == {"demo": 2, "paid": 1}
    assert stats["tiles"] == 2
    # when the quota judged each request of a key, oldest first: the rate a client kept, as the server saw it
    assert {key: len(times) for key, times in stats["arrivals"].items()} == {"demo": 2, "paid": 1}
    assert stats["arrivals"]["demo"] == sorted(stats["arrivals"]["demo"])
    assert emulator.stats() == stats
    assert client.post("/__emulator__/reset").status_code == 200
    assert emulator.stats() == {
        **{"requests": 0, "by_status": {}, "by_key": {}, "tiles": 0, "tokens": 0, "faults": {}, "arrivals": {}}
    }


def test_unknown_path_and_wrong_method(client):
    assert client.get("/maps/raster/v2/zxy/Road_3857/7/63/42.png", params={"key": "demo"}).status_code == 404
    assert client.post(f"{ZXY}/Road_3857/7/63/42.png", params={"key": "demo"}).status_code == 405


def test_start_fails_cleanly_on_a_busy_port(emulator):
    from ospack.errors import EmulatorError

    port = int(emulator.url.rsplit(":", 1)[1])
    with pytest.raises(EmulatorError, match="cannot listen"):
        Emulator(port=port).start()


def test_api_key_is_not_logged(caplog):
    caplog.set_level("DEBUG")
    with Emulator(EmulatorConfig(keys=["s3cr3t-key"])) as emu:
        httpx.get(f"{emu.url}{ZXY}/Road_3857/7/63/42.png", params={"key": "s3cr3t-key"})
        httpx.get(f"{emu.url}{ZXY}/Road_3857/99/63/42.png", params={"key": "s3cr3t-key"})
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert not any("s3cr3t-key" in line for line in server_lines)
