"""JA4 signals: ratios, ranks and quantiles over the last hour, across zones."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from botwarden.analytics.base import Backend
from botwarden.analytics.signals import SIGNAL_NAMES, SignalStore, _quantile, _rank, compute_signals

from .helpers import T0, batch, ev

NOW = datetime(2026, 1, 1, 1, 0)  # T0 + 1 h
CHROME = "t13d1516h2_8daaf6152771_02713d6af862"
CURL = "t13d0000_curl"


@pytest.fixture
def loaded(backend: Backend) -> Backend:
    events = []
    for i in range(8):  # Chrome: 8 requests, 4 addresses, 2 agents, h2, half static
        events.append(
            ev(
                i,
                ts=T0 + 1800 + i,
                ja4=CHROME,
                client_ip=f"192.0.2.{i % 4}",
                user_agent=f"Mozilla/5.0 Chrome/{130 + i % 2}",
                http_version="2",
                path=f"/static/{i}.js" if i % 2 else f"/p/{i}",
                static_resource=bool(i % 2),
                zone="shop.example" if i < 4 else "api.example",
            )
        )
    for i in range(3):  # curl: 3 requests, 1 address, heuristics, HTTP/1.1
        events.append(
            ev(
                10 + i,
                ts=T0 + 3000 + i,
                ja4=CURL,
                client_ip="10.0.0.1",
                user_agent="curl/8.5.0",
                http_version="1.1",
                score=1,
                score_src="Heuristics",
                path="/login",
            )
        )
    events.append(
        ev(
            20,
            ts=T0 + 3599,
            ja4="t13d_googlebot",
            user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)",
        )
    )
    events.append(ev(21, ts=T0 - 10, ja4=CURL))  # older than an hour: not counted
    events.append(ev(22, ts=T0 + 100, ja4=""))  # no TLS: no signals
    backend.insert(batch(events), spool_id="test", last_seq=len(events))
    return backend


def test_signals_per_ja4(loaded: Backend) -> None:
    s = compute_signals(loaded, NOW)
    assert set(s) == {CHROME, CURL, "t13d_googlebot"}
    chrome, curl, google = s[CHROME], s[CURL], s["t13d_googlebot"]
    assert chrome.requests == 8  # across both zones
    assert chrome.h2h3_ratio_1h == 1.0
    assert chrome.browser_ratio_1h == 1.0
    assert chrome.cache_ratio_1h == 0.5
    assert chrome.heuristic_ratio_1h == 0.0
    assert (chrome.reqs_rank_1h, chrome.ips_rank_1h, chrome.uas_rank_1h, chrome.paths_rank_1h) == (
        1,
        1,
        1,
        1,
    )
    assert curl.requests == 3
    assert curl.heuristic_ratio_1h == 1.0
    assert curl.browser_ratio_1h == 0.0
    assert curl.h2h3_ratio_1h == 0.0
    assert curl.reqs_rank_1h == 2
    assert google.browser_ratio_1h == 0.0  # a crawler's "Mozilla/…" is not a browser
    assert (curl.ips_rank_1h, google.ips_rank_1h) == (2, 2)  # one address each: a tie
    assert chrome.reqs_quantile_1h == 1.0
    assert curl.reqs_quantile_1h == pytest.approx(2 / 3)
    assert google.ips_quantile_1h == pytest.approx(2 / 3)


def test_the_store_serves_vectors(loaded: Backend) -> None:
    store = SignalStore(loaded, clock=lambda: NOW)
    assert store.vector(CHROME)[0] != store.vector(CHROME)[0]  # NaN before the first refresh
    assert store.refresh() == 3
    v = store.vector(CHROME)
    assert len(v) == len(SIGNAL_NAMES)
    assert v[SIGNAL_NAMES.index("cache_ratio_1h")] == 0.5
    assert all(math.isnan(x) for x in store.vector("unknown"))
    assert store.vector("unknown", missing=-1.0) == (-1.0,) * len(SIGNAL_NAMES)
    assert store.get(CURL) is not None
    assert store.refreshed_at == NOW


def test_the_store_refreshes_in_the_background(loaded: Backend) -> None:
    store = SignalStore(loaded, interval=0.01, clock=lambda: NOW).start()
    try:
        for _ in range(500):
            if len(store):
                break
            import time

            time.sleep(0.01)
        assert len(store) == 3
    finally:
        store.close()


def test_an_empty_hour(backend: Backend) -> None:
    assert compute_signals(backend, NOW, timedelta(minutes=5)) == {}


def test_rank_and_quantile() -> None:
    import numpy as np

    assert _rank(np.array([5.0, 9.0, 5.0, 1.0])).tolist() == [2, 1, 2, 4]
    assert _quantile(np.array([5.0, 9.0, 5.0, 1.0])).tolist() == [0.75, 1.0, 0.75, 0.25]
