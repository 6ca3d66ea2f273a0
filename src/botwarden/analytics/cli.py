"""What `botwarden analytics …` does; cli.py wires these into typer. Each returns
(exit_code, output) and never raises for bad input: a bad filter, window or file is exit
code 1 with a message that says what to fix.

    import FILE                      simulator output or recorded events into the store
    summary | top ATTR | timeseries | histogram | sample   the dashboard, as tables or --json
    feedback EXPR                    the figures of a Feedback API report (JSON)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from botwarden.analytics import queries as Q
from botwarden.analytics.config import AnalyticsSettings
from botwarden.errors import BotwardenError
from botwarden.rules.errors import RuleSyntaxError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

    from botwarden.analytics.base import Backend

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
IMPORT_CHUNK = 250_000

ALIASES: dict[str, str] = {
    "timestamp": "ts",
    "time": "ts",
    "ip": "client_ip",
    "client_ip_address": "client_ip",
    "ua": "user_agent",
    "bot_score": "score",
    "ja3": "ja3_hash",
}
"""Column names other tools use → event fields (applied to files that hold events)."""


# -- options shared by the query commands ------------------------------------------------


def parse_time(text: str, now: datetime) -> datetime:
    """ "24h", "30m", "7d", "2w", "90s" before `now`, or an ISO 8601 time (UTC if no zone)."""
    m = _SPAN.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BotwardenError(
            f"{text!r} is neither a span (24h, 30m, 7d) nor an ISO 8601 time"
        ) from None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def make_window(
    zone: str | None, since: str = "24h", until: str | None = None, now: datetime | None = None
) -> Q.Window:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    end = parse_time(until, now) if until else now
    start = parse_time(since, end)
    if end <= start:
        raise BotwardenError("--until must be after --since")
    return Q.Window(zone or None, start, end)


def _settings(backend: str | AnalyticsSettings | None) -> AnalyticsSettings:
    """Given settings, or those of BOTWARDEN_ANALYTICS_* with `backend` (a URL) on top."""
    if isinstance(backend, AnalyticsSettings):
        return backend
    settings = AnalyticsSettings.from_env()
    return dataclasses.replace(settings, backend=backend) if backend else settings


def _run(
    backend: str | AnalyticsSettings | None,
    fn: Callable[[Backend], tuple[int, str]],
) -> tuple[int, str]:
    try:
        settings = _settings(backend)
        store = settings.open_backend()
    except (BotwardenError, OSError) as exc:
        return 1, f"error: cannot open the analytics store: {exc}"
    except Exception as exc:  # a driver's own error (file locked, server refused…)
        return 1, f"error: cannot open the analytics store: {type(exc).__name__}: {exc}"
    try:
        return fn(store)
    except RuleSyntaxError as exc:
        return 1, f"error: --filter:\n{exc}"
    except (BotwardenError, ValueError) as exc:
        return 1, f"error: {exc}"
    finally:
        store.close()


def _json(value: object) -> str:
    """Times are naive UTC: written as RFC 3339 with a Z."""
    options = (
        orjson.OPT_INDENT_2
        | orjson.OPT_NAIVE_UTC
        | orjson.OPT_UTC_Z
        | orjson.OPT_OMIT_MICROSECONDS
        | orjson.OPT_NON_STR_KEYS
    )
    return orjson.dumps(value, option=options).decode()


def _table(title: str, columns: list[str], rows: list[list[object]]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right", overflow="fold")
    for r in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in r))
    out = io.StringIO()
    Console(file=out, width=120, color_system=None, highlight=False).print(table)
    return out.getvalue().rstrip()


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _describe(w: Q.Window, flt: str | None) -> str:
    where = w.zone or "all zones"
    text = f"{where}, {w.since:%Y-%m-%d %H:%M} → {w.until:%Y-%m-%d %H:%M} UTC"
    return text + (f", filter: {flt}" if flt else "")


# -- the query commands ------------------------------------------------------------------


def summary_command(
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    flt: str | None = None,
    as_json: bool = False,
    now: datetime | None = None,
) -> tuple[int, str]:
    """Requests by grouping and by score source."""

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        totals = Q.totals(store, w, flt)
        sources = Q.by_score_source(store, w, flt)
        if as_json:
            return 0, _json({"window": _window_json(w), "totals": totals, "sources": sources})
        total = totals["total"]
        groups = [[g, totals[g], _pct(totals[g], total)] for g in Q.GROUPINGS]
        groups.append(["total", total, ""])
        srcs = [[s, n, _pct(n, total)] for s, n in sources.items() if n]
        return 0, "\n".join(
            [
                _table(
                    f"Requests by grouping — {_describe(w, flt)}",
                    ["grouping", "requests", "share"],
                    groups,
                ),
                _table("Requests by score source", ["source", "requests", "share"], srcs),
            ]
        )

    return _run(backend, run)


def top_command(
    attribute: str,
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    flt: str | None = None,
    limit: int = 10,
    as_json: bool = False,
    now: datetime | None = None,
) -> tuple[int, str]:
    """The most frequent values of an attribute (ip, user_agent, asn, country, host, path,
    ja3, ja4, detection_id, verified_bot_category)."""
    if attribute not in Q.ATTRIBUTES:
        return 1, f"error: unknown attribute {attribute!r}; use one of {', '.join(Q.ATTRIBUTES)}"

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        rows = Q.top(store, w, attribute, flt, limit)
        if as_json:
            items = [{"value": v, "requests": n} for v, n in rows]
            return 0, _json({"window": _window_json(w), "attribute": attribute, "top": items})
        return 0, _table(
            f"Top {attribute} — {_describe(w, flt)}",
            [attribute, "requests"],
            [[v if v != "" else "(empty)", n] for v, n in rows],
        )

    return _run(backend, run)


def timeseries_command(
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    flt: str | None = None,
    interval: int | None = None,
    as_json: bool = False,
    now: datetime | None = None,
) -> tuple[int, str]:
    """Requests per grouping over time; the interval adapts to the window."""

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        ts = Q.timeseries(store, w, flt, interval)
        if as_json:
            points = [{"time": t, **counts} for t, counts in ts.points]
            return 0, _json({"window": _window_json(w), "interval": ts.interval, "points": points})
        rows = [[f"{t:%Y-%m-%d %H:%M}", *(c[g] for g in Q.GROUPINGS)] for t, c in ts.points]
        step = f"{ts.interval // 60} min" if ts.interval >= 60 else f"{ts.interval} s"
        title = f"Requests every {step} — {_describe(w, flt)}"
        return 0, _table(title, ["time (UTC)", *Q.GROUPINGS], rows)

    return _run(backend, run)


def histogram_command(
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    flt: str | None = None,
    as_json: bool = False,
    now: datetime | None = None,
) -> tuple[int, str]:
    """Requests per bot score, 1 to 99."""

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        h = Q.histogram(store, w, flt)
        if as_json:
            return 0, _json(
                {"window": _window_json(w), "scores": {str(k): v for k, v in h.items()}}
            )
        peak = max(h.values()) or 1
        rows = [[s, n, "█" * round(40 * n / peak)] for s, n in h.items() if n]
        return 0, _table(
            f"Requests by score — {_describe(w, flt)}", ["score", "requests", ""], rows
        )

    return _run(backend, run)


def sample_command(
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    flt: str | None = None,
    limit: int = 20,
    as_json: bool = False,
    now: datetime | None = None,
) -> tuple[int, str]:
    """The latest raw events."""

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        events = Q.sample(store, w, flt, limit)
        if as_json:
            return 0, _json({"window": _window_json(w), "events": events})
        cols = ["ts", "client_ip", "method", "host", "path", "score", "score_src", "user_agent"]
        rows = [[f"{e['ts']:%H:%M:%S}", *(e[c] for c in cols[1:])] for e in events]
        return 0, _table(f"Latest events — {_describe(w, flt)}", cols, rows)

    return _run(backend, run)


def feedback_command(
    expression: str,
    *,
    backend: str | None = None,
    zone: str | None = None,
    since: str = "24h",
    until: str | None = None,
    top_n: int = 10,
    now: datetime | None = None,
) -> tuple[int, str]:
    """The figures of a Feedback API report for the traffic an expression selects (JSON,
    ready to complete with type and description and POST)."""

    def run(store: Backend) -> tuple[int, str]:
        w = make_window(zone, since, until, now)
        return 0, _json(Q.feedback_summary(store, w, expression, top_n))

    return _run(backend, run)


def _window_json(w: Q.Window) -> dict[str, object]:
    return {"zone": w.zone, "since": w.since, "until": w.until}


# -- import ------------------------------------------------------------------------------


def _read_file(path: Path) -> tuple[pa.Table | None, list[dict[str, Any]] | None]:
    """A file as an Arrow table (events) or as JSON records."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path), None
    if suffix in (".arrow", ".feather", ".ipc"):
        import pyarrow.feather as feather  # type: ignore[import-untyped]

        return feather.read_table(path), None
    records = []
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise BotwardenError(f"{path}:{n}: not JSON ({exc})") from None
    return None, records


