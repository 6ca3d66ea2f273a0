"""Shared helpers for benchmarks: percentiles, a table, and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def report(name: str, rows: list[dict[str, Any]], targets: dict[str, str]) -> Path:
    """Print rows as a table and write bench/results/<name>.json."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bench/{name}.py")
    columns = list(rows[0]) if rows else []
    for c in columns:
        table.add_column(c, justify="left" if c in ("case", "what") else "right")
    for r in rows:
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.values()))
    Console().print(table)
    for k, v in targets.items():
        print(f"target {k}: {v}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    doc = {
        "bench": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rows": rows,
        "targets": targets,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out
