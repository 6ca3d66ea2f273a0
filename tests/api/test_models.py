"""Model versions: list with metrics, show one, promote (administrators), pin a zone."""

from __future__ import annotations

import httpx

from botwarden.store import Grant, Permission
from tests.api.conftest import SEED_ZONE, World


def test_models(api: httpx.Client, world: World) -> None:
    world.st.register_model("2024.1", metrics={"auc": 0.97, "fpr_at_30": 0.01}, fingerprint="f1")
    world.st.register_model("2024.2", metrics={"auc": 0.98})
    listed = api.get("/bot_management/models").json()
    assert [m["version"] for m in listed["result"]] == ["2024.2", "2024.1"]
    assert listed["result_info"]["total_count"] == 2
    one = api.get("/bot_management/models/2024.1").json()["result"]
    assert one["metrics"] == {"auc": 0.97, "fpr_at_30": 0.01}
    assert one["latest"] is False
    assert api.get("/bot_management/models/nope").status_code == 404
    # Promotion changes what every unpinned zone runs: administrators only.
    r = api.post("/bot_management/models/2024.2/promote")
    assert r.status_code == 403
    admin = {"X-Auth-Email": "admin@example.com", "X-Auth-Key": world.admin_key}
    r = api.post("/bot_management/models/2024.2/promote", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["latest"] is True
    assert api.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"]["model_version"] == (
        "2024.2"
    )
    admin_id = world.st.find_user("admin@example.com").id
    weak = world.token(
        "admin-read",
        Grant(frozenset({Permission.ZONE_READ}), account_ids=frozenset({world.account})),
        user_id=admin_id,
    )
    assert api.post("/bot_management/models/2024.1/promote", headers=weak).status_code == 403
    strong = world.token(
        "admin-edit",
        Grant(frozenset({Permission.BOT_MANAGEMENT_EDIT}), account_ids=frozenset({world.account})),
        user_id=admin_id,
    )
    assert api.post("/bot_management/models/2024.1/promote", headers=strong).status_code == 200
    pinned = api.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": "2024.2"})
    assert pinned.json()["result"]["model_version"] == "2024.2"
    assert pinned.json()["result"]["using_latest_model"] is False
    unpinned = api.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": None})
    assert unpinned.json()["result"]["model_version"] == "2024.1"
    bad = api.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": "9.9"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"].startswith("version:")
