"""Every analytics backend the conformance suite runs against: DuckDB (in memory and in a
file), ClickHouse in process (chdb) and, when CLICKHOUSE_URL is set, a live ClickHouse."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from botwarden.analytics.base import Backend
from botwarden.analytics.clickhouse import ChdbClient, ClickHouseBackend
from botwarden.analytics.duckdb import DuckDBBackend

LIVE_URL = os.environ.get("CLICKHOUSE_URL", "")
BACKEND_NAMES = ["duckdb", "duckdb-file", "chdb"] + (["clickhouse-live"] if LIVE_URL else [])
"""The live server joins the suite only when CLICKHOUSE_URL names one (CI has none);
test_backends.py says so once when it is skipped."""


def make_backend(name: str, tmp_path: Path, retention_days: int | None = None) -> Backend:
    db = "bw_" + uuid.uuid4().hex[:12]
    backend: Backend
    if name == "duckdb":
        backend = DuckDBBackend(":memory:", retention_days=retention_days)
    elif name == "duckdb-file":
        backend = DuckDBBackend(str(tmp_path / "a.duckdb"), retention_days=retention_days)
    elif name == "chdb":
        # chdb runs one embedded server per process: each test gets its own database.
        backend = ClickHouseBackend(ChdbClient(), database=db, retention_days=retention_days)
    else:
        live = ClickHouseBackend.from_url(LIVE_URL)
        backend = ClickHouseBackend(live.client, database=db, retention_days=retention_days)
    backend.ensure_schema()
    return backend


def drop(backend: Backend) -> None:
    if isinstance(backend, ClickHouseBackend):
        backend.client.command(f"DROP DATABASE IF EXISTS {backend.database}")
    backend.close()


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path)
    yield b
    drop(b)
