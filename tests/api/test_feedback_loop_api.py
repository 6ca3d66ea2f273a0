"""The API's side of the feedback loop, against a live server with a real model
registry: the review update relabels, reports show where they stand in the loop, a pin
reaches the registry the edges read, and `POST /bot_management/models/rollback`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botwarden import store
from botwarden.api.app import create_app
from botwarden.feedback.promotion import ModelControl
from botwarden.ml.registry import Registry
from tests.api.conftest import SEED_ZONE, World
from tests.api.server import LiveServer
from tests.api.test_feedback import FEEDBACK, SEED_BODY
from tests.ml.conftest import corpus, dataset, small_model  # noqa: F401


@pytest.fixture
def registry(tmp_path: Path, small_model: Path) -> Registry:  # noqa: F811
    reg = Registry(tmp_path / "models", base=small_model)
    reg.add(small_model, parent=reg.active, description="a retrained copy")
    return reg


@pytest.fixture
def live(st: store.Store, world: World, registry: Registry) -> Iterator[httpx.Client]:
    app = create_app(st)
    app.state.registry = registry
    ModelControl(registry, st).mirror_all()
    with (
        LiveServer(app) as srv,
        httpx.Client(base_url=srv.url + "/client/v4", headers=world.key_headers(), timeout=30) as c,
    ):
        yield c


def test_review_update_relabels(live: httpx.Client) -> None:
    rep = live.post(FEEDBACK, json=SEED_BODY).json()["result"]
    url = f"{FEEDBACK}/{rep['id']}"
    assert rep["status_detail"] == "pending"
    assert rep["model_version"] is None
    r = live.patch(url, json={"type": "false_negative", "subtype": "Scraping", "note": "a bot"})
    assert r.status_code == 200, r.text
    got = r.json()["result"]
    assert (got["type"], got["subtype"], got["status"]) == (
        "false_negative",
        "scraping",
        "accepted",
    )
    assert got["status_detail"] == "accepted"
    assert got["note"] == "a bot"
    back = live.patch(url, json={"type": "false_positive"}).json()["result"]
    assert (back["type"], back["subtype"]) == ("false_positive", None)
    bad = live.patch(url, json={"type": "false_negative", "subtype": "knitting"})
    assert bad.status_code == 400
    assert "subtype: unknown subtype 'knitting'" in bad.json()["errors"][0]["message"]
    fp_sub = live.patch(url, json={"type": "false_positive", "subtype": "scraping"})
    assert fp_sub.json()["errors"][0]["message"].startswith("subtype: only false_negative")
    clash = live.patch(url, json={"type": "false_negative", "status": "rejected"})
    assert clash.status_code == 400
    assert "relabelled report is accepted" in clash.json()["errors"][0]["message"]
    empty = live.patch(url, json={"note": "nothing to do"})
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["message"].startswith("status: give a status")


def test_report_shows_the_model_it_is_in(
    live: httpx.Client, st: store.Store, registry: Registry
) -> None:
    rep = live.post(FEEDBACK, json=SEED_BODY).json()["result"]
    live.patch(f"{FEEDBACK}/{rep['id']}", json={"status": "accepted"})
    st.set_feedback_trained("v2", {rep["id"]: 42})
    got = live.get(f"{FEEDBACK}/{rep['id']}").json()["result"]
    assert (got["status"], got["status_detail"]) == ("labelled", "in training")
    assert (got["model_version"], got["labelled_rows"]) == ("v2", 42)
    r = live.post("/bot_management/models/v2/promote", headers=_admin(st))
    assert r.status_code == 200, r.text
    listed = live.get(FEEDBACK).json()["result"]
    assert listed[0]["status_detail"] == "in model v2"


def test_pin_reaches_the_registry(live: httpx.Client, registry: Registry) -> None:
    r = live.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": "v1"})
    assert r.status_code == 200, r.text
    assert Registry(registry.root).zone(SEED_ZONE)["pin"] == "v1"
    live.put(f"/zones/{SEED_ZONE}/bot_management/model", json={"version": None})
    assert Registry(registry.root).zone(SEED_ZONE)["pin"] is None
    # The settings' model_pin goes the same way.
    live.put(f"/zones/{SEED_ZONE}/bot_management", json={"model_pin": "v2"})
    assert Registry(registry.root).zone(SEED_ZONE)["pin"] == "v2"


def test_rollback(live: httpx.Client, st: store.Store, registry: Registry) -> None:
    admin = _admin(st)
    assert live.post("/bot_management/models/rollback").status_code == 403
    nothing = live.post("/bot_management/models/rollback", headers=admin)
    assert nothing.status_code == 400
    assert nothing.json()["errors"][0]["message"].startswith("rollback:")
    assert live.post("/bot_management/models/v2/promote", headers=admin).status_code == 200
    assert Registry(registry.root).active == "v2"
    r = live.post("/bot_management/models/rollback", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["version"] == "v1"
    assert r.json()["result"]["latest"] is True
    assert Registry(registry.root).active == "v1"
    assert live.get(f"/zones/{SEED_ZONE}/bot_management").json()["result"]["model_version"] == (
        "v1"
    )


def _admin(st: store.Store) -> dict[str, str]:
    _, key = st.create_user("root@example.com", is_admin=True, account_ids=[])
    return {"X-Auth-Email": "root@example.com", "X-Auth-Key": key}
