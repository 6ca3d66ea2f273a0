"""Botwarden's own responses: block pages and origin-error pages, HTML or JSON by `Accept`."""

from __future__ import annotations

import html

import orjson

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em;
color:#222}}small{{color:#777}}</style></head>
<body><h1>{title}</h1><p>{message}</p>
<p><small>Botwarden · {status} · Ray ID {ray}</small></p></body></html>
"""

HTML = b"text/html; charset=utf-8"
JSON = b"application/json"


def wants_json(accept: str | None) -> bool:
    """JSON for API clients that ask for it and not for HTML (`Accept: application/json`)."""
    if not accept:
        return False
    a = accept.lower()
    return "json" in a and "text/html" not in a


def page(status: int, title: str, message: str, ray: str, *, json: bool) -> tuple[bytes, bytes]:
    """(body, content type) of one of Botwarden's own pages."""
    if json:
        doc = {"success": False, "errors": [{"code": status, "message": message}], "ray_id": ray}
        return orjson.dumps(doc), JSON
    body = _TEMPLATE.format(
        title=html.escape(title), message=html.escape(message), status=status,
        ray=html.escape(ray),
    )  # fmt: skip
    return body.encode(), HTML


BLOCKED = ("Access denied", "This request was blocked by the site's security rules.")
RATE_LIMITED = ("Too many requests", "You have sent too many requests. Try again later.")
BAD_GATEWAY = ("Bad gateway", "The site's server could not be reached. Try again shortly.")
GATEWAY_TIMEOUT = ("Gateway timeout", "The site's server did not answer in time.")
NOT_FOUND = ("Not found", "There is nothing at this address.")
