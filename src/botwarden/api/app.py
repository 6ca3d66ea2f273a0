"""The control-plane API: a FastAPI app under /client/v4 in Cloudflare's v4 shapes.

    app = create_app(store.open("sqlite:///data/botwarden.db"))

Every answer is the v4 envelope — routes, 404 for unknown paths, 405, validation errors and
internal errors alike — and carries an `X-Request-Id` (the caller's, if sane, else a new one).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botwarden import __version__ as _version
from botwarden.api import envelope
from botwarden.api.analytics import AnalyticsSource
from botwarden.api.routes import (
    analytics,
    bot_management,
    feedback,
    lists,
    models,
    rulesets,
    user,
    zones,
)
from botwarden.api.schemas import ErrorEnvelope
from botwarden.store import DEFAULT_URL, Store
from botwarden.store import open as open_store

PREFIX = "/client/v4"
_RID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": what}
    for status, what in (
        (400, "Invalid request: each error names the field"),
        (401, "Missing or invalid credentials"),
        (403, "The credentials do not grant this, or the plan does not include it"),
        (404, "No such object (or not visible to these credentials)"),
        (409, "The change conflicts with what is stored"),
    )
}


class RequestIdMiddleware:
    """Give each request an id (`scope["state"]["request_id"]`) and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")
                break
        if not _RID.fullmatch(rid):
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        raw = rid.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(
    store: Store,
    *,
    analytics_source: AnalyticsSource | None = None,
    retention: timedelta | None = None,
    dashboard: bool = True,
    dashboard_secret: bytes | None = None,
) -> FastAPI:
    """The API over `store`. Analytics endpoints and the report prefill are mounted only
    with an analytics source; `retention` (default: the source's) bounds how far back a
    feedback report may reach — with neither, reports are not bounded in the past.
    `dashboard`: serve the dashboard at /dashboard (botwarden.dashboard), its session
    cookies signed with `dashboard_secret` (default: `dashboard.sessions.secret_from_env`)."""
    app = FastAPI(
        title="Botwarden API",
        version=_version,
        description="Cloudflare-v4-compatible control plane of Botwarden (see docs/api.md).",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.analytics = analytics_source
    app.state.retention = (
        retention
        if retention is not None
        else (analytics_source.retention if analytics_source is not None else None)
    )
    app.add_exception_handler(envelope.APIError, envelope.on_api_error)
    app.add_exception_handler(RequestValidationError, envelope.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, envelope.on_http_error)
    app.add_exception_handler(Exception, envelope.on_internal_error)
    app.add_middleware(RequestIdMiddleware)
    modules = [user, zones, bot_management, rulesets, lists, feedback, models]
    if analytics_source is not None:
        modules.append(analytics)
    for module in modules:
        app.include_router(module.router, prefix=PREFIX, responses=ERROR_RESPONSES)
    _document_validation_errors_as_400(app)
    if dashboard:
        from botwarden.dashboard.app import mount

        mount(app, secret=dashboard_secret)  # /dashboard, and / redirects there
    return app


def _document_validation_errors_as_400(app: FastAPI) -> None:
    """FastAPI documents a 422 with its own error shape on every route; this API answers
    invalid requests with 400 in the envelope (already documented), so drop those."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for ops in doc.get("paths", {}).values():
                for op in ops.values():
                    r422 = op.get("responses", {}).get("422", {})
                    ref = r422.get("content", {}).get("application/json", {}).get("schema", {})
                    if ref.get("$ref", "").endswith("/HTTPValidationError"):
                        del op["responses"]["422"]
            schemas = doc.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = doc
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - mypy refuses assigning to a method


def app_from_env() -> FastAPI:
    """For `uvicorn --factory botwarden.api.app:app_from_env`: the store at
    $BOTWARDEN_DATABASE_URL (default sqlite:///data/botwarden.db)."""
    return create_app(open_store(os.environ.get("BOTWARDEN_DATABASE_URL", DEFAULT_URL)))
