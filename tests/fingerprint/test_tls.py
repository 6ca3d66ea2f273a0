"""ClientHello parsing, JA3/JA3N/JA4 against published vectors, oracles and real captures."""

from __future__ import annotations

import dataclasses
import hashlib
import random

import pytest
from ja4plus.fingerprinters.ja4 import generate_ja4, get_raw_fingerprint
from ja4plus.utils.tls_utils import parse_tls_handshake
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from botwarden.errors import ClientHelloError, InputError
from botwarden.fingerprint.tls import (
    MAX_HELLO_BYTES,
    ClientHello,
    fingerprint_dict,
    is_grease,
    missing_bytes,
    parse_client_hello,
    parse_hex,
)
from botwarden.testing.tls_capture import client_of
from tests.fingerprint.hellos import (
    FIXTURES,
    GREASE,
    alpn_ext,
    groups_ext,
    handshake,
    join_extensions,
    message_of,
    points_ext,
    records,
    sigalgs_ext,
    sni_ext,
    split_extensions,
    versions_ext,
)

FIXTURE_NAMES = sorted(FIXTURES)


def oracle(data: bytes) -> dict[str, str | None]:
    """ja4plus (FoxIO-derived reference) on the same bytes, as a TLS record."""
    info = parse_tls_handshake(data if data[0] == 0x16 else records(data))
    return {
        "ja4": generate_ja4(info),
        "ja4_o": generate_ja4(info, original_order=True),
        "ja4_r": get_raw_fingerprint(info),
        "ja4_ro": get_raw_fingerprint(info, original_order=True),
    }


def scapy_ja3(data: bytes) -> tuple[str, str | None, list[str]]:
    """(JA3 string, SNI, ALPN) from scapy's independent TLS dissector."""
    hello = TLS(data).msg[0]  # type: ignore[no-untyped-call]
    assert isinstance(hello, TLSClientHello)
    exts = hello.ext or []
    grease = set(GREASE)

    def field(ext_type: int, attr: str) -> list[int]:
        return next((list(getattr(e, attr)) for e in exts if e.type == ext_type), [])

    ja3 = ",".join(
        [
            str(hello.version),
            "-".join(str(c) for c in hello.ciphers if c not in grease),
            "-".join(str(e.type) for e in exts if e.type not in grease),
            "-".join(str(g) for g in field(10, "groups") if g not in grease),
            "-".join(str(p) for p in field(11, "ecpl")),
        ]
    )
    sni = next((e.servernames[0].servername.decode() for e in exts if e.type == 0), None)
    alpn = next(([p.protocol.decode() for p in e.protocols] for e in exts if e.type == 16), [])
    return ja3, sni, alpn


# -- published vectors ------------------------------------------------------------------------


def test_ja3_salesforce_readme_vectors() -> None:
    # github.com/salesforce/ja3 README: the two worked examples.
    full = parse_client_hello(
        records(
            handshake(
                769,
                [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
                [sni_ext("example.com"), groups_ext(23, 24, 25), points_ext(0)],
            )
        )
    )
    assert full.ja3 == "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
    assert full.ja3_hash == "ada70206e40642a3e4461f35503241d5"
    bare = parse_client_hello(
        records(handshake(769, [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99], extensions=None))
    )
    assert bare.ja3 == "769,4-5-10-9-100-98-3-6-19-18-99,,,"
    assert bare.ja3_hash == "de350869b8c85de67a350c8d186f11e6"


FOXIO_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]  # fmt: skip
FOXIO_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _with_bodies(order: list[int], known: dict[int, bytes]) -> list[tuple[int, bytes]]:
    return [(t, known.get(t, b"")) for t in order]


