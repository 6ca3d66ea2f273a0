"""The one feature extractor, for serving (one row from a RequestContext and per-client
state) and for training (a vectorised batch from an event table).

A feature vector is `N_FEATURES` float32 values in `FEATURE_NAMES` order. It is built
from blocks, each a pure function of a small key, so that the batch path can compute a
block once per distinct key and gather, and the serving path can cache it:

- request: user agent, TLS fingerprint, client hints, end-to-end header names/order and
  the values of the headers in `VALUE_HEADERS`, method (`request_block`); nothing that
  depends on the HTTP version the server negotiated (`TRANSPORT_HEADERS`);
- path: kind of path, static resource, shape of the query (`path_block`, `query_block`);
- cookie: cookies, the Botwarden session cookie, the referer (`cookie_block`);
- network: the ASN category (`ml/asn.py`);
- windows: per client, per IP and per JA4, from `ml/windows.py`, computed with integer
  arithmetic in both paths so that they agree bit for bit.

`batch_features(table)` and `FeatureExtractor.extract(ctx)` replayed over the same
events give identical vectors (tests/ml/test_features.py).
"""

from __future__ import annotations

import hashlib
import operator
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import compress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from botwarden.ml import asn as asn_mod
from botwarden.ml import windows
from botwarden.request import RequestContext, TLSInput

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

    from botwarden.engines.heuristics import HeuristicsEngine
    from botwarden.state.base import StateStore

FEATURES_VERSION = 2
"""v2: header features over end-to-end headers only, no HTTP version, no `tls_present`, no
`ja4_h2h3_ratio_1h` (what the deployment negotiates is not what the client is)."""

REQUEST_FEATURES: tuple[str, ...] = (
    "ua_len",
    "ua_empty",
    "ua_declared_bot",
    "ua_mozilla",
    "ua_browser_like",
    "ua_engine",
    "ua_browser_major",
    "ua_os",
    "ua_mobile",
    "ja4_proto",
    "ja4_tls_version",
    "ja4_sni",
    "ja4_ciphers",
    "ja4_extensions",
    "ja4_alpn",
    "ja4_kind",
    "ua_tls_match",
    "ch_present",
    "ch_brand_match",
    "ch_platform_match",
    "ch_mobile_match",
    "ch_headless",
    "hdr_count",
    "hdr_ua_pos",
    "hdr_lang_before_enc",
    "hdr_accept_before_ua",
    "accept_kind",
    "accept_len",
    "lang_kind",
    "lang_tags",
    "enc_kind",
    "sf_site",
    "sf_mode",
    "sf_dest",
    "sf_user",
    "sf_consistent",
    "has_upgrade_insecure",
    "has_dnt",
    "has_cache_control",
    "has_pragma",
    "has_origin",
    "has_x_requested_with",
    "has_content_type",
    "has_authorization",
    "method",
    "heuristic_hit",
)
PATH_FEATURES: tuple[str, ...] = (
    "path_kind",
    "static_resource",
    "path_len",
    "path_depth",
    "path_odd",
    "sensitive_post",
)
QUERY_FEATURES: tuple[str, ...] = ("query_len", "query_args")
COOKIE_FEATURES: tuple[str, ...] = ("cookie_count", "session_cookie", "referer_kind")
NETWORK_FEATURES: tuple[str, ...] = ("asn_category",)
FEATURE_NAMES: tuple[str, ...] = (
    REQUEST_FEATURES
    + PATH_FEATURES
    + QUERY_FEATURES
    + COOKIE_FEATURES
    + NETWORK_FEATURES
    + windows.CLIENT_FEATURES
    + windows.IP_FEATURES
    + windows.JA4_FEATURES
)
N_FEATURES = len(FEATURE_NAMES)
SCHEMA_HASH = hashlib.sha256(
    f"botwarden-features-v{FEATURES_VERSION}:{','.join(FEATURE_NAMES)}".encode()
).hexdigest()[:16]
"""Fingerprint of the feature schema: a model trained on one schema refuses another."""

_R0 = 0
_P0 = len(REQUEST_FEATURES)
_Q0 = _P0 + len(PATH_FEATURES)
_C0 = _Q0 + len(QUERY_FEATURES)
_N0 = _C0 + len(COOKIE_FEATURES)
_W0 = _N0 + len(NETWORK_FEATURES)
_BROWSER_LIKE_I = REQUEST_FEATURES.index("ua_browser_like")
_HEURISTIC_I = REQUEST_FEATURES.index("heuristic_hit")

# Headers whose *values* the request block reads; every other header contributes its name
# and position only, so per-request values (cookies, referers, tokens, lengths) never make
# the block's key distinct.
VALUE_HEADERS = frozenset(
    {
        "user-agent",
        "accept",
        "accept-language",
        "accept-encoding",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "sec-fetch-user",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
    }
)
SESSION_COOKIE = "__cf_bm"

# -- codes ------------------------------------------------------------------------------------

