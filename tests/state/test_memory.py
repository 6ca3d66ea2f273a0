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
