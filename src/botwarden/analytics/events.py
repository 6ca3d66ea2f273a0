"""The analytics event: one request, its BotManagement result and what the edge did with it.

Versioned (`SCHEMA_VERSION`). The request path builds an `Event` (a plain tuple) and hands it
to the writer; everything else — the derived columns, privacy, sequence numbers, Arrow
encoding — happens off the request path, in `finish()`, once per batch and vectorised.

Column names and types of the fields the rules language reads are those of
`botwarden.testing.events_table` (a test checks it), so a compiled rule filter runs as is on
the stored table.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from botwarden.analytics.privacy import FULL, Privacy
from botwarden.result import Grouping, ScoreSource

if TYPE_CHECKING:
    from botwarden.request import RequestContext
    from botwarden.result import BotManagement

SCHEMA_VERSION = 1

FEEDBACK_SOURCE_NAMES: dict[str, str] = {
    ScoreSource.HEURISTICS: "heuristics",
    ScoreSource.MACHINE_LEARNING: "machine_learning",
    ScoreSource.BEHAVIORAL_ANALYSIS: "behavioral_analysis",
    ScoreSource.JS_FINGERPRINTING: "js_fingerprinting",
    ScoreSource.VERIFIED_BOT: "verified_bot",
}
"""Score sources as the Feedback API names them (`requests_by_score_src` keys)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    duckdb: str
    clickhouse: str
    arrow: pa.DataType
    derived: bool = False
    """Filled by `finish()` from other columns, not by whoever builds the event."""


_S = pa.string()
_TS = pa.timestamp("us")

