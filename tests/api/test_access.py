"""A caller never reads or changes a zone (or an account) it has no grant for — proved for
every route of the app that takes a zone or an account, with a positive control."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from botwarden.api.app import create_app
from botwarden.api.routes.lists import Operations
from botwarden.store import FeedbackInput, FeedbackType, RuleInput
from tests.api.analytics_events import Events
from tests.api.conftest import SEED_ZONE, World
from tests.api.server import LiveServer

SEED_FEEDBACK: dict[str, Any] = {
    "type": "false_positive",
    "description": "Legitimate customers having low score",
    "expression": "cf.bot_management.score le 46 and ip.geoip.asnum eq 132892",
    "first_request_seen_at": "2022-08-01T00:00:00Z",
    "last_request_seen_at": "2022-08-10T00:00:00Z",
    "requests": 100,
    "requests_by_score": {"1": 50, "10": 50},
}
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/zones/{zone_id}/bot_management"): {"enable_js": False},
    ("PUT", "/zones/{zone_id}/bot_management/model"): {"version": "v1"},
    ("PUT", "/zones/{zone_id}/rulesets/phases/{phase}/entrypoint"): {
        "rules": [{"expression": "ip.src eq 192.0.2.1", "action": "block"}]
    },
    ("PUT", "/zones/{zone_id}/rulesets/{ruleset_id}"): {
        "rules": [{"expression": "ip.src eq 192.0.2.1", "action": "block"}]
    },
    ("POST", "/zones/{zone_id}/rulesets/{ruleset_id}/rules"): {
        "expression": "ssl",
        "action": "log",
    },
    ("PATCH", "/zones/{zone_id}/rulesets/{ruleset_id}/rules/{rule_id}"): {"enabled": False},
    ("POST", "/accounts/{account_id}/rules/lists"): {"name": "newlist", "kind": "ip"},
    ("PUT", "/accounts/{account_id}/rules/lists/{list_id}"): {"description": "changed"},
    ("POST", "/accounts/{account_id}/rules/lists/{list_id}/items"): [{"ip": "192.0.2.9"}],
    ("PUT", "/accounts/{account_id}/rules/lists/{list_id}/items"): [{"ip": "192.0.2.9"}],
    ("DELETE", "/accounts/{account_id}/rules/lists/{list_id}/items"): "ITEMS",
    ("POST", "/zones/{zone_id}/bot_management/feedback"): SEED_FEEDBACK,
    ("PATCH", "/zones/{zone_id}/bot_management/feedback/{report_id}"): {"status": "accepted"},
}
QUERIES: dict[str, dict[str, str]] = {
    "/zones/{zone_id}/bot_management/analytics/top": {"attribute": "topIPs"},
    "/zones/{zone_id}/bot_management/analytics/report_prefill": {
        "expression": 'http.host eq "example.com"'
    },
}


class Fixtures:
    """Fresh objects to point each request at, so every request could succeed."""

    def __init__(self, world: World, app: FastAPI) -> None:
        self.w = world
        self.app = app
        self.n = 0
        world.st.register_model("v1")
        self.ops = Operations()
        app.state.list_operations = self.ops

    def params(self) -> dict[str, str]:
        st, zone, acct = self.w.st, SEED_ZONE, self.w.account
        self.n += 1
        rs = st.put_phase_ruleset(
            zone, "http_request_firewall_custom", [RuleInput("ssl", "log", fingerprint="x")]
        )
        lst = st.create_list(acct, f"list{self.n}", "ip")
        st.add_list_items(acct, lst.id, [("192.0.2.1", "")])
        self.item_id = st.list_items(acct, lst.id)[0][0].id
        rep, _ = st.create_feedback(
            zone,
            FeedbackInput(
                FeedbackType.FALSE_NEGATIVE,
                "d",
                "ssl",
                datetime(2022, 8, 1, tzinfo=UTC),
                datetime(2022, 8, 2, tzinfo=UTC),
                1,
            ),
            created_by="t",
            request_hash=str(self.n),
        )
        return {
            "zone_id": zone,
            "account_id": acct,
            "ruleset_id": rs.id,
            "rule_id": rs.rules[0].id,
            "phase": "http_request_firewall_custom",
            "list_id": lst.id,
            "report_id": rep.id,
            "operation_id": self.ops.add(acct),
        }

    def snapshot(self) -> Any:
        st, w = self.w.st, self.w
        return (
            st.config_version(),
            [st.get_settings(z) for z in w.zones.values()],
            [st.list_rulesets(z) for z in w.zones.values()],
            st.list_lists(w.account),
            {lst.id: st.list_items(w.account, lst.id) for lst in st.list_lists(w.account)},
            [st.list_feedback(z, per_page=1000) for z in w.zones.values()],
        )


def guarded_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every operation of the OpenAPI document whose path names a zone or an account."""
    for path, ops in app.openapi()["paths"].items():
        if "{zone_id}" in path or "{account_id}" in path:
            for m in sorted(ops):
                yield m.upper(), path.removeprefix("/client/v4")


def _request(
    client: httpx.Client, method: str, path: str, params: dict[str, str], fx: Fixtures
) -> httpx.Response:
    url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    body = BODIES.get((method, path))
    if body == "ITEMS":
        body = {"items": [{"id": fx.item_id}]}
    return client.request(method, url, json=body, params=QUERIES.get(path))


@pytest.fixture
def live(world: World) -> Iterator[tuple[FastAPI, LiveServer, Fixtures]]:
    app = create_app(world.st, analytics_source=Events().source)
    fx = Fixtures(world, app)
    with LiveServer(app) as srv:
        yield app, srv, fx


def test_every_zone_and_account_route_refuses_callers_without_a_grant(
    world: World, live: tuple[FastAPI, LiveServer, Fixtures]
) -> None:
    app, srv, fx = live
    routes = list(guarded_routes(app))
    assert len(routes) >= 30
    outsiders = {
        "other account's key": world.other_headers(),
        "token for another zone": world.bearer("free-zone-only"),
    }
    with httpx.Client(base_url=srv.url + "/client/v4", timeout=30) as client:
        for method, path in routes:
            params = fx.params()
            before = fx.snapshot()
            for who, headers in outsiders.items():
                client.headers.clear()
                client.headers.update(headers)
                r = _request(client, method, path, params, fx)
                assert r.status_code in (403, 404), (who, method, path, r.status_code, r.text)
                assert r.json()["success"] is False
                assert r.json()["result"] is None
            assert fx.snapshot() == before, (method, path)
            # Positive control: the owner's request is accepted.
            client.headers.clear()
            client.headers.update(world.key_headers())
            r = _request(client, method, path, params, fx)
            assert 200 <= r.status_code < 300, (method, path, r.status_code, r.text)


def test_read_only_token_cannot_change_anything(
    world: World, live: tuple[FastAPI, LiveServer, Fixtures]
) -> None:
    app, srv, fx = live
    writes = [(m, p) for m, p in guarded_routes(app) if m != "GET"]
    with httpx.Client(
        base_url=srv.url + "/client/v4", headers=world.bearer("read-only"), timeout=30
    ) as client:
        for method, path in writes:
            params = fx.params()
            before = fx.snapshot()
            r = _request(client, method, path, params, fx)
            assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
            assert fx.snapshot() == before, (method, path)
