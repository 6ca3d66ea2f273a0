"""Events for the analytics tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.analytics.events import Event, events_to_arrow, finish

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def ev(i: int = 0, **kw: Any) -> Event:
    """A plausible event; `i` varies the address, request id and time."""
    base: dict[str, Any] = {
        "ts": T0 + i,
        "client_ip": f"192.0.2.{i % 250 + 1}",
        "zone": "shop.example",
        "request_id": f"r{i}",
        "host": "shop.example",
        "path": "/",
        "user_agent": "Mozilla/5.0",
        "score": 50,
        "score_src": "Machine Learning",
    }
    base.update(kw)
    return Event(**base)


def batch(events: list[Event], first_seq: int = 1, spool_id: str = "test") -> pa.Table:
    return finish(events_to_arrow(events), spool_id=spool_id, first_seq=first_seq)
