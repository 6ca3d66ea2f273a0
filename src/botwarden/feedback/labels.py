"""Reports → training labels: the events an accepted report's expression selects in its
zone and window, with the feature vectors stored beside them, labelled by the report.

False positive → human; false negative → bot with the report's subtype. One report is
capped (at most `max_rows` rows, a stable hash sample) and weighted (its rows weigh at
most `max_share` of the base corpus together), so one large report cannot swamp the
corpus. Reports of opposite labels whose traffic overlaps are *conflicts*: they are
listed for the reviewer and left out of training, never merged silently.

Weak labels come from recent traffic outside every report's slice: verified bots,
heuristics detections and failed JS detection → bot; passed JS detection → human (and,
when asked for, requests the active model scored confidently human).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from botwarden.analytics.base import Sql
from botwarden.analytics.events import zone_key
from botwarden.analytics.filters import compile_filter
from botwarden.ml.features import N_FEATURES, SCHEMA_HASH
from botwarden.store.records import FeedbackReport, FeedbackType

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend

HUMAN, BOT = "human", "bot"
MAX_ROWS = 20_000
MAX_SHARE = 0.1
MAX_ROW_WEIGHT = 1.0
WEAK_MAX_ROWS = 50_000
CONFIDENT_HUMAN = 50
_SESSION_BASE = 1 << 40  # feedback sessions never collide with corpus sessions


@dataclass(slots=True)
class LabelSet:
    """Labelled feature rows from one source (a report, or the weak labels)."""

    source: str  # the report id, or "weak"
    label: str  # human | bot | mixed (weak labels)
    subtype: str
    X: np.ndarray  # n × N_FEATURES float32
    y: np.ndarray  # int8, 1 = automated
    session: np.ndarray  # int64 (a hash of the client address: a client stays together)
    weight: np.ndarray  # float32
    matched: int  # events the expression selected (before the cap)
    without_features: int = 0  # selected events with no stored vector (not usable)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two reports that label the same requests differently."""

    a: str
    b: str
    requests: int

    def describe(self) -> str:
        return (
            f"reports {self.a} and {self.b} disagree about {self.requests:,} requests "
            "(one says human, the other bot); relabel or reject one of them"
        )


@dataclass(slots=True)
class Labels:
    sets: list[LabelSet] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # report id → why

    def rows_by_report(self) -> dict[str, int]:
        return {s.source: len(s) for s in self.sets if s.source != "weak"}


def label_of(report: FeedbackReport) -> str:
    return HUMAN if report.type is FeedbackType.FALSE_POSITIVE else BOT


def _where(
    backend: Backend, zone: str, since: datetime, until: datetime, expression: str | None
) -> tuple[str, Sql]:
    """The WHERE of a report's traffic: zone, window (the last second included, as the
    prefill truncates it) and the expression, with bound parameters only."""
    flt = compile_filter(expression, backend.dialect)
    q = Sql(backend.dialect, flt.params if flt else None)
    since_n = since.replace(tzinfo=None) if since.tzinfo is None else _naive(since)
    until_n = (until.replace(tzinfo=None) if until.tzinfo is None else _naive(until)) + timedelta(
        seconds=1
    )
    parts = []
    if backend.dialect == "clickhouse":
        parts.append(f"zone = {q(zone, 'String')}")
    else:
        parts.append(f"zone_key = {q(zone_key(zone), 'Int64')}")
    parts.append(f"ts >= {q(since_n, 'DateTime64(6)')}")
    parts.append(f"ts < {q(until_n, 'DateTime64(6)')}")
    if flt is not None:
        parts.append(f"({flt.sql})")
    return " AND ".join(parts), q


def _naive(t: datetime) -> datetime:
    from datetime import UTC

    return t.astimezone(UTC).replace(tzinfo=None)


