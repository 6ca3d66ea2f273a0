"""Labelled events: the simulator's output, one row per request, with ground truth.

Each row carries the truth (`label`, `population`, `subtype`, `sophistication`,
`session_id`, `campaign`, `client`) and every request attribute the scorer reads, named as
the analytics events table names them where the two overlap (`ts`, `zone`, `client_ip`,
`asn`, `country`, `host`, `method`, `path`, `query`, `http_version`, `status`,
`user_agent`, `referer`, `ja3_hash`, `ja4`, `header_fp`), plus `ja3`, `scheme`, `body`
and `headers` (name/value pairs in wire order). `context_from_event()` turns a row into
the RequestContext the scorer takes; `record_from_event()` into a score-input record.

Speed comes from doing per session what can be done per session (client, address, TLS,
compiled header templates) and building columns with numpy and Arrow: the flattened
header list of a whole batch is one gather over template arrays.
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from botwarden.fingerprint.http import header_order_fingerprint
from botwarden.request import RequestContext, TLSInput
from botwarden.simulate.clients import (
    COOKIE,
    LENGTH,
    REFERER,
    Client,
    over_http1,
    without_tls_fingerprint,
)
from botwarden.simulate.network import Address, pool
from botwarden.simulate.populations import Population, pick, pick_client, populations
from botwarden.simulate.scenario import Scenario, Share
from botwarden.simulate.sessions import Session

_DICT = pa.dictionary(pa.int32(), pa.string())
HEADER = pa.struct([("name", pa.string()), ("value", pa.string())])

SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us")),  # UTC, as the analytics events table has it
        ("session_id", pa.int64()),
        ("label", _DICT),
        ("population", _DICT),
        ("subtype", _DICT),
        ("sophistication", pa.int8()),
        ("campaign", _DICT),
        ("client", _DICT),
        ("zone", _DICT),
        ("client_ip", _DICT),
        ("asn", pa.int64()),
        ("country", _DICT),
        ("scheme", _DICT),
        ("host", _DICT),
        ("method", _DICT),
        ("path", pa.string()),
        ("query", pa.string()),
        ("http_version", _DICT),
        ("headers", pa.list_(HEADER)),
        ("user_agent", _DICT),
        ("referer", pa.string()),
        ("ja4", _DICT),
        ("ja3", _DICT),
        ("ja3_hash", _DICT),
        ("header_fp", _DICT),
        ("status", pa.int32()),
        ("body", pa.string()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

_SLOT_CODES = {REFERER: -1, COOKIE: -2, LENGTH: -3}


class _Templates:
    """Every compiled header template, flattened: names and values as dictionary codes,
    request slots as negative codes. Grows as sessions meet new (client, kind, locale)."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.values: dict[str, int] = {}
        self.flat_names: list[int] = []
        self.flat_values: list[int] = []
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.ids: dict[tuple[str, str, str, str, bool, bool], int] = {}
        self.slots: list[tuple[bool, bool, bool]] = []  # has referer, cookie, length slot
        self.name_lists: list[tuple[str, ...]] = []
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def lookup(
        self, client: Client, kind: str, lang: str, host: str, referer: bool, cookie: bool
    ) -> int:
        key = (client.key, kind, lang, host, referer, cookie)
        found = self.ids.get(key)
        if found is not None:
            return found
        template = client.template(kind, lang, host, referer=referer, cookie=cookie)
        tid = self.ids[key] = len(self.starts)
        self.starts.append(len(self.flat_names))
        self.lengths.append(len(template))
        for name, value in template:
            self.flat_names.append(self.names.setdefault(name, len(self.names)))
            code = _SLOT_CODES.get(value)
            if code is None:
                code = self.values.setdefault(value, len(self.values))
            self.flat_values.append(code)
        values = {v for _, v in template}
        self.slots.append((REFERER in values, COOKIE in values, LENGTH in values))
        self.name_lists.append(tuple(n for n, _ in template))
        self._arrays = None
        return tid

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            self._arrays = (
                np.asarray(self.starts, dtype=np.int64),
                np.asarray(self.lengths, dtype=np.int64),
                np.asarray(self.flat_names, dtype=np.int32),
                np.asarray(self.flat_values, dtype=np.int64),
            )
        return self._arrays


