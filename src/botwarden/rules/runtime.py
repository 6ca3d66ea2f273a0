"""What compiled rules call at run time: the Python side of every function, derived-field
helpers and element-wise (`[*]`) helpers. Every function returns None (absent) when an
argument is absent, so `lower(lookup_json_string(…)) eq "x"` is simply false."""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    from botwarden.request import RequestContext
    from botwarden.rules.evalctx import RuleInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_TO_LOWER = str.maketrans(_ASCII_UPPER, _ASCII_LOWER)
_TO_UPPER = str.maketrans(_ASCII_LOWER, _ASCII_UPPER)
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
URL_DECODE_ROUNDS = 8


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# -- derived fields ---------------------------------------------------------------------


def headers_map(inp: RuleInput) -> dict[str, list[str]]:
    m: dict[str, list[str]] | None = inp.cache.get("headers")
    if m is None:
        m = {}
        for name, value in inp.ctx.headers:
            m.setdefault(name.lower(), []).append(value)
        inp.cache["headers"] = m
    return m


def header_names(inp: RuleInput) -> list[str]:
    names: list[str] | None = inp.cache.get("header_names")
    if names is None:
        names = inp.cache["header_names"] = [n for n, _ in inp.ctx.headers]
    return names


def header_values(inp: RuleInput) -> list[str]:
    values: list[str] | None = inp.cache.get("header_values")
    if values is None:
        values = inp.cache["header_values"] = [v for _, v in inp.ctx.headers]
    return values


def args_map(inp: RuleInput) -> dict[str, list[str]]:
    m: dict[str, list[str]] | None = inp.cache.get("args")
    if m is None:
        m = {}
        for name, value in inp.ctx.query_args:
            m.setdefault(name, []).append(value)
        inp.cache["args"] = m
    return m


def args_names(inp: RuleInput) -> list[str]:
    return [n for n, _ in inp.ctx.query_args]


def args_values(inp: RuleInput) -> list[str]:
    return [v for _, v in inp.ctx.query_args]


def cookies_map(inp: RuleInput) -> dict[str, list[str]]:
    m: dict[str, list[str]] | None = inp.cache.get("cookies")
    if m is None:
        m = {k: [v] for k, v in inp.ctx.cookies.items()}
        inp.cache["cookies"] = m
    return m


def ts_msec(ctx: RequestContext) -> int:
    return math.floor(ctx.timestamp * 1000 + 1e-6)


# -- indexing and element-wise evaluation -------------------------------------------------


def get_path(value: Any, keys: Sequence[int | str]) -> Any:
    """value[k1][k2]…, or None when a key or position is missing."""
    for key in keys:
        if value is None:
            return None
        if isinstance(key, int):
            value = value[key] if key < len(value) else None
        else:
            value = value.get(key)
    return value


def each(value: Any, keys: Sequence[int | str | None]) -> list[Any]:
    """The elements `value[k1][k2]…` stands for, a None key being [*] (every element of an
    array, every value of a map); missing keys and positions are skipped."""
    cur: list[Any] = [] if value is None else [value]
    for key in keys:
        nxt: list[Any] = []
        for v in cur:
            if key is None:
                nxt.extend(v.values() if isinstance(v, dict) else v)
            elif isinstance(key, int):
                if key < len(v):
                    nxt.append(v[key])
            else:
                x = v.get(key)
                if x is not None:
                    nxt.append(x)
        cur = nxt
    return cur


_UNSET = object()
_GROUP_IDS = itertools.count(1)


def memo(inp: RuleInput, key: str, fn: Any) -> Any:
    """A value several rules of a phase compute, computed once per request."""
    cache = inp.cache
    v = cache.get(key, _UNSET)
    if v is _UNSET:
        v = cache[key] = fn(inp)
    return v


def mapped(fn: Any, elems: Iterable[Any], *args: Any) -> list[Any]:
    """A function applied to each element; absent results are dropped (as wirefilter does)."""
    out = []
    for e in elems:
        r = fn(e, *args)
        if r is not None:
            out.append(r)
    return out


def vand(*items: list[bool]) -> list[bool]:
    n = min(len(i) for i in items)
    return [all(i[k] for i in items) for k in range(n)]


def vor(*items: list[bool]) -> list[bool]:
    n = min(len(i) for i in items)
    return [any(i[k] for i in items) for k in range(n)]


def vxor(*items: list[bool]) -> list[bool]:
    n = min(len(i) for i in items)
    out = []
    for k in range(n):
        acc = False
        for i in items:
            acc ^= i[k]
        out.append(acc)
    return out


