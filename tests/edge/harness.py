"""Real sockets for edge tests: an echo origin (aiohttp, with WebSocket) and the edge
(EdgeApp behind EdgeServer), each on a loopback port in a thread with its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from botwarden.edge.app import EdgeApp, EventSink
from botwarden.edge.config import ConfigSource, MemoryConfigSource, ZoneSpec
from botwarden.edge.listener import EdgeServer, Listen
from botwarden.edge.metrics import EdgeMetrics
from botwarden.edge.settings import EdgeSettings
from botwarden.engines.base import Engine
from botwarden.ml.registry import Registry
from botwarden.request import RequestContext
from botwarden.result import BotManagement
from botwarden.session import SessionKeys
from botwarden.state.base import StateStore

ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"
ZONE_NAME = "example.com"


class LoopThread:
    """An event loop running in a daemon thread; `run(coro)` waits for a result."""

    def __init__(self, name: str, *, uvloop: bool = False) -> None:
        if uvloop:
            import uvloop as uv

            self.loop: asyncio.AbstractEventLoop = uv.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def _drain() -> None:
            # Give transports a tick to close cleanly before the loop stops.
            await asyncio.sleep(0.05)

        with contextlib.suppress(Exception):
            self.run(_drain(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


# -- the origin ------------------------------------------------------------------------------


async def _echo(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    doc = {
        "method": request.method,
        "path": request.raw_path,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
        "body_bytes": len(body),
    }
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


async def _slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(float(request.query.get("s", "2")))
    return web.Response(text="late")


async def _big(request: web.Request) -> web.StreamResponse:
    n = int(request.query.get("n", "1000000"))
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await resp.prepare(request)
    chunk = b"x" * 65536
    left = n
    while left > 0:
        await resp.write(chunk[: min(left, len(chunk))])
        left -= min(left, len(chunk))
    await resp.write_eof()
    return resp


async def _ws(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
    return ws


async def _status(request: web.Request) -> web.StreamResponse:
    return web.Response(status=int(request.match_info["code"]), text="as asked")


async def _cookie(request: web.Request) -> web.StreamResponse:
    resp = web.Response(text="ok")
    resp.set_cookie("origin_cookie", "1")
    return resp


class EchoOrigin:
    """`/ws` echoes WebSocket text, `/slow?s=`, `/big?n=` bytes, `/cookie`, `/status/404`
    answers with that status, else a JSON
    echo of the request (method, path, headers in order, body size)."""

    def __init__(self) -> None:
        self.thread = LoopThread("echo-origin")
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> int:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_get("/ws", _ws)
        app.router.add_get("/slow", _slow)
        app.router.add_get("/big", _big)
        app.router.add_get("/cookie", _cookie)
        app.router.add_get(r"/status/{code:\d{3}}", _status)
        app.router.add_route("*", "/{tail:.*}", _echo)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    def __enter__(self) -> EchoOrigin:
        self.port = self.thread.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            self.thread.run(self._runner.cleanup())
        self.thread.close()


# -- events ------------------------------------------------------------------------------------


@dataclass
class Recorded:
    ctx: RequestContext
    bm: BotManagement
    outcome: dict[str, Any]


@dataclass
class EventList:
    """An EventSink that keeps what it is given."""

    events: list[Recorded] = field(default_factory=list)

    def append_request(self, ctx: RequestContext, bm: BotManagement, **outcome: Any) -> bool:
        self.events.append(Recorded(ctx, bm, outcome))
        return True

    def last(self, path: str | None = None, *, after: int = 0) -> Recorded:
        """The latest event (for `path`); waits a little, since the edge records an event
        after the client has its response."""
        deadline = time.monotonic() + 2
        while True:
            for e in reversed(self.events[after:]):
                if path is None or e.ctx.path == path:
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no event for {path}")
            time.sleep(0.01)


# -- the edge ----------------------------------------------------------------------------------


def zone(rules: Sequence[dict[str, Any]] = (), **settings: Any) -> ZoneSpec:
    return ZoneSpec(ZONE_ID, ZONE_NAME, rules={"http_request_firewall_custom": list(rules)},
                    settings=dict(settings))  # fmt: skip


class Edge:
    """The edge on 127.0.0.1: `url` (plain HTTP) and, with `tls=(certfile, keyfile)`,
    `tls_url`. Reuse `keys` across instances to test restarts."""

    def __init__(
        self,
        origin: str,
        *,
        source: ConfigSource | None = None,
        keys: SessionKeys | None = None,
        settings: dict[str, Any] | None = None,
        tls: tuple[str, str] | None = None,
        engines: Sequence[Engine] | None = None,
        forward: bool = True,
        metrics: bool = False,
        port: int = 0,
        writer: EventSink | None = None,
        state: StateStore | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.source = source if source is not None else MemoryConfigSource([zone()])
        self.keys = keys if keys is not None else SessionKeys.generate()
        values = {"origin": origin, "config_poll_interval": 0.2, **(settings or {})}
        self.settings = EdgeSettings.from_mapping(values)
        self.events = EventList()
        self.metrics = EdgeMetrics() if metrics else None
        self.app = EdgeApp.build(
            self.settings,
            self.source,
            keys=self.keys,
            engines=engines,
            writer=self.events if writer is None else writer,
            metrics=self.metrics,
            forward=forward,
            state=state,
            registry=registry,
        )
        listens = [Listen("127.0.0.1", port)]
        if tls is not None:
            from botwarden.edge.listener import server_tls_context

            listens.append(Listen("127.0.0.1", 0, server_tls_context(*tls)))
        self.server = EdgeServer(
            self.app, listens, upgrade_handler=self.app.upgrade, metrics=self.metrics
        )
        self.thread = LoopThread("edge", uvloop=True)  # as `botwarden serve` runs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.ports[0]}"

    @property
    def tls_port(self) -> int:
        return self.server.ports[1]

    def call(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        return self.thread.run(fn())

    def __enter__(self) -> Edge:
        async def start() -> None:
            await self.app.startup()
            await self.server.start()

        self.thread.run(start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            await self.server.stop(timeout=2)
            await self.app.shutdown()

        self.thread.run(stop())
        self.thread.close()


def ca_bundle(tmp: Path) -> tuple[tuple[str, str], str]:
    """A trustme CA and a `localhost` certificate: ((certfile, keyfile), ca_file)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile, keyfile, cafile = tmp / "cert.pem", tmp / "key.pem", tmp / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    return (str(certfile), str(keyfile)), str(cafile)


def client_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)
