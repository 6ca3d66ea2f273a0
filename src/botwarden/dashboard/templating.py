"""Rendering: `render(request, "page.html", {...})` with the context every template may use
— `base` (the dashboard's URL prefix), `viewer`, `zone`, `nav`, `nav_active`, `csrf`,
`csrf_field()` and `static()` — and the session cookie set when the request started one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from botwarden.api.envelope import APIError
from botwarden.dashboard import TEMPLATES_DIR
from botwarden.dashboard.deps import CSRF_FIELD, CSRF_HEADER, sessions_of
from botwarden.dashboard.nav import NAV
from botwarden.dashboard.sessions import Session

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def base_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def errors_of(exc: APIError) -> list[str]:
    """The messages of an API error, for showing beside a form."""
    return [message for _, message in exc.errors]


def is_htmx(request: Request, target: str | None = None) -> bool:
    if request.headers.get("hx-request") != "true":
        return False
    return target is None or request.headers.get("hx-target") == target


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    session: Session | None = None,
) -> HTMLResponse:
    """The template with the base context. `session`: a session to start (sign-in, or a
    visitor's first page), saved in the cookie."""
    sessions = sessions_of(request)
    current: Session | None = session or getattr(request.state, "session", None)
    if current is None:
        current = sessions.load(request)
        if current is None:
            session = current = Session.anonymous()
    csrf = sessions.csrf_token(current)
    base = base_path(request)
    ctx: dict[str, Any] = {
        "base": base,
        "viewer": getattr(request.state, "viewer", None),
        "zone": getattr(request.state, "zone", None),
        "nav": NAV,
        "nav_active": "",
        "csrf": csrf,
        "csrf_header": CSRF_HEADER,
        "csrf_field": lambda: Markup(
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
        ),
        "static": lambda path: f"{base}/static/{path}",
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=dict(headers or {})
    )
    if session is not None:
        sessions.save(request, response, session)
    return response
