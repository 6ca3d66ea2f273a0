"""Property tests: the parser either returns a ClientHello or raises ClientHelloError, and on
well-formed random hellos it agrees with the ja4plus oracle and with the parts it was built from.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ja4plus.fingerprinters.ja4 import generate_ja4
from ja4plus.utils.tls_utils import parse_tls_handshake

from botwarden.errors import ClientHelloError
from botwarden.fingerprint.tls import MAX_HELLO_BYTES, missing_bytes, parse_client_hello
from tests.fingerprint.hellos import (
    FIXTURES,
    GREASE,
    Extension,
    alpn_ext,
    groups_ext,
    handshake,
    message_of,
    points_ext,
    records,
    sigalgs_ext,
    sni_ext,
    versions_ext,
)

FIXTURE_NAMES = sorted(FIXTURES)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_refuse(data: bytes) -> None:
    """The property: success, or ClientHelloError with a message; anything else fails."""
    try:
        hello = parse_client_hello(data)
    except ClientHelloError as exc:
        message = str(exc)
    else:
        # A parse that succeeds must also fingerprint without error.
        fingerprints = [hello.ja3_hash, hello.ja3n_hash, hello.ja4, hello.ja4_o, hello.ja4_ro]
        assert all(fingerprints)
        return
    assert message


def needed_or_refuse(data: bytes) -> None:
    try:
        need = missing_bytes(data)
    except ClientHelloError as exc:
        message = str(exc)
    else:
        assert need >= 0
        return
    assert message


@PROPERTY
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x16")
@example(b"\x01\xff\xff\xff")
def test_random_bytes(data: bytes) -> None:
    parse_or_refuse(data)
    needed_or_refuse(data)


@PROPERTY
@given(
    st.sampled_from([0x14, 0x16, 0x16, 0x16]),
    st.integers(0, 0xFFFF),
    st.binary(max_size=2048),
)
def test_random_record_bodies(ctype: int, version: int, body: bytes) -> None:
    # A plausible record header in front of random bytes reaches the deeper parsing code.
    data = bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    parse_or_refuse(data)
    parse_or_refuse(b"\x01" + len(body).to_bytes(3, "big") + body)
    needed_or_refuse(data)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_truncation_of_real_hellos_is_refused(name: str) -> None:
    data = FIXTURES[name]
    message = message_of(data)
    for n in range(len(data)):
        with pytest.raises(ClientHelloError, match="truncated"):
            parse_client_hello(data[:n] if n else b"\x16")
        assert missing_bytes(data[:n]) > 0
    for n in range(1, len(message)):
        with pytest.raises(ClientHelloError):
            parse_client_hello(message[:n])


@PROPERTY
@given(st.sampled_from(FIXTURE_NAMES), st.data())
def test_mutated_real_hellos(name: str, data: st.DataObject) -> None:
    # Overwrite one or two bytes (length fields included) anywhere in a real hello.
    raw = bytearray(FIXTURES[name])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        width = data.draw(st.integers(1, 2))
        raw[pos : pos + width] = data.draw(st.binary(min_size=width, max_size=width))
    parse_or_refuse(bytes(raw))
    needed_or_refuse(bytes(raw))


def test_oversized_input_is_refused_before_parsing() -> None:
    data = FIXTURES["chromium"]
    padded = data + b"\x00" * (MAX_HELLO_BYTES - len(data))
    assert parse_client_hello(padded).ja4 == parse_client_hello(data).ja4  # exactly the cap: ok
    with pytest.raises(ClientHelloError, match="oversized"):
        parse_client_hello(padded + b"\x00")


# -- differential: structured random hellos -------------------------------------------------

u16 = st.integers(0, 0xFFFF)
maybe_grease = st.one_of(u16, st.sampled_from(GREASE))
hostnames = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,40}[a-z0-9])?", fullmatch=True)
alpn_values = st.one_of(
    st.sampled_from([b"h2", b"http/1.1", b"h3", b"", b"x"]), st.binary(min_size=0, max_size=12)
)
KNOWN_TYPES = {0x0000, 0x000A, 0x000B, 0x000D, 0x0010, 0x002B}


@st.composite
def extension_lists(draw: st.DrawFn) -> list[Extension]:
    exts: list[Extension] = []
    if draw(st.booleans()):
        exts.append(sni_ext(draw(hostnames)))
    if draw(st.booleans()):
        exts.append(groups_ext(*draw(st.lists(maybe_grease, max_size=12))))
    if draw(st.booleans()):
        exts.append(points_ext(*draw(st.lists(st.integers(0, 255), max_size=4))))
    if draw(st.booleans()):
        exts.append(sigalgs_ext(*draw(st.lists(maybe_grease, max_size=20))))
    if draw(st.booleans()):
        exts.append(alpn_ext(*draw(st.lists(alpn_values, max_size=4))))
    if draw(st.booleans()):
        exts.append(versions_ext(*draw(st.lists(maybe_grease, max_size=6))))
    others = draw(
        st.lists(
            st.tuples(maybe_grease.filter(lambda t: t not in KNOWN_TYPES), st.binary(max_size=8)),
            max_size=25,
            unique_by=lambda e: e[0],
        )
    )
    exts.extend(others)
    return draw(st.permutations(exts))


def reference_ja3(version: int, ciphers: list[int], exts: list[Extension]) -> tuple[str, str]:
    """JA3 and JA3N straight from the parts the hello was built from."""

    def dec(values: list[int]) -> str:
        return "-".join(str(v) for v in values if v not in GREASE)

    types = [t for t, _ in exts]
    body = dict(exts)
    raw_groups = body.get(0x000A, b"")
    groups = [int.from_bytes(raw_groups[i : i + 2], "big") for i in range(2, len(raw_groups), 2)]
    points = list(body[0x000B][1:]) if 0x000B in body else []
    head = f"{version},{dec(ciphers)},"
    tail = f",{dec(groups)},{dec(points)}"
    kept = [t for t in types if t not in GREASE]
    return head + dec(kept) + tail, head + dec(sorted(kept)) + tail


@PROPERTY
@given(
    version=st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7F00]),
    ciphers=st.lists(maybe_grease, max_size=120),
    exts=extension_lists(),
    session_id=st.binary(max_size=32),
    cuts=st.lists(st.integers(1, 400), max_size=3, unique=True),
)
def test_structured_hellos_agree_with_oracle(
    version: int, ciphers: list[int], exts: list[Extension], session_id: bytes, cuts: list[int]
) -> None:
    message = handshake(version, ciphers, exts, session_id=session_id)
    data = records(message)
    hello = parse_client_hello(data)

    assert hello.legacy_version == version
    assert hello.ciphers == tuple(ciphers)
    assert hello.extensions == tuple(t for t, _ in exts)
    info = parse_tls_handshake(data)
    assert hello.ja4 == generate_ja4(info)
    assert hello.ja4_o == generate_ja4(info, original_order=True)
    ja3, ja3n = reference_ja3(version, ciphers, exts)
    assert hello.ja3 == ja3
    assert hello.ja3n == ja3n
    assert hello.ja3_hash == hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest()
    # Any split over records, and the bare message, give the same hello.
    split = records(message, cuts=sorted(c for c in cuts if c < len(message)))
    assert parse_client_hello(split) == hello
    assert parse_client_hello(message).ja4 == hello.ja4
    assert missing_bytes(split) == 0
