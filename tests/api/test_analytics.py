"""Analytics endpoints and the report prefill over the real analytics store (DuckDB, in
memory, through `QueriesSource`): plan gates, groupings below enterprise, and a prefill
that the Feedback API accepts as it is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from botwarden.api.app import create_app
from tests.api.analytics_events import Events
from tests.api.conftest import SEED_ZONE, World
from tests.api.server import LiveServer
from tests.api.test_feedback import SEED_BODY

NOW = datetime.now(UTC).replace(microsecond=0)
A = "/bot_management/analytics"


def _events(zone: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(40):  # a scraper: low scores, one JA3, one IP
        rows.append(
            {
                "ts": NOW - timedelta(minutes=30, seconds=i),
                "zone": zone,
                "client_ip": "203.0.113.9",
                "asn": 64500,
                "country": "NL",
                "host": "example.com",
                "path": f"/products/{i}",
                "user_agent": "python-requests/2.31",
                "ja3_hash": "3fed133de60c35724739b913924b6c24",
                "score": 1 if i < 10 else 12,
                "score_src": "Heuristics" if i < 10 else "Machine Learning",
            }
        )
    for i in range(60):  # people
        rows.append(
            {
                "ts": NOW - timedelta(minutes=90, seconds=i),
                "zone": zone,
                "client_ip": f"198.51.100.{i}",
                "asn": 64501,
                "country": "US",
                "host": "example.com",
                "path": "/",
                "user_agent": "Mozilla/5.0",
                "score": 80,
                "score_src": "Machine Learning",
            }
        )
    rows.append(  # a verified bot, and a request nothing scored
        {
            "ts": NOW - timedelta(minutes=5),
            "zone": zone,
            "client_ip": "66.249.66.1",
            "score": 1,
            "score_src": "Verified Bot",
            "verified_bot": True,
            "host": "example.com",
        }
    )
    rows.append(
        {
            "ts": NOW - timedelta(minutes=5),
            "zone": zone,
            "client_ip": "192.0.2.50",
            "score": 0,
            "score_src": "Not Computed",
            "host": "example.com",
        }
    )
    rows.append(
        {
            "ts": NOW - timedelta(days=3),
            "zone": zone,
            "client_ip": "192.0.2.1",
            "score": 50,
            "score_src": "Machine Learning",
        }
    )  # outside the default window
    return rows


@pytest.fixture
def aapi(world: World) -> Iterator[httpx.Client]:
    events = Events()
    for zone in (SEED_ZONE, world.zones["pro"], world.zones["free"]):
        events.insert(_events(zone))
    with (
        LiveServer(create_app(world.st, analytics_source=events.source)) as srv,
        httpx.Client(base_url=srv.url + "/client/v4", headers=world.key_headers(), timeout=30) as c,
    ):
        yield c


def test_summary(aapi: httpx.Client) -> None:
    r = aapi.get(f"/zones/{SEED_ZONE}{A}/summary")
    assert r.status_code == 200, r.text
    s = r.json()["result"]
    assert s["requests"] == 102
    assert s["by_grouping"] == {
        "automated": 10,
        "likely_automated": 30,
        "likely_human": 60,
        "verified_bot": 1,
        "not_computed": 1,
    }
    assert s["by_score_src"] == {
        "Heuristics": 10,
        "Machine Learning": 90,
        "Verified Bot": 1,
        "Not Computed": 1,
    }
    f = aapi.get(
        f"/zones/{SEED_ZONE}{A}/summary",
        params={"expression": 'http.user_agent contains "python"'},
    ).json()["result"]
    assert f["requests"] == 40
    week = aapi.get(
        f"/zones/{SEED_ZONE}{A}/summary",
        params={"since": (NOW - timedelta(days=7)).isoformat()},
    ).json()["result"]
    assert week["requests"] == 103


def test_filters_are_checked(aapi: httpx.Client) -> None:
    r = aapi.get(f"/zones/{SEED_ZONE}{A}/summary", params={"expression": "ssl"})
    assert r.status_code == 400
    assert "not stored in analytics" in r.json()["errors"][0]["message"]
    r = aapi.get(
        f"/zones/{SEED_ZONE}{A}/summary",
        params={"since": NOW.isoformat(), "until": (NOW - timedelta(hours=1)).isoformat()},
    )
    assert r.json()["errors"][0]["message"] == "since: must be before until"
    r = aapi.get(f"/zones/{SEED_ZONE}{A}/top", params={"attribute": "topColours"})
    assert r.json()["errors"][0]["message"].startswith("attribute: use one of")


def test_timeseries_top_samples(aapi: httpx.Client) -> None:
    pts = aapi.get(f"/zones/{SEED_ZONE}{A}/timeseries", params={"step": 3600}).json()["result"]
    assert sum(p["requests"] for p in pts) == 102
    assert all(p["ts"].endswith("Z") for p in pts)
    top = aapi.get(f"/zones/{SEED_ZONE}{A}/top", params={"attribute": "topIPs", "limit": 1})
    assert top.json()["result"] == [{"metric": "203.0.113.9", "requests": 40}]
    samples = aapi.get(f"/zones/{SEED_ZONE}{A}/samples", params={"limit": 3}).json()["result"]
    assert len(samples) == 3
    assert samples[0]["score"] in (0, 1)
    assert samples[0]["ts"].endswith("Z")


def test_granular_scores_only_on_enterprise(aapi: httpx.Client, world: World) -> None:
    ent = aapi.get(f"/zones/{SEED_ZONE}{A}/score_histogram").json()["result"]
    assert ent["granular"] is True
    assert ent["buckets"] == {"1": 11, "12": 30, "80": 60}
    pro = world.zones["pro"]
    hist = aapi.get(f"/zones/{pro}{A}/score_histogram").json()["result"]
    assert hist["granular"] is False
    assert hist["buckets"]["likely_automated"] == 30
    samples = aapi.get(f"/zones/{pro}{A}/samples").json()["result"]
    assert all("score" not in s and "grouping" in s for s in samples)
    prefill = aapi.get(
        f"/zones/{pro}{A}/report_prefill", params={"expression": "ip.geoip.asnum eq 64500"}
    ).json()["result"]
    assert prefill["requests_by_score"] is None
    assert prefill["requests"] == 40


def test_bot_analytics_from_pro_up(aapi: httpx.Client, world: World) -> None:
    r = aapi.get(f"/zones/{world.zones['free']}{A}/summary")
    assert r.status_code == 403
    assert r.json()["errors"][0]["code"] == 10010
    assert "pro plan" in r.json()["errors"][0]["message"]
    ro = aapi.get(f"/zones/{SEED_ZONE}{A}/summary", headers=world.bearer("read-only"))
    assert ro.status_code == 403


def test_prefill_is_a_report_the_feedback_api_accepts(aapi: httpx.Client) -> None:
    expression = 'http.user_agent contains "python" and cf.bot_management.score lt 30'
    r = aapi.get(f"/zones/{SEED_ZONE}{A}/report_prefill", params={"expression": expression})
    assert r.status_code == 200, r.text
    p = r.json()["result"]
    assert p["expression"] == expression
    assert p["last_request_seen_at"] <= datetime.now(UTC).isoformat()
    assert p["requests"] == 40
    assert p["requests_by_score"] == {"1": 10, "12": 30}
    assert dict(p["requests_by_score_src"]) == {"machine_learning": 30, "heuristics": 10}
    assert p["requests_by_attribute"]["topIPs"] == [{"metric": "203.0.113.9", "requests": 40}]
    assert p["requests_by_attribute"]["topJA3Hashes"][0]["requests"] == 40
    assert p["requests_by_attribute"]["topASNs"] == [{"metric": "64500", "requests": 40}]
    report = {
        "type": "false_negative",
        "subtype": "Scraping",
        "description": "a scraper the model missed",
        **p,
    }
    created = aapi.post(f"/zones/{SEED_ZONE}/bot_management/feedback", json=report)
    assert created.status_code == 201, created.text
    # Unscored requests never enter a prefill (their score 0 is not a bot score).
    everything = aapi.get(
        f"/zones/{SEED_ZONE}{A}/report_prefill", params={"expression": 'http.host eq "example.com"'}
    ).json()["result"]
    assert everything["requests"] == 101
    assert sum(everything["requests_by_score"].values()) == 101


def test_feedback_window_is_bounded_by_the_analytics_retention(world: World) -> None:
    events = Events(retention_days=30)
    with LiveServer(create_app(world.st, analytics_source=events.source)) as srv:
        r = httpx.post(
            srv.url + f"/client/v4/zones/{SEED_ZONE}/bot_management/feedback",
            json=SEED_BODY,
            headers=world.key_headers(),
        )
    assert r.status_code == 400
    assert "older than the analytics retention (30 days" in r.json()["errors"][0]["message"]
