"""The edge's analytics writer process (edge/events.py): its background threads yield the
CPU to the edge, and events still reach the store."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.writer import Writer
from botwarden.edge.events import EventShipper, idle_class
from botwarden.request import RequestContext
from botwarden.result import BotManagement

pytestmark = pytest.mark.skipif(
    not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's scheduling class"
)

_HEADERS = (("host", "shop.example"), ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"))


def _request(i: int) -> RequestContext:
    return RequestContext(
        client_ip=f"198.51.100.{i % 250}", host="shop.example", path=f"/p/{i}",
        headers=_HEADERS, request_id=f"{i:016x}",
    )  # fmt: skip


def test_the_writers_threads_go_idle_class_and_still_store_everything(tmp_path: Path) -> None:
    backend = DuckDBBackend(str(tmp_path / "a.duckdb"))
    backend.ensure_schema()
    writer = Writer(backend, spool_dir=tmp_path / "spool", fsync=False).start()
    try:
        assert [t.name.rpartition("-")[2] for t in writer.threads] == ["flusher", "storer"]
        assert idle_class(writer.threads) == 2
        for thread in writer.threads:
            assert thread.native_id is not None
            assert os.sched_getscheduler(thread.native_id) == os.SCHED_IDLE
        me = threading.get_native_id()
        assert os.sched_getscheduler(me) == os.SCHED_OTHER  # only the threads given
        for i in range(500):
            writer.append_request(_request(i), BotManagement(score=40), status=200)
        assert writer.flush(timeout=60)
        assert writer.metrics().stored_events == 500
    finally:
        writer.close()
        backend.close()
    again = DuckDBBackend(str(tmp_path / "a.duckdb"))
    try:
        assert again.query("SELECT count(*) FROM events", []) == [(500,)]
    finally:
        again.close()


def _policies(pid: int) -> dict[int, int]:
    return {int(t): os.sched_getscheduler(int(t)) for t in os.listdir(f"/proc/{pid}/task")}


def test_the_edges_writer_process_runs_its_flusher_and_storer_idle_class(
    tmp_path: Path,
) -> None:
    """Through the real child process: its main thread (reading the edge's batches) keeps
    the normal class at nice 10, the flusher and storer are SCHED_IDLE, and the events the
    edge shipped are stored."""

    async def main() -> tuple[dict[int, int], int, int, int]:
        shipper = EventShipper(tmp_path)
        await shipper.start()
        try:
            for i in range(200):
                shipper.append_request(_request(i), BotManagement(score=10), status=200)
            shipper.ship()
            for _ in range(600):
                m = shipper.writer_metrics
                if m is not None and m.stored_events >= 200:
                    break
                await asyncio.sleep(0.05)
            assert shipper._process is not None
            pid = shipper._process.pid
            stored = m.stored_events if m is not None else 0
            return _policies(pid), os.getpriority(os.PRIO_PROCESS, pid), pid, stored
        finally:
            await shipper.close()

    policies, nice, pid, stored = asyncio.run(main())
    assert stored == 200
    assert policies[pid] == os.SCHED_OTHER
    assert nice == 10
    # the flusher, the storer, and the threads they started (Arrow's pool): theirs inherit
    idle = [tid for tid, policy in policies.items() if policy == os.SCHED_IDLE]
    assert 2 <= len(idle) < len(policies), policies
