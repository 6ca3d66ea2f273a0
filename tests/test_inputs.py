from __future__ import annotations

import pytest

from botwarden.errors import InputError
from botwarden.inputs import context_from_combined, context_from_record


def test_record_full() -> None:
    ctx = context_from_record(
        {
            "ip": "203.0.113.7",
            "method": "POST",
            "url": "https://shop.example/login?next=%2F",
            "http_version": "2",
            "headers": [["User-Agent", "curl/8.5.0"], ["Accept", "*/*"]],
            "tls": {"ja4": "t13d1516h2_8daaf6152771_02713d6af862", "ja3_hash": "abc"},
            "ts": "2026-11-21T10:00:00Z",
            "zone": "shop.example",
        }
    )
    assert ctx.method == "POST"
    assert ctx.host == "shop.example"
    assert ctx.path == "/login"
    assert ctx.query == "next=%2F"
    assert ctx.http_version == "2"
    assert ctx.user_agent == "curl/8.5.0"
    assert ctx.ja4 == "t13d1516h2_8daaf6152771_02713d6af862"
    assert ctx.ja3_hash == "abc"
    assert ctx.timestamp == 1795255200.0
    assert ctx.zone == "shop.example"
    assert ctx.headers_complete


def test_record_host_header_when_url_is_a_path() -> None:
    ctx = context_from_record({"ip": "::1", "url": "/x", "headers": [["Host", "a.example"]]})
    assert ctx.host == "a.example"
    assert ctx.path == "/x"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([], "JSON object"),
        ({}, "ip: required"),
        ({"ip": "999.1.1.1"}, "not an IPv4 or IPv6"),
        ({"ip": "1.1.1.1", "http_version": "4"}, "http_version"),
        ({"ip": "1.1.1.1", "headers": "ua"}, "headers: expected a list"),
        ({"ip": "1.1.1.1", "headers": [["a"]]}, r"headers\[0\]"),
        ({"ip": "1.1.1.1", "headers": [["a", "b"], "ab"]}, r"headers\[1\]"),
        ({"ip": "1.1.1.1", "headers": [["a", 1]]}, r"headers\[0\]"),
        ({"ip": "1.1.1.1", "headers": [["a\r\nb", "v"]]}, "not a header name"),
        ({"ip": "1.1.1.1", "headers": [["bad name", "v"]]}, "not a header name"),
        ({"ip": "1.1.1.1", "ts": "yesterday"}, "RFC 3339"),
        ({"ip": "1.1.1.1", "ts": "2026-01-01T00:00:00"}, "time zone"),
        ({"ip": "1.1.1.1", "tls": {"client_hello": "zz"}}, "tls.client_hello"),
        ({"ip": "1.1.1.1", "tls": "x"}, "tls: expected an object"),
        ({"ip": "1.1.1.1", "method": "G T"}, "method"),
        ({"ip": "1.1.1.1", "port": 70000}, "port"),
    ],
)
def test_record_errors_name_the_field(record: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        context_from_record(record)


NGINX_LINE = (
    '66.249.66.1 - - [21/Nov/2026:10:00:00 +0000] "GET /products/42?ref=x HTTP/1.1" 200 5120 '
    '"https://shop.example/" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"'
)


def test_combined_line() -> None:
    ctx = context_from_combined(NGINX_LINE, host="shop.example")
    assert ctx.client_ip == "66.249.66.1"
    assert ctx.method == "GET"
    assert ctx.path == "/products/42"
    assert ctx.query == "ref=x"
    assert ctx.http_version == "1.1"
    assert ctx.referer == "https://shop.example/"
    assert "Googlebot" in ctx.user_agent
    assert ctx.host == "shop.example"
    assert ctx.timestamp == 1795255200.0
    assert not ctx.headers_complete


def test_combined_escaped_quotes_and_missing_ua() -> None:
    line = '1.2.3.4 - - [21/Nov/2026:10:00:00 +0000] "GET /a\\"b HTTP/1.0" 404 - "-" "-"'
    ctx = context_from_combined(line)
    assert ctx.path == '/a"b'
    assert ctx.user_agent == ""
    assert ctx.referer == ""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("garbage", "not a combined-format"),
        ('x - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "not an IP"),
        ('1.2.3.4 - - [tomorrow] "GET / HTTP/1.1" 200 1 "-" "-"', "time"),
        (
            '1.2.3.4 - - [21/Nov/2026:10:00:00 +0000] "\\x16\\x03\\x01" 400 1 "-" "-"',
            "request line",
        ),
    ],
)
def test_combined_errors(line: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        context_from_combined(line)


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/p?q=1",
        "https://Shop.Example:8443/a/b.css?x=1&y=%20#frag",
        "http://shop.example",
        "https://shop.example/?",
        "https://user:pw@shop.example/x",
        "https://[2001:db8::1]:443/x?y",
        "/only/a/path?z=2",
        "https://xn--bcher-kva.example/ü?ä=1",
        "",
    ],
)
def test_fast_url_split_agrees_with_urlsplit(url: str) -> None:
    from urllib.parse import urlsplit

    ctx = context_from_record({"ip": "1.2.3.4", "url": url})
    parts = urlsplit(url)
    assert ctx.scheme == (parts.scheme or "https")
    assert ctx.host == (parts.hostname or "")
    assert ctx.path == (parts.path or "/")
    assert ctx.query == parts.query


def test_bad_url_is_an_input_error() -> None:
    with pytest.raises(InputError, match="url"):
        context_from_record({"ip": "1.2.3.4", "url": "https://[::1/x"})
