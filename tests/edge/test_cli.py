"""`botwarden serve` (serve_command) in one process under uvloop, and the `make run` setup."""

from __future__ import annotations

import gc
import io
import ssl
import threading
import time
from pathlib import Path

import httpx

from botwarden import store
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.edge.certs import dev_certificate
from botwarden.edge.cli import (
    DEMO_ZONE,
    Running,
    ServeOptions,
    ensure_demo,
    parse_address,
    serve_command,
)
from botwarden.edge.config import StoreConfigSource
from botwarden.edge.listener import server_tls_context
from botwarden.ml.features import FEATURE_NAMES
from botwarden.state.memory import MemoryState
from botwarden.store import Plan
from botwarden.store import RuleInput as StoredRule
from botwarden.testing.samples import CHROME_UA
from tests.edge.harness import EchoOrigin, ca_bundle


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:80") == ("127.0.0.1", 80)
    assert parse_address(":8443") == ("0.0.0.0", 8443)
    assert parse_address("[::1]:9") == ("::1", 9)


def test_options_report_every_problem() -> None:
    problems = ServeOptions(role="proxy", tls_listen=["x:1"], listen=["nope"]).validate()
    assert any("--role" in p for p in problems)
    assert any("--tls-listen needs --cert" in p for p in problems)
    assert any("--listen" in p for p in problems)
    err = io.StringIO()
    assert serve_command(ServeOptions(role="proxy"), stderr=err) == 2
    assert "--role" in err.getvalue()


def test_serve_runs_edge_api_and_admin_in_one_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'bw.db'}"
    st = store.open(url)
    acct = st.create_account("Acme")
    zone = st.create_zone(acct.id, "example.com", Plan.ENTERPRISE)
    st.put_phase_ruleset(zone.id, "http_request_firewall_custom", [
        StoredRule(expression='http.request.uri.path eq "/blocked"', action="block")])  # fmt: skip
    st.close()
    tls, cafile = ca_bundle(tmp_path)
    started = threading.Event()
    running: list[Running] = []
    codes: list[int] = []

    def ready(r: Running) -> None:
        running.append(r)
        started.set()

    with EchoOrigin() as origin:
        options = ServeOptions(
            origin=origin.url, listen=["127.0.0.1:0"], tls_listen=["127.0.0.1:0"],
            cert=tls[0], key=tls[1], admin="127.0.0.1:0", api="127.0.0.1:0",
            database=url, data_dir=data,
        )  # fmt: skip
        thread = threading.Thread(
            target=lambda: codes.append(serve_command(options, ready=ready)), daemon=True
        )
        thread.start()
        assert started.wait(30), "serve did not start"
        r = running[0]
        try:
            plain, secure = r.edge_ports
            assert httpx.get(f"http://127.0.0.1:{plain}/", timeout=10).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{plain}/blocked", timeout=10).status_code == 403
            browser = {"User-Agent": CHROME_UA, "Accept": "text/html,*/*;q=0.8",
                       "Accept-Language": "en-US,en;q=0.9", "Sec-Fetch-Mode": "navigate"}  # fmt: skip
            assert httpx.get(f"http://127.0.0.1:{plain}/ml", headers=browser).status_code == 200
            with httpx.Client(verify=ssl.create_default_context(cafile=cafile)) as c:
                resp = c.get(f"https://localhost:{secure}/tls", timeout=10)
            seen = {k.lower(): v for k, v in resp.json()["headers"]}
            assert seen["botwarden-ja4"].startswith("t13")
            metrics_url = f"http://127.0.0.1:{r.admin_port}/metrics"
            metrics = httpx.get(metrics_url, timeout=10).text
            assert 'botwarden_edge_requests_total{action="block",grouping="automated"}' in metrics
            # what holds the loop up (edge/stalls.py): the lag probe ticks, collections timed
            assert "botwarden_edge_loop_lag_seconds_count" in metrics
            assert 'botwarden_edge_gc_pause_seconds_count{generation="0"}' in metrics
            deadline = time.monotonic() + 30  # the writer process reports once it is up
            while "botwarden_analytics_writer" not in metrics:
                assert time.monotonic() < deadline, "no analytics writer metrics"
                time.sleep(0.2)
                metrics = httpx.get(metrics_url, timeout=10).text
            # The API and the dashboard read the store through the writer process, which
            # holds the DuckDB file.
            from datetime import UTC, datetime, timedelta

            from botwarden.analytics.remote import SOCKET_NAME, RemoteSource
            from botwarden.api.analytics import Query

            source = RemoteSource(data / SOCKET_NAME)
            now = datetime.now(UTC)
            q = Query(zone.id, now - timedelta(hours=1), now + timedelta(minutes=1))
            while sum(source.totals(q).values()) < 4:  # /, /blocked, /ml, /tls
                assert time.monotonic() < deadline, "events never became readable"
                time.sleep(0.2)
            assert ("/blocked", 1) in source.top(q, "topPaths", 10)
            health = httpx.get(f"http://127.0.0.1:{r.admin_port}/healthz", timeout=10).json()
            assert health["zones"] == 1
            api = httpx.get(f"http://127.0.0.1:{r.api_port}/client/v4/user", timeout=10)
            assert api.status_code in (400, 401, 403)
            assert api.json()["success"] is False
        finally:
            r.stop()
            thread.join(timeout=30)
    assert codes == [0]
    from botwarden.edge.stalls import GCPauses

    assert not [cb for cb in gc.callbacks if isinstance(getattr(cb, "__self__", None), GCPauses)]
    assert (data / "session.keys").exists()
    backend = DuckDBBackend(str(data / "analytics.duckdb"))
    try:
        rows = backend.query("SELECT path, action, status FROM events ORDER BY ts", [])
        scored = backend.query(
            "SELECT score_src, model_version, len(features) FROM events WHERE path = '/ml'", []
        )
    finally:
        backend.close()
    # the model's version and vector travel through the writer process into the store
    assert scored == [("Machine Learning", "v1", len(FEATURE_NAMES))]
    assert ("/blocked", "block", 403) in rows
    assert ("/tls", "", 200) in rows


