"""The analytics events table as rules' SQL sees it: CREATE TABLE statements for DuckDB and
ClickHouse, the row a request becomes, and inserts for tests.

The analytics store owns the table in production; it must keep these column names and types
because `rules.to_sql` filters on them (`rules/scheme.py` maps each field to its column).
Two columns are derived from `client_ip` and must be filled by whoever writes rows —
`event_row()` does it:

- `client_ip` holds the address in its usual text form (`runtime.ip_text`),
- `ip_key` holds "4" + 8 hex digits or "6" + 32 hex digits (`runtime.ip_key`), so that an IP
  network is a plain string range in both dialects (no inet extension needed).

`http_version` holds the bare version as RequestContext has it ("1.1", "2"); the rules field
http.request.version prefixes "HTTP/". `status` is NULL when the response is unknown.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botwarden.rules.runtime import ip_key, ip_text

if TYPE_CHECKING:
    from botwarden.request import RequestContext
    from botwarden.result import BotManagement

# (name, DuckDB type, ClickHouse type, default for event_row)
COLUMNS: tuple[tuple[str, str, str, Any], ...] = (
    ("ts", "TIMESTAMP NOT NULL", "DateTime64(6, 'UTC')", None),
    ("zone", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("request_id", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("client_ip", "VARCHAR NOT NULL", "String", None),
    ("ip_key", "VARCHAR NOT NULL", "String", None),
    ("asn", "BIGINT NOT NULL DEFAULT 0", "Int64", 0),
    ("country", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("continent", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("host", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("method", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("path", "VARCHAR NOT NULL DEFAULT ''", "String", "/"),
    ("query", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("http_version", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", "1.1"),
    ("status", "INTEGER", "Nullable(Int32)", None),
    ("user_agent", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("referer", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("ja3_hash", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("ja4", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("header_fp", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("score", "INTEGER NOT NULL DEFAULT 0", "Int32", 0),
    ("score_src", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("verified_bot", "BOOLEAN NOT NULL DEFAULT false", "Bool", False),
    ("verified_bot_category", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("js_detection_passed", "BOOLEAN NOT NULL DEFAULT false", "Bool", False),
    ("static_resource", "BOOLEAN NOT NULL DEFAULT false", "Bool", False),
    ("detection_ids", "BIGINT[] NOT NULL DEFAULT []", "Array(Int64)", ()),
    ("corporate_proxy", "BOOLEAN NOT NULL DEFAULT false", "Bool", False),
    ("action", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
    ("rule_id", "VARCHAR NOT NULL DEFAULT ''", "String", ""),
    ("model_version", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", ""),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in COLUMNS)


def duckdb_create_table(table: str = "events") -> str:
    cols = ",\n  ".join(f"{name} {ddb}" for name, ddb, _, _ in COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"


def clickhouse_create_table(
    table: str = "events", engine: str = "MergeTree ORDER BY (zone, ts)"
) -> str:
    cols = ",\n  ".join(f"{name} {ch}" for name, _, ch, _ in COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n) ENGINE = {engine}"


def event_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A complete row from a partial one: defaults filled in, `client_ip` normalised,
    `ip_key` derived, `ts` as a float of seconds since the epoch."""
    row: dict[str, Any] = {}
    for name, _, _, default in COLUMNS:
        value = record.get(name, default)
        row[name] = list(value) if isinstance(value, tuple | list) else value
    if row["client_ip"] is None:
        raise ValueError("an event needs client_ip")
    ip = ipaddress.ip_address(row["client_ip"])
    row["client_ip"] = ip_text(ip)
    row["ip_key"] = ip_key(ip)
    ts = row["ts"]
    if ts is None:
        raise ValueError("an event needs ts")
    if isinstance(ts, datetime):
        ts = ts.timestamp() if ts.tzinfo else ts.replace(tzinfo=UTC).timestamp()
    row["ts"] = float(ts)
    return row


def event_from(
    ctx: RequestContext,
    bm: BotManagement,
    *,
    status: int | None = None,
    action: str = "",
    rule_id: str = "",
) -> dict[str, Any]:
    """The event row of one request and its result."""
    geo = ctx.geo
    return event_row(
        {
            "ts": ctx.timestamp,
            "zone": ctx.zone or "",
            "request_id": ctx.request_id or "",
            "client_ip": ctx.client_ip,
            "asn": geo.asn or 0,
            "country": geo.country or "",
            "continent": geo.continent or "",
            "host": ctx.host,
            "method": ctx.method,
            "path": ctx.path,
            "query": ctx.query,
            "http_version": ctx.http_version,
            "status": status,
            "user_agent": ctx.user_agent,
            "referer": ctx.referer,
            "ja3_hash": bm.ja3_hash or "",
            "ja4": bm.ja4 or "",
            "header_fp": ctx.header_order_fp,
            "score": bm.score,
            "score_src": str(bm.score_src),
            "verified_bot": bm.verified_bot,
            "verified_bot_category": bm.verified_bot_category or "",
            "js_detection_passed": str(bm.js_detection) == "passed",
            "static_resource": bm.static_resource,
            "detection_ids": list(bm.detection_ids),
            "corporate_proxy": bm.corporate_proxy,
            "action": action,
            "rule_id": rule_id,
            "model_version": bm.model_version or "",
        }
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None)


def insert_duckdb(con: Any, rows: Iterable[Mapping[str, Any]], table: str = "events") -> int:
    """Insert rows (completed with event_row) through a duckdb connection."""
    full = [event_row(r) for r in rows]
    if not full:
        return 0
    placeholders = ", ".join("?" for _ in COLUMN_NAMES)
    con.executemany(
        f"INSERT INTO {table} ({', '.join(COLUMN_NAMES)}) VALUES ({placeholders})",
        [[_utc(r["ts"]) if c == "ts" else r[c] for c in COLUMN_NAMES] for r in full],
    )
    return len(full)


def clickhouse_insert_sql(rows: Iterable[Mapping[str, Any]], table: str = "events") -> str:
    """An INSERT … FORMAT JSONEachRow statement with the rows inline (for chdb)."""
    lines = []
    for r in (event_row(x) for x in rows):
        out = dict(r)
        out["ts"] = _utc(r["ts"]).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(json.dumps(out, ensure_ascii=False))
    return f"INSERT INTO {table} FORMAT JSONEachRow\n" + "\n".join(lines)
