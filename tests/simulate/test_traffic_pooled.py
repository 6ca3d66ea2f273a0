"""The pooled HTTP/1.1 engine (`h1`) of high-rate runs: the planned request on the wire,
exactly; the rate and duration bounds kept; answers that never come cut at the end."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from botwarden.simulate.traffic import (
    POOLED,
    POOLED_FROM_RPS,
    Driver,
    Planned,
    _client,
    horizon,
    plan,
    render_h1,
    run_traffic,
)
from tests.simulate.test_traffic import LIBRARIES, _Recorder, _Slow, scenario


def _serve(app: object) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", ws="none",  # type: ignore[arg-type]
                                           timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def recorder() -> Iterator[tuple[str, _Recorder]]:
    app = _Recorder()
    for url in _serve(app):
        yield url, app


def _one(driver: str, method: str = "GET") -> Planned:
    sc = LIBRARIES if driver == "aiohttp" else scenario({"chrome_desktop": 1})
    for p in plan(sc, 50, horizon(5), 0, [driver]):
        if p.method == method:
            return p
    raise AssertionError(f"no {method} planned for {driver}")


def test_render_keeps_the_planned_order_and_sets_host_and_length() -> None:
    p = _one("aiohttp", "POST")
    wire = render_h1(p, "127.0.0.1:8080")
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == f"{p.method} {p.path}{'?' + p.query if p.query else ''} HTTP/1.1"
    names = [line.partition(":")[0] for line in lines[1:]]
    planned = [n for n, _ in p.headers if n.lower() not in ("content-length", "connection")]
    assert names[: len(planned)] == planned  # the plan's own Host slot kept
    assert "Host: 127.0.0.1:8080" in lines
    assert f"Content-Length: {len(p.body)}" in lines
    assert body == p.body


def test_render_leaves_out_http2_only_headers_when_told() -> None:
    p = _one("curl_cffi")
    if not any(n.lower() == "priority" for n, _ in p.headers):
        p = dataclasses.replace(p, headers=(*p.headers, ("priority", "u=0, i")))
    wire = render_h1(p, "h", frozenset({"priority"})).lower()
    assert b"\r\npriority:" not in wire
    assert wire.startswith(b"get ")
    assert b"\r\nhost: h\r\n" in wire


def test_deployment_variants_are_sent_by_their_base_client() -> None:
    base = _one("curl_cffi").client
    index = {base.key: base}
    assert _client(index, f"{base.key} [http/1.1]") is base
    assert _client(index, f"{base.key} [http/1.1] [no tls fingerprint]") is base
    with pytest.raises(KeyError, match="unknown client"):
        _client(index, "nobody [http/1.1]")


def _key(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    skip = ("host", "content-length", "priority", "connection")
    return tuple(f"{n.lower()}: {v}" for n, v in headers if n.lower() not in skip)


def test_pooled_requests_arrive_as_planned(recorder: tuple[str, _Recorder]) -> None:
    url, app = recorder
    sc = scenario({"chrome_desktop": 1, "scraping": {"share": 1, "sophistication": 1}})
    engines = ["aiohttp", "curl_cffi"]
    planned: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for i, p in enumerate(plan(sc, 40, horizon(2), 0, engines)):
        planned.setdefault((p.path, p.query), set()).add(_key(p.headers))
        if i > 400:
            break
    report = run_traffic(sc, url, rps=40, duration=2, engines=engines, pooled=True)
    assert set(report.by_engine) == {POOLED}
    assert report.statuses[200] == report.sent > 40
    checked = 0
    for path, query, headers in app.seen:
        want = planned.get((path, query))
        if want is not None:
            assert _key(headers) in want, (path, headers)
            checked += 1
    assert checked >= len(app.seen) // 2


def test_high_rates_are_pooled_by_default_and_keep_the_bounds(
    recorder: tuple[str, _Recorder],
) -> None:
    url, app = recorder
    rps, duration = 400.0, 2.0
    report = run_traffic(LIBRARIES, url, rps=rps, duration=duration, engines=["aiohttp"])
    assert rps >= POOLED_FROM_RPS
    assert set(report.by_engine) == {POOLED}
    assert report.max_per_second() <= rps
    assert all(0 <= s < duration for s in report.started)
    assert report.elapsed < duration + 1.0
    assert report.sent > 0.5 * rps * duration  # the rate itself: bench/simulate.py
    assert report.statuses[200] == len(app.seen) > 0
    low = run_traffic(LIBRARIES, url, rps=20, duration=1, engines=["aiohttp"])
    assert set(low.by_engine) == {"aiohttp"}


def test_pooled_requests_in_flight_are_cancelled_at_the_end() -> None:
    for url in _serve(_Slow()):
        report = run_traffic(LIBRARIES, url, rps=20, duration=2, engines=["aiohttp"],
                             pooled=True)  # fmt: skip
    assert report.elapsed < 3.0
    assert report.errors["cancelled at end"] > 0
    assert all(s < 2 for s in report.started)


def test_a_pooled_answer_that_never_comes_times_out() -> None:
    for url in _serve(_Slow()):
        driver = Driver(url, rps=5, duration=2.5, engines=["aiohttp"], pooled=True, timeout=0.5)
        driver.usable_engines()
        report = driver.run(plan(LIBRARIES, 5, horizon(3), 0, ["aiohttp"]), {"aiohttp"})
    assert report.errors[f"{POOLED}: TimeoutError"] > 0
