from __future__ import annotations

import logging

import pytest

from botwarden.engines.base import Verdict
from botwarden.request import RequestContext
from botwarden.result import Grouping, ScoreSource, grouping_for
from botwarden.scoring import Pipeline
from botwarden.state.base import StateStore


class Fixed:
    def __init__(self, name: str, verdict: Verdict | None) -> None:
        self.name = name
        self.verdict = verdict
        self.calls = 0

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        self.calls += 1
        return self.verdict


class Broken:
    name = "broken"

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        raise RuntimeError("boom")


CTX = RequestContext(client_ip="203.0.113.7", path="/a.css")


def test_nothing_decides_means_not_computed() -> None:
    bm = Pipeline([Fixed("a", None)]).score(CTX)
    assert bm.score == 0
    assert bm.score_src == ScoreSource.NOT_COMPUTED
    assert bm.grouping == Grouping.NOT_COMPUTED
    assert bm.static_resource is True
    assert set(bm.timings_us) == {"a"}


def test_final_verdict_stops_the_pipeline() -> None:
    first = Fixed("h", Verdict(1, ScoreSource.HEURISTICS, final=True, detection_ids=(1001,)))
    later = Fixed("ml", Verdict(80, ScoreSource.MACHINE_LEARNING))
    bm = Pipeline([first, later]).score(CTX)
    assert (bm.score, bm.score_src, bm.detection_ids) == (1, ScoreSource.HEURISTICS, [1001])
    assert later.calls == 0
    assert bm.grouping == Grouping.AUTOMATED


def test_non_final_opinions_keep_going_and_first_score_wins() -> None:
    note = Fixed("jsd", Verdict(detection_ids=(7,)))
    ml = Fixed("ml", Verdict(55, ScoreSource.MACHINE_LEARNING))
    bm = Pipeline([note, ml]).score(CTX)
    assert (bm.score, bm.score_src, bm.detection_ids) == (55, ScoreSource.MACHINE_LEARNING, [7])
    assert bm.grouping == Grouping.LIKELY_HUMAN


def test_verified_bot_fields() -> None:
    v = Verdict(1, ScoreSource.VERIFIED_BOT, True, (), "Googlebot", "Search Engine Crawler")
    bm = Pipeline([Fixed("verified_bot", v)]).score(CTX)
    assert bm.verified_bot
    assert bm.verified_bot_category == "Search Engine Crawler"
    assert bm.grouping == Grouping.VERIFIED_BOT
    assert bm.to_dict()["grouping"] == "verified_bot"


def test_a_failing_engine_is_logged_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline([Broken(), Fixed("ml", Verdict(40, ScoreSource.MACHINE_LEARNING))])
    with caplog.at_level(logging.ERROR):
        bm = pipeline.score(CTX)
    assert bm.score == 40
    assert pipeline.errors["broken"] == 1
    assert "engine broken failed" in caplog.text


@pytest.mark.parametrize(
    ("score", "grouping"),
    [
        (0, Grouping.NOT_COMPUTED),
        (1, Grouping.AUTOMATED),
        (2, Grouping.LIKELY_AUTOMATED),
        (29, Grouping.LIKELY_AUTOMATED),
        (30, Grouping.LIKELY_HUMAN),
        (99, Grouping.LIKELY_HUMAN),
    ],
)
def test_groupings_follow_cloudflare(score: int, grouping: Grouping) -> None:
    assert grouping_for(score) == grouping
