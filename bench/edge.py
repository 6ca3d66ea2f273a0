"""The edge on loopback, against the same origin (the demo shop, in its own process):

  (a) the origin directly
  (b) nginx proxy_pass to the origin
  (c) Botwarden's edge (reverse proxy) with 20 custom rules and analytics on
  (d) nginx auth_request to Botwarden, then proxy_pass to the origin

Closed loop (each row's maximum rate) at fixed concurrency with `wrk`, then an open loop
at half of (c)'s maximum rate for (a), (b) and (c): Botwarden's added p99 is (c) - (a) at
that rate, and nginx's own added p99, (b) - (a) in the same round, is the noise floor: how
much a light proxy "adds" on this machine at this moment.

The open loop is wrk with bench/open_loop.lua, not a Python generator: at 2,000 requests/s
a Python (uvloop) generator took most of a core on a 2-core machine it shares with the
origin, nginx and the edge, and its own scheduling delays landed in every row's p99. wrk
is C (LuaJIT for the script) and costs a few percent of a core at that rate. Chosen over
`hey -q` (Go; its rate limiter is a ticker per worker: a stalled server makes it skip
requests, so a stall is under-counted - coordinated omission) and `h2load` (its rate is of
new connections, not of requests). The script gives every connection its own wrk thread
and a fixed schedule (together: one request every 1/rate s) and counts each latency from
the request's scheduled time, so a request held up behind a stall is charged for the
wait (see the script). wrk's timer is in milliseconds: a request may leave up to 1 ms
early, and then counts from when it left.

Pinning: none by default, the same for every row. `--generator-cpus auto` pins wrk to the
last CPU (`--server-cpus` pins the servers), which isolates only on an otherwise idle
machine: on the shared 2-CPU machine, with other work on both CPUs, it confined wrk's
threads to a busy CPU and inflated the floor rows themselves (measured, open loop at 930
and 1,209 requests/s, load 3.3-5.5: pinned, nginx's p99 was 49-131 ms in 4 rounds of 6
and the origin's own up to 24 ms; unpinned, nginx 1.8-4.2 ms and the origin 0.9-3.1 ms
in all 7 rounds).

Each row gives the 1-minute load average before and after it; for the rows through
Botwarden its CPU time per request (the edge process; the analytics writer child
separately); for every row the run-queue wait of the origin's and the edge's main thread
(/proc/<pid>/schedstat: time runnable but not running, i.e. waiting for a CPU the other
work on the machine holds); and for (c) what held the edge's event loop (its loop-lag
probe and GC pauses, from /metrics, see botwarden/edge/stalls.py). A p99 much above the
nginx floor with a run-queue wait of seconds is the machine; loop lag without run-queue
wait would be the edge's own.

Every row also gives the origin's CPU time per request, and the summary compares CPU per
request in the open loop with the closed loop, for the edge and for the origin. On the
2-vCPU VM this was written on, a request served on its own (open loop, the CPU idle in
between) cost 2-3.5 times the CPU of one served back to back (closed loop) - the demo
origin alone 80 -> 211-329 µs, the edge 205-236 -> 457-626 µs - so "half of the closed-loop
maximum" can be more than a server sustains in an open loop at all.

.venv/bin/python -m bench.edge [--duration 10] [--connections 32] [--rounds 3]
    [--rate R --open-only] [--generator-cpus ""|auto|0,1] [--server-cpus ""|0] [--nice N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
OPEN_LOOP_LUA = Path(__file__).with_name("open_loop.lua")


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


def runqueue_wait(pid: int) -> float:
    """Seconds the main thread of `pid` spent runnable but not running (waiting for a CPU:
    the machine's share of its latency), from /proc/<pid>/schedstat."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` and of its descendants onto `cpus` (affinity is per thread,
    and only new threads and children inherit it)."""
    for p in [pid, *children(pid)]:
        for task in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)
        if p != pid:
            pin(p, cpus)


def renice(pid: int, by: int) -> None:
    """Every thread of `pid` and of its descendants `by` nicer (negative: ahead of other
    work); the analytics writer child keeps its own offset (it lowers itself by 10)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        with contextlib.suppress(OSError):
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, max(-20, min(19, now + by)))
    for child in children(pid):
        renice(child, by)


def _generator(argv: list[str], cpus: set[int] | None) -> list[str]:
    if cpus:
        return ["taskset", "-c", ",".join(map(str, sorted(cpus))), *argv]
    return argv


