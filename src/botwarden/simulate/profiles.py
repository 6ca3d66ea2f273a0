"""The clients of every population: browser builds by family, HTTP libraries and tools,
headless Chromium, impersonating libraries, and the unusual clients of hard humans.

Browser builds come from `clients.browser_clients()` (header-generator's data); the rest
are built here from the captured heads and TLS of real clients (`data/simulate/
clients.json`), each with a comment on where its values come from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

from botwarden.simulate.clients import (
    COOKIE,
    HOST,
    JSON,
    KINDS,
    LANG,
    LENGTH,
    POST_KINDS,
    Client,
    Pair,
    Template,
    TLSPrint,
    browser_clients,
    captured,
    captured_head,
    chrome_target,
    chromium_kinds,
    gecko_kinds,
    library_kinds,
    tls_of,
    webkit_kinds,
)

# Go's default TLS: FoxIO's published JA4 for Go's crypto/tls (ja4plus-mapping.csv,
# BSD-3-Clause); Go is not installed here, so there is no capture and no JA3.
GO_TLS = TLSPrint(
    ja4="t13d190900_9dc949149365_97f8aa674fd9",
    ja3="",
    ja3_hash="",
    source="FoxIO ja4plus-mapping.csv: GoLang",
)
# A popular current desktop Chrome UA, what spoofing libraries copy.
CHROME_WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/147.0.0.0 Safari/537.36"
)


def _by(pred: Callable[[Client], bool]) -> tuple[Client, ...]:
    found = tuple(c for c in browser_clients() if pred(c))
    if not found:
        raise LookupError("no browser build matches")
    return found


# -- humans' browsers --------------------------------------------------------------------------


@functools.cache
def family(name: str) -> tuple[Client, ...]:
    """Browser builds of one human population, weighted as header-generator's data has them."""
    if name == "chrome_desktop":
        return _by(lambda c: c.family == "chrome" and c.device == "desktop")
    if name == "chrome_android":
        return _by(lambda c: c.family == "chrome" and c.os == "android")
    if name == "safari_mac":
        return _by(lambda c: c.family == "safari" and c.os == "macos")
    if name == "safari_ios":
        return _by(lambda c: c.os == "ios")
    if name == "firefox":
        return _by(lambda c: c.family == "firefox")
    if name == "edge":
        return _by(lambda c: c.family == "edge")
    if name == "brave":
        return _by(lambda c: '"Brave"' in dict(c.kinds["document"]).get("sec-ch-ua", ""))
    raise KeyError(name)


def _chromium_client(
    key: str,
    family_name: str,
    ua: str,
    hints: dict[str, str],
    major: int,
    *,
    tls: TLSPrint | None = None,
    extra: tuple[Pair, ...] = (),
    device: str = "mobile",
    os_name: str = "android",
    h2: bool = True,
    impersonate: str | None = None,
) -> Client:
    target = chrome_target(major)
    headers = {
        "user-agent": ua,
        "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        "accept-encoding": "gzip, deflate, br, zstd",
        "upgrade-insecure-requests": "1",
        **hints,
    }
    return Client(
        key=key,
        family=family_name,
        engine="chromium",
        ua=ua,
        http_version="2" if h2 else "1.1",
        tls=tls or tls_of(f"curl_cffi:{target}", permutes=True),
        kinds=chromium_kinds(headers, major, h2=h2, extra=extra),
        lang_style="chromium",
        driver="curl_cffi",
        impersonate=impersonate or target,
        device=device,
        os=os_name,
    )


@functools.cache
def samsung_internet() -> tuple[Client, ...]:
    # Samsung Internet 27 is built on Chromium 125 and sends reduced UA and hints.
    ua = (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
    )
    hints = {
        "sec-ch-ua": '"Chromium";v="125", "Not.A/Brand";v="24", "Samsung Internet";v="27.0"',
        "sec-ch-ua-mobile": "?1",
        "sec-ch-ua-platform": '"Android"',
    }
    return (_chromium_client("samsung/27.0 android mobile", "samsung", ua, hints, 125),)