_ENGINES = {"chromium": 1, "gecko": 2, "webkit": 3}
_UA_ENGINE = {
    "Chrome": "chromium",
    "Chrome Mobile": "chromium",
    "Chrome Mobile WebView": "chromium",
    "Chromium": "chromium",
    "Edge": "chromium",
    "Edge Mobile": "chromium",
    "Opera": "chromium",
    "Opera Mobile": "chromium",
    "Samsung Internet": "chromium",
    "Brave": "chromium",
    "Vivaldi": "chromium",
    "Yandex Browser": "chromium",
    "HeadlessChrome": "chromium",
    "Firefox": "gecko",
    "Firefox Mobile": "gecko",
    "Firefox iOS": "webkit",
    "Chrome Mobile iOS": "webkit",
    "Edge iOS": "webkit",
    "Safari": "webkit",
    "Mobile Safari": "webkit",
    "Mobile Safari UI/WKWebView": "webkit",
}
_JA4_ENGINE = {"chrome": "chromium", "edge": "chromium", "firefox": "gecko", "safari": "webkit"}
_OS = {"Windows": 1, "Mac OS X": 2, "Linux": 3, "Ubuntu": 3, "Android": 4, "iOS": 5,
       "Chrome OS": 6}  # fmt: skip
_CH_PLATFORM = {"Windows": 1, "macOS": 2, "Linux": 3, "Android": 4, "iOS": 5, "Chrome OS": 6,
                "Chromium OS": 6}  # fmt: skip
_ALPN = {"00": 0, "h1": 1, "h2": 2, "h3": 3}
_KIND = {"browser": 1, "library": 2, "tool": 3}
_SF_SITE = {"none": 1, "same-origin": 2, "same-site": 3, "cross-site": 4}
_SF_MODE = {"navigate": 1, "no-cors": 2, "cors": 3, "same-origin": 4, "websocket": 5}
_SF_DEST = {"document": 1, "empty": 2, "image": 3, "script": 4, "style": 5, "font": 6,
            "iframe": 7, "manifest": 8, "video": 9, "audio": 9}  # fmt: skip
_METHOD = {"GET": 1.0, "POST": 2.0, "HEAD": 3.0, "PUT": 4.0, "DELETE": 5.0, "OPTIONS": 6.0,
           "PATCH": 7.0}  # fmt: skip
_PRESENCE = (
    "upgrade-insecure-requests",
    "dnt",
    "cache-control",
    "pragma",
    "origin",
    "x-requested-with",
    "content-type",
    "authorization",
)
# Headers that describe the connection rather than the client: which of them a client
# sends, in what case and where, depends on the HTTP version the *server* negotiated
# (Host and Connection in HTTP/1.1 become :authority and nothing in HTTP/2; Chromium
# sends Priority only on HTTP/2 and 3; names are lower case in HTTP/2). A client reaching
# Botwarden's HTTP/1.1-only edge directly, or through a proxy, must look the same as over
# HTTP/2, so header features read only the end-to-end headers, lower-cased (docs/model.md).
TRANSPORT_HEADERS = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
     "upgrade", "priority", "http2-settings"}
)  # fmt: skip

# Path kinds. Sensitive kinds are where automated POSTs do harm (login, signup, checkout).
PAGE, STATIC, API, LOGIN, SIGNUP, CHECKOUT, ACCOUNT, SEARCH, WELL_KNOWN, PROBE, HOME = range(11)
SENSITIVE = frozenset({LOGIN, SIGNUP, CHECKOUT})
_PATH_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (PROBE, ("/wp-", ".php", "/.env", "/.git", "/admin", "/phpmyadmin", "/cgi-bin", "/actuator",
             "/server-status", "/.aws", "/config", "/backup", "/vendor/", "/xmlrpc")),
    (LOGIN, ("login", "signin", "sign-in", "logon", "/auth", "/session", "password")),
    (SIGNUP, ("signup", "sign-up", "register", "join", "create-account", "/accounts/new")),
    (CHECKOUT, ("checkout", "payment", "/pay", "/order", "redeem", "/billing")),
    (ACCOUNT, ("/account", "/profile", "/settings", "/my")),
    (SEARCH, ("/search", "/find")),
    (WELL_KNOWN, ("/robots.txt", "/sitemap", "/.well-known/", "/favicon", "/ads.txt",
                  "/humans.txt", "/security.txt", "/manifest.json")),
)  # fmt: skip
# As analytics/signals.py defines a browser-like user agent for `browser_ratio_1h`.
_NOT_BROWSER = re.compile(r"bot|crawl|spider|headless", re.IGNORECASE)
_ODD = ("..", "%00", "%25", "%27", "'", '"', "<", ">", "{", "}", "$", "\\", ";", "|", "`")


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """What the extractor needs besides the request: ASN categories, the session cookie's
    name and a validator for it (`None`: presence is all that is known)."""

    asn_categories: asn_mod.AsnCategories = field(default_factory=asn_mod.AsnCategories)
    session_cookie: str = SESSION_COOKIE
    validate_session: Callable[[str], bool] | None = None
    session_id: Callable[[str], str | None] | None = None
    """Turns a session-cookie value into the stable id that keys per-client state (the
    cookie is re-issued with a new value as it is refreshed); default: the value itself."""


