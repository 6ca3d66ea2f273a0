"""The queries behind Bot Analytics and the feedback form. Each takes a backend, a window
(zone and time range) and an optional rules-language filter, and returns plain data.

    w = Window("shop.example", since, until)
    totals(backend, w, "http.user_agent contains \\"curl\\"")   # {"automated": 12, …}
    feedback_summary(backend, w, 'cf.bot_management.score le 46 and ip.src.asnum eq 132892')

SQL is written once per dialect where they differ. Every value from a user is a bound
parameter; only integers the code itself produced (limits, bucket widths, the hash keys a
previous query returned) are written into the text, after `int()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botwarden.analytics.base import Sql, in_list
from botwarden.analytics.events import FEEDBACK_SOURCE_NAMES, zone_key
from botwarden.analytics.filters import Filter, compile_filter
from botwarden.result import Grouping, ScoreSource

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend, Row

GROUPINGS: tuple[str, ...] = tuple(g.value for g in Grouping)
SCORE_SOURCES: tuple[str, ...] = tuple(s.value for s in ScoreSource)

ATTRIBUTES: dict[str, str] = {
    "ip": "client_ip",
    "user_agent": "user_agent",
    "asn": "asn",
    "country": "country",
    "host": "host",
    "path": "path",
    "ja3": "ja3_hash",
    "ja4": "ja4",
    "detection_id": "detection_ids",
    "verified_bot_category": "verified_bot_category",
}
"""Top-N attributes: name → column."""

FEEDBACK_ATTRIBUTES: dict[str, str] = {
    "topIPs": "ip",
    "topUserAgents": "user_agent",
    "topASNs": "asn",
    "topCountries": "country",
    "topHosts": "host",
    "topPaths": "path",
    "topJA3Hashes": "ja3",
    "topJA4s": "ja4",
}
"""`requests_by_attribute` keys of the Feedback API → attributes."""

INTERVALS: tuple[tuple[timedelta, int], ...] = (
    (timedelta(hours=1), 60),
    (timedelta(hours=6), 300),
    (timedelta(hours=24), 900),
    (timedelta(days=3), 3600),
    (timedelta(days=7), 3 * 3600),
    (timedelta(days=14), 6 * 3600),
    (timedelta(days=62), 86400),
)
"""Time-series bucket by range: at most about a hundred points whatever the range."""

SAMPLE_COLUMNS: tuple[str, ...] = (
    "ts",
    "zone",
    "request_id",
    "client_ip",
    "asn",
    "country",
    "host",
    "method",
    "path",
    "query",
    "http_version",
    "status",
    "user_agent",
    "ja3_hash",
    "ja4",
    "score",
    "score_src",
    "grouping",
    "verified_bot",
    "verified_bot_category",
    "js_detection",
    "static_resource",
    "detection_ids",
    "action",
    "rule_id",
    "model_version",
)


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


@dataclass(frozen=True, slots=True)
class Window:
    """A zone (None: every zone) and a half-open time range [since, until), in UTC."""

    zone: str | None
    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _naive_utc(self.since))
        object.__setattr__(self, "until", _naive_utc(self.until))
        if self.until <= self.since:
            raise ValueError("the window must end after it starts")

    @classmethod
    def last(cls, zone: str | None, span: timedelta, now: datetime | None = None) -> Window:
        end = _naive_utc(now) if now else datetime.now(UTC).replace(tzinfo=None)
        return cls(zone, end - span, end)


FilterArg = str | Filter | None


class _Query:
    """The WHERE clause of one query: window, scored-only (for feedback) and filter."""

    def __init__(self, backend: Backend, window: Window, flt: FilterArg) -> None:
        self.backend = backend
        self.dialect = backend.dialect
        self.ch = self.dialect == "clickhouse"
        if isinstance(flt, str) or flt is None:
            flt = compile_filter(flt, self.dialect)
        elif flt.dialect != self.dialect:
            raise ValueError(f"a {flt.dialect} filter cannot run on {backend.name}")
        if flt is not None:
            flt = flt.with_dictionaries(getattr(backend, "dictionaries", {}))
        self.filter = flt
        self.q = Sql(self.dialect, flt.params if flt else None)
        parts = []
        if window.zone is not None:
            if self.ch:  # the primary key starts with zone
                parts.append(f"zone = {self.q(window.zone, 'String')}")
            else:  # an integer compares much faster than a string in DuckDB
                parts.append(f"zone_key = {self.q(zone_key(window.zone), 'Int64')}")
        parts.append(f"ts >= {self.q(window.since, 'DateTime64(6)')}")
        parts.append(f"ts < {self.q(window.until, 'DateTime64(6)')}")
        if flt is not None:
            parts.append(f"({flt.sql})")
        self.where = " AND ".join(parts)
        self.table = backend.table

    def scored_only(self) -> None:
        """Restrict to requests with a score and a source the Feedback API can name."""
        names = [str(s) for s in FEEDBACK_SOURCE_NAMES]
        if self.ch:
            self.where += f" AND score BETWEEN 1 AND 99 AND score_src IN {in_list(names)}"
            return
        # DuckDB turns an IN list of five or more constants into a join run on every row of
        # the window before the filter; short lists OR-ed together stay a filter it pushes
        # into the scan (the join was ~15% of the feedback summary's CPU on 10M events).
        short = " OR ".join(
            f"score_src IN {in_list(names[i : i + 3])}" for i in range(0, len(names), 3)
        )
        self.where += f" AND score BETWEEN 1 AND 99 AND ({short})"

    def run(self, sql: str) -> list[Row]:
        if self.filter is not None and self.filter.lookups:
            query: Any = self.backend.query  # DuckDBBackend.query: lookups
            rows: list[Row] = query(sql, self.q.params, self.filter.lookups)
            return rows
        return self.backend.query(sql, self.q.params)


def _as_int(value: Any) -> int:
    return int(value) if value is not None else 0


# -- totals, histogram, sources ----------------------------------------------------------


def totals(backend: Backend, window: Window, flt: FilterArg = None) -> dict[str, int]:
    """Requests per grouping (automated, likely_automated, likely_human, verified_bot,
    not_computed) and their `total`."""
    q = _Query(backend, window, flt)
    rows = q.run(f"SELECT grouping, count(*) FROM {q.table} WHERE {q.where} GROUP BY grouping")
    out = dict.fromkeys(GROUPINGS, 0)
    for g, n in rows:
        out[str(g)] = out.get(str(g), 0) + _as_int(n)
    out["total"] = sum(out[g] for g in GROUPINGS)
    return out


def histogram(backend: Backend, window: Window, flt: FilterArg = None) -> dict[int, int]:
    """Requests per score, 1..99 (every score present, zero when none)."""
    q = _Query(backend, window, flt)
    rows = q.run(
        f"SELECT score, count(*) FROM {q.table} WHERE {q.where} AND score BETWEEN 1 AND 99 "
        "GROUP BY score"
    )
    out = dict.fromkeys(range(1, 100), 0)
    for score, n in rows:
        out[int(score)] = _as_int(n)
    return out


def by_score_source(backend: Backend, window: Window, flt: FilterArg = None) -> dict[str, int]:
    """Requests per score source, by Cloudflare's names ("Machine Learning", …)."""
    q = _Query(backend, window, flt)
    rows = q.run(f"SELECT score_src, count(*) FROM {q.table} WHERE {q.where} GROUP BY score_src")
    out = dict.fromkeys(SCORE_SOURCES, 0)
    for src, n in rows:
        out[str(src)] = out.get(str(src), 0) + _as_int(n)
    return out


