from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from botwarden.engines.heuristics import (
    DECLARED_CRAWLER,
    DECLARED_LIBRARY,
    EMPTY_USER_AGENT,
    HEURISTICS,
    NO_CLIENT_HINTS,
    NO_FETCH_METADATA,
    OLD_HTTP_VERSION,
    TLS_NOT_BROWSER,
    HeuristicsEngine,
    user_agent_detections,
)
from botwarden.inputs import context_from_combined, context_from_record
from botwarden.result import ScoreSource
from botwarden.testing.samples import (
    CHROME_JA4,
    CHROME_UA,
    FIREFOX_UA,
    PYTHON_JA4,
    SAFARI_UA,
    chrome_headers,
    firefox_headers,
    safari_headers,
)

ENGINE = HeuristicsEngine(
    directory=None,
    ja4_families={CHROME_JA4: ("chrome", "browser"), PYTHON_JA4: ("python", "library")},
)


def real_browser_user_agents() -> list[str]:
    """~800 distinct browser user agents seen in real traffic (fake-useragent's database)."""
    path = resources.files("fake_useragent") / "data" / "browsers.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted({json.loads(line)["useragent"] for line in lines})


def score(record: dict[str, Any]) -> tuple[int, ...]:
    v = ENGINE.evaluate(context_from_record(record), None)
    return () if v is None else v.detection_ids


def test_ids_are_unique_and_described() -> None:
    ids = [h.id for h in HEURISTICS]
    assert len(ids) == len(set(ids))
    assert all(h.description and h.name for h in HEURISTICS)


def test_no_real_browser_user_agent_is_declared_automation() -> None:
    uas = real_browser_user_agents()
    assert len(uas) > 500
    flagged = {ua: user_agent_detections(ua) for ua in uas if user_agent_detections(ua)}
    assert flagged == {}


def test_every_crawler_user_agents_instance_is_caught() -> None:
    instances = [i for d in CRAWLER_USER_AGENTS_DATA for i in d["instances"]]
    assert len(instances) > 1000
    missed = [ua for ua in instances if not user_agent_detections(ua)]
    assert missed == []


@pytest.mark.parametrize(
    "ua",
    [
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Python-urllib/3.11",
        "python-httpx/0.28.1",
        "Python/3.11 aiohttp/3.11.11",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
        "Java/17.0.2",
        "Apache-HttpClient/4.5.14 (Java/17.0.2)",
        "libwww-perl/6.72",
        "Scrapy/2.11.2 (+https://scrapy.org)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "axios/1.7.9",
        "PostmanRuntime/7.43.0",
        "HTTPie/3.2.4",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        "sqlmap/1.8.11#stable (https://sqlmap.org)",
    ],
)
def test_declared_libraries(ua: str) -> None:
    assert DECLARED_LIBRARY.id in user_agent_detections(ua) or DECLARED_CRAWLER.id in (
        user_agent_detections(ua)
    )


@pytest.mark.parametrize(
    "ua",
    [
        # Real devices whose names contain "bot" or "phantom".
        "Mozilla/5.0 (Linux; Android 10; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.99 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 9; CUBOT_P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.230 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 9; M bot 60 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.157 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 6.0; TECNO Phantom6 Build/MRA58K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/55.0.2883.91 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 7.0; Phantom6-Plus Build/NRD90M) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.83 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; TECNO PHANTOM X2 Pro 5G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 12; KINGKONG 9 Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36",
        CHROME_UA,
        FIREFOX_UA,
        SAFARI_UA,
    ],
)
def test_devices_named_bot_or_phantom_are_people(ua: str) -> None:
    assert user_agent_detections(ua) == ()


@pytest.mark.parametrize("ua", ["", "   "])
def test_empty_user_agent(ua: str) -> None:
    assert user_agent_detections(ua) == (EMPTY_USER_AGENT.id,)
    assert score({"ip": "1.2.3.4", "headers": [["user-agent", ua]]}) == (EMPTY_USER_AGENT.id,)
    assert score({"ip": "1.2.3.4", "headers": []}) == (EMPTY_USER_AGENT.id,)


def _rec(headers: list[list[str]], ja4: str | None = None, version: str = "2") -> dict[str, Any]:
    r: dict[str, Any] = {"ip": "81.2.3.4", "url": "https://shop.example/", "headers": headers}
    r["http_version"] = version
    if ja4:
        r["tls"] = {"ja4": ja4}
    return r


def test_real_browser_header_sets_pass() -> None:
    chrome = chrome_headers(CHROME_UA, "Windows", False, "Google Chrome", "document")
    assert score(_rec(chrome, CHROME_JA4)) == ()
    assert score(_rec(firefox_headers())) == ()
    assert score(_rec(safari_headers(SAFARI_UA))) == ()


def test_browser_user_agent_on_library_tls_is_impersonation() -> None:
    headers = [["user-agent", CHROME_UA], ["accept", "*/*"], ["sec-fetch-mode", "navigate"]]
    headers += [["sec-ch-ua", '"Chromium";v="131"']]
    assert score(_rec(headers, PYTHON_JA4)) == (TLS_NOT_BROWSER.id,)
    assert score(_rec(headers, CHROME_JA4)) == ()


def test_chrome_without_fetch_metadata_or_hints() -> None:
    bare = [["user-agent", CHROME_UA], ["accept", "text/html"]]
    assert score(_rec(bare)) == (NO_FETCH_METADATA.id,)
    no_hints = [*bare, ["sec-fetch-mode", "navigate"], ["sec-fetch-site", "none"]]
    assert score(_rec(no_hints)) == (NO_CLIENT_HINTS.id,)
    # Firefox never sends client hints: not a detection.
    ff = [["user-agent", FIREFOX_UA], ["sec-fetch-mode", "navigate"]]
    assert score(_rec(ff)) == ()


def test_plain_http_does_not_expect_secure_context_headers() -> None:
    r = _rec([["user-agent", CHROME_UA], ["accept", "text/html"]])
    r["url"] = "http://shop.example/"
    assert score(r) == ()


def test_http10_from_current_browser() -> None:
    chrome = chrome_headers(CHROME_UA, "Windows", False, "Google Chrome", "document")
    assert score(_rec(chrome, CHROME_JA4, version="1.0")) == (OLD_HTTP_VERSION.id,)


def test_old_browsers_are_not_held_to_current_headers() -> None:
    old = "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/49.0.2623.112 Safari/537.36"
    assert score(_rec([["user-agent", old], ["accept", "*/*"]])) == ()


def test_access_log_lines_do_not_trip_header_heuristics() -> None:
    line = f'81.2.3.4 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "{CHROME_UA}"'
    assert ENGINE.evaluate(context_from_combined(line), None) is None


def test_verdict_is_final_score_one() -> None:
    v = ENGINE.evaluate(context_from_record(_rec([["user-agent", "curl/8.5.0"]])), None)
    assert v is not None
    assert v.score == 1
    assert v.final
    assert v.source == ScoreSource.HEURISTICS


def test_detections_doc_is_current() -> None:
    from pathlib import Path

    from botwarden.engines.docs import detections_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "detections.md"
    assert doc.read_text() == detections_markdown(), (
        "docs/detections.md is stale: python -m botwarden.engines.docs > docs/detections.md"
    )
