"""Sessions have the shape their population specifies: people land, load assets, keep
cookies and pause; bots do their abuse at their level's pace, address and manners."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from urllib.parse import parse_qs

import pytest

from botwarden.simulate.network import RESIDENTIAL

Row = dict[str, object]
HUMANS = ("chrome_desktop", "chrome_android", "safari_mac", "safari_ios", "firefox", "edge",
          "samsung_internet", "in_app_webview")  # fmt: skip
ASSET_PREFIXES = ("/static/", "/img/", "/favicon.ico")


@pytest.fixture(scope="module")
def sessions(rows: list[Row]) -> dict[int, list[Row]]:
    out: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        out[int(str(r["session_id"]))].append(r)
    return out


def of(
    sessions: dict[int, list[Row]], population: str, level: int | None = None
) -> list[list[Row]]:
    found = [s for s in sessions.values() if s[0]["population"] == population
             and (level is None or s[0]["sophistication"] == level)]  # fmt: skip
    assert found, (population, level)
    return found


def hdr(r: Row, name: str) -> str | None:
    for h in r["headers"]:  # type: ignore[attr-defined]
        if h["name"].lower() == name:
            return str(h["value"])
    return None


def test_people_land_then_keep_cookies(sessions: dict[int, list[Row]]) -> None:
    for pop in HUMANS:
        for s in of(sessions, pop):
            first = s[0]
            assert not str(first["path"]).startswith(ASSET_PREFIXES), pop
            assert hdr(first, "cookie") is None
            # (Safari before 16.4 sends no Sec-Fetch-* at all.)
            assert hdr(first, "sec-fetch-site") in ("none", "cross-site", None)
            later = [r for r in s[1:] if not str(r["path"]).startswith("/api/")]
            assert all(hdr(r, "cookie") for r in later), pop
            assert len({r["client_ip"] for r in s}) == 1
            assert len({r["client"] for r in s}) == 1


def test_page_assets_follow_their_document(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "chrome_desktop"):
        page, page_ts = None, None
        for r in s:
            if hdr(r, "sec-fetch-dest") == "document":
                page = f"https://{r['host']}{r['path']}" + (f"?{r['query']}" if r["query"] else "")
                page_ts = r["ts"]
            elif str(r["path"]).startswith(ASSET_PREFIXES):
                assert r["referer"] == page
                assert (r["ts"] - page_ts).total_seconds() < 2.0  # type: ignore[operator]
        paths = [r["path"] for r in s]
        assert paths.count("/static/app.css") <= 1  # cached after the first page


def test_people_pause_with_a_heavy_tail(sessions: dict[int, list[Row]]) -> None:
    gaps = []
    for pop in HUMANS:
        for s in of(sessions, pop):
            docs = [r["ts"] for r in s
                    if hdr(r, "sec-fetch-dest") == "document" and r["method"] == "GET"]  # fmt: skip
            gaps += [(b - a).total_seconds() for a, b in itertools.pairwise(docs)]  # type: ignore[operator]
    assert len(gaps) > 100
    assert 5 < statistics.median(gaps) < 40
    assert max(gaps) > 120  # some people leave the tab and come back
    assert min(gaps) >= 0.05  # a redirect after a form post is followed at once


def test_declared_libraries_send_no_referer_and_load_nothing(
    sessions: dict[int, list[Row]],
) -> None:
    for s in of(sessions, "scraping", 1):
        assert all(r["referer"] == "" for r in s)
        assert not any(str(r["path"]).startswith("/static/") for r in s)
        assert len({r["client_ip"] for r in s}) == 1


def test_stealth_rotates_residential_exits(sessions: dict[int, list[Row]]) -> None:
    residential = {b.asn for b in RESIDENTIAL}
    multi = 0
    for s in of(sessions, "login_abuse", 4) + of(sessions, "scraping", 4):
        assert all(r["asn"] in residential for r in s)
        multi += len({r["client_ip"] for r in s}) > 1
        # Chrome's TLS: one JA3 per connection, one JA4 for all.
        assert len({r["ja4"] for r in s}) == 1
    assert multi > 0


def test_stealth_browsers_do_not_change_exit_mid_page(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "scraping", 4):
        ip = None
        for r in s:
            if hdr(r, "sec-fetch-dest") == "document":
                ip = r["client_ip"]
            elif str(r["path"]).startswith(ASSET_PREFIXES) and ip is not None:
                assert r["client_ip"] == ip


def test_crawlers_read_robots_first(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "googlebot"):
        assert s[0]["path"] == "/robots.txt"
        assert all(r["method"] == "GET" for r in s)


def test_login_abuse_tries_many_accounts(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "login_abuse", 1):
        posts = [r for r in s if r["method"] == "POST"]
        emails = set()
        for r in posts:
            body = str(r["body"])
            emails.add(body if body.startswith("{") else parse_qs(body)["email"][0])
        assert len(emails) >= min(len(posts), 5) * 0.8
        assert sum(r["status"] == 401 for r in posts) >= 0.9 * len(posts) - 1


def test_carding_hits_the_payment_step_with_many_cards(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "credit_card_abuse", 1):
        payments = [parse_qs(str(r["body"])) for r in s if r["path"] == "/checkout/payment"]
        assert payments
        cards = {p["card_number"][0] for p in payments}
        assert len(cards) >= 1 + len(payments) // 3
        for card in cards:  # Luhn-valid, as validated stolen numbers are
            digits = [int(d) for d in card][::-1]
            total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                        for i, d in enumerate(digits))  # fmt: skip
            assert total % 10 == 0


def test_scanners_enumerate_known_paths(sessions: dict[int, list[Row]]) -> None:
    found = [r for s in of(sessions, "vulnerability_scanning", 1) for r in s]
    paths = {r["path"] for r in found}
    assert {"/.env", "/.git/config", "/wp-admin/"} <= paths
    assert all(r["status"] == 404 for r in found if r["path"] in ("/.env", "/wp-admin/"))


def test_corporate_proxy_puts_many_people_behind_few_ips(sessions: dict[int, list[Row]]) -> None:
    found = of(sessions, "corporate_proxy")
    ips = {r["client_ip"] for s in found for r in s}
    assert len(found) > len(ips) * 2
    assert len(ips) <= 4


def test_mobile_app_calls_the_json_api_with_a_token(sessions: dict[int, list[Row]]) -> None:
    for s in of(sessions, "mobile_app"):
        assert all(str(r["path"]).startswith("/api/") for r in s)
        tokens = {hdr(r, "authorization") for r in s}
        assert len(tokens) == 1
        assert next(iter(tokens), "").startswith("Bearer ")  # type: ignore[union-attr]
