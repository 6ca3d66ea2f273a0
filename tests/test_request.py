from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from botwarden.request import RequestContext, TLSInput
from botwarden.testing.samples import CHROME_UA, chrome_headers


def make(**kw: Any) -> RequestContext:
    base: dict[str, Any] = {"client_ip": "203.0.113.7", "host": "Shop.Example", "path": "/"}
    base.update(kw)
    return RequestContext(**base)


def test_is_immutable() -> None:
    ctx = make()
    with pytest.raises(AttributeError, match="immutable"):
        ctx.path = "/x"


def test_basic_fields_and_ipv6() -> None:
    ctx = make(client_ip="2001:db8::1", method="post", query="a=1&b=&a=2")
    assert ctx.ip == ipaddress.ip_address("2001:db8::1")
    assert ctx.method == "POST"
    assert ctx.host == "shop.example"
    assert ctx.query_args == (("a", "1"), ("b", ""), ("a", "2"))
    assert ctx.full_uri == "https://shop.example/?a=1&b=&a=2"


def test_headers_keep_order_and_case_and_join_repeats() -> None:
    headers = (
        ("User-Agent", "x"),
        ("Accept", "a"),
        ("accept", "b"),
        ("Cookie", "a=1"),
        ("cookie", "b=2"),
    )
    ctx = make(headers=headers)
    assert ctx.headers[0] == ("User-Agent", "x")
    assert ctx.header("accept") == "a, b"
    assert ctx.cookies == {"a": "1", "b": "2"}
    assert ctx.header_names == ("user-agent", "accept", "accept", "cookie", "cookie")


def test_cookie_header_that_simplecookie_refuses_is_still_read() -> None:
    ctx = make(headers=(("cookie", 'a=1; b="unterminated; c=3'),))
    assert ctx.cookies["a"] == "1"
    assert ctx.cookies["c"] == "3"


def test_lazy_fields_are_cached_and_not_computed_until_asked() -> None:
    ctx = make(headers=(("user-agent", CHROME_UA),))
    assert "ua" not in ctx.__dict__
    ua = ctx.ua
    assert ua.family == "Chrome"
    assert ua.major == "131"
    assert ua.os_family == "Windows"
    assert ctx.ua is ua


@pytest.mark.parametrize(
    ("path", "static"),
    [
        ("/static/app.js", True),
        ("/img/a.WEBP", True),
        ("/fonts/x.woff2", True),
        ("/", False),
        ("/products/42", False),
        ("/report.pdf", True),
        ("/a.php", False),
        ("/dir.js/page", False),
        ("/.env", False),
    ],
)
def test_static_resource_follows_cloudflare_extension_list(path: str, static: bool) -> None:
    assert make(path=path).static_resource is static


def test_client_hints_parsed() -> None:
    ctx = make(
        headers=tuple(
            (k, v)
            for k, v in chrome_headers(CHROME_UA, "Windows", False, "Google Chrome", "document")
        )
    )
    hints = ctx.client_hints
    assert hints.present
    assert ("Google Chrome", "131") in hints.brands
    assert hints.mobile is False
    assert hints.platform == "Windows"
    assert not make().client_hints.present


def test_header_order_fingerprint_distinguishes_order_not_values() -> None:
    a = make(headers=(("User-Agent", "x"), ("Accept", "*/*")))
    b = make(headers=(("user-agent", "y"), ("accept", "text/html")))
    c = make(headers=(("accept", "*/*"), ("user-agent", "x")))
    assert a.header_order_fp == b.header_order_fp
    assert a.header_order_fp != c.header_order_fp
    assert a.header_order_fp.startswith("ge1102_")
    # proxy-added headers do not change the fingerprint
    d = make(headers=(("User-Agent", "x"), ("X-Forwarded-For", "1.2.3.4"), ("Accept", "*/*")))
    assert d.header_order_fp == a.header_order_fp


def test_tls_facts_from_supplied_fingerprints() -> None:
    ctx = make(tls=TLSInput(ja4="t13d1516h2_8daaf6152771_02713d6af862", ja3="771,4865,0,29,0"))
    assert ctx.ja4 == "t13d1516h2_8daaf6152771_02713d6af862"
    assert ctx.ja3_hash is not None
    assert len(ctx.ja3_hash) == 32
    assert make().ja4 is None


def test_malformed_client_hello_gives_no_fingerprint_and_no_crash() -> None:
    ctx = make(tls=TLSInput(client_hello=b"\x16\x03\x01\x00\x05hello"))
    assert ctx.client_hello is None
    assert ctx.ja4 is None
