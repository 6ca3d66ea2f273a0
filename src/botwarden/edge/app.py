"""The hot path: a raw ASGI callable that scores, decides, acts and records every request.

    request ─▶ context ─▶ pipeline.score ─▶ session (__cf_bm) ─▶ rulesets ─▶ act
                                                                              │
       forward to the origin (result headers added) ◀── allow / log / none / challenge passed
       block page (HTML or JSON, or the rule's response)  ◀── block (429 for rate limits)
       challenge interstitial (403)                        ◀── managed / js challenge
                                                                              │
                                                   event to analytics, metrics ◀┘

No framework sits on this path. `/cdn-cgi/` is Botwarden's own namespace (challenge
verification, forward-auth, the challenge page for forward-auth redirects); requests there
are not scored ("Not Computed", score 0) — except forward-auth, which scores the request
it is asked about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from botwarden.edge import pages
from botwarden.edge.challenge import PAGE_PATH, VERIFY_PATH, Challenges, safe_return_path
from botwarden.edge.config import EMPTY_ZONE, ConfigWatcher, ZoneConfig, host_name
from botwarden.edge.metrics import EdgeMetrics
from botwarden.edge.proxies import TrustedProxies
from botwarden.edge.settings import EdgeSettings
from botwarden.edge.types import TLS_HELLO_KEY, UpgradePlan
from botwarden.edge.upstream import HOP_BY_HOP, Upstream, connection_tokens
from botwarden.request import RequestContext, TLSInput
from botwarden.result import BotManagement
from botwarden.rules.evalctx import RuleInput
from botwarden.rules.ruleset import Action, Decision, Phase
from botwarden.session import Session, SessionCodec, SessionKeys

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

    from botwarden.edge.config import ConfigSource
    from botwarden.engines.base import Engine
    from botwarden.ml.registry import Registry
    from botwarden.scoring import Pipeline
    from botwarden.state.base import StateStore

log = logging.getLogger(__name__)

CDN_CGI = "/cdn-cgi/"
FORWARD_AUTH_PATH = "/cdn-cgi/auth"
_MAX_FORM = 8192
_perf = time.perf_counter_ns
_ray_bits = random.Random().getrandbits
"""Request ids (the "Ray ID" on Botwarden's pages): unique, not secret, so a seeded
generator in the process rather than a getrandom(2) system call per request."""
_WARM_UP = RequestContext(
    client_ip="192.0.2.1",
    host="warm-up.invalid",
    headers=(("host", "warm-up.invalid"), ("user-agent", "Mozilla/5.0 (warm-up)")),
)


class EventSink(Protocol):
    """Where events go: `analytics.writer.Writer` (or a list, in tests)."""

    def append_request(self, ctx: RequestContext, bm: BotManagement, **outcome: Any) -> bool: ...


class Disposition:
    FORWARD = "forward"
    BLOCK = "block"
    CHALLENGE = "challenge"


@dataclass(slots=True)
class Outcome:
    """One request's result and what the edge does with it."""

    ctx: RequestContext
    zone: ZoneConfig
    bm: BotManagement
    session: Session | None
    inp: RuleInput
    decision: Decision
    disposition: str = Disposition.FORWARD
    action: str = ""
    """For events and metrics: the rule action, or e.g. `managed_challenge_bypassed`."""
    rule_id: str = ""
    peer: str = ""
    trusted: bool = False
    started_ns: int = 0
    decision_us: int = 0
    features: list[float] | None = None
    """The vector the model scored (None: no model ran for this request)."""
    scored: bool = False
    """The pipeline ran: the ML windows counted the request and await its status."""
    status_seen: bool = False


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class EdgeApp:
    """The edge as an ASGI application (`listener.EdgeServer` serves it; any ASGI server
    can, without the TLS fingerprints)."""

    def __init__(
        self,
        settings: EdgeSettings,
        config: ConfigWatcher,
        *,
        pipeline: Pipeline,
        sessions: SessionCodec,
        challenges: Challenges,
        upstream: Upstream | None = None,
        writer: EventSink | None = None,
        metrics: EdgeMetrics | None = None,
        clock: Any = time.time,
    ) -> None:
        self.settings = settings
        self.config = config
        self.pipeline = pipeline
        self.sessions = sessions
        self.challenges = challenges
        self.upstream = upstream
        self.writer = writer
        self.metrics = metrics
        self.clock = clock
        self.trusted = TrustedProxies(settings.trusted_proxies)
        rh = settings.result_headers
        self._result_names = tuple(n.lower() for n in rh.names())
        self._strip = HOP_BY_HOP | set(self._result_names) | {
            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        }  # fmt: skip
        self._ip_header = settings.client_ip_header.lower()
        self._proto_header = settings.proto_header.lower()
        self._ja4_header = settings.ja4_header.lower()
        self._ja3_header = settings.ja3_header.lower()
        self._cookie = settings.cookie_name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rule_errors = 0
        from botwarden.engines.ml import find_ml_engine

        self.ml = find_ml_engine(pipeline.engines)
        """The machine-learning engine of the pipeline, if any: after `pipeline.score` its
        `last` holds the request's vector and model version (read at once: one request is
        scored at a time on this loop, so `last` is this request's when `last.ctx is ctx`)."""
        self.observe_errors = 0

    @classmethod
    def build(
        cls,
        settings: EdgeSettings,
        source: ConfigSource,
        *,
        keys: SessionKeys,
        state: StateStore | None = None,
        engines: Sequence[Engine] | None = None,
        writer: EventSink | None = None,
        metrics: EdgeMetrics | None = None,
        forward: bool = True,
        registry: Registry | None = None,
        ml: bool = True,
    ) -> EdgeApp:
        """Wire an edge from its parts: the default engines (with the model from
        `registry`, or the data directory's, unless `ml` is False), an in-memory state
        store unless `state` is given. A given `state` (Redis, shared by every edge) also
        holds the model's per-client windows; without one they stay in this process,
        where they cost no round trip."""
        from botwarden.engines import default_engines
        from botwarden.engines.ml import find_ml_engine
        from botwarden.scoring import Pipeline
        from botwarden.state.memory import MemoryState

        shared = state
        state = state if state is not None else MemoryState()
        if engines is None:
            engines = default_engines(ml=ml, registry=registry, state=shared)
        watcher = ConfigWatcher(
            source,
            state=state,
            default_zone=settings.default_zone,
            interval=settings.config_poll_interval,
        )
        pipeline = Pipeline(engines, state)
        sessions = SessionCodec(
            keys, cookie_name=settings.cookie_name, max_idle=settings.session_max_idle
        )
        challenges = Challenges(
            keys.keys,
            difficulty=settings.challenge_difficulty,
            token_ttl=settings.challenge_ttl,
            clearance_ttl=settings.clearance_ttl,
            cookie_name=settings.clearance_cookie,
            state=state,
        )
        upstream = (
            Upstream(
                settings.origin,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                pool_size=settings.pool_size,
                preserve_host=settings.preserve_host,
            )
            if forward
            else None
        )
        if metrics is not None:
            # Writer.metrics() or EventShipper.metrics(): the analytics writer's health.
            metrics.watch(
                sessions=sessions,
                pipeline=pipeline,
                config=watcher,
                writer_metrics=getattr(writer, "metrics", None),
                ml=find_ml_engine(pipeline.engines),
            )
        return cls(
            settings,
            watcher,
            pipeline=pipeline,
            sessions=sessions,
            challenges=challenges,
            upstream=upstream,
            writer=writer,
            metrics=metrics,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a named background task and keep a reference to it (STYLE 10)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def startup(self) -> None:
        if self.config.current.version == 0:
            await asyncio.to_thread(self.config.load_now)
        # Engines load their data (bot directory, parsers) on first use: not on a client's.
        await asyncio.to_thread(self.pipeline.score, _WARM_UP)
        if self.upstream is not None:
            await self.upstream.start()
        self.spawn("botwarden-config-watcher", self.config.run())

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.upstream is not None:
            await self.upstream.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = _perf()
        path: str = scope["path"]
        if path.startswith(CDN_CGI):
            await self.own(scope, receive, send, t0)
            return
        o = self.evaluate(scope, t0)
        if o.disposition == Disposition.FORWARD:
            await self.forward(o, scope, receive, send)
        elif o.disposition == Disposition.BLOCK:
            self.finish(o, await self.send_block(o, send))
        else:
            self.finish(o, await self.send_challenge(o, send))

    # -- building the context -------------------------------------------------------------

    def context(
        self,
        scope: Scope,
        *,
        method: str | None = None,
        target: str | None = None,
        host: str | None = None,
        forwarded_auth: bool = False,
    ) -> tuple[RequestContext, ZoneConfig, str, bool]:
        """The request's context, its zone, the peer address and whether the peer is a
        trusted proxy. Forward-auth passes the original method, target and host."""
        client = scope.get("client")
        peer = client[0] if client else "0.0.0.0"
        port = client[1] if client else 0
        trusted = bool(self.trusted) and self.trusted.trusts(peer)
        headers = tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
        scheme: str = scope.get("scheme", "http")
        client_ip = peer
        tls: TLSInput | None = None
        host_header = ""
        for name, value in headers:
            if name == "host":
                host_header = value
                break
        if trusted:
            found: dict[str, str] = {}
            wanted = (self._ip_header, self._proto_header, self._ja4_header, self._ja3_header)
            for name, value in headers:
                if name in wanted:
                    found[name] = f"{found[name]}, {value}" if name in found else value
            if self._ip_header in found:
                raw = found[self._ip_header]
                if self._ip_header == "x-forwarded-for":
                    client_ip = self.trusted.client_from_forwarded_for(raw, peer)
                elif _is_ip(raw.strip()):
                    client_ip = raw.strip()
                port = 0
            proto = found.get(self._proto_header, "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scheme = proto
            ja4 = found.get(self._ja4_header)
            ja3 = found.get(self._ja3_header)
            if ja4 or ja3:
                ja3_hash = ja3 if ja3 and len(ja3) == 32 and "," not in ja3 else None
                tls = TLSInput(ja4=ja4 or None, ja3=None if ja3_hash else ja3, ja3_hash=ja3_hash)
        if tls is None:
            state = scope.get("state")
            hello = state.get(TLS_HELLO_KEY) if state else None
            if hello is not None:
                tls = TLSInput(client_hello=hello)
        if target is None:
            path = scope["path"]
            query = scope.get("query_string", b"").decode("latin-1")
        else:
            path, _, query = target.partition("?")
        if host is None:
            host = host_header
            if not host:
                server = scope.get("server")
                host = server[0] if server else ""
        zone = self.config.current.zone_for(host) if host else self.config.current.default
        ctx = RequestContext(
            client_ip=client_ip,
            client_port=port,
            method=method or scope["method"],
            host=host_name(host),
            path=path,
            query=query,
            scheme=scheme,
            http_version=scope.get("http_version", "1.1"),
            headers=headers,
            tls=tls,
            zone=zone.id or None,
            request_id=f"{_ray_bits(64):016x}",
        )
        return ctx, zone, peer, trusted

    # -- deciding -------------------------------------------------------------------------

    def decide(self, ctx: RequestContext, zone: ZoneConfig, now: float) -> Outcome:
        """Score, apply the session, evaluate the rulesets, and settle the disposition."""
        bm = self.pipeline.score(ctx)
        features: list[float] | None = None
        ml = self.ml
        if ml is not None:
            last = ml.last
            if last is not None and last.ctx is ctx:
                features = last.features
        session: Session | None = None
        if zone.bm_cookie_enabled:
            value = ctx.cookies.get(self._cookie) if ctx.header_map.get("cookie") else None
            session = self.sessions.begin(value, now)
            self.sessions.observe(session, bm, now, suppress=zone.suppress_session_score)
        inp = RuleInput(ctx, bm, lists=zone.lists)
        try:
            decision = zone.rules.evaluate(inp, now)
        except Exception:  # a broken rule never fails the request (fail open)
            self.rule_errors += 1
            log.exception("rule evaluation failed in zone %s; no rule applied", zone.id)
            decision = Decision()
        o = Outcome(ctx, zone, bm, session, inp, decision, features=features, scored=True)
        action = decision.action
        if action is None:
            if decision.logged:
                o.action, o.rule_id = Action.LOG.value, decision.logged[0].id
            return o
        assert decision.rule is not None
        o.rule_id = decision.rule.id
        o.action = action.value
        if action == Action.BLOCK:
            o.disposition = Disposition.BLOCK
        elif action in (Action.MANAGED_CHALLENGE, Action.JS_CHALLENGE, Action.CHALLENGE):
            clearance = ctx.cookies.get(self.challenges.cookie_name)
            if self.challenges.has_clearance(
                clearance, zone.id, ctx.client_ip, ctx.user_agent, now
            ):
                o.action = f"{action.value}_bypassed"
            else:
                o.disposition = Disposition.CHALLENGE
        return o

    def evaluate(self, scope: Scope, t0: int, **overrides: Any) -> Outcome:
        ctx, zone, peer, trusted = self.context(scope, **overrides)
        o = self.decide(ctx, zone, self.clock())
        o.peer, o.trusted, o.started_ns = peer, trusted, t0
        o.decision_us = (_perf() - t0) // 1000
        if self.metrics is not None:
            self.metrics.decision_seconds.observe(o.decision_us / 1e6)
        return o

    # -- acting ---------------------------------------------------------------------------

    def result_headers(self, o: Outcome) -> list[tuple[str, str]]:
        bm = o.bm
        n = self._result_names
        return [
            (n[0], str(bm.score)),
            (n[1], str(bm.score_src)),
            (n[2], "true" if bm.verified_bot else "false"),
            (n[3], bm.ja4 or ""),
            (n[4], ",".join(map(str, bm.detection_ids))),
        ]

    def origin_headers(self, o: Outcome) -> list[tuple[str, str]]:
        """The client's headers minus hop-by-hop and forged result headers, plus the
        X-Forwarded-* set and the result."""
        ctx = o.ctx
        strip = self._strip
        conn = ctx.header_map.get("connection")
        if conn:
            strip = strip | connection_tokens(conn)
        out = [(k, v) for k, v in ctx.headers if k not in strip]
        prior = ctx.header_map.get("x-forwarded-for") if o.trusted else None
        out.append(("x-forwarded-for", f"{prior}, {o.peer}" if prior else ctx.client_ip))
        out.append(("x-forwarded-proto", ctx.scheme))
        fwd_host = ctx.header_map.get("x-forwarded-host") if o.trusted else None
        out.append(("x-forwarded-host", fwd_host or ctx.header_map.get("host", ctx.host)))
        out += self.result_headers(o)
        return out

    def cookie_headers(self, o: Outcome) -> list[tuple[bytes, bytes]]:
        if o.session is None:
            return []
        value = self.sessions.set_cookie(o.session, secure=o.ctx.scheme == "https")
        return [(b"set-cookie", value.encode("latin-1"))]

    async def forward(self, o: Outcome, scope: Scope, receive: Receive, send: Send) -> None:
        if self.upstream is None:  # forward-auth-only edge: nothing to forward to
            status = await self.send_page(
                o, send, 404, pages.NOT_FOUND, extra=self.cookie_headers(o)
            )
            self.finish(o, status)
            return
        result = await self.upstream.forward(
            scope, receive, send, self.origin_headers(o), self.cookie_headers(o),
            on_start=(lambda status: self.observe_status(o, status)) if o.scored else None,
        )  # fmt: skip
        if self.metrics is not None and result.status:
            self.metrics.upstream_seconds.observe(result.upstream_seconds)
        if result.error:
            if self.metrics is not None:
                self.metrics.upstream_errors.labels(result.error).inc()
            log.warning("origin %s for %s: %s", result.error, o.ctx.full_uri, result.detail)
            if not result.status and result.error in ("connect", "timeout"):
                status, what = (504, pages.GATEWAY_TIMEOUT) if result.error == "timeout" else (
                    502, pages.BAD_GATEWAY)  # fmt: skip
                await self.send_page(o, send, status, what, extra=self.cookie_headers(o))
                self.finish(o, status)
                return
        self.finish(o, result.status or 499, result.body_bytes)

    async def send_page(
        self,
        o: Outcome,
        send: Send,
        status: int,
        what: tuple[str, str],
        *,
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> int:
        body, ctype = pages.page(
            status, what[0], what[1], o.ctx.request_id or "",
            json=pages.wants_json(o.ctx.header_map.get("accept")),
        )  # fmt: skip
        await _respond(send, status, body, ctype, extra)
        return status

    async def send_block(self, o: Outcome, send: Send) -> int:
        rule = o.decision.rule
        custom = rule.response if rule is not None else None
        extra = self.cookie_headers(o)
        if custom is not None:
            await _respond(
                send,
                custom.status_code,
                custom.content.encode(),
                custom.content_type.encode("latin-1"),
                extra,
            )
            return custom.status_code
        if o.decision.phase == Phase.RATELIMIT:
            return await self.send_page(o, send, 429, pages.RATE_LIMITED, extra=extra)
        return await self.send_page(o, send, 403, pages.BLOCKED, extra=extra)

    def challenge_page(self, o: Outcome, return_to: str, kind: str) -> bytes:
        ctx = o.ctx
        token = self.challenges.token(o.zone.id, ctx.client_ip, ctx.user_agent, self.clock())
        return self.challenges.page(
            token=token, kind=kind, return_to=return_to, host=ctx.host,
            ray=ctx.request_id or "",
        )  # fmt: skip

    async def send_challenge(self, o: Outcome, send: Send, return_to: str | None = None) -> int:
        body = self.challenge_page(o, return_to or o.ctx.uri, o.action)
        extra = [(b"cf-mitigated", b"challenge"), *self.cookie_headers(o)]
        await _respond(send, 403, body, pages.HTML, extra)
        return 403

    # -- Upgrade (WebSocket) requests: decided here, tunnelled by the listener ------------

    async def upgrade(self, scope: dict[str, Any]) -> UpgradePlan:
        o = self.evaluate(scope, _perf())
        if o.disposition == Disposition.BLOCK:
            return UpgradePlan(response=await self._raw(o, self.send_block))
        if o.disposition == Disposition.CHALLENGE:
            return UpgradePlan(response=await self._raw(o, self.send_challenge))
        if self.upstream is None:
            return UpgradePlan(response=await self._raw(o, self._send_not_found))
        origin = urlsplit(self.settings.origin)
        tls = origin.scheme == "https"
        headers = self.origin_headers(o)
        if not self.settings.preserve_host:
            headers = [(k, v) for k, v in headers if k != "host"]
            headers.insert(0, ("host", origin.netloc))
        upgrade = o.ctx.header_map.get("upgrade", "websocket")
        headers += [("connection", "Upgrade"), ("upgrade", upgrade)]
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        head = f"{o.ctx.method} {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers
        )
        return UpgradePlan(
            host=origin.hostname or "127.0.0.1",
            port=origin.port or (443 if tls else 80),
            tls=tls,
            head=(head + "\r\n").encode("latin-1"),
            done=lambda status: self.finish(o, status),
        )

    async def _send_not_found(self, o: Outcome, send: Send) -> int:
        return await self.send_page(o, send, 404, pages.NOT_FOUND)

    async def _raw(self, o: Outcome, respond: Callable[[Outcome, Send], Awaitable[int]]) -> bytes:
        """A response as raw HTTP/1.1 bytes (the connection closes after it)."""
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        status = await respond(o, collect)
        self.finish(o, status)
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        lines = [f"HTTP/1.1 {status} {reason}\r\n".encode()]
        lines += [k + b": " + v + b"\r\n" for k, v in start["headers"]]
        lines.append(b"connection: close\r\n\r\n")
        return b"".join(lines) + body

    # -- recording ------------------------------------------------------------------------

    def observe_status(self, o: Outcome, status: int) -> None:
        """Tell the model's windows the status of a request they counted (the per-client
        error ratio), once: when the origin's response starts, or when the edge answered."""
        ml = self.ml
        if ml is None or o.status_seen or not o.scored:
            return
        o.status_seen = True
        try:
            ml.observe_response(o.ctx, status)
        except Exception:  # a state store outage never fails the request
            self.observe_errors += 1
            if self.observe_errors in (1, 10, 100) or self.observe_errors % 1000 == 0:
                log.exception("recording the response status for the model failed")

    def finish(self, o: Outcome, status: int | None, body_bytes: int = 0) -> None:
        """After the response: rate-limit counting, the analytics event, metrics (`status`
        None: not known here, as for a request forward-auth let through)."""
        if status is not None and not o.status_seen:
            self.observe_status(o, status)
        rules = o.zone.rules
        if rules.ratelimit.rules:
            o.inp.response_status = status
            try:
                rules.record_response(o.inp)
            except Exception:
                log.exception("rate-limit counting failed in zone %s", o.zone.id)
        if self.writer is not None:
            self.writer.append_request(
                o.ctx,
                o.bm,
                status=status,
                action=o.action,
                rule_id=o.rule_id,
                session_id=o.session.id if o.session is not None else "",
                response_bytes=body_bytes,
                edge_latency_us=o.decision_us,
                features=o.features or (),
            )
        if self.metrics is not None:
            self.metrics.count_request(o.action or "none", o.bm.grouping.value)
            self.metrics.observe_engines(o.bm.timings_us)

    # -- /cdn-cgi/ ------------------------------------------------------------------------

    async def own(self, scope: Scope, receive: Receive, send: Send, t0: int) -> None:
        path = scope["path"]
        if path == FORWARD_AUTH_PATH:
            from botwarden.edge.forward_auth import handle

            await handle(self, scope, receive, send, t0)
            return
        ctx, zone, peer, trusted = self.context(scope)
        o = Outcome(ctx, zone, BotManagement(), None, RuleInput(ctx), Decision(),
                    peer=peer, trusted=trusted, started_ns=t0)  # fmt: skip
        if path == VERIFY_PATH and scope["method"] == "POST":
            status = await self.verify_challenge(o, receive, send)
        elif path == PAGE_PATH and scope["method"] in ("GET", "HEAD"):
            args = dict(parse_qsl(ctx.query))
            kind = args.get("k", Action.MANAGED_CHALLENGE.value)
            if kind not in (a.value for a in Action):
                kind = Action.MANAGED_CHALLENGE.value
            body = self.challenge_page(o, safe_return_path(args.get("r")), kind)
            await _respond(send, 403, body, pages.HTML, [(b"cf-mitigated", b"challenge")])
            status = 403
        else:
            status = await self.send_page(o, send, 404, pages.NOT_FOUND)
        self.finish(o, status)

    async def verify_challenge(self, o: Outcome, receive: Receive, send: Send) -> int:
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return 499
            body += message.get("body", b"")
            if len(body) > _MAX_FORM:
                await _respond(send, 413, b'{"success":false}', pages.JSON, ())
                return 413
            if not message.get("more_body", False):
                break
        form = dict(parse_qsl(body.decode("latin-1")))
        ctx = o.ctx
        now = self.clock()
        problem = self.challenges.check_answer(
            form.get("token", ""), form.get("answer", ""), o.zone.id, ctx.client_ip,
            ctx.user_agent, now,
        )  # fmt: skip
        if problem is not None:
            o.action = "challenge_failed"
            doc = b'{"success":false,"error":"' + problem.encode() + b'"}'
            await _respond(send, 403, doc, pages.JSON, ())
            return 403
        o.action = "challenge_solved"
        value = self.challenges.clearance(o.zone.id, ctx.client_ip, ctx.user_agent, now)
        cookie = self.challenges.set_cookie(value, secure=ctx.scheme == "https")
        await _respond(
            send, 200, b'{"success":true}', pages.JSON, [(b"set-cookie", cookie.encode())]
        )
        return 200


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: Sequence[tuple[bytes, bytes]],
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"private, no-store, max-age=0"),
        *extra,
    ]
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["EMPTY_ZONE", "TLS_HELLO_KEY", "Disposition", "EdgeApp", "Outcome"]
