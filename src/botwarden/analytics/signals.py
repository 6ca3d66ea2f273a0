"""JA4 signals: per-JA4 figures over the last hour of traffic across every zone, as
Cloudflare publishes them (`cf.bot_management.ja4_signals`), refreshed periodically and
read by the ML features.

- `h2h3_ratio_1h`: share of the fingerprint's requests over HTTP/2 or HTTP/3;
- `heuristic_ratio_1h`: share scored by the heuristics engine;
- `browser_ratio_1h`: share whose user agent looks like a browser's ("Mozilla/…" and no
  bot, crawler, spider or headless marker);
- `cache_ratio_1h`: share of cacheable requests — Botwarden has no cache, so this is the
  share of static resources (what a CDN would cache);
- `uas_rank_1h`, `paths_rank_1h`, `reqs_rank_1h`, `ips_rank_1h`: rank of the fingerprint
  among all fingerprints seen in the hour by distinct user agents, distinct paths,
  requests and distinct client addresses (1 = the most; ties share a rank);
- `reqs_quantile_1h`, `ips_quantile_1h`: the fraction of fingerprints with at most as many
  requests (distinct addresses) as this one, in (0, 1].
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from botwarden.analytics.base import Sql

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend

log = logging.getLogger(__name__)

SIGNAL_NAMES: tuple[str, ...] = (
    "h2h3_ratio_1h",
    "heuristic_ratio_1h",
    "browser_ratio_1h",
    "cache_ratio_1h",
    "uas_rank_1h",
    "paths_rank_1h",
    "reqs_rank_1h",
    "ips_rank_1h",
    "reqs_quantile_1h",
    "ips_quantile_1h",
)
"""Signal names, in the order of `SignalStore.vector()`."""

_BROWSER = {
    "duckdb": "(starts_with(user_agent, 'Mozilla/') AND NOT "
    "regexp_matches(user_agent, '(?i)bot|crawl|spider|headless'))",
    "clickhouse": "(startsWith(user_agent, 'Mozilla/') AND NOT "
    "match(user_agent, '(?i)bot|crawl|spider|headless'))",
}


@dataclass(frozen=True, slots=True)
class JA4Signals:
    ja4: str
    requests: int
    h2h3_ratio_1h: float
    heuristic_ratio_1h: float
    browser_ratio_1h: float
    cache_ratio_1h: float
    uas_rank_1h: int
    paths_rank_1h: int
    reqs_rank_1h: int
    ips_rank_1h: int
    reqs_quantile_1h: float
    ips_quantile_1h: float

    def vector(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, name)) for name in SIGNAL_NAMES)


def _rank(values: np.ndarray) -> np.ndarray:
    """Competition rank, largest first (1, 2, 2, 4…)."""
    order = np.sort(values)[::-1]
    return np.searchsorted(-order, -values, side="left") + 1


def _quantile(values: np.ndarray) -> np.ndarray:
    """Fraction of values ≤ each value."""
    order = np.sort(values)
    return np.searchsorted(order, values, side="right") / len(values)


def compute_signals(
    backend: Backend, now: datetime | None = None, span: timedelta = timedelta(hours=1)
) -> dict[str, JA4Signals]:
    """Signals of every JA4 seen in (now - span, now], across zones."""
    end = now or datetime.now(UTC)
    end = end.astimezone(UTC).replace(tzinfo=None) if end.tzinfo else end
    q = Sql(backend.dialect)

    def distinct(column: str) -> str:
        if backend.dialect == "clickhouse":
            return f"uniqExact({column})"
        return f"count(DISTINCT {column})"

    rows = backend.query(
        f"SELECT ja4, count(*), "
        f"sum(CASE WHEN http_version IN ('2', '3') THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN score_src = 'Heuristics' THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {_BROWSER[backend.dialect]} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN static_resource THEN 1 ELSE 0 END), "
        f"{distinct('user_agent')}, {distinct('path')}, {distinct('client_ip')} "
        f"FROM {backend.table} WHERE ts > {q(end - span, 'DateTime64(6)')} "
        f"AND ts <= {q(end, 'DateTime64(6)')} AND ja4 <> '' GROUP BY ja4",
        q.params,
    )
    if not rows:
        return {}
    ja4s = [str(r[0]) for r in rows]
    m = np.array([[float(x) for x in r[1:]] for r in rows])
    reqs, uas, paths, ips = m[:, 0], m[:, 5], m[:, 6], m[:, 7]
    ranks = {
        "uas": _rank(uas),
        "paths": _rank(paths),
        "reqs": _rank(reqs),
        "ips": _rank(ips),
    }
    rq, iq = _quantile(reqs), _quantile(ips)
    out = {}
    for i, ja4 in enumerate(ja4s):
        n = reqs[i]
        out[ja4] = JA4Signals(
            ja4=ja4,
            requests=int(n),
            h2h3_ratio_1h=m[i, 1] / n,
            heuristic_ratio_1h=m[i, 2] / n,
            browser_ratio_1h=m[i, 3] / n,
            cache_ratio_1h=m[i, 4] / n,
            uas_rank_1h=int(ranks["uas"][i]),
            paths_rank_1h=int(ranks["paths"][i]),
            reqs_rank_1h=int(ranks["reqs"][i]),
            ips_rank_1h=int(ranks["ips"][i]),
            reqs_quantile_1h=float(rq[i]),
            ips_quantile_1h=float(iq[i]),
        )
    return out


class SignalStore:
    """The latest signals, refreshed every `interval` seconds by a named thread. Reads are a
    dictionary lookup on an immutable snapshot (swapped whole), safe from any thread."""

    def __init__(
        self,
        backend: Backend,
        *,
        interval: float = 60.0,
        span: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] | None = None,
        name: str = "botwarden-ja4-signals",
    ) -> None:
        self.backend = backend
        self.interval = interval
        self.span = span
        self.clock = clock or (lambda: datetime.now(UTC))
        self.name = name
        self.refreshed_at: datetime | None = None
        self.errors = 0
        self._signals: dict[str, JA4Signals] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> int:
        """Recompute now; returns how many fingerprints have signals."""
        now = self.clock()
        self._signals = compute_signals(self.backend, now, self.span)
        self.refreshed_at = now
        return len(self._signals)

    def get(self, ja4: str) -> JA4Signals | None:
        return self._signals.get(ja4)

    def vector(self, ja4: str, missing: float = math.nan) -> tuple[float, ...]:
        """`SIGNAL_NAMES` values for a fingerprint; `missing` for each when it was not seen
        in the last hour (NaN: what gradient-boosted trees treat as missing)."""
        s = self._signals.get(ja4)
        return s.vector() if s is not None else (missing,) * len(SIGNAL_NAMES)

    def __len__(self) -> int:
        return len(self._signals)

    def start(self) -> SignalStore:
        from botwarden.analytics.writer import start_thread

        self._thread = start_thread(self.name, self._run)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:  # keep the last snapshot; try again later
                self.errors += 1
                log.warning("JA4 signals refresh failed: %s", exc)
            self._stop.wait(self.interval)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
