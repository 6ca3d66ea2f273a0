"""Sign-in (e-mail and password, checked with scrypt by the store) and sign-out (which
ends every dashboard session of the user: the session epoch moves)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from botwarden.dashboard.deps import SignedIn, SignInRequired, sessions_of, signed_in, store_of
from botwarden.dashboard.sessions import Session
from botwarden.dashboard.templating import base_path, render

router = APIRouter()

# Failed sign-ins per e-mail in this process: past the limit, refuse for a while instead
# of running scrypt for every guess.
MAX_FAILURES = 10
FAILURE_WINDOW = 600.0
_failures: dict[str, deque[float]] = {}
_failures_lock = threading.Lock()


def _too_many(email: str, now: float) -> bool:
    with _failures_lock:
        times = _failures.get(email)
        if times is None:
            return False
        while times and times[0] < now - FAILURE_WINDOW:
            times.popleft()
        return len(times) >= MAX_FAILURES


def _failed(email: str, now: float) -> None:
    with _failures_lock:
        if len(_failures) > 100_000:
            _failures.clear()
        _failures.setdefault(email, deque(maxlen=MAX_FAILURES)).append(now)


def safe_next(request: Request, target: str | None) -> str:
    """Where to go after signing in: a path inside the dashboard, never another site."""
    base = base_path(request)
    if (
        target
        and target.startswith(base + "/")
        and not target.startswith("//")
        and not any(c in target for c in "\\\r\n")
    ):
        return target
    return base + "/"


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    try:
        await signed_in(request)
        return RedirectResponse(safe_next(request, next), status_code=303)
    except SignInRequired:
        pass
    notice = "You are signed out." if "signed_out" in request.query_params else ""
    return render(request, "signin.html",
                  {"next": next or "", "email": "", "errors": [], "notice": notice})  # fmt: skip


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    sessions = sessions_of(request)
    session = sessions.load(request)
    errors: list[str] = []
    if session is None:
        errors.append(
            "Your browser did not send the sign-in cookie: allow cookies for this site and "
            "sign in again."
        )
    elif not sessions.csrf_ok(session, csrf_token):
        errors.append("This sign-in form has expired; sign in again.")
    if not email.strip() or not password:
        errors.append("Give your e-mail address and your password.")
    key = email.strip().lower()
    now = time.monotonic()
    if not errors and _too_many(key, now):
        errors.append("Too many failed sign-ins for this e-mail; wait a few minutes.")
    if not errors:
        found = await run_in_threadpool(store_of(request).check_password, key, password)
        if found is None:
            _failed(key, now)
            errors.append("Wrong e-mail or password.")
        else:
            user, epoch = found
            response = RedirectResponse(safe_next(request, next), status_code=303)
            sessions.save(request, response, Session.signed_in(user.id, epoch))
            return response
    fresh = Session.anonymous() if session is None else None
    return render(
        request,
        "signin.html",
        {"next": next, "email": email, "errors": errors, "notice": ""},
        status_code=400,
        session=fresh,
    )


@router.post("/sign-out")
async def sign_out(request: Request, viewer: SignedIn) -> Response:
    await run_in_threadpool(store_of(request).end_sessions, viewer.user.id)
    response = RedirectResponse(base_path(request) + "/sign-in?signed_out=1", status_code=303)
    sessions_of(request).clear(request, response)
    return response
