"""Shared fixtures: one small simulated corpus and one small model, built once a session.

The corpus is every population at equal shares, at a low rate over 75 minutes, so that
windows cross their 10-minute and 1-hour buckets while the replay stays small.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.ml.dataset import Dataset, load
from botwarden.ml.train import TrainConfig, fit, write_model
from botwarden.simulate.events import write_parquet
from botwarden.simulate.populations import populations
from botwarden.simulate.scenario import parse_scenario

SMALL = TrainConfig(num_boost_round=40, num_leaves=15, min_data_in_leaf=20, num_threads=1)


def small_scenario(hours: float = 1.25, rps: float = 1.5) -> object:
    mix = dict.fromkeys(populations(), 1.0)
    return parse_scenario({"name": "ml-tests", "hours": hours, "rps": rps, "mix": mix})


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ml") / "corpus.parquet"
    write_parquet(small_scenario(), path, seed=5)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="session")
def holdout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ml") / "holdout.parquet"
    write_parquet(small_scenario(hours=0.5), path, seed=6)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="session")
def events(corpus: Path) -> pa.Table:
    from botwarden.ml.adapters import read_events

    return read_events([corpus])


@pytest.fixture(scope="session")
def dataset(corpus: Path) -> Dataset:
    return load([corpus])


@pytest.fixture(scope="session")
def small_model(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    booster, iso, metrics = fit(dataset, SMALL)
    out = tmp_path_factory.mktemp("ml") / "small"
    write_model(out, booster, iso, metrics=metrics, data=dataset, config=SMALL)
    return out