def test_ja4_foxio_readme_vector() -> None:
    # FoxIO's JA4 example (technical_details/JA4.md) with its JA4_o/_r/_ro outputs: the hello
    # is rebuilt from JA4_ro's wire order.
    known = dict([sni_ext("example.com"), sigalgs_ext(*FOXIO_SIGALGS), alpn_ext("h2", "http/1.1"),
                  versions_ext(0x0304, 0x0303), groups_ext(0x001D), points_ext(0)])  # fmt: skip
    order = [0x0000, 0x0033, 0x000D, 0x0023, 0x000B, 0xFF01, 0x000A, 0x001B, 0x4469, 0x0012,
             0x002D, 0x0010, 0x0005, 0x002B, 0x0017, 0x0015]  # fmt: skip
    hello = parse_client_hello(
        records(handshake(0x0303, FOXIO_CIPHERS, _with_bodies(order, known)))
    )
    assert hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert hello.ja4_o == "t13d1516h2_acb858a92679_5276cb03a33b"
    assert hello.ja4_r == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert hello.ja4_ro == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_"
        "0000,0033,000d,0023,000b,ff01,000a,001b,4469,0012,002d,0010,0005,002b,0017,0015_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )


def test_browserleaks_chrome_vector_with_grease() -> None:
    # tls.browserleaks.com's report for Chrome 143 (Android): JA3, JA3N and JA4 of one hello.
    # GREASE is added back in every list, as Chrome sends it, to check that all of it goes.
    known = dict([sni_ext("tls.browserleaks.com"), sigalgs_ext(*FOXIO_SIGALGS),
                  alpn_ext("h2", "http/1.1"), versions_ext(0x7A7A, 0x0304, 0x0303),
                  groups_ext(0x2A2A, 4588, 29, 23, 24), points_ext(0)])  # fmt: skip
    order = [0x3A3A, 45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27, 0x4A4A]
    hello = parse_client_hello(
        records(handshake(771, [0x1A1A, *FOXIO_CIPHERS], _with_bodies(order, known)))
    )
    assert hello.ja3 == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
    )
    assert hello.ja3_hash == "98487aa16281980e7d1120d399efb6a4"
    assert hello.ja3n == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "0-5-10-11-13-16-18-23-27-35-43-45-51-17613-65037-65281,4588-29-23-24,0"
    )
    assert hello.ja3n_hash == "8e19337e7524d2573be54efb2b0784c9"
    assert hello.ja4 == "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    assert hello.ja4_o == "t13d1516h2_acb858a92679_f96a17c57971"
    # Raw fields keep GREASE, in wire order.
    assert hello.ciphers[0] == 0x1A1A
    assert hello.extensions[0] == 0x3A3A
    assert hello.extensions[-1] == 0x4A4A
    assert hello.supported_groups == (0x2A2A, 4588, 29, 23, 24)
    assert hello.supported_versions == (0x7A7A, 0x0304, 0x0303)
    assert hello.tls_version == 0x0304


def test_grease_values() -> None:
    assert [v for v in range(0x10000) if is_grease(v)] == list(GREASE)


# -- real captures ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_capture_matches_oracles(name: str) -> None:
    data = FIXTURES[name]
    hello = parse_client_hello(data)
    assert {
        "ja4": hello.ja4,
        "ja4_o": hello.ja4_o,
        "ja4_r": hello.ja4_r,
        "ja4_ro": hello.ja4_ro,
    } == oracle(data)
    ja3, sni, alpn = scapy_ja3(data)
    assert hello.ja3 == ja3
    assert hello.ja3_hash == hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest()
    assert hello.sni == sni
    assert list(hello.alpn) == alpn


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_capture_sni_and_alpn(name: str) -> None:
    client = client_of(name)
    hello = parse_client_hello(FIXTURES[name])
    with_sni = not name.endswith("_ip")
    assert hello.sni == ("localhost" if with_sni else None)
    assert hello.ja4[3] == ("d" if with_sni else "i")
    assert hello.alpn == client.alpn
    assert hello.record_version is not None


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_bare_handshake_message_parses_the_same(name: str) -> None:
    data = FIXTURES[name]
    from_record = parse_client_hello(data)
    bare = parse_client_hello(message_of(data))
    assert bare.record_version is None
    assert bare == dataclasses.replace(from_record, record_version=None)
    assert (bare.ja3, bare.ja4, bare.ja4_o) == (from_record.ja3, from_record.ja4, from_record.ja4_o)


