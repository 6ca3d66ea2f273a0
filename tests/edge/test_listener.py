"""The TLS listener: ClientHellos peeked on real sockets, then real clients over TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botwarden.edge.listener import peek_client_hello
from botwarden.engines.heuristics import DECLARED_LIBRARY, TLS_NOT_BROWSER
from botwarden.errors import ClientHelloError
from botwarden.fingerprint.tls import parse_client_hello, parse_hex
from botwarden.testing.samples import CHROME_UA
from tests.conftest import require_binary
from tests.edge.harness import EchoOrigin, Edge, ca_bundle

CAPTURES = Path(__file__).resolve().parent.parent / "fingerprint" / "captures"
HELLO = parse_hex((CAPTURES / "chromium.hex").read_text())


def _peek_with(send: list[bytes | float], timeout: float = 2.0) -> tuple[bytes, bytes]:
    """Peek a connection whose client sends `send` (bytes, or a pause in seconds), then
    read what is queued: the peek must not have consumed anything."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def client() -> None:
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for item in send:
                if isinstance(item, float):
                    time.sleep(item)
                else:
                    c.sendall(item)
            time.sleep(0.3)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    conn, _ = listener.accept()
    listener.close()
    conn.setblocking(False)

    async def run() -> bytes:
        return await peek_client_hello(conn, timeout=timeout, loop=asyncio.get_running_loop())

    try:
        hello = asyncio.run(run())
        conn.setblocking(True)
        conn.settimeout(2)
        queued = b""
        while len(queued) < len(hello):
            queued += conn.recv(65536)
        return hello, queued
    finally:
        conn.close()
        t.join(timeout=5)


def test_peek_reads_a_hello_split_over_segments_and_leaves_it_queued() -> None:
    parts: list[bytes | float] = [HELLO[:3], 0.05, HELLO[3:100], 0.05, HELLO[100:]]
    hello, queued = _peek_with(parts)
    assert hello == HELLO
    assert queued[: len(HELLO)] == HELLO
    assert parse_client_hello(hello).ja4 == parse_client_hello(HELLO).ja4


def test_peek_refuses_what_is_not_tls() -> None:
    with pytest.raises(ClientHelloError):
        _peek_with([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])


def test_peek_times_out_on_a_stalled_hello() -> None:
    with pytest.raises(TimeoutError):
        _peek_with([HELLO[:50], 1.0], timeout=0.3)


def test_peek_reports_an_early_close() -> None:
    with pytest.raises(ConnectionError):
        _peek_with([HELLO[:50]], timeout=2.0)


@pytest.fixture(scope="module")
def tls_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Edge, str]]:
    tls, cafile = ca_bundle(tmp_path_factory.mktemp("tls"))
    with EchoOrigin() as origin, Edge(origin.url, tls=tls, metrics=True) as edge:
        yield edge, cafile


def _https(edge: Edge, path: str = "/") -> str:
    return f"https://localhost:{edge.tls_port}{path}"


@pytest.mark.service
def test_curl_over_tls_is_fingerprinted_and_automated(tls_edge: tuple[Edge, str]) -> None:
    edge, cafile = tls_edge
    curl = require_binary("curl", "real curl traffic")
    subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "--cacert", cafile, "--resolve",
         f"localhost:{edge.tls_port}:127.0.0.1", "-A", CHROME_UA, _https(edge, "/tls-curl")],
        check=True, timeout=30,
    )  # fmt: skip
    ev = edge.events.last("/tls-curl")
    assert ev.ctx.scheme == "https"
    assert ev.ctx.ja4 is not None
    assert ev.ctx.ja4.startswith("t13d")
    assert ev.bm.ja4 == ev.ctx.ja4
    assert ev.bm.ja3_hash is not None
    # a Chrome user agent on curl's TLS stack: only the peeked hello can tell
    assert TLS_NOT_BROWSER.id in ev.bm.detection_ids
    assert ev.bm.score == 1


def test_python_requests_over_tls_is_automated(tls_edge: tuple[Edge, str]) -> None:
    edge, cafile = tls_edge
    import requests

    resp = requests.get(_https(edge, "/tls-requests"), verify=cafile, timeout=10)
    seen = {k.lower(): v for k, v in resp.json()["headers"]}
    assert seen["botwarden-score"] == "1"
    assert seen["x-forwarded-proto"] == "https"
    ev = edge.events.last("/tls-requests")
    assert seen["botwarden-ja4"] == ev.ctx.ja4
    assert DECLARED_LIBRARY.id in ev.bm.detection_ids
    assert "Secure" in resp.headers["set-cookie"]


def test_chrome_impersonation_with_a_browser_session_is_not_scored_one(
    tls_edge: tuple[Edge, str],
) -> None:
    edge, _ = tls_edge
    from curl_cffi import requests as cffi

    with cffi.Session(impersonate="chrome", verify=False) as s:
        first = s.get(_https(edge, "/shop"), timeout=10)
        assert first.status_code == 200
        assert "__cf_bm" in s.cookies
        before = len(edge.events.events)
        for page in ("/shop/a", "/shop/b"):
            assert s.get(_https(edge, page), timeout=10).status_code == 200
        ev = edge.events.last("/shop/b", after=before)
    assert ev.ctx.ua.family == "Chrome"
    assert ev.ctx.cookies.get("__cf_bm")
    assert ev.bm.score != 1
    assert ev.bm.detection_ids == []
    assert ev.outcome["session_id"] == edge.events.last("/shop/a").outcome["session_id"]


def test_plain_http_on_the_tls_port_is_dropped_and_counted(tls_edge: tuple[Edge, str]) -> None:
    edge, _ = tls_edge
    with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = s.recv(100)
        except ConnectionResetError:  # closed with our request unread: a reset
            answer = b""
        assert answer == b""
    assert edge.metrics is not None
    assert b'botwarden_edge_tls_hellos_total{outcome="not_tls"} 1.0' in edge.metrics.exposition()


def test_tls_and_plain_listeners_serve_side_by_side(tls_edge: tuple[Edge, str]) -> None:
    edge, cafile = tls_edge
    ctx = ssl.create_default_context(cafile=cafile)
    with httpx.Client(verify=ctx) as c:
        assert c.get(_https(edge, "/a")).status_code == 200
    assert httpx.get(f"{edge.url}/b", timeout=10).status_code == 200
    assert edge.events.last("/b").ctx.ja4 is None
