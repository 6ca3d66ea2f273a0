"""The backend conformance suite: every backend stores batches exactly once, keeps every
value, runs compiled rule filters the same way and applies retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botwarden.analytics.base import Backend, Sql
from botwarden.analytics.clickhouse import ClickHouseBackend
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.events import SCHEMA_VERSION
from botwarden.errors import ConfigError
from botwarden.rules import compile_rule

from .conftest import BACKEND_NAMES, LIVE_URL, drop, make_backend
from .helpers import batch, ev


def count(backend: Backend) -> int:
    rows = backend.query(f"SELECT count(*) FROM {backend.table}", Sql(backend.dialect).params)
    return int(rows[0][0])


def seqs(backend: Backend) -> list[int]:
    rows = backend.query(
        f"SELECT seq FROM {backend.table} ORDER BY seq", Sql(backend.dialect).params
    )
    return [int(r[0]) for r in rows]


def test_the_live_clickhouse_adapter_runs_when_a_server_is_named() -> None:
    if not LIVE_URL:
        pytest.skip("CLICKHOUSE_URL not set: the live ClickHouse adapter is not tested")
    assert "clickhouse-live" in BACKEND_NAMES


def test_ensure_schema_twice_and_ping(backend: Backend) -> None:
    backend.ensure_schema()
    assert backend.ping()
    assert count(backend) == 0
    assert backend.watermark("nobody") == 0


def test_a_batch_is_stored_once(backend: Backend) -> None:
    b = batch([ev(i) for i in range(5)], first_seq=1)
    assert backend.insert(b, spool_id="test", last_seq=5) == 5
    assert backend.insert(b, spool_id="test", last_seq=5) == 0
    assert backend.watermark("test") == 5
    assert seqs(backend) == [1, 2, 3, 4, 5]


def test_an_overlapping_batch_adds_only_new_rows(backend: Backend) -> None:
    backend.insert(batch([ev(i) for i in range(5)], 1), spool_id="test", last_seq=5)
    backend.insert(batch([ev(i) for i in range(2, 8)], 3), spool_id="test", last_seq=8)
    assert seqs(backend) == list(range(1, 9))
    assert backend.watermark("test") == 8


def test_spools_have_their_own_watermarks(backend: Backend) -> None:
    backend.insert(batch([ev(1)], 1, "a"), spool_id="a", last_seq=1)
    backend.insert(batch([ev(2)], 1, "b"), spool_id="b", last_seq=1)
    assert (backend.watermark("a"), backend.watermark("b")) == (1, 1)
    assert count(backend) == 2


def test_every_value_round_trips(backend: Backend) -> None:
    e = ev(
        7,
        client_ip="2001:db8::7",
        asn=132892,
        country="DE",
        continent="EU",
        method="POST",
        path="/login",
        query="a=1&b=2",
        http_version="2",
        status=403,
        user_agent="curl/8.5.0",
        referer="https://shop.example/",
        ja3_hash="3fed133de60c35724739b913924b6c24",
        ja4="t13d1516h2_8daaf6152771_02713d6af862",
        header_fp="abc123",
        score=1,
        score_src="Heuristics",
        verified_bot=False,
        js_detection="failed",
        static_resource=True,
        detection_ids=(33554817, 5),
        corporate_proxy=True,
        action="block",
        rule_id="r-1",
        model_version="v3",
        features=(0.25, 1.5, -2.0),
        session_id="sess-1",
        response_bytes=1234,
        edge_latency_us=87,
    )
    backend.insert(batch([e, ev(8, status=None)]), spool_id="test", last_seq=2)
    cols = (
        "ts, client_ip, ip_key, asn, country, continent, method, path, query, http_version, "
        "status, user_agent, referer, ja3_hash, ja4, header_fp, score, score_src, grouping, "
        "verified_bot, js_detection, js_detection_passed, static_resource, detection_ids, "
        "corporate_proxy, action, rule_id, model_version, features, session_id, "
        "response_bytes, edge_latency_us, spool_id, seq"
    )
    rows = backend.query(
        f"SELECT {cols} FROM {backend.table} ORDER BY seq", Sql(backend.dialect).params
    )
    got = dict(zip([c.strip() for c in cols.split(",")], rows[0], strict=True))
    assert got["ts"] == datetime(2026, 1, 1, 0, 0, 7)
    assert got["client_ip"] == "2001:db8::7"
    assert got["ip_key"] == "620010db8000000000000000000000007"
    assert got["status"] == 403
    assert rows[1][10] is None  # status unknown
    assert list(got["detection_ids"]) == [33554817, 5]
    assert list(got["features"]) == [0.25, 1.5, -2.0]
    assert got["grouping"] == "automated"
    assert got["js_detection_passed"] is False
    assert got["session_id"] not in ("", "sess-1")  # stored hashed
    for key in ("asn", "country", "method", "path", "query", "user_agent", "ja4", "score"):
        assert got[key] == getattr(e, key), key
    assert (got["spool_id"], got["seq"]) == ("test", 1)


def test_a_compiled_rule_filters_stored_events(backend: Backend) -> None:
    events = [
        ev(1, score=1, score_src="Heuristics", user_agent="curl/8.5.0", asn=132892),
        ev(2, score=20, user_agent="python-requests/2.31", client_ip="10.1.2.3"),
        ev(3, score=80, verified_bot=True, verified_bot_category="Search Engine Crawler"),
        ev(4, score=90, detection_ids=(33554817,)),
    ]
    backend.insert(batch(events), spool_id="test", last_seq=4)
    cases = {
        "cf.bot_management.score lt 30": ["r1", "r2"],
        'http.user_agent contains "curl" or ip.src in {10.0.0.0/8}': ["r1", "r2"],
        "cf.bot_management.verified_bot": ["r3"],
        "any(cf.bot_management.detection_ids[*] eq 33554817)": ["r4"],
        "ip.geoip.asnum eq 132892": ["r1"],
    }
    for expression, want in cases.items():
        f = compile_rule(expression).to_sql(backend.dialect)
        rows = backend.query(
            f"SELECT request_id FROM {backend.table} WHERE {f.sql} ORDER BY request_id",
            f.params,
        )
        assert [r[0] for r in rows] == want, expression


@pytest.mark.parametrize("name", [n for n in BACKEND_NAMES if n != "duckdb"])
def test_retention_removes_old_events(name: str, tmp_path: Path) -> None:
    backend = make_backend(name, tmp_path, retention_days=7)
    try:
        now = datetime.now(UTC)
        old, new = (now - timedelta(days=10)).timestamp(), (now - timedelta(days=1)).timestamp()
        backend.insert(batch([ev(1, ts=old), ev(2, ts=new)]), spool_id="test", last_seq=2)
        backend.expire()
        rows = backend.query(f"SELECT request_id FROM {backend.table}", Sql(backend.dialect).params)
        assert [r[0] for r in rows] == ["r2"]
    finally:
        drop(backend)


def _set_schema_version(backend: Backend, version: int) -> None:
    if isinstance(backend, DuckDBBackend):
        backend.query(
            "INSERT OR REPLACE INTO bw_meta VALUES ('schema_version', $1) RETURNING key",
            [str(version)],
        )
    else:
        assert isinstance(backend, ClickHouseBackend)
        backend.client.command(
            f"INSERT INTO {backend.database}.bw_meta VALUES ('schema_version', "
            "{v:String}, now64(6) + 1)",
            {"v": str(version)},
        )


def test_a_newer_schema_is_refused(backend: Backend) -> None:
    _set_schema_version(backend, SCHEMA_VERSION + 1)
    with pytest.raises(ConfigError, match="newer than this Botwarden"):
        backend.ensure_schema()


def test_clickhouse_table_layout(tmp_path: Path) -> None:
    backend = make_backend("chdb", tmp_path, retention_days=30)
    try:
        assert isinstance(backend, ClickHouseBackend)
        rows = backend.client.rows(
            "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = 'events'",
            {"d": backend.database},
        )
        engine = str(rows[0][0])
        assert engine.startswith("MergeTree")
        assert "PARTITION BY toDate(ts)" in engine
        assert "ORDER BY (zone, ts)" in engine
        assert "TTL toDateTime(ts) + toIntervalDay(30)" in engine
        assert "non_replicated_deduplication_window = 10000" in engine
        types: dict[str, str] = dict(
            backend.client.rows(
                "SELECT name, type FROM system.columns WHERE database = {d:String} "
                "AND table = 'events'",
                {"d": backend.database},
            )
        )
        assert types["zone"] == "LowCardinality(String)"
        assert types["score_src"] == "LowCardinality(String)"
        assert types["features"] == "Array(Float32)"
        # A new retention alters the TTL the next time the schema is ensured.
        ClickHouseBackend(
            backend.client, database=backend.database, retention_days=7
        ).ensure_schema()
        rows = backend.client.rows(
            "SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = 'events'",
            {"d": backend.database},
        )
        assert "toIntervalDay(7)" in str(rows[0][0])
    finally:
        drop(backend)
