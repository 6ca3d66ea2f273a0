"""Forwarding to the origin: a pool of kept-alive HTTP/1.1 connections, bodies streamed.

Hop-by-hop headers (RFC 9110 §7.6.1, and any header the Connection header names) are
removed in both directions. Bodies are never buffered whole: the request body goes to the
origin as the client sends it (re-chunked when the client sent it chunked), the response
body goes to the client as it arrives (uvicorn re-chunks it when the origin gave no
length), compressed or not. An origin that refuses the connection is a 502, one that does
not send a byte for `read_timeout` a 504 — `forward` sends nothing then and tells the
caller, which answers with its page.

Why not aiohttp's client: it costs about 220 µs of CPU per request on this path (measured
with uvloop against the demo origin), more than the whole decision (score, session,
20 rules: about 90 µs). This client is a small asyncio protocol over httptools' response
parser, the same parser family uvicorn uses on the server side. A request that finds its
kept-alive connection closed by the origin before any byte of the answer is retried once on
a new connection when it had no body (the origin cannot have acted on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import httptools

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_HOP_BY_HOP_BYTES = frozenset(h.encode() for h in HOP_BY_HOP)
_HIGH_WATER = 256 * 1024
"""Response bytes buffered from the origin before its connection stops being read."""


def connection_tokens(value: str | bytes | None) -> frozenset[str]:
    """Header names listed in a Connection header (they are hop-by-hop too)."""
    if not value:
        return frozenset()
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return frozenset(t.strip().lower() for t in text.split(",") if t.strip())


@dataclass(slots=True)
class Forwarded:
    """What happened: the status sent (0 if nothing was), body bytes, and any failure:
    "connect" (origin unreachable or it hung up: 502), "timeout" (504), "broken" (the
    origin failed after the response started; the client connection is closed),
    "client_gone" (the client left while sending its body)."""

    status: int = 0
    body_bytes: int = 0
    error: str = ""
    detail: str = ""
    upstream_seconds: float = 0.0


class OriginClosed(ConnectionError):
    """The origin closed the connection before the response was complete."""


class _Exchange:
    """One request/response on a connection."""

    __slots__ = (
        "buffered",
        "chunks",
        "complete",
        "error",
        "got_bytes",
        "head_only",
        "headers",
        "keep_alive",
        "length_known",
        "status",
        "waiter",
    )

    def __init__(self, head_only: bool) -> None:
        self.head_only = head_only
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.length_known = True
        self.error: BaseException | None = None
        self.got_bytes = False
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)


class OriginConnection(asyncio.Protocol):
    """One kept-alive connection to the origin; `exchange` is the request in flight."""

    def __init__(self, pool: OriginPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.last_activity = 0.0
        self.reading_paused = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._interim = False
        self._reset_parser = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        ex = self.exchange
        if ex is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        ex.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(OriginClosed("the origin switched protocols unasked"))
        except httptools.HttpParserError as exc:
            self._fail(OriginClosed(f"malformed response from the origin: {exc}"))
        if self._reset_parser:
            self._reset_parser = False
            self.parser = httptools.HttpResponseParser(self)

    def eof_received(self) -> bool | None:
        self._on_close(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_close(exc)
        w = self._drain
        if w is not None and not w.done():
            w.set_exception(OriginClosed("the origin closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        w = self._drain
        if w is not None and not w.done():
            w.set_result(None)

    def _on_close(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_timer()
        ex = self.exchange
        if ex is not None and not ex.complete:
            if ex.status and not ex.length_known:
                ex.complete = True  # a body delimited by the end of the connection
                ex.keep_alive = False
                ex.wake()
            else:
                self._fail(
                    OriginClosed("the origin closed the connection" + (f": {exc}" if exc else ""))
                )
        self.pool.forget(self)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._on_close(None)

    # -- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and friends: not the answer
            self._interim = True
            return
        ex.status = status
        ex.headers = self._headers
        ex.keep_alive = self.parser.should_keep_alive()
        chunked = False
        length = False
        for name, value in self._headers:
            n = name.lower()
            if n == b"content-length":
                length = True
            elif n == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        ex.length_known = length or chunked or status in (204, 304) or ex.head_only
        if ex.head_only:
            # The parser cannot know a HEAD answer has no body: end it here.
            ex.complete = True
            self._reset_parser = True
        ex.wake()

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is None or ex.complete:
            return
        ex.chunks.append(body)
        ex.buffered += len(body)
        if ex.buffered > _HIGH_WATER and not self.reading_paused and self.transport:
            self.transport.pause_reading()
            self.reading_paused = True
        ex.wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        ex = self.exchange
        if ex is not None and not ex.complete:
            ex.complete = True
            ex.wake()

    # -- the exchange -------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        ex = self.exchange
        if ex is not None and ex.error is None and not ex.complete:
            ex.error = error
            ex.wake()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_timeout(self) -> None:
        self._timer = None
        ex = self.exchange
        if ex is None or ex.complete or ex.error is not None:
            return  # idle: the next `begin` arms the timer again
        idle = self.loop.time() - self.last_activity
        timeout = self.pool.read_timeout
        if idle >= timeout:
            self._fail(TimeoutError(f"the origin sent nothing for {timeout:g} s"))
        else:
            self._timer = self.loop.call_later(timeout - idle, self._check_timeout)

    def begin(self, head: bytes, head_only: bool) -> _Exchange:
        ex = self.exchange = _Exchange(head_only)
        self.last_activity = self.loop.time()
        if self._timer is None:
            # One timer per connection, not per request: it stays armed across the
            # exchanges of a kept-alive connection and, when it fires, checks the one in
            # flight against its last activity (re-arming for the rest of its time).
            self._timer = self.loop.call_later(self.pool.read_timeout, self._check_timeout)
        assert self.transport is not None
        self.transport.write(head)
        return ex

    async def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise OriginClosed("the origin closed the connection")
        self.transport.write(data)
        if self._write_paused:
            self._drain = self.loop.create_future()
            await self._drain
        self.last_activity = self.loop.time()

    async def wait(self, ex: _Exchange) -> None:
        """Until something new: the head, a body chunk, the end, or an error."""
        if ex.error is not None:
            raise ex.error
        ex.waiter = self.loop.create_future()
        await ex.waiter
        ex.waiter = None
        if ex.error is not None:
            raise ex.error

    async def head(self, ex: _Exchange) -> None:
        while not ex.status:
            await self.wait(ex)

    async def chunk(self, ex: _Exchange) -> bytes | None:
        """The next body bytes, or None at the end."""
        while not ex.chunks:
            if ex.complete:
                return None
            await self.wait(ex)
        data = ex.chunks.popleft()
        if len(ex.chunks) > 8:  # many small chunks: hand them on together
            data = data + b"".join(ex.chunks)
            ex.chunks.clear()
        ex.buffered = sum(map(len, ex.chunks))
        if self.reading_paused and ex.buffered < _HIGH_WATER // 2 and self.transport:
            self.transport.resume_reading()
            self.reading_paused = False
        return data

    def finish(self, ex: _Exchange) -> bool:
        """The exchange is over; True when the connection can serve another (the read
        timer stays armed for it: see `begin`)."""
        self.exchange = None
        return ex.complete and ex.keep_alive and ex.error is None and not self.closed


class OriginPool:
    """Kept-alive connections to one origin, at most `size` open."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        idle_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.loop = asyncio.get_running_loop()
        self.idle: list[OriginConnection] = []
        self.open: set[OriginConnection] = set()
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> tuple[OriginConnection, bool]:
        """A connection, and whether it was reused (kept alive from an earlier request)."""
        while True:
            now = self.loop.time()
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed and now - conn.idle_since < self.idle_timeout:
                    return conn, True
                conn.close()
            if len(self.open) < self.size:
                break
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            await waiter
        conn = OriginConnection(self)
        self.open.add(conn)
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: conn,
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                ),
                self.connect_timeout,
            )
        except BaseException:
            self.forget(conn)
            raise
        return conn, False

    def release(self, conn: OriginConnection, reusable: bool) -> None:
        if reusable:
            conn.idle_since = self.loop.time()
            self.idle.append(conn)
            self._wake()
        else:
            conn.close()

    def forget(self, conn: OriginConnection) -> None:
        if conn in self.open:
            self.open.discard(conn)
            with contextlib.suppress(ValueError):
                self.idle.remove(conn)
            self._wake()

    def _wake(self) -> None:
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(None)
                return

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()


