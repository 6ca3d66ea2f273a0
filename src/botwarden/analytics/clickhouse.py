"""The analytics backend at scale: ClickHouse.

`events` is a MergeTree partitioned by day and ordered by (zone, ts), so a dashboard query
reads one zone's time range only; columns with few distinct values are LowCardinality, and
retention is a TTL. The same SQL runs on a server through clickhouse-connect (the optional
`clickhouse` extra) and in process through chdb, which the tests use.

ClickHouse has no transactions, so exactly-once storage comes from insert deduplication:
every batch is inserted with a token made of its spool and sequence range, and the table
keeps a deduplication window; a batch replayed after a crash between its insert and its
watermark is dropped by the server.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from botwarden.analytics.events import COLUMNS, SCHEMA_VERSION
from botwarden.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

    from botwarden.analytics.base import Params, Row

DEDUP_WINDOW = 10_000
"""Inserts remembered per table for deduplication (non_replicated_deduplication_window)."""


class ClickHouseClient(Protocol):
    def command(self, sql: str, params: Mapping[str, object] | None = None) -> None: ...
    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]: ...
    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, str]) -> None: ...
    def close(self) -> None: ...


def _naive(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class ConnectClient:
    """A ClickHouse server over HTTP(S), through clickhouse-connect."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "default",
        password: str = "",
        database: str = "default",
        secure: bool = False,
    ) -> None:
        # An optional extra: imported by name, so type checking does not need it installed.
        clickhouse_connect: Any = importlib.import_module("clickhouse_connect")
        self._client = clickhouse_connect.get_client(
            host=host,
            port=port,
            username=username,
            password=password,
            database=database,
            secure=secure,
        )

    @staticmethod
    def _params(params: Mapping[str, object] | None) -> dict[str, object] | None:
        # Times as text with microseconds: the server parses them for {x:DateTime64(6)}.
        if not params:
            return None
        return {k: _ch_text(v) if isinstance(v, datetime) else v for k, v in params.items()}

    def command(self, sql: str, params: Mapping[str, object] | None = None) -> None:
        self._client.command(sql, parameters=self._params(params))

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        result = self._client.query(sql, parameters=self._params(params))
        return [tuple(_naive(v) for v in row) for row in result.result_rows]

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, str]) -> None:
        db, _, name = table.rpartition(".")
        self._client.insert_arrow(name, data, database=db or None, settings=dict(settings))

    def close(self) -> None:
        self._client.close()


def _ch_text(value: object) -> str:
    from botwarden.rules.to_sql import clickhouse_param_text

    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return clickhouse_param_text(value)


class ChdbClient:
    """ClickHouse in process (chdb): the tests' ClickHouse, and an embedded ClickHouse."""

    def __init__(self, path: str = "") -> None:
        import chdb.session

        session: Any = chdb.session
        self._session: Any = session.Session(path) if path else session.Session()
        # One chdb session serves one query at a time.
        self._lock = threading.Lock()

    def command(self, sql: str, params: Mapping[str, object] | None = None) -> None:
        text = {k: _ch_text(v) for k, v in (params or {}).items()}
        with self._lock:
            self._session.query(sql, params=text)

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[Row]:
        text = {k: _ch_text(v) for k, v in (params or {}).items()}
        with self._lock:
            table = self._session.query(sql, "ArrowTable", params=text)
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return [tuple(_naive(v) for v in row) for row in zip(*columns, strict=True)]

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, str]) -> None:
        names = ", ".join(data.column_names)
        opts = ", ".join(f"{k} = '{v}'" for k, v in settings.items())
        sql = f"INSERT INTO {table} ({names}) {'SETTINGS ' + opts if opts else ''} "
        # chdb's Python() table function reads the variable of that name from this frame.
        bw_batch = data  # noqa: F841
        with self._lock:
            self._session.query(sql + f"SELECT {names} FROM Python(bw_batch)")

    def close(self) -> None:
        with self._lock:
            self._session.cleanup()


