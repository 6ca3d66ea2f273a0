"""Where simulated clients connect from: pools of addresses by kind of network.

Residential, mobile, hosting and corporate pools are address blocks of the named operators
(ASN and country are the simulator's labels for the block, not a GeoIP lookup). Crawler
pools are the operators' own published ranges from the verified-bot directory
(`data/verified_bots.json`), so a simulated Googlebot verifies exactly as a real one does.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from botwarden import data


@dataclass(frozen=True, slots=True)
class Block:
    operator: str
    asn: int
    country: str
    networks: tuple[str, ...]
    weight: float = 1.0  # share of the pool's clients on this operator


@dataclass(frozen=True, slots=True)
class Address:
    ip: str
    asn: int
    country: str


class _Space:
    """The v4 or v6 networks of one block, drawn uniformly over their addresses (each IPv6
    network counts as its number of /64s: one per subscriber)."""

    __slots__ = ("cum", "nets")

    def __init__(self, nets: list[tuple[int, int, int]]) -> None:
        self.nets = nets  # (base, size, prefixlen)
        self.cum = list(accumulate(size for _, size, _ in nets))


@dataclass(slots=True)
class Pool:
    """Blocks of addresses; `draw()` picks a block by weight, then an address in it, with a
    share `ipv6` of draws from its IPv6 networks (as dual-stack networks deliver)."""

    name: str
    blocks: tuple[Block, ...]
    ipv6: float = 0.0
    _spaces: list[tuple[_Space, _Space]] = field(default_factory=list, repr=False)
    _cum: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for block in self.blocks:
            v4: list[tuple[int, int, int]] = []
            v6: list[tuple[int, int, int]] = []
            for text in block.networks:
                net = ipaddress.ip_network(text)
                if net.version == 4:
                    v4.append((int(net.network_address), net.num_addresses, net.prefixlen))
                else:
                    v6.append((int(net.network_address), 1 << max(0, 64 - net.prefixlen),
                               net.prefixlen))  # fmt: skip
            self._spaces.append((_Space(v4), _Space(v6)))
        self._cum = list(accumulate(b.weight for b in self.blocks))

    def draw(self, rng: random.Random) -> Address:
        i = bisect_right(self._cum, rng.random() * self._cum[-1])
        block = self.blocks[min(i, len(self.blocks) - 1)]
        v4, v6 = self._spaces[min(i, len(self.blocks) - 1)]
        use_v6 = bool(v6.nets) and (not v4.nets or rng.random() < self.ipv6)
        space = v6 if use_v6 else v4
        x = rng.randrange(space.cum[-1])
        j = bisect_right(space.cum, x)
        base, size, _ = space.nets[j]
        offset = x - (space.cum[j - 1] if j else 0)
        if use_v6:
            # A /64 per subscriber and a random interface id, as SLAAC privacy addresses are.
            n = base + (offset << 64) + rng.getrandbits(64)
            return Address(ipaddress.IPv6Address(n).compressed, block.asn, block.country)
        n = base + offset
        if size >= 256 and n & 0xFF in (0, 255):
            n ^= 1  # avoid network and broadcast-looking addresses
        return Address(
            f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", block.asn, block.country
        )

    def sample(self, rng: random.Random, k: int) -> list[Address]:
        """k addresses (a campaign's fixed set of IPs, a botnet, a proxy pool)."""
        return [self.draw(rng) for _ in range(k)]


RESIDENTIAL = (
    Block("Comcast", 7922, "US", ("73.0.0.0/8", "2601::/20"), 18),
    Block("AT&T", 7018, "US", ("99.0.0.0/11", "2600:1700::/28"), 12),
    Block("Verizon Fios", 701, "US", ("108.0.0.0/14", "71.160.0.0/11"), 8),
    Block("Charter Spectrum", 20115, "US", ("76.160.0.0/11",), 10),
    Block("BT", 2856, "GB", ("86.128.0.0/10", "81.128.0.0/12"), 8),
    Block("Deutsche Telekom", 3320, "DE", ("79.192.0.0/10", "87.128.0.0/10", "2003::/19"), 9),
    Block("Orange", 3215, "FR", ("90.0.0.0/9", "2a01:cb00::/24"), 6),
    Block("Free", 12322, "FR", ("88.160.0.0/11",), 4),
    Block("Telefonica", 3352, "ES", ("83.32.0.0/11",), 5),
    Block("KPN", 1136, "NL", ("84.80.0.0/13",), 3),
    Block("Vivo", 26599, "BR", ("177.32.0.0/12",), 4),
    Block("NTT OCN", 4713, "JP", ("153.128.0.0/10",), 3),
)
MOBILE = (
    Block("T-Mobile US", 21928, "US", ("172.56.0.0/13", "2607:fb90::/32"), 4),
    Block("Verizon Wireless", 22394, "US", ("174.192.0.0/10",), 4),
    Block("EE", 12576, "GB", ("31.94.0.0/16",), 2),
    Block("Vodafone DE", 3209, "DE", ("2a02:3030::/32", "109.40.0.0/14"), 2),
)
HOSTING = (
    Block(
        "Amazon AWS", 16509, "US", ("3.80.0.0/12", "18.204.0.0/14", "52.0.0.0/11", "54.144.0.0/12")
    ),
    Block("Google Cloud", 396982, "US", ("34.64.0.0/10", "35.184.0.0/13")),
    Block("Microsoft Azure", 8075, "US", ("20.36.0.0/14", "40.112.0.0/13")),
    Block(
        "DigitalOcean",
        14061,
        "US",
        ("104.131.0.0/16", "138.197.0.0/16", "159.203.0.0/16", "167.99.0.0/16"),
    ),
    Block("OVH", 16276, "FR", ("51.68.0.0/16", "145.239.0.0/16", "54.36.0.0/14")),
    Block("Hetzner", 24940, "DE", ("88.198.0.0/16", "78.46.0.0/15", "95.216.0.0/15", "5.9.0.0/16")),
    Block("Akamai Linode", 63949, "US", ("139.162.0.0/16", "172.104.0.0/15")),
)
CORPORATE = (
    Block("Zscaler", 53813, "US", ("165.225.0.0/17",)),
    Block("Lumen (enterprise egress)", 3356, "US", ("4.0.0.0/9",)),
)

# Locales of people per country, for Accept-Language.
COUNTRY_LOCALES: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (("en-US", 0.92), ("es-ES", 0.08)),
    "GB": (("en-GB", 0.85), ("en-US", 0.15)),
    "DE": (("de-DE", 0.85), ("en-US", 0.15)),
    "FR": (("fr-FR", 0.9), ("en-US", 0.1)),
    "ES": (("es-ES", 0.9), ("en-US", 0.1)),
    "NL": (("nl-NL", 0.75), ("en-US", 0.25)),
    "BR": (("pt-BR", 0.95), ("en-US", 0.05)),
    "JP": (("ja-JP", 0.95), ("en-US", 0.05)),
}


