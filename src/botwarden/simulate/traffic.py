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
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import os
import queue
import shutil
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
            client = index[cols["client"][i]]
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
    ) -> None:
        if rps <= 0 or duration <= 0:
            raise ConfigError("--rps and --duration must be above 0")
        self.scheme, self.host = check_target(target, allow_hosts)
        self.base = target.rstrip("/")
        self.rps = rps
        self.duration = duration
        self.engines = set(engines)
        self.timeout = timeout
        self.slots = {
            "aiohttp": max_in_flight,
            "curl_cffi": max_in_flight,
            "curl": min(32, max(4, (os.cpu_count() or 2) * 8)),
            "chromium": 2,  # each navigation costs Chromium real CPU: keep it a trickle
        }
        self.in_flight: Counter[str] = Counter()
        self._aiohttp: Any = None
        self._cffi: Any = None
        self._chromium: _Chromium | None = None

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
        return tuple(out)

    async def _open(self, needed: set[str]) -> None:
        import aiohttp

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
        if "chromium" in needed and "chromium" in self.engines:
            if os.path.exists(CHROMIUM):
                self._chromium = _Chromium(self.slots["chromium"], self.timeout)
                await asyncio.get_running_loop().run_in_executor(None, self._chromium.start)
            else:
                self.engines.discard("chromium")

    async def _close(self) -> None:
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
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            out, _ = await proc.communicate(p.body or None)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        return int(out or b"0")

    async def _send_chromium(self, p: Planned) -> int:
        assert self._chromium is not None
        return await self._chromium.send(self._url(p), p)

    # -- the schedule ---------------------------------------------------------------------

    async def run_async(self, planned: Iterator[Planned], needed: set[str]) -> Report:
        report = Report(self.rps, self.duration)
        feed = _Feed(planned)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, feed.wait_ready)
        await self._open(needed & self.engines)
        limiter = _Limiter(max(1, math.ceil(self.rps)))
        tasks: set[asyncio.Task[None]] = set()
        t0 = loop.time()
        interval = 1.0 / self.rps
        tick = min(0.005, interval)
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
                # Send everything due within the next `tick` at once: one timer per tick,
                # not per request, keeps the loop's own cost low at high rates.
                delay = due - (loop.time() - t0)
                if delay > tick:
                    await asyncio.sleep(delay)
                now = loop.time() - t0
                if now >= self.duration:
                    break
                engine = p.client.driver if p.client.driver in self.engines else None
                if engine is None:
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
            await self._close()
        return report

    async def _one(self, engine: str, p: Planned, report: Report) -> None:
        try:
            if engine == "aiohttp":
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
        return asyncio.run(self.run_async(planned, set(ENGINES) if needed is None else needed))


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

    def wait_ready(self) -> None:
        """Block until the plan is `ahead` chunks ahead (or complete) before the clock
        starts, so that planning competes least with sending."""
        while not self._done:
            item = self._queue.get()
            if item is None:
                self._done = True
            else:
                self._local.extend(item)
            if self._queue.full() or len(self._local) >= 8 * 1024:
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
) -> Report:
    """Plan the scenario and send it: the one call the CLI and the benchmark make."""
    driver = Driver(target, rps=rps, duration=duration, allow_hosts=allow_hosts, engines=engines)
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