@functools.cache
def in_app_webviews() -> tuple[Client, ...]:
    # Facebook's in-app browser on Android: the system WebView (Chromium), its brand in the
    # hints, and X-Requested-With naming the app; Instagram's on iOS: WKWebView, whose
    # UA lacks Safari's "Version/" and "Safari/" tokens.
    fb_ua = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/491.0.0.58.80;]"
    )
    fb = _chromium_client(
        "webview/facebook android",
        "webview",
        fb_ua,
        {
            "sec-ch-ua": '"Android WebView";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
            "sec-ch-ua-mobile": "?1",
            "sec-ch-ua-platform": '"Android"',
        },
        131,
        extra=(("x-requested-with", "com.facebook.katana"),),
    )
    ig_ua = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Instagram 356.0.0.41.86 (iPhone15,2; iOS 18_1; "
        "en_US; en; scale=3.00; 1179x2556; 664398485)"
    )
    ig = Client(
        key="webview/instagram ios",
        family="webview",
        engine="webkit",
        ua=ig_ua,
        http_version="2",
        tls=tls_of("curl_cffi:safari184_ios"),
        kinds=webkit_kinds({"user-agent": ig_ua, "accept-encoding": "gzip, deflate, br"}, (18, 1)),
        lang_style="webkit",
        driver="curl_cffi",
        impersonate="safari184_ios",
        device="mobile",
        os="ios",
    )
    return (fb, ig)


# -- hard humans --------------------------------------------------------------------------------


@functools.cache
def novel_browsers() -> tuple[Client, ...]:
    """Real browsers on a browser/OS combination rarely seen: the seed's false positive."""
    ff_ua = "Mozilla/5.0 (X11; FreeBSD amd64; rv:147.0) Gecko/20100101 Firefox/147.0"
    freebsd = Client(
        key="firefox/147.0 freebsd desktop",
        family="firefox",
        engine="gecko",
        ua=ff_ua,
        http_version="2",
        tls=tls_of("curl_cffi:firefox147"),
        kinds=gecko_kinds({"user-agent": ff_ua}, 147),
        lang_style="gecko-new",
        driver="curl_cffi",
        impersonate="firefox147",
        os="freebsd",
    )
    # Debian's Chromium 156 on a 64-bit ARM board: hints and TLS exactly as the real
    # Chromium sent them on loopback (unbranded "Chromium", JPEG XL in Accept).
    arm_ua = (
        "Mozilla/5.0 (X11; Linux aarch64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/156.0.0.0 Safari/537.36"
    )
    doc = dict(captured_chromium_document())
    arm = _chromium_client(
        "chromium/156 linux-aarch64 desktop",
        "chromium",
        arm_ua,
        {
            "sec-ch-ua": doc["sec-ch-ua"],
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-platform": '"Linux"',
            "accept": doc["Accept"],
        },
        156,
        tls=tls_of("chromium", permutes=True),
        device="desktop",
        os_name="linux",
        impersonate="chrome150",
    )
    return (freebsd, arm)


def captured_chromium_document() -> list[Pair]:
    from botwarden.simulate.clients import _captured_chromium

    return _captured_chromium()["document"]


@functools.cache
def tls_inspecting_proxy() -> tuple[Client, ...]:
    """Chrome and Edge behind a corporate proxy that decrypts TLS: the origin sees the
    proxy's OpenSSL handshake and HTTP/1.1 with the browser's headers and a Via."""
    out = []
    for c in family("chrome_desktop")[:6] + family("edge")[:3]:
        doc = dict(c.kinds["document"])
        headers = {k: v for k, v in doc.items() if not v.startswith("\x00")}
        major = int(c.ua.split("Chrome/")[1].split(".")[0])
        kinds = chromium_kinds(headers, major, h2=False)
        via = ("Via", "1.1 proxy.corp.example (squid/5.7)")
        out.append(
            Client(
                key=f"{c.key} via ssl-bump proxy",
                family=c.family,
                engine="chromium",
                ua=c.ua,
                http_version="1.1",
                tls=tls_of("openssl"),
                kinds={k: (*t, via) for k, t in kinds.items()},
                lang_style="chromium",
                driver="aiohttp",
                os=c.os,
                weight=c.weight,
            )
        )
    return tuple(out)


