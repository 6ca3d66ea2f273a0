"""Review: a reviewer sees a report with its matching traffic and accepts, rejects or
relabels it, with a note. The CLI (`botwarden feedback …`), the API's review update and
the dashboard all call these functions.

    reports = list_reports(store, zone)                        # newest first
    view = show(store, zone, report_id, backend=analytics)     # figures and a sample
    accept(store, zone, report_id, reviewer="ana@example.com", note="checked the sample")
    relabel(store, zone, report_id, type=FeedbackType.FALSE_NEGATIVE, subtype="scraping", …)
    status(store, registry, zone, report_id)                   # "in model v3"

Where a report stands: pending → accepted (or rejected) → in training (its rows are in a
candidate that is not active yet) → in model vN (vN was promoted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botwarden.store.records import FeedbackReport, FeedbackStatus, FeedbackType

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend
    from botwarden.ml.registry import Registry
    from botwarden.store import Store

PENDING, ACCEPTED, REJECTED, IN_TRAINING = "pending", "accepted", "rejected", "in training"


@dataclass(slots=True)
class ReportView:
    """A report as a reviewer sees it."""

    report: FeedbackReport
    status: str
    figures: dict[str, Any] | None = None  # the traffic the expression selects now
    sample: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def status(store: Store, registry: Registry | None, zone: str, report_id: str) -> str:
    return status_of(store.get_feedback(zone, report_id), registry)


def status_of(report: FeedbackReport, registry: Registry | None) -> str:
    """pending | accepted | rejected | in training | in model vN."""
    if report.status is FeedbackStatus.PENDING:
        return PENDING
    if report.status is FeedbackStatus.REJECTED:
        return REJECTED
    if report.status is FeedbackStatus.ACCEPTED:
        return ACCEPTED
    version = report.model_version
    if version is None or registry is None:
        return IN_TRAINING
    promoted = version in registry.doc.get("history", []) or registry.active == version
    return f"in model {version}" if promoted else IN_TRAINING


def list_reports(
    store: Store,
    zone: str,
    *,
    status: FeedbackStatus | None = None,
    type: FeedbackType | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[FeedbackReport], int]:
    """The zone's reports, newest first, and how many there are."""
    return store.list_feedback(zone, status=status, type=type, page=page, per_page=per_page)


def show(
    store: Store,
    zone: str,
    report_id: str,
    *,
    backend: Backend | None = None,
    registry: Registry | None = None,
    sample: int = 20,
) -> ReportView:
    """A report with its matching traffic — the figures and the latest `sample` events
    its expression selects in its window — and the accepted reports it conflicts with."""
    r = store.get_feedback(zone, report_id)
    view = ReportView(r, status_of(r, registry))
    if backend is None:
        return view
    from botwarden.analytics.queries import feedback_summary
    from botwarden.analytics.queries import sample as sample_events
    from botwarden.feedback.labels import conflicts

    w = _window(r)
    view.figures = feedback_summary(backend, w, r.expression)
    view.sample = sample_events(backend, w, r.expression, limit=sample)
    others = [o for o in store.accepted_feedback() if o.zone_id == zone and o.id != r.id]
    view.conflicts = [c.describe() for c in conflicts(backend, [r, *others]) if r.id in (c.a, c.b)]
    return view


def _window(r: FeedbackReport) -> Any:
    from datetime import timedelta

    from botwarden.analytics.queries import Window

    return Window(r.zone_id, r.first_request_seen_at, r.last_request_seen_at + timedelta(seconds=1))


def accept(
    store: Store, zone: str, report_id: str, *, reviewer: str, note: str | None = None
) -> FeedbackReport:
    """Accept: the report's traffic becomes training data at the next retrain."""
    return store.review_feedback(zone, report_id, status=FeedbackStatus.ACCEPTED,
                                 reviewer=reviewer, note=note)  # fmt: skip


def reject(
    store: Store, zone: str, report_id: str, *, reviewer: str, note: str | None = None
) -> FeedbackReport:
    """Reject: the report is kept, but never trained on."""
    return store.review_feedback(zone, report_id, status=FeedbackStatus.REJECTED,
                                 reviewer=reviewer, note=note)  # fmt: skip


def reopen(
    store: Store, zone: str, report_id: str, *, reviewer: str, note: str | None = None
) -> FeedbackReport:
    return store.review_feedback(zone, report_id, status=FeedbackStatus.PENDING,
                                 reviewer=reviewer, note=note)  # fmt: skip


def relabel(
    store: Store,
    zone: str,
    report_id: str,
    *,
    type: FeedbackType,
    subtype: str | None = None,
    reviewer: str,
    note: str | None = None,
) -> FeedbackReport:
    """Change what the report says (a false positive that is really a false negative, or
    another subtype) and accept it as relabelled."""
    if subtype is not None:
        from botwarden.api.routes.feedback import normalise_subtype

        known = normalise_subtype(subtype)
        if known is None:
            raise ValueError(f"unknown subtype {subtype!r}")
        subtype = known
    return store.relabel_feedback(zone, report_id, type=type, subtype=subtype,
                                  reviewer=reviewer, note=note)  # fmt: skip


__all__ = [
    "ReportView",
    "accept",
    "list_reports",
    "reject",
    "relabel",
    "reopen",
    "show",
    "status",
    "status_of",
]