class Upstream:
    def __init__(
        self,
        origin: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 512,
        preserve_host: bool = True,
    ) -> None:
        parts = urlsplit(origin)
        self.origin = origin.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.origin_host = parts.netloc
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        self.preserve_host = preserve_host
        self._pool: OriginPool | None = None

    async def start(self) -> None:
        if self._pool is None:
            self._pool = OriginPool(
                self.host,
                self.port,
                tls=ssl.create_default_context() if self.https else None,
                size=self.pool_size,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            await asyncio.sleep(0)  # let the transports close

    def head(self, scope: Scope, headers: Sequence[tuple[str, str]], chunked: bool) -> bytes:
        target = scope.get("raw_path") or scope["path"].encode()
        qs = scope.get("query_string")
        if qs:
            target = target + b"?" + qs
        # The header lines as one text, encoded once (not two encodes per header).
        if self.preserve_host:
            text = "".join([f"{k}: {v}\r\n" for k, v in headers])
        else:
            text = "".join([f"{k}: {v}\r\n" for k, v in headers if k != "host"])
            text += f"host: {self.origin_host}\r\n"
        if chunked:
            text += "transfer-encoding: chunked\r\n"
        return b"".join(
            (scope["method"].encode("ascii"), b" ", target, b" HTTP/1.1\r\n",
             text.encode("latin-1"), b"\r\n")
        )  # fmt: skip

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Sequence[tuple[str, str]],
        extra_response_headers: Sequence[tuple[bytes, bytes]] = (),
        on_start: Callable[[int], None] | None = None,
    ) -> Forwarded:
        """Send the request to the origin and its response to the client; `on_start` is
        called with the origin's status as soon as its response head arrived."""
        if self._pool is None:
            await self.start()
        pool = self._pool
        assert pool is not None
        out = Forwarded()
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"transfer-encoding":
                chunked = True
            elif name == b"content-length":
                with contextlib.suppress(ValueError):
                    length = int(value)
        has_body = chunked or bool(length)
        head = self.head(scope, headers, chunked)
        head_only = scope["method"] == "HEAD"
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                conn, reused = await pool.acquire()
            except TimeoutError:
                out.error, out.detail = "connect", "connecting to the origin timed out"
                return out
            except OSError as exc:
                out.error, out.detail = "connect", f"{type(exc).__name__}: {exc}"
                return out
            ex = conn.begin(head, head_only)
            try:
                if has_body:
                    await _send_body(conn, receive, chunked)
                await conn.head(ex)
                break
            except _ClientGone as exc:
                conn.finish(ex)
                pool.release(conn, False)
                out.error, out.detail = "client_gone", str(exc)
                return out
            except TimeoutError as exc:
                conn.finish(ex)
                pool.release(conn, False)
                out.error, out.detail = "timeout", str(exc)
                return out
            except OSError as exc:
                conn.finish(ex)
                pool.release(conn, False)
                if attempt == 0 and reused and not has_body and not ex.got_bytes:
                    continue  # the origin had closed this idle connection: try a new one
                out.error, out.detail = "connect", f"{type(exc).__name__}: {exc}"
                return out
        out.upstream_seconds = time.perf_counter() - t0
        conn_headers: frozenset[bytes] = frozenset()
        for name, value in ex.headers:
            if name.lower() == b"connection":
                conn_headers = frozenset(t.encode() for t in connection_tokens(value))
        response_headers = [
            (k, v)
            for k, v in ex.headers
            if (lk := k.lower()) not in _HOP_BY_HOP_BYTES and lk not in conn_headers
        ]
        response_headers += extra_response_headers
        out.status = ex.status
        if on_start is not None:
            on_start(ex.status)
        reusable = False
        try:
            await send(
                {"type": "http.response.start", "status": ex.status, "headers": response_headers}
            )
            more = True
            while more:
                try:
                    data = await conn.chunk(ex)
                except (OSError, TimeoutError) as exc:
                    out.error, out.detail = "broken", f"{type(exc).__name__}: {exc}"
                    return out
                if data is None:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                out.body_bytes += len(data)
                # The last bytes of the body end the response in the same message.
                more = bool(ex.chunks) or not ex.complete
                await send({"type": "http.response.body", "body": data, "more_body": more})
            reusable = True
        finally:
            pool.release(conn, conn.finish(ex) and reusable)
        return out


class _ClientGone(Exception):
    pass


async def _send_body(conn: OriginConnection, receive: Receive, chunked: bool) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone("the client went away while sending its body")
        data = message.get("body", b"")
        more = message.get("more_body", False)
        if chunked:
            if data:
                await conn.write(b"%x\r\n%b\r\n" % (len(data), data))
            if not more:
                await conn.write(b"0\r\n\r\n")
        elif data:
            await conn.write(data)
        if not more:
            return