@functools.cache
def privacy_browsers() -> tuple[Client, ...]:
    # Tor Browser 14 (Firefox ESR 128): every platform reports Windows and en-US, and it
    # sends Sec-GPC (headers and TLS of curl_cffi's tor145 target).
    tor_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    tor = Client(
        key="tor/14 windows desktop",
        family="tor",
        engine="gecko",
        ua=tor_ua,
        http_version="2",
        tls=tls_of("curl_cffi:tor145"),
        kinds=gecko_kinds({"user-agent": tor_ua}, 128, extra={"sec-gpc": "1"}),
        lang_style="gecko",
        driver="curl_cffi",
        impersonate="tor145",
        weight=0.4,
    )
    # Firefox hardened by its user: Do Not Track and Global Privacy Control on.
    ff_ua = "Mozilla/5.0 (X11; Linux x86_64; rv:147.0) Gecko/20100101 Firefox/147.0"
    strict = Client(
        key="firefox/147.0 linux desktop strict",
        family="firefox",
        engine="gecko",
        ua=ff_ua,
        http_version="2",
        tls=tls_of("curl_cffi:firefox147"),
        kinds=gecko_kinds({"user-agent": ff_ua, "dnt": "1"}, 147, extra={"sec-gpc": "1"}),
        lang_style="gecko-new",
        driver="curl_cffi",
        impersonate="firefox147",
        os="linux",
        weight=0.3,
    )
    brave = family("brave")
    total = sum(c.weight for c in brave) or 1.0
    return (tor, strict, *(replace(c, weight=0.3 * c.weight / total) for c in brave))


@functools.cache
def text_browser() -> tuple[Client, ...]:
    """Lynx, used with screen readers and braille displays. Its GnuTLS handshake was not
    captured here, so its TLS fingerprint is left unknown."""
    ua = "Lynx/2.9.0dev.12 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.7.8"
    head: list[Pair] = [
        ("Host", HOST),
        ("Accept", "text/html, text/plain, text/sgml, text/css, */*;q=0.01"),
        ("Accept-Encoding", "gzip, compress, bzip2"),
        ("Accept-Language", "en"),
        ("User-Agent", ua),
    ]
    return (
        Client(
            key="lynx/2.9 linux",
            family="lynx",
            engine="library",
            ua=ua,
            http_version="1.1",
            tls=None,
            kinds=library_kinds(head),
            driver="aiohttp",
            os="linux",
        ),
    )


@functools.cache
def app_clients() -> tuple[Client, ...]:
    """The shop's own mobile apps calling its JSON API with a bearer token."""
    ios_ua = "ShopApp/5.12.0 CFNetwork/1568.200.51 Darwin/24.1.0"
    ios: Template = (
        ("accept", JSON),
        ("authorization", COOKIE),
        ("accept-language", LANG),
        ("x-app-version", "5.12.0"),
        ("accept-encoding", "gzip, deflate, br"),
        ("user-agent", ios_ua),
    )
    # OkHttp adds Accept-Encoding and User-Agent after the app's headers. Conscrypt's
    # handshake was not captured here: TLS left unknown.
    android_ua = "okhttp/4.12.0"
    android: Template = (
        ("accept", JSON),
        ("authorization", COOKIE),
        ("x-app-version", "5.12.0"),
        ("accept-encoding", "gzip"),
        ("user-agent", android_ua),
    )

    def kinds(base: Template, post_at: int) -> dict[str, Template]:
        post = (*base[:post_at], ("content-type", JSON), ("content-length", LENGTH),
                *base[post_at:])  # fmt: skip
        return {k: post if k in POST_KINDS else base for k in KINDS}

    return (
        Client(
            key="shopapp/5.12.0 ios",
            family="shopapp",
            engine="library",
            ua=ios_ua,
            http_version="2",
            tls=tls_of("curl_cffi:safari184_ios"),
            kinds=kinds(ios, 2),
            lang_style="webkit",
            driver="curl_cffi",
            impersonate="safari184_ios",
            device="mobile",
            os="ios",
            weight=0.5,
        ),
        Client(
            key="shopapp/5.12.0 android okhttp",
            family="shopapp",
            engine="library",
            ua=android_ua,
            http_version="2",
            tls=None,
            kinds=kinds(android, 3),
            driver="aiohttp",
            device="mobile",
            os="android",
            weight=0.5,
        ),
    )


