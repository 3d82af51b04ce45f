"""Endpoints from one root, ZXY and WMTS URLs, the capabilities parser and the PNG check."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from ospack.emulator.capabilities import capabilities_xml
from ospack.errors import ApiUrlError, DownloadError, UsageError
from ospack.fetch import ApiEndpoints, ZxyUrls, parse_capabilities, png_problem, strip_key
from ospack.fetch.urls import is_loopback
from ospack.layers import get_layer
from ospack.types import Tile


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:8080/maps/raster/v1",
        "http://127.0.0.1:8080/maps/raster/v1/zxy/",
        "http://127.0.0.1:8080/maps/raster/v1/wmts",
    ],
)
def test_endpoints_from_any_api_url(given):
    endpoints = ApiEndpoints.from_url(given)
    assert endpoints.root == "http://127.0.0.1:8080"
    assert endpoints.maps == "http://127.0.0.1:8080/maps/raster/v1"
    assert endpoints.token == "http://127.0.0.1:8080/oauth2/token/v1"
    assert endpoints.origin == "http://127.0.0.1:8080"


def test_default_endpoints_are_the_real_api():
    endpoints = ApiEndpoints.from_url(None)
    assert endpoints.maps == "https://api.os.uk/maps/raster/v1"
    assert endpoints.token == "https://api.os.uk/oauth2/token/v1"
    assert ApiEndpoints().root == endpoints.root


@pytest.mark.parametrize("bad", ["ftp://x", "api.os.uk", "http://h/x?key=abc", "http://u:abc@h/"])
def test_bad_api_urls_say_what_to_write(bad):
    with pytest.raises(UsageError) as caught:
        ApiEndpoints.from_url(bad)
    assert "abc" not in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        "http://[::1/s3cr3t",
        "http://h:ab/s3cr3t",
        "s3cr3t.example/maps",
        "ftp://h/s3cr3t",
        "http:///s3cr3t",
        "http://:80/s3cr3t",
        "http://h:99999/s3cr3t",
        "http://h:0/s3cr3t",
        "http://h:/s3cr3t",
        "",
        "http://s3cr3t@127.0.0.1/",
        "https://h/x?s3cr3t",
        "https://h/x#s3cr3t",
        "http://h/a s3cr3t",
    ],
)
def test_malformed_api_urls_are_one_usage_error_that_never_echoes_the_url(bad):
    with pytest.raises(ApiUrlError) as caught:
        ApiEndpoints.from_url(bad)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "s3cr3t" not in message
    assert "write e.g." in message or "OS_API_KEY" in message


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "api.os.uk", "[2001:db8::1]", "localhost.example.com", "127.0.0.1.nip.io"]
)
def test_plain_http_beyond_loopback_is_refused_unless_allowed(host):
    with pytest.raises(ApiUrlError, match=r"clear text.*--allow-insecure-http"):
        ApiEndpoints.from_url(f"http://{host}:8080/maps/raster/v1")
    assert ApiEndpoints.from_url(f"http://{host}:8080", allow_insecure_http=True).origin == f"http://{host}:8080"
    assert ApiEndpoints.from_url(f"https://{host}:8080").origin == f"https://{host}:8080"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "[::1]"])
def test_plain_http_to_loopback_is_fine(host):
    assert is_loopback(host.strip("[]"))
    assert ApiEndpoints.from_url(f"http://{host}:1234/").origin == f"http://{host}:1234"


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy.example:8443/s3cr3t/maps/raster/v1/zxy",
        "https://h/s3cr3t",
        "https://h/maps/raster/v1/s3cr3t",
        "https://h/s3cr3t/oauth2/token/v1",
    ],
)
def test_a_path_other_than_the_maps_api_base_is_refused_unseen(url):
    with pytest.raises(ApiUrlError, match="without any other path") as caught:
        ApiEndpoints.from_url(url)
    assert "s3cr3t" not in str(caught.value)


def test_zxy_url_is_col_then_row():
    urls = ZxyUrls(ApiEndpoints(), "Outdoor_27700")
    assert urls.url(Tile(7, 321, 486)) == "https://api.os.uk/maps/raster/v1/zxy/Outdoor_27700/7/321/486.png"


def test_strip_key_drops_only_the_key():
    assert strip_key("http://h/wmts?key=SECRET&") == "http://h/wmts"
    assert strip_key("http://h/wmts?a=1&KEY=SECRET&b=2") == "http://h/wmts?a=1&b=2"


@pytest.mark.parametrize("name,first,tms", [("Road_27700", 0, "EPSG:27700"), ("Light_3857", 7, "EPSG:3857")])
def test_capabilities_give_matrices_by_zoom_and_a_keyless_get_tile(name, first, tms):
    layer = get_layer(name)
    document = capabilities_xml("http://127.0.0.1:9999", "SECRETKEY")
    assert b"SECRETKEY" in document  # the service echoes the key ...
    urls = parse_capabilities(document, layer, ApiEndpoints.from_url("http://127.0.0.1:9999"))
    assert "SECRETKEY" not in urls.get_tile  # ... and we drop it
    assert urls.tile_matrix_set == tms and urls.style == "default" and urls.format == "image/png"
    assert min(urls.matrices) == first and urls.matrices[first] == f"{tms}:{first}"
    url = urls.url(Tile(first + 2, 3, 4))
    assert url.startswith("http://127.0.0.1:9999/maps/raster/v1/wmts?")
    assert f"tileMatrix={tms.replace(':', '%3A')}%3A{first + 2}" in url
    assert "tileRow=4" in url and "tileCol=3" in url and "request=GetTile" in url
    with pytest.raises(DownloadError):
        urls.url(Tile(first - 1 if first else 30, 0, 0))


def test_get_tile_on_another_host_is_replaced_by_ours():
    document = capabilities_xml("https://api.os.uk", "K")
    urls = parse_capabilities(document, get_layer("Road_27700"), ApiEndpoints.from_url("http://127.0.0.1:1"))
    assert urls.get_tile == "http://127.0.0.1:1/maps/raster/v1/wmts"


def test_capabilities_errors_are_download_errors():
    layer = get_layer("Road_27700")
    with pytest.raises(DownloadError, match="not readable XML"):
        parse_capabilities(b"<html", layer, ApiEndpoints())
    document = capabilities_xml("http://h", None).replace(b"Road_27700", b"Gone_27700")
    with pytest.raises(DownloadError, match="does not offer layer Road_27700"):
        parse_capabilities(document, layer, ApiEndpoints())


def make_png(size=256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def test_png_check():
    good = make_png()
    assert png_problem(good) is None
    assert "truncated" in png_problem(good[:-5])
    assert "truncated" in png_problem(good[:40])
    flipped = bytearray(good)
    flipped[50] ^= 0xFF
    assert "corrupt" in png_problem(bytes(flipped))
    assert "512×512" in png_problem(make_png(512))
    assert "HTML" in png_problem(b"<!DOCTYPE html><html></html>")
    assert "JSON" in png_problem(b'{"fault": {}}')
    assert "XML" in png_problem(b"<?xml version='1.0'?><ExceptionReport/>")
    assert png_problem(b"") == "body is empty"
    assert "signature" in png_problem(b"GIF89a....")
    # a chunk before IHDR
    chunk = b"tEXt" + b"a\x00b"
    bad_order = good[:8] + len(b"a\x00b").to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big") + good[8:]
    assert "IHDR" in png_problem(bad_order)


@pytest.mark.parametrize(
    "url, receives",
    [
        ("https://api.os.uk/maps/raster/v1/zxy/Road_27700/7/1/2.png", True),
        ("HTTPS://API.OS.UK/oauth2/token/v1", True),  # scheme and host are case-blind
        ("https://api.os.uk:443/maps/raster/v1/wmts?x=1", True),  # the default port is the same origin
        ("https://api.os.uk:8443/maps/raster/v1", False),
        ("http://api.os.uk/maps/raster/v1", False),  # same host, another scheme
        ("https://api.os.uk.evil.example/maps/raster/v1", False),
        ("https://tiles.example.org/maps/raster/v1", False),
        ("not a url at all [", False),
    ],
)
def test_credentials_go_only_to_the_chosen_origin(url, receives):
    assert ApiEndpoints.from_url("https://api.os.uk").receives_credentials(url) is receives


def test_an_explicit_default_port_in_the_root_is_the_same_origin():
    endpoints = ApiEndpoints.from_url("https://api.os.uk:443")
    assert endpoints.receives_credentials("https://api.os.uk/maps/raster/v1/zxy/Road_27700/7/1/2.png")
