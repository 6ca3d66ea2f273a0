"""What the API needs from the analytics store: a small protocol (`AnalyticsSource`) and
the query every endpoint passes to it — a zone, a time window, and an optional filter
already checked for the zone. `QueriesSource` implements it over an analytics backend with
`botwarden.analytics.queries`.

Score sources are Cloudflare's display names ("Machine Learning"); groupings are
`result.Grouping` values; top attributes are the Feedback API's keys (`topIPs`, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botwarden.rules.lists import NamedList

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend
    from botwarden.analytics.queries import Window

TOP_ATTRIBUTES = (
    "topIPs",
    "topUserAgents",
    "topASNs",
    "topCountries",
    "topHosts",
    "topPaths",
    "topJA3Hashes",
    "topJA4s",
)


@dataclass(frozen=True, slots=True)
class Query:
    zone_id: str
    since: datetime
    until: datetime
    expression: str | None = None
    """A filter in the rules language, already checked for the zone (or None)."""
    lists: Mapping[str, NamedList] = field(default_factory=dict)
    """The zone's account lists, for `$name` in the filter."""


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The figures of a Feedback API report: scored requests only (score 1..99)."""

    requests: int
    requests_by_score: Mapping[str, int]
    requests_by_score_src: Mapping[str, int]
    requests_by_attribute: Mapping[str, list[dict[str, Any]]]


class AnalyticsSource(Protocol):
    """Read side of the analytics store, as the API uses it."""

    @property
    def retention(self) -> timedelta | None:
        """How long events are kept (None: no limit)."""
        ...

    def totals(self, q: Query) -> Mapping[str, int]:
        """Requests per grouping."""
        ...

    def histogram(self, q: Query) -> Mapping[int, int]:
        """Requests per bot score 1..99."""
        ...

    def by_score_source(self, q: Query) -> Mapping[str, int]: ...

    def timeseries(self, q: Query, step: timedelta) -> list[tuple[datetime, Mapping[str, int]]]:
        """(bucket start, requests per grouping), oldest first."""
        ...

    def top(self, q: Query, attribute: str, limit: int) -> list[tuple[str, int]]:
        """The most frequent values of a TOP_ATTRIBUTES attribute, most requests first."""
        ...

    def samples(self, q: Query, limit: int) -> list[dict[str, Any]]:
        """Recent events, newest first."""
        ...

    def report(self, q: Query, top_n: int) -> ReportFigures: ...


def _aware(t: Any) -> Any:
    if isinstance(t, datetime) and t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t


class QueriesSource:
    """AnalyticsSource over an analytics backend (DuckDB or ClickHouse)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def retention(self) -> timedelta | None:
        days = self.backend.retention_days
        return None if days is None else timedelta(days=days)

    def _window(self, q: Query) -> Window:
        from botwarden.analytics.queries import Window

        return Window(q.zone_id, q.since, q.until)

    def _filter(self, q: Query) -> Any:
        from botwarden.analytics.filters import compile_filter

        return compile_filter(q.expression, self.backend.dialect, lists=q.lists)

    def totals(self, q: Query) -> Mapping[str, int]:
        from botwarden.analytics import queries

        out = queries.totals(self.backend, self._window(q), self._filter(q))
        return {k: v for k, v in out.items() if k != "total"}

    def histogram(self, q: Query) -> Mapping[int, int]:
        from botwarden.analytics import queries

        return queries.histogram(self.backend, self._window(q), self._filter(q))

    def by_score_source(self, q: Query) -> Mapping[str, int]:
        from botwarden.analytics import queries

        return queries.by_score_source(self.backend, self._window(q), self._filter(q))

    def timeseries(self, q: Query, step: timedelta) -> list[tuple[datetime, Mapping[str, int]]]:
        from botwarden.analytics import queries

        ts = queries.timeseries(
            self.backend, self._window(q), self._filter(q), int(step.total_seconds())
        )
        return [(_aware(t), counts) for t, counts in ts.points]

    def top(self, q: Query, attribute: str, limit: int) -> list[tuple[str, int]]:
        from botwarden.analytics import queries

        rows = queries.top(
            self.backend,
            self._window(q),
            queries.FEEDBACK_ATTRIBUTES[attribute],
            self._filter(q),
            limit,
        )
        return [(str(v), int(n)) for v, n in rows if str(v) != ""]

    def samples(self, q: Query, limit: int) -> list[dict[str, Any]]:
        from botwarden.analytics import queries

        rows = queries.sample(self.backend, self._window(q), self._filter(q), limit)
        return [{k: _aware(v) for k, v in r.items()} for r in rows]

    def report(self, q: Query, top_n: int) -> ReportFigures:
        from botwarden.analytics import queries

        if not q.expression:
            raise ValueError("a report needs an expression")
        # feedback_summary compiles the expression itself, without the account's lists.
        out = queries.feedback_summary(self.backend, self._window(q), q.expression, top_n)
        return ReportFigures(
            int(out["requests"]),
            out["requests_by_score"],
            out["requests_by_score_src"],
            {
                k: kept
                for k, v in out["requests_by_attribute"].items()
                if (kept := [e for e in v if str(e["metric"]) != ""])
            },
        )
