"""Zone configuration: host lookup, compiling, the store-backed source and reloads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from botwarden import store
from botwarden.edge.config import (
    EMPTY_ZONE,
    ConfigWatcher,
    EdgeConfig,
    MemoryConfigSource,
    StoreConfigSource,
    ZoneSpec,
    compile_zone,
    host_name,
)
from botwarden.edge.settings import EdgeSettings
from botwarden.errors import ConfigError
from botwarden.request import RequestContext
from botwarden.rules.evalctx import RuleInput
from botwarden.state.memory import MemoryState
from botwarden.store import Plan
from botwarden.store import RuleInput as StoredRuleInput


@pytest.mark.parametrize(
    ("host", "name"),
    [("Example.COM", "example.com"), ("example.com:8443", "example.com"),
     ("[::1]:8080", "::1"), ("example.com.", "example.com"), ("::1", "::1")],
)  # fmt: skip
def test_host_name(host: str, name: str) -> None:
    assert host_name(host) == name


def test_zone_for_matches_names_then_parents_then_the_default() -> None:
    a = compile_zone("a", "example.com", {})
    b = compile_zone("b", "shop.example.com", {})
    cfg = EdgeConfig(1, [a, b], default_zone="a")
    assert cfg.zone_for("example.com") is a
    assert cfg.zone_for("SHOP.example.com:443") is b
    assert cfg.zone_for("eu.shop.example.com") is b
    assert cfg.zone_for("www.example.com") is a
    assert cfg.zone_for("other.test") is a  # the default
    assert EdgeConfig(1, [a, b]).zone_for("other.test") is EMPTY_ZONE
    assert EdgeConfig(1, [b]).zone_for("other.test") is b  # a single zone is the default
    assert EdgeConfig(1, [a, b], default_zone="shop.example.com").default is b


def test_an_invalid_rule_is_skipped_and_the_others_still_apply() -> None:
    zone = compile_zone("z", "example.com", {"http_request_firewall_custom": [
        {"id": "bad", "expression": "http.nope eq 1", "action": "block"},
        {"id": "good", "expression": 'http.request.uri.path eq "/x"', "action": "block"},
    ], "http_request_sbfm": [{"id": "other-phase"}]})  # fmt: skip
    assert len(zone.problems) == 1
    assert "bad" in zone.problems[0]
    decision = zone.rules.evaluate(RuleInput(RequestContext(client_ip="192.0.2.1", path="/x")))
    assert decision.rule is not None
    assert decision.rule.id == "good"


def test_rate_limits_need_a_state_store() -> None:
    rl = {"id": "rl", "expression": 'http.request.uri.path eq "/x"', "action": "block",
          "ratelimit": {"characteristics": ["ip.src"], "period": 10, "requests_per_period": 1}}  # fmt: skip
    assert compile_zone("z", "e.com", {"http_ratelimit": [rl]}).problems
    ok = compile_zone("z", "e.com", {"http_ratelimit": [rl]}, state=MemoryState())
    assert ok.problems == ()
    assert len(ok.rules.ratelimit.rules) == 1


def test_lists_are_compiled_for_the_zone() -> None:
    zone = compile_zone(
        "z", "e.com",
        {"http_request_firewall_custom": [
            {"id": "r", "expression": "ip.src in $office", "action": "block"}]},
        lists={"office": ("ip", ["192.0.2.0/24"])},
    )  # fmt: skip
    assert zone.rules.evaluate(RuleInput(RequestContext(client_ip="192.0.2.9"), lists=zone.lists))
    assert (
        zone.rules.evaluate(
            RuleInput(RequestContext(client_ip="198.51.100.1"), lists=zone.lists)
        ).action
        is None
    )


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        EdgeSettings.from_mapping({"origin": "ftp://x", "read_timeout": 0,
                                   "trusted_proxies": ["nope"], "cookie_name": "a b"})  # fmt: skip
    text = str(info.value)
    for part in ("origin", "read_timeout", "nope", "cookie_name"):
        assert part in text
    with pytest.raises(ConfigError, match="unknown setting"):
        EdgeSettings.from_mapping({"orign": "http://x"})


@pytest.fixture
def st(tmp_path: Path) -> Iterator[store.Store]:
    s = store.open(f"sqlite:///{tmp_path / 'bw.db'}")
    yield s
    s.close()


def test_store_source_loads_zones_settings_rules_and_lists(st: store.Store) -> None:
    acct = st.create_account("Acme")
    z = st.create_zone(acct.id, "Example.com", Plan.ENTERPRISE)
    st.create_zone(acct.id, "other.example", Plan.FREE)
    lst = st.create_list(acct.id, "office", "ip")
    st.add_list_items(acct.id, lst.id, [("192.0.2.0/24", "office")])
    st.put_phase_ruleset(z.id, "http_request_firewall_custom", [
        StoredRuleInput(expression="ip.src in $office", action="block", id=None),
    ])  # fmt: skip
    st.update_settings(z.id, {"bm_cookie_enabled": False, "suppress_session_score": True})
    source = StoreConfigSource(st)
    v1 = source.version()
    zones = {zone.name: zone for zone in source.load(MemoryState())}
    assert set(zones) == {"example.com", "other.example"}
    zone = zones["example.com"]
    assert (zone.bm_cookie_enabled, zone.suppress_session_score) == (False, True)
    assert len(zone.rules.custom.rules) == 1
    hit = RuleInput(RequestContext(client_ip="192.0.2.7"), lists=zone.lists)
    assert zone.rules.evaluate(hit).action is not None
    st.update_settings(z.id, {"bm_cookie_enabled": True})
    assert source.version() > v1


def test_watcher_swaps_in_new_versions_and_survives_a_broken_source() -> None:
    source = MemoryConfigSource([ZoneSpec("z", "example.com")])
    changes: list[int] = []
    watcher = ConfigWatcher(source, on_change=lambda cfg: changes.append(cfg.version))
    watcher.load_now()
    assert watcher.current.by_id["z"].bm_cookie_enabled
    source.update_settings("z", bm_cookie_enabled=False)
    assert asyncio.run(watcher.poll_once())
    assert not watcher.current.by_id["z"].bm_cookie_enabled
    assert not asyncio.run(watcher.poll_once())  # nothing new

    def broken(state: object) -> list[object]:
        raise RuntimeError("database is down")

    source.load = broken
    source.update_settings("z", bm_cookie_enabled=True)
    assert not asyncio.run(watcher.poll_once())
    assert watcher.errors == 1
    assert "database is down" in watcher.last_error
    assert not watcher.current.by_id["z"].bm_cookie_enabled  # the last good one stays
    assert changes == [1, 2]
