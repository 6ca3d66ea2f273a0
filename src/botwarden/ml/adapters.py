"""Thin adapters between the simulator's labelled events and the ML code.

The simulator's `context_from_event()` builds a RequestContext without GeoIP, so the
network features would see no ASN; here the row's own `asn` and `country` (what the
edge's MMDB lookup would have said) are served by a GeoIP stand-in. Events are also read
and concatenated here, time-ordered, with only the columns training needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from botwarden.geoip import GeoFacts, GeoIP
from botwarden.request import RequestContext

TRUTH_COLUMNS = ("label", "population", "subtype", "sophistication", "session_id")
REQUEST_COLUMNS = ("ts", "zone", "client_ip", "asn", "country", "scheme", "host", "method",
                   "path", "query", "http_version", "headers", "status", "ja4", "ja3",
                   "ja3_hash", "user_agent")  # fmt: skip


class RowGeo(GeoIP):
    """A GeoIP that answers from a fixed table (the ASN and country the event recorded)."""

    def __init__(self, facts: Mapping[str, GeoFacts] | None = None) -> None:
        super().__init__()
        self.facts: dict[str, GeoFacts] = dict(facts or {})

    def _lookup(self, ip: str) -> GeoFacts:
        return self.facts.get(ip, GeoFacts())


def context_from_event(row: Mapping[str, Any], geo: RowGeo | None = None) -> RequestContext:
    """The simulator's RequestContext of one event row, with its ASN and country."""
    from botwarden.simulate.events import context_from_event as base

    ctx = base(row)
    asn = row.get("asn") or None
    geo = geo or RowGeo()
    # An address keeps its ASN in a run; record it before the context looks it up.
    geo.facts.setdefault(ctx.client_ip, GeoFacts(asn=asn, country=row.get("country") or None))
    return RequestContext(
        client_ip=ctx.client_ip,
        method=ctx.method,
        host=ctx.host,
        path=ctx.path,
        query=ctx.query,
        scheme=ctx.scheme,
        http_version=ctx.http_version,
        headers=ctx.headers,
        tls=ctx.tls,
        timestamp=ctx.timestamp,
        zone=ctx.zone,
        geoip=geo,
    )


def contexts(table: pa.Table) -> Iterator[tuple[RequestContext, int]]:
    """(context, status) of every row, in table order, for replaying through serving."""
    geo = RowGeo()
    for batch in table.to_batches(max_chunksize=8192):
        for row in batch.to_pylist():
            yield context_from_event(row, geo), int(row.get("status") or 0)


def read_events(paths: Sequence[str | Path], columns: Sequence[str] | None = None) -> pa.Table:
    """Events of one or more Parquet files, concatenated and stably sorted by time."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    tables = []
    for p in paths:
        schema = pq.read_schema(str(p))
        cols = [c for c in (columns or schema.names) if c in schema.names]
        tables.append(pq.read_table(str(p), columns=cols))
    if not tables:
        raise ValueError("no event files given")
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    return sort_by_time(table)


def sort_by_time(table: pa.Table) -> pa.Table:
    ts = table.column("ts")
    if len(ts) < 2:
        return table
    if pc.all(pc.greater_equal(ts.slice(1), ts.slice(0, len(ts) - 1))).as_py():
        return table
    idx = pc.sort_indices(table, sort_keys=[("ts", "ascending")])  # stable
    return table.take(idx)
