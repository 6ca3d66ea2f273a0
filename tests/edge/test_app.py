"""The edge's hot path through real sockets (plain HTTP): score, decide, act, forward."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from botwarden.edge.challenge import PAGE_PATH, VERIFY_PATH, solve
from botwarden.edge.config import MemoryConfigSource
from botwarden.engines.heuristics import DECLARED_LIBRARY
from botwarden.result import ScoreSource
from botwarden.testing.samples import CHROME_UA
from tests.conftest import require_binary
from tests.edge.harness import ZONE_ID, EchoOrigin, Edge, zone

ANY = 'http.request.method eq "GET"'
BROWSER = {
    "User-Agent": CHROME_UA,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}


@pytest.fixture(scope="module")
def origin() -> Iterator[EchoOrigin]:
    with EchoOrigin() as o:
        yield o


@pytest.fixture
def edge(origin: EchoOrigin) -> Iterator[Edge]:
    with Edge(origin.url) as e:
        yield e


def echoed(resp: httpx.Response) -> dict[str, list[str]]:
    """Headers the origin saw, lower-cased name → values in order."""
    out: dict[str, list[str]] = {}
    for k, v in resp.json()["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def rule(expression: str, action: str, rid: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"id": rid, "expression": expression, "action": action, **extra}


@pytest.mark.service
def test_real_curl_is_scored_automated_and_the_origin_sees_the_result(edge: Edge) -> None:
    curl = require_binary("curl", "real curl traffic")
    out = subprocess.run(
        [curl, "-sS", "-H", "Botwarden-Score: 99", "-H", "botwarden-score-src: Forged",
         "-H", "X-Forwarded-For: 6.6.6.6", f"{edge.url}/hello?x=1"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    import orjson

    doc = orjson.loads(out.stdout)
    seen: dict[str, list[str]] = {}
    for k, v in doc["headers"]:
        seen.setdefault(k.lower(), []).append(v)
    assert doc["path"] == "/hello?x=1"
    assert seen["botwarden-score"] == ["1"]  # never the client's forged copy
    assert seen["botwarden-score-src"] == ["Heuristics"]
    assert seen["botwarden-verified-bot"] == ["false"]
    assert str(DECLARED_LIBRARY.id) in seen["botwarden-detection-ids"][0].split(",")
    assert seen["x-forwarded-for"] == ["127.0.0.1"]  # an untrusted client's XFF is replaced
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == [seen["host"][0]]
    ev = edge.events.last("/hello")
    assert ev.bm.score == 1
    assert ev.outcome["status"] == 200
    assert ev.outcome["action"] == ""


def test_python_client_is_scored_automated(edge: Edge) -> None:
    resp = httpx.get(f"{edge.url}/", timeout=10)
    assert resp.status_code == 200
    assert echoed(resp)["botwarden-score"] == ["1"]
    assert edge.events.last().bm.score_src == ScoreSource.HEURISTICS


def test_hop_by_hop_headers_are_not_forwarded(edge: Edge) -> None:
    resp = httpx.get(
        f"{edge.url}/", headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1",
                                 "Keep-Alive": "timeout=5", "X-Kept": "yes"}, timeout=10,
    )  # fmt: skip
    seen = echoed(resp)
    assert "x-secret" not in seen
    assert "keep-alive" not in seen
    assert "connection" not in seen
    assert seen["x-kept"] == ["yes"]


def test_result_header_names_are_configurable(origin: EchoOrigin) -> None:
    names = {"score": "X-Bot-Score", "score_src": "X-Bot-Src", "verified_bot": "X-Bot-Verified",
             "ja4": "X-Bot-JA4", "detection_ids": "X-Bot-Ids"}  # fmt: skip
    with Edge(origin.url, settings={"result_headers": names}) as edge:
        resp = httpx.get(f"{edge.url}/", headers={"X-Bot-Score": "99"}, timeout=10)
    seen = echoed(resp)
    assert seen["x-bot-score"] == ["1"]
    assert "botwarden-score" not in seen


def test_trusted_proxy_headers_are_believed_only_from_trusted_peers(origin: EchoOrigin) -> None:
    forwarded = {"X-Forwarded-For": "81.2.3.4, 10.0.0.7", "X-Forwarded-Proto": "https",
                 "X-JA4": "t13d1516h2_8daaf6152771_02713d6af862"}  # fmt: skip
    settings = {"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}
    with Edge(origin.url, settings=settings) as edge:
        resp = httpx.get(f"{edge.url}/", headers=forwarded, timeout=10)
        ev = edge.events.last()
        assert ev.ctx.client_ip == "81.2.3.4"  # right-most untrusted address
        assert ev.ctx.scheme == "https"
        assert ev.ctx.ja4 == forwarded["X-JA4"]
        seen = echoed(resp)
        assert seen["x-forwarded-for"] == ["81.2.3.4, 10.0.0.7, 127.0.0.1"]
        assert seen["botwarden-ja4"] == [forwarded["X-JA4"]]
    with Edge(origin.url) as edge:  # no trusted proxies: every claim ignored
        httpx.get(f"{edge.url}/", headers=forwarded, timeout=10)
        ev = edge.events.last()
        assert ev.ctx.client_ip == "127.0.0.1"
        assert ev.ctx.scheme == "http"
        assert ev.ctx.ja4 is None


def test_block_answers_html_json_or_the_rules_response(origin: EchoOrigin) -> None:
    rules = [
        rule('http.request.uri.path eq "/admin"', "block", "r-admin"),
        rule('http.request.uri.path eq "/teapot"', "block", "r-tea",
             action_parameters={"response": {"status_code": 418, "content": "no tea",
                                             "content_type": "text/plain"}}),
    ]  # fmt: skip
    with Edge(origin.url, source=MemoryConfigSource([zone(rules)])) as edge:
        html = httpx.get(f"{edge.url}/admin", timeout=10)
        assert html.status_code == 403
        assert html.headers["content-type"].startswith("text/html")
        assert "Access denied" in html.text
        js = httpx.get(f"{edge.url}/admin", headers={"Accept": "application/json"}, timeout=10)
        assert js.status_code == 403
        assert js.json()["success"] is False
        custom = httpx.get(f"{edge.url}/teapot", timeout=10)
        assert (custom.status_code, custom.text) == (418, "no tea")
        ev = edge.events.last("/teapot")
        assert (ev.outcome["action"], ev.outcome["rule_id"], ev.outcome["status"]) == (
            "block", "r-tea", 418)  # fmt: skip


def test_googlebot_from_outside_googles_ranges_is_blocked(origin: EchoOrigin) -> None:
    fake = rule('http.user_agent contains "Googlebot" and not cf.bot_management.verified_bot',
                "block")  # fmt: skip
    ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    with Edge(origin.url, source=MemoryConfigSource([zone([fake])])) as edge:
        resp = httpx.get(f"{edge.url}/", headers={"User-Agent": ua}, timeout=10)
        assert resp.status_code == 403
        ev = edge.events.last()
        assert ev.bm.verified_bot is False
        assert ev.bm.score == 1
        assert ev.outcome["action"] == "block"


def test_log_and_allow_forward(origin: EchoOrigin) -> None:
    rules = [rule(ANY, "log", "r-log"), rule('http.request.uri.path eq "/ok"', "allow", "r-ok"),
             rule(ANY, "block", "r-block")]  # fmt: skip
    with Edge(origin.url, source=MemoryConfigSource([zone(rules)])) as edge:
        assert httpx.get(f"{edge.url}/ok", timeout=10).status_code == 200
        assert edge.events.last().outcome["action"] == "allow"
        assert httpx.get(f"{edge.url}/other", timeout=10).status_code == 403


def test_rate_limit_with_mitigation_timeout(origin: EchoOrigin) -> None:
    limit = {
        "id": "rl1",
        "expression": 'http.request.uri.path eq "/login"',
        "action": "block",
        "ratelimit": {"characteristics": ["ip.src"], "period": 10, "requests_per_period": 3,
                      "mitigation_timeout": 60},
    }  # fmt: skip
    spec = zone()
    spec.rules["http_ratelimit"] = [limit]
    with Edge(origin.url, source=MemoryConfigSource([spec])) as edge, httpx.Client() as c:
        codes = [c.get(f"{edge.url}/login").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3:] == [429, 429, 429]
        assert c.get(f"{edge.url}/elsewhere").status_code == 200
        assert edge.events.last("/login").outcome["rule_id"] == "rl1"


def test_challenge_then_clearance(origin: EchoOrigin) -> None:
    rules = [rule('http.request.uri.path eq "/protected"', "managed_challenge", "r-chal")]
    settings = {"challenge_difficulty": 8}
    with Edge(origin.url, source=MemoryConfigSource([zone(rules)]), settings=settings) as edge, \
            httpx.Client(base_url=edge.url, headers=BROWSER) as c:  # fmt: skip
        page = c.get("/protected?a=1")
        assert page.status_code == 403
        assert page.headers["cf-mitigated"] == "challenge"
        assert edge.events.last("/protected").outcome["action"] == "managed_challenge"
        token = page.text.split('"token": "')[1].split('"')[0]
        assert '"back": "/protected?a=1"' in page.text
        bad = c.post(VERIFY_PATH, data={"token": token, "answer": "x"})
        assert bad.status_code == 403
        ok = c.post(VERIFY_PATH, data={"token": token, "answer": solve(token, 8)})
        assert ok.status_code == 200
        assert "cf_clearance" in c.cookies
        assert edge.events.last(VERIFY_PATH).outcome["action"] == "challenge_solved"
        assert edge.events.last(VERIFY_PATH).bm.score == 0  # /cdn-cgi/ is not scored
        replay = c.post(VERIFY_PATH, data={"token": token, "answer": solve(token, 8)})
        assert replay.status_code == 403  # a token solves once
        passed = c.get("/protected?a=1")
        assert passed.status_code == 200
        assert edge.events.last("/protected").outcome["action"] == "managed_challenge_bypassed"
        # the clearance is bound to the client: another user agent is challenged again
        other = c.get("/protected", headers={"User-Agent": "Mozilla/5.0 Other"})
        assert other.status_code == 403


def test_challenge_page_for_forward_auth_redirects(edge: Edge) -> None:
    page = httpx.get(f"{edge.url}{PAGE_PATH}?k=js_challenge&r=%2Fcart%3Fx%3D1", timeout=10)
    assert page.status_code == 403
    assert '"back": "/cart?x=1"' in page.text
    assert '"kind": "js_challenge"' in page.text
    evil = httpx.get(f"{edge.url}{PAGE_PATH}?r=https%3A%2F%2Fevil.example%2F", timeout=10)
    assert '"back": "/"' in evil.text


def test_unknown_cdn_cgi_paths_are_botwardens_404(edge: Edge) -> None:
    resp = httpx.get(f"{edge.url}/cdn-cgi/nothing", timeout=10)
    assert resp.status_code == 404
    ev = edge.events.last("/cdn-cgi/nothing")
    assert (ev.bm.score, ev.bm.score_src) == (0, ScoreSource.NOT_COMPUTED)


def test_origin_down_is_a_502_page_and_recorded() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with Edge(dead, metrics=True) as edge:
        resp = httpx.get(f"{edge.url}/", timeout=10)
        assert resp.status_code == 502
        assert "Bad gateway" in resp.text
        assert edge.events.last().outcome["status"] == 502
        assert edge.metrics is not None
        assert b'botwarden_edge_upstream_errors_total{kind="connect"} 1.0' in (
            edge.metrics.exposition()
        )


def test_slow_origin_is_a_504(origin: EchoOrigin) -> None:
    with Edge(origin.url, settings={"read_timeout": 0.3}) as edge:
        resp = httpx.get(f"{edge.url}/slow?s=2", headers={"Accept": "application/json"},
                         timeout=10)  # fmt: skip
        assert resp.status_code == 504
        assert resp.json()["errors"][0]["code"] == 504
        assert edge.events.last("/slow").outcome["status"] == 504


def test_the_read_timeout_counts_from_each_request_on_a_kept_alive_connection(
    origin: EchoOrigin,
) -> None:
    # One read timer per origin connection, armed at its first request: later requests
    # on the kept-alive connection get their whole `read_timeout`, and no more.
    with Edge(origin.url, settings={"read_timeout": 0.6, "pool_size": 1}) as edge, \
            httpx.Client(timeout=10) as client:  # fmt: skip
        assert client.get(f"{edge.url}/").status_code == 200
        t0 = time.monotonic()
        for _ in range(3):  # together longer than the timeout, each well within it
            assert client.get(f"{edge.url}/slow?s=0.25").status_code == 200
        assert time.monotonic() - t0 > 0.6
        t0 = time.monotonic()  # the timer armed earlier fires during this one
        resp = client.get(f"{edge.url}/slow?s=3", headers={"Accept": "application/json"})
        waited = time.monotonic() - t0
        assert resp.status_code == 504
        assert 0.55 <= waited < 2.5
        assert client.get(f"{edge.url}/").status_code == 200


def test_bodies_are_streamed_both_ways(edge: Edge) -> None:
    n = 5_000_000
    with httpx.stream("GET", f"{edge.url}/big?n={n}", timeout=30) as resp:
        got = sum(len(chunk) for chunk in resp.iter_bytes())
    assert got == n
    assert edge.events.last("/big").outcome["response_bytes"] == n

    def gen() -> Iterator[bytes]:
        for _ in range(50):
            yield b"y" * 100_000

    resp = httpx.post(f"{edge.url}/upload", content=gen(), timeout=30)
    assert resp.json()["body_bytes"] == 5_000_000
    resp = httpx.post(f"{edge.url}/upload", content=b"z" * 1234, timeout=30)
    assert resp.json()["body_bytes"] == 1234


def test_origin_cookies_and_session_cookie_both_reach_the_client(edge: Edge) -> None:
    resp = httpx.get(f"{edge.url}/cookie", timeout=10)
    cookies = resp.headers.get_list("set-cookie")
    assert any(c.startswith("origin_cookie=") for c in cookies)
    assert any(c.startswith("__cf_bm=") for c in cookies)


def test_session_cookie_is_kept_refused_when_tampered_and_off_when_disabled(
    origin: EchoOrigin,
) -> None:
    source = MemoryConfigSource([zone()])
    with Edge(origin.url, source=source) as edge, httpx.Client(base_url=edge.url) as c:
        c.get("/one")
        first = edge.events.last("/one").outcome["session_id"]
        c.get("/two")
        assert edge.events.last("/two").outcome["session_id"] == first
        value = c.cookies["__cf_bm"]
        tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
        c.cookies.clear()
        resp = c.get("/three", headers={"Cookie": f"__cf_bm={tampered}"})
        assert edge.events.last("/three").outcome["session_id"] != first
        assert "__cf_bm=" in resp.headers["set-cookie"]
        assert edge.app.sessions.stats["tampered"] == 1
        source.update_settings(ZONE_ID, bm_cookie_enabled=False)
        deadline = time.monotonic() + 2
        while edge.app.config.current.version != source.version():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        resp = c.get("/four")
        assert "set-cookie" not in resp.headers
        assert edge.events.last("/four").outcome["session_id"] == ""


def test_session_survives_a_restart_with_the_same_key(origin: EchoOrigin) -> None:
    from botwarden.session import SessionKeys

    keys = SessionKeys.generate()
    with Edge(origin.url, keys=keys) as edge, httpx.Client(base_url=edge.url) as c:
        c.get("/a")
        sid = edge.events.last().outcome["session_id"]
        cookie = c.cookies["__cf_bm"]
    with Edge(origin.url, keys=keys) as edge:
        httpx.get(f"{edge.url}/b", cookies={"__cf_bm": cookie}, timeout=10)
        assert edge.events.last().outcome["session_id"] == sid
    with Edge(origin.url, keys=SessionKeys.generate()) as edge:  # another key: refused
        httpx.get(f"{edge.url}/c", cookies={"__cf_bm": cookie}, timeout=10)
        assert edge.events.last().outcome["session_id"] != sid
        assert edge.app.sessions.stats["tampered"] == 1


def test_a_rule_change_takes_effect_within_two_seconds(origin: EchoOrigin) -> None:
    source = MemoryConfigSource([zone()])
    with Edge(origin.url, source=source) as edge, httpx.Client(base_url=edge.url) as c:
        assert c.get("/x").status_code == 200
        source.set_rules(ZONE_ID, [rule('http.request.uri.path eq "/x"', "block")])
        t0 = time.monotonic()
        while c.get("/x").status_code != 403:
            assert time.monotonic() - t0 < 2.0
            time.sleep(0.05)


def test_websocket_upgrades_are_tunnelled_and_decided(origin: EchoOrigin) -> None:
    import asyncio

    import aiohttp

    rules = [rule('http.request.uri.query eq "deny"', "block")]

    async def talk(url: str) -> str:
        try:
            async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
                await ws.send_str("hi")
                msg = await ws.receive(timeout=5)
                return str(msg.data)
        finally:
            await asyncio.sleep(0.05)  # let aiohttp's transports close before the loop ends

    with Edge(origin.url, source=MemoryConfigSource([zone(rules)])) as edge:
        assert asyncio.run(talk(f"{edge.url}/ws")) == "echo:hi"
        ev = edge.events.last("/ws")
        assert ev.outcome["status"] == 101
        assert ev.bm.score == 1  # aiohttp declares itself
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            asyncio.run(talk(f"{edge.url}/ws?deny"))
        assert info.value.status == 403


def test_metrics_count_requests_by_action_and_grouping(origin: EchoOrigin) -> None:
    rules = [rule('http.request.uri.path eq "/no"', "block")]
    with Edge(origin.url, source=MemoryConfigSource([zone(rules)]), metrics=True) as edge:
        httpx.get(f"{edge.url}/yes", timeout=10)
        httpx.get(f"{edge.url}/no", timeout=10)
        assert edge.metrics is not None
        text = edge.metrics.exposition().decode()
    assert 'botwarden_edge_requests_total{action="none",grouping="automated"} 1.0' in text
    assert 'botwarden_edge_requests_total{action="block",grouping="automated"} 1.0' in text
    assert 'botwarden_edge_engine_seconds_count{engine="heuristics"} 2.0' in text
    assert 'botwarden_edge_session_cookies_total{outcome="issued"} 2.0' in text
    assert "botwarden_edge_config_version 1.0" in text


def _exchange(sock: socket.socket, request: bytes) -> int:
    """Send `request` (or its rest) and read one response; its status."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the edge closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(head.split(b" ", 2)[1])


def test_idle_client_connections_close_after_the_keep_alive_time(origin: EchoOrigin) -> None:
    # One keep-alive timer per connection (listener.EdgeProtocol): the same rule as
    # uvicorn's timer per response.
    get = b"GET / HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.5.0\r\n\r\n"
    with Edge(origin.url) as edge:
        edge.server.config.timeout_keep_alive = 1
        port = edge.server.ports[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # Requests 0.6 s apart: together longer than the keep-alive time, each gap
            # within it: the connection stays open.
            for _ in range(4):
                assert _exchange(sock, get) == 200
                time.sleep(0.6)
            # Idle for longer: the edge closes it, within about a second more.
            t0 = time.monotonic()
            assert sock.recv(1) == b""
            assert 0.3 <= time.monotonic() - t0 < 2.5
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert _exchange(sock, get) == 200
            # A request that has begun keeps the connection open, however slow.
            sock.sendall(get[:20])
            time.sleep(1.6)
            assert _exchange(sock, get[20:]) == 200
            t0 = time.monotonic()
            assert sock.recv(1) == b""
            assert 0.8 <= time.monotonic() - t0 < 2.5
