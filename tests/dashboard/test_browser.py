"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a
real API process over simulated, scored traffic: sign in, Bot Analytics drawn, filters,
"Report incorrect data" landing in the Feedback API, account isolation, labels and the
keyboard. Screenshots of each page go to test-artifacts/dashboard/."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.dashboard.conftest import (
    ENTERPRISE,
    MALLORY,
    MALLORY_PASSWORD,
    OTHER,
    PRO,
    Site,
    browser_sign_in,
    screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.service, pytest.mark.slow]

# Pixels of a canvas that are not blank (transparent or white): a drawn chart has many.
INK = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3], white = data[i] > 240 && data[i + 1] > 240 && data[i + 2] > 240;
    if (a > 0 && !white) ink++;
  }
  return ink;
}"""


def charts_drawn(page: Page) -> None:
    # (wait_for_function would evaluate a string, which the dashboard's CSP forbids)
    page.locator("html[data-charts=drawn]").wait_for(state="attached")


def open_analytics(page: Page, site: Site, zone: str = ENTERPRISE, query: str = "") -> None:
    page.goto(f"{site.dashboard}/zones/{zone}/analytics{query}")
    charts_drawn(page)


def total_requests(page: Page) -> int:
    return int(page.locator("#total-requests").inner_text().replace(",", ""))


def test_sign_in_and_bot_analytics_charts_are_drawn(page: Page, site: Site) -> None:
    page.goto(site.dashboard + f"/zones/{ENTERPRISE}/analytics")
    assert "/sign-in" in page.url  # not signed in: sent to the form, then back
    screenshot(page, "01-sign-in")
    page.get_by_label("E-mail").fill("alice@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/zones/{ENTERPRISE}/analytics")
    charts_drawn(page)
    canvases = page.locator("[data-chart] canvas")
    assert canvases.count() == 2
    for i in range(2):
        assert canvases.nth(i).evaluate(INK) > 500, f"chart {i} is blank"
    assert total_requests(page) > 1000
    assert page.get_by_role("heading", name="Requests by detection source").is_visible()
    assert page.locator("table.samples tbody tr").count() == 20
    assert page.get_by_role("link", name="Bot Analytics").get_attribute("aria-current") == "page"
    screenshot(page, "02-bot-analytics")
    page.get_by_role("link", name="Zones").click()
    page.wait_for_url(site.dashboard + "/")
    assert page.get_by_role("link", name="shop.example").is_visible()
    assert page.get_by_text("other.example").count() == 0
    screenshot(page, "03-zones")


def test_filter_by_score_range_and_asn(page: Page, site: Site) -> None:
    browser_sign_in(page, site)
    open_analytics(page, site)
    everything = total_requests(page)
    page.get_by_label("Bot score to").fill("29")  # from 1, as scores go
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**score_max=29**")
    charts_drawn(page)
    low = total_requests(page)
    assert 0 < low < everything
    score = "cf.bot_management.score ge 1 and cf.bot_management.score le 29"
    assert page.locator("#filter-expression").inner_text() == score
    # A click on a top ASN adds it to the filters.
    first_asn = page.locator("a[data-filter=asn]").first
    asn = first_asn.inner_text()
    first_asn.click()
    page.wait_for_url(f"**asn={asn}**")
    charts_drawn(page)
    narrowed = total_requests(page)
    assert 0 < narrowed <= low
    expression = f"{score} and ip.src.asnum eq {asn}"
    assert page.locator("#filter-expression").inner_text() == expression
    assert page.get_by_label("ASN", exact=True).input_value() == asn
    # The figures match the API's for the same filter (the URL is now the view's state).
    with site.api() as api:
        r = api.get(
            f"/zones/{ENTERPRISE}/bot_management/analytics/summary",
            params={"expression": expression},
        )
    assert r.json()["result"]["requests"] >= narrowed  # the API's window ends later
    screenshot(page, "04-filtered")
    # Bad input: said beside the field, nothing else lost.
    page.get_by_label("ASN", exact=True).fill("AS-banana")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_selector("#err-asn")
    assert "not an AS number" in page.locator("#err-asn").inner_text()
    assert page.get_by_label("Bot score to").input_value() == "29"
    assert page.get_by_label("ASN", exact=True).get_attribute("aria-invalid") == "true"


def test_expression_is_checked_as_you_type(page: Page, site: Site) -> None:
    browser_sign_in(page, site)
    open_analytics(page, site)
    box = page.get_by_label("Expression (rules language)")
    box.fill('http.user_agent contains "curl" and ip.src.asnum eq "x"')
    page.wait_for_selector("#expr-check .bad")
    assert "^" in page.locator("#expr-check pre.caret").inner_text()
    screenshot(page, "05-expression-error")
    box.fill('http.user_agent contains "curl"')
    page.wait_for_selector("#expr-check .good")


def test_report_incorrect_data_lands_in_the_feedback_api(page: Page, site: Site) -> None:
    browser_sign_in(page, site)
    open_analytics(page, site)
    assert page.locator("#report-open").count() == 0  # only with a score filter
    open_analytics(page, site, query="?range=1h&score_max=1&verified=no")
    page.get_by_role("button", name="Report incorrect data").click()
    page.wait_for_selector("#report-expression")
    expression = page.locator("#report-expression").inner_text()
    assert expression == "cf.bot_management.score eq 1 and not cf.bot_management.verified_bot"
    shown = int(page.locator("#report-requests").inner_text().replace(",", ""))
    page.get_by_role("radio", name=re.compile("^False positive")).check()
    assert page.get_by_label("Subtype (false negatives)").is_disabled()
    page.get_by_role("radio", name=re.compile("^False negative")).check()
    page.get_by_label("Subtype (false negatives)").select_option("scraping")
    page.get_by_label("Description").fill("Scrapers scored 1, checking the form end to end")
    screenshot(page, "06-report-form")
    page.get_by_role("button", name="Submit report").click()
    page.wait_for_selector("#report-id")
    report_id = page.locator("#report-id").inner_text()
    link = page.locator("#report-link").get_attribute("href")
    assert link == f"/dashboard/zones/{ENTERPRISE}/feedback/{report_id}"
    screenshot(page, "07-report-submitted")
    with site.api() as api:
        got = api.get(f"/zones/{ENTERPRISE}/bot_management/feedback/{report_id}").json()["result"]
        window = {
            "expression": expression,
            "since": got["first_request_seen_at"],
            "until": got["last_request_seen_at"],
        }
        prefill: dict[str, Any] = api.get(
            f"/zones/{ENTERPRISE}/bot_management/analytics/report_prefill", params=window
        ).json()["result"]
    assert got["type"] == "false_negative"
    assert got["subtype"] == "scraping"
    assert got["created_by"] == "alice@example.com"
    assert got["expression"] == expression
    assert got["requests"] == shown == prefill["requests"] > 0
    for key in ("requests_by_score", "requests_by_score_src", "requests_by_attribute"):
        assert got[key] == prefill[key], key


def test_another_account_cannot_see_the_zone(
    page: Page, site: Site, console_errors: list[str]
) -> None:
    browser_sign_in(page, site, MALLORY, MALLORY_PASSWORD)
    assert page.get_by_role("link", name="other.example").is_visible()
    assert page.get_by_text("shop.example").count() == 0
    url = f"{site.dashboard}/zones/{ENTERPRISE}/analytics"
    response = page.goto(url)
    assert response is not None
    assert response.status == 404
    assert [e for e in console_errors if url in e]  # Chromium logs the 404 itself
    console_errors.clear()
    assert page.get_by_role("heading", name="Not found").is_visible()
    screenshot(page, "08-other-account-404")
    # Mallory's own zone works.
    open_analytics(page, site, zone=OTHER)
    assert total_requests(page) > 0


def test_groupings_only_below_enterprise(page: Page, site: Site) -> None:
    browser_sign_in(page, site)
    open_analytics(page, site, zone=PRO)
    assert page.get_by_role("heading", name="Requests by bot grouping").is_visible()
    assert page.get_by_label("Bot score to").count() == 0
    assert page.locator("table.samples th", has_text="Grouping").count() == 1
    screenshot(page, "09-pro-zone")


def test_labels_and_keyboard_navigation(page: Page, site: Site) -> None:
    page.goto(site.dashboard + "/")
    # Sign in with the keyboard alone: the e-mail field has focus.
    page.keyboard.type("alice@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_url(site.dashboard + "/")
    open_analytics(page, site)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter(e => e.type !== 'hidden')
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name)"""
    )
    assert unlabelled == []
    assert page.locator("[data-chart]").first.get_attribute("role") == "img"
    # The first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    # Tab through to a top-attribute link and follow it with Enter.
    target = page.locator("a[data-filter=country]").first
    country = target.inner_text()
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.filter") == "country":
            break
    else:
        pytest.fail("Tab never reached a top-attribute link")
    assert page.evaluate("document.activeElement.textContent") == country
    page.keyboard.press("Enter")
    page.wait_for_url(f"**country={country}**")
    charts_drawn(page)
    assert page.get_by_label("Country", exact=True).input_value() == country
    # Sign out with the keyboard: focus the button, press Enter.
    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign-in?signed_out=1")
    assert page.get_by_role("status").inner_text() == "You are signed out."
