"""The pipeline: run engines in order and combine their verdicts into a BotManagement result."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botwarden.result import BotManagement, ScoreSource

if TYPE_CHECKING:
    from botwarden.engines.base import Engine
    from botwarden.request import RequestContext
    from botwarden.state.base import StateStore

log = logging.getLogger(__name__)

_perf = time.perf_counter_ns


class Pipeline:
    """Engines run in the order given; a final verdict stops the run.

    An engine that raises is logged with its name, counted in `errors`, and treated as
    having no opinion: a broken engine never fails the request.
    """

    def __init__(self, engines: Sequence[Engine], state: StateStore | None = None) -> None:
        self.engines = tuple(engines)
        self.state = state
        self.errors: Counter[str] = Counter()

    def score(self, ctx: RequestContext) -> BotManagement:
        result = BotManagement(
            ja3_hash=ctx.ja3_hash, ja4=ctx.ja4, static_resource=ctx.static_resource
        )
        timings = result.timings_us
        ids: list[int] = result.detection_ids
        for engine in self.engines:
            t0 = _perf()
            try:
                verdict = engine.evaluate(ctx, self.state)
            except Exception:
                self.errors[engine.name] += 1
                log.exception("engine %s failed; treating it as no opinion", engine.name)
                verdict = None
            timings[engine.name] = (_perf() - t0) / 1000
            if verdict is None:
                continue
            for d in verdict.detection_ids:
                if d not in ids:
                    ids.append(d)
            if verdict.verified_bot_name is not None:
                result.verified_bot = True
                result.verified_bot_name = verdict.verified_bot_name
                result.verified_bot_category = verdict.verified_bot_category
            if verdict.model_version is not None:
                result.model_version = verdict.model_version
            if verdict.score is not None and result.score == 0:
                result.score = verdict.score
                result.score_src = verdict.source or ScoreSource.NOT_COMPUTED
            if verdict.final:
                break
        return result


def default_pipeline(state: StateStore | None = None) -> Pipeline:
    from botwarden.engines import default_engines

    return Pipeline(default_engines(), state)