def test_dataclass_equality_ignores_the_cache() -> None:
    data = FIXTURES["chromium"]
    a, b = parse_client_hello(data), parse_client_hello(data)
    _ = a.ja4
    assert a == b
    assert hash(a) == hash(b)


def test_ja3n_is_stable_under_extension_permutation() -> None:
    # Chrome shuffles its extensions on every connection: JA3 changes, JA3N and JA4 do not.
    head, exts = split_extensions(message_of(FIXTURES["chromium"]))
    base = parse_client_hello(join_extensions(head, exts))
    rng = random.Random(7)
    ja3s = set()
    for _ in range(20):
        rng.shuffle(exts)
        hello = parse_client_hello(join_extensions(head, exts))
        ja3s.add(hello.ja3)
        assert (hello.ja3n, hello.ja3n_hash, hello.ja4) == (base.ja3n, base.ja3n_hash, base.ja4)
    assert len(ja3s) > 1


def test_chromium_fields() -> None:
    hello = parse_client_hello(FIXTURES["chromium"])
    assert hello.legacy_version == 0x0303
    assert hello.tls_version == 0x0304
    assert any(is_grease(c) for c in hello.ciphers)  # real Chrome GREASEs
    assert 0x11EC in hello.supported_groups  # X25519MLKEM768
    assert hello.ec_point_formats == (0,)
    assert hello.ja4.startswith("t13d15")


# -- records, sizes and errors ----------------------------------------------------------------


@pytest.mark.parametrize("cuts", [(1,), (2,), (4,), (100,), (3, 7, 300), (500, 1000, 1500)])
def test_hello_split_across_records(cuts: tuple[int, ...]) -> None:
    message = message_of(FIXTURES["chromium"])
    whole = parse_client_hello(records(message))
    split = records(message, cuts=cuts)
    assert parse_client_hello(split) == whole
    assert missing_bytes(split) == 0
    for n in range(len(split)):
        assert missing_bytes(split[:n]) > 0


def test_change_cipher_spec_before_hello_and_trailing_records_are_accepted() -> None:
    data = FIXTURES["curl"]
    ccs = b"\x14\x03\x03\x00\x01\x01"
    after = b"\x17\x03\x03\x00\x02ok"
    assert parse_client_hello(ccs + data) == parse_client_hello(data)
    assert parse_client_hello(data + after) == parse_client_hello(data)
    assert missing_bytes(ccs + data) == 0


@pytest.mark.parametrize("name", ["chromium", "curl", "java"])
def test_missing_bytes_counts_down_to_the_full_hello(name: str) -> None:
    data = FIXTURES[name]
    assert missing_bytes(data) == 0
    assert missing_bytes(data + b"\x17\x03\x03") == 0
    for n in range(len(data)):
        need = missing_bytes(data[:n])
        assert 0 < need <= len(data) - n
    assert missing_bytes(message_of(data)) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not TLS: plain-text request"),
        (b"\x80\x2e\x01\x03\x01", "SSL 2.0"),
        (b"\x15\x03\x03\x00\x02\x02\x28", "alert"),
        (b"\x42" * 50, "first byte 0x42"),
        (b"\x16\x03\x03\x00\x04\x02\x00\x00\x00", "not a ClientHello: handshake type 2"),
        (b"\x16\x02\x00\x00\x04\x01\x00\x00\x00", "not TLS: record version 0x0200"),
        (b"\x16\x03\x01\x00", "truncated: record header needs 5 bytes, 4 left"),
        (b"\x16\x03\x01\x00\x10\x01\x00", "truncated: TLS record needs 16 bytes, 2 left"),
        (b"\x16\x03\x01\x00\x00", "empty handshake record"),
        (b"\x16\x03\x01\x50\x00", "record length 20480 exceeds the TLS limit"),
        (b"\x17\x03\x03\x00\x01\x00", "first byte 0x17"),
        (b"\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x01\x00", "record type 0x17"),
        (b"\x01\x00\x00\x02\x03\x03", "truncated: version, random and session id length"),
        (b"\x01\x00\x00\x30" + b"\x03\x03", "truncated: ClientHello body needs 48 bytes, 2 left"),
    ],
)
def test_errors_name_the_fault(data: bytes, message: str) -> None:
    with pytest.raises(ClientHelloError, match=message.replace("(", r"\(")):
        parse_client_hello(data)


