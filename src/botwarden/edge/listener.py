"""Accepting connections: peek the TLS ClientHello, then hand the socket to uvicorn.

For a TLS listener the edge accepts each connection itself and reads the ClientHello with
MSG_PEEK — the bytes stay queued — until `missing_bytes` says it is whole (SO_RCVLOWAT
makes the event loop wake only when enough bytes are there). The socket then goes to
asyncio's TLS transport and uvicorn's httptools protocol as if nothing had been read;
the raw hello rides along in every request's `scope["state"]` (`TLS_HELLO_KEY`) for
JA3 / JA4. Plain-HTTP listeners go straight to uvicorn's protocol.

WebSocket (and any `Upgrade`) requests are decided like every request and, when allowed,
tunnelled byte for byte to the origin (`_Tunnel`): the origin speaks the protocol, the
edge does not need to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from botwarden.edge.types import TLS_HELLO_KEY, UpgradeHandler
from botwarden.errors import ClientHelloError
from botwarden.fingerprint.tls import missing_bytes

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from botwarden.edge.metrics import EdgeMetrics

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_LOWAT = hasattr(socket, "SO_RCVLOWAT")


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():  # a level-triggered reader may fire again before it is removed
        ready.set_result(None)


async def peek_client_hello(
    sock: socket.socket, *, timeout: float = HELLO_TIMEOUT, loop: asyncio.AbstractEventLoop
) -> bytes:
    """The ClientHello at the head of a non-blocking TCP socket, peeked (left queued).

    The asyncio twin of `testing.tls_capture.peek_client_hello`: raises ClientHelloError
    when the bytes are not a ClientHello, TimeoutError when the peer stalls,
    ConnectionError when it closes early.
    """
    deadline = time.monotonic() + timeout
    want, have = 5, 0
    fd = sock.fileno()
    try:
        while True:
            if _LOWAT:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, want)
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(fd, _wake, ready)
            try:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"ClientHello incomplete after {timeout}s ({have} bytes)")
                try:
                    await asyncio.wait_for(ready, remaining)
                except TimeoutError:
                    raise TimeoutError(
                        f"ClientHello incomplete after {timeout}s ({have} bytes)"
                    ) from None
            finally:
                loop.remove_reader(fd)
            try:
                data = sock.recv(want, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            more = missing_bytes(data)
            if more == 0:
                return data
            if not data or (_LOWAT and len(data) < want):
                raise ConnectionError(f"peer closed after {len(data)} bytes of ClientHello")
            if len(data) == have and not _LOWAT:
                await asyncio.sleep(0.002)
            have = len(data)
            want = have + more
    finally:
        if _LOWAT:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


class CorkedTransport:
    """A transport whose writes of one event-loop turn leave in one send.

    uvicorn writes a response's head and its body separately, and each write on a uvloop
    transport is a send(2) at once: two system calls (and two wake-ups of the client) per
    small response, the largest single cost of the edge's request path when measured
    (py-spy, bench/edge.py). Writes are gathered and sent together at the end of the turn
    (`call_soon`): nothing waits longer than the code that wrote it runs. Everything but
    `write` and `close` is the wrapped transport's.
    """

    __slots__ = ("_buf", "_loop", "_scheduled", "raw")

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        self._loop = loop
        self._buf: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._buf.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._scheduled = False
        buf = self._buf
        if not buf:
            return
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        buf.clear()
        if not self.raw.is_closing():
            self.raw.write(data)

    def close(self) -> None:
        self.flush()
        self.raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with Upgrade requests handed to `upgrade_handler`, its
    writes corked (`CorkedTransport`) and sent as soon as a response is complete, and one
    keep-alive timer per connection instead of one per response.

    uvicorn arms a keep-alive timer (`call_later`) after every response and cancels it at
    the next request's first bytes: about 3 µs of a request's CPU for a timer that almost
    never fires. Here the timer is armed at the first idle moment of the connection and
    stays armed; when it fires it closes the connection if no request began since the
    last response and the keep-alive time has passed, else re-arms for what is left —
    the same rule as uvicorn's (a request that has begun keeps the connection open).
    """

    upgrade_handler: UpgradeHandler | None = None
    _idle_timer: asyncio.TimerHandle | None = None
    _idle_since = 0.0
    _messages = 0
    _idle_messages = -1

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, corked))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._messages += 1
        super().on_message_begin()

    def on_response_complete(self) -> None:
        # uvicorn 0.54's, but for the keep-alive timer and the flush.
        transport = self.transport
        if isinstance(transport, CorkedTransport):
            # The response leaves now, not after the app's bookkeeping for the request.
            transport.flush()
        self.server_state.total_requests += 1
        if transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        self._idle_messages = self._messages
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing() or self._messages != self._idle_messages:
            return  # busy: the end of its response arms the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left <= 0:
            self.timeout_keep_alive_handler()
        else:
            self._idle_timer = self.loop.call_later(left, self._check_idle)

    def _should_upgrade_to_ws(self) -> bool:
        return self.upgrade_handler is not None

    def handle_websocket_upgrade(self) -> None:
        handler = self.upgrade_handler
        assert handler is not None
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        scope: dict[str, Any] = dict(self.scope)
        parsed = httptools.parse_url(self.url)
        raw_path = parsed.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope.update(path=path, raw_path=raw_path, query_string=parsed.query or b"")
        transport = self.transport
        if isinstance(transport, CorkedTransport):
            transport.flush()
            transport = transport.raw
        tunnel = _Tunnel(transport, self.loop)
        TUNNELS.add(tunnel)
        transport.set_protocol(tunnel)
        tunnel.start(handler, scope)


