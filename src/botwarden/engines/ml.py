"""The machine-learning engine: features → ONNX model → calibrated score 2..99.

Two engines share one feature extractor: `MLObserver` goes first in the pipeline and
counts every request in the per-client windows (so a client's rate includes requests
that a later engine decides, exactly as training counts them); `MLEngine` goes last and
scores what no other engine decided, reusing the observer's vector for the same request.
Without the observer, `MLEngine` extracts (and counts) on its own.

The model is chosen per zone from the registry (pin, or the active version); with a
shadow version set, both score and both are recorded. The constructor loads every version
the registry names; a version named later (a promotion, a new pin or shadow, seen within
`reload_every` seconds) is loaded in a background thread while each zone keeps being
scored with the model it had, and swapped in by the next request once ready: creating an
ONNX session takes tens of milliseconds (more for a large model), a stall for every
request in flight if done on the event loop. A version that cannot be loaded leaves its
zones to the packaged base model, as before.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
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
    previous: dict[str | None, Model | None] = field(default_factory=dict)
    """Each zone's model before the last registry change: it keeps scoring the zone until
    the version the zone resolves to now is loaded."""
    failed: set[str] = field(default_factory=set)
    """Versions that cannot be loaded (until the registry changes): the base model scores."""
    pending: set[str] = field(default_factory=set)
    """Versions being loaded in the background."""
    done: deque[tuple[str, Model | None]] = field(default_factory=deque)
    """Loads finished by the loader thread (None: failed), applied on the serving thread."""
    jobs: list[threading.Event] = field(default_factory=list)
    """One per load handed to the loader thread, set when it is done (`wait_loads`)."""


_jobs: queue.SimpleQueue[Callable[[], None]] | None = None
_jobs_lock = threading.Lock()


def _run_jobs(jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
    while True:
        jobs.get()()


def _loader() -> queue.SimpleQueue[Callable[[], None]]:
    """The queue of the process's model-loader thread, started on first use (an engine
    with a registry starts it when built: a queue put costs a request nothing, starting a
    thread waits for the thread to run)."""
    global _jobs
    with _jobs_lock:
        if _jobs is None:
            _jobs = queue.SimpleQueue()
            threading.Thread(
                target=_run_jobs, args=(_jobs,), name="botwarden-model-loader", daemon=True
            ).start()
        return _jobs


def _forget_loader() -> None:
    global _jobs
    _jobs = None  # a forked child has no loader thread: the next submit starts one


os.register_at_fork(after_in_child=_forget_loader)


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
        background: bool = True,
    ) -> None:
        """`registry`: versions, pins and shadow (None: the packaged base model only).
        `state`: a shared StateStore (Redis) for the per-client windows; default in
        process, bounded by `capacity` clients. `background`: versions that the registry
        names after construction (a promotion, a new pin or shadow) load in a thread while
        requests keep being scored with the model they had (an ONNX session takes 50-200
        ms to create: on the serving thread, a stall for every request in flight); False
        loads them at once, on the caller's thread. Every version the registry names at
        construction is loaded by the constructor."""
        self.extractor = FeatureExtractor(config, state=state, capacity=capacity)
        self.base_model = base_model
        self.reload_every = reload_every
        self.on_shadow = on_shadow
        self.background = background
        self.shadow_stats: dict[tuple[str, str], ShadowStats] = {}
        self.last: Scored | None = None
        self._models = _Models(registry)
        self._stash: tuple[RequestContext, list[float]] | None = None
        if background and registry is not None:
            _loader()
        self._refresh(force=True)
        # Load now what the registry names (the default, pinned zones' versions), not at
        # a request.
        for version in self._wanted():
            self._load(version)
        if self._models.failed:
            self._load(BASE)  # what the zones of a broken version get
        self.model_for(None)

    # -- models ---------------------------------------------------------------------------

    def _opener(self, version: str) -> Callable[[], Model]:
        """A function that loads `version` (called on any thread: it reads only paths
        resolved here, on the serving thread)."""
        from botwarden.ml.model import Model

        reg = self._models.registry
        if version == BASE or reg is None:
            from botwarden.ml.registry import base_model_dir

            directory = self.base_model or base_model_dir()
            label = BASE if reg is None else version

            def load_base() -> Model:
                m = Model(directory)
                m.version = label
                return m

            return load_base
        directory = reg.directory(version)
        return lambda: Model(directory)

    def _load(self, version: str) -> Model | None:
        """`version` loaded now, on this thread (None: it cannot be)."""
        ms = self._models
        m = ms.loaded.get(version)
        if m is not None or version in ms.failed:
            return m
        try:
            m = self._opener(version)()
        except Exception as exc:  # a corrupt file must not take scoring down
            log.error("model %s cannot be loaded: %s", version, exc)
            ms.failed.add(version)
            return None
        ms.loaded[version] = m
        return m

    def _load_later(self, version: str) -> None:
        """Start loading `version` in a thread; `_apply_loads` swaps it in when done."""
        ms = self._models
        if version in ms.loaded or version in ms.pending or version in ms.failed:
            return
        try:
            opener = self._opener(version)
        except Exception as exc:
            log.error("model %s cannot be loaded: %s", version, exc)
            ms.failed.add(version)
            return
        ms.pending.add(version)
        done, finished = ms.done, threading.Event()

        def run() -> None:
            model: Model | None = None
            try:
                model = opener()
            except Exception as exc:
                log.error("model %s cannot be loaded: %s", version, exc)
            done.append((version, model))  # deque.append: safe across threads
            finished.set()

        ms.jobs = [j for j in ms.jobs if not j.is_set()]
        ms.jobs.append(finished)
        _loader().put(run)

    def _apply_loads(self) -> None:
        """Swap in the versions the loader threads finished (on the serving thread)."""
        ms = self._models
        if not ms.done:
            return
        while ms.done:
            version, model = ms.done.popleft()
            ms.pending.discard(version)
            if model is None:
                ms.failed.add(version)
                if version != BASE:
                    self._load_later(BASE)  # what the zones of a broken version get
            elif version in self._wanted() or version == BASE:
                ms.loaded[version] = model
        reg = ms.registry
        if reg is not None:
            if not reg.shadow or reg.shadow in ms.failed:
                ms.shadow = None
            elif reg.shadow in ms.loaded:
                ms.shadow = ms.loaded[reg.shadow]
        ms.by_zone = {}

    def wait_loads(self, timeout: float | None = None) -> bool:
        """Wait for the background loads to finish and swap them in; False on timeout.
        (Tests and batch jobs; the edge never waits.)"""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._apply_loads()  # (a failed load starts the base model's)
            if not self._models.pending:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            for j in [j for j in self._models.jobs if not j.is_set()]:
                j.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _wanted(self) -> set[str]:
        """The versions the registry names: the active one, the shadow, zones' pins."""
        reg = self._models.registry
        if reg is None:
            return {BASE}
        wanted = {v for v in (reg.active, reg.shadow) if v}
        for zone in reg.doc.get("zones", {}):
            version = reg.resolve(zone)
            if version:
                wanted.add(version)
        return wanted

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
        if ms.by_zone:
            ms.previous = ms.by_zone
        ms.by_zone = {}
        ms.failed = set()
        wanted = self._wanted()
        ms.loaded = {v: m for v, m in ms.loaded.items() if v in wanted or v == BASE}
        if not self.background or force:
            ms.shadow = self._load(reg.shadow) if reg.shadow else None
            return
        for version in wanted:
            self._load_later(version)
        if not reg.shadow:
            ms.shadow = None
        elif reg.shadow in ms.loaded:
            ms.shadow = ms.loaded[reg.shadow]
        # else: the previous shadow (labelled with its own version) until the new one loads

    def _interim(self, zone: str | None) -> Model | None:
        """What scores `zone` while its version loads: the zone's model before the
        registry changed, else the default zone's, else any model that was in use."""
        prev = self._models.previous
        model = prev.get(zone) or prev.get(None)
        if model is None:
            model = next((m for m in prev.values() if m is not None), None)
        return model

    def _obtain(self, version: str, zone: str | None) -> Model | None:
        """`version` for `zone` when it is not loaded: after a registry change (background
        loading), started in the loader thread while the zone's interim model scores;
        else loaded now."""
        if self.background and self._models.previous:
            self._load_later(version)
            return self._interim(zone)
        return self._load(version)

    def model_for(self, zone: str | None) -> Model | None:
        ms = self._models
        if zone in ms.by_zone:
            return ms.by_zone[zone]
        reg = ms.registry
        version = reg.resolve(zone) if reg is not None else BASE
        model = ms.loaded.get(version) if version else None
        if model is None and version and version not in ms.failed:
            model = self._obtain(version, zone)
        if model is None and version != BASE:
            # A broken version never leaves a zone unscored: the base model.
            model = ms.loaded.get(BASE)
            if model is None:
                model = self._obtain(BASE, zone)
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
        ms = self._models
        now = time.monotonic()
        if now - ms.checked >= self.reload_every:
            ms.checked = now
            self._refresh()
        if ms.done:
            self._apply_loads()
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
    background: bool = True,
) -> tuple[MLObserver, MLEngine]:
    """(observer, engine): put the observer first in `default_engines()`, the engine last.
    `background=False` for offline replays: a registry change applies at the next request."""
    engine = MLEngine(registry, config=config, state=state, background=background)
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
