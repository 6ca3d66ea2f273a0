"""Events in the real analytics store (the DuckDB backend, in memory) behind the API's
`QueriesSource`, for the analytics endpoints' tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.events import finish, records_to_arrow
from botwarden.api.analytics import QueriesSource


class Events:
    def __init__(self, retention_days: int | None = None) -> None:
        self.backend = DuckDBBackend(":memory:", retention_days=retention_days)
        self.backend.ensure_schema()
        self.source = QueriesSource(self.backend)
        self.seq = 0

    def insert(self, records: Iterable[Mapping[str, Any]]) -> int:
        table = records_to_arrow(list(records))
        batch = finish(table, spool_id="api-tests", first_seq=self.seq + 1)
        self.seq += table.num_rows
        return self.backend.insert(batch, spool_id="api-tests", last_seq=self.seq)
