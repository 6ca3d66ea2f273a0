"""Zone configuration as the edge serves it, and how it stays current.

A `ConfigSource` says which configuration version is current and loads every zone
(settings, rulesets, the account's named lists). `MemoryConfigSource` is for tests and for
running without a store; `StoreConfigSource` reads the configuration store. The
`ConfigWatcher` polls the version (every 0.5 s by default) and, when it moves, loads and
compiles the zones off the event loop and swaps the new `EdgeConfig` in whole: a request
sees one configuration from start to end.

A stored rule that no longer compiles (a list it names was deleted) is skipped, logged and
listed in `ZoneConfig.problems`; the zone's other rules keep working.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botwarden.errors import ConfigError
from botwarden.rules.lists import ASNList, HostnameList, IPList, NamedList
from botwarden.rules.ruleset import Phase, Rule, RuleEngine

if TYPE_CHECKING:
    from botwarden.state.base import StateStore
    from botwarden.store import Store

log = logging.getLogger(__name__)

ListValues = Mapping[str, tuple[str, Sequence[str]]]
"""Account lists as name → (kind: ip | asn | hostname, values)."""


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """One zone, compiled: what the hot path reads."""

    id: str
    name: str
    rules: RuleEngine
    lists: Mapping[str, NamedList] = field(default_factory=dict)
    account_id: str = ""
    bm_cookie_enabled: bool = True
    suppress_session_score: bool = False
    problems: tuple[str, ...] = ()


EMPTY_ZONE = ZoneConfig(id="", name="", rules=RuleEngine())


def named_lists(values: ListValues) -> dict[str, NamedList]:
    out: dict[str, NamedList] = {}
    for name, (kind, items) in values.items():
        try:
            if kind == "ip":
                out[name] = IPList(items)
            elif kind == "asn":
                out[name] = ASNList(items)
            else:
                out[name] = HostnameList(items)
        except ValueError as exc:
            log.error("list %s: %s; treated as empty", name, exc)
    return out


def compile_zone(
    zone_id: str,
    name: str,
    rulesets: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    settings: Mapping[str, Any] | None = None,
    lists: ListValues | None = None,
    account_id: str = "",
    state: StateStore | None = None,
) -> ZoneConfig:
    """Compile a zone's phases (phase name → rules in the Rulesets API shape)."""
    settings = settings or {}
    problems: list[str] = []
    by_phase: dict[Phase, list[Rule]] = {Phase.CUSTOM: [], Phase.RATELIMIT: []}
    for phase_name, rules in rulesets.items():
        try:
            phase = Phase(phase_name)
        except ValueError:
            continue  # a phase this edge does not run (managed rules, bot fight mode)
        for data in rules:
            try:
                by_phase[phase].append(Rule.from_dict(data, phase))
            except ConfigError as exc:
                problems.append(str(exc))
    if by_phase[Phase.RATELIMIT] and state is None:
        problems.append("rate limiting rules skipped: the edge has no state store")
        by_phase[Phase.RATELIMIT] = []
    try:
        engine = RuleEngine(
            by_phase[Phase.CUSTOM],
            by_phase[Phase.RATELIMIT],
            state=state,
            key_prefix=f"rl:{zone_id}",
        )
    except ConfigError as exc:  # duplicate ids: serve no rules rather than half of them
        problems.append(str(exc))
        engine = RuleEngine()
    for p in problems:
        log.error("zone %s (%s): %s", name, zone_id, p)
    return ZoneConfig(
        id=zone_id,
        name=name.lower().rstrip("."),
        rules=engine,
        lists=named_lists(lists or {}),
        account_id=account_id,
        bm_cookie_enabled=bool(settings.get("bm_cookie_enabled", True)),
        suppress_session_score=bool(settings.get("suppress_session_score", False)),
        problems=tuple(problems),
    )


def host_name(host: str) -> str:
    """The name of a Host header value: lower case, without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class EdgeConfig:
    """Every zone of one configuration version, and the host → zone lookup."""

    _HOST_CACHE = 10_000

    def __init__(self, version: int, zones: Iterable[ZoneConfig], default_zone: str = "") -> None:
        self.version = version
        self.zones = tuple(zones)
        self.by_name = {z.name: z for z in self.zones}
        self.by_id = {z.id: z for z in self.zones}
        default = EMPTY_ZONE
        if default_zone:
            found = self.by_id.get(default_zone) or self.by_name.get(default_zone.lower())
            if found is None:
                log.warning("default zone %s is not configured", default_zone)
            else:
                default = found
        elif len(self.zones) == 1:
            default = self.zones[0]
        self.default = default
        self._hosts: dict[str, ZoneConfig] = {}

    def zone_for(self, host: str) -> ZoneConfig:
        """The zone serving `host`: its own name, else the closest parent domain, else the
        default zone."""
        found = self._hosts.get(host)
        if found is not None:
            return found
        name = host_name(host)
        zone = self.by_name.get(name)
        while zone is None and "." in name:
            name = name.partition(".")[2]
            zone = self.by_name.get(name)
        if zone is None:
            zone = self.default
        if len(self._hosts) >= self._HOST_CACHE:
            self._hosts.clear()
        self._hosts[host] = zone
        return zone


class ConfigSource(Protocol):
    """Where the edge's zone configuration comes from."""

    def version(self) -> int:
        """A number that changes whenever anything `load` returns may have changed."""
        ...

    def load(self, state: StateStore | None) -> list[ZoneConfig]:
        """Every zone, compiled (rate-limit counters live in `state`)."""
        ...


