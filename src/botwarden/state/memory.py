"""A bounded in-memory StateStore: LRU eviction past `max_entries` (and, when given,
past `max_bytes`), per-entry expiry.

Memory ceiling: each entry costs about `ENTRY_OVERHEAD` (200) bytes plus its key and
value, so the default of 100,000 entries stays under roughly 30 MB for counter-sized
values. Callers that store larger records (the ML engine's per-client windows are about
120 bytes) should pass `max_bytes` as well: the store then evicts the least recently
used entries until its accounted size is below the ceiling, whatever the record sizes.
"""

from __future__ import annotations

from collections import OrderedDict

ENTRY_OVERHEAD = 200
"""Accounted bytes per entry besides key and value: the OrderedDict node, the tuple, the
float and the string and bytes object headers (measured with tracemalloc, rounded up)."""


def _cost(key: str, value: bytes | int) -> int:
    return ENTRY_OVERHEAD + len(key) + (len(value) if isinstance(value, bytes) else 8)


class MemoryState:
    def __init__(self, max_entries: int = 100_000, max_bytes: int | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_bytes is not None and max_bytes < ENTRY_OVERHEAD:
            raise ValueError(f"max_bytes must be at least {ENTRY_OVERHEAD}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, tuple[float, bytes | int]] = OrderedDict()
        self.evictions = 0
        self.bytes = 0
        """Accounted size of the live and not yet collected entries (see ENTRY_OVERHEAD)."""

    def __len__(self) -> int:
        return len(self._data)

    def _live(self, key: str, now: float) -> bytes | int | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= now:
            del self._data[key]
            self.bytes -= _cost(key, value)
            return None
        self._data.move_to_end(key)
        return value

    def _put(self, key: str, expires: float, value: bytes | int) -> None:
        old = self._data.get(key)
        if old is not None:
            self.bytes -= _cost(key, old[1])
        self._data[key] = (expires, value)
        self._data.move_to_end(key)
        self.bytes += _cost(key, value)
        limit = self.max_bytes
        while len(self._data) > self.max_entries or (
            limit is not None and self.bytes > limit and len(self._data) > 1
        ):
            k, (_, v) = self._data.popitem(last=False)
            self.bytes -= _cost(k, v)
            self.evictions += 1

    def get(self, key: str, now: float) -> bytes | None:
        value = self._live(key, now)
        if isinstance(value, int):
            return str(value).encode()
        return value

    def set(self, key: str, value: bytes, ttl: float, now: float) -> None:
        self._put(key, now + ttl, value)

    def incr(self, key: str, amount: int, ttl: float, now: float) -> int:
        current = self._live(key, now)
        if current is None:
            self._put(key, now + ttl, amount)
            return amount
        if isinstance(current, bytes):
            self.bytes -= _cost(key, current)
            self.bytes += _cost(key, 0)
            current = int(current or b"0")
        new = current + amount
        expires = self._data[key][0]
        self._data[key] = (expires, new)
        return new
