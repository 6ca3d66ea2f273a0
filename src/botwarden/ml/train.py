"""Training: LightGBM binary classifier → isotonic calibration → ONNX export.

Sessions never straddle the split: the validation set (early stopping and calibration)
is a hash-chosen share of *sessions*. A fraction of training sessions has its ASN
category blanked, so the model also scores well where no ASN data is configured.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from botwarden.ml import calibration, export
from botwarden.ml.dataset import Dataset, load, session_split
from botwarden.ml.features import (
    FEATURE_NAMES,
    FEATURES_VERSION,
    N_FEATURES,
    SCHEMA_HASH,
    FeatureConfig,
)
from botwarden.ml.model import BOOSTER_FILE, META_FILE, ONNX_FILE, file_digest

Progress = Callable[[str, float, float], None]
"""progress(step, done, total): called as training advances (CLI draws bars from it)."""

_ASN = FEATURE_NAMES.index("asn_category")
PARITY_TOLERANCE = 1e-4
"""Largest ONNX-vs-LightGBM margin difference allowed, relative to the margin (at least
1): float32 sums over a few hundred trees (a retrained candidate continues from the
active model's trees) differ by ~1e-5; a wrong branch would differ by whole leaves."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters. `num_threads` is for training only; serving always uses one."""

    num_boost_round: int = 250
    early_stopping_rounds: int = 30
    learning_rate: float = 0.2
    num_leaves: int = 31
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_bin: int = 255
    valid_fraction: float = 0.2
    asn_dropout: float = 0.2
    num_threads: int = 2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1.0 else 0,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **self.extra,
        }


@dataclass(slots=True)
class TrainResult:
    directory: Path
    meta: dict[str, Any]
    seconds: dict[str, float]


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by ranks (ties averaged)."""
    y = np.asarray(y).astype(bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    ps = np.asarray(p)[order]
    ranks = np.empty(len(p), dtype=np.float64)
    _, start, counts = np.unique(ps, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def headline(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Human false-positive rate and bot recall at the boundary (score < 30)."""
    y = np.asarray(y).astype(bool)
    low = np.asarray(scores) < calibration.BOUNDARY_SCORE
    humans, bots = ~y, y
    return {
        "human_fp_rate": float(low[humans].mean()) if humans.any() else float("nan"),
        "bot_recall": float(low[bots].mean()) if bots.any() else float("nan"),
        "humans": int(humans.sum()),
        "bots": int(bots.sum()),
    }


def fit(
    data: Dataset,
    config: TrainConfig,
    *,
    progress: Progress | None = None,
    calibrate_on: np.ndarray | None = None,
    init_model: Path | None = None,
) -> tuple[Any, calibration.Isotonic, dict[str, Any]]:
    """Train on `data`; returns (booster, calibration, validation metrics).

    `calibrate_on` (a boolean mask over `data`) limits the calibration to those rows'
    validation share: the feedback loop calibrates on the representative corpus only,
    not on report slices and weak labels, which are selected samples whose class mix
    says nothing about the probability of automation at a given margin.

    `init_model` (a LightGBM model file) continues boosting from that model's trees:
    the feedback loop adds trees to the active model rather than starting over, so what
    it already gets right is kept and the new trees learn what the reports add."""
    import lightgbm as lgb

    note = progress or (lambda _s, _d, _t: None)
    X = data.X.copy()
    blank = session_split(data.session, config.asn_dropout, config.seed + 7)
    X[blank, _ASN] = 0.0
    valid = session_split(data.session, config.valid_fraction, config.seed)
    train = ~valid
    if not train.any() or not valid.any():
        raise ValueError("too few sessions to split into training and validation sets")
    if len(np.unique(data.y[train])) < 2:
        raise ValueError("training data needs both bots and humans")
    w = data.weight
    dtrain = lgb.Dataset(X[train], label=data.y[train], feature_name=list(FEATURE_NAMES),
                         weight=None if w is None else w[train], free_raw_data=True)  # fmt: skip
    dvalid = lgb.Dataset(X[valid], label=data.y[valid], reference=dtrain,
                         weight=None if w is None else w[valid])  # fmt: skip
    total = config.num_boost_round

    def callback(env: Any) -> None:
        note("boosting", env.iteration + 1, total)

    booster = lgb.train(
        config.lgb_params(),
        dtrain,
        num_boost_round=total,
        init_model=None if init_model is None else str(init_model),
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[
            callback,
            lgb.early_stopping(config.early_stopping_rounds, verbose=False),
        ],
    )
    note("boosting", total, total)
    # Keep only the best iteration, so the exported graph is the model that was judged.
    if booster.best_iteration and booster.best_iteration < booster.current_iteration():
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    note("calibrating", 0, 1)
    # Calibrate on margins as the ONNX graph gives them (float32).
    raw_valid = np.asarray(booster.predict(X[valid], raw_score=True))
    raw_valid = raw_valid.astype(np.float32).astype(np.float64)
    cal = np.ones(int(valid.sum()), dtype=bool)
    if calibrate_on is not None and np.asarray(calibrate_on)[valid].any():
        cal = np.asarray(calibrate_on, dtype=bool)[valid]
    cal_w = None if w is None else w[valid][cal]
    iso = calibration.Isotonic.fit(raw_valid[cal], data.y[valid][cal], cal_w)
    scores = calibration.scores_of(iso.apply(raw_valid))
    metrics: dict[str, Any] = {
        "valid_rows": int(valid.sum()),
        "train_rows": int(train.sum()),
        "valid_sessions": len(np.unique(data.session[valid])),
        "train_sessions": len(np.unique(data.session[train])),
        "valid_auc": auc(data.y[valid], raw_valid),
        "trees": int(booster.num_trees()),
        **{f"valid_{k}": v for k, v in headline(data.y[valid], scores).items()},
    }
    note("calibrating", 1, 1)
    return booster, iso, metrics


