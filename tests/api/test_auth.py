"""Authentication (global key, API tokens) and what each grant lets a caller see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from botwarden.store import Grant, Permission
from tests.api.conftest import SEED_EMAIL, SEED_KEY, SEED_ZONE, World


def _codes(r: httpx.Response) -> list[int]:
    return [e["code"] for e in r.json()["errors"]]


def test_global_key(anon: httpx.Client, world: World) -> None:
    ok = anon.get("/user", headers=world.key_headers())
    assert ok.status_code == 200
    assert ok.json()["result"]["email"] == SEED_EMAIL
    assert ok.json()["result"]["has_enterprise_zones"] is True
    bad = anon.get("/user", headers={"X-Auth-Email": SEED_EMAIL, "X-Auth-Key": SEED_KEY + "0"})
    assert bad.status_code == 401
    assert _codes(bad) == [9103]
    unknown = anon.get("/user", headers={"X-Auth-Email": "no@example.com", "X-Auth-Key": SEED_KEY})
    assert _codes(unknown) == [9103]
    half = anon.get("/user", headers={"X-Auth-Email": SEED_EMAIL})
    assert half.status_code == 401
    assert "X-Auth-Key" in half.json()["errors"][0]["message"]


def test_token_verify(anon: httpx.Client, world: World) -> None:
    r = anon.get("/user/tokens/verify", headers=world.bearer("all"))
    assert r.status_code == 200
    assert r.json()["result"]["status"] == "active"
    assert len(r.json()["result"]["id"]) == 32
    bad = anon.get("/user/tokens/verify", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert _codes(bad) == [1000]
    malformed = anon.get("/user/tokens/verify", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 400
    assert _codes(malformed) == [6003]
    assert anon.get("/user/tokens/verify", headers=world.key_headers()).status_code == 400


def test_disabled_and_expired_tokens(anon: httpx.Client, world: World) -> None:
    uid = world.st.find_user(SEED_EMAIL).id
    grant = Grant(frozenset({Permission.ZONE_READ}), account_ids=frozenset({world.account}))
    tok, value = world.st.create_token(uid, "soon-off", [grant])
    world.st.set_token_status(tok.id, "disabled")
    h = {"Authorization": f"Bearer {value}"}
    assert anon.get("/user/tokens/verify", headers=h).json()["result"]["status"] == "disabled"
    r = anon.get("/zones", headers=h)
    assert r.status_code == 401
    assert _codes(r) == [1001]
    _, old = world.st.create_token(
        uid, "old", [grant], expires_on=datetime.now(UTC) - timedelta(seconds=1)
    )
    h = {"Authorization": f"Bearer {old}"}
    assert anon.get("/user/tokens/verify", headers=h).json()["result"]["status"] == "expired"
    assert anon.get("/zones", headers=h).status_code == 401
    _, later = world.st.create_token(
        uid, "later", [grant], not_before=datetime.now(UTC) + timedelta(hours=1)
    )
    r = anon.get("/zones", headers={"Authorization": f"Bearer {later}"})
    assert r.status_code == 401
    assert "not yet valid" in r.json()["errors"][0]["message"]


def test_zone_list_follows_grants(anon: httpx.Client, world: World) -> None:
    names = {z["name"] for z in anon.get("/zones", headers=world.key_headers()).json()["result"]}
    assert names == {"example.com", "business.example", "pro.example", "free.example"}
    scoped = anon.get("/zones", headers=world.bearer("free-zone-only")).json()
    assert [z["name"] for z in scoped["result"]] == ["free.example"]
    assert scoped["result_info"]["total_count"] == 1
    other = anon.get("/zones", headers=world.other_headers()).json()["result"]
    assert [z["name"] for z in other] == ["other.example"]
    by_name = anon.get("/zones", params={"name": "example.com"}, headers=world.key_headers())
    assert [z["id"] for z in by_name.json()["result"]] == [SEED_ZONE]
    assert (
        anon.get(
            "/zones", params={"account.id": world.other_account}, headers=world.key_headers()
        ).json()["result"]
        == []
    )


def test_zone_details_and_permissions(anon: httpx.Client, world: World) -> None:
    z = anon.get(f"/zones/{SEED_ZONE}", headers=world.bearer("read-only")).json()["result"]
    assert z["plan"]["legacy_id"] == "enterprise"
    assert z["account"]["name"] == "Acme"
    assert z["permissions"] == ["bot_management_read", "zone_read"]
    # Another account's zone looks exactly like one that does not exist.
    a = anon.get(f"/zones/{world.zones['other']}", headers=world.key_headers())
    b = anon.get(f"/zones/{'0' * 32}", headers=world.key_headers())
    assert a.status_code == b.status_code == 404
    assert _codes(a) == _codes(b) == [7003]
    assert (
        anon.get(f"/zones/{SEED_ZONE}", headers=world.bearer("free-zone-only")).status_code == 404
    )


def test_a_token_never_reaches_beyond_its_owners_accounts(anon: httpx.Client, world: World) -> None:
    uid = world.st.find_user(SEED_EMAIL).id
    _, value = world.st.create_token(
        uid,
        "overreach",
        [Grant(frozenset(Permission), zone_ids=frozenset({world.zones["other"]}))],
    )
    h = {"Authorization": f"Bearer {value}"}
    assert anon.get(f"/zones/{world.zones['other']}", headers=h).status_code == 404
    assert anon.get("/zones", headers=h).json()["result"] == []


def test_permission_groups_and_accounts(anon: httpx.Client, world: World) -> None:
    groups = anon.get("/user/tokens/permission_groups", headers=world.key_headers()).json()
    assert {g["name"] for g in groups["result"]} == {
        "Zone Read",
        "Bot Management Read",
        "Bot Management Edit",
        "Bot Analytics Read",
        "Firewall Edit",
        "Bot Feedback Write",
    }
    accts = anon.get("/accounts", headers=world.key_headers()).json()["result"]
    assert [a["name"] for a in accts] == ["Acme"]
    assert anon.get("/accounts", headers=world.bearer("free-zone-only")).json()["result"] == []
