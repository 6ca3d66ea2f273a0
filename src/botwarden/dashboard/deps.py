"""What every page depends on: `SignedIn` (a valid session of an existing user, and a
good CSRF token on every request that changes something) and `ZonePage` (that, plus a
zone in one of the user's accounts: any other zone is a 404, exactly like a zone that
does not exist, as in the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from botwarden.api.auth import Principal, ZoneAccess
from botwarden.api.schemas import ZONE_ID
from botwarden.dashboard.sessions import Session, Sessions
from botwarden.store import NotFound, Store, User, Zone

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form."""


class CSRFRejected(Exception):
    """A request that changes something came without this session's CSRF token."""


class PageNotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.dashboard_sessions
    return sessions


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def check_csrf(request: Request, session: Session) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not sessions_of(request).csrf_ok(session, token):
        raise CSRFRejected()


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request."""

    user: User
    session: Session
    principal: Principal


async def signed_in(request: Request) -> Viewer:
    session = sessions_of(request).load(request)
    if session is None or session.user_id is None:
        raise SignInRequired()
    store = store_of(request)
    if store.session_epoch(session.user_id) != session.epoch:
        raise SignInRequired()  # signed out elsewhere, or the password changed
    try:
        user = store.get_user(session.user_id)
    except NotFound:
        raise SignInRequired() from None
    request.state.session = session
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    viewer = Viewer(user, session, Principal(user))
    request.state.viewer = viewer
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]


@dataclass(frozen=True, slots=True)
class ZoneView:
    zone: Zone
    viewer: Viewer
    access: ZoneAccess
    """The API's view of the zone for this user: pass it to the API's route functions."""


async def zone_page(
    request: Request,
    viewer: SignedIn,
    zone_id: Annotated[str, Path(pattern=ZONE_ID)],
) -> ZoneView:
    try:
        zone = store_of(request).get_zone(zone_id)
    except NotFound:
        raise PageNotFound(f"zone {zone_id}") from None
    permissions = viewer.principal.zone_permissions(zone)
    if not permissions:
        raise PageNotFound(f"zone {zone_id}")
    request.state.zone = zone
    return ZoneView(zone, viewer, ZoneAccess(zone, viewer.principal, permissions))


ZonePage = Annotated[ZoneView, Depends(zone_page)]