# -- libraries and tools -----------------------------------------------------------------------


def _lib(
    key: str,
    family_name: str,
    head: list[Pair],
    tls: TLSPrint | None,
    *,
    post: list[Pair] | None = None,
    ua: str | None = None,
    driver: str = "aiohttp",
    weight: float = 1.0,
    cookies: bool = True,
) -> Client:
    kinds = library_kinds(head, post, ua=ua, cookies=cookies)
    agent = ua or next((v for n, v in head if n.lower() == "user-agent"), "")
    return Client(
        key=key,
        family=family_name,
        engine="library",
        ua=agent,
        http_version="1.1",
        tls=tls,
        kinds=kinds,
        driver=driver,
        weight=weight,
    )


def _requests_head(ua: str) -> list[Pair]:
    # python-requests 2.32's defaults, in http.client's order (Host first).
    return [("Host", HOST), ("User-Agent", ua), ("Accept-Encoding", "gzip, deflate"),
            ("Accept", "*/*"), ("Connection", "keep-alive")]  # fmt: skip


def _go_head(ua: str) -> list[Pair]:
    # Go net/http: Host, User-Agent, then Accept-Encoding: gzip added by the transport.
    return [("Host", HOST), ("User-Agent", ua), ("Accept-Encoding", "gzip")]


def _axios_head() -> list[Pair]:
    return [("Host", HOST), ("Accept", "application/json, text/plain, */*"),
            ("User-Agent", "axios/1.7.9"), ("Accept-Encoding", "gzip, compress, deflate, br"),
            ("Connection", "keep-alive")]  # fmt: skip


# TLS of python-requests: urllib3 2 builds the same context as httpx (OpenSSL defaults,
# ALPN http/1.1) — httpx's captured hello stands for it.
@functools.cache
def libraries() -> tuple[Client, ...]:
    """Declared HTTP libraries and command-line tools (sophistication 1)."""
    return (
        _lib("curl/7.88.1", "curl", captured_head("curl"), tls_of("curl"),
             post=captured_head("curl", "POST"), driver="curl", cookies=False),
        _lib("python-requests/2.32.3", "python-requests",
             _requests_head("python-requests/2.32.3"), tls_of("httpx"), weight=2.0),
        _lib("go-http-client/1.1", "go", _go_head("Go-http-client/1.1"), GO_TLS, cookies=False),
        _lib(f"aiohttp/{_aiohttp_version()}", "aiohttp", captured_head("aiohttp"),
             tls_of("aiohttp"), post=captured_head("aiohttp", "POST")),
        _lib("axios/1.7.9", "axios", _axios_head(), tls_of("node"), cookies=False),
        _lib("wget/1.21.3", "wget", captured_head("wget"), tls_of("wget"), weight=0.5,
             cookies=False),
        _lib("java-http-client/17", "java", captured_head("java"), tls_of("java"), weight=0.5,
             cookies=False),
    )  # fmt: skip


def _aiohttp_version() -> str:
    head = captured("aiohttp")["head_get"]
    assert isinstance(head, list)
    return str(next(v for n, v in head if n == "User-Agent")).split("aiohttp/")[-1]


@functools.cache
def scraper_libraries() -> tuple[Client, ...]:
    scrapy_ua = "Scrapy/2.11.2 (+https://scrapy.org)"
    scrapy_head: list[Pair] = [
        ("Host", HOST),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en"),
        ("User-Agent", scrapy_ua),
        ("Accept-Encoding", "gzip, deflate, br"),
    ]
    # Scrapy speaks TLS through Twisted and OpenSSL: Python's captured hello stands for it.
    scrapy = _lib("scrapy/2.11.2", "scrapy", scrapy_head, tls_of("python"), weight=2.0)
    return (scrapy, *libraries())


