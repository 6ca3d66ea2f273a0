"""The `store` fixture: every store test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botwarden import store
from tests.store.helpers import open_store

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.service),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def st(backend: str, tmp_path: Path) -> Iterator[store.Store]:
    with open_store(backend, tmp_path) as s:
        yield s
