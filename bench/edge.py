"""The edge on loopback, against the same origin (the demo shop, in its own process):

  (a) the origin directly
  (b) nginx proxy_pass to the origin
  (c) Botwarden's edge (reverse proxy) with 20 custom rules and analytics on
  (d) nginx auth_request to Botwarden, then proxy_pass to the origin

Closed loop at fixed concurrency with `wrk` (apt: wrk; the Python fallback is slower than
what it measures, so its figures say so), then an open loop at half of (c)'s maximum rate
for (a), (b) and (c): Botwarden's added p99 is (c) − (a) at that rate, and nginx's own
added p99, (b) − (a) in the same run, says how much of it the machine itself adds (on a
shared machine, scheduling delays dominate a p99 of a few milliseconds).

Each row also gives the 1-minute load average before and after it, and for the rows that
go through Botwarden its CPU time per request (the edge process; the analytics writer
child separately): a figure other processes on the machine barely move.

.venv/bin/python -m bench.edge [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentile, report
from botwarden.demo.server import DemoServer, wait_listening
from botwarden.edge.nginx import (
    NGINX,
    NginxProcess,
    forward_auth_server,
    free_port,
    proxy_server,
    upstream_block,
)

PATH = "/"
HEADERS = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}
ZONE = "bench.example"


def twenty_rules() -> list[dict[str, str]]:
    """Twenty realistic custom rules, none of which matches the benchmark's request."""
    rules = []
    for i in range(4):
        rules += [
            {"expression": f'http.request.uri.path eq "/admin/{i}"', "action": "block"},
            {"expression": f'lower(http.user_agent) contains "scanner-{i}"', "action": "block"},
            {"expression": f'cf.bot_management.score eq 1 and starts_with('
                           f'http.request.uri.path, "/checkout/{i}")',
             "action": "managed_challenge"},
            {"expression": f"ip.src in {{203.0.113.{i}/32 198.51.100.0/24}}", "action": "block"},
            {"expression": f'any(http.request.headers["x-bench-{i}"][*] eq "1") or '
                           f'http.request.uri.query contains "attack={i}"', "action": "block"},
        ]  # fmt: skip
    return rules


def prepare_store(url: str) -> None:
    from botwarden import store
    from botwarden.rules.ruleset import Rule
    from botwarden.store import Plan
    from botwarden.store import RuleInput as StoredRule

    st = store.open(url)
    try:
        acct = st.create_account("Bench")
        zone = st.create_zone(acct.id, ZONE, Plan.ENTERPRISE)
        stored = []
        for i, r in enumerate(twenty_rules()):
            fp = Rule.from_dict({"id": f"b{i}", **r}).fingerprint
            stored.append(StoredRule(expression=r["expression"], action=r["action"],
                                     fingerprint=fp))  # fmt: skip
        st.put_phase_ruleset(zone.id, "http_request_firewall_custom", stored)
    finally:
        st.close()


# -- load generators ----------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if m is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def wrk(url: str, connections: int, duration: float, threads: int = 1) -> dict[str, float]:
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
            "--latency", "--timeout", "10s"]  # fmt: skip
    for k, v in HEADERS.items():
        argv += ["-H", f"{k}: {v}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"]),
            "non_2xx": float(errors.group(1)) if errors else 0.0,
            "requests": float(total)}  # fmt: skip


async def _open_loop(port: int, rate: float, duration: float, conns: int) -> list[float]:
    """Requests sent on a fixed schedule over `conns` kept-alive connections; latency is
    measured from the scheduled start (no coordinated omission)."""
    head = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in HEADERS.items()
    ) + "\r\n"  # fmt: skip
    request = head.encode()
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(conns):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    tasks = []

    async def one(due: float) -> None:
        reader, writer = await free.get()
        writer.write(request)
        status = await reader.readuntil(b"\r\n\r\n")
        m = re.search(rb"content-length: (\d+)", status, re.I)
        if m is not None:
            await reader.readexactly(int(m.group(1)))
        else:  # chunked
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        latencies.append((time.perf_counter() - due) * 1000)
        free.put_nowait((reader, writer))

    loop = asyncio.get_running_loop()
    start = time.perf_counter() + 0.05
    n = int(rate * duration)
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        _, w = free.get_nowait()
        w.close()
    return latencies