def _tool(key: str, ua: str, tls: TLSPrint | None, extra: tuple[Pair, ...] = ()) -> Client:
    head: list[Pair] = [("Host", HOST), ("User-Agent", ua), ("Accept", "*/*"), *extra]
    return _lib(key, key.split("/")[0], head, tls, cookies=False)


@functools.cache
def scanners() -> tuple[Client, ...]:
    """Vulnerability scanners and fuzzers that name themselves, with their stack's TLS:
    Go (nuclei, ffuf, zgrab), Python (sqlmap), libcurl (WPScan via Typhoeus), OpenSSL
    (Nikto's Perl, Hydra)."""
    openssl = tls_of("openssl")
    return (
        _tool("nuclei/3", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
              GO_TLS),
        _tool("sqlmap/1.8", "sqlmap/1.8.2#stable (https://sqlmap.org)", tls_of("python")),
        _tool("nikto/2.5", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)", openssl),
        _tool("wpscan/3.8", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
              tls_of("curl")),
        _tool("zgrab/0.x", "Mozilla/5.0 zgrab/0.x", GO_TLS),
        _tool("ffuf/2.1", "Fuzz Faster U Fool v2.1.0-dev", GO_TLS),
    )  # fmt: skip


@functools.cache
def login_tools() -> tuple[Client, ...]:
    return (
        _tool("hydra/9.5", "Mozilla/5.0 (Hydra)", tls_of("openssl")),
        *(c for c in libraries() if c.family in ("python-requests", "go", "curl")),
    )


@functools.cache
def spoofing_libraries() -> tuple[Client, ...]:
    """Libraries sending a browser's user agent over their own TLS and headers (level 2)."""
    ua = CHROME_WINDOWS_UA
    browserish: list[Pair] = [
        ("Host", HOST), ("User-Agent", ua),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ]  # fmt: skip
    return (
        _lib("python-requests spoofing chrome", "python-requests", _requests_head(ua),
             tls_of("httpx"), weight=2.0),
        _lib("go spoofing chrome", "go", _go_head(ua), GO_TLS),
        _lib("curl spoofing chrome", "curl", browserish, tls_of("curl"), driver="curl",
             cookies=False),
        _lib("aiohttp spoofing chrome", "aiohttp", captured_head("aiohttp"), tls_of("aiohttp"),
             post=captured_head("aiohttp", "POST"), ua=ua),
    )  # fmt: skip


@functools.cache
def headless() -> tuple[Client, ...]:
    """Headless Chromium as Playwright/Puppeteer drive it (level 3): the real Chromium's
    headers and TLS; once as it announces itself, once with the UA overridden to desktop
    Chrome while its client hints still say Linux and Chromium."""
    doc = dict(captured_chromium_document())
    hints = {"sec-ch-ua": doc["sec-ch-ua"], "sec-ch-ua-mobile": "?0",
             "sec-ch-ua-platform": '"Linux"', "accept": doc["Accept"]}  # fmt: skip
    tls = tls_of("chromium", permutes=True)
    plain = _chromium_client("headlesschrome/156 linux", "headless_chrome", doc["User-Agent"],
                             hints, 156, tls=tls, device="desktop", os_name="linux")  # fmt: skip
    ua = CHROME_WINDOWS_UA.replace("147.0.0.0", "156.0.0.0")
    override = _chromium_client("chromium/156 ua-override", "headless_chrome", ua, hints, 156,
                                tls=tls, device="desktop", os_name="linux")  # fmt: skip
    return (
        replace(plain, driver="chromium"),
        replace(override, driver="chromium"),
    )


