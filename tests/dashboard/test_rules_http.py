"""The Rules page over HTTP (a real uvicorn, httpx): list, create, edit, reorder, disable
and delete custom and rate-limiting rules; every change lands in the Rulesets API; bad
input comes back with the rules language's caret error beside the field and what was
typed; the live check and the 24-hour preview agree with the analytics API."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import ENTERPRISE, FREE, OTHER, PRO, Site, csrf_of

CUSTOM = "http_request_firewall_custom"
RATELIMIT = "http_ratelimit"
R = f"/zones/{ENTERPRISE}/rules"


def api_rules(site: Site, phase: str, zone: str = ENTERPRISE) -> list[dict[str, Any]]:
    with site.api() as api:
        r = api.get(f"/zones/{zone}/rulesets/phases/{phase}/entrypoint")
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    rules: list[dict[str, Any]] = r.json()["result"]["rules"]
    return rules


@pytest.fixture(autouse=True)
def no_rules(site: Site) -> Iterator[None]:
    """Each test starts and ends with no rules in the zones it uses (the site is shared)."""

    def clear() -> None:
        with site.api() as api:
            for zone in (ENTERPRISE, PRO, FREE):
                for phase in (CUSTOM, RATELIMIT):
                    r = api.put(f"/zones/{zone}/rulesets/phases/{phase}/entrypoint",
                                json={"rules": []})  # fmt: skip
                    assert r.status_code == 200, r.text

    clear()
    yield
    clear()


def create(client: httpx.Client, zone: str = ENTERPRISE, **fields: str) -> httpx.Response:
    phase = fields.get("phase", CUSTOM)
    form = client.get(f"/zones/{zone}/rules/new?phase={phase}")
    assert form.status_code == 200, form.text
    data = {"phase": phase, "action": "block", "enabled": "on", **fields}
    return client.post(f"/zones/{zone}/rules", data={**data, "csrf_token": csrf_of(form.text)})


def post(client: httpx.Client, path: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get(R).text)
    return client.post(path, data={**data, "csrf_token": token})


def test_the_page_lists_both_phases_and_links_to_the_editors(alice: httpx.Client) -> None:
    r = alice.get(R)
    assert r.status_code == 200
    assert "Custom rules" in r.text
    assert "Rate limiting rules" in r.text
    assert f"{R}/new?phase={CUSTOM}" in r.text
    assert f"{R}/new?phase={RATELIMIT}" in r.text
    assert 'aria-current="page">Rules<' in r.text


def test_create_a_custom_rule_lands_in_the_api(site: Site, alice: httpx.Client) -> None:
    r = create(alice, description="Block the admin", expression='http.request.uri.path eq "/admin"')
    assert r.status_code == 303
    assert r.headers["location"] == f"/dashboard{R}?saved=created"
    [rule] = api_rules(site, CUSTOM)
    assert rule["expression"] == 'http.request.uri.path eq "/admin"'
    assert rule["action"] == "block"
    assert rule["enabled"] is True
    assert rule["description"] == "Block the admin"
    listed = alice.get(R + "?saved=created").text
    assert "Block the admin" in listed
    assert "Rule created." in listed


def test_a_bad_expression_comes_back_with_the_caret_and_what_was_typed(
    site: Site, alice: httpx.Client
) -> None:
    r = create(
        alice, description="typo", expression='http.request.uri.path eq "/a" and ip.srcc eq 1.2.3.4'
    )
    assert r.status_code == 400
    text = html.unescape(r.text)
    assert "The rule was not saved" in text
    assert "ip.srcc" in text  # the unknown field is named …
    # … and the caret sits under it, on the line shown.
    m = re.search(r'<pre class="field-error"[^>]*>(.*?)</pre>', text, re.S)
    assert m is not None
    lines = m.group(1).split("\n")
    assert lines[1] == 'http.request.uri.path eq "/a" and ip.srcc eq 1.2.3.4'
    assert lines[2].index("^") == lines[1].index("ip.srcc")
    assert 'value="typo"' in r.text  # nothing typed is lost
    assert api_rules(site, CUSTOM) == []


def test_plan_and_action_problems_are_named(site: Site, alice: httpx.Client) -> None:
    r = create(alice, PRO, expression="cf.bot_management.score lt 30")
    assert r.status_code == 400
    assert "enterprise plan" in html.unescape(r.text)
    r = create(alice, expression='http.host eq "x"', action="explode")
    assert r.status_code == 400
    assert "action: choose one of" in html.unescape(r.text)
    r = create(alice, expression="")
    assert r.status_code == 400
    assert "expression: write the expression" in r.text
    assert api_rules(site, CUSTOM) == []
    assert api_rules(site, CUSTOM, PRO) == []


def test_edit_reorder_disable_and_delete(site: Site, alice: httpx.Client) -> None:
    for i in range(3):
        assert (
            create(
                alice, description=f"r{i}", expression=f'http.request.uri.path eq "/{i}"'
            ).status_code
            == 303
        )
    ids = [r["id"] for r in api_rules(site, CUSTOM)]
    assert [r["description"] for r in api_rules(site, CUSTOM)] == ["r0", "r1", "r2"]

    # edit: the form shows the rule; saving changes it in place
    form = alice.get(f"{R}/{ids[1]}/edit")
    assert form.status_code == 200
    assert "http.request.uri.path eq &#34;/1&#34;" in form.text or 'eq "/1"' in html.unescape(
        form.text
    )
    r = alice.post(f"{R}/{ids[1]}", data={
        "phase": CUSTOM, "description": "r1 log", "expression": 'http.request.uri.path eq "/one"',
        "action": "log", "enabled": "on", "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert r.status_code == 303, r.text
    rule = api_rules(site, CUSTOM)[1]
    assert (rule["id"], rule["action"], rule["expression"]) == (
        ids[1],
        "log",
        'http.request.uri.path eq "/one"',
    )

    # reorder
    assert post(alice, f"{R}/{ids[2]}/move", direction="up").status_code == 303
    assert [r["id"] for r in api_rules(site, CUSTOM)] == [ids[0], ids[2], ids[1]]
    assert post(alice, f"{R}/{ids[0]}/move", direction="down").status_code == 303
    assert [r["id"] for r in api_rules(site, CUSTOM)] == [ids[2], ids[0], ids[1]]
    # moving the first rule up changes nothing
    assert post(alice, f"{R}/{ids[2]}/move", direction="up").status_code == 303
    assert [r["id"] for r in api_rules(site, CUSTOM)] == [ids[2], ids[0], ids[1]]

    # disable, enable
    assert post(alice, f"{R}/{ids[0]}/enabled", enabled="false").status_code == 303
    assert [r["enabled"] for r in api_rules(site, CUSTOM)] == [True, False, True]
    assert "Disabled" in alice.get(R).text
    assert post(alice, f"{R}/{ids[0]}/enabled", enabled="true").status_code == 303
    assert all(r["enabled"] for r in api_rules(site, CUSTOM))

    # delete
    assert post(alice, f"{R}/{ids[2]}/delete").status_code == 303
    assert [r["id"] for r in api_rules(site, CUSTOM)] == [ids[0], ids[1]]
    # a rule that is gone is named
    r = post(alice, f"{R}/{ids[2]}/delete")
    assert r.status_code == 404
    assert f"rule {ids[2]} not found" in r.text


def test_a_rate_limiting_rule(site: Site, alice: httpx.Client) -> None:
    fields = {"phase": RATELIMIT, "description": "login", "expression": 'http.request.uri.path eq "/login"',
              "characteristics": "ip.src", "period": "60", "requests_per_period": "abc",
              "mitigation_timeout": "120", "counting_expression": "http.response.code eq 401"}  # fmt: skip
    r = create(alice, **fields)
    assert r.status_code == 400
    assert "requests per period must be a whole number (got &#39;abc&#39;)" in r.text
    assert 'value="abc"' in r.text
    r = create(alice, **{**fields, "requests_per_period": "5", "period": "0"})
    assert r.status_code == 400
    assert "period must be 1…86400 seconds" in r.text
    r = create(alice, **{**fields, "requests_per_period": "5"})
    assert r.status_code == 303, r.text
    [rule] = api_rules(site, RATELIMIT)
    assert rule["ratelimit"] == {"characteristics": ["ip.src"], "period": 60, "requests_per_period": 5,
                                 "mitigation_timeout": 120, "counting_expression": "http.response.code eq 401"}  # fmt: skip
    assert "5 / 60 s per ip.src" in alice.get(R).text
    # rate limiting offers only its phase's actions
    form = alice.get(f"{R}/new?phase={RATELIMIT}").text
    assert 'value="block"' in form
    assert 'value="skip"' not in form
    # editing keeps the limit; a change to it is saved, the rest stays
    edit = alice.get(f"{R}/{rule['id']}/edit")
    assert edit.status_code == 200
    for shown in ('id="requests_per_period" name="requests_per_period" inputmode="numeric" value="5"',
                  'value="120"', "http.response.code eq 401</textarea>"):  # fmt: skip
        assert shown in edit.text
    r = alice.post(f"{R}/{rule['id']}", data={**fields, "requests_per_period": "7", "action": "block",
                                               "csrf_token": csrf_of(edit.text)})  # fmt: skip
    assert r.status_code == 303, r.text
    [after] = api_rules(site, RATELIMIT)
    assert after["id"] == rule["id"]
    assert after["ratelimit"] == {**rule["ratelimit"], "requests_per_period": 7}


def test_the_live_check_shows_the_caret_and_the_preview(site: Site, alice: httpx.Client) -> None:
    bad = alice.get(
        f"{R}/check", params={"expression": 'http.host eq "a" and\n  ip.src in {1.2.3.4 "x"}'}
    )
    assert bad.status_code == 200
    text = html.unescape(bad.text)
    assert "line 2" in text
    src, caret = re.search(
        r'<span class="src">(.*?)</span>\s*<span class="caret">(.*?)</span>', text, re.S
    ).groups()  # type: ignore[union-attr]
    assert src == '  ip.src in {1.2.3.4 "x"}'
    assert src[caret.index("^")] == '"'

    expr = "cf.bot_management.score lt 30"
    ok = alice.get(f"{R}/check", params={"expression": expr})
    assert "Valid expression" in ok.text
    shown = int(re.search(r'id="preview-count">([\d,]+)<', ok.text).group(1).replace(",", ""))  # type: ignore[union-attr]
    until = datetime.now(UTC)
    with site.api() as api:
        r = api.get(f"/zones/{ENTERPRISE}/bot_management/analytics/summary",
                    params={"expression": expr, "since": (until - timedelta(hours=24)).isoformat(),
                            "until": until.isoformat()})  # fmt: skip
    expected = r.json()["result"]["requests"]
    assert shown == expected > 0
    # a field analytics does not store: valid, but no preview (and said why)
    edge_only = alice.get(f"{R}/check", params={"expression": 'http.cookie contains "x"'})
    assert "Valid expression" in edge_only.text
    assert "Preview unavailable: expression: " in edge_only.text
    assert "http.cookie" in edge_only.text
    # the counting expression is checked on its own, without a preview
    counting = alice.get(
        f"{R}/check",
        params={"counting_expression": "http.response.code eq 4x", "target": "counting"},
    )
    assert 'id="check-counting"' in counting.text
    assert 'class="bad"' in counting.text


def test_changes_need_the_csrf_token_and_the_zone(site: Site, alice: httpx.Client) -> None:
    r = alice.post(R, data={"phase": CUSTOM, "expression": 'http.host eq "a"', "action": "block"})
    assert r.status_code == 403
    assert api_rules(site, CUSTOM) == []
    assert alice.get(f"/zones/{OTHER}/rules").status_code == 404
    token = csrf_of(alice.get(R).text)
    r = alice.post(f"/zones/{OTHER}/rules", data={"phase": CUSTOM, "expression": 'http.host eq "a"',
                                                   "action": "block", "csrf_token": token})  # fmt: skip
    assert r.status_code == 404
    assert alice.get(f"{R}/new?phase=http_nope").status_code == 400
