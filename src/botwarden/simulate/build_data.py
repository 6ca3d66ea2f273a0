"""Builds the simulator's packaged data under `data/simulate/`, so that it can be regenerated.

- `browsers.json`: real browser builds (user agent, client hints, Accept, Accept-Encoding,
  DNT) with their share of traffic, enumerated from the Bayesian network of real browser
  headers that the npm package `header-generator` ships (Apache-2.0).
- `clients.json`: what real clients send on this machine — the TLS fingerprints (JA4,
  JA3) of curl_cffi's browser targets, Debian's Chromium, curl, wget, Python, aiohttp,
  httpx, Node.js and Java, and the request head of each (header names, order and values),
  captured on loopback with `testing.tls_capture.HelloServer`.
- `chromium_headers.json`: the header order real Chromium sends for each kind of request
  (navigation, form post, stylesheet, script, image, fetch GET/POST), captured by driving
  Debian's Chromium with Playwright against a loopback page.

    npm pack header-generator            # in a temp dir: header-generator-<v>.tgz
    python -m botwarden.simulate.build_data --header-generator header-generator-<v>.tgz
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

from botwarden import data

OUT = data.path("simulate")
MISSING = "*MISSING_VALUE*"
# Builds rarer than this share of browser traffic are left out (then weights renormalised).
FLOOR = 1e-5
# The headers of the network that a browser sends on a navigation over HTTP/2 (lower case).
_H2_HEADERS = (
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "user-agent",
    "accept-encoding",
    "accept",
    "dnt",
    "sec-ch-ua",
    "te",
    "upgrade-insecure-requests",
)


# -- header-generator's network --------------------------------------------------------------


def _read_networks(tgz: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]], str]:
    with tarfile.open(tgz) as tar:

        def member(name: str) -> bytes:
            handle = tar.extractfile(f"package/{name}")
            if handle is None:
                raise FileNotFoundError(name)
            return handle.read()

        version = json.loads(member("package.json"))["version"]
        order = json.loads(member("data_files/headers-order.json"))

        def network(name: str) -> dict[str, Any]:
            with zipfile.ZipFile(io.BytesIO(member(f"data_files/{name}"))) as z:
                doc: dict[str, Any] = json.loads(z.read("network.json"))
                return doc

        return (
            network("input-network-definition.zip"),
            network("header-network-definition.zip"),
            order,
            version,
        )


def _nodes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in doc["nodes"]}


def _conditional(node: dict[str, Any], assigned: dict[str, str]) -> dict[str, float]:
    table = node["conditionalProbabilities"]
    for parent in node["parentNames"]:
        value = assigned[parent]
        if value in table.get("deeper", {}):
            table = table["deeper"][value]
        elif "skip" in table:
            table = table["skip"]
        else:
            return {}
    return {k: v for k, v in table.items() if isinstance(v, int | float)}


def _expand(
    states: list[tuple[float, dict[str, str]]], node: dict[str, Any]
) -> list[tuple[float, dict[str, str]]]:
    out = []
    for p, assigned in states:
        for value, q in _conditional(node, assigned).items():
            if p * q >= FLOOR:
                out.append((p * q, {**assigned, node["name"]: value}))
    return out


def browser_builds(tgz: Path) -> dict[str, Any]:
    """Every (browser, OS, device) build the network gives over HTTP/2, with its weight."""
    inputs, headers, order, version = _read_networks(tgz)
    i_nodes, h_nodes = _nodes(inputs), _nodes(headers)
    states: list[tuple[float, dict[str, str]]] = [(1.0, {})]
    for name in ("*DEVICE", "*OPERATING_SYSTEM", "*BROWSER_HTTP"):
        states = _expand(states, i_nodes[name])
    h2 = []
    for p, a in states:
        browser, _, http = a["*BROWSER_HTTP"].partition("|")
        if http == "2" and MISSING not in (browser, a["*OPERATING_SYSTEM"]):
            h2.append((p, {**a, "*BROWSER": browser, "*HTTP_VERSION": "_2.0_"}))
    states = h2
    for name in ("sec-ch-ua-mobile", "sec-ch-ua-platform", "user-agent", "User-Agent"):
        states = _expand(states, h_nodes[name])
    for name in _H2_HEADERS[3:]:
        states = _expand(states, h_nodes[name])
    total = sum(p for p, _ in states)
    builds = []
    for p, a in sorted(states, key=lambda s: (-s[0], json.dumps(s[1], sort_keys=True))):
        if a.get("user-agent", MISSING) == MISSING:
            continue
        browser, _, browser_version = a["*BROWSER"].partition("/")
        builds.append(
            {
                "weight": round(p / total, 8),
                "browser": browser,
                "version": browser_version,
                "os": a["*OPERATING_SYSTEM"],
                "device": a["*DEVICE"],
                "headers": {h: a[h] for h in _H2_HEADERS if a.get(h, MISSING) != MISSING},
            }
        )
    # headers-order.json lists each browser's HTTP/1.1 names, then its HTTP/2 ones after
    # the pseudo-headers; keep the HTTP/2 (lower-case) order.
    h2_order = {
        browser: [n for n in names[names.index(":method") :] if not n.startswith(":")]
        for browser, names in order.items()
    }
    return {
        "source": f"npm header-generator {version} (Apache-2.0), "
        "data_files/{input,header}-network-definition.zip (HTTP/2 builds enumerated) "
        "and data_files/headers-order.json",
        "order": h2_order,
        "builds": builds,
    }


# -- TLS and request heads of real clients -----------------------------------------------------

# curl_cffi targets captured, and what they stand for in `clients.json`.
CFFI_TARGETS = (
    "chrome116",
    "chrome120",
    "chrome124",
    "chrome131",
    "chrome131_android",
    "chrome133a",
    "chrome136",
    "chrome142",
    "chrome145",
    "chrome146",
    "chrome150",
    "edge101",
    "firefox133",
    "firefox135",
    "firefox144",
    "firefox147",
    "safari153",
    "safari155",
    "safari170",
    "safari172_ios",
    "safari180",
    "safari180_ios",
    "safari184",
    "safari184_ios",
    "safari260",
    "safari260_ios",
    "tor145",
)


def _parse_head(head: bytes) -> tuple[str, str, list[list[str]]]:
    lines = head.decode("latin-1").split("\r\n")
    method, _target, proto = lines[0].split(" ")
    pairs = [[n, v.strip()] for n, _, v in (line.partition(":") for line in lines[1:]) if n]
    return method, proto.removeprefix("HTTP/"), pairs


def _capture(run: Callable[[Any], None]) -> tuple[bytes, bytes]:
    from botwarden.testing.tls_capture import HelloServer

    with HelloServer(sni=True, alpn=("http/1.1",)) as server:
        run(server)
        return server.requests.get(timeout=60)


def _cffi(target: str, method: str) -> Callable[[Any], None]:
    def run(server: Any) -> None:
        from curl_cffi import requests as cffi

        if method == "POST":
            cffi.post(server.url, data={"u": "a"}, impersonate=target, verify=False, timeout=20)
        else:
            cffi.get(server.url, impersonate=target, verify=False, timeout=20)

    return run


def _aiohttp(method: str) -> Callable[[Any], None]:
    def run(server: Any) -> None:
        import aiohttp

        async def go() -> None:
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    method, server.url, ssl=False, data={"u": "a"} if method == "POST" else None
                ) as response,
            ):
                await response.read()

        asyncio.run(go())

    return run


def _curl(method: str) -> Callable[[Any], None]:
    def run(server: Any) -> None:
        from botwarden.testing.tls_capture import HOSTNAME

        extra = ["-d", "u=a"] if method == "POST" else []
        subprocess.run(
            ["curl", "-sk", "--max-time", "20", "-o", "/dev/null", *extra,
             "--resolve", f"{HOSTNAME}:{server.port}:127.0.0.1", server.url],
            check=False, timeout=60, capture_output=True,
        )  # fmt: skip

    return run


def _tool(name: str) -> Callable[[Any], None]:
    def run(server: Any) -> None:
        from botwarden.testing.tls_capture import CLIENTS

        CLIENTS[name].run(server)

    return run


def _version(name: str) -> str:
    from botwarden.testing.tls_capture import CLIENTS, client_version

    if name == "aiohttp":
        return f"aiohttp {metadata.version('aiohttp')}"
    if name.startswith("curl_cffi"):
        return f"curl_cffi {metadata.version('curl_cffi')}"
    return client_version(CLIENTS[name])


def capture_clients() -> dict[str, Any]:
    """Hello fingerprints and request heads of every client this machine can run."""
    from botwarden.fingerprint.tls import parse_client_hello

    runs: dict[str, tuple[str, Callable[[str], Callable[[Any], None]]]] = {
        **{f"curl_cffi:{t}": (t, lambda m, t=t: _cffi(t, m)) for t in CFFI_TARGETS},  # type: ignore[misc]
        "curl": ("curl", _curl),
        "aiohttp": ("aiohttp", _aiohttp),
        "python": ("python", lambda m: _tool("python")),
        "httpx": ("httpx", lambda m: _tool("httpx")),
        "node": ("node", lambda m: _tool("node")),
        "wget": ("wget", lambda m: _tool("wget")),
        "java": ("java", lambda m: _tool("java")),
        "openssl": ("openssl", lambda m: _tool("openssl")),
    }
    clients: dict[str, Any] = {}
    for key, (name, make) in runs.items():
        entry: dict[str, Any] = {}
        methods = ("GET", "POST") if name in ("curl", "aiohttp") or ":" in key else ("GET",)
        for method in methods:
            hello, head = _capture(make(method))
            ch = parse_client_hello(hello)
            _m, http, pairs = _parse_head(head)
            entry.update(ja4=ch.ja4, ja3=ch.ja3, ja3_hash=ch.ja3_hash, alpn=list(ch.alpn))
            entry[f"head_{method.lower()}"] = pairs
            entry["http_version"] = http
        entry["source"] = f"captured on loopback: {_version(key.replace(':', '_'))}"
        if ":" in key:
            entry["source"] += f" impersonate={name}"
        clients[key] = entry
    # Chromium: the hello of a real Chromium (its heads come from chromium_headers.json).
    from botwarden.testing.tls_capture import capture

    ch = parse_client_hello(capture("chromium"))
    clients["chromium"] = {
        "ja4": ch.ja4,
        "ja3": ch.ja3,
        "ja3_hash": ch.ja3_hash,
        "alpn": list(ch.alpn),
        "source": f"captured on loopback: {_version('chromium')} headless",
    }
    return {"clients": clients}


# -- Chromium's header orders ------------------------------------------------------------------

_PAGE = b"""<!doctype html><html><head><link rel=stylesheet href=/static/app.css>
<script src=/static/app.js></script></head><body><img src=/static/logo.png>
<form method=post action=/login id=f><input name=u value=a></form><a id=l href=/next>next</a>
<script>fetch('/api/cart',{method:'POST',headers:{'content-type':'application/json'},
body:'{"a":1}'}).then(()=>fetch('/api/products'))</script></body></html>"""


def capture_chromium_headers() -> dict[str, Any]:
    """Header names and values of each kind of request real Chromium sends, in order."""
    from playwright.sync_api import sync_playwright

    heads: list[tuple[str, str, list[tuple[str, str]]]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            with lock:
                heads.append((self.command, self.path, list(self.headers.items())))
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            page = self.path in ("/", "/next") or (self.command == "POST" and self.path == "/login")
            body = _PAGE if page else b"x"
            self.send_response(200)
            self.send_header("content-type", "text/html" if page else "application/octet-stream")
            self.send_header("content-length", str(len(body)))
            self.send_header("set-cookie", "sid=1; Path=/")
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://localhost:{port}/")
            time.sleep(0.5)
            page.click("#l")
            time.sleep(0.5)
            page.evaluate("document.getElementById('f').submit()")
            time.sleep(0.8)
            version = browser.version
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    kinds: dict[str, list[list[str]]] = {}

    def kind_of(method: str, path: str, pairs: list[tuple[str, str]]) -> str | None:
        h = {k.lower(): v for k, v in pairs}
        dest = h.get("sec-fetch-dest")
        if method == "POST":
            return "form" if dest == "document" else "fetch_post"
        return {"document": "document", "style": "style", "script": "script", "image": "image",
                "empty": "fetch"}.get(dest or "")  # fmt: skip

    for method, path, pairs in heads:
        kind = kind_of(method, path, pairs)
        if kind is None or kind in kinds:
            continue
        # A followed link, not the first typed-in navigation (which has no referer).
        if kind == "document" and not any(k.lower() == "referer" for k, _ in pairs):
            continue
        kinds[kind] = [[k, v] for k, v in pairs]
    return {"source": f"captured on loopback: Chromium {version} (Playwright)", "kinds": kinds}


def _write(name: str, doc: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", "utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--header-generator", type=Path, help="npm pack tarball")
    parser.add_argument("--only", choices=("browsers", "clients", "chromium"), action="append")
    args = parser.parse_args(argv)
    only = set(args.only or ("browsers", "clients", "chromium"))
    if "browsers" in only:
        if args.header_generator is None:
            parser.error("--header-generator is needed to build browsers.json")
        _write("browsers.json", browser_builds(args.header_generator))
    if "clients" in only:
        _write("clients.json", capture_clients())
    if "chromium" in only:
        _write("chromium_headers.json", capture_chromium_headers())


if __name__ == "__main__":
    main()
