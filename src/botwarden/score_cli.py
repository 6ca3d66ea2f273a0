"""`botwarden score`: score recorded requests (JSON lines or combined access logs)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import orjson

from botwarden.errors import InputError
from botwarden.inputs import context_from_combined, context_from_record
from botwarden.result import BotManagement, Grouping, ScoreSource

if TYPE_CHECKING:
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
    summary = Summary()
    out: list[bytes] = []
    dumps = orjson.dumps
    score = job.pipeline.score
    first, lines = chunk
    for n, raw in enumerate(lines, start=first):
        if not raw.strip():
            continue
        record: object = None
        try:
            if job.fmt == "json":
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc}") from None
                ctx = context_from_record(record, job.geoip)
            else:
                text = raw.decode("utf-8", "replace")
                ctx = context_from_combined(text, host=job.host, geoip=job.geoip)
        except InputError as exc:
            summary.errors += 1
            if job.write:
                out.append(dumps({"line": n, "error": str(exc)}))
            continue
        bm = score(ctx)
        summary.add(bm)
        if job.write:
            doc = bm.to_dict()
            if isinstance(record, dict) and "id" in record:
                doc = {"id": record["id"], **doc}
            out.append(dumps(doc))
    return (b"\n".join(out) + b"\n" if out else b""), summary


_JOB: Job | None = None  # set in the parent before forking; read by workers


def _score_in_worker(chunk: Chunk) -> tuple[bytes, Summary]:
    assert _JOB is not None
    return score_chunk(_JOB, chunk)


def score_stream(
    stream: IO[bytes],
    out: IO[bytes] | None,
    job: Job,
    workers: int = 1,
    on_bytes: Callable[[int], None] | None = None,
) -> Summary:
    """Score every line of `stream` in order, on `workers` processes; bad lines never stop
    the run. Output order always equals input order."""
    global _JOB
    summary = Summary()
    chunks = _chunks(stream, on_bytes)
    if workers <= 1:
        results: Iterator[tuple[bytes, Summary]] = (score_chunk(job, c) for c in chunks)
        pool = None
    else:
        import multiprocessing

        # fork: workers inherit the loaded pipeline (bot directory, parsers) for free.
        _JOB = job
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap(_score_in_worker, chunks, chunksize=1)
    try:
        for data, part in results:
            summary.merge(part)
            if out is not None and data:
                out.write(data)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
            _JOB = None
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
