"""Fill a zone's analytics with simulated traffic, scored by the real pipeline: what the
dashboard's tests and bench/dashboard.py look at (a helper shipped in the package, like
`botwarden.testing`).

    fill_zone(backend, zone_id, hours=2, rps=5)   # the last two hours, ~36,000 events

The simulator's labelled requests (`botwarden simulate events`) go through
`scoring.default_pipeline()` and `analytics.events.event_from_request`, exactly as the
edge records a request, and are inserted in batches. Where no GeoIP database gives the
client's ASN and country, the simulated network's are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend


def fill_zone(
    backend: Backend,
    zone_id: str,
    *,
    hours: float,
    rps: float,
    seed: int = 0,
    end: datetime | None = None,
    scenario: str = "default",
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Simulate `hours` of traffic at `rps` ending at `end` (default: now) for the zone,
    score it and insert it into `backend`; returns the number of events stored."""
    from botwarden.analytics.events import Event, event_from_request, events_to_arrow, finish
    from botwarden.scoring import default_pipeline
    from botwarden.simulate.cli import scenario_from
    from botwarden.simulate.events import Generator, context_from_event

    end = end or datetime.now(UTC)
    start = (end - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sc = scenario_from(scenario, hours=hours, rps=rps, start=start)
    pipeline = default_pipeline()
    spool_id = f"sample-{zone_id[:8]}-{seed}-{int(end.timestamp())}"
    pending: list[Event] = []
    stored = 0
    seq = 0

    def flush() -> None:
        nonlocal stored, seq
        if not pending:
            return
        table = events_to_arrow(pending)
        done = finish(table, spool_id=spool_id, first_seq=seq + 1)
        seq += table.num_rows
        stored += backend.insert(done, spool_id=spool_id, last_seq=seq)
        pending.clear()
        if progress is not None:
            progress(stored)

    for batch in Generator(sc, seed=seed).batches():
        for row in batch.to_pylist():
            row["zone"] = zone_id
            ctx = context_from_event(row)
            event = event_from_request(ctx, pipeline.score(ctx), status=row.get("status"))
            # The simulator knows each client's network; without a GeoIP database the
            # context has no ASN or country, so take the simulated ones.
            if not event.asn and row.get("asn"):
                event = event._replace(asn=int(row["asn"]))
            if not event.country and row.get("country"):
                event = event._replace(country=str(row["country"]))
            pending.append(event)
            if len(pending) >= batch_size:
                flush()
    flush()
    return stored
