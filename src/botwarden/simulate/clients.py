"""Clients: what one browser build or HTTP client sends — its user agent, TLS fingerprint,
and the header names, order and values of each kind of request it makes.

Browser builds (user agent, client hints, Accept, Accept-Encoding, DNT and their share of
traffic) come from header-generator's network of real browser headers
(`data/simulate/browsers.json`). Chromium's header order for every kind of request is the
one real Chromium sent on loopback (`chromium_headers.json`); TLS fingerprints and the
request heads of HTTP libraries are captured from the real clients (`clients.json`). See
`data/simulate/README.md` for what is captured and what is placed by hand.

A template is a tuple of (name, value) pairs in wire order where a value may be a *slot*
filled per request (referer, cookie, content length) or per session (accept-language,
host); `Client.template()` resolves the per-session slots and drops absent optional ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from botwarden import data

Pair = tuple[str, str]
Template = tuple[Pair, ...]

# Slots: filled per request (REFERER, COOKIE, LENGTH) or when compiling (the others).
REFERER = "\x00referer"
COOKIE = "\x00cookie"
LENGTH = "\x00length"
LANG = "\x00lang"
HOST = "\x00host"
ORIGIN = "\x00origin"
CONTENT_TYPE = "\x00ctype"
REQUEST_SLOTS = frozenset({REFERER, COOKIE, LENGTH})

# Kinds of request. A navigation comes in three flavours that differ in Sec-Fetch-Site and
# referer: followed link (same-origin), typed or bookmarked (none), from another site.
KINDS = (
    "document",
    "document_none",
    "document_cross",
    "form",
    "style",
    "script",
    "image",
    "fetch",
    "fetch_post",
)
POST_KINDS = frozenset({"form", "fetch_post"})
NAVIGATIONS = frozenset({"document", "document_none", "document_cross", "form"})

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class TLSPrint:
    """A TLS fingerprint captured from a real client. `permutes`: the client shuffles its
    extension order per connection (Chrome ≥ 110), so JA3 differs per connection while JA4
    (which sorts) does not."""

    ja4: str
    ja3: str
    ja3_hash: str
    source: str
    permutes: bool = False

    def connection(self, rng: random.Random) -> tuple[str, str]:
        """(JA3, JA3 hash) of one connection."""
        if not self.permutes or not self.ja3:
            return self.ja3, self.ja3_hash
        version, ciphers, extensions, groups, points = self.ja3.split(",")
        exts = extensions.split("-")
        # BoringSSL keeps pre_shared_key (41) last; everything else is shuffled.
        tail = [e for e in exts if e == "41"]
        head = [e for e in exts if e != "41"]
        rng.shuffle(head)
        ja3 = ",".join((version, ciphers, "-".join(head + tail), groups, points))
        return ja3, hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True, eq=False)
class Client:
    """One client build. `kinds` maps every kind in KINDS to its raw template."""

    key: str  # stable and unique, e.g. "chrome/147.0.0.0 windows desktop #2"
    family: str  # chrome, edge, safari, firefox, samsung, curl, python-requests, …
    engine: str  # chromium | gecko | webkit | library
    ua: str
    http_version: str
    tls: TLSPrint | None
    kinds: Mapping[str, Template]
    lang_style: str = "none"  # how Accept-Language is written: chromium | gecko | webkit | none
    driver: str = "aiohttp"  # live driver: curl_cffi | aiohttp | curl | chromium
    impersonate: str | None = None  # curl_cffi target with this client's TLS
    device: str = "desktop"
    os: str = ""
    weight: float = 1.0  # share among clients of the same population
    _compiled: dict[tuple[str, str, str, bool, bool], Template] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def template(self, kind: str, lang: str, host: str, *, referer: bool, cookie: bool) -> Template:
        """The headers of one kind of request, session slots resolved, request slots kept."""
        key = (kind, lang, host, referer, cookie)
        found = self._compiled.get(key)
        if found is not None:
            return found
        out: list[Pair] = []
        for name, value in self.kinds[kind]:
            if (value == REFERER and not referer) or (value == COOKIE and not cookie):
                continue
            if value == LANG:
                value = accept_language(self.lang_style, lang)
            elif value == HOST:
                value = host
            elif value == ORIGIN:
                value = f"https://{host}"
            out.append((name, value))
        compiled = self._compiled[key] = tuple(out)
        return compiled


# -- Accept-Language ------------------------------------------------------------------------

# locale → (Chromium, Firefox, Safari) Accept-Language; each browser writes q-values its way.
_LANGS: dict[str, tuple[str, str, str]] = {
    "en-US": ("en-US,en;q=0.9", "en-US,en;q=0.5", "en-US,en;q=0.9"),
    "en-GB": ("en-GB,en-US;q=0.9,en;q=0.8", "en-GB,en;q=0.5", "en-GB,en;q=0.9"),
    "de-DE": ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de,en-US;q=0.7,en;q=0.3", "de-DE,de;q=0.9"),
    "fr-FR": (
        "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
        "fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3",
        "fr-FR,fr;q=0.9",
    ),
    "es-ES": ("es-ES,es;q=0.9", "es-ES,es;q=0.8,en-US;q=0.5,en;q=0.3", "es-ES,es;q=0.9"),
    "nl-NL": ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl,en-US;q=0.7,en;q=0.3", "nl-NL,nl;q=0.9"),
    "pt-BR": (
        "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
        "pt-BR,pt;q=0.8,en-US;q=0.5,en;q=0.3",
        "pt-BR,pt;q=0.9",
    ),
    "ja-JP": ("ja,en-US;q=0.9,en;q=0.8", "ja,en-US;q=0.7,en;q=0.3", "ja-JP,ja;q=0.9"),
}
LOCALES: tuple[str, ...] = tuple(_LANGS)


def accept_language(style: str, locale: str) -> str:
    chromium, gecko, webkit = _LANGS.get(locale, _LANGS["en-US"])
    if style == "gecko-new":  # Firefox ≥ 144 writes en-US like Chromium (captured)
        return chromium if locale == "en-US" else gecko
    return {"chromium": chromium, "gecko": gecko, "webkit": webkit}.get(style, "en")


# -- packaged data ----------------------------------------------------------------------------


@functools.cache
def _doc(name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(data.path(f"simulate/{name}").read_text("utf-8"))
    return doc


def captured(name: str) -> dict[str, object]:
    """One entry of clients.json (e.g. "curl", "curl_cffi:chrome131", "chromium")."""
    clients = _doc("clients.json")["clients"]
    assert isinstance(clients, dict)
    entry = clients[name]
    assert isinstance(entry, dict)
    return entry


def tls_of(name: str, *, permutes: bool = False) -> TLSPrint:
    e = captured(name)
    return TLSPrint(
        ja4=str(e["ja4"]),
        ja3=str(e["ja3"]),
        ja3_hash=str(e["ja3_hash"]),
        source=str(e["source"]),
        permutes=permutes,
    )


def captured_head(name: str, method: str = "GET") -> list[Pair]:
    head = captured(name)[f"head_{method.lower()}"]
    assert isinstance(head, list)
    return [(str(n), str(v)) for n, v in head]


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


# Captured curl_cffi targets per engine, by the browser version they stand for from.
# curl_cffi's chrome120 target varies its extension set between connections (one in four
# adds one), so Chrome 120–123 use chrome124's: what chrome120 sends most of the time.
_CHROME_TARGETS = (
    ((116,), "chrome116"),
    ((120,), "chrome124"),
    ((131,), "chrome131"),
    ((133,), "chrome133a"),
    ((136,), "chrome136"),
    ((142,), "chrome142"),
    ((145,), "chrome145"),
    ((146,), "chrome146"),
    ((150,), "chrome150"),
)
_FIREFOX_TARGETS = (((133,), "firefox133"), ((135,), "firefox135"), ((144,), "firefox144"),
                    ((147,), "firefox147"))  # fmt: skip
_SAFARI_TARGETS = (((15, 5), "safari155"), ((17, 0), "safari170"), ((18, 0), "safari180"),
                   ((18, 4), "safari184"), ((26, 0), "safari260"))  # fmt: skip
_SAFARI_IOS_TARGETS = (((17, 2), "safari172_ios"), ((18, 0), "safari180_ios"),
                       ((18, 4), "safari184_ios"), ((26, 0), "safari260_ios"))  # fmt: skip


def _nearest(targets: tuple[tuple[tuple[int, ...], str], ...], version: tuple[int, ...]) -> str:
    """The target of the newest version not after `version` (else the oldest)."""
    chosen = targets[0][1]
    for since, target in targets:
        if since <= version:
            chosen = target
    return chosen


def chrome_target(major: int) -> str:
    return _nearest(_CHROME_TARGETS, (major,))


def firefox_target(major: int) -> str:
    return _nearest(_FIREFOX_TARGETS, (major,))


def safari_target(version: tuple[int, ...], *, ios: bool) -> str:
    v = (*version, 0, 0)[:2]
    return _nearest(_SAFARI_IOS_TARGETS if ios else _SAFARI_TARGETS, v)


# -- Chromium templates -----------------------------------------------------------------------

_CHROMIUM_PRIORITY = {"document": "u=0, i", "document_none": "u=0, i", "document_cross": "u=0, i",
                      "form": "u=0, i", "style": "u=0", "script": "u=1", "image": "i",
                      "fetch": "u=1, i", "fetch_post": "u=1, i"}  # fmt: skip


def _captured_chromium() -> dict[str, list[Pair]]:
    kinds = _doc("chromium_headers.json")["kinds"]
    assert isinstance(kinds, dict)
    return {k: [(str(n), str(v)) for n, v in pairs] for k, pairs in kinds.items()}


def chromium_kinds(
    headers: Mapping[str, str], version: int, *, h2: bool = True, extra: tuple[Pair, ...] = ()
) -> dict[str, Template]:
    """Templates of a Chromium-based build: real Chromium's order for each kind of request,
    with this build's user agent, hints, Accept and Accept-Encoding. `extra` headers (e.g. an
    in-app WebView's X-Requested-With) go right after Accept-Language, as Chromium adds them."""
    base = _captured_chromium()
    out: dict[str, Template] = {}
    for kind in KINDS:
        source = base["document" if kind.startswith("document") else kind]
        pairs: list[Pair] = []
        for name, value in source:
            n = name.lower()
            if n in ("host", "connection"):
                if not h2 and n == "host":
                    pairs.append(("Host", HOST))
                elif not h2:
                    pairs.append((name, value))
                continue
            if n.startswith("sec-ch-ua"):
                if n not in headers:
                    continue  # a build that sends no client hints (Chrome on iOS)
                value = headers[n]
            elif n == "user-agent":
                if "dnt" in headers:
                    pairs.append(("dnt" if h2 else "DNT", headers["dnt"]))
                value = headers["user-agent"]
            elif (n == "accept" and source is base["document"]) or (
                n == "accept" and kind == "form"
            ):
                value = headers.get("accept", value)
            elif n == "accept" and version < 156:
                value = value.replace("image/jxl,", "")  # JPEG XL returned in Chromium 156
            elif n == "accept-encoding":
                value = headers.get("accept-encoding", value)
            elif n == "accept-language":
                value = LANG
            elif n == "referer":
                value = REFERER
            elif n == "cookie":
                value = COOKIE
            elif n == "origin":
                value = ORIGIN
            elif n == "content-length":
                value = LENGTH
            elif n == "sec-fetch-site" and kind == "document_none":
                value = "none"
            elif n == "sec-fetch-site" and kind == "document_cross":
                value = "cross-site"
            if kind == "document_none" and value == REFERER:
                continue
            pairs.append((n if h2 else name, value))
            if n == "accept-language":
                pairs.extend(extra)
        if h2:
            pairs.append(("priority", _CHROMIUM_PRIORITY[kind]))
        out[kind] = tuple(pairs)
    return out


