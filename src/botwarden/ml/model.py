"""A model version loaded for scoring: the ONNX graph in onnxruntime (one intra-op
thread, a preallocated input row bound once), its calibration and the score map.

A model directory holds `model.onnx`, `model.txt` (the LightGBM booster, for parity
checks and as the parent of the next version) and `meta.json` (see registry.py).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from botwarden.errors import ConfigError
from botwarden.ml import calibration, export
from botwarden.ml.features import FEATURE_NAMES, FEATURES_VERSION, N_FEATURES, SCHEMA_HASH

ONNX_FILE = "model.onnx"
BOOSTER_FILE = "model.txt"
META_FILE = "meta.json"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_meta(directory: Path) -> dict[str, Any]:
    try:
        doc = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory}: not a model directory ({META_FILE}: {exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{directory / META_FILE}: expected a JSON object")
    return doc


def _schema_difference(meta: dict[str, Any]) -> str:
    """What differs between a model's recorded feature list and this build's, in words."""
    names = meta.get("feature_names")
    version = meta.get("features_version", "?")
    if not isinstance(names, list):
        return f"features v{version}, no feature list recorded; this build: v{FEATURES_VERSION}"
    theirs, ours = [str(n) for n in names], list(FEATURE_NAMES)
    gone = [n for n in theirs if n not in ours]
    new = [n for n in ours if n not in theirs]
    parts = [f"features v{version} → v{FEATURES_VERSION}"]
    if gone:
        parts.append("no longer computed: " + ", ".join(gone))
    if new:
        parts.append("new: " + ", ".join(new))
    if not gone and not new:
        parts.append("same names in another order")
    return "; ".join(parts)


class Model:
    """Scores feature vectors. `score_one` is the serving path (not thread-safe: one
    Model per worker thread, as the engine keeps it); `scores` is the batch path."""

    def __init__(self, directory: Path, *, batch_threads: int = 1) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        self.directory = Path(directory)
        self.meta = read_meta(self.directory)
        self.version: str = str(self.meta.get("version") or self.directory.name)
        schema = self.meta.get("feature_schema")
        if schema != SCHEMA_HASH:
            raise ConfigError(
                f"model {self.version}: feature schema {schema} does not match this build's "
                f"{SCHEMA_HASH} ({_schema_difference(self.meta)}); it would be fed vectors "
                "of another layout: retrain it (`botwarden model train`)"
            )
        self.fingerprint: str = str(self.meta.get("onnx_sha256", ""))[:16]
        self.calibration = calibration.Isotonic.from_json(self.meta["calibration"])
        onnx_bytes = (self.directory / ONNX_FILE).read_bytes()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        bopts = ort.SessionOptions()
        bopts.intra_op_num_threads = max(1, batch_threads)
        bopts.inter_op_num_threads = 1
        self._batch_session = (
            self._session
            if batch_threads <= 1
            else ort.InferenceSession(onnx_bytes, bopts, providers=["CPUExecutionProvider"])
        )
        # Serving: one preallocated row, bound once; the output bound to a preallocated array.
        self.row = np.zeros((1, N_FEATURES), dtype=np.float32)
        self._out = np.zeros((1, 1), dtype=np.float32)
        self._binding = self._session.io_binding()
        self._binding.bind_ortvalue_input(export.INPUT, ort.OrtValue.ortvalue_from_numpy(self.row))
        self._binding.bind_ortvalue_output(
            export.MARGIN, ort.OrtValue.ortvalue_from_numpy(self._out)
        )
        self._run = self._session.run_with_iobinding
        # struct.pack_into the row's buffer is the cheapest way from a list of Python
        # floats to float32 (the same round-to-nearest as numpy's cast).
        self._pack = struct.Struct(f"<{N_FEATURES}f").pack_into
        self._row_buffer = self.row.data

    # -- serving ----------------------------------------------------------------------

    def raw_one(self, vector: Sequence[float]) -> float:
        """The model's margin (raw score, log-odds of automation) for one vector."""
        self._pack(self._row_buffer, 0, *vector)
        self._run(self._binding)
        return float(self._out[0, 0])

    def probability_one(self, vector: Sequence[float]) -> float:
        return self.calibration(self.raw_one(vector))

    def score_one(self, vector: Sequence[float]) -> int:
        return calibration.score_of(self.calibration(self.raw_one(vector)))

    # -- batch ------------------------------------------------------------------------

    def raw(self, features: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Margins (float32) of many vectors."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        out = np.empty(len(x), dtype=np.float32)
        for i in range(0, len(x), chunk):
            res = self._batch_session.run([export.MARGIN], {export.INPUT: x[i : i + chunk]})
            out[i : i + chunk] = np.asarray(res[0])[:, 0]
        return out

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return self.calibration.apply(self.raw(features).astype(np.float64))

    def scores(self, features: np.ndarray) -> np.ndarray:
        return calibration.scores_of(self.probabilities(features))

    def booster(self) -> Any:
        """The LightGBM booster this graph was exported from (tests, next versions)."""
        import lightgbm as lgb

        return lgb.Booster(model_file=str(self.directory / BOOSTER_FILE))
