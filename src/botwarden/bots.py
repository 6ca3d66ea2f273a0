"""The directory of good bots: who a user agent claims to be, and whether the address proves it.

A claim is read from the user agent (a token such as `Googlebot`); proof is the
operator's own published check — an IP range list, or forward-confirmed reverse DNS
under a documented suffix. `verify()` answers True (proved), False (the operator
publishes a check and this address fails it: a forgery) or None (nothing to check).
The packaged data is `data/verified_bots.json` (built by `bots_build.py`); a
directory installed with `botwarden bots update` under the data directory overrides it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Required, TypedDict

from botwarden import data
from botwarden.errors import ConfigError
from botwarden.files import write_private

log = logging.getLogger(__name__)

#: Cloudflare's verified-bot categories, exactly as `cf.verified_bot_category` spells them.
CATEGORIES: tuple[str, ...] = (
    "Academic Research",
    "Accessibility",
    "Advertising & Marketing",
    "Aggregator",
    "AI Assistant",
    "AI Crawler",
    "AI Search",
    "Archiver",
    "Feed Fetcher",
    "Monitoring & Analytics",
    "Page Preview",
    "Search Engine Crawler",
    "Search Engine Optimization",
    "Security",
    "Social Media Marketing",
    "Webhooks",
    "Other",
)

FILE_NAME = "verified_bots.json"
SCHEMA_VERSION = 1
DATA_DIR_ENV = "BOTWARDEN_DATA_DIR"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- the file format -------------------------------------------------------------------


class RangeListDoc(TypedDict, total=False):
    """A published prefix list, shared by the bots that name it in `ranges`."""

    operator: str
    url: str
    fetched_at: str
    ipv4: list[str]
    ipv6: list[str]


class BotDoc(TypedDict, total=False):
    slug: Required[str]
    name: Required[str]
    operator: Required[str]
    category: Required[str]
    ua: Required[list[str]]
    ranges: list[str]
    ipv4: list[str]
    ipv6: list[str]
    rdns_suffixes: list[str]
    docs: str
    source: str


class DirectoryDoc(TypedDict, total=False):
    schema: Required[int]
    generated_from: str
    notes: list[str]
    ranges: dict[str, RangeListDoc]
    bots: Required[list[BotDoc]]


_TOP_FIELDS = frozenset(DirectoryDoc.__annotations__)
_BOT_FIELDS = frozenset(BotDoc.__annotations__)
_BOT_REQUIRED = ("slug", "name", "operator", "category", "ua")
_RANGE_FIELDS = frozenset(RangeListDoc.__annotations__)

_SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?\Z", re.ASCII)
# A token starts and ends with a letter or digit (it is matched on word boundaries) and
# is printable ASCII, as Cloudflare's verified-bot policy asks of a user agent.
_TOKEN_RE = re.compile(r"[A-Za-z0-9][\x20-\x7e]*[A-Za-z0-9]\Z", re.ASCII)
_MIN_TOKEN = 3
_HOSTNAME_RE = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\Z", re.ASCII
)


# -- IP ranges -------------------------------------------------------------------------


class IPRanges:
    """Sorted, merged integer intervals per address family; membership is one bisect."""

    __slots__ = ("_v4_ends", "_v4_starts", "_v6_ends", "_v6_starts", "prefixes")

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        count = 0
        for net in networks:
            count += 1
            lo = int(net.network_address)
            span = (lo, lo | ((1 << (net.max_prefixlen - net.prefixlen)) - 1))
            (v4 if net.version == 4 else v6).append(span)
        self.prefixes = count
        self._v4_starts, self._v4_ends = _merge(v4)
        self._v6_starts, self._v6_ends = _merge(v6)

    def __bool__(self) -> bool:
        return self.prefixes > 0

    def __len__(self) -> int:
        return self.prefixes

    def __contains__(self, addr: IPAddress) -> bool:
        if addr.version == 4:
            starts, ends = self._v4_starts, self._v4_ends
        else:
            starts, ends = self._v6_starts, self._v6_ends
        n = int(addr)
        i = bisect_right(starts, n) - 1
        return i >= 0 and n <= ends[i]


def _merge(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in sorted(spans):
        if ends and lo <= ends[-1] + 1:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def parse_ip(ip: str) -> IPAddress | None:
    """The address in `ip`, IPv4-mapped IPv6 unwrapped to IPv4; None if it is not one."""
    try:
        addr = ipaddress.ip_address(ip)
    except (ValueError, TypeError):
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.scope_id:
            return ipaddress.IPv6Address(ip.split("%", 1)[0])
    return addr


# -- bots ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoodBot:
    """One entry of the directory. `ranges` and `rdns_suffixes` are its published checks."""

    slug: str
    name: str
    operator: str
    category: str
    ua_tokens: tuple[str, ...]
    rdns_suffixes: tuple[str, ...] = ()
    range_lists: tuple[str, ...] = ()
    docs: str | None = None
    source: str | None = None
    networks: tuple[str, ...] = field(default=(), repr=False, compare=False)
    ranges: IPRanges = field(default_factory=lambda: IPRanges(()), repr=False, compare=False)

    @property
    def verifiable(self) -> bool:
        """Whether the operator publishes any check (IP ranges or reverse DNS)."""
        return bool(self.ranges) or bool(self.rdns_suffixes)

    @property
    def verification(self) -> str:
        """How this bot is checked: "ip", "rdns", "ip+rdns" or "none"."""
        kinds = [
            k for k, on in (("ip", bool(self.ranges)), ("rdns", bool(self.rdns_suffixes))) if on
        ]
        return "+".join(kinds) or "none"


class Resolver(Protocol):
    """The two DNS questions forward-confirmed reverse DNS asks. Failures answer []."""

    def reverse(self, ip: str) -> list[str]:
        """Host names of the PTR records of `ip`."""
        ...

    def forward(self, name: str) -> list[str]:
        """Addresses (A and AAAA) of `name`."""
        ...


class DnsResolver:
    """`Resolver` over dnspython, with a short timeout: a slow resolver must not hold a request."""

    def __init__(
        self,
        timeout: float = 1.0,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
    ) -> None:
        import dns.resolver

        self.timeout = timeout
        self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            self._resolver.nameservers = list(nameservers)
        self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout

    def reverse(self, ip: str) -> list[str]:
        import dns.exception

        try:
            answer = self._resolver.resolve_address(ip, lifetime=self.timeout)
        except (dns.exception.DNSException, OSError, ValueError):
            return []
        return [rr.to_text() for rr in answer]

    def forward(self, name: str) -> list[str]:
        import dns.exception

        out: list[str] = []
        deadline = time.monotonic() + self.timeout  # one budget for both questions
        for rdtype in ("A", "AAAA"):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                answer = self._resolver.resolve(name, rdtype, lifetime=left, search=False)
            except (dns.exception.DNSException, OSError, ValueError):
                continue
            out.extend(rr.to_text() for rr in answer)
        return out


def _under(host: str, suffixes: Sequence[str]) -> bool:
    """`host` is `suffix` or a name below it — on a label boundary, so that
    `evilgooglebot.com` is not under `googlebot.com`."""
    return any(host == s or host.endswith("." + s) for s in suffixes)


# -- the directory ---------------------------------------------------------------------

_WORD_RE = re.compile(r"[a-z0-9]+", re.ASCII)
# Words every browser user agent carries: never an index key (see BotDirectory.__init__).
_BROWSER_WORDS = frozenset((
    "mozilla", "compatible", "windows", "nt", "win64", "x64", "macintosh", "intel", "mac",
    "os", "x", "linux", "android", "mobile", "iphone", "ipad", "cpu", "like", "applewebkit",
    "khtml", "gecko", "chrome", "safari", "firefox", "version", "edg", "opr",
    "http", "https", "www", "com", "org", "net",
))  # fmt: skip
_MAX_CACHED_UA = 1024  # longer user agents are matched but not cached: the cache stays small
_MAX_IP_TEXT = 64  # the longest IPv6 text with a zone id is well under this
_MAX_PTR = 4
_MAX_ADDRS = 16
_FOREVER = -1.0


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # lower case
    bot: GoodBot
    order: int
    pattern: re.Pattern[str]


class BotDirectory:
    """The good bots, indexed for `claim()` by user-agent token and for `verify()` by address.

    Both answers are cached: `claim` per user agent, `verify` per (slug, ip) in a bounded
    LRU. Verdicts from IP ranges are kept until evicted; those from DNS for `dns_ttl`
    seconds (`dns_negative_ttl` when the check failed, so a timeout is retried soon).
    """

    def __init__(
        self,
        bots: Iterable[GoodBot],
        resolver: Resolver | None = None,
        *,
        claim_cache_size: int = 16384,
        verify_cache_size: int = 65536,
        dns_ttl: float = 3600.0,
        dns_negative_ttl: float = 300.0,
    ) -> None:
        self.bots: tuple[GoodBot, ...] = tuple(bots)
        self.resolver = resolver
        self.dns_ttl = dns_ttl
        self.dns_negative_ttl = dns_negative_ttl
        self._by_slug = {b.slug: b for b in self.bots}
        # Index each token by one of its words: every word of a token that matches on
        # word boundaries is a word of the user agent, so a user agent none of whose
        # words is a key claims nothing — the quick exit every browser takes. The key is
        # the token's longest word that browsers do not also send ("lighthouse" for
        # "Chrome-Lighthouse"), so that browsers do not even reach the token patterns.
        index: dict[str, list[_Token]] = {}
        order = 0
        for bot in self.bots:
            for token in bot.ua_tokens:
                low = token.lower()
                words = _WORD_RE.findall(low)
                if not words:  # no letter or digit: could never match on word boundaries
                    continue
                key = max(words, key=lambda w: (w not in _BROWSER_WORDS, len(w)))
                pattern = re.compile(
                    r"(?<![a-z0-9])(?<!like )" + re.escape(low) + r"(?![a-z0-9])", re.ASCII
                )
                index.setdefault(key, []).append(_Token(low, bot, order, pattern))
                order += 1
        self._index = index
        self._keys = frozenset(index)
        self._claim_cached: Callable[[str], GoodBot | None] = lru_cache(maxsize=claim_cache_size)(
            self._claim
        )
        self._verify_cache: OrderedDict[tuple[str, str], tuple[bool | None, float]] = OrderedDict()
        self._verify_cache_size = verify_cache_size

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_document(cls, doc: object, resolver: Resolver | None = None) -> BotDirectory:
        """Build from a parsed directory document; ConfigError lists every problem."""
        bots, errors = _compile(doc)
        if errors:
            raise ConfigError(_problems("the bot directory", errors))
        return cls(bots, resolver)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], resolver: Resolver | None = None
    ) -> BotDirectory:
        p = Path(path)
        bots, errors = _compile(_read_json(p))
        if errors:
            raise ConfigError(_problems(str(p), errors))
        return cls(bots, resolver)

    @classmethod
    def default(cls, resolver: Resolver | None = None) -> BotDirectory:
        """The installed directory (`$BOTWARDEN_DATA_DIR/verified_bots.json`) if there is
        one, else the packaged one. Cached while the file is unchanged."""
        path = installed_path()
        if not path.is_file():
            path = packaged_path()
        st = path.stat()
        file_key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        with _DEFAULT_LOCK:
            found = _DEFAULT_CACHE.get((*file_key, resolver))
            if found is not None:
                return found
            # Another resolver over the same file shares its parsed bots; another file
            # (or a changed one) makes every cached directory stale.
            same_file = [d for k, d in _DEFAULT_CACHE.items() if k[:3] == file_key]
            if same_file:
                found = cls(same_file[0].bots, resolver)
            else:
                _DEFAULT_CACHE.clear()
                found = cls.from_file(path, resolver)
            _DEFAULT_CACHE[(*file_key, resolver)] = found
            return found

    # -- lookups -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.bots)

    def __iter__(self) -> Iterator[GoodBot]:
        return iter(self.bots)

    def get(self, slug: str) -> GoodBot | None:
        return self._by_slug.get(slug)

    @property
    def prefix_count(self) -> int:
        """Distinct published prefixes across the directory."""
        seen: set[str] = set()
        for bot in self.bots:
            seen.update(bot.networks)
        return len(seen)

    def claim(self, user_agent: str) -> GoodBot | None:
        """Which good bot the user agent CLAIMS to be — a claim, never a verdict.

        Tokens match case-insensitively on word boundaries; the longest matching token
        wins (Googlebot-Image before Googlebot), and a token after "like " is a
        comparison, not a claim ("TelegramBot (like TwitterBot)").
        """
        if len(user_agent) > _MAX_CACHED_UA:
            return self._claim(user_agent)
        return self._claim_cached(user_agent)

    def _claim(self, user_agent: str) -> GoodBot | None:
        low = user_agent.lower()
        words = _WORD_RE.findall(low)
        if self._keys.isdisjoint(words):
            return None
        best: tuple[int, int, int] | None = None
        found: GoodBot | None = None
        for word in self._keys.intersection(words):
            for tok in self._index[word]:
                m = tok.pattern.search(low)
                if m is None:
                    continue
                rank = (-len(tok.text), m.start(), tok.order)
                if best is None or rank < best:
                    best, found = rank, tok.bot
        return found

    def verify(self, bot: GoodBot, ip: str) -> bool | None:
        """True: `ip` passes the operator's published check. False: the operator publishes
        a check and `ip` fails it (a forged claim). None: there is nothing to check —
        the operator publishes none, only reverse DNS is published and no resolver is
        configured, or `ip` is not an address. Never raises."""
        if len(ip) > _MAX_IP_TEXT:  # not an address; and not worth a cache entry
            return None
        key = (bot.slug, ip)
        cache = self._verify_cache
        entry = cache.get(key)
        if entry is not None:
            verdict, expires = entry
            if expires == _FOREVER or expires > time.monotonic():
                # Not contextlib.suppress: on this path it would cost more than the lookup.
                try:  # noqa: SIM105
                    cache.move_to_end(key)
                except KeyError:  # evicted by another thread meanwhile
                    pass
                return verdict
        verdict, ttl = self._verify(bot, ip)
        cache[key] = (verdict, _FOREVER if ttl is None else time.monotonic() + ttl)
        while len(cache) > self._verify_cache_size:
            try:
                cache.popitem(last=False)
            except KeyError:
                break
        return verdict

    def _verify(self, bot: GoodBot, ip: str) -> tuple[bool | None, float | None]:
        addr = parse_ip(ip) if isinstance(ip, str) else None
        if addr is None:
            return None, None
        if addr in bot.ranges:
            return True, None
        if bot.rdns_suffixes and self.resolver is not None:
            ok = self._forward_confirmed(bot, addr)
            return ok, self.dns_ttl if ok else self.dns_negative_ttl
        if bot.ranges:
            return False, None
        return None, None

    def _forward_confirmed(self, bot: GoodBot, addr: IPAddress) -> bool:
        resolver = self.resolver
        assert resolver is not None
        try:
            names = resolver.reverse(str(addr))
        except Exception:
            log.warning("reverse DNS of %s failed", addr, exc_info=True)
            return False
        for name in names[:_MAX_PTR]:
            host = name.rstrip(".").lower() if isinstance(name, str) else ""
            if not _HOSTNAME_RE.match(host) or not _under(host, bot.rdns_suffixes):
                continue
            try:
                addresses = resolver.forward(host)
            except Exception:
                log.warning("forward DNS of %s failed", host, exc_info=True)
                continue
            for a in addresses[:_MAX_ADDRS]:
                if isinstance(a, str) and parse_ip(a) == addr:
                    return True
        return False


_DEFAULT_CACHE: dict[tuple[str, int, int, Resolver | None], BotDirectory] = {}
_DEFAULT_LOCK = threading.Lock()


# -- where the directory lives ---------------------------------------------------------


def data_dir() -> Path:
    """`$BOTWARDEN_DATA_DIR`, by default `./data`."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def installed_path(directory: Path | None = None) -> Path:
    """Where `botwarden bots update` writes the directory, which then overrides the packaged one."""
    return (directory if directory is not None else data_dir()) / FILE_NAME


