"""Security › Bots: Bot Analytics for one zone, and "Report incorrect data".

Every figure comes from the API's own analytics route functions (summary, timeseries,
score histogram, top attributes, samples, report prefill) called with the signed-in
user's `ZoneAccess`, so the page shows what the API answers — plan gates and groupings
below enterprise included. A report is created by the Feedback API's route function
(`create_feedback`) with the body an API client would send: the prefill's figures plus
type, subtype and description.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from botwarden.api import expressions, plans
from botwarden.api.envelope import APIError
from botwarden.api.routes import analytics as api_analytics
from botwarden.api.routes import feedback as api_feedback
from botwarden.api.schemas import FeedbackIn
from botwarden.dashboard.deps import ZonePage, ZoneView, store_of
from botwarden.dashboard.filters import ATTRIBUTES, GROUPINGS, RANGE_LABELS, RANGES, Filters
from botwarden.dashboard.templating import errors_of, is_htmx, render
from botwarden.result import Grouping
from botwarden.rules import RuleSyntaxError

router = APIRouter()

SAMPLE_LIMIT = 20
TOP_LIMIT = 8
# (API attribute, filter key, title); detection ids come from the analytics queries.
TOPS: tuple[tuple[str, str, str], ...] = (
    ("topIPs", "ip", "IP addresses"),
    ("topUserAgents", "ua", "User agents"),
    ("topASNs", "asn", "ASNs"),
    ("topCountries", "country", "Countries"),
    ("topHosts", "host", "Hosts"),
    ("topPaths", "path", "Paths"),
    ("topJA3Hashes", "ja3", "JA3 fingerprints"),
    ("topJA4s", "ja4", "JA4 fingerprints"),
)
GROUPING_LABELS: dict[str, str] = {
    Grouping.AUTOMATED: "Automated",
    Grouping.LIKELY_AUTOMATED: "Likely automated",
    Grouping.LIKELY_HUMAN: "Likely human",
    Grouping.VERIFIED_BOT: "Verified bot",
    Grouping.NOT_COMPUTED: "Not computed",
}
SUBTYPES = api_feedback.SUBTYPES
NO_ANALYTICS = (
    "Analytics are not available in this process: the API was started without an "
    "analytics store (see docs/dashboard.md)."
)


def _epoch(t: datetime) -> int:
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp())


def _step(span: timedelta) -> int:
    from botwarden.analytics.queries import INTERVALS

    for limit, seconds in INTERVALS:
        if span <= limit:
            return seconds
    return 86400


def _detections(request: Request, view: ZoneView, f: Filters, expr: str | None) -> list[Any]:
    """Top detection ids (not an API attribute): straight from the analytics queries."""
    from botwarden.analytics import queries
    from botwarden.analytics.filters import compile_filter

    source = request.app.state.analytics
    backend = getattr(source, "backend", None)
    if backend is None:
        return []
    lists = expressions.named_lists(expressions.account_lists(store_of(request), view.zone))
    flt = compile_filter(expr, backend.dialect, lists=lists)
    window = queries.Window(view.zone.id, f.since, f.until)
    rows = queries.top(backend, window, "detection_id", flt, TOP_LIMIT)
    return [{"metric": str(v), "requests": n} for v, n in rows]


async def gather_results(request: Request, view: ZoneView, f: Filters) -> dict[str, Any]:
    """Everything the results part of the page shows, queried concurrently."""
    if request.app.state.analytics is None:
        return {"unavailable": NO_ANALYTICS}
    access, expr = view.access, f.expression()
    since, until = f.since, f.until
    calls: dict[str, Callable[[], Any]] = {
        "summary": partial(api_analytics.summary, request, access, since, until, expr),
        "timeseries": partial(
            api_analytics.timeseries, request, access, since, until, expr, _step(until - since)
        ),
        "histogram": partial(api_analytics.score_histogram, request, access, since, until, expr),
        "samples": partial(
            api_analytics.samples, request, access, since, until, expr, SAMPLE_LIMIT
        ),
        "detections": lambda: {"result": _detections(request, view, f, expr)},
    }
    for attribute, _, _ in TOPS:
        calls[attribute] = partial(
            api_analytics.top, request, access, attribute, since, until, expr, TOP_LIMIT
        )
    out: dict[str, Any] = {}
    failures: list[Exception] = []

    async def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            out[name] = (await run_in_threadpool(fn))["result"]
        except (APIError, RuleSyntaxError, ValueError) as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for name, fn in calls.items():
            tg.start_soon(run, name, fn)
    if failures:
        # The same problem (a plan gate, a bad expression) fails every query: show the
        # API's wording of it, whichever query failed first.
        api = [e for e in failures if isinstance(e, APIError)]
        return {"error": errors_of(api[0]) if api else [f"expression: {failures[0]}"]}
    return {"data": _shape(out, f)}


def _shape(out: dict[str, Any], f: Filters) -> dict[str, Any]:
    summary = out["summary"]
    series_keys = [g for g in GROUPING_LABELS if g != Grouping.NOT_COMPUTED]
    ts = out["timeseries"]
    timeseries = {
        "x": [_epoch(p["ts"]) for p in ts],
        "series": [
            {"key": g, "label": GROUPING_LABELS[g],
             "values": [int(p["by_grouping"].get(g, 0)) for p in ts]}
            for g in series_keys
        ],
    }  # fmt: skip
    hist = out["histogram"]
    if hist["granular"]:
        buckets = {int(k): int(v) for k, v in hist["buckets"].items()}
        histogram = {"granular": True, "x": list(range(1, 100)),
                     "values": [buckets.get(s, 0) for s in range(1, 100)]}  # fmt: skip
    else:
        keys = [g for g in GROUPING_LABELS if g != Grouping.NOT_COMPUTED]
        histogram = {"granular": False, "x": list(range(len(keys))),
                     "labels": [GROUPING_LABELS[g] for g in keys],
                     "values": [int(hist["buckets"].get(g, 0)) for g in keys]}  # fmt: skip
    sources = sorted(summary["by_score_src"].items(), key=lambda kv: -kv[1])
    tops = [{"key": key, "title": title, "rows": out[attribute]} for attribute, key, title in TOPS]
    tops.append({"key": "detection", "title": "Detection ids", "rows": out["detections"]})
    samples = out["samples"]
    for s in samples:
        s["ts_text"] = s["ts"].strftime("%Y-%m-%d %H:%M:%S") if s.get("ts") else ""
    return {
        "requests": summary["requests"],
        "groupings": [
            {"key": g, "label": GROUPING_LABELS.get(g, g), "requests": n}
            for g, n in summary["by_grouping"].items()
        ],
        "sources": sources,
        "sources_max": max([n for _, n in sources], default=0),
        "tops": tops,
        "samples": samples,
        "charts": {"timeseries": timeseries, "histogram": histogram},
    }


def _page_context(view: ZoneView, f: Filters) -> dict[str, Any]:
    return {
        "nav_active": "analytics",
        "f": f,
        "expression": f.expression(),
        "granular": plans.granular_scores(view.zone.plan),
        "ranges": [(k, RANGE_LABELS[k]) for k in RANGES],
        "groupings": [(k, label) for k, (label, _) in GROUPINGS.items()],
        "attributes": [(k, label) for k, (label, _, _) in ATTRIBUTES.items()],
        "window_text": f"{f.since:%Y-%m-%d %H:%M} – {f.until:%Y-%m-%d %H:%M} UTC",
    }


@router.get("/zones/{zone_id}/analytics", response_class=HTMLResponse)
async def analytics_page(request: Request, view: ZonePage) -> HTMLResponse:
    f = Filters.parse(request.query_params, view.zone.plan)
    ctx = _page_context(view, f)
    if f.ok:
        ctx.update(await gather_results(request, view, f))
    if ctx.get("data") is not None:
        ctx["charts_json"] = json.dumps(ctx["data"]["charts"])
    name = "_analytics_page.html" if is_htmx(request, "page") else "analytics.html"
    return render(request, name, ctx)


@router.get("/zones/{zone_id}/analytics/check", response_class=HTMLResponse)
def check_expression(
    request: Request,
    view: ZonePage,
    expr: Annotated[str, Query(max_length=4096)] = "",
) -> HTMLResponse:
    """The free expression checked as it is typed: fine, or the problem with a caret."""
    text = expr.strip()
    error: dict[str, Any] | None = None
    if text:
        try:
            expressions.compile_filter(
                text, expressions.account_lists(store_of(request), view.zone)
            )
        except RuleSyntaxError as exc:
            error = exc.to_dict()
        except ValueError as exc:
            error = {"message": str(exc), "text": str(exc)}
    return render(request, "_expr_check.html", {"text": text, "error": error})


# -- Report incorrect data ---------------------------------------------------------------


def _prefill(request: Request, view: ZoneView, f: Filters) -> dict[str, Any]:
    expr = f.expression()
    assert expr is not None
    result: dict[str, Any] = api_analytics.report_prefill(
        request, view.access, expression=expr, since=f.since, until=f.until
    )["result"]
    return result


def _prefill_json(prefill: dict[str, Any]) -> str:
    def default(o: object) -> str:
        if isinstance(o, datetime):
            return o.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise TypeError(type(o).__name__)

    doc = {k: v for k, v in prefill.items() if v is not None}
    return json.dumps(doc, default=default, sort_keys=True)


def _report_context(
    request: Request, view: ZoneView, f: Filters, prefill: dict[str, Any] | None
) -> dict[str, Any]:
    store = store_of(request)
    allowed = plans.feedback_allowed(
        view.zone.plan, store.get_settings(view.zone.id), view.access.permissions
    )
    return {
        "f": f,
        "allowed": allowed,
        "prefill": prefill,
        "prefill_json": _prefill_json(prefill) if prefill else "",
        "subtypes": list(SUBTYPES.items()),
        "form": {"type": "false_negative", "subtype": "", "description": ""},
        "idempotency_key": uuid.uuid4().hex,
        "errors": [],
    }


@router.get("/zones/{zone_id}/analytics/report", response_class=HTMLResponse)
async def report_form(request: Request, view: ZonePage) -> HTMLResponse:
    f = Filters.parse(request.query_params, view.zone.plan)
    if not f.ok or not f.has_score_filter:
        return render(request, "_report_form.html", {"f": f, "blocked": True})
    try:
        prefill = await run_in_threadpool(_prefill, request, view, f)
    except APIError as exc:
        return render(request, "_report_form.html", {"f": f, "blocked": True,
                                                     "errors": errors_of(exc)})  # fmt: skip
    return render(request, "_report_form.html", _report_context(request, view, f, prefill))


@router.post("/zones/{zone_id}/analytics/report", response_class=HTMLResponse)
async def submit_report(
    request: Request,
    view: ZonePage,
    prefill: Annotated[str, Form(max_length=200_000)],
    idempotency_key: Annotated[str, Form(max_length=255)],
    type: Annotated[str, Form(max_length=32)] = "",
    subtype: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    filters: Annotated[str, Form(max_length=20_000)] = "",
) -> HTMLResponse:
    from urllib.parse import parse_qsl

    f = Filters.parse(dict(parse_qsl(filters)), view.zone.plan)
    errors: list[str] = []
    try:
        figures = json.loads(prefill)
        if not isinstance(figures, dict):
            raise ValueError
    except ValueError:
        figures = {}
        errors.append("The report's figures are missing; open the form again.")
    doc = {**figures, "type": type, "description": description}
    if type == "false_negative" and subtype:
        doc["subtype"] = subtype
    if type not in ("false_positive", "false_negative"):
        errors.append("type: choose false positive or false negative")
    ctx = _report_context(request, view, f, figures or None)
    ctx["form"] = {"type": type, "subtype": subtype, "description": description}
    ctx["idempotency_key"] = idempotency_key
    if not errors:
        try:
            body = FeedbackIn.model_validate_json(json.dumps(doc))
        except ValidationError as exc:
            errors += [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    if not errors:
        try:
            created = await run_in_threadpool(
                api_feedback.create_feedback,
                request,
                Response(),
                body,
                view.access,
                idempotency_key,
            )
        except APIError as exc:
            errors += errors_of(exc)
        else:
            report = created["result"]
            return render(request, "_report_done.html", {"report": report, "f": f})
    ctx["errors"] = errors
    # htmx swaps only 2xx answers: the form comes back with its errors and what was typed.
    return render(request, "_report_form.html", ctx, status_code=200 if is_htmx(request) else 400)
