"""Rulesets: phases, actions, skip semantics, fingerprints and rate limiting."""

from __future__ import annotations

from typing import Any

import pytest

from botwarden.errors import ConfigError
from botwarden.rules.ruleset import (
    Action,
    BlockResponse,
    Phase,
    RateLimit,
    Rule,
    RuleEngine,
    SkipParameters,
)
from botwarden.state.memory import MemoryState

from .helpers import make_bm, make_input


def custom(id: str, expression: str, action: str, **kw: Any) -> Rule:
    return Rule.create(id, expression, action, Phase.CUSTOM, **kw)


def limit(
    id: str,
    expression: str = "ssl",
    action: str = "block",
    *,
    characteristics: tuple[str, ...] = ("ip.src", "cf.colo.id"),
    period: int = 60,
    requests: int = 3,
    timeout: int = 0,
    counting: str | None = None,
) -> Rule:
    return Rule.create(
        id,
        expression,
        action,
        Phase.RATELIMIT,
        ratelimit=RateLimit(characteristics, period, requests, timeout, counting),
    )


def test_first_terminating_rule_wins_and_logs_are_kept() -> None:
    engine = RuleEngine(
        [
            custom("log-bots", "cf.bot_management.score lt 30", "log"),
            custom("nothing", 'http.host eq "other.test"', "block"),
            custom("challenge", "cf.bot_management.score lt 20", "managed_challenge"),
            custom("block", "cf.bot_management.score lt 10", "block"),
        ]
    )
    d = engine.evaluate(make_input(make_bm(score=5)))
    assert d.action == Action.MANAGED_CHALLENGE
    assert d.rule is not None
    assert d.rule.id == "challenge"
    assert d.phase == Phase.CUSTOM
    assert [r.id for r in d.logged] == ["log-bots"]
    assert d.response is None
    d = engine.evaluate(make_input(make_bm(score=50)))
    assert d.action is None
    assert d.rule is None
    assert d.logged == ()


def test_block_with_custom_response() -> None:
    response = BlockResponse(429, '{"error": "bot"}', "application/json")
    engine = RuleEngine([custom("b", "cf.bot_management.score eq 1", "block", response=response)])
    d = engine.evaluate(make_input(make_bm(score=1)))
    assert d.action == Action.BLOCK
    assert d.response == response
    plain = RuleEngine([custom("b", "ssl", "block")]).evaluate(make_input())
    assert plain.response == BlockResponse()


@pytest.mark.parametrize("action", ["js_challenge", "challenge", "managed_challenge"])
def test_challenge_actions(action: str) -> None:
    d = RuleEngine([custom("c", "ssl", action)]).evaluate(make_input())
    assert d.action == Action(action)


def test_skip_rest_of_phase() -> None:
    engine = RuleEngine(
        [
            custom(
                "verified",
                "cf.bot_management.verified_bot",
                "skip",
                skip=SkipParameters(rest_of_phase=True),
            ),
            custom("low", "cf.bot_management.score lt 30", "block"),
        ]
    )
    assert engine.evaluate(make_input(make_bm(score=1, verified_bot=True))).action is None
    assert engine.evaluate(make_input(make_bm(score=1))).action == Action.BLOCK


def test_skip_phases_and_products_goes_on_in_this_phase() -> None:
    state = MemoryState()
    engine = RuleEngine(
        [
            custom("partner", "ip.src in {192.0.2.0/24}", "skip",
                   skip=SkipParameters(phases=("http_ratelimit", "http_request_sbfm"),
                                       products=("uaBlock",))),
            custom("low", "cf.bot_management.score lt 30", "block"),
        ],
        [limit("rl", requests=1)],
        state=state,
    )  # fmt: skip
    d = engine.evaluate(make_input(make_bm(score=1)))
    assert d.action == Action.BLOCK
    assert d.skipped_phases == {"http_ratelimit", "http_request_sbfm"}
    assert d.skipped_products == {"uaBlock"}
    for _ in range(3):
        d = engine.evaluate(make_input(make_bm(score=90)), now=1000.0)
        assert d.action is None
    other = make_input(make_bm(score=90), ip="198.51.100.1")
    engine.evaluate(other, now=1000.0)
    assert engine.evaluate(other, now=1000.0).action == Action.BLOCK


def test_allow_ends_evaluation_and_skips_later_phases() -> None:
    engine = RuleEngine(
        [
            custom("fp", 'cf.bot_management.ja3_hash eq "abc"', "allow"),
            custom("low", "cf.bot_management.score lt 30", "block"),
        ],
        [limit("rl", requests=1)],
        state=MemoryState(),
    )
    inp = make_input(make_bm(score=1, ja3_hash="abc"))
    for _ in range(3):
        d = engine.evaluate(inp, now=10.0)
        assert d.action == Action.ALLOW
        assert "http_ratelimit" in d.skipped_phases
        assert "http_request_sbfm" in d.skipped_phases


