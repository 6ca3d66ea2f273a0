"""The admin port: Prometheus `/metrics` and `/healthz` (never exposed to clients)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from botwarden.edge.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from botwarden.edge.config import ConfigWatcher
    from botwarden.edge.metrics import EdgeMetrics


class AdminApp:
    def __init__(self, metrics: EdgeMetrics, config: ConfigWatcher | None = None) -> None:
        self.metrics = metrics
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            body, ctype, status = self.metrics.exposition(), CONTENT_TYPE.encode(), 200
        elif path == "/healthz":
            doc: dict[str, object] = {"status": "ok"}
            if self.config is not None:
                doc["config_version"] = self.config.current.version
                doc["zones"] = len(self.config.current.zones)
                doc["config_errors"] = self.config.errors
            body, ctype, status = orjson.dumps(doc), b"application/json", 200
        else:
            body, ctype, status = b"not found\n", b"text/plain", 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
