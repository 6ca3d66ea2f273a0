"""Bot management settings: `GET/PUT /zones/{zone_id}/bot_management` with Cloudflare's
field names (the fields shown follow the zone's plan), and the model pin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from botwarden.api import envelope, plans
from botwarden.api.auth import ZoneAccess, get_store, zone_access
from botwarden.api.envelope import APIError
from botwarden.api.schemas import BotManagementIn, BotManagementOut, Envelope, ModelPinIn
from botwarden.store import BotSettings, NotFound, Permission, Store, Zone

router = APIRouter(tags=["bot management"])
READ_ONLY = frozenset({"using_latest_model", "stale_zone_configuration", "model_version"})


def settings_json(store: Store, zone: Zone, st: BotSettings) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(st, k) for k in sorted(plans.SETTINGS_BY_PLAN[zone.plan])}
    latest = store.latest_model()
    latest_version = latest.version if latest is not None else None
    out["model_pin"] = st.model_pin
    out["model_version"] = st.model_pin or latest_version
    out["using_latest_model"] = st.model_pin is None or st.model_pin == latest_version
    stale = plans.stale_settings(zone.plan, st)
    if stale:
        out["stale_zone_configuration"] = stale
    return out


def sync_registry(request: Request) -> None:
    """Mirror the store's per-zone pins into the model registry the edges read (the same
    step the CLI's `botwarden model pin` takes), when this server has a registry."""
    from botwarden.feedback.promotion import ModelControl

    reg = getattr(request.app.state, "registry", None)
    if reg is None:
        from botwarden.engines.ml import default_registry

        reg = default_registry()
    if reg is not None:
        ModelControl(reg, get_store(request)).sync_zones()


@router.get(
    "/zones/{zone_id}/bot_management",
    response_model=Envelope[BotManagementOut],
    response_model_exclude_unset=True,
)
async def get_settings(
    request: Request,
    access: Annotated[ZoneAccess, zone_access(Permission.BOT_MANAGEMENT_READ)],
) -> dict[str, Any]:
    # Async like the auth dependencies: both reads are answered from the store's cache.
    store = get_store(request)
    return envelope.ok(settings_json(store, access.zone, store.get_settings(access.zone.id)))


@router.put(
    "/zones/{zone_id}/bot_management",
    response_model=Envelope[BotManagementOut],
    response_model_exclude_unset=True,
)
def put_settings(
    request: Request,
    body: BotManagementIn,
    access: Annotated[ZoneAccess, zone_access(Permission.BOT_MANAGEMENT_EDIT)],
) -> dict[str, Any]:
    """Change the settings sent; the others keep their value. Read-only fields are
    ignored; a field the zone's plan does not include is refused."""
    store = get_store(request)
    zone = access.zone
    allowed = plans.SETTINGS_BY_PLAN[zone.plan]
    changes: dict[str, Any] = {}
    problems: list[tuple[int, str]] = []
    for name in sorted(body.model_fields_set - READ_ONLY):
        value = getattr(body, name)
        if name not in allowed:
            problems.append(
                (
                    envelope.PLAN,
                    f"{name}: available on {plans.availability(name)}; "
                    f"this zone is on the {zone.plan.value} plan",
                )
            )
        elif value is None and name != "model_pin":
            problems.append((envelope.INVALID, f"{name}: must not be null"))
        else:
            changes[name] = value
    if problems:
        raise APIError(400, problems[0][0], problems[0][1], *problems[1:])
    if changes.get("auto_update_model") is False and "model_pin" not in changes:
        # Leaving automatic updates means staying on the model the zone runs now.
        current = store.get_settings(zone.id)
        latest = store.latest_model()
        if current.model_pin is None and latest is not None:
            changes["model_pin"] = latest.version
    try:
        st = store.update_settings(zone.id, changes) if changes else store.get_settings(zone.id)
    except NotFound as exc:
        raise envelope.invalid(f"model_pin: {exc}") from None
    if "model_pin" in changes or "auto_update_model" in changes:
        sync_registry(request)
    return envelope.ok(settings_json(store, zone, st))


@router.put(
    "/zones/{zone_id}/bot_management/model",
    response_model=Envelope[BotManagementOut],
    response_model_exclude_unset=True,
    tags=["models"],
)
def pin_model(
    request: Request,
    body: ModelPinIn,
    access: Annotated[ZoneAccess, zone_access(Permission.BOT_MANAGEMENT_EDIT)],
) -> dict[str, Any]:
    """Pin the zone to a model version (null: follow the promoted model)."""
    store = get_store(request)
    try:
        st = store.update_settings(access.zone.id, {"model_pin": body.version})
    except NotFound as exc:
        raise envelope.invalid(f"version: {exc}") from None
    sync_registry(request)
    return envelope.ok(settings_json(store, access.zone, st))
