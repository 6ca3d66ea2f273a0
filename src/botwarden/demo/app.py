"""The demo shop: a small Starlette app the simulator's traffic (and people) can use.

Home, categories, product pages, search, login, signup, cart, checkout with a payment
step, gift cards, reviews, a contact form, ad clicks, a JSON API, static assets,
robots.txt and a sitemap — everything in memory. Pages are rendered once at start-up, so
a request costs a dictionary lookup, not a template: the shop is never the bottleneck of
a benchmark. Run it with `python -m botwarden.demo` (uvicorn).
"""

from __future__ import annotations

import html
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from botwarden.demo import catalog
from botwarden.demo.catalog import PRODUCT_BY_ID, PRODUCTS, Product

HTML = "text/html; charset=utf-8"
_MAX_CARTS = 100_000


def _price(p: Product) -> str:
    return f"${p.price_cents / 100:,.2f}"


def _layout(title: str, body: str) -> bytes:
    nav = "".join(f'<a href="/c/{slug}">{html.escape(name)}</a> '
                  for slug, name in catalog.CATEGORIES)  # fmt: skip
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} · Demo Shop</title>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<link rel=stylesheet href="/static/app.css"><script defer src="/static/app.js"></script>'
        '<link rel=icon href="/favicon.ico"></head><body>'
        '<header><a href="/"><img src="/static/logo.svg" alt="Demo Shop" width=120></a>'
        f'<nav>{nav}</nav><form action="/search"><input name=q placeholder="Search">'
        '</form><a href="/cart">Cart (<span id=cart-count>0</span>)</a> '
        '<a href="/login">Log in</a> <a href="/signup">Sign up</a></header>'
        f"<main>{body}</main><footer><a href=/contact>Contact</a></footer></body></html>"
    ).encode()


def _card(p: Product) -> str:
    stock = "Sold out" if p.stock == 0 else f"{p.stock} left" if p.limited else "In stock"
    href, img = catalog.product_path(p.id), catalog.product_image(p.id)
    return (
        f'<article><a href="{href}"><img src="{img}" alt="" width=200 height=200>'
        f"<h3>{html.escape(p.name)}</h3></a><p>{_price(p)} · {stock}</p></article>"
    )


def _render_product(p: Product) -> bytes:
    related = [PRODUCTS[(p.id * 31 + k * 17) % len(PRODUCTS)] for k in range(4)]
    ad = catalog.ADS[p.id % len(catalog.ADS)]
    body = (
        f'<h1>{html.escape(p.name)}</h1><img src="{catalog.product_image(p.id)}" alt="" '
        f"width=600 height=600><p>{_price(p)}</p>"
        f'<button data-add="{p.id}">Add to cart</button>'
        f'<form method=post action="/products/{p.id}/reviews"><textarea name=body></textarea>'
        "<input type=hidden name=rating value=5><button>Review</button></form>"
        f'<aside><a href="/ads/click?ad={ad}&pub=0">Sponsored</a></aside>'
        "<h2>Related</h2>" + "".join(_card(r) for r in related)
    )
    return _layout(p.name, body)


def _render_category(slug: str, name: str, page: int) -> bytes:
    items = [p for p in PRODUCTS if p.category == slug]
    chunk = items[(page - 1) * 12 : page * 12]
    more = f'<a href="/c/{slug}?page={page + 1}">Next</a>' if page * 12 < len(items) else ""
    return _layout(name, f"<h1>{html.escape(name)}</h1>" + "".join(_card(p) for p in chunk) + more)


_FORM_PAGES = {
    "/login": ("Log in", '<form method=post action="/login"><input name=email type=email>'
               "<input name=password type=password><button>Log in</button></form>"),
    "/signup": ("Sign up", '<form method=post action="/signup"><input name=email type=email>'
                "<input name=password type=password><input name=name><button>Create account"
                "</button></form>"),
    "/contact": ("Contact", '<form method=post action="/contact"><input name=email>'
                 "<textarea name=message></textarea><button>Send</button></form>"),
    "/gift-cards": ("Gift cards", '<form method=post action="/gift-cards/check"><input name=code>'
                    "<button>Check balance</button></form>"),
    "/checkout": ("Checkout", '<form method=post action="/checkout/payment">'
                  "<input name=card_number><input name=exp><input name=cvc><input name=name>"
                  "<input name=zip>"
                  "<button>Pay</button></form>"),
    "/account": ("Your account", '<a href="/account/gift-cards">Gift cards</a>'),
    "/account/gift-cards": ("Redeem", '<form method=post action="/gift-cards/redeem">'
                            "<input name=code><button>Redeem</button></form>"),
    "/checkout/complete": ("Thank you", "<h1>Order placed</h1>"),
}  # fmt: skip