def vnot(items: list[bool]) -> list[bool]:
    return [not b for b in items]


# -- operators ----------------------------------------------------------------------------


_V4 = ipaddress.IPv4Address
_V6 = ipaddress.IPv6Address


class IpMatcher:
    """Membership in a set of inclusive IPv4 / IPv6 ranges."""

    __slots__ = ("v4", "v4_lo", "v6", "v6_lo")

    def __init__(self, v4: Sequence[tuple[int, int]], v6: Sequence[tuple[int, int]]) -> None:
        self.v4 = tuple(v4)
        self.v6 = tuple(v6)
        self.v4_lo = [lo for lo, _ in self.v4]
        self.v6_lo = [lo for lo, _ in self.v6]

    def __contains__(self, ip: object) -> bool:
        t = type(ip)
        if t is _V4:
            ranges, los = self.v4, self.v4_lo
        elif t is _V6:
            ranges, los = self.v6, self.v6_lo
        elif isinstance(ip, ipaddress.IPv4Address):
            ranges, los = self.v4, self.v4_lo
        elif isinstance(ip, ipaddress.IPv6Address):
            ranges, los = self.v6, self.v6_lo
        else:
            return False
        n = int(ip)  # type: ignore[call-overload]
        if len(ranges) <= 8:
            for lo, hi in ranges:  # noqa: SIM110 - a plain loop is the fastest here
                if lo <= n <= hi:
                    return True
            return False
        i = bisect.bisect_right(los, n) - 1
        return i >= 0 and ranges[i][1] >= n


class FastRegex:
    """A compiled RE2 regex answering only "does it match somewhere?", calling RE2 directly
    (the re2 module's search() builds a match object in Python on every call)."""

    __slots__ = ("_anchor", "_match", "rx")

    def __init__(self, rx: Any) -> None:
        self.rx = rx
        try:
            self._match = rx._regexp.Match
            self._anchor = re2._Anchor.UNANCHORED
        except AttributeError:  # pragma: no cover - another re2 build
            self._match = None
            self._anchor = None

    def search(self, s: str) -> bool:
        if self._match is None:  # pragma: no cover
            return rx_search(self.rx, s)
        b = s.encode("utf-8", "surrogateescape")
        return bool(self._match(self._anchor, b, 0, len(b))[0][0] != -1)


class RegexGroup:
    """All the regexes (and wildcards) a phase applies to one value, matched with a single
    RE2::Set pass per request; the answer is kept in the RuleInput cache for the other
    rules of the phase."""

    __slots__ = ("_one", "_set", "key", "patterns")

    def __init__(self) -> None:
        self.patterns: list[str] = []
        self.key = f"rxg{next(_GROUP_IDS)}"
        self._set: Any = None
        self._one: list[FastRegex] = []

    def add(self, pattern: str) -> int:
        self.patterns.append(pattern)
        return len(self.patterns) - 1

    def compile(self, compile_one: Any, max_mem: int) -> None:
        if len(self.patterns) > 1:
            opts = re2.Options()
            opts.max_mem = min(max_mem * len(self.patterns), 256 << 20)
            opts.log_errors = False
            s = re2._re2.Set(re2._Anchor.UNANCHORED, opts)
            if all(s.Add(p.encode("utf-8")) != -1 for p in self.patterns) and s.Compile():
                self._set = s
                return
        self._one = [FastRegex(compile_one(p)) for p in self.patterns]

    def run(self, s: str) -> frozenset[int]:
        if self._set is not None:
            return frozenset(self._set.Match(s.encode("utf-8", "surrogateescape")))
        return frozenset(i for i, rx in enumerate(self._one) if rx.search(s))

    def matches(self, inp: RuleInput, s: str) -> frozenset[int]:
        cached = inp.cache.get(self.key)
        if cached is not None and (cached[0] is s or cached[0] == s):
            return cached[1]  # type: ignore[no-any-return]
        found = self.run(s)
        inp.cache[self.key] = (s, found)
        return found


def at(items: Sequence[Any] | None, i: int) -> Any:
    if items is None or i >= len(items):
        return None
    return items[i]


def get_ki(m: dict[str, Sequence[Any]] | None, key: str, i: int) -> Any:
    if m is None:
        return None
    items = m.get(key)
    if items is None or i >= len(items):
        return None
    return items[i]


def rx_search(rx: Any, s: str) -> bool:
    try:
        return rx.search(s) is not None
    except UnicodeEncodeError:
        return rx.search(_b(s).decode("utf-8", "replace")) is not None


