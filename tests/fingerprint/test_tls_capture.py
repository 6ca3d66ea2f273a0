"""Live ClientHello captures from real clients (botwarden.testing.tls_capture).

Every client on this machine is run against a loopback TLS server, by name (SNI) and by
address (no SNI); its hello must fingerprint as the oracles say, and the JA4 table must name
its family. `BOTWARDEN_RECAPTURE=1` rewrites tests/fingerprint/captures and the JA4 table.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

import pytest

from botwarden import data
from botwarden.errors import ClientHelloError
from botwarden.fingerprint import ja4db
from botwarden.fingerprint.tls import parse_client_hello
from botwarden.testing.tls_capture import (
    CHROMIUM,
    CLIENTS,
    ClientUnavailable,
    HelloServer,
    capture,
    client_of,
    peek_client_hello,
    read_fixtures,
    write_fixtures,
    write_ja4_table,
)
from tests.conftest import IN_CI
from tests.fingerprint.hellos import CAPTURES, FIXTURES, message_of, records
from tests.fingerprint.test_tls import oracle, scapy_ja3

if TYPE_CHECKING:
    from collections.abc import Iterator

RECAPTURE = os.environ.get("BOTWARDEN_RECAPTURE") == "1"
# Installed by the Makefile in CI, so their captures must run there.
MANDATORY_IN_CI = {"chromium", "curl"}


# -- the peek helper the edge reuses ----------------------------------------------------------


def _dribble(sock: socket.socket, data: bytes, chunk: int) -> None:
    with contextlib.suppress(OSError):  # the reader may give up first; it reports that
        for i in range(0, len(data), chunk):
            sock.sendall(data[i : i + chunk])
            time.sleep(0.0005)


@contextlib.contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(server side, client side) of a loopback TCP connection, as the edge sees one."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server, _ = listener.accept()
    with server, client:
        yield server, client


@pytest.mark.parametrize("chunk", [1, 7, 300, 100_000])
def test_peek_reads_a_hello_split_over_segments_and_records(chunk: int) -> None:
    hello = records(message_of(FIXTURES["chromium"]), cuts=(3, 900))
    with tcp_pair() as (server, client):
        sender = threading.Thread(target=_dribble, args=(client, hello + b"\x17\x03", chunk))
        sender.start()
        peeked = peek_client_hello(server, timeout=20)
        sender.join()
        assert peeked[: len(hello)] == hello
        assert parse_client_hello(peeked).ja4 == parse_client_hello(FIXTURES["chromium"]).ja4
        # MSG_PEEK left every byte queued for the TLS library.
        server.settimeout(5)
        queued = b""
        while len(queued) < len(hello):
            queued += server.recv(65536)
        assert queued.startswith(hello)


def test_peek_errors() -> None:
    with tcp_pair() as (server, client):
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(ClientHelloError, match="plain-text request"):
            peek_client_hello(server, timeout=5)
    with tcp_pair() as (server, client):
        client.sendall(FIXTURES["curl"][:100])
        with pytest.raises(TimeoutError):
            peek_client_hello(server, timeout=0.3)
        client.close()
        with pytest.raises(ConnectionError):
            peek_client_hello(server, timeout=5)


def test_hello_server_records_and_answers() -> None:
    with HelloServer() as server:
        context = ssl.create_default_context(cafile=server.ca_file)
        with urllib.request.urlopen(server.url, context=context, timeout=20) as response:
            assert response.read() == b"ok\n"
        hello = parse_client_hello(server.wait_hello(timeout=5))
    assert hello.sni == "localhost"


# -- live captures ----------------------------------------------------------------------------


def _capture_or_skip(name: str, *, sni: bool) -> bytes:
    if name == "chromium" and not os.path.exists(CHROMIUM) and not IN_CI:
        pytest.skip(f"{CHROMIUM} not installed (needed for the real-browser capture)")
    try:
        return capture(name, sni=sni)
    except ClientUnavailable as exc:
        if IN_CI and name in MANDATORY_IN_CI:
            pytest.fail(f"{name} is required in CI: {exc}")
        pytest.skip(f"{name}: {exc}")


@pytest.mark.service
@pytest.mark.skipif(RECAPTURE, reason="recapturing: test_recapture checks the new captures")
@pytest.mark.parametrize("sni", [True, False], ids=["sni", "ip"])
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_live_capture(name: str, sni: bool) -> None:
    client = CLIENTS[name]
    raw = _capture_or_skip(name, sni=sni)
    hello = parse_client_hello(raw)

    assert {"ja4": hello.ja4, "ja4_o": hello.ja4_o, "ja4_r": hello.ja4_r,
            "ja4_ro": hello.ja4_ro} == oracle(raw)  # fmt: skip
    ja3, scapy_sni, scapy_alpn = scapy_ja3(raw)
    assert hello.ja3 == ja3
    assert hello.sni == scapy_sni == ("localhost" if sni else None)
    assert list(hello.alpn) == scapy_alpn == list(client.alpn)
    # The packaged table stays true: this client's JA4 today is listed under its family.
    assert ja4db.family_of(hello.ja4) == (client.family, client.kind), (
        f"{name} now fingerprints as {hello.ja4}, not in the table under {client.family}; "
        "recapture: BOTWARDEN_RECAPTURE=1 .venv/bin/python -m pytest "
        "tests/fingerprint/test_tls_capture.py -k recapture"
    )


@pytest.mark.service
@pytest.mark.skipif(not RECAPTURE, reason="set BOTWARDEN_RECAPTURE=1 to rewrite the captures")
def test_recapture() -> None:
    written = write_fixtures(CAPTURES)
    assert written, "no client could run"
    write_ja4_table(CAPTURES, data.path(ja4db.TABLE))
    ja4db._load.cache_clear()
    fresh = read_fixtures(CAPTURES)
    for fixture in written:
        hello = parse_client_hello(fresh[fixture])
        assert hello.ja4 == oracle(fresh[fixture])["ja4"]
        client = client_of(fixture)
        assert ja4db.family_of(hello.ja4) == (client.family, client.kind)
