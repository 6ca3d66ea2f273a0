from __future__ import annotations

import pytest

from botwarden.state.memory import MemoryState


def test_incr_counts_and_expires() -> None:
    s = MemoryState()
    assert s.incr("k", 1, ttl=10, now=0) == 1
    assert s.incr("k", 2, ttl=10, now=5) == 3
    # the window is fixed at its start: expiry is 10 s after the first increment
    assert s.incr("k", 1, ttl=10, now=10.5) == 1


def test_get_set_and_expiry() -> None:
    s = MemoryState()
    s.set("a", b"v", ttl=1, now=100)
    assert s.get("a", now=100.5) == b"v"
    assert s.get("a", now=101) is None
    assert s.get("missing", now=0) is None
    s.incr("n", 5, ttl=5, now=0)
    assert s.get("n", now=1) == b"5"


def test_bounded_by_lru() -> None:
    s = MemoryState(max_entries=3)
    for i in range(3):
        s.set(f"k{i}", b"x", ttl=100, now=0)
    s.get("k0", now=1)  # k0 is now the most recently used
    s.set("k3", b"x", ttl=100, now=1)
    assert len(s) == 3
    assert s.get("k1", now=1) is None
    assert s.get("k0", now=1) == b"x"
    assert s.evictions == 1


def test_rejects_nonsense_bound() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryState(max_entries=0)


def test_bounded_by_bytes() -> None:
    from botwarden.state.memory import ENTRY_OVERHEAD

    cost = ENTRY_OVERHEAD + 3 + 100
    s = MemoryState(max_bytes=10 * cost)
    for i in range(50):
        s.set(f"k{i:02d}", b"x" * 100, ttl=100, now=0)
    assert len(s) == 10
    assert s.bytes == 10 * cost
    assert s.get("k49", now=1) == b"x" * 100
    assert s.get("k00", now=1) is None
    # replacing a value re-accounts it, expiry releases it
    s.set("k49", b"y", ttl=1, now=1)
    assert s.bytes == 9 * cost + ENTRY_OVERHEAD + 3 + 1
    assert s.get("k49", now=5) is None
    assert s.bytes == 9 * cost
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryState(max_bytes=1)


def test_counters_are_accounted() -> None:
    s = MemoryState(max_bytes=100_000)
    s.incr("n", 1, ttl=10, now=0)
    s.set("b", b"12", ttl=10, now=0)
    s.incr("b", 1, ttl=10, now=0)
    assert s.get("b", now=1) == b"13"
    assert s.bytes == 2 * (200 + 1 + 8)