@functools.cache
def impersonators() -> tuple[Client, ...]:
    """curl_cffi with a Chrome target and its default headers (level 4, the cheap kind):
    browser-grade TLS, but every request is a top-level navigation typed in the address
    bar — what curl_cffi sends unless told otherwise (captured)."""
    out = []
    for target in ("chrome131", "chrome136", "chrome142", "chrome146"):
        head = [(n.lower(), v) for n, v in captured_head(f"curl_cffi:{target}")
                if n.lower() != "host"]  # fmt: skip
        post = [(n.lower(), v) for n, v in captured_head(f"curl_cffi:{target}", "POST")
                if n.lower() != "host"]  # fmt: skip
        post = [(n, LENGTH if n == "content-length" else v) for n, v in post]
        ua = dict(head)["user-agent"]
        kinds = {k: tuple(post if k in POST_KINDS else head) for k in KINDS}
        out.append(
            Client(
                key=f"curl_cffi/{target} defaults",
                family="chrome",
                engine="chromium",
                ua=ua,
                http_version="2",
                tls=tls_of(f"curl_cffi:{target}", permutes=True),
                kinds=kinds,
                lang_style="chromium",
                driver="curl_cffi",
                impersonate=target,
            )
        )
    return tuple(out)


# -- good bots -----------------------------------------------------------------------------------


def _crawler(key: str, ua: str, *, accept: str = "*/*", extra: tuple[Pair, ...] = (),
             weight: float = 1.0, http: str = "1.1") -> Client:  # fmt: skip
    # Crawlers' TLS stacks were not captured (they cannot be run here): left unknown.
    head: list[Pair] = [("Host", HOST), ("User-Agent", ua), ("Accept", accept), *extra]
    c = _lib(key, key.split("/")[0], head, None, cookies=False, weight=weight)
    return replace(c, http_version=http)


_GOOGLEBOT_ACCEPT = (
    "text/html,application/xhtml+xml,application/signed-exchange;v=b3,application/xml;q=0.9,"
    "*/*;q=0.8"
)


@functools.cache
def googlebots() -> tuple[Client, ...]:
    smartphone = (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/147.0.7727.56 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    )
    desktop = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    enc = (("Accept-Encoding", "gzip, deflate, br"),)
    return (
        _crawler("googlebot/smartphone", smartphone, accept=_GOOGLEBOT_ACCEPT, extra=enc,
                 weight=3.0),
        _crawler("googlebot/desktop", desktop, accept=_GOOGLEBOT_ACCEPT, extra=enc),
    )  # fmt: skip


@functools.cache
def bingbots() -> tuple[Client, ...]:
    ua = (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
    )
    return (_crawler("bingbot/2.0", ua, accept=_GOOGLEBOT_ACCEPT,
                     extra=(("Accept-Encoding", "gzip, deflate"),)),)  # fmt: skip


@functools.cache
def gptbots() -> tuple[Client, ...]:
    ua = (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)"
    )
    return (_crawler("gptbot/1.2", ua),)


@functools.cache
def ai_crawlers() -> tuple[Client, ...]:
    """AI crawlers whose operators publish no IP list or DNS check (so they cannot be
    verified); they come from ordinary cloud ranges."""
    return (
        _crawler("claudebot/1.0", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; "
                 "compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", weight=3.0),
        _crawler("bytespider", "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, "
                 "like Gecko) Mobile Safari/537.36 (compatible; Bytespider; "
                 "spider-feedback@bytedance.com)", weight=2.0),
        _crawler("meta-externalagent/1.1", "meta-externalagent/1.1 "
                 "(+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
                 weight=2.0),
        _crawler("ai2bot", "Mozilla/5.0 (compatible) AI2Bot (+https://www.allenai.org/crawler)"),
        _crawler("cohere-training-data-crawler", "cohere-training-data-crawler "
                 "(+https://cohere.com/crawler)"),
    )  # fmt: skip


@functools.cache
def monitors() -> tuple[Client, ...]:
    return (
        _crawler("uptimerobot/2.0",
                 "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
                 weight=3.0),
        _crawler("pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", weight=2.0),
        _crawler("datadog-synthetics", "Datadog/Synthetics", weight=2.0),
        _crawler("statuscake", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                 "(KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 StatusCake"),
        _crawler("betteruptime", "Better Uptime Bot Mozilla/5.0 (X11; Linux x86_64) "
                 "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
    )  # fmt: skip
