"""Control-plane API latency against a real uvicorn on loopback, SQLite store (WAL).

    .venv/bin/python -m bench.api

The server runs in its own process (so the client's work does not share its GIL); the
client sends requests one after another on a keep-alive connection and times each. The
baselines are trivial routes on the same app (no auth, no store; one `def` that FastAPI
runs in its thread pool, one `async def`), measured in the same run: the floor of
FastAPI + uvicorn + loopback on this machine. `server_cpu_ms` is
the server process's CPU time per request (from /proc), which a busy, shared machine
disturbs much less than wall-clock latency.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile, report

SEED_EMAIL = "user@example.com"
SEED_KEY = "c2547eb745079dac9320b638f5e225cf483cc5cfdda41"
SEED_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
FEEDBACK = {
    "type": "false_positive",
    "description": "Legitimate customers having low score",
    "expression": (
        "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and http.host eq "
        '"api-discovery.theburritobot.com" and cf.bot_management.ja3_hash eq '
        '"3fed133de60c35724739b913924b6c24")'
    ),
    "first_request_seen_at": "2022-08-01T00:00:00Z",
    "last_request_seen_at": "2022-08-10T00:00:00Z",
    "requests": 100,
    "requests_by_score": {"1": 50, "10": 50},
    "requests_by_score_src": {"heuristics": 25, "machine_learning": 75},
    "requests_by_attribute": {
        "topIPs": [{"metric": "10.75.34.1", "requests": 100}],
        "topUserAgents": [{"metric": "curl/7.68.0", "requests": 100}],
    },
}
N = int(os.environ.get("BENCH_API_N", "2000"))
WARMUP = 200


def seed(url: str) -> str:
    """The seed's user and zone, and a token; returns the token."""
    from botwarden import store
    from botwarden.store import Grant, Permission, Plan

    st = store.open(url)
    acct = st.create_account("Acme")
    user, _ = st.create_user(SEED_EMAIL, SEED_KEY, account_ids=[acct.id])
    st.create_zone(acct.id, "example.com", Plan.ENTERPRISE, id=SEED_ZONE)
    _, token = st.create_token(
        user.id, "bench", [Grant(frozenset(Permission), account_ids=frozenset({acct.id}))]
    )
    st.close()
    return token


def serve(url: str, port: int) -> None:
    import uvicorn

    from botwarden import store
    from botwarden.api import envelope
    from botwarden.api.app import create_app

    app = create_app(store.open(url))

    @app.get("/client/v4/bench/noop", include_in_schema=False)
    def noop() -> dict[str, Any]:
        return envelope.ok({"ok": True})

    @app.get("/client/v4/bench/async-noop", include_in_schema=False)
    async def async_noop() -> dict[str, Any]:
        return envelope.ok({"ok": True})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_ms(pid: int) -> float:
    """CPU time (user + system) the server process has used so far, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _time(n: int, call: Callable[[int], httpx.Response], expect: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = call(i)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != expect:
            raise SystemExit(f"unexpected {r.status_code}: {r.text[:300]}")
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'botwarden.db'}"
        token = seed(url)
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.api", "--serve", url, "--port", str(port)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            rows = run(f"http://127.0.0.1:{port}/client/v4", token, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report(
        "api",
        rows,
        {
            "feedback POST p50 (SQLite)": "<= 10 ms",
            "bot_management GET p50": "<= 3 ms",
        },
    )


def run(base: str, token: str, proc: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    key = {"X-Auth-Email": SEED_EMAIL, "X-Auth-Key": SEED_KEY}
    bearer = {"Authorization": f"Bearer {token}"}
    settings = f"/zones/{SEED_ZONE}/bot_management"
    feedback = f"{settings}/feedback"
    with httpx.Client(base_url=base, timeout=30) as c:
        deadline = time.monotonic() + 30
        while True:
            try:
                c.get("/bench/noop")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the API server did not start") from None
                time.sleep(0.05)
        cases: list[tuple[str, Callable[[int], httpx.Response], int]] = [
            ("baseline: trivial sync route (thread pool)", lambda i: c.get("/bench/noop"), 200),
            ("baseline: trivial async route", lambda i: c.get("/bench/async-noop"), 200),
            ("bot_management GET (X-Auth-Key)", lambda i: c.get(settings, headers=key), 200),
            ("bot_management GET (Bearer token)", lambda i: c.get(settings, headers=bearer), 200),
            (
                "bot_management PUT (X-Auth-Key)",
                lambda i: c.put(settings, json={"enable_js": i % 2 == 0}, headers=key),
                200,
            ),
            (
                "feedback POST (X-Auth-Key)",
                lambda i: c.post(feedback, json=FEEDBACK, headers=key),
                201,
            ),
            (
                "feedback POST with Idempotency-Key",
                lambda i: c.post(
                    feedback,
                    json=FEEDBACK,
                    headers={**key, "Idempotency-Key": uuid.uuid4().hex},
                ),
                201,
            ),
            (
                "feedback POST, a new expression each time",
                lambda i: c.post(
                    feedback,
                    json={
                        **FEEDBACK,
                        "expression": f"{FEEDBACK['expression']} and ip.geoip.asnum ne {i}",
                    },
                    headers=key,
                ),
                201,
            ),
            (
                "feedback GET list (20 per page)",
                lambda i: c.get(feedback, headers=key),
                200,
            ),
        ]
        rows: list[dict[str, object]] = []
        for name, call, expect in cases:
            _time(WARMUP, call, expect)
            cpu0 = _cpu_ms(proc.pid)
            values = sorted(_time(N, call, expect))
            cpu = (_cpu_ms(proc.pid) - cpu0) / N
            rows.append(
                {
                    "case": name,
                    "n": N,
                    "p50_ms": percentile(values, 50),
                    "p90_ms": percentile(values, 90),
                    "p99_ms": percentile(values, 99),
                    "server_cpu_ms": cpu,
                }
            )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", metavar="DATABASE_URL")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    else:
        main()
