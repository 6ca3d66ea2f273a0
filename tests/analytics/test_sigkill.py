"""SIGKILL the writer process in the middle of flushing — during a backend insert, between
ClickHouse's rows and its watermark, half-way through a spool record, at random — restart
it each time, and prove that no event acknowledged to the spool is lost and none is
stored twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("sigkill_child.py")


def wait_for(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.001)
    raise AssertionError(f"the writer never reached {text!r}")


def run_cycle(url: str, tmp: Path, cycle: int, point: str, rng: random.Random) -> None:
    acks, marks = tmp / "acks", tmp / f"marks{cycle}"
    child = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            "produce",
            url,
            str(tmp / "spool"),
            str(acks),
            str(marks),
            str(cycle * 10_000_000),
            point,
        ],
        stderr=subprocess.PIPE,
    )
    try:
        if point == "any":
            wait_for(marks, "started")
            time.sleep(rng.uniform(0.2, 0.8))
        elif point == "store":
            wait_for(marks, "store")
            # A few flushes in, then kill at the start of the next insert.
            n = marks.read_text().count("store")
            while marks.read_text().count("store") <= n + rng.randrange(3):
                time.sleep(0.0005)
        else:
            wait_for(marks, point)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err.decode()


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("backend", "points"),
    [
        ("duckdb", ["store", "torn", "any", "store", "any", "store"]),
        ("chdb", ["gap", "store", "torn", "gap", "any"]),
    ],
)
def test_sigkill_loses_nothing_acknowledged_and_stores_nothing_twice(
    backend: str, points: list[str], tmp_path: Path
) -> None:
    url = str(tmp_path / "a.duckdb") if backend == "duckdb" else f"chdb://{tmp_path / 'ch'}"
    rng = random.Random(6)
    for cycle, point in enumerate(points):
        run_cycle(url, tmp_path, cycle, point, rng)
    out = subprocess.run(
        [sys.executable, str(CHILD), "drain", url, str(tmp_path / "spool")],
        capture_output=True,
        check=True,
        timeout=300,
    )
    result = json.loads(out.stdout)
    assert result["flushed"]
    counts = dict(result["rows"])
    acked = (tmp_path / "acks").read_text().split()
    assert len(acked) > 10_000, "too little traffic to prove anything"
    assert len(set(acked)) == len(acked)
    lost = set(acked) - set(counts)
    assert not lost, f"{len(lost)} acknowledged events lost"
    twice = {k: v for k, v in counts.items() if v > 1}
    assert not twice, f"{len(twice)} events stored more than once"
