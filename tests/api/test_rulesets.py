"""Rulesets: entrypoints per phase, rule CRUD, and invalid rules refused at write time."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import SEED_ZONE, World

CUSTOM = f"/zones/{SEED_ZONE}/rulesets/phases/http_request_firewall_custom/entrypoint"
RATELIMIT = f"/zones/{SEED_ZONE}/rulesets/phases/http_ratelimit/entrypoint"


def _put(api: httpx.Client, rules: list[dict[str, Any]], url: str = CUSTOM) -> httpx.Response:
    return api.put(url, json={"rules": rules})


def test_entrypoint_lifecycle(api: httpx.Client, world: World) -> None:
    r = api.get(CUSTOM)
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == 7003
    v = world.st.config_version()
    r = _put(
        api,
        [
            {"expression": "cf.bot_management.score lt 30", "action": "managed_challenge"},
            {"expression": 'http.request.uri.path eq "/login"', "action": "log", "ref": "login"},
        ],
    )
    assert r.status_code == 200, r.text
    rs = r.json()["result"]
    assert rs["phase"] == "http_request_firewall_custom"
    assert rs["kind"] == "zone"
    assert rs["version"] == "1"
    first, second = rs["rules"]
    assert first["version"] == "1"
    assert first["compiled"] is True
    assert len(first["fingerprint"]) == 16
    assert first["ref"] == first["id"]
    assert second["ref"] == "login"
    assert world.st.config_version() == v + 1
    assert api.get(CUSTOM).json()["result"] == rs
    assert api.get(f"/zones/{SEED_ZONE}/rulesets/{rs['id']}").json()["result"] == rs
    listed = api.get(f"/zones/{SEED_ZONE}/rulesets").json()["result"]
    assert [x["id"] for x in listed] == [rs["id"]]
    assert "rules" not in listed[0]
    # PUT back what GET answered: ids kept, nothing changes version.
    r = _put(api, rs["rules"])
    assert [x["id"] for x in r.json()["result"]["rules"]] == [first["id"], second["id"]]
    assert r.json()["result"]["rules"][0]["version"] == "1"
    # Leave one out and change the other.
    r = _put(api, [{**second, "action": "block"}])
    (only,) = r.json()["result"]["rules"]
    assert only["id"] == second["id"]
    assert only["action"] == "block"
    assert only["version"] == "2"


def test_invalid_expression_is_refused_with_the_caret(api: httpx.Client, world: World) -> None:
    before = world.st.config_version()
    r = _put(
        api,
        [
            {"expression": "ip.src eq 192.0.2.1", "action": "block"},
            {"expression": 'http.host eq "a" and', "action": "block"},
            {"expression": "ssl", "action": "explode"},
        ],
    )
    assert r.status_code == 400
    msgs = [e["message"] for e in r.json()["errors"]]
    assert len(msgs) == 2
    assert msgs[0].startswith("rules[1]: expression: unexpected end of expression")
    lines = msgs[0].splitlines()
    assert lines[1] == 'http.host eq "a" and'
    assert lines[2].strip() == "^"
    assert msgs[1].startswith("rules[2]: unknown action 'explode'")
    assert world.st.config_version() == before
    assert api.get(CUSTOM).status_code == 404


def test_lists_must_exist_with_the_right_kind(api: httpx.Client, world: World) -> None:
    r = _put(api, [{"expression": "ip.src in $office", "action": "allow"}])
    assert r.status_code == 400
    msg = r.json()["errors"][0]["message"]
    assert "list $office does not exist" in msg
    assert msg.splitlines()[1:] == ["ip.src in $office", "          ^^^^^^^"]
    acct = world.account
    api.post(f"/accounts/{acct}/rules/lists", json={"name": "office", "kind": "asn"})
    r = _put(api, [{"expression": "ip.src in $office", "action": "allow"}])
    assert "holds asn entries, but this field needs a ip list" in r.json()["errors"][0]["message"]
    r = _put(api, [{"expression": "ip.geoip.asnum in $office", "action": "allow"}])
    assert r.status_code == 200, r.text


def test_granular_scores_only_on_enterprise(api: httpx.Client, world: World) -> None:
    url = f"/zones/{world.zones['pro']}/rulesets/phases/http_request_firewall_custom/entrypoint"
    r = _put(api, [{"expression": "cf.bot_management.score lt 30", "action": "block"}], url)
    assert r.status_code == 400
    msg = r.json()["errors"][0]["message"]
    assert "available on the enterprise plan; this zone is on the pro plan" in msg
    assert msg.splitlines()[2] == "^" * len("cf.bot_management.score")
    ok = _put(
        api,
        [
            {
                "expression": "cf.bot_management.verified_bot",
                "action": "skip",
                "action_parameters": {"ruleset": "current"},
            }
        ],
        url,
    )
    assert ok.status_code == 200, ok.text


def test_rule_crud_with_positions(api: httpx.Client) -> None:
    rs = _put(api, [{"expression": "ssl", "action": "log", "ref": "a"}]).json()["result"]
    base = f"/zones/{SEED_ZONE}/rulesets/{rs['id']}/rules"
    a = rs["rules"][0]["id"]
    r = api.post(base, json={"expression": "not ssl", "action": "log", "ref": "b"})
    assert r.status_code == 200
    assert [x["ref"] for x in r.json()["result"]["rules"]] == ["a", "b"]
    r = api.post(
        base, json={"expression": "ssl", "action": "block", "ref": "c", "position": {"before": a}}
    )
    assert [x["ref"] for x in r.json()["result"]["rules"]] == ["c", "a", "b"]
    r = api.post(
        base, json={"expression": "ssl", "action": "block", "ref": "d", "position": {"index": 2}}
    )
    rules = r.json()["result"]["rules"]
    assert [x["ref"] for x in rules] == ["c", "d", "a", "b"]
    assert r.json()["result"]["version"] == "4"
    d = rules[1]["id"]
    r = api.patch(f"{base}/{d}", json={"enabled": False, "position": {"after": a}})
    rules = r.json()["result"]["rules"]
    assert [x["ref"] for x in rules] == ["c", "a", "d", "b"]
    assert rules[2]["enabled"] is False
    assert rules[2]["expression"] == "ssl"
    assert rules[2]["version"] == "2"
    bad = api.patch(f"{base}/{d}", json={"expression": "ssl and"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"].startswith("rule: expression:")
    r = api.delete(f"{base}/{d}")
    assert [x["ref"] for x in r.json()["result"]["rules"]] == ["c", "a", "b"]
    assert api.delete(f"{base}/{d}").status_code == 404
    assert (
        api.post(
            base, json={"expression": "ssl", "action": "log", "position": {"before": "f" * 32}}
        ).status_code
        == 400
    )
    assert (
        api.post(base, json={"id": "f" * 32, "expression": "ssl", "action": "log"}).status_code
        == 400
    )


def test_rate_limiting_rules(api: httpx.Client) -> None:
    ratelimit = {
        "characteristics": ["ip.src", "cf.colo.id"],
        "period": 60,
        "requests_per_period": 10,
        "mitigation_timeout": 600,
    }
    rule = {"expression": 'http.request.uri.path eq "/login"', "action": "block"}
    r = _put(api, [{**rule, "ratelimit": ratelimit}], RATELIMIT)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["rules"][0]["ratelimit"]["period"] == 60
    no_rl = _put(api, [{"expression": "ssl", "action": "block"}], RATELIMIT)
    assert no_rl.status_code == 400
    assert "ratelimit parameters" in no_rl.json()["errors"][0]["message"]
    bad = {**ratelimit, "characteristics": ["http.user_agent.nope"]}
    r = _put(api, [{**rule, "ratelimit": bad}], RATELIMIT)
    assert "unsupported rate-limiting characteristic" in r.json()["errors"][0]["message"]
    bad_count = {**ratelimit, "counting_expression": "ssl and"}
    r = _put(api, [{**rule, "ratelimit": bad_count}], RATELIMIT)
    assert r.status_code == 400
    assert "counting_expression" in r.json()["errors"][0]["message"]


def test_unknown_phase_and_ruleset(api: httpx.Client) -> None:
    r = api.get(f"/zones/{SEED_ZONE}/rulesets/phases/http_request_sbfm/entrypoint")
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("phase:")
    assert api.get(f"/zones/{SEED_ZONE}/rulesets/{'a' * 32}").status_code == 404
