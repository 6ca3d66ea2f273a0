"""`botwarden serve` and the `make run` demo, as plain functions.

`serve_command(ServeOptions(...))` runs the edge, the API (and, when it exists, the
dashboard) in one process and one event loop (uvloop); `role="edge"` or `role="api"` runs
one of them, for scale-out. It returns an exit code; a configuration problem is one clear
message and exit code 2.

`demo_command()` is what `make run` runs: the demo account, zone, rules and API token in
the store (printed), a development TLS certificate, the demo shop as the origin, Botwarden
in front of it, the simulator sending a low rate of mixed traffic (`DEMO_TRAFFIC=0` turns
it off), and the addresses printed. `python -m botwarden.edge.cli serve|demo` runs either
until the typer CLI wires them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from botwarden.errors import BotwardenError, ConfigError

if TYPE_CHECKING:
    from botwarden.edge.events import EventShipper
    from botwarden.edge.metrics import EdgeMetrics
    from botwarden.edge.stalls import CollectionFreezer, GCPauses
    from botwarden.ml.registry import Registry
    from botwarden.state.base import StateStore
    from botwarden.store import Store

ROLES = ("all", "edge", "api")


def _env_data_dir() -> Path:
    return Path(os.environ.get("BOTWARDEN_DATA_DIR", "data"))


@dataclass
class ServeOptions:
    role: str = "all"
    origin: str | None = None
    """The origin to forward to; None: a forward-auth-only edge."""
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:8000"])
    tls_listen: list[str] = field(default_factory=list)
    cert: str | None = None
    key: str | None = None
    admin: str | None = "127.0.0.1:9090"
    """Prometheus /metrics and /healthz; None: off."""
    api: str = "127.0.0.1:8001"
    database: str | None = None
    """Store URL; default $BOTWARDEN_DATABASE_URL or sqlite:///<data dir>/botwarden.db."""
    data_dir: Path = field(default_factory=_env_data_dir)
    session_keys: Path | None = None
    """Key file of the session cookie (created if missing); default <data dir>/session.keys."""
    trusted_proxies: list[str] = field(default_factory=list)
    default_zone: str = ""
    analytics: bool = True
    state: str | None = None
    """Shared per-client state (rate limits, challenges, the model's windows):
    redis://host:port/db; default $BOTWARDEN_STATE_URL, else in this process."""
    ml: bool = True
    """Score with the machine-learning model (versions from <data dir>/models)."""
    edge_settings: dict[str, Any] = field(default_factory=dict)
    """Any other `EdgeSettings` field (header names, timeouts, challenge difficulty…)."""

    def database_url(self) -> str:
        return (
            self.database
            or os.environ.get("BOTWARDEN_DATABASE_URL")
            or f"sqlite:///{self.data_dir / 'botwarden.db'}"
        )

    def state_url(self) -> str | None:
        return self.state or os.environ.get("BOTWARDEN_STATE_URL") or None

    def validate(self) -> list[str]:
        problems = []
        url = self.state_url()
        if url and not url.startswith("redis://"):
            problems.append(f"--state {url!r}: expected redis://host:port/db")
        if self.role not in ROLES:
            problems.append(f"--role must be one of {', '.join(ROLES)}, not {self.role!r}")
        for flag, values in (("--listen", self.listen), ("--tls-listen", self.tls_listen),
                             ("--admin", [self.admin] if self.admin else []),
                             ("--api", [self.api])):  # fmt: skip
            for v in values:
                try:
                    parse_address(v)
                except ValueError as exc:
                    problems.append(f"{flag} {exc}")
        if self.role != "api":
            if not self.listen and not self.tls_listen:
                problems.append("the edge needs --listen or --tls-listen")
            if self.tls_listen and not (self.cert and self.key):
                problems.append("--tls-listen needs --cert and --key")
            for flag, path in (("--cert", self.cert), ("--key", self.key)):
                if path and not Path(path).is_file():
                    problems.append(f"{flag} {path}: no such file")
        return problems


