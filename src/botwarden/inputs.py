"""Readers that turn recorded requests into RequestContexts: Botwarden's JSON request
records (docs/score-input.md) and nginx/Apache combined access-log lines."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botwarden.errors import InputError
from botwarden.request import RequestContext, TLSInput

if TYPE_CHECKING:
    from botwarden.geoip import GeoIP

_VERSIONS = {"1.0": "1.0", "1.1": "1.1", "2": "2", "2.0": "2", "3": "3", "3.0": "3"}


def _http_version(raw: object) -> str:
    text = str(raw).upper().removeprefix("HTTP/")
    version = _VERSIONS.get(text)
    if version is None:
        raise InputError(f"http_version: {raw!r} is not one of 1.0, 1.1, 2, 3")
    return version


def _timestamp(raw: object) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"ts: {raw!r} is not an RFC 3339 time") from None
        if dt.tzinfo is None:
            raise InputError(f"ts: {raw!r} has no time zone (add Z or +00:00)")
        return dt.timestamp()
    raise InputError(f"ts: expected an RFC 3339 string or epoch seconds, got {type(raw).__name__}")


_BAD_NAME_CHAR = re.compile(r"[\x00-\x20:\x7f]")


def _headers(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if isinstance(raw, Mapping):
        items: list[Any] = [list(kv) for kv in raw.items()]
    elif isinstance(raw, list):
        items = raw
    else:
        raise InputError("headers: expected a list of [name, value] pairs in arrival order")
    # Fast path for well-formed input; the loop below finds and names the first bad entry.
    if all(
        type(i) is list and len(i) == 2 and type(i[0]) is str and type(i[1]) is str and i[0]
        for i in items
    ) and not _BAD_NAME_CHAR.search("".join(i[0] for i in items)):
        return tuple((i[0], i[1]) for i in items)
    for i, item in enumerate(items):
        if (
            not isinstance(item, list | tuple)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not isinstance(item[1], str)
        ):
            raise InputError(f"headers[{i}]: expected [name, value] with two strings")
        if not item[0] or _BAD_NAME_CHAR.search(item[0]):
            raise InputError(f"headers[{i}]: {item[0]!r} is not a header name")
    # Only tuples (from callers in Python) reach here intact.
    return tuple((i[0], i[1]) for i in items)


def _tls(raw: object) -> TLSInput | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError('tls: expected an object such as {"client_hello": "<hex>"}')
    hello = raw.get("client_hello")
    if hello is not None:
        from botwarden.errors import ClientHelloError
        from botwarden.fingerprint.tls import parse_hex

        if not isinstance(hello, str):
            raise InputError("tls.client_hello: expected a hex string")
        try:
            data = parse_hex(hello)
        except ClientHelloError as exc:
            raise InputError(f"tls.client_hello: {exc}") from None
        return TLSInput(client_hello=data)
    fields: dict[str, str | None] = {}
    for key in ("ja3", "ja3_hash", "ja4", "sni"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"tls.{key}: expected a string")
        fields[key] = value
    alpn = raw.get("alpn", [])
    if not isinstance(alpn, list) or not all(isinstance(a, str) for a in alpn):
        raise InputError("tls.alpn: expected a list of strings")
    return TLSInput(
        ja3=fields["ja3"],
        ja3_hash=fields["ja3_hash"],
        ja4=fields["ja4"],
        sni=fields["sni"],
        alpn=tuple(alpn),
    )


# The common absolute URL; anything else (userinfo, IPv6 literals, odd characters) goes
# through urlsplit, which is exact but about three times slower.
_SIMPLE_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+)(?::[0-9]{1,5})?(/[^?#]*)?(?:\?([^#]*))?(?:#.*)?", re.ASCII
)


def _split_url(url: str) -> tuple[str, str, str, str]:
    """(scheme, lower-cased host, path, query) of an absolute URL or a bare path."""
    m = _SIMPLE_URL.fullmatch(url)
    if m is not None:
        return m[1], m[2].lower(), m[3] or "/", m[4] or ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise InputError(f"url: {exc}") from None
    return parts.scheme or "https", host, parts.path or "/", parts.query


def _is_ip(text: str) -> bool:
    """inet_pton is ~40x faster than ipaddress and accepts exactly the usual forms."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except OSError:
            continue
        return True
    return False


