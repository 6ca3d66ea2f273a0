"""Detection engines. `default_engines()` is the single registry, in pipeline order."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botwarden.bots import BotDirectory
    from botwarden.engines.base import Engine
    from botwarden.ml.registry import Registry
    from botwarden.state.base import StateStore


def default_engines(
    directory: BotDirectory | None = None,
    *,
    ml: bool = True,
    registry: Registry | None = None,
    state: StateStore | None = None,
) -> list[Engine]:
    """The pipeline, in order:

    1. the machine-learning observer (counts every request in the per-client windows, so
       a client's rate includes requests a later engine decides, as in training);
    2. verified bots (a verified bot is final);
    3. heuristics (score 1 is final);
    4. the machine-learning engine, which scores whatever nothing before it decided.

    `ml=False` leaves the model out (a request no engine decides is "Not Computed").
    `registry`: model versions, pins and shadow (default: the data directory's registry if
    `botwarden model …` created one, else the packaged base model). `state`: a shared
    store (Redis) for the per-client windows; default in process.
    """
    from botwarden.bots import BotDirectory
    from botwarden.engines.heuristics import HeuristicsEngine
    from botwarden.engines.verified import VerifiedBotEngine

    bots = directory if directory is not None else BotDirectory.default()
    rules: list[Engine] = [VerifiedBotEngine(bots), HeuristicsEngine(bots)]
    if not ml:
        return rules
    from botwarden.engines.ml import default_registry, ml_engines

    observer, engine = ml_engines(
        registry if registry is not None else default_registry(), state=state
    )
    return [observer, *rules, engine]
