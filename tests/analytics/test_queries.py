"""The dashboard and feedback queries, on every backend, against hand-counted answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from botwarden.analytics import queries as Q
from botwarden.analytics.base import Backend
from botwarden.analytics.events import Event
from botwarden.analytics.filters import compile_filter
from botwarden.analytics.queries import Window
from botwarden.rules import RuleSyntaxError

from .helpers import T0, batch, ev

START = datetime(2026, 1, 1)
HOUR = Window("shop.example", START, START + timedelta(hours=1))


def dataset() -> list[Event]:
    out: list[Event] = []

    def add(n: int, minute: int, **kw: object) -> None:
        for _ in range(n):
            i = len(out)
            out.append(ev(i, ts=T0 + minute * 60 + i, **kw))

    curl = {"user_agent": "curl/8.5.0", "client_ip": "10.0.0.1", "asn": 64500, "ja4": "t13d_curl"}
    add(3, 0, score=1, score_src="Heuristics", path="/login", detection_ids=(5,), **curl)
    py = {"user_agent": "python-requests/2.31", "client_ip": "10.0.0.2", "asn": 64500}
    add(2, 5, score=10, score_src="Machine Learning", ja3_hash="aaa", **py)
    add(2, 5, score=20, score_src="Machine Learning", ja3_hash="aaa", **py)
    for k in range(5):
        add(
            1,
            10,
            score=80,
            client_ip=f"192.0.2.{k + 10}",
            asn=3320,
            country="DE",
            ja4="t13d_chrome",
        )
    google = {"user_agent": "Googlebot/2.1", "verified_bot_category": "Search Engine Crawler"}
    add(2, 20, score=1, score_src="Verified Bot", verified_bot=True, asn=15169, **google)
    add(1, 30, score=0, score_src="Not Computed", path="/cdn-cgi/x")
    add(2, 0, zone="other.example", score=1, score_src="Heuristics")
    add(1, 90, score=1, score_src="Heuristics")  # after the window
    return out


@pytest.fixture
def loaded(backend: Backend) -> Backend:
    events = dataset()
    backend.insert(batch(events), spool_id="test", last_seq=len(events))
    return backend


def test_totals_by_grouping(loaded: Backend) -> None:
    assert Q.totals(loaded, HOUR) == {
        "automated": 3,
        "likely_automated": 4,
        "likely_human": 5,
        "verified_bot": 2,
        "not_computed": 1,
        "total": 15,
    }
    every_zone = Window(None, HOUR.since, HOUR.until)
    assert Q.totals(loaded, every_zone)["automated"] == 5


def test_totals_with_a_filter(loaded: Backend) -> None:
    t = Q.totals(
        loaded, HOUR, "cf.bot_management.score lt 30 and not cf.bot_management.verified_bot"
    )
    assert (t["automated"], t["likely_automated"], t["not_computed"], t["total"]) == (3, 4, 1, 8)
    t = Q.totals(loaded, HOUR, 'ip.src in {10.0.0.0/8} and http.user_agent contains "python"')
    assert t["total"] == 4


def test_histogram(loaded: Backend) -> None:
    h = Q.histogram(loaded, HOUR)
    assert list(h) == list(range(1, 100))
    assert (h[1], h[10], h[20], h[80], h[50]) == (5, 2, 2, 5, 0)
    assert sum(h.values()) == 14  # the request without a score is not in the histogram


def test_by_score_source(loaded: Backend) -> None:
    s = Q.by_score_source(loaded, HOUR, "ip.src.asnum ne 3320")
    assert s["Heuristics"] == 3
    assert s["Machine Learning"] == 4
    assert s["Verified Bot"] == 2
    assert s["Not Computed"] == 1
    assert s["JS Fingerprinting"] == 0


def test_timeseries_adapts_its_interval(loaded: Backend) -> None:
    ts = Q.timeseries(loaded, HOUR)
    assert ts.interval == 60
    assert len(ts.points) == 60
    assert ts.points[0][0] == START
    assert ts.points[0][1]["automated"] == 3
    assert ts.points[5][1]["likely_automated"] == 4
    assert ts.points[20][1]["verified_bot"] == 2
    assert sum(sum(p.values()) for _, p in ts.points) == 15
    day = Window("shop.example", START, START + timedelta(days=1))
    assert Q.timeseries(loaded, day).interval == 900
    assert Q.choose_interval(Window(None, START, START + timedelta(days=30))) == 86400
    filtered = Q.timeseries(loaded, HOUR, "cf.bot_management.verified_bot", interval=600)
    assert [sum(p.values()) for _, p in filtered.points] == [0, 0, 2, 0, 0, 0]


def test_top_attributes(loaded: Backend) -> None:
    assert Q.top(loaded, HOUR, "user_agent", limit=2) == [
        ("Mozilla/5.0", 6),
        ("python-requests/2.31", 4),
    ]
    assert Q.top(loaded, HOUR, "ip", "cf.bot_management.score lt 30", limit=2) == [
        ("10.0.0.2", 4),
        ("10.0.0.1", 3),
    ]
    assert Q.top(loaded, HOUR, "asn", limit=3) == [(64500, 7), (3320, 5), (15169, 2)]
    assert Q.top(loaded, HOUR, "detection_id") == [(5, 3)]
    assert Q.top(loaded, HOUR, "verified_bot_category") == [("Search Engine Crawler", 2)]
    assert Q.top(loaded, HOUR, "ja4", limit=2) == [("", 7), ("t13d_chrome", 5)]
    assert Q.top(loaded, HOUR, "ja3", 'cf.bot_management.ja3_hash ne ""') == [("aaa", 4)]
    assert Q.top(loaded, HOUR, "path", limit=0) == []
    with pytest.raises(ValueError, match="unknown attribute"):
        Q.top(loaded, HOUR, "colour")


def test_sample_is_newest_first(loaded: Backend) -> None:
    rows = Q.sample(loaded, HOUR, "cf.bot_management.score eq 80", limit=2)
    assert [r["score"] for r in rows] == [80, 80]
    assert rows[0]["ts"] > rows[1]["ts"]
    assert rows[0]["country"] == "DE"
    assert set(rows[0]) == set(Q.SAMPLE_COLUMNS)


def test_feedback_summary_sums_agree(loaded: Backend) -> None:
    s = Q.feedback_summary(loaded, HOUR, "cf.bot_management.score le 46")
    assert s["requests"] == 9  # scored 1..46: 3 heuristics, 4 ML, 2 verified bots
    assert s["requests_by_score"] == {"1": 5, "10": 2, "20": 2}
    assert s["requests_by_score_src"] == {
        "heuristics": 3,
        "machine_learning": 4,
        "verified_bot": 2,
    }
    assert sum(s["requests_by_score"].values()) == s["requests"]
    assert sum(s["requests_by_score_src"].values()) == s["requests"]
    attrs = s["requests_by_attribute"]
    assert list(attrs) == [
        "topIPs",
        "topUserAgents",
        "topASNs",
        "topCountries",
        "topHosts",
        "topPaths",
        "topJA3Hashes",
        "topJA4s",
    ]
    assert attrs["topIPs"][0] == {"metric": "10.0.0.2", "requests": 4}
    assert attrs["topASNs"][0] == {"metric": "64500", "requests": 7}
    assert attrs["topHosts"] == [{"metric": "shop.example", "requests": 9}]
    for top in attrs.values():
        assert sum(item["requests"] for item in top) <= s["requests"]
    assert s["first_request_seen_at"] == "2026-01-01T00:00:00Z"
    assert s["last_request_seen_at"] == "2026-01-01T01:00:00Z"


def test_feedback_summary_leaves_out_unscored_requests(loaded: Backend) -> None:
    s = Q.feedback_summary(loaded, HOUR, 'http.request.uri.path eq "/cdn-cgi/x"')
    assert s["requests"] == 0
    assert s["requests_by_score"] == {}
    assert s["requests_by_attribute"]["topIPs"] == []


def test_a_bad_filter_points_at_the_fault(loaded: Backend) -> None:
    with pytest.raises(RuleSyntaxError) as exc:
        Q.totals(loaded, HOUR, "cf.bot_management.score lt")
    assert "^" in str(exc.value)
    with pytest.raises(RuleSyntaxError, match="not stored in analytics"):
        Q.totals(loaded, HOUR, 'http.cookie contains "x"')


def test_a_filter_compiled_for_another_dialect_is_refused(loaded: Backend) -> None:
    other = "clickhouse" if loaded.dialect == "duckdb" else "duckdb"
    flt = compile_filter("cf.bot_management.score lt 30", other)
    with pytest.raises(ValueError, match="cannot run"):
        Q.totals(loaded, HOUR, flt)


def test_windows_are_utc_and_ordered() -> None:
    aware = Window(
        "z",
        datetime(2026, 1, 1, 1, tzinfo=UTC) + timedelta(hours=1),
        datetime(2026, 1, 1, 3, tzinfo=UTC),
    )
    assert aware.since == datetime(2026, 1, 1, 2)
    with pytest.raises(ValueError, match="end after"):
        Window("z", START, START)
    last = Window.last("z", timedelta(hours=24), now=START)
    assert last.until - last.since == timedelta(hours=24)


def test_feedback_top_lists_match_the_top_query(loaded: Backend) -> None:
    expression = "cf.bot_management.score ge 1"  # every scored request
    s = Q.feedback_summary(loaded, HOUR, expression, top_n=3)
    for key, attribute in Q.FEEDBACK_ATTRIBUTES.items():
        want = [
            {"metric": str(v), "requests": c}
            for v, c in Q.top(loaded, HOUR, attribute, expression, limit=3)
        ]
        assert s["requests_by_attribute"][key] == want, key


def test_feedback_summary_counts_each_named_source_and_no_other(backend: Backend) -> None:
    # Every source the API names (the DuckDB filter splits them into short IN lists) and
    # scored requests from sources it does not name, which must stay out.
    named = ["Heuristics", "Machine Learning", "Behavioral Analysis", "JS Fingerprinting"]
    named.append("Verified Bot")
    events = [ev(i, score=10 + i, score_src=src) for i, src in enumerate(named)]
    events += [ev(10, score=50, score_src="Not Computed"), ev(11, score=50, score_src="")]
    backend.insert(batch(events), spool_id="test", last_seq=len(events))
    s = Q.feedback_summary(backend, HOUR, "cf.bot_management.score ge 1")
    assert s["requests"] == 5
    assert s["requests_by_score"] == {str(10 + i): 1 for i in range(5)}
    assert sorted(s["requests_by_score_src"].values()) == [1] * 5
    assert s["requests_by_attribute"]["topHosts"] == [{"metric": "shop.example", "requests": 5}]