def _body_error(message: bytes) -> str:
    with pytest.raises(ClientHelloError) as info:
        parse_client_hello(message)
    return str(info.value)


def test_body_errors() -> None:
    good = handshake(0x0303, [0x1301, 0x1302], [sni_ext("a.example"), alpn_ext("h2")])
    assert parse_client_hello(good).sni == "a.example"
    # cipher suites: 4 bytes declared, only part of them there.
    assert _body_error(good[: 4 + 34 + 1 + 4]) == (
        f"truncated: ClientHello body needs {len(good) - 4} bytes, {34 + 1 + 4} left"
    )
    msg = handshake(0x0303, [0x1301] * 17, None)
    cut = msg[: 4 + 34 + 1 + 2 + 12]
    cut = b"\x01" + (len(cut) - 4).to_bytes(3, "big") + cut[4:]
    assert _body_error(cut) == "truncated: cipher suites need 34 bytes, 12 left"
    odd = bytearray(handshake(0x0303, [0x1301], None))
    odd[4 + 34 + 1 + 1] = 3
    assert _body_error(bytes(odd)) == "cipher suites length 3 is odd"
    assert _body_error(handshake(0x0303, [1], session_id=b"x" * 33)) == (
        "session id length 33 exceeds 32"
    )
    assert "no compression methods" in _body_error(handshake(0x0303, [1], compression=b""))
    trailing = good + b"\x00\x00"
    trailing = b"\x01" + (len(trailing) - 4).to_bytes(3, "big") + trailing[4:]
    assert _body_error(trailing) == "trailing data: 2 bytes after the extensions in the ClientHello"
    bad_alpn = handshake(0x0303, [1], [(0x0010, b"\x00\x03\x05h2")])
    assert _body_error(bad_alpn) == "malformed ALPN extension: protocol name overruns the list"
    bad_groups = handshake(0x0303, [1], [(0x000A, b"\x00\x03\x00\x1d\x00")])
    assert _body_error(bad_groups).startswith("malformed supported_groups extension")
    bad_sni = handshake(0x0303, [1], [(0x0000, b"\x00\x05\x00\x00\x09ab")])
    assert _body_error(bad_sni).startswith("malformed server_name extension")
    bad_versions = handshake(0x0303, [1], [(0x002B, b"\x03\x03\x04\x03")])
    assert _body_error(bad_versions).startswith("malformed supported_versions extension")


def test_oversized_input_is_refused() -> None:
    data = FIXTURES["curl"]
    with pytest.raises(ClientHelloError, match=r"oversized: 65537 bytes, the limit is 65536"):
        parse_client_hello(data + b"\x00" * (MAX_HELLO_BYTES + 1 - len(data)))
    # A hello split over records that declares more than the limit is refused up front.
    huge = b"\x01" + (MAX_HELLO_BYTES).to_bytes(3, "big") + b"\x03\x03"
    with pytest.raises(ClientHelloError, match="oversized: ClientHello declares 65536 bytes"):
        parse_client_hello(records(huge, cuts=(2,)))
    with pytest.raises(ClientHelloError, match="oversized"):
        missing_bytes(records(huge, cuts=(2,)))
    with pytest.raises(ClientHelloError, match="oversized"):
        missing_bytes(huge)


def test_errors_are_input_errors_and_other_types_refused() -> None:
    assert issubclass(ClientHelloError, InputError)
    with pytest.raises(ClientHelloError, match="expected bytes, got str"):
        parse_client_hello("16030100")  # type: ignore[arg-type]
    assert parse_client_hello(bytearray(FIXTURES["curl"])) == parse_client_hello(FIXTURES["curl"])
    assert parse_client_hello(memoryview(FIXTURES["curl"])) == parse_client_hello(FIXTURES["curl"])


