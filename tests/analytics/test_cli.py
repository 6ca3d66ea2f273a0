"""The `botwarden analytics …` command functions (typer wiring lives in botwarden/cli.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from botwarden.analytics import cli
from botwarden.analytics.config import AnalyticsSettings
from botwarden.errors import BotwardenError

NOW = datetime(2026, 1, 2)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A DuckDB file holding a simulator-like Parquet file of 6 events."""
    table = pa.table(
        {
            "timestamp": pa.array(
                [datetime(2026, 1, 1, 12, m) for m in range(6)], pa.timestamp("ms", tz="UTC")
            ),
            "ip": ["10.0.0.1"] * 3 + ["192.0.2.7", "192.0.2.8", "192.0.2.9"],
            "zone": ["shop.example"] * 6,
            "user_agent": ["curl/8.5.0"] * 3 + ["Mozilla/5.0"] * 3,
            "score": [1, 1, 12, 80, 90, 95],
            "score_src": ["Heuristics", "Heuristics", "Machine Learning"]
            + ["Machine Learning"] * 3,
            "label": ["bot"] * 3 + ["human"] * 3,
            "population": ["curl"] * 3 + ["chrome"] * 3,
        }
    )
    pq.write_table(table, tmp_path / "sim.parquet")
    db = str(tmp_path / "a.duckdb")
    code, out = cli.import_command(tmp_path / "sim.parquet", backend=db)
    assert code == 0, out
    assert "6 events, 6 new" in out
    assert "label, population" in out
    return db


def test_import_is_exactly_once(store: str, tmp_path: Path) -> None:
    code, out = cli.import_command(tmp_path / "sim.parquet", backend=store)
    assert code == 0
    assert "6 events, 0 new" in out


def test_summary_table_and_json(store: str) -> None:
    code, out = cli.summary_command(backend=store, zone="shop.example", since="24h", now=NOW)
    assert code == 0, out
    assert "automated" in out
    assert "Heuristics" in out
    code, out = cli.summary_command(backend=store, zone="shop.example", as_json=True, now=NOW)
    doc = json.loads(out)
    assert doc["totals"]["automated"] == 2
    assert doc["totals"]["likely_human"] == 3
    assert doc["sources"]["Heuristics"] == 2
    assert doc["window"]["since"] == "2026-01-01T00:00:00Z"


def test_top_with_a_filter(store: str) -> None:
    code, out = cli.top_command(
        "ip",
        backend=store,
        zone="shop.example",
        flt="cf.bot_management.score lt 30",
        now=NOW,
        as_json=True,
    )
    assert code == 0, out
    assert json.loads(out)["top"] == [{"value": "10.0.0.1", "requests": 3}]
    code, out = cli.top_command("user_agent", backend=store, now=NOW)
    assert "curl/8.5.0" in out
    code, out = cli.top_command("colour", backend=store, now=NOW)
    assert code == 1
    assert "unknown attribute" in out


def test_timeseries_histogram_sample(store: str) -> None:
    code, out = cli.timeseries_command(
        backend=store, since="2026-01-01T12:00:00Z", until="2026-01-01T13:00:00Z", as_json=True
    )
    doc = json.loads(out)
    assert doc["interval"] == 60
    assert sum(p["automated"] for p in doc["points"]) == 2
    code, out = cli.timeseries_command(backend=store, since="2h", now=datetime(2026, 1, 1, 13))
    assert code == 0
    assert "Requests every 5 min" in out
    code, out = cli.histogram_command(backend=store, now=NOW)
    assert code == 0
    assert "█" in out
    code, out = cli.histogram_command(backend=store, now=NOW, as_json=True)
    assert json.loads(out)["scores"]["1"] == 2
    code, out = cli.sample_command(backend=store, now=NOW, limit=2, as_json=True)
    events = json.loads(out)["events"]
    assert [e["score"] for e in events] == [95, 90]


def test_feedback_prefill(store: str) -> None:
    code, out = cli.feedback_command("cf.bot_management.score le 46", backend=store, now=NOW)
    assert code == 0, out
    doc = json.loads(out)
    assert doc["requests"] == 3
    assert doc["requests_by_score_src"] == {"heuristics": 2, "machine_learning": 1}
    assert doc["requests_by_attribute"]["topIPs"] == [{"metric": "10.0.0.1", "requests": 3}]


def test_a_bad_filter_is_explained(store: str) -> None:
    code, out = cli.summary_command(backend=store, flt="cf.bot_management.score lt", now=NOW)
    assert code == 1
    assert "--filter" in out
    assert "^" in out


