"""The demo shop over real HTTP (uvicorn on loopback): every page the simulator asks for
answers as the simulator's sessions expect, and what does not exist is a 404."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from botwarden.demo import catalog
from botwarden.demo.server import DemoServer


@pytest.fixture(scope="module")
def shop() -> Iterator[httpx.Client]:
    with DemoServer() as server, httpx.Client(base_url=server.url, follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize("path", [
    "/", "/c/shoes", "/c/shoes?page=2", "/products/1", "/products/42", "/search?q=boot",
    "/login", "/signup", "/cart", "/checkout", "/checkout/complete", "/account",
    "/account/gift-cards", "/gift-cards", "/contact", "/static/app.css", "/static/app.js",
    "/static/logo.svg", "/favicon.ico", "/img/products/7.webp", "/robots.txt", "/sitemap.xml",
    "/healthz", "/api/cart", "/api/products?page=2", "/api/products/3", "/api/search?q=watch",
    "/api/stock/1",
])  # fmt: skip
def test_pages_answer(shop: httpx.Client, path: str) -> None:
    r = shop.get(path)
    assert r.status_code == 200, path
    assert r.content


def test_html_pages_set_a_session_cookie_once(shop: httpx.Client) -> None:
    r = shop.get("/products/5", headers={"cookie": ""})
    assert "sid=" in r.headers["set-cookie"]
    again = httpx.get(str(r.url), headers={"cookie": "sid=abc"})
    assert "set-cookie" not in again.headers


def test_pages_link_the_assets_the_simulator_loads(shop: httpx.Client) -> None:
    page = shop.get("/products/12").text
    for asset in (*catalog.STYLESHEETS, *catalog.SCRIPTS, *catalog.IMAGES, catalog.FAVICON,
                  catalog.product_image(12)):  # fmt: skip
        assert asset in page


@pytest.mark.parametrize("path", ["/.env", "/wp-admin/", "/.git/config", "/products/9999",
                                  "/api/products/%27", "/c/nothing"])  # fmt: skip
def test_what_does_not_exist_is_404(shop: httpx.Client, path: str) -> None:
    assert shop.get(path).status_code == 404


def test_login(shop: httpx.Client) -> None:
    email, password = next(iter(catalog.ACCOUNTS.items()))
    ok = shop.post("/login", data={"email": email, "password": password})
    assert ok.status_code == 303
    assert ok.headers["location"] == "/account"
    bad = shop.post("/login", data={"email": email, "password": "nope"})
    assert bad.status_code == 401
    api = shop.post("/api/login", json={"email": email, "password": password})
    assert api.status_code == 200
    assert shop.post("/api/login", json={"email": email, "password": "x"}).status_code == 401


def test_signup(shop: httpx.Client) -> None:
    form = {"email": "new@example.org", "password": "long enough", "name": "n"}
    assert shop.post("/signup", data=form).status_code == 303
    assert shop.post("/signup", data=form).status_code == 409
    assert shop.post("/signup", data={"email": "x"}).status_code == 400


def test_cart_and_checkout(shop: httpx.Client) -> None:
    cookie = {"cookie": "sid=cart-test"}
    r = shop.post("/api/cart", json={"product_id": 6, "qty": 1}, headers=cookie)
    assert r.json()["items"] == [{"product_id": 6, "qty": 1}]
    assert "Gift Card" in shop.get("/cart", headers=cookie).text
    sold_out = next(p for p in catalog.PRODUCTS if p.stock == 0)
    assert shop.post("/api/cart", json={"product_id": sold_out.id}).status_code == 409
    declined = {"card_number": "4111111111111111", "cvc": "123", "exp": "01/30"}
    assert shop.post("/checkout/payment", data=declined).status_code == 402
    approved = {**declined, "cvc": "127"}
    assert shop.post("/checkout/payment", data=approved).status_code == 303


@pytest.mark.parametrize("body", [b'{"product_id":"x"}', b"[]", b"null", b'{"product_id":1',
                                  b'{"product_id":1,"qty":-5}', b'{"qty":' + b"9" * 40 + b"}"])  # fmt: skip
def test_fuzzed_json_is_a_400_not_a_crash(shop: httpx.Client, body: bytes) -> None:
    r = shop.post("/api/cart", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_odd_methods_are_405(shop: httpx.Client) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        assert shop.request(method, "/api/cart").status_code == 405


def test_codes_and_coupons(shop: httpx.Client) -> None:
    code = sorted(catalog.GIFT_CARD_CODES)[0]
    assert shop.post("/gift-cards/check", data={"code": "GIFT-0000-0000"}).status_code == 404
    assert shop.post("/gift-cards/check", data={"code": code}).status_code == 200
    assert shop.post("/gift-cards/redeem", data={"code": code}).status_code == 303
    assert shop.post("/gift-cards/redeem", data={"code": code}).status_code == 404  # used
    assert shop.get("/api/coupons/validate?code=WELCOME10").status_code == 200
    assert shop.get("/api/coupons/validate?code=NOPE5").status_code == 404


def test_ads_reviews_contact(shop: httpx.Client) -> None:
    r = shop.get("/ads/click?ad=3&pub=9")
    assert r.status_code == 302
    assert r.headers["location"] == "/products/13"
    assert shop.post("/products/3/reviews", data={"body": "spam"}).status_code == 303
    assert shop.post("/contact", data={"message": "hi"}).status_code == 303


def test_robots_and_sitemap(shop: httpx.Client) -> None:
    assert "Sitemap:" in shop.get("/robots.txt").text
    sitemap = shop.get("/sitemap.xml").text
    assert sitemap.count("<loc>") == 1 + len(catalog.CATEGORY_SLUGS) + len(catalog.PRODUCTS)


def test_bad_search_is_400(shop: httpx.Client) -> None:
    assert shop.get("/search", params={"q": "A" * 2048}).status_code == 400
    assert shop.get("/search", params={"q": "\x00"}).status_code == 400


def test_runs_in_its_own_process() -> None:
    with DemoServer(process=True) as server:
        assert httpx.get(f"{server.url}/healthz").text == "ok"