class ClickHouseBackend:
    name = "clickhouse"
    dialect = "clickhouse"
    combine_rows = 0  # one insert per spooled batch: its dedup token must never change

    def __init__(
        self,
        client: ClickHouseClient,
        *,
        database: str = "default",
        retention_days: int | None = None,
    ) -> None:
        if not database.replace("_", "").isalnum():
            raise ConfigError(f"ClickHouse database name {database!r} must be alphanumeric")
        self.client = client
        self.database = database
        self.retention_days = retention_days
        self.table = f"{database}.events"

    @classmethod
    def from_url(cls, url: str, *, retention_days: int | None = None) -> ClickHouseBackend:
        """`clickhouse://user:password@host:8123/db` (`?secure=1` for TLS), `https://…`,
        or `chdb:///path/to/dir` (`chdb://` alone: in memory)."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.scheme == "chdb":
            path = unquote(parts.netloc + parts.path)
            db = query.get("database", ["botwarden"])[0]
            return cls(ChdbClient(path), database=db, retention_days=retention_days)
        secure = parts.scheme == "https" or query.get("secure", ["0"])[0] in ("1", "true")
        database = parts.path.strip("/") or "default"
        client = ConnectClient(
            parts.hostname or "localhost",
            parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=database,
            secure=secure,
        )
        return cls(client, database=database, retention_days=retention_days)

    # -- schema ---------------------------------------------------------------------------

    def _ttl(self) -> str:
        return f"toDateTime(ts) + INTERVAL {int(self.retention_days or 0)} DAY"

    def ensure_schema(self) -> None:
        db = self.database
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
        cols = ",\n  ".join(f"{c.name} {c.clickhouse}" for c in COLUMNS)
        ttl = f"TTL {self._ttl()}\n" if self.retention_days is not None else ""
        self.client.command(
            f"CREATE TABLE IF NOT EXISTS {self.table} (\n  {cols}\n) ENGINE = MergeTree\n"
            "PARTITION BY toDate(ts)\nORDER BY (zone, ts)\n"
            f"{ttl}SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
        )
        self.client.command(
            f"CREATE TABLE IF NOT EXISTS {db}.bw_watermarks (spool_id String, seq Int64) "
            "ENGINE = ReplacingMergeTree(seq) ORDER BY spool_id"
        )
        self.client.command(
            f"CREATE TABLE IF NOT EXISTS {db}.bw_meta (key String, value String, "
            "at DateTime64(6)) ENGINE = ReplacingMergeTree(at) ORDER BY key"
        )
        rows = self.client.rows(
            f"SELECT argMax(value, at) FROM {db}.bw_meta WHERE key = 'schema_version'"
        )
        stored = str(rows[0][0]) if rows and rows[0][0] else ""
        if stored and int(stored) > SCHEMA_VERSION:
            raise ConfigError(
                f"ClickHouse {db}: analytics schema version {stored} is newer than this "
                f"Botwarden's ({SCHEMA_VERSION}); upgrade Botwarden to read it"
            )
        if stored != str(SCHEMA_VERSION):
            self.client.command(
                f"INSERT INTO {db}.bw_meta VALUES ('schema_version', {{v:String}}, now64(6))",
                {"v": str(SCHEMA_VERSION)},
            )
        if self.retention_days is not None:
            # Only when it changed: MODIFY TTL rewrites the table's parts.
            rows = self.client.rows(
                "SELECT engine_full FROM system.tables WHERE database = {d:String} "
                "AND name = 'events'",
                {"d": db},
            )
            current = str(rows[0][0]) if rows else ""
            if f"INTERVAL {int(self.retention_days)} DAY" not in current:
                self.client.command(f"ALTER TABLE {self.table} MODIFY TTL {self._ttl()}")

    # -- writing --------------------------------------------------------------------------

    def watermark(self, spool_id: str) -> int:
        rows = self.client.rows(
            f"SELECT max(seq) FROM {self.database}.bw_watermarks WHERE spool_id = {{s:String}}",
            {"s": spool_id},
        )
        value = rows[0][0] if rows else None
        return int(value) if isinstance(value, int) else 0

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        mark = self.watermark(spool_id)
        if last_seq <= mark or batch.num_rows == 0:
            return 0
        first_seq = last_seq - batch.num_rows + 1
        if mark >= first_seq:
            batch = batch.filter(pc.greater(batch.column("seq"), mark))
        token = f"{spool_id}:{first_seq}:{last_seq}"
        self.client.insert_arrow(
            self.table,
            batch,
            {"insert_deduplicate": "1", "insert_deduplication_token": token},
        )
        self.client.command(
            f"INSERT INTO {self.database}.bw_watermarks VALUES ({{s:String}}, {{q:Int64}})",
            {"s": spool_id, "q": last_seq},
        )
        return int(batch.num_rows)

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str, params: Params) -> list[Row]:
        if isinstance(params, list):
            raise TypeError("ClickHouse queries take named parameters")
        return self.client.rows(sql, params)

    def expire(self, now: datetime | None = None) -> None:
        if self.retention_days is None:
            return
        now = now or datetime.now(UTC).replace(tzinfo=None)
        cutoff = now - timedelta(days=self.retention_days)
        self.client.command(
            f"DELETE FROM {self.table} WHERE ts < {{c:DateTime64(6)}}", {"c": cutoff}
        )

    def ping(self) -> bool:
        try:
            self.client.rows("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        self.client.close()
