"""What holds the edge's event loop up: the loop-lag probe, GC pauses, and the analytics
writer hand-off (edge/stalls.py, edge/events.py)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import subprocess
import sys
import time
import weakref

from botwarden.edge.metrics import EdgeMetrics, FastHistogram
from botwarden.edge.stalls import (
    GC_BUCKETS,
    LAG_BUCKETS,
    CollectionFreezer,
    GCPauses,
    LoopLagProbe,
)


def test_loop_lag_probe_sees_a_callback_that_holds_the_loop() -> None:
    probe = LoopLagProbe(FastHistogram(LAG_BUCKETS), interval=0.005)

    async def run() -> None:
        task = asyncio.create_task(probe.run())
        await asyncio.sleep(0.05)
        time.sleep(0.08)  # a callback that blocks the loop for 80 ms
        await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(run())
    h = probe.histogram
    assert sum(h.counts) >= 5  # it kept ticking
    above_50ms = sum(h.counts[LAG_BUCKETS.index(0.05) + 1 :])
    assert above_50ms >= 1
    assert probe.max_seconds >= 0.07
    assert h.sum >= 0.07


def test_gc_pauses_are_timed_by_generation_until_uninstalled() -> None:
    pauses = GCPauses().install()
    # No automatic collection while the cycles are made: one of generation 2 would be
    # counted too (it depends on what earlier tests allocated).
    gc.disable()
    try:
        before = [sum(h.counts) for h in pauses.by_generation.values()]
        garbage: list[list[object]] = [[] for _ in range(1000)]
        for a, b in itertools.pairwise(garbage):
            a.append(b)
            b.append(a)  # cycles: only the collector frees them
        del garbage, a, b
        gc.collect()
        assert sum(pauses.by_generation[2].counts) == before[2] + 1
        assert pauses.by_generation[2].sum > 0.0
        assert pauses.collected >= 1000
    finally:
        gc.enable()
        pauses.uninstall()
    n = sum(pauses.by_generation[2].counts)
    gc.collect()
    assert sum(pauses.by_generation[2].counts) == n
    assert pauses._callback not in gc.callbacks
    pauses.uninstall()  # twice is harmless


def test_stall_metrics_are_exposed() -> None:
    m = EdgeMetrics()
    assert b"loop_lag" not in m.exposition()  # nothing watched, nothing exposed
    m.loop_lag = LoopLagProbe(FastHistogram(LAG_BUCKETS))
    m.loop_lag.histogram.observe(0.003)
    m.loop_lag.histogram.observe(0.2)
    m.loop_lag.max_seconds = 0.2
    m.gc_pauses = GCPauses()
    m.gc_pauses.by_generation[2].observe(0.04)
    text = m.exposition().decode()
    assert 'botwarden_edge_loop_lag_seconds_bucket{le="0.005"} 1.0' in text
    assert "botwarden_edge_loop_lag_seconds_count 2.0" in text
    assert "botwarden_edge_loop_lag_max_seconds 0.2" in text
    assert 'botwarden_edge_gc_pause_seconds_count{generation="2"} 1.0' in text
    assert 'botwarden_edge_gc_pause_seconds_count{generation="0"} 0.0' in text
    assert len(GC_BUCKETS) == len(m.gc_pauses.by_generation[0].counts) - 1


_SHIPPER = """
import asyncio, sys, tempfile
from pathlib import Path
from botwarden.edge.events import EventShipper

assert "pyarrow" not in sys.modules
async def main():
    shipper = EventShipper(Path(tempfile.mkdtemp()))
    await shipper.start()
    # before the first request: what the child's reports unpickle to is already imported
    assert "botwarden.analytics.writer" in sys.modules and "pyarrow" in sys.modules
    loaded = set(sys.modules)
    while shipper.writer_metrics is None:
        await asyncio.sleep(0.05)
    print("imported by the first report:", sorted(set(sys.modules) - loaded))
    await shipper.close()
asyncio.run(main())
"""


def test_writer_reports_import_nothing_on_the_event_loop() -> None:
    """The first report from the writer process unpickled `WriterMetrics` on the loop,
    importing pyarrow there: a 70-300 ms stall. `start` imports it before serving."""
    out = subprocess.run(
        [sys.executable, "-c", _SHIPPER], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "imported by the first report: []" in out.stdout


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_freezer_keeps_survivors_frozen_and_collects_them_on_schedule() -> None:
    """What survived is frozen (the collector no longer walks it) and, every `full_every`
    seconds, unfrozen and collected for real — the edge's loop and the analytics writer's
    process both run it."""
    try:
        freezer = CollectionFreezer(full_every=3600)
        assert gc.get_freeze_count() > 0
        garbage = _Cycle()
        alive = weakref.ref(garbage)
        freezer.tick()  # the cycle survived until now: frozen
        del garbage
        gc.collect()
        assert alive() is not None  # frozen objects are not collected...
        freezer.full_every = 0
        freezer.tick()  # ...until the full collection
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and what is left is frozen again
    finally:
        gc.unfreeze()