# -- time series -------------------------------------------------------------------------


def choose_interval(window: Window) -> int:
    """Bucket width in seconds for the window's length."""
    span = window.until - window.since
    for limit, seconds in INTERVALS:
        if span <= limit:
            return seconds
    return 7 * 86400


@dataclass(frozen=True, slots=True)
class TimeSeries:
    interval: int
    """Bucket width in seconds."""
    points: list[tuple[datetime, dict[str, int]]]
    """(bucket start, requests per grouping), every bucket of the window, oldest first."""


def timeseries(
    backend: Backend, window: Window, flt: FilterArg = None, interval: int | None = None
) -> TimeSeries:
    step = interval or choose_interval(window)
    if step <= 0:
        raise ValueError("interval must be positive")
    q = _Query(backend, window, flt)
    us = int(step) * 1_000_000
    bucket = f"intDiv(toUnixTimestamp64Micro(ts), {us})" if q.ch else f"(epoch_us(ts) // {us})"
    rows = q.run(
        f"SELECT {bucket} AS b, grouping, count(*) FROM {q.table} WHERE {q.where} "
        "GROUP BY b, grouping"
    )
    epoch = datetime(1970, 1, 1)
    start = int((window.since - epoch).total_seconds() // step)
    end = int(-(-(window.until - epoch).total_seconds() // step))
    series = {b: dict.fromkeys(GROUPINGS, 0) for b in range(start, end)}
    for b, g, n in rows:
        series.setdefault(int(b), dict.fromkeys(GROUPINGS, 0))[str(g)] += _as_int(n)
    points = [(epoch + timedelta(seconds=b * step), series[b]) for b in sorted(series)]
    return TimeSeries(step, points)


# -- top N -------------------------------------------------------------------------------


def _top_rows(q: _Query, attribute: str, limit: int) -> list[tuple[Any, int]]:
    column = ATTRIBUTES[attribute]
    if limit <= 0:
        return []
    n = int(limit)
    if attribute == "detection_id":
        unnest = "arrayJoin(detection_ids)" if q.ch else "unnest(detection_ids)"
        # Most requests have no detection: skip them before unnesting.
        some = "notEmpty(detection_ids)" if q.ch else "len(detection_ids) > 0"
        rows = q.run(
            f"SELECT v, count(*) AS c FROM (SELECT {unnest} AS v FROM {q.table} "
            f"WHERE {q.where} AND {some}) GROUP BY v ORDER BY c DESC, v LIMIT {n}"
        )
        return [(int(v), _as_int(c)) for v, c in rows]
    where = q.where
    if attribute == "verified_bot_category":
        where += " AND verified_bot_category <> ''"
    hashed = getattr(q.backend, "hashed", {}).get(column)
    if hashed is None:
        rows = q.run(
            f"SELECT {column} AS v, count(*) AS c FROM {q.table} WHERE {where} "
            f"GROUP BY v ORDER BY c DESC, v LIMIT {n}"
        )
        return [(v, _as_int(c)) for v, c in rows]
    # Group by the integer hash; then read the text of the winners only.
    top = q.run(
        f"SELECT {hashed} AS h, count(*) AS c FROM {q.table} WHERE {where} "
        f"GROUP BY h ORDER BY c DESC, h LIMIT {n}"
    )
    if not top:
        return []
    text = _resolve(q, column, hashed, [h for h, _ in top])
    rows = [(text.get(h, ""), _as_int(c)) for h, c in top]
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    return rows


_RESOLVE_ROWS = 2000
"""Rows of the hash keys read at most in the one scan that looks for the text of them all."""


def _resolve(q: _Query, column: str, hashed: str, keys: list[Any]) -> dict[Any, Any]:
    """The text behind hash keys: from the column's dictionary when the backend keeps one
    (`duckdb.DICTIONARIES`: a primary-key lookup), else from the first rows of any of
    them, then the first row of each key still missing (scans that stop at once for
    frequent values, where reading every matching row would not)."""
    if not keys:
        return {}
    found: dict[Any, Any] = {}
    dictionary = getattr(q.backend, "dictionaries", {}).get(column)
    if dictionary is not None:
        listed = ", ".join(str(int(h)) for h in keys)
        found = dict(
            q.backend.query(
                f"SELECT {hashed}, {column} FROM {dictionary.table} WHERE {hashed} IN ({listed})",
                [],
            )
        )
    missing = [int(h) for h in keys if h not in found]
    if missing:
        # The first rows of any of them, in one scan: top values are frequent, so this
        # usually finds all (about 2 ms on 10M events, where one scan per key took 10-18).
        listed = ", ".join(str(h) for h in missing)
        found.update(
            q.backend.query(
                f"SELECT {hashed}, any_value({column}) FROM (SELECT {hashed}, {column} "
                f"FROM {q.table} WHERE {hashed} IN ({listed}) LIMIT {_RESOLVE_ROWS}) "
                "GROUP BY 1",
                [],
            )
        )
    parts = [
        f"(SELECT {hashed}, {column} FROM {q.table} WHERE {hashed} = {int(h)} LIMIT 1)"
        for h in keys
        if h not in found
    ]
    if parts:
        found.update(q.backend.query(" UNION ALL ".join(parts), []))
    return found


def top(
    backend: Backend,
    window: Window,
    attribute: str,
    flt: FilterArg = None,
    limit: int = 10,
) -> list[tuple[str | int, int]]:
    """The `limit` most frequent values of an attribute (`ATTRIBUTES`), most requests first."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")
    return _top_rows(_Query(backend, window, flt), attribute, limit)


# -- raw events --------------------------------------------------------------------------


def sample(
    backend: Backend, window: Window, flt: FilterArg = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The `limit` latest events, newest first, as dicts of `SAMPLE_COLUMNS`."""
    q = _Query(backend, window, flt)
    cols = ", ".join(SAMPLE_COLUMNS)
    rows = q.run(
        f"SELECT {cols} FROM {q.table} WHERE {q.where} ORDER BY ts DESC LIMIT {int(limit)}"
    )
    return [dict(zip(SAMPLE_COLUMNS, r, strict=True)) for r in rows]


# -- the feedback form -------------------------------------------------------------------


def feedback_summary(
    backend: Backend,
    window: Window,
    expression: str,
    top_n: int = 10,
) -> dict[str, Any]:
    """The figures of a Feedback API report for the traffic `expression` selects in the
    window: `requests`, `requests_by_score`, `requests_by_score_src`,
    `requests_by_attribute`.

    Only requests with a score (1..99) from a source the API names are counted — one
    aggregation gives all three figures, so `requests` equals the sum of
    `requests_by_score` and of `requests_by_score_src` by construction; each top list
    counts within the same requests."""
    q = _Query(backend, window, expression)
    q.scored_only()
    hashed: dict[str, str] = getattr(backend, "hashed", {})
    if q.ch or not hashed:
        rows = q.run(
            f"SELECT score, score_src, count(*) FROM {q.table} WHERE {q.where} "
            "GROUP BY score, score_src"
        )
        tops = {a: _top_rows(q, a, top_n) for a in FEEDBACK_ATTRIBUTES.values()}
    else:
        rows, tops = _feedback_one_pass(q, hashed, top_n)
    by_score: dict[int, int] = {}
    by_src: dict[str, int] = {}
    for score, src, n in rows:
        # DuckDB's rows carry one side only (score or source); ClickHouse's carry both.
        if score is not None:
            by_score[int(score)] = by_score.get(int(score), 0) + _as_int(n)
        if src is not None:
            name = FEEDBACK_SOURCE_NAMES[str(src)]
            by_src[name] = by_src.get(name, 0) + _as_int(n)
    attributes = {
        key: [{"metric": str(v), "requests": c} for v, c in tops[attribute]]
        for key, attribute in FEEDBACK_ATTRIBUTES.items()
    }
    return {
        "expression": expression,
        "first_request_seen_at": _iso(window.since),
        "last_request_seen_at": _iso(window.until),
        "requests": sum(by_score.values()),
        "requests_by_score": {str(k): by_score[k] for k in sorted(by_score)},
        "requests_by_score_src": dict(sorted(by_src.items(), key=lambda kv: -kv[1])),
        "requests_by_attribute": attributes,
    }


def _feedback_one_pass(
    q: _Query, hashed: dict[str, str], top_n: int
) -> tuple[list[Row], dict[str, list[tuple[Any, int]]]]:
    """DuckDB: the counts by score, by source and every top list in one scan (grouping
    sets), then the text of the hashed winners in a second, narrow one.

    Score and source are two sets, not one (score, score_src) set: the report only needs
    each on its own, and the integer score alone gets DuckDB's perfect-hash aggregate.
    Their rows come back as (score, source, count) with the other side None.

    The grouped rows are folded into one row by aggregates: the whole score and source
    lists, and for each attribute the `top_n` rows by (count descending, key) —
    `min_by(…, {-count, key}, n)`, a bounded heap per attribute. A row of a set has its
    own key set and every other key NULL (the keys are NOT NULL columns). A window
    ranking every grouped row (tens of thousands of addresses) did the same with a sort:
    5-15 % more CPU for the whole query on 10M events, most with the most addresses."""
    attrs = list(FEEDBACK_ATTRIBUTES.values())
    keys = [hashed.get(ATTRIBUTES[a], ATTRIBUTES[a]) for a in attrs]
    every = ["score", "score_src", *keys]
    sets = ", ".join(f"({k})" for k in every)
    n = max(int(top_n), 0)
    aggregates = [f"list({{k: {k}, c: c}}) FILTER (WHERE {k} IS NOT NULL)" for k in every[:2]]
    if n:
        aggregates += [
            f"min_by({{k: {k}, c: c}}, {{a: -c, b: {k}}}, {n}) FILTER (WHERE {k} IS NOT NULL)"
            for k in keys
        ]
    rows = q.run(
        f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(every)}, count(*) AS c "
        f"FROM {q.table} WHERE {q.where} GROUP BY GROUPING SETS ({sets}))"
    )
    lists = rows[0] if rows else (None,) * len(aggregates)  # one row: no GROUP BY
    by_score_src: list[Row] = []
    for d in lists[0] or []:
        by_score_src.append((d["k"], None, _as_int(d["c"])))
    for d in lists[1] or []:
        by_score_src.append((None, d["k"], _as_int(d["c"])))
    found: dict[str, list[tuple[Any, int]]] = {}
    for i, a in enumerate(attrs):
        winners = [(d["k"], _as_int(d["c"])) for d in (lists[2 + i] or [])] if n else []
        column = ATTRIBUTES[a]
        if column in hashed and winners:
            text = _resolve(q, column, hashed[column], [h for h, _ in winners])
            winners = [(text.get(h, ""), c) for h, c in winners]
        found[a] = sorted(winners, key=lambda r: (-r[1], r[0]))[:n]
    return by_score_src, found


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"
