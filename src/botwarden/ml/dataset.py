"""Labelled training data: feature vectors with labels, sessions and ground truth.

Two inputs are understood:

- simulator events (`botwarden simulate events`): request attributes plus `label`,
  `population`, `subtype`, `sophistication`, `session_id`. Features are computed per
  file with `batch_features` (each file is its own stretch of traffic, so windows never
  mix two files);
- labelled feature rows (the feedback loop's output): a `features` list column already
  holding the vector the model saw, a `label` column, and a `session_id`; accepted only
  when the file's `botwarden.feature_schema` metadata equals this build's schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from botwarden.errors import ConfigError
from botwarden.ml.features import N_FEATURES, SCHEMA_HASH, FeatureConfig, batch_features

TRUTH = ("population", "subtype", "sophistication")
_EVENT_COLUMNS = ("ts", "client_ip", "asn", "country", "scheme", "host", "method", "path",
                  "query", "http_version", "headers", "status", "ja4", "label", "population",
                  "subtype", "sophistication", "session_id")  # fmt: skip


@dataclass(slots=True)
class Dataset:
    X: np.ndarray  # n × N_FEATURES float32
    y: np.ndarray  # 1 = automated
    session: np.ndarray  # int64, unique across files
    population: np.ndarray  # str (object) — "" when unknown
    subtype: np.ndarray
    sophistication: np.ndarray  # int8, -1 when unknown
    digest: str  # sha256 over the input files
    files: tuple[str, ...]
    weight: np.ndarray | None = None  # float32 per row; None: every row weighs 1

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> Dataset:
        return Dataset(self.X[idx], self.y[idx], self.session[idx], self.population[idx],
                       self.subtype[idx], self.sophistication[idx], self.digest,
                       self.files, None if self.weight is None else self.weight[idx])  # fmt: skip

    def weights(self) -> np.ndarray:
        """Row weights (ones when the data carries none)."""
        if self.weight is None:
            return np.ones(len(self.y), dtype=np.float32)
        return self.weight


def concat(parts: Sequence[Dataset]) -> Dataset:
    """Datasets one after another (session ids must already be disjoint)."""
    if not parts:
        raise ConfigError("no training data given")
    digest = hashlib.sha256("".join(p.digest for p in parts).encode()).hexdigest()
    weighted = any(p.weight is not None for p in parts)
    return Dataset(
        X=np.concatenate([p.X for p in parts]),
        y=np.concatenate([p.y for p in parts]),
        session=np.concatenate([p.session for p in parts]),
        population=np.concatenate([p.population for p in parts]),
        subtype=np.concatenate([p.subtype for p in parts]),
        sophistication=np.concatenate([p.sophistication for p in parts]),
        digest=digest,
        files=tuple(f for p in parts for f in p.files),
        weight=np.concatenate([p.weights() for p in parts]) if weighted else None,
    )


def _strings(table: object, name: str, n: int) -> np.ndarray:
    import pyarrow as pa  # type: ignore[import-untyped]

    assert isinstance(table, pa.Table)
    if name not in table.column_names:
        return np.full(n, "", dtype=object)
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    return np.asarray(col.fill_null("").to_numpy(zero_copy_only=False), dtype=object)


def load(
    paths: Sequence[str | Path],
    config: FeatureConfig | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> Dataset:
    """Read and featurise labelled files. `progress(step, done, total)` is told per file."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from botwarden.ml.adapters import sort_by_time

    if not paths:
        raise ConfigError("no training data given (--data FILE ...)")
    parts: list[Dataset] = []
    digest = hashlib.sha256()
    offset = 0
    for i, raw in enumerate(paths):
        path = Path(raw)
        if progress:
            progress(f"reading {path.name}", i, len(paths))
        try:
            schema = pq.read_schema(str(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable Parquet file ({exc})") from None
        from botwarden.ml.model import file_digest

        digest.update(file_digest(path).encode())
        if "label" not in schema.names or "session_id" not in schema.names:
            raise ConfigError(f"{path}: needs `label` and `session_id` columns (labelled events)")
        if "features" in schema.names:
            meta = schema.metadata or {}
            got = meta.get(b"botwarden.feature_schema", b"").decode()
            if got != SCHEMA_HASH:
                raise ConfigError(
                    f"{path}: feature rows of schema {got or 'unknown'}, this build needs "
                    f"{SCHEMA_HASH}"
                )
            table = pq.read_table(str(path))
            X = np.asarray(table.column("features").to_pylist(), dtype=np.float32)
            if X.ndim != 2 or X.shape[1] != N_FEATURES:
                raise ConfigError(f"{path}: feature vectors must have {N_FEATURES} values")
        else:
            missing = {"ts", "client_ip", "method", "path", "headers"} - set(schema.names)
            if missing:
                raise ConfigError(f"{path}: missing event columns {sorted(missing)}")
            cols = [c for c in _EVENT_COLUMNS if c in schema.names]
            table = sort_by_time(pq.read_table(str(path), columns=cols))
            X = batch_features(table, config)
        n = table.num_rows
        labels = _strings(table, "label", n)
        bad = set(np.unique(labels).tolist()) - {"bot", "human"}
        if bad:
            raise ConfigError(f"{path}: label must be 'bot' or 'human', found {sorted(bad)}")
        sess = table.column("session_id").fill_null(0).to_numpy().astype(np.int64)
        soph = (
            table.column("sophistication").fill_null(-1).to_numpy().astype(np.int8)
            if "sophistication" in table.column_names
            else np.full(n, -1, dtype=np.int8)
        )
        weight = None
        if "weight" in table.column_names:
            weight = table.column("weight").fill_null(1.0).to_numpy().astype(np.float32)
            if not np.all(np.isfinite(weight)) or (weight < 0).any():
                raise ConfigError(f"{path}: weight must be a finite number ≥ 0")
        parts.append(
            Dataset(
                X=X,
                y=(labels == "bot").astype(np.int8),
                session=sess + offset,
                population=_strings(table, "population", n),
                subtype=_strings(table, "subtype", n),
                sophistication=soph,
                digest="",
                files=(),
                weight=weight,
            )
        )
        offset += int(sess.max(initial=0)) + 1
    if progress:
        progress("read", len(paths), len(paths))
    whole = concat(parts)
    whole.digest = digest.hexdigest()
    whole.files = tuple(str(p) for p in paths)
    return whole


def session_split(session: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask choosing about `fraction` of the *sessions* (all rows of a session
    fall on the same side): a hash of (seed, session id), so stable across runs."""
    s = session.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = s * np.uint64(0x9E3779B97F4A7C15) + np.uint64(
            (seed * 0x632BE59BD9B4E019 + 1) & 0xFFFFFFFFFFFFFFFF
        )
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    u = (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    out: np.ndarray = u < fraction
    return out
