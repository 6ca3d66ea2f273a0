"""A bounded in-memory StateStore: LRU eviction past `max_entries`, per-entry expiry.

Memory ceiling: each entry costs about 200 bytes plus its value, so the default of
100,000 entries stays under roughly 30 MB for counter-sized values.
"""

from __future__ import annotations

from collections import OrderedDict


class MemoryState:
    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes | int]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def _live(self, key: str, now: float) -> bytes | int | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def _put(self, key: str, expires: float, value: bytes | int) -> None:
        self._data[key] = (expires, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
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
            current = int(current or b"0")
        new = current + amount
        expires = self._data[key][0]
        self._data[key] = (expires, new)
        return new
