"""One turn of the loop: accepted reports → labels → candidate → gates → (promotion).

    result = run(store, backend, registry, base=[...], holdout=[...], workdir=tmp)
    result.candidate.gates.passed

`promote="auto"` promotes a candidate that passes every gate (zones with auto-update
move, pinned zones stay); `"shadow"` makes it the shadow version instead, to score live
traffic beside the active one first; `"none"` leaves the decision to an operator.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from botwarden.errors import ConfigError
from botwarden.feedback import labels as labels_mod
from botwarden.feedback.promotion import ModelControl
from botwarden.ml.dataset import Dataset, load
from botwarden.ml.retrain import Candidate, Slice, labelled, retrain
from botwarden.ml.train import Progress, TrainConfig

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend
    from botwarden.ml.registry import Registry
    from botwarden.store import Store

Promote = Literal["none", "auto", "shadow"]


@dataclass(slots=True)
class LoopResult:
    candidate: Candidate
    labels: labels_mod.Labels
    weak_rows: int
    promoted: bool
    shadow: bool
    seconds: float


def run(
    store: Store,
    backend: Backend,
    registry: Registry,
    *,
    base: Dataset | Sequence[str | Path],
    holdout: Dataset | Sequence[str | Path],
    workdir: Path,
    config: TrainConfig | None = None,
    promote: Promote = "none",
    weak: bool = True,
    max_rows: int = labels_mod.MAX_ROWS,
    max_share: float = labels_mod.MAX_SHARE,
    progress: Progress | None = None,
) -> LoopResult:
    t0 = time.perf_counter()
    reports = store.accepted_feedback()
    if not reports:
        raise ConfigError("no accepted feedback reports to train on; accept one first")
    base_ds = base if isinstance(base, Dataset) else load(list(base))
    found = labels_mod.collect(backend, reports, corpus_rows=len(base_ds), max_rows=max_rows,
                               max_share=max_share)  # fmt: skip
    if not found.sets:
        why = "; ".join(f"{k}: {v}" for k, v in found.skipped.items())
        raise ConfigError(f"no accepted report gave training rows ({why})")
    extra = [labelled(s.X, s.y, s.session, s.weight, f"feedback:{s.source}") for s in found.sets]
    weak_rows = 0
    used = [r for r in reports if r.id in {s.source for s in found.sets}]
    if weak:
        since = min(r.first_request_seen_at for r in used)
        until = max(r.last_request_seen_at for r in used)
        zones = sorted({r.zone_id for r in used})
        for zone in zones:
            w = labels_mod.weak_labels(backend, since, until, zone=zone, exclude=reports)
            if len(w):
                # Weak labels together weigh at most a quarter of the base corpus.
                w.weight[:] = min(1.0, 0.25 * len(base_ds) / len(w))
                extra.append(labelled(w.X, w.y, w.session, w.weight, "weak"))
                weak_rows += len(w)
    slices = [Slice(s.source, s.label, s.X, s.subtype) for s in found.sets]
    ids = [s.source for s in found.sets]
    cand = retrain(registry, base=base_ds, holdout=holdout, extra=extra, slices=slices,
                   reports=ids, workdir=workdir, config=config,
                   description=f"retrained on {len(ids)} feedback report(s)",
                   progress=progress)  # fmt: skip
    control = ModelControl(registry, store)
    control.mirror(cand.version)
    store.set_feedback_trained(cand.version, found.rows_by_report())
    promoted = shadow = False
    if cand.gates.passed and promote == "auto":
        control.promote(cand.version)
        promoted = True
    elif cand.gates.passed and promote == "shadow":
        control.set_shadow(cand.version)
        shadow = True
    return LoopResult(cand, found, weak_rows, promoted, shadow, time.perf_counter() - t0)


__all__ = ["LoopResult", "Promote", "run"]
