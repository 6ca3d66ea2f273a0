"""`botwarden score`: score recorded requests (JSON lines or combined access logs)."""

from __future__ import annotations

import queue
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import orjson

from botwarden.errors import InputError
from botwarden.inputs import context_from_combined, context_from_record
from botwarden.result import BotManagement, Grouping, ScoreSource

if TYPE_CHECKING:
    from multiprocessing import Queue

    from botwarden.geoip import GeoIP
    from botwarden.scoring import Pipeline


@dataclass
class Summary:
    requests: int = 0
    errors: int = 0
    by_grouping: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_detection: Counter[int] = field(default_factory=Counter)

    def add(self, bm: BotManagement) -> None:
        self.requests += 1
        self.by_grouping[bm.grouping.value] += 1
        self.by_source[bm.score_src.value] += 1
        for d in bm.detection_ids:
            self.by_detection[d] += 1

    def merge(self, other: Summary) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.by_grouping.update(other.by_grouping)
        self.by_source.update(other.by_source)
        self.by_detection.update(other.by_detection)


@dataclass(frozen=True)
class Job:
    """What every worker needs to score a chunk; inherited by forked workers."""

    pipeline: Pipeline
    fmt: str = "json"
    geoip: GeoIP | None = None
    host: str = ""
    write: bool = True


Chunk = tuple[int, list[bytes]]  # (number of the first line, raw lines)
CHUNK_LINES = 2048


def _chunks(stream: IO[bytes], on_bytes: Callable[[int], None] | None) -> Iterator[Chunk]:
    first, size = 1, 0
    lines: list[bytes] = []
    for n, line in enumerate(stream, start=1):
        if not lines:
            first = n
        lines.append(line)
        size += len(line)
        if len(lines) >= CHUNK_LINES:
            if on_bytes is not None:
                on_bytes(size)
            yield first, lines
            lines, size = [], 0
    if lines:
        if on_bytes is not None:
            on_bytes(size)
        yield first, lines


def score_chunk(job: Job, chunk: Chunk) -> tuple[bytes, Summary]:
    """Score one chunk: its output lines (a result, or `{"line": N, "error": ...}` for a
    line that cannot be read) and its summary. Blank lines are skipped."""
    first, lines = chunk
    scored, summary = score_lines(job, enumerate(lines, start=first))
    out = [doc for _, doc in scored]
    return (b"\n".join(out) + b"\n" if out else b""), summary


def score_lines(
    job: Job, lines: Iterable[tuple[int, bytes]]
) -> tuple[list[tuple[int, bytes]], Summary]:
    """Score numbered raw lines: `(line number, output line)` for each non-blank one."""
    summary = Summary()
    out: list[tuple[int, bytes]] = []
    dumps = orjson.dumps
    score = job.pipeline.score
    # A replay tells the model each logged status after scoring, as the edge does when
    # the response starts (the per-client error ratio).
    from botwarden.engines.ml import find_ml_engine

    ml = find_ml_engine(job.pipeline.engines)
    observe = ml.observe_response if ml is not None else None
    for n, raw in lines:
        if not raw.strip():
            continue
        record: object = None
        status: object = None
        try:
            if job.fmt == "json":
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc}") from None
                ctx = context_from_record(record, job.geoip)
                if isinstance(record, dict):
                    status = record.get("status")
            else:
                text = raw.decode("utf-8", "replace")
                ctx = context_from_combined(text, host=job.host, geoip=job.geoip)
                status = _combined_status(text)
        except InputError as exc:
            summary.errors += 1
            if job.write:
                out.append((n, dumps({"line": n, "error": str(exc)})))
            continue
        bm = score(ctx)
        if observe is not None and isinstance(status, int) and 100 <= status <= 599:
            observe(ctx, status)
        summary.add(bm)
        if job.write:
            doc = bm.to_dict()
            if isinstance(record, dict) and "id" in record:
                doc = {"id": record["id"], **doc}
            out.append((n, dumps(doc)))
    return out, summary


_STATUS = re.compile(r'" (\d{3}) ')


def _combined_status(line: str) -> int | None:
    m = _STATUS.search(line)
    return int(m.group(1)) if m else None


# -- parallel scoring, sharded by client ---------------------------------------------------
#
# The machine-learning engine keeps per-client and per-IP windows, so every request of one
# client address must be scored by the same process, in input order: lines are dealt to
# workers by a hash of their IP, and the results are put back in input order. Windows over
# the whole population (per JA4) are per worker: with N workers each sees about 1/N of it.

_JSON_IP = re.compile(rb'"ip"\s*:\s*"([^"]*)"')


def shard_of(raw: bytes, fmt: str, shards: int) -> int:
    """The worker for a raw line: by its client IP (unreadable lines go anywhere)."""
    if fmt == "json":
        m = _JSON_IP.search(raw)
        key = m.group(1) if m else b""
    else:
        key = raw.split(b" ", 1)[0]
    return zlib.crc32(key) % shards