def test_a_bad_window_is_explained(store: str) -> None:
    code, out = cli.summary_command(backend=store, since="yesterday", now=NOW)
    assert code == 1
    assert "ISO 8601" in out
    code, out = cli.summary_command(
        backend=store, since="2026-01-02T00:00:00", until="2026-01-01T00:00:00", now=NOW
    )
    assert code == 1
    assert "after" in out


def test_import_request_records_scores_them(tmp_path: Path) -> None:
    lines = [
        {
            "ip": "203.0.113.7",
            "url": "https://shop.example/login",
            "headers": [["User-Agent", "curl/8.5.0"]],
            "ts": "2026-01-01T10:00:00Z",
        },
        {"ip": "not-an-ip"},
    ]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    db = str(tmp_path / "b.duckdb")
    code, out = cli.import_command(path, backend=db, zone="shop.example")
    assert code == 0, out
    assert "1 events, 1 new" in out
    assert "1 records skipped" in out
    code, out = cli.sample_command(backend=db, zone="shop.example", now=NOW, as_json=True)
    (event,) = json.loads(out)["events"]
    assert event["user_agent"] == "curl/8.5.0"
    assert event["score"] >= 1
    assert event["score_src"] != "Not Computed"


def test_import_event_lines_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"ts": 1767261600, "client_ip": "192.0.2.1", "score": 5}) + "\n")
    db = str(tmp_path / "c.duckdb")
    assert cli.import_command(path, backend=db)[0] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    code, out = cli.import_command(bad, backend=db)
    assert code == 1
    assert "bad.jsonl:1" in out
    code, out = cli.import_command(tmp_path / "missing.parquet", backend=db)
    assert code == 1
    no_ip = tmp_path / "no_ip.jsonl"
    no_ip.write_text(json.dumps({"ts": 1767261600, "client_ip_missing": 1}) + "\n")
    code, out = cli.import_command(no_ip, backend=db)
    assert code == 1
    assert "client_ip" in out


def test_import_applies_privacy(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"ts": 1767261600, "client_ip": "198.51.100.77"}) + "\n")
    settings = AnalyticsSettings(backend=str(tmp_path / "d.duckdb"), ip_mode="truncate")
    assert cli.import_command(path, settings=settings)[0] == 0
    _code, out = cli.top_command("ip", backend=str(tmp_path / "d.duckdb"), now=NOW)
    assert "198.51.100.0" in out
    assert "198.51.100.77" not in out


def test_parse_time() -> None:
    assert cli.parse_time("90m", NOW) == datetime(2026, 1, 1, 22, 30)
    assert cli.parse_time("2026-01-01T01:00:00+01:00", NOW) == datetime(2026, 1, 1, 0, 0)
    with pytest.raises(BotwardenError):
        cli.parse_time("soon", NOW)


def test_an_unopenable_store(tmp_path: Path) -> None:
    code, out = cli.summary_command(backend="nosuch://x", now=NOW)
    assert code == 1
    assert "unknown analytics backend" in out


def test_the_store_comes_from_the_environment(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTWARDEN_ANALYTICS_BACKEND", store)
    code, out = cli.summary_command(as_json=True, now=NOW)
    assert code == 0, out
    assert json.loads(out)["totals"]["total"] == 6
    monkeypatch.setenv("BOTWARDEN_ANALYTICS_RETENTION_DAYS", "zero")
    code, out = cli.summary_command(now=NOW)
    assert code == 1
    assert "RETENTION_DAYS" in out


def test_import_of_the_simulators_own_parquet(tmp_path: Path) -> None:
    """What `botwarden simulate events` writes imports as is, whatever extra columns it
    carries (it has both `ja3` and `ja3_hash`: the canonical name wins)."""
    from botwarden.simulate.events import write_parquet
    from botwarden.simulate.scenario import parse_scenario

    doc = {"name": "t", "hours": 0.005, "rps": 20, "start": "2026-01-01T12:00:00Z",
           "mix": {"chrome_desktop": 0.5, "scraping": 0.5}}  # fmt: skip
    path = tmp_path / "sim.parquet"
    write_parquet(parse_scenario(doc), path, seed=4)
    rows = pq.read_table(path).num_rows
    code, out = cli.import_command(path, backend=str(tmp_path / "a.duckdb"))
    assert code == 0, out
    assert f"{rows:,} events, {rows:,} new" in out