# -- edge cases of the fingerprints, against the oracle --------------------------------------


@pytest.mark.parametrize(
    "extensions",
    [
        None,  # no extensions block at all (TLS 1.0-era)
        [],  # an empty extensions block
        [sni_ext("x.example")],  # only SNI: zero extension hash
        [sni_ext("x.example"), alpn_ext("h2")],
        [alpn_ext(b"")],  # empty first ALPN value
        [alpn_ext("\x01h2")],  # control byte → 99
        [alpn_ext(b"\xba\xad")],  # non-ASCII → 99
        [alpn_ext("x")],  # one byte → written twice
        [alpn_ext()],  # empty list
        [(0x0000, b"")],  # empty server_name: still "d"
        [sigalgs_ext(0x0A0A, 0x0403), (0x0017, b"")],
        [versions_ext(0x0A0A)],  # only GREASE offered: legacy version decides
        [versions_ext(0x7F1C)],  # unknown version → 00
    ],
)
def test_edge_cases_match_oracle(extensions: list[tuple[int, bytes]] | None) -> None:
    data = records(handshake(0x0301, [0x002F, 0x0A0A], extensions))
    hello = parse_client_hello(data)
    assert {"ja4": hello.ja4, "ja4_o": hello.ja4_o, "ja4_r": hello.ja4_r,
            "ja4_ro": hello.ja4_ro} == oracle(data)  # fmt: skip


def test_no_ciphers_zero_hash() -> None:
    hello = parse_client_hello(handshake(0x0303, [], [groups_ext(29)]))
    assert hello.ja4 == oracle(handshake(0x0303, [], [groups_ext(29)]))["ja4"]
    assert hello.ja4.split("_")[1] == "000000000000"
    assert hello.ja3 == "771,,10,29,"


# -- hex input and the CLI dict ---------------------------------------------------------------


def test_parse_hex_forms() -> None:
    assert parse_hex("16 03 01") == b"\x16\x03\x01"
    assert parse_hex("16:03:01\n") == b"\x16\x03\x01"
    assert parse_hex("0x160301") == b"\x16\x03\x01"
    assert parse_hex("0x16, 0x03, 0x01") == b"\x16\x03\x01"
    assert parse_hex("  0X16 03\t01  ") == b"\x16\x03\x01"
    assert parse_hex(FIXTURES["curl"].hex().upper()) == FIXTURES["curl"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty hex input"),
        ("  \n", "empty hex input"),
        ("16 03 0", "odd number of digits"),
        ("16 03 zz", "'z' is not a hex digit"),
        ("16-03", "'-' is not a hex digit"),
        ("00" * (MAX_HELLO_BYTES + 1), "oversized"),
    ],
)
def test_parse_hex_errors(text: str, message: str) -> None:
    with pytest.raises(ClientHelloError, match=message):
        parse_hex(text)


def test_fingerprint_dict() -> None:
    doc = fingerprint_dict(FIXTURES["curl_cffi_chrome"])
    hello = parse_client_hello(FIXTURES["curl_cffi_chrome"])
    assert doc["ja3"] == hello.ja3
    assert doc["ja3_hash"] == hello.ja3_hash
    assert doc["ja3n"] == hello.ja3n
    assert doc["ja4"] == hello.ja4
    assert doc["sni"] == "localhost"
    assert doc["alpn"] == ["h2", "http/1.1"]
    assert doc["tls_version"] == "0x0304"
    assert set(doc) >= {"ja3", "ja3_hash", "ja3n", "ja3n_hash", "ja4", "ja4_o", "sni", "alpn"}


def test_clienthello_is_frozen() -> None:
    hello = parse_client_hello(FIXTURES["curl"])
    assert isinstance(hello, ClientHello)
    with pytest.raises(AttributeError):
        hello.sni = "other"  # type: ignore[misc]