# -- the request block ------------------------------------------------------------------------


@cache
def _heuristics() -> HeuristicsEngine:
    from botwarden.engines.heuristics import HeuristicsEngine

    return HeuristicsEngine(directory=None)


def _heuristic_hit(ctx: RequestContext) -> bool:
    """Whether the heuristics engine (without verified-bot checks, which need DNS) fires."""
    return _heuristics().evaluate(ctx, None) is not None


def _ja4_parts(ja4: str | None) -> tuple[float, float, float, float, float, float]:
    """(proto, tls version, sni, ciphers, extensions, alpn) from JA4's readable part."""
    if not ja4 or len(ja4) < 10:
        return (0.0, -1.0, -1.0, -1.0, -1.0, -1.0)
    a = ja4.split("_", 1)[0]
    proto = {"t": 1.0, "q": 2.0, "d": 3.0}.get(a[0], 4.0)
    ver = float(int(a[1:3])) if a[1:3].isdigit() else -1.0
    sni = 1.0 if a[3] == "d" else 0.0
    ciphers = float(int(a[4:6])) if a[4:6].isdigit() else -1.0
    exts = float(int(a[6:8])) if a[6:8].isdigit() else -1.0
    alpn = float(_ALPN.get(a[8:10], 4))
    return (proto, ver, sni, ciphers, exts, alpn)


def _accept_kind(v: str | None) -> float:
    if v is None:
        return 0.0
    s = v.strip()
    if s == "*/*":
        return 1.0
    if "text/html" in s:
        return 2.0
    if "application/json" in s:
        return 3.0
    if s.startswith("image/"):
        return 4.0
    if s.startswith("text/css"):
        return 5.0
    return 6.0


def _lang(v: str | None) -> tuple[float, float]:
    if v is None:
        return (0.0, 0.0)
    tags = [t for t in v.split(",") if t.strip()]
    if not tags:
        return (1.0, 0.0)
    return (3.0 if ";q=" in v else 2.0, float(len(tags)))


def _enc(v: str | None) -> float:
    if v is None:
        return 0.0
    s = v.lower()
    if "zstd" in s:
        return 4.0
    if "br" in s:
        return 3.0
    if "deflate" in s:
        return 2.0
    return 1.0


def _match(ok: bool | None) -> float:
    return -1.0 if ok is None else (1.0 if ok else 0.0)


def _order(names: Sequence[str], a: str, b: str) -> float:
    try:
        return 1.0 if names.index(a) < names.index(b) else 0.0
    except ValueError:
        return -1.0