COLUMNS: tuple[Column, ...] = (
    Column("ts", "TIMESTAMP NOT NULL", "DateTime64(6, 'UTC')", _TS),
    Column("zone", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("zone_key", "BIGINT NOT NULL DEFAULT 0", "Int64", pa.int64(), derived=True),
    Column("request_id", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("client_ip", "VARCHAR NOT NULL", "String", _S),
    Column("ip_key", "VARCHAR NOT NULL", "String", _S, derived=True),
    Column("asn", "BIGINT NOT NULL DEFAULT 0", "Int64", pa.int64()),
    Column("country", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("continent", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("host", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("method", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("path", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("query", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("http_version", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("status", "INTEGER", "Nullable(Int32)", pa.int32()),
    Column("user_agent", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("referer", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("ja3_hash", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("ja4", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("header_fp", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("score", "INTEGER NOT NULL DEFAULT 0", "Int32", pa.int32()),
    Column("score_src", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("grouping", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S, derived=True),
    Column("verified_bot", "BOOLEAN NOT NULL DEFAULT false", "Bool", pa.bool_()),
    Column("verified_bot_name", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("verified_bot_category", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("js_detection", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column(
        "js_detection_passed", "BOOLEAN NOT NULL DEFAULT false", "Bool", pa.bool_(), derived=True
    ),
    Column("static_resource", "BOOLEAN NOT NULL DEFAULT false", "Bool", pa.bool_()),
    Column("detection_ids", "BIGINT[] NOT NULL DEFAULT []", "Array(Int64)", pa.list_(pa.int64())),
    Column("corporate_proxy", "BOOLEAN NOT NULL DEFAULT false", "Bool", pa.bool_()),
    Column("action", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("rule_id", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("model_version", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S),
    Column("features", "FLOAT[] NOT NULL DEFAULT []", "Array(Float32)", pa.list_(pa.float32())),
    Column("session_id", "VARCHAR NOT NULL DEFAULT ''", "String", _S),
    Column("response_bytes", "BIGINT NOT NULL DEFAULT 0", "Int64", pa.int64()),
    Column("edge_latency_us", "BIGINT NOT NULL DEFAULT 0", "Int64", pa.int64()),
    Column("spool_id", "VARCHAR NOT NULL DEFAULT ''", "LowCardinality(String)", _S, derived=True),
    Column("seq", "BIGINT NOT NULL DEFAULT 0", "Int64", pa.int64(), derived=True),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.arrow, nullable=c.name == "status") for c in COLUMNS],
    metadata={"botwarden.schema_version": str(SCHEMA_VERSION)},
)
"""The Arrow schema of a finished batch: what the spool holds and backends insert."""


class Event(NamedTuple):
    """One request as the request path records it. Build it, hand it to `Writer.append`.

    `ts` is seconds since the epoch; `session_id` is the raw id (hashed before it is
    stored); `features` is the vector the model saw (empty when no model ran)."""

    ts: float
    client_ip: str
    zone: str = ""
    request_id: str = ""
    asn: int = 0
    country: str = ""
    continent: str = ""
    host: str = ""
    method: str = "GET"
    path: str = "/"
    query: str = ""
    http_version: str = "1.1"
    status: int | None = None
    user_agent: str = ""
    referer: str = ""
    ja3_hash: str = ""
    ja4: str = ""
    header_fp: str = ""
    score: int = 0
    score_src: str = ScoreSource.NOT_COMPUTED.value
    verified_bot: bool = False
    verified_bot_name: str = ""
    verified_bot_category: str = ""
    js_detection: str = "missing"
    static_resource: bool = False
    detection_ids: Sequence[int] = ()
    corporate_proxy: bool = False
    action: str = ""
    rule_id: str = ""
    model_version: str = ""
    features: Sequence[float] = ()
    session_id: str = ""
    response_bytes: int = 0
    edge_latency_us: int = 0


EVENT_FIELDS: tuple[str, ...] = Event._fields
assert EVENT_FIELDS[0] == "ts"
INPUT_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if not c.derived)
assert set(EVENT_FIELDS) == {c.name for c in INPUT_COLUMNS}, "Event and COLUMNS disagree"
_EVENT_DEFAULTS: dict[str, object] = dict(Event._field_defaults)


def event_from_request(
    ctx: RequestContext,
    bm: BotManagement,
    *,
    status: int | None = None,
    action: str = "",
    rule_id: str = "",
    features: Sequence[float] = (),
    session_id: str = "",
    response_bytes: int = 0,
    edge_latency_us: int = 0,
) -> Event:
    """The event of one request and its result (reads the context's lazy fields, so call it
    off the request path when you can: `Writer.append_request` does)."""
    geo = ctx.geo
    return Event(
        ts=ctx.timestamp,
        client_ip=ctx.client_ip,
        zone=ctx.zone or "",
        request_id=ctx.request_id or "",
        asn=geo.asn or 0,
        country=geo.country or "",
        continent=geo.continent or "",
        host=ctx.host,
        method=ctx.method,
        path=ctx.path,
        query=ctx.query,
        http_version=ctx.http_version,
        status=status,
        user_agent=ctx.user_agent,
        referer=ctx.referer,
        ja3_hash=bm.ja3_hash or "",
        ja4=bm.ja4 or "",
        header_fp=ctx.header_order_fp,
        score=bm.score,
        score_src=str(bm.score_src),
        verified_bot=bm.verified_bot,
        verified_bot_name=bm.verified_bot_name or "",
        verified_bot_category=bm.verified_bot_category or "",
        js_detection=str(bm.js_detection),
        static_resource=bm.static_resource,
        detection_ids=tuple(bm.detection_ids),
        corporate_proxy=bm.corporate_proxy,
        action=action,
        rule_id=rule_id,
        model_version=bm.model_version or "",
        features=tuple(features),
        session_id=session_id,
        response_bytes=response_bytes,
        edge_latency_us=edge_latency_us,
    )


_ROW_TYPE = pa.struct(
    [pa.field(n, pa.float64() if n == "ts" else BY_NAME[n].arrow) for n in EVENT_FIELDS]
)


def events_to_arrow(events: Sequence[Event]) -> pa.Table:
    """Input columns of a batch of events. Arrow converts the tuples row by row in C++
    (about three times faster than transposing them in Python first)."""
    if not events:
        return pa.table({c.name: pa.array([], c.arrow) for c in INPUT_COLUMNS})
    table = pa.Table.from_struct_array(pa.array(events, type=_ROW_TYPE))
    micros = pc.cast(pc.round(pc.multiply(table.column("ts"), 1e6)), pa.int64())
    return table.set_column(0, "ts", pc.cast(micros, _TS))


def records_to_arrow(records: Iterable[Mapping[str, object]]) -> pa.Table:
    """Input columns from dicts (tests, imports of small JSON files). Missing keys take the
    `Event` defaults; `ts` may be epoch seconds or a datetime."""
    events = []
    for r in records:
        values = {k: r[k] for k in EVENT_FIELDS if k in r}
        ts = values.get("ts")
        if isinstance(ts, datetime):
            values["ts"] = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
        events.append(Event(**values))  # type: ignore[arg-type]
    return events_to_arrow(events)


# -- finishing a batch: derived columns, privacy, sequence numbers -----------------------


def _ip_pair(raw: str, privacy: Privacy) -> tuple[str, str]:
    """(client_ip as stored, ip_key). Unparsable text is kept (so it is visible) with an
    empty key that no IP filter matches."""
    if privacy.ip_mode == "full":
        parts = raw.split(".")
        if len(parts) == 4 and all(
            p.isdigit() and len(p) <= 3 and (len(p) == 1 or p[0] != "0") for p in parts
        ):
            a, b, c, d = (int(p) for p in parts)
            if a < 256 and b < 256 and c < 256 and d < 256:
                return f"{a}.{b}.{c}.{d}", f"4{a:02x}{b:02x}{c:02x}{d:02x}"
    try:
        ip = ipaddress.ip_address(raw.strip())
    except ValueError:
        return privacy.pseudonym(raw), ""
    return privacy.address(ip)


class AddressCache:
    """Remembers `_ip_pair` per address across batches (clients repeat), up to `size`."""

    def __init__(self, privacy: Privacy, size: int = 262_144) -> None:
        self.privacy = privacy
        self.size = size
        self._map: dict[str, tuple[str, str]] = {}

    def __call__(self, raw: str) -> tuple[str, str]:
        hit = self._map.get(raw)
        if hit is None:
            if len(self._map) >= self.size:
                self._map.clear()
            hit = self._map[raw] = _ip_pair(raw, self.privacy)
        return hit


def _map_unique(
    arr: pa.Array | pa.ChunkedArray,
    fn: Callable[[str], tuple[object, ...]],
    types: Sequence[pa.DataType],
) -> list[pa.Array]:
    """Apply a Python function to each distinct string only (IPs and session ids repeat)."""
    enc = _encode(arr)
    uniques = enc.dictionary.to_pylist()
    results = [fn(u) for u in uniques]
    outs = []
    for k, type_ in enumerate(types):
        dictionary = pa.array([r[k] for r in results], type_)
        outs.append(pc.take(dictionary, enc.indices))
    return outs


def _encode(arr: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    enc = pc.dictionary_encode(arr)
    return enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _addresses(
    arr: pa.Array | pa.ChunkedArray, addresses: AddressCache
) -> tuple[pa.Array, pa.Array]:
    """(client_ip as stored, ip_key) of a column. Canonical IPv4 text kept in full — nearly
    all traffic — is keyed in bulk with Arrow and numpy; the rest goes through Python once
    per distinct address."""
    enc = _encode(arr)
    uniques = enc.dictionary
    text = uniques
    keys = pa.nulls(len(uniques), pa.string())
    v4 = pc.match_substring_regex(uniques, _CANONICAL_V4)
    if addresses.privacy.ip_mode == "full" and pc.any(v4).as_py():
        quads = pc.split_pattern(pc.filter(uniques, v4), ".")
        octets = pc.cast(pc.list_flatten(quads), pa.uint32()).to_numpy().reshape(-1, 4)
        n = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
        nibbles = (n[:, None] >> np.arange(28, -4, -4, dtype=np.uint32)) & 0xF
        buf = np.empty((len(n), 9), dtype=np.uint8)
        buf[:, 0] = ord("4")
        buf[:, 1:] = _HEX_DIGITS[nibbles]
        v4_keys = pa.array(buf.view("S9").ravel(), pa.binary(9)).cast(pa.string())
        keys = pc.replace_with_mask(keys, v4, v4_keys)
        # The others' positions (`setdiff1d` sorted every position: ~6 ms a batch).
        rest = np.flatnonzero(~np.asarray(v4.to_numpy(zero_copy_only=False), dtype=bool))
    else:
        rest = np.arange(len(uniques))
    if len(rest):
        others = [addresses(u) for u in pc.take(uniques, pa.array(rest)).to_pylist()]
        mask = np.zeros(len(uniques), dtype=bool)
        mask[rest] = True
        mask_arr = pa.array(mask)
        text = pc.replace_with_mask(text, mask_arr, pa.array([o[0] for o in others], pa.string()))
        keys = pc.replace_with_mask(keys, mask_arr, pa.array([o[1] for o in others], pa.string()))
    return pc.take(text, enc.indices), pc.take(keys, enc.indices)


def zone_key(zone: str) -> int:
    """A stable signed 64-bit key of a zone name (BLAKE2b), for cheap zone filters."""
    digest = hashlib.blake2b(zone.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _grouping(score: pa.Array | pa.ChunkedArray, verified: pa.Array | pa.ChunkedArray) -> pa.Array:
    s = np.asarray(score.to_numpy(zero_copy_only=False), dtype=np.int64)
    v = np.asarray(verified.to_numpy(zero_copy_only=False), dtype=bool)
    names = [g.value for g in Grouping]
    idx = np.select(
        [v, s <= 0, s == 1, s < 30],
        [
            names.index(Grouping.VERIFIED_BOT),
            names.index(Grouping.NOT_COMPUTED),
            names.index(Grouping.AUTOMATED),
            names.index(Grouping.LIKELY_AUTOMATED),
        ],
        names.index(Grouping.LIKELY_HUMAN),
    ).astype(np.int32)
    out: pa.Array = pc.take(pa.array(names, pa.string()), pa.array(idx))
    return out


def finish(
    table: pa.Table,
    *,
    spool_id: str,
    first_seq: int,
    privacy: Privacy = FULL,
    addresses: AddressCache | None = None,
) -> pa.Table:
    """A batch of input columns → the stored form (`SCHEMA`): addresses normalised (or
    truncated / pseudonymised), `ip_key`, `grouping`, `js_detection_passed`, session ids
    hashed, and each row numbered `first_seq, first_seq + 1, …` within `spool_id`."""
    n = table.num_rows
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for c in INPUT_COLUMNS:
        if c.name in table.column_names:
            arr = table.column(c.name)
            if arr.type != c.arrow:
                arr = arr.cast(c.arrow)
            if arr.null_count and c.name != "status":
                default = _EVENT_DEFAULTS.get(c.name)
                fill = list(default) if isinstance(default, tuple) else default
                arr = pc.fill_null(arr, pa.scalar(fill, c.arrow))
        elif c.name in _EVENT_DEFAULTS:
            default = _EVENT_DEFAULTS[c.name]
            value = list(default) if isinstance(default, tuple) else default
            arr = pa.array([value] * n, c.arrow)
        else:
            raise ValueError(f"an event batch needs the column {c.name!r}")
        cols[c.name] = arr
    if addresses is None or addresses.privacy != privacy:
        addresses = AddressCache(privacy)
    ip_text_arr, key_arr = _addresses(cols["client_ip"], addresses)
    cols["client_ip"] = ip_text_arr
    cols["ip_key"] = key_arr
    cols["session_id"] = _map_unique(
        cols["session_id"], lambda s: (privacy.session(s),), (pa.string(),)
    )[0]
    cols["zone_key"] = _map_unique(cols["zone"], lambda s: (zone_key(s),), (pa.int64(),))[0]
    cols["grouping"] = _grouping(cols["score"], cols["verified_bot"])
    cols["js_detection_passed"] = pc.equal(cols["js_detection"], "passed")
    cols["spool_id"] = pa.repeat(pa.scalar(spool_id, pa.string()), n)
    cols["seq"] = pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64))
    return pa.Table.from_arrays([cols[c.name] for c in COLUMNS], schema=SCHEMA)


def utc(ts: float) -> datetime:
    """Epoch seconds → naive UTC datetime (what DuckDB TIMESTAMP and the queries use)."""
    return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None)
