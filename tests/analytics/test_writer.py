"""The writer: events reach the backend through the spool, survive backend outages and
restarts, and every drop is counted."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.analytics.base import Params, Row
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.events import Event
from botwarden.analytics.privacy import Privacy
from botwarden.analytics.writer import Writer
from botwarden.request import RequestContext
from botwarden.result import BotManagement, ScoreSource

from .helpers import T0, ev


class Flaky:
    """A backend that fails while `down` is set (delegating to DuckDB otherwise)."""

    def __init__(self, inner: DuckDBBackend) -> None:
        self.inner = inner
        self.down = False
        self.name = inner.name
        self.dialect = inner.dialect
        self.table = inner.table
        self.retention_days = inner.retention_days
        self.combine_rows = inner.combine_rows

    def ensure_schema(self) -> None:
        self.inner.ensure_schema()

    def watermark(self, spool_id: str) -> int:
        if self.down:
            raise ConnectionError("backend down")
        return self.inner.watermark(spool_id)

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        if self.down:
            raise ConnectionError("backend down")
        return self.inner.insert(batch, spool_id=spool_id, last_seq=last_seq)

    def query(self, sql: str, params: Params) -> list[Row]:
        return self.inner.query(sql, params)

    def expire(self, now: Any = None) -> None:
        self.inner.expire(now)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def duck() -> DuckDBBackend:
    b = DuckDBBackend()
    b.ensure_schema()
    return b


def stored_ids(backend: DuckDBBackend) -> list[str]:
    return [r[0] for r in backend.query("SELECT request_id FROM events ORDER BY seq", [])]


def writer(backend: Any, spool: Path, **kw: Any) -> Writer:
    kw.setdefault("flush_interval", 0.02)
    kw.setdefault("retry_initial", 0.01)
    kw.setdefault("retry_max", 0.05)
    return Writer(backend, spool, **kw)


def test_events_reach_the_backend(duck: DuckDBBackend, tmp_path: Path) -> None:
    with writer(duck, tmp_path / "spool", batch_size=7) as w:
        for i in range(50):
            assert w.append(ev(i))
        assert w.flush()
        m = w.metrics()
    assert stored_ids(duck) == [f"r{i}" for i in range(50)]
    assert (m.spooled_events, m.stored_events, m.pending_events, m.dropped) == (50, 50, 0, 0)
    assert m.backend_up
    assert m.queue_depth == 0
    assert m.flush_latency_ms_p50 > 0


def test_append_request_builds_the_event_off_the_request_path(
    duck: DuckDBBackend, tmp_path: Path
) -> None:
    ctx = RequestContext(
        client_ip="203.0.113.5",
        host="shop.example",
        path="/login",
        headers=(("User-Agent", "curl/8.5.0"),),
        timestamp=T0,
        zone="shop.example",
        request_id="req-1",
    )
    bm = BotManagement(score=1, score_src=ScoreSource.HEURISTICS, detection_ids=[3])
    with writer(duck, tmp_path / "spool") as w:
        assert w.append_request(ctx, bm, status=403, action="block", features=[0.1, 0.2])
        assert w.flush()
    rows = duck.query(
        "SELECT request_id, user_agent, score_src, action, status, features, grouping FROM events",
        [],
    )
    assert rows[0][:5] == ("req-1", "curl/8.5.0", "Heuristics", "block", 403)
    assert [round(x, 3) for x in rows[0][5]] == [0.1, 0.2]
    assert rows[0][6] == "automated"


def test_a_backend_outage_keeps_events_in_the_spool(duck: DuckDBBackend, tmp_path: Path) -> None:
    flaky = Flaky(duck)
    with writer(flaky, tmp_path / "spool", batch_size=10) as w:
        w.append(ev(0))
        assert w.flush()
        flaky.down = True
        for i in range(1, 40):
            w.append(ev(i))
        assert not w.flush(timeout=0.3)
        m = w.metrics()
        assert not m.backend_up
        assert m.backend_errors >= 1
        assert "backend down" in m.last_error
        assert (m.spooled_events, m.pending_events) == (40, 39)
        assert m.spool_bytes > 0
        assert stored_ids(duck) == ["r0"]
        flaky.down = False
        assert w.flush(timeout=5)
        assert w.metrics().backend_up
    assert stored_ids(duck) == [f"r{i}" for i in range(40)]


def test_the_spool_is_replayed_on_start(duck: DuckDBBackend, tmp_path: Path) -> None:
    with writer(None, tmp_path / "spool") as w:  # no backend: spool only
        for i in range(25):
            w.append(ev(i))
        assert w.flush()
        assert w.metrics().spooled_events == 25
    with writer(duck, tmp_path / "spool") as w:
        assert w.flush()
        assert w.metrics().stored_events == 25
        w.append(ev(25))
        assert w.flush()
    with writer(duck, tmp_path / "spool") as w:  # nothing stored twice on a third start
        assert w.flush()
        assert w.metrics().stored_events == 0
    assert stored_ids(duck) == [f"r{i}" for i in range(26)]


def test_a_backend_down_at_start_is_retried(duck: DuckDBBackend, tmp_path: Path) -> None:
    with writer(None, tmp_path / "spool") as w:
        w.append(ev(0))
        w.flush()
    flaky = Flaky(duck)
    flaky.down = True
    with writer(flaky, tmp_path / "spool") as w:
        w.append(ev(1))
        assert not w.flush(timeout=0.2)
        flaky.down = False
        assert w.flush(timeout=5)
    assert stored_ids(duck) == ["r0", "r1"]


def test_a_full_queue_drops_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    w = writer(None, tmp_path / "spool", queue_capacity=3)
    accepted = [w.append(ev(i)) for i in range(5)]  # not started: nothing drains
    assert accepted == [True, True, True, False, False]
    assert w.metrics().dropped_queue_full == 2
    with caplog.at_level(logging.WARNING):
        w.start()
        assert w.flush()
        w.close()
    assert w.metrics().spooled_events == 3
    assert "dropped 2 events" in caplog.text


def test_a_full_spool_drops_and_counts(duck: DuckDBBackend, tmp_path: Path) -> None:
    flaky = Flaky(duck)
    flaky.down = True
    with writer(flaky, tmp_path / "spool", batch_size=5, spool_max_bytes=1) as w:
        for i in range(5):
            w.append(ev(i))
        w.flush(timeout=0.2)  # the first batch fits (the spool was empty)…
        for i in range(5, 12):
            w.append(ev(i))
        w.flush(timeout=0.2)
        m = w.metrics()
        assert m.spooled_events == 5
        assert m.dropped_spool_full == 7  # …later ones are dropped while it is full
        flaky.down = False
        assert w.flush(timeout=5)
    assert len(stored_ids(duck)) == 5


def test_an_event_that_cannot_be_encoded_is_dropped_alone(
    duck: DuckDBBackend, tmp_path: Path
) -> None:
    bad = Event(ts=T0, client_ip="192.0.2.1", score="high")  # type: ignore[arg-type]
    with writer(duck, tmp_path / "spool") as w:
        w.append(ev(0))
        w.append(bad)
        w.append(ev(2))
        assert w.flush()
        assert w.metrics().dropped_invalid == 1
    assert stored_ids(duck) == ["r0", "r2"]


def test_privacy_applies_before_the_spool(duck: DuckDBBackend, tmp_path: Path) -> None:
    privacy = Privacy(ip_mode="hash", key=b"0123456789abcdef")
    with writer(None, tmp_path / "spool", privacy=privacy) as w:
        w.append(ev(0, client_ip="198.51.100.77"))
        w.flush()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "spool").glob("seg-*"))
    assert b"198.51.100.77" not in raw
    assert b"h:" in raw


def test_close_spools_and_stores_what_is_queued(duck: DuckDBBackend, tmp_path: Path) -> None:
    w = writer(duck, tmp_path / "spool", flush_interval=60)
    w.start()
    names = {t.name for t in threading.enumerate()}
    assert {"botwarden-analytics-flusher", "botwarden-analytics-storer"} <= names
    for i in range(10):
        w.append(ev(i))
    w.close()
    assert w.metrics().spooled_events == 10
    assert len(stored_ids(duck)) == 10
    names = {t.name for t in threading.enumerate()}
    assert "botwarden-analytics-flusher" not in names


def test_without_a_backend_the_spool_is_still_bounded(tmp_path: Path) -> None:
    with writer(None, tmp_path / "spool", batch_size=5, spool_max_bytes=1) as w:
        for i in range(5):
            w.append(ev(i))
        w.flush()
        for i in range(5, 10):
            w.append(ev(i))
        w.flush()
        m = w.metrics()
    assert (m.spooled_events, m.dropped_spool_full, m.pending_events) == (5, 5, 5)


@pytest.fixture
def arrow_pool(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Arrow's process-wide pool as mimalloc for the test, restored after it."""
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool()
    try:
        mimalloc = pa.mimalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow is built without mimalloc")
    pa.set_memory_pool(mimalloc)
    yield
    pa.set_memory_pool(before)


@pytest.mark.usefixtures("arrow_pool")
def test_start_makes_arrow_reuse_freed_memory(duck: DuckDBBackend, tmp_path: Path) -> None:
    w = writer(duck, tmp_path / "spool").start()
    try:
        assert pa.default_memory_pool().backend_name == "system"
        w.append(ev(1))
        assert w.flush()
    finally:
        w.close()
    assert stored_ids(duck) == ["r1"]


@pytest.mark.usefixtures("arrow_pool")
def test_an_allocator_chosen_by_the_operator_is_kept(
    duck: DuckDBBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    w = writer(duck, tmp_path / "spool").start()
    w.close()
    assert pa.default_memory_pool().backend_name == "mimalloc"