def packaged_path() -> Path:
    return data.path(FILE_NAME)


# -- reading and validating ------------------------------------------------------------


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None


def _problems(what: str, errors: Sequence[str]) -> str:
    n = len(errors)
    head = f"{what}: {n} problem{'s' if n != 1 else ''}"
    return head + "\n" + "\n".join(f"  {e}" for e in errors)


def validate_document(doc: object, known_ranges: Iterable[str] = ()) -> list[str]:
    """Every problem in a directory document, each with its location
    (`bots[3].ipv4[2]: '10.0.0.0/33' is not a network`). Empty when it is valid.
    `known_ranges` are range-list names defined elsewhere (the directory it merges into)."""
    return _compile(doc, known_ranges)[1]


def _compile(doc: object, known_ranges: Iterable[str] = ()) -> tuple[list[GoodBot], list[str]]:
    errors: list[str] = []
    if not isinstance(doc, dict):
        return [], ["the document must be a JSON object with a 'bots' list"]
    for key in sorted(set(doc) - _TOP_FIELDS):
        errors.append(f"{key}: unknown field (expected {', '.join(sorted(_TOP_FIELDS))})")
    schema = doc.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        errors.append(
            f"schema: {schema!r} is not a supported version (this Botwarden reads {SCHEMA_VERSION})"
        )

    range_lists: dict[str, tuple[str, ...]] = {}
    parsed: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    raw_ranges = doc.get("ranges", {})
    if not isinstance(raw_ranges, dict):
        errors.append("ranges: must be an object of named prefix lists")
        raw_ranges = {}
    for name, rl in raw_ranges.items():
        where = f"ranges[{name!r}]"
        if not _SLUG_RE.match(name):
            errors.append(
                f"{where}: a range-list name is lower-case letters, digits, '.', '_' and '-'"
            )
        if not isinstance(rl, dict):
            errors.append(f"{where}: must be an object with 'ipv4' and/or 'ipv6' lists")
            continue
        for key in sorted(set(rl) - _RANGE_FIELDS):
            errors.append(
                f"{where}: unknown field {key!r} (expected {', '.join(sorted(_RANGE_FIELDS))})"
            )
        for key in ("operator", "url", "fetched_at"):
            if key in rl and not isinstance(rl[key], str):
                errors.append(f"{where}.{key}: must be a string")
        nets = _networks(rl, where, errors)
        parsed[name] = [n for n, _ in nets]
        range_lists[name] = tuple(t for _, t in nets)
    known = set(range_lists) | set(known_ranges)

    raw_bots = doc.get("bots")
    if not isinstance(raw_bots, list):
        errors.append(
            "bots: missing, or not a list" if raw_bots is None else "bots: must be a list"
        )
        raw_bots = []
    bots: list[GoodBot] = []
    slugs: dict[str, int] = {}
    tokens: dict[str, tuple[int, str]] = {}
    shared: dict[tuple[tuple[str, ...], tuple[str, ...]], IPRanges] = {}
    for i, raw in enumerate(raw_bots):
        where = f"bots[{i}]"
        if not isinstance(raw, dict):
            errors.append(f"{where}: must be an object")
            continue
        before = len(errors)
        for key in sorted(set(raw) - _BOT_FIELDS):
            errors.append(
                f"{where}: unknown field {key!r} (expected {', '.join(sorted(_BOT_FIELDS))})"
            )
        for key in _BOT_REQUIRED:
            if key not in raw:
                errors.append(f"{where}: missing field {key!r}")
        strings: dict[str, str] = {}
        for key in ("slug", "name", "operator", "category", "docs", "source"):
            if key not in raw:
                continue
            value = raw[key]
            if not isinstance(value, str) or not value.strip():
                errors.append(f"{where}.{key}: must be a non-empty string")
            else:
                strings[key] = value
        slug = strings.get("slug")
        if slug is not None:
            if not _SLUG_RE.match(slug):
                errors.append(
                    f"{where}.slug: {slug!r} must be lower-case letters, digits, '.', '_' and '-'"
                )
            elif slug in slugs:
                errors.append(f"{where}.slug: {slug!r} is used twice (also bots[{slugs[slug]}])")
            else:
                slugs[slug] = i
        category = strings.get("category")
        if category is not None and category not in CATEGORIES:
            errors.append(
                f"{where}.category: {category!r} is not a verified-bot category "
                f"(expected one of: {', '.join(CATEGORIES)})"
            )
        ua = raw.get("ua")
        ua_list = [ua] if isinstance(ua, str) else ua
        ua_tokens: list[str] = []
        if "ua" in raw and (not isinstance(ua_list, list) or not ua_list):
            errors.append(f"{where}.ua: must be a token or a non-empty list of tokens")
            ua_list = []
        for j, token in enumerate(ua_list or []):
            at = f"{where}.ua[{j}]" if isinstance(ua, list) else f"{where}.ua"
            if not isinstance(token, str):
                errors.append(f"{at}: must be a string")
            elif len(token) < _MIN_TOKEN or not _TOKEN_RE.match(token):
                errors.append(
                    f"{at}: {token!r} is not a user-agent token (at least {_MIN_TOKEN} printable "
                    "ASCII characters, starting and ending with a letter or digit)"
                )
            elif token.lower() in tokens:
                other, other_slug = tokens[token.lower()]
                errors.append(
                    f"{at}: {token!r} is already the token of bots[{other}] ({other_slug!r})"
                )
            else:
                tokens[token.lower()] = (i, slug or "?")
                ua_tokens.append(token)
        names: list[str] = []
        raw_names = raw.get("ranges", [])
        if not isinstance(raw_names, list):
            errors.append(f"{where}.ranges: must be a list of range-list names")
            raw_names = []
        for j, name in enumerate(raw_names):
            if not isinstance(name, str):
                errors.append(f"{where}.ranges[{j}]: must be a string")
            elif name not in known:
                known_text = ", ".join(sorted(known)) or "none are defined"
                errors.append(
                    f"{where}.ranges[{j}]: unknown range list {name!r} (known: {known_text})"
                )
            else:
                names.append(name)
        inline = _networks(raw, where, errors)
        suffixes: list[str] = []
        raw_suffixes = raw.get("rdns_suffixes", [])
        if not isinstance(raw_suffixes, list):
            errors.append(f"{where}.rdns_suffixes: must be a list of domain names")
            raw_suffixes = []
        for j, s in enumerate(raw_suffixes):
            at = f"{where}.rdns_suffixes[{j}]"
            if not isinstance(s, str):
                errors.append(f"{at}: must be a string")
                continue
            norm = s.strip().lstrip(".").rstrip(".").lower()
            if not _HOSTNAME_RE.match(norm) or "." not in norm:
                errors.append(
                    f"{at}: {s!r} is not a domain of two or more labels (like 'googlebot.com')"
                )
            else:
                suffixes.append(norm)
        if len(errors) > before or slug is None:
            continue
        inline_text = tuple(t for _, t in inline)
        share_key = (tuple(names), inline_text)
        ranges = shared.get(share_key)
        if ranges is None:
            members = [n for name in names for n in parsed.get(name, ())]
            ranges = shared[share_key] = IPRanges(members + [n for n, _ in inline])
        networks = tuple(dict.fromkeys(p for name in names for p in range_lists.get(name, ())))
        bots.append(
            GoodBot(
                slug=slug,
                name=strings["name"],
                operator=strings["operator"],
                category=strings["category"],
                ua_tokens=tuple(ua_tokens),
                rdns_suffixes=tuple(dict.fromkeys(suffixes)),
                range_lists=tuple(names),
                docs=strings.get("docs"),
                source=strings.get("source"),
                networks=tuple(dict.fromkeys(networks + inline_text)),
                ranges=ranges,
            )
        )
    return bots, errors