_CSS = b"body{font-family:system-ui,sans-serif;margin:0}header{display:flex;gap:1em;padding:1em}"
_JS = (
    b"fetch('/api/cart').then(r=>r.json()).then(c=>{document.getElementById('cart-count')"
    b".textContent=c.items.length});document.querySelectorAll('[data-add]').forEach(b=>"
    b"b.onclick=()=>fetch('/api/cart',{method:'POST',headers:{'content-type':"
    b"'application/json'},body:JSON.stringify({product_id:+b.dataset.add,qty:1})}));"
)
_LOGO = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><text x="0" y="24" '
         b'font-size="24">Demo Shop</text></svg>')  # fmt: skip
# A 1x1 WebP and a 16x16 icon stand in for the images (their size does not matter here).
_WEBP = bytes.fromhex("524946461a000000574542505650384c0d0000002f0000001007101111888808")
_ICO = bytes.fromhex("0000010001000101000001002000300000001600000028000000010000000200"
                     "0000010020000000000004000000000000000000000000000000000000000000"
                     "0000ff00000000")  # fmt: skip


def _robots() -> bytes:
    return (b"User-agent: *\nDisallow: /checkout\nDisallow: /account\nDisallow: /api/\n"
            b"Sitemap: https://" + catalog.HOST.encode() + b"/sitemap.xml\n")  # fmt: skip


def _sitemap() -> bytes:
    urls = ["/", *(f"/c/{slug}" for slug in catalog.CATEGORY_SLUGS),
            *(catalog.product_path(p.id) for p in PRODUCTS)]  # fmt: skip
    body = "".join(f"<url><loc>https://{catalog.HOST}{u}</loc></url>" for u in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
            f'"http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>').encode()  # fmt: skip


class Shop:
    """State: carts, accounts created, redeemed codes — bounded, in memory."""

    def __init__(self) -> None:
        self.carts: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self.accounts: dict[str, str] = dict(catalog.ACCOUNTS)
        self.redeemed: set[str] = set()
        self.reviews = 0
        self.messages = 0
        self.pages: dict[str, bytes] = {"/": _layout("Home", "<h1>Welcome</h1>" + "".join(
            _card(p) for p in PRODUCTS[9:17]))}  # fmt: skip
        for p in PRODUCTS:
            self.pages[catalog.product_path(p.id)] = _render_product(p)
        for path, (title, body) in _FORM_PAGES.items():
            self.pages[path] = _layout(title, body)
        self.categories = {
            (slug, page): _render_category(slug, name, page)
            for slug, name in catalog.CATEGORIES
            for page in range(1, 4)
        }
        self.api_products = {p.id: orjson.dumps(_product_json(p)) for p in PRODUCTS}

    def cart(self, sid: str) -> list[tuple[int, int]]:
        cart = self.carts.get(sid)
        if cart is None:
            cart = self.carts[sid] = []
            if len(self.carts) > _MAX_CARTS:
                self.carts.popitem(last=False)
        return cart


def _product_json(p: Product) -> dict[str, object]:
    return {"id": p.id, "name": p.name, "slug": p.slug, "category": p.category,
            "price": p.price_cents / 100, "stock": p.stock, "limited": p.limited,
            "url": catalog.product_path(p.id), "image": catalog.product_image(p.id)}  # fmt: skip


def _sid(request: Request) -> tuple[str, bool]:
    sid = request.cookies.get("sid")
    if sid and len(sid) <= 64:
        return sid, False
    return secrets.token_hex(8), True


def _page(content: bytes, request: Request, status: int = 200) -> Response:
    response = Response(content, status_code=status, media_type=HTML)
    sid, new = _sid(request)
    if new:
        response.set_cookie("sid", sid, httponly=True, samesite="lax", secure=False)
    return response


