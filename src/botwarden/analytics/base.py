"""The analytics backend protocol, the registry of backends by name, and the one helper that
binds query parameters in either SQL dialect.

A backend stores finished batches (`events.SCHEMA`) idempotently — each batch comes with the
spool it came from and the sequence number of its last row, and a batch at or below the
stored watermark of that spool is skipped — and runs SQL in its dialect ("duckdb" or
"clickhouse", the dialects `rules.to_sql` compiles to).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from botwarden.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

Params = list[object] | dict[str, object]
Row = tuple[Any, ...]
"""A result row: values as the database driver returns them (DB-API style)."""


class Backend(Protocol):
    name: str
    """Registry name: "duckdb" or "clickhouse"."""
    dialect: str
    """SQL dialect of `query` (and of compiled rule filters)."""
    retention_days: int | None
    """Events older than this are removed (None keeps everything)."""
    table: str
    """The events table, qualified as queries must name it."""
    combine_rows: int
    """Consecutive spooled batches may be stored in one insert of up to this many rows
    (0: one insert per batch, needed where exactly-once rests on per-batch tokens)."""

    def ensure_schema(self) -> None:
        """Create the tables if missing; refuse a store written by a newer schema."""

    def watermark(self, spool_id: str) -> int:
        """The highest sequence number of `spool_id` stored so far (0 when none)."""

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        """Store a finished batch whose rows are numbered up to `last_seq` in `spool_id`,
        exactly once: rows at or below the watermark are skipped, and the watermark moves
        to `last_seq` with the rows (atomically, or through insert deduplication).
        Returns the number of rows newly stored. Raises on a backend failure."""

    def query(self, sql: str, params: Params) -> list[Row]:
        """Run a SELECT in this backend's dialect with bound parameters."""

    def expire(self, now: datetime | None = None) -> None:
        """Remove events older than the retention now (ClickHouse also does it by TTL)."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None: ...


BackendFactory = Callable[[str, "int | None"], Backend]


def _duckdb(url: str, retention_days: int | None) -> Backend:
    from botwarden.analytics.duckdb import DuckDBBackend

    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:
        return DuckDBBackend(url, retention_days=retention_days)
    options = parse_qs(parts.query)
    threads = int(options["threads"][0]) if "threads" in options else None
    return DuckDBBackend(
        parts.netloc + parts.path or ":memory:", retention_days=retention_days, threads=threads
    )


def _clickhouse(url: str, retention_days: int | None) -> Backend:
    from botwarden.analytics.clickhouse import ClickHouseBackend

    return ClickHouseBackend.from_url(url, retention_days=retention_days)


BACKENDS: dict[str, BackendFactory] = {
    "duckdb": _duckdb,
    "clickhouse": _clickhouse,
    "chdb": _clickhouse,
    "http": _clickhouse,
    "https": _clickhouse,
}
"""URL scheme → backend. A bare path (no scheme) is a DuckDB file."""


def open_backend(url: str, *, retention_days: int | None = None) -> Backend:
    """`data/analytics.duckdb`, `duckdb:///abs/file.duckdb?threads=2`, `duckdb://` (memory),
    `clickhouse://user:password@host:8123/database`, `chdb:///dir` (ClickHouse in process)."""
    scheme = urlsplit(url).scheme
    if not scheme or len(scheme) == 1:  # a path (or a Windows drive letter)
        scheme = "duckdb"
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"unknown analytics backend {scheme!r} in {url!r}; use one of {known}")
    backend = factory(url, retention_days)
    backend.ensure_schema()
    return backend


class Sql:
    """Builds one statement's parameters in a dialect: DuckDB `$n` (positional, numbered
    after those of a compiled filter) or ClickHouse `{name:Type}`."""

    def __init__(self, dialect: str, start: Params | None = None) -> None:
        self.dialect = dialect
        self.params: Params
        if isinstance(start, dict):
            self.params = dict(start)
        elif dialect == "duckdb":
            self.params = list(start or [])
        else:
            self.params = {}
        self._n = 0

    def __call__(self, value: object, ch_type: str) -> str:
        """A placeholder bound to `value`; `ch_type` is its ClickHouse type."""
        if isinstance(self.params, list):
            self.params.append(value)
            return f"${len(self.params)}"
        self._n += 1
        name = f"bw{self._n}"
        self.params[name] = value
        return f"{{{name}:{ch_type}}}"


def in_list(values: Sequence[str]) -> str:
    """A SQL list of constant identifiers known in advance (never user input)."""
    for v in values:
        if not v.replace("_", "").replace(" ", "").isalnum():
            raise ValueError(f"not a plain constant: {v!r}")
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"
