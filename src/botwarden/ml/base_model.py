"""The recipe for the packaged base model (`make model`): fixed simulator seeds in, the
same model.onnx and model.txt out, every time.

Training data: the `default` scenario, one hour at 100 requests/s from each of four
starting hours (night, morning, afternoon, evening: the human share swings over the
day), seeds 1–4. Hold-out for the evaluation report: the same scenario from 15:00 with
seed 1001, which no training or tuning step ever reads.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TRAIN_RUNS: tuple[tuple[int, str], ...] = (
    (1, "2026-01-05T02:00:00Z"),
    (2, "2026-01-05T08:00:00Z"),
    (3, "2026-01-05T13:00:00Z"),
    (4, "2026-01-05T20:00:00Z"),
)
HOLDOUT_RUN: tuple[int, str] = (1001, "2026-01-05T15:00:00Z")
SCENARIO = "default"
HOURS = 1.0
RPS = 100.0
THREADS = 2  # part of the recipe: LightGBM is deterministic for a fixed thread count


@dataclass(frozen=True, slots=True)
class BuiltModel:
    directory: Path
    meta: dict[str, object]
    report: Path | None


def corpus(out: Path, seed: int, start: str, *, hours: float = HOURS, rps: float = RPS) -> Path:
    """Generate one simulator run (skipped when the file exists: runs are deterministic)."""
    from datetime import datetime

    from botwarden.simulate.cli import resolve_scenario
    from botwarden.simulate.events import write_parquet
    from botwarden.simulate.scenario import load_scenario

    if not out.exists():
        when = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        sc = load_scenario(resolve_scenario(SCENARIO)).with_overrides(
            hours=hours, rps=rps, start=when
        )
        tmp = out.with_suffix(".tmp")
        write_parquet(sc, tmp, seed=seed)
        tmp.replace(out)
    return out


def build(
    out: Path | None = None,
    *,
    workdir: Path | None = None,
    report: Path | None = None,
    hours: float = HOURS,
    rps: float = RPS,
    progress: Callable[[str, float, float], None] | None = None,
) -> BuiltModel:
    """Generate the corpora, train, write the model to `out` (default: the package's
    `data/models/base`) and, with `report`, evaluate it on the hold-out there."""
    from botwarden.ml.registry import base_model_dir
    from botwarden.ml.train import TrainConfig, train

    note = progress or (lambda _s, _d, _t: None)
    dest = out or base_model_dir()
    tmpdir = None
    if workdir is None:
        tmpdir = tempfile.mkdtemp(prefix="botwarden-model-")
        workdir = Path(tmpdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        files = []
        for i, (seed, start) in enumerate(TRAIN_RUNS):
            note("simulating", i, len(TRAIN_RUNS))
            name = f"train-{seed}-{hours:g}h-{rps:g}rps.parquet"
            files.append(corpus(workdir / name, seed, start, hours=hours, rps=rps))
        note("simulating", len(TRAIN_RUNS), len(TRAIN_RUNS))
        staging = workdir / "base"
        if staging.exists():
            shutil.rmtree(staging)
        result = train(files, staging, TrainConfig(num_threads=THREADS, seed=0),
                       description="base model (make model)", progress=note)  # fmt: skip
        dest.mkdir(parents=True, exist_ok=True)
        for f in ("model.onnx", "model.txt", "meta.json"):
            shutil.copyfile(staging / f, dest / f)
        report_file = None
        if report is not None:
            from botwarden.ml.dataset import load
            from botwarden.ml.evaluate import evaluate
            from botwarden.ml.model import Model

            seed, start = HOLDOUT_RUN
            note("hold-out", 0, 1)
            hold = corpus(workdir / f"holdout-{seed}-{hours:g}h-{rps:g}rps.parquet", seed, start,
                          hours=hours, rps=rps)  # fmt: skip
            data = load([hold])
            rep = evaluate(Model(dest), data, report, name="base", progress=note)
            report_file = rep.files[1]
        return BuiltModel(dest, result.meta, report_file)
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
