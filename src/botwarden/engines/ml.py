"""The machine-learning engine: features → ONNX model → calibrated score 2..99.

Two engines share one feature extractor: `MLObserver` goes first in the pipeline and
counts every request in the per-client windows (so a client's rate includes requests
that a later engine decides, exactly as training counts them); `MLEngine` goes last and
scores what no other engine decided, reusing the observer's vector for the same request.
Without the observer, `MLEngine` extracts (and counts) on its own.

The model is chosen per zone from the registry (pin, or the active version), reloaded
when the registry changes; with a shadow version set, both score and both are recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from botwarden.engines.base import Verdict
from botwarden.ml.calibration import BOUNDARY_SCORE
from botwarden.ml.features import FeatureConfig, FeatureExtractor
from botwarden.result import ScoreSource

if TYPE_CHECKING:
    from collections.abc import Sequence

    from botwarden.engines.base import Engine
    from botwarden.ml.model import Model
    from botwarden.ml.registry import Registry
    from botwarden.request import RequestContext
    from botwarden.state.base import StateStore

log = logging.getLogger(__name__)

BASE = "base"
"""Version label of the packaged base model when no registry is configured."""

_VERDICTS: dict[tuple[str, int], Verdict] = {}


def _verdict(version: str, score: int) -> Verdict:
    """One shared, immutable verdict per (version, score): no allocation per request."""
    v = _VERDICTS.get((version, score))
    if v is None:
        if len(_VERDICTS) > 100_000:
            _VERDICTS.clear()
        v = _VERDICTS[(version, score)] = Verdict(
            score=score, source=ScoreSource.MACHINE_LEARNING, model_version=version
        )
    return v


@dataclass(slots=True)
class Scored:
    """What the engine did for the last request it scored (read it right after
    `Pipeline.score`: the edge records `version` and `features` in the analytics event)."""

    ctx: RequestContext
    version: str
    score: int
    features: list[float]
    shadow_version: str | None = None
    shadow_score: int | None = None


@dataclass(slots=True)
class ShadowStats:
    """Agreement of a shadow version with the active one, at the 30 boundary."""

    requests: int = 0
    both_automated: int = 0
    only_active: int = 0
    only_shadow: int = 0
    abs_diff_sum: int = 0

    def to_dict(self) -> dict[str, float | int]:
        n = max(1, self.requests)
        return {
            "requests": self.requests,
            "both_automated": self.both_automated,
            "only_active_automated": self.only_active,
            "only_shadow_automated": self.only_shadow,
            "mean_abs_score_diff": self.abs_diff_sum / n,
        }


@dataclass(slots=True)
class _Models:
    registry: Registry | None
    loaded: dict[str, Model] = field(default_factory=dict)
    by_zone: dict[str | None, Model | None] = field(default_factory=dict)
    shadow: Model | None = None
    stamp: tuple[int, int] = (0, 0)
    checked: float = 0.0


class MLEngine:
    name = "machine_learning"

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        config: FeatureConfig | None = None,
        state: StateStore | None = None,
        capacity: int = 100_000,
        base_model: Path | None = None,
        reload_every: float = 2.0,
        on_shadow: Callable[[Scored], None] | None = None,
    ) -> None:
        """`registry`: versions, pins and shadow (None: the packaged base model only).
        `state`: a shared StateStore (Redis) for the per-client windows; default in
        process, bounded by `capacity` clients."""
        self.extractor = FeatureExtractor(config, state=state, capacity=capacity)
        self.base_model = base_model
        self.reload_every = reload_every
        self.on_shadow = on_shadow
        self.shadow_stats: dict[tuple[str, str], ShadowStats] = {}
        self.last: Scored | None = None
        self._models = _Models(registry)
        self._stash: tuple[RequestContext, list[float]] | None = None
        self._refresh(force=True)
        self.model_for(None)  # load the default model now, not on the first request

    # -- models ---------------------------------------------------------------------------

    def _load(self, version: str) -> Model | None:
        from botwarden.ml.model import Model

        m = self._models.loaded.get(version)
        if m is not None:
            return m
        reg = self._models.registry
        try:
            if version == BASE or reg is None:
                from botwarden.ml.registry import base_model_dir

                m = Model(self.base_model or base_model_dir())
                m.version = BASE if reg is None else version
            else:
                m = Model(reg.directory(version))
        except Exception as exc:  # a corrupt file must not take scoring down
            log.error("model %s cannot be loaded: %s", version, exc)
            return None
        self._models.loaded[version] = m
        return m

    def _refresh(self, force: bool = False) -> None:
        ms = self._models
        reg = ms.registry
        if reg is None:
            if force:
                ms.by_zone = {}
                ms.shadow = None
            return
        stamp = reg.stamp()
        if not force and stamp == ms.stamp:
            return
        if not force:
            reg.load()
        ms.stamp = stamp
        ms.by_zone = {}
        keep = {v for v in (reg.active, reg.shadow) if v}
        ms.loaded = {v: m for v, m in ms.loaded.items() if v in keep}
        ms.shadow = self._load(reg.shadow) if reg.shadow else None

    def model_for(self, zone: str | None) -> Model | None:
        ms = self._models
        if zone in ms.by_zone:
            return ms.by_zone[zone]
        reg = ms.registry
        version = reg.resolve(zone) if reg is not None else BASE
        model = self._load(version) if version else None
        if model is None and version != BASE:
            model = self._load(BASE)  # a broken version never leaves a zone unscored
        if len(ms.by_zone) > 10_000:
            ms.by_zone.clear()
        ms.by_zone[zone] = model
        return model

    # -- the pipeline ---------------------------------------------------------------------

    def observe(self, ctx: RequestContext) -> None:
        """Count `ctx` in the windows and keep its vector for `evaluate` (the observer)."""
        self._stash = (ctx, self.extractor.extract(ctx))

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        stash = self._stash
        if stash is not None and stash[0] is ctx:
            vector = stash[1]
            self._stash = None
        else:
            vector = self.extractor.extract(ctx)
        now = time.monotonic()
        if now - self._models.checked >= self.reload_every:
            self._models.checked = now
            self._refresh()
        model = self.model_for(ctx.zone)
        if model is None:
            return None
        score = model.score_one(vector)
        scored = Scored(ctx, model.version, score, vector)
        shadow = self._models.shadow
        if shadow is not None and shadow is not model:
            s2 = shadow.score_one(vector)
            scored.shadow_version, scored.shadow_score = shadow.version, s2
            self._count_shadow(model.version, shadow.version, score, s2)
            if self.on_shadow is not None:
                self.on_shadow(scored)
        self.last = scored
        return _verdict(model.version, score)

    def observe_response(self, ctx: RequestContext, status: int) -> None:
        """Record the origin's status for `ctx` (the per-client error ratio). The edge
        calls this when the response starts; offline replays call it after scoring."""
        self.extractor.observe_response(ctx, status)

    def _count_shadow(self, active: str, shadow: str, a: int, s: int) -> None:
        st = self.shadow_stats.get((active, shadow))
        if st is None:
            st = self.shadow_stats[(active, shadow)] = ShadowStats()
        st.requests += 1
        la, ls = a < BOUNDARY_SCORE, s < BOUNDARY_SCORE
        if la and ls:
            st.both_automated += 1
        elif la:
            st.only_active += 1
        elif ls:
            st.only_shadow += 1
        st.abs_diff_sum += abs(a - s)

    def observer(self) -> MLObserver:
        return MLObserver(self)


class MLObserver:
    """First in the pipeline: counts every request in the ML engine's windows."""

    name = "machine_learning_observer"

    def __init__(self, engine: MLEngine) -> None:
        self.engine = engine

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        self.engine.observe(ctx)
        return None


def ml_engines(
    registry: Registry | None = None,
    *,
    config: FeatureConfig | None = None,
    state: StateStore | None = None,
) -> tuple[MLObserver, MLEngine]:
    """(observer, engine): put the observer first in `default_engines()`, the engine last."""
    engine = MLEngine(registry, config=config, state=state)
    return engine.observer(), engine


def find_ml_engine(engines: Sequence[Engine]) -> MLEngine | None:
    """The machine-learning engine among `engines` (what `default_engines` puts last): the
    edge and `botwarden score` read its `last` vector and tell it response statuses."""
    for engine in engines:
        if isinstance(engine, MLEngine):
            return engine
    return None


def default_registry() -> Registry | None:
    """The data directory's registry if one was created (`botwarden model …`), else None:
    scoring never writes to disk on its own."""
    from botwarden.ml.registry import REGISTRY_FILE, Registry, default_root

    root = default_root()
    return Registry(root) if (root / REGISTRY_FILE).is_file() else None


__all__ = [
    "BASE",
    "MLEngine",
    "MLObserver",
    "Scored",
    "ShadowStats",
    "default_registry",
    "find_ml_engine",
    "ml_engines",
]
