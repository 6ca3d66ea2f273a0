"""Labelled events: schema, ground truth, conversion to what the scorer takes, rates,
determinism (byte-identical Parquet per seed) and generation speed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.engines import default_engines
from botwarden.inputs import context_from_record
from botwarden.scoring import Pipeline
from botwarden.simulate.events import (
    COLUMNS,
    Generator,
    context_from_event,
    record_from_event,
    write_parquet,
)
from botwarden.simulate.populations import SUBTYPES, populations
from botwarden.simulate.scenario import parse_scenario
from tests.simulate.conftest import every_population

Row = dict[str, object]


def test_columns_hold_truth_and_every_scored_attribute(events: pa.Table) -> None:
    truth = {"label", "population", "subtype", "sophistication", "session_id", "campaign"}
    request = {"ts", "client_ip", "method", "host", "path", "query", "http_version", "headers",
               "ja4", "ja3", "ja3_hash", "scheme", "zone"}  # fmt: skip
    assert truth | request <= set(events.column_names)
    assert tuple(events.column_names) == COLUMNS


def test_events_table_names_and_types_where_they_overlap(events: pa.Table) -> None:
    from botwarden.testing.events_table import COLUMN_NAMES

    shared = set(COLUMN_NAMES) & set(events.column_names)
    assert {"ts", "client_ip", "asn", "country", "host", "method", "path", "query",
            "http_version", "status", "user_agent", "referer", "ja3_hash", "ja4",
            "header_fp", "zone"} <= shared  # fmt: skip
    assert events.schema.field("status").type == pa.int32()
    assert events.schema.field("ts").type == pa.timestamp("us")


def test_ground_truth_labels(rows: list[Row]) -> None:
    pops = populations()
    seen = Counter(str(r["population"]) for r in rows)
    assert set(seen) == set(pops), set(pops) - set(seen)
    for r in rows:
        pop = pops[str(r["population"])]
        assert r["label"] == pop.label
        assert r["subtype"] == pop.subtype
        if pop.group == "abuse":
            assert r["subtype"] in SUBTYPES
            assert r["sophistication"] in (1, 2, 3, 4)
        else:
            assert r["sophistication"] == 0


@pytest.mark.parametrize("subtype", SUBTYPES)
def test_every_subtype_runs_at_every_sophistication(subtype: str) -> None:
    for level in (1, 2, 3, 4):
        sc = parse_scenario({"name": "x", "hours": 0.01, "rps": 50,
                             "mix": {subtype: {"share": 1, "sophistication": level}}})  # fmt: skip
        batches = list(Generator(sc, seed=level).batches())
        table = pa.Table.from_batches(batches)
        assert table.num_rows > 0, (subtype, level)
        assert set(table.column("sophistication").to_pylist()) == {level}
        assert set(table.column("subtype").to_pylist()) == {subtype}


def test_rows_convert_to_the_context_the_scorer_reads(rows: list[Row]) -> None:
    for r in rows[::97]:
        ctx = context_from_event(r)
        assert ctx.client_ip == r["client_ip"]
        assert ctx.method == r["method"]
        assert ctx.path == r["path"]
        assert ctx.query == r["query"]
        assert ctx.http_version == r["http_version"]
        assert ctx.user_agent == r["user_agent"]
        assert ctx.referer == r["referer"]
        assert ctx.header_order_fp == r["header_fp"]
        assert (ctx.ja4 or "") == r["ja4"]
        assert (ctx.ja3_hash or "") == r["ja3_hash"]
        assert ctx.timestamp == pytest.approx(r["ts"].timestamp(), abs=1e-6)  # type: ignore[attr-defined]
        # … and the same through a score-input record, as `botwarden score` reads it.
        again = context_from_record(record_from_event(r))
        assert again.headers == ctx.headers
        assert again.ja4 == ctx.ja4
        assert again.host == ctx.host


def test_headers_carry_the_request_slots(rows: list[Row]) -> None:
    posts = [r for r in rows if r["method"] == "POST" and r["body"]]
    assert posts
    for r in posts[:500]:
        h = {str(x["name"]).lower(): str(x["value"]) for x in r["headers"]}  # type: ignore[attr-defined]
        assert h["content-length"] == str(len(str(r["body"])))
    with_cookie = [r for r in rows if any(x["name"].lower() == "cookie" for x in r["headers"])]  # type: ignore[attr-defined]
    assert with_cookie


def test_rate_and_time_order(events: pa.Table) -> None:
    sc = every_population()
    n = events.num_rows
    expected = sc.duration * sc.rps
    assert abs(n - expected) / expected < 0.05
    ts = events.column("ts").cast(pa.int64()).to_numpy()
    assert (ts[1:] >= ts[:-1]).all()
    start, end = sc.start * 1e6, (sc.start + sc.duration) * 1e6
    assert ts[0] >= start
    assert ts[-1] < end


def test_base_mix_shares_hold(rows: list[Row]) -> None:
    counts = Counter(str(r["population"]) for r in rows)
    mean = len(rows) / len(populations())
    for pop, n in counts.items():
        # Equal shares: each within a factor of the mean (a run of 12 minutes is short for
        # populations whose sessions are long, such as crawlers and monitors).
        assert 0.5 * mean < n < 1.6 * mean, (pop, n, mean)


def test_scores_follow_sophistication(rows: list[Row]) -> None:
    pipeline = Pipeline(default_engines())
    caught: dict[tuple[str, int], list[bool]] = {}
    for r in rows[::5]:
        bm = pipeline.score(context_from_event(r))
        key = (str(r["label"]), int(str(r["sophistication"])))
        caught.setdefault(key, []).append(bm.score == 1 and not bm.verified_bot)
    rate = {k: sum(v) / len(v) for k, v in caught.items()}
    assert rate[("bot", 1)] > 0.8  # declared libraries: the heuristics catch nearly all
    assert rate[("bot", 2)] > 0.95  # a browser UA over library TLS and headers
    assert rate[("bot", 4)] < 0.02  # stealth: nothing in a single request gives it away
    assert rate[("human", 0)] < 0.15  # only hard humans (okhttp, TLS-inspecting proxies)


def test_verified_bots_verify(rows: list[Row]) -> None:
    pipeline = Pipeline(default_engines())
    for r in rows:
        if r["population"] in ("googlebot", "bingbot", "gptbot"):
            assert pipeline.score(context_from_event(r)).verified_bot, r["client_ip"]


# -- determinism ------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    sc = every_population(hours=0.03, rps=200)
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    write_parquet(sc, a, seed=5)
    write_parquet(sc, b, seed=5)
    write_parquet(sc, c, seed=6)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


_CHILD = """
import sys
from botwarden.simulate.events import write_parquet
from tests.simulate.conftest import every_population
write_parquet(every_population(hours=0.02, rps=200), sys.argv[1], seed=9)
"""


def test_seed_reproduces_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hash_seed in ("1", "12345"):
        out = tmp_path / f"run{hash_seed}.parquet"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", _CHILD, str(out)], cwd=root, env=env,
                       check=True, timeout=120)  # fmt: skip
        digests.add(_digest(out))
    assert len(digests) == 1


# -- speed ------------------------------------------------------------------------------------


def test_generates_over_a_million_events_a_minute(tmp_path: Path) -> None:
    sc = parse_scenario({"name": "speed", "hours": 0.25, "rps": 250,
                         "mix": {"chrome_desktop": 40, "safari_ios": 15, "chrome_android": 10,
                                 "scraping": 10, "login_abuse": 5, "googlebot": 5,
                                 "mobile_app": 5, "credit_card_abuse": 5, "edge": 5}})  # fmt: skip
    Generator(parse_scenario({"name": "warm", "hours": 0.001, "rps": 10,
                              "mix": {"chrome_desktop": 1}}))  # fmt: skip
    # CPU time of this process: other work on a shared machine must not fail the test
    # (bench/simulate.py reports the wall-clock figure).
    t0 = time.process_time()
    n = write_parquet(sc, tmp_path / "speed.parquet", seed=1)
    rate = n / (time.process_time() - t0)
    assert n > 200_000
    assert rate > 1_000_000 / 60, f"{rate:.0f} events/s"


def test_runs_cover_http1_edges_and_edges_without_tls_fingerprints(
    rows: list[dict[str, object]],
) -> None:
    """Browsers reach HTTP/1.1-only edges (Botwarden's own) in about half of their
    sessions, and some sessions are seen without a TLS fingerprint; what a client offers
    (ALPN in its JA4) never follows what the server negotiated."""
    from botwarden.simulate.events import context_from_event

    browsers = [r for r in rows if str(r["client"]).startswith(("chrome/", "firefox/", "safari/"))]
    by_version: dict[object, set[object]] = {}
    for r in browsers:
        by_version.setdefault(r["http_version"], set()).add(r["session_id"])
    assert by_version.keys() == {"1.1", "2"}
    h1, h2 = len(by_version["1.1"]), len(by_version["2"])
    assert 0.3 < h1 / (h1 + h2) < 0.7
    assert any(not r["ja4"] for r in browsers)
    assert any(r["ja4"] for r in browsers)
    offered_h2_spoke_h1 = 0
    for r in browsers[:3000]:
        ctx = context_from_event(r)
        offered_h2_spoke_h1 += str(r["ja4"])[8:10] == "h2" and r["http_version"] == "1.1"
        if str(r["ja4"])[8:10] == "h2":  # offered h2 (not the TLS of an inspecting proxy)
            assert ctx.tls is not None
            assert ctx.tls.alpn[0] == "h2"
        if r["http_version"] == "1.1":
            assert [n for n, _ in ctx.headers][:1] == ["Host"]
    assert offered_h2_spoke_h1 > 100
