"""RequestContext: the one input of engines, rules and features.

Built once per request from what the edge (or a log line) saw. Every derived fact is
computed the first time something asks for it and cached, so a rule that only reads
`ip.src` never parses the user agent.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import ua_parser

from botwarden import data
from botwarden.fingerprint.http import header_names, header_order_fingerprint
from botwarden.lazy import lazy

if TYPE_CHECKING:
    from botwarden.fingerprint.tls import ClientHello
    from botwarden.geoip import GeoFacts, GeoIP

STATIC_EXTENSIONS: frozenset[str] = frozenset(data.read_lines("static_extensions.txt"))

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TLSInput:
    """What the edge learnt from the handshake: the raw ClientHello, or fingerprints an
    upstream proxy computed (trusted only when the proxy is)."""

    client_hello: bytes | None = None
    ja3: str | None = None
    ja3_hash: str | None = None
    ja4: str | None = None
    sni: str | None = None
    alpn: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    family: str
    major: str | None
    minor: str | None
    os_family: str
    os_major: str | None
    device_family: str
    device_brand: str | None


@lru_cache(maxsize=32768)
def parse_user_agent(ua: str) -> UserAgentInfo:
    """ua-parser with a process-wide cache: real traffic repeats a few thousand strings."""
    r = ua_parser.parse(ua)
    agent, os_, dev = r.user_agent, r.os, r.device
    return UserAgentInfo(
        family=agent.family if agent else "Other",
        major=agent.major if agent else None,
        minor=agent.minor if agent else None,
        os_family=os_.family if os_ else "Other",
        os_major=os_.major if os_ else None,
        device_family=dev.family if dev else "Other",
        device_brand=dev.brand if dev else None,
    )


@dataclass(frozen=True, slots=True)
class ClientHints:
    """User-agent client hints (`Sec-CH-UA*`) as browsers send them."""

    brands: tuple[tuple[str, str], ...]
    mobile: bool | None
    platform: str | None

    @property
    def present(self) -> bool:
        return bool(self.brands) or self.mobile is not None or self.platform is not None


def _parse_brands(value: str) -> tuple[tuple[str, str], ...]:
    # `"Chromium";v="131", "Not_A Brand";v="24"` — a structured-field list.
    out: list[tuple[str, str]] = []
    for item in value.split(","):
        name, _, params = item.strip().partition(";")
        version = ""
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "v":
                version = v.strip().strip('"')
        name = name.strip().strip('"')
        if name:
            out.append((name, version))
    return tuple(out)


class RequestContext:
    """One request, immutable. Lazily derived fields are `lazy` (cached) properties."""

    __hash__ = object.__hash__

    def __init__(
        self,
        *,
        client_ip: str,
        method: str = "GET",
        host: str = "",
        path: str = "/",
        query: str = "",
        scheme: str = "https",
        http_version: str = "1.1",
        headers: Headers = (),
        client_port: int = 0,
        tls: TLSInput | None = None,
        timestamp: float | None = None,
        zone: str | None = None,
        geoip: GeoIP | None = None,
        request_id: str | None = None,
        headers_complete: bool = True,
    ) -> None:
        # One dict update instead of fifteen object.__setattr__ calls: this runs for
        # every request. `headers_complete` is False when the source kept only some
        # headers (an access log keeps two), so engines must not read a missing header
        # as evidence.
        self.__dict__.update(
            client_ip=client_ip,
            client_port=client_port,
            method=method.upper(),
            host=host.lower(),
            path=path or "/",
            query=query,
            scheme=scheme,
            http_version=http_version,
            headers=headers,
            tls=tls,
            timestamp=time.time() if timestamp is None else timestamp,
            zone=zone,
            _geoip=geoip,
            request_id=request_id,
            headers_complete=headers_complete,
        )

    # Declared for type checkers; set through __dict__ above.
    client_ip: str
    client_port: int
    method: str
    host: str
    path: str
    query: str
    scheme: str
    http_version: str
    headers: Headers
    tls: TLSInput | None
    timestamp: float
    zone: str | None
    request_id: str | None
    headers_complete: bool
    _geoip: GeoIP | None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RequestContext is immutable (tried to set {name!r})")

    def __repr__(self) -> str:
        target = f"{self.scheme}://{self.host}{self.path}"
        return f"<RequestContext {self.method} {target} from {self.client_ip}>"

    # -- network ----------------------------------------------------------------------

    @lazy
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.client_ip)

    @lazy
    def geo(self) -> GeoFacts:
        from botwarden.geoip import GeoFacts

        if self._geoip is None:
            return GeoFacts()
        return self._geoip.lookup(self.client_ip)

    @property
    def asn(self) -> int | None:
        return self.geo.asn

    @property
    def country(self) -> str | None:
        return self.geo.country

    # -- headers ----------------------------------------------------------------------

    @lazy
    def header_map(self) -> dict[str, str]:
        """Lower-cased name → value; repeated headers are joined with ", " (cookie with "; ")."""
        out = {name.lower(): value for name, value in self.headers}
        if len(out) == len(self.headers):
            return out  # the common case: no header repeats
        out = {}
        for name, value in self.headers:
            key = name.lower()
            if key in out:
                out[key] = out[key] + ("; " if key == "cookie" else ", ") + value
            else:
                out[key] = value
        return out

    def header(self, name: str) -> str | None:
        return self.header_map.get(name)

    @lazy
    def header_names(self) -> tuple[str, ...]:
        """Lower-cased names in arrival order, without proxy-added headers."""
        return header_names(n for n, _ in self.headers)

    @lazy
    def header_order_fp(self) -> str:
        return header_order_fingerprint(
            self.method, self.http_version, (n for n, _ in self.headers)
        )

    @lazy
    def user_agent(self) -> str:
        return self.header_map.get("user-agent", "")

    @lazy
    def ua(self) -> UserAgentInfo:
        return parse_user_agent(self.user_agent)

    @lazy
    def referer(self) -> str:
        return self.header_map.get("referer", "")

    @lazy
    def cookies(self) -> dict[str, str]:
        """Cookies as browsers send them. Like Starlette's parser, split on ';' and the
        first '=' rather than use SimpleCookie, which silently stops at the first value
        it dislikes (JSON, unbalanced quotes) and so would hide the rest."""
        raw = self.header_map.get("cookie")
        if not raw:
            return {}
        out: dict[str, str] = {}
        for part in raw.split(";"):
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.setdefault(name, value)
        return out

    @lazy
    def client_hints(self) -> ClientHints:
        h = self.header_map
        mobile_raw = h.get("sec-ch-ua-mobile")
        platform = h.get("sec-ch-ua-platform")
        return ClientHints(
            brands=_parse_brands(h["sec-ch-ua"]) if "sec-ch-ua" in h else (),
            mobile=None if mobile_raw is None else mobile_raw.strip() == "?1",
            platform=platform.strip().strip('"') if platform is not None else None,
        )

    # -- URL --------------------------------------------------------------------------

    @lazy
    def extension(self) -> str:
        last = self.path.rsplit("/", 1)[-1]
        _, dot, ext = last.rpartition(".")
        return ext.lower() if dot else ""

    @lazy
    def static_resource(self) -> bool:
        return self.extension in STATIC_EXTENSIONS

    @lazy
    def query_args(self) -> tuple[tuple[str, str], ...]:
        return tuple(parse_qsl(self.query, keep_blank_values=True))

    @property
    def uri(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def full_uri(self) -> str:
        return f"{self.scheme}://{self.host}{self.uri}"

    # -- TLS --------------------------------------------------------------------------

    @lazy
    def client_hello(self) -> ClientHello | None:
        """The parsed ClientHello, or None when the edge saw none or it was malformed."""
        if self.tls is None or self.tls.client_hello is None:
            return None
        from botwarden.errors import ClientHelloError
        from botwarden.fingerprint.tls import parse_client_hello

        try:
            return parse_client_hello(self.tls.client_hello)
        except ClientHelloError:
            return None

    @lazy
    def ja3(self) -> str | None:
        ch = self.client_hello
        if ch is not None:
            return ch.ja3
        return self.tls.ja3 if self.tls else None

    @lazy
    def ja3_hash(self) -> str | None:
        ch = self.client_hello
        if ch is not None:
            return ch.ja3_hash
        if self.tls is None:
            return None
        if self.tls.ja3_hash:
            return self.tls.ja3_hash
        if self.tls.ja3:
            import hashlib

            return hashlib.md5(self.tls.ja3.encode(), usedforsecurity=False).hexdigest()
        return None

    @lazy
    def ja4(self) -> str | None:
        ch = self.client_hello
        if ch is not None:
            return ch.ja4
        return self.tls.ja4 if self.tls else None

    @lazy
    def sni(self) -> str | None:
        ch = self.client_hello
        if ch is not None:
            return ch.sni
        return self.tls.sni if self.tls else None

    @lazy
    def alpn(self) -> tuple[str, ...]:
        ch = self.client_hello
        if ch is not None:
            return ch.alpn
        return self.tls.alpn if self.tls else ()

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https" or self.tls is not None
