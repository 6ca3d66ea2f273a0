"""Analytics events from the edge, written by the analytics writer in a child process.

The writer's flusher turns requests into rows in Python; in the edge's process it would
compete with the event loop for the interpreter lock (about doubling the CPU cost of a
request and adding tens of milliseconds to the p99, measured with bench/edge.py). So the
edge packs each request into a plain tuple (a few µs), sends batches every 20 ms over a
socket pair, and a child process (`python -m botwarden.edge.events`) rebuilds the request
and hands it to `Writer.append_request` — the writer's own API, spool and guarantees
unchanged. The child reports the writer's metrics back every second for `/metrics` (their
class's module, with pyarrow, is imported by `start`, not by the first report on the
event loop).

Never blocking: if the child falls behind by more than `max_pending_bytes`, batches are
dropped and counted (`dropped`), like the writer's own full queue.

Out of the edge's way: the child runs at nice 10, and the writer's flusher and storer (and
the threads they start) in the SCHED_IDLE class (`idle_class`): their bursts of work (a
flush each second, DuckDB's checkpoints) take only CPU time nothing else wants.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botwarden.request import RequestContext
from botwarden.result import BotManagement, JSDetection, ScoreSource

if TYPE_CHECKING:
    from botwarden.analytics.writer import Writer, WriterMetrics

log = logging.getLogger(__name__)

_FRAME = struct.Struct(">I")
_MAX_FRAME = 64 << 20

Packed = tuple[Any, ...]


def pack(ctx: RequestContext, bm: BotManagement, outcome: dict[str, Any]) -> Packed:
    """What the writer needs of a request, as plain values (the model's feature vector as
    float32 bytes: the column's own precision, a quarter of pickling the floats)."""
    features = outcome.get("features")
    if features:
        outcome["features"] = array("f", features).tobytes()
    return (
        ctx.timestamp, ctx.client_ip, ctx.zone, ctx.request_id, ctx.host, ctx.method,
        ctx.path, ctx.query, ctx.scheme, ctx.http_version, ctx.headers,
        bm.score, bm.score_src.value, bm.verified_bot, bm.verified_bot_name,
        bm.verified_bot_category, bm.ja3_hash, bm.ja4, bm.static_resource,
        bm.js_detection.value, bm.detection_ids, bm.corporate_proxy, bm.model_version,
        outcome,
    )  # fmt: skip


def unpack(p: Packed) -> tuple[RequestContext, BotManagement, dict[str, Any]]:
    (ts, ip, zone, rid, host, method, path, query, scheme, version, headers,
     score, src, verified, vname, vcat, ja3, ja4, static, jsd, ids, corp, model,
     outcome) = p  # fmt: skip
    features = outcome.get("features")
    if isinstance(features, bytes):
        vector = array("f")
        vector.frombytes(features)
        outcome["features"] = vector.tolist()
    ctx = RequestContext(
        client_ip=ip, method=method, host=host, path=path, query=query, scheme=scheme,
        http_version=version, headers=headers, timestamp=ts, zone=zone, request_id=rid,
    )  # fmt: skip
    bm = BotManagement(
        score=score, score_src=ScoreSource(src), verified_bot=verified,
        verified_bot_name=vname, verified_bot_category=vcat, ja3_hash=ja3, ja4=ja4,
        static_resource=static, js_detection=JSDetection(jsd), detection_ids=list(ids),
        corporate_proxy=corp, model_version=model,
    )  # fmt: skip
    return ctx, bm, outcome


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


def _read_frame(sock: socket.socket) -> object | None:
    head = _recv_exactly(sock, _FRAME.size)
    if head is None:
        return None
    (n,) = _FRAME.unpack(head)
    if n > _MAX_FRAME:
        raise ValueError(f"frame of {n} bytes")
    body = _recv_exactly(sock, n)
    if body is None:
        return None
    found: object = pickle.loads(body)
    return found


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class _Reports(asyncio.Protocol):
    """The parent's end: sends batches, reads the child's metric reports."""

    def __init__(self, shipper: EventShipper) -> None:
        self.shipper = shipper
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= _FRAME.size:
            (n,) = _FRAME.unpack_from(self.buf)
            if len(self.buf) < _FRAME.size + n:
                return
            body = bytes(self.buf[_FRAME.size : _FRAME.size + n])
            del self.buf[: _FRAME.size + n]
            with contextlib.suppress(Exception):
                self.shipper.writer_metrics = pickle.loads(body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.shipper.child_gone = True


class EventShipper:
    """An EventSink that feeds a writer in a child process (see the module doc)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        interval: float = 0.02,
        max_pending_bytes: int = 64 << 20,
        python: str = sys.executable,
    ) -> None:
        self.data_dir = data_dir
        self.interval = interval
        self.max_pending_bytes = max_pending_bytes
        self.python = python
        self.batch: list[Packed] = []
        self.shipped = 0
        self.dropped = 0
        self.child_gone = False
        self.writer_metrics: WriterMetrics | None = None
        self._transport: asyncio.Transport | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._task: asyncio.Task[None] | None = None

    def append_request(self, ctx: RequestContext, bm: BotManagement, **outcome: Any) -> bool:
        self.batch.append(pack(ctx, bm, outcome))
        return True

    def metrics(self) -> WriterMetrics | None:
        """The writer's metrics as the child last reported them."""
        return self.writer_metrics

    async def start(self) -> None:
        # The child's reports unpickle to `WriterMetrics`, whose module imports pyarrow:
        # imported by the first report, on the event loop, that stalled every request for
        # 70-300 ms (measured, once per start). Import it here, before serving, off the loop.
        await asyncio.to_thread(importlib.import_module, "botwarden.analytics.writer")
        parent, child = socket.socketpair()
        self._process = subprocess.Popen(
            [self.python, "-m", "botwarden.edge.events", "--fd", str(child.fileno()),
             "--data-dir", str(self.data_dir)],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        child.close()
        parent.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(lambda: _Reports(self), parent)
        self._transport = transport
        self._task = loop.create_task(self._run(), name="botwarden-event-shipper")

    def ship(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        t = self._transport
        if t is None or t.is_closing() or self.child_gone:
            self.dropped += len(batch)
            return
        if t.get_write_buffer_size() > self.max_pending_bytes:
            self.dropped += len(batch)
            log.warning("analytics writer process is behind: %d events dropped", len(batch))
            return
        t.write(_frame(batch))
        self.shipped += len(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.ship()

    async def close(self, timeout: float = 30.0) -> None:
        """Ship what is left, let the child spool it and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.ship()
        t = self._transport
        if t is not None:
            deadline = time.monotonic() + timeout
            while t.get_write_buffer_size() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            with contextlib.suppress(OSError):
                t.write_eof()
        p = self._process
        if p is not None:
            try:
                await asyncio.to_thread(p.wait, timeout)
            except subprocess.TimeoutExpired:
                log.error("analytics writer process did not stop in %.0f s; killing it", timeout)
                p.kill()
                await asyncio.to_thread(p.wait, 10)
        if t is not None:
            t.close()


# -- the child ---------------------------------------------------------------------------------


def _writer(data_dir: Path) -> Writer:
    import dataclasses

    from botwarden.analytics.config import AnalyticsSettings

    s = AnalyticsSettings.from_env()
    # One DuckDB thread: storing is background work and must not take every core from
    # the edge (set BOTWARDEN_ANALYTICS_BACKEND to choose otherwise).
    default = f"duckdb://{(data_dir / 'analytics.duckdb').resolve()}?threads=1"
    s = dataclasses.replace(
        s,
        backend=s.backend or default,
        spool_dir=s.spool_dir or str(data_dir / "spool"),
    ).check()
    return s.writer(s.open_backend()).start()


def idle_class(threads: Sequence[threading.Thread]) -> int:
    """Put `threads` in the SCHED_IDLE scheduling class (Linux): they run on CPU time no
    other thread wants, and any other thread that wakes takes the CPU from them at once.
    Returns how many were moved (0 where the class does not exist).

    For the writer's flusher and storer, whose work comes in bursts: a flush each second,
    and DuckDB's checkpoints (measured at 1,275 events a second: one every 16 inserts, each
    90-760 ms of CPU). In the edge's benchmark those bursts lined up with the clusters of
    slow requests, and `nice 10` did not keep them off the edge: a CPU-bound nice-10 process
    raised the edge's p99 from ~2.5 ms to 16-41 ms, a SCHED_IDLE one to 12-15 ms. Nothing is
    lost by waiting: the storer reads the spool (on disk), and the flusher's queue holds
    `queue_capacity` events; only a machine saturated by other work for minutes fills it,
    and then the drops are counted and logged as for any full queue. (On such a machine the
    child's main thread can also wait for the interpreter lock held by a starved flusher;
    the edge then buffers up to `max_pending_bytes` and counts what it drops. In the edge's
    benchmark, closed loop included: none dropped.)"""
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is None:
        return 0
    moved = 0
    for thread in threads:
        if thread.native_id is None:
            continue
        try:
            os.sched_setscheduler(thread.native_id, idle, os.sched_param(0))
        except OSError as exc:
            log.warning("analytics thread %s keeps its scheduling class: %s", thread.name, exc)
        else:
            moved += 1
    return moved


def run_child(sock: socket.socket, data_dir: Path, report_every: float = 1.0) -> None:
    writer = _writer(data_dir)
    idle_class(writer.threads)
    queries = None
    if writer.backend is not None:
        # This process holds the store (DuckDB: one process per file), so the API and the
        # dashboard read through it (analytics/remote.py).
        from botwarden.analytics.remote import SOCKET_NAME, serve_queries
        from botwarden.api.analytics import QueriesSource

        _, queries = serve_queries(QueriesSource(writer.backend), data_dir / SOCKET_NAME)
    lock = threading.Lock()
    stop = threading.Event()
    from botwarden.edge.stalls import CollectionFreezer

    # Events wait in the writer's queue until a flush: keep the collector off them.
    collector = CollectionFreezer()

    def report() -> None:
        while not stop.wait(report_every):
            with lock, contextlib.suppress(OSError):
                sock.sendall(_frame(writer.metrics()))
            collector.tick()

    reporter = threading.Thread(target=report, name="botwarden-events-report", daemon=True)
    reporter.start()
    try:
        while True:
            batch = _read_frame(sock)
            if batch is None:
                break
            for p in cast(Sequence[Packed], batch):
                try:
                    ctx, bm, outcome = unpack(p)
                except Exception:  # one bad record never stops the others
                    log.exception("unreadable event from the edge")
                    continue
                writer.append_request(ctx, bm, **outcome)
    finally:
        stop.set()
        if queries is not None:
            queries.close()
        writer.close()
        if writer.backend is not None:
            writer.backend.close()
        with lock, contextlib.suppress(OSError):
            sock.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The edge's analytics writer process.")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # Ctrl-C and SIGTERM reach the whole process group: the edge decides when this process
    # ends, by closing the socket once every event is shipped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(10)  # the edge's requests come first
    run_child(socket.socket(fileno=args.fd), args.data_dir)
    # Everything is spooled, stored and closed: skip interpreter teardown, where DuckDB's
    # bindings report the module objects they still hold as leaks.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
