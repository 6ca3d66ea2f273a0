"""The embedded analytics backend: one DuckDB file.

Besides the columns of `events.SCHEMA`, the table keeps a 64-bit hash of the text columns
that dashboards group by with the most distinct values (addresses, paths): grouping
integers is about twice as fast as grouping such strings, and top-N queries group by the
hash and read the text of the winners only. (User agents and fingerprints, with a few
thousand values, group as fast as their hashes would.) The hash is DuckDB's own
`hash()`; a probe value kept in `bw_meta` detects a DuckDB upgrade that changed it, and
the columns are then recomputed.

Each insert is stored ordered by zone (stably, so arrival order — time order — is kept within a
zone). DuckDB keeps min/max statistics per row group, and a dashboard query names one zone and
a time range: with the rows of a zone together, row groups of other zones are skipped
without being read, and row groups wholly inside the zone and the range are not even
filtered (`bench/analytics.py` measures both layouts in one run).

Hashed columns that filters read as text (the path) also keep a dictionary: a table of
their distinct values by hash (`DICTIONARIES`), added to in the transaction that stores the
rows and pruned when rows expire. A filter on such a column alone is evaluated once per
distinct value there and, when it accepts at most `filters.MAX_HASHES` values, becomes an
integer test on the hash column (`filters.py`).
A store made before the dictionary existed gets it filled from its rows when the schema is
ensured (0.3 s for 10M rows of the benchmark); one opened read-only without it
answers with the text predicate, as before.

A batch and its spool watermark are written in one transaction, so a batch is stored
exactly once however often it is replayed.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.analytics.events import COLUMNS, SCHEMA_VERSION
from botwarden.analytics.filters import Dictionary
from botwarden.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from botwarden.analytics.base import Params, Row
    from botwarden.analytics.filters import Lookup

HASHED: dict[str, str] = {"client_ip": "client_ip_h", "path": "path_h"}
"""Text column → its hash column (UBIGINT), for grouping."""

DICTIONARIES: dict[str, str] = {"path": "bw_dict_path"}
"""Hashed text column → the table of its distinct values (hash column PRIMARY KEY, text)."""

_PROBE = "botwarden"


class DuckDBBackend:
    name = "duckdb"
    dialect = "duckdb"
    table = "events"
    combine_rows = 4 * 122_880  # ≥ 2 row groups: written to the file directly, not the WAL

    def __init__(
        self,
        path: str = ":memory:",
        *,
        retention_days: int | None = None,
        threads: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads:
            config["threads"] = threads
        if path != ":memory:" and not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(path, read_only=read_only, config=config)
        self._lock = threading.Lock()
        self.hashed = HASHED
        self.dictionaries: dict[str, Dictionary] = {}
        self._find_dictionaries()

    def _find_dictionaries(self) -> None:
        """The dictionaries this store has (a store made before them has none until
        `ensure_schema` adds them)."""
        tables = {
            str(r[0])
            for r in self._con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
                " AND schema_name = 'main'"
            ).fetchall()
        }
        self.dictionaries = {
            c: Dictionary(c, HASHED[c], t) for c, t in DICTIONARIES.items() if t in tables
        }

    # -- schema ---------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        con = self._con
        cols = [f"{c.name} {c.duckdb}" for c in COLUMNS]
        cols += [f"{h} UBIGINT NOT NULL DEFAULT 0" for h in HASHED.values()]
        con.execute("CREATE TABLE IF NOT EXISTS events (\n  " + ",\n  ".join(cols) + "\n)")
        con.execute(
            "CREATE TABLE IF NOT EXISTS bw_watermarks (spool_id VARCHAR PRIMARY KEY, "
            "seq BIGINT NOT NULL)"
        )
        con.execute(
            "CREATE TABLE IF NOT EXISTS bw_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
        )
        meta = dict(con.execute("SELECT key, value FROM bw_meta").fetchall())
        stored = int(meta.get("schema_version", SCHEMA_VERSION))
        if stored > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: analytics schema version {stored} is newer than this "
                f"Botwarden's ({SCHEMA_VERSION}); upgrade Botwarden to read it"
            )
        probe = str(con.execute("SELECT hash($1)", [_PROBE]).fetchall()[0][0])
        rehashed = "hash_probe" in meta and meta["hash_probe"] != probe
        if rehashed:
            sets = ", ".join(f"{h} = hash({c})" for c, h in HASHED.items())
            con.execute(f"UPDATE events SET {sets}")
        self._find_dictionaries()
        for column, table in DICTIONARIES.items():
            h = HASHED[column]
            if column in self.dictionaries and not rehashed:
                continue
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ({h} UBIGINT PRIMARY KEY, "
                f"{column} VARCHAR NOT NULL)"
            )
            con.execute(f"DELETE FROM {table}")
            con.execute(
                f"INSERT INTO {table} SELECT {h}, any_value({column}) FROM events GROUP BY {h}"
            )
        self._find_dictionaries()
        con.execute(
            "INSERT OR REPLACE INTO bw_meta VALUES ('schema_version', $1), ('hash_probe', $2)",
            [str(SCHEMA_VERSION), probe],
        )

    # -- writing --------------------------------------------------------------------------

    def watermark(self, spool_id: str) -> int:
        row = (
            self._con.cursor()
            .execute("SELECT seq FROM bw_watermarks WHERE spool_id = $1", [spool_id])
            .fetchone()
        )
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in a write transaction, under the write lock: committed when the block
        ends (also by `return`), rolled back when it raises."""
        with self._lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                cur.close()

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        names = ", ".join(c.name for c in COLUMNS)
        hashes = ", ".join(f"hash({c})" for c in HASHED)
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT seq FROM bw_watermarks WHERE spool_id = $1", [spool_id]
            ).fetchall()
            mark = int(rows[0][0]) if rows else 0
            if last_seq <= mark:
                return 0  # already stored (a replayed spool segment)
            cur.register("bw_batch", zone_ordered(batch))
            cur.execute(
                f"INSERT INTO events ({names}, {', '.join(HASHED.values())}) "
                f"SELECT {names}, {hashes} FROM bw_batch WHERE seq > $1",
                [mark],
            )
            fetched = cur.fetchall()
            stored = int(fetched[0][0]) if fetched else 0
            for column, d in self.dictionaries.items():
                # New values only: the primary key ignores the ones already there.
                cur.execute(
                    f"INSERT OR IGNORE INTO {d.table} SELECT hash({column}), "
                    f"any_value({column}) FROM bw_batch WHERE seq > $1 GROUP BY 1",
                    [mark],
                )
            cur.execute(
                "INSERT OR REPLACE INTO bw_watermarks VALUES ($1, $2)", [spool_id, last_seq]
            )
            cur.unregister("bw_batch")
        return stored

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str, params: Params, lookups: Sequence[Lookup] = ()) -> list[Row]:
        """Rows of `sql`; `lookups` (a filter's parts answered by dictionaries) are run
        first, in the same transaction, and their markers replaced by their answers."""
        cur = self._con.cursor()
        try:
            if not lookups:
                return cur.execute(sql, params).fetchall()
            assert isinstance(params, list)
            bound = list(params)
            cur.execute("BEGIN TRANSACTION")
            try:
                for lookup in lookups:
                    hashes = [int(r[0]) for r in cur.execute(lookup.sql, lookup.params).fetchall()]
                    sql = sql.replace(lookup.marker, lookup.resolve(hashes, bound))
                return cur.execute(sql, bound).fetchall()
            finally:
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")  # read only: nothing to keep
        finally:
            cur.close()

    def expire(self, now: datetime | None = None) -> None:
        if self.retention_days is None:
            return
        now = now or datetime.now(UTC).replace(tzinfo=None)
        cutoff = now - timedelta(days=self.retention_days)
        with self._transaction() as cur:
            cur.execute("DELETE FROM events WHERE ts < $1", [cutoff])
            for d in self.dictionaries.values():
                h = d.hash_column
                cur.execute(f"DELETE FROM {d.table} WHERE {h} NOT IN (SELECT {h} FROM events)")

    def ping(self) -> bool:
        try:
            self.query("SELECT 1", [])
        except duckdb.Error:
            return False
        return True

    def close(self) -> None:
        self._con.close()


def zone_ordered(batch: pa.Table) -> pa.Table:
    """The batch with the rows of each zone together, in arrival order within a zone (a
    stable sort on `zone_key`; a batch of one zone is returned as it is)."""
    if batch.num_rows < 2:
        return batch
    keys = np.asarray(batch.column("zone_key").to_numpy())
    if bool((keys[1:] >= keys[:-1]).all()):
        return batch
    return batch.take(pa.array(np.argsort(keys, kind="stable")))
