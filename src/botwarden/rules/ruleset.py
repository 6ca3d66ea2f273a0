"""Rulesets: the phases `http_request_firewall_custom` (custom rules) and `http_ratelimit`
(rate limiting rules), evaluated in that order for every request.

A phase is compiled into one generated function that yields the positions of matching
rules; evaluation walks them in order: `log` records and goes on, `skip` skips the rest of
the phase and/or later phases and products, any other action ends the evaluation.
`allow` (the legacy firewall-rule action, the seed's advice for false positives) ends it too
and skips every later phase, so an allowed request is neither rate limited nor challenged.

Rate limiting counts requests per rule and per value of the rule's characteristics (client
IP, JA4, a header, a cookie, a query argument…) in a StateStore, with Cloudflare's sliding
window approximation: rate = count in this window + count in the previous window × the
share of the previous window still inside the period.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from botwarden.errors import ConfigError
from botwarden.rules.compiler import CompiledRule, compile_rule
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.runtime import args_map, cookies_map, headers_map
from botwarden.rules.scheme import FIELDS
from botwarden.rules.to_python import to_python_many, value_getter

if TYPE_CHECKING:
    from botwarden.rules.evalctx import RuleInput
    from botwarden.state.base import StateStore


class Phase(StrEnum):
    CUSTOM = "http_request_firewall_custom"
    RATELIMIT = "http_ratelimit"


PHASE_ORDER: tuple[Phase, ...] = (Phase.CUSTOM, Phase.RATELIMIT)
# Later phases other components run; a skip rule may name them (Botwarden's bot fight mode).
KNOWN_PHASES = frozenset({*PHASE_ORDER, "http_request_sbfm", "http_request_firewall_managed"})
KNOWN_PRODUCTS = frozenset(
    {"bic", "hot", "rateLimit", "securityLevel", "uaBlock", "waf", "zoneLockdown"}
)


class Action(StrEnum):
    BLOCK = "block"
    MANAGED_CHALLENGE = "managed_challenge"
    JS_CHALLENGE = "js_challenge"
    CHALLENGE = "challenge"
    LOG = "log"
    SKIP = "skip"
    ALLOW = "allow"


TERMINATING = frozenset(
    {Action.BLOCK, Action.MANAGED_CHALLENGE, Action.JS_CHALLENGE, Action.CHALLENGE, Action.ALLOW}
)
PHASE_ACTIONS: dict[Phase, frozenset[Action]] = {
    Phase.CUSTOM: frozenset(Action),
    Phase.RATELIMIT: frozenset(
        {Action.BLOCK, Action.MANAGED_CHALLENGE, Action.JS_CHALLENGE, Action.CHALLENGE, Action.LOG}
    ),
}

MAX_PERIOD = 86_400
_MAP_CHARACTERISTIC = re.compile(r'^(http\.request\.(?:headers|cookies|uri\.args))\["([^"\\]+)"\]$')


@dataclass(frozen=True, slots=True)
class BlockResponse:
    """A custom response for the block action."""

    status_code: int = 403
    content: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class SkipParameters:
    rest_of_phase: bool = False  # Cloudflare's {"ruleset": "current"}
    phases: tuple[str, ...] = ()
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RateLimit:
    characteristics: tuple[str, ...]
    period: int
    requests_per_period: int
    mitigation_timeout: int = 0
    counting_expression: str | None = None


@dataclass(frozen=True)
class Rule:
    """One rule of a phase. Build with Rule.create or Rule.from_dict: both compile it."""

    id: str
    expression: str
    action: Action
    phase: Phase
    description: str = ""
    enabled: bool = True
    response: BlockResponse | None = None
    skip: SkipParameters | None = None
    ratelimit: RateLimit | None = None
    compiled: CompiledRule = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    counting: CompiledRule | None = field(repr=False, compare=False, default=None)
    fingerprint: str = field(default="", compare=False)

    @classmethod
    def create(
        cls,
        id: str,
        expression: str,
        action: str,
        phase: Phase | str = Phase.CUSTOM,
        *,
        description: str = "",
        enabled: bool = True,
        response: BlockResponse | None = None,
        skip: SkipParameters | None = None,
        ratelimit: RateLimit | None = None,
    ) -> Rule:
        """Validate and compile; raises ConfigError listing every problem."""
        problems: list[str] = []
        try:
            phase = Phase(phase)
        except ValueError:
            raise ConfigError(f"rule {id}: unknown phase {phase!r}") from None
        try:
            act = Action(action)
        except ValueError:
            raise ConfigError(
                f"rule {id}: unknown action {action!r}; use one of "
                + ", ".join(a.value for a in PHASE_ACTIONS[phase])
            ) from None
        if act not in PHASE_ACTIONS[phase]:
            problems.append(f"action {act} is not allowed in phase {phase}")
        compiled: CompiledRule | None = None
        try:
            compiled = compile_rule(expression)
        except RuleSyntaxError as exc:
            problems.append(f"expression: {exc}")
        if response is not None and act != Action.BLOCK:
            problems.append("a custom response only goes with the block action")
        if response is not None and not 400 <= response.status_code <= 499:
            problems.append("a block response status code must be 4xx")
        if act == Action.SKIP:
            if skip is None or not (skip.rest_of_phase or skip.phases or skip.products):
                problems.append("a skip rule must say what to skip (ruleset, phases, products)")
            else:
                for p in skip.phases:
                    if p not in KNOWN_PHASES:
                        problems.append(f"cannot skip unknown phase {p!r}")
                    elif p == phase:
                        problems.append('to skip the rest of this phase use "ruleset": "current"')
                for prod in skip.products:
                    if prod not in KNOWN_PRODUCTS:
                        problems.append(f"cannot skip unknown product {prod!r}")
        elif skip is not None:
            problems.append("skip parameters only go with the skip action")
        counting: CompiledRule | None = None
        if phase == Phase.RATELIMIT:
            if ratelimit is None:
                problems.append("a rate limiting rule needs ratelimit parameters")
            else:
                problems += _check_ratelimit(ratelimit, act)
                if ratelimit.counting_expression:
                    try:
                        counting = compile_rule(ratelimit.counting_expression)
                    except RuleSyntaxError as exc:
                        problems.append(f"counting_expression: {exc}")
        elif ratelimit is not None:
            problems.append("ratelimit parameters only go in the http_ratelimit phase")
        if problems:
            raise ConfigError(f"rule {id}: " + "; ".join(problems))
        assert compiled is not None
        rule = cls(
            id,
            expression,
            act,
            phase,
            description,
            enabled,
            response,
            skip,
            ratelimit,
            compiled,
            counting,
        )
        object.__setattr__(rule, "fingerprint", _fingerprint(rule.to_dict()))
        return rule

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], phase: Phase | str = Phase.CUSTOM) -> Rule:
        """A rule in Cloudflare's Rulesets API shape."""
        rid = str(data.get("id") or data.get("ref") or "")
        if not rid:
            raise ConfigError("a rule needs an id")
        expression = data.get("expression")
        if not isinstance(expression, str):
            raise ConfigError(f"rule {rid}: expression must be a string")
        params = data.get("action_parameters") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"rule {rid}: action_parameters must be an object")
        response = None
        if "response" in params:
            r = params["response"]
            try:
                response = BlockResponse(
                    int(r.get("status_code", 403)),
                    str(r.get("content", "")),
                    str(r.get("content_type", "text/plain")),
                )
            except (AttributeError, TypeError, ValueError):
                raise ConfigError(f"rule {rid}: invalid response parameters") from None
        skip = None
        if any(k in params for k in ("ruleset", "phases", "products")):
            if params.get("ruleset") not in (None, "current"):
                raise ConfigError(f'rule {rid}: "ruleset" can only be "current"')
            skip = SkipParameters(
                params.get("ruleset") == "current",
                tuple(params.get("phases") or ()),
                tuple(params.get("products") or ()),
            )
        ratelimit = None
        if "ratelimit" in data and data["ratelimit"] is not None:
            rl = data["ratelimit"]
            try:
                ratelimit = RateLimit(
                    tuple(str(c) for c in rl.get("characteristics") or ()),
                    int(rl["period"]),
                    int(rl["requests_per_period"]),
                    int(rl.get("mitigation_timeout", 0)),
                    rl.get("counting_expression") or None,
                )
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"rule {rid}: invalid ratelimit parameters ({exc})") from None
        return cls.create(
            rid,
            expression,
            str(data.get("action", "")),
            phase,
            description=str(data.get("description", "")),
            enabled=bool(data.get("enabled", True)),
            response=response,
            skip=skip,
            ratelimit=ratelimit,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "expression": self.expression,
            "action": str(self.action),
            "description": self.description,
            "enabled": self.enabled,
        }
        params: dict[str, Any] = {}
        if self.response is not None:
            params["response"] = {
                "status_code": self.response.status_code,
                "content": self.response.content,
                "content_type": self.response.content_type,
            }
        if self.skip is not None:
            if self.skip.rest_of_phase:
                params["ruleset"] = "current"
            if self.skip.phases:
                params["phases"] = list(self.skip.phases)
            if self.skip.products:
                params["products"] = list(self.skip.products)
        if params:
            out["action_parameters"] = params
        if self.ratelimit is not None:
            rl = self.ratelimit
            out["ratelimit"] = {
                "characteristics": list(rl.characteristics),
                "period": rl.period,
                "requests_per_period": rl.requests_per_period,
                "mitigation_timeout": rl.mitigation_timeout,
                "counting_expression": rl.counting_expression or "",
            }
        return out


