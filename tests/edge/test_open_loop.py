"""bench/edge.py's open loop (wrk + bench/open_loop.lua): latency counts from each
request's scheduled time, so a server stall is charged to every request it held up."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench.edge import open_loop

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


@contextmanager
def stalling_server(stall_at: int, stall_seconds: float) -> Iterator[tuple[str, list[int]]]:
    """HTTP/1.1 keep-alive; the `stall_at`-th request takes `stall_seconds`."""
    seen = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave in two writes

        def do_GET(self) -> None:
            seen[0] += 1
            if seen[0] == stall_at:
                threading.Event().wait(stall_seconds)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_stall_is_charged_to_every_request_it_held_up() -> None:
    with stalling_server(stall_at=30, stall_seconds=0.3) as (url, seen):
        r = open_loop(url, rate=100, duration=1.0, connections=1)
    assert seen[0] == 100  # the schedule: 100 requests/s for 1 s, none added, none skipped
    assert r["requests"] == 100
    assert r["unanswered"] == 0
    assert r["non_2xx"] == 0
    # The ~30 requests due during the 300 ms stall left late (the connection was busy)...
    assert r["late_sends"] >= 20
    # ...and their latency counts from when they were due, not from when they left: a
    # closed-loop measurement would have seen one slow request and 99 fast ones.
    assert r["p50_ms"] < 50
    assert r["p99_ms"] > 150
    assert 250 < r["max_ms"] < 1000
