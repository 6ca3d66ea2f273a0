"""The state protocol engines and rate limits use: counters with expiry, small values."""

from __future__ import annotations

from typing import Protocol


class StateStore(Protocol):
    """Keyed, expiring state. Implementations bound their memory and say how."""

    def get(self, key: str, now: float) -> bytes | None:
        """The value stored under `key`, or None if absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float, now: float) -> None:
        """Store `value` under `key` until `now + ttl`."""
        ...

    def incr(self, key: str, amount: int, ttl: float, now: float) -> int:
        """Add `amount` to the counter under `key` and return the new value. A new or
        expired counter starts at zero and expires `ttl` seconds after it starts."""
        ...