def test_disabled_rules_are_ignored() -> None:
    engine = RuleEngine([custom("b", "ssl", "block", enabled=False)])
    assert engine.evaluate(make_input()).action is None


def test_fingerprints() -> None:
    a = custom("a", "ssl", "block")
    assert a.fingerprint == custom("a", "ssl", "block").fingerprint
    assert a.fingerprint != custom("a", "not ssl", "block").fingerprint
    assert a.fingerprint != custom("a", "ssl", "log").fingerprint
    assert len(a.fingerprint) == 16
    e1 = RuleEngine([a])
    assert e1.fingerprint == RuleEngine([custom("a", "ssl", "block")]).fingerprint
    assert e1.fingerprint != RuleEngine([custom("a", "ssl", "log")]).fingerprint


def test_round_trip_through_dict() -> None:
    rule = Rule.from_dict(
        {
            "id": "r1",
            "expression": "ssl",
            "action": "skip",
            "action_parameters": {"ruleset": "current", "phases": ["http_ratelimit"]},
            "description": "partners",
        }
    )
    assert Rule.from_dict(rule.to_dict()) == rule
    assert rule.to_dict()["action_parameters"] == {
        "ruleset": "current",
        "phases": ["http_ratelimit"],
    }
    rl = limit("rl", counting="http.response.code eq 401", timeout=600)
    assert Rule.from_dict(rl.to_dict(), Phase.RATELIMIT) == rl


def test_invalid_rules_are_refused_with_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        RuleEngine.from_rulesets(
            [
                {
                    "phase": "http_request_firewall_custom",
                    "rules": [
                        {"id": "a", "expression": "http.host eq", "action": "block"},
                        {"id": "b", "expression": "ssl", "action": "skip"},
                        {"id": "c", "expression": "ssl", "action": "explode"},
                        {"id": "d", "expression": "ssl", "action": "log",
                         "action_parameters": {"response": {"status_code": 403}}},
                    ],
                },
                {
                    "phase": "http_ratelimit",
                    "rules": [
                        {"id": "e", "expression": "ssl", "action": "block"},
                        {"id": "f", "expression": "ssl", "action": "skip",
                         "ratelimit": {"characteristics": ["ip.src"], "period": 60,
                                       "requests_per_period": 5}},
                        {"id": "g", "expression": "ssl", "action": "managed_challenge",
                         "ratelimit": {"characteristics": ["http.request.uri.args"],
                                       "period": 0, "requests_per_period": 0,
                                       "mitigation_timeout": 60}},
                    ],
                },
                {"phase": "http_request_late_transform", "rules": []},
            ]
        )  # fmt: skip
    text = str(info.value)
    for needle in [
        "rule a: expression: unexpected end of expression",
        "rule b: a skip rule must say what to skip",
        "rule c: unknown action 'explode'",
        "rule d: a custom response only goes with the block action",
        "rule e: a rate limiting rule needs ratelimit parameters",
        "rule f: action skip is not allowed in phase http_ratelimit",
        "period must be",
        "requests_per_period must be at least 1",
        "challenge actions take mitigation_timeout 0",
        "unsupported rate-limiting characteristic",
        "unknown phase 'http_request_late_transform'",
    ]:
        assert needle in text


def test_duplicate_ids_and_missing_state() -> None:
    with pytest.raises(ConfigError, match="duplicate rule id a"):
        RuleEngine([custom("a", "ssl", "log"), custom("a", "ssl", "block")])
    with pytest.raises(ConfigError, match="need a state store"):
        RuleEngine([], [limit("rl")])


# -- rate limiting --------------------------------------------------------------------------


def test_rate_limit_per_ip() -> None:
    engine = RuleEngine([], [limit("rl", 'http.request.uri.path eq "/login"')], state=MemoryState())
    a = make_input(path="/login", ip="192.0.2.1")
    b = make_input(path="/login", ip="192.0.2.2")
    t = 6000.0
    assert [engine.evaluate(a, now=t).action for _ in range(4)] == [None, None, None, "block"]
    assert engine.evaluate(b, now=t).action is None
    assert engine.evaluate(make_input(path="/", ip="192.0.2.1"), now=t).action is None
    # the previous window still weighs at its start, not a full period later
    assert engine.evaluate(a, now=t + 60).action == Action.BLOCK
    assert engine.evaluate(a, now=t + 120).action is None


def test_sliding_window_weighs_the_previous_window() -> None:
    engine = RuleEngine([], [limit("rl", requests=4)], state=MemoryState())
    inp = make_input()
    for _ in range(4):
        assert engine.evaluate(inp, now=6059.0).action is None
    # 30 s into the next window: 4 × 0.5 + 1 = 3 ≤ 4, then 4, then 5 > 4
    assert engine.evaluate(inp, now=6090.0).action is None
    assert engine.evaluate(inp, now=6090.0).action is None
    assert engine.evaluate(inp, now=6090.0).action == Action.BLOCK