def _headers() -> list[str]:
    out = []
    for k, v in HEADERS.items():
        out += ["-H", f"{k}: {v}"]
    return out


def wrk(
    url: str, connections: int, duration: float, cpus: set[int] | None = None
) -> dict[str, float]:
    """Closed loop: `connections` connections, each sending its next request as soon as
    the last response is in (the maximum rate; latency from send)."""
    argv = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration:g}s", "--latency",
            "--timeout", "10s", *_headers(), url]  # fmt: skip
    out = subprocess.run(_generator(argv, cpus), capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"]),
            "non_2xx": float(errors.group(1)) if errors else 0.0,
            "requests": float(total)}  # fmt: skip


def open_loop(
    url: str, rate: float, duration: float, connections: int = 16,
    cpus: set[int] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Open loop at `rate` requests/s with wrk and bench/open_loop.lua: one connection per
    wrk thread, each on a fixed schedule; latency from the scheduled time (or from the
    send, when wrk's millisecond timer let it leave early)."""
    argv = ["wrk", "-t", str(connections), "-c", str(connections),
            "-d", f"{math.ceil(duration) + 2}s", "--timeout", "10s", "-s", str(OPEN_LOOP_LUA),
            *_headers(), url, "--", repr(rate), str(connections), repr(duration)]  # fmt: skip
    done = subprocess.run(_generator(argv, cpus), capture_output=True, text=True,
                          check=False, timeout=duration + 60)  # fmt: skip
    out = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stderr}{out}")
    line = next((x for x in out.splitlines() if x.startswith("open-loop-json ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no open-loop result:\n{out}")
    doc = json.loads(line.partition(" ")[2])
    values = sorted(v / 1000 for v in doc["latencies_us"])
    return {"rate": rate, "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "p999_ms": percentile(values, 99.9), "max_ms": values[-1] if values else 0.0,
            "non_2xx": float(doc["non_2xx"]), "requests": float(len(values)),
            "unanswered": float(doc["sent"] - len(values)),
            "late_sends": float(doc["late"])}  # fmt: skip


# -- the run ----------------------------------------------------------------------------------


def _cpus(text: str) -> set[int] | None:
    """ "": none (no pinning); "auto": the last CPU (on a machine of 2 or more); else a
    list such as "0" or "0,1"."""
    n = os.cpu_count() or 1
    if text == "auto":
        return {n - 1} if n >= 2 else None
    if not text:
        return None
    try:
        cpus = {int(c) for c in text.split(",")}
    except ValueError:
        raise SystemExit(f"CPU list {text!r}: expected e.g. 0 or 0,1") from None
    if not cpus <= set(range(n)):
        raise SystemExit(f"CPU list {text!r}: this machine has CPUs 0-{n - 1}")
    return cpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--connections", type=int, default=32, help="closed loop connections (default 32)"
    )
    parser.add_argument(
        "--open-connections",
        type=int,
        default=16,
        help="open loop connections, one wrk thread each (default 16)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open loop rate (default: half of (c)'s closed-loop maximum)",
    )
    parser.add_argument(
        "--open-only", action="store_true", help="skip the closed loop rows (needs --rate)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the open loop rows (a), (b), (c) this many times",
    )
    parser.add_argument(
        "--generator-cpus",
        default="",
        help='wrk\'s CPUs (taskset): "" (any, the default), "auto" (the last CPU), "0,1"',
    )
    parser.add_argument(
        "--server-cpus", default="", help='origin, nginx, edge CPUs: "" (any, default) or e.g. "0"'
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the origin, nginx, the edge and wrk alike (e.g. -5: "
        "ahead of other work on a shared machine; needs root)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("COLUMNS", "240")  # the table is wide (rich reads COLUMNS)
    if args.open_only and args.rate is None:
        parser.error("--open-only needs --rate")
    for tool, why in (("wrk", "make bench-deps"), (NGINX, "apt install nginx"),
                      ("taskset", "util-linux")):  # fmt: skip
        if shutil.which(tool) is None and not Path(tool).exists():
            sys.exit(f"{tool} is needed ({why})")
    gen_cpus, server_cpus = _cpus(args.generator_cpus), _cpus(args.server_cpus)
    with tempfile.TemporaryDirectory(prefix="botwarden-bench-") as tmp, \
            DemoServer(process=True) as origin:  # fmt: skip
        root = Path(tmp)
        db = f"sqlite:///{root / 'bw.db'}"
        prepare_store(db)
        ports = Ports(origin.port, *(free_port() for _ in range(4)))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOTWARDEN_ANALYTICS_FSYNC": "false"}
        edge = subprocess.Popen(
            [sys.executable, "-m", "botwarden.edge.cli", "serve", "--role", "edge",
             "--origin", origin.url, "--listen", f"127.0.0.1:{ports.edge}",
             "--admin", f"127.0.0.1:{ports.admin}", "--database", db,
             "--data-dir", str(root / "data"), "--trusted-proxy", "127.0.0.1/32",
             "--zone", ZONE],
            env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_listening("127.0.0.1", ports.edge, timeout=60)
            blocks = [
                upstream_block("origin", f"127.0.0.1:{origin.port}"),
                upstream_block("botwarden", f"127.0.0.1:{ports.edge}"),
                proxy_server(f"127.0.0.1:{ports.proxy}", "origin"),
                forward_auth_server(f"127.0.0.1:{ports.auth}", "botwarden", "origin"),
            ]
            with NginxProcess(root / "nginx", blocks) as nginx:
                nginx.wait_port(ports.proxy)
                nginx.wait_port(ports.auth)
                servers = [edge.pid, origin_pid(origin)]
                servers += [nginx.process.pid] if nginx.process else []
                for pid in servers:
                    if server_cpus:
                        pin(pid, server_cpus)
                    if args.nice:
                        renice(pid, args.nice)
                if args.nice:
                    os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # wrk inherits it
                bench = Bench(ports, args, edge.pid, origin_pid(origin), gen_cpus)
                bench.run()
            metrics = _admin_metrics(ports.admin)
        finally:
            edge.terminate()
            edge.wait(timeout=30)
    bench.summary(metrics, gen_cpus, server_cpus)


def origin_pid(origin: DemoServer) -> int:
    child = origin._child  # the demo shop's process (DemoServer(process=True))
    if child is None:
        raise RuntimeError("the origin runs in this process: nothing to pin")
    return child.pid


class Ports:
    def __init__(self, origin: int, edge: int, admin: int, proxy: int, auth: int) -> None:
        self.origin, self.edge, self.admin, self.proxy, self.auth = (
            origin, edge, admin, proxy, auth)  # fmt: skip


class Bench:
    """The rows: (a)-(d) closed loop, then `rounds` x (a), (b), (c) open loop at one rate."""

    def __init__(
        self, ports: Ports, args: argparse.Namespace, edge_pid: int, origin_pid: int,
        cpus: set[int] | None,
    ) -> None:  # fmt: skip
        self.ports = ports
        self.args = args
        self.edge_pid = edge_pid
        self.origin_pid = origin_pid
        self.cpus = cpus
        self.rows: list[dict[str, Any]] = []
        self.rounds: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
        self.closed: dict[str, dict[str, Any]] = {}

    def measured(self, case: str, conns: Any, run: Any, edge: bool) -> dict[str, Any]:
        load0 = os.getloadavg()[0]
        writers = children(self.edge_pid)
        e0, w0 = cpu_seconds(self.edge_pid), sum(cpu_seconds(p) for p in writers)
        o0 = cpu_seconds(self.origin_pid)
        stalls0 = _edge_stalls(self.ports.admin) if edge else None
        q0 = runqueue_wait(self.origin_pid), runqueue_wait(self.edge_pid)
        r = run()
        q1 = runqueue_wait(self.origin_pid), runqueue_wait(self.edge_pid)
        row: dict[str, Any] = {"case": case, "connections": conns, **r}
        row["origin_wait_ms"] = round((q1[0] - q0[0]) * 1000)
        if r["requests"]:
            row["origin_cpu_us"] = round((cpu_seconds(self.origin_pid) - o0) / r["requests"] * 1e6)
        if edge:
            row["edge_wait_ms"] = round((q1[1] - q0[1]) * 1000)
        if edge and r["requests"]:
            n = r["requests"]
            row["edge_cpu_us"] = round((cpu_seconds(self.edge_pid) - e0) / n * 1e6)
            row["writer_cpu_us"] = round((sum(cpu_seconds(p) for p in writers) - w0) / n * 1e6)
        if stalls0 is not None:
            row["edge_stalls"] = _stall_delta(stalls0, _edge_stalls(self.ports.admin))
        row["load_1m"] = f"{load0:.1f}-{os.getloadavg()[0]:.1f}"
        self.rows.append(row)
        print(f"{case}: {row}", flush=True)
        return row

    def run(self) -> None:
        a, p = self.args, self.ports
        cases = [
            ("(a) origin directly", p.origin, False),
            ("(b) nginx proxy_pass", p.proxy, False),
            ("(c) Botwarden edge, 20 rules, analytics", p.edge, True),
            ("(d) nginx auth_request to Botwarden", p.auth, True),
        ]
        for case, port, edge in cases:
            url = f"http://127.0.0.1:{port}{PATH}"
            wrk(url, 4, 2.0, self.cpus)  # warm up: connections, caches, the edge's engines
            if a.open_only:
                continue
            self.closed[case[:3]] = self.measured(
                case, a.connections,
                lambda url=url: wrk(url, a.connections, a.duration, self.cpus), edge,
            )  # fmt: skip
        rate = a.rate if a.rate is not None else self.closed["(c)"]["rps"] / 2
        for _ in range(a.rounds):
            trio = []
            for case, port, edge in (("(a) origin, open loop", p.origin, False),
                                     ("(b) nginx proxy_pass, open loop", p.proxy, False),
                                     ("(c) Botwarden edge, open loop", p.edge, True)):  # fmt: skip
                url = f"http://127.0.0.1:{port}{PATH}"
                trio.append(self.measured(
                    case, f"open {a.open_connections}",
                    lambda url=url: open_loop(url, rate, a.duration, a.open_connections,
                                              self.cpus), edge,
                ))  # fmt: skip
            self.rounds.append((trio[0], trio[1], trio[2]))

    def summary(
        self, metrics: dict[str, float], gen: set[int] | None, servers: set[int] | None
    ) -> None:
        added = [c["p99_ms"] - a["p99_ms"] for a, _, c in self.rounds]
        floor = [b["p99_ms"] - a["p99_ms"] for a, b, _ in self.rounds]
        rate = self.rounds[0][0]["rate"]
        mid = sorted(range(len(added)), key=added.__getitem__)[len(added) // 2]
        for i, (x, f) in enumerate(zip(added, floor, strict=True)):
            print(f"round {i + 1}: Botwarden's added p99 {x:.2f} ms, nginx's {f:.2f} ms, "
                  f"load {self.rounds[i][2]['load_1m']}")  # fmt: skip
        print(f"edge metrics after the run: {metrics}")
        columns = ("case", "connections", "rps", "rate", "p50_ms", "p99_ms", "p999_ms",
                   "max_ms", "non_2xx", "requests", "unanswered", "late_sends", "edge_cpu_us",
                   "writer_cpu_us", "origin_cpu_us", "origin_wait_ms", "edge_wait_ms",
                   "load_1m")  # fmt: skip
        table = [{k: r.get(k, "") for k in columns} for r in self.rows]
        targets: dict[str, str] = {}
        b, c = self.closed.get("(b)"), self.closed.get("(c)")
        if b and c:
            ratio = c["rps"] / b["rps"] if b["rps"] else 0.0
            targets["(c) >= 0.25 x (b) requests/s"] = (
                f"{ratio:.2f} x ({'met' if ratio >= 0.25 else 'NOT met'})")  # fmt: skip
            targets["edge CPU per request, (c) closed loop"] = (
                f"{c.get('edge_cpu_us', '?')} µs (+ {c.get('writer_cpu_us', '?')} µs in the "
                "analytics writer process)")  # fmt: skip
        targets[f"added p99 <= 2 ms at {rate:.0f} req/s"] = (
            f"{added[mid]:.2f} ms ({'met' if added[mid] <= 2.0 else 'NOT met'}"
            f"{', median of ' + str(len(added)) + ' rounds' if len(added) > 1 else ''}); "
            f"nginx proxy_pass adds {floor[mid]:.2f} ms in the same round (the noise floor)"
        )
        a_closed = self.closed.get("(a)")
        if c and a_closed and self.rounds:
            a_open, _, c_open = self.rounds[mid]  # the median round above
            parts = []
            pairs = (("edge", c, c_open, "edge_cpu_us"),
                     ("origin", a_closed, a_open, "origin_cpu_us"))  # fmt: skip
            for who, closed, opened, key in pairs:
                if closed.get(key) and opened.get(key):
                    parts.append(f"{who} {closed[key]} -> {opened[key]} µs "
                                 f"({opened[key] / closed[key]:.1f}x)")  # fmt: skip
            targets["CPU per request, closed -> open loop"] = ", ".join(parts) or "?"
        for i, (_, _, c_row) in enumerate(self.rounds):
            targets[f"(c) open loop, round {i + 1}: the edge"] = (
                f"{c_row.get('edge_stalls', '?')}; its main thread waited "
                f"{c_row.get('edge_wait_ms', '?')} ms for a CPU, the origin's "
                f"{c_row.get('origin_wait_ms', '?')} ms")  # fmt: skip
        targets["load generator"] = (
            "wrk, closed loop; wrk + bench/open_loop.lua, open loop (latency from the "
            "scheduled time)"
        )
        targets["pinning"] = (
            f"generator on CPUs {sorted(gen) if gen else 'any'}, servers on "
            f"{sorted(servers) if servers else 'any'}; {os.cpu_count()} CPUs"
        )
        report("edge", table, targets)


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text: str = r.read().decode()
    return text


_HISTOGRAMS = {
    "botwarden_edge_loop_lag_seconds": "lag",
    "botwarden_edge_decision_seconds": "decision",
    "botwarden_edge_upstream_seconds": "upstream",
}


def _edge_stalls(port: int) -> dict[str, float]:
    """The edge's loop-lag, decision and upstream histograms and GC pauses, flattened:
    `<what>_le_<bound>`, `<what>_count`, `gc<gen>_count`, `gc<gen>_sum`."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(_scrape(port)):
        for s in family.samples:
            base, _, what = s.name.rpartition("_")
            if base in _HISTOGRAMS and what == "bucket":
                out[f"{_HISTOGRAMS[base]}_le_{s.labels['le']}"] = s.value
            elif base in _HISTOGRAMS and what == "count":
                out[f"{_HISTOGRAMS[base]}_count"] = s.value
            elif base == "botwarden_edge_gc_pause_seconds" and what in ("count", "sum"):
                out[f"gc{s.labels['generation']}_{what}"] = s.value
    return out


def _stall_delta(before: dict[str, float], after: dict[str, float]) -> str:
    """Where one row's time went in the edge: how often the loop was held up (lag above
    2.5, 10, 50 ms), decisions (score, session, rules: the edge's own CPU) and the origin's
    answers (to its response head) above 2.5 and 10 ms, and the collections."""
    if "lag_count" not in after:
        return "no loop-lag metrics (an edge without botwarden/edge/stalls.py)"
    d = {k: v - before.get(k, 0.0) for k, v in after.items()}

    def over(what: str, ms: float) -> str:
        n = d.get(f"{what}_count", 0.0) - d.get(f"{what}_le_{ms / 1000!r}", 0.0)
        return f">{ms:g} ms: {n:.0f}"

    def p99(what: str) -> str:
        """The histogram bucket that holds the 99th percentile, as "<= bound"."""
        total = d.get(f"{what}_count", 0.0)
        bounds = sorted(float(k.rpartition("_")[2]) for k in d
                        if k.startswith(f"{what}_le_") and not k.endswith("+Inf"))  # fmt: skip
        for b in bounds:
            if d[f"{what}_le_{b!r}"] >= 0.99 * total:
                return f"p99 <= {b * 1000:g} ms"
        return f"p99 > {bounds[-1] * 1000:g} ms" if bounds else "p99 ?"

    parts = [
        f"loop lag {', '.join(over('lag', ms) for ms in (2.5, 10, 50))} "
        f"of {d['lag_count']:.0f} probes",
        f"decisions {p99('decision')}, {', '.join(over('decision', ms) for ms in (2.5, 10))}",
        f"origin answers {p99('upstream')}, "
        f"{', '.join(over('upstream', ms) for ms in (2.5, 10))}",
        "GC " + ", ".join(f"gen{g} {d.get(f'gc{g}_count', 0):.0f} x "
                          f"{d.get(f'gc{g}_sum', 0) * 1000:.1f} ms" for g in range(3)),
    ]  # fmt: skip
    return "; ".join(parts)


def _admin_metrics(port: int) -> dict[str, float]:
    text = _scrape(port)
    out: dict[str, float] = {}
    for name in ("botwarden_edge_upstream_errors_total", "botwarden_analytics_events_total"):
        for line in text.splitlines():
            if line.startswith(name):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
    return out


if __name__ == "__main__":
    main()
