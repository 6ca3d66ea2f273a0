"""Simulator speed: labelled events per minute, and how well live traffic holds its rate.

Events: the default scenario generated and written to Parquet, beside two baselines
measured in the same run — generation without writing (so the write cost shows), and the
hand-written sample mix (`testing/samples.py`) building its records, the floor of any
Python generator that makes one dict per request.

Live: the target is nginx (one worker) answering every request with a static 200 on
loopback — a sink fast enough that the rows measure the driver, not the target. The
driver sends the default mix for a fixed time at each rate from this one process: from
200 requests/s up through the pooled HTTP/1.1 engine (`h1`) plus the real curl binary for
the curl population; the 50/s row also drives Chromium, whose navigations cost real CPU.
The baseline, measured in the same run, is the per-library engines (aiohttp, curl_cffi,
curl: `pooled=False`) asked for 2,000/s. Rate error = achieved / target − 1.

    python -m bench.simulate [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import report
from botwarden.simulate.events import Generator, write_parquet
from botwarden.simulate.scenario import load_scenario, scenarios_dir

TARGET_EVENTS_PER_MIN = 1_000_000


def bench_events(hours: float, rps: float) -> list[dict[str, Any]]:
    sc = load_scenario(scenarios_dir() / "default.yaml").with_overrides(hours=hours, rps=rps)
    Generator(sc.with_overrides(hours=0.01))  # load browser data and caches first
    rows = []
    t0 = time.perf_counter()
    n = sum(b.num_rows for b in Generator(sc, seed=1).batches())
    gen = time.perf_counter() - t0
    rows.append(_event_row("generate only (baseline)", n, gen))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.parquet"
        t0 = time.perf_counter()
        n = write_parquet(sc, out, seed=1)
        full = time.perf_counter() - t0
        size = out.stat().st_size
    row = _event_row("generate + write Parquet", n, full)
    row["bytes_per_event"] = round(size / n, 1)
    rows.append(row)
    from botwarden.testing.samples import sample_records

    k = min(n, 200_000)
    t0 = time.perf_counter()
    sample_records(k, seed=1)
    rows.append(_event_row("testing.samples records (baseline)", k, time.perf_counter() - t0))
    return rows


_BLANK = {"case": "", "n": 0, "seconds": 0.0, "per_s": 0.0, "M_per_min": 0.0,
          "bytes_per_event": 0.0, "target_rps": 0.0, "error_pct": 0.0, "max_in_1s": 0,
          "skipped": 0, "errors": 0, "load_1m": "", "why": ""}  # fmt: skip


def _row(**values: Any) -> dict[str, Any]:
    """Every row has every column (the table and the JSON take columns from row one)."""
    return {**_BLANK, **values}


def _event_row(case: str, n: int, seconds: float) -> dict[str, Any]:
    return _row(case=case, n=n, seconds=round(seconds, 2), per_s=round(n / seconds),
                M_per_min=round(n / seconds * 60 / 1e6, 2))  # fmt: skip


SINK = """server {
    listen 127.0.0.1:%d;
    keepalive_requests 1000000;
    access_log off;
    location / { return 200 "ok"; }
}
"""
SINK_NAME = "nginx, 1 worker, static 200 on loopback"


def _live_row(case: str, r: Any, rps: float, duration: float, load0: float) -> dict[str, Any]:
    err = (r.achieved_rps - rps) / rps * 100
    failed = sum(r.errors.values()) + sum(n for s, n in r.statuses.items() if s == 0)
    return _row(
        case=f"{case}, {'+'.join(sorted(r.by_engine))}", n=r.sent, seconds=duration,
        per_s=round(r.achieved_rps, 1), target_rps=rps, error_pct=round(err, 2),
        max_in_1s=r.max_per_second(), skipped=sum(r.skipped.values()), errors=failed,
        load_1m=f"{load0:.1f}-{os.getloadavg()[0]:.1f}",
        why=", ".join(f"{k}: {v}" for k, v in {**r.skipped, **r.errors}.items()),
    )  # fmt: skip


def bench_live(rates: list[float], duration: float) -> list[dict[str, Any]]:
    from botwarden.edge.nginx import NginxProcess, free_port
    from botwarden.simulate.traffic import run_traffic

    sc = load_scenario(scenarios_dir() / "default.yaml")
    rows = []
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, NginxProcess(Path(tmp), [SINK % port]) as sink:
        sink.wait_port(port)
        url = f"http://127.0.0.1:{port}"
        base = max(rates)
        load0 = os.getloadavg()[0]
        r = run_traffic(sc, url, rps=base, duration=duration, seed=0,
                        engines=["aiohttp", "curl_cffi", "curl"], pooled=False)  # fmt: skip
        rows.append(_live_row("baseline: per-library engines", r, base, duration, load0))
        for i, rps in enumerate(rates):
            engines = ["aiohttp", "curl_cffi", "curl"] + (["chromium"] if i == 0 else [])
            load0 = os.getloadavg()[0]
            r = run_traffic(sc, url, rps=rps, duration=duration, seed=i, engines=engines)
            rows.append(_live_row("live, default mix", r, rps, duration, load0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--live-only", action="store_true", help="skip event generation")
    args = parser.parse_args()
    hours, rps = (0.2, 300.0) if args.quick else (1.0, 300.0)
    rates = [50.0, 500.0, 1000.0, 2000.0] if not args.quick else [50.0, 500.0]
    duration = 5.0 if args.quick else 15.0
    rows = [] if args.live_only else bench_events(hours, rps)
    best = max((r["per_s"] for r in rows if r["case"].startswith("generate +")), default=0)
    live = bench_live(rates, duration)
    load = os.getloadavg()[0]
    top = live[-1]
    held = abs(top["error_pct"]) <= 5.0
    report(
        "simulate-live" if args.live_only else "simulate",
        rows + live,
        {
            "events": f">= {TARGET_EVENTS_PER_MIN:,}/min (measured {best * 60:,.0f}/min)"
            if rows else "not run (--live-only)",
            "live": "up to 2,000 req/s from one process, achieved rate within 5 % of target: "
            f"{top['per_s']}/s of {top['target_rps']:g}/s, {top['error_pct']:+.2f} % "
            f"({'met' if held else 'NOT met'}), {top['errors']} failed",
            "live target": SINK_NAME,
            "machine load (1 min) at the end": f"{load:.1f}",
        },
    )  # fmt: skip


if __name__ == "__main__":
    main()
