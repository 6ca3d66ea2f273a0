"""The Feedback page over a live server: the zone's reports (sent through the Feedback
API from the report prefill, as the Bot Analytics form does) with their status; one
report with the traffic its expression selects now; accept / reject / reopen / relabel
really change the store; bad input is answered beside its field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from botwarden.store import FeedbackStatus, FeedbackType
from tests.dashboard.conftest import (
    ENTERPRISE,
    MALLORY,
    MALLORY_PASSWORD,
    OTHER,
    Site,
    browser_sign_in,
    csrf_of,
    screenshot,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

LOW = "cf.bot_management.score lt 30"


def send_report(
    site: Site, expression: str = LOW, zone: str = ENTERPRISE, **extra: Any
) -> dict[str, Any]:
    """A report of the last 3 hours' traffic that `expression` selects, via the API."""
    until = datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(hours=3)
    with site.api() as api:
        pre = api.get(
            f"/zones/{zone}/bot_management/analytics/report_prefill",
            params={
                "expression": expression,
                "since": since.isoformat(),
                "until": until.isoformat(),
            },
        )
        assert pre.status_code == 200, pre.text
        body = {
            **pre.json()["result"],
            "type": "false_positive",
            "description": f"test report {uuid.uuid4().hex[:6]}",
            **extra,
        }
        r = api.post(f"/zones/{zone}/bot_management/feedback", json=body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()["result"]
        return out


@pytest.fixture
def report(site: Site) -> dict[str, Any]:
    return send_report(site)


def _review(client: httpx.Client, report_id: str, **data: str) -> httpx.Response:
    page = client.get(f"/zones/{ENTERPRISE}/feedback/{report_id}")
    assert page.status_code == 200
    data.setdefault("csrf_token", csrf_of(page.text))
    return client.post(f"/zones/{ENTERPRISE}/feedback/{report_id}/review", data=data)


def test_list_shows_reports_with_status(alice: httpx.Client, report: dict[str, Any]) -> None:
    r = alice.get(f"/zones/{ENTERPRISE}/feedback")
    assert r.status_code == 200
    assert f'data-report="{report["id"]}"' in r.text
    assert f'href="/dashboard/zones/{ENTERPRISE}/feedback/{report["id"]}"' in r.text
    assert '<span class="status status-pending">pending</span>' in r.text
    rejected = alice.get(f"/zones/{ENTERPRISE}/feedback", params={"status": "rejected"})
    assert f'data-report="{report["id"]}"' not in rejected.text
    bad = alice.get(f"/zones/{ENTERPRISE}/feedback", params={"status": "maybe"})
    assert bad.status_code == 400


def test_report_shows_matching_traffic(
    alice: httpx.Client, site: Site, report: dict[str, Any]
) -> None:
    r = alice.get(f"/zones/{ENTERPRISE}/feedback/{report['id']}")
    assert r.status_code == 200
    assert report["requests"] > 0
    # The figures are computed now over the report's expression and window: same traffic.
    assert f'<dd id="traffic-requests">{report["requests"]:,}</dd>' in r.text
    assert 'id="traffic-sample"' in r.text
    assert r.text.count("<tr>") >= 2  # a header row and sample rows
    assert 'value="accept"' in r.text
    assert 'value="reject"' in r.text
    assert 'value="reopen"' not in r.text  # already pending


def test_accept_reject_reopen_change_the_store(
    alice: httpx.Client, site: Site, report: dict[str, Any]
) -> None:
    rid = report["id"]
    r = _review(alice, rid, decision="accept", note="checked the sample")
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith(f"/feedback/{rid}?done=accept")
    got = site.st.get_feedback(ENTERPRISE, rid)
    assert got.status is FeedbackStatus.ACCEPTED
    assert got.reviewer == "alice@example.com"
    assert got.note == "checked the sample"
    shown = alice.get(site.url + r.headers["location"]).text
    assert 'id="report-status">accepted<' in shown
    assert "Accepted." in shown
    with site.api() as api:
        assert (
            api.get(f"/zones/{ENTERPRISE}/bot_management/feedback/{rid}").json()["result"]["status"]
            == "accepted"
        )
    assert _review(alice, rid, decision="reject", note="").status_code == 303
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.REJECTED
    assert _review(alice, rid, decision="reopen").status_code == 303
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.PENDING


def test_relabel(alice: httpx.Client, site: Site, report: dict[str, Any]) -> None:
    rid = report["id"]
    r = _review(alice, rid, decision="relabel", type="false_positive", subtype="scraping")
    assert r.status_code == 400
    assert 'id="err-subtype"' in r.text
    assert "only false_negative reports" in r.text
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.PENDING
    r = _review(
        alice,
        rid,
        decision="relabel",
        type="false_negative",
        subtype="scraping",
        note="a scraper, not people",
    )
    assert r.status_code == 303, r.text
    got = site.st.get_feedback(ENTERPRISE, rid)
    assert got.type is FeedbackType.FALSE_NEGATIVE
    assert got.subtype == "scraping"
    assert got.status is FeedbackStatus.ACCEPTED
    assert got.note == "a scraper, not people"


def test_bad_review_is_explained(alice: httpx.Client, site: Site, report: dict[str, Any]) -> None:
    rid = report["id"]
    r = _review(alice, rid, decision="accept", note="x" * 2001)
    assert r.status_code == 400
    assert 'id="err-note"' in r.text
    r = _review(alice, rid, decision="approve")
    assert r.status_code == 400
    assert "is not accept, reject, reopen or relabel" in r.text
    r = _review(alice, rid, decision="relabel", type="both")
    assert r.status_code == 400
    assert 'id="err-type"' in r.text
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.PENDING
    # Training data cannot be reviewed again: the API's 409, shown on the page.
    site.st.review_feedback(ENTERPRISE, rid, status=FeedbackStatus.ACCEPTED, reviewer="t")
    site.st.mark_feedback_labelled([rid])
    page = alice.get(f"/zones/{ENTERPRISE}/feedback/{rid}").text
    assert "can no longer be reviewed" in page
    assert 'value="accept"' not in page
    r = alice.post(
        f"/zones/{ENTERPRISE}/feedback/{rid}/review",
        data={"decision": "reopen", "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 409
    assert "already training data" in r.text
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.LABELLED


def test_needs_sign_in_csrf_and_own_zone(
    alice: httpx.Client, site: Site, report: dict[str, Any]
) -> None:
    rid = report["id"]
    with httpx.Client(base_url=site.dashboard, follow_redirects=False) as anon:
        for path in ("/feedback", f"/feedback/{rid}"):
            r = anon.get(f"/zones/{ENTERPRISE}{path}")
            assert r.status_code in (303, 307)
            assert "sign-in" in r.headers["location"]
    r = alice.post(f"/zones/{ENTERPRISE}/feedback/{rid}/review", data={"decision": "accept"})
    assert r.status_code == 403
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.PENDING
    assert alice.get(f"/zones/{OTHER}/feedback").status_code == 404
    assert alice.get(f"/zones/{ENTERPRISE}/feedback/{'0' * 32}").status_code == 404
    with sign_in(site, MALLORY, MALLORY_PASSWORD) as mallory:
        assert mallory.get(f"/zones/{ENTERPRISE}/feedback/{rid}").status_code == 404
        own = mallory.get(f"/zones/{OTHER}/feedback")
        assert own.status_code == 200
        assert rid not in own.text
        # Alice's report id under Mallory's own zone is not found either.
        assert mallory.get(f"/zones/{OTHER}/feedback/{rid}").status_code == 404
        r = mallory.post(
            f"/zones/{OTHER}/feedback/{rid}/review",
            data={"decision": "accept", "csrf_token": csrf_of(own.text)},
        )
        assert r.status_code == 404
    assert site.st.get_feedback(ENTERPRISE, rid).status is FeedbackStatus.PENDING


def test_in_browser(page: Page, site: Site, report: dict[str, Any]) -> None:
    rid = report["id"]
    browser_sign_in(page, site)
    page.goto(f"{site.dashboard}/zones/{ENTERPRISE}/feedback")
    row = page.locator(f'tr[data-report="{rid}"]')
    assert "pending" in row.inner_text()
    screenshot(page, "feedback-list")
    row.get_by_role("link").focus()
    page.keyboard.press("Enter")  # keyboard navigation to the report
    page.wait_for_url(f"**/feedback/{rid}")
    assert page.locator("#traffic-sample tbody tr").count() > 0
    page.get_by_label("Note").fill("sample is people on a new browser")
    page.get_by_role("button", name="Accept", exact=True).click()
    page.wait_for_url(f"**/feedback/{rid}?done=accept")
    assert page.locator("#report-status").inner_text() == "accepted"
    assert page.locator("#report-note").inner_text() == "sample is people on a new browser"
    got = site.st.get_feedback(ENTERPRISE, rid)
    assert got.status is FeedbackStatus.ACCEPTED
    assert got.reviewer == "alice@example.com"
    screenshot(page, "feedback-report")
