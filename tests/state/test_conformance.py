"""One suite for every StateStore backend: memory always, Redis when it is reachable
(mandatory in CI). Expiry runs on real time here, which both backends share."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from botwarden.state.base import StateStore
from botwarden.state.memory import MemoryState
from tests.conftest import redis_state


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.service)])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    s = MemoryState() if request.param == "memory" else redis_state()
    yield s
    close = getattr(s, "close", None)
    if close is not None:
        close()


def test_get_set_roundtrip(store: StateStore) -> None:
    now = time.time()
    assert store.get("absent", now) is None
    store.set("k", b"\x00binary\xff", ttl=10, now=now)
    assert store.get("k", now) == b"\x00binary\xff"
    store.set("k", b"v2", ttl=10, now=now)
    assert store.get("k", now) == b"v2"


def test_incr_counts_from_zero(store: StateStore) -> None:
    now = time.time()
    assert store.incr("n", 1, ttl=10, now=now) == 1
    assert store.incr("n", 4, ttl=10, now=now) == 5
    assert store.get("n", now) == b"5"


def test_expiry(store: StateStore) -> None:
    now = time.time()
    store.set("short", b"x", ttl=0.15, now=now)
    store.incr("count", 1, ttl=0.15, now=now)
    time.sleep(0.3)
    later = time.time()
    assert store.get("short", later) is None
    # an expired counter starts again at zero
    assert store.incr("count", 2, ttl=10, now=later) == 2


def test_counter_window_is_fixed_at_its_start(store: StateStore) -> None:
    now = time.time()
    store.incr("w", 1, ttl=0.3, now=now)
    time.sleep(0.15)
    store.incr("w", 1, ttl=0.3, now=time.time())  # does not extend the window
    time.sleep(0.25)
    assert store.get("w", time.time()) is None