def _stable_keep(keys: Sequence[str], limit: int) -> np.ndarray:
    """Indices of at most `limit` rows chosen by a hash of their key: the same rows every
    time, spread over the whole window."""
    if len(keys) <= limit:
        return np.arange(len(keys))
    h = np.array(
        [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") for k in keys],
        dtype=np.uint64,
    )
    return np.sort(np.argsort(h, kind="stable")[:limit])


def _session_of(ip_keys: Sequence[str]) -> np.ndarray:
    return np.array(
        [
            _SESSION_BASE
            + (int.from_bytes(hashlib.blake2b(k.encode(), digest_size=5).digest(), "big"))
            for k in ip_keys
        ],
        dtype=np.int64,
    )


def _fetch(
    backend: Backend, where: str, q: Sql, extra: str = ""
) -> tuple[np.ndarray, list[str], list[str], list[tuple[object, ...]], int]:
    """(vectors, row keys, client keys, extra columns, events without a vector)."""
    t = backend.table
    cols = "features, spool_id, seq, ip_key" + (f", {extra}" if extra else "")
    rows = backend.query(f"SELECT {cols} FROM {t} WHERE {where} ORDER BY ts, seq", q.params)
    vectors, keys, clients, extras = [], [], [], []
    missing = 0
    for r in rows:
        vec = r[0]
        if vec is None or len(vec) != N_FEATURES:
            missing += 1
            continue
        vectors.append(vec)
        keys.append(f"{r[1]}:{r[2]}")
        clients.append(str(r[3]))
        extras.append(tuple(r[4:]))
    X = np.asarray(vectors, dtype=np.float32).reshape(-1, N_FEATURES)
    return X, keys, clients, extras, missing


def report_labels(
    backend: Backend,
    report: FeedbackReport,
    *,
    corpus_rows: int,
    max_rows: int = MAX_ROWS,
    max_share: float = MAX_SHARE,
) -> LabelSet:
    """The labelled rows of one report (capped at `max_rows`; the rows together weigh at
    most `max_share × corpus_rows`, and no row more than 1)."""
    where, q = _where(
        backend,
        report.zone_id,
        report.first_request_seen_at,
        report.last_request_seen_at,
        report.expression,
    )
    X, keys, clients, _, missing = _fetch(backend, where, q)
    matched = len(keys) + missing
    keep = _stable_keep(keys, max_rows)
    X = X[keep]
    clients = [clients[i] for i in keep]
    n = len(keep)
    budget = max(1.0, max_share * corpus_rows)
    w = min(MAX_ROW_WEIGHT, budget / n) if n else 1.0
    label = label_of(report)
    return LabelSet(
        source=report.id,
        label=label,
        subtype=report.subtype or "",
        X=X,
        y=np.full(n, 1 if label == BOT else 0, dtype=np.int8),
        session=_session_of(clients),
        weight=np.full(n, w, dtype=np.float32),
        matched=matched,
        without_features=missing,
    )


def conflicts(backend: Backend, reports: Sequence[FeedbackReport]) -> list[Conflict]:
    """Pairs of reports in one zone, of opposite labels and overlapping windows, whose
    expressions select some of the same requests."""
    out = []
    for i, a in enumerate(reports):
        for b in reports[i + 1 :]:
            if a.zone_id != b.zone_id or label_of(a) == label_of(b):
                continue
            since = max(a.first_request_seen_at, b.first_request_seen_at)
            until = min(a.last_request_seen_at, b.last_request_seen_at)
            if since > until:
                continue
            expr = f"({a.expression}) and ({b.expression})"
            where, q = _where(backend, a.zone_id, since, until, expr)
            rows = backend.query(f"SELECT count(*) FROM {backend.table} WHERE {where}", q.params)
            n = int(rows[0][0] or 0) if rows else 0
            if n:
                out.append(Conflict(a.id, b.id, n))
    return out


def _slice_keys(backend: Backend, report: FeedbackReport) -> set[str]:
    where, q = _where(backend, report.zone_id, report.first_request_seen_at,
                      report.last_request_seen_at, report.expression)  # fmt: skip
    rows = backend.query(f"SELECT spool_id, seq FROM {backend.table} WHERE {where}", q.params)
    return {f"{r[0]}:{r[1]}" for r in rows}


def weak_labels(
    backend: Backend,
    since: datetime,
    until: datetime,
    *,
    zone: str | None = None,
    exclude: Sequence[FeedbackReport] = (),
    confident_human: int | None = None,
    max_rows: int = WEAK_MAX_ROWS,
) -> LabelSet:
    """Labels of recent traffic that carries a vector, outside every report's slice:
    verified bots, heuristics detections and failed JS detection → bot; passed JS
    detection → human. With `confident_human` (e.g. `CONFIDENT_HUMAN`), requests the
    active model scored at least that are labelled human too; off by default, because
    they teach the candidate the active model's own misses, and they are live-site rows
    whose `ja4_*_1h` counts differ from the corpus' (in the demo they cost the hold-out
    several points of bot recall)."""
    q = Sql(backend.dialect)
    parts = [
        f"ts >= {q(_naive(since), 'DateTime64(6)')}",
        f"ts < {q(_naive(until) + timedelta(seconds=1), 'DateTime64(6)')}",
    ]
    if zone is not None:
        parts.append(f"zone_key = {q(zone_key(zone), 'Int64')}")
    confident = (
        ""
        if confident_human is None
        else f" OR (score_src = 'Machine Learning' AND score >= {int(confident_human)})"
    )
    parts.append(
        "(verified_bot OR score_src = 'Heuristics' OR js_detection IN ('passed', 'failed')"
        f"{confident})"
    )
    X, keys, clients, extras, _ = _fetch(
        backend, " AND ".join(parts), q, "verified_bot, score_src, js_detection"
    )
    skip: set[str] = set()
    for r in exclude:
        skip |= _slice_keys(backend, r)
    outside = [i for i, k in enumerate(keys) if k not in skip]
    chosen = _stable_keep([keys[i] for i in outside], max_rows)
    keep = np.asarray([outside[i] for i in chosen], dtype=np.int64)
    bot = [bool(e[0]) or e[1] == "Heuristics" or e[2] == "failed" for e in extras]
    y = np.asarray([1 if bot[i] else 0 for i in keep], dtype=np.int8)
    return LabelSet(
        source="weak",
        label="mixed",
        subtype="",
        X=X[keep] if len(keep) else np.zeros((0, N_FEATURES), np.float32),
        y=y,
        session=_session_of([clients[i] for i in keep]),
        weight=np.ones(len(keep), dtype=np.float32),
        matched=len(keys),
    )


def collect(
    backend: Backend,
    reports: Sequence[FeedbackReport],
    *,
    corpus_rows: int,
    max_rows: int = MAX_ROWS,
    max_share: float = MAX_SHARE,
) -> Labels:
    """Labels of every report that is not in a conflict; conflicting reports are skipped
    and listed, reports whose traffic has no stored vectors too."""
    out = Labels(conflicts=conflicts(backend, reports))
    clash = {c.a for c in out.conflicts} | {c.b for c in out.conflicts}
    for r in reports:
        if r.id in clash:
            out.skipped[r.id] = "conflicts with another report (see conflicts)"
            continue
        ls = report_labels(backend, r, corpus_rows=corpus_rows, max_rows=max_rows,
                           max_share=max_share)  # fmt: skip
        if not len(ls):
            out.skipped[r.id] = (
                f"its expression selects no stored events with feature vectors "
                f"({ls.matched} events matched); check the expression and window"
            )
            continue
        out.sets.append(ls)
    return out


FINGERPRINT_PREFIXES = ("ua_", "ja4_", "ch_", "hdr_", "accept_", "lang_", "enc_", "sf_", "has_")
"""Features that describe the client software (user agent, TLS, client hints, headers),
not the site or the client's behaviour; the `ja4_*_1h` counts depend on the site's volume
and mix, so they are left out."""


def fingerprint_columns() -> list[int]:
    from botwarden.ml.features import FEATURE_NAMES

    return [
        i
        for i, name in enumerate(FEATURE_NAMES)
        if name.startswith(FINGERPRINT_PREFIXES) and not name.endswith("_1h")
    ]


def contradicted(
    X: np.ndarray, y: np.ndarray, sets: Sequence[LabelSet], *, share: float = 0.95
) -> np.ndarray:
    """Rows of a corpus (`X`, `y`) that an accepted false-positive report contradicts:
    the corpus calls them bots, for the same client software as a row of the report,
    and calls (nearly, `share`) every one of its rows of that software a bot — it took the
    software itself for a bot (a new browser the old corpus called a scraper).

    Left in, these rows fight the report's rows, and the trees settle the fight with the
    only features that differ, the site-dependent ones (`ja4_*_1h`), which then move
    unrelated traffic (hold-out bot recall fell by 19 points in the demo). Only false
    positives: bots borrow browsers' fingerprints, so a false negative says nothing
    about the corpus' people on the same software."""
    cols = fingerprint_columns()
    out = np.zeros(len(y), dtype=bool)
    if not len(y) or not cols:
        return out
    groups: dict[bytes, list[int]] = {}
    for i, r in enumerate(np.ascontiguousarray(X[:, cols], dtype=np.float32)):
        groups.setdefault(r.tobytes(), []).append(i)
    for s in sets:
        if not len(s) or s.label != HUMAN:
            continue
        seen = {r.tobytes() for r in np.ascontiguousarray(s.X[:, cols], dtype=np.float32)}
        for k in seen & groups.keys():
            rows = np.asarray(groups[k])
            if (y[rows] == 1).mean() >= share:
                out[rows[y[rows] == 1]] = True
    return out


def write(sets: Sequence[LabelSet], path: Path) -> Path:
    """Labelled feature rows as Parquet, in the shape `ml.dataset.load` reads."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    X = np.concatenate([s.X for s in sets]) if sets else np.zeros((0, N_FEATURES), np.float32)
    y = np.concatenate([s.y for s in sets]) if sets else np.zeros(0, np.int8)
    table = pa.table(
        {
            "features": pa.FixedSizeListArray.from_arrays(
                pa.array(X.reshape(-1), pa.float32()), N_FEATURES
            ).cast(pa.list_(pa.float32())),
            "label": pa.array(np.where(y == 1, BOT, HUMAN).tolist(), pa.string()),
            "session_id": pa.array(
                np.concatenate([s.session for s in sets]) if sets else [], pa.int64()
            ),
            "population": pa.array(
                [f"feedback:{s.source}" for s in sets for _ in range(len(s))], pa.string()
            ),
            "subtype": pa.array([s.subtype for s in sets for _ in range(len(s))], pa.string()),
            "weight": pa.array(
                np.concatenate([s.weight for s in sets]) if sets else [], pa.float32()
            ),
        },
        metadata={"botwarden.feature_schema": SCHEMA_HASH},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path))
    return path


__all__ = [
    "BOT",
    "HUMAN",
    "Conflict",
    "LabelSet",
    "Labels",
    "collect",
    "conflicts",
    "contradicted",
    "fingerprint_columns",
    "label_of",
    "report_labels",
    "weak_labels",
    "write",
]