TUNNELS: set[_Tunnel] = set()
"""Open tunnels (closed by `EdgeServer.stop`)."""


class _Tunnel(asyncio.Protocol):
    """Client side of an upgraded connection: bytes to and from the origin, unchanged."""

    def __init__(self, transport: asyncio.BaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: cast, never isinstance.
        self.client = cast(asyncio.Transport, transport)
        self.loop = loop
        self.origin: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    def start(self, handler: UpgradeHandler, scope: dict[str, Any]) -> None:
        self.client.pause_reading()
        self.task = self.loop.create_task(self._open(handler, scope), name="botwarden-upgrade")

    async def _open(self, handler: UpgradeHandler, scope: dict[str, Any]) -> None:
        client = self.client
        try:
            plan = await handler(scope)
        except Exception:
            log.exception("upgrade request failed")
            client.write(_BAD_GATEWAY)
            client.close()
            return
        if plan.response:
            client.write(plan.response)
            client.close()
            return
        origin_side = _OriginSide(self, plan.done)
        try:
            ctx = ssl.create_default_context() if plan.tls else None
            transport, _ = await self.loop.create_connection(
                lambda: origin_side, plan.host, plan.port, ssl=ctx
            )
        except OSError as exc:
            log.warning("upgrade: origin %s:%d unreachable: %s", plan.host, plan.port, exc)
            if plan.done is not None:
                plan.done(502)
            client.write(_BAD_GATEWAY)
            client.close()
            return
        self.origin = transport
        transport.write(plan.head)
        for chunk in self.pending:
            transport.write(chunk)
        self.pending.clear()
        if self.closed:
            transport.close()
        else:
            client.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.origin is None:
            self.pending.append(data)
        else:
            self.origin.write(data)

    def eof_received(self) -> bool | None:
        # No half-closed tunnels: either side's end closes both (WebSocket needs no more).
        if self.origin is not None:
            self.origin.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        TUNNELS.discard(self)
        if self.origin is not None:
            self.origin.close()

    def close(self) -> None:
        self.client.close()
        if self.origin is not None:
            self.origin.close()

    def pause_writing(self) -> None:
        if self.origin is not None:
            self.origin.pause_reading()

    def resume_writing(self) -> None:
        if self.origin is not None:
            self.origin.resume_reading()


class _OriginSide(asyncio.Protocol):
    def __init__(self, tunnel: _Tunnel, done: Callable[[int], None] | None) -> None:
        self.tunnel = tunnel
        self.done = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.done is not None:
            status = 0
            if data.startswith(b"HTTP/1.") and len(data) >= 12 and data[9:12].isdigit():
                status = int(data[9:12])
            self.done(status)
            self.done = None
        self.tunnel.client.write(data)

    def eof_received(self) -> bool | None:
        self.tunnel.client.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None:
            self.done(502)
            self.done = None
        self.tunnel.client.close()

    def pause_writing(self) -> None:
        self.tunnel.client.pause_reading()

    def resume_writing(self) -> None:
        self.tunnel.client.resume_reading()


@dataclass(frozen=True, slots=True)
class Listen:
    """One address to listen on; with `tls`, connections are TLS and hellos are peeked."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None


def server_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server context for HTTP/1.1 (uvicorn's protocol speaks no HTTP/2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class EdgeServer:
    """Serve an ASGI app on plain and TLS listeners in the running event loop.

    `app` gets no lifespan events: call the app's own startup/shutdown around `start` and
    `stop` (`botwarden serve` does).
    """

    def __init__(
        self,
        app: ASGIApp,
        listens: Sequence[Listen],
        *,
        upgrade_handler: UpgradeHandler | None = None,
        metrics: EdgeMetrics | None = None,
        keep_alive: int = 15,
        backlog: int = 2048,
    ) -> None:
        self.app = app
        self.listens = list(listens)
        self.metrics = metrics
        self.backlog = backlog
        self.config = Config(
            app,
            http="httptools",
            ws="none",
            lifespan="off",
            proxy_headers=False,  # trusted proxies are the edge's business
            server_header=False,
            date_header=False,
            access_log=False,
            timeout_keep_alive=keep_alive,
            log_level="warning",
        )
        self.config.load()
        self.state = ServerState()
        self.upgrade_handler = upgrade_handler
        self.sockets: list[socket.socket] = []
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._protocol_class = type(
            "BoundEdgeProtocol", (EdgeProtocol,), {"upgrade_handler": upgrade_handler}
        )

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self.sockets]

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _protocol(self, hello: bytes | None) -> EdgeProtocol:
        app_state: dict[str, Any] = {TLS_HELLO_KEY: hello} if hello is not None else {}
        protocol: EdgeProtocol = self._protocol_class(
            config=self.config, server_state=self.state, app_state=app_state
        )
        return protocol

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for spec in self.listens:
            family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.host, spec.port))
            sock.listen(self.backlog)
            sock.setblocking(False)
            self.sockets.append(sock)
            if spec.tls is None:
                server = await loop.create_server(
                    lambda: self._protocol(None), sock=sock, backlog=self.backlog
                )
                self._servers.append(server)
            else:
                self._spawn(f"botwarden-accept-{spec.port}", self._accept(sock, spec.tls))

    async def _accept(self, lsock: socket.socket, tls: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(lsock)
            except OSError as exc:
                if lsock.fileno() < 0:
                    return
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn("botwarden-tls-conn", self._tls_connection(conn, tls))

    async def _tls_connection(self, conn: socket.socket, tls: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            hello = await peek_client_hello(conn, loop=loop)
            outcome = "ok"
        except ClientHelloError as exc:
            log.debug("not a TLS ClientHello: %s", exc)
            self._count("not_tls")
            conn.close()
            return
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.debug("no ClientHello: %s", exc)
            self._count("incomplete")
            conn.close()
            return
        self._count(outcome)
        try:
            await loop.connect_accepted_socket(
                lambda: self._protocol(hello), conn, ssl=tls, ssl_handshake_timeout=HELLO_TIMEOUT
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            self._count("handshake_failed")
            conn.close()

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.tls_hellos.labels(outcome).inc()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to `timeout`), close."""
        for server in self._servers:
            server.close()
        for sock in self.sockets:
            sock.close()
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.state.connections):
            connection.shutdown()
        for tunnel in list(TUNNELS):
            if tunnel.loop is asyncio.get_running_loop():
                tunnel.close()
        deadline = time.monotonic() + timeout
        while (self.state.connections or self.state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self.state.connections):
            connection.transport.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