def locale_for(country: str, rng: random.Random) -> str:
    choices = COUNTRY_LOCALES.get(country, (("en-US", 1.0),))
    x = rng.random()
    for locale, p in choices:
        x -= p
        if x < 0:
            return locale
    return choices[0][0]


@functools.cache
def crawler_ranges(name: str) -> tuple[str, ...]:
    """A published range list of the verified-bot directory (e.g. "google-googlebot")."""
    doc = json.loads(data.path("verified_bots.json").read_text("utf-8"))
    ranges = doc["ranges"][name]
    return tuple(ranges.get("ipv4", [])) + tuple(ranges.get("ipv6", []))


_CRAWLER_OWNERS = {
    "google-googlebot": ("Google", 15169, "US"),
    "bing-bingbot": ("Microsoft", 8075, "US"),
    "openai-gptbot": ("Microsoft Azure (OpenAI)", 8075, "US"),
    "apple-applebot": ("Apple", 714, "US"),
}


@functools.cache
def pool(name: str) -> Pool:
    """A named pool: residential, mobile, hosting, corporate, or a crawler's range list."""
    if name == "residential":
        return Pool(name, RESIDENTIAL, ipv6=0.35)
    if name == "mobile":
        return Pool(name, MOBILE, ipv6=0.5)
    if name == "hosting":
        return Pool(name, HOSTING)
    if name == "corporate":
        return Pool(name, CORPORATE)
    if name in _CRAWLER_OWNERS:
        operator, asn, country = _CRAWLER_OWNERS[name]
        block = Block(operator, asn, country, crawler_ranges(name))
        return Pool(name, (block,), ipv6=0.1)
    raise KeyError(f"unknown network pool {name!r}")


POOLS = ("residential", "mobile", "hosting", "corporate", *_CRAWLER_OWNERS)
