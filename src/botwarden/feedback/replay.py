"""Replay labelled simulator events through the real scoring pipeline into an analytics
backend, each event with the feature vector the model saw — what the edge records. The
demo and the end-to-end tests use it to produce "live" traffic for a zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.analytics.events import Event, event_from_request, events_to_arrow, finish

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend
    from botwarden.ml.registry import Registry

BATCH = 20_000


@dataclass(slots=True)
class Replayed:
    scores: np.ndarray  # int32, one per event, in table order
    sources: np.ndarray  # str (object)
    versions: np.ndarray  # model version (object; "" when no model scored)
    populations: np.ndarray  # the simulator's ground truth, for reports
    campaigns: np.ndarray

    def share_below(self, mask: np.ndarray) -> float:
        s = self.scores[mask]
        return float((s < 30).mean()) if len(s) else float("nan")


def replay(
    table: pa.Table,
    registry: Registry,
    zone: str,
    backend: Backend | None = None,
    *,
    spool_id: str = "replay",
    first_seq: int = 1,
) -> Replayed:
    """Score every row of `table` (simulator events, time-ordered) with
    `[observer, *default_engines(ml=False), ml]` as zone `zone`; with a backend, store the
    events (vectors included) there."""
    from botwarden.engines import default_engines
    from botwarden.engines.ml import ml_engines
    from botwarden.ml.adapters import contexts, sort_by_time
    from botwarden.scoring import Pipeline

    table = sort_by_time(table)
    n = table.num_rows
    if "zone" in table.column_names:
        table = table.drop_columns(["zone"])
    table = table.append_column("zone", pa.array([zone] * n, pa.string()))
    # Offline: every request is scored by the version the registry names at that moment.
    obs, eng = ml_engines(registry, background=False)
    pipeline = Pipeline([obs, *default_engines(ml=False), eng])
    sessions = table.column("session_id").to_pylist()
    scores = np.zeros(n, dtype=np.int32)
    sources = np.empty(n, dtype=object)
    versions = np.empty(n, dtype=object)
    pending: list[Event] = []
    seq = first_seq
    for i, (ctx, status) in enumerate(contexts(table)):
        bm = pipeline.score(ctx)
        eng.observe_response(ctx, status)
        last = eng.last
        vec = last.features if last is not None and last.ctx is ctx else ()
        scores[i] = bm.score
        sources[i] = str(bm.score_src)
        versions[i] = bm.model_version or ""
        if backend is not None:
            pending.append(
                event_from_request(
                    ctx, bm, status=status, features=vec, session_id=str(sessions[i])
                )
            )
            if len(pending) >= BATCH:
                seq = _store(backend, pending, spool_id, seq)
                pending = []
    if backend is not None and pending:
        _store(backend, pending, spool_id, seq)

    def col(name: str) -> np.ndarray:
        if name not in table.column_names:
            return np.full(n, "", dtype=object)
        c = table.column(name)
        if pa.types.is_dictionary(c.type):
            c = c.cast(pa.string())
        return np.asarray(c.fill_null("").to_pylist(), dtype=object)

    return Replayed(scores, sources, versions, col("population"), col("campaign"))


def _store(backend: Backend, events: list[Event], spool_id: str, seq: int) -> int:
    batch = finish(events_to_arrow(events), spool_id=spool_id, first_seq=seq)
    last = seq + len(events) - 1
    backend.insert(batch, spool_id=spool_id, last_seq=last)
    return last + 1


__all__ = ["Replayed", "replay"]
