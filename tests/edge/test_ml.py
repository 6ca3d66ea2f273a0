"""The machine-learning engine in the edge: events carry the model version and the vector
it scored, response statuses reach the per-client windows, registry changes are picked
up while serving, shadow scores are exported, and Redis shares the windows across edges."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botwarden.edge.config import MemoryConfigSource
from botwarden.edge.events import pack, unpack
from botwarden.ml.features import FEATURE_NAMES
from botwarden.ml.registry import Registry, base_model_dir
from botwarden.result import ScoreSource
from botwarden.testing.samples import CHROME_UA
from tests.conftest import redis_state
from tests.edge.harness import ZONE_ID, EchoOrigin, Edge, Recorded, zone

BROWSER = {
    "User-Agent": CHROME_UA,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}
ERROR_RATIO = FEATURE_NAMES.index("c_error_ratio")
LIFE_REQUESTS = FEATURE_NAMES.index("c_life_requests")


@pytest.fixture(scope="module")
def origin() -> Iterator[EchoOrigin]:
    with EchoOrigin() as o:
        yield o


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "models")  # v1: the packaged base model
    reg.add(base_model_dir(), description="same weights, a second version")  # v2
    return reg


def get(edge: Edge, path: str = "/") -> Recorded:
    """One request without cookies (one client: 127.0.0.1, no TLS) and its event."""
    after = len(edge.events.events)
    httpx.get(edge.url + path, headers=BROWSER, timeout=10)
    return edge.events.last(path, after=after)


def test_events_carry_the_model_version_and_the_vector_it_scored(
    origin: EchoOrigin, registry: Registry
) -> None:
    with Edge(origin.url, registry=registry) as edge:
        e = get(edge, "/page")
    assert e.bm.score_src == ScoreSource.MACHINE_LEARNING
    assert 2 <= e.bm.score <= 99
    assert e.bm.model_version == "v1"
    features = e.outcome["features"]
    assert len(features) == len(FEATURE_NAMES)
    assert features[LIFE_REQUESTS] == 1.0
    assert features[FEATURE_NAMES.index("ua_browser_like")] > 0


def test_a_request_heuristics_decide_has_no_model_vector(origin: EchoOrigin) -> None:
    with Edge(origin.url) as edge:
        after = len(edge.events.events)
        httpx.get(edge.url + "/x", headers={"User-Agent": "python-requests/2.32"}, timeout=10)
        e = edge.events.last("/x", after=after)
    assert e.bm.score_src == ScoreSource.HEURISTICS
    assert e.bm.model_version is None
    assert e.outcome["features"] == ()


def test_the_packed_event_keeps_the_vector(origin: EchoOrigin) -> None:
    with Edge(origin.url) as edge:
        e = get(edge)
    vector = list(e.outcome["features"])
    _, bm, outcome = unpack(pack(e.ctx, e.bm, dict(e.outcome)))
    assert outcome["features"] == pytest.approx(vector, rel=1e-6)
    assert bm.model_version == e.bm.model_version


def test_origin_and_edge_statuses_feed_the_error_ratio(origin: EchoOrigin) -> None:
    block = {"id": "b", "expression": 'http.request.uri.path eq "/denied"', "action": "block"}
    with Edge(origin.url, source=MemoryConfigSource([zone([block])])) as edge:
        assert get(edge, "/").outcome["features"][ERROR_RATIO] == -1.0  # no response yet
        for _ in range(3):  # the origin's 404s, seen when its response starts
            assert get(edge, "/status/404").outcome["status"] == 404
        e = get(edge, "/")
        assert e.outcome["features"][ERROR_RATIO] == pytest.approx(3 / 4)
        assert get(edge, "/denied").outcome["status"] == 403  # the edge's own answer
        e = get(edge, "/")
        assert e.outcome["features"][ERROR_RATIO] == pytest.approx(4 / 6)
        assert edge.app.observe_errors == 0


def test_a_pin_reaches_the_running_edge_within_two_seconds(
    origin: EchoOrigin, registry: Registry
) -> None:
    with Edge(origin.url, registry=registry) as edge:
        assert get(edge).bm.model_version == "v1"
        Registry(registry.root).pin(ZONE_ID, "v2")  # as `botwarden model pin` would
        t0 = time.monotonic()
        while (version := get(edge).bm.model_version) != "v2":
            assert time.monotonic() - t0 < 3.0, f"still {version}"
            time.sleep(0.1)
        # promotion of another version, and back to following the active model
        reg = Registry(registry.root)
        reg.pin(ZONE_ID, None)
        t0 = time.monotonic()
        while (version := get(edge).bm.model_version) != "v1":
            assert time.monotonic() - t0 < 3.0, f"still {version}"
            time.sleep(0.1)
        reg.promote("v2")
        t0 = time.monotonic()
        while (version := get(edge).bm.model_version) != "v2":
            assert time.monotonic() - t0 < 3.0, f"still {version}"
            time.sleep(0.1)


def test_shadow_scores_are_exported_as_metrics(origin: EchoOrigin, registry: Registry) -> None:
    registry.set_shadow("v2")
    with Edge(origin.url, registry=registry, metrics=True) as edge:
        for _ in range(3):
            assert get(edge).bm.model_version == "v1"
        assert edge.metrics is not None
        text = edge.metrics.exposition().decode()
    found = re.search(r'botwarden_ml_shadow_requests_total\{active="v1",shadow="v2"\} (\S+)', text)
    assert found is not None
    assert float(found.group(1)) >= 3  # and the edge's warm-up request at start
    assert 'botwarden_ml_shadow_abs_score_diff_total{active="v1",shadow="v2"} 0.0' in text
    assert "botwarden_ml_shadow_automated_total" in text


@pytest.mark.service
def test_edges_sharing_redis_share_the_model_windows(origin: EchoOrigin) -> None:
    a, b = redis_state(), redis_state()
    b.prefix = a.prefix
    try:
        with Edge(origin.url, state=a) as one, Edge(origin.url, state=b) as two:
            for _ in range(3):
                get(one)
            e = get(two)
            assert e.outcome["features"][LIFE_REQUESTS] == 4.0
            with Edge(origin.url) as alone:  # in-process windows: its own count
                assert get(alone).outcome["features"][LIFE_REQUESTS] == 1.0
    finally:
        for s in (a, b):
            s.close()
