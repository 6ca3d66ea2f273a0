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
        self.by_grouping[str(bm.grouping)] += 1
        self.by_source[str(bm.score_src)] += 1
        for d in bm.detection_ids:
            self.by_detection[d] += 1


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for n, line in enumerate(stream, start=1):
        if line.strip():
            yield n, line


def score_stream(
    stream: IO[bytes],
    out: IO[bytes] | None,
    pipeline: Pipeline,
    fmt: str = "json",
    geoip: GeoIP | None = None,
    host: str = "",
    on_line: Callable[[int], None] | None = None,
) -> Summary:
    """Score every line of `stream`; write one JSON line per input line to `out` (a result,
    or `{"line": N, "error": ...}`), and return the summary. Bad lines never stop the run."""
    summary = Summary()
    dumps = orjson.dumps
    score = pipeline.score
    advance = on_line
    for n, raw in _lines(stream):
        if advance is not None:
            advance(len(raw))
        try:
            if fmt == "json":
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc}") from None
                ctx = context_from_record(record, geoip)
            else:
                record = None
                ctx = context_from_combined(raw.decode("utf-8", "replace"), host=host, geoip=geoip)
        except InputError as exc:
            summary.errors += 1
            if out is not None:
                out.write(dumps({"line": n, "error": str(exc)}) + b"\n")
            continue
        bm = score(ctx)
        summary.add(bm)
        if out is not None:
            doc = bm.to_dict()
            if isinstance(record, dict) and "id" in record:
                doc = {"id": record["id"], **doc}
            out.write(dumps(doc) + b"\n")
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
    fmt: str,
    summary_only: bool,
    pipeline: Pipeline,
    geoip: GeoIP | None = None,
    host: str = "",
) -> Summary:
    out = None if summary_only else sys.stdout.buffer
    if source == "-":
        result = score_stream(sys.stdin.buffer, out, pipeline, fmt, geoip, host)
    else:
        path = Path(source)
        if summary_only:
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            size = path.stat().st_size
            with (
                Progress(
                    TextColumn("scoring {task.description}"),
                    BarColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    transient=True,
                ) as progress,
                path.open("rb") as fh,
            ):
                task = progress.add_task(path.name, total=size)
                pending = 0

                def advance(nbytes: int) -> None:
                    nonlocal pending
                    pending += nbytes
                    if pending >= 1 << 20:
                        progress.advance(task, pending)
                        pending = 0

                result = score_stream(fh, None, pipeline, fmt, geoip, host, advance)
        else:
            with path.open("rb") as fh:
                result = score_stream(fh, out, pipeline, fmt, geoip, host)
    if out is not None:
        out.flush()
    if summary_only:
        render_summary(result)
    return result
