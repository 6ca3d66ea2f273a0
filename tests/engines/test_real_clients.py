"""Real clients, real sockets: capture what each one sends (ClientHello and request head)
on a loopback TLS server, build the RequestContext from it, and score it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable

import pytest

from botwarden.engines import default_engines
from botwarden.engines.heuristics import (
    DECLARED_LIBRARY,
    NO_FETCH_METADATA,
    TLS_NOT_BROWSER,
)
from botwarden.request import RequestContext, TLSInput
from botwarden.result import BotManagement, ScoreSource
from botwarden.scoring import Pipeline
from botwarden.testing.samples import CHROME_UA
from botwarden.testing.tls_capture import CHROMIUM, HOSTNAME, HelloServer
from tests.conftest import require_binary

pytestmark = pytest.mark.service
PIPELINE = Pipeline(default_engines())


def context_from_wire(hello: bytes, head: bytes) -> RequestContext:
    lines = head.decode("latin-1").split("\r\n")
    method, target, proto = lines[0].split(" ")
    headers = tuple(
        (name, value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])
    )
    return RequestContext(
        client_ip="81.2.3.4",  # a residential-looking address: loopback says nothing
        method=method,
        host=HOSTNAME,
        path=target,
        scheme="https",
        http_version=proto.removeprefix("HTTP/"),
        headers=headers,
        tls=TLSInput(client_hello=hello),
    )


def run_client(drive: Callable[[HelloServer], None]) -> tuple[RequestContext, BotManagement]:
    with HelloServer(sni=True) as server:
        drive(server)
        hello, head = server.requests.get(timeout=60)
    ctx = context_from_wire(hello, head)
    return ctx, PIPELINE.score(ctx)


def curl(*extra: str) -> Callable[[HelloServer], None]:
    def drive(server: HelloServer) -> None:
        binary = require_binary("curl", "real curl traffic")
        subprocess.run(
            [binary, "-sS", "-o", "/dev/null", "--cacert", server.ca_file, *extra, server.url],
            check=True,
            timeout=60,
        )

    return drive


def test_real_curl_is_automated() -> None:
    ctx, bm = run_client(curl())
    assert ctx.ja4 is not None
    assert (bm.score, bm.score_src) == (1, ScoreSource.HEURISTICS)
    assert DECLARED_LIBRARY.id in bm.detection_ids


def test_curl_pretending_to_be_chrome_is_caught_by_its_tls_and_headers() -> None:
    _, bm = run_client(curl("-A", CHROME_UA))
    assert bm.score == 1
    assert TLS_NOT_BROWSER.id in bm.detection_ids
    assert NO_FETCH_METADATA.id in bm.detection_ids


def test_python_requests_style_client_is_automated() -> None:
    def drive(server: HelloServer) -> None:
        import ssl

        import httpx

        httpx.get(server.url, verify=ssl.create_default_context(cafile=server.ca_file), timeout=30)

    _, bm = run_client(drive)
    assert bm.score == 1
    assert DECLARED_LIBRARY.id in bm.detection_ids


def test_curl_cffi_impersonating_chrome_is_not_scored_one_by_heuristics() -> None:
    def drive(server: HelloServer) -> None:
        from curl_cffi import requests as cffi

        cffi.get(server.url, impersonate="chrome", verify=False, timeout=30)

    ctx, bm = run_client(drive)
    assert ctx.ua.family == "Chrome"
    assert "sec-fetch-mode" in ctx.header_map
    # Browser-grade TLS and headers: no heuristic is sure; the ML engine will judge it.
    assert bm.score != 1
    assert bm.detection_ids == []


def _chromium(*flags: str) -> Callable[[HelloServer], None]:
    def drive(server: HelloServer) -> None:
        if not os.path.exists(CHROMIUM):
            require_binary(CHROMIUM, "real browser traffic")
        with tempfile.TemporaryDirectory(prefix="botwarden-chromium-") as profile:
            proc = subprocess.Popen(
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    f"--user-data-dir={profile}",
                    "--ignore-certificate-errors",
                    f"--host-resolver-rules=MAP {HOSTNAME} 127.0.0.1",
                    *flags,
                    server.url,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                # wait until the navigation request arrived, then stop the browser
                item = server.requests.get(timeout=60)
                server.requests.put(item)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=10)

    return drive


def test_headless_chromium_declares_itself() -> None:
    ctx, bm = run_client(_chromium())
    assert "HeadlessChrome" in ctx.user_agent
    assert bm.score == 1
    assert DECLARED_LIBRARY.id in bm.detection_ids


def test_real_chromium_with_a_normal_user_agent_passes_every_heuristic() -> None:
    """Debian's Chromium sends exactly what a real Chrome sends (TLS, header set and
    order); only its declared user agent gives headless mode away. With a normal UA, no
    heuristic may fire: this guards the heuristics against false positives on real
    browsers."""
    ua = CHROME_UA.replace("131.0.0.0", "156.0.0.0")
    ctx, bm = run_client(_chromium(f"--user-agent={ua}"))
    assert ctx.ua.family == "Chrome"
    assert ctx.client_hints.present
    assert bm.detection_ids == []
    assert bm.score_src == ScoreSource.NOT_COMPUTED
