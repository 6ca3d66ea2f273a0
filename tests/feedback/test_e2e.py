"""The feedback loop end to end, both ways (the issue's two scenarios): simulated live
traffic scored by the real pipeline into DuckDB, a report filed through the real API (a
uvicorn server) with the report prefill's figures, accepted through the API's review
update, retrained, gated, promoted, and fresh traffic (another seed) scored again.

The starting model is the demo's (see `botwarden.feedback.demo`): trained on a small
corpus where the novel browsers were mislabelled and without stealth scrapers, because
the packaged base model already scores the novel browsers as human."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botwarden.feedback.demo import Session, World, build_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def session(world: World, tmp_path: Path) -> Iterator[Session]:
    with Session.open(tmp_path, world) as s:
        yield s


def test_false_positive_novel_browsers(session: Session) -> None:
    out = session.scenario("false_positive")
    assert out.before > 0.3, "the starting model should flag the novel browsers"
    assert out.gates["passed"], out.gates["failures"]
    assert out.after <= 0.05  # ≥ 95 % of the population now scores ≥ 30
    assert out.others_after <= out.others_before + 0.01  # the site's other people unharmed
    assert out.report_status == f"in model {out.version}"
    assert session.registry.active == out.version


@pytest.mark.xfail(
    run=False,
    strict=True,
    reason="issue 9 open: about one request in eight of the campaign (a real Chrome at a "
    "person's pace) is a person's page load to these features; the candidate fixes 87.1 % of "
    "the report's rows (gate: 95 %), 81.7 % of a fresh campaign; the best model trained for "
    "it reaches 85-88 % at 0.5-1 % of people flagged. See docs/feedback-loop.md, "
    "'Where it stands'",
)
def test_false_negative_stealth_scraping(session: Session) -> None:
    out = session.scenario("false_negative")
    assert out.before < 0.5, "the starting model should miss most of the campaign"
    assert out.gates["passed"], out.gates["failures"]
    assert out.after >= 0.95  # the campaign now scores < 30
    assert out.others_after <= out.others_before + 0.01  # the site's other people unharmed
    assert out.report_status == f"in model {out.version}"
