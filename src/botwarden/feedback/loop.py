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

import numpy as np

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
    dropped_base_rows: int
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
    new = store.accepted_feedback()
    if not new:
        raise ConfigError("no accepted feedback reports to train on; accept one first")
    # Reports already in a model are learned again, so the candidate does not forget them.
    promoted = {*registry.doc.get("history", []), registry.active}
    earlier = store.labelled_feedback()
    reports = [*earlier, *new]
    base_ds = base if isinstance(base, Dataset) else load(list(base))
    found = labels_mod.collect(backend, reports, corpus_rows=len(base_ds), max_rows=max_rows,
                               max_share=max_share)  # fmt: skip
    if not found.sets:
        why = "; ".join(f"{k}: {v}" for k, v in found.skipped.items())
        raise ConfigError(f"no accepted report gave training rows ({why})")
    # Corpus rows an accepted report contradicts (same client software, opposite label,
    # systematically) are left out: the reviewer's word wins over the old corpus.
    dropped = labels_mod.contradicted(base_ds.X, base_ds.y, found.sets)
    if dropped.any():
        base_ds = base_ds.take(np.flatnonzero(~dropped))
    extra = [labelled(s.X, s.y, s.session, s.weight, f"feedback:{s.source}") for s in found.sets]
    weak_rows = 0
    used = [r for r in reports if r.id in {s.source for s in found.sets}]
    if weak:
        since = min(r.first_request_seen_at for r in used)
        until = max(r.last_request_seen_at for r in used)
        zones = sorted({r.zone_id for r in used})
        bot_share = LIVE_BOT_SHARE
        for zone in zones:
            w = labels_mod.weak_labels(backend, since, until, zone=zone, exclude=reports,
                                       confident_human=labels_mod.CONFIDENT_HUMAN)  # fmt: skip
            if len(w):
                ours = [
                    s for s in found.sets if s.source in {r.id for r in used if r.zone_id == zone}
                ]
                w.weight[:] = balance(w.y, ours, bot_share, cap=0.25 * len(base_ds))
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
    # A report stays "in model vN" once vN was promoted; the others move to this candidate.
    moved = {r.id for r in earlier if r.model_version in promoted}
    store.set_feedback_trained(
        cand.version, {k: v for k, v in found.rows_by_report().items() if k not in moved}
    )
    promoted_now = shadow = False
    if cand.gates.passed and promote == "auto":
        control.promote(cand.version)
        promoted_now = True
    elif cand.gates.passed and promote == "shadow":
        control.set_shadow(cand.version)
        shadow = True
    return LoopResult(cand, found, weak_rows, int(dropped.sum()), promoted_now, shadow,
                      time.perf_counter() - t0)  # fmt: skip


LIVE_BOT_SHARE = 0.5
"""The share of bots the weak labels bring a zone's live rows to (see `balance`)."""


def balance(
    y: np.ndarray, reports: Sequence[labels_mod.LabelSet], bot_share: float, *, cap: float
) -> np.ndarray:
    """Weights of a zone's weak labels (`y`, 1 = bot) such that the zone's live rows — its
    reports' rows and these — have the base corpus' share of bots as far as weights of at
    most 1 allow (weak bots weigh 1, weak people what the balance needs); together at most
    `cap`.

    Live rows carry the site's own `ja4_*_1h` counts (traffic per TLS fingerprint over the
    whole site), which differ from the corpus'. If the live rows were all of one class —
    a false negative's bots and the verified bots beside them, or a false positive's
    people — the trees would learn "this site's counts → bot" (or "→ human") and move
    everyone else on the site: in the demo, a false negative trained without live people
    flagged 64 % of the site's other people."""
    bot = np.asarray(y) == 1
    p = min(max(bot_share, 0.05), 0.95)
    rep_bots = sum(float(s.weight.sum()) for s in reports if s.label == labels_mod.BOT)
    rep_humans = sum(float(s.weight.sum()) for s in reports if s.label == labels_mod.HUMAN)
    n_bot, n_human = int(bot.sum()), int((~bot).sum())
    w = np.zeros(len(bot), dtype=np.float32)
    # Weak bots (verified bots, heuristics, failed JS: the surer labels) weigh 1; the
    # weak people (mostly "the active model scored it ≥ 50") fill up to the share.
    wb = 1.0
    want_humans = (rep_bots + n_bot) * (1 - p) / p
    wh = min(1.0, max(0.0, (want_humans - rep_humans) / n_human)) if n_human else 0.0
    w[bot], w[~bot] = wb, wh
    total = float(w.sum())
    if total > cap > 0:
        w *= cap / total
    return w


__all__ = ["LoopResult", "Promote", "balance", "run"]
