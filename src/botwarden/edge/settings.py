"""Edge settings: the origin, timeouts, trusted proxies, header and cookie names.

Zone configuration (rules, bot settings) is not here: it comes from a `ConfigSource` and
changes while the edge runs. These settings are fixed for the life of the process;
`check()` reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from botwarden.edge.proxies import check_cidrs
from botwarden.errors import ConfigError

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True)
class ResultHeaders:
    """Request headers that carry the result to the origin (any client copy is removed)."""

    score: str = "Botwarden-Score"
    score_src: str = "Botwarden-Score-Src"
    verified_bot: str = "Botwarden-Verified-Bot"
    ja4: str = "Botwarden-JA4"
    detection_ids: str = "Botwarden-Detection-Ids"

    def names(self) -> tuple[str, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    origin: str = "http://127.0.0.1:8080"
    """Where allowed requests go (reverse-proxy mode): http(s)://host[:port]."""
    preserve_host: bool = True
    """Send the client's Host to the origin (else the origin's own host name)."""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    """Longest wait for the origin's response head and between two body reads."""
    pool_size: int = 512
    """Most open connections to the origin."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of proxies in front of the edge whose headers are believed."""
    client_ip_header: str = "X-Forwarded-For"
    proto_header: str = "X-Forwarded-Proto"
    ja4_header: str = "X-JA4"
    ja3_header: str = "X-JA3"
    """A JA3 string or its MD5, computed by a trusted TLS-terminating proxy."""
    result_headers: ResultHeaders = field(default_factory=ResultHeaders)
    cookie_name: str = "__cf_bm"
    session_max_idle: float = 1800.0
    clearance_cookie: str = "cf_clearance"
    clearance_ttl: float = 1800.0
    """How long a solved challenge lets a client through (Cloudflare's Challenge Passage)."""
    challenge_difficulty: int = 15
    """Leading zero bits of the proof of work (2^15 SHA-256 on average: well under 1 s)."""
    challenge_ttl: float = 300.0
    """How long a challenge page stays solvable."""
    default_zone: str = ""
    """Zone (id or name) for hosts that match no zone; empty: the only zone, if just one."""
    config_poll_interval: float = 0.5

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EdgeSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"edge: unknown setting(s) {', '.join(unknown)}")
        data = dict(values)
        if isinstance(data.get("result_headers"), Mapping):
            data["result_headers"] = ResultHeaders(**data["result_headers"])
        if "trusted_proxies" in data:
            data["trusted_proxies"] = tuple(data["trusted_proxies"])
        return cls(**data).check()

    def with_(self, **changes: Any) -> EdgeSettings:
        return replace(self, **changes).check()

    def validate(self) -> list[str]:
        problems = []
        parts = urlsplit(self.origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"origin {self.origin!r}: expected http(s)://host[:port]")
        elif parts.path not in ("", "/") or parts.query:
            problems.append(f"origin {self.origin!r}: give no path or query")
        for name in ("connect_timeout", "read_timeout", "session_max_idle", "clearance_ttl",
                     "challenge_ttl", "config_poll_interval"):  # fmt: skip
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if self.pool_size < 1:
            problems.append("pool_size must be at least 1")
        if not 1 <= self.challenge_difficulty <= 30:
            problems.append("challenge_difficulty must be 1…30 bits")
        problems += [f"trusted_proxies: {p}" for p in check_cidrs(self.trusted_proxies)]
        headers = {
            "client_ip_header": self.client_ip_header,
            "proto_header": self.proto_header,
            "ja4_header": self.ja4_header,
            "ja3_header": self.ja3_header,
        }
        headers.update({f"result_headers.{f.name}": getattr(self.result_headers, f.name)
                        for f in fields(self.result_headers)})  # fmt: skip
        for what, name in headers.items():
            if not _TOKEN.match(name):
                problems.append(f"{what} {name!r} is not a header name")
        for what, name in (("cookie_name", self.cookie_name),
                           ("clearance_cookie", self.clearance_cookie)):  # fmt: skip
            if not _TOKEN.match(name):
                problems.append(f"{what} {name!r} is not a cookie name")
        if self.cookie_name == self.clearance_cookie:
            problems.append("cookie_name and clearance_cookie must differ")
        return problems

    def check(self) -> EdgeSettings:
        problems = self.validate()
        if problems:
            raise ConfigError("edge settings:\n  - " + "\n  - ".join(problems))
        return self
