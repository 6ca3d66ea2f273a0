"""Capture real TLS ClientHellos on loopback, for fingerprint tests and fixtures.

`HelloServer` listens on 127.0.0.1 with a trustme certificate for `localhost`, peeks each
connection's ClientHello with MSG_PEEK (as the edge listener does), then completes the
handshake and answers one small HTTP/1.1 response so that clients exit cleanly. `CLIENTS`
lists the real clients this machine can drive; `capture()` runs one and returns its hello.

Regenerate the fixtures in tests/fingerprint/captures and the JA4 table with
`BOTWARDEN_RECAPTURE=1 pytest tests/fingerprint/test_tls_capture.py -k recapture`
(or call `write_fixtures(dir)` and `write_ja4_table(dir, target)` directly).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botwarden.fingerprint.tls import missing_bytes

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

HOSTNAME = "localhost"
_REQUEST = f"GET / HTTP/1.1\r\nHost: {HOSTNAME}\r\nConnection: close\r\n\r\n".encode()
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)


def peek_client_hello(sock: socket.socket, *, timeout: float = 10.0) -> bytes:
    """The ClientHello at the head of a TCP socket, read with MSG_PEEK so it stays queued.

    Peeks until `missing_bytes` says the hello (which may span several segments and
    records) is whole; the socket can then be handed to a TLS library as if nothing had
    been read. Raises ClientHelloError when the peer sends something that is not a
    ClientHello, TimeoutError when it stalls, ConnectionError when it closes early.
    """
    deadline = time.monotonic() + timeout
    # SO_RCVLOWAT makes poll() wait until `want` bytes are queued (or the peer is gone), so
    # the loop neither spins nor sleeps; a peek shorter than `want` then means EOF. Only
    # TCP honours it in poll(); other sockets fall back to short sleeps.
    lowat = sock.family in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "SO_RCVLOWAT")
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    want, have = 5, 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if lowat:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, want)
            if remaining <= 0 or not poller.poll(max(remaining, 0.001) * 1000):
                raise TimeoutError(f"ClientHello incomplete after {timeout}s ({have} bytes)")
            data = sock.recv(want, socket.MSG_PEEK)
            more = missing_bytes(data)
            if more == 0:
                return data
            if not data or (lowat and len(data) < want):
                raise ConnectionError(f"peer closed after {len(data)} bytes of ClientHello")
            if len(data) == have:
                time.sleep(0.002)  # no SO_RCVLOWAT: nothing new queued yet, do not spin
            have = len(data)
            want = have + more
    finally:
        if lowat:
            # Leave the socket as it was for the TLS library that reads it next.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


class HelloServer:
    """A loopback TLS server that records the raw ClientHello of every connection.

    Use as a context manager; `url` is `https://localhost:<port>/` (clients send SNI), or
    `https://127.0.0.1:<port>/` with `sni=False` (clients send none for an IP address);
    `ca_file` is a PEM file of the CA that signed the server certificate.
    """

    def __init__(self, *, sni: bool = True, alpn: tuple[str, ...] = ("http/1.1",)) -> None:
        import trustme

        self.sni = sni
        self.host = HOSTNAME if sni else "127.0.0.1"

        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert(HOSTNAME, "127.0.0.1", "::1")
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(self._context)
        self._context.set_alpn_protocols(list(alpn))
        self._tmp = tempfile.TemporaryDirectory(prefix="botwarden-tls-")
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)
        self.hellos: queue.Queue[bytes] = queue.Queue()
        # (ClientHello, request head) for every connection that got as far as a request.
        self.requests: queue.Queue[tuple[bytes, bytes]] = queue.Queue()
        self.seen = threading.Event()  # set once the first ClientHello is recorded
        self.errors: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hello-server", daemon=True)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"

    def __enter__(self) -> HelloServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._listener.close()
        self._tmp.cleanup()

    def wait_hello(self, timeout: float = 30.0) -> bytes:
        """The first ClientHello not yet taken; raises TimeoutError if none arrives."""
        try:
            return self.hellos.get(timeout=timeout)
        except queue.Empty:
            detail = f" (server errors: {self.errors!r})" if self.errors else ""
            raise TimeoutError(f"no ClientHello within {timeout}s{detail}") from None

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=self._handle, args=(conn,), name="hello-conn", daemon=True
            ).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                hello = peek_client_hello(conn)
                self.hellos.put(hello)
                self.seen.set()
            except Exception as exc:  # recorded for wait_hello's message; never raised
                self.errors.append(exc)
                return
            # Politeness: finish the handshake and answer, so the client exits with success
            # instead of retrying or hanging. Failures here say nothing about the hello.
            with contextlib.suppress(OSError, ValueError):
                conn.settimeout(10)
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    request = b""
                    while b"\r\n\r\n" not in request and len(request) < 65536:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    self.requests.put((hello, request.partition(b"\r\n\r\n")[0]))
                    tls.sendall(_RESPONSE)
                    with contextlib.suppress(OSError, ValueError):
                        tls.unwrap()


# -- clients ----------------------------------------------------------------------------------


class ClientUnavailable(Exception):
    """The client cannot run on this machine (binary or module missing)."""


@dataclass(frozen=True, slots=True)
class Client:
    """A real TLS client that can be driven against a HelloServer."""

    name: str  # fixture file name: tests/fingerprint/captures/<name>.hex
    family: str  # client family in data/ja4_clients.json
    kind: str  # "browser" | "library" | "tool"
    source: str  # what was captured, for the JA4 table
    run: Callable[[HelloServer], None]
    alpn: tuple[str, ...]  # the ALPN list the client offers
    binary: str | None = None  # the executable it needs, if any


def _need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise ClientUnavailable(f"{binary} not installed")
    return found


def _run(argv: list[str], *, timeout: float = 60, stdin: bytes = b"") -> None:
    subprocess.run(
        argv,
        input=stdin,
        check=False,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_curl(server: HelloServer) -> None:
    curl = _need("curl")
    # --resolve: skip the ::1 attempt, the server listens on IPv4 only.
    _run([curl, "-sk", "--max-time", "20", "-o", "/dev/null", "--resolve",
          f"{HOSTNAME}:{server.port}:127.0.0.1", server.url])  # fmt: skip


def _run_wget(server: HelloServer) -> None:
    wget = _need("wget")
    _run([wget, "-q", "--no-check-certificate", "--tries=1", "--timeout=20", "-O", "/dev/null",
          server.url])  # fmt: skip


def _run_openssl(server: HelloServer) -> None:
    openssl = _need("openssl")
    sni = ["-servername", HOSTNAME] if server.sni else ["-noservername"]
    _run([openssl, "s_client", "-connect", f"127.0.0.1:{server.port}", *sni, "-quiet"],
         timeout=20, stdin=_REQUEST)  # fmt: skip


def _run_python(server: HelloServer) -> None:
    import urllib.request

    context = ssl.create_default_context(cafile=server.ca_file)
    with urllib.request.urlopen(server.url, context=context, timeout=20) as response:
        response.read()


def _run_httpx(server: HelloServer) -> None:
    try:
        import httpx
    except ImportError as exc:
        raise ClientUnavailable("httpx not installed") from exc
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca_file)) as client:
        client.get(server.url, timeout=20)


def _cffi(target: str) -> Callable[[HelloServer], None]:
    def run(server: HelloServer) -> None:
        try:
            from curl_cffi import requests as cffi_requests
        except ImportError as exc:
            raise ClientUnavailable("curl_cffi not installed") from exc
        cffi_requests.get(server.url, impersonate=target, verify=False, timeout=20)

    return run


def _run_node(server: HelloServer) -> None:
    node = _need("node")
    # Node sends no SNI for an IP host; name the server to get the SNI a user's DNS gives.
    sni = f'servername: "{HOSTNAME}",' if server.sni else ""
    script = textwrap.dedent(
        f"""
        const https = require("https");
        https.get({{host: "127.0.0.1", port: {server.port}, {sni}
                    path: "/", headers: {{Host: "{server.host}"}}, rejectUnauthorized: false}},
                  (res) => {{ res.resume(); res.on("end", () => process.exit(0)); }})
             .on("error", () => process.exit(0));
        """
    )
    _run([node, "-e", script], timeout=30)


_JAVA_SOURCE = """
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class Fetch {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = { new X509TrustManager() {
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
        } };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trustAll, null);
        HttpClient client = HttpClient.newBuilder().sslContext(ctx).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).build();
        client.send(request, HttpResponse.BodyHandlers.discarding());
    }
}
"""


def _run_java(server: HelloServer) -> None:
    java = _need("java")
    with tempfile.TemporaryDirectory(prefix="botwarden-java-") as tmp:
        source = Path(tmp) / "Fetch.java"
        source.write_text(_JAVA_SOURCE, encoding="utf-8")
        _run([java, "-Djdk.internal.httpclient.disableHostnameVerification=true", str(source),
              server.url], timeout=60)  # fmt: skip


CHROMIUM = "/usr/bin/chromium"


def _run_chromium(server: HelloServer) -> None:
    if not os.path.exists(CHROMIUM):
        raise ClientUnavailable(f"{CHROMIUM} not installed")
    with tempfile.TemporaryDirectory(prefix="botwarden-chromium-") as profile:
        argv = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--ignore-certificate-errors",
            f"--host-resolver-rules=MAP {HOSTNAME} 127.0.0.1", server.url,
        ]  # fmt: skip
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # Chromium never exits on its own with a URL argument; the hello is all we want.
            server.seen.wait(timeout=60)
        finally:
            # The wrapper script forks the real browser and its helpers into the new
            # session/process group we created; end that group only.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(timeout=10)


_H2 = ("h2", "http/1.1")
_H1 = ("http/1.1",)

CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client("curl", "curl", "tool", "system curl", _run_curl, _H2, "curl"),
        Client("wget", "wget", "tool", "system wget", _run_wget, (), "wget"),
        Client("openssl", "openssl", "tool", "openssl s_client", _run_openssl, (), "openssl"),
        Client("python", "python", "library", "Python urllib + ssl", _run_python, ()),
        Client("httpx", "python", "library", "httpx", _run_httpx, _H1),
        Client("curl_cffi_chrome", "chrome", "browser", "curl_cffi chrome", _cffi("chrome"), _H2),
        Client(
            "curl_cffi_firefox", "firefox", "browser", "curl_cffi firefox", _cffi("firefox"), _H2
        ),
        Client("curl_cffi_safari", "safari", "browser", "curl_cffi safari", _cffi("safari"), _H2),
        Client("node", "node", "library", "Node.js https", _run_node, (), "node"),
        Client("java", "java", "library", "Java HttpClient", _run_java, _H2, "java"),
        Client("chromium", "chrome", "browser", "Chromium headless", _run_chromium, _H2, CHROMIUM),
    )
}


def client_version(client: Client) -> str:
    """`<client> <version>` (e.g. `curl 7.88.1`), for the `source` of JA4 table entries."""
    from importlib import metadata

    if client.name.startswith("curl_cffi"):
        return f"curl_cffi {metadata.version('curl_cffi')}"
    if client.name == "httpx":
        return f"httpx {metadata.version('httpx')}"
    if client.name == "python":
        return f"python {sys.version.split()[0]}"
    if client.binary is None or shutil.which(client.binary) is None:
        return f"{client.name} (version unknown)"
    flag = {"openssl": "version", "java": "-version"}.get(client.name, "--version")
    out = subprocess.run(
        [client.binary, flag], capture_output=True, text=True, timeout=60, check=False
    )
    found = re.search(r"\d+(?:\.\d+)+", out.stdout or out.stderr)
    return f"{client.name} {found.group() if found else '(version unknown)'}"


def capture(client: Client | str, *, sni: bool = True, timeout: float = 60.0) -> bytes:
    """Run one client against a fresh HelloServer and return its first ClientHello.

    `sni=False` makes the client connect to 127.0.0.1 by address, so it sends no SNI.
    Raises ClientUnavailable when the client cannot run here.
    """
    if isinstance(client, str):
        client = CLIENTS[client]
    with HelloServer(sni=sni) as server:
        failure: list[BaseException] = []

        def drive() -> None:
            try:
                client.run(server)
            except BaseException as exc:  # reported below unless the hello still arrived
                failure.append(exc)

        runner = threading.Thread(target=drive, name=f"client-{client.name}", daemon=True)
        runner.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                hello = server.hellos.get(timeout=0.1)
                break
            except queue.Empty:
                unavailable = [e for e in failure if isinstance(e, ClientUnavailable)]
                if unavailable:
                    raise unavailable[0] from None
                if not runner.is_alive() and server.hellos.empty():
                    detail = failure[0] if failure else "exited without connecting"
                    raise RuntimeError(f"{client.name}: no ClientHello ({detail})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{client.name}: no ClientHello in {timeout}s") from None
        runner.join(timeout=timeout)
        return hello


# -- fixtures and the JA4 table ---------------------------------------------------------------

SOURCES_FILE = "sources.json"  # capture name -> client version, beside the .hex fixtures


def fixture_name(client: str, *, sni: bool) -> str:
    """`chromium` (sent SNI, connected by name) or `chromium_ip` (connected by address)."""
    return client if sni else f"{client}_ip"


def client_of(fixture: str) -> Client:
    """The Client a fixture name (as from `fixture_name`) was captured from."""
    return CLIENTS[fixture.removesuffix("_ip")]


def write_fixtures(directory: str | os.PathLike[str], names: list[str] | None = None) -> list[str]:
    """Capture each available client (or `names`) with and without SNI into `<fixture>.hex`.

    Also records each client's version in `sources.json`. Returns the fixture names
    written; clients that cannot run here are skipped and keep their old files.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    sources_path = out / SOURCES_FILE
    sources: dict[str, str] = (
        json.loads(sources_path.read_text(encoding="utf-8")) if sources_path.exists() else {}
    )
    written = []
    for name in names or list(CLIENTS):
        client = CLIENTS[name]
        try:
            hellos = {
                fixture_name(name, sni=sni): capture(client, sni=sni) for sni in (True, False)
            }
        except ClientUnavailable:
            continue
        for fixture, hello in hellos.items():
            (out / f"{fixture}.hex").write_text(hello.hex() + "\n", encoding="ascii")
            written.append(fixture)
        sources[name] = client_version(client)
    sources_path.write_text(json.dumps(sources, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written


def read_fixtures(directory: str | os.PathLike[str]) -> dict[str, bytes]:
    """Fixture name -> ClientHello bytes for every `<fixture>.hex` in `directory`."""
    from botwarden.fingerprint.tls import parse_hex

    return {
        path.stem: parse_hex(path.read_text(encoding="ascii"))
        for path in sorted(Path(directory).glob("*.hex"))
    }


# FoxIO's public mapping (shipped in ja4plus as data/ja4plus-mapping.csv, BSD-3-Clause):
# the rows kept, by Library first, then by Application, and the family each one names.
_FOXIO_FAMILIES = {
    "Chromium Browser": ("chrome", "browser"),
    "Mozilla Firefox": ("firefox", "browser"),
    "Safari": ("safari", "browser"),
    "Python": ("python", "library"),
    "GoLang": ("go", "library"),
}


def _foxio_family(application: str, library: str) -> tuple[str, str] | None:
    if library:
        return _FOXIO_FAMILIES.get(library.split()[0] if library.startswith("GoLang") else library)
    return _FOXIO_FAMILIES.get(application.strip())


def foxio_entries(mapping_csv: str | os.PathLike[str] | None = None) -> list[dict[str, str]]:
    """JA4 table entries from FoxIO's mapping for Chromium, Firefox, Safari, Python and Go.

    A JA4 that the mapping also gives to another client (e.g. one Go JA4 is also WinINET's)
    is left out: the table must only say what a fingerprint surely is.
    """
    import csv
    from importlib import metadata

    if mapping_csv is None:
        from importlib import resources

        mapping_csv = str(resources.files("ja4plus").joinpath("data/ja4plus-mapping.csv"))
    version = metadata.version("ja4plus")
    families: dict[str, set[tuple[str, str] | None]] = {}
    labels: dict[str, list[str]] = {}
    with open(mapping_csv, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            ja4 = (row.get("ja4") or "").strip()
            if not ja4:
                continue
            application = (row.get("Application") or "").strip()
            library = (row.get("Library") or "").strip()
            families.setdefault(ja4, set()).add(_foxio_family(application, library))
            label = " / ".join(x for x in (application, library) if x)
            if label not in labels.setdefault(ja4, []):
                labels[ja4].append(label)
    entries = []
    for ja4, found in families.items():
        only = next(iter(found))
        if len(found) != 1 or only is None:
            continue
        family, kind = only
        entries.append(
            {
                "ja4": ja4,
                "family": family,
                "kind": kind,
                "source": f"FoxIO ja4plus-mapping.csv (ja4plus {version}, BSD-3-Clause): "
                + ", ".join(labels[ja4]),
            }
        )
    return entries


def build_ja4_table(
    captures: str | os.PathLike[str], mapping_csv: str | os.PathLike[str] | None = None
) -> dict[str, object]:
    """The content of data/ja4_clients.json: captured fixtures first, then FoxIO's entries.

    One entry per JA4; sources that agree are joined. Raises ValueError when two sources
    give one JA4 to different families.
    """
    from botwarden.fingerprint.tls import parse_client_hello

    sources_path = Path(captures) / SOURCES_FILE
    versions: dict[str, str] = (
        json.loads(sources_path.read_text(encoding="utf-8")) if sources_path.exists() else {}
    )
    merged: dict[str, dict[str, str]] = {}

    def add(entry: dict[str, str]) -> None:
        known = merged.get(entry["ja4"])
        if known is None:
            merged[entry["ja4"]] = dict(entry)
        elif (known["family"], known["kind"]) != (entry["family"], entry["kind"]):
            raise ValueError(
                f"{entry['ja4']}: {known['family']} ({known['source']}) "
                f"vs {entry['family']} ({entry['source']})"
            )
        elif entry["source"] not in known["source"]:
            known["source"] += "; " + entry["source"]

    for fixture, hello in read_fixtures(captures).items():
        client = client_of(fixture)
        version = versions.get(client.name, "unknown version")
        how = "with SNI" if fixture == client.name else "without SNI"
        add(
            {
                "ja4": parse_client_hello(hello).ja4,
                "family": client.family,
                "kind": client.kind,
                "source": f"captured: {client.source} ({version}), {how}",
            }
        )
    for entry in foxio_entries(mapping_csv):
        add(entry)
    entries = sorted(merged.values(), key=lambda e: (e["kind"], e["family"], e["ja4"]))
    return {"version": 1, "entries": entries}


def write_ja4_table(captures: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Write `build_ja4_table(captures)` as formatted JSON to `target`."""
    table = build_ja4_table(captures)
    Path(target).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
