"""Real nginx in front of Botwarden (auth_request) and the demo shop: the configuration
docs/integrate.md gives, end to end."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from botwarden.demo.server import DemoServer
from botwarden.edge.challenge import solve
from botwarden.edge.config import MemoryConfigSource
from botwarden.edge.nginx import (
    NGINX,
    NginxProcess,
    forward_auth_server,
    free_port,
    upstream_block,
)
from botwarden.testing.samples import CHROME_UA
from tests.conftest import require_binary
from tests.edge.harness import ZONE_ID, EchoOrigin, Edge, zone

pytestmark = pytest.mark.service

RULES = [
    {"id": "r-admin", "expression": 'http.request.uri.path eq "/admin"', "action": "block"},
    {"id": "r-cart", "expression": 'http.request.uri.path eq "/cart"',
     "action": "managed_challenge"},
]  # fmt: skip
BROWSER = {"User-Agent": CHROME_UA, "Accept": "text/html,*/*;q=0.8", "Accept-Language": "en"}


@dataclass
class Stack:
    edge: Edge
    source: MemoryConfigSource
    shop: str  # nginx → Botwarden → demo shop
    echo: str  # nginx → Botwarden → echo origin
    nginx: NginxProcess


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binary(NGINX, "nginx in front of Botwarden")
    prefix = tmp_path_factory.mktemp("nginx")
    source = MemoryConfigSource([zone(RULES)])
    settings = {"trusted_proxies": ["127.0.0.1/32"], "challenge_difficulty": 10}
    with DemoServer() as shop, EchoOrigin() as echo, Edge(
        "http://127.0.0.1:9", source=source, settings=settings, forward=False
    ) as edge:  # fmt: skip
        edge_port = edge.server.ports[0]
        shop_port, echo_port = free_port(), free_port()
        blocks = [
            upstream_block("botwarden", f"127.0.0.1:{edge_port}"),
            upstream_block("shop", f"127.0.0.1:{shop.port}"),
            upstream_block("echo", f"127.0.0.1:{echo.port}"),
            forward_auth_server(f"127.0.0.1:{shop_port}", "botwarden", "shop"),
            forward_auth_server(f"127.0.0.1:{echo_port}", "botwarden", "echo"),
        ]
        with NginxProcess(prefix, blocks) as nginx:
            nginx.wait_port(shop_port)
            nginx.wait_port(echo_port)
            yield Stack(edge, source, f"http://127.0.0.1:{shop_port}",
                        f"http://127.0.0.1:{echo_port}", nginx)  # fmt: skip


def test_curl_through_nginx_is_scored_and_served(stack: Stack) -> None:
    curl = require_binary("curl", "real curl traffic")
    out = subprocess.run([curl, "-sS", "-i", f"{stack.shop}/"], capture_output=True, check=True,
                         timeout=30)  # fmt: skip
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"set-cookie: __cf_bm=" in head.lower()
    assert b"<html" in body.lower()
    ev = stack.edge.events.last("/")
    assert ev.bm.score == 1
    assert ev.ctx.client_ip == "127.0.0.1"


def test_the_origin_sees_the_result_and_never_a_forged_copy(stack: Stack) -> None:
    resp = httpx.get(f"{stack.echo}/echo", headers={"Botwarden-Score": "99",
                                                    "Botwarden-Verified-Bot": "true"}, timeout=10)  # fmt: skip
    seen: dict[str, list[str]] = {}
    for k, v in resp.json()["headers"]:
        seen.setdefault(k.lower(), []).append(v)
    assert seen["botwarden-score"] == ["1"]
    assert seen["botwarden-verified-bot"] == ["false"]
    assert seen["botwarden-score-src"] == ["Heuristics"]
    assert seen["botwarden-detection-ids"][0]


def test_block_through_nginx(stack: Stack) -> None:
    assert httpx.get(f"{stack.shop}/admin", timeout=10).status_code == 403
    assert stack.edge.events.last("/admin").outcome["action"] == "block"


def test_challenge_through_nginx_then_pass(stack: Stack) -> None:
    with httpx.Client(base_url=stack.shop, headers=BROWSER, timeout=30) as c:
        first = c.get("/cart")
        assert first.status_code == 302
        assert first.headers["location"].startswith(f"{stack.shop}/cdn-cgi/challenge?")
        page = c.get(first.headers["location"])
        assert page.status_code == 403
        token = page.text.split('"token": "')[1].split('"')[0]
        ok = c.post("/cdn-cgi/challenge-platform/verify",
                    data={"token": token, "answer": solve(token, 10)})  # fmt: skip
        assert ok.status_code == 200
        assert "cf_clearance" in c.cookies
        cart = c.get("/cart")
        assert cart.status_code == 200
    assert stack.edge.events.last("/cart").outcome["action"] == "managed_challenge_bypassed"


def test_rule_change_takes_effect_through_nginx_within_two_seconds(stack: Stack) -> None:
    stack.source.set_rules(ZONE_ID, [*RULES, {"id": "r-new", "action": "block",
                                             "expression": 'http.request.uri.path eq "/about"'}])  # fmt: skip
    t0 = time.monotonic()
    try:
        while httpx.get(f"{stack.shop}/about", timeout=10).status_code != 403:
            assert time.monotonic() - t0 < 2.0
            time.sleep(0.05)
    finally:
        stack.source.set_rules(ZONE_ID, RULES)


def test_docs_show_the_tested_configuration() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "integrate.md").read_text()
    block = forward_auth_server("443 ssl", "botwarden", "origin", "www.example.com")
    assert block in doc, "docs/integrate.md must show forward_auth_server()'s output"