# -- Firefox and Safari templates -------------------------------------------------------------

# Firefox's order (header-generator's headers-order.json, agreeing with the captured
# navigation of curl_cffi's Firefox targets); DNT and Sec-GPC after Accept-Encoding as in
# the captured Tor Browser navigation.
_GECKO_ORDER = ("user-agent", "accept", "accept-language", "accept-encoding", "dnt", "sec-gpc",
                "content-type", "content-length", "origin", "referer", "cookie",
                "upgrade-insecure-requests", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site",
                "sec-fetch-user", "priority", "te")  # fmt: skip
# Safari ≥ 18: the captured navigation order of curl_cffi's Safari 18.4 / 26 targets, with
# referer, cookie, origin and content-* placed where header-generator's order puts them
# relative to the captured names.
_WEBKIT18_ORDER = ("sec-fetch-dest", "user-agent", "content-type", "accept", "origin",
                   "sec-fetch-site", "sec-fetch-mode", "referer", "content-length",
                   "accept-language", "accept-encoding", "cookie", "priority")  # fmt: skip
# Safari 15.4 – 17: curl_cffi's Safari 17.0 capture, placed the same way.
_WEBKIT17_ORDER = ("content-type", "origin", "accept", "sec-fetch-site", "referer", "cookie",
                   "accept-encoding", "sec-fetch-mode", "user-agent", "content-length",
                   "accept-language", "sec-fetch-dest", "priority")  # fmt: skip

