"""Live traffic: the scenario's populations as real HTTP(S) requests to a target.

The events a scenario generates are replayed in order at exactly `rps` requests per
second for `duration` seconds, each through the engine its client really is: aiohttp for
libraries, curl_cffi (with the client's impersonation target) for browser-grade TLS, the
real `curl` binary for curl, and Debian's Chromium driven by Playwright for headless
browsers. Two hard bounds hold whatever the engines do: no request starts after
`duration`, and no rolling second holds more than `ceil(rps)` request starts — a request
whose engine has no free slot at its turn is skipped (and counted), never delayed.

Only loopback targets (127.0.0.0/8, ::1, localhost) are allowed unless the host is named
in `allow_hosts`: a load generator must not be pointed at someone else's site by mistake.

For high rates (`pooled=True`), requests that need no special client go through `h1`, a
pool of kept-alive HTTP/1.1 connections that writes each request as pre-rendered bytes
(the planned headers in their planned order) and reads the answer with httptools: about a
tenth of aiohttp's cost per request, so one process holds 2,000 requests/s
(bench/simulate.py). Which requests it takes: the library populations (aiohttp's place:
the same TLS stack, Python's `ssl`), and, to plain-HTTP targets only, the browser-grade
ones too (curl_cffi's place: without TLS there is no fingerprint to impersonate, and
curl-impersonate speaks HTTP/1.1 there, without HTTP/2's `priority` header, exactly as
sent here). The curl population stays the real `curl` binary, the headless one Chromium.
The schedule is open loop: a request starts when it is due, whatever the answers before
it are doing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import ipaddress
import math
import os
import queue
import shutil
import ssl
import subprocess
import threading
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botwarden.errors import ConfigError
from botwarden.simulate.clients import Client
from botwarden.simulate.populations import client_index
from botwarden.simulate.scenario import Scenario

CHROMIUM = "/usr/bin/chromium"
ENGINES = ("aiohttp", "curl_cffi", "curl", "chromium")
PLAN_AHEAD_MAX = 60_000
"""Most requests planned before a run starts (about 4 KB each)."""
POOLED = "h1"
POOLED_FROM_RPS = 200.0
"""The pooled HTTP/1.1 engine of `pooled=True` runs (see the module doc)."""
# Headers each engine writes itself (from the URL, the body or the connection).
_ENGINE_OWNED = frozenset({"host", "content-length", "connection", "transfer-encoding"})


def check_target(url: str, allow_hosts: Sequence[str] = ()) -> tuple[str, str]:
    """(scheme, host) of a target URL that traffic may be sent to; ConfigError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--target {url!r}: expected http(s)://host[:port]")
    host = parts.hostname.lower()
    if host in (h.lower() for h in allow_hosts):
        return parts.scheme, host
    if host == "localhost":
        return parts.scheme, host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"refusing to send traffic to {host}: only loopback targets (127.0.0.0/8, ::1, "
            f"localhost) unless the host is named with --allow-host {host}"
        )
    return parts.scheme, host


@dataclass(frozen=True, slots=True)
class Planned:
    """One request to send: what the event says, and the engine of its client."""

    client: Client
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    population: str
    navigation: bool


@dataclass(slots=True)
class Report:
    rps: float
    duration: float
    started: list[float] = field(default_factory=list)  # start offsets of sent requests
    by_engine: Counter[str] = field(default_factory=Counter)
    by_population: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    left_out: dict[str, int] = field(default_factory=dict)  # planned for an unusable engine
    elapsed: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.started)

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.duration if self.duration else 0.0

    def max_per_second(self) -> int:
        """The most request starts in any rolling one-second window."""
        best, lo = 0, 0
        s = self.started
        for hi in range(len(s)):
            while s[hi] - s[lo] >= 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def summary(self) -> dict[str, Any]:
        return {
            "target_rps": self.rps,
            "duration_s": self.duration,
            "sent": self.sent,
            "achieved_rps": round(self.achieved_rps, 2),
            "max_starts_in_any_second": self.max_per_second(),
            "elapsed_s": round(self.elapsed, 3),
            "by_engine": dict(self.by_engine),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "skipped": dict(self.skipped),
            "left_out": dict(self.left_out),
        }


