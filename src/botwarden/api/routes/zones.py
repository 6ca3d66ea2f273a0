"""Zones: `GET /zones` (the zones the caller may read) and `GET /zones/{zone_id}`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from botwarden.api import envelope
from botwarden.api.auth import CallerDep, ZoneAccess, get_store, zone_access
from botwarden.api.schemas import Envelope, ZoneOut
from botwarden.store import Permission, Plan, Zone

router = APIRouter(tags=["zones"])

PLAN_NAMES = {
    Plan.FREE: "Free Website",
    Plan.PRO: "Pro Website",
    Plan.BUSINESS: "Business Website",
    Plan.ENTERPRISE: "Enterprise Website",
}


def zone_json(zone: Zone, permissions: frozenset[Permission]) -> dict[str, Any]:
    return {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "paused": False,
        "type": "full",
        "development_mode": 0,
        "name_servers": [],
        "original_name_servers": None,
        "account": {"id": zone.account_id, "name": zone.account_name},
        "plan": {
            "id": zone.plan.value,
            "name": PLAN_NAMES[zone.plan],
            "legacy_id": zone.plan.value,
            "is_subscribed": True,
            "can_subscribe": False,
            "price": 0,
            "currency": "USD",
            "frequency": "",
            "externally_managed": False,
        },
        "permissions": sorted(p.value for p in permissions),
        "created_on": zone.created_on,
        "modified_on": zone.modified_on,
        "activated_on": zone.created_on,
    }


@router.get("/zones", response_model=Envelope[list[ZoneOut]])
def list_zones(
    request: Request,
    caller: CallerDep,
    name: Annotated[str | None, Query(max_length=253)] = None,
    account_id: Annotated[str | None, Query(alias="account.id", max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=5, le=50)] = 20,
) -> dict[str, Any]:
    """Zones the caller holds Zone Read for, by name; `name` and `account.id` filter."""
    accounts, zone_ids = caller.zone_scope(Permission.ZONE_READ)
    if account_id is not None:
        accounts &= {account_id}
        within = [account_id]
    else:
        within = list(caller.user.account_ids)
    zones, total = get_store(request).list_zones(
        account_ids=accounts,
        zone_ids=zone_ids,
        name=name,
        within_accounts=within,
        page=page,
        per_page=per_page,
    )
    rows = [zone_json(z, caller.zone_permissions(z)) for z in zones]
    return envelope.ok(rows, envelope.page_info(page, per_page, len(rows), total))


@router.get("/zones/{zone_id}", response_model=Envelope[ZoneOut])
async def get_zone(
    access: Annotated[ZoneAccess, zone_access(Permission.ZONE_READ)],
) -> dict[str, Any]:
    return envelope.ok(zone_json(access.zone, access.permissions))
