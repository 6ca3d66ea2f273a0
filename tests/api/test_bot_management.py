"""Bot management settings: Cloudflare's fields, shaped and gated by the zone's plan."""

from __future__ import annotations

import httpx

from tests.api.conftest import SEED_ZONE, World


def test_enterprise_settings_have_cloudflare_fields(api: httpx.Client) -> None:
    r = api.get(f"/zones/{SEED_ZONE}/bot_management")
    assert r.status_code == 200
    res = r.json()["result"]
    assert res == {
        "enable_js": True,
        "ai_bots_protection": "disabled",
        "crawler_protection": "disabled",
        "auto_update_model": True,
        "suppress_session_score": False,
        "bm_cookie_enabled": True,
        "anomaly_detection": False,
        "using_latest_model": True,
        "model_pin": None,
        "model_version": None,
    }


def test_shapes_per_plan(api: httpx.Client, world: World) -> None:
    free = api.get(f"/zones/{world.zones['free']}/bot_management").json()["result"]
    assert free["fight_mode"] is False
    assert "sbfm_definitely_automated" not in free
    assert "auto_update_model" not in free
    pro = api.get(f"/zones/{world.zones['pro']}/bot_management").json()["result"]
    assert pro["sbfm_definitely_automated"] == "allow"
    assert "sbfm_likely_automated" not in pro
    assert "fight_mode" not in pro
    biz = api.get(f"/zones/{world.zones['business']}/bot_management").json()["result"]
    assert biz["sbfm_likely_automated"] == "allow"
    assert biz["optimize_wordpress"] is False


def test_put_changes_only_what_is_sent(api: httpx.Client, world: World) -> None:
    v = world.st.config_version()
    r = api.put(
        f"/zones/{SEED_ZONE}/bot_management",
        json={"enable_js": False, "suppress_session_score": True, "anomaly_detection": True},
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["enable_js"] is False
    assert res["suppress_session_score"] is True
    assert res["anomaly_detection"] is True
    assert res["bm_cookie_enabled"] is True
    assert api.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"] == res
    assert world.st.config_version() == v + 1
    # A GET result can be PUT back: read-only fields are ignored.
    assert api.put(f"/zones/{SEED_ZONE}/bot_management", json=res).status_code == 200


def test_plan_gates_refuse_fields_by_name(api: httpx.Client, world: World) -> None:
    r = api.put(
        f"/zones/{world.zones['pro']}/bot_management",
        json={"sbfm_likely_automated": "block", "auto_update_model": False},
    )
    assert r.status_code == 400
    messages = [e["message"] for e in r.json()["errors"]]
    assert messages == [
        "auto_update_model: available on the enterprise plan; this zone is on the pro plan",
        "sbfm_likely_automated: available on the business plan; this zone is on the pro plan",
    ]
    assert {e["code"] for e in r.json()["errors"]} == {10010}
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"sbfm_definitely_automated": "block"})
    assert r.status_code == 400
    assert "the pro and business plans" in r.json()["errors"][0]["message"]
    r = api.put(f"/zones/{world.zones['business']}/bot_management", json={"fight_mode": True})
    assert "available on the free plan" in r.json()["errors"][0]["message"]
    ok = api.put(
        f"/zones/{world.zones['business']}/bot_management",
        json={"sbfm_likely_automated": "managed_challenge", "sbfm_verified_bots": "block"},
    )
    assert ok.status_code == 200
    assert ok.json()["result"]["sbfm_likely_automated"] == "managed_challenge"


def test_values_are_validated(api: httpx.Client, world: World) -> None:
    r = api.put(
        f"/zones/{world.zones['pro']}/bot_management",
        json={"sbfm_definitely_automated": "explode"},
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("sbfm_definitely_automated:")
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"enable_js": None})
    assert r.json()["errors"][0]["message"] == "enable_js: must not be null"


def test_stale_settings_after_a_downgrade(api: httpx.Client, world: World) -> None:
    zone = world.zones["business"]
    api.put(f"/zones/{zone}/bot_management", json={"sbfm_likely_automated": "block"})
    world.st.set_zone_plan(zone, "pro")
    res = api.get(f"/zones/{zone}/bot_management").json()["result"]
    assert res["stale_zone_configuration"] == {"sbfm_likely_automated": "block"}


def test_model_pin_and_auto_update(api: httpx.Client, world: World) -> None:
    world.st.register_model("2024.1")
    world.st.register_model("2024.2")
    world.st.promote_model("2024.1")
    res = api.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"]
    assert res["model_version"] == "2024.1"
    assert res["using_latest_model"] is True
    r = api.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": "2024.2"})
    assert r.status_code == 200
    assert r.json()["result"]["model_pin"] == "2024.2"
    assert r.json()["result"]["using_latest_model"] is False
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"model_pin": "nope"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("model_pin:")
    api.put(f"/zones/{SEED_ZONE}/bot_management", json={"model_pin": None})
    # Turning automatic updates off keeps the zone on the model it runs now.
    world.st.promote_model("2024.2")
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"auto_update_model": False})
    assert r.json()["result"]["model_pin"] == "2024.2"
    world.st.register_model("2024.3")
    world.st.promote_model("2024.3")
    res = api.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"]
    assert res["model_version"] == "2024.2"
    assert res["using_latest_model"] is False


def test_permissions_read_vs_edit(world: World, api: httpx.Client) -> None:
    ro = world.bearer("read-only")
    assert api.get(f"/zones/{SEED_ZONE}/bot_management", headers=ro).status_code == 200
    r = api.put(f"/zones/{SEED_ZONE}/bot_management", json={"enable_js": False}, headers=ro)
    assert r.status_code == 403
    assert r.json()["errors"][0]["code"] == 10000
    assert "Bot Management Edit" in r.json()["errors"][0]["message"]