def test_mitigation_timeout_keeps_blocking() -> None:
    engine = RuleEngine([], [limit("rl", requests=1, timeout=600)], state=MemoryState())
    inp = make_input()
    assert engine.evaluate(inp, now=0.0).action is None
    assert engine.evaluate(inp, now=1.0).action == Action.BLOCK
    assert engine.evaluate(inp, now=500.0).action == Action.BLOCK
    assert engine.evaluate(inp, now=700.0).action is None


@pytest.mark.parametrize(
    ("characteristic", "same", "different"),
    [
        ("cf.bot_management.ja4", {"ja4": "t13d_a"}, {"ja4": "t13d_b"}),
        ('http.request.headers["x-api-key"]', {"headers": [("X-Api-Key", "k1")]},
         {"headers": [("X-Api-Key", "k2")]}),
        ('http.request.cookies["session"]', {"headers": [("Cookie", "session=s1")]},
         {"headers": [("Cookie", "session=s2")]}),
        ('http.request.uri.args["product_id"]', {"query": "product_id=215"},
         {"query": "product_id=216"}),
        ("http.host", {"host": "a.test"}, {"host": "b.test"}),
    ],
)  # fmt: skip
def test_characteristics(
    characteristic: str, same: dict[str, Any], different: dict[str, Any]
) -> None:
    engine = RuleEngine(
        [], [limit("rl", requests=1, characteristics=(characteristic,))], state=MemoryState()
    )

    def inp(kw: dict[str, Any], ip: str) -> Any:
        kw = dict(kw)
        bm = make_bm(ja4=kw.pop("ja4")) if "ja4" in kw else None
        return make_input(bm, ip=ip, **kw)

    assert engine.evaluate(inp(same, "192.0.2.1"), now=0.0).action is None
    assert engine.evaluate(inp(same, "192.0.2.2"), now=0.0).action == Action.BLOCK
    assert engine.evaluate(inp(different, "192.0.2.3"), now=0.0).action is None


def test_counting_expression_counts_responses() -> None:
    engine = RuleEngine(
        [],
        [
            limit(
                "login",
                'http.host eq "example.com"',
                counting='http.request.uri.path eq "/login" and http.response.code in {401 403}',
                requests=2,
                timeout=3600,
            )
        ],
        state=MemoryState(),
    )
    login = make_input(path="/login")
    for status in (401, 200, 403):
        assert engine.evaluate(login, now=10.0).action is None
        login.response_status = status
        engine.record_response(login, now=10.0)
    # two failures so far: not more than two
    assert engine.evaluate(make_input(path="/"), now=11.0).action is None
    login.response_status = 401
    engine.record_response(login, now=11.0)
    # the mitigation applies to every request matching the rule expression
    assert engine.evaluate(make_input(path="/"), now=12.0).action == Action.BLOCK
    assert engine.evaluate(make_input(path="/"), now=2000.0).action == Action.BLOCK


def test_log_rate_limit_rule_does_not_stop() -> None:
    engine = RuleEngine(
        [], [limit("watch", action="log", requests=1), limit("rl", requests=2)], state=MemoryState()
    )
    inp = make_input()
    engine.evaluate(inp, now=0.0)
    d = engine.evaluate(inp, now=0.0)
    assert d.action is None
    assert [r.id for r in d.logged] == ["watch"]
    d = engine.evaluate(inp, now=0.0)
    assert d.action == Action.BLOCK
    assert [r.id for r in d.logged] == ["watch"]


def test_many_rules_compile_into_one_phase_function() -> None:
    rules = [custom(f"r{i}", f"cf.bot_management.score eq {i}", "block") for i in range(100)]
    engine = RuleEngine(rules)
    d = engine.evaluate(make_input(make_bm(score=42)))
    assert d.rule is not None
    assert d.rule.id == "r42"


def test_phases_sharing_one_input_keep_their_shared_values_apart() -> None:
    inp = make_input(host="a.test", headers=[("User-Agent", "curl/8.5.0")])
    for _ in range(20):
        hosts = RuleEngine(
            [
                custom("x", 'lower(http.host) eq "a.test"', "log"),
                custom("y", 'lower(http.host) matches "^a"', "log"),
                custom("z", 'lower(http.host) matches "curl"', "log"),
            ]
        )
        agents = RuleEngine(
            [
                custom("x", 'lower(http.user_agent) eq "a.test"', "log"),
                custom("y", 'lower(http.user_agent) matches "^a"', "log"),
                custom("z", 'lower(http.user_agent) matches "curl"', "log"),
            ]
        )
        assert [r.id for r in hosts.evaluate(inp).logged] == ["x", "y"]
        assert [r.id for r in agents.evaluate(inp).logged] == ["z"]