_GECKO_VALUES: dict[str, dict[str, str]] = {
    "document": {"upgrade-insecure-requests": "1", "sec-fetch-dest": "document",
                 "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin",
                 "sec-fetch-user": "?1", "priority": "u=0, i"},
    "style": {"accept": "text/css,*/*;q=0.1", "sec-fetch-dest": "style",
              "sec-fetch-mode": "no-cors", "sec-fetch-site": "same-origin", "priority": "u=2"},
    "script": {"accept": "*/*", "sec-fetch-dest": "script", "sec-fetch-mode": "no-cors",
               "sec-fetch-site": "same-origin", "priority": "u=2"},
    "image": {"accept": "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
              "sec-fetch-dest": "image", "sec-fetch-mode": "no-cors",
              "sec-fetch-site": "same-origin", "priority": "u=5, i"},
    "fetch": {"accept": "*/*", "sec-fetch-dest": "empty", "sec-fetch-mode": "cors",
              "sec-fetch-site": "same-origin", "priority": "u=4"},
}  # fmt: skip
_WEBKIT_VALUES: dict[str, dict[str, str]] = {
    "document": {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate",
                 "sec-fetch-site": "same-origin", "priority": "u=0, i"},
    "style": {"accept": "text/css,*/*;q=0.1", "sec-fetch-dest": "style",
              "sec-fetch-mode": "no-cors", "sec-fetch-site": "same-origin"},
    "script": {"accept": "*/*", "sec-fetch-dest": "script", "sec-fetch-mode": "no-cors",
               "sec-fetch-site": "same-origin"},
    "image": {"accept": "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,"
                        "video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
              "sec-fetch-dest": "image", "sec-fetch-mode": "no-cors",
              "sec-fetch-site": "same-origin"},
    "fetch": {"accept": "*/*", "sec-fetch-dest": "empty", "sec-fetch-mode": "cors",
              "sec-fetch-site": "same-origin"},
}  # fmt: skip