def request_block(
    method: str,
    http_version: str,
    scheme: str,
    ja4: str | None,
    tls_present: bool,
    complete: bool,
    names: tuple[str, ...],
    values: tuple[str, ...],
) -> tuple[float, ...]:
    """The request block of one request shape: header names as sent, and the values of the
    headers in VALUE_HEADERS, in order (`header_key`). Pure: cached by the extractor."""
    from botwarden.fingerprint.ja4db import family_of

    it = iter(values)
    headers = tuple((n, next(it) if _KEEP[n] else "") for n in names)
    ctx = RequestContext(
        client_ip="0.0.0.0",
        method=method,
        scheme=scheme,
        http_version=http_version,
        headers=headers,
        tls=TLSInput(ja4=ja4) if tls_present else None,
        headers_complete=complete,
    )
    h = ctx.header_map
    ua_s = ctx.user_agent
    ua = ctx.ua
    from botwarden.engines.heuristics import user_agent_detections

    engine = _UA_ENGINE.get(ua.family)
    major = float(int(ua.major)) if engine and ua.major and ua.major.isdigit() else -1.0
    os_code = _OS.get(ua.os_family, 0)
    mobile = os_code in (4, 5) or "Mobile" in ua_s
    fam = family_of(ja4) if ja4 else None
    if fam is None:
        ua_tls: bool | None = None
    elif fam[1] == "browser":
        ua_tls = engine is not None and _JA4_ENGINE.get(fam[0]) == engine
    else:
        ua_tls = engine is None
    ch = ctx.client_hints
    if "sec-ch-ua" in h:
        want = ua.major or ""
        brand_ok: bool | None = any(v == want for _, v in ch.brands) and engine == "chromium"
        headless = any("headless" in b.lower() for b, _ in ch.brands)
    else:
        brand_ok, headless = None, False
    plat_ok = None if ch.platform is None else _CH_PLATFORM.get(ch.platform, 0) == os_code
    mob_ok = None if ch.mobile is None else ch.mobile == mobile
    names = tuple(x for x in ctx.header_names if x not in TRANSPORT_HEADERS)
    n = len(names)
    ua_pos = names.index("user-agent") / n if "user-agent" in names else -1.0
    lang_kind, lang_tags = _lang(h.get("accept-language"))
    site = h.get("sec-fetch-site")
    mode = h.get("sec-fetch-mode")
    dest = h.get("sec-fetch-dest")
    user = h.get("sec-fetch-user")
    if mode is None and dest is None:
        sf_ok = -1.0
    else:
        nav = mode == "navigate"
        sf_ok = 1.0 if nav == (dest in ("document", "iframe")) and (user is None or nav) else 0.0
    return (
        float(len(ua_s)),
        1.0 if not ua_s.strip() else 0.0,
        1.0 if user_agent_detections(ua_s) else 0.0,
        1.0 if ua_s.startswith("Mozilla/5.0 (") else 0.0,
        1.0 if ua_s.startswith("Mozilla/") and not _NOT_BROWSER.search(ua_s) else 0.0,
        float(_ENGINES.get(engine or "", 0)),
        major,
        float(os_code),
        1.0 if mobile else 0.0,
        *_ja4_parts(ja4),
        float(_KIND.get(fam[1], 0)) if fam else 0.0,
        _match(ua_tls),
        1.0 if "sec-ch-ua" in h else 0.0,
        _match(brand_ok),
        _match(plat_ok),
        _match(mob_ok),
        1.0 if headless else 0.0,
        float(n),
        ua_pos,
        _order(names, "accept-language", "accept-encoding"),
        _order(names, "accept", "user-agent"),
        _accept_kind(h.get("accept")),
        float(len(h.get("accept", ""))),
        lang_kind,
        lang_tags,
        _enc(h.get("accept-encoding")),
        float(_SF_SITE.get(site, 5)) if site is not None else 0.0,
        float(_SF_MODE.get(mode, 6)) if mode is not None else 0.0,
        float(_SF_DEST.get(dest, 10)) if dest is not None else 0.0,
        1.0 if user is not None else 0.0,
        sf_ok,
        *(1.0 if p in h else 0.0 for p in _PRESENCE),
        _METHOD.get(ctx.method, 8.0),
        1.0 if _heuristic_hit(ctx) else 0.0,
    )


# -- the path, query and cookie blocks --------------------------------------------------------


def _path_block(method: str, path: str) -> tuple[float, ...]:
    ctx = RequestContext(client_ip="0.0.0.0", method=method, path=path)
    p = ctx.path.lower()
    if ctx.static_resource:
        kind = STATIC
    elif p == "/":
        kind = HOME
    else:
        kind = PAGE
        for k, words in _PATH_WORDS:
            if any(w in p for w in words):
                kind = k
                break
        if kind == PAGE and (p.startswith(("/api/", "/graphql")) or "/api/" in p):
            kind = API
    odd = any(o in p for o in _ODD) or len(p) > 512
    return (
        float(kind),
        1.0 if ctx.static_resource else 0.0,
        float(len(ctx.path)),
        float(ctx.path.count("/")),
        1.0 if odd else 0.0,
        1.0 if ctx.method == "POST" and kind in SENSITIVE else 0.0,
    )


def _query_block(query: str) -> tuple[float, ...]:
    if not query:
        return (0.0, 0.0)
    return (float(len(query)), float(query.count("&") + 1))


_CACHE_MAX_LEN = 512
path_block = lru_cache(maxsize=32768)(_path_block)
query_block = lru_cache(maxsize=32768)(_query_block)


def _referer_kind(referer: str, host: str) -> float:
    if len(referer) > _CACHE_MAX_LEN:
        return _referer_kind_of(referer, host)
    return _referer_kind_cached(referer, host)


def _referer_kind_of(referer: str, host: str) -> float:
    if not referer:
        return 0.0
    try:
        netloc = urlsplit(referer).hostname
    except ValueError:
        return 3.0
    if not netloc:
        return 3.0
    return 1.0 if netloc == host else 2.0


_referer_kind_cached = lru_cache(maxsize=32768)(_referer_kind_of)


def cookie_facts(raw: str, name: str) -> tuple[int, str | None]:
    """`_cookie_facts`, cached unless the header is long."""
    if len(raw) > _CACHE_MAX_LEN * 4:
        return _cookie_facts(raw, name)
    return _cookie_facts_cached(raw, name)


def _cookie_facts(raw: str, name: str) -> tuple[int, str | None]:
    """(number of cookies, value of cookie `name`) of a Cookie header, parsed as
    RequestContext.cookies parses it. Cached: a session sends the same header many times."""
    count = 0
    seen: set[str] = set()
    value: str | None = None
    for part in raw.split(";"):
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or not key or key in seen:
            continue
        seen.add(key)
        count += 1
        if key == name:
            val = val.strip()
            value = val[1:-1] if len(val) >= 2 and val[0] == val[-1] == '"' else val
    return count, value