def plan(
    scenario: Scenario,
    rps: float,
    duration: float,
    seed: int,
    engines: Sequence[str] = ENGINES,
    left_out: Counter[str] | None = None,
) -> Iterator[Planned]:
    """The scenario's requests at `rps` for `duration`, in time order — those whose client
    one of `engines` can send (the others are counted in `left_out` by engine)."""
    from botwarden.simulate.events import Generator

    index = client_index()
    allowed = set(engines)
    sc = scenario.with_overrides(hours=duration / 3600.0, rps=rps)
    for batch in Generator(sc, seed=seed).batches(max_rows=4096):
        cols = batch.select(["client", "method", "path", "query", "headers", "body",
                             "population"]).to_pydict()  # fmt: skip
        for i in range(batch.num_rows):
            client = _client(index, cols["client"][i])
            if client.driver not in allowed:
                if left_out is not None:
                    left_out[client.driver] += 1
                continue
            headers = tuple((h["name"], h["value"]) for h in cols["headers"][i])
            dest = next((v for n, v in headers if n.lower() == "sec-fetch-dest"), "document")
            yield Planned(
                client=client,
                method=cols["method"][i],
                path=cols["path"][i],
                query=cols["query"][i],
                headers=headers,
                body=cols["body"][i].encode(),
                population=cols["population"][i],
                navigation=dest == "document",
            )


def _client(index: dict[str, Client], key: str) -> Client:
    """The client an event names; a deployment variant ("<key> [http/1.1]") is sent by its
    base client's engine (the event row carries the variant's own headers)."""
    found = index.get(key)
    while found is None and key.endswith("]") and " [" in key:
        key = key.rpartition(" [")[0]
        found = index.get(key)
    if found is None:
        raise KeyError(f"unknown client {key!r} in the plan")
    return found


class _Limiter:
    """At most `limit` starts in any rolling second."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.starts: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more start is allowed (0: now)."""
        while self.starts and now - self.starts[0] >= 1.0:
            self.starts.popleft()
        if len(self.starts) < self.limit:
            return 0.0
        return self.starts[0] + 1.0 - now + 1e-6

    def admit(self, now: float) -> None:
        self.starts.append(now)


