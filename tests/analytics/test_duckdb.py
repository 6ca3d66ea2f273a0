"""The DuckDB backend's storage layout: each insert is stored with the rows of a zone
together, in arrival order within the zone, without changing what is stored or how often."""

from __future__ import annotations

from pathlib import Path

from botwarden.analytics import queries as Q
from botwarden.analytics.duckdb import DuckDBBackend, zone_ordered
from botwarden.analytics.events import Event
from botwarden.analytics.queries import Window

from .helpers import batch, ev
from .test_queries import HOUR, dataset

ZONES = ("shop.example", "api.example", "blog.example")


def interleaved(n: int, first: int = 0) -> list[Event]:
    return [
        ev(i, zone=ZONES[i % 3 if i % 5 else 0], ts=1_767_225_600.0 + i) for i in range(first, n)
    ]


def stored(backend: DuckDBBackend) -> list[tuple[str, int]]:
    """(zone, seq) in storage order."""
    return [
        (str(z), int(s))
        for z, s in backend.query("SELECT zone, seq FROM events ORDER BY rowid", [])
    ]


def test_zone_ordered_groups_zones_and_keeps_arrival_order_within_each() -> None:
    b = batch(interleaved(50))
    out = zone_ordered(b)
    assert out.num_rows == b.num_rows
    zones = out.column("zone").to_pylist()
    runs = [z for k, z in enumerate(zones) if k == 0 or zones[k - 1] != z]
    assert sorted(runs) == sorted(set(zones)), "each zone is one run"
    for zone in set(zones):
        seqs = [s for z, s in zip(zones, out.column("seq").to_pylist(), strict=True) if z == zone]
        assert seqs == sorted(seqs)
    assert sorted(out.column("seq").to_pylist()) == b.column("seq").to_pylist()
    one_zone = batch([ev(i) for i in range(10)])
    assert zone_ordered(one_zone) is one_zone


def test_an_insert_is_stored_zone_by_zone_exactly_once(tmp_path: Path) -> None:
    backend = DuckDBBackend(str(tmp_path / "a.duckdb"))
    backend.ensure_schema()
    assert backend.insert(batch(interleaved(40)), spool_id="s", last_seq=40) == 40
    # A replay that overlaps the watermark adds only the new rows, zone by zone too.
    assert backend.insert(batch(interleaved(60, 30), first_seq=31), spool_id="s", last_seq=60) == 20
    rows = stored(backend)
    assert sorted(s for _, s in rows) == list(range(1, 61))
    for part in (rows[:40], rows[40:]):
        zones = [z for z, _ in part]
        runs = [z for k, z in enumerate(zones) if k == 0 or zones[k - 1] != z]
        assert len(runs) == len(set(zones))
        for zone in set(zones):
            seqs = [s for z, s in part if z == zone]
            assert seqs == sorted(seqs)
    backend.close()


def test_the_layout_changes_no_answer(tmp_path: Path) -> None:
    """The same events, stored zone by zone or in arrival order, give the same figures."""
    events = dataset()
    sorted_ = DuckDBBackend(str(tmp_path / "sorted.duckdb"))
    sorted_.ensure_schema()
    sorted_.insert(batch(events), spool_id="t", last_seq=len(events))
    arrival = DuckDBBackend(str(tmp_path / "arrival.duckdb"))
    arrival.ensure_schema()
    for k, e in enumerate(events):  # one row per insert: nothing to reorder
        arrival.insert(batch([e], first_seq=k + 1), spool_id="t", last_seq=k + 1)
    assert stored(sorted_) != stored(arrival)
    every_zone = Window(None, HOUR.since, HOUR.until)
    flt = "cf.bot_management.score lt 30"
    for w in (HOUR, every_zone):
        assert Q.totals(sorted_, w, flt) == Q.totals(arrival, w, flt)
        assert Q.histogram(sorted_, w) == Q.histogram(arrival, w)
        assert Q.timeseries(sorted_, w, flt) == Q.timeseries(arrival, w, flt)
        assert Q.top(sorted_, w, "ip") == Q.top(arrival, w, "ip")
        assert Q.sample(sorted_, w, limit=5) == Q.sample(arrival, w, limit=5)
    sorted_.close()
    arrival.close()
