"""`botwarden model …` commands, as plain functions the typer app wires up.

Each returns a process exit code and prints to the given streams; errors a user can fix
(a missing file, an unknown version) are one clear message and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from botwarden.errors import ConfigError

Progress = Callable[[str, float, float], None]


@contextmanager
def progress_bars(stream: TextIO, enabled: bool = True) -> Iterator[Progress]:
    """A `progress(step, done, total)` callback drawing one rich bar per step."""
    if not enabled:
        yield lambda _s, _d, _t: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bars = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def update(step: str, done: float, total: float) -> None:
        key = step.split(" ")[0] if step.startswith("reading") else step
        task = tasks.get(key)
        if task is None:
            task = tasks[key] = bars.add_task(step, total=max(total, 1))
        bars.update(task, completed=done, total=max(total, 1), description=step)

    with bars:
        yield update


def _registry(data_dir: Path | None) -> Any:
    from botwarden.ml.registry import Registry, default_root

    return Registry(data_dir / "models" if data_dir is not None else default_root())


def _fail(stderr: TextIO, exc: Exception) -> int:
    print(f"error: {exc}", file=stderr)
    return 2


def train_command(
    *,
    data: Sequence[Path],
    out: Path,
    rounds: int | None = None,
    threads: int | None = None,
    seed: int = 0,
    register: bool = False,
    parent: str | None = None,
    description: str = "",
    data_dir: Path | None = None,
    progress: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Train a model from labelled event files into OUT (model.onnx, model.txt,
    meta.json); with `register`, add it to the registry as the next candidate version."""
    from dataclasses import replace

    from botwarden.ml.train import TrainConfig, train

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    missing = [str(p) for p in data if not Path(p).is_file()]
    if missing:
        return _fail(stderr, ConfigError(f"no such data file: {', '.join(missing)}"))
    cfg = TrainConfig(seed=seed)
    if rounds is not None:
        cfg = replace(cfg, num_boost_round=rounds)
    if threads is not None:
        cfg = replace(cfg, num_threads=threads)
    try:
        with progress_bars(stderr, progress) as bar:
            result = train(data, out, cfg, parent=parent, description=description, progress=bar)
    except (ConfigError, ValueError) as exc:
        return _fail(stderr, exc)
    m = result.meta["metrics"]
    print(
        f"model → {out}: {m['trees']} trees, {result.meta['training_data']['rows']:,} rows; "
        f"validation: AUC {m['valid_auc']:.4f}, human FP {100 * m['valid_human_fp_rate']:.2f} %, "
        f"bot recall {100 * m['valid_bot_recall']:.2f} % "
        f"(features {result.seconds['features']:.1f} s, fit {result.seconds['fit']:.1f} s)",
        file=stdout,
    )
    if register:
        try:
            version = _registry(data_dir).add(out, parent=parent, description=description)
        except ConfigError as exc:
            return _fail(stderr, exc)
        print(f"registered as {version} (candidate)", file=stdout)
    return 0


