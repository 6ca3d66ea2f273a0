"""The DuckDB backend's storage layout: each insert is stored with the rows of a zone
together, in arrival order within the zone, without changing what is stored or how often."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from botwarden.analytics import queries as Q
from botwarden.analytics.duckdb import DuckDBBackend, zone_ordered
from botwarden.analytics.events import Event
from botwarden.analytics.filters import compile_filter
from botwarden.analytics.queries import Window

from .helpers import T0, batch, ev
from .test_queries import HOUR, dataset

ZONES = ("shop.example", "api.example", "blog.example")


def interleaved(n: int, first: int = 0) -> list[Event]:
    return [
        ev(i, zone=ZONES[i % 3 if i % 5 else 0], ts=1_767_225_600.0 + i) for i in range(first, n)
    ]


def stored(backend: DuckDBBackend) -> list[tuple[str, int]]:
    """(zone, seq) in storage order."""
    return [
        (str(z), int(s))
        for z, s in backend.query("SELECT zone, seq FROM events ORDER BY rowid", [])
    ]


def test_zone_ordered_groups_zones_and_keeps_arrival_order_within_each() -> None:
    b = batch(interleaved(50))
    out = zone_ordered(b)
    assert out.num_rows == b.num_rows
    zones = out.column("zone").to_pylist()
    runs = [z for k, z in enumerate(zones) if k == 0 or zones[k - 1] != z]
    assert sorted(runs) == sorted(set(zones)), "each zone is one run"
    for zone in set(zones):
        seqs = [s for z, s in zip(zones, out.column("seq").to_pylist(), strict=True) if z == zone]
        assert seqs == sorted(seqs)
    assert sorted(out.column("seq").to_pylist()) == b.column("seq").to_pylist()
    one_zone = batch([ev(i) for i in range(10)])
    assert zone_ordered(one_zone) is one_zone


def test_an_insert_is_stored_zone_by_zone_exactly_once(tmp_path: Path) -> None:
    backend = DuckDBBackend(str(tmp_path / "a.duckdb"))
    backend.ensure_schema()
    assert backend.insert(batch(interleaved(40)), spool_id="s", last_seq=40) == 40
    # A replay that overlaps the watermark adds only the new rows, zone by zone too.
    assert backend.insert(batch(interleaved(60, 30), first_seq=31), spool_id="s", last_seq=60) == 20
    rows = stored(backend)
    assert sorted(s for _, s in rows) == list(range(1, 61))
    for part in (rows[:40], rows[40:]):
        zones = [z for z, _ in part]
        runs = [z for k, z in enumerate(zones) if k == 0 or zones[k - 1] != z]
        assert len(runs) == len(set(zones))
        for zone in set(zones):
            seqs = [s for z, s in part if z == zone]
            assert seqs == sorted(seqs)
    backend.close()


def test_the_layout_changes_no_answer(tmp_path: Path) -> None:
    """The same events, stored zone by zone or in arrival order, give the same figures."""
    events = dataset()
    sorted_ = DuckDBBackend(str(tmp_path / "sorted.duckdb"))
    sorted_.ensure_schema()
    sorted_.insert(batch(events), spool_id="t", last_seq=len(events))
    arrival = DuckDBBackend(str(tmp_path / "arrival.duckdb"))
    arrival.ensure_schema()
    for k, e in enumerate(events):  # one row per insert: nothing to reorder
        arrival.insert(batch([e], first_seq=k + 1), spool_id="t", last_seq=k + 1)
    assert stored(sorted_) != stored(arrival)
    every_zone = Window(None, HOUR.since, HOUR.until)
    flt = "cf.bot_management.score lt 30"
    for w in (HOUR, every_zone):
        assert Q.totals(sorted_, w, flt) == Q.totals(arrival, w, flt)
        assert Q.histogram(sorted_, w) == Q.histogram(arrival, w)
        assert Q.timeseries(sorted_, w, flt) == Q.timeseries(arrival, w, flt)
        assert Q.top(sorted_, w, "ip") == Q.top(arrival, w, "ip")
        assert Q.sample(sorted_, w, limit=5) == Q.sample(arrival, w, limit=5)
    sorted_.close()
    arrival.close()


# -- filters answered from the path dictionary ----------------------------------------

TRICKY_PATHS = (
    "",
    "/",
    "/login",
    "/LOGIN",
    "/Login/ü",
    "/ü/login",
    "/café/über",
    "/日本/ログイン",
    "/100%_sure",
    "/a'b\"c",
    "/api/v1/login",
    "/static/app.js",
)

PATH_FILTERS = (
    'http.request.uri.path contains "/login"',
    'http.request.uri.path contains "login" or http.user_agent contains "python"',
    'http.user_agent contains "python" or lower(http.request.uri.path) contains "/login"',
    'not http.request.uri.path contains "/login" and cf.bot_management.score lt 50',
    'http.request.uri.path eq ""',
    'http.request.uri.path eq "/café/über" or http.request.uri.path eq "/日本/ログイン"',
    'http.request.uri.path matches "(?i)^/login$" xor http.user_agent contains "curl"',
    'http.request.uri.path wildcard "/100%_*"',
    'starts_with(http.request.uri.path, "/ü") or ip.geoip.asnum eq 64500',
    'len(http.request.uri.path) gt 6 and http.user_agent ne "x"',
    'http.request.uri.path contains "nowhere" or http.user_agent contains "curl"',
    'http.request.uri.path contains "/"',  # more matches than MAX_HASHES: the text predicate
    'http.request.uri.path in {"/a\'b\\"c" "/LOGIN"}',
)


def _path_store(tmp_path: Path) -> DuckDBBackend:
    agents = ("python-requests/2.31", "curl/8.5.0", "Mozilla/5.0", "")
    events = [
        ev(
            i,
            path=TRICKY_PATHS[i % len(TRICKY_PATHS)],
            user_agent=agents[i % len(agents)],
            score=1 + (i * 7) % 99,
            asn=64500 if i % 5 == 0 else 3320,
        )
        for i in range(300)
    ]
    backend = DuckDBBackend(str(tmp_path / "p.duckdb"))
    backend.ensure_schema()
    backend.insert(batch(events), spool_id="t", last_seq=len(events))
    return backend


def _answers(backend: DuckDBBackend, expression: str) -> list[object]:
    w = Window("shop.example", HOUR.since, HOUR.until)
    return [
        Q.totals(backend, w, expression),
        Q.feedback_summary(backend, w, expression, top_n=5),
        Q.top(backend, w, "path", expression),
        Q.sample(backend, w, expression, limit=400),
    ]


def test_a_path_filter_answered_from_the_dictionary_gives_the_same_rows(tmp_path: Path) -> None:
    backend = _path_store(tmp_path)
    dictionaries = dict(backend.dictionaries)
    assert set(dictionaries) == {"path"}
    for expression in PATH_FILTERS:
        flt = compile_filter(expression, "duckdb")
        assert flt is not None
        assert flt.with_dictionaries(dictionaries).lookups, expression  # the rewrite applies
        rewritten = _answers(backend, expression)
        backend.dictionaries = {}  # the plain SQL path: the text predicate on every row
        plain = _answers(backend, expression)
        backend.dictionaries = dictionaries
        assert rewritten == plain, expression
        assert rewritten[0]["total"] > 0, expression  # type: ignore[index]
    backend.close()


def test_the_rewrite_leaves_other_filters_alone(tmp_path: Path) -> None:
    backend = _path_store(tmp_path)
    for expression in (
        "cf.bot_management.score lt 30",
        'http.request.uri contains "/login"',  # path and query: not one column
        'http.request.uri.path contains "/login" and http.request.uri.query eq ""',
    ):
        flt = compile_filter(expression, "duckdb")
        assert flt is not None
        same = flt.with_dictionaries(backend.dictionaries)
        has_lookup = bool(same.lookups)
        assert has_lookup == ("and http.request.uri.query" in expression), expression
    chdb_flt = compile_filter('http.request.uri.path contains "/login"', "clickhouse")
    assert chdb_flt is not None
    assert chdb_flt.with_dictionaries(backend.dictionaries) is chdb_flt
    backend.close()


def test_the_dictionary_follows_inserts_expiry_and_an_older_store(tmp_path: Path) -> None:
    path = str(tmp_path / "d.duckdb")
    backend = DuckDBBackend(path, retention_days=1)
    backend.ensure_schema()
    old = [ev(i, ts=T0 + i, path=f"/old/{i % 3}") for i in range(6)]
    backend.insert(batch(old), spool_id="t", last_seq=6)
    now = datetime(2026, 1, 3)
    new = [ev(i, ts=now.timestamp() - 60, path=f"/new/{i % 2}") for i in range(6, 10)]
    backend.insert(batch(new, first_seq=7), spool_id="t", last_seq=10)

    def words() -> set[str]:
        return {str(r[0]) for r in backend.query("SELECT path FROM bw_dict_path", [])}

    assert words() == {"/old/0", "/old/1", "/old/2", "/new/0", "/new/1"}
    backend.expire(now=now)
    assert words() == {"/new/0", "/new/1"}
    # A store made before the dictionary existed gets it from its rows.
    backend.query("DROP TABLE bw_dict_path", [])
    backend.close()
    reopened = DuckDBBackend(path)
    assert reopened.dictionaries == {}
    reopened.ensure_schema()
    assert set(reopened.dictionaries) == {"path"}
    backend = reopened
    assert words() == {"/new/0", "/new/1"}
    w = Window(None, now - timedelta(hours=1), now)
    assert Q.totals(reopened, w, 'http.request.uri.path eq "/new/1"')["total"] == 2
    reopened.close()


def test_top_values_get_their_text_past_the_first_rows_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text of hashed winners: one scan of the first rows of any of them, then one
    scan per key still missing; from the dictionary for the path."""
    backend = _path_store(tmp_path)
    w = Window("shop.example", HOUR.since, HOUR.until)
    ips = Q.top(backend, w, "ip", limit=8)
    paths = Q.top(backend, w, "path", limit=8)
    assert len(ips) == 8
    assert {p for p, _ in paths} <= set(TRICKY_PATHS)
    monkeypatch.setattr(Q, "_RESOLVE_ROWS", 1)  # the first scan finds one key only
    backend.dictionaries = {}  # the path's text from the rows, too
    assert Q.top(backend, w, "ip", limit=8) == ips
    assert Q.top(backend, w, "path", limit=8) == paths
    backend.close()
