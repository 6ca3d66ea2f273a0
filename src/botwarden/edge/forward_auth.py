"""Forward-auth: one endpoint for nginx `auth_request`, Traefik `forwardAuth` and Caddy
`forward_auth` (`/cdn-cgi/auth`; docs/integrate.md has the configurations).

The proxy asks about a request it holds: the original method, URI and host come in
`X-Forwarded-Method` / `X-Forwarded-Uri` / `X-Forwarded-Host` (or nginx's customary
`X-Original-Method` / `X-Original-URI`), the client's own headers as they were. Client IP,
scheme and TLS fingerprints are read from headers only when the proxy is a trusted proxy.

The answer:
- allowed: 200 with the result headers for the proxy to copy to the origin request, and
  the `__cf_bm` Set-Cookie for the proxy to pass on;
- blocked: the block response (403, 429 for rate limits, or the rule's own response);
- challenged: a redirect to `/cdn-cgi/challenge` (which the proxy routes to Botwarden).

nginx's auth_request understands only 2xx, 401 and 403 (anything else is a 500), so with
`?proxy=nginx` a block is always 403 and a challenge is 401 with the challenge address in
`Location`, for an `error_page 401` to redirect to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from botwarden.edge import pages
from botwarden.edge.challenge import PAGE_PATH, safe_return_path

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from botwarden.edge.app import EdgeApp, Outcome

# Headers the proxy adds to describe the request: not part of the client's header set.
_DESCRIPTIVE = frozenset(
    {
        b"x-forwarded-method",
        b"x-forwarded-uri",
        b"x-original-method",
        b"x-original-uri",
        b"x-original-url",
        b"content-length",
    }
)


async def handle(app: EdgeApp, scope: Scope, receive: Receive, send: Send, t0: int) -> None:
    from botwarden.edge.app import Disposition

    described: dict[bytes, str] = {}
    kept = []
    for k, v in scope["headers"]:
        if k in _DESCRIPTIVE:
            described.setdefault(k, v.decode("latin-1"))
        else:
            kept.append((k, v))
    args = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    nginx = args.get("proxy") == "nginx"
    method = described.get(b"x-forwarded-method") or described.get(b"x-original-method")
    target = (
        described.get(b"x-forwarded-uri")
        or described.get(b"x-original-uri")
        or described.get(b"x-original-url")
        or "/"
    )
    if not target.startswith("/"):  # an absolute URL (X-Original-URL of some proxies)
        rest = target.split("://", 1)[-1]
        target = "/" + rest.partition("/")[2]
    host = None
    for k, v in kept:
        if k == b"x-forwarded-host":
            host = v.decode("latin-1").split(",")[0].strip()
            break
    inner = dict(scope)
    inner["headers"] = kept
    o = app.evaluate(inner, t0, method=method or scope["method"], target=target, host=host)
    extra = app.cookie_headers(o)
    if o.disposition == Disposition.FORWARD:
        headers = [(k.encode(), v.encode("latin-1")) for k, v in app.result_headers(o)]
        await _empty(send, 200, [*headers, *extra])
        app.finish(o, None)
    elif o.disposition == Disposition.BLOCK:
        if nginx:
            status = await app.send_page(o, send, 403, pages.BLOCKED, extra=extra)
        else:
            status = await app.send_block(o, send)
        app.finish(o, status)
    else:
        location = challenge_location(o, target)
        status = 401 if nginx else 302
        await _empty(send, status, [(b"location", location.encode()), *extra])
        app.finish(o, status)


def challenge_location(o: Outcome, target: str) -> str:
    back = quote(safe_return_path(target), safe="")
    kind = o.decision.action.value if o.decision.action is not None else "managed_challenge"
    return f"{PAGE_PATH}?k={kind}&r={back}"


async def _empty(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0"), (b"cache-control", b"no-store"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})
