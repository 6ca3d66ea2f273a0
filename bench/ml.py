"""Machine-learning engine figures: inference, the engine, the pipeline with ML, batch
scoring and training on a million rows.

Serving figures replay a simulator run in time order through fresh engines (so the
per-client windows fill as they would on an edge) and report wall time and thread CPU
time. Each case runs three times with fresh contexts and state, and the run with the
lowest median is kept: the machine is shared, and other tenants only ever add time. The
pipeline is also measured on bench/score.py's sample records, with and without the ML
engines, in the same run.

    .venv/bin/python -m bench.ml [--quick] [--serving-only] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import percentile, report
from botwarden.engines import default_engines
from botwarden.engines.ml import MLEngine
from botwarden.inputs import context_from_record
from botwarden.ml.adapters import contexts, read_events
from botwarden.ml.base_model import corpus
from botwarden.ml.dataset import load
from botwarden.ml.model import Model
from botwarden.ml.registry import base_model_dir
from botwarden.ml.train import TrainConfig, fit
from botwarden.request import RequestContext
from botwarden.scoring import Pipeline
from botwarden.testing.samples import sample_records

perf = time.perf_counter_ns
cpu = time.thread_time_ns


def _row(case: str, wall: list[float], cpu_: list[float] | None = None) -> list[dict[str, Any]]:
    out = []
    for kind, values in (("wall", wall), ("thread CPU", cpu_)):
        if values is None:
            continue
        values = sorted(values)
        out.append(
            {
                "case": f"{case} ({kind})",
                "n": len(values),
                "p50_us": percentile(values, 50),
                "p90_us": percentile(values, 90),
                "p99_us": percentile(values, 99),
            }
        )
    return out


def _timed(items: list[Any], fn: Callable[[Any], object]) -> tuple[list[float], list[float]]:
    wall: list[float] = []
    cpus: list[float] = []
    gc.collect()
    gc.freeze()  # the inputs are long-lived: keep the collector off them while timing
    for item in items:
        c0 = cpu()
        t0 = perf()
        fn(item)
        t1 = perf()
        c1 = cpu()
        wall.append((t1 - t0) / 1000)
        cpus.append((c1 - c0) / 1000)
    gc.unfreeze()
    return wall, cpus


def _best_of(
    runs: int, make: Callable[[], tuple[list[Any], Callable[[Any], object]]]
) -> tuple[list[float], list[float]]:
    """The run with the lowest median of `runs` (fresh inputs and state each time): on a
    shared machine, other tenants only ever add time."""
    best: tuple[list[float], list[float]] | None = None
    for _ in range(runs):
        items, fn = make()
        got = _timed(items, fn)
        if best is None or sorted(got[0])[len(got[0]) // 2] < sorted(best[0])[len(best[0]) // 2]:
            best = got
    assert best is not None
    return best


def bench_serving(table: Any, n: int, model: Model, runs: int = 3) -> list[dict[str, Any]]:
    """Each case replays the same requests as fresh contexts through fresh engines."""

    def fresh() -> list[RequestContext]:
        return [c for c, _ in contexts(table.slice(0, n))]

    # Warm the process-wide caches (user agents, paths) the way a running edge has them.
    warm = MLEngine()
    for c in fresh()[:5000]:
        warm.evaluate(c, None)
    vectors = [MLEngine().extractor.extract(c) for c in fresh()]
    cases: list[tuple[str, Callable[[], tuple[list[Any], Callable[[Any], object]]]]] = [
        ("ONNX inference + calibration, 1 row", lambda: (vectors, model.score_one)),
        ("ONNX run only (io-binding)", lambda: (vectors, model.raw_one)),
        ("ML engine: features + inference", lambda: (fresh(), _evaluate(MLEngine()))),
        ("  of which features", lambda: (fresh(), MLEngine().extractor.extract)),
        ("pipeline with ML, simulator replay", lambda: (fresh(), _with_ml().score)),
        ("pipeline without ML, simulator replay", lambda: (fresh(), _without_ml().score)),
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for case, make in cases:
        rows += _row(case, *_best_of(runs, make))
    return rows


def _evaluate(engine: MLEngine) -> Callable[[RequestContext], object]:
    return lambda c: engine.evaluate(c, None)


def _with_ml() -> Pipeline:
    """The default pipeline, which includes the ML observer and engine."""
    pipeline = Pipeline(default_engines())
    assert sum(isinstance(e, MLEngine) for e in pipeline.engines) == 1
    return pipeline


def _without_ml() -> Pipeline:
    """The same run's baseline: verified bots and heuristics only."""
    return Pipeline(default_engines(ml=False))