_JOB: Job | None = None  # set in the parent before forking; read by workers

Batch = list[tuple[int, bytes]]


def _shard_worker(inbox: Queue[Batch | None], outbox: Queue[tuple[Batch, Summary]]) -> None:
    assert _JOB is not None
    while (batch := inbox.get()) is not None:
        outbox.put(score_lines(_JOB, batch))


def score_stream(
    stream: IO[bytes],
    out: IO[bytes] | None,
    job: Job,
    workers: int = 1,
    on_bytes: Callable[[int], None] | None = None,
) -> Summary:
    """Score every line of `stream` in order, on `workers` processes; bad lines never stop
    the run. Output order always equals input order."""
    summary = Summary()
    chunks = _chunks(stream, on_bytes)
    if workers <= 1:
        for chunk in chunks:
            data, part = score_chunk(job, chunk)
            summary.merge(part)
            if out is not None and data:
                out.write(data)
        return summary
    return _score_sharded(chunks, out, job, workers, summary)


def _score_sharded(
    chunks: Iterator[Chunk], out: IO[bytes] | None, job: Job, workers: int, summary: Summary
) -> Summary:
    import multiprocessing

    global _JOB
    # fork: workers inherit the loaded pipeline (bot directory, parsers, model) for free.
    mp = multiprocessing.get_context("fork")
    _JOB = job
    inboxes: list[Queue[Batch | None]] = [mp.Queue() for _ in range(workers)]
    outboxes: list[Queue[tuple[Batch, Summary]]] = [mp.Queue() for _ in range(workers)]
    procs = [
        mp.Process(target=_shard_worker, args=(i, o), daemon=True)
        for i, o in zip(inboxes, outboxes, strict=True)
    ]
    for p in procs:
        p.start()
    _JOB = None
    in_flight = 0

    def collect() -> None:
        merged: Batch = []
        for k, box in enumerate(outboxes):
            while True:
                try:
                    part, sub = box.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not procs[k].is_alive():
                        raise RuntimeError(
                            f"scoring worker {k} died (exit code {procs[k].exitcode})"
                        ) from None
            merged.extend(part)
            summary.merge(sub)
        if out is not None and merged:
            merged.sort(key=lambda item: item[0])
            out.write(b"\n".join(doc for _, doc in merged) + b"\n")

    try:
        for first, lines in chunks:
            batches: list[Batch] = [[] for _ in range(workers)]
            for n, raw in enumerate(lines, start=first):
                batches[shard_of(raw, job.fmt, workers)].append((n, raw))
            for box, batch in zip(inboxes, batches, strict=True):
                box.put(batch)
            in_flight += 1
            if in_flight > 2:  # keep workers busy, memory bounded
                collect()
                in_flight -= 1
        while in_flight:
            collect()
            in_flight -= 1
    finally:
        for box in inboxes:
            box.put(None)
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    return summary


def render_summary(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    from botwarden.engines.heuristics import HEURISTICS

    console = Console(stderr=False)
    total = max(summary.requests, 1)

    console.print(f"{summary.requests} requests scored, {summary.errors} unreadable lines")
    t = Table(title="by grouping")
    t.add_column("grouping")
    t.add_column("requests", justify="right")
    t.add_column("share", justify="right")
    for g in Grouping:
        c = summary.by_grouping.get(str(g), 0)
        t.add_row(str(g), str(c), f"{100 * c / total:.1f}%")
    console.print(t)

    s = Table(title="by score source")
    s.add_column("score source")
    s.add_column("requests", justify="right")
    for src in ScoreSource:
        c = summary.by_source.get(str(src), 0)
        s.add_row(str(src), str(c))
    console.print(s)

    if summary.by_detection:
        names = {h.id: h.description for h in HEURISTICS}
        d = Table(title="heuristic detections")
        d.add_column("id", justify="right")
        d.add_column("detection")
        d.add_column("requests", justify="right")
        for det, c in summary.by_detection.most_common():
            d.add_row(str(det), names.get(det, "?"), str(c))
        console.print(d)


def run(
    source: str,
    job: Job,
    summary_only: bool,
    workers: int = 1,
) -> Summary:
    out = None if summary_only else sys.stdout.buffer
    if source == "-":
        result = score_stream(sys.stdin.buffer, out, job, workers)
    elif not summary_only:
        with Path(source).open("rb") as fh:
            result = score_stream(fh, out, job, workers)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        path = Path(source)
        with (
            Progress(
                TextColumn("scoring {task.description}"),
                BarColumn(),
                TimeRemainingColumn(),
                transient=True,
            ) as progress,
            path.open("rb") as fh,
        ):
            task = progress.add_task(path.name, total=path.stat().st_size)
            result = score_stream(fh, None, job, workers, lambda n: progress.advance(task, n))
    if out is not None:
        out.flush()
    if summary_only:
        render_summary(result)
    return result
