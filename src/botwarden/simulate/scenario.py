"""Scenario files: which populations, in what shares, over what time, plus campaigns.

A scenario is YAML (see docs/simulator.md). `load_scenario()` validates the whole file
and raises one `ScenarioError` listing every problem with its path, e.g.
`campaigns[1].population: unknown population 'carding' (did you mean credit_card_abuse?)`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from botwarden.errors import ConfigError
from botwarden.simulate.network import POOLS

DEFAULT_START = "2026-01-05T00:00:00Z"  # a Monday; fixed so output depends on the seed only


class ScenarioError(ConfigError):
    """A scenario file is invalid. `problems` holds one "path: message" per fault."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


@dataclass(frozen=True, slots=True)
class Share:
    population: str
    share: float
    levels: Mapping[int, float] | None = None  # sophistication mix; None: the population's


@dataclass(frozen=True, slots=True)
class Phase:
    at: float  # seconds from the start
    mix: tuple[Share, ...]


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    population: str
    start: float  # seconds from the start
    duration: float
    rps: float
    ips: int | None = None  # a fixed set of this many addresses
    network: str | None = None  # pool to draw them (or each session's) from
    levels: Mapping[int, float] | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    host: str = "shop.example"
    start: float = field(default_factory=lambda: _parse_time(DEFAULT_START))
    hours: float = 1.0
    rps: float = 100.0
    diurnal: float = 0.0  # amplitude of humans' daily swing, 0..1
    phases: tuple[Phase, ...] = ()
    campaigns: tuple[Campaign, ...] = ()

    @property
    def duration(self) -> float:
        return self.hours * 3600.0

    def with_overrides(
        self,
        *,
        hours: float | None = None,
        rps: float | None = None,
        start: float | None = None,
    ) -> Scenario:
        return replace(
            self,
            hours=self.hours if hours is None else hours,
            rps=self.rps if rps is None else rps,
            start=self.start if start is None else start,
        )

    def mix_at(self, t: float) -> tuple[Share, ...]:
        """The base mix in force `t` seconds after the start."""
        current: tuple[Share, ...] = ()
        for phase in self.phases:
            if phase.at <= t:
                current = phase.mix
        return current


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*\Z")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds in `90`, `"90s"`, `"30m"`, `"2h"`, `"1.5d"`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m or 2h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"{value!r} is not a duration such as 90s, 30m, 2h or 1d")


def _parse_time(value: object) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("needs a time zone (add Z)")
        return value.timestamp()
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 time") from None
        if dt.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone (add Z)")
        return dt.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError("expected an RFC 3339 time such as 2026-01-05T00:00:00Z")


