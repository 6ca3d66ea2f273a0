"""Simulator speed: labelled events per minute, and how well live traffic holds its rate.

Events: the default scenario generated and written to Parquet, beside two baselines
measured in the same run — generation without writing (so the write cost shows), and the
hand-written sample mix (`testing/samples.py`) building its records, the floor of any
Python generator that makes one dict per request.

Live: the demo shop in its own process on loopback; the driver sends the default mix for
a fixed time at each rate (aiohttp, curl_cffi and curl; Chromium only in the low-rate row,
its navigations cost real CPU). The baseline is what one aiohttp client process gets from
the shop flat out (`/healthz`, 64 connections): the ceiling any rate row can reach here.

    python -m bench.simulate [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
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
          "skipped": 0, "errors": 0}  # fmt: skip


def _row(**values: Any) -> dict[str, Any]:
    """Every row has every column (the table and the JSON take columns from row one)."""
    return {**_BLANK, **values}


def _event_row(case: str, n: int, seconds: float) -> dict[str, Any]:
    return _row(case=case, n=n, seconds=round(seconds, 2), per_s=round(n / seconds),
                M_per_min=round(n / seconds * 60 / 1e6, 2))  # fmt: skip


async def _flat_out(url: str, n: int, connections: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as s:
        sem = asyncio.Semaphore(connections)

        async def one() -> None:
            async with sem, s.get(f"{url}/healthz") as r:
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0)


def bench_live(rates: list[float], duration: float) -> list[dict[str, Any]]:
    from botwarden.demo.server import DemoServer
    from botwarden.simulate.traffic import run_traffic

    sc = load_scenario(scenarios_dir() / "default.yaml")
    rows = []
    with DemoServer(process=True) as shop:
        ceiling = asyncio.run(_flat_out(shop.url, 5000, 64))
        rows.append(_row(case="aiohttp flat out, /healthz (baseline)", n=5000,
                         per_s=round(ceiling, 1)))  # fmt: skip
        for i, rps in enumerate(rates):
            engines = ["aiohttp", "curl_cffi", "curl"] + (["chromium"] if i == 0 else [])
            r = run_traffic(sc, shop.url, rps=rps, duration=duration, seed=i, engines=engines)
            err = (r.achieved_rps - rps) / rps * 100
            rows.append(_row(
                case=f"live, default mix, {'+'.join(sorted(r.by_engine))}", n=r.sent,
                seconds=duration, per_s=round(r.achieved_rps, 1), target_rps=rps,
                error_pct=round(err, 2), max_in_1s=r.max_per_second(),
                skipped=sum(r.skipped.values()), errors=sum(r.errors.values()),
            ))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = parser.parse_args()
    hours, rps = (0.2, 300.0) if args.quick else (1.0, 300.0)
    rates = [50.0, 500.0, 1000.0, 2000.0] if not args.quick else [50.0, 500.0]
    duration = 5.0 if args.quick else 15.0
    rows = bench_events(hours, rps)
    best = max(r["per_s"] for r in rows if r["case"].startswith("generate +"))
    live = bench_live(rates, duration)
    load = os.getloadavg()[0]
    report(
        "simulate",
        rows + live,
        {
            "events": f">= {TARGET_EVENTS_PER_MIN:,}/min (measured {best * 60:,.0f}/min)",
            "live": "up to 2,000 req/s from one process, achieved rate within 5 % of target",
            "machine load (1 min) at the end": f"{load:.1f}",
        },
    )


if __name__ == "__main__":
    main()
