"""Scenario files: the shipped ones are valid and complete, a bad one reports every
problem at once with its path, and campaigns happen when and where they say."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.simulate.events import Generator
from botwarden.simulate.populations import SUBTYPES
from botwarden.simulate.scenario import (
    ScenarioError,
    load_scenario,
    parse_duration,
    parse_scenario,
    scenarios_dir,
)

SHIPPED = sorted(scenarios_dir().rglob("*.yaml"))


def test_scenarios_dir_is_the_repositorys() -> None:
    assert (scenarios_dir() / "default.yaml").is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(scenarios_dir())))
def test_shipped_scenarios_are_valid(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.name
    assert sc.phases[0].at == 0


def test_one_campaign_per_subtype_and_the_feedback_scenarios() -> None:
    campaigns = {load_scenario(p).campaigns[0].population
                 for p in (scenarios_dir() / "campaigns").glob("*.yaml")}  # fmt: skip
    assert campaigns == set(SUBTYPES)
    novel = load_scenario(scenarios_dir() / "feedback" / "novel_browser.yaml")
    assert "novel_browser" in {s.population for s in novel.phases[0].mix}
    stealth = load_scenario(scenarios_dir() / "feedback" / "stealth_scraping.yaml")
    (campaign,) = stealth.campaigns
    assert campaign.population == "scraping"
    assert campaign.levels == {4: 1.0}
    assert campaign.network == "residential"


def test_default_mix_covers_every_population() -> None:
    from botwarden.simulate.populations import populations

    default = load_scenario(scenarios_dir() / "default.yaml")
    assert {s.population for s in default.phases[0].mix} == set(populations())


BAD = """
name: 7
hours: -1
rps: fast
diurnal: 3
colour: blue
mix:
  chrome_desktp: 10
  googlebot: {share: 2, sophistication: 4}
  scraping: {share: 3, sophistication: {5: 1}}
phases:
  - mix: {edge: 1}
campaigns:
  - name: carding
    population: carding
    start: soon
    duration: 1h
    rps: 0
    ips: -3
    network: moon
  - population: login_abuse
"""


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    text = "\n".join(problems)
    expected = [
        "name: required",
        "hours: must be > 0",
        "rps: expected a number",
        "diurnal: must be >= 0.0 and <= 1.0",
        "colour: unknown key",
        "mix.chrome_desktp: unknown population 'chrome_desktp' (did you mean chrome_desktop?)",
        "mix.googlebot.sophistication: googlebot has no sophistication levels",
        "mix.scraping.sophistication.5: sophistication is 1, 2, 3 or 4",
        "phases[0].at: required",
        "campaigns[0].population: unknown population 'carding'",
        "campaigns[0].start: 'soon' is not a duration",
        "campaigns[0].rps: must be > 0",
        "campaigns[0].ips: expected a positive whole number",
        "campaigns[0].network: unknown network 'moon'",
        "campaigns[1].name: required",
        "campaigns[1].start: required",
    ]
    for e in expected:
        assert any(p.startswith(e) for p in problems), f"{e!r} not in:\n{text}"
    assert str(path) in str(info.value)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmix:\n  chrome_desktop: [1\n")
    with pytest.raises(ScenarioError, match="line 4"):
        load_scenario(path)


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("2h") == 7200
    assert parse_duration("1.5d") == 129600
    assert parse_duration(45) == 45
    for bad in ("2 weeks", "-1h", True, None, -3):
        with pytest.raises(ValueError, match=r"duration|negative"):
            parse_duration(bad)


def test_campaign_happens_in_its_window_from_its_ips() -> None:
    sc = parse_scenario({
        "name": "carding", "hours": 0.5, "rps": 20, "mix": {"chrome_desktop": 1},
        "campaigns": [{"name": "carding", "population": "credit_card_abuse", "start": "10m",
                       "duration": "10m", "rps": 15, "ips": 50, "network": "residential",
                       "sophistication": 4}],
    })  # fmt: skip
    table = pa.Table.from_batches(list(Generator(sc, seed=2).batches()))
    rows = [r for r in table.select(["ts", "campaign", "client_ip", "population"]).to_pylist()
            if r["campaign"] == "carding"]  # fmt: skip
    assert rows
    t0 = sc.start + 600
    assert all(t0 <= r["ts"].timestamp() < t0 + 600 + 60 for r in rows)
    assert len({r["client_ip"] for r in rows}) <= 50
    per_second = len(rows) / 600
    assert 10 < per_second < 20


def test_phases_change_the_mix() -> None:
    sc = parse_scenario({"name": "p", "hours": 0.2, "rps": 50, "mix": {"chrome_desktop": 1},
                         "phases": [{"at": "6m", "mix": {"safari_ios": 1}}]})  # fmt: skip
    table = pa.Table.from_batches(list(Generator(sc, seed=1).batches()))
    starts: dict[str, float] = {}
    for r in table.select(["ts", "population"]).to_pylist():
        starts.setdefault(r["population"], r["ts"].timestamp())
    assert starts["safari_ios"] >= sc.start + 360
    assert starts["chrome_desktop"] < sc.start + 60


def test_diurnal_swing_shapes_human_traffic() -> None:
    sc = parse_scenario({"name": "d", "hours": 24, "rps": 2, "diurnal": 0.8,
                         "mix": {"chrome_desktop": 1}})  # fmt: skip
    table = pa.Table.from_batches(list(Generator(sc, seed=4).batches()))
    hours = [r.hour for r in table.column("ts").to_pylist()]
    evening = sum(h in (19, 20, 21) for h in hours)
    morning = sum(h in (7, 8, 9) for h in hours)
    assert evening > 3 * morning