def _json(doc: object, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form body (the only kind the shop's forms send)."""
    body = await request.body()
    if len(body) > 65536:
        return {}
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def _luhn(number: str) -> bool:
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def create_app() -> Starlette:
    """The demo shop as an ASGI app (fresh in-memory state each call)."""
    shop = Shop()
    not_found = _layout("Not found", "<h1>Not found</h1>")

    async def static_page(request: Request) -> Response:
        return _page(shop.pages[request.url.path], request)

    async def product(request: Request) -> Response:
        content = shop.pages.get(catalog.product_path(request.path_params["pid"]))
        return _page(content or not_found, request, 200 if content else 404)

    async def category(request: Request) -> Response:
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        slug = request.path_params["slug"]
        content = shop.categories.get((slug, page))
        if content is None and slug in catalog.CATEGORY_SLUGS and page > 0:
            content = _layout(slug, "<p>No more products.</p>")
        return _page(content or not_found, request, 200 if content else 404)

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        if len(q) > 200 or "\x00" in q:
            return _page(_layout("Search", "<p>Bad query</p>"), request, 400)
        words = q.lower().split()
        hits = (
            [p for p in PRODUCTS if all(w in p.name.lower() for w in words)][:24] if words else []
        )
        body = f"<h1>Results for {html.escape(q)}</h1>" + "".join(_card(p) for p in hits)
        return _page(_layout("Search", body), request)

    async def login(request: Request) -> Response:
        form = await _form(request)
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        if shop.accounts.get(email) == password:
            response = RedirectResponse("/account", status_code=303)
            response.set_cookie("uid", secrets.token_hex(6), httponly=True, samesite="lax")
            return response
        return _page(_layout("Log in", "<p>Wrong e-mail or password.</p>"), request, 401)

    async def signup(request: Request) -> Response:
        form = await _form(request)
        email = str(form.get("email", ""))
        if "@" not in email or len(str(form.get("password", ""))) < 6:
            return _page(_layout("Sign up", "<p>Check your details.</p>"), request, 400)
        if email in shop.accounts:
            return _page(_layout("Sign up", "<p>Account exists.</p>"), request, 409)
        if len(shop.accounts) < _MAX_CARTS:
            shop.accounts[email] = str(form.get("password"))
        return RedirectResponse("/account", status_code=303)

    async def payment(request: Request) -> Response:
        form = await _form(request)
        if form.get("method") == "store_credit":
            return RedirectResponse("/checkout/complete", status_code=303)
        number = str(form.get("card_number", "")).replace(" ", "")
        cvc = str(form.get("cvc", ""))
        # Test-card rule: Luhn-valid numbers with a CVC ending in 7 are approved.
        if _luhn(number) and cvc.endswith("7"):
            return RedirectResponse("/checkout/complete", status_code=303)
        return _page(_layout("Checkout", "<p>Your card was declined.</p>"), request, 402)

    async def redeem(request: Request) -> Response:
        form = await _form(request)
        code = str(form.get("code", ""))
        if code in catalog.GIFT_CARD_CODES and code not in shop.redeemed:
            shop.redeemed.add(code)
            return RedirectResponse("/account", status_code=303)
        return _page(_layout("Redeem", "<p>Invalid code.</p>"), request, 404)

    async def check_code(request: Request) -> Response:
        form = await _form(request)
        ok = str(form.get("code", "")) in catalog.GIFT_CARD_CODES
        body = "<p>Balance: $50.00</p>" if ok else "<p>Unknown code.</p>"
        return _page(_layout("Gift cards", body), request, 200 if ok else 404)

    async def post_and_thank(request: Request) -> Response:
        await _form(request)
        if request.url.path == "/contact":
            shop.messages += 1
        else:
            shop.reviews += 1
        return RedirectResponse(request.url.path.rsplit("/reviews", 1)[0], status_code=303)

    async def address(request: Request) -> Response:
        await _form(request)
        return RedirectResponse("/account", status_code=303)

    async def cart_page(request: Request) -> Response:
        sid, _ = _sid(request)
        items = shop.carts.get(sid, [])
        rows = "".join(f"<li>{html.escape(PRODUCT_BY_ID[pid].name)} × {qty}</li>"
                       for pid, qty in items if pid in PRODUCT_BY_ID)  # fmt: skip
        body = f"<h1>Your cart</h1><ul>{rows}</ul><a href=/checkout>Checkout</a>"
        return _page(_layout("Cart", body), request)

    async def api_cart(request: Request) -> Response:
        sid, new = _sid(request)
        if request.method == "POST":
            try:
                doc = orjson.loads(await request.body())
                pid, qty = int(doc["product_id"]), int(doc.get("qty", 1))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
                return _json({"error": "expected {product_id, qty}"}, 400)
            p = PRODUCT_BY_ID.get(pid)
            if p is None or not 1 <= qty <= 10:
                return _json({"error": "unknown product or quantity"}, 400)
            if p.stock < qty:
                return _json({"error": "out of stock"}, 409)
            shop.cart(sid).append((pid, qty))
        items = shop.carts.get(sid, [])
        response = _json({"items": [{"product_id": i, "qty": q} for i, q in items]})
        if new:
            response.set_cookie("sid", sid, httponly=True, samesite="lax")
        return response

    async def api_products(request: Request) -> Response:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            return _json({"error": "page must be a number"}, 400)
        chunk = PRODUCTS[(page - 1) * catalog.PRODUCTS_PER_PAGE : page * catalog.PRODUCTS_PER_PAGE]
        return _json({"page": page, "products": [_product_json(p) for p in chunk]})

    async def api_product(request: Request) -> Response:
        raw = request.path_params["ident"]
        found = shop.api_products.get(int(raw)) if raw.isdigit() else None
        if found is None:
            return _json({"error": "not found"}, 404)
        return Response(found, media_type="application/json")

    async def api_search(request: Request) -> Response:
        words = request.query_params.get("q", "").lower().split()
        hits = [p for p in PRODUCTS if words and all(w in p.name.lower() for w in words)]
        return _json({"results": [_product_json(p) for p in hits[:24]]})

    async def api_stock(request: Request) -> Response:
        p = PRODUCT_BY_ID.get(request.path_params["pid"])
        if p is None:
            return _json({"error": "not found"}, 404)
        return _json({"id": p.id, "stock": p.stock, "available": p.stock > 0})

    async def api_login(request: Request) -> Response:
        try:
            doc = orjson.loads(await request.body())
            ok = shop.accounts.get(str(doc["email"])) == str(doc["password"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"error": "expected {email, password}"}, 400)
        if ok:
            return _json({"token": secrets.token_hex(16)})
        return _json({"error": "invalid credentials"}, 401)

    async def coupon(request: Request) -> Response:
        code = request.query_params.get("code", "")
        if code in catalog.COUPON_CODES:
            return _json({"code": code, "valid": True})
        return _json({"code": code, "valid": False}, 404)

    async def ad_click(request: Request) -> Response:
        try:
            ad = int(request.query_params.get("ad", "0"))
        except ValueError:
            ad = 0
        target = catalog.product_path(10 + ad) if ad in catalog.ADS else "/"
        return RedirectResponse(target, status_code=302)

    def asset(content: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
        response_headers = {"cache-control": "public, max-age=31536000, immutable"}

        async def serve(request: Request) -> Response:
            return Response(content, media_type=media_type, headers=response_headers)

        return serve

    async def image(request: Request) -> Response:
        return Response(_WEBP, media_type="image/webp",
                        headers={"cache-control": "public, max-age=86400"})  # fmt: skip

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie("uid")
        return response

    async def missing(request: Request, exc: Exception) -> Response:
        return Response(not_found, status_code=404, media_type=HTML)

    pages = ["/", *(_FORM_PAGES)]
    routes = [Route(path, static_page) for path in pages]
    routes += [
        Route("/products/{pid:int}", product),
        Route("/products/{pid:int}/reviews", post_and_thank, methods=["POST"]),
        Route("/c/{slug}", category),
        Route("/search", search),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout),
        Route("/signup", signup, methods=["POST"]),
        Route("/contact", post_and_thank, methods=["POST"]),
        Route("/cart", cart_page),
        Route("/checkout/payment", payment, methods=["POST"]),
        Route("/gift-cards/check", check_code, methods=["POST"]),
        Route("/gift-cards/redeem", redeem, methods=["POST"]),
        Route("/account/address", address, methods=["POST"]),
        Route("/ads/click", ad_click),
        Route("/api/cart", api_cart, methods=["GET", "POST"]),
        Route("/api/products", api_products),
        Route("/api/products/{ident:path}", api_product),
        Route("/api/search", api_search),
        Route("/api/stock/{pid:int}", api_stock),
        Route("/api/login", api_login, methods=["POST"]),
        Route("/api/coupons/validate", coupon),
        Route("/static/app.css", asset(_CSS, "text/css")),
        Route("/static/app.js", asset(_JS, "text/javascript")),
        Route("/static/logo.svg", asset(_LOGO, "image/svg+xml")),
        Route("/favicon.ico", asset(_ICO, "image/x-icon")),
        Route("/img/products/{pid:int}.webp", image),
        Route("/robots.txt", asset(_robots(), "text/plain")),
        Route("/sitemap.xml", asset(_sitemap(), "application/xml")),
        Route("/healthz", healthz),
    ]
    app = Starlette(routes=routes, exception_handlers={404: missing})
    app.state.shop = shop
    return app


__all__ = ["create_app"]