@dataclass(frozen=True, slots=True)
class _Identity:
    """What the edge sees of one connection of one session (an IP, a TLS handshake)."""

    session: Session
    address: Address
    ja3: str
    ja3_hash: str


class EventBuffer:
    """Collects requests (from many sessions, in any time order) as Python lists, and
    turns the ones before a time into a sorted Arrow record batch."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.templates = _Templates()
        self.identities: dict[int, _Identity] = {}
        self._next_identity = 0
        self._fp: dict[tuple[int, str], str] = {}
        self._reset()

    def _reset(self) -> None:
        self.e_ident: list[int] = []
        self.e_ts: list[float] = []
        self.e_tpl: list[int] = []
        self.e_method: list[str] = []
        self.e_path: list[str] = []
        self.e_query: list[str] = []
        self.e_referer: list[str] = []
        self.e_cookie: list[str] = []
        self.e_length: list[str] = []
        self.e_status: list[int] = []
        self.e_body: list[str] = []
        self.e_fp: list[str] = []

    def __len__(self) -> int:
        return len(self.e_ts)

    # -- EventSink --------------------------------------------------------------------------

    def identity(self, session: Session, address: Address, ja3: str, ja3_hash: str) -> int:
        ident = self._next_identity
        self._next_identity += 1
        self.identities[ident] = _Identity(session, address, ja3, ja3_hash)
        return ident

    def emit(
        self,
        ident: int,
        session: Session,
        ts: float,
        kind: str,
        method: str,
        path: str,
        query: str,
        referer: str | None,
        credential: str | None,
        body: str,
        status: int,
    ) -> None:
        # Client, locale and host are fixed for a session: cache its templates on it.
        key = (kind, referer is not None, credential is not None)
        entry = session.templates.get(key)
        if entry is None:
            tid = self.templates.lookup(session.client, kind, session.lang, session.host,
                                        key[1], key[2])  # fmt: skip
            entry = session.templates[key] = (tid, *self.templates.slots[tid])
        tid, has_ref, has_cookie, has_len = entry
        self.e_ident.append(ident)
        self.e_ts.append(ts)
        self.e_tpl.append(tid)
        self.e_method.append(method)
        self.e_path.append(path)
        self.e_query.append(query)
        self.e_referer.append(referer if has_ref and referer is not None else "")
        self.e_cookie.append(credential if has_cookie and credential is not None else "")
        self.e_length.append(str(len(body)) if has_len else "")
        self.e_status.append(status)
        self.e_body.append(body)
        fp = self._fp.get((tid, method))
        if fp is None:
            fp = self._fp[(tid, method)] = header_order_fingerprint(
                method, session.client.http_version, self.templates.name_lists[tid]
            )
        self.e_fp.append(fp)

    # -- output ---------------------------------------------------------------------------

    def take_before(self, t: float) -> pa.RecordBatch | None:
        """The buffered events with ts < t, sorted by time (stable), as one batch; the rest
        stay buffered."""
        n = len(self.e_ts)
        if n == 0:
            return None
        ts = np.asarray(self.e_ts, dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        cut = int(np.searchsorted(ts[order], t, side="left"))
        if cut == 0:
            return None
        out_idx, keep_idx = order[:cut].tolist(), order[cut:].tolist()
        lists = (self.e_ident, self.e_ts, self.e_tpl, self.e_method, self.e_path, self.e_query,
                 self.e_referer, self.e_cookie, self.e_length, self.e_status, self.e_body,
                 self.e_fp)  # fmt: skip
        taken = [_gather(col, out_idx) for col in lists]
        kept = [_gather(col, keep_idx) for col in lists]
        (self.e_ident, self.e_ts, self.e_tpl, self.e_method, self.e_path, self.e_query,
         self.e_referer, self.e_cookie, self.e_length, self.e_status, self.e_body,
         self.e_fp) = kept  # fmt: skip
        batch = self._batch(*taken)
        # Sessions run to completion when started, so an identity no buffered event refers
        # to will never be needed again: forget it (a day of traffic has millions).
        alive = set(self.e_ident)
        for ident in [i for i in self.identities if i not in alive]:
            del self.identities[ident]
        return batch

    def drop_after(self, t: float) -> None:
        """Forget buffered events at or after t (past the end of the run)."""
        keep = [i for i, ts in enumerate(self.e_ts) if ts < t]
        if len(keep) == len(self.e_ts):
            return
        for name in ("e_ident", "e_ts", "e_tpl", "e_method", "e_path", "e_query", "e_referer",
                     "e_cookie", "e_length", "e_status", "e_body", "e_fp"):  # fmt: skip
            setattr(self, name, _gather(getattr(self, name), keep))

    def _batch(
        self,
        ident: list[Any],
        ts: list[Any],
        tpl: list[Any],
        method: list[Any],
        path: list[Any],
        query: list[Any],
        referer: list[Any],
        cookie: list[Any],
        length: list[Any],
        status: list[Any],
        body: list[Any],
        fp: list[Any],
    ) -> pa.RecordBatch:
        n = len(ts)
        ident_arr = np.asarray(ident, dtype=np.int64)
        # Per-identity columns: a batch-local dictionary in first-seen order.
        used, local = np.unique(ident_arr, return_inverse=True)
        ids = [self.identities[i] for i in used.tolist()]
        sess = [x.session for x in ids]

        def per_identity(values: list[str]) -> pa.DictionaryArray:
            codes: dict[str, int] = {}
            idx = np.fromiter((codes.setdefault(v, len(codes)) for v in values), np.int32,
                              len(values))  # fmt: skip
            return pa.DictionaryArray.from_arrays(
                pa.array(idx[local], pa.int32()), pa.array(list(codes), pa.string())
            )

        micros = np.rint(np.asarray(ts, dtype=np.float64) * 1e6).astype(np.int64)
        columns: dict[str, pa.Array] = {
            "ts": pa.array(micros, pa.int64()).cast(pa.timestamp("us")),
            "session_id": pa.array(np.asarray([s.session_id for s in sess], np.int64)[local]),
            "label": per_identity([s.label for s in sess]),
            "population": per_identity([s.population for s in sess]),
            "subtype": per_identity([s.subtype for s in sess]),
            "sophistication": pa.array(np.asarray([s.level for s in sess], np.int8)[local]),
            "campaign": per_identity([s.campaign for s in sess]),
            "client": per_identity([s.client.key for s in sess]),
            "zone": per_identity([self.zone] * len(sess)),
            "client_ip": per_identity([x.address.ip for x in ids]),
            "asn": pa.array(np.asarray([x.address.asn for x in ids], np.int64)[local]),
            "country": per_identity([x.address.country for x in ids]),
            "scheme": per_identity(["https"] * len(sess)),
            "host": per_identity([s.host for s in sess]),
            "method": _dict_of(method),
            "path": pa.array(path, pa.string()),
            "query": pa.array(query, pa.string()),
            "http_version": per_identity([s.client.http_version for s in sess]),
            "headers": self._headers(np.asarray(tpl, dtype=np.int64), referer, cookie, length),
            "user_agent": per_identity([s.client.ua for s in sess]),
            "referer": pa.array(referer, pa.string()),
            "ja4": per_identity([s.client.tls.ja4 if s.client.tls else "" for s in sess]),
            "ja3": per_identity([x.ja3 for x in ids]),
            "ja3_hash": per_identity([x.ja3_hash for x in ids]),
            "header_fp": _dict_of(fp),
            "status": pa.array(np.asarray(status, dtype=np.int32)),
            "body": pa.array(body, pa.string()),
        }
        assert len(columns) == len(COLUMNS)
        assert all(len(a) == n for a in columns.values())
        return pa.RecordBatch.from_arrays([columns[c] for c in COLUMNS], schema=SCHEMA)

    def _headers(
        self, tpl: np.ndarray, referer: list[str], cookie: list[str], length: list[str]
    ) -> pa.ListArray:
        starts, lengths, flat_names, flat_values = self.templates.arrays()
        n = len(tpl)
        counts = lengths[tpl]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        event = np.repeat(np.arange(n, dtype=np.int64), counts)
        flat = starts[tpl][event] + (np.arange(total, dtype=np.int64) - offsets[event])
        names = flat_names[flat]
        values = flat_values[flat].copy()
        static = len(self.templates.values)
        # Request slots point past the static values, into this batch's dynamic strings.
        for code, base in ((-1, static), (-2, static + n), (-3, static + 2 * n)):
            mask = values == code
            values[mask] = base + event[mask]
        dictionary = pa.array(list(self.templates.values) + referer + cookie + length, pa.string())
        name_dict = pa.array(list(self.templates.names), pa.string())
        struct = pa.StructArray.from_arrays(
            [name_dict.take(pa.array(names)), dictionary.take(pa.array(values))],
            fields=list(HEADER),
        )
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), struct)


def _gather(col: list[Any], idx: list[int]) -> list[Any]:
    if not idx:
        return []
    if len(idx) == 1:
        return [col[idx[0]]]
    return list(operator.itemgetter(*idx)(col))


def _dict_of(values: list[str]) -> pa.DictionaryArray:
    codes: dict[str, int] = {}
    idx = np.fromiter((codes.setdefault(v, len(codes)) for v in values), np.int32, len(values))
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(list(codes)))


# -- the generator ------------------------------------------------------------------------------

# Shares of sessions seen through each kind of deployment (clients.py, "deployments"): the
# model must not learn where Botwarden runs, so its training data covers every kind. (The
# events keep the true ASN and country: training blanks them for a share of sessions, as
# an edge without an MMDB sees them.)
HTTP1_SHARE = 0.5
"""Sessions whose client talks to an HTTP/1.1-only server (Botwarden's own edge)."""
NO_TLS_FINGERPRINT_SHARE = 0.1
"""Sessions scored without a TLS fingerprint (TLS ended at a proxy that does not pass it)."""


@dataclass(slots=True)
class _Stream:
    """A source of sessions: one population of the base mix, or one campaign."""

    population: Population
    campaign: str
    levels: Mapping[int, float] | None
    start: float  # seconds from the run's start
    end: float
    rps: float  # requests per second while active (before the diurnal factor)
    diurnal: bool
    addresses: list[Address] | None
    network: str | None
    debt: float = 0.0


class Generator:
    """Turns a scenario into time-ordered record batches, deterministically per seed.

    Requests are budgeted per stream: each simulated window adds `rate × window` requests
    of debt, and sessions are started (at uniform times in the window) until the debt is
    paid; a session's requests then land where its own timeline puts them.
    """

    def __init__(self, scenario: Scenario, *, seed: int = 0, window: float | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.pops = populations()
        self.buffer = EventBuffer(zone=scenario.host)
        self.window = window or min(600.0, max(5.0, 40_000.0 / max(scenario.rps, 1.0)))
        self.sessions = 0
        self.events = 0

    def _streams_for(self, mix: tuple[Share, ...]) -> list[_Stream]:
        total = sum(s.share for s in mix) or 1.0
        out = []
        for share in mix:
            pop = self.pops[share.population]
            out.append(
                _Stream(
                    pop,
                    "",
                    share.levels,
                    0.0,
                    self.scenario.duration,
                    self.scenario.rps * share.share / total,
                    pop.label == "human",
                    self._shared(pop),
                    None,
                )
            )
        return out

    def _shared(self, pop: Population) -> list[Address] | None:
        if not pop.shared_addresses:
            return None
        actor = pick(self.rng, next(iter(pop.actors.values())))
        return pool(actor.network).sample(self.rng, pop.shared_addresses)

    def _campaign_streams(self) -> list[_Stream]:
        out = []
        for c in self.scenario.campaigns:
            pop = self.pops[c.population]
            addresses = None
            if c.ips:
                network = c.network or pick(self.rng, _actors_at(pop, pop.levels)).network
                addresses = pool(network).sample(self.rng, c.ips)
            out.append(
                _Stream(
                    pop,
                    c.name,
                    c.levels,
                    c.start,
                    min(c.start + c.duration, self.scenario.duration),
                    c.rps,
                    False,
                    addresses,
                    c.network,
                )
            )
        return out

    def _diurnal(self, t: float) -> float:
        a = self.scenario.diurnal
        if not a:
            return 1.0
        hour = ((self.scenario.start + t) % 86400.0) / 3600.0
        return 1.0 + a * math.cos(2 * math.pi * (hour - 20.0) / 24.0)  # peak at 20:00 UTC

    def batches(self, max_rows: int = 131_072) -> Iterator[pa.RecordBatch]:
        sc = self.scenario
        duration = sc.duration
        phases = list(sc.phases)
        base: list[_Stream] = []
        campaigns = self._campaign_streams()
        t = 0.0
        phase_i = 0
        while t < duration:
            w_end = min(t + self.window, duration)
            while phase_i < len(phases) and phases[phase_i].at <= t:
                base = self._streams_for(phases[phase_i].mix)
                phase_i += 1
            if phase_i < len(phases):
                w_end = min(w_end, phases[phase_i].at)  # a window never spans a phase change
            for stream in base + campaigns:
                self._fill(stream, t, w_end)
            batch = self.buffer.take_before(sc.start + w_end)
            if batch is not None:
                yield from _split(batch, max_rows)
            t = w_end
        self.buffer.drop_after(sc.start + duration)
        batch = self.buffer.take_before(sc.start + duration)
        if batch is not None:
            yield from _split(batch, max_rows)

    def _fill(self, stream: _Stream, t0: float, t1: float) -> None:
        lo, hi = max(t0, stream.start), min(t1, stream.end)
        if hi <= lo or stream.rps <= 0:
            return
        rate = stream.rps * (self._diurnal((lo + hi) / 2) if stream.diurnal else 1.0)
        stream.debt += rate * (hi - lo)
        rng = self.rng
        while stream.debt > 0:
            before = len(self.buffer)
            session = self._session(stream, rng.uniform(lo, hi))
            stream.population.behaviour(session)
            stream.debt -= max(len(self.buffer) - before, 1)
            self.sessions += 1

    def _session(self, stream: _Stream, start: float) -> Session:
        rng = self.rng
        pop = stream.population
        levels = stream.levels or pop.levels
        level = _draw_level(rng, levels)
        actor = pick(rng, pop.actors[level])
        if stream.network is not None and not stream.addresses:
            actor = replace(actor, network=stream.network)
        client = pick_client(rng, actor.clients)
        if rng.random() < HTTP1_SHARE:
            client = over_http1(client)
        if rng.random() < NO_TLS_FINGERPRINT_SHARE:
            client = without_tls_fingerprint(client)
        return Session(
            sink=self.buffer,
            rng=rng,
            session_id=self.sessions + 1,
            population=pop.name,
            label=pop.label,
            subtype=pop.subtype,
            level=level,
            campaign=stream.campaign,
            actor=actor,
            client=client,
            pool=pool(actor.network),
            addresses=stream.addresses,
            host=self.scenario.host,
            start=self.scenario.start + start,
            end=self.scenario.start + min(stream.end, self.scenario.duration),
        )


def _actors_at(pop: Population, levels: Mapping[int, float]) -> Any:
    level = max(levels, key=lambda k: levels[k])
    return pop.actors[level]


def _draw_level(rng: random.Random, levels: Mapping[int, float]) -> int:
    x = rng.random() * sum(levels.values())
    for level, w in sorted(levels.items()):
        x -= w
        if x < 0:
            return level
    return max(levels)


def _split(batch: pa.RecordBatch, max_rows: int) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, max_rows):
        yield batch.slice(offset, max_rows)


# -- files ---------------------------------------------------------------------------------------


def write_parquet(
    scenario: Scenario, path: str | Path, *, seed: int = 0, max_rows: int = 131_072
) -> int:
    """Generate the scenario into a Parquet file (zstd, one row group per batch); returns
    the number of events. Same scenario and seed → byte-identical file."""
    gen = Generator(scenario, seed=seed)
    rows = 0
    with pq.ParquetWriter(
        str(path), SCHEMA, compression="zstd", write_statistics=["ts"], version="2.6"
    ) as writer:
        for batch in gen.batches(max_rows):
            writer.write_batch(batch, row_group_size=max_rows)
            rows += batch.num_rows
    return rows


# -- rows → what the scorer takes -----------------------------------------------------------


def _headers_of(raw: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list | tuple):
        return ()
    out = []
    for h in raw:
        if isinstance(h, Mapping):
            out.append((str(h["name"]), str(h["value"])))
        else:
            name, value = h
            out.append((str(name), str(value)))
    return tuple(out)


def _ts_of(raw: object) -> float:
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=UTC)).timestamp()
    return float(raw)  # type: ignore[arg-type]


