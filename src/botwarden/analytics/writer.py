"""The analytics writer: the request path appends an event to a bounded in-memory queue and
returns. Two named background threads do the rest:

- the flusher batches the queue (every `flush_interval` seconds or `batch_size` events),
  finishes each batch (derived columns, privacy, sequence numbers) and writes it to the
  disk spool;
- the storer stores spooled batches in the backend, in order, several at a time when the
  backend prefers large inserts (`Backend.combine_rows`; DuckDB writes an insert of two
  row groups or more straight to its file instead of through its log). Backend drivers
  release the GIL, so storing overlaps with encoding the next batches.

Nothing acknowledged is lost and nothing is stored twice:

- a batch is acknowledged when it is synced to the spool (`on_spooled` is called then);
- on start, the spool is replayed: every record above the backend's watermark for this
  spool is stored again, and the backend skips what it already has;
- when the backend is down, batches accumulate in the spool (up to `spool_max_bytes`) and
  are stored in order when it answers again (retried with exponential backoff).

Memory is bounded by `queue_capacity` events plus the batches cached for delivery
(`cache_bytes`). Whatever cannot be kept — queue full, spool full, an event that cannot be
encoded — is dropped, counted in `metrics()` and logged, never silently.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.analytics.events import (
    AddressCache,
    Event,
    event_from_request,
    events_to_arrow,
    finish,
)
from botwarden.analytics.privacy import FULL, Privacy
from botwarden.analytics.spool import Record, Spool

if TYPE_CHECKING:
    from collections.abc import Sequence

    from botwarden.analytics.base import Backend
    from botwarden.request import RequestContext
    from botwarden.result import BotManagement

log = logging.getLogger(__name__)

_now = time.monotonic


def reuse_arrow_memory() -> None:
    """Make Arrow allocate from the system allocator (glibc malloc) instead of its default,
    mimalloc, which hands the memory of each freed batch back to the system and faults in
    fresh zeroed (huge) pages for the next one. The writer allocates and frees tens of
    megabytes per second; with the system allocator the flusher's Arrow work (encoding,
    `finish`, the spool's IPC + LZ4, the zone sort) takes ~0.7-0.9 µs less CPU per event,
    ~20 % of it, and a whole `bench/analytics.py` ingest ~12 % less. Arrow's default pool is
    process-wide, so this is too; a pool chosen with ARROW_DEFAULT_MEMORY_POOL is kept."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    if pa.default_memory_pool().backend_name == "mimalloc":
        pa.set_memory_pool(pa.system_memory_pool())


