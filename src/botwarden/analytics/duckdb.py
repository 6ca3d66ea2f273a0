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
from botwarden.errors import ConfigError

if TYPE_CHECKING:
    from botwarden.analytics.base import Params, Row

HASHED: dict[str, str] = {"client_ip": "client_ip_h", "path": "path_h"}
"""Text column → its hash column (UBIGINT), for grouping."""

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
        if "hash_probe" in meta and meta["hash_probe"] != probe:
            sets = ", ".join(f"{h} = hash({c})" for c, h in HASHED.items())
            con.execute(f"UPDATE events SET {sets}")
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

    def insert(self, batch: pa.Table, *, spool_id: str, last_seq: int) -> int:
        names = ", ".join(c.name for c in COLUMNS)
        hashes = ", ".join(f"hash({c})" for c in HASHED)
        with self._lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                rows = cur.execute(
                    "SELECT seq FROM bw_watermarks WHERE spool_id = $1", [spool_id]
                ).fetchall()
                mark = int(rows[0][0]) if rows else 0
                if last_seq <= mark:
                    cur.execute("ROLLBACK")
                    return 0
                cur.register("bw_batch", zone_ordered(batch))
                cur.execute(
                    f"INSERT INTO events ({names}, {', '.join(HASHED.values())}) "
                    f"SELECT {names}, {hashes} FROM bw_batch WHERE seq > $1",
                    [mark],
                )
                fetched = cur.fetchall()
                stored = int(fetched[0][0]) if fetched else 0
                cur.execute(
                    "INSERT OR REPLACE INTO bw_watermarks VALUES ($1, $2)", [spool_id, last_seq]
                )
                cur.execute("COMMIT")
                cur.unregister("bw_batch")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
        return stored

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str, params: Params) -> list[Row]:
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params).fetchall()
        finally:
            cur.close()

    def expire(self, now: datetime | None = None) -> None:
        if self.retention_days is None:
            return
        now = now or datetime.now(UTC).replace(tzinfo=None)
        cutoff = now - timedelta(days=self.retention_days)
        with self._lock:
            self._con.cursor().execute("DELETE FROM events WHERE ts < $1", [cutoff])

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
