"""One visit (a person's, or a bot worker's) as a sequence of requests on the demo shop.

A `Session` knows who is asking (client, address, locale), keeps what a browser keeps
(the current page for the referer, cookies, cached assets) and appends each request to an
`EventSink`. Population behaviours (`populations.py`) drive it with `page()`, `asset()`,
`api()`, `post()` and `think()`; time only moves forward.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from botwarden.demo import catalog
from botwarden.simulate.clients import NAVIGATIONS, Client
from botwarden.simulate.network import Address, Pool, locale_for


class EventSink(Protocol):
    def identity(
        self, session: Session, address: Address, ja3: str, ja3_hash: str
    ) -> int: ...  # pragma: no cover - protocol

    def emit(
        self,
        ident: int,
        session: Session,
        ts: float,
        kind: str,
        method: str,
        path: str,
        query: str,
        referer: str | None,
        credential: str | None,
        body: str,
        status: int,
    ) -> None: ...  # pragma: no cover - protocol


@dataclass(frozen=True, slots=True)
class Actor:
    """How a session of a population (at one sophistication level) behaves on the wire.

    `rotate`: a new address (and TLS connection) every `rotate` requests on average —
    residential proxy rotation; 0 keeps one address. (A campaign's fixed IPs or a
    corporate proxy's egress are given to the Session as `addresses` instead of the pool.)
    """

    clients: tuple[Client, ...]
    network: str  # pool name (network.pool)
    assets: bool = True  # loads each page's stylesheet, script and images as a browser does
    cookies: bool = True  # keeps the cookies the site sets
    rotate: float = 0.0
    pace: float = 1.0  # multiplies think times
    referers: bool = True  # sends Referer as a browser does
    landing_cross: float = 0.5  # share of first navigations arriving from another site


class Session:
    """Mutable state of one visit. Created by the generator, driven by a behaviour."""

    __slots__ = ("_cum", "_ident", "_left", "_pool", "actor", "address", "addresses", "cached",
                 "campaign", "client", "credential", "end", "host", "label", "lang", "level",
                 "page_url", "population", "rng", "session_id", "sink", "subtype", "t",
                 "templates", "uid")  # fmt: skip

    def __init__(
        self,
        *,
        sink: EventSink,
        rng: random.Random,
        session_id: int,
        population: str,
        label: str,
        subtype: str,
        level: int,
        campaign: str,
        actor: Actor,
        client: Client,
        pool: Pool,
        addresses: list[Address] | None,
        host: str,
        start: float,
        end: float,
    ) -> None:
        self.sink = sink
        self.rng = rng
        self.session_id = session_id
        self.population = population
        self.label = label
        self.subtype = subtype
        self.level = level
        self.campaign = campaign
        self.actor = actor
        self.client = client
        self._pool = pool
        self.addresses = addresses
        self.host = host
        self.t = start
        self.end = end
        self.page_url: str | None = None
        self.credential: str | None = None  # cookie (or bearer token) once the site set one
        self.cached: set[str] = set()
        # (kind, referer?, cookie?) → (template id, slots): the sink's cache for this session.
        self.templates: dict[tuple[str, bool, bool], tuple[int, bool, bool, bool]] = {}
        self.uid = 0
        self.address = self._draw_address()
        self.lang = locale_for(self.address.country, rng)
        self._ident = self._connect()
        self._left = self._next_rotation()

    # -- network --------------------------------------------------------------------------

    def _draw_address(self) -> Address:
        if self.addresses:
            return self.addresses[self.rng.randrange(len(self.addresses))]
        return self._pool.draw(self.rng)

    def _connect(self) -> int:
        tls = self.client.tls
        ja3, ja3_hash = tls.connection(self.rng) if tls else ("", "")
        return self.sink.identity(self, self.address, ja3, ja3_hash)

    def _next_rotation(self) -> int:
        r = self.actor.rotate
        return 1 << 60 if r <= 0 else 1 + int(self.rng.expovariate(1.0 / r))

    def new_address(self) -> None:
        """A new exit address and TLS connection (a proxy rotating, a bot reconnecting)."""
        self.address = self._draw_address()
        self._ident = self._connect()

    # -- time -----------------------------------------------------------------------------

    @property
    def over(self) -> bool:
        return self.t >= self.end

    def wait(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def think(self, median: float = 12.0, sigma: float = 1.0) -> None:
        """A person's pause between pages: log-normal with a heavy tail (a few long ones)."""
        rng = self.rng
        dt = median * math.exp(sigma * rng.gauss(0.0, 1.0))
        if rng.random() < 0.04:
            dt += rng.uniform(120.0, 1500.0)  # went away and came back
        self.t += min(max(dt, 0.8), 3600.0) * self.actor.pace

    def jitter(self, low: float, high: float) -> None:
        self.t += self.rng.uniform(low, high) * self.actor.pace

    # -- requests -------------------------------------------------------------------------

    def url(self, path: str, query: str = "") -> str:
        return f"https://{self.host}{path}?{query}" if query else f"https://{self.host}{path}"

    def request(
        self,
        kind: str,
        path: str,
        query: str = "",
        *,
        method: str | None = None,
        body: str = "",
        status: int = 200,
        referer: str | None = "",
        at: float | None = None,
    ) -> None:
        """Append one request. `referer=""` means what the client would send by itself."""
        if self.over:
            return
        # A browser behind a rotating proxy changes exit between page loads, not in the
        # middle of one; a library's every request is a rotation point.
        if kind in NAVIGATIONS or kind == "fetch_post" or not self.actor.assets:
            self._left -= 1
            if self._left <= 0:
                self.new_address()
                self._left = self._next_rotation()
        if referer == "":
            referer = self.page_url if self.actor.referers else None
        if method is None:
            method = "POST" if kind in ("form", "fetch_post") else "GET"
        self.sink.emit(
            self._ident, self, self.t if at is None else at, kind, method, path, query,
            referer, self.credential if self.actor.cookies else None, body, status,
        )  # fmt: skip
        if self.credential is None and self.actor.cookies and status < 500:
            self.credential = f"sid={self.rng.getrandbits(64):016x}"

    def page(
        self,
        path: str,
        query: str = "",
        *,
        images: tuple[str, ...] = (),
        status: int = 200,
        first: str | None = None,
    ) -> None:
        """Navigate to a page: the document, then (for a browser) what it loads.

        `first`: how the first page is reached — "none" (typed, bookmark), "cross" (a link
        on another site; `referer` then names it), or None for the actor's usual mix."""
        if self.page_url is None:
            how = first or ("cross" if self.rng.random() < self.actor.landing_cross else "none")
            kind = "document_cross" if how == "cross" else "document_none"
            ref = _external_referer(self.rng) if how == "cross" else None
            self.request(kind, path, query, status=status, referer=ref)
        else:
            self.request("document", path, query, status=status)
        self.page_url = self.url(path, query)
        if self.actor.assets and status == 200:
            self._assets(images)

    def _assets(self, images: tuple[str, ...]) -> None:
        rng, t = self.rng, self.t
        at = t + rng.uniform(0.03, 0.15)
        for kind, paths in (
            ("style", catalog.STYLESHEETS),
            ("script", catalog.SCRIPTS),
            ("image", catalog.IMAGES + images),
        ):
            for path in paths:
                if path in self.cached:
                    continue
                self.cached.add(path)
                self.request(kind, path, at=at)
                at += rng.uniform(0.002, 0.04)
        if catalog.FAVICON not in self.cached:
            self.cached.add(catalog.FAVICON)
            self.request("image", catalog.FAVICON, at=at + rng.uniform(0.05, 0.3))
        # The page's script asks for the cart count.
        self.request("fetch", "/api/cart", at=at + rng.uniform(0.05, 0.4))
        self.t = at + 0.05

    def asset(self, kind: str, path: str) -> None:
        self.request(kind, path)

    def api(self, path: str, query: str = "", *, status: int = 200, method: str = "GET") -> None:
        self.request("fetch", path, query, status=status, method=method)

    def post(self, path: str, body: str, *, status: int = 200, json: bool = False) -> None:
        """A form submission (a navigation) or, with `json`, a script's POST."""
        self.request("fetch_post" if json else "form", path, body=body, status=status)
        if not json and status == 200:
            self.page_url = self.url(path)
        # The server's answer (and a redirect to follow) takes a moment.
        self.t += self.rng.uniform(0.05, 0.4)

    def login(self) -> None:
        """After a successful login the site sets a second cookie."""
        if self.actor.cookies:
            self.uid = self.uid or 1 + self.rng.randrange(10**6)
            base = self.credential or f"sid={self.rng.getrandbits(64):016x}"
            self.credential = f"{base.split(';')[0]}; uid={self.uid}"


_EXTERNAL = ("https://www.google.com/", "https://www.google.com/", "https://www.google.com/",
             "https://www.bing.com/", "https://duckduckgo.com/", "https://www.facebook.com/",
             "https://t.co/", "https://www.instagram.com/", "https://www.reddit.com/")  # fmt: skip


def _external_referer(rng: random.Random) -> str:
    return _EXTERNAL[rng.randrange(len(_EXTERNAL))]