def parse_address(value: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` (all interfaces)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: expected host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


@dataclass
class Running:
    """What `serve_command` started, for whoever waits on `ready` (tests, the demo)."""

    edge_ports: list[int] = field(default_factory=list)
    api_port: int = 0
    admin_port: int = 0
    stop: Callable[[], None] = lambda: None


def serve_command(
    options: ServeOptions,
    *,
    ready: Callable[[Running], None] | None = None,
    stderr: TextIO | None = None,
    use_uvloop: bool = True,
) -> int:
    """Run until SIGINT / SIGTERM (or `Running.stop()`); the exit code."""
    stderr = stderr or sys.stderr
    problems = options.validate()
    if problems:
        print("error: " + "\n  ".join(problems), file=stderr)
        return 2
    main = _serve(options, ready)
    try:
        if use_uvloop:
            import uvloop

            uvloop.run(main)
        else:
            asyncio.run(main)
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    except BotwardenError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    return 0


def _analytics_source(options: ServeOptions, writer: EventShipper | None) -> Any:
    """What the API and the dashboard read Bot Analytics from: the edge's analytics writer
    process, which holds the store (`--role all`), or, for `--role api`, a writer's socket
    in the same data directory if one is up; None: no analytics in this process."""
    from botwarden.analytics.remote import SOCKET_NAME, RemoteSource

    sock = options.data_dir / SOCKET_NAME
    if writer is None and not sock.exists():
        return None
    from datetime import timedelta

    from botwarden.analytics.config import AnalyticsSettings

    days = AnalyticsSettings.from_env().retention_days
    return RemoteSource(sock, retention=None if days is None else timedelta(days=days))


async def _serve(options: ServeOptions, ready: Callable[[Running], None] | None) -> None:
    from botwarden import store as store_mod
    from botwarden.edge.listener import EdgeServer, Listen, server_tls_context

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    def stop_soon() -> None:
        loop.call_soon_threadsafe(stop.set)

    running = Running(stop=stop_soon)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    st = await asyncio.to_thread(store_mod.open, options.database_url())
    servers: list[EdgeServer] = []
    tasks: set[asyncio.Task[None]] = set()
    app = None
    writer: EventShipper | None = None
    state: StateStore | None = None
    metrics: EdgeMetrics | None = None
    gc_pauses: GCPauses | None = None
    try:
        if options.role in ("all", "edge"):
            from botwarden.edge.admin import AdminApp
            from botwarden.edge.app import EdgeApp
            from botwarden.edge.config import StoreConfigSource
            from botwarden.edge.metrics import EdgeMetrics, FastHistogram
            from botwarden.edge.settings import EdgeSettings
            from botwarden.edge.stalls import LAG_BUCKETS, GCPauses, LoopLagProbe
            from botwarden.session import SessionKeys

            keys_path = options.session_keys or options.data_dir / "session.keys"
            keys = SessionKeys.from_file(keys_path, create=True)
            state, registry = await asyncio.to_thread(_edge_state, options)
            if options.analytics:
                from botwarden.edge.events import EventShipper

                writer = EventShipper(options.data_dir)
                await writer.start()
            metrics = EdgeMetrics()
            # What holds the event loop up, on /metrics (edge/stalls.py).
            metrics.gc_pauses = gc_pauses = GCPauses().install()
            metrics.loop_lag = LoopLagProbe(FastHistogram(LAG_BUCKETS))
            values: dict[str, Any] = {
                "origin": options.origin or "http://127.0.0.1:9",
                "trusted_proxies": options.trusted_proxies,
                "default_zone": options.default_zone,
                **options.edge_settings,
            }
            settings = EdgeSettings.from_mapping(values)
            app = await asyncio.to_thread(
                EdgeApp.build, settings, StoreConfigSource(st), keys=keys, writer=writer,
                metrics=metrics, forward=options.origin is not None, state=state,
                registry=registry, ml=options.ml,
            )  # fmt: skip
            await app.startup()
            listens = [Listen(*parse_address(a)) for a in options.listen]
            if options.tls_listen:
                tls = server_tls_context(str(options.cert), str(options.key))
                listens += [Listen(*parse_address(a), tls) for a in options.tls_listen]
            edge = EdgeServer(app, listens, metrics=metrics,
                              upgrade_handler=app.upgrade if options.origin else None)  # fmt: skip
            await edge.start()
            servers.append(edge)
            running.edge_ports = edge.ports
            if options.admin:
                admin = EdgeServer(AdminApp(metrics, app.config),
                                   [Listen(*parse_address(options.admin))])  # fmt: skip
                await admin.start()
                servers.append(admin)
                running.admin_port = admin.ports[0]
        if options.role in ("all", "api"):
            from botwarden.api.app import create_app
            from botwarden.dashboard.sessions import secret_from_env

            # Kept in the data directory: sign-ins survive a restart and every API
            # process on this directory accepts them ($BOTWARDEN_DASHBOARD_SECRET wins).
            secret = secret_from_env(options.data_dir / "dashboard.secret")
            api = EdgeServer(
                create_app(
                    st,
                    analytics_source=_analytics_source(options, writer),
                    dashboard_secret=secret,
                ),
                [Listen(*parse_address(options.api))],
            )
            await api.start()
            servers.append(api)
            running.api_port = api.ports[0]
        # Everything loaded so far (bot directory, parsers, compiled rules, the API) lives
        # as long as the process: keep the collector from walking it on every full
        # collection, which would stall requests for tens of milliseconds.
        from botwarden.edge.stalls import CollectionFreezer

        gc_task = loop.create_task(keep_collections_short(CollectionFreezer()), name="botwarden-gc")
        tasks.add(gc_task)
        if metrics is not None and metrics.loop_lag is not None:
            tasks.add(loop.create_task(metrics.loop_lag.run(), name="botwarden-loop-lag"))
        if ready is not None:
            ready(running)
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        if gc_pauses is not None:
            gc_pauses.uninstall()
        for server in reversed(servers):
            await server.stop(timeout=5)
        if app is not None:
            await app.shutdown()
        if writer is not None:
            await writer.close()
        close = getattr(state, "close", None)
        if close is not None:
            close()
        st.close()


def _edge_state(options: ServeOptions) -> tuple[StateStore | None, Registry | None]:
    """The shared state store (if configured and reachable) and the model registry of the
    data directory. The registry is opened (created with the packaged base model as v1 if
    missing) so that `botwarden model promote|pin|shadow` reach a running edge within
    2 seconds, without a restart."""
    state: StateStore | None = None
    url = options.state_url()
    if url:
        from botwarden.state.redis import RedisState

        redis = RedisState(url)
        try:
            redis.ping()
        except (ConnectionError, OSError) as exc:
            raise ConfigError(f"--state {url}: Redis is not reachable ({exc})") from None
        state = redis
    registry: Registry | None = None
    if options.ml:
        from botwarden.ml.registry import Registry

        registry = Registry(options.data_dir / "models")
    return state, registry


async def keep_collections_short(freezer: CollectionFreezer, interval: float = 1.0) -> None:
    """`freezer.tick()` every `interval` seconds (edge/stalls.py)."""
    while True:
        await asyncio.sleep(interval)
        freezer.tick()


# -- make run -------------------------------------------------------------------------------

DEMO_EMAIL = "demo@botwarden.local"
DEMO_ZONE = "localhost"
DEMO_RULES: list[dict[str, Any]] = [
    {"description": "Fake search-engine bots",
     "expression": '(http.user_agent contains "Googlebot" or http.user_agent contains "bingbot") '
                   "and not cf.bot_management.verified_bot",
     "action": "block"},
    {"description": "Challenge automated traffic at checkout and login",
     "expression": '(starts_with(http.request.uri.path, "/checkout") or '
                   'http.request.uri.path eq "/login") and cf.bot_management.score eq 1 '
                   "and not cf.bot_management.verified_bot",
     "action": "managed_challenge"},
    {"description": "Keep an eye on everything automated",
     "expression": "cf.bot_management.score eq 1", "action": "log"},
]  # fmt: skip
DEMO_RATELIMIT: list[dict[str, Any]] = [
    {"description": "Login attempts per client",
     "expression": 'http.request.uri.path eq "/login" and http.request.method eq "POST"',
     "action": "block",
     "ratelimit": {"characteristics": ["ip.src"], "period": 60, "requests_per_period": 20,
                   "mitigation_timeout": 120}},
]  # fmt: skip


@dataclass
class DemoAccount:
    account_id: str
    zone_id: str
    email: str
    api_key: str | None
    token: str
    password: str = ""
    """The demo user's dashboard password (a new one each run)."""


def ensure_demo(st: Store) -> DemoAccount:
    """The demo account, user, zone and rules (created once) and a fresh API token."""
    from botwarden.rules.ruleset import Rule
    from botwarden.store import Grant, NotFound, Permission, Plan
    from botwarden.store import RuleInput as StoredRule

    api_key: str | None = None
    try:
        user = st.find_user(DEMO_EMAIL)
        account_id = user.account_ids[0]
    except NotFound:
        account_id = st.create_account("Botwarden demo").id
        user, api_key = st.create_user(DEMO_EMAIL, account_ids=[account_id])
    zones, _ = st.list_zones(name=DEMO_ZONE)
    if zones:
        zone_id = zones[0].id
    else:
        zone_id = st.create_zone(account_id, DEMO_ZONE, Plan.ENTERPRISE).id
        for phase, rules in (("http_request_firewall_custom", DEMO_RULES),
                             ("http_ratelimit", DEMO_RATELIMIT)):  # fmt: skip
            stored = []
            for i, r in enumerate(rules):
                rule = Rule.from_dict({"id": f"demo{i}", **r}, phase)
                stored.append(StoredRule(expression=r["expression"], action=r["action"],
                                         description=r["description"],
                                         ratelimit=r.get("ratelimit"),
                                         fingerprint=rule.fingerprint))  # fmt: skip
            st.put_phase_ruleset(zone_id, phase, stored)
    _, token = st.create_token(
        user.id,
        f"make run {time.strftime('%Y-%m-%d %H:%M:%S')}",
        [Grant(frozenset(Permission), account_ids=frozenset({account_id}))],
    )
    import secrets

    password = secrets.token_urlsafe(12)
    st.set_password(user.id, password)
    return DemoAccount(account_id, zone_id, DEMO_EMAIL, api_key, token, password)


def _wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def demo_command(
    *,
    data_dir: Path | None = None,
    traffic: bool | None = None,
    rps: float = 3.0,
    https_port: int = 8443,
    http_port: int = 8000,
    api_port: int = 8001,
    admin_port: int = 9090,
    origin_port: int = 8080,
    stdout: TextIO | None = None,
) -> int:
    """`make run`: everything up, addresses printed, until Ctrl-C."""
    from botwarden import store as store_mod
    from botwarden.edge.certs import dev_certificate

    stdout = stdout or sys.stdout
    data_dir = data_dir or _env_data_dir()
    if traffic is None:
        traffic = os.environ.get("DEMO_TRAFFIC", "1") != "0"
    data_dir.mkdir(parents=True, exist_ok=True)
    database = os.environ.get("BOTWARDEN_DATABASE_URL") or f"sqlite:///{data_dir / 'botwarden.db'}"
    st = store_mod.open(database)
    try:
        demo = ensure_demo(st)
    finally:
        st.close()
    cert, key = dev_certificate(data_dir / "tls")
    children: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    origin = subprocess.Popen(
        [sys.executable, "-m", "botwarden.demo", "--port", str(origin_port)], env=env
    )
    children.append(origin)
    try:
        _wait_port(origin_port)
        site = f"https://localhost:{https_port}"

        def ready(running: Running) -> None:
            if traffic:
                children.append(subprocess.Popen(
                    [sys.executable, "-m", "botwarden.edge.cli", "simulate-loop",
                     "--target", site, "--rps", str(rps)],
                    env=env, stdout=subprocess.DEVNULL,
                ))  # fmt: skip
            lines = [
                "",
                "Botwarden is running.",
                f"  site (through Botwarden, TLS) {site}/   (self-signed: curl -k)",
                f"  site (through Botwarden)      http://localhost:{http_port}/",
                f"  demo origin (direct)          http://127.0.0.1:{origin_port}/",
                f"  API                           http://127.0.0.1:{api_port}/client/v4",
                f"  API docs                      http://127.0.0.1:{api_port}/client/v4/docs",
                f"  dashboard                     http://127.0.0.1:{api_port}/dashboard/",
                f"  dashboard sign-in             {demo.email} / {demo.password}",
                f"  metrics                       http://127.0.0.1:{admin_port}/metrics",
                f"  demo zone                     {DEMO_ZONE} ({demo.zone_id})",
                f"  API token                     {demo.token}",
            ]
            if demo.api_key:
                lines.append(f"  API key of {demo.email}   {demo.api_key}")
            lines.append(
                f"  simulated traffic             {rps:g} req/s (DEMO_TRAFFIC=0 turns it off)"
                if traffic else "  simulated traffic             off"
            )  # fmt: skip
            lines += [
                "",
                "Try:",
                f'  curl -sk -H "Authorization: Bearer {demo.token}" '
                f"http://127.0.0.1:{api_port}/client/v4/zones/{demo.zone_id}/bot_management",
                f"  curl -sk -A Googlebot {site}/   # blocked: not from Google's networks",
                "",
                "Ctrl-C stops everything.",
            ]
            print("\n".join(lines), file=stdout, flush=True)

        options = ServeOptions(
            origin=f"http://127.0.0.1:{origin_port}",
            listen=[f"127.0.0.1:{http_port}"],
            tls_listen=[f"127.0.0.1:{https_port}"],
            cert=str(cert),
            key=str(key),
            admin=f"127.0.0.1:{admin_port}",
            api=f"127.0.0.1:{api_port}",
            database=database,
            data_dir=data_dir,
            default_zone=DEMO_ZONE,
        )
        return serve_command(options, ready=ready)
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


def simulate_loop(target: str, rps: float, engines: Sequence[str]) -> None:
    """The simulator, over and over (each run is a bounded `run_traffic`)."""
    from botwarden.simulate.cli import resolve_scenario
    from botwarden.simulate.scenario import load_scenario
    from botwarden.simulate.traffic import run_traffic

    scenario = load_scenario(resolve_scenario(None))
    seed = 0
    while True:
        run_traffic(scenario, target, rps=rps, duration=300, seed=seed, engines=engines)
        seed += 1


def rotate_keys_command(path: Path, keep: int = 2, stdout: TextIO | None = None) -> int:
    """Put a new key first in the session key file, keeping the `keep` newest old keys
    (cookies sealed with them still open). Running edges pick the file up on restart."""
    from botwarden.session import SessionKeys

    stdout = stdout or sys.stdout
    try:
        ring = SessionKeys.from_file(path).rotated(keep)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ring.write(path)
    print(f"{path}: new current key, {len(ring.keys) - 1} older key(s) kept", file=stdout)
    return 0


# -- python -m botwarden.edge.cli -----------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m botwarden.edge.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="edge + API in one process")
    serve.add_argument("--role", default="all", choices=ROLES)
    serve.add_argument("--origin")
    serve.add_argument("--listen", action="append")
    serve.add_argument("--tls-listen", action="append", default=[])
    serve.add_argument("--cert")
    serve.add_argument("--key")
    serve.add_argument("--admin", default="127.0.0.1:9090")
    serve.add_argument("--api", default="127.0.0.1:8001")
    serve.add_argument("--database")
    serve.add_argument("--data-dir", type=Path, default=_env_data_dir())
    serve.add_argument("--session-keys", type=Path)
    serve.add_argument("--trusted-proxy", action="append", default=[])
    serve.add_argument("--zone", default="")
    serve.add_argument("--no-analytics", action="store_true")
    serve.add_argument("--state", help="redis://host:port/db for state shared by edges")
    serve.add_argument("--no-ml", action="store_true", help="no machine-learning model")
    sub.add_parser("demo", help="what `make run` runs")
    rotate = sub.add_parser("rotate-keys", help="new session key first, keep the last --keep")
    rotate.add_argument("--file", type=Path, default=_env_data_dir() / "session.keys")
    rotate.add_argument("--keep", type=int, default=2)
    loop = sub.add_parser("simulate-loop", help=argparse.SUPPRESS)
    loop.add_argument("--target", required=True)
    loop.add_argument("--rps", type=float, default=3.0)
    loop.add_argument("--engine", action="append")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_command(
            ServeOptions(
                role=args.role, origin=args.origin, listen=args.listen or ["127.0.0.1:8000"],
                tls_listen=args.tls_listen, cert=args.cert, key=args.key,
                admin=args.admin or None, api=args.api, database=args.database,
                data_dir=args.data_dir, session_keys=args.session_keys,
                trusted_proxies=args.trusted_proxy, default_zone=args.zone,
                analytics=not args.no_analytics, state=args.state, ml=not args.no_ml,
            )
        )  # fmt: skip
    if args.command == "demo":
        return demo_command()
    if args.command == "rotate-keys":
        return rotate_keys_command(args.file, args.keep)
    with contextlib.suppress(KeyboardInterrupt):
        simulate_loop(args.target, args.rps, args.engine or ["aiohttp", "curl_cffi", "curl"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
