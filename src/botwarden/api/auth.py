"""Who is calling and what they may do: `X-Auth-Email` + `X-Auth-Key` (a user's global key:
everything in the user's accounts) or `Authorization: Bearer` (an API token: the
permission groups of its grants, each over whole accounts or listed zones).

A zone the caller has no grant for answers 404, exactly like a zone that does not exist,
so ids cannot be probed; a zone the caller can see but lacks the permission for answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from botwarden.api import envelope
from botwarden.api.envelope import APIError
from botwarden.api.schemas import ZONE_ID
from botwarden.store import NotFound, Permission, Store, Token, User, Zone
from botwarden.store.records import IMPLIES

ALL_PERMISSIONS = frozenset(Permission)
NONE: frozenset[Permission] = frozenset()
SEED_ZONE_EXAMPLE = "023e105f4ecef8ad9ca31a8372d0c353"

_email = APIKeyHeader(name="X-Auth-Email", auto_error=False, scheme_name="email")
_key = APIKeyHeader(name="X-Auth-Key", auto_error=False, scheme_name="key")
_bearer = HTTPBearer(auto_error=False, scheme_name="token")


def _expand(perms: frozenset[Permission]) -> frozenset[Permission]:
    out = set(perms)
    for p in perms:
        out |= IMPLIES.get(p, NONE)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user, and the token they used (None: global key)."""

    user: User
    token: Token | None = None

    @property
    def who(self) -> str:
        return self.user.email

    def zone_permissions(self, zone: Zone) -> frozenset[Permission]:
        # A token never reaches beyond its owner's accounts, even if granted more.
        if zone.account_id not in self.user.account_ids:
            return NONE
        if self.token is None:
            return ALL_PERMISSIONS
        perms: set[Permission] = set()
        for g in self.token.grants:
            if zone.account_id in g.account_ids or zone.id in g.zone_ids:
                perms |= g.permissions
        return _expand(frozenset(perms))

    def account_permissions(self, account_id: str) -> frozenset[Permission]:
        """Permissions over an account as a whole (zone-scoped grants give none)."""
        if account_id not in self.user.account_ids:
            return NONE
        if self.token is None:
            return ALL_PERMISSIONS
        perms: set[Permission] = set()
        for g in self.token.grants:
            if account_id in g.account_ids:
                perms |= g.permissions
        return _expand(frozenset(perms))

    def zone_scope(self, permission: Permission) -> tuple[set[str], set[str]]:
        """(account ids, zone ids) over which the caller holds `permission`."""
        accounts = set(self.user.account_ids)
        if self.token is None:
            return accounts, set()
        acc: set[str] = set()
        zones: set[str] = set()
        for g in self.token.grants:
            if permission in _expand(g.permissions):
                acc |= g.account_ids & accounts
                zones |= g.zone_ids
        return acc, zones


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def token_state(token: Token, now: datetime) -> str:
    if token.status != "active":
        return token.status
    if token.expires_on is not None and now >= token.expires_on:
        return "expired"
    if token.not_before is not None and now < token.not_before:
        return "not yet valid"
    return "active"


def _credentials(
    request: Request,
    email: str | None,
    key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
    *,
    active_only: bool,
) -> Principal:
    store = get_store(request)
    if request.headers.get("authorization") is not None:
        if bearer is None or not bearer.credentials.strip():
            raise APIError(
                400,
                envelope.MALFORMED_CREDENTIALS,
                "Invalid request headers: Authorization must be 'Bearer <token>'",
            )
        found = store.token_and_owner(bearer.credentials.strip())
        if found is None:
            raise APIError(401, envelope.INVALID_TOKEN, "Invalid API Token")
        token, user = found
        state = token_state(token, datetime.now(UTC))
        if active_only and state != "active":
            raise APIError(401, envelope.TOKEN_NOT_ACTIVE, f"API token is {state}")
        return Principal(user, token)
    if email is None and key is None:
        raise APIError(
            401,
            envelope.MISSING_CREDENTIALS,
            "Missing X-Auth-Email and X-Auth-Key headers, or an Authorization: Bearer token",
        )
    if not email or not key:
        missing = "X-Auth-Key" if email else "X-Auth-Email"
        raise APIError(401, envelope.MISSING_CREDENTIALS, f"Missing {missing} header")
    owner = store.authenticate_key(email, key.strip())
    if owner is None:
        raise APIError(401, envelope.UNKNOWN_KEY, "Unknown X-Auth-Key or X-Auth-Email")
    return Principal(owner)


# The dependencies below are `async` although they read the store: they run on the event
# loop instead of each taking a trip through the thread pool (≈0.3 ms apiece on a small
# machine, more than the work itself). What they read — credentials, zones — comes from
# the store's version-checked cache: one indexed read of the configuration version, and a
# full query only after a change.


async def authenticate(
    request: Request,
    email: Annotated[str | None, Depends(_email)],
    key: Annotated[str | None, Depends(_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return _credentials(request, email, key, bearer, active_only=True)


async def authenticate_any_token_state(
    request: Request,
    email: Annotated[str | None, Depends(_email)],
    key: Annotated[str | None, Depends(_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Like authenticate, but lets a disabled or expired token through (token verify)."""
    return _credentials(request, email, key, bearer, active_only=False)


CallerDep = Annotated[Principal, Depends(authenticate)]


@dataclass(frozen=True, slots=True)
class ZoneAccess:
    zone: Zone
    principal: Principal
    permissions: frozenset[Permission]

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions


def _describe(perms: tuple[Permission, ...]) -> str:
    return " or ".join(p.label for p in perms)


def zone_access(*any_of: Permission) -> object:
    """A dependency: the zone in the path, if the caller holds one of `any_of` for it."""

    async def dep(
        request: Request,
        caller: CallerDep,
        zone_id: Annotated[
            str,
            Path(pattern=ZONE_ID, description="32 hex digits", examples=[SEED_ZONE_EXAMPLE]),
        ],
    ) -> ZoneAccess:
        try:
            zone = get_store(request).get_zone(zone_id)
        except NotFound:
            zone = None
        perms = NONE if zone is None else caller.zone_permissions(zone)
        if zone is None or not perms:
            raise envelope.not_found(f"zone {zone_id}")
        if not any(p in perms for p in any_of):
            raise envelope.forbidden(
                f"Authentication error: these credentials lack {_describe(any_of)} "
                f"for zone {zone_id}"
            )
        return ZoneAccess(zone, caller, perms)

    return Depends(dep)


@dataclass(frozen=True, slots=True)
class AccountAccess:
    account_id: str
    principal: Principal
    permissions: frozenset[Permission]


def account_access(*any_of: Permission) -> object:
    async def dep(
        caller: CallerDep,
        account_id: Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")],
    ) -> AccountAccess:
        perms = caller.account_permissions(account_id)
        if not perms:
            raise envelope.not_found(f"account {account_id}")
        if not any(p in perms for p in any_of):
            raise envelope.forbidden(
                f"Authentication error: these credentials lack {_describe(any_of)} "
                f"for account {account_id}"
            )
        return AccountAccess(account_id, caller, perms)

    return Depends(dep)
