"""The dashboard over HTTP (a real uvicorn, httpx): sign-in, sessions and their cookie,
CSRF on every change, account isolation, filter checking, the live expression check,
the report form's answers to bad input, and the static assets' budget."""

from __future__ import annotations

import gzip
import html
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from botwarden.dashboard import STATIC_DIR
from botwarden.dashboard.filters import Filters
from botwarden.store import Plan
from tests.dashboard.conftest import (
    ALICE,
    ALICE_PASSWORD,
    ENTERPRISE,
    FREE,
    OTHER,
    PRO,
    Site,
    csrf_of,
    sign_in,
)

A = f"/zones/{ENTERPRISE}/analytics"


def _report_form(client: httpx.Client, query: str) -> tuple[str, dict[str, str]]:
    r = client.get(f"{A}/report?{query}")
    assert r.status_code == 200
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', r.text))

    return r.text, {k: html.unescape(v) for k, v in fields.items()}


def test_root_redirects_to_the_dashboard(site: Site) -> None:
    r = httpx.get(site.url + "/")
    assert r.status_code == 307
    assert r.headers["location"] == "/dashboard/"


def test_pages_need_a_session(site: Site) -> None:
    r = httpx.get(site.dashboard + A + "?range=1h")
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/sign-in?next=" + quote(
        "/dashboard" + A + "?range=1h", safe=""
    )
    htmx = httpx.get(site.dashboard + A, headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"].startswith("/dashboard/sign-in?next=")


def test_sign_in_sets_a_safe_cookie_and_goes_back(site: Site) -> None:
    with httpx.Client(base_url=site.dashboard) as c:
        form = c.get("/sign-in")
        r = c.post("/sign-in", data={"email": ALICE.upper(), "password": ALICE_PASSWORD,
                                     "csrf_token": csrf_of(form.text), "next": "/dashboard" + A})  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard" + A
    cookie = r.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=lax", "path=/dashboard", "max-age=43200"):
        assert flag in cookie
    assert "secure" not in cookie  # plain http on loopback; set over https


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/client/v4/user"])
def test_sign_in_never_sends_elsewhere(site: Site, target: str) -> None:
    with httpx.Client(base_url=site.dashboard) as c:
        form = c.get("/sign-in")
        r = c.post("/sign-in", data={"email": ALICE, "password": ALICE_PASSWORD,
                                     "csrf_token": csrf_of(form.text), "next": target})  # fmt: skip
    assert r.headers["location"] == "/dashboard/"


def test_wrong_password_and_missing_token_are_refused_with_a_reason(site: Site) -> None:
    with httpx.Client(base_url=site.dashboard) as c:
        form = c.get("/sign-in")
        token = csrf_of(form.text)
        wrong = c.post("/sign-in", data={"email": ALICE, "password": "nope-nope-nope",
                                         "csrf_token": token})  # fmt: skip
        assert wrong.status_code == 400
        assert "Wrong e-mail or password." in wrong.text
        assert 'value="alice@example.com"' in wrong.text  # what was typed is kept
        no_token = c.post("/sign-in", data={"email": ALICE, "password": ALICE_PASSWORD})
        assert no_token.status_code == 400
        assert "expired" in no_token.text
        assert c.get("/").status_code == 303  # still not signed in
    cookieless = httpx.post(site.dashboard + "/sign-in",
                            data={"email": ALICE, "password": ALICE_PASSWORD, "csrf_token": token})  # fmt: skip
    assert cookieless.status_code == 400
    assert "allow cookies" in cookieless.text


def test_sign_out_ends_every_session_of_the_user(site: Site) -> None:
    with sign_in(site) as one, sign_in(site) as two:
        assert two.get("/").status_code == 200
        page = one.get("/")
        r = one.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        assert 'bw_session=""' in r.headers["set-cookie"]
        assert two.get("/").status_code == 303  # the other browser is signed out too
    with sign_in(site) as again:
        assert again.get("/").status_code == 200


def test_a_new_password_ends_sessions(site: Site) -> None:
    with sign_in(site) as c:
        user = site.st.find_user(ALICE)
        site.st.set_password(user.id, ALICE_PASSWORD)  # the same text, a new hash and epoch
        assert c.get("/").status_code == 303


def test_a_change_without_the_csrf_token_is_refused(alice: httpx.Client) -> None:
    r = alice.post(f"{A}/report", data={"prefill": "{}", "idempotency_key": "k",
                                        "type": "false_positive", "description": "x"})  # fmt: skip
    assert r.status_code == 403
    assert "Reload the page" in r.text
    other = alice.post(f"{A}/report", headers={"X-CSRF-Token": "0" * 64},
                       data={"prefill": "{}", "idempotency_key": "k"})  # fmt: skip
    assert other.status_code == 403


def test_another_accounts_zone_is_not_found(alice: httpx.Client) -> None:
    zones = alice.get("/")
    assert "shop.example" in zones.text
    assert "other.example" not in zones.text
    for path in ("/analytics", "/analytics/report?score_max=10", "/analytics/check?expr=x"):
        r = alice.get(f"/zones/{OTHER}{path}")
        assert r.status_code == 404, path
        assert "not in one of your accounts" in r.text
    assert alice.get("/zones/" + "f" * 32 + "/analytics").status_code == 404


def test_pages_send_security_headers(alice: httpx.Client) -> None:
    r = alice.get(A + "?range=1h")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text  # no inline script: the CSP would block it


def test_bad_filters_are_named_and_the_rest_kept(alice: httpx.Client) -> None:
    r = alice.get(A, params={"asn": "banana", "ip": "300.1.1.1", "score_min": "0",
                             "ja3": "xyz", "country": "Netherlands", "ua": "curl/8"})  # fmt: skip
    assert r.status_code == 200
    for needle in ("not an AS number", "not an IP address", "not a bot score",
                   "not a JA3 hash", "not a two-letter country code",
                   "Fix the filters marked above"):  # fmt: skip
        assert needle in r.text, needle
    assert 'value="curl/8"' in r.text
    custom = alice.get(A, params={"range": "custom"})
    assert "give a start" in custom.text
    long = alice.get(A, params={"since": "2020-01-01T00:00", "until": "2020-01-05T00:00"})
    assert '<option value="custom" selected>' in long.text
    assert "at most 72 hours" in long.text
    old = alice.get(A, params={"since": "2020-01-01T00:00", "until": "2020-01-02T00:00"})
    assert "go back 30 days" in old.text


def test_a_bad_expression_is_shown_with_a_caret(alice: httpx.Client) -> None:
    ok = alice.get(f"{A}/check", params={"expr": 'http.host eq "shop.example"'})
    assert "Valid expression" in ok.text
    bad = alice.get(f"{A}/check", params={"expr": 'ip.src.asnum eq "x"'})
    assert 'class="caret"' in bad.text
    assert "^" in bad.text
    page = alice.get(A, params={"expr": 'ip.src.asnum eq "x"', "range": "1h"})
    assert page.status_code == 200
    assert "expression:" in page.text  # the API's message, shown in the page


def test_filters_build_one_expression() -> None:
    f = Filters.parse({"score_min": "2", "score_max": "29", "ua": 'say "hi"\\', "ip": "10.0.0.0/8",
                       "asn": "AS64500", "country": "nl", "detection": "7", "verified": "no",
                       "expr": 'http.host eq "a"'}, Plan.ENTERPRISE)  # fmt: skip
    assert f.ok, f.problems
    assert f.expression() == (
        "cf.bot_management.score ge 2 and cf.bot_management.score le 29 and "
        'http.user_agent eq "say \\"hi\\"\\\\" and ip.src in {10.0.0.0/8} and '
        'ip.src.asnum eq 64500 and ip.src.country eq "NL" and '
        "any(cf.bot_management.detection_ids[*] eq 7) and "
        'not cf.bot_management.verified_bot and (http.host eq "a")'
    )
    from botwarden.rules import check

    check(f.expression() or "")
    assert Filters.parse({"score_min": "30"}, Plan.ENTERPRISE).expression() == (
        "cf.bot_management.score ge 30 and cf.bot_management.score le 99"
    )
    assert Filters.parse({"score_max": "1"}, Plan.ENTERPRISE).expression() == (
        "cf.bot_management.score eq 1"
    )
    pro = Filters.parse({"score_max": "29"}, Plan.PRO)
    assert "enterprise plan only" in pro.problems["score_min"]


def test_free_zone_is_told_what_its_plan_includes(alice: httpx.Client) -> None:
    r = alice.get(f"/zones/{FREE}/analytics")
    assert r.status_code == 200
    assert "Bot Analytics is available from the pro plan up" in r.text


def test_pro_zone_sees_groupings_only(alice: httpx.Client) -> None:
    r = alice.get(f"/zones/{PRO}/analytics")
    charts = json.loads(
        re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', r.text,
                  re.S).group(1)  # type: ignore[union-attr]
    )  # fmt: skip
    assert charts["histogram"]["granular"] is False
    assert charts["histogram"]["labels"][0] == "Automated"
    assert 'name="score_max"' not in r.text


