"""Build ClientHello bytes from parts, independently of the parser under test."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from botwarden.testing.tls_capture import read_fixtures

if TYPE_CHECKING:
    from collections.abc import Sequence

CAPTURES = Path(__file__).parent / "captures"
FIXTURES: dict[str, bytes] = read_fixtures(CAPTURES)
GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))

Extension = tuple[int, bytes]


def u16s(values: Sequence[int]) -> bytes:
    return struct.pack(f">{len(values)}H", *values)


def sni_ext(host: str | bytes) -> Extension:
    name = host.encode() if isinstance(host, str) else host
    entry = b"\x00" + struct.pack(">H", len(name)) + name
    return 0x0000, struct.pack(">H", len(entry)) + entry


def groups_ext(*groups: int) -> Extension:
    return 0x000A, struct.pack(">H", 2 * len(groups)) + u16s(groups)


def points_ext(*formats: int) -> Extension:
    return 0x000B, bytes([len(formats), *formats])


def sigalgs_ext(*algs: int) -> Extension:
    return 0x000D, struct.pack(">H", 2 * len(algs)) + u16s(algs)


def alpn_ext(*protocols: str | bytes) -> Extension:
    raw = [p.encode() if isinstance(p, str) else p for p in protocols]
    body = b"".join(bytes([len(p)]) + p for p in raw)
    return 0x0010, struct.pack(">H", len(body)) + body


def versions_ext(*versions: int) -> Extension:
    return 0x002B, bytes([2 * len(versions)]) + u16s(versions)


def handshake(
    version: int,
    ciphers: Sequence[int],
    extensions: Sequence[Extension] | None = (),
    *,
    session_id: bytes = b"",
    compression: bytes = b"\x00",
) -> bytes:
    """A bare ClientHello handshake message; `extensions=None` omits the extensions block."""
    body = struct.pack(">H", version) + bytes(range(32))
    body += bytes([len(session_id)]) + session_id
    body += struct.pack(">H", 2 * len(ciphers)) + u16s(ciphers)
    body += bytes([len(compression)]) + compression
    if extensions is not None:
        block = b"".join(struct.pack(">HH", t, len(d)) + d for t, d in extensions)
        body += struct.pack(">H", len(block)) + block
    return b"\x01" + len(body).to_bytes(3, "big") + body


def records(message: bytes, *, cuts: Sequence[int] = (), version: int = 0x0301) -> bytes:
    """`message` in handshake records, split at the offsets in `cuts`."""
    bounds = [0, *cuts, len(message)]
    out = b""
    for start, end in itertools.pairwise(bounds):
        fragment = message[start:end]
        out += b"\x16" + struct.pack(">HH", version, len(fragment)) + fragment
    return out


def message_of(record_bytes: bytes) -> bytes:
    """The handshake message inside one record (what a captured fixture holds)."""
    length = int.from_bytes(record_bytes[3:5], "big")
    return record_bytes[5 : 5 + length]


def split_extensions(message: bytes) -> tuple[bytes, list[Extension]]:
    """(everything up to the extensions block, the extensions) of a handshake message."""
    pos = 4 + 34
    pos += 1 + message[pos]
    pos += 2 + int.from_bytes(message[pos : pos + 2], "big")
    pos += 1 + message[pos]
    head = message[4:pos]
    end = pos + 2 + int.from_bytes(message[pos : pos + 2], "big")
    pos += 2
    exts = []
    while pos < end:
        etype, length = struct.unpack_from(">HH", message, pos)
        exts.append((etype, message[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return head, exts


def join_extensions(head: bytes, extensions: Sequence[Extension]) -> bytes:
    """Inverse of `split_extensions`."""
    block = b"".join(struct.pack(">HH", t, len(d)) + d for t, d in extensions)
    body = head + struct.pack(">H", len(block)) + block
    return b"\x01" + len(body).to_bytes(3, "big") + body
