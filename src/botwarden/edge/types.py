"""Names shared by the listener and the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

TLS_HELLO_KEY = "botwarden.client_hello"
"""`scope["state"]` key under which the listener puts the connection's raw ClientHello."""


@dataclass(slots=True)
class UpgradePlan:
    """What to do with an Upgrade request: send `response` and close, or tunnel to
    (`host`, `port`, `tls`) starting with `head`; `done(status)` is called once with the
    origin's status line code (502 if it never answers)."""

    response: bytes = b""
    host: str = ""
    port: int = 0
    tls: bool = False
    head: bytes = b""
    done: Callable[[int], None] | None = None


UpgradeHandler = Callable[[dict[str, Any]], Awaitable[UpgradePlan]]