class _H1Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection of `_H1Pool`: one request at a time."""

    def __init__(self, pool: _H1Pool) -> None:
        import httptools

        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.status = 0
        self.head_only = False
        self.keep_alive = False
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        import httptools

        if self.waiter is None:  # bytes nobody asked for: drop the connection
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._done(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._done(ConnectionResetError("the target closed the connection"))
        self.pool.forget(self)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        if self.head_only:  # the parser cannot know a HEAD answer has no body
            self.keep_alive = False
            self._done(None)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return
        self._done(None)

    def _expire(self) -> None:
        self._timer = None
        self._done(TimeoutError(f"no answer in {self.pool.timeout:g} s"))
        self.close()

    def _done(self, error: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        w = self.waiter
        if w is None or w.done():
            return
        if error is None:
            w.set_result(self.status)
        else:
            w.set_exception(error)

    def send(self, data: bytes, head_only: bool) -> asyncio.Future[int]:
        assert self.transport is not None
        self.head_only = head_only
        self.status = 0
        loop = self.pool.loop
        self.waiter = loop.create_future()
        self._timer = loop.call_later(self.pool.timeout, self._expire)
        self.transport.write(data)
        return self.waiter


class _H1Pool:
    """At most `size` kept-alive connections to one target; a request waits for a free one
    (the caller's slot limit keeps that wait short)."""

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext | None, size: int, timeout: float
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.size = size
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.idle: deque[_H1Connection] = deque()
        self.open = 0
        self.opened = 0  # connections made in all (reconnects show here)
        self.conns: set[_H1Connection] = set()

    async def request(self, data: bytes, head_only: bool) -> int:
        conn = await self._acquire()
        try:
            status = await conn.send(data, head_only)
        except BaseException:
            conn.close()
            raise
        if conn.keep_alive and not conn.closed:
            conn.waiter = None
            self.idle.append(conn)
        else:
            conn.close()
        return status

    async def _acquire(self) -> _H1Connection:
        while self.idle:
            conn = self.idle.pop()  # the most recently used: warmest, least likely closed
            if not conn.closed:
                return conn
        self.open += 1
        self.opened += 1
        try:
            async with asyncio.timeout(self.timeout):
                _, conn = await self.loop.create_connection(
                    lambda: _H1Connection(self), self.host, self.port, ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                )  # fmt: skip
        except BaseException:
            self.open -= 1
            raise
        self.conns.add(conn)
        return conn

    def forget(self, conn: _H1Connection) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            self.open -= 1

    def close(self) -> None:
        for conn in list(self.conns):
            conn.close()
        self.idle.clear()


def render_h1(p: Planned, host: str, drop: frozenset[str] = frozenset()) -> bytes:
    """`p` as HTTP/1.1 bytes: the planned headers in the planned order (Host given the
    target's value where the plan has it, else first), `drop` (lower-case) left out, a
    Content-Length for a body."""
    target = f"{p.path}?{p.query}" if p.query else p.path
    lines = [f"{p.method} {target} HTTP/1.1"]
    host_at = len(lines)
    for name, value in p.headers:
        low = name.lower()
        if low == "host":
            host_at = len(lines)
            continue
        if low in _ENGINE_OWNED or low in drop:
            continue
        lines.append(f"{name}: {value}")
    lines.insert(host_at, f"Host: {host}")
    if p.body or p.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(p.body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + p.body if p.body else head


_H2_ONLY = frozenset({"priority"})
"""Headers browsers send only over HTTP/2 (curl-impersonate leaves them out on HTTP/1.1)."""


class Driver:
    """Sends planned requests to `target` at `rps` for `duration` seconds."""

    def __init__(
        self,
        target: str,
        *,
        rps: float,
        duration: float,
        allow_hosts: Sequence[str] = (),
        engines: Sequence[str] = ENGINES,
        max_in_flight: int = 512,
        timeout: float = 10.0,
        pooled: bool = False,
        pool_size: int = 512,
    ) -> None:
        if rps <= 0 or duration <= 0:
            raise ConfigError("--rps and --duration must be above 0")
        self.scheme, self.host = check_target(target, allow_hosts)
        parts = urlsplit(target)
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.host_header = parts.netloc
        self.base = target.rstrip("/")
        self.pooled = pooled
        self.rps = rps
        self.duration = duration
        self.engines = set(engines)
        self.timeout = timeout
        self.slots = {
            "aiohttp": max_in_flight,
            "curl_cffi": max_in_flight,
            # A curl process lives tens of milliseconds on a loaded machine: at high rates
            # its share (about 4 % of the default mix) needs more of them at once.
            "curl": max(min(32, max(4, (os.cpu_count() or 2) * 8)), math.ceil(rps / 40)),
            "chromium": 2,  # each navigation costs Chromium real CPU: keep it a trickle
            POOLED: pool_size,  # one connection per request in flight, at most
        }
        self.in_flight: Counter[str] = Counter()
        self._aiohttp: Any = None
        self._cffi: Any = None
        self._chromium: _Chromium | None = None
        self._pool: _H1Pool | None = None
        self._curl_threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._curls: set[subprocess.Popen[bytes]] = set()

    # -- engines --------------------------------------------------------------------------

    def usable_engines(self) -> tuple[str, ...]:
        """The requested engines this machine can run (curl and Chromium need binaries)."""
        out = []
        for engine in ENGINES:
            if engine not in self.engines:
                continue
            if engine == "curl" and shutil.which("curl") is None:
                continue
            if engine == "chromium" and not os.path.exists(CHROMIUM):
                continue
            out.append(engine)
        self.engines = set(out)
        if self.pooled:
            self.engines.add(POOLED)
        return tuple(out)

    def engine_for(self, client: Client) -> str:
        """The engine that sends `client`'s requests (see the module doc for `h1`)."""
        driver = client.driver
        if self.pooled and (
            driver == "aiohttp" or (driver == "curl_cffi" and self.scheme == "http")
        ):
            return POOLED
        return driver

    async def _open(self, needed: set[str]) -> None:
        import aiohttp

        if self.pooled:
            tls = None
            if self.scheme == "https":  # a load generator to loopback: no verification
                tls = ssl.create_default_context()
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            self._pool = _H1Pool(self.host, self.port, tls, self.slots[POOLED], self.timeout)

        connector = aiohttp.TCPConnector(limit=self.slots["aiohttp"], ssl=False)
        self._aiohttp = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )
        if "curl_cffi" in needed:
            from curl_cffi.requests import AsyncSession

            self._cffi = AsyncSession(max_clients=min(self.slots["curl_cffi"], 256), verify=False)
        if "curl" in needed and shutil.which("curl") is None:
            self.engines.discard("curl")
        if "curl" in needed and "curl" in self.engines:
            self._curl_threads = concurrent.futures.ThreadPoolExecutor(
                self.slots["curl"], thread_name_prefix="traffic-curl"
            )
        if "chromium" in needed and "chromium" in self.engines:
            if os.path.exists(CHROMIUM):
                self._chromium = _Chromium(self.slots["chromium"], self.timeout)
                await asyncio.get_running_loop().run_in_executor(None, self._chromium.start)
            else:
                self.engines.discard("chromium")

    async def _close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._curl_threads is not None:
            for proc in list(self._curls):  # in flight when the duration ended
                with contextlib.suppress(OSError):
                    proc.kill()
            self._curl_threads.shutdown(wait=True, cancel_futures=True)
        if self._aiohttp is not None:
            await self._aiohttp.close()
        if self._cffi is not None:
            with contextlib.suppress(Exception):
                await self._cffi.close()
        if self._chromium is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._chromium.stop)

    def _url(self, p: Planned) -> str:
        return f"{self.base}{p.path}?{p.query}" if p.query else f"{self.base}{p.path}"

    @staticmethod
    def _headers(p: Planned) -> list[tuple[str, str]]:
        return [(n, v) for n, v in p.headers if n.lower() not in _ENGINE_OWNED]

    async def _send_aiohttp(self, p: Planned) -> int:
        async with self._aiohttp.request(
            p.method, self._url(p), headers=self._headers(p), data=p.body or None,
            allow_redirects=False,
        ) as response:  # fmt: skip
            await response.read()
            status: int = response.status
            return status

    async def _send_cffi(self, p: Planned) -> int:
        response = await self._cffi.request(
            p.method, self._url(p), headers=self._headers(p), data=p.body or None,
            impersonate=p.client.impersonate, default_headers=False, allow_redirects=False,
            timeout=self.timeout, accept_encoding=None, http_version="v2tls",
        )  # fmt: skip
        status: int = response.status_code
        return status

    async def _send_curl(self, p: Planned) -> int:
        argv = ["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                str(self.timeout), "-X", p.method]  # fmt: skip
        for name, value in self._headers(p):
            argv += ["-H", f"{name}: {value}"]
        if p.body:
            argv += ["--data-binary", "@-"]
        argv.append(self._url(p))
        # Started and waited for on a thread of its own: subprocess.Popen spawns with
        # vfork, where the event loop's spawn forks this whole (large) process, measured
        # at over 10 ms of stalled loop per curl on a loaded machine. A curl whose task
        # is cancelled at the end is killed by `_close`.
        run = functools.partial(_run_curl, argv, p.body, self.timeout, self._curls)
        return await asyncio.get_running_loop().run_in_executor(self._curl_threads, run)

    async def _send_pooled(self, p: Planned) -> int:
        assert self._pool is not None
        drop = _H2_ONLY if p.client.driver == "curl_cffi" else frozenset()
        return await self._pool.request(
            render_h1(p, self.host_header, drop), head_only=p.method == "HEAD"
        )

    async def _send_chromium(self, p: Planned) -> int:
        assert self._chromium is not None
        return await self._chromium.send(self._url(p), p)

    # -- the schedule ---------------------------------------------------------------------

    async def run_async(self, planned: Iterator[Planned], needed: set[str]) -> Report:
        report = Report(self.rps, self.duration)
        feed = _Feed(planned)
        loop = asyncio.get_running_loop()
        ahead = min(PLAN_AHEAD_MAX, math.ceil(self.rps * self.duration * 1.05) + 1024)
        await loop.run_in_executor(None, feed.wait_ready, ahead)
        await self._open(needed & self.engines)
        # The plan made up front is hundreds of thousands of objects that live to the end
        # of the run: a full collection walking them mid-run stalls the sending loop for
        # a tenth of a second or more. They hold no cycles, so the collector can leave
        # them alone until the run is over.
        frozen_before = gc.get_freeze_count()
        gc.collect()
        gc.freeze()
        limiter = _Limiter(max(1, math.ceil(self.rps)))
        tasks: set[asyncio.Task[None]] = set()
        t0 = loop.time()
        interval = 1.0 / self.rps
        # Send everything due within the next `tick` at once: one timer per tick, not per
        # request, keeps the loop's own cost low at high rates.
        tick = min(0.005, max(interval, 0.002))
        k = 0
        try:
            while True:
                due = k * interval
                if due >= self.duration:
                    break
                p = feed.next_nowait()
                if p is None:
                    p = await loop.run_in_executor(None, feed.next)
                    if p is None:
                        break  # the scenario has nothing more to send
                k += 1
                delay = due - (loop.time() - t0)
                if delay > tick:
                    await asyncio.sleep(delay)
                now = loop.time() - t0
                if now >= self.duration:
                    break
                engine = self.engine_for(p.client)
                if engine not in self.engines:
                    report.skipped[f"{p.client.driver} unavailable"] += 1
                    continue
                if self.in_flight[engine] >= self.slots[engine]:
                    report.skipped[f"{engine} busy"] += 1
                    continue
                wait = limiter.wait(now)
                if wait > 0:  # behind schedule: catch up no faster than the bound allows
                    await asyncio.sleep(wait)
                    now = loop.time() - t0
                    if now >= self.duration:
                        break
                limiter.admit(now)
                report.started.append(now)
                report.by_engine[engine] += 1
                report.by_population[p.population] += 1
                self.in_flight[engine] += 1
                task = asyncio.ensure_future(self._one(engine, p, report))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            # Stop at the duration: what is still in flight then is cancelled, not awaited.
            remaining = self.duration - (loop.time() - t0)
            if tasks and remaining > 0:
                await asyncio.wait(set(tasks), timeout=remaining)
        finally:
            feed.stop()
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            report.elapsed = loop.time() - t0
            if not frozen_before:  # else someone else froze objects: leave it to them
                gc.unfreeze()
            await self._close()
        return report

    async def _one(self, engine: str, p: Planned, report: Report) -> None:
        try:
            if engine == POOLED:
                status = await self._send_pooled(p)
            elif engine == "aiohttp":
                status = await self._send_aiohttp(p)
            elif engine == "curl_cffi":
                status = await self._send_cffi(p)
            elif engine == "curl":
                status = await self._send_curl(p)
            else:
                status = await self._send_chromium(p)
            report.statuses[status] += 1
        except asyncio.CancelledError:
            report.errors["cancelled at end"] += 1
            raise
        except Exception as exc:  # counted and reported; one failure never stops the run
            report.errors[f"{engine}: {type(exc).__name__}"] += 1
        finally:
            self.in_flight[engine] -= 1

    def run(self, planned: Iterator[Planned], needed: set[str] | None = None) -> Report:
        main = self.run_async(planned, set(ENGINES) if needed is None else needed)
        try:
            import uvloop
        except ImportError:  # pragma: no cover - a dependency; plain asyncio works too
            return asyncio.run(main)
        return uvloop.run(main)


def _run_curl(
    argv: list[str], body: bytes, timeout: float, live: set[subprocess.Popen[bytes]]
) -> int:
    """Run one curl to its end (on a worker thread); its `%{http_code}`."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE if body else subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    live.add(proc)
    try:
        out, _ = proc.communicate(body or None, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    finally:
        live.discard(proc)
    return int(out or b"0")


class _Chromium:
    """Debian's Chromium driven by Playwright, on its own thread and event loop so that
    Playwright's chatter never delays the sender's schedule. Navigations go through
    `page.goto`, everything else through the page's `fetch()`; the page's own
    subresources are aborted, because they are planned requests of their own."""

    def __init__(self, pages: int, timeout: float) -> None:
        self.size = pages
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chromium", daemon=True)
        self.free: asyncio.Queue[Any] | None = None
        self._playwright: Any = None
        self._browser: Any = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--ignore-certificate-errors"]
        )
        self.free = asyncio.Queue()
        for _ in range(self.size):
            context = await self._browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            await page.route("**/*", _only_planned)
            self.free.put_nowait(page)

    async def send(self, url: str, p: Planned) -> int:
        future = asyncio.run_coroutine_threadsafe(self._send(url, p), self.loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _send(self, url: str, p: Planned) -> int:
        assert self.free is not None
        page = await self.free.get()
        try:
            if p.navigation and p.method == "GET":
                response = await page.goto(url, wait_until="commit", timeout=self.timeout * 1000)
                return int(response.status) if response is not None else 0
            status: int = await page.evaluate(
                "([u, m, b]) => fetch(u, {method: m, body: b || undefined})"
                ".then(r => r.status, () => 0)",
                [url, p.method, p.body.decode() if p.body else None],
            )
            return status
        finally:
            self.free.put_nowait(page)

    def stop(self) -> None:
        async def close() -> None:
            with contextlib.suppress(Exception):
                if self._browser is not None:
                    await self._browser.close()
                if self._playwright is not None:
                    await self._playwright.stop()

        if self.thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.loop.close()


async def _only_planned(route: Any) -> None:
    request = route.request
    if request.is_navigation_request() or request.resource_type in ("fetch", "xhr"):
        await route.continue_()
    else:
        await route.abort()


class _Feed:
    """Plans requests in a thread, ahead of the schedule, so that generating the next
    batch never stalls the event loop that sends on time."""

    def __init__(self, planned: Iterator[Planned], chunk: int = 1024, ahead: int = 4) -> None:
        self._queue: queue.Queue[list[Planned] | None] = queue.Queue(maxsize=ahead)
        self._local: deque[Planned] = deque()
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce, args=(planned, chunk), name="traffic-plan", daemon=True
        )
        self._thread.start()

    def _produce(self, planned: Iterator[Planned], chunk: int) -> None:
        buf: list[Planned] = []
        try:
            for p in planned:
                buf.append(p)
                if len(buf) >= chunk:
                    if not self._put(buf):
                        return
                    buf = []
            if buf:
                self._put(buf)
        finally:
            self._put(None)

    def _put(self, item: list[Planned] | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def wait_ready(self, at_least: int = 8 * 1024) -> None:
        """Block until `at_least` requests are planned (or the plan is complete) before
        the clock starts. Planning costs about 70 µs of Python per
        request: done during the run, its thread takes the interpreter lock from the
        sending loop in slices of up to 5 ms (measured: at 2,000 requests/s the loop
        fell behind), so a run plans as much as it will send up front, up to a bound."""
        while not self._done:
            item = self._queue.get()
            if item is None:
                self._done = True
            else:
                self._local.extend(item)
            if len(self._local) >= at_least:
                break

    def next_nowait(self) -> Planned | None:
        if self._local:
            return self._local.popleft()
        if self._done:
            return None
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is None:
            self._done = True
            return None
        self._local.extend(item)
        return self._local.popleft()

    def next(self) -> Planned | None:
        """Blocking: the next planned request, or None when the plan is exhausted."""
        found = self.next_nowait()
        if found is not None or self._done:
            return found
        item = self._queue.get()
        if item is None:
            self._done = True
            return None
        self._local.extend(item)
        return self._local.popleft()

    def stop(self) -> None:
        self._stop.set()


def run_traffic(
    scenario: Scenario,
    target: str,
    *,
    rps: float,
    duration: float,
    seed: int = 0,
    allow_hosts: Sequence[str] = (),
    engines: Sequence[str] = ENGINES,
    pooled: bool | None = None,
) -> Report:
    """Plan the scenario and send it: the one call the CLI and the benchmark make.
    `pooled`: the `h1` engine for what needs no special client (see the module doc);
    by default from `POOLED_FROM_RPS` requests/s up."""
    if pooled is None:
        pooled = rps >= POOLED_FROM_RPS
    driver = Driver(
        target, rps=rps, duration=duration, allow_hosts=allow_hosts, engines=engines,
        pooled=pooled,
    )  # fmt: skip
    usable = driver.usable_engines()
    left_out: Counter[str] = Counter()
    # The plan is lazy: give it a horizon far past the duration, so that requests left
    # out (an engine not usable here) never leave the schedule short.
    report = driver.run(
        plan(scenario, rps, horizon(duration), seed, usable, left_out),
        engines_of(scenario) & set(usable),
    )
    report.left_out = dict(left_out)
    return report


def horizon(duration: float) -> float:
    """How far ahead (in scenario seconds) a live run plans."""
    return duration * 20 + 600


def engines_of(scenario: Scenario) -> set[str]:
    """The engines the scenario's populations (at their levels) can need."""
    from botwarden.simulate.populations import populations

    pops = populations()
    wanted: dict[str, set[int] | None] = {}
    for phase in scenario.phases:
        for share in phase.mix:
            wanted.setdefault(share.population, set())
            levels = wanted[share.population]
            if levels is not None:
                if share.levels is None:
                    wanted[share.population] = None
                else:
                    levels.update(share.levels)
    for c in scenario.campaigns:
        wanted.setdefault(c.population, set())
        levels = wanted[c.population]
        if levels is not None:
            if c.levels is None:
                wanted[c.population] = None
            else:
                levels.update(c.levels)
    out: set[str] = set()
    for name, levels in wanted.items():
        pop = pops[name]
        for level, weighted in pop.actors.items():
            if levels is None and level not in pop.levels:
                continue
            if levels is not None and level not in levels:
                continue
            for _, actor in weighted:
                out.update(c.driver for c in actor.clients)
    return out
