"""The analytics read side over a Unix socket (what `botwarden serve`'s API uses while the
writer process holds the DuckDB file): the same answers and the same errors as in process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.remote import AnalyticsUnavailable, RemoteSource, serve_queries
from botwarden.api.analytics import QueriesSource, Query
from botwarden.rules import RuleSyntaxError

from .helpers import T0 as T0_EPOCH
from .helpers import batch, ev

T0 = datetime.fromtimestamp(T0_EPOCH, UTC)
ZONE = "shop.example"


@pytest.fixture
def sources(tmp_path: Path):  # type: ignore[no-untyped-def]
    backend = DuckDBBackend(str(tmp_path / "a.duckdb"))
    backend.ensure_schema()
    events = [
        ev(i, score=1 + i % 99, client_ip=f"192.0.2.{i % 7}", score_src="Machine Learning")
        for i in range(500)
    ]
    backend.insert(batch(events), spool_id="s", last_seq=len(events))
    local = QueriesSource(backend)
    sock = tmp_path / "analytics.sock"
    _, server = serve_queries(local, sock)
    try:
        yield local, RemoteSource(sock, wait=2)
    finally:
        server.close()
        backend.close()


def test_remote_answers_equal_local_ones(sources) -> None:  # type: ignore[no-untyped-def]
    local, remote = sources
    q = Query(ZONE, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    f = Query(ZONE, q.since, q.until, "cf.bot_management.score lt 30")
    assert sum(local.totals(q).values()) > 0
    for query in (q, f):
        assert remote.totals(query) == local.totals(query)
        assert remote.histogram(query) == local.histogram(query)
        assert remote.by_score_source(query) == local.by_score_source(query)
        assert remote.top(query, "topIPs", 5) == local.top(query, "topIPs", 5)
        assert remote.timeseries(query, timedelta(minutes=5)) == local.timeseries(
            query, timedelta(minutes=5)
        )
        assert remote.samples(query, 3) == local.samples(query, 3)
    assert remote.report(f, 5) == local.report(f, 5)
    assert remote.retention == local.retention


def test_errors_come_back_as_the_same_exception(sources) -> None:  # type: ignore[no-untyped-def]
    _, remote = sources
    bad = Query(ZONE, T0, T0 + timedelta(hours=1), "cf.bot_management.score lt")
    with pytest.raises(RuleSyntaxError):
        remote.totals(bad)


def test_an_unreachable_store_says_where_it_looked(tmp_path: Path) -> None:
    remote = RemoteSource(tmp_path / "nobody.sock", wait=0.2)
    with pytest.raises(AnalyticsUnavailable, match=r"nobody\.sock.*analytics writer"):
        remote.totals(Query(ZONE, T0, T0 + timedelta(hours=1)))
