"""The Models page over its own live server with a real model registry (v1 = the packaged
base model, v2 = a candidate built from it with an evaluation report written by
`ml.evaluate`'s plotting code): metrics, per-level recall and plots are shown; an
administrator promotes and rolls back through the API's routes (the registry and the
store change); anyone else is refused; plots are served only from the report directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest

from botwarden import store
from botwarden.api.app import create_app
from botwarden.feedback.promotion import ModelControl
from botwarden.ml.evaluate import _plots, _rates
from botwarden.ml.registry import Registry, base_model_dir
from botwarden.ml.train import auc
from botwarden.store import FeedbackInput, FeedbackStatus, FeedbackType, Plan
from tests.api.server import LiveServer
from tests.dashboard.conftest import csrf_of, screenshot, sign_in
from tests.store.helpers import sqlite_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

ADMIN, ADMIN_PASSWORD = "root@example.com", "admin-password-1"
OPS, OPS_PASSWORD = "ops@example.com", "ops-password-1"
EVE, EVE_PASSWORD = "eve@example.org", "eve-password-1"
ZONE = "f0000000000000000000000000000001"


@dataclass
class ModelSite:
    url: str
    st: store.Store
    reg: Registry
    report: str
    """A report of ZONE that v2 was trained on."""

    @property
    def dashboard(self) -> str:
        return self.url + "/dashboard"


def _write_eval(d: Path) -> None:
    """An evaluation report as `ml.evaluate.evaluate` lays it out: eval.json + 3 PNGs."""
    rng = np.random.default_rng(7)
    y = rng.random(4000) < 0.4
    p = np.clip(np.where(y, rng.normal(0.85, 0.15, y.size), rng.normal(0.1, 0.1, y.size)), 0, 1)
    scores = np.clip(np.rint(99 - p * 98), 1, 99).astype(np.int64)
    low = scores < 30
    level = np.where(y, rng.integers(1, 5, y.size), 0)
    d.mkdir(parents=True)
    _plots(y, p, scores, d, "eval")
    groups = {str(k): _rates(y[level == k], low[level == k]) for k in range(5)}
    doc = {
        "data": {"rows": int(y.size)},
        "auc": auc(y, p),
        "views": {"model": {"overall": _rates(y, low), "by_sophistication": groups}},
    }
    (d / "eval.json").write_text(json.dumps(doc))
    (d / "secret.txt").write_text("not a plot")


@pytest.fixture(scope="module")
def msite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelSite]:
    tmp = tmp_path_factory.mktemp("models")
    st = store.open(sqlite_url(tmp))
    acme = st.create_account("Acme")
    admin, _ = st.create_user(ADMIN, "c3" * 20, is_admin=True, account_ids=[acme.id])
    ops, _ = st.create_user(OPS, "d4" * 20, account_ids=[acme.id])
    st.set_password(admin.id, ADMIN_PASSWORD)
    st.set_password(ops.id, OPS_PASSWORD)
    eve, _ = st.create_user(EVE, "e5" * 20, account_ids=[st.create_account("Elsewhere").id])
    st.set_password(eve.id, EVE_PASSWORD)
    st.create_zone(acme.id, "models.example", Plan.ENTERPRISE, id=ZONE)
    now = datetime.now(UTC)
    report, _ = st.create_feedback(
        ZONE,
        FeedbackInput(
            type=FeedbackType.FALSE_POSITIVE,
            description="new browser flagged",
            expression="cf.bot_management.score lt 30",
            first_request_seen_at=now - timedelta(hours=1),
            last_request_seen_at=now,
            requests=10,
        ),
        created_by=ADMIN,
        request_hash="0" * 64,
    )
    st.review_feedback(ZONE, report.id, status=FeedbackStatus.ACCEPTED, reviewer=ADMIN)
    reg = Registry(tmp / "models")  # adopts the packaged base model as v1, active
    v2 = reg.add(base_model_dir(), parent="v1", description="retrained on feedback")
    meta_file = reg.directory(v2) / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["feedback_reports"] = [report.id]
    meta_file.write_text(json.dumps(meta))
    _write_eval(reg.directory(v2) / "eval")
    st.set_feedback_trained(v2, {report.id: 10})
    control = ModelControl(reg, st)
    control.mirror_all()
    control.mirror("v1", promoted=True)
    app = create_app(st)
    app.state.registry = reg
    with LiveServer(app) as srv:
        yield ModelSite(srv.url, st, reg, report.id)
    st.close()


@pytest.fixture
def admin(msite: ModelSite) -> Iterator[httpx.Client]:
    with sign_in(msite, ADMIN, ADMIN_PASSWORD) as c:
        yield c


@pytest.fixture
def restore(msite: ModelSite) -> Iterator[None]:
    yield
    control = ModelControl(msite.reg, msite.st)
    if msite.reg.active != "v1":
        control.promote("v1")


def test_lists_versions_with_metrics_and_plots(admin: httpx.Client, msite: ModelSite) -> None:
    r = admin.get("/models")
    assert r.status_code == 200
    html = r.text
    assert 'data-version="v1"' in html
    assert 'data-version="v2"' in html
    v1 = msite.st.get_model("v1").metrics
    assert f"{v1['train_rows']:,}" in html  # training rows of the base model
    assert f"{v1['valid_bot_recall'] * 100:.2f} %" in html
    # The report v2 learned from, linked to its page in the viewer's zone.
    assert f'href="/dashboard/zones/{ZONE}/feedback/{msite.report}"' in html
    assert "Recall by level of sophistication" in html
    assert "4 · stealth" in html
    for name in ("eval_roc.png", "eval_scores.png", "eval_calibration.png"):
        assert f'src="/dashboard/models/v2/plots/{name}"' in html
    assert 'aria-label="Promote v2"' in html
    assert 'aria-label="Promote v1"' not in html
    img = admin.get("/models/v2/plots/eval_roc.png")
    assert img.status_code == 200
    assert img.headers["content-type"] == "image/png"
    assert img.content.startswith(b"\x89PNG")


def test_plots_are_served_only_from_the_report(admin: httpx.Client) -> None:
    assert admin.get("/models/v2/plots/secret.txt").status_code in (400, 404)
    assert admin.get("/models/v2/plots/..%2Fmeta.json").status_code in (400, 404)
    assert admin.get("/models/v2/plots/missing.png").status_code == 404
    assert admin.get("/models/v1/plots/eval_roc.png").status_code == 404  # no report
    with httpx.Client(base_url=admin.base_url, follow_redirects=False) as anon:
        r = anon.get("/models/v2/plots/eval_roc.png")
        assert r.status_code in (303, 307)


def test_admin_promotes_and_rolls_back(
    admin: httpx.Client, msite: ModelSite, restore: None
) -> None:
    page = admin.get("/models").text
    r = admin.post("/models/v2/promote", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 303, r.text
    assert msite.reg.active == "v2"
    latest = msite.st.latest_model()
    assert latest is not None
    assert latest.version == "v2"
    page = admin.get("/models?done=promote").text
    assert "Promoted." in page
    assert 'aria-label="Promote v1"' in page
    r = admin.post("/models/rollback", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 303, r.text
    assert msite.reg.active == "v1"
    latest = msite.st.latest_model()
    assert latest is not None
    assert latest.version == "v1"
    r = admin.post("/models/v9/promote", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 404
    assert "model version v9" in r.text


def test_others_cannot_promote(msite: ModelSite) -> None:
    with sign_in(msite, OPS, OPS_PASSWORD) as ops:
        page = ops.get("/models")
        assert page.status_code == 200
        assert "/promote" not in page.text
        assert 'id="rollback"' not in page.text
        assert "Promoting and rolling back are for administrators" in page.text
        r = ops.post("/models/v2/promote", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 403
        assert "only an administrator can promote a model" in r.text
        r = ops.post("/models/rollback", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 403
        r = ops.post("/models/v2/promote")  # and without the CSRF token
        assert r.status_code == 403
    assert msite.reg.active == "v1"
    with sign_in(msite, ADMIN, ADMIN_PASSWORD) as admin:
        assert admin.post("/models/v2/promote").status_code == 403  # no CSRF token
    assert msite.reg.active == "v1"
    with httpx.Client(base_url=msite.dashboard, follow_redirects=False) as anon:
        assert anon.get("/models").status_code in (303, 307)
    with sign_in(msite, EVE, EVE_PASSWORD) as eve:
        # Another account's reports are counted, never named.
        page = eve.get("/models")
        assert "1 from other accounts" in page.text
        assert msite.report not in page.text
        assert eve.get(f"/zones/{ZONE}/feedback/{msite.report}").status_code == 404


def test_feedback_status_follows_the_model(
    admin: httpx.Client, msite: ModelSite, restore: None
) -> None:
    """A report v2 was trained on is "in training" while v2 is a candidate, then "in model
    v2" once it is promoted (Feedback page, with this site's registry)."""
    listed = admin.get(f"/zones/{ZONE}/feedback").text
    assert '<span class="status status-training">in training</span>' in listed
    page = admin.get(f"/zones/{ZONE}/feedback/{msite.report}")
    assert page.status_code == 200
    assert "Analytics are not available" in page.text  # this server has no analytics
    assert "can no longer be reviewed" in page.text
    r = admin.post("/models/v2/promote", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    listed = admin.get(f"/zones/{ZONE}/feedback").text
    assert '<span class="status status-model">in model v2</span>' in listed


def test_settings_pin_to_a_version(admin: httpx.Client, msite: ModelSite) -> None:
    """The Settings page's pin, with versions to pin to (the shared site has none)."""
    page = admin.get(f"/zones/{ZONE}/settings").text
    assert '<option value="v2">v2</option>' in page
    r = admin.post(
        f"/zones/{ZONE}/settings",
        data={
            "csrf_token": csrf_of(page),
            "enable_js": "true",
            "model_mode": "pin",
            "model_pin": "v2",
        },
    )
    assert r.status_code == 303, r.text
    st = msite.st.get_settings(ZONE)
    assert st.model_pin == "v2"
    assert st.auto_update_model is False
    page = admin.get(f"/zones/{ZONE}/settings").text
    assert 'id="model-version">v2<' in page
    assert "not the latest" in page
    r = admin.post(
        f"/zones/{ZONE}/settings", data={"csrf_token": csrf_of(page), "model_mode": "auto"}
    )
    assert r.status_code == 303
    st = msite.st.get_settings(ZONE)
    assert st.model_pin is None
    assert st.auto_update_model is True


def test_in_browser(page: Page, msite: ModelSite, restore: None) -> None:
    page.goto(msite.dashboard + "/")
    page.get_by_label("E-mail").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(msite.dashboard + "/")
    page.goto(msite.dashboard + "/models")
    plot = page.get_by_alt_text("ROC curve of v2")
    plot.scroll_into_view_if_needed()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=plot.element_handle()
    )
    page.get_by_role("button", name="Promote v2").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/models?done=promote")
    assert msite.reg.active == "v2"
    assert page.locator('tr[data-version="v2"] .state-active').inner_text() == "active"
    screenshot(page, "models")
    page.get_by_role("button", name="Roll back to the previous version").click()
    page.wait_for_url("**/models?done=rollback")
    assert msite.reg.active == "v1"
