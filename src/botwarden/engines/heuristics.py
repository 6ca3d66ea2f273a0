"""The heuristics engine: fingerprint rules that are sure enough to give score 1.

Each heuristic has a stable detection id (stored in events and matched by
`cf.bot_management.detection_ids`), a one-line description, and tests. A request that
trips any heuristic gets score 1 with source "Heuristics" and every id it tripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import re2
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from botwarden.engines.base import Verdict
from botwarden.request import parse_user_agent
from botwarden.result import ScoreSource

if TYPE_CHECKING:
    from botwarden.bots import BotDirectory
    from botwarden.request import RequestContext
    from botwarden.state.base import StateStore


@dataclass(frozen=True, slots=True)
class Heuristic:
    id: int
    name: str
    description: str


DECLARED_LIBRARY = Heuristic(
    1001, "declared_library", "User agent of an HTTP library, tool or headless browser"
)
DECLARED_CRAWLER = Heuristic(
    1002, "declared_crawler", "User agent matches a known crawler (crawler-user-agents)"
)
SPIDER_DEVICE = Heuristic(1003, "spider_device", "ua-parser classifies the user agent as a Spider")
EMPTY_USER_AGENT = Heuristic(1010, "empty_user_agent", "User-Agent header missing or empty")
TLS_NOT_BROWSER = Heuristic(
    1020, "tls_not_browser", "Browser user agent, but the TLS fingerprint is an HTTP library's"
)
NO_FETCH_METADATA = Heuristic(
    1030,
    "no_fetch_metadata",
    "Current browser over HTTPS without the Sec-Fetch-* headers every such browser sends",
)
NO_CLIENT_HINTS = Heuristic(
    1031,
    "no_client_hints",
    "Current Chromium browser over HTTPS without the Sec-CH-UA hints it always sends",
)
OLD_HTTP_VERSION = Heuristic(1032, "http10_browser", "Current browser user agent over HTTP/1.0")
FAKE_VERIFIED_BOT = Heuristic(
    1040, "fake_verified_bot", "Claims to be a verifiable good bot but fails its verification"
)

HEURISTICS: tuple[Heuristic, ...] = (
    DECLARED_LIBRARY,
    DECLARED_CRAWLER,
    SPIDER_DEVICE,
    EMPTY_USER_AGENT,
    TLS_NOT_BROWSER,
    NO_FETCH_METADATA,
    NO_CLIENT_HINTS,
    OLD_HTTP_VERSION,
    FAKE_VERIFIED_BOT,
)

# HTTP libraries, command-line tools, scanners and automation frameworks that name
# themselves. Anchored on token boundaries so that device names merely containing
# "bot" or "phantom" (CUBOT, "M bot 60", TECNO Phantom6) do not match.
_LIBRARY_TOKENS = (
    r"curl/",
    r"libcurl",
    r"Wget/",
    r"python-requests/",
    r"python-urllib\d?/",
    r"Python-urllib/",
    r"python-httpx/",
    r"aiohttp/",
    r"httpx/",
    r"urllib3/",
    r"PycURL/",
    r"Go-http-client/",
    r"Go http package",
    r"go-resty/",
    r"fasthttp",
    r"okhttp/",
    r"Java/\d",
    r"Apache-HttpClient/",
    r"Jakarta Commons-HttpClient/",
    r"libwww-perl/",
    r"lwp-trivial/",
    r"WWW-Mechanize/",
    r"Mechanize/",
    r"Scrapy/",
    r"HeadlessChrome/",
    r"PhantomJS/",
    r"Puppeteer",
    r"Playwright/",
    r"Selenium",
    r"node-fetch/",
    r"undici",
    r"axios/",
    r"got \(https://github\.com/sindresorhus/got\)",
    r"PostmanRuntime/",
    r"insomnia/",
    r"HTTPie/",
    r"httpie",
    r"Ruby",
    r"Faraday v",
    r"rest-client/",
    r"GuzzleHttp/",
    r"Dart/\d",
    r"reqwest/",
    r"hyper/",
    r"colly",
    r"Nutch",
    r"zgrab/",
    r"masscan/",
    r"Nmap Scripting Engine",
    r"Nikto",
    r"sqlmap/",
    r"Nuclei",
    r"WPScan",
    r"Deno/",
    r"Bun/",
    r"Electron-Fetch",
    r"HttpClient/",
    r"RestSharp/",
    r"Typhoeus",
)
_LIBRARY_RE = re.compile(
    r"(?:^|[\s(;,/])(?:" + "|".join(_LIBRARY_TOKENS) + r")|^[Pp]ython/\d|^Java\b", re.ASCII
)

# crawler-user-agents' ~1,500 patterns as one RE2 alternation: linear time, ~5 µs a
# search. The DFA for it needs more than RE2's default 8 MB, or RE2 falls back to the
# (much slower) NFA and logs "DFA out of memory" on every search.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 256 << 20
_CRAWLER_RE = re2.compile(
    "|".join(f"(?:{d['pattern']})" for d in CRAWLER_USER_AGENTS_DATA), _RE2_OPTIONS
)

_BROWSER_FAMILIES = {
    "Chrome": ("chromium", 80),
    "Chrome Mobile": ("chromium", 80),
    "Edge": ("chromium", 80),
    "Edge Mobile": ("chromium", 80),
    "Opera": ("chromium", 67),
    "Samsung Internet": ("chromium", 13),
    "Firefox": ("firefox", 90),
    "Firefox Mobile": ("firefox", 90),
    "Safari": ("safari", 17),
    "Mobile Safari": ("safari", 17),
}
# Families whose current versions always send Sec-CH-UA on secure requests. Chrome on iOS
# (WebKit) and Android WebView do not, so they are not listed.
_CLIENT_HINT_FAMILIES = {"Chrome", "Chrome Mobile", "Edge", "Edge Mobile", "Opera"}


@lru_cache(maxsize=65536)
def user_agent_detections(ua: str) -> tuple[int, ...]:
    """Detection ids decided by the user-agent string alone (cached: strings repeat)."""
    if not ua.strip():
        return (EMPTY_USER_AGENT.id,)
    ids: list[int] = []
    if _LIBRARY_RE.search(ua):
        ids.append(DECLARED_LIBRARY.id)
    if _CRAWLER_RE.search(ua):
        ids.append(DECLARED_CRAWLER.id)
    if parse_user_agent(ua).device_family == "Spider":
        ids.append(SPIDER_DEVICE.id)
    return tuple(ids)


def _browser(ctx: RequestContext) -> tuple[str, int] | None:
    """(engine, major) when the UA claims a current mainstream browser, else None."""
    ua = ctx.ua
    entry = _BROWSER_FAMILIES.get(ua.family)
    if entry is None or ua.major is None or not ua.major.isdigit():
        return None
    major = int(ua.major)
    engine, since = entry
    return (engine, major) if major >= since else None


class HeuristicsEngine:
    name = "heuristics"

    def __init__(
        self,
        directory: BotDirectory | None = None,
        ja4_families: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.directory = directory
        if ja4_families is None:
            from botwarden.fingerprint.ja4db import load_ja4_families

            ja4_families = load_ja4_families()
        # Only non-browser JA4s matter here: a browser UA on one is an impersonation.
        self.non_browser_ja4 = {
            ja4: family for ja4, (family, kind) in ja4_families.items() if kind != "browser"
        }
        self.checks: tuple[Callable[[RequestContext], int | None], ...] = (
            self._tls_not_browser,
            self._header_consistency,
            self._fake_verified_bot,
        )

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        ids = list(user_agent_detections(ctx.user_agent))
        for check in self.checks:
            found = check(ctx)
            if found is not None:
                ids.append(found)
        if not ids:
            return None
        return Verdict(score=1, source=ScoreSource.HEURISTICS, final=True, detection_ids=tuple(ids))

    def _tls_not_browser(self, ctx: RequestContext) -> int | None:
        ja4 = ctx.ja4
        if ja4 is None or ja4 not in self.non_browser_ja4 or _browser(ctx) is None:
            return None
        return TLS_NOT_BROWSER.id

    def _header_consistency(self, ctx: RequestContext) -> int | None:
        if not ctx.headers_complete:
            return None
        browser = _browser(ctx)
        if browser is None:
            return None
        if ctx.http_version == "1.0":
            return OLD_HTTP_VERSION.id
        if not ctx.is_tls:
            return None  # Sec-Fetch-* and client hints are sent to secure origins only
        h = ctx.header_map
        if "sec-fetch-mode" not in h and "sec-fetch-site" not in h:
            return NO_FETCH_METADATA.id
        if ctx.ua.family in _CLIENT_HINT_FAMILIES and "sec-ch-ua" not in h:
            return NO_CLIENT_HINTS.id
        return None

    def _fake_verified_bot(self, ctx: RequestContext) -> int | None:
        if self.directory is None:
            return None
        bot = self.directory.claim(ctx.user_agent)
        if bot is None:
            return None
        return FAKE_VERIFIED_BOT.id if self.directory.verify(bot, ctx.client_ip) is False else None
