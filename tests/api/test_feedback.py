"""The Feedback API: the seed's body, every validation the issue names, idempotency,
listing, the review update and the plan gates."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from botwarden.api.app import create_app
from botwarden.store import Grant, Permission
from tests.api.conftest import SEED_EMAIL, SEED_ZONE, World
from tests.api.server import LiveServer

FEEDBACK = f"/zones/{SEED_ZONE}/bot_management/feedback"
SEED_BODY: dict[str, Any] = {
    "type": "false_positive",
    "description": "Legitimate customers having low score",
    "expression": '(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and http.host eq "api-discovery.theburritobot.com" and cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24")',
    "first_request_seen_at": "2022-08-01T00:00:00Z",
    "last_request_seen_at": "2022-08-10T00:00:00Z",
    "requests": 100,
    "requests_by_score": {"1": 50, "10": 50},
    "requests_by_score_src": {"heuristics": 25, "machine_learning": 75},
    "requests_by_attribute": {
        "topIPs": [{"metric": "10.75.34.1", "requests": 100}],
        "topUserAgents": [{"metric": "curl/7.68.0", "requests": 100}],
    },
}


def body(**changes: Any) -> dict[str, Any]:
    b = copy.deepcopy(SEED_BODY)
    for k, v in changes.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def errors(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    assert {e["code"] for e in r.json()["errors"]} == {10001}
    return [e["message"] for e in r.json()["errors"]]


def test_seed_body_creates_a_pending_report(api: httpx.Client) -> None:
    r = api.post(FEEDBACK, json=SEED_BODY)
    assert r.status_code == 201, r.text
    rep = r.json()["result"]
    assert rep["status"] == "pending"
    assert rep["zone_id"] == SEED_ZONE
    assert rep["created_by"] == SEED_EMAIL
    assert rep["requests"] == 100
    assert rep["first_request_seen_at"] == "2022-08-01T00:00:00Z"
    assert rep["requests_by_score_src"] == {"heuristics": 25, "machine_learning": 75}
    assert rep["subtype"] is None
    assert rep["reviewer"] is None
    listed = api.get(FEEDBACK).json()
    assert [x["id"] for x in listed["result"]] == [rep["id"]]
    assert listed["result_info"]["total_count"] == 1
    assert api.get(f"{FEEDBACK}/{rep['id']}").json()["result"] == rep
    assert api.get(f"{FEEDBACK}/{'0' * 32}").status_code == 404


def test_type_and_subtype(api: httpx.Client) -> None:
    assert errors(api.post(FEEDBACK, json=body(type="wrong")))[0].startswith("type:")
    msg = errors(api.post(FEEDBACK, json=body(subtype="scraping")))
    assert msg == ["subtype: only false_negative reports have a subtype"]
    for given in ("Account Creation Abuse", "account_creation_abuse"):
        r = api.post(FEEDBACK, json=body(type="false_negative", subtype=given))
        assert r.status_code == 201, r.text
        assert r.json()["result"]["subtype"] == "account_creation_abuse"
    r = api.post(FEEDBACK, json=body(type="false_negative", subtype="Vulnerability Scanning"))
    assert r.json()["result"]["subtype"] == "vulnerability_scanning"
    assert api.post(FEEDBACK, json=body(type="false_negative")).status_code == 201
    msg = errors(api.post(FEEDBACK, json=body(type="false_negative", subtype="cheating")))
    assert msg[0].startswith("subtype: unknown subtype 'cheating'; use one of")
    assert "denial_of_service" in msg[0]


def test_description_present_and_bounded(api: httpx.Client) -> None:
    assert errors(api.post(FEEDBACK, json=body(description=None))) == ["description: is required"]
    assert errors(api.post(FEEDBACK, json=body(description="   ")))[0].startswith(
        "description: must not be empty"
    )
    assert errors(api.post(FEEDBACK, json=body(description="x" * 1001)))[0].startswith(
        "description: String should have at most 1000 characters"
    )


def test_expression_compiles_and_uses_stored_fields(api: httpx.Client) -> None:
    first = errors(api.post(FEEDBACK, json=body(expression="cf.bot_management.score le")))[0]
    assert first.startswith("expression: unexpected end of expression")
    assert first.splitlines()[1:] == ["cf.bot_management.score le", " " * 26 + "^"]
    msg = errors(api.post(FEEDBACK, json=body(expression='http.request.headers["x"][0] eq "1"')))
    assert "is not stored in analytics" in msg[0]
    assert msg[0].startswith("expression: http.request.headers")
    msg = errors(api.post(FEEDBACK, json=body(expression="ip.src in $nope")))
    assert "list $nope does not exist" in msg[0]
    assert errors(api.post(FEEDBACK, json=body(expression="")))[0].startswith(
        "expression: must not be empty"
    )


def test_window_checks(api: httpx.Client) -> None:
    msg = errors(api.post(FEEDBACK, json=body(first_request_seen_at="2022-08-11T00:00:00Z")))
    assert msg[0].startswith("first_request_seen_at: must not be after last_request_seen_at")
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    msg = errors(api.post(FEEDBACK, json=body(last_request_seen_at=future)))
    assert msg == [f"last_request_seen_at: {future} is in the future"]
    msg = errors(api.post(FEEDBACK, json=body(first_request_seen_at="2022-08-01T00:00:00")))
    assert msg[0].startswith("first_request_seen_at: Input should have timezone info")
    msg = errors(api.post(FEEDBACK, json=body(last_request_seen_at="yesterday")))
    assert msg[0].startswith("last_request_seen_at:")


def test_window_within_retention(world: World) -> None:
    app = create_app(world.st, retention=timedelta(days=30))
    with (
        LiveServer(app) as srv,
        httpx.Client(base_url=srv.url + "/client/v4", headers=world.key_headers()) as c,
    ):
        msg = errors(c.post(FEEDBACK, json=SEED_BODY))
        assert msg[0].startswith("first_request_seen_at: 2022-08-01T00:00:00Z is older than")
        assert "30 days" in msg[0]
        now = datetime.now(UTC)
        recent = body(
            first_request_seen_at=(now - timedelta(days=2)).isoformat(),
            last_request_seen_at=(now - timedelta(days=1)).isoformat(),
        )
        assert c.post(FEEDBACK, json=recent).status_code == 201


def test_requests_and_breakdowns(api: httpx.Client) -> None:
    assert errors(api.post(FEEDBACK, json=body(requests=0)))[0].startswith("requests:")
    assert errors(api.post(FEEDBACK, json=body(requests="100")))[0].startswith("requests:")
    assert errors(api.post(FEEDBACK, json=body(requests=100.5)))[0].startswith("requests:")
    msg = errors(api.post(FEEDBACK, json=body(requests_by_score={"0": 50, "100": 25, "x": 25})))
    assert msg == [
        "requests_by_score: key '0' is not a bot score 1…99",
        "requests_by_score: key '100' is not a bot score 1…99",
        "requests_by_score: key 'x' is not a bot score 1…99",
    ]
    msg = errors(api.post(FEEDBACK, json=body(requests_by_score={"1": 50, "99": 40})))
    assert msg == ["requests_by_score: the counts sum to 90, but requests is 100"]
    msg = errors(api.post(FEEDBACK, json=body(requests_by_score={"1": -1, "2": 101})))
    assert msg[0].startswith("requests_by_score.1:")


def test_score_sources(api: httpx.Client) -> None:
    r = api.post(
        FEEDBACK,
        json=body(requests_by_score_src={"ml": 60, "anomaly_detection": 30, "verified_bot": 10}),
    )
    assert r.status_code == 201, r.text
    assert r.json()["result"]["requests_by_score_src"] == {
        "machine_learning": 60,
        "behavioral_analysis": 30,
        "verified_bot": 10,
    }
    msg = errors(api.post(FEEDBACK, json=body(requests_by_score_src={"magic": 100})))
    assert msg[0].startswith("requests_by_score_src: key 'magic' is not a score source; use")
    msg = errors(
        api.post(FEEDBACK, json=body(requests_by_score_src={"ml": 50, "machine_learning": 50}))
    )
    assert msg == ["requests_by_score_src: 'ml' and 'machine_learning' name the same source"]
    msg = errors(api.post(FEEDBACK, json=body(requests_by_score_src={"heuristics": 1})))
    assert msg == ["requests_by_score_src: the counts sum to 1, but requests is 100"]


def test_attributes(api: httpx.Client) -> None:
    attrs = {
        "topIPs": [
            {"metric": "2001:DB8::1", "requests": 60},
            {"metric": "10.0.0.1", "requests": 40},
        ],
        "topASNs": [{"metric": 13335, "requests": 100}],
        "topCountries": [{"metric": "us", "requests": 100}],
        "topHosts": [{"metric": "example.com", "requests": 100}],
        "topPaths": [{"metric": "/login", "requests": 100}],
        "topJA3Hashes": [{"metric": "3FED133DE60C35724739B913924B6C24", "requests": 100}],
        "topJA4s": [{"metric": "t13d1516h2_8daaf6152771_e5627efa2ab1", "requests": 100}],
        "topUserAgents": [],
    }
    r = api.post(FEEDBACK, json=body(requests_by_attribute=attrs))
    assert r.status_code == 201, r.text
    got = r.json()["result"]["requests_by_attribute"]
    assert got["topIPs"][0] == {"metric": "2001:db8::1", "requests": 60}
    assert got["topASNs"] == [{"metric": "13335", "requests": 100}]
    assert got["topCountries"] == [{"metric": "US", "requests": 100}]
    assert got["topJA3Hashes"][0]["metric"] == "3fed133de60c35724739b913924b6c24"
    msg = errors(api.post(FEEDBACK, json=body(requests_by_attribute={"topColors": []})))
    assert msg[0].startswith("requests_by_attribute: key 'topColors' is not an attribute; use")
    msg = errors(
        api.post(
            FEEDBACK,
            json=body(
                requests_by_attribute={
                    "topIPs": [
                        {"metric": "not-an-ip", "requests": 1},
                        {"metric": "10.0.0.1", "requests": 101},
                    ],
                    "topASNs": [{"metric": "ASxyz", "requests": 1}],
                }
            ),
        )
    )
    assert msg == [
        "requests_by_attribute.topIPs[0].metric: 'not-an-ip' is not an IP address",
        "requests_by_attribute.topIPs[1].requests: 101 is more than requests (100)",
        "requests_by_attribute.topIPs: the counts sum to 102, more than requests (100)",
        "requests_by_attribute.topASNs[0].metric: 'ASxyz' is not an AS number",
    ]
    msg = errors(
        api.post(
            FEEDBACK, json=body(requests_by_attribute={"topPaths": [{"metric": "", "requests": 1}]})
        )
    )
    assert msg == ["requests_by_attribute.topPaths[0].metric: must not be empty"]
    msg = errors(api.post(FEEDBACK, json=body(requests_by_attribute={"topIPs": [{"ip": "1"}]})))
    assert any(m.startswith("requests_by_attribute.topIPs.0.") for m in msg)
    msg = errors(api.post(FEEDBACK, json=body(requests_by_attribute={"topIPs": "10.0.0.1"})))
    assert msg[0].startswith("requests_by_attribute.topIPs: Input should be a valid list")


def test_all_problems_at_once_and_unknown_fields(api: httpx.Client) -> None:
    msg = errors(
        api.post(
            FEEDBACK,
            json=body(subtype="scraping", requests_by_score={"1": 1}, expression="ssl and"),
        )
    )
    assert [m.split(":")[0] for m in msg] == ["subtype", "expression", "requests_by_score"]
    assert errors(api.post(FEEDBACK, json=body(colour="blue"))) == ["colour: is not a known field"]


def test_idempotency_key(api: httpx.Client) -> None:
    h = {"Idempotency-Key": "report-2022-08-01"}
    a = api.post(FEEDBACK, json=SEED_BODY, headers=h)
    b = api.post(FEEDBACK, json=SEED_BODY, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["result"] == b.json()["result"]
    assert "idempotent-replayed" not in a.headers
    assert b.headers["idempotent-replayed"] == "true"
    assert api.get(FEEDBACK).json()["result_info"]["total_count"] == 1
    c = api.post(FEEDBACK, json=body(description="something else"), headers=h)
    assert c.status_code == 422
    assert c.json()["errors"][0]["code"] == 10422
    assert c.json()["errors"][0]["message"].startswith("Idempotency-Key:")
    other = api.post(FEEDBACK, json=SEED_BODY, headers={"Idempotency-Key": "another"})
    assert other.json()["result"]["id"] != a.json()["result"]["id"]
    assert api.get(FEEDBACK).json()["result_info"]["total_count"] == 2


def test_list_filters_and_pages(api: httpx.Client) -> None:
    for _ in range(3):
        api.post(FEEDBACK, json=SEED_BODY)
    api.post(FEEDBACK, json=body(type="false_negative", subtype="scraping"))
    page = api.get(FEEDBACK, params={"per_page": 2, "page": 2}).json()
    assert page["result_info"] == {
        "page": 2,
        "per_page": 2,
        "count": 2,
        "total_count": 4,
        "total_pages": 2,
    }
    fns = api.get(FEEDBACK, params={"type": "false_negative"}).json()["result"]
    assert [x["subtype"] for x in fns] == ["scraping"]
    assert api.get(FEEDBACK, params={"status": "accepted"}).json()["result"] == []
    assert api.get(FEEDBACK, params={"status": "bogus"}).status_code == 400


def test_review(api: httpx.Client, world: World) -> None:
    rep = api.post(FEEDBACK, json=SEED_BODY).json()["result"]
    url = f"{FEEDBACK}/{rep['id']}"
    ro = api.patch(url, json={"status": "accepted"}, headers=world.bearer("read-only"))
    assert ro.status_code == 403
    r = api.patch(url, json={"status": "accepted", "note": "matches the JA3 of our app"})
    assert r.status_code == 200, r.text
    got = r.json()["result"]
    assert got["status"] == "accepted"
    assert got["reviewer"] == SEED_EMAIL
    assert got["note"] == "matches the JA3 of our app"
    assert got["reviewed_on"] is not None
    assert (
        api.get(FEEDBACK, params={"status": "accepted"}).json()["result_info"]["total_count"] == 1
    )
    assert api.patch(url, json={"status": "labelled"}).status_code == 400
    assert api.patch(url, json={"status": "rejected"}).json()["result"]["status"] == "rejected"
    assert api.patch(url, json={"status": "accepted"}).status_code == 200
    world.st.mark_feedback_labelled([rep["id"]])
    locked = api.patch(url, json={"status": "rejected"})
    assert locked.status_code == 409
    assert locked.json()["errors"][0]["message"].startswith("status:")
    assert api.patch(f"{FEEDBACK}/{'0' * 32}", json={"status": "accepted"}).status_code == 404


@pytest.mark.parametrize(
    ("plan", "permissions", "sbfm", "expected"),
    [
        ("free", "all", False, 403),
        ("pro", "all", False, 201),
        ("pro", "feedback-only", False, 403),
        ("business", "feedback-only", False, 403),
        ("business", "feedback-only", True, 201),
        ("enterprise", "feedback-only", True, 201),
        ("enterprise", "analytics+feedback", False, 201),
        ("pro", "analytics-only", False, 403),
    ],
)
def test_who_may_send_feedback(
    anon: httpx.Client, world: World, plan: str, permissions: str, sbfm: bool, expected: int
) -> None:
    zone = world.zones[plan]
    if sbfm:
        world.st.update_settings(zone, {"sbfm_definitely_automated": "block"})
    perms = {
        "all": frozenset(Permission),
        "feedback-only": frozenset({Permission.BOT_FEEDBACK_WRITE}),
        "analytics+feedback": frozenset(
            {Permission.BOT_FEEDBACK_WRITE, Permission.BOT_ANALYTICS_READ}
        ),
        "analytics-only": frozenset({Permission.BOT_ANALYTICS_READ}),
    }[permissions]
    h = world.token("t", Grant(perms, zone_ids=frozenset({zone})))
    b = body(expression="ip.geoip.asnum eq 132892")
    r = anon.post(f"/zones/{zone}/bot_management/feedback", json=b, headers=h)
    assert r.status_code == expected, r.text
    if expected == 403 and permissions != "analytics-only":
        assert "Bot Analytics" in r.json()["errors"][0]["message"]
        assert r.json()["errors"][0]["code"] == (10010 if plan == "free" else 10000)
