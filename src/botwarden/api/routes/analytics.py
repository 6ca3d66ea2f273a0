"""Bot Analytics for the dashboard and scripts: summary, time series, top attributes, the
score histogram, sample events, and the report prefill — the feedback fields for an
expression and a window, as the dashboard's "Report incorrect data" form sends them.

Mounted only when the app has an analytics source. Bot Analytics needs the pro plan or
higher; granular scores are shown on enterprise only (other plans see groupings)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from botwarden.api import envelope, expressions, plans
from botwarden.api.analytics import TOP_ATTRIBUTES, AnalyticsSource
from botwarden.api.analytics import Query as AQuery
from botwarden.api.auth import ZoneAccess, get_store, zone_access
from botwarden.api.envelope import APIError
from botwarden.api.schemas import (
    AnalyticsSummary,
    Envelope,
    FeedbackPrefill,
    HistogramOut,
    TimePoint,
    TopItem,
)
from botwarden.result import grouping_for
from botwarden.rules import RuleSyntaxError
from botwarden.store import Permission

router = APIRouter(tags=["analytics"])
Access = Annotated[ZoneAccess, zone_access(Permission.BOT_ANALYTICS_READ)]
Since = Annotated[AwareDatetime | None, Query(description="Start (default: until − 24 h)")]
Until = Annotated[AwareDatetime | None, Query(description="End (default: now)")]
Expression = Annotated[str | None, Query(max_length=4096, description="A rule filter")]
TOP_IN_PREFILL = 10


def _source(request: Request) -> AnalyticsSource:
    src: AnalyticsSource = request.app.state.analytics
    return src


def _query(
    request: Request,
    access: ZoneAccess,
    since: datetime | None,
    until: datetime | None,
    expression: str | None,
) -> AQuery:
    zone = access.zone
    if not plans.has_bot_analytics(zone.plan):
        raise APIError(
            403,
            envelope.PLAN,
            f"Bot Analytics is available from the pro plan up; zone {zone.id} is on the "
            f"{zone.plan.value} plan",
        )
    end = envelope.utc(until, "until") if until is not None else datetime.now(UTC)
    start = envelope.utc(since, "since") if since is not None else end - timedelta(days=1)
    if start >= end:
        raise envelope.invalid("since: must be before until")
    lists = expressions.account_lists(get_store(request), zone)
    text = None
    if expression is not None and expression.strip():
        text = expression.strip()
        try:
            expressions.compile_filter(text, lists)
        except (RuleSyntaxError, ValueError) as exc:
            raise envelope.invalid(f"expression: {exc}") from None
    return AQuery(zone.id, start, end, text, expressions.named_lists(lists))


def _sources(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


@router.get(
    "/zones/{zone_id}/bot_management/analytics/summary",
    response_model=Envelope[AnalyticsSummary],
)
def summary(
    request: Request,
    access: Access,
    since: Since = None,
    until: Until = None,
    expression: Expression = None,
) -> dict[str, Any]:
    """Requests by grouping and by score source."""
    q = _query(request, access, since, until, expression)
    source = _source(request)
    groupings = dict(source.totals(q))
    return envelope.ok(
        {
            "requests": sum(groupings.values()),
            "by_grouping": groupings,
            "by_score_src": _sources(source.by_score_source(q)),
        }
    )


@router.get(
    "/zones/{zone_id}/bot_management/analytics/timeseries",
    response_model=Envelope[list[TimePoint]],
)
def timeseries(
    request: Request,
    access: Access,
    since: Since = None,
    until: Until = None,
    expression: Expression = None,
    step: Annotated[int, Query(ge=60, le=86_400, description="Seconds per point")] = 3600,
) -> dict[str, Any]:
    """Requests per grouping in each `step`-long bucket, oldest first."""
    q = _query(request, access, since, until, expression)
    if (q.until - q.since) / timedelta(seconds=step) > 10_000:
        raise envelope.invalid("step: too small for this window (more than 10000 points)")
    points = _source(request).timeseries(q, timedelta(seconds=step))
    rows = [
        {"ts": ts, "requests": sum(counts.values()), "by_grouping": dict(counts)}
        for ts, counts in points
    ]
    return envelope.ok(rows)


@router.get("/zones/{zone_id}/bot_management/analytics/top", response_model=Envelope[list[TopItem]])
def top(
    request: Request,
    access: Access,
    attribute: Annotated[str, Query(description="One of " + ", ".join(TOP_ATTRIBUTES))],
    since: Since = None,
    until: Until = None,
    expression: Expression = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    if attribute not in TOP_ATTRIBUTES:
        raise envelope.invalid(f"attribute: use one of {', '.join(TOP_ATTRIBUTES)}")
    q = _query(request, access, since, until, expression)
    rows = [{"metric": m, "requests": n} for m, n in _source(request).top(q, attribute, limit)]
    return envelope.ok(rows)


@router.get(
    "/zones/{zone_id}/bot_management/analytics/score_histogram",
    response_model=Envelope[HistogramOut],
)
def score_histogram(
    request: Request,
    access: Access,
    since: Since = None,
    until: Until = None,
    expression: Expression = None,
) -> dict[str, Any]:
    """Requests per bot score on enterprise; per grouping on other plans."""
    q = _query(request, access, since, until, expression)
    source = _source(request)
    if plans.granular_scores(access.zone.plan):
        hist = source.histogram(q)
        buckets = {str(score): n for score, n in sorted(hist.items()) if n}
        return envelope.ok({"granular": True, "buckets": buckets})
    return envelope.ok({"granular": False, "buckets": dict(source.totals(q))})


@router.get(
    "/zones/{zone_id}/bot_management/analytics/samples",
    response_model=Envelope[list[dict[str, Any]]],
)
def samples(
    request: Request,
    access: Access,
    since: Since = None,
    until: Until = None,
    expression: Expression = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Recent events; below enterprise the score is replaced by its grouping."""
    q = _query(request, access, since, until, expression)
    rows = _source(request).samples(q, limit)
    if not plans.granular_scores(access.zone.plan):
        for r in rows:
            score = int(r.pop("score", 0) or 0)
            r.setdefault("grouping", grouping_for(score, bool(r.get("verified_bot"))).value)
    return envelope.ok(rows)


@router.get(
    "/zones/{zone_id}/bot_management/analytics/report_prefill",
    response_model=Envelope[FeedbackPrefill],
)
def report_prefill(
    request: Request,
    access: Access,
    expression: Annotated[str, Query(min_length=1, max_length=4096)],
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    """The figures of a feedback report for this expression and window: the body the
    dashboard's "Report incorrect data" form sends (add type and description). Only
    scored requests count; granular scores are included on enterprise only."""
    q = _query(request, access, since, until, expression)
    if q.expression is None:
        raise envelope.invalid("expression: must not be empty")
    try:
        figures = _source(request).report(q, TOP_IN_PREFILL)
    except RuleSyntaxError as exc:
        # The analytics report compiles the filter without the account's lists.
        raise envelope.invalid(f"expression: {exc}") from None
    out: dict[str, Any] = {
        "expression": q.expression,
        "first_request_seen_at": q.since,
        "last_request_seen_at": q.until,
        "requests": figures.requests,
        "requests_by_score": dict(figures.requests_by_score)
        if plans.granular_scores(access.zone.plan)
        else None,
        "requests_by_score_src": dict(figures.requests_by_score_src),
        "requests_by_attribute": dict(figures.requests_by_attribute),
    }
    return envelope.ok(out)
