"""Scoring speed: the in-process pipeline per request, and `botwarden score` on a file.

Baselines measured in the same run: building the RequestContext alone (the floor for
the pipeline), and reading + parsing + re-serialising the same file with orjson (the
floor for the CLI).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.common import percentile, report
from botwarden.engines import default_engines
from botwarden.inputs import context_from_record
from botwarden.scoring import Pipeline
from botwarden.testing.samples import sample_records

N_PIPELINE = 50_000
N_FILE = 200_000


def bench_pipeline() -> list[dict[str, object]]:
    records = sample_records(N_PIPELINE, seed=1)
    pipeline = Pipeline(default_engines())
    # Warm caches the way a running edge has them warm (user agents repeat).
    for r in records[:2000]:
        pipeline.score(context_from_record(r))
    perf = time.perf_counter_ns
    cpu = time.thread_time_ns
    build: list[float] = []
    full: list[float] = []
    full_cpu: list[float] = []
    for r in records:
        t0 = perf()
        ctx = context_from_record(r)
        t1 = perf()
        c1 = cpu()
        pipeline.score(ctx)
        c2 = cpu()
        t2 = perf()
        build.append((t1 - t0) / 1000)
        full.append((t2 - t1) / 1000)
        full_cpu.append((c2 - c1) / 1000)
    rows = []
    # Wall time is what a request waits; thread CPU time is the same work without the
    # preemption a shared 2-core machine adds, so the two together separate cost from noise.
    for case, values in (
        ("context from record (baseline, wall)", build),
        ("pipeline.score (wall)", full),
        ("pipeline.score (thread CPU time)", full_cpu),
    ):
        values.sort()
        rows.append(
            {
                "case": case,
                "n": len(values),
                "p50_us": percentile(values, 50),
                "p90_us": percentile(values, 90),
                "p99_us": percentile(values, 99),
            }
        )
    return rows


def bench_file() -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.jsonl"
        with path.open("wb") as fh:
            for r in sample_records(N_FILE, seed=2):
                fh.write(orjson.dumps(r) + b"\n")
        # Baseline: parse and re-serialise every line, no scoring.
        t0 = time.perf_counter()
        with path.open("rb") as fh, open(Path(tmp) / "out0", "wb") as out:
            for line in fh:
                out.write(orjson.dumps(orjson.loads(line)) + b"\n")
        base = time.perf_counter() - t0
        rows.append(
            {
                "case": "orjson read+write (baseline)",
                "n": N_FILE,
                "req_per_s": N_FILE / base,
                "seconds": base,
            }
        )
        botwarden = Path(sys.executable).parent / "botwarden"
        for args, case in (
            (["--workers", "1"], "botwarden score FILE --workers 1 > out"),
            ([], "botwarden score FILE > out (one worker per CPU)"),
            (["--summary"], "botwarden score FILE --summary (one worker per CPU)"),
        ):
            t0 = time.perf_counter()
            with open(Path(tmp) / "out1", "wb") as out:
                subprocess.run([str(botwarden), "score", str(path), *args], stdout=out, check=True)
            elapsed = time.perf_counter() - t0
            rows.append(
                {"case": case, "n": N_FILE, "req_per_s": N_FILE / elapsed, "seconds": elapsed}
            )
    return rows


def main() -> None:
    report(
        "score_pipeline",
        bench_pipeline(),
        {"pipeline.score p50": "<= 20 us", "pipeline.score p99": "<= 60 us"},
    )
    report("score_file", bench_file(), {"botwarden score FILE": ">= 20,000 requests/s"})


if __name__ == "__main__":
    main()
