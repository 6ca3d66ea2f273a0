"""Each population sends what its profile says: header names, order and values per kind
of request, and the TLS fingerprint of the real client (checked live on loopback)."""

from __future__ import annotations

import random

import pytest

from botwarden.fingerprint.tls import parse_client_hello
from botwarden.simulate import clients as cl
from botwarden.simulate import profiles
from botwarden.testing.tls_capture import CHROMIUM, HelloServer, capture
from tests.conftest import require_binary

HOST = "shop.example"


def names(template: cl.Template) -> list[str]:
    return [n for n, _ in template]


def captured_chromium_order(kind: str) -> list[str]:
    pairs = cl._captured_chromium()[kind]
    return [n.lower() for n, _ in pairs if n.lower() not in ("host", "connection")]


@pytest.mark.parametrize("kind", ["document", "form", "style", "script", "image", "fetch",
                                  "fetch_post"])  # fmt: skip
def test_chrome_builds_send_chromiums_captured_order(kind: str) -> None:
    for client in profiles.family("chrome_desktop") + profiles.family("edge"):
        t = client.template(kind, "en-US", HOST, referer=True, cookie=True)
        got = [n for n in names(t) if n not in ("dnt", "priority")]
        assert got == captured_chromium_order(kind), client.key
        assert names(t)[-1] == "priority"  # HTTP/2 adds it last


def test_chrome_values_come_from_the_build() -> None:
    client = profiles.family("chrome_android")[0]
    h = dict(client.template("document", "de-DE", HOST, referer=True, cookie=False))
    assert h["user-agent"] == client.ua
    assert h["sec-ch-ua-mobile"] == "?1"
    assert h["sec-ch-ua-platform"] == '"Android"'
    assert h["accept-language"].startswith("de-DE,de;q=0.9")
    assert h["referer"] == cl.REFERER
    assert "cookie" not in h
    assert h["sec-fetch-site"] == "same-origin"
    none = dict(client.template("document_none", "en-US", HOST, referer=True, cookie=False))
    assert none["sec-fetch-site"] == "none"
    assert "referer" not in none


def test_every_client_has_every_kind_and_a_user_agent_header() -> None:
    groups = [
        profiles.family(f) for f in ("chrome_desktop", "chrome_android", "safari_mac",
                                     "safari_ios", "firefox", "edge")
    ] + [profiles.samsung_internet(), profiles.in_app_webviews(), profiles.novel_browsers(),
         profiles.tls_inspecting_proxy(), profiles.privacy_browsers(), profiles.text_browser(),
         profiles.libraries(), profiles.scanners(), profiles.spoofing_libraries(),
         profiles.headless(), profiles.impersonators(), profiles.googlebots(),
         profiles.ai_crawlers(), profiles.monitors()]  # fmt: skip
    for group in groups:
        for client in group:
            assert set(client.kinds) == set(cl.KINDS), client.key
            for kind in cl.KINDS:
                t = client.template(kind, "en-US", HOST, referer=True, cookie=True)
                ua = [v for n, v in t if n.lower() == "user-agent"]
                assert ua == [client.ua], (client.key, kind)
                if client.http_version == "1.1":
                    assert t[0] == ("Host", HOST) or ("Host", HOST) in t, client.key
                else:
                    assert all(n == n.lower() for n, _ in t), client.key  # HTTP/2: lower case


def test_post_templates_carry_length_type_and_origin() -> None:
    chrome = profiles.family("chrome_desktop")[0]
    form = dict(chrome.template("form", "en-US", HOST, referer=True, cookie=True))
    assert form["content-type"] == cl.FORM
    assert form["content-length"] == cl.LENGTH
    assert form["origin"] == f"https://{HOST}"
    fetch = dict(chrome.template("fetch_post", "en-US", HOST, referer=True, cookie=True))
    assert fetch["content-type"] == cl.JSON


