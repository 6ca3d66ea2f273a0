"""Named lists (`ip.src in $office`): account lists of IP networks, ASNs or host names."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from typing import Protocol


class NamedList(Protocol):
    kind: str

    def __contains__(self, value: object) -> bool: ...


class IPList:
    """IP addresses and networks (`192.0.2.0/24`, `2001:db8::/32`, `198.51.100.7`)."""

    kind = "ip"

    def __init__(self, entries: Iterable[str]) -> None:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for e in entries:
            net = ipaddress.ip_network(e.strip(), strict=False)
            lo, hi = int(net.network_address), int(net.broadcast_address)
            (v4 if net.version == 4 else v6).append((lo, hi))
        self.v4 = _merge(v4)
        self.v6 = _merge(v6)
        self._v4_lo = [lo for lo, _ in self.v4]
        self._v6_lo = [lo for lo, _ in self.v6]

    def __contains__(self, value: object) -> bool:
        if isinstance(value, ipaddress.IPv4Address):
            ranges, los = self.v4, self._v4_lo
        elif isinstance(value, ipaddress.IPv6Address):
            ranges, los = self.v6, self._v6_lo
        else:
            return False
        n = int(value)
        i = bisect.bisect_right(los, n) - 1
        return i >= 0 and ranges[i][1] >= n


class ASNList:
    """Autonomous system numbers (`AS13335` or `13335`)."""

    kind = "asn"

    def __init__(self, entries: Iterable[int | str]) -> None:
        self.values = frozenset(
            int(str(e).strip().upper().removeprefix("AS")) if not isinstance(e, int) else e
            for e in entries
        )

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value in self.values


class HostnameList:
    """Host names; `*.example.com` also matches every sub-domain of example.com."""

    kind = "hostname"

    def __init__(self, entries: Iterable[str]) -> None:
        exact: set[str] = set()
        suffixes: set[str] = set()
        for e in entries:
            e = e.strip().lower()
            if e.startswith("*."):
                suffixes.add(e[1:])
            else:
                exact.add(e)
        self.exact = frozenset(exact)
        self.suffixes = tuple(sorted(suffixes))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return value in self.exact or (bool(self.suffixes) and value.endswith(self.suffixes))


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