def eval_command(
    version: str,
    *,
    data: Sequence[Path],
    out: Path | None = None,
    data_dir: Path | None = None,
    progress: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Evaluate VERSION (a registry version, `base`, or a model directory) on labelled
    events; writes <out>/eval.json, eval.md and the PNG plots."""
    from botwarden.ml.dataset import load
    from botwarden.ml.evaluate import evaluate
    from botwarden.ml.model import Model
    from botwarden.ml.registry import base_model_dir

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        if version == "base":
            directory = base_model_dir()
        elif Path(version).is_dir():
            directory = Path(version)
        else:
            directory = _registry(data_dir).directory(version)
        model = Model(directory)
        dest = out or directory / "eval"
        with progress_bars(stderr, progress) as bar:
            dataset = load(data, progress=bar)
            report = evaluate(model, dataset, dest, progress=bar)
    except (ConfigError, ValueError) as exc:
        return _fail(stderr, exc)
    o = report.doc["views"]["model"]["overall"]
    print(
        f"{model.version} on {len(dataset):,} requests: human FP "
        f"{100 * (o['human_fp_rate'] or 0):.2f} %, bot recall {100 * (o['bot_recall'] or 0):.2f} %"
        f", AUC {report.doc['auc']:.4f} → {report.files[1]}",
        file=stdout,
    )
    return 0


def list_command(
    *, data_dir: Path | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Versions with their state, training data and validation figures."""
    stdout = stdout or sys.stdout
    try:
        reg = _registry(data_dir)
    except ConfigError as exc:
        return _fail(stderr or sys.stderr, exc)
    print(f"{'version':8} {'state':10} {'created':21} {'rows':>10} {'human FP':>9} "
          f"{'recall':>8}  parent  notes", file=stdout)  # fmt: skip
    for info in reg.versions():
        meta, m = info.meta, info.meta.get("metrics", {})
        notes = []
        if reg.shadow == info.version:
            notes.append("shadow")
        pinned = [z for z, e in reg.doc["zones"].items() if e.get("pin") == info.version]
        if pinned:
            notes.append("pinned: " + ",".join(sorted(pinned)))
        fp, rec = m.get("valid_human_fp_rate"), m.get("valid_bot_recall")
        print(
            f"{info.version:8} {info.state:10} {meta.get('created', '?'):21} "
            f"{meta.get('training_data', {}).get('rows', 0):>10,} "
            f"{'' if fp is None else f'{100 * fp:.2f} %':>9} "
            f"{'' if rec is None else f'{100 * rec:.2f} %':>8}  {meta.get('parent') or '-':6}  "
            f"{'; '.join(notes)}",
            file=stdout,
        )
    return 0


def show_command(
    version: str,
    *,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """A version's metadata as JSON (calibration points and feature names left out)."""
    stdout = stdout or sys.stdout
    try:
        info = _registry(data_dir).info(version)
    except ConfigError as exc:
        return _fail(stderr or sys.stderr, exc)
    meta = {k: v for k, v in info.meta.items() if k not in ("calibration", "feature_names")}
    meta["state"] = info.state
    meta["directory"] = str(info.directory)
    print(json.dumps(meta, indent=2, sort_keys=True), file=stdout)
    return 0


def _registry_op(
    op: Callable[[Any], str],
    data_dir: Path | None,
    stdout: TextIO | None,
    stderr: TextIO | None,
) -> int:
    try:
        message = op(_registry(data_dir))
    except ConfigError as exc:
        return _fail(stderr or sys.stderr, exc)
    print(message, file=stdout or sys.stdout)
    return 0


def promote_command(
    version: str,
    *,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Make VERSION the active model (zones that auto-update switch to it)."""

    def op(reg: Any) -> str:
        old = reg.active
        reg.promote(version)
        return f"{version} is active (was {old or 'none'})"

    return _registry_op(op, data_dir, stdout, stderr)


def rollback_command(
    *, data_dir: Path | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Reactivate the previously active version."""

    def op(reg: Any) -> str:
        old = reg.active
        new = reg.rollback()
        return f"{new} is active again ({old} retired)"

    return _registry_op(op, data_dir, stdout, stderr)


def pin_command(
    zone: str,
    version: str | None,
    *,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Pin ZONE to VERSION; without a version, unpin (follow the active model again)."""

    def op(reg: Any) -> str:
        reg.pin(zone, version)
        return f"{zone} pinned to {version}" if version else f"{zone} follows the active model"

    return _registry_op(op, data_dir, stdout, stderr)


def auto_update_command(
    zone: str,
    on: bool,
    *,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Cloudflare's auto_update_model for ZONE: off keeps it on the version it runs now."""

    def op(reg: Any) -> str:
        reg.set_auto_update(zone, on)
        z = reg.zone(zone)
        return f"{zone}: auto-update {'on' if on else 'off'} (runs {reg.resolve(zone)}" + (
            ", pinned)" if z["pin"] else ")"
        )

    return _registry_op(op, data_dir, stdout, stderr)


def shadow_command(
    version: str | None,
    *,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Score VERSION alongside the active model and record both (None: stop)."""

    def op(reg: Any) -> str:
        reg.set_shadow(version)
        return f"shadow scoring with {version}" if version else "shadow scoring off"

    return _registry_op(op, data_dir, stdout, stderr)


def build_base_command(
    *,
    out: Path | None = None,
    workdir: Path | None = None,
    report: Path | None = None,
    progress: bool = True,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`make model`: rebuild the packaged base model from the fixed simulator seeds."""
    from botwarden.ml.base_model import build

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        with progress_bars(stderr, progress) as bar:
            built = build(out, workdir=workdir, report=report, progress=bar)
    except (ConfigError, ValueError) as exc:
        return _fail(stderr, exc)
    print(f"base model → {built.directory} (onnx sha256 {built.meta['onnx_sha256']})", file=stdout)
    if built.report is not None:
        print(f"hold-out report → {built.report}", file=stdout)
    return 0


def retrain_command(
    *,
    base: Sequence[Path],
    holdout: Sequence[Path],
    analytics: str,
    database: str,
    promote: str = "none",
    rounds: int | None = None,
    workdir: Path | None = None,
    data_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Retrain on the base corpus, weak labels and every accepted feedback report; gate
    the candidate against the active model; promote it (auto / shadow) if it passes.
    Exit 1 when a gate fails."""
    import tempfile
    from dataclasses import replace

    from botwarden.analytics.base import open_backend
    from botwarden.feedback import loop
    from botwarden.ml.retrain import RETRAIN_CONFIG
    from botwarden.store import open as open_store

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if promote not in ("none", "auto", "shadow"):
        return _fail(
            stderr, ConfigError(f"--promote must be none, auto or shadow, not {promote!r}")
        )
    missing = [str(p) for p in [*base, *holdout] if not Path(p).is_file()]
    if missing:
        return _fail(stderr, ConfigError(f"no such data file: {', '.join(missing)}"))
    cfg = RETRAIN_CONFIG if rounds is None else replace(RETRAIN_CONFIG, num_boost_round=rounds)
    try:
        reg = _registry(data_dir)
        st = open_store(database)
        backend = open_backend(analytics)
        with tempfile.TemporaryDirectory(prefix="botwarden-retrain-") as tmp:
            res = loop.run(st, backend, reg, base=list(base), holdout=list(holdout),
                           workdir=workdir or Path(tmp), config=cfg,
                           promote=promote)  # type: ignore[arg-type]  # fmt: skip
    except (ConfigError, ValueError) as exc:
        return _fail(stderr, exc)
    c = res.candidate
    print(f"{c.version} (candidate, parent {c.parent}) from {len(c.reports)} report(s) and "
          f"{res.weak_rows:,} weak labels in {res.seconds:.1f} s", file=stdout)  # fmt: skip
    for sl in c.gates.slices:
        print(f"  report {sl['report']} ({sl['label']}): {sl['goal']} "
              f"{100 * sl['before']:.1f} % → {100 * sl['after']:.1f} % "
              f"{'pass' if sl['passed'] else 'FAIL'}", file=stdout)  # fmt: skip
    h = c.gates.holdout
    print(f"  hold-out: human FP {100 * h['active']['human_fp_rate']:.2f} % → "
          f"{100 * h['candidate']['human_fp_rate']:.2f} %, bot recall "
          f"{100 * h['active']['bot_recall']:.2f} % → {100 * h['candidate']['bot_recall']:.2f} %"
          f" {'pass' if h['passed'] else 'FAIL'}", file=stdout)  # fmt: skip
    if res.dropped_base_rows:
        print(f"  left out {res.dropped_base_rows:,} base-corpus rows that an accepted false "
              "positive contradicts", file=stdout)  # fmt: skip
    for r, why in res.labels.skipped.items():
        print(f"  skipped report {r}: {why}", file=stdout)
    if res.promoted:
        print(f"{c.version} promoted (zones with auto-update run it)", file=stdout)
    elif res.shadow:
        print(f"{c.version} is the shadow version", file=stdout)
    return 0 if c.gates.passed else 1


__all__ = [
    "auto_update_command",
    "build_base_command",
    "eval_command",
    "list_command",
    "pin_command",
    "promote_command",
    "retrain_command",
    "rollback_command",
    "shadow_command",
    "show_command",
    "train_command",
]