def test_report_is_offered_only_with_a_score_filter(alice: httpx.Client) -> None:
    assert 'id="report-open"' not in alice.get(A + "?range=1h").text
    assert 'id="report-open"' in alice.get(A + "?range=1h&score_max=29").text
    form, _ = _report_form(alice, "range=1h&ua=curl")
    assert "Set a bot score" in form


def test_report_through_the_dashboard_is_the_api_report(site: Site, alice: httpx.Client) -> None:
    _, fields = _report_form(alice, "range=1h&grouping=automated")
    prefill: dict[str, Any] = json.loads(fields["prefill"])
    assert prefill["requests"] > 0
    data = {**fields, "type": "false_positive", "subtype": "scraping",
            "description": "  Customers on a new browser  "}  # fmt: skip
    r = alice.post(f"{A}/report", data=data, headers={"HX-Request": "true"})
    assert r.status_code == 200
    report_id = re.search(r'id="report-id">([0-9a-f]{32})<', r.text).group(1)  # type: ignore[union-attr]
    again = alice.post(f"{A}/report", data=data, headers={"HX-Request": "true"})
    assert report_id in again.text  # the same form sent twice is one report
    with site.api() as api:
        got = api.get(f"/zones/{ENTERPRISE}/bot_management/feedback/{report_id}").json()
        listed = api.get(f"/zones/{ENTERPRISE}/bot_management/feedback").json()["result"]
    report = got["result"]
    assert [x["id"] for x in listed].count(report_id) == 1
    assert report["subtype"] is None  # a false positive has none: the form drops it
    assert report["description"] == "Customers on a new browser"
    for key in ("expression", "requests", "requests_by_score", "requests_by_score_src",
                "requests_by_attribute"):  # fmt: skip
        assert report[key] == prefill[key], key


