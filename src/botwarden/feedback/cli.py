"""`botwarden feedback list|show|accept|reject|relabel`: review reports from a terminal,
over the functions of `feedback/review.py`. Errors a user can fix are one message and
exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from botwarden.errors import BotwardenError
from botwarden.store import DEFAULT_URL, FeedbackStatus, FeedbackType, NotFound

feedback_app = typer.Typer(
    help="Feedback reports: list, show with matching traffic, accept, reject, relabel.",
    no_args_is_help=True,
)

Database = Annotated[
    str,
    typer.Option("--database", envvar="BOTWARDEN_DATABASE_URL", help="Store URL."),
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory holding models/.")]
Zone = Annotated[str, typer.Argument(help="Zone id or name.")]
Report = Annotated[str, typer.Argument(help="Report id (32 hex digits).")]
Reviewer = Annotated[str, typer.Option("--reviewer", help="Who reviews (recorded).")]
Note = Annotated[str | None, typer.Option("--note", help="Why (recorded with the report).")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _open(database: str) -> Any:
    from botwarden.store import open as open_store

    try:
        return open_store(database)
    except Exception as exc:  # a bad URL, an unreachable server
        _fail(f"cannot open the store {database}: {exc}")


def _registry(data_dir: Path | None) -> Any:
    from botwarden.ml.registry import REGISTRY_FILE, Registry, default_root

    root = data_dir / "models" if data_dir is not None else default_root()
    return Registry(root) if (root / REGISTRY_FILE).is_file() else None


def _zone_id(st: Any, zone: str) -> str:
    from botwarden.feedback.promotion import ModelControl

    try:
        return ModelControl(None, st)._zone_id(zone)  # type: ignore[arg-type]
    except BotwardenError as exc:
        _fail(str(exc))
    raise AssertionError


@feedback_app.command("list")
def list_(
    zone: Zone,
    status: Annotated[FeedbackStatus | None, typer.Option(help="Only this status.")] = None,
    database: Database = DEFAULT_URL,
    data_dir: DataDir = None,
) -> None:
    """The zone's reports, newest first, with where each stands."""
    from botwarden.feedback import review

    st = _open(database)
    zid = _zone_id(st, zone)
    reports, total = review.list_reports(st, zid, status=status)
    reg = _registry(data_dir)
    typer.echo(f"{'id':32}  {'type':15} {'subtype':10} {'requests':>9}  {'created':20} status")
    for r in reports:
        typer.echo(
            f"{r.id}  {r.type.value:15} {r.subtype or '-':10} {r.requests:>9,}  "
            f"{r.created_on:%Y-%m-%dT%H:%M:%SZ}  {review.status_of(r, reg)}"
        )
    typer.echo(f"{len(reports)} of {total} report(s)")


@feedback_app.command("show")
def show(
    zone: Zone,
    report: Report,
    analytics: Annotated[
        str | None, typer.Option("--analytics", help="Analytics backend URL (matching traffic).")
    ] = None,
    database: Database = DEFAULT_URL,
    data_dir: DataDir = None,
) -> None:
    """One report as JSON, with its matching traffic when an analytics store is given."""
    from botwarden.feedback import review

    st = _open(database)
    zid = _zone_id(st, zone)
    backend = None
    if analytics is not None:
        from botwarden.analytics.base import open_backend

        backend = open_backend(analytics)
    try:
        view = review.show(st, zid, report, backend=backend, registry=_registry(data_dir))
    except NotFound as exc:
        _fail(str(exc))
        return
    r = view.report
    doc = {
        "id": r.id,
        "type": r.type.value,
        "subtype": r.subtype,
        "description": r.description,
        "expression": r.expression,
        "first_request_seen_at": r.first_request_seen_at.isoformat(),
        "last_request_seen_at": r.last_request_seen_at.isoformat(),
        "requests": r.requests,
        "status": view.status,
        "reviewer": r.reviewer,
        "note": r.note,
        "model_version": r.model_version,
        "matching_traffic": view.figures,
        "sample": view.sample,
        "conflicts": view.conflicts,
    }
    typer.echo(json.dumps(doc, indent=2, default=str))


def _review(action: str, zone: str, report: str, reviewer: str, note: str | None, db: str) -> None:
    from botwarden.feedback import review
    from botwarden.store import Conflict

    st = _open(db)
    zid = _zone_id(st, zone)
    fn = review.accept if action == "accept" else review.reject
    try:
        r = fn(st, zid, report, reviewer=reviewer, note=note)
    except (NotFound, Conflict) as exc:
        _fail(str(exc))
        return
    typer.echo(f"{r.id}: {r.status.value} by {r.reviewer}")


@feedback_app.command("accept")
def accept(
    zone: Zone,
    report: Report,
    reviewer: Reviewer,
    note: Note = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Accept a report: its traffic becomes training data at the next retrain."""
    _review("accept", zone, report, reviewer, note, database)


@feedback_app.command("reject")
def reject(
    zone: Zone,
    report: Report,
    reviewer: Reviewer,
    note: Note = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Reject a report: kept, never trained on."""
    _review("reject", zone, report, reviewer, note, database)


@feedback_app.command("relabel")
def relabel(
    zone: Zone,
    report: Report,
    type: Annotated[FeedbackType, typer.Option("--type", help="What the traffic really is.")],
    reviewer: Reviewer,
    subtype: Annotated[str | None, typer.Option(help="Subtype (false negatives).")] = None,
    note: Note = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Change a report's type or subtype, and accept it."""
    from botwarden.feedback import review
    from botwarden.store import Conflict

    st = _open(database)
    zid = _zone_id(st, zone)
    try:
        r = review.relabel(st, zid, report, type=type, subtype=subtype, reviewer=reviewer,
                           note=note)  # fmt: skip
    except (NotFound, Conflict, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"{r.id}: relabelled {r.type.value} {r.subtype or ''}, accepted by {r.reviewer}")


__all__ = ["feedback_app"]
