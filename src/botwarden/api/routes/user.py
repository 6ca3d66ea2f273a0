"""The caller: `/user`, `/user/tokens/verify`, permission groups, and `/accounts`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from botwarden.api import envelope
from botwarden.api.auth import (
    CallerDep,
    Principal,
    authenticate_any_token_state,
    get_store,
    token_state,
)
from botwarden.api.schemas import AccountOut, Envelope, PermissionGroup, TokenVerify, UserOut
from botwarden.store import Permission, Plan
from botwarden.store.records import PERMISSION_TITLES

router = APIRouter(tags=["user"])

_SCOPES = {
    Permission.ZONE_READ: ["com.cloudflare.api.account.zone"],
    Permission.BOT_MANAGEMENT_READ: ["com.cloudflare.api.account.zone"],
    Permission.BOT_MANAGEMENT_EDIT: ["com.cloudflare.api.account.zone"],
    Permission.BOT_ANALYTICS_READ: ["com.cloudflare.api.account.zone"],
    Permission.FIREWALL_EDIT: ["com.cloudflare.api.account", "com.cloudflare.api.account.zone"],
    Permission.BOT_FEEDBACK_WRITE: ["com.cloudflare.api.account.zone"],
}


@router.get("/user/tokens/verify", response_model=Envelope[TokenVerify])
def verify_token(
    caller: Annotated[Principal, Depends(authenticate_any_token_state)],
) -> dict[str, Any]:
    """Whether the bearer token is valid and active (Cloudflare's token verify)."""
    token = caller.token
    if token is None:
        raise envelope.APIError(
            400,
            envelope.MALFORMED_CREDENTIALS,
            "token verify needs an Authorization: Bearer token, not X-Auth-Key",
        )
    state = token_state(token, datetime.now(UTC))
    status = state if state in ("active", "disabled", "expired") else "disabled"
    return envelope.ok(
        {
            "id": token.id,
            "status": status,
            "not_before": token.not_before,
            "expires_on": token.expires_on,
        }
    )


@router.get("/user", response_model=Envelope[UserOut])
def get_user(request: Request, caller: CallerDep) -> dict[str, Any]:
    zones, _ = get_store(request).list_zones(account_ids=caller.user.account_ids, per_page=10_000)
    plans = {z.plan for z in zones}
    return envelope.ok(
        {
            "id": caller.user.id,
            "email": caller.user.email,
            "created_on": caller.user.created_on,
            "has_pro_zones": Plan.PRO in plans,
            "has_business_zones": Plan.BUSINESS in plans,
            "has_enterprise_zones": Plan.ENTERPRISE in plans,
        }
    )


@router.get("/user/tokens/permission_groups", response_model=Envelope[list[PermissionGroup]])
def permission_groups(caller: CallerDep) -> dict[str, Any]:
    """The permission groups a token's grants can hold."""
    groups = [
        {"id": p.value, "name": PERMISSION_TITLES[p], "scopes": _SCOPES[p]} for p in Permission
    ]
    return envelope.ok(groups, envelope.page_info(1, len(groups), len(groups), len(groups)))


@router.get("/accounts", response_model=Envelope[list[AccountOut]], tags=["accounts"])
def list_accounts(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Accounts the caller belongs to (for a token: those it holds a grant over)."""
    ids = set(caller.user.account_ids)
    if caller.token is not None:
        granted: set[str] = set()
        for p in Permission:
            granted |= caller.zone_scope(p)[0]
        ids &= granted
    accounts = get_store(request).list_accounts(ids)
    rows = [{"id": a.id, "name": a.name, "created_on": a.created_on} for a in accounts]
    return envelope.ok(rows, envelope.page_info(1, max(1, len(rows)), len(rows), len(rows)))
