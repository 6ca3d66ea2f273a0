"""Bot Analytics in a real browser over 1,000,000 simulated events.

    .venv/bin/python -m bench.dashboard [--events 1000000] [--loads 7] [--rebuild]

Fills a DuckDB file with simulated traffic scored by the real pipeline (one zone, 24 hours;
built once and kept in bench/results/, as building takes minutes), serves the API with
the dashboard on a real uvicorn in its own process, signs in with Chromium and times the
Bot Analytics page from navigation to every chart drawn (`window.bwChartsDrawn`, set by
dashboard.js after uPlot has painted), over several loads. The baseline, measured in the
same run, is the same page over an empty zone of the same store: what the page costs
without data. Also reports the static assets' size, gzipped (target ≤ 200 KB).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import RESULTS, percentile, report

CHROMIUM = "/usr/bin/chromium"
ZONE = "b0f0a7d0c0de4b1dbe11c4a1a1ab0001"
EMPTY_ZONE = "b0f0a7d0c0de4b1dbe11c4a1a1ab0002"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"
HOURS = 24.0


def static_sizes() -> list[dict[str, Any]]:
    from botwarden.dashboard import STATIC_DIR

    rows = []
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".js", ".css"):
            raw = path.read_bytes()
            rows.append(
                {
                    "what": str(path.relative_to(STATIC_DIR)),
                    "bytes": len(raw),
                    "gzip_bytes": len(gzip.compress(raw, 9)),
                }
            )
    return rows


def ensure_data(path: Path, events: int, rebuild: bool) -> dict[str, Any]:
    """The events file (built if missing, for another size, or asked to), and its window."""
    meta_path = path.with_suffix(".json")
    if not rebuild and path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if meta.get("target") == events:
            return meta
    from botwarden.analytics.duckdb import DuckDBBackend
    from botwarden.dashboard.sample_data import fill_zone

    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    backend = DuckDBBackend(str(path))
    backend.ensure_schema()
    end = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()

    def progress(n: int) -> None:
        rate = n / max(time.perf_counter() - t0, 1e-9)
        print(f"  {n:,} events stored ({rate:,.0f}/s)", file=sys.stderr, flush=True)

    print(f"building {events:,} simulated events into {path} …", file=sys.stderr)
    n = fill_zone(backend, ZONE, hours=HOURS, rps=events / (HOURS * 3600), seed=10,
                  end=end, batch_size=100_000, progress=progress)  # fmt: skip
    backend.close()
    meta = {
        "target": events,
        "events": n,
        "zone": ZONE,
        "since": (end - timedelta(hours=HOURS)).isoformat(),
        "until": end.isoformat(),
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def serve(database: str, events_path: str, port: int) -> None:
    """The server process: the API with the dashboard over the store and the events."""
    import uvicorn

    from botwarden import store
    from botwarden.analytics.duckdb import DuckDBBackend
    from botwarden.api.analytics import QueriesSource
    from botwarden.api.app import create_app

    backend = DuckDBBackend(events_path, read_only=True)
    app = create_app(store.open(database), analytics_source=QueriesSource(backend))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _store(tmp: Path) -> str:
    from botwarden import store
    from botwarden.store import Plan

    url = f"sqlite:///{tmp / 'bench.db'}"
    st = store.open(url)
    acct = st.create_account("Bench")
    user, _ = st.create_user(EMAIL, account_ids=[acct.id])
    st.set_password(user.id, PASSWORD)
    st.create_zone(acct.id, "bench.example", Plan.ENTERPRISE, id=ZONE)
    st.create_zone(acct.id, "empty.example", Plan.ENTERPRISE, id=EMPTY_ZONE)
    st.close()
    return url


def _loads(page: Any, url: str, n: int) -> list[dict[str, float]]:
    """Navigate n times; each: ms from navigation start to the response's first byte and
    to every chart drawn (window.bwChartsDrawn, a performance.now() time)."""
    out = []
    for _ in range(n):
        page.goto(url)
        page.locator("html[data-charts=drawn]").wait_for(state="attached", timeout=60_000)
        out.append(
            page.evaluate(
                """() => ({drawn: window.bwChartsDrawn,
                   ttfb: performance.getEntriesByType('navigation')[0].responseStart})"""
            )
        )
    return out


def _row(case: str, samples: list[dict[str, float]], events: int) -> dict[str, Any]:
    drawn = sorted(s["drawn"] for s in samples)
    ttfb = sorted(s["ttfb"] for s in samples)
    return {
        "case": case,
        "events": events,
        "loads": len(samples),
        "p50_drawn_ms": round(percentile(drawn, 50), 1),
        "max_drawn_ms": round(drawn[-1], 1),
        "p50_server_ms": round(percentile(ttfb, 50), 1),
    }


def bench_browser(meta: dict[str, Any], events_path: Path, loads: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    window = f"?since={meta['since'][:19]}Z&until={meta['until'][:19]}Z"
    with tempfile.TemporaryDirectory() as tmp:
        database = _store(Path(tmp))
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.dashboard", "--serve", database, str(events_path),
             str(port)],
        )  # fmt: skip
        try:
            _wait_port(port, proc)
            base = f"http://127.0.0.1:{port}/dashboard"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                    page.goto(base + "/sign-in")
                    page.get_by_label("E-mail").fill(EMAIL)
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url(base + "/")
                    full = f"{base}/zones/{ZONE}/analytics{window}"
                    empty = f"{base}/zones/{EMPTY_ZONE}/analytics{window}"
                    cold = _loads(page, full, 1)
                    rows = [
                        _row("baseline: empty zone", _loads(page, empty, loads), 0),
                        _row("24 h, first load", cold, meta["events"]),
                        _row("24 h", _loads(page, full, loads), meta["events"]),
                        _row(
                            "24 h, score ≤ 29",
                            _loads(page, full + "&score_max=29", loads),
                            meta["events"],
                        ),
                    ]
                finally:
                    browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--data-only", action="store_true", help="build the events and stop")
    parser.add_argument("--serve", nargs=3, metavar=("DATABASE", "EVENTS", "PORT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    RESULTS.mkdir(exist_ok=True)
    events_path = RESULTS / f"dashboard-{args.events}.duckdb"
    meta = ensure_data(events_path, args.events, args.rebuild)
    if args.data_only:
        print(json.dumps(meta))
        return
    load_before = os.getloadavg()
    rows = bench_browser(meta, events_path, args.loads)
    load_after = os.getloadavg()
    sizes = static_sizes()
    total = sum(r["gzip_bytes"] for r in sizes)
    for r in rows:
        r["load_avg"] = f"{load_before[0]:.2f}→{load_after[0]:.2f}"
    rows.append({"case": f"static assets, gzipped: {total / 1024:.1f} KB", "events": "—",
                 "loads": "—", "p50_drawn_ms": "—", "max_drawn_ms": "—", "p50_server_ms": "—",
                 "load_avg": ""})  # fmt: skip
    report(
        "dashboard",
        rows,
        {
            "Bot Analytics drawn (p50, 1,000,000 events)": "≤ 1000 ms",
            "static assets gzipped": "≤ 200 KB",
        },
    )
    print("static assets:", ", ".join(f"{r['what']} {r['gzip_bytes']:,} B" for r in sizes))


if __name__ == "__main__":
    main()