def test_safari_and_firefox_orders() -> None:
    safari = next(c for c in profiles.family("safari_mac") if c.ua.find("Version/26") > 0)
    assert names(safari.template("document", "en-US", HOST, referer=False, cookie=False)) == [
        "sec-fetch-dest", "user-agent", "accept", "sec-fetch-site", "sec-fetch-mode",
        "accept-language", "accept-encoding", "priority"]  # fmt: skip
    ff = profiles.family("firefox")[0]
    got = names(ff.template("document_none", "en-US", HOST, referer=False, cookie=False))
    # curl_cffi's Firefox navigation, captured (tests/…/clients.json), in HTTP/2 case.
    head = [n.lower() for n, _ in cl.captured_head("curl_cffi:firefox147") if n != "Host"]
    assert [n for n in got if n != "dnt"] == head


def test_libraries_send_their_captured_heads() -> None:
    curl = next(c for c in profiles.libraries() if c.family == "curl")
    got = curl.template("document", "en-US", HOST, referer=False, cookie=False)
    assert got == (("Host", HOST), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*"))
    post = dict(curl.template("form", "en-US", HOST, referer=False, cookie=False))
    assert post["Content-Type"] == cl.FORM
    aio = next(c for c in profiles.libraries() if c.family == "aiohttp")
    assert names(aio.template("fetch", "en-US", HOST, referer=False, cookie=False)) == [
        "Host", "Accept", "Accept-Encoding", "User-Agent"]  # fmt: skip


def test_spoofers_keep_library_tls_and_order_with_a_browser_ua() -> None:
    for client in profiles.spoofing_libraries():
        assert "Chrome/147" in client.ua
        assert client.tls is None or not client.tls.ja4.startswith("t13d1516h2_8daaf6152771")
        t = dict(client.template("document", "en-US", HOST, referer=False, cookie=False))
        assert "sec-fetch-mode" not in {k.lower() for k in t}


def test_chrome_ja3_changes_per_connection_but_not_its_extension_set() -> None:
    tls = profiles.family("chrome_desktop")[0].tls
    assert tls is not None
    assert tls.permutes
    rng = random.Random(1)
    seen = {tls.connection(rng) for _ in range(20)}
    assert len(seen) > 15
    exts = {frozenset(ja3.split(",")[2].split("-")) for ja3, _ in seen}
    assert exts == {frozenset(tls.ja3.split(",")[2].split("-"))}
    safari = profiles.family("safari_mac")[0].tls
    assert safari is not None
    assert safari.connection(rng) == (safari.ja3, safari.ja3_hash)


def test_chrome_versions_map_to_the_nearest_captured_target() -> None:
    assert cl.chrome_target(147) == "chrome146"
    assert cl.chrome_target(150) == "chrome150"
    assert cl.chrome_target(131) == "chrome131"
    assert cl.chrome_target(121) == "chrome124"
    assert cl.chrome_target(105) == "chrome116"  # older than every target: the oldest
    assert cl.safari_target((26, 3), ios=True) == "safari260_ios"
    assert cl.safari_target((17, 4), ios=False) == "safari170"


# -- live: the fingerprints equal what the real clients send today ---------------------------


def _cffi_hello(target: str) -> tuple[bytes, bytes]:
    from curl_cffi import requests as cffi

    with HelloServer(sni=True) as server:
        cffi.get(server.url, impersonate=target, verify=False, timeout=20)
        return server.requests.get(timeout=30)


@pytest.mark.service
def test_chrome_population_ja4_equals_a_live_curl_cffi_capture() -> None:
    by_target = {c.impersonate: c.tls.ja4 for c in profiles.family("chrome_desktop") if c.tls}
    assert by_target
    for target, ja4 in sorted(by_target.items()):
        assert target is not None
        hello, _ = _cffi_hello(target)
        assert parse_client_hello(hello).ja4 == ja4, target


@pytest.mark.service
def test_every_browser_population_ja4_equals_a_live_curl_cffi_capture() -> None:
    seen: dict[str, str] = {}
    for fam in ("chrome_android", "safari_mac", "safari_ios", "firefox", "edge"):
        for c in profiles.family(fam):
            if c.impersonate and c.tls:
                seen[c.impersonate] = c.tls.ja4
    for c in profiles.privacy_browsers()[:2] + profiles.impersonators():
        assert c.impersonate is not None
        assert c.tls is not None
        seen[c.impersonate] = c.tls.ja4
    for target, ja4 in sorted(seen.items()):
        hello, _ = _cffi_hello(target)
        assert parse_client_hello(hello).ja4 == ja4, target


@pytest.mark.service
def test_impersonator_headers_are_curl_cffis_live_defaults() -> None:
    client = profiles.impersonators()[-1]
    assert client.impersonate is not None
    _, head = _cffi_hello(client.impersonate)
    lines = head.decode("latin-1").split("\r\n")[1:]
    live = [line.partition(":")[0].lower() for line in lines if line]
    template = client.template("fetch", "en-US", HOST, referer=False, cookie=False)
    assert [n for n, _ in template] == [n for n in live if n != "host"]


@pytest.mark.service
def test_headless_and_novel_chromium_ja4_equal_a_live_chromium_capture() -> None:
    require_binary(CHROMIUM, "real Chromium ClientHello")
    ja4 = parse_client_hello(capture("chromium")).ja4
    assert {c.tls.ja4 for c in profiles.headless() if c.tls} == {ja4}
    arm = profiles.novel_browsers()[1]
    assert arm.tls is not None
    assert arm.tls.ja4 == ja4


@pytest.mark.service
@pytest.mark.slow
def test_chromium_header_orders_equal_a_live_chromium() -> None:
    require_binary(CHROMIUM, "real Chromium header order")
    from botwarden.simulate.build_data import capture_chromium_headers

    live = capture_chromium_headers()["kinds"]
    packaged = cl._captured_chromium()
    for kind, pairs in packaged.items():
        assert [n for n, _ in live[kind]][2:] == [n for n, _ in pairs][2:], kind  # after Host


# -- deployments ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["document", "style", "script", "image", "fetch", "form"])
def test_http1_form_of_chromium_is_what_the_real_chromium_sent_over_http1(kind: str) -> None:
    """Debian's Chromium 156 was captured over HTTP/1.1 (chromium_headers.json): the
    HTTP/1.1 form of the simulated Chromium 156 must send exactly those names, in that
    order and case (Host, Connection, Title-Case names, lower-case client hints)."""
    arm = profiles.novel_browsers()[1]
    h1 = cl.over_http1(arm)
    captured = [n for n, _ in cl._captured_chromium()[kind]]
    sent = [n for n, _ in h1.template(kind, "en-US", "shop.example", referer=True, cookie=True)]
    assert sent == captured


def test_http1_form_keeps_the_client_and_its_offered_alpn() -> None:
    chrome = profiles.family("chrome_desktop")[0]
    h1 = cl.over_http1(chrome)
    assert (h1.http_version, chrome.http_version) == ("1.1", "2")
    assert h1.tls == chrome.tls
    assert h1.ua == chrome.ua
    assert h1.key != chrome.key
    assert h1.tls is not None
    assert h1.tls.ja4[8:10] == "h2"
    doc = dict(h1.template("document", "en-US", "shop.example", referer=False, cookie=False))
    assert doc["Host"] == "shop.example"
    assert doc["Connection"] == "keep-alive"
    assert "priority" not in {n.lower() for n in doc}
    assert cl.over_http1(h1) is h1
    curl = profiles.libraries()[0]
    assert cl.over_http1(curl) is curl  # speaks HTTP/1.1 anyway
    firefox = cl.over_http1(profiles.family("firefox")[0])
    names = [n for n, _ in firefox.kinds["document"]]
    assert names[:2] == ["Host", "User-Agent"]
    assert "TE" not in names
    assert names.index("Connection") == names.index("Accept-Encoding") + 1


def test_without_tls_fingerprint() -> None:
    chrome = profiles.family("chrome_desktop")[0]
    blind = cl.without_tls_fingerprint(chrome)
    assert blind.tls is None
    assert blind.kinds is chrome.kinds
    assert blind.key != chrome.key