def open_loop(port: int, rate: float, duration: float, conns: int = 64) -> dict[str, float]:
    import uvloop

    values = sorted(uvloop.run(_open_loop(port, rate, duration, conns)))
    return {"rate": rate, "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "requests": float(len(values))}  # fmt: skip


def python_closed_loop(url: str, connections: int, duration: float) -> dict[str, float]:
    """Fallback without wrk: a closed loop from this interpreter (it is the bottleneck)."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    import uvloop

    async def run() -> tuple[int, list[float]]:
        lat: list[float] = []
        stop = time.perf_counter() + duration
        count = 0
        head = f"GET {PATH} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in HEADERS.items()) + "\r\n"  # fmt: skip

        async def worker() -> None:
            nonlocal count
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                writer.write(head.encode())
                hdr = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"content-length: (\d+)", hdr, re.I)
                await reader.readexactly(int(m.group(1)) if m else 0)
                lat.append((time.perf_counter() - t0) * 1000)
                count += 1
            writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))
        return count, lat

    count, lat = uvloop.run(run())
    lat.sort()
    return {"rps": count / duration, "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "non_2xx": 0.0, "requests": float(count)}  # fmt: skip


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    have_wrk = shutil.which("wrk") is not None
    load = wrk if have_wrk else python_closed_loop
    if not Path(NGINX).exists():
        sys.exit(f"{NGINX} is needed (apt install nginx)")
    with tempfile.TemporaryDirectory(prefix="botwarden-bench-") as tmp, \
            DemoServer(process=True) as origin:  # fmt: skip
        root = Path(tmp)
        db = f"sqlite:///{root / 'bw.db'}"
        prepare_store(db)
        edge_port, admin_port, proxy_port, auth_port = (free_port() for _ in range(4))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOTWARDEN_ANALYTICS_FSYNC": "false"}
        edge = subprocess.Popen(
            [sys.executable, "-m", "botwarden.edge.cli", "serve", "--role", "edge",
             "--origin", origin.url, "--listen", f"127.0.0.1:{edge_port}",
             "--admin", f"127.0.0.1:{admin_port}", "--database", db,
             "--data-dir", str(root / "data"), "--trusted-proxy", "127.0.0.1/32",
             "--zone", ZONE],
            env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_listening("127.0.0.1", edge_port, timeout=60)
            blocks = [
                upstream_block("origin", f"127.0.0.1:{origin.port}"),
                upstream_block("botwarden", f"127.0.0.1:{edge_port}"),
                proxy_server(f"127.0.0.1:{proxy_port}", "origin"),
                forward_auth_server(f"127.0.0.1:{auth_port}", "botwarden", "origin"),
            ]
            with NginxProcess(root / "nginx", blocks) as nginx:
                nginx.wait_port(proxy_port)
                nginx.wait_port(auth_port)
                rows = run_rows(load, origin.port, proxy_port, edge_port, auth_port, args,
                                edge.pid)  # fmt: skip
            metrics = _admin_metrics(admin_port)
        finally:
            edge.terminate()
            edge.wait(timeout=30)
    b, c = rows[1], rows[2]
    ratio = c["rps"] / b["rps"] if b["rps"] else 0.0
    half_a, half_b, half_c = rows[4], rows[5], rows[6]
    added = half_c["p99_ms"] - half_a["p99_ms"]
    nginx_added = half_b["p99_ms"] - half_a["p99_ms"]
    print(
        f"(c)/(b) requests/s: {ratio:.2f}  ·  Botwarden's added p99 at "
        f"{half_a['rate']:.0f} req/s: {added:.2f} ms (nginx's own: {nginx_added:.2f} ms)"
    )
    print(f"edge metrics after the run: {metrics}")
    columns = ("case", "connections", "rps", "rate", "p50_ms", "p99_ms", "non_2xx",
               "requests", "edge_cpu_us", "writer_cpu_us", "load_1m")  # fmt: skip
    rows = [{k: r.get(k, "") for k in columns} for r in rows]
    report(
        "edge",
        rows,
        {
            "(c) >= 0.25 x (b) requests/s": (
                f"{ratio:.2f} x ({'met' if ratio >= 0.25 else 'NOT met'})"
            ),
            "added p99 <= 2 ms at half of (c)'s max rate": (
                f"{added:.2f} ms ({'met' if added <= 2.0 else 'NOT met'}); nginx proxy_pass "
                f"adds {nginx_added:.2f} ms at the same rate in this run"
            ),
            "edge CPU per request, (c) closed loop": f"{c.get('edge_cpu_us', '?')} µs "
            f"(+ {c.get('writer_cpu_us', '?')} µs in the analytics writer process)",
            "load generator": "wrk (closed loop), Python open loop for the fixed rate"
            if have_wrk else "Python closed loop (no wrk: figures bound by the generator)",
            "machine": f"{os.cpu_count()} CPUs shared by the generator, nginx, origin, edge",
        },
    )  # fmt: skip


def run_rows(
    load: Any, origin_port: int, proxy_port: int, edge_port: int, auth_port: int,
    args: argparse.Namespace, edge_pid: int,
) -> list[dict[str, Any]]:  # fmt: skip
    cases = [
        ("(a) origin directly", origin_port, False),
        ("(b) nginx proxy_pass", proxy_port, False),
        ("(c) Botwarden edge, 20 rules, analytics", edge_port, True),
        ("(d) nginx auth_request to Botwarden", auth_port, True),
    ]
    rows: list[dict[str, Any]] = []

    def measured(case: str, conns: Any, run: Any, edge: bool) -> None:
        load0 = os.getloadavg()[0]
        writers = children(edge_pid)
        e0, w0 = cpu_seconds(edge_pid), sum(cpu_seconds(p) for p in writers)
        r = run()
        row = {"case": case, "connections": conns, **r}
        if edge and r["requests"]:
            n = r["requests"]
            row["edge_cpu_us"] = round((cpu_seconds(edge_pid) - e0) / n * 1e6)
            row["writer_cpu_us"] = round((sum(cpu_seconds(p) for p in writers) - w0) / n * 1e6)
        row["load_1m"] = f"{load0:.1f}-{os.getloadavg()[0]:.1f}"
        rows.append(row)
        print(f"{case}: {row}", flush=True)

    for case, port, edge in cases:
        url = f"http://127.0.0.1:{port}{PATH}"
        load(url, 4, 2.0)  # warm up: connections, caches, the edge's engines
        measured(case, args.connections,
                 lambda url=url: load(url, args.connections, args.duration), edge)  # fmt: skip
    half = rows[2]["rps"] / 2
    for case, port, edge in (("(a) origin at half of (c)'s max", origin_port, False),
                             ("(b) nginx proxy_pass at half of (c)'s max", proxy_port, False),
                             ("(c) edge at half of its max", edge_port, True)):  # fmt: skip
        measured(case, "open loop",
                 lambda port=port: open_loop(port, half, args.duration), edge)  # fmt: skip
    return rows


def _admin_metrics(port: int) -> dict[str, float]:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for name in ("botwarden_edge_upstream_errors_total", "botwarden_analytics_events_total"):
        for line in text.splitlines():
            if line.startswith(name):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
    return out


if __name__ == "__main__":
    main()
