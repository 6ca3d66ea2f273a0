"""`botwarden simulate …` commands, as plain functions the typer app wires up.

Each returns a process exit code and prints to the given streams; errors a user can fix
(an invalid scenario, a refused target) are one clear message and exit code 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from botwarden.errors import ConfigError
from botwarden.simulate.scenario import Scenario, load_scenario, parse_scenario, scenarios_dir

DEFAULT_SCENARIO = "default"


def resolve_scenario(name: str | Path | None) -> Path:
    """A scenario file: a path, or the name of a shipped one (`default`,
    `campaigns/credit_card_abuse`, `feedback/stealth_scraping`)."""
    if name is None:
        name = DEFAULT_SCENARIO
    path = Path(name)
    if path.is_file():
        return path
    shipped = scenarios_dir() / (str(name) if str(name).endswith(".yaml") else f"{name}.yaml")
    if shipped.is_file():
        return shipped
    raise ConfigError(f"{name}: no such scenario file (nor a shipped scenario of that name)")


def scenario_from(
    name: str | Path | None,
    hours: float | None = None,
    rps: float | None = None,
    start: str | None = None,
) -> Scenario:
    """A validated scenario (file or shipped name) with the command line's overrides."""
    from botwarden.simulate.scenario import _parse_time

    scenario = load_scenario(resolve_scenario(name))
    try:
        when = None if start is None else _parse_time(start)
    except ValueError as exc:
        raise ConfigError(f"--start: {exc}") from None
    for flag, value in (("--hours", hours), ("--rps", rps)):
        if value is not None and value <= 0:
            raise ConfigError(f"{flag} must be above 0, got {value}")
    return scenario.with_overrides(hours=hours, rps=rps, start=when)


def events_command(
    *,
    out: Path,
    scenario: str | Path | None = None,
    hours: float | None = None,
    rps: float | None = None,
    seed: int = 0,
    start: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Write labelled events: Parquet for `.parquet`, score-input JSON lines for `.jsonl`."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        sc = scenario_from(scenario, hours, rps, start)
    except ConfigError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".jsonl"):
        print(f"error: --out must end in .parquet or .jsonl, not {out.name!r}", file=stderr)
        return 2
    t0 = time.perf_counter()
    try:
        rows = _write(sc, out, seed, suffix)
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=stderr)
        return 2
    elapsed = time.perf_counter() - t0
    rate = rows / elapsed if elapsed > 0 else 0.0
    print(
        f"{rows:,} events ({sc.name}, {sc.hours:g} h at {sc.rps:g} req/s, seed {seed}) "
        f"→ {out} in {elapsed:.1f} s ({rate * 60 / 1e6:.2f} M events/min)",
        file=stdout,
    )
    return 0


_scenario = scenario_from  # the earlier private name, which other code already calls


def _write(sc: Scenario, out: Path, seed: int, suffix: str) -> int:
    from botwarden.simulate.events import Generator, record_from_event, write_parquet

    if suffix == ".parquet":
        return write_parquet(sc, out, seed=seed)
    import orjson

    rows = 0
    with out.open("wb") as fh:
        for batch in Generator(sc, seed=seed).batches():
            for row in batch.to_pylist():
                fh.write(orjson.dumps(record_from_event(row)) + b"\n")
                rows += 1
    return rows


def traffic_command(
    *,
    target: str,
    rps: float,
    duration: float,
    scenario: str | Path | None = None,
    seed: int = 0,
    allow_hosts: list[str] | None = None,
    engines: list[str] | None = None,
    json_out: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Send the scenario's populations to `target` as real requests; print a summary."""
    import orjson

    from botwarden.simulate.traffic import ENGINES, check_target, run_traffic

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    chosen = engines or list(ENGINES)
    unknown = sorted(set(chosen) - set(ENGINES))
    try:
        if unknown:
            raise ConfigError(f"--engine {', '.join(unknown)}: not one of {', '.join(ENGINES)}")
        if rps <= 0 or duration <= 0:
            raise ConfigError("--rps and --duration must be above 0")
        check_target(target, allow_hosts or ())
        sc = load_scenario(resolve_scenario(scenario))
    except ConfigError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    report = run_traffic(sc, target, rps=rps, duration=duration, seed=seed,
                         allow_hosts=allow_hosts or (), engines=chosen)  # fmt: skip
    summary = report.summary()
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    print(
        f"{report.sent:,} requests to {target} in {duration:g} s: {report.achieved_rps:.1f}/s "
        f"(target {rps:g}/s, at most {report.max_per_second()} in any second)",
        file=stdout,
    )
    for key in ("by_engine", "statuses", "errors", "skipped", "left_out"):
        if summary[key]:
            print(f"  {key}: {summary[key]}", file=stdout)
    return 0


def check_command(paths: list[Path], *, stdout: TextIO | None = None,
                  stderr: TextIO | None = None) -> int:  # fmt: skip
    """Validate scenario files; print every problem of every file."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    bad = 0
    for path in paths:
        try:
            sc = load_scenario(path)
        except ConfigError as exc:
            print(f"error: {exc}", file=stderr)
            bad += 1
            continue
        print(f"{path}: ok ({sc.name}: {len(sc.phases)} mix(es), {len(sc.campaigns)} campaign(s))",
              file=stdout)  # fmt: skip
    return 1 if bad else 0


def populations_command(*, stdout: TextIO | None = None) -> int:
    """List populations: name, label, group, subtype, default sophistication."""
    from botwarden.simulate.populations import populations

    stdout = stdout or sys.stdout
    for pop in populations().values():
        levels = ",".join(f"{k}:{v:g}" for k, v in sorted(pop.levels.items()) if k)
        print(f"{pop.name:24} {pop.label:6} {pop.group:13} {levels}", file=stdout)
    return 0


__all__ = [
    "check_command",
    "events_command",
    "parse_scenario",
    "populations_command",
    "resolve_scenario",
    "scenario_from",
    "traffic_command",
]
