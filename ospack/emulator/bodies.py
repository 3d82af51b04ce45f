"""Error bodies in the shapes OS's gateway uses (as OrdnanceSurvey/osdatahub's src/osdatahub/errors.py reads them).

JSON: the Apigee fault ``{"fault": {"faultstring": …, "detail": {"errorcode": …}}}``.
XML: an OWS 1.1 ExceptionReport, for WMTS requests.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

OWS_CONTENT_TYPE = "application/xml"


def fault(status: int, faultstring: str, errorcode: str, headers: dict[str, str] | None = None) -> web.Response:
    """An Apigee-style JSON fault."""
    body = json.dumps({"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def ows_exception(
    status: int, code: str, text: str, locator: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """An OWS ExceptionReport."""
    where = "" if locator is None else f" locator={quoteattr(locator)}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0">'
        f"<ows:Exception exceptionCode={quoteattr(code)}{where}>"
        f"<ows:ExceptionText>{escape(text)}</ows:ExceptionText></ows:Exception></ows:ExceptionReport>\n"
    )
    return web.Response(status=status, text=body, content_type=OWS_CONTENT_TYPE, headers=headers)


HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service temporarily unavailable</h1>"
    "<p>The server is temporarily unable to service your request. Please try again later.</p></body></html>\n"
)
