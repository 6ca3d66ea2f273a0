"""The writer process the SIGKILL test kills (run as a script, never collected by pytest).

    python sigkill_child.py produce BACKEND_URL SPOOL ACKS MARKS START KILL_POINT
    python sigkill_child.py drain BACKEND_URL SPOOL

`produce` appends events with request ids START, START+1, … until it is killed, writing the
request id of every event acknowledged by the spool to ACKS, and to MARKS a line at the
kill point the parent waits for:

- `store`: at the start of each backend insert (the parent kills during the insert);
- `gap`: ClickHouse only — after the rows are inserted and before the watermark is;
- `torn`: in the middle of writing a spool record (half of it is on disk);
- `any`: never (the parent kills at a random moment).

`drain` replays the spool into the backend, stops cleanly and prints the stored request
ids and their multiplicity as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.analytics.base import Backend, Params, Row, open_backend
from botwarden.analytics.clickhouse import ClickHouseBackend
from botwarden.analytics.events import Event
from botwarden.analytics.writer import Writer


def mark(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text + "\n")


class MarkingBackend:
    """Delegates to a backend, marking the start of every insert."""

    def __init__(self, inner: Backend, marks: str) -> None:
        self.inner = inner
        self.marks = marks
        self.name, self.dialect, self.table = inner.name, inner.dialect, inner.table
        self.retention_days = inner.retention_days
        self.combine_rows = inner.combine_rows

    def ensure_schema(self) -> None:
        self.inner.ensure_schema()

    def watermark(self, spool_id: str) -> int:
        return self.inner.watermark(spool_id)

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        mark(self.marks, f"store {last_seq}")
        return self.inner.insert(batch, spool_id=spool_id, last_seq=last_seq)

    def query(self, sql: str, params: Params) -> list[Row]:
        return self.inner.query(sql, params)

    def expire(self, now: Any = None) -> None:
        self.inner.expire(now)

    def ping(self) -> bool:
        return self.inner.ping()

    def close(self) -> None:
        self.inner.close()


class GapClient:
    """A ClickHouse client that stalls between the rows and the watermark."""

    def __init__(self, inner: Any, marks: str) -> None:
        self.inner = inner
        self.marks = marks

    def command(self, sql: str, params: Mapping[str, object] | None = None) -> None:
        self.inner.command(sql, params)

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        rows: list[Row] = self.inner.rows(sql, params)
        return rows

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, str]) -> None:
        self.inner.insert_arrow(table, data, settings)
        mark(self.marks, "gap")
        time.sleep(30)

    def close(self) -> None:
        self.inner.close()


def tear_spool_writes(marks: str) -> None:
    real_write = os.write

    def torn_write(fd: int, data: Any) -> int:
        if len(data) > 4096:  # a record (segment headers are 24 bytes)
            real_write(fd, bytes(data[: len(data) // 2]))
            mark(marks, "torn")
            time.sleep(30)
        return real_write(fd, data)

    os.write = torn_write


def produce(url: str, spool: str, acks: str, marks: str, start: int, point: str) -> None:
    backend: Backend = open_backend(url)
    if point == "gap":
        assert isinstance(backend, ClickHouseBackend)
        backend.client = GapClient(backend.client, marks)
    if point == "store":
        backend = MarkingBackend(backend, marks)
    ack_file = open(acks, "a")  # noqa: SIM115 (lives until the process is killed)

    def on_spooled(table: pa.Table) -> None:
        ack_file.write("\n".join(table.column("request_id").to_pylist()) + "\n")
        ack_file.flush()

    w = Writer(backend, spool, batch_size=2000, flush_interval=0.02, on_spooled=on_spooled)
    w.start()
    if point == "torn":
        tear_spool_writes(marks)
    mark(marks, "started")
    i = start
    while True:
        for _ in range(500):
            w.append(Event(ts=1_767_225_600 + i / 1000, client_ip="192.0.2.1", request_id=str(i)))
            i += 1
        time.sleep(0.002)


def drain(url: str, spool: str) -> None:
    backend = open_backend(url)
    w = Writer(backend, spool)
    w.start()
    ok = w.flush(timeout=60)
    w.close()
    rows = backend.query(
        f"SELECT request_id, count(*) FROM {backend.table} GROUP BY request_id",
        [] if backend.dialect == "duckdb" else {},
    )
    print(json.dumps({"flushed": ok, "rows": [[r[0], int(r[1])] for r in rows]}))
    backend.close()


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        url, spool, acks, marks, start, point = sys.argv[2:8]
        produce(url, spool, acks, marks, int(start), point)
    else:
        drain(sys.argv[2], sys.argv[3])
