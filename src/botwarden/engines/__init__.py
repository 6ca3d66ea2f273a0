"""Detection engines. `default_engines()` is the single registry, in pipeline order."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botwarden.bots import BotDirectory
    from botwarden.engines.base import Engine


def default_engines(directory: BotDirectory | None = None) -> list[Engine]:
    """Verified bots first (a verified bot is final), then heuristics.

    The JavaScript-detections, anomaly and machine-learning engines join this list in
    their own issues; until then a request no engine decides is "Not Computed".
    """
    from botwarden.bots import BotDirectory
    from botwarden.engines.heuristics import HeuristicsEngine
    from botwarden.engines.verified import VerifiedBotEngine

    bots = directory if directory is not None else BotDirectory.default()
    return [VerifiedBotEngine(bots), HeuristicsEngine(bots)]
