"""The `simulate` command functions the CLI wires up: exit codes and messages."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from botwarden.inputs import context_from_record
from botwarden.simulate.cli import check_command, events_command, populations_command
from botwarden.simulate.events import read_events


def run_events(**kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = events_command(stdout=out, stderr=err, **kw)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_events_to_parquet(tmp_path: Path) -> None:
    target = tmp_path / "e.parquet"
    code, out, err = run_events(out=target, hours=0.01, rps=50, seed=1)
    assert (code, err) == (0, "")
    assert "events (default" in out
    table = read_events(target)
    assert table.num_rows > 1000


def test_events_to_jsonl_are_score_input_records(tmp_path: Path) -> None:
    target = tmp_path / "e.jsonl"
    code, _, err = run_events(out=target, scenario="campaigns/login_abuse", hours=0.01, rps=50)
    assert (code, err) == (0, "")
    lines = target.read_bytes().splitlines()
    assert len(lines) > 100
    for line in lines[:200]:
        context_from_record(orjson.loads(line))


def test_bad_arguments_are_one_clear_error(tmp_path: Path) -> None:
    code, _, err = run_events(out=tmp_path / "e.csv")
    assert code == 2
    assert ".parquet or .jsonl" in err
    code, _, err = run_events(out=tmp_path / "e.parquet", scenario="nope")
    assert code == 2
    assert "no such scenario" in err
    code, _, err = run_events(out=tmp_path / "e.parquet", hours=-1)
    assert code == 2
    assert "--hours must be above 0" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nmix: {chrome: 1, edge: x}\n")
    code, _, err = run_events(out=tmp_path / "e.parquet", scenario=bad)
    assert code == 2
    assert "mix.chrome: unknown population" in err
    assert "mix.edge: expected a number" in err


def test_check_and_list(tmp_path: Path) -> None:
    from botwarden.simulate.scenario import scenarios_dir

    out, err = io.StringIO(), io.StringIO()
    assert check_command([scenarios_dir() / "default.yaml"], stdout=out, stderr=err) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\n")
    assert check_command([bad], stdout=out, stderr=err) == 1
    assert "mix: required" in err.getvalue()
    listing = io.StringIO()
    assert populations_command(stdout=listing) == 0
    assert "credit_card_abuse" in listing.getvalue()
