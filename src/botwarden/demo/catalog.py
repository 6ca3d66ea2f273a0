"""The demo shop's catalogue and site map: shared by the demo app and by the simulator,
so that simulated traffic asks for pages that exist (and for ones that do not, on purpose).

Everything is derived deterministically from fixed lists: no randomness, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST = "shop.example"


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    slug: str
    name: str
    category: str
    price_cents: int
    stock: int
    limited: bool = False


CATEGORIES: tuple[tuple[str, str], ...] = (
    ("shoes", "Shoes"),
    ("jackets", "Jackets"),
    ("bags", "Bags"),
    ("watches", "Watches"),
    ("electronics", "Electronics"),
    ("home", "Home"),
    ("gift-cards", "Gift cards"),
    ("limited", "Limited drops"),
)
_ADJECTIVES = ("Classic", "Trail", "Urban", "Alpine", "Coastal", "Studio", "Nordic", "Metro",
               "Summit", "Harbor", "Canyon", "Meadow", "Granite", "Willow", "Ember")  # fmt: skip
_NOUNS = {
    "shoes": ("Runner", "Sneaker", "Boot", "Loafer"),
    "jackets": ("Parka", "Shell", "Bomber", "Fleece"),
    "bags": ("Backpack", "Tote", "Duffel", "Sling"),
    "watches": ("Chronograph", "Diver", "Field Watch", "Smartwatch"),
    "electronics": ("Headphones", "Speaker", "Charger", "Camera"),
    "home": ("Lamp", "Mug Set", "Blanket", "Planter"),
}
GIFT_CARD_VALUES = (25, 50, 100, 250)
LIMITED_NAMES = ("Aurora Sneaker Drop", "Comet Console Bundle", "Nova Watch Edition",
                 "Eclipse Jacket Collab", "Zenith Headphones Launch")  # fmt: skip


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def _build() -> tuple[Product, ...]:
    products: list[Product] = []
    for i, name in enumerate(LIMITED_NAMES):
        price = 19_900 + 10_000 * i
        products.append(Product(i + 1, _slug(name), name, "limited", price, stock=25, limited=True))
    for value in GIFT_CARD_VALUES:
        name = f"Gift Card ${value}"
        pid = len(products) + 1
        products.append(Product(pid, _slug(name), name, "gift-cards", value * 100, stock=10_000))
    for category, nouns in _NOUNS.items():
        for noun in nouns:
            for k, adjective in enumerate(_ADJECTIVES):
                pid = len(products) + 1
                name = f"{adjective} {noun}"
                price = 1_500 + (pid * 7919) % 30_000
                stock = 5 + (pid * 104729) % 400
                if k % 7 == 6:
                    stock = 0  # some items are sold out
                products.append(Product(pid, _slug(name), name, category, price, stock))
    return tuple(products)


PRODUCTS: tuple[Product, ...] = _build()
PRODUCT_BY_ID: dict[int, Product] = {p.id: p for p in PRODUCTS}
LIMITED_IDS: tuple[int, ...] = tuple(p.id for p in PRODUCTS if p.limited)
GIFT_CARD_IDS: tuple[int, ...] = tuple(p.id for p in PRODUCTS if p.category == "gift-cards")
CATEGORY_SLUGS: tuple[str, ...] = tuple(c for c, _ in CATEGORIES)
PRODUCTS_PER_PAGE = 24
API_PAGES = (len(PRODUCTS) + PRODUCTS_PER_PAGE - 1) // PRODUCTS_PER_PAGE

# Static assets every page links, as the browser asks for them (stylesheet, script, font,
# logo), and the product images.
STYLESHEETS = ("/static/app.css",)
SCRIPTS = ("/static/app.js",)
FONTS = ("/static/fonts/inter.woff2",)
IMAGES = ("/static/logo.svg",)
FAVICON = "/favicon.ico"


def product_image(pid: int) -> str:
    return f"/img/products/{pid}.webp"


def product_path(pid: int) -> str:
    return f"/products/{pid}"


SEARCH_TERMS = ("running shoes", "backpack", "rain jacket", "watch", "headphones", "gift card",
                "boots", "lamp", "sneaker", "parka", "speaker", "tote bag", "charger", "fleece",
                "diver watch", "camera", "blanket", "mug", "sale", "limited")  # fmt: skip

# A few accounts exist so that login abuse sometimes succeeds, as it does with reused
# passwords; the demo app accepts exactly these.
ACCOUNTS: dict[str, str] = {
    "alice@example.com": "correct horse battery staple",
    "bob@example.com": "hunter2hunter2",
    "carol@example.com": "s3cret-Passw0rd",
}

# Valid gift-card codes (token cracking looks for these) and coupon codes.
GIFT_CARD_CODES = frozenset({"GIFT-7Q2K-9XMB", "GIFT-4RTA-1ZPW", "GIFT-8HVC-3LNE"})
COUPON_CODES = frozenset({"WELCOME10", "SPRING25", "VIP50"})

ADS = tuple(range(1, 13))  # ad ids shown on pages; /ads/click?ad=<id>&pub=<publisher>