_cookie_facts_cached = lru_cache(maxsize=32768)(_cookie_facts)


def cookie_block(
    cookie: str | None, referer: str, host: str, config: FeatureConfig
) -> tuple[tuple[float, float, float], str | None]:
    """(cookie count, session cookie state, referer kind) and the session id if any, from
    the Cookie header (repeated ones joined with "; "), the Referer and the host.
    Session cookie state: 0 absent, 1 present (unverified or invalid), 2 present and valid."""
    count, value = cookie_facts(cookie, config.session_cookie) if cookie else (0, None)
    sid: str | None = None
    if value is None:
        state = 0.0
    else:
        valid = config.validate_session(value) if config.validate_session else False
        state = 2.0 if valid else 1.0
        if config.validate_session is None or valid:
            sid = config.session_id(value) if config.session_id else value
    return (float(count), state, _referer_kind(referer, host)), sid


def _cookie_block_of(
    ctx: RequestContext, config: FeatureConfig
) -> tuple[tuple[float, float, float], str | None]:
    h = ctx.header_map
    return cookie_block(h.get("cookie"), h.get("referer", ""), ctx.host, config)


@lru_cache(maxsize=65536)
def ip_key(ip: str) -> str:
    """The per-IP state key: the address, or its /64 for IPv6 (one subscriber's prefix)."""
    if ":" not in ip:
        return ip
    import ipaddress

    try:
        net = ipaddress.IPv6Network(f"{ip}/64", strict=False)
    except ValueError:
        return ip
    return str(net.network_address) + "/64"


def _crc(s: str) -> int:
    """Which of 64 bits stands for `s` in a distinct-count bitmap."""
    return zlib.crc32(s.encode("utf-8", "surrogatepass")) & 63


_bit = lru_cache(maxsize=32768)(_crc)  # paths and user agents repeat


class _Keep(dict[str, bool]):
    """Header name as sent → whether the request block reads its value (memoised)."""

    def __missing__(self, name: str) -> bool:
        keep = name.lower() in VALUE_HEADERS
        if len(self) < 4096:  # names are few; a flood of made-up ones is not memoised
            self[name] = keep
        return keep


_KEEP = _Keep()


_NAME = operator.itemgetter(0)
_VALUE = operator.itemgetter(1)


