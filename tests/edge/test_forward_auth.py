"""Forward-auth as nginx, Traefik and Caddy call it (sub-requests over real sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from botwarden.edge.config import MemoryConfigSource
from botwarden.testing.samples import CHROME_UA
from tests.edge.harness import EchoOrigin, Edge, zone

RULES: list[dict[str, Any]] = [
    {"id": "r-block", "expression": 'http.request.uri.path eq "/admin"', "action": "block"},
    {"id": "r-teapot", "expression": 'http.request.uri.path eq "/tea"', "action": "block",
     "action_parameters": {"response": {"status_code": 418, "content": "no",
                                        "content_type": "text/plain"}}},
    {"id": "r-chal", "expression": 'http.request.uri.path eq "/cart"',
     "action": "managed_challenge"},
]  # fmt: skip


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    with (
        EchoOrigin() as origin,
        Edge(
            origin.url,
            source=MemoryConfigSource([zone(RULES)]),
            settings={"trusted_proxies": ["127.0.0.1/32"]},
            forward=False,
        ) as e,
    ):
        yield e


def ask(
    edge: Edge, uri: str, *, proxy: str = "", method: str = "GET", **headers: str
) -> httpx.Response:
    """A sub-request the way Traefik / Caddy send one (nginx: `proxy="nginx"`)."""
    sent = {
        "User-Agent": CHROME_UA,
        "Accept": "text/html",
        "X-Forwarded-Method": method,
        "X-Forwarded-Uri": uri,
        "X-Forwarded-Host": "shop.example.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "81.2.3.4",
        **headers,
    }
    query = "?proxy=nginx" if proxy == "nginx" else ""
    return httpx.get(f"{edge.url}/cdn-cgi/auth{query}", headers=sent, timeout=10)


def test_allowed_requests_get_the_result_headers_and_the_session_cookie(edge: Edge) -> None:
    resp = ask(edge, "/products/7?ref=home", **{"Botwarden-Score": "99"})
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["botwarden-score"] != "99"
    assert resp.headers["botwarden-score-src"]
    assert resp.headers["botwarden-verified-bot"] == "false"
    assert resp.headers["set-cookie"].startswith("__cf_bm=")
    ev = edge.events.last("/products/7")
    assert ev.ctx.client_ip == "81.2.3.4"
    assert ev.ctx.host == "shop.example.com"
    assert ev.ctx.query == "ref=home"
    assert ev.ctx.scheme == "https"
    assert ev.outcome["status"] is None  # the origin's answer is the proxy's business
    # the proxy's descriptive headers are not taken for the client's own
    assert "x-forwarded-uri" not in ev.ctx.header_names


def test_nginx_style_original_uri_headers(edge: Edge) -> None:
    sent = {"User-Agent": "curl/8.0", "X-Original-URI": "/nginx/path", "X-Original-Method": "POST",
            "Host": "shop.example.com"}  # fmt: skip
    resp = httpx.get(f"{edge.url}/cdn-cgi/auth?proxy=nginx", headers=sent, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["botwarden-score"] == "1"
    ev = edge.events.last("/nginx/path")
    assert ev.ctx.method == "POST"


def test_block_is_403_or_the_rules_response(edge: Edge) -> None:
    assert ask(edge, "/admin").status_code == 403
    assert ask(edge, "/admin", proxy="nginx").status_code == 403
    tea = ask(edge, "/tea")
    assert (tea.status_code, tea.text) == (418, "no")
    assert ask(edge, "/tea", proxy="nginx").status_code == 403  # nginx understands 403 only
    assert edge.events.last("/tea").outcome["action"] == "block"


def test_challenge_is_a_redirect_or_a_401_for_nginx(edge: Edge) -> None:
    resp = ask(edge, "/cart?item=3")
    assert resp.status_code == 302
    where = urlsplit(resp.headers["location"])
    assert where.path == "/cdn-cgi/challenge"
    assert parse_qs(where.query) == {"k": ["managed_challenge"], "r": ["/cart?item=3"]}
    nginx = ask(edge, "/cart?item=3", proxy="nginx")
    assert nginx.status_code == 401
    assert nginx.headers["location"] == resp.headers["location"]
    assert edge.events.last("/cart").outcome["action"] == "managed_challenge"


def test_a_client_cleared_by_the_challenge_passes(edge: Edge) -> None:
    from botwarden.edge.challenge import solve

    page = httpx.get(
        f"{edge.url}/cdn-cgi/challenge?r=/cart",
        headers={"User-Agent": CHROME_UA, "X-Forwarded-For": "81.2.3.4"},
        timeout=10,
    )
    token = page.text.split('"token": "')[1].split('"')[0]
    difficulty = int(token.split(".")[2])
    ok = httpx.post(
        f"{edge.url}/cdn-cgi/challenge-platform/verify",
        data={"token": token, "answer": solve(token, difficulty)},
        headers={"User-Agent": CHROME_UA, "X-Forwarded-For": "81.2.3.4"},
        timeout=30,
    )
    assert ok.status_code == 200
    clearance = ok.cookies["cf_clearance"]
    resp = ask(edge, "/cart", Cookie=f"cf_clearance={clearance}")
    assert resp.status_code == 200
    assert edge.events.last("/cart").outcome["action"] == "managed_challenge_bypassed"
    # the same cookie from another address is worth nothing
    other = ask(edge, "/cart", Cookie=f"cf_clearance={clearance}", **{"X-Forwarded-For": "9.9.9.9"})
    assert other.status_code == 302


def test_an_untrusted_caller_cannot_choose_the_client_address() -> None:
    with EchoOrigin() as origin, Edge(origin.url, forward=False) as edge:
        ask(edge, "/x")
        assert edge.events.last("/x").ctx.client_ip == "127.0.0.1"
