"""What holds the edge's event loop up: a loop-lag probe and garbage-collection pauses,
and the freezing that keeps those pauses short.

Every request on the edge runs on one event loop, so anything that holds the loop for
milliseconds (a collection walking long-lived objects, a blocking write, a slow callback)
lands in the latency of every request waiting behind it. Two cheap probes expose it on
/metrics, so a latency spike can be told apart from the machine's own scheduling delays:

- `LoopLagProbe`: a timer due every `interval` seconds; how late it runs is how long the
  loop was busy (or the process was not scheduled) — `botwarden_edge_loop_lag_seconds`;
- `GCPauses`: `gc.callbacks` time each collection, by generation —
  `botwarden_edge_gc_pause_seconds` (a full collection is generation 2).

Both observe into `FastHistogram`s (a bisect and two additions); the probe wakes the loop
200 times a second. Measured on an idle edge: ~25 ms of CPU a second (2.5 % of a core; a
100 ms interval left 13 ms/s of other idle work). Under load its wake-ups fall in with the
requests': at 1,200 requests/s a 20 ms interval made no difference within the benchmark's
noise, so the finer resolution stays.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from botwarden.edge.metrics import FastHistogram

LAG_BUCKETS = (5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0)
GC_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 1.0)
_perf = time.perf_counter


class LoopLagProbe:
    """`await probe.run()`: observes how late a timer due every `interval` runs."""

    def __init__(self, histogram: FastHistogram, interval: float = 0.005) -> None:
        self.histogram = histogram
        self.interval = interval
        self.max_seconds = 0.0

    async def run(self) -> None:
        interval = self.interval
        observe = self.histogram.observe
        while True:
            t0 = _perf()
            await asyncio.sleep(interval)
            lag = max(0.0, _perf() - t0 - interval)
            observe(lag)
            if lag > self.max_seconds:
                self.max_seconds = lag


class CollectionFreezer:
    """Keep garbage collections from walking long-lived objects.

    What a process loads once (bot directory, parsers, compiled rules, pyarrow, DuckDB) and
    what lives long (the model's per-client windows, two lists per client, up to 100,000
    clients; the events waiting in the analytics writer's queue) would otherwise be walked
    by every full collection: measured at 52 ms of CPU, a stalled event loop, with 21,000
    clients on the edge, and about a quarter of the analytics writer process's CPU.
    Creating one collects and freezes what survived start; `tick` (every second or so)
    freezes the survivors since (a list splice: it costs nothing). Frozen objects are still
    freed when their last reference goes; only cyclic garbage among them waits, and these
    processes make next to none (24 objects found by the young collections in 20 s, 28,800
    requests from as many clients). Once every `full_every` seconds a tick unfreezes and
    collects everything for real."""

    def __init__(self, full_every: float = 3600.0) -> None:
        self.full_every = full_every
        gc.collect()
        gc.freeze()
        self.last_full = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self.last_full >= self.full_every:
            gc.unfreeze()
            gc.collect()
            self.last_full = time.monotonic()
        gc.freeze()


class GCPauses:
    """Times every garbage collection of this process (`install`, `uninstall`)."""

    def __init__(self) -> None:
        self.by_generation = {g: FastHistogram(GC_BUCKETS) for g in range(3)}
        self.collected = 0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = _perf()
            return
        self.by_generation[info["generation"]].observe(_perf() - self._started)
        self.collected += info.get("collected", 0)

    def install(self) -> GCPauses:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


__all__ = ["GC_BUCKETS", "LAG_BUCKETS", "CollectionFreezer", "GCPauses", "LoopLagProbe"]
