"""Shared fixtures: one small generated run, reused by the event tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.simulate.events import read_events, write_parquet
from botwarden.simulate.populations import populations
from botwarden.simulate.scenario import Scenario, parse_scenario


def every_population(hours: float = 0.1, rps: float = 300.0) -> Scenario:
    """A scenario where every population has the same share of requests."""
    mix = dict.fromkeys(populations(), 1.0)
    return parse_scenario({"name": "all", "hours": hours, "rps": rps, "mix": mix})


@pytest.fixture(scope="session")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "all.parquet"
    write_parquet(every_population(), path, seed=11)
    return path


@pytest.fixture(scope="session")
def events(events_file: Path) -> pa.Table:
    return read_events(events_file)


@pytest.fixture(scope="session")
def rows(events: pa.Table) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = events.to_pylist()
    return rows
