"""Cloudflare's v4 envelope — `{success, errors, messages, result, result_info}` — for every
response, errors included, and the one exception routes raise to answer with an error.

Error codes (documented in docs/api.md):

    1000  invalid API token            9103  unknown X-Auth-Email / X-Auth-Key
    1001  API token not active         9106  missing credentials
    6003  malformed credentials        7000  no route for that URI
    7003  object not found             10000 not allowed for these credentials
    10001 invalid request (a field)    10009 conflict with stored state
    10010 not available on the plan    10405 method not allowed
    10422 Idempotency-Key reused       10500 internal error
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

INVALID_TOKEN = 1000
TOKEN_NOT_ACTIVE = 1001
MALFORMED_CREDENTIALS = 6003
NO_ROUTE = 7000
NOT_FOUND = 7003
UNKNOWN_KEY = 9103
MISSING_CREDENTIALS = 9106
FORBIDDEN = 10000
INVALID = 10001
CONFLICT = 10009
PLAN = 10010
METHOD_NOT_ALLOWED = 10405
IDEMPOTENCY = 10422
INTERNAL = 10500


class APIError(Exception):
    """An error answered in the envelope: HTTP status, and one or more (code, message)."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *more: tuple[int, str],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = [(code, message), *more]
        self.headers = headers


def invalid(*problems: str) -> APIError:
    """400 with one error per problem; each problem names its field first."""
    first, *rest = problems
    return APIError(400, INVALID, first, *((INVALID, p) for p in rest))


def utc(value: datetime, field: str) -> datetime:
    """An aware datetime in UTC; a time that cannot be expressed in UTC is a 400."""
    try:
        out = value.astimezone(UTC)
        out - timedelta(days=366)  # leaves room for windows computed from it
        out + timedelta(days=366)
    except (OverflowError, ValueError):
        raise invalid(f"{field}: {value.isoformat()} is out of range") from None
    return out


def not_found(what: str) -> APIError:
    return APIError(404, NOT_FOUND, f"{what} not found")


def forbidden(
    message: str = "Authentication error: these credentials do not grant this",
) -> APIError:
    return APIError(403, FORBIDDEN, message)


def ok(result: Any, result_info: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": result,
        "result_info": result_info,
    }


def page_info(page: int, per_page: int, count: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "per_page": per_page,
        "count": count,
        "total_count": total,
        "total_pages": max(1, math.ceil(total / per_page)) if per_page else 1,
    }


def error_body(errors: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": c, "message": m} for c, m in errors],
        "messages": [],
        "result": None,
        "result_info": None,
    }


def error_response(
    status: int, errors: list[tuple[int, str]], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(errors), status_code=status, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        kind, parts = parts[0], parts[1:]
        if not parts:
            return "request body" if kind == "body" else kind
    return ".".join(parts)


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc.status, exc.errors, exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "json_invalid":
            errors.append(
                (INVALID, f"request body: not valid JSON ({e.get('ctx', {}).get('error', msg)})")
            )
            continue
        if e.get("type") == "missing":
            msg = "is required"
        elif e.get("type") == "extra_forbidden":
            msg = "is not a known field"
        errors.append((INVALID, f"{_field(tuple(e.get('loc', ())))}: {msg}"))
    return error_response(400, errors or [(INVALID, "invalid request")])


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        errors = [(NO_ROUTE, f"No route for {request.method} {request.url.path}")]
    elif exc.status_code == 405:
        errors = [
            (METHOD_NOT_ALLOWED, f"Method {request.method} not allowed for {request.url.path}")
        ]
    else:
        errors = [(10000 + exc.status_code, str(exc.detail))]
    return error_response(exc.status_code, errors, dict(exc.headers or {}) or None)


async def on_internal_error(request: Request, exc: Exception) -> JSONResponse:
    # This answer is sent from outside the request-id middleware, so it sets the header.
    rid = str(request.scope.get("state", {}).get("request_id", ""))
    return error_response(
        500,
        [(INTERNAL, f"internal error; quote request id {rid} when reporting it")],
        {"x-request-id": rid} if rid else None,
    )
