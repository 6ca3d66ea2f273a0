"""The Feedback API, as the seed documents it: `POST /zones/{zone_id}/bot_management/feedback`
(201) with a false positive / false negative report, `GET` to list, `GET …/{id}` for one,
and `PATCH …/{id}` for the review (pending → accepted | rejected, reviewer, note).

Every check below answers with the field it is about; all problems come back at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from botwarden.api import envelope, expressions, plans
from botwarden.api.auth import ZoneAccess, get_store, zone_access
from botwarden.api.envelope import APIError
from botwarden.api.schemas import (
    ZONE_ID,
    Envelope,
    ErrorEnvelope,
    FeedbackIn,
    FeedbackOut,
    FeedbackReview,
)
from botwarden.ml.registry import Registry
from botwarden.rules import RuleSyntaxError
from botwarden.store import (
    Conflict,
    FeedbackInput,
    FeedbackReport,
    FeedbackStatus,
    FeedbackType,
    NotFound,
    Permission,
)

router = APIRouter(tags=["feedback"])

SUBTYPES: dict[str, str] = {
    name.lower().replace(" ", "_"): name
    for name in (
        "Account Creation Abuse",
        "Ad Fraud",
        "Credit Card Abuse",
        "Cashing Out",
        "Login Abuse",
        "Inventory Abuse",
        "Denial of Service",
        "Expediting",
        "Fuzzing",
        "Scraping",
        "Spamming",
        "Token Cracking",
        "Vulnerability Scanning",
    )
}
SCORE_SOURCES: dict[str, str] = {
    "heuristics": "heuristics",
    "machine_learning": "machine_learning",
    "ml": "machine_learning",
    "behavioral_analysis": "behavioral_analysis",
    "anomaly_detection": "behavioral_analysis",
    "js_fingerprinting": "js_fingerprinting",
    "verified_bot": "verified_bot",
}
ATTRIBUTES = (
    "topIPs",
    "topUserAgents",
    "topASNs",
    "topCountries",
    "topHosts",
    "topPaths",
    "topJA3Hashes",
    "topJA4s",
)
CLOCK_SKEW = timedelta(minutes=1)
_SCORE_KEY = re.compile(r"^[1-9][0-9]?$")
_JA3 = re.compile(r"^[0-9a-f]{32}$")
_COUNTRY = re.compile(r"^[A-Z0-9]{2}$")
ReportId = Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")]
ReadAccess = Annotated[
    ZoneAccess, zone_access(Permission.BOT_FEEDBACK_WRITE, Permission.BOT_MANAGEMENT_EDIT)
]


def normalise_subtype(text: str) -> str | None:
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    return key if key in SUBTYPES else None


def _check_metric(attr: str, metric: str | int, label: str) -> tuple[str, str | None]:
    text = str(metric).strip()
    if attr == "topIPs":
        try:
            return str(ipaddress.ip_address(text)), None
        except ValueError:
            return text, f"{label}.metric: {text!r} is not an IP address"
    if attr == "topASNs":
        digits = text.upper().removeprefix("AS")
        if not digits.isdigit() or int(digits) > 4294967295:
            return text, f"{label}.metric: {text!r} is not an AS number"
        return str(int(digits)), None
    if attr == "topJA3Hashes" and not _JA3.fullmatch(text.lower()):
        return text, f"{label}.metric: {text!r} is not a JA3 hash (32 hex digits)"
    if attr == "topCountries" and not _COUNTRY.fullmatch(text.upper()):
        return text, f"{label}.metric: {text!r} is not a two-letter country code"
    if attr == "topCountries":
        return text.upper(), None
    if attr == "topJA3Hashes":
        return text.lower(), None
    if not text:
        return text, f"{label}.metric: must not be empty"
    return text, None


def validate_report(
    body: FeedbackIn,
    lists: expressions.ListValues,
    now: datetime,
    retention: timedelta | None,
) -> tuple[FeedbackInput | None, list[str]]:
    """The report normalised (subtype and score-source names, metrics), or the problems."""
    problems: list[str] = []
    ftype = FeedbackType(body.type)
    subtype: str | None = None
    if body.subtype is not None:
        if ftype is FeedbackType.FALSE_POSITIVE:
            problems.append("subtype: only false_negative reports have a subtype")
        else:
            subtype = normalise_subtype(body.subtype)
            if subtype is None:
                problems.append(
                    f"subtype: unknown subtype {body.subtype!r}; use one of "
                    + ", ".join(SUBTYPES)
                    + " (or their display names, such as 'Account Creation Abuse')"
                )
    description = body.description.strip()
    if not description:
        problems.append("description: must not be empty; say what is wrong with the traffic")
    expression = body.expression.strip()
    if not expression:
        problems.append("expression: must not be empty; give the filter of the traffic")
    else:
        try:
            expressions.compile_filter(expression, lists)
        except RuleSyntaxError as exc:
            problems.append(f"expression: {exc}")
        except ValueError as exc:
            problems.append(f"expression: {exc}")
    first = envelope.utc(body.first_request_seen_at, "first_request_seen_at")
    last = envelope.utc(body.last_request_seen_at, "last_request_seen_at")
    if first > last:
        problems.append(
            "first_request_seen_at: must not be after last_request_seen_at "
            f"({_iso(first)} > {_iso(last)})"
        )
    for name, t in (("first_request_seen_at", first), ("last_request_seen_at", last)):
        if t > now + CLOCK_SKEW:
            problems.append(f"{name}: {_iso(t)} is in the future")
    if retention is not None and first < now - retention:
        problems.append(
            f"first_request_seen_at: {_iso(first)} is older than the analytics retention "
            f"({retention.days} days: the earliest is {_iso(now - retention)})"
        )
    total = body.requests
    by_score: dict[str, int] | None = None
    if body.requests_by_score is not None:
        by_score = {}
        for k, v in body.requests_by_score.items():
            if not _SCORE_KEY.fullmatch(k):
                problems.append(f"requests_by_score: key {k!r} is not a bot score 1…99")
            else:
                by_score[k] = v
        s = sum(body.requests_by_score.values())
        if s != total:
            problems.append(f"requests_by_score: the counts sum to {s}, but requests is {total}")
    by_src: dict[str, int] | None = None
    if body.requests_by_score_src is not None:
        by_src = {}
        seen: dict[str, str] = {}
        for k, v in body.requests_by_score_src.items():
            src = SCORE_SOURCES.get(k.strip().lower())
            if src is None:
                problems.append(
                    f"requests_by_score_src: key {k!r} is not a score source; use "
                    + ", ".join(SCORE_SOURCES)
                )
            elif src in seen:
                problems.append(
                    f"requests_by_score_src: {seen[src]!r} and {k!r} name the same source"
                )
            else:
                seen[src] = k
                by_src[src] = v
        s = sum(body.requests_by_score_src.values())
        if s != total:
            problems.append(
                f"requests_by_score_src: the counts sum to {s}, but requests is {total}"
            )
    by_attr: dict[str, list[dict[str, Any]]] | None = None
    if body.requests_by_attribute is not None:
        by_attr = {}
        for attr, items in body.requests_by_attribute.items():
            label = f"requests_by_attribute.{attr}"
            if attr not in ATTRIBUTES:
                problems.append(
                    f"requests_by_attribute: key {attr!r} is not an attribute; use "
                    + ", ".join(ATTRIBUTES)
                )
                continue
            rows: list[dict[str, Any]] = []
            metrics: set[str] = set()
            for i, item in enumerate(items):
                metric, problem = _check_metric(attr, item.metric, f"{label}[{i}]")
                if problem:
                    problems.append(problem)
                elif metric in metrics:
                    problems.append(f"{label}[{i}].metric: {metric!r} appears twice")
                if item.requests > total:
                    problems.append(
                        f"{label}[{i}].requests: {item.requests} is more than requests ({total})"
                    )
                metrics.add(metric)
                rows.append({"metric": metric, "requests": item.requests})
            s = sum(r["requests"] for r in rows)
            if s > total:
                problems.append(f"{label}: the counts sum to {s}, more than requests ({total})")
            by_attr[attr] = rows
    if problems:
        return None, problems
    return (
        FeedbackInput(
            type=ftype,
            description=description,
            expression=expression,
            first_request_seen_at=first,
            last_request_seen_at=last,
            requests=total,
            subtype=subtype,
            requests_by_score=by_score,
            requests_by_score_src=by_src,
            requests_by_attribute=by_attr,
        ),
        [],
    )


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_hash(report: FeedbackInput) -> str:
    doc = {
        "type": report.type.value,
        "subtype": report.subtype,
        "description": report.description,
        "expression": report.expression,
        "first": _iso(report.first_request_seen_at),
        "last": _iso(report.last_request_seen_at),
        "requests": report.requests,
        "by_score": report.requests_by_score,
        "by_src": report.requests_by_score_src,
        "by_attr": report.requests_by_attribute,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _registry(request: Request) -> Registry | None:
    """The app's model registry (`app.state.registry`), else the data directory's."""
    reg: Registry | None = getattr(request.app.state, "registry", None)
    if reg is None:
        from botwarden.engines.ml import default_registry

        reg = default_registry()
    return reg


def report_json(r: FeedbackReport, registry: Registry | None = None) -> dict[str, Any]:
    from botwarden.feedback.review import status_of

    return {
        "id": r.id,
        "zone_id": r.zone_id,
        "type": r.type.value,
        "subtype": r.subtype,
        "description": r.description,
        "expression": r.expression,
        "first_request_seen_at": r.first_request_seen_at,
        "last_request_seen_at": r.last_request_seen_at,
        "requests": r.requests,
        "requests_by_score": r.requests_by_score,
        "requests_by_score_src": r.requests_by_score_src,
        "requests_by_attribute": r.requests_by_attribute,
        "status": r.status.value,
        "reviewer": r.reviewer,
        "note": r.note,
        "created_by": r.created_by,
        "created_on": r.created_on,
        "modified_on": r.modified_on,
        "reviewed_on": r.reviewed_on,
        "status_detail": status_of(r, registry),
        "model_version": r.model_version,
        "labelled_rows": r.labelled_rows,
    }


@router.post(
    "/zones/{zone_id}/bot_management/feedback",
    response_model=Envelope[FeedbackOut],
    status_code=201,
    responses={
        422: {"model": ErrorEnvelope, "description": "Idempotency-Key used for another report"}
    },
)
def create_feedback(
    request: Request,
    response: Response,
    body: FeedbackIn,
    access: Annotated[ZoneAccess, zone_access(Permission.BOT_FEEDBACK_WRITE)],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> dict[str, Any]:
    """Report traffic that was scored wrongly. With an `Idempotency-Key` header, sending
    the same report again answers the first one instead of creating another."""
    store = get_store(request)
    zone = access.zone
    settings = store.get_settings(zone.id)
    if not plans.feedback_allowed(zone.plan, settings, access.permissions):
        raise APIError(
            403,
            envelope.FORBIDDEN if plans.has_bot_analytics(zone.plan) else envelope.PLAN,
            "feedback needs Bot Analytics access (Bot Analytics Read on a pro, business or "
            "enterprise zone) or, on business and enterprise, Super Bot Fight Mode enabled; "
            f"zone {zone.id} is on the {zone.plan.value} plan",
        )
    report, problems = validate_report(
        body,
        expressions.account_lists(store, zone),
        datetime.now(UTC),
        request.app.state.retention,
    )
    if report is None:
        raise envelope.invalid(*problems)
    try:
        stored, created = store.create_feedback(
            zone.id,
            report,
            created_by=access.principal.who,
            request_hash=request_hash(report),
            idempotency_key=idempotency_key,
        )
    except Conflict as exc:
        raise APIError(422, envelope.IDEMPOTENCY, f"Idempotency-Key: {exc}") from None
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return envelope.ok(report_json(stored, _registry(request)))


@router.get("/zones/{zone_id}/bot_management/feedback", response_model=Envelope[list[FeedbackOut]])
def list_feedback(
    request: Request,
    access: ReadAccess,
    status: Annotated[FeedbackStatus | None, Query()] = None,
    type: Annotated[FeedbackType | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The zone's reports, newest first."""
    reports, total = get_store(request).list_feedback(
        access.zone.id, status=status, type=type, page=page, per_page=per_page
    )
    registry = _registry(request)
    rows = [report_json(r, registry) for r in reports]
    return envelope.ok(rows, envelope.page_info(page, per_page, len(rows), total))