def _check_ratelimit(rl: RateLimit, action: Action) -> list[str]:
    problems = []
    if not 1 <= rl.period <= MAX_PERIOD:
        problems.append(f"period must be 1…{MAX_PERIOD} seconds")
    if rl.requests_per_period < 1:
        problems.append("requests_per_period must be at least 1")
    if not 0 <= rl.mitigation_timeout <= MAX_PERIOD:
        problems.append(f"mitigation_timeout must be 0…{MAX_PERIOD} seconds")
    if rl.mitigation_timeout and action in (
        Action.MANAGED_CHALLENGE,
        Action.JS_CHALLENGE,
        Action.CHALLENGE,
    ):
        problems.append("challenge actions take mitigation_timeout 0 (they act per request)")
    for c in rl.characteristics:
        try:
            _characteristic_getter(c)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _fingerprint(data: Mapping[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# cf.colo.id is part of every Cloudflare rate-limiting rule (counters are per data centre);
# a Botwarden deployment shares its counters through the state store, so it adds nothing.
_IGNORED_CHARACTERISTICS = frozenset({"cf.colo.id"})


def _characteristic_getter(name: str) -> Callable[[RuleInput], str] | None:
    if name in _IGNORED_CHARACTERISTICS:
        return None
    m = _MAP_CHARACTERISTIC.match(name)
    if m is not None:
        field_name, key = m.group(1), m.group(2)
        if field_name == "http.request.headers":
            k = key.lower()
            return lambda inp: ",".join(headers_map(inp).get(k, ()))
        if field_name == "http.request.cookies":
            return lambda inp: ",".join(cookies_map(inp).get(key, ()))
        return lambda inp: ",".join(args_map(inp).get(key, ()))
    fd = FIELDS.get(name)
    if fd is None or fd.type.is_container or fd.nullable:
        raise ValueError(
            f"unsupported rate-limiting characteristic {name!r}: use ip.src, a field such as "
            'cf.bot_management.ja4, or http.request.headers["name"], '
            'http.request.cookies["name"], http.request.uri.args["name"]'
        )
    getter = value_getter(name)
    return lambda inp: str(getter(inp))


class Decision(NamedTuple):
    """The outcome of evaluating the phases for one request."""

    action: Action | None = None
    """The terminating action taken (block, a challenge, allow), or None."""
    rule: Rule | None = None
    phase: Phase | None = None
    logged: tuple[Rule, ...] = ()
    skipped_phases: frozenset[str] = frozenset()
    skipped_products: frozenset[str] = frozenset()

    @property
    def response(self) -> BlockResponse | None:
        if self.action == Action.BLOCK and self.rule is not None:
            return self.rule.response or BlockResponse()
        return None


_NOTHING = Decision()
_EMPTY: frozenset[str] = frozenset()


class _CompiledPhase:
    def __init__(self, phase: Phase, rules: Sequence[Rule]) -> None:
        self.phase = phase
        self.rules = tuple(r for r in rules if r.enabled)
        self.matches: Callable[[RuleInput], Iterator[int]] = to_python_many(
            [r.compiled.checked for r in self.rules]
        )
        self.chars: dict[str, tuple[Callable[[RuleInput], str], ...]] = {}
        for r in self.rules:
            if r.ratelimit is not None:
                getters = [_characteristic_getter(c) for c in r.ratelimit.characteristics]
                self.chars[r.id] = tuple(g for g in getters if g is not None)


class RuleEngine:
    """Both phases of one zone, compiled once; `evaluate` is the hot path."""

    def __init__(
        self,
        custom: Sequence[Rule] = (),
        ratelimit: Sequence[Rule] = (),
        *,
        state: StateStore | None = None,
        key_prefix: str = "rl",
        clock: Callable[[], float] = time.time,
    ) -> None:
        problems = []
        seen: set[str] = set()
        for rule in (*custom, *ratelimit):
            if rule.id in seen:
                problems.append(f"duplicate rule id {rule.id}")
            seen.add(rule.id)
        for rule in custom:
            if rule.phase != Phase.CUSTOM:
                problems.append(f"rule {rule.id} belongs to {rule.phase}, not {Phase.CUSTOM}")
        for rule in ratelimit:
            if rule.phase != Phase.RATELIMIT:
                problems.append(f"rule {rule.id} belongs to {rule.phase}, not {Phase.RATELIMIT}")
        if ratelimit and state is None:
            problems.append("rate limiting rules need a state store")
        if problems:
            raise ConfigError("; ".join(problems))
        self.custom = _CompiledPhase(Phase.CUSTOM, custom)
        self.ratelimit = _CompiledPhase(Phase.RATELIMIT, ratelimit)
        self.state = state
        self.key_prefix = key_prefix
        self.clock = clock
        self.fingerprint = _fingerprint(
            {
                "custom": [r.fingerprint for r in custom],
                "ratelimit": [r.fingerprint for r in ratelimit],
            }
        )

    @classmethod
    def from_rulesets(
        cls, rulesets: Sequence[Mapping[str, Any]], *, state: StateStore | None = None
    ) -> RuleEngine:
        """Build from Cloudflare-shaped rulesets ({"phase": …, "rules": [...]}), reporting
        every invalid rule at once."""
        by_phase: dict[Phase, list[Rule]] = {p: [] for p in PHASE_ORDER}
        problems: list[str] = []
        for rs in rulesets:
            try:
                phase = Phase(rs.get("phase", ""))
            except ValueError:
                problems.append(f"unknown phase {rs.get('phase')!r}")
                continue
            for data in rs.get("rules") or ():
                try:
                    by_phase[phase].append(Rule.from_dict(data, phase))
                except ConfigError as exc:
                    problems.append(str(exc))
        if problems:
            raise ConfigError("invalid rulesets:\n" + "\n".join(problems))
        return cls(by_phase[Phase.CUSTOM], by_phase[Phase.RATELIMIT], state=state)

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self, inp: RuleInput, now: float | None = None) -> Decision:
        logged: list[Rule] | None = None
        skipped_phases: set[str] | None = None
        skipped_products: set[str] | None = None
        # custom rules
        rules = self.custom.rules
        for i in self.custom.matches(inp):
            rule = rules[i]
            action = rule.action
            if action == Action.LOG:
                if logged is None:
                    logged = []
                logged.append(rule)
                continue
            if action == Action.SKIP:
                skip = rule.skip
                assert skip is not None
                if skip.phases:
                    skipped_phases = (skipped_phases or set()) | set(skip.phases)
                if skip.products:
                    skipped_products = (skipped_products or set()) | set(skip.products)
                if skip.rest_of_phase:
                    break
                continue
            if action == Action.ALLOW:
                skipped_phases = (skipped_phases or set()) | KNOWN_PHASES
            return Decision(
                action, rule, Phase.CUSTOM, tuple(logged or ()),
                frozenset(skipped_phases or ()), frozenset(skipped_products or ()),
            )  # fmt: skip
        # rate limiting
        if self.ratelimit.rules and not (skipped_phases and Phase.RATELIMIT in skipped_phases):
            if now is None:
                now = self.clock()
            if logged is None:
                logged = []
            hit = self._ratelimit(inp, now, logged)
            if hit is not None:
                return Decision(
                    hit.action, hit, Phase.RATELIMIT, tuple(logged),
                    frozenset(skipped_phases or ()), frozenset(skipped_products or ()),
                )  # fmt: skip
        if not logged and skipped_phases is None and skipped_products is None:
            return _NOTHING
        return Decision(
            None, None, None, tuple(logged or ()),
            frozenset(skipped_phases or ()), frozenset(skipped_products or ()),
        )  # fmt: skip

    def _key(self, rule: Rule, inp: RuleInput) -> str:
        values = "\x1f".join(g(inp) for g in self.ratelimit.chars[rule.id])
        digest = hashlib.blake2b(values.encode("utf-8", "surrogatepass"), digest_size=12)
        return f"{self.key_prefix}:{rule.fingerprint}:{digest.hexdigest()}"

    def _rate(self, key: str, period: int, now: float, add: int) -> float:
        assert self.state is not None
        window = math.floor(now / period)
        cur_key = f"{key}:{window}"
        if add:
            cur = self.state.incr(cur_key, add, 2 * period, now)
        else:
            raw = self.state.get(cur_key, now)
            cur = int(raw) if raw else 0
        raw_prev = self.state.get(f"{key}:{window - 1}", now)
        prev = int(raw_prev) if raw_prev else 0
        elapsed = now - window * period
        return cur + prev * (1.0 - elapsed / period)

    def _ratelimit(self, inp: RuleInput, now: float, logged: list[Rule]) -> Rule | None:
        assert self.state is not None
        rules = self.ratelimit.rules
        for i in self.ratelimit.matches(inp):
            rule = rules[i]
            rl = rule.ratelimit
            assert rl is not None
            key = self._key(rule, inp)
            if rl.mitigation_timeout and self.state.get(f"{key}:mitigated", now) is not None:
                if rule.action == Action.LOG:
                    logged.append(rule)
                    continue
                return rule
            rate = self._rate(key, rl.period, now, 0 if rule.counting is not None else 1)
            if rate > rl.requests_per_period:
                if rl.mitigation_timeout:
                    self.state.set(f"{key}:mitigated", b"1", rl.mitigation_timeout, now)
                if rule.action == Action.LOG:
                    logged.append(rule)
                    continue
                return rule
        return None

    def record_response(self, inp: RuleInput, now: float | None = None) -> None:
        """Count a finished request for the rate-limiting rules with a counting expression
        (they may read http.response.code: set `inp.response_status` first)."""
        if self.state is None or not self.ratelimit.rules:
            return
        if now is None:
            now = self.clock()
        for rule in self.ratelimit.rules:
            if rule.counting is None or not rule.counting(inp):
                continue
            rl = rule.ratelimit
            assert rl is not None
            window = math.floor(now / rl.period)
            self.state.incr(f"{self._key(rule, inp)}:{window}", 1, 2 * rl.period, now)