def _kind_values(
    table: dict[str, dict[str, str]], kind: str, common: Mapping[str, str], doc_accept: str
) -> dict[str, str]:
    base = "document" if kind in NAVIGATIONS else "fetch" if kind == "fetch_post" else kind
    values = {**common, **table[base]}
    if kind in NAVIGATIONS:
        values["accept"] = doc_accept
    values["referer"] = REFERER
    values["cookie"] = COOKIE
    if kind == "document_none":
        values["sec-fetch-site"] = "none"
        del values["referer"]
    elif kind == "document_cross":
        values["sec-fetch-site"] = "cross-site"
    if kind in POST_KINDS:
        values["content-type"] = FORM if kind == "form" else JSON
        values["content-length"] = LENGTH
        values["origin"] = ORIGIN
    return values


def ordered_kinds(
    order: tuple[str, ...],
    table: dict[str, dict[str, str]],
    common: Mapping[str, str],
    doc_accept: str,
    *,
    drop: frozenset[str] = frozenset(),
) -> dict[str, Template]:
    out: dict[str, Template] = {}
    for kind in KINDS:
        values = _kind_values(table, kind, common, doc_accept)
        out[kind] = tuple((n, values[n]) for n in order if n in values and n not in drop)
    return out


def gecko_kinds(headers: Mapping[str, str], major: int, *, extra: Mapping[str, str] = {}) -> (
    dict[str, Template]
):  # fmt: skip
    common = {"user-agent": headers["user-agent"], "accept-language": LANG,
              "accept-encoding": headers.get("accept-encoding", "gzip, deflate, br, zstd"),
              "te": "trailers", **extra}  # fmt: skip
    if "dnt" in headers:
        common["dnt"] = headers["dnt"]
    doc_accept = headers.get(
        "accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )
    return ordered_kinds(_GECKO_ORDER, _GECKO_VALUES, common, doc_accept)


def webkit_kinds(headers: Mapping[str, str], version: tuple[int, ...]) -> dict[str, Template]:
    common = {"user-agent": headers["user-agent"], "accept-language": LANG,
              "accept-encoding": headers.get("accept-encoding", "gzip, deflate, br")}  # fmt: skip
    doc_accept = headers.get(
        "accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )
    if version >= (18,):
        return ordered_kinds(_WEBKIT18_ORDER, _WEBKIT_VALUES, common, doc_accept)
    # Sec-Fetch-* arrived in Safari 16.4; Priority in 17.
    drop = frozenset() if version >= (17,) else frozenset({"priority"})
    if version < (16, 4):
        drop = drop | {"sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site"}
    return ordered_kinds(_WEBKIT17_ORDER, _WEBKIT_VALUES, common, doc_accept, drop=drop)


# -- HTTP libraries ---------------------------------------------------------------------------


def library_kinds(
    get: list[Pair], post: list[Pair] | None = None, *, ua: str | None = None, cookies: bool = True
) -> dict[str, Template]:
    """Templates of an HTTP/1.1 library: the same head for every GET, its POST head for
    posts. `ua` replaces the User-Agent value (a library spoofing a browser); a session that
    keeps cookies sends them last, as requests and aiohttp do."""

    def fix(pairs: list[Pair], kind: str) -> Template:
        out: list[Pair] = []
        for name, value in pairs:
            n = name.lower()
            if n == "host":
                value = HOST
            elif n == "user-agent" and ua is not None:
                value = ua
            elif n == "content-length":
                value = LENGTH
            elif n == "content-type":
                value = JSON if kind == "fetch_post" else FORM
            out.append((name, value))
        if ua is not None and not any(n.lower() == "user-agent" for n, _ in out):
            out.insert(1, ("User-Agent", ua))
        if cookies:
            out.append(("Cookie", COOKIE))
        return tuple(out)

    if post is None:
        post = [*get, ("Content-Length", "0"), ("Content-Type", FORM)]
    return {k: fix(post if k in POST_KINDS else get, k) for k in KINDS}


@dataclass(frozen=True, slots=True)
class BrowserBuild:
    weight: float
    browser: str
    version: str
    os: str
    device: str
    headers: Mapping[str, str]


@functools.cache
def browser_builds() -> tuple[BrowserBuild, ...]:
    """header-generator's HTTP/2 builds of current browsers (Chrome ≥ 100, Safari ≥ 15,
    Firefox ≥ 115). Left out as automation that leaked into its data: older versions, and
    Chromium builds a real Chrome could not have sent — without the three low-entropy client
    hints (every Chrome since 89 sends them to secure origins) or with a full version in the
    UA after the UA reduction (113)."""
    builds = _doc("browsers.json")["builds"]
    assert isinstance(builds, list)
    floors = {"chrome": (100,), "edge": (100,), "safari": (15,), "firefox": (115,)}
    out = []
    for b in builds:
        v = _version_tuple(b["version"])
        if b["browser"] in ("chrome", "edge") and b["os"] != "ios":
            hints = ("sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform")
            if any(h not in b["headers"] for h in hints):
                continue
            if v >= (113,) and not b["version"].endswith(".0.0.0"):
                continue
        if v >= floors.get(b["browser"], (0,)):
            out.append(
                BrowserBuild(
                    b["weight"], b["browser"], b["version"], b["os"], b["device"], b["headers"]
                )
            )
    return tuple(out)


def client_of_build(build: BrowserBuild, index: int) -> Client:
    """The Client of one browser build: templates, TLS of the matching captured target."""
    h = build.headers
    v = _version_tuple(build.version)
    key = f"{build.browser}/{build.version} {build.os} {build.device} #{index}"
    ios = build.os == "ios"
    if build.browser in ("chrome", "edge") and not ios:
        target = chrome_target(v[0])
        return Client(
            key=key, family=build.browser, engine="chromium", ua=h["user-agent"],
            http_version="2", tls=tls_of(f"curl_cffi:{target}", permutes=v[0] >= 110),
            kinds=chromium_kinds(h, v[0]), lang_style="chromium", driver="curl_cffi",
            impersonate=target, device=build.device, os=build.os, weight=build.weight,
        )  # fmt: skip
    if build.browser == "firefox":
        target = firefox_target(v[0])
        return Client(
            key=key, family="firefox", engine="gecko", ua=h["user-agent"], http_version="2",
            tls=tls_of(f"curl_cffi:{target}"), kinds=gecko_kinds(h, v[0]),
            lang_style="gecko-new" if v[0] >= 144 else "gecko", driver="curl_cffi",
            impersonate=target, device=build.device, os=build.os, weight=build.weight,
        )  # fmt: skip
    # Safari, and every browser on iOS (WebKit's networking stack, Safari's TLS).
    target = safari_target(v if build.browser == "safari" else (18, 4), ios=ios)
    family = build.browser if build.browser == "safari" else f"{build.browser}_ios"
    return Client(
        key=key, family=family,
        engine="webkit", ua=h["user-agent"], http_version="2", tls=tls_of(f"curl_cffi:{target}"),
        kinds=webkit_kinds(h, v if build.browser == "safari" else (18, 4)), lang_style="webkit",
        driver="curl_cffi", impersonate=target, device=build.device, os=build.os,
        weight=build.weight,
    )  # fmt: skip


@functools.cache
def browser_clients() -> tuple[Client, ...]:
    return tuple(client_of_build(b, i) for i, b in enumerate(browser_builds()))


# -- deployments ------------------------------------------------------------------------------
#
# What the edge sees of a client also depends on where Botwarden runs. A browser offers
# HTTP/2 in its ClientHello (a client property: JA4 keeps it), but speaks the version the
# server picks: Botwarden's own edge (uvicorn) is HTTP/1.1 only, so a browser reaching it
# directly sends its HTTP/1.1 form — Host and Connection, names in Title-Case (Chromium
# keeps its client hints lower case), no HTTP/2-only headers. Behind a proxy it depends on
# the proxy. And an edge behind a TLS-terminating proxy that does not forward the
# fingerprint sees no JA4 at all. The generator renders a share of sessions each way.

_H1_DROP = {"chromium": frozenset({"priority"}), "gecko": frozenset({"te"}),
            "webkit": frozenset({"priority"}), "library": frozenset()}  # fmt: skip


def _title(name: str) -> str:
    if name in ("dnt", "te"):
        return name.upper()
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def _h1_template(template: Template, engine: str) -> Template:
    drop = _H1_DROP.get(engine, frozenset())
    names = {n.lower() for n, _ in template}
    out: list[Pair] = [("Host", HOST)] if "host" not in names else []
    if engine != "gecko" and "connection" not in names:
        out.append(("Connection", "keep-alive"))
    for name, value in template:
        n = name.lower()
        if n in drop:
            continue
        out.append((name if n.startswith("sec-ch-") else _title(n), value))
        if engine == "gecko" and n == "accept-encoding":
            out.append(("Connection", "keep-alive"))  # Firefox's HTTP/1.1 place for it
    return tuple(out)


_H1_VARIANTS: dict[str, Client] = {}
_NO_TLS_VARIANTS: dict[str, Client] = {}


def over_http1(client: Client) -> Client:
    """`client` as it talks to an HTTP/1.1-only server: same TLS (it still *offers* h2),
    its HTTP/1.1 request heads. Clients that speak HTTP/1.1 anyway are returned as is."""
    if client.http_version != "2":
        return client
    found = _H1_VARIANTS.get(client.key)
    if found is None:
        from dataclasses import replace

        kinds = {k: _h1_template(t, client.engine) for k, t in client.kinds.items()}
        found = replace(client, key=f"{client.key} [http/1.1]", http_version="1.1", kinds=kinds)
        _H1_VARIANTS[client.key] = found
    return found


def without_tls_fingerprint(client: Client) -> Client:
    """`client` seen by an edge that gets no TLS fingerprint (TLS ended at a proxy)."""
    if client.tls is None:
        return client
    found = _NO_TLS_VARIANTS.get(client.key)
    if found is None:
        from dataclasses import replace

        found = replace(client, key=f"{client.key} [no tls fingerprint]", tls=None)
        _NO_TLS_VARIANTS[client.key] = found
    return found
