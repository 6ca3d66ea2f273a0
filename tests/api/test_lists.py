"""Account lists and their items, and the rules that name them."""

from __future__ import annotations

import httpx

from tests.api.conftest import SEED_ZONE, World


def test_list_lifecycle(api: httpx.Client, world: World) -> None:
    base = f"/accounts/{world.account}/rules/lists"
    r = api.post(base, json={"name": "office", "kind": "ip", "description": "HQ"})
    assert r.status_code == 200, r.text
    lst = r.json()["result"]
    assert (lst["name"], lst["kind"], lst["num_items"]) == ("office", "ip", 0)
    assert api.post(base, json={"name": "office", "kind": "ip"}).status_code == 409
    bad = api.post(base, json={"name": "Bad Name", "kind": "ip"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"].startswith("name:")
    items = f"{base}/{lst['id']}/items"
    r = api.post(items, json=[{"ip": "192.0.2.0/24", "comment": "hq"}, {"ip": "198.51.100.7"}])
    assert r.status_code == 200
    op = r.json()["result"]["operation_id"]
    done = api.get(f"{base}/bulk_operations/{op}").json()["result"]
    assert done["status"] == "completed"
    got = api.get(items).json()
    assert [i["ip"] for i in got["result"]] == ["192.0.2.0/24", "198.51.100.7"]
    assert got["result_info"]["total_count"] == 2
    wrong = api.post(items, json=[{"asn": 13335}, {"ip": "300.1.1.1"}])
    assert wrong.status_code == 400
    msgs = [e["message"] for e in wrong.json()["errors"]]
    assert msgs[0].startswith("[0]: a ip list takes items with exactly the field 'ip'")
    assert msgs[1].startswith("[1].ip:")
    api.put(items, json=[{"ip": "203.0.113.0/24"}])
    got = api.get(items).json()["result"]
    assert [i["ip"] for i in got] == ["203.0.113.0/24"]
    # A rule uses the list: it cannot be deleted until the rule goes.
    url = f"/zones/{SEED_ZONE}/rulesets/phases/http_request_firewall_custom/entrypoint"
    assert (
        api.put(
            url, json={"rules": [{"expression": "ip.src in $office", "action": "allow"}]}
        ).status_code
        == 200
    )
    assert api.get(f"{base}/{lst['id']}").json()["result"]["num_referencing_filters"] == 1
    r = api.delete(f"{base}/{lst['id']}")
    assert r.status_code == 409
    api.put(url, json={"rules": []})
    api.request("DELETE", items, json={"items": [{"id": got[0]["id"]}]})
    assert api.get(items).json()["result"] == []
    assert (
        api.put(f"{base}/{lst['id']}", json={"description": "x"}).json()["result"]["description"]
        == "x"
    )
    assert api.delete(f"{base}/{lst['id']}").json()["result"] == {"id": lst["id"]}
    assert api.get(f"{base}/{lst['id']}").status_code == 404


def test_asn_and_hostname_lists(api: httpx.Client, world: World) -> None:
    base = f"/accounts/{world.account}/rules/lists"
    asn = api.post(base, json={"name": "clouds", "kind": "asn"}).json()["result"]
    host = api.post(base, json={"name": "partners", "kind": "hostname"}).json()["result"]
    api.post(f"{base}/{asn['id']}/items", json=[{"asn": 13335}, {"asn": 16509}])
    api.post(
        f"{base}/{host['id']}/items", json=[{"hostname": {"url_hostname": "*.Partner.example"}}]
    )
    assert [i["asn"] for i in api.get(f"{base}/{asn['id']}/items").json()["result"]] == [
        13335,
        16509,
    ]
    h = api.get(f"{base}/{host['id']}/items").json()["result"]
    assert h[0]["hostname"] == {"url_hostname": "*.partner.example"}
    bad = api.post(f"{base}/{host['id']}/items", json=[{"hostname": {"url_hostname": "a b"}}])
    assert bad.json()["errors"][0]["message"].startswith("[0].hostname.url_hostname:")
    names = [x["name"] for x in api.get(base).json()["result"]]
    assert names == ["clouds", "partners"]


def test_lists_need_an_account_wide_firewall_grant(api: httpx.Client, world: World) -> None:
    base = f"/accounts/{world.account}/rules/lists"
    assert api.get(base, headers=world.bearer("read-only")).status_code == 403
    assert api.get(base, headers=world.bearer("free-zone-only")).status_code == 404
    assert api.get(base, headers=world.bearer("all")).status_code == 200
