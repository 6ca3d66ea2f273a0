"""Trusted proxies: only a peer in the configured CIDRs may tell us who the client is
(client IP, scheme, TLS fingerprints from headers); anyone else's claims are ignored."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from botwarden.errors import ConfigError
from botwarden.rules.lists import IPList


def check_cidrs(cidrs: Iterable[str]) -> list[str]:
    """Problems with CIDR strings (empty: all valid)."""
    problems = []
    for c in cidrs:
        try:
            ipaddress.ip_network(c.strip(), strict=False)
        except ValueError:
            problems.append(f"{c!r} is not an IP network")
    return problems


class TrustedProxies:
    """A set of networks; `trusts(ip)` is cached per address string."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self.cidrs = tuple(c.strip() for c in cidrs if c.strip())
        problems = check_cidrs(self.cidrs)
        if problems:
            raise ConfigError("trusted proxies: " + "; ".join(problems))
        self._list = IPList(self.cidrs)
        self.trusts = lru_cache(maxsize=4096)(self._trusts)

    def __bool__(self) -> bool:
        return bool(self.cidrs)

    def _trusts(self, ip: str) -> bool:
        if not self.cidrs:
            return False
        try:
            return ipaddress.ip_address(ip) in self._list
        except ValueError:
            return False

    def client_from_forwarded_for(self, value: str, peer: str) -> str:
        """The client in an X-Forwarded-For chain sent by a trusted `peer`: the right-most
        address that is not itself a trusted proxy (left-most if all are). Entries that are
        not addresses end the walk: what lies left of them cannot be trusted."""
        client = peer
        for raw in reversed(value.split(",")):
            item = _strip_port(raw.strip())
            try:
                ipaddress.ip_address(item)
            except ValueError:
                break
            client = item
            if not self.trusts(item):
                break
        return client


def _strip_port(item: str) -> str:
    # "[2001:db8::1]:443", "192.0.2.1:443" (some proxies add ports); bare IPv6 has many ':'.
    if item.startswith("["):
        return item[1:].partition("]")[0]
    if item.count(":") == 1:
        return item.partition(":")[0]
    return item
