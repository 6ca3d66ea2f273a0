"""Every answer is Cloudflare's envelope: successes, 400, 401, 404, 405 and 500 alike."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from botwarden import store
from botwarden.api.app import create_app
from tests.api.conftest import SEED_ZONE, World
from tests.api.server import LiveServer


def _is_error(body: dict[str, Any], code: int) -> None:
    assert body["success"] is False
    assert body["result"] is None
    assert body["messages"] == []
    assert [e["code"] for e in body["errors"]][:1] == [code]
    assert all(isinstance(e["message"], str) and e["message"] for e in body["errors"])


def test_success_envelope_and_request_id(api: httpx.Client) -> None:
    r = api.get("/zones", headers={"X-Request-Id": "trace-123"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"success", "errors", "messages", "result", "result_info"}
    assert body["success"] is True
    assert body["errors"] == []
    assert body["result_info"]["total_count"] == 4
    assert r.headers["x-request-id"] == "trace-123"
    other = api.get("/zones", headers={"X-Request-Id": "bad id with spaces"})
    assert len(other.headers["x-request-id"]) == 32


def test_unknown_route_is_404_in_the_envelope(api: httpx.Client) -> None:
    r = api.get("/no/such/thing")
    assert r.status_code == 404
    _is_error(r.json(), 7000)
    assert r.headers["x-request-id"]


def test_wrong_method_is_405_in_the_envelope(api: httpx.Client) -> None:
    r = api.delete(f"/zones/{SEED_ZONE}/bot_management")
    assert r.status_code == 405
    _is_error(r.json(), 10405)
    assert "GET" in r.headers["allow"]


def test_invalid_json_and_fields_are_400_naming_the_field(api: httpx.Client) -> None:
    r = api.put(
        f"/zones/{SEED_ZONE}/bot_management",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    _is_error(r.json(), 10001)
    assert "JSON" in r.json()["errors"][0]["message"]
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"enable_js": "maybe"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("enable_js:")
    r = api.get("/zones", params={"per_page": 0})
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("per_page:")


def test_missing_credentials_are_401(anon: httpx.Client) -> None:
    r = anon.get("/zones")
    assert r.status_code == 401
    _is_error(r.json(), 9106)


def test_internal_errors_are_500_in_the_envelope(world: World) -> None:
    app: FastAPI = create_app(world.st)

    @app.get("/client/v4/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with LiveServer(app) as srv:
        r = httpx.get(srv.url + "/client/v4/boom")
    assert r.status_code == 500
    _is_error(r.json(), 10500)
    assert r.headers["x-request-id"] in r.json()["errors"][0]["message"]
    assert "kaboom" not in r.text


def test_openapi_is_served_under_client_v4(anon: httpx.Client) -> None:
    r = anon.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert "/client/v4/zones/{zone_id}/bot_management/feedback" in paths
    assert "/client/v4/zones/{zone_id}/rulesets/phases/{phase}/entrypoint" in paths
    # analytics endpoints are mounted only with an analytics source
    assert not any("/analytics/" in p for p in paths)


def test_store_fixture_is_sqlite(st: store.Store) -> None:
    assert st.dialect == "sqlite"
