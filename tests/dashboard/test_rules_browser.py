"""The Rules page in a real browser (Debian's Chromium, Playwright) against the real API
process, with a real edge reading the same configuration store: write a block rule in
the editor — field names completed from the keyboard, the caret error shown live, the
24-hour preview — deploy it, and a matching request sent through the edge is blocked
(403); disabling the rule from the keyboard lets it through again. Screenshots go to
test-artifacts/dashboard/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from botwarden import store
from botwarden.edge.config import StoreConfigSource
from tests.dashboard.conftest import ENTERPRISE, Site, browser_sign_in, screenshot
from tests.edge.harness import EchoOrigin, Edge

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.service, pytest.mark.slow]

CUSTOM = "http_request_firewall_custom"
PATH = "/blocked-by-dashboard"
HOST = "shop.example"  # the ENTERPRISE zone's name


@pytest.fixture
def edge(site: Site) -> Iterator[Edge]:
    """A real edge on the dashboard's store (its own connection, as in production), with
    the default reload interval, in front of an echo origin."""
    edge_store = store.open(site.st.engine.url.render_as_string(hide_password=False))

    def clear() -> None:
        with site.api() as api:
            r = api.put(f"/zones/{ENTERPRISE}/rulesets/phases/{CUSTOM}/entrypoint",
                        json={"rules": []})  # fmt: skip
            assert r.status_code == 200, r.text

    clear()
    try:
        with EchoOrigin() as origin, Edge(
            origin.url, source=StoreConfigSource(edge_store),
            settings={"config_poll_interval": 0.5},
        ) as e:  # fmt: skip
            yield e
    finally:
        clear()
        edge_store.close()


def until(check: Callable[[], bool], limit: float) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < limit, f"not within {limit} s"
        time.sleep(0.05)
    return time.monotonic() - t0


def status_through_edge(edge: Edge, path: str = PATH) -> int:
    return httpx.get(edge.url + path, headers={"Host": HOST}, timeout=10).status_code


def test_a_block_rule_from_the_editor_blocks_at_the_edge(
    page: Page, site: Site, edge: Edge
) -> None:
    assert status_through_edge(edge) == 200
    browser_sign_in(page, site)
    page.goto(f"{site.dashboard}/zones/{ENTERPRISE}/rules")
    assert page.get_by_role("link", name="Rules").get_attribute("aria-current") == "page"
    page.get_by_role("link", name="Create custom rule").click()
    page.wait_for_url(re.compile(r".*/rules/new\?phase=" + CUSTOM))
    page.get_by_label("Rule name (description)").fill("Block the test path")

    # Field names complete from the keyboard: type a prefix, choose with ↓, insert with Enter.
    editor = page.get_by_label("Expression")
    editor.focus()
    page.keyboard.type("http.request.uri.p")
    listbox = page.get_by_role("listbox", name="Field names")
    listbox.wait_for(state="visible")
    options = listbox.get_by_role("option")
    names = options.all_inner_texts()
    assert "http.request.uri.path" in names
    assert all(n.startswith("http.request.uri.p") for n in names)
    screenshot(page, "rules-00-editor-completion")
    for _ in range(names.index("http.request.uri.path")):
        page.keyboard.press("ArrowDown")
    assert editor.get_attribute("aria-activedescendant") == options.nth(
        names.index("http.request.uri.path")
    ).get_attribute("id")
    page.keyboard.press("Enter")
    assert listbox.is_hidden()
    assert editor.input_value() == "http.request.uri.path "

    # A mistake is shown live, with the line and a caret under the problem.
    page.keyboard.type(f'eq "{PATH}" and ip.srcc eq 1.2.3.4')
    check = page.locator("#check-expression")
    check.locator(".bad").wait_for()
    assert "unknown field 'ip.srcc'" in check.locator(".bad").inner_text()
    src = check.locator(".src").inner_text()
    caret = check.locator(".caret").inner_text()
    assert src == f'http.request.uri.path eq "{PATH}" and ip.srcc eq 1.2.3.4'
    assert caret.index("^") == src.index("ip.srcc")
    screenshot(page, "rules-01-editor-caret-error")

    # Valid, and the preview says how much of the last 24 hours it matches.
    editor.fill("cf.bot_management.score lt 30")
    page.get_by_text(re.compile(r"Matches [1-9][\d,]* requests of the last 24 hours\.")).wait_for()
    screenshot(page, "rules-02-editor-preview")
    editor.fill(f'http.request.uri.path eq "{PATH}"')
    page.get_by_text("Matches 0 requests of the last 24 hours.").wait_for()
    assert page.get_by_label("Action").input_value() == "block"

    # Deploy: the rule is listed, and the edge blocks a matching request within ~2 s.
    page.get_by_role("button", name="Deploy rule").click()
    page.wait_for_url(re.compile(r".*/rules\?saved=created"))
    row = page.locator("table.rules tbody tr")
    assert row.count() == 1
    assert "Block the test path" in row.inner_text()
    assert "Enabled" in row.inner_text()
    took = until(lambda: status_through_edge(edge) == 403, limit=3.0)
    assert status_through_edge(edge, "/something-else") == 200
    screenshot(page, "rules-03-list")

    # Disable it from the keyboard (a real button, focus visible): the edge lets it through.
    disable = page.get_by_role("button", name="Disable Block the test path")
    disable.focus()
    assert disable.evaluate("b => b.matches(':focus-visible') || document.activeElement === b")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/rules\?saved=disabled"))
    assert "Disabled" in page.locator("table.rules tbody tr").inner_text()
    until(lambda: status_through_edge(edge) == 200, limit=3.0)
    screenshot(page, "rules-04-disabled")
    print(f"edge blocked the new rule {took:.2f} s after it was deployed")


def test_the_rate_limiting_editor_is_labelled(page: Page, site: Site) -> None:
    browser_sign_in(page, site)
    page.goto(f"{site.dashboard}/zones/{ENTERPRISE}/rules/new?phase=http_ratelimit")
    for label in ("Rule name (description)", "Expression", "Action",
                  "Counted per (comma-separated)", "Requests per period",
                  "Period (seconds)", "Mitigation timeout (seconds)", "Enabled"):  # fmt: skip
        assert page.get_by_label(label, exact=False).count() >= 1, label
    actions = page.get_by_label("Action").locator("option").all_inner_texts()
    assert "Skip" not in actions
    assert "Block" in actions
    counting = page.get_by_label(re.compile("^Counting expression"))
    counting.fill("http.response.code eq 4x")
    page.locator("#check-counting .bad").wait_for()
    assert page.locator("#check-counting .caret").inner_text().strip().startswith("^")
    screenshot(page, "rules-05-ratelimit-editor")
