from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from botwarden.engines.ml import BASE, MLEngine, Scored, ml_engines
from botwarden.engines.verified import VerifiedBotEngine
from botwarden.ml.features import FEATURE_NAMES
from botwarden.ml.model import Model
from botwarden.ml.registry import Registry, base_model_dir
from botwarden.request import RequestContext, TLSInput
from botwarden.result import ScoreSource
from botwarden.scoring import Pipeline

CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36"
CHROME_JA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
T0 = 1_767_600_000.0


def browser(
    t: float = T0, path: str = "/", ip: str = "73.12.34.56", zone: str | None = None
) -> RequestContext:
    return RequestContext(
        client_ip=ip,
        host="shop.example",
        path=path,
        http_version="2",
        zone=zone,
        timestamp=t,
        tls=TLSInput(ja4=CHROME_JA4, alpn=("h2",)),
        headers=(
            ("sec-ch-ua", '"Google Chrome";v="147", "Not.A/Brand";v="8", "Chromium";v="147"'),
            ("sec-ch-ua-mobile", "?0"),
            ("sec-ch-ua-platform", '"Windows"'),
            ("upgrade-insecure-requests", "1"),
            ("user-agent", CHROME_UA),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            ),
            ("sec-fetch-site", "none"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-user", "?1"),
            ("sec-fetch-dest", "document"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("accept-language", "en-US,en;q=0.9"),
            ("priority", "u=0, i"),
        ),
    )


def script(t: float, path: str = "/login") -> RequestContext:
    return RequestContext(
        client_ip="52.20.1.2",
        host="shop.example",
        method="POST",
        path=path,
        timestamp=t,
        tls=TLSInput(ja4="t13d1812h1_85036bcba153_b26ce05bbdd6"),
        headers=(
            ("Host", "shop.example"),
            ("User-Agent", "python-requests/2.32.3"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept", "*/*"),
            ("Connection", "keep-alive"),
        ),
    )


def test_base_model_ships_small_and_loads_fast() -> None:
    d = base_model_dir()
    size = sum(f.stat().st_size for f in d.iterdir())
    assert size < 5 << 20
    t0 = time.perf_counter()
    MLEngine()
    assert time.perf_counter() - t0 < 3.0


def test_scores_a_browser_as_human_and_a_script_as_automated() -> None:
    engine = MLEngine()
    v = engine.evaluate(browser(), None)
    assert v is not None
    assert v.source == ScoreSource.MACHINE_LEARNING
    assert not v.final
    assert 30 <= (v.score or 0) <= 99
    assert engine.last is not None
    assert engine.last.version == BASE
    scores = [engine.evaluate(script(T0 + i * 0.5), None) for i in range(30)]
    assert all(s is not None and 2 <= (s.score or 0) < 30 for s in scores)


def test_in_the_pipeline_the_observer_counts_every_request() -> None:
    observer, engine = ml_engines()
    pipeline = Pipeline([observer, VerifiedBotEngine(), engine])
    r = pipeline.score(browser())
    assert r.score_src == ScoreSource.MACHINE_LEARNING
    assert r.score >= 30
    assert set(r.timings_us) == {"machine_learning_observer", "verified_bot", "machine_learning"}
    # the engine reused the observer's vector: the client was counted once
    assert engine.last is not None
    assert engine.last.features[FEATURE_NAMES.index("c_life_requests")] == 1.0


def test_error_ratio_follows_observed_responses() -> None:
    engine = MLEngine()
    i = FEATURE_NAMES.index("c_error_ratio")
    for k in range(5):
        ctx = script(T0 + k)
        engine.evaluate(ctx, None)
        engine.observe_response(ctx, 401)
    engine.evaluate(script(T0 + 6), None)
    assert engine.last is not None
    assert engine.last.features[i] == 1.0


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "models")
    reg.add(base_model_dir(), description="same weights, a second version")
    return reg


def test_zones_get_their_version_and_changes_are_picked_up(registry: Registry) -> None:
    engine = MLEngine(registry, reload_every=0.0)
    engine.evaluate(browser(zone="a.example"), None)
    assert engine.last is not None
    assert engine.last.version == "v1"
    other = Registry(registry.root)  # as `botwarden model pin` would, in another process
    other.pin("a.example", "v2")
    time.sleep(0.01)
    engine.evaluate(browser(zone="a.example"), None)
    assert engine.wait_loads(timeout=30)
    engine.evaluate(browser(zone="a.example"), None)
    assert engine.last.version == "v2"
    engine.evaluate(browser(zone="b.example"), None)
    assert engine.last.version == "v1"


def test_without_background_loads_a_change_applies_at_the_next_request(
    registry: Registry,
) -> None:
    engine = MLEngine(registry, reload_every=0.0, background=False)
    engine.evaluate(browser(zone="a.example"), None)
    Registry(registry.root).pin("a.example", "v2")
    time.sleep(0.01)
    engine.evaluate(browser(zone="a.example"), None)
    assert engine.last is not None
    assert engine.last.version == "v2"


def test_a_promotion_loads_in_the_background_while_the_old_model_scores(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MLEngine(registry, reload_every=0.0)
    main = threading.get_ident()
    loaded_on: list[int] = []
    real_init = Model.__init__

    def recording_init(self: Model, directory: Path, **kw: int) -> None:
        if Path(directory).parent == registry.root:  # not another test's engine
            loaded_on.append(threading.get_ident())
        real_init(self, directory, **kw)

    engine.evaluate(browser(zone="a.example"), None)
    assert engine.last is not None
    assert engine.last.version == "v1"
    Registry(registry.root).promote("v2")  # as `botwarden model promote` would
    time.sleep(0.01)
    monkeypatch.setattr(Model, "__init__", recording_init)  # records, then loads for real
    v = engine.evaluate(browser(zone="a.example"), None)
    # The request did not wait for v2: the model it had scored it.
    assert v is not None
    assert v.model_version == "v1"
    assert engine.last.version == "v1"
    assert engine.wait_loads(timeout=30)
    # v2 was loaded once, on another thread than the one scoring.
    assert len(loaded_on) == 1
    assert loaded_on[0] != main
    engine.evaluate(browser(zone="a.example"), None)
    assert engine.last.version == "v2"
    engine.evaluate(browser(zone="b.example"), None)
    assert engine.last.version == "v2"


def test_a_broken_new_version_keeps_scoring_then_falls_back_to_the_base_model(
    registry: Registry,
) -> None:
    engine = MLEngine(registry, reload_every=0.0)
    engine.evaluate(browser(zone="a.example"), None)
    (registry.root / "v2" / "model.onnx").write_bytes(b"not a model")
    Registry(registry.root).pin("a.example", "v2")
    time.sleep(0.01)
    v = engine.evaluate(browser(zone="a.example"), None)
    assert v is not None
    assert engine.last is not None
    assert engine.last.version == "v1"
    assert engine.wait_loads(timeout=30)
    v = engine.evaluate(browser(zone="a.example"), None)
    assert v is not None
    assert engine.last.version == "base"
    engine.evaluate(browser(zone="b.example"), None)
    assert engine.last.version == "v1"


def test_a_new_shadow_starts_scoring_once_loaded(registry: Registry) -> None:
    seen: list[Scored] = []
    engine = MLEngine(registry, reload_every=0.0, on_shadow=seen.append)
    engine.evaluate(browser(), None)
    Registry(registry.root).set_shadow("v2")
    time.sleep(0.01)
    engine.evaluate(browser(), None)
    assert seen == []
    assert engine.wait_loads(timeout=30)
    engine.evaluate(browser(), None)
    assert [s.shadow_version for s in seen] == ["v2"]


def test_shadow_scores_are_recorded(registry: Registry) -> None:
    registry.set_shadow("v2")
    seen: list[Scored] = []
    engine = MLEngine(registry, on_shadow=seen.append)
    engine.evaluate(browser(), None)
    engine.evaluate(script(T0), None)
    assert [s.shadow_version for s in seen] == ["v2", "v2"]
    assert all(s.shadow_score == s.score for s in seen)  # same weights
    stats = engine.shadow_stats[("v1", "v2")].to_dict()
    assert stats["requests"] == 2
    assert stats["mean_abs_score_diff"] == 0.0


def test_a_broken_version_falls_back_to_the_base_model(registry: Registry) -> None:
    registry.pin("a.example", "v2")
    (registry.root / "v2" / "model.onnx").write_bytes(b"not a model")
    engine = MLEngine(registry)
    v = engine.evaluate(browser(zone="a.example"), None)
    assert v is not None
    assert engine.last is not None
    assert engine.last.version == "base"


def test_a_broken_new_shadow_is_dropped_once_its_load_failed(registry: Registry) -> None:
    seen: list[Scored] = []
    registry.add(base_model_dir(), description="a third version")
    registry.set_shadow("v2")
    engine = MLEngine(registry, reload_every=0.0, on_shadow=seen.append)
    engine.evaluate(browser(), None)
    assert [s.shadow_version for s in seen] == ["v2"]
    (registry.root / "v3" / "model.onnx").write_bytes(b"not a model")
    Registry(registry.root).set_shadow("v3")
    time.sleep(0.01)
    engine.evaluate(browser(), None)  # v2 still shadows (it is labelled v2) while v3 loads
    assert [s.shadow_version for s in seen] == ["v2", "v2"]
    assert engine.wait_loads(timeout=30)
    engine.evaluate(browser(), None)
    assert len(seen) == 2
    assert engine.last is not None
    assert engine.last.shadow_version is None
