"""What of the client's identity analytics keeps: the full address, a truncated network, or a
keyed pseudonym; and session ids, which are always stored hashed.

Applied by the writer before an event reaches the disk spool, so an address the settings say
not to keep is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal

from botwarden.errors import ConfigError
from botwarden.rules.runtime import ip_key, ip_text

IPMode = Literal["full", "truncate", "hash"]
IP_MODES: tuple[str, ...] = ("full", "truncate", "hash")
PSEUDONYM_PREFIX = "h:"


@dataclass(frozen=True, slots=True)
class Privacy:
    """`ip_mode`:

    - "full": the address as received;
    - "truncate": the network of `ipv4_prefix` / `ipv6_prefix` bits (203.0.113.7 → 203.0.113.0
      with /24); IP filters and top-IP lists then work on networks;
    - "hash": "h:" + 16 hex digits of HMAC-SHA256(key, address). Stable while the key is, so
      top-IP lists still group one client, but no IP filter matches (the address is gone).

    `key` also keys the session-id hash; without one, session ids are hashed unkeyed.
    """

    ip_mode: IPMode = "full"
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    key: bytes = b""

    def validate(self) -> list[str]:
        problems = []
        if self.ip_mode not in IP_MODES:
            problems.append(f"ip_mode must be one of {', '.join(IP_MODES)}, not {self.ip_mode!r}")
        if not 0 <= self.ipv4_prefix <= 32:
            problems.append(f"ipv4_prefix must be 0..32, not {self.ipv4_prefix}")
        if not 0 <= self.ipv6_prefix <= 128:
            problems.append(f"ipv6_prefix must be 0..128, not {self.ipv6_prefix}")
        if self.ip_mode == "hash" and len(self.key) < 16:
            problems.append("ip_mode 'hash' needs a key of at least 16 bytes")
        return problems

    def check(self) -> Privacy:
        problems = self.validate()
        if problems:
            raise ConfigError("analytics privacy: " + "; ".join(problems))
        return self

    def address(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str]:
        """(client_ip as stored, its ip_key)."""
        if self.ip_mode == "full":
            return ip_text(ip), ip_key(ip)
        if self.ip_mode == "truncate":
            mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
            if mapped is not None:
                ip = mapped
            bits = self.ipv4_prefix if ip.version == 4 else self.ipv6_prefix
            net = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
            return ip_text(net.network_address), ip_key(net.network_address)
        return self.pseudonym(ip_text(ip)), ""

    def pseudonym(self, text: str) -> str:
        if self.ip_mode != "hash":
            return text
        digest = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:16]

    def session(self, raw: str) -> str:
        """16 hex digits of a (keyed, when a key is set) BLAKE2b of the session id."""
        if not raw:
            return ""
        return hashlib.blake2b(raw.encode(), key=self.key[:64], digest_size=8).hexdigest()


FULL = Privacy()
