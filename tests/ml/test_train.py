from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from botwarden.ml import calibration
from botwarden.ml.calibration import Isotonic, score_of, scores_of
from botwarden.ml.dataset import Dataset, session_split
from botwarden.ml.features import N_FEATURES, SCHEMA_HASH
from botwarden.ml.model import Model
from botwarden.ml.train import auc


def test_split_never_cuts_a_session(dataset: Dataset) -> None:
    valid = session_split(dataset.session, 0.2, seed=0)
    for s in np.unique(dataset.session):
        m = dataset.session == s
        assert valid[m].all() or not valid[m].any()
    share = valid.mean()
    assert 0.05 < share < 0.5
    # a different seed chooses differently, the same seed the same
    assert np.array_equal(valid, session_split(dataset.session, 0.2, seed=0))
    assert not np.array_equal(valid, session_split(dataset.session, 0.2, seed=1))


def test_sessions_stay_unique_across_files(corpus: Path) -> None:
    from botwarden.ml.dataset import load

    two = load([corpus, corpus])
    n = len(two) // 2
    assert not set(two.session[:n].tolist()) & set(two.session[n:].tolist())


def test_onnx_equals_lightgbm(small_model: Path, dataset: Dataset) -> None:
    model = Model(small_model)
    booster = model.booster()
    m_lgb = booster.predict(dataset.X, raw_score=True)
    m_onnx = model.raw(dataset.X).astype(np.float64)
    assert np.max(np.abs(m_lgb - m_onnx)) <= 1e-5
    p_lgb = booster.predict(dataset.X)
    assert np.max(np.abs(p_lgb - 1 / (1 + np.exp(-m_onnx)))) <= 1e-5
    # the serving path (one preallocated row) gives the batch path's values
    for i in range(0, len(dataset), max(1, len(dataset) // 200)):
        assert model.raw_one(dataset.X[i].tolist()) == m_onnx[i]


def test_single_and_batch_scores_agree(small_model: Path, dataset: Dataset) -> None:
    model = Model(small_model)
    scores = model.scores(dataset.X[:500])
    assert [model.score_one(x.tolist()) for x in dataset.X[:500]] == scores.tolist()
    assert scores.min() >= 2
    assert scores.max() <= 99


def test_model_separates_the_small_corpus(small_model: Path, dataset: Dataset) -> None:
    meta = json.loads((small_model / "meta.json").read_text())
    assert meta["feature_schema"] == SCHEMA_HASH
    assert meta["training_data"]["rows"] == len(dataset)
    assert meta["metrics"]["onnx_parity_max_abs"] <= 1e-5
    assert meta["metrics"]["valid_auc"] > 0.97
    scores = Model(small_model).scores(dataset.X)
    assert (scores[dataset.y == 1] < 30).mean() > 0.85
    assert (scores[dataset.y == 0] < 30).mean() < 0.05


def test_model_refuses_another_feature_schema(small_model: Path, tmp_path: Path) -> None:
    import shutil

    from botwarden.errors import ConfigError

    copy = tmp_path / "m"
    shutil.copytree(small_model, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["feature_schema"] = "0" * 16
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="feature schema"):
        Model(copy)
    # a model of the v1 layout (which read the negotiated HTTP version) names what changed
    meta["features_version"] = 1
    meta["feature_names"] = ["http_version", *meta["feature_names"]]
    meta["feature_names"].remove("c_reqs_10s")
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError) as err:
        Model(copy)
    assert "features v1 → v" in str(err.value)
    assert "no longer computed: http_version" in str(err.value)
    assert "new: c_reqs_10s" in str(err.value)


def test_score_map_is_fixed_and_monotone() -> None:
    assert score_of(1.0) == 2
    assert score_of(calibration.BOUNDARY_P) == 29
    assert score_of(np.nextafter(calibration.BOUNDARY_P, 0)) == 30
    assert score_of(0.0) == 99
    p = np.linspace(0, 1, 10_001)
    s = scores_of(p)
    assert np.all(np.diff(s) <= 0)
    assert s.tolist() == [score_of(float(x)) for x in p]
    assert set(s.tolist()) == set(range(2, 100))


def test_isotonic_is_monotone_and_calibrated() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(200_000)
    truth = rng.random(200_000) < raw**2  # raw is miscalibrated: P(bot) = raw²
    iso = Isotonic.fit(raw, truth)
    grid = np.linspace(0, 1, 101)
    cal = iso.apply(grid)
    assert np.all(np.diff(cal) >= -1e-12)
    assert np.max(np.abs(cal[10:95] - grid[10:95] ** 2)) < 0.03
    assert [iso(float(x)) for x in grid] == cal.tolist()
    assert Isotonic.from_json(iso.to_json()) == iso


def test_auc() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_dataset_reads_feature_rows(tmp_path: Path, dataset: Dataset) -> None:
    """The feedback loop hands over labelled feature rows; they train like events."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from botwarden.errors import ConfigError
    from botwarden.ml.dataset import load

    table = pa.table(
        {
            "features": pa.array(dataset.X[:100].tolist(), pa.list_(pa.float32())),
            "label": np.where(dataset.y[:100] == 1, "bot", "human"),
            "session_id": dataset.session[:100],
        }
    )
    good = tmp_path / "rows.parquet"
    pq.write_table(table.replace_schema_metadata({"botwarden.feature_schema": SCHEMA_HASH}), good)
    rows = load([good])
    assert rows.X.shape == (100, N_FEATURES)
    assert np.array_equal(rows.X, dataset.X[:100])
    bad = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata({"botwarden.feature_schema": "old"}), bad)
    with pytest.raises(ConfigError, match="schema"):
        load([bad])


def test_training_is_deterministic(dataset: Dataset) -> None:
    from botwarden.ml.train import TrainConfig, fit

    cfg = TrainConfig(num_boost_round=10, num_leaves=7, num_threads=2)
    a, iso_a, _ = fit(dataset, cfg)
    b, iso_b, _ = fit(dataset, cfg)
    assert a.model_to_string() == b.model_to_string()
    assert iso_a == iso_b


def _trees(model_text: str, first_tree: int) -> tuple[set[str], float]:
    """(names of the features the trees from `first_tree` on split on, their largest
    absolute leaf value)."""
    import lightgbm as lgb

    dump = lgb.Booster(model_str=model_text).dump_model()
    names = dump["feature_names"]
    out: set[str] = set()
    leaves: list[float] = []

    def walk(node: dict[str, object]) -> None:
        if "split_feature" in node:
            out.add(names[int(node["split_feature"])])  # type: ignore[call-overload]
            walk(node["left_child"])  # type: ignore[arg-type]
            walk(node["right_child"])  # type: ignore[arg-type]
        else:
            leaves.append(abs(float(node["leaf_value"])))  # type: ignore[arg-type]

    for tree in dump["tree_info"][first_tree:]:
        walk(tree["tree_structure"])
    return out, max(leaves, default=0.0)


def test_retrain_adds_bounded_trees_that_never_split_on_site_features(
    dataset: Dataset, small_model: Path, holdout: Path, tmp_path: Path
) -> None:
    """A candidate continues from the active model's trees; the trees it adds learn from
    one live site, so they may not split on the site-wide `ja4_*_1h` figures, and their
    leaves are bounded (the corpus' rows are already fitted: unbounded leaves explode)."""
    from botwarden.ml.model import BOOSTER_FILE
    from botwarden.ml.registry import Registry
    from botwarden.ml.retrain import ADDED_MAX_DELTA_STEP, SITE_FEATURES, retrain
    from botwarden.ml.train import TrainConfig

    active = (small_model / BOOSTER_FILE).read_text()
    n_active = active.count("\nTree=")
    assert _trees(active, 0)[0] & set(SITE_FEATURES)  # the corpus' trees use them
    reg = Registry(tmp_path / "models", base=small_model)
    # Flip some bots to human: the added trees have something to learn.
    flipped = dataset.take(np.arange(len(dataset)))
    flipped.y = flipped.y.copy()
    flipped.y[np.flatnonzero(flipped.y == 1)[::3]] = 0
    cfg = TrainConfig(num_boost_round=15, early_stopping_rounds=15, num_leaves=15,
                      min_data_in_leaf=20, num_threads=2)  # fmt: skip
    cand = retrain(reg, base=flipped, holdout=[holdout], workdir=tmp_path / "w", config=cfg)
    text = (cand.directory / BOOSTER_FILE).read_text()
    assert text.count("\nTree=") > n_active  # it continued from the active model's trees
    assert _trees(text, 0)[0] & set(SITE_FEATURES)  # which still use them
    added, largest = _trees(text, n_active)
    assert added  # the added trees split on something
    assert not added & set(SITE_FEATURES)
    assert 0 < largest <= cfg.learning_rate * ADDED_MAX_DELTA_STEP + 1e-9