def context_from_record(record: object, geoip: GeoIP | None = None) -> RequestContext:
    """One JSON request record → RequestContext. Raises InputError naming the bad field."""
    if not isinstance(record, Mapping):
        raise InputError("expected a JSON object per line")
    ip = record.get("ip")
    if not isinstance(ip, str):
        raise InputError('ip: required, e.g. "203.0.113.7"')
    if not _is_ip(ip):
        raise InputError(f"ip: {ip!r} is not an IPv4 or IPv6 address")
    url = record.get("url", "/")
    if not isinstance(url, str):
        raise InputError("url: expected a string")
    scheme, host, path, query = _split_url(url)
    method = record.get("method", "GET")
    if not isinstance(method, str) or not method.isalpha():
        raise InputError(f"method: {method!r} is not an HTTP method")
    headers = _headers(record.get("headers"))
    if not host:
        host = next((v for k, v in headers if k.lower() == "host"), "")
    port = record.get("port", 0)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError("port: expected an integer 0..65535")
    zone = record.get("zone")
    if zone is not None and not isinstance(zone, str):
        raise InputError("zone: expected a string")
    ts = record.get("ts")
    return RequestContext(
        client_ip=ip,
        client_port=port,
        method=method,
        host=host,
        path=path,
        query=query,
        scheme=scheme,
        http_version=_http_version(record.get("http_version", "1.1")),
        headers=headers,
        tls=_tls(record.get("tls")),
        timestamp=None if ts is None else _timestamp(ts),
        zone=zone,
        geoip=geoip,
    )


# nginx/Apache "combined": %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
_COMBINED = re.compile(
    r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?'
)


def _unescape(value: str) -> str:
    # nginx escapes '"' and '\' and non-printables as \xHH in log strings.
    if "\\" not in value:
        return value
    return re.sub(
        r"\\(x[0-9A-Fa-f]{2}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 3 else m.group(1),
        value,
    )


def context_from_combined(
    line: str, host: str = "", scheme: str = "https", geoip: GeoIP | None = None
) -> RequestContext:
    """One combined-format access-log line → RequestContext (only UA and referer survive
    in such logs, so the context is marked `headers_complete=False`)."""
    m = _COMBINED.match(line.strip())
    if m is None:
        raise InputError('not a combined-format log line (%h %l %u [%t] "%r" %>s %b ...)')
    ip = m["ip"]
    if not _is_ip(ip):
        raise InputError(f"client address {ip!r} is not an IP address")
    try:
        ts = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
    except ValueError:
        raise InputError(f"time {m['time']!r} is not like 10/Oct/2000:13:55:36 -0700") from None
    request = _unescape(m["request"])
    parts = request.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        method, target, proto = parts
        version = _http_version(proto)
    elif len(parts) == 2:  # HTTP/0.9-style request line
        method, target = parts
        version = "1.0"
    else:
        raise InputError(f"request line {request!r} is not METHOD TARGET HTTP/x")
    if not method.isalpha():
        raise InputError(f"request line {request!r} has no HTTP method")
    split = urlsplit(target)
    headers: list[tuple[str, str]] = []
    referer = m["referer"]
    ua = m["ua"]
    if referer and referer != "-":
        headers.append(("Referer", _unescape(referer)))
    if ua and ua != "-":
        headers.append(("User-Agent", _unescape(ua)))
    return RequestContext(
        client_ip=ip,
        method=method,
        host=split.hostname or host,
        path=split.path or "/",
        query=split.query,
        scheme=split.scheme or scheme,
        http_version=version,
        headers=tuple(headers),
        timestamp=ts,
        geoip=geoip,
        headers_complete=False,
    )