def bench_sample_records(n: int, runs: int = 3) -> list[dict[str, Any]]:
    """bench/score.py's workload, with and without ML, in the same run."""
    records = sample_records(n, seed=1)
    warm = _with_ml()
    for r in records[:2000]:
        warm.score(context_from_record(r))

    def fresh() -> list[RequestContext]:
        return [context_from_record(r) for r in records]

    rows: list[dict[str, Any]] = []
    rows += _row(
        "pipeline with ML, sample records", *_best_of(runs, lambda: (fresh(), _with_ml().score))
    )
    rows += _row(
        "pipeline without ML, sample records",
        *_best_of(runs, lambda: (fresh(), _without_ml().score)),
    )
    return rows


def bench_batch(model: Model, X: np.ndarray, target_rows: int) -> list[dict[str, Any]]:
    reps = max(1, target_rows // len(X))
    big = np.ascontiguousarray(np.tile(X, (reps, 1)))
    rows = []
    for threads in (1, 2):
        m = Model(model.directory, batch_threads=threads)
        t0 = time.perf_counter()
        c0 = time.process_time()
        m.scores(big)
        wall, c = time.perf_counter() - t0, time.process_time() - c0
        rows.append(
            {
                "case": f"batch scoring, {threads} thread(s)",
                "n": len(big),
                "rows_per_s": len(big) / wall,
                "seconds": wall,
                "cpu_seconds": c,
            }
        )
    return rows


def bench_training(files: list[Path]) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    c0 = time.process_time()
    data = load(files)
    feat_wall, feat_cpu = time.perf_counter() - t0, time.process_time() - c0
    cfg = TrainConfig()
    t0 = time.perf_counter()
    c0 = time.process_time()
    _booster, _, metrics = fit(data, cfg)
    fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(data)
    return [
        {"case": "features (batch, from events)", "n": n, "rows_per_s": n / feat_wall,
         "seconds": feat_wall, "cpu_seconds": feat_cpu},
        {"case": f"LightGBM fit ({cfg.num_threads} threads, {metrics['trees']} trees kept)",
         "n": n, "rows_per_s": n / fit_wall, "seconds": fit_wall, "cpu_seconds": fit_cpu},
        {"case": "training total (features + fit)", "n": n,
         "rows_per_s": n / (feat_wall + fit_wall), "seconds": feat_wall + fit_wall,
         "cpu_seconds": feat_cpu + fit_cpu},
    ]  # fmt: skip


def _first_rows(path: Path, n: int) -> Path:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    out = path.with_name(f"{path.stem}-first{n}.parquet")
    if not out.exists():
        table = pq.read_table(str(path))
        if table.num_rows < n:
            raise SystemExit(f"{path} has {table.num_rows:,} rows, fewer than {n:,}")
        pq.write_table(table.slice(0, n), str(out), compression="zstd")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small corpora (a smoke run)")
    ap.add_argument("--keep", type=Path, help="keep (and reuse) generated corpora here")
    ap.add_argument("--serving-only", action="store_true", help="skip batch scoring and training")
    args = ap.parse_args()
    tmp = None
    work = args.keep
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-ml-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    serve_file = corpus(work / "serve.parquet", 77, "2026-01-05T18:00:00Z",
                        hours=0.1 if quick else 0.25, rps=100.0)  # fmt: skip
    table = read_events([serve_file])
    model = Model(base_model_dir())
    serving = bench_serving(table, 5_000 if quick else 40_000, model) + bench_sample_records(
        5_000 if quick else 30_000
    )
    report(
        "ml_serving",
        serving,
        {
            "ONNX inference p50": "<= 15 us",
            "ML engine p50": "<= 40 us",
            "pipeline with ML p50 / p99": "<= 60 us / <= 150 us",
        },
    )
    if args.serving_only:
        if tmp is not None:
            tmp.cleanup()
        return
    # a million training rows: the first million of 3.5 hours of the default scenario
    hours, rows = (0.25, 100_000) if quick else (3.5, 1_000_000)
    train_file = corpus(work / f"train-{hours:g}h.parquet", 78, "2026-01-05T09:00:00Z",
                        hours=hours, rps=111.0)  # fmt: skip
    training = bench_training([_first_rows(train_file, rows)])
    X = load([serve_file]).X
    batch = bench_batch(model, X, 200_000 if quick else 1_000_000)
    report(
        "ml_batch",
        batch + training,
        {"batch scoring": ">= 100,000 rows/s", "training on 1,000,000 rows": "<= 120 s"},
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
