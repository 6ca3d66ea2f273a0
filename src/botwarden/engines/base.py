"""The engine contract: `evaluate(ctx, state) -> Verdict | None`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from botwarden.request import RequestContext
    from botwarden.result import ScoreSource
    from botwarden.state.base import StateStore


@dataclass(frozen=True, slots=True)
class Verdict:
    """An engine's opinion. `final` stops the pipeline (score 1, a verified bot)."""

    score: int | None = None
    source: ScoreSource | None = None
    final: bool = False
    detection_ids: tuple[int, ...] = ()
    verified_bot_name: str | None = None
    verified_bot_category: str | None = None
    model_version: str | None = None
    """The machine-learning model version that produced this opinion."""


class Engine(Protocol):
    name: str

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        """Return an opinion about `ctx`, or None for none. Must not mutate `ctx`."""
        ...