def header_key(headers: Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all header names, the values of those in VALUE_HEADERS): what the request block
    reads of the headers, so cookies, referers and tokens never make its key distinct."""
    # map / compress keep the loop in C: this runs for every request.
    names = tuple(map(_NAME, headers))
    return names, tuple(compress(map(_VALUE, headers), map(_KEEP.__getitem__, names)))


def ts_us(timestamp: float) -> int:
    """Integer microseconds of a context timestamp (events store microseconds)."""
    return round(timestamp * 1e6)


# -- serving ----------------------------------------------------------------------------------

# Pure, so one cache serves every extractor in the process: a browser build's requests
# share a handful of shapes.
_cached_request_block = lru_cache(maxsize=16384)(request_block)


class FeatureExtractor:
    """Single-row extraction for serving: request blocks (cached) plus per-client windows.

    `extract(ctx)` updates the windows with the request and returns its vector;
    `observe_response(ctx, status)` records the response status for the error ratio (the
    edge calls it once the origin answered). Not thread-safe: one per worker.
    """

    def __init__(
        self,
        config: FeatureConfig | None = None,
        *,
        state: StateStore | None = None,
        capacity: int = 100_000,
        ja4_capacity: int = 50_000,
    ) -> None:
        self.config = config or FeatureConfig()
        self.windows = windows.ClientWindows(capacity, store=state)
        self.ja4 = windows.Ja4Signals(capacity=ja4_capacity)
        self._request = _cached_request_block
        self._asn_cat: dict[str, float] = {}

    def client_key(self, ctx: RequestContext, session_id: str | None) -> str:
        if session_id is not None:
            return "s:" + session_id
        return f"a:{ip_key(ctx.client_ip)}|{ctx.ja4 or ''}"

    def extract(self, ctx: RequestContext) -> list[float]:
        # The caches are keyed by what clients send: long values bypass them, so a flood
        # of made-up kilobyte paths or user agents cannot fill memory.
        names, values = header_key(ctx.headers)
        method, ja4 = ctx.method, ctx.ja4
        args = (method, ctx.http_version, ctx.scheme, ja4, ctx.tls is not None,
                ctx.headers_complete, names, values)  # fmt: skip
        small = sum(map(len, values)) <= _CACHE_MAX_LEN * 4
        req = self._request(*args) if small else request_block(*args)
        path, query = ctx.path, ctx.query
        h = ctx.header_map
        ua = h.get("user-agent", "")
        if len(path) <= _CACHE_MAX_LEN:
            pb, path_bit = path_block(method, path), _bit(path)
        else:
            pb, path_bit = _path_block(method, path), _crc(path)
        qb = query_block(query) if len(query) <= _CACHE_MAX_LEN else _query_block(query)
        cb, sid = cookie_block(h.get("cookie"), h.get("referer", ""), ctx.host, self.config)
        if ctx._geoip is None:  # no GeoIP, no ASN: skip building the context's GeoFacts
            cat = 0.0
        else:
            ip = ctx.client_ip
            cat = self._asn_cat.get(ip, -1.0)
            if cat < 0.0:  # an address's ASN does not change while the MMDB stays
                cat = float(self.config.asn_categories.categorize(ctx.asn))
                if len(self._asn_cat) >= 65536:
                    self._asn_cat.clear()
                self._asn_cat[ip] = cat
        t = ts_us(ctx.timestamp)
        ckey = self.client_key(ctx, sid)
        kind = int(pb[0])
        w = self.windows.update(
            ckey,
            ip_key(ctx.client_ip),
            t,
            path_hash=path_bit,
            ua_hash=_bit(ua) if len(ua) <= _CACHE_MAX_LEN else _crc(ua),
            static=kind == STATIC,
            api=kind == API,
            sensitive=pb[5] == 1.0,
            no_referer=cb[2] == 0.0,
        )
        j = self.ja4.update(
            ja4 or "",
            t,
            browser=req[_BROWSER_LIKE_I] > 0.0,
            heuristic=req[_HEURISTIC_I] > 0.0,
        )
        return [*req, *pb, *qb, *cb, cat, *w, *j]

    def observe_response(self, ctx: RequestContext, status: int) -> None:
        """Count the response of a request extracted before (error ratio)."""
        _, sid = _cookie_block_of(ctx, self.config)
        self.windows.observe(self.client_key(ctx, sid), ts_us(ctx.timestamp), status)


# -- batch ------------------------------------------------------------------------------------


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 → well-mixed uint64), vectorised."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = x ^ (x >> np.uint64(31))
        return out


def _codes(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int64, -1 for null) and the dictionary of a string column."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    if isinstance(arr, pa.ChunkedArray):
        if pa.types.is_dictionary(arr.type):
            arr = arr.unify_dictionaries()
            chunks = arr.chunks
            if not chunks:
                return np.zeros(0, dtype=np.int64), []
            dictionary = chunks[0].dictionary
            idx = np.concatenate(
                [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks]
            ).astype(np.int64)
            return idx, [str(v) if v is not None else "" for v in dictionary.to_pylist()]
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return idx, [str(v) if v is not None else "" for v in arr.dictionary.to_pylist()]


def _combine(*cols: np.ndarray) -> np.ndarray:
    """One 64-bit key per row from several integer columns (splitmix-combined)."""
    h = np.zeros(len(cols[0]), dtype=np.uint64)
    for c in cols:
        h = _mix64(h ^ c.astype(np.uint64))
    return h


def _gather(
    keys: np.ndarray, compute: Callable[[int], tuple[float, ...]], width: int
) -> np.ndarray:
    """`compute(representative row)` once per distinct key, gathered to every row."""
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    out = np.empty((len(uniq), width), dtype=np.float64)
    for i, row in enumerate(first.tolist()):
        out[i] = compute(row)
    return out[inverse.reshape(-1)]


def batch_features(
    table: pa.Table,
    config: FeatureConfig | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Feature vectors (n × N_FEATURES float32) of an event table in the simulator's
    layout (`simulate/events.py`: ts, client_ip, asn, method, path, query, scheme,
    http_version, ja4, headers, status). Rows must be in time order (ties in table
    order), as they are served; windows are computed over the whole table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cfg = config or FeatureConfig()
    note = progress or (lambda _s: None)
    n = table.num_rows
    out = np.empty((n, N_FEATURES), dtype=np.float64)
    if n == 0:
        return out.astype(np.float32)

    ts_col = table.column("ts")
    if pa.types.is_timestamp(ts_col.type):
        micros = pc.cast(ts_col, pa.int64()).to_numpy().astype(np.int64)
        t = np.rint((micros / 1e6) * 1e6).astype(np.int64)
    else:
        t = np.rint(np.asarray(ts_col.to_numpy(), dtype=np.float64) * 1e6).astype(np.int64)
    if np.any(np.diff(t) < 0):
        raise ValueError("events must be in time order (sort by ts, stably)")

    m_codes, m_dict = _codes(table.column("method"))
    m_norm = [(m or "GET").upper() for m in m_dict]
    v_codes, v_dict = _codes(table.column("http_version"))
    s_codes, s_dict = _codes(table.column("scheme"))
    j_codes, j_dict = _codes(table.column("ja4"))
    ip_codes, ip_dict = _codes(table.column("client_ip"))
    host_codes, host_dict = _codes(table.column("host"))

    # -- headers: flatten once; per-row 128-bit hash of the blanked header list ----------
    note("headers")
    lst = table.column("headers").combine_chunks()
    offsets = lst.offsets.to_numpy().astype(np.int64)
    flat = lst.flatten()
    name_codes, name_dict = _codes(flat.field("name"))
    lower_list = [x.lower() for x in name_dict]
    keep_of = np.array([x in VALUE_HEADERS for x in lower_list] + [False])
    keep = keep_of[name_codes]
    values = flat.field("value")
    val_codes = np.full(len(name_codes), -1, dtype=np.int64)
    kept_codes, val_dict = _codes(values.filter(pa.array(keep)))
    val_codes[keep] = kept_codes
    counts = np.diff(offsets)
    row_of = np.repeat(np.arange(n, dtype=np.int64), counts)
    pos = np.arange(len(row_of), dtype=np.int64) - offsets[:-1][row_of] if len(row_of) else row_of
    base = (
        name_codes.astype(np.uint64) * np.uint64(1_000_003)
        + (val_codes + 1).astype(np.uint64) * np.uint64(0x100000001B3)
        + pos.astype(np.uint64) * np.uint64(0x9E3779B1)
    )
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    nonempty = counts > 0
    if len(row_of):
        starts = offsets[:-1][nonempty]
        h1[nonempty] = np.add.reduceat(_mix64(base), starts)
        h2[nonempty] = np.add.reduceat(_mix64(base ^ np.uint64(0xD6E8FEB86659FD93)), starts)

    def pairs(row: int, blank: bool = True) -> tuple[tuple[str, str], ...]:
        lo, hi = int(offsets[row]), int(offsets[row + 1])
        if blank:
            return tuple(
                (name_dict[c], val_dict[v] if v >= 0 else "")
                for c, v in zip(name_codes[lo:hi].tolist(), val_codes[lo:hi].tolist(), strict=True)
            )
        return tuple(
            (name_dict[c], str(x))
            for c, x in zip(
                name_codes[lo:hi].tolist(), values.slice(lo, hi - lo).to_pylist(), strict=True
            )
        )

    note("request block")
    keys = _combine(h1, h2, counts, m_codes, v_codes, s_codes, j_codes)

    def req(row: int) -> tuple[float, ...]:
        ja4 = j_dict[j_codes[row]] if j_codes[row] >= 0 else ""
        scheme = s_dict[s_codes[row]] if s_codes[row] >= 0 else "https"
        return request_block(
            m_norm[m_codes[row]] if m_codes[row] >= 0 else "GET",
            v_dict[v_codes[row]] if v_codes[row] >= 0 else "1.1",
            scheme or "https",
            ja4 or None,
            (scheme or "https") == "https",
            True,
            *header_key(pairs(row)),
        )

    out[:, _R0:_P0] = _gather(keys, req, len(REQUEST_FEATURES))

    # -- path and query ------------------------------------------------------------------
    note("path block")
    p_codes, p_dict = _codes(table.column("path"))
    pk = (m_codes + 1) * (len(p_dict) + 1) + p_codes + 1

    def path_row(row: int) -> tuple[float, ...]:
        m = m_norm[m_codes[row]] if m_codes[row] >= 0 else "GET"
        return path_block(m, (p_dict[p_codes[row]] if p_codes[row] >= 0 else "") or "/")

    out[:, _P0:_Q0] = _gather(pk, path_row, len(PATH_FEATURES))
    q_codes, q_dict = _codes(table.column("query"))
    out[:, _Q0:_C0] = _gather(
        q_codes, lambda r: query_block(q_dict[q_codes[r]] if q_codes[r] >= 0 else ""), 2
    )

    # -- cookies and referer: per distinct (cookie header, referer header, host) ---------
    note("cookie block")
    is_cookie = np.array([x == "cookie" for x in lower_list] + [False])[name_codes]
    is_ref = np.array([x == "referer" for x in lower_list] + [False])[name_codes]
    cookie_val = np.full(n, -1, dtype=np.int64)
    ref_val = np.full(n, -1, dtype=np.int64)
    dup = np.zeros(n, dtype=bool)
    special = np.full(len(name_codes), -1, dtype=np.int64)
    sp_codes, special_dict = _codes(values.filter(pa.array(is_cookie | is_ref)))
    special[is_cookie | is_ref] = sp_codes
    special_codes = special
    for mask, dest in ((is_cookie, cookie_val), (is_ref, ref_val)):
        rows = row_of[mask]
        dest[rows] = special_codes[mask]
        dup[rows[np.flatnonzero(np.bincount(rows, minlength=n)[rows] > 1)]] = True
    ck = _combine(cookie_val, ref_val, host_codes, np.where(dup, np.arange(n), -1))
    sessions: dict[str, int] = {}

    def cookie_row(row: int) -> tuple[float, ...]:
        if dup[row]:
            hdrs = pairs(row, blank=False)
        else:
            hdrs = tuple(
                (name, special_dict[code])
                for name, code in (("cookie", cookie_val[row]), ("referer", ref_val[row]))
                if code >= 0
            )
        host = host_dict[host_codes[row]] if host_codes[row] >= 0 else ""
        ctx = RequestContext(client_ip="0.0.0.0", host=host, headers=hdrs)
        block, sid = _cookie_block_of(ctx, cfg)
        code = -1 if sid is None else sessions.setdefault(sid, len(sessions))
        return (*block, float(code))

    cb = _gather(ck, cookie_row, 4)
    out[:, _C0:_N0] = cb[:, :3]
    sid_codes = cb[:, 3].astype(np.int64)  # -1: no session id; else a per-session code

    # -- network -------------------------------------------------------------------------
    asn_np = (
        table.column("asn").fill_null(0).to_numpy().astype(np.int64)
        if "asn" in table.column_names
        else np.zeros(n, dtype=np.int64)
    )
    ua_cats = np.unique(asn_np)
    cat_of = {int(a): float(cfg.asn_categories.categorize(int(a))) for a in ua_cats}
    out[:, _N0] = np.vectorize(cat_of.__getitem__, otypes=[np.float64])(asn_np)

    # -- windows ---------------------------------------------------------------------------
    note("windows")
    ipk = [ip_key(ip) for ip in ip_dict]
    ipk_uniq: dict[str, int] = {}
    ipk_code_of = np.array([ipk_uniq.setdefault(k, len(ipk_uniq)) for k in ipk] or [0])
    ipk_codes = np.where(ip_codes >= 0, ipk_code_of[np.maximum(ip_codes, 0)], -1)
    # Client: the session id when the request has one, else IP (/64) + JA4.
    j_norm = np.maximum(j_codes, -1) + 1
    pair_code = np.unique(np.stack([ipk_codes, j_norm], axis=1), axis=0, return_inverse=True)[1]
    client = np.where(sid_codes >= 0, sid_codes, -1 - pair_code.reshape(-1).astype(np.int64))

    path_hash = _hash_codes(p_codes, [p or "/" for p in p_dict], "/")
    is_ua = np.array([x == "user-agent" for x in lower_list] + [False])[name_codes]
    ua_hash = _hash_codes(*_ua_codes(n, row_of, is_ua, values))
    kind = out[:, _P0].astype(np.int64)
    status = (
        table.column("status").fill_null(0).to_numpy().astype(np.int64)
        if "status" in table.column_names
        else np.zeros(n, dtype=np.int64)
    )
    out[:, _W0 : _W0 + len(windows.CLIENT_FEATURES) + len(windows.IP_FEATURES)] = (
        windows.batch_client_ip(
            t,
            client,
            ipk_codes,
            path_hash,
            ua_hash,
            static=kind == STATIC,
            api=kind == API,
            sensitive=out[:, _P0 + 5] == 1.0,
            no_referer=out[:, _C0 + 2] == 0.0,
            status=status,
        )
    )
    j0 = _W0 + len(windows.CLIENT_FEATURES) + len(windows.IP_FEATURES)
    ja4_names = [j or "" for j in j_dict]
    ja4_key_of: dict[str, int] = {}
    ja4_key = np.array(
        [ja4_key_of.setdefault(k, len(ja4_key_of)) for k in ja4_names] or [0], dtype=np.int64
    )
    ja4_group = np.where(j_codes >= 0, ja4_key[np.maximum(j_codes, 0)], -1)
    empty = ja4_key_of.get("")
    if empty is not None:
        ja4_group = np.where(ja4_group == -1, empty, ja4_group)
    out[:, j0:] = windows.batch_ja4(
        t,
        ja4_group,
        browser=out[:, _BROWSER_LIKE_I] > 0.0,
        heuristic=out[:, _HEURISTIC_I] > 0.0,
    )
    return out.astype(np.float32)


def _ua_codes(
    n: int, row_of: np.ndarray, is_ua: np.ndarray, values: pa.Array
) -> tuple[np.ndarray, list[str]]:
    """User agent per row, as ctx.user_agent reads it: the User-Agent header (repeated
    ones joined with ", ", as the context's header map does)."""
    import pyarrow as pa

    codes, names = _codes(values.filter(pa.array(is_ua)))
    rows = row_of[is_ua]
    out = np.full(n, -1, dtype=np.int64)
    out[rows] = codes
    seen = np.bincount(rows, minlength=n)
    dups = np.flatnonzero(seen > 1)
    if len(dups):
        extra: dict[str, int] = {}
        for r in dups.tolist():
            joined = ", ".join(names[c] for c in codes[rows == r].tolist())
            out[r] = len(names) + extra.setdefault(joined, len(extra))
        names = names + list(extra)
    return out, names


def _hash_codes(codes: np.ndarray, dictionary: list[str], missing: str = "") -> np.ndarray:
    table = np.array([_crc(s) for s in dictionary] + [_crc(missing)], dtype=np.int64)
    return table[np.where(codes >= 0, codes, len(dictionary))]
