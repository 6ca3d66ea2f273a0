"""Model versions: list them with their metrics, show one, promote one (admins only).
A zone is pinned through `PUT /zones/{zone_id}/bot_management/model` (bot_management.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from botwarden.api import envelope
from botwarden.api.auth import CallerDep, get_store
from botwarden.api.schemas import Envelope, ModelOut
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


@router.post("/bot_management/models/{version}/promote", response_model=Envelope[ModelOut])
def promote_model(request: Request, caller: CallerDep, version: Version) -> dict[str, Any]:
    """Make this version the one every zone that is not pinned runs (admins only)."""
    if not caller.user.is_admin:
        raise envelope.forbidden("Authentication error: only an administrator can promote a model")
    if caller.token is not None and not any(
        Permission.BOT_MANAGEMENT_EDIT in g.permissions for g in caller.token.grants
    ):
        raise envelope.forbidden("Authentication error: promoting needs Bot Management Edit")
    try:
        m = get_store(request).promote_model(version)
    except NotFound:
        raise envelope.not_found(f"model version {version}") from None
    return envelope.ok(model_json(m, m.version))
