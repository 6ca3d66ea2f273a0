"""A real API + dashboard on uvicorn over a SQLite store and a DuckDB analytics file that
the simulator filled (scored by the real pipeline), shared by the dashboard's tests:
Alice (account Acme: an enterprise zone with traffic, a pro zone with the same kind of
traffic, a free zone) and Mallory (account Other Corp, with a zone of its own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest

from botwarden import store
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.api.analytics import QueriesSource
from botwarden.api.app import create_app
from botwarden.dashboard.sample_data import fill_zone
from botwarden.store import Plan
from tests.api.server import LiveServer
from tests.conftest import require_binary
from tests.store.helpers import sqlite_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
ALICE = "alice@example.com"
ALICE_KEY = "a1" * 20
ALICE_PASSWORD = "correct horse battery"
MALLORY = "mallory@example.net"
MALLORY_KEY = "b2" * 20
MALLORY_PASSWORD = "mallory-password-1"
ENTERPRISE = "e0000000000000000000000000000001"
PRO = "e0000000000000000000000000000002"
FREE = "e0000000000000000000000000000003"
OTHER = "e0000000000000000000000000000004"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Site:
    url: str
    st: store.Store
    backend: DuckDBBackend
    events: int

    @property
    def dashboard(self) -> str:
        return self.url + "/dashboard"

    def api(self, email: str = ALICE, key: str = ALICE_KEY) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/client/v4",
            headers={"X-Auth-Email": email, "X-Auth-Key": key},
            timeout=30,
        )


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m is not None, "no CSRF field in the page"
    return m.group(1)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    st = store.open(sqlite_url(tmp))
    acme = st.create_account("Acme")
    other = st.create_account("Other Corp")
    alice, _ = st.create_user(ALICE, ALICE_KEY, account_ids=[acme.id])
    mallory, _ = st.create_user(MALLORY, MALLORY_KEY, account_ids=[other.id])
    st.set_password(alice.id, ALICE_PASSWORD)
    st.set_password(mallory.id, MALLORY_PASSWORD)
    st.create_zone(acme.id, "shop.example", Plan.ENTERPRISE, id=ENTERPRISE)
    st.create_zone(acme.id, "pro.example", Plan.PRO, id=PRO)
    st.create_zone(acme.id, "free.example", Plan.FREE, id=FREE)
    st.create_zone(other.id, "other.example", Plan.ENTERPRISE, id=OTHER)
    backend = DuckDBBackend(str(tmp / "analytics.duckdb"))
    backend.ensure_schema()
    n = fill_zone(backend, ENTERPRISE, hours=2, rps=1.5, seed=3)
    n += fill_zone(backend, PRO, hours=1, rps=0.5, seed=4)
    n += fill_zone(backend, OTHER, hours=1, rps=0.5, seed=5)
    app = create_app(st, analytics_source=QueriesSource(backend))
    with LiveServer(app) as srv:
        yield Site(srv.url, st, backend, n)
    backend.close()
    st.close()


class HasDashboard(Protocol):
    @property
    def dashboard(self) -> str: ...


@contextmanager
def sign_in(
    site: HasDashboard, email: str = ALICE, password: str = ALICE_PASSWORD
) -> Iterator[httpx.Client]:
    """An httpx client with a dashboard session (signed in through the form)."""
    with httpx.Client(base_url=site.dashboard, timeout=30, follow_redirects=False) as c:
        form = c.get("/sign-in")
        assert form.status_code == 200
        r = c.post(
            "/sign-in",
            data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        )
        assert r.status_code == 303, r.text
        yield c


@pytest.fixture
def alice(site: Site) -> Iterator[httpx.Client]:
    with sign_in(site) as c:
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API runs an event loop in this thread
    # while it is open, and tests elsewhere that call asyncio.run() would then fail.
    require_binary(CHROMIUM, "the dashboard in a real browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the page logged; a test that expects one (a 404 page) removes it."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    p = context.new_page()
    p.set_default_timeout(20_000)
    p.on("pageerror", lambda exc: console_errors.append(str(exc)))
    p.on(
        "console",
        lambda m: (
            console_errors.append(f"{m.text} [{m.location.get('url', '')}]")
            if m.type == "error"
            else None
        ),
    )
    try:
        yield p
    finally:
        context.close()
    assert not console_errors, f"errors in the browser console: {console_errors}"


def browser_sign_in(page: Page, site: Site, email: str = ALICE,
                    password: str = ALICE_PASSWORD) -> None:  # fmt: skip
    page.goto(site.dashboard + "/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.dashboard + "/")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