def rx_fullmatch(rx: Any, s: str) -> bool:
    try:
        return rx.fullmatch(s) is not None
    except UnicodeEncodeError:
        return rx.fullmatch(_b(s).decode("utf-8", "replace")) is not None


def in_list(lists: Any, name: str, value: Any) -> bool:
    lst = lists.get(name)
    return lst is not None and value in lst


# -- functions ----------------------------------------------------------------------------


def f_any(items: list[bool] | None) -> bool | None:
    return None if items is None else any(items)


def f_all(items: list[bool] | None) -> bool | None:
    return None if items is None else all(items)


def f_lower(s: str | None) -> str | None:
    if s is None:
        return None
    return s.lower() if s.isascii() else s.translate(_TO_LOWER)


def f_upper(s: str | None) -> str | None:
    if s is None:
        return None
    return s.upper() if s.isascii() else s.translate(_TO_UPPER)


def f_len(x: str | Sequence[Any] | None) -> int | None:
    if x is None:
        return None
    if isinstance(x, str):
        return len(x) if x.isascii() else len(_b(x))
    return len(x)


def f_starts_with(s: str | None, prefix: str | None) -> bool | None:
    if s is None or prefix is None:
        return None
    return s.startswith(prefix)


def f_ends_with(s: str | None, suffix: str | None) -> bool | None:
    if s is None or suffix is None:
        return None
    return s.endswith(suffix)


def f_contains(s: str | None, part: str | None) -> bool | None:
    if s is None or part is None:
        return None
    return part in s


def f_concat(*args: Any) -> Any:
    if any(a is None for a in args):
        return None
    if isinstance(args[0], str):
        return "".join(args)
    out: list[Any] = []
    for a in args:
        out.extend(a)
    return out


def f_cidr(ip: IPAddress | None, v4_bits: int, v6_bits: int) -> IPAddress | None:
    if ip is None:
        return None
    if ip.version == 4:
        bits, width = v4_bits, 32
        mask = ((1 << bits) - 1) << (width - bits)
        return ipaddress.IPv4Address(int(ip) & mask)
    bits, width = v6_bits, 128
    mask = ((1 << bits) - 1) << (width - bits)
    return ipaddress.IPv6Address(int(ip) & mask)


def f_cidr6(ip: IPAddress | None, v6_bits: int) -> IPAddress | None:
    if ip is None:
        return None
    if ip.version == 4:
        return ip
    return f_cidr(ip, 32, v6_bits)


_PCT = re.compile(rb"%([0-9A-Fa-f]{2})")
_PCT_U = re.compile(rb"%[uU]([0-9A-Fa-f]{4})")