def test_report_with_bad_input_comes_back_with_what_was_typed(alice: httpx.Client) -> None:
    _, fields = _report_form(alice, "range=1h&score_max=1")
    r = alice.post(f"{A}/report", data={**fields, "description": "   ", "type": "false_negative",
                                        "subtype": "not-a-subtype"},
                   headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 200
    assert "description: must not be empty" in r.text
    assert "subtype: unknown subtype" in r.text
    assert fields["idempotency_key"] in r.text  # resending it is still the same report
    missing = alice.post(f"{A}/report", data={**fields, "type": "", "description": "kept text"})
    assert missing.status_code == 400
    assert "choose false positive or false negative" in missing.text
    assert "kept text" in missing.text
    broken = alice.post(f"{A}/report", data={**fields, "prefill": "not json",
                                             "type": "false_positive", "description": "x"})  # fmt: skip
    assert "figures are missing" in broken.text


def test_static_assets_fit_the_budget(site: Site) -> None:
    total = 0
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".js", ".css"):
            total += len(gzip.compress(path.read_bytes(), 9))
            r = httpx.get(f"{site.dashboard}/static/{path.relative_to(STATIC_DIR)}")
            assert r.status_code == 200
    assert total <= 200 * 1024
    assert (STATIC_DIR / "vendor" / "uPlot.LICENSE.txt").is_file()
    assert (STATIC_DIR / "vendor" / "htmx.LICENSE.txt").is_file()