@router.get(
    "/zones/{zone_id}/bot_management/feedback/{report_id}", response_model=Envelope[FeedbackOut]
)
def get_feedback(request: Request, access: ReadAccess, report_id: ReportId) -> dict[str, Any]:
    try:
        r = get_store(request).get_feedback(access.zone.id, report_id)
        return envelope.ok(report_json(r, _registry(request)))
    except NotFound:
        raise envelope.not_found(f"feedback report {report_id}") from None


@router.patch(
    "/zones/{zone_id}/bot_management/feedback/{report_id}",
    response_model=Envelope[FeedbackOut],
    responses={409: {"model": ErrorEnvelope, "description": "The report is training data"}},
)
def review_feedback(
    request: Request,
    body: FeedbackReview,
    access: Annotated[ZoneAccess, zone_access(Permission.BOT_MANAGEMENT_EDIT)],
    report_id: ReportId,
) -> dict[str, Any]:
    """Review a report: accept or reject it (or reopen it as pending), with a note; or
    relabel it — `type` (and `subtype` for a false negative) — which accepts it as
    relabelled. The reviewer recorded is the caller."""
    from botwarden.feedback import review

    if body.status is None and body.type is None:
        raise envelope.invalid(
            "status: give a status (accepted, rejected, pending), or a type to relabel"
        )
    if body.type is not None and body.status not in (None, "accepted"):
        raise envelope.invalid(
            f"status: a relabelled report is accepted; drop status {body.status!r} or "
            "send it without type"
        )
    if body.subtype is not None and body.type is None:
        raise envelope.invalid("subtype: give type (false_negative) with subtype to relabel")
    store = get_store(request)
    try:
        if body.type is not None:
            ftype = FeedbackType(body.type)
            subtype: str | None = None
            if body.subtype is not None:
                if ftype is FeedbackType.FALSE_POSITIVE:
                    raise envelope.invalid("subtype: only false_negative reports have a subtype")
                subtype = normalise_subtype(body.subtype)
                if subtype is None:
                    raise envelope.invalid(
                        f"subtype: unknown subtype {body.subtype!r}; use one of "
                        + ", ".join(SUBTYPES)
                    )
            r = review.relabel(store, access.zone.id, report_id, type=ftype, subtype=subtype,
                               reviewer=access.principal.who, note=body.note)  # fmt: skip
        else:
            assert body.status is not None
            r = store.review_feedback(
                access.zone.id,
                report_id,
                status=FeedbackStatus(body.status),
                reviewer=access.principal.who,
                note=body.note,
            )
    except NotFound:
        raise envelope.not_found(f"feedback report {report_id}") from None
    except Conflict as exc:
        raise APIError(409, envelope.CONFLICT, f"status: {exc}") from None
    return envelope.ok(report_json(r, _registry(request)))