def _networks(obj: Mapping[str, object], where: str, errors: list[str]) -> list[_Net]:
    """The valid networks of `obj["ipv4"]` and `obj["ipv6"]`, each with its text."""
    out: list[_Net] = []
    for family, version in (("ipv4", 4), ("ipv6", 6)):
        values = obj.get(family, [])
        if not isinstance(values, list):
            errors.append(f"{where}.{family}: must be a list of networks")
            continue
        for j, text in enumerate(values):
            at = f"{where}.{family}[{j}]"
            if not isinstance(text, str):
                errors.append(f"{at}: {text!r} is not a network")
                continue
            try:
                net = _NETWORK[version](text)
            except ValueError:
                errors.append(_network_problem(at, text, version))
                continue
            out.append((net, text))
    return out


_Net = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]
_NETWORK: dict[int, Callable[[str], ipaddress.IPv4Network | ipaddress.IPv6Network]] = {
    4: ipaddress.IPv4Network,
    6: ipaddress.IPv6Network,
}


def _network_problem(at: str, text: str, version: int) -> str:
    """Why `text` is not an IPv`version` network, in words."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{at}: {text!r} is not a network"
    if net.version != version:
        other = "ipv6" if version == 4 else "ipv4"
        return f"{at}: {text!r} is an IPv{net.version} network (put it under {other})"
    return f"{at}: {text!r} has host bits set (the network is {str(net)!r})"


# -- updating the installed directory --------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateSummary:
    path: Path
    added: int
    replaced: int
    total: int
    prefixes: int


def _load_base(dest: Path) -> DirectoryDoc:
    path = dest if dest.is_file() else packaged_path()
    doc = _read_json(path)
    errors = validate_document(doc)
    if errors:
        raise ConfigError(_problems(str(path), errors))
    return doc  # type: ignore[return-value]  # validated just above


def update(src: Path, dest: Path, *, replace: bool = False) -> UpdateSummary:
    """Validate `src`, merge it into the directory at `dest` (or the packaged one when
    `dest` does not exist yet) — its bots replace those with the same slug, its range
    lists those with the same name — or, with `replace`, take it as the whole
    directory; then write `dest` atomically."""
    doc = _read_json(src)
    base: DirectoryDoc | None = None if replace else _load_base(dest)
    known = base.get("ranges", {}).keys() if base is not None else ()
    errors = validate_document(doc, known_ranges=known)
    if errors:
        raise ConfigError(_problems(str(src), errors))
    new: DirectoryDoc = doc  # type: ignore[assignment]  # validated just above
    added = replaced = 0
    if base is None:
        merged = new
        merged["schema"] = SCHEMA_VERSION
        added = len(new["bots"])
    else:
        by_slug = {b["slug"]: b for b in base["bots"]}
        for b in new["bots"]:
            if b["slug"] in by_slug:
                replaced += 1
            else:
                added += 1
            by_slug[b["slug"]] = b
        ranges = dict(base.get("ranges", {}))
        ranges.update(new.get("ranges", {}))
        merged = {
            "schema": SCHEMA_VERSION,
            "generated_from": f"{base.get('generated_from', 'botwarden')}; updated from {src.name}",
            "notes": base.get("notes", []) + new.get("notes", []),
            "ranges": ranges,
            "bots": sorted(by_slug.values(), key=lambda b: b["slug"]),
        }
    bots, errors = _compile(merged)
    if errors:  # e.g. a token now used by two bots, one old and one new
        raise ConfigError(_problems(f"{src} merged into {dest}", errors))
    write_private(dest, json.dumps(merged, indent=1, ensure_ascii=False) + "\n", fsync=True)
    prefixes = len({p for b in bots for p in b.networks})
    return UpdateSummary(dest, added, replaced, len(bots), prefixes)


def update_directory(src: Path, dest: Path, *, replace: bool = False) -> int:
    """`update()`, answering the number of bots in the directory written."""
    return update(src, dest, replace=replace).total


def bots_update_command(src: Path, data_dir: Path | None = None, *, replace: bool = False) -> str:
    """`botwarden bots update --from FILE`: the message to print; ConfigError on bad input."""
    dest = installed_path(data_dir)
    s = update(Path(src), dest, replace=replace)
    return (
        f"{s.path}: {s.total} verified bots, {s.prefixes} published IP prefixes "
        f"({s.added} added, {s.replaced} replaced from {src}). "
        "Edges pick it up when they next load the directory."
    )
