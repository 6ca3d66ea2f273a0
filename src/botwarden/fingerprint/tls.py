"""TLS ClientHello parsing and the fingerprints computed from it: JA3, JA3N and JA4.

The edge peeks the first bytes of every TLS connection and parses them here, so the parser
is strict (anything malformed raises `ClientHelloError`, never another exception), bounded
(`MAX_HELLO_BYTES`) and fast: one pass over the bytes, fingerprints computed on first use.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botwarden.errors import ClientHelloError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "MAX_HELLO_BYTES",
    "ClientHello",
    "fingerprint_dict",
    "is_grease",
    "missing_bytes",
    "parse_client_hello",
    "parse_hex",
]

# A ClientHello fits one 16 KiB record in practice (Chrome's post-quantum hello is ~1.8 KB);
# four times the record limit leaves room for a hello split over records, and refusing
# anything bigger bounds the work an unauthenticated peer can ask of the edge.
MAX_HELLO_BYTES = 64 * 1024

# RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ... 0xfafa. Clients sprinkle them at random into
# every list, so every fingerprint leaves them out.
_GREASE = frozenset(range(0x0A0A, 0x10000, 0x1010))

_RECORD_HANDSHAKE = 0x16
_RECORD_CHANGE_CIPHER_SPEC = 0x14
_HANDSHAKE_CLIENT_HELLO = 0x01
# RFC 8446 §5.1: a record carries at most 2^14 bytes of plaintext; TLS 1.2 allowed
# 2048 more for compression expansion, which a ClientHello record never needs but may claim.
_MAX_RECORD = 2**14 + 2048

_EXT_SERVER_NAME = 0x0000
_EXT_SUPPORTED_GROUPS = 0x000A
_EXT_EC_POINT_FORMATS = 0x000B
_EXT_SIGNATURE_ALGORITHMS = 0x000D
_EXT_ALPN = 0x0010
_EXT_SUPPORTED_VERSIONS = 0x002B

_PARSED_EXTENSIONS = frozenset(
    {
        _EXT_SERVER_NAME,
        _EXT_SUPPORTED_GROUPS,
        _EXT_EC_POINT_FORMATS,
        _EXT_SIGNATURE_ALGORITHMS,
        _EXT_ALPN,
        _EXT_SUPPORTED_VERSIONS,
    }
)

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_ZERO_HASH = "000000000000"

# Plain-text protocols that people point at a TLS port by mistake; named in the error.
_PLAINTEXT_STARTS = (b"GET ", b"POST", b"HEAD", b"PUT ", b"PRI ", b"OPTI", b"DELE", b"CONN")


def is_grease(value: int) -> bool:
    """True for an RFC 8701 GREASE value (0x?a?a with both bytes equal)."""
    return value in _GREASE


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The parts of a TLS ClientHello that fingerprints and rules use.

    Lists are in wire order with GREASE values kept, exactly as the client sent them; the
    fingerprint properties remove GREASE. Fingerprints are computed on first access and
    cached on the instance.
    """

    legacy_version: int
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    supported_groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    supported_versions: tuple[int, ...]
    alpn: tuple[str, ...]
    sni: str | None
    alpn_raw: tuple[bytes, ...] = ()
    record_version: int | None = None  # None when the input was a bare handshake message
    _cache: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _clean: dict[str, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    # -- JA3 -------------------------------------------------------------------------------

    @property
    def ja3(self) -> str:
        """SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats (decimal, no GREASE)."""
        return self._cache.get("ja3") or self._compute_ja3("ja3")

    @property
    def ja3_hash(self) -> str:
        value = self._cache.get("ja3_hash")
        if value is None:
            value = self._cache["ja3_hash"] = _md5(self.ja3)
        return value

    @property
    def ja3n(self) -> str:
        """JA3 with the extension list sorted: stable against Chrome's extension shuffling."""
        return self._cache.get("ja3n") or self._compute_ja3("ja3n")

    @property
    def ja3n_hash(self) -> str:
        value = self._cache.get("ja3n_hash")
        if value is None:
            value = self._cache["ja3n_hash"] = _md5(self.ja3n)
        return value

    def _stripped(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(ciphers, extensions) without GREASE, shared by JA3 and JA4."""
        clean = self._clean
        if not clean:
            clean["ciphers"] = _strip(self.ciphers)
            clean["extensions"] = _strip(self.extensions)
        return clean["ciphers"], clean["extensions"]

    def _compute_ja3(self, name: str) -> str:
        ciphers, extensions = self._stripped()
        if name == "ja3n":
            extensions = tuple(sorted(extensions))
        self._cache[name] = value = ",".join(
            (
                str(self.legacy_version),
                _dec(ciphers),
                _dec(extensions),
                _dec(_strip(self.supported_groups)),
                _dec(self.ec_point_formats),
            )
        )
        return value

    # -- JA4 (FoxIO) -----------------------------------------------------------------------

    @property
    def tls_version(self) -> int:
        """Highest version offered: supported_versions (TLS 1.3 style) or legacy_version."""
        offered = _strip(self.supported_versions)
        return max(offered) if offered else self.legacy_version

    @property
    def ja4(self) -> str:
        """FoxIO JA4: `t13d1516h2_<sorted ciphers hash>_<sorted extensions+sigalgs hash>`."""
        return self._cache.get("ja4") or self._compute_ja4("ja4", original_order=False)

    @property
    def ja4_r(self) -> str:
        """JA4 with the sorted lists in clear instead of hashed (FoxIO's `JA4_r`)."""
        return self._cache.get("ja4_r") or self._compute_ja4("ja4_r", original_order=False)

    @property
    def ja4_o(self) -> str:
        """JA4 over the wire order (SNI and ALPN kept), FoxIO's `JA4_o`."""
        return self._cache.get("ja4_o") or self._compute_ja4("ja4_o", original_order=True)

    @property
    def ja4_ro(self) -> str:
        """JA4 with the wire-order lists in clear (FoxIO's `JA4_ro`)."""
        return self._cache.get("ja4_ro") or self._compute_ja4("ja4_ro", original_order=True)

    def _compute_ja4(self, name: str, *, original_order: bool) -> str:
        ciphers, extensions = self._stripped()
        cache = self._cache
        part_a = cache.get("ja4_a")
        if part_a is None:
            nc, ne = min(len(ciphers), 99), min(len(extensions), 99)
            version = _JA4_VERSIONS.get(self.tls_version, "00")
            sni = "d" if _EXT_SERVER_NAME in extensions else "i"
            alpn = _ja4_alpn(self.alpn_raw[0]) if self.alpn_raw else "00"
            part_a = cache["ja4_a"] = f"t{version}{sni}{nc:02d}{ne:02d}{alpn}"
        # The sorted form leaves out SNI and ALPN because part_a already shows them.
        # FoxIO decides the empty-extensions sentinel on that sorted list for both forms,
        # so a hello with only SNI and ALPN has a zero `JA4_o` extension hash too.
        hashed = sorted([e for e in extensions if e != _EXT_SERVER_NAME and e != _EXT_ALPN])
        if original_order:
            cipher_list = _hex(ciphers)
            ext_list = _hex(extensions)
            names = ("ja4_o", "ja4_ro")
        else:
            cipher_list = _hex(sorted(ciphers))
            ext_list = _hex(hashed)
            names = ("ja4", "ja4_r")
        sigalgs = _strip(self.signature_algorithms)
        if sigalgs:
            ext_list = f"{ext_list}_{_hex(sigalgs)}"
        cipher_hash = _sha12(cipher_list) if ciphers else _ZERO_HASH
        ext_hash = _sha12(ext_list) if hashed else _ZERO_HASH
        cache[names[0]] = f"{part_a}_{cipher_hash}_{ext_hash}"
        cache[names[1]] = f"{part_a}_{cipher_list}_{ext_list}"
        return cache[name]


class _DecimalCache(dict[int, str]):
    """str(n) for the 16-bit values of a hello, memoised (bounded: at most 65536 keys)."""

    def __missing__(self, key: int) -> str:
        value = self[key] = str(key)
        return value


_decimal = _DecimalCache().__getitem__
_is_grease = _GREASE.__contains__
_filterfalse = itertools.filterfalse
_pack = struct.pack
_two_u16 = struct.Struct(">HH").unpack_from


def _dec(values: Iterable[int]) -> str:
    return "-".join(map(_decimal, values))


def _hex(values: Sequence[int]) -> str:
    """`1301,1302,c02b`: lower-case 4-digit hex, comma-separated (FoxIO's raw form)."""
    return _pack(f">{len(values)}H", *values).hex(",", 2)


def _strip(values: tuple[int, ...]) -> tuple[int, ...]:
    """The values without GREASE."""
    if _GREASE.isdisjoint(values):
        return values
    return tuple(_filterfalse(_is_grease, values))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _ja4_alpn(first: bytes) -> str:
    """Two characters for the first ALPN value, as the ja4plus reference computes them.

    Empty or absent: `00`. Otherwise the first and the last byte, each written as itself
    when printable ASCII and as `9` when >= 0x80; a control byte at either end gives `99`.
    """
    if not first:
        return "00"
    head, tail = first[0], first[-1]
    if head < 0x20 or head == 0x7F or tail < 0x20 or tail == 0x7F:
        return "99"
    return ("9" if head >= 0x80 else chr(head)) + ("9" if tail >= 0x80 else chr(tail))


# -- parsing ---------------------------------------------------------------------------------


def _truncated(what: str, need: int, left: int) -> ClientHelloError:
    verb = "need" if what.endswith("s") else "needs"
    unit = "byte" if need == 1 else "bytes"
    return ClientHelloError(f"truncated: {what} {verb} {need} {unit}, {max(left, 0)} left")


def _not_tls(data: bytes) -> ClientHelloError:
    if not data:
        return ClientHelloError("empty input: no ClientHello")
    first = data[0]
    if data[:4] in _PLAINTEXT_STARTS:
        return ClientHelloError(f"not TLS: plain-text request {data[:16]!r}")
    if first & 0x80 and len(data) >= 3 and data[2] == 0x01:
        return ClientHelloError("not supported: SSL 2.0-format ClientHello")
    if first == 0x15:
        return ClientHelloError("not a ClientHello: TLS alert record")
    return ClientHelloError(
        f"not a ClientHello: first byte 0x{first:02x} "
        "(expected 0x16 for a TLS record or 0x01 for a handshake message)"
    )


def _locate(data: bytes) -> tuple[bytes, int, int, int | None]:
    """(buffer, start, end, record_version) of the ClientHello message (header included)."""
    n = len(data)
    if n > MAX_HELLO_BYTES:
        raise ClientHelloError(f"oversized: {n} bytes, the limit is {MAX_HELLO_BYTES}")
    if n == 0:
        raise _not_tls(data)
    first = data[0]
    if first == _HANDSHAKE_CLIENT_HELLO:
        return data, 0, n, None
    if first != _RECORD_HANDSHAKE and first != _RECORD_CHANGE_CIPHER_SPEC:
        raise _not_tls(data)

    # Fast path: the whole hello in the first record, as every client sends it.
    if first == _RECORD_HANDSHAKE and n >= 9:
        rlen = (data[3] << 8) | data[4]
        hlen = (data[6] << 16) | (data[7] << 8) | data[8]
        if data[1] == 0x03 and data[5] == _HANDSHAKE_CLIENT_HELLO and 4 + hlen <= rlen:
            if 5 + rlen > n:
                raise _truncated("TLS record", rlen, n - 5)
            if rlen > _MAX_RECORD:
                raise ClientHelloError(f"record length {rlen} exceeds the TLS limit {_MAX_RECORD}")
            return data, 5, 9 + hlen, (data[1] << 8) | data[2]
    return _reassemble(data)


def _reassemble(data: bytes) -> tuple[bytes, int, int, int | None]:
    """The hello split across several handshake records (or after a ChangeCipherSpec)."""
    n = len(data)
    pos = 0
    fragments: list[bytes] = []
    have = 0
    total = -1  # handshake message size once its 4-byte header is known
    record_version: int | None = None
    while True:
        if pos >= n:
            if total < 0:
                raise _truncated("handshake header", 4, have)
            raise _truncated("ClientHello", total, have)
        if n - pos < 5:
            raise _truncated("record header", 5, n - pos)
        ctype, major = data[pos], data[pos + 1]
        rlen = (data[pos + 3] << 8) | data[pos + 4]
        if major != 0x03:
            raise ClientHelloError(
                f"not TLS: record version 0x{major:02x}{data[pos + 2]:02x} at offset {pos}"
            )
        if rlen > _MAX_RECORD:
            raise ClientHelloError(f"record length {rlen} exceeds the TLS limit {_MAX_RECORD}")
        if n - pos - 5 < rlen:
            raise _truncated("TLS record", rlen, n - pos - 5)
        if ctype == _RECORD_CHANGE_CIPHER_SPEC and not fragments:
            # TLS 1.3 middlebox compatibility: a client answering a HelloRetryRequest may
            # send ChangeCipherSpec before its second hello.
            pos += 5 + rlen
            continue
        if ctype != _RECORD_HANDSHAKE:
            raise ClientHelloError(
                f"not a ClientHello: record type 0x{ctype:02x} at offset {pos}"
                + (" interrupts the handshake message" if fragments else "")
            )
        if rlen == 0:
            raise ClientHelloError(f"empty handshake record at offset {pos}")
        if record_version is None:
            record_version = (major << 8) | data[pos + 2]
        fragments.append(data[pos + 5 : pos + 5 + rlen])
        have += rlen
        pos += 5 + rlen
        if total < 0 and have >= 4:
            head = b"".join(fragments)[:4]
            if head[0] != _HANDSHAKE_CLIENT_HELLO:
                raise ClientHelloError(f"not a ClientHello: handshake type {head[0]}")
            total = 4 + int.from_bytes(head[1:4], "big")
            if total > MAX_HELLO_BYTES:
                raise ClientHelloError(
                    f"oversized: ClientHello declares {total - 4} bytes, "
                    f"the limit is {MAX_HELLO_BYTES}"
                )
        if total >= 0 and have >= total:
            joined = b"".join(fragments)
            return joined, 0, total, record_version


def parse_client_hello(data: bytes | bytearray | memoryview) -> ClientHello:
    """Parse a ClientHello from TLS record(s) (0x16 0x03 …) or a bare handshake message (0x01).

    Raises ClientHelloError, with a message naming the fault, for anything that is not one
    complete, well-formed ClientHello no larger than MAX_HELLO_BYTES. Bytes after the hello
    (further records, early data) are ignored.
    """
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise ClientHelloError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
    buf, pos, end, record_version = _locate(data)

    if end - pos < 4:
        raise _truncated("handshake header", 4, end - pos)
    if buf[pos] != _HANDSHAKE_CLIENT_HELLO:
        raise ClientHelloError(f"not a ClientHello: handshake type {buf[pos]}")
    length = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
    pos += 4
    if length > end - pos:
        raise _truncated("ClientHello body", length, end - pos)
    end = pos + length

    if end - pos < 35:
        raise _truncated("version, random and session id length", 35, end - pos)
    legacy_version = (buf[pos] << 8) | buf[pos + 1]
    sid_len = buf[pos + 34]
    pos += 35
    if sid_len > 32:
        raise ClientHelloError(f"session id length {sid_len} exceeds 32")
    if end - pos < sid_len:
        raise _truncated("session id", sid_len, end - pos)
    pos += sid_len

    if end - pos < 2:
        raise _truncated("cipher suites length", 2, end - pos)
    clen = (buf[pos] << 8) | buf[pos + 1]
    pos += 2
    if clen & 1:
        raise ClientHelloError(f"cipher suites length {clen} is odd")
    if end - pos < clen:
        raise _truncated("cipher suites", clen, end - pos)
    ciphers = struct.unpack_from(f">{clen >> 1}H", buf, pos)
    pos += clen

    if end - pos < 1:
        raise _truncated("compression methods length", 1, end - pos)
    comp_len = buf[pos]
    pos += 1
    if comp_len == 0:
        raise ClientHelloError("no compression methods (the null method is required)")
    if end - pos < comp_len:
        raise _truncated("compression methods", comp_len, end - pos)
    pos += comp_len

    extensions: list[int] = []
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    sigalgs: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()
    alpn_raw: tuple[bytes, ...] = ()
    sni: str | None = None
    if pos < end:  # TLS 1.0-era hellos may stop after the compression methods
        if end - pos < 2:
            raise _truncated("extensions length", 2, end - pos)
        elen = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
        if elen > end - pos:
            raise _truncated("extensions", elen, end - pos)
        if elen < end - pos:
            raise ClientHelloError(
                f"trailing data: {end - pos - elen} bytes after the extensions in the ClientHello"
            )
        while pos < end:
            if end - pos < 4:
                raise _truncated("extension header", 4, end - pos)
            etype, dlen = _two_u16(buf, pos)
            pos += 4
            if end - pos < dlen:
                raise _truncated(f"extension 0x{etype:04x}", dlen, end - pos)
            extensions.append(etype)
            if etype in _PARSED_EXTENSIONS:
                if etype == _EXT_SERVER_NAME:
                    sni = _server_name(buf, pos, pos + dlen)
                elif etype == _EXT_SUPPORTED_GROUPS:
                    groups = _u16_list(buf, pos, pos + dlen, 2, "supported_groups")
                elif etype == _EXT_EC_POINT_FORMATS:
                    point_formats = _u8_list(buf, pos, pos + dlen, "ec_point_formats")
                elif etype == _EXT_SIGNATURE_ALGORITHMS:
                    sigalgs = _u16_list(buf, pos, pos + dlen, 2, "signature_algorithms")
                elif etype == _EXT_SUPPORTED_VERSIONS:
                    versions = _u16_list(buf, pos, pos + dlen, 1, "supported_versions")
                elif etype == _EXT_ALPN:
                    alpn_raw = _alpn(buf, pos, pos + dlen)
            pos += dlen

    return ClientHello(
        legacy_version=legacy_version,
        ciphers=ciphers,
        extensions=tuple(extensions),
        supported_groups=groups,
        ec_point_formats=point_formats,
        signature_algorithms=sigalgs,
        supported_versions=versions,
        alpn=tuple([p.decode("ascii", "replace") for p in alpn_raw]),
        sni=sni,
        alpn_raw=alpn_raw,
        record_version=record_version,
    )


def _u16_list(buf: bytes, pos: int, end: int, prefix: int, name: str) -> tuple[int, ...]:
    """A vector of uint16 with a `prefix`-byte length that fills the extension exactly."""
    if end - pos < prefix:
        raise ClientHelloError(f"malformed {name} extension: no list length")
    n = buf[pos] if prefix == 1 else (buf[pos] << 8) | buf[pos + 1]
    pos += prefix
    if n != end - pos or n & 1:
        raise ClientHelloError(
            f"malformed {name} extension: list length {n}, {end - pos} bytes of data"
        )
    return struct.unpack_from(f">{n >> 1}H", buf, pos)


def _u8_list(buf: bytes, pos: int, end: int, name: str) -> tuple[int, ...]:
    if end - pos < 1 or buf[pos] != end - pos - 1:
        raise ClientHelloError(f"malformed {name} extension: bad list length")
    return tuple(buf[pos + 1 : end])


def _server_name(buf: bytes, pos: int, end: int) -> str | None:
    """First host_name entry of server_name (RFC 6066 §3); None for an empty extension."""
    if pos == end:  # a server's empty acknowledgement; tolerated from clients too
        return None
    if end - pos < 2 or ((buf[pos] << 8) | buf[pos + 1]) != end - pos - 2:
        raise ClientHelloError("malformed server_name extension: bad list length")
    pos += 2
    host: str | None = None
    while pos < end:
        if end - pos < 3:
            raise ClientHelloError("malformed server_name extension: truncated entry")
        kind = buf[pos]
        n = (buf[pos + 1] << 8) | buf[pos + 2]
        pos += 3
        if end - pos < n:
            raise ClientHelloError("malformed server_name extension: name overruns the list")
        if kind == 0 and host is None:
            host = buf[pos : pos + n].decode("ascii", "replace")
        pos += n
    return host


def _alpn(buf: bytes, pos: int, end: int) -> tuple[bytes, ...]:
    if end - pos < 2 or ((buf[pos] << 8) | buf[pos + 1]) != end - pos - 2:
        raise ClientHelloError("malformed ALPN extension: bad list length")
    pos += 2
    out: list[bytes] = []
    while pos < end:
        n = buf[pos]
        pos += 1
        if n > end - pos:
            raise ClientHelloError("malformed ALPN extension: protocol name overruns the list")
        out.append(buf[pos : pos + n])
        pos += n
    return tuple(out)


def missing_bytes(prefix: bytes) -> int:
    """How many more bytes the ClientHello that `prefix` starts needs (0: it is complete).

    For a reader that peeks a socket: peek, call this, and peek again for at least that
    many more bytes. The answer is a lower bound while the handshake header is still
    incomplete. Raises ClientHelloError as soon as the bytes cannot begin a ClientHello,
    or when the hello would exceed MAX_HELLO_BYTES.
    """
    n = len(prefix)
    if n == 0:
        return 5
    first = prefix[0]
    if first == _HANDSHAKE_CLIENT_HELLO:
        if n < 4:
            return 4 - n
        total = 4 + ((prefix[1] << 16) | (prefix[2] << 8) | prefix[3])
        if total > MAX_HELLO_BYTES:
            raise ClientHelloError(f"oversized: ClientHello declares {total - 4} bytes")
        return max(total - n, 0)
    if first != _RECORD_HANDSHAKE and first != _RECORD_CHANGE_CIPHER_SPEC:
        raise _not_tls(prefix)
    pos = 0
    body = bytearray()
    total = -1
    while True:
        if n - pos < 5:
            return 5 - (n - pos)
        ctype = prefix[pos]
        if ctype != _RECORD_HANDSHAKE and ctype != _RECORD_CHANGE_CIPHER_SPEC:
            raise ClientHelloError(f"not a ClientHello: record type 0x{ctype:02x} at offset {pos}")
        if prefix[pos + 1] != 0x03:
            raise ClientHelloError(
                f"not TLS: record version 0x{prefix[pos + 1]:02x}{prefix[pos + 2]:02x}"
            )
        rlen = (prefix[pos + 3] << 8) | prefix[pos + 4]
        if rlen > _MAX_RECORD:
            raise ClientHelloError(f"record length {rlen} exceeds the TLS limit {_MAX_RECORD}")
        fragment = prefix[pos + 5 : pos + 5 + rlen]
        if ctype == _RECORD_HANDSHAKE:
            body += fragment
            if total < 0 and len(body) >= 4:
                if body[0] != _HANDSHAKE_CLIENT_HELLO:
                    raise ClientHelloError(f"not a ClientHello: handshake type {body[0]}")
                total = 4 + int.from_bytes(body[1:4], "big")
                if total > MAX_HELLO_BYTES:
                    raise ClientHelloError(f"oversized: ClientHello declares {total - 4} bytes")
        if len(fragment) < rlen:  # the prefix ends inside this record
            wanted = rlen - len(fragment)
            if ctype == _RECORD_HANDSHAKE and total >= 0:
                wanted = min(wanted, total - len(body))
            return max(wanted, 1)
        pos += 5 + rlen
        if total >= 0 and len(body) >= total:
            return 0


_HEX_SEPARATORS = re.compile(r"[\s:,]+")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")


def parse_hex(text: str) -> bytes:
    """Bytes from hex text: whitespace, colons, commas and `0x` prefixes are allowed."""
    digits = "".join(
        t[2:] if t[:2] in ("0x", "0X") else t for t in _HEX_SEPARATORS.split(text.strip())
    )
    if not digits:
        raise ClientHelloError("empty hex input")
    bad = _HEX_DIGITS.match(digits)
    if bad is not None and bad.end() < len(digits):
        raise ClientHelloError(
            f"bad hex: {digits[bad.end()]!r} is not a hex digit (digit {bad.end() + 1})"
        )
    if len(digits) & 1:
        raise ClientHelloError(f"bad hex: odd number of digits ({len(digits)})")
    if len(digits) > 2 * MAX_HELLO_BYTES:
        raise ClientHelloError(
            f"oversized: {len(digits) // 2} bytes, the limit is {MAX_HELLO_BYTES}"
        )
    return bytes.fromhex(digits)


def fingerprint_dict(data: bytes | bytearray | memoryview) -> dict[str, object]:
    """Every fingerprint of a ClientHello as a JSON-ready dict (`botwarden fingerprint`)."""
    hello = parse_client_hello(data)
    return {
        "ja3": hello.ja3,
        "ja3_hash": hello.ja3_hash,
        "ja3n": hello.ja3n,
        "ja3n_hash": hello.ja3n_hash,
        "ja4": hello.ja4,
        "ja4_o": hello.ja4_o,
        "ja4_r": hello.ja4_r,
        "ja4_ro": hello.ja4_ro,
        "tls_version": f"0x{hello.tls_version:04x}",
        "sni": hello.sni,
        "alpn": list(hello.alpn),
    }
