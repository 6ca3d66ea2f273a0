"""The edge with the real control plane: rules and settings changed over the API reach
the edge through the configuration store within 2 s; every request — allowed, blocked,
challenged — lands in analytics (DuckDB) through the writer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from botwarden import store
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.writer import Writer
from botwarden.api.app import create_app
from botwarden.edge.config import StoreConfigSource
from botwarden.store import Plan
from tests.edge.harness import EchoOrigin, Edge

EMAIL, KEY = "ops@example.com", "c2547eb745079dac9320b638f5e225cf483cc5cfdda41"
PHASE = "http_request_firewall_custom"


class Api:
    """The control-plane API on a loopback port (uvicorn in a thread)."""

    def __init__(self, st: store.Store) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"
        config = uvicorn.Config(create_app(st), log_level="error", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Api:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@dataclass
class World:
    api: Api
    edge: Edge
    writer: Writer
    backend: DuckDBBackend
    zone_id: str

    def put_rules(self, rules: list[dict[str, object]]) -> None:
        resp = httpx.put(
            f"{self.api.url}/zones/{self.zone_id}/rulesets/phases/{PHASE}/entrypoint",
            json={"rules": rules},
            headers={"X-Auth-Email": EMAIL, "X-Auth-Key": KEY},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'botwarden.db'}"
    admin = store.open(url)
    acct = admin.create_account("Demo")
    admin.create_user(EMAIL, KEY, account_ids=[acct.id])
    zone = admin.create_zone(acct.id, "shop.example", Plan.ENTERPRISE)
    edge_store = store.open(url)  # the edge has its own connection, as in production
    backend = DuckDBBackend(str(tmp_path / "analytics.duckdb"))
    backend.ensure_schema()
    writer = Writer(backend, tmp_path / "spool", flush_interval=0.05, fsync=False).start()
    try:
        with Api(admin) as api, EchoOrigin() as origin, Edge(
            origin.url, source=StoreConfigSource(edge_store), writer=writer,
            settings={"challenge_difficulty": 4},
        ) as edge:  # fmt: skip
            yield World(api, edge, writer, backend, zone.id)
    finally:
        writer.close()
        backend.close()
        edge_store.close()
        admin.close()


def _until(check: Callable[[], bool], limit: float = 2.0) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < limit, f"not within {limit} s"
        time.sleep(0.02)
    return time.monotonic() - t0


def test_rule_changes_over_the_api_take_effect_within_two_seconds(world: World) -> None:
    def get() -> httpx.Response:
        return httpx.get(f"{world.edge.url}/private", headers={"Host": "shop.example"})

    assert get().status_code == 200
    world.put_rules([{"expression": 'http.request.uri.path eq "/private"', "action": "block"}])
    took = _until(lambda: get().status_code == 403)
    assert took < 2.0
    world.put_rules([])
    _until(lambda: get().status_code == 200)


def test_settings_over_the_api_take_effect_within_two_seconds(world: World) -> None:
    url = f"{world.edge.url}/"
    assert "set-cookie" in httpx.get(url, headers={"Host": "shop.example"}).headers
    resp = httpx.put(
        f"{world.api.url}/zones/{world.zone_id}/bot_management",
        json={"bm_cookie_enabled": False},
        headers={"X-Auth-Email": EMAIL, "X-Auth-Key": KEY},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    _until(lambda: "set-cookie" not in httpx.get(url, headers={"Host": "shop.example"}).headers)


def test_every_request_becomes_an_analytics_event(world: World) -> None:
    world.put_rules([
        {"expression": 'http.request.uri.path eq "/blocked"', "action": "block"},
        {"expression": 'http.request.uri.path eq "/challenged"', "action": "managed_challenge"},
    ])  # fmt: skip
    host = {"Host": "shop.example"}
    _until(lambda: httpx.get(f"{world.edge.url}/blocked", headers=host).status_code == 403)
    for path in ("/allowed", "/challenged", "/cdn-cgi/x"):
        httpx.get(f"{world.edge.url}{path}", headers=host, timeout=10)
    assert world.writer.flush(timeout=10)
    rows = world.backend.query(
        "SELECT path, status, action, score, score_src, zone, session_id FROM events "
        "WHERE path IN ('/allowed', '/blocked', '/challenged', '/cdn-cgi/x') ORDER BY ts",
        [],
    )
    by_path = {r[0]: r for r in rows}
    assert by_path["/allowed"][1:5] == (200, "", 1, "Heuristics")
    assert by_path["/blocked"][1:3] == (403, "block")
    assert by_path["/challenged"][1:3] == (403, "managed_challenge")
    assert by_path["/cdn-cgi/x"][1:5] == (404, "", 0, "Not Computed")
    assert by_path["/allowed"][5] == world.zone_id
    assert by_path["/allowed"][6]  # the session id (hashed by analytics)