@dataclass
class ZoneSpec:
    """A zone as `MemoryConfigSource` keeps it."""

    id: str
    name: str
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Phase name → rules in the Rulesets API shape."""
    settings: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    account_id: str = ""


class MemoryConfigSource:
    """Zones held in memory; every change bumps the version (thread-safe)."""

    def __init__(self, zones: Iterable[ZoneSpec] = ()) -> None:
        self._zones: dict[str, ZoneSpec] = {z.id: z for z in zones}
        self._version = 1
        self._lock = threading.Lock()

    def version(self) -> int:
        return self._version

    def put_zone(self, spec: ZoneSpec) -> None:
        with self._lock:
            self._zones[spec.id] = spec
            self._version += 1

    def set_rules(
        self, zone_id: str, rules: Sequence[Mapping[str, Any]], phase: str = Phase.CUSTOM
    ) -> None:
        with self._lock:
            self._zones[zone_id].rules[str(phase)] = [dict(r) for r in rules]
            self._version += 1

    def update_settings(self, zone_id: str, **changes: Any) -> None:
        with self._lock:
            self._zones[zone_id].settings.update(changes)
            self._version += 1

    def load(self, state: StateStore | None) -> list[ZoneConfig]:
        with self._lock:
            specs = list(self._zones.values())
        return [
            compile_zone(
                z.id,
                z.name,
                z.rules,
                settings=z.settings,
                lists=z.lists,
                account_id=z.account_id,
                state=state,
            )
            for z in specs
        ]


class StoreConfigSource:
    """The configuration store: its `config_version()` is the version edges watch."""

    PAGE = 200

    def __init__(self, store: Store) -> None:
        self.store = store

    def version(self) -> int:
        return self.store.config_version()

    def load(self, state: StateStore | None) -> list[ZoneConfig]:
        st = self.store
        zones = []
        page = 1
        while True:
            found, total = st.list_zones(page=page, per_page=self.PAGE)
            zones += found
            if not found or len(zones) >= total:
                break
            page += 1
        lists_by_account: dict[str, ListValues] = {}
        out = []
        for z in zones:
            settings = st.get_settings(z.id)
            rulesets = {
                rs.phase: [r.to_rule_dict() for r in rs.rules] for rs in st.list_rulesets(z.id)
            }
            if z.account_id not in lists_by_account:
                lists_by_account[z.account_id] = st.list_values(z.account_id)
            out.append(
                compile_zone(
                    z.id,
                    z.name,
                    rulesets,
                    settings={
                        "bm_cookie_enabled": settings.bm_cookie_enabled,
                        "suppress_session_score": settings.suppress_session_score,
                    },
                    lists=lists_by_account[z.account_id],
                    account_id=z.account_id,
                    state=state,
                )
            )
        return out


class ConfigWatcher:
    """Keeps `current` at the source's latest version (poll every `interval` seconds)."""

    def __init__(
        self,
        source: ConfigSource,
        *,
        state: StateStore | None = None,
        default_zone: str = "",
        interval: float = 0.5,
        on_change: Callable[[EdgeConfig], None] | None = None,
    ) -> None:
        self.source = source
        self.state = state
        self.default_zone = default_zone
        self.interval = interval
        self.on_change = on_change
        self.reloads = 0
        self.errors = 0
        self.last_error = ""
        self.current = EdgeConfig(0, ())

    def load_now(self) -> EdgeConfig:
        """Load synchronously (at start, before serving)."""
        version = self.source.version()
        self._swap(EdgeConfig(version, self.source.load(self.state), self.default_zone))
        return self.current

    def _swap(self, cfg: EdgeConfig) -> None:
        self.current = cfg
        self.reloads += 1
        log.info("configuration version %d: %d zone(s)", cfg.version, len(cfg.zones))
        if self.on_change is not None:
            self.on_change(cfg)

    async def poll_once(self) -> bool:
        """Reload if the version moved; True when a new configuration was swapped in."""
        try:
            version = await asyncio.to_thread(self.source.version)
            if version == self.current.version:
                return False
            zones = await asyncio.to_thread(self.source.load, self.state)
        except Exception as exc:  # keep serving the last good configuration
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("configuration reload failed; keeping version %d", self.current.version)
            return False
        self._swap(EdgeConfig(version, zones, self.default_zone))
        return True

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval)