def _url_decode_once(s: str, unicode: bool) -> str | None:
    b = _b(s).replace(b"+", b" ")
    if unicode:
        b = _PCT_U.sub(lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"), b)
    try:
        return _PCT.sub(lambda m: bytes([int(m.group(1), 16)]), b).decode("utf-8")
    except UnicodeDecodeError:
        return None


def f_url_decode(s: str | None, options: str = "") -> str | None:
    """%XX and + decoded; absent when the result is not UTF-8 text."""
    if s is None:
        return None
    unicode = "u" in options
    if "r" not in options:
        return _url_decode_once(s, unicode)
    for _ in range(URL_DECODE_ROUNDS):
        nxt = _url_decode_once(s, unicode)
        if nxt is None or nxt == s:
            return nxt
        s = nxt
    return s


def f_decode_base64(s: str | None) -> str | None:
    if s is None or not s.isascii() or _B64.fullmatch(s) is None:
        return None
    try:
        return base64.b64decode(s, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _json_path(s: str | None, keys: Sequence[str | int]) -> Any:
    if s is None:
        return None
    try:
        doc = json.loads(s)
    except (ValueError, RecursionError):
        return None
    for k in keys:
        if isinstance(k, str):
            if not isinstance(doc, dict) or k not in doc:
                return None
            doc = doc[k]
        else:
            if not isinstance(doc, list) or not 0 <= k < len(doc):
                return None
            doc = doc[k]
    return doc


def f_lookup_json_string(s: str | None, *keys: str | int) -> str | None:
    v = _json_path(s, keys)
    return v if isinstance(v, str) else None


def f_lookup_json_integer(s: str | None, *keys: str | int) -> int | None:
    v = _json_path(s, keys)
    if isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63:
        return v
    return None


Template = tuple[str | int, ...]  # literal text and capture-group numbers


def _expand(template: Template, m: Any) -> str:
    out = []
    for part in template:
        if isinstance(part, int):
            g = m.group(part)
            out.append(g if g is not None else "")
        else:
            out.append(part)
    return "".join(out)


def f_regex_replace(s: str | None, rx: Any, template: Template) -> str | None:
    if s is None:
        return None
    try:
        m = rx.search(s)
    except UnicodeEncodeError:
        s = _b(s).decode("utf-8", "replace")
        m = rx.search(s)
    if m is None:
        return s
    return s[: m.start()] + _expand(template, m) + s[m.end() :]


def f_wildcard_replace(s: str | None, rx: Any, template: Template) -> str | None:
    if s is None:
        return None
    try:
        m = rx.fullmatch(s)
    except UnicodeEncodeError:
        return s
    if m is None:
        return s
    return _expand(template, m)


def f_remove_bytes(s: str | None, remove: bytes) -> str | None:
    if s is None:
        return None
    return _s(_b(s).translate(None, remove))


def f_remove_query_args(s: str | None, *names: str) -> str | None:
    if s is None:
        return None
    drop = set(names)
    return "&".join(p for p in s.split("&") if p.split("=", 1)[0] not in drop)


def f_substring(s: str | None, start: int, end: int | None = None) -> str | None:
    if s is None:
        return None
    if s.isascii():
        return s[start:end]
    return _s(_b(s)[start:end])


def ip_text(ip: IPAddress) -> str:
    """The usual text form of an address (IPv4-mapped IPv6 as ::ffff:192.0.2.1)."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def ip_key(ip: IPAddress) -> str:
    """The sortable text form analytics stores an address as: "4" + 8 hex digits or
    "6" + 32 hex digits, so a network is a range of strings in both SQL dialects."""
    if ip.version == 4:
        return f"4{int(ip):08x}"
    return f"6{int(ip):032x}"


def f_to_string(x: int | bool | IPAddress | None) -> str | None:
    if x is None:
        return None
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    return ip_text(x)


def f_split(s: str | None, sep: str, limit: int) -> list[str] | None:
    if s is None:
        return None
    return s.split(sep, limit - 1)


def f_join(items: Sequence[str] | None, sep: str) -> str | None:
    if items is None:
        return None
    return sep.join(items)


def f_has_key(m: dict[str, Any] | None, key: str) -> bool | None:
    if m is None:
        return None
    return key in m


def f_has_value(items: Sequence[str] | None, value: str) -> bool | None:
    if items is None:
        return None
    return value in items


# -- comparisons the compiler does not inline ----------------------------------------------


class IntMatcher:
    """Membership in a set of integers and inclusive ranges."""

    __slots__ = ("ranges", "values")

    def __init__(self, values: Iterable[int], ranges: Sequence[tuple[int, int]]) -> None:
        self.values = frozenset(values)
        self.ranges = tuple(ranges)

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, int):
            return False
        if x in self.values:
            return True
        return any(lo <= x <= hi for lo, hi in self.ranges)


def ip_lt(a: IPAddress, b: IPAddress) -> bool:
    return a.version == b.version and a < b  # type: ignore[operator]


def ip_le(a: IPAddress, b: IPAddress) -> bool:
    return a.version == b.version and a <= b  # type: ignore[operator]


def ip_gt(a: IPAddress, b: IPAddress) -> bool:
    return a.version == b.version and a > b  # type: ignore[operator]


def ip_ge(a: IPAddress, b: IPAddress) -> bool:
    return a.version == b.version and a >= b  # type: ignore[operator]


_OPS: dict[str, Any] = {
    "eq": lambda x, c: x == c,
    "ne": lambda x, c: x != c,
    "lt": lambda x, c: x < c,
    "le": lambda x, c: x <= c,
    "gt": lambda x, c: x > c,
    "ge": lambda x, c: x >= c,
    "ip_lt": ip_lt,
    "ip_le": ip_le,
    "ip_gt": ip_gt,
    "ip_ge": ip_ge,
    "contains": lambda x, c: c in x,
    "matches": lambda x, c: rx_search(c, x),
    "wildcard": lambda x, c: rx_fullmatch(c, x),
    "in": lambda x, c: x in c,
    "bitand": lambda x, c: (x & c) != 0,
    "true": lambda x, c: x is True,
}


def cmp_opt(op: str, x: Any, c: Any) -> bool:
    """A comparison on a value that may be absent: absent compares false, whatever the op."""
    if x is None:
        return False
    return bool(_OPS[op](x, c))
