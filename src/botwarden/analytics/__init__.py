"""Bot Analytics: the event schema, the durable writer (buffer → spool → backend), the
backends (DuckDB embedded, ClickHouse at scale), the dashboard and feedback queries, and the
per-JA4 signals.

    writer = Writer(DuckDBBackend("data/analytics.duckdb"), spool_dir="data/spool")
    writer.start()
    writer.append(event)            # from the request path: never blocks
    totals(backend, Window("shop.example", since, until), "cf.bot_management.score lt 30")
"""

from __future__ import annotations

from botwarden.analytics.events import SCHEMA_VERSION, Event

__all__ = ["SCHEMA_VERSION", "Event"]
