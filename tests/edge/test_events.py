"""The analytics writer's process (botwarden.edge.events): what keeps its CPU down."""

from __future__ import annotations

import gc
import weakref

from botwarden.edge.events import _QuietCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_writer_process_collector_freezes_survivors_and_collects_them_hourly() -> None:
    """The writer's process freezes what survived (the collector no longer walks it) and,
    every `full_every` seconds, unfreezes and collects everything for real."""
    try:
        collector = _QuietCollector(full_every=3600)
        assert gc.get_freeze_count() > 0
        garbage = _Cycle()
        alive = weakref.ref(garbage)
        collector.tick()  # the cycle survived until now: frozen
        del garbage
        gc.collect()
        assert alive() is not None  # frozen objects are not collected...
        collector.full_every = 0
        collector.tick()  # ...until the full collection
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and what is left is frozen again
    finally:
        gc.unfreeze()