def write_model(
    directory: Path,
    booster: Any,
    iso: calibration.Isotonic,
    *,
    metrics: dict[str, Any],
    data: Dataset | None,
    config: TrainConfig,
    parent: str | None = None,
    description: str = "",
    seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Export to ONNX, check parity with LightGBM, and write the model directory."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    directory.mkdir(parents=True, exist_ok=True)
    onnx_model = export.to_onnx(booster, N_FEATURES)
    onnx_path = directory / ONNX_FILE
    onnx_path.write_bytes(onnx_model.SerializeToString())
    booster.save_model(str(directory / BOOSTER_FILE))
    # Parity on (a sample of) the training vectors.
    parity = prob_parity = float("nan")
    if data is not None and len(data):
        rng = np.random.default_rng(config.seed)
        idx = rng.choice(len(data), size=min(len(data), 20_000), replace=False)
        x = data.X[np.sort(idx)]
        sess = ort.InferenceSession(onnx_path.read_bytes(), providers=["CPUExecutionProvider"])
        m_onnx = sess.run([export.MARGIN], {export.INPUT: x})[0][:, 0].astype(np.float64)
        m_lgb = np.asarray(booster.predict(x, raw_score=True))
        # Relative to the margin's size: float32 sums over many trees (a candidate that
        # continues from the active model's trees) lose precision on large margins.
        parity = float(np.max(np.abs(m_lgb - m_onnx) / np.maximum(1.0, np.abs(m_lgb))))
        prob_parity = float(np.max(np.abs(1 / (1 + np.exp(-m_lgb)) - 1 / (1 + np.exp(-m_onnx)))))
        if parity > PARITY_TOLERANCE:
            raise RuntimeError(
                f"ONNX export differs from LightGBM by {parity:.2e} of the margin "
                f"(> {PARITY_TOLERANCE:g})"
            )
    meta: dict[str, Any] = {
        "version": directory.name,
        "description": description,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feature_schema": SCHEMA_HASH,
        "features_version": FEATURES_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "training_data": {
            "digest": data.digest if data is not None else "",
            "rows": len(data) if data is not None else 0,
            "files": [Path(f).name for f in data.files] if data is not None else [],
            "bots": int(data.y.sum()) if data is not None else 0,
        },
        "parent": parent,
        "params": {**asdict(config), "lgb": config.lgb_params()},
        "calibration": iso.to_json(),
        "score_map": {
            "boundary_probability": calibration.BOUNDARY_P,
            "boundary_score": calibration.BOUNDARY_SCORE,
        },
        "metrics": {
            **metrics,
            "onnx_parity_max_abs": parity,
            "onnx_parity_probability_max_abs": prob_parity,
        },
        "calibration_input": "margin",
        "onnx_sha256": file_digest(onnx_path),
        "seconds": seconds or {},
        "built_with": {"python": platform.python_version()},
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def train(
    paths: Sequence[str | Path],
    out: Path,
    config: TrainConfig | None = None,
    *,
    feature_config: FeatureConfig | None = None,
    parent: str | None = None,
    description: str = "",
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model from labelled files into directory `out`."""
    cfg = config or TrainConfig()
    note = progress or (lambda _s, _d, _t: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    data = load(paths, feature_config, progress=lambda s, d, t: note(s, d, t))
    seconds["features"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    booster, iso, metrics = fit(data, cfg, progress=note)
    seconds["fit"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    note("exporting", 0, 1)
    meta = write_model(out, booster, iso, metrics=metrics, data=data, config=cfg, parent=parent,
                       description=description, seconds=seconds)  # fmt: skip
    seconds["export"] = time.perf_counter() - t2
    note("exporting", 1, 1)
    return TrainResult(out, meta, seconds)
