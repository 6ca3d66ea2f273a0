"""The API on PostgreSQL: the seed's report, idempotency and settings, end to end."""

from __future__ import annotations

import httpx
import pytest

from botwarden import store
from botwarden.api.app import create_app
from tests.api.conftest import SEED_ZONE, build_world
from tests.api.server import LiveServer
from tests.api.test_feedback import SEED_BODY
from tests.store.helpers import postgres_url

pytestmark = pytest.mark.service


def test_feedback_and_settings_on_postgresql() -> None:
    with postgres_url() as url:
        st = store.open(url)
        try:
            world = build_world(st)
            with (
                LiveServer(create_app(st)) as srv,
                httpx.Client(base_url=srv.url + "/client/v4", headers=world.key_headers()) as c,
            ):
                path = f"/zones/{SEED_ZONE}/bot_management/feedback"
                h = {"Idempotency-Key": "pg-1"}
                a = c.post(path, json=SEED_BODY, headers=h)
                b = c.post(path, json=SEED_BODY, headers=h)
                assert a.status_code == b.status_code == 201, a.text
                assert a.json()["result"]["id"] == b.json()["result"]["id"]
                assert a.json()["result"]["first_request_seen_at"] == "2022-08-01T00:00:00Z"
                listed = c.get(path).json()
                assert listed["result_info"]["total_count"] == 1
                r = c.put(f"/zones/{SEED_ZONE}/bot_management", json={"enable_js": False})
                assert r.json()["result"]["enable_js"] is False
                assert (
                    c.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"]["enable_js"]
                    is False
                )
        finally:
            st.close()