def start_thread(name: str, target: Callable[[], None]) -> threading.Thread:
    """Start a named daemon thread; the caller keeps the reference (STYLE 10)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class _Deferred(NamedTuple):
    """A request whose event is built by the flusher, off the request path."""

    ctx: RequestContext
    bm: BotManagement
    outcome: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WriterMetrics:
    queue_depth: int
    queue_capacity: int
    spooled_events: int
    """Events acknowledged: written and synced to the spool."""
    stored_events: int
    """Events the backend took (replays of already stored batches not counted)."""
    pending_events: int
    """Spooled and not yet stored."""
    dropped_queue_full: int
    dropped_spool_full: int
    dropped_invalid: int
    dropped_spool_error: int
    spool_bytes: int
    spool_segments: int
    spool_truncated_bytes: int
    flush_latency_ms_p50: float
    """Drain → acknowledged in the spool, over recent flushes."""
    flush_latency_ms_p99: float
    store_latency_ms_p50: float
    """One batch into the backend, over recent inserts."""
    backend_up: bool
    backend_errors: int
    last_error: str

    @property
    def dropped(self) -> int:
        return (
            self.dropped_queue_full
            + self.dropped_spool_full
            + self.dropped_invalid
            + self.dropped_spool_error
        )


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


class _Pending:
    __slots__ = ("at", "record", "table")

    def __init__(self, record: Record, table: pa.Table | None) -> None:
        self.record = record
        self.table = table
        self.at = _now()


class Writer:
    def __init__(
        self,
        backend: Backend | None,
        spool_dir: str | os.PathLike[str],
        *,
        batch_size: int = 50_000,
        flush_interval: float = 1.0,
        queue_capacity: int = 1_000_000,
        spool_max_bytes: int = 1 << 30,
        segment_bytes: int = 64 << 20,
        cache_bytes: int = 256 << 20,
        fsync: bool = True,
        privacy: Privacy = FULL,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        expire_interval: float = 3600.0,
        on_spooled: Callable[[pa.Table], None] | None = None,
        name: str = "botwarden-analytics",
    ) -> None:
        self.backend = backend
        self.spool = Spool(spool_dir, segment_bytes=segment_bytes, fsync=fsync)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_capacity = queue_capacity
        self.spool_max_bytes = spool_max_bytes
        """Bound on spooled events not yet stored (bytes on disk); beyond it, new batches
        are dropped (and counted) until the backend catches up."""
        self.cache_bytes = cache_bytes
        self.privacy = privacy
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.expire_interval = expire_interval
        self.on_spooled = on_spooled
        self.name = name
        self.combine_rows = getattr(backend, "combine_rows", 0)

        self._queue: deque[Event | _Deferred] = deque()
        self._addresses = AddressCache(privacy)
        self._pending: deque[_Pending] = deque()
        self._plock = threading.Lock()
        self._pending_bytes = 0
        self._pending_events = 0
        self._flusher: threading.Thread | None = None
        self._storer: threading.Thread | None = None
        self._stop = threading.Event()
        self._stop_storer = threading.Event()
        self._flush_now = threading.Event()
        self._store_now = threading.Event()
        self._hurry = False
        self._busy = False

        self.dropped_queue_full = 0
        self._dropped_spool_full = 0
        self._dropped_invalid = 0
        self._dropped_spool_error = 0
        self._spooled = 0
        self._stored = 0
        self._flush_ms: deque[float] = deque(maxlen=256)
        self._store_ms: deque[float] = deque(maxlen=256)
        self._backend_up = backend is not None
        self._backend_errors = 0
        self._last_error = ""
        self._retry_at = 0.0
        self._backoff = retry_initial
        self._next_expire = 0.0
        self._reported_drops = 0

    # -- the request path -----------------------------------------------------------------

    def append(self, event: Event) -> bool:
        """Queue one event. Never blocks; False (and counted) when the queue is full."""
        q = self._queue
        if len(q) >= self.queue_capacity:
            self.dropped_queue_full += 1
            return False
        q.append(event)
        return True

    def append_request(self, ctx: RequestContext, bm: BotManagement, **outcome: Any) -> bool:
        """Queue a request and its result; the event (`event_from_request` with `outcome`
        as keywords) is built by the flusher, so the request path pays for a tuple only."""
        q = self._queue
        if len(q) >= self.queue_capacity:
            self.dropped_queue_full += 1
            return False
        q.append(_Deferred(ctx, bm, outcome))
        return True

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Writer:
        """Open the spool, queue what it holds for replay, start the background threads
        (Arrow's allocator is switched first: `reuse_arrow_memory`)."""
        reuse_arrow_memory()
        records = self.spool.open()
        if self.spool.truncated_bytes:
            log.warning(
                "analytics spool %s: cut %d bytes of torn or corrupt records (never acknowledged)",
                self.spool.directory,
                self.spool.truncated_bytes,
            )
        stored = 0
        if self.backend is not None:
            try:
                stored = self.backend.watermark(self.spool.spool_id)
            except Exception as exc:  # down at start: replay everything later
                self._backend_failed(exc)
        # Sequence numbers only go up, even if segments were removed by hand.
        self.spool.next_seq = max(self.spool.next_seq, stored + 1)
        for r in records:
            if r.last_seq > stored:
                self._add_pending(_Pending(r, None))
        self.spool.release(stored)
        if self._pending:
            log.info(
                "analytics spool %s: replaying %d events",
                self.spool.directory,
                self._pending_events,
            )
        self._flusher = start_thread(self.name + "-flusher", self._run_flusher)
        if self.backend is not None:
            self._storer = start_thread(self.name + "-storer", self._run_storer)
        return self

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The background threads, once started: the flusher, and the storer when there is a
        backend (the edge's writer process lowers their scheduling class)."""
        return tuple(t for t in (self._flusher, self._storer) if t is not None)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything appended so far is spooled and, when there is a backend,
        stored. False on timeout (e.g. while the backend is down)."""
        deadline = _now() + timeout
        while True:
            self._hurry = True
            self._flush_now.set()
            self._store_now.set()
            time.sleep(0.005)
            drained = not self._queue and not self._busy
            if drained and (self.backend is None or not self._pending):
                self._hurry = False
                return True
            alive = self._flusher is not None and self._flusher.is_alive()
            if _now() >= deadline or not alive:
                self._hurry = False
                return False

    def close(self, timeout: float = 30.0) -> None:
        """Spool what is queued, try once more to store what is spooled, and stop."""
        self._stop.set()
        self._flush_now.set()
        for thread, then in ((self._flusher, self._stop_storer), (self._storer, None)):
            if thread is not None:
                thread.join(timeout)
                if thread.is_alive():
                    log.error("analytics thread %s did not stop in %.0f s", thread.name, timeout)
                    return
            if then is not None:
                then.set()
                self._store_now.set()
        self.spool.close()

    def __enter__(self) -> Writer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flusher: queue → spool -------------------------------------------------------

    def _run_flusher(self) -> None:
        last = _now()
        while True:
            stopping = self._stop.is_set()
            due = (
                stopping
                or self._flush_now.is_set()
                or len(self._queue) >= self.batch_size
                or _now() - last >= self.flush_interval
            )
            if due:
                self._busy = True
                self._flush_now.clear()
                last = _now()
                try:
                    todo = len(self._queue)  # what is queued now: a busy queue must not
                    while todo > 0 or (stopping and self._queue):  # starve the storer
                        todo -= self._flush_batch()
                except Exception:  # never let the flusher die: log, count, go on
                    log.exception("analytics flusher failed; going on")
                    self._last_error = "flusher error (see log)"
                    time.sleep(0.1)
                self._report_drops()
                self._busy = False
                if stopping:
                    return
            self._flush_now.wait(0.005 if self._queue else 0.05)

    def _take(self) -> tuple[int, list[Event]]:
        """Up to one batch from the queue: (items taken, their events)."""
        q = self._queue
        n = min(len(q), self.batch_size)
        popleft = q.popleft
        items = [popleft() for _ in range(n)]
        out: list[Event] = []
        for item in items:
            if isinstance(item, _Deferred):
                try:
                    out.append(event_from_request(item.ctx, item.bm, **item.outcome))
                except Exception:
                    self._dropped_invalid += 1
                    log.exception("analytics: cannot build the event of a request")
            else:
                out.append(item)
        return n, out

    def _encode(self, events: list[Event]) -> pa.Table | None:
        try:
            return events_to_arrow(events)
        except Exception:
            # One bad event must not cost the batch: keep those that encode alone.
            good = []
            for e in events:
                try:
                    events_to_arrow([e])
                except Exception:
                    self._dropped_invalid += 1
                else:
                    good.append(e)
            log.warning("analytics: dropped events that cannot be encoded")
            return events_to_arrow(good) if good else None

    def _flush_batch(self) -> int:
        """Spool one batch from the queue; returns how many items it took."""
        t0 = _now()
        taken, events = self._take()
        if not events:
            return max(taken, 1)
        table = self._encode(events)
        if table is None:
            return taken
        if self._pending_bytes >= self.spool_max_bytes:
            self._dropped_spool_full += table.num_rows
            return taken
        finished = finish(
            table,
            spool_id=self.spool.spool_id,
            first_seq=self.spool.next_seq,
            privacy=self.privacy,
            addresses=self._addresses,
        )
        try:
            record = self.spool.append(finished)
        except OSError as exc:  # disk full, I/O error: the batch was never acknowledged
            self._dropped_spool_error += table.num_rows
            self._last_error = f"spool: {exc}"
            log.error("analytics spool write failed: %s", exc)
            return taken
        self._spooled += record.count
        self._flush_ms.append((_now() - t0) * 1000)
        # Without a backend nothing is stored: the record still counts against
        # spool_max_bytes, but its table is not kept in memory.
        self._add_pending(_Pending(record, finished if self.backend is not None else None))
        self._store_now.set()
        if self.on_spooled is not None:
            self.on_spooled(finished)
        return taken

    def _add_pending(self, p: _Pending) -> None:
        with self._plock:
            self._pending.append(p)
            self._pending_bytes += p.record.size
            self._pending_events += p.record.count
            cached = 0
            for q in reversed(self._pending):
                if q.table is not None:
                    cached += q.table.nbytes
                    if cached > self.cache_bytes:
                        q.table = None  # read back from the spool when its turn comes

    # -- the storer: spool → backend ------------------------------------------------------

    def _run_storer(self) -> None:
        while True:
            stopping = self._stop_storer.is_set()
            wait = max(0.0, self._retry_at - _now()) if not self._backend_up else 0.5
            if not stopping:
                self._store_now.wait(wait or 0.5)
                self._store_now.clear()
            try:
                if stopping or _now() >= self._retry_at:
                    self._deliver(stopping)
                self._maintain()
            except Exception:
                log.exception("analytics storer failed; going on")
                time.sleep(0.1)
            if stopping:
                return

    def _next_group(self, final: bool) -> list[_Pending]:
        """The oldest pending batches to store together (one unless the backend combines)."""
        with self._plock:
            if not self._pending:
                return []
            group = [self._pending[0]]
            rows = group[0].record.count
            for p in list(self._pending)[1:]:
                if rows + p.record.count > self.combine_rows:
                    break
                group.append(p)
                rows += p.record.count
        young = _now() - group[0].at < self.flush_interval
        hurry = final or self._hurry or self._stop.is_set()
        if self.combine_rows and rows < self.combine_rows and young and not hurry:
            return []  # let a larger insert gather (within flush_interval)
        return group

    def _deliver(self, final: bool = False) -> None:
        backend = self.backend
        assert backend is not None
        while True:
            group = self._next_group(final)
            if not group:
                return
            last_seq = group[-1].record.last_seq
            t0 = _now()
            try:
                tables = [
                    p.table if p.table is not None else self.spool.read(p.record) for p in group
                ]
                table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
                added = backend.insert(table, spool_id=self.spool.spool_id, last_seq=last_seq)
            except Exception as exc:
                self._backend_failed(exc)
                return
            self._store_ms.append((_now() - t0) * 1000)
            self._stored += added
            # Up before the batches leave `_pending`: `flush()` returns once it is empty,
            # and the metrics read right after must already say the backend is back.
            if not self._backend_up:
                log.warning("analytics backend %s is back", backend.name)
            self._backend_up = True
            self._backoff = self.retry_initial
            with self._plock:
                for _ in group:
                    p = self._pending.popleft()
                    self._pending_bytes -= p.record.size
                    self._pending_events -= p.record.count
            self.spool.release(last_seq)

    def _backend_failed(self, exc: Exception) -> None:
        self._backend_errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._backend_up:
            log.warning(
                "analytics backend failed (%s); events stay in the spool and are retried",
                self._last_error,
            )
        self._backend_up = False
        self._retry_at = _now() + self._backoff
        self._backoff = min(self.retry_max, self._backoff * 2)

    def _maintain(self) -> None:
        if self.backend is None or self.backend.retention_days is None or not self._backend_up:
            return
        if _now() < self._next_expire:
            return
        self._next_expire = _now() + self.expire_interval
        try:
            self.backend.expire()
        except Exception as exc:
            log.warning("analytics retention failed: %s", exc)

    def _report_drops(self) -> None:
        m = self.metrics()
        if m.dropped > self._reported_drops:
            log.warning(
                "analytics dropped %d events (queue full %d, spool full %d, invalid %d, "
                "spool errors %d)",
                m.dropped - self._reported_drops,
                m.dropped_queue_full,
                m.dropped_spool_full,
                m.dropped_invalid,
                m.dropped_spool_error,
            )
            self._reported_drops = m.dropped

    # -- metrics --------------------------------------------------------------------------

    def metrics(self) -> WriterMetrics:
        flush_ms = list(self._flush_ms)
        store_ms = list(self._store_ms)
        return WriterMetrics(
            queue_depth=len(self._queue),
            queue_capacity=self.queue_capacity,
            spooled_events=self._spooled,
            stored_events=self._stored,
            pending_events=self._pending_events,
            dropped_queue_full=self.dropped_queue_full,
            dropped_spool_full=self._dropped_spool_full,
            dropped_invalid=self._dropped_invalid,
            dropped_spool_error=self._dropped_spool_error,
            spool_bytes=self.spool.bytes,
            spool_segments=self.spool.segments,
            spool_truncated_bytes=self.spool.truncated_bytes,
            flush_latency_ms_p50=_pct(flush_ms, 50),
            flush_latency_ms_p99=_pct(flush_ms, 99),
            store_latency_ms_p50=_pct(store_ms, 50),
            backend_up=self._backend_up,
            backend_errors=self._backend_errors,
            last_error=self._last_error,
        )
