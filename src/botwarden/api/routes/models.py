"""Model versions: list them with their metrics, show one, promote one (admins only).
A zone is pinned through `PUT /zones/{zone_id}/bot_management/model` (bot_management.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from botwarden.api import envelope
from botwarden.api.auth import CallerDep, get_store
from botwarden.api.schemas import Envelope, ModelOut
from botwarden.errors import ConfigError
from botwarden.store import ModelVersion, NotFound, Permission

router = APIRouter(tags=["models"])
Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


def model_json(m: ModelVersion, latest: str | None) -> dict[str, Any]:
    return {
        "version": m.version,
        "description": m.description,
        "fingerprint": m.fingerprint,
        "metrics": m.metrics,
        "created_on": m.created_on,
        "promoted_on": m.promoted_on,
        "latest": m.version == latest,
    }


def _latest(request: Request) -> str | None:
    m = get_store(request).latest_model()
    return None if m is None else m.version


@router.get("/bot_management/models", response_model=Envelope[list[ModelOut]])
def list_models(
    request: Request,
    caller: CallerDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Model versions, newest first; `latest` marks the promoted one zones run."""
    models, total = get_store(request).list_models(page=page, per_page=per_page)
    latest = _latest(request)
    rows = [model_json(m, latest) for m in models]
    return envelope.ok(rows, envelope.page_info(page, per_page, len(rows), total))


@router.get("/bot_management/models/{version}", response_model=Envelope[ModelOut])
def get_model(request: Request, caller: CallerDep, version: Version) -> dict[str, Any]:
    try:
        m = get_store(request).get_model(version)
    except NotFound:
        raise envelope.not_found(f"model version {version}") from None
    return envelope.ok(model_json(m, _latest(request)))


def _control(request: Request) -> Any:
    """The registry-and-store control (feedback/promotion.py) when the app has a model
    registry (`app.state.registry`, else the data directory's), else None."""
    from botwarden.feedback.promotion import ModelControl

    reg = getattr(request.app.state, "registry", None)
    if reg is None:
        from botwarden.engines.ml import default_registry

        reg = default_registry()
    return None if reg is None else ModelControl(reg, get_store(request))


def _admin(caller: Any, what: str) -> None:
    if not caller.user.is_admin:
        raise envelope.forbidden(f"Authentication error: only an administrator can {what}")
    if caller.token is not None and not any(
        Permission.BOT_MANAGEMENT_EDIT in g.permissions for g in caller.token.grants
    ):
        raise envelope.forbidden(f"Authentication error: to {what} needs Bot Management Edit")


@router.post("/bot_management/models/{version}/promote", response_model=Envelope[ModelOut])
def promote_model(request: Request, caller: CallerDep, version: Version) -> dict[str, Any]:
    """Make this version the one every zone that auto-updates runs (admins only); zones
    with auto-update off stay on the version they run."""
    _admin(caller, "promote a model")
    control = _control(request)
    try:
        if control is not None:
            control.promote(version)
            m = get_store(request).get_model(version)
        else:
            m = get_store(request).promote_model(version)
    except (NotFound, ConfigError):
        raise envelope.not_found(f"model version {version}") from None
    return envelope.ok(model_json(m, m.version))


@router.post("/bot_management/models/rollback", response_model=Envelope[ModelOut])
def rollback_model(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Reactivate the version that was active before the current one (admins only)."""
    _admin(caller, "roll back a model")
    control = _control(request)
    if control is None:
        raise envelope.invalid("rollback: no model registry is configured on this server")
    try:
        version = control.rollback()
    except ConfigError as exc:
        raise envelope.invalid(f"rollback: {exc}") from None
    m = get_store(request).get_model(version)
    return envelope.ok(model_json(m, m.version))
