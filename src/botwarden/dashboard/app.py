"""The dashboard application, mounted in the API app: `mount(api_app)`.

It shares the API app's `state` (store, analytics source, retention), so a page calls
the API's route functions with the signed-in user's `ZoneAccess` and gets exactly what a
client of the API would: the same checks, plan gates and messages.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botwarden.dashboard import MOUNT_PATH, STATIC_DIR
from botwarden.dashboard.deps import CSRFRejected, PageNotFound, SignInRequired
from botwarden.dashboard.pages import PAGES
from botwarden.dashboard.sessions import Sessions, secret_from_env
from botwarden.dashboard.templating import base_path, is_htmx, render

log = logging.getLogger(__name__)

# No inline script (JSON data islands are not scripts); uPlot and htmx set inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not static:
                    headers += [
                        (b"content-security-policy", CSP.encode()),
                        (b"cache-control", b"no-store"),
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _sign_in_url(request: Request) -> str:
    base = base_path(request)
    here = request.url.path
    if request.url.query:
        here += "?" + request.url.query
    from urllib.parse import quote

    return f"{base}/sign-in?next={quote(here, safe='')}"


async def _on_sign_in_required(request: Request, exc: Exception) -> Response:
    url = _sign_in_url(request)
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": url})
    if request.method != "GET":
        url = f"{base_path(request)}/sign-in"
    return RedirectResponse(url, status_code=303)


async def _on_csrf(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "error.html",
        {
            "title": "The form has expired",
            "message": "This form was not sent from this dashboard session (it may have "
            "been open from before you signed in again). Reload the page and send it again.",
        },
        status_code=403,
    )


async def _on_not_found(request: Request, exc: Exception) -> Response:
    what = exc.what if isinstance(exc, PageNotFound) else "page"
    return render(
        request,
        "error.html",
        {
            "title": "Not found",
            "message": f"There is no {what} here, or it is not in one of your accounts.",
        },
        status_code=404,
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status == 404:
        return await _on_not_found(request, exc)
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
    return render(
        request, "error.html", {"title": f"Error {status}", "message": str(detail)},
        status_code=status,
    )  # fmt: skip


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Bad request", "message": "This address is not valid: " + str(exc)[:300]},
        status_code=400,
    )


async def _on_internal_error(request: Request, exc: Exception) -> Response:
    log.exception("dashboard: %s %s failed", request.method, request.url.path, exc_info=exc)
    return HTMLResponse(
        "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
        "<p>The error was logged. Try again, or go back to the <a href='.'>dashboard</a>.</p>",
        status_code=500,
    )


def create_dashboard(state: State, *, secret: bytes | None = None) -> FastAPI:
    """The dashboard over the API app's `state`; `secret` signs session cookies
    (default: `secret_from_env()`: $BOTWARDEN_DASHBOARD_SECRET, else random for this
    process)."""
    from fastapi.exceptions import RequestValidationError

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state = state
    state.dashboard_sessions = Sessions(secret or secret_from_env(), mount_path=MOUNT_PATH)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for page in PAGES:
        app.include_router(page.router)
    app.add_exception_handler(SignInRequired, _on_sign_in_required)
    app.add_exception_handler(CSRFRejected, _on_csrf)
    app.add_exception_handler(PageNotFound, _on_not_found)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_internal_error)
    app.add_middleware(SecurityHeaders)
    return app


def mount(api: FastAPI, *, secret: bytes | None = None) -> None:
    """Serve the dashboard at /dashboard in the API app, and send `/` there."""
    api.mount(MOUNT_PATH, create_dashboard(api.state, secret=secret))

    async def home() -> RedirectResponse:
        return RedirectResponse(MOUNT_PATH + "/", status_code=307)

    api.add_api_route("/", home, include_in_schema=False)