def _offered(ja4: str | None) -> tuple[str, ...]:
    """The ALPN list a client offered, as far as its JA4 tells (first protocol): what a
    client offers is its own property; the version it then speaks is the server's pick."""
    first = ja4[8:10] if ja4 and len(ja4) >= 10 else "00"
    return {"h2": ("h2", "http/1.1"), "h1": ("http/1.1",), "h3": ("h3",)}.get(first, ())


def context_from_event(row: Mapping[str, Any]) -> RequestContext:
    """The RequestContext of one event row (a dict from `Table.to_pylist()`, or DuckDB)."""
    ja4 = row.get("ja4") or None
    ja3 = row.get("ja3") or None
    ja3_hash = row.get("ja3_hash") or None
    host = row.get("host") or ""
    tls = None
    if row.get("scheme", "https") == "https":
        tls = TLSInput(ja3=ja3, ja3_hash=ja3_hash, ja4=ja4, sni=host or None, alpn=_offered(ja4))
    return RequestContext(
        client_ip=row["client_ip"],
        method=row.get("method") or "GET",
        host=host,
        path=row.get("path") or "/",
        query=row.get("query") or "",
        scheme=row.get("scheme") or "https",
        http_version=row.get("http_version") or "1.1",
        headers=_headers_of(row.get("headers")),
        tls=tls,
        timestamp=_ts_of(row["ts"]),
        zone=row.get("zone") or None,
    )


def record_from_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """A score-input record (docs/score-input.md) of one event row."""
    url = f"{row.get('scheme') or 'https'}://{row['host']}{row['path']}"
    if row.get("query"):
        url += f"?{row['query']}"
    record: dict[str, Any] = {
        "ip": row["client_ip"],
        "method": row["method"],
        "url": url,
        "http_version": row["http_version"],
        "headers": [list(h) for h in _headers_of(row.get("headers"))],
        "ts": _ts_of(row["ts"]),
        "zone": row.get("zone") or None,
        "id": f"{row['session_id']}",
    }
    tls = {k: row[k] for k in ("ja4", "ja3", "ja3_hash") if row.get(k)}
    if tls:
        record["tls"] = tls
    return record


def read_events(path: str | Path) -> pa.Table:
    return pq.read_table(str(path))


__all__ = [
    "COLUMNS",
    "SCHEMA",
    "EventBuffer",
    "Generator",
    "context_from_event",
    "read_events",
    "record_from_event",
    "write_parquet",
]