def test_make_run_setup_is_idempotent_and_its_rules_compile(tmp_path: Path) -> None:
    st = store.open(f"sqlite:///{tmp_path / 'bw.db'}")
    try:
        first = ensure_demo(st)
        second = ensure_demo(st)
        assert first.zone_id == second.zone_id
        assert first.api_key is not None
        assert second.api_key is None  # shown once, when the user is created
        assert first.token != second.token
        zones = StoreConfigSource(st).load(MemoryState())
    finally:
        st.close()
    (zone,) = zones
    assert zone.name == DEMO_ZONE
    assert zone.problems == ()
    assert len(zone.rules.custom.rules) == 3
    assert len(zone.rules.ratelimit.rules) == 1


def test_dev_certificate_is_made_once_and_serves(tmp_path: Path) -> None:
    cert, key = dev_certificate(tmp_path)
    again = dev_certificate(tmp_path)
    assert again == (cert, key)
    assert cert.read_bytes() == again[0].read_bytes()
    assert (key.stat().st_mode & 0o777) == 0o600
    server_tls_context(str(cert), str(key))


def test_rotate_keys_keeps_old_cookies_valid(tmp_path: Path) -> None:
    from botwarden.edge.cli import rotate_keys_command
    from botwarden.session import Session, SessionCodec, SessionKeys

    path = tmp_path / "session.keys"
    old = SessionKeys.from_file(path, create=True)
    cookie = SessionCodec(old).encode(Session.start(1000.0))
    assert rotate_keys_command(path, keep=1, stdout=io.StringIO()) == 0
    new = SessionKeys.from_file(path)
    assert new.keys[1:] == old.keys[:1]
    assert SessionCodec(new).decode(cookie, 1000.0) is not None
    assert rotate_keys_command(tmp_path / "missing", stdout=io.StringIO()) == 2


def test_state_must_be_a_reachable_redis(tmp_path: Path) -> None:
    problems = ServeOptions(state="memcached://127.0.0.1:11211").validate()
    assert any("--state" in p and "redis://" in p for p in problems)
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = io.StringIO()
    options = ServeOptions(
        role="edge", listen=["127.0.0.1:0"], admin=None, data_dir=tmp_path / "data",
        database=f"sqlite:///{tmp_path / 'bw.db'}", state=f"redis://127.0.0.1:{port}/0",
        analytics=False,
    )  # fmt: skip
    assert serve_command(options, stderr=err) == 2
    assert f"--state redis://127.0.0.1:{port}/0: Redis is not reachable" in err.getvalue()


def test_serve_opens_the_data_directorys_model_registry(tmp_path: Path) -> None:
    from botwarden.edge.cli import _edge_state

    state, registry = _edge_state(ServeOptions(data_dir=tmp_path / "data"))
    assert state is None
    assert registry is not None
    assert registry.root == tmp_path / "data" / "models"
    assert registry.active == "v1"  # the packaged base model, ready for `botwarden model`
    assert _edge_state(ServeOptions(data_dir=tmp_path / "d2", ml=False)) == (None, None)


def test_long_lived_objects_are_kept_out_of_full_collections() -> None:
    import asyncio
    import gc

    from botwarden.edge.cli import keep_collections_short
    from botwarden.edge.stalls import CollectionFreezer

    async def run() -> int:
        freezer = CollectionFreezer(full_every=3600)
        task = asyncio.create_task(keep_collections_short(freezer, interval=0.01))
        records = [[i, i] for i in range(5000)]  # like the model's per-client windows
        await asyncio.sleep(0.1)
        task.cancel()
        frozen = gc.get_freeze_count()
        del records
        return frozen

    try:
        assert asyncio.run(run()) >= 5000
    finally:
        gc.unfreeze()