def _micros(arr: pa.ChunkedArray) -> pa.Array:
    """A time column (timestamp of any unit or zone, epoch seconds, or ISO 8601 text) as
    naive UTC microseconds."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    t = arr.type
    if pa.types.is_timestamp(t):
        ints = pc.cast(arr, pa.int64())
        scale = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 0.001}[t.unit]
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        ints = pc.cast(pc.cast(arr, pa.timestamp("us", tz="UTC")), pa.int64())
        scale = 1
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        ints, scale = pc.cast(arr, pa.float64()), 1_000_000
    else:
        raise BotwardenError(f"ts: cannot read a time from a {t} column")
    micros = pc.cast(pc.round(pc.multiply(pc.cast(ints, pa.float64()), scale)), pa.int64())
    return pc.cast(micros, pa.timestamp("us"))


def _events_table(table: pa.Table, zone: str | None) -> tuple[pa.Table, list[str]]:
    """Event columns of a file's table (aliases applied); returns the table and the
    columns it ignored."""
    import pyarrow as pa

    from botwarden.analytics.events import EVENT_FIELDS

    # An alias names a column only when the file lacks the canonical one (a file with both
    # `ja3` and `ja3_hash` keeps `ja3_hash` and reports `ja3` as ignored).
    present = set(table.column_names)
    renamed = [
        ALIASES[c] if c in ALIASES and ALIASES[c] not in present else c for c in table.column_names
    ]
    table = table.rename_columns(renamed)
    ignored = [c for c in table.column_names if c not in EVENT_FIELDS]
    keep = [c for c in table.column_names if c in EVENT_FIELDS]
    table = table.select(keep)
    if "ts" not in keep or "client_ip" not in keep:
        raise BotwardenError("events need at least a time (ts) and an address (client_ip)")
    table = table.set_column(keep.index("ts"), "ts", _micros(table.column("ts")))
    if zone:
        values = pa.array([zone] * table.num_rows, pa.string())
        if "zone" in keep:
            table = table.set_column(keep.index("zone"), "zone", values)
        else:
            table = table.append_column("zone", values)
    return table, ignored


def _score_records(
    records: list[dict[str, Any]], zone: str | None, errors: list[str]
) -> Iterator[Any]:
    """Request records (docs/score-input.md) → events, scored by the default pipeline."""
    from botwarden.analytics.events import event_from_request
    from botwarden.errors import InputError
    from botwarden.inputs import context_from_record
    from botwarden.scoring import default_pipeline

    pipeline = default_pipeline()
    for n, record in enumerate(records, 1):
        if zone and isinstance(record, dict):
            record = {**record, "zone": zone}
        try:
            ctx = context_from_record(record)
        except InputError as exc:
            errors.append(f"record {n}: {exc}")
            continue
        yield event_from_request(ctx, pipeline.score(ctx), status=record.get("status"))


def import_command(
    path: str | Path,
    *,
    backend: str | None = None,
    zone: str | None = None,
    settings: AnalyticsSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, str]:
    """Load a file into the analytics store, exactly once: importing the same file again
    adds nothing, and an interrupted import resumes where it stopped.

    Accepted: Parquet / Arrow files and JSON lines of events (`Event` fields; a few common
    aliases such as `timestamp`, `ip`, `ua`), and JSON lines of request records
    (docs/score-input.md), which are scored on the way in. Columns that are not event
    fields (the simulator's ground-truth labels) are reported and left out."""
    import pyarrow as pa

    from botwarden.analytics.events import events_to_arrow, finish

    path = Path(path)
    if not path.is_file():
        return 1, f"error: {path}: no such file"
    try:
        settings = settings or _settings(backend)
        privacy = settings.privacy()
        table, records = _read_file(path)
        ignored: list[str] = []
        errors: list[str] = []
        if table is None:
            assert records is not None
            head = records[:100]
            if (
                head
                and all(isinstance(r, Mapping) and "client_ip" not in r for r in head)
                and all("ip" in r for r in head)
            ):
                table = events_to_arrow(list(_score_records(records, zone, errors)))
            else:
                table = pa.Table.from_pylist([r for r in records if isinstance(r, Mapping)])
                table, ignored = _events_table(table, zone)
        else:
            table, ignored = _events_table(table, zone)
    except BotwardenError as exc:
        return 1, f"error: {path}: {exc}"
    except (OSError, pa.ArrowException) as exc:
        return 1, f"error: {path}: cannot read it ({exc})"
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    spool_id = "import-" + digest.hexdigest()[:16]

    def run(store: Backend) -> tuple[int, str]:
        total, added = table.num_rows, 0
        for start in range(0, total, IMPORT_CHUNK):
            chunk = table.slice(start, IMPORT_CHUNK)
            done = finish(chunk, spool_id=spool_id, first_seq=start + 1, privacy=privacy)
            added += store.insert(done, spool_id=spool_id, last_seq=start + chunk.num_rows)
            if progress is not None:
                progress(start + chunk.num_rows, total)
        lines = [f"{path}: {total:,} events, {added:,} new (already stored: {total - added:,})"]
        if ignored:
            lines.append(f"left out (not event fields): {', '.join(ignored)}")
        if errors:
            lines.append(f"{len(errors)} records skipped: " + "; ".join(errors[:5]))
        return 0, "\n".join(lines)

    return _run(settings, run)
