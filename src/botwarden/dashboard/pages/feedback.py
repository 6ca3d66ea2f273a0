"""Feedback: a zone's false positive / false negative reports with where each stands
(pending, accepted, rejected, in training, in model vN), and a reviewer's view of one —
the traffic its expression selects in its window (figures and a sample) — with accept,
reject, reopen and relabel. Reviews go through the Feedback API's review route (or
`feedback.review.relabel`, which the API has no route for), so the checks are the same."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from botwarden.api.envelope import APIError
from botwarden.api.routes import feedback as api_feedback
from botwarden.api.schemas import ZONE_ID, FeedbackReview
from botwarden.dashboard.deps import ZonePage, ZoneView, store_of
from botwarden.dashboard.templating import base_path, errors_of, render
from botwarden.feedback import review
from botwarden.rules import RuleSyntaxError
from botwarden.store import Conflict, FeedbackStatus, FeedbackType, NotFound, Permission

router = APIRouter()

PER_PAGE = 25
SAMPLE = 20
ReportId = Annotated[str, Path(pattern=ZONE_ID)]
TYPE_LABELS = {"false_positive": "False positive", "false_negative": "False negative"}
DECISIONS = {"accept": "accepted", "reject": "rejected", "reopen": "pending"}
DONE = {
    "accept": "Accepted",
    "reject": "Rejected",
    "reopen": "Reopened",
    "relabel": "Relabelled and accepted",
}
SAMPLE_COLUMNS = (
    "ts",
    "client_ip",
    "asn",
    "country",
    "method",
    "path",
    "user_agent",
    "ja3_hash",
    "score",
    "score_src",
)


def _registry(request: Request) -> Any:
    """The model registry the API's model routes use, for "in model vN" (None: none)."""
    reg = getattr(request.app.state, "registry", None)
    if reg is None:
        from botwarden.engines.ml import default_registry

        reg = default_registry()
    return reg


def _can_read(view: ZoneView) -> bool:
    return view.access.has(Permission.BOT_FEEDBACK_WRITE) or view.access.has(
        Permission.BOT_MANAGEMENT_EDIT
    )


def _can_review(view: ZoneView) -> bool:
    # The permission the API's PATCH …/feedback/{id} requires.
    return view.access.has(Permission.BOT_MANAGEMENT_EDIT)


def _forbidden(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": "Forbidden",
            "message": "Feedback "
            "reports need Bot Feedback Write or Bot Management Edit on this zone.",
        },
        status_code=403,
    )


def status_class(status: str) -> str:
    if status.startswith("in model"):
        return "status-model"
    return "status-" + status.replace("in ", "")


@router.get("/zones/{zone_id}/feedback", response_class=HTMLResponse)
def feedback_list(
    request: Request,
    page: ZonePage,
    status: Annotated[FeedbackStatus | None, Query()] = None,
    type: Annotated[FeedbackType | None, Query()] = None,
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    if not _can_read(page):
        return _forbidden(request)
    store, reg = store_of(request), _registry(request)
    reports, total = review.list_reports(
        store, page.zone.id, status=status, type=type, page=p, per_page=PER_PAGE
    )
    rows = [(r, review.status_of(r, reg)) for r in reports]
    return render(
        request,
        "feedback.html",
        {
            "zone": page.zone,
            "nav_active": "feedback",
            "rows": rows,
            "total": total,
            "p": p,
            "pages": max(1, -(-total // PER_PAGE)),
            "status": status,
            "type": type,
            "statuses": list(FeedbackStatus),
            "types": TYPE_LABELS,
            "status_class": status_class,
        },
    )


def _detail(
    request: Request,
    view: ZoneView,
    report_id: str,
    *,
    errors: dict[str, list[str]] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    store = store_of(request)
    source = request.app.state.analytics
    backend = getattr(source, "backend", None)
    traffic_error: str | None = None
    try:
        rv = review.show(
            store,
            view.zone.id,
            report_id,
            backend=backend,
            registry=_registry(request),
            sample=SAMPLE,
        )
    except NotFound:
        from botwarden.dashboard.deps import PageNotFound

        raise PageNotFound(f"feedback report {report_id}") from None
    except (RuleSyntaxError, ValueError) as exc:
        # The expression no longer compiles (a list it names was deleted): show the report.
        rv = review.show(store, view.zone.id, report_id, registry=_registry(request))
        traffic_error = str(exc)
    if backend is None and traffic_error is None:
        traffic_error = "Analytics are not available in this process: no matching traffic."
    return render(
        request,
        "feedback_report.html",
        {
            "zone": view.zone,
            "nav_active": "feedback",
            "rv": rv,
            "r": rv.report,
            "types": TYPE_LABELS,
            "subtypes": api_feedback.SUBTYPES,
            "columns": SAMPLE_COLUMNS,
            "can_review": _can_review(view),
            "errors": errors or {},
            "form": form or {},
            "done": DONE.get(done or ""),
            "traffic_error": traffic_error,
            "status_class": status_class,
            "labelled": rv.report.status is FeedbackStatus.LABELLED,
        },
        status_code=status_code,
    )


@router.get("/zones/{zone_id}/feedback/{report_id}", response_class=HTMLResponse)
def feedback_report(
    request: Request, page: ZonePage, report_id: ReportId, done: str | None = None
) -> HTMLResponse:
    if not _can_read(page):
        return _forbidden(request)
    return _detail(request, page, report_id, done=done)


@router.post("/zones/{zone_id}/feedback/{report_id}/review", response_class=HTMLResponse)
def review_report(
    request: Request,
    page: ZonePage,
    report_id: ReportId,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    subtype: Annotated[str, Form()] = "",
) -> Response:
    form = {"note": note, "type": type, "subtype": subtype}
    if not _can_review(page):
        return _detail(
            request,
            page,
            report_id,
            form=form,
            status_code=403,
            errors={"_form": ["Reviewing needs Bot Management Edit on this zone."]},
        )
    errors: dict[str, list[str]] = {}
    text = note.strip() or None
    status_code = 400
    if decision in DECISIONS:
        try:
            body = FeedbackReview(status=DECISIONS[decision], note=text)  # type: ignore[arg-type]
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] else "_form"
                errors.setdefault(name, []).append(f"{name}: {e['msg']}")
        else:
            try:
                api_feedback.review_feedback(request, body, page.access, report_id)
            except APIError as exc:
                status_code = exc.status
                errors["_form"] = errors_of(exc)
    elif decision == "relabel":
        if type not in TYPE_LABELS:
            errors["type"] = [f"type: choose false_positive or false_negative (got {type!r})"]
        elif text is not None and len(text) > 2000:
            errors["note"] = ["note: at most 2000 characters"]
        else:
            try:
                review.relabel(
                    store_of(request),
                    page.zone.id,
                    report_id,
                    type=FeedbackType(type),
                    subtype=subtype or None,
                    reviewer=page.viewer.user.email,
                    note=text,
                )
            except NotFound:
                from botwarden.dashboard.deps import PageNotFound

                raise PageNotFound(f"feedback report {report_id}") from None
            except Conflict as exc:
                status_code, errors["_form"] = 409, [f"status: {exc}"]
            except ValueError as exc:
                errors["subtype"] = [f"subtype: {exc}"]
    else:
        errors["_form"] = [f"decision: {decision!r} is not accept, reject, reopen or relabel"]
    if errors:
        return _detail(request, page, report_id, errors=errors, form=form, status_code=status_code)
    url = f"{base_path(request)}/zones/{page.zone.id}/feedback/{report_id}?done={decision}"
    return RedirectResponse(url, status_code=303)