class _Checker:
    """Collects problems instead of stopping at the first."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self.problems: list[str] = []
        self.known = known  # population name → "abuse" | other group

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: object, path: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.error(path, f"expected a mapping, got {type(value).__name__}")
        return None

    def keys(self, doc: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in doc:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), 1)
                extra = f" (did you mean {hint[0]}?)" if hint else ""
                self.error(f"{path}.{key}" if path else str(key), f"unknown key{extra}")

    def number(self, value: object, path: str, *, low: float = 0.0, high: float | None = None,
               strict: bool = False) -> float | None:  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"expected a number, got {value!r}")
            return None
        bad_low = value <= low if strict else value < low
        if bad_low or (high is not None and value > high):
            bound = f"> {low}" if strict else f">= {low}"
            rng = f"{bound}" + (f" and <= {high}" if high is not None else "")
            self.error(path, f"must be {rng}, got {value}")
            return None
        return float(value)

    def duration(self, value: object, path: str) -> float | None:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def population(self, value: object, path: str) -> str | None:
        if not isinstance(value, str) or value not in self.known:
            hint = difflib.get_close_matches(str(value), sorted(self.known), 1)
            extra = f" (did you mean {hint[0]}?)" if hint else ""
            self.error(path, f"unknown population {value!r}{extra}")
            return None
        return value

    def levels(self, value: object, path: str, population: str | None) -> dict[int, float] | None:
        if population is not None and self.known.get(population) != "abuse":
            self.error(path, f"{population} has no sophistication levels (bots of a subtype do)")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = {value: 1.0}
        if isinstance(value, list):
            value = dict.fromkeys(value, 1.0)
        doc = self.mapping(value, path)
        if doc is None:
            return None
        out: dict[int, float] = {}
        for k, w in doc.items():
            if not isinstance(k, int) or isinstance(k, bool) or k not in (1, 2, 3, 4):
                self.error(f"{path}.{k}", "sophistication is 1, 2, 3 or 4")
                continue
            weight = self.number(w, f"{path}.{k}")
            if weight is not None:
                out[int(k)] = weight
        if out and sum(out.values()) <= 0:
            self.error(path, "weights must not all be 0")
            return None
        return out or None

    def mix(self, value: object, path: str) -> tuple[Share, ...]:
        doc = self.mapping(value, path)
        if doc is None:
            return ()
        shares = []
        for name, entry in doc.items():
            p = f"{path}.{name}"
            pop = self.population(name, p)
            levels = None
            if isinstance(entry, Mapping):
                self.keys(entry, {"share", "sophistication"}, p)
                share = self.number(entry.get("share"), f"{p}.share")
                if "sophistication" in entry:
                    levels = self.levels(entry["sophistication"], f"{p}.sophistication", pop)
            else:
                share = self.number(entry, p)
            if pop is not None and share is not None and share > 0:
                shares.append(Share(pop, share, levels))
        if doc and not shares and not self.problems:
            self.error(path, "no population has a share above 0")
        return tuple(shares)


_TOP = {"name", "description", "host", "start", "hours", "rps", "diurnal", "mix", "phases",
        "campaigns"}  # fmt: skip
_CAMPAIGN = {"name", "population", "start", "duration", "rps", "ips", "network",
             "sophistication"}  # fmt: skip


def parse_scenario(doc: object, source: str = "<scenario>") -> Scenario:
    """A Scenario from a parsed YAML document; raises ScenarioError with every problem."""
    from botwarden.simulate.populations import populations

    known = {name: pop.group for name, pop in populations().items()}
    c = _Checker(known)
    top = c.mapping(doc, "(top)")
    if top is None:
        raise ScenarioError(source, c.problems)
    c.keys(top, _TOP, "")
    name = top.get("name")
    if not isinstance(name, str) or not name:
        c.error("name", "required: a short name for the scenario")
        name = "unnamed"
    description = top.get("description", "")
    if not isinstance(description, str):
        c.error("description", "expected text")
        description = ""
    host = top.get("host", "shop.example")
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", host):
        c.error("host", f"expected a host name such as shop.example, got {host!r}")
        host = "shop.example"
    start = _parse_time(DEFAULT_START)
    if "start" in top:
        try:
            start = _parse_time(top["start"])
        except ValueError as exc:
            c.error("start", str(exc))
    hours = c.number(top.get("hours", 1.0), "hours", strict=True) or 1.0
    rps = c.number(top.get("rps", 100.0), "rps", strict=True) or 100.0
    diurnal = c.number(top.get("diurnal", 0.0), "diurnal", high=1.0) or 0.0

    phases: list[Phase] = []
    if "mix" not in top and "phases" not in top:
        c.error("mix", "required: the populations and their shares of requests")
    if "mix" in top:
        phases.append(Phase(0.0, c.mix(top["mix"], "mix")))
    raw_phases = top.get("phases", [])
    if not isinstance(raw_phases, list):
        c.error("phases", "expected a list of {at, mix}")
        raw_phases = []
    for i, raw in enumerate(raw_phases):
        p = f"phases[{i}]"
        entry = c.mapping(raw, p)
        if entry is None:
            continue
        c.keys(entry, {"at", "mix"}, p)
        at = c.duration(entry.get("at"), f"{p}.at") if "at" in entry else None
        if "at" not in entry:
            c.error(f"{p}.at", "required: when this mix starts, e.g. 6h")
        if "mix" not in entry:
            c.error(f"{p}.mix", "required")
        mix = c.mix(entry.get("mix", {}), f"{p}.mix")
        if at is not None:
            phases.append(Phase(at, mix))
    phases.sort(key=lambda ph: ph.at)
    if phases and phases[0].at > 0:
        c.error("phases", "the first mix must start at 0 (give `mix:` or a phase at 0)")

    campaigns: list[Campaign] = []
    raw_campaigns = top.get("campaigns", [])
    if not isinstance(raw_campaigns, list):
        c.error("campaigns", "expected a list")
        raw_campaigns = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_campaigns):
        p = f"campaigns[{i}]"
        entry = c.mapping(raw, p)
        if entry is None:
            continue
        c.keys(entry, _CAMPAIGN, p)
        for required in ("name", "population", "start", "duration", "rps"):
            if required not in entry:
                c.error(f"{p}.{required}", "required")
        cname = entry.get("name")
        if "name" in entry and (not isinstance(cname, str) or not cname):
            c.error(f"{p}.name", "expected a non-empty name")
        elif isinstance(cname, str) and cname in seen:
            c.error(f"{p}.name", f"{cname!r} is used by an earlier campaign")
        pop = c.population(entry.get("population"), f"{p}.population") if "population" in entry \
            else None  # fmt: skip
        cstart = c.duration(entry["start"], f"{p}.start") if "start" in entry else None
        cdur = c.duration(entry["duration"], f"{p}.duration") if "duration" in entry else None
        crps = c.number(entry["rps"], f"{p}.rps", strict=True) if "rps" in entry else None
        ips = entry.get("ips")
        if ips is not None and (isinstance(ips, bool) or not isinstance(ips, int) or ips < 1):
            c.error(f"{p}.ips", f"expected a positive whole number, got {ips!r}")
            ips = None
        network = entry.get("network")
        if network is not None and network not in POOLS:
            c.error(f"{p}.network", f"unknown network {network!r} (one of {', '.join(POOLS)})")
            network = None
        levels = None
        if "sophistication" in entry:
            levels = c.levels(entry["sophistication"], f"{p}.sophistication", pop)
        if isinstance(cname, str) and cname and pop and None not in (cstart, cdur, crps):
            seen.add(cname)
            assert cstart is not None
            assert cdur is not None
            assert crps is not None
            campaigns.append(Campaign(cname, pop, cstart, cdur, crps, ips, network, levels))
    if c.problems:
        raise ScenarioError(source, c.problems)
    return Scenario(
        name=name,
        description=description,
        host=host,
        start=start,
        hours=hours,
        rps=rps,
        diurnal=diurnal,
        phases=tuple(phases),
        campaigns=tuple(campaigns),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (YAML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), [f"(file): cannot read: {exc.strerror or exc}"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(str(p), [f"{where}: not valid YAML: {problem}"]) from None
    return parse_scenario(doc, str(p))


def scenarios_dir() -> Path:
    """The shipped scenarios (the repository's scenarios/ directory)."""
    return Path(__file__).resolve().parents[3] / "scenarios"
