from __future__ import annotations

import pytest

from botwarden.bots import BotDirectory, packaged_path
from botwarden.engines.base import Engine, Verdict
from botwarden.engines.verified import VerifiedBotEngine
from botwarden.request import RequestContext
from botwarden.result import Grouping, ScoreSource
from botwarden.scoring import Pipeline
from botwarden.testing.fake_resolver import FakeResolver

DIRECTORY = BotDirectory.from_file(packaged_path())
ENGINE = VerifiedBotEngine(DIRECTORY)

GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
BINGBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
)
YANDEX_UA = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def ctx(ua: str | None, ip: str) -> RequestContext:
    headers = (("Host", "example.com"),) + ((("User-Agent", ua),) if ua is not None else ())
    return RequestContext(client_ip=ip, host="example.com", headers=headers)


def test_is_an_engine() -> None:
    engine: Engine = ENGINE
    assert engine.name == "verified_bot"


@pytest.mark.parametrize(
    ("ua", "ip", "name", "category"),
    [
        (GOOGLEBOT_UA, "66.249.66.1", "Googlebot", "Search Engine Crawler"),
        (GOOGLEBOT_UA, "2001:4860:4801:10::1", "Googlebot", "Search Engine Crawler"),
        ("Googlebot-Image/1.0", "66.249.66.1", "Googlebot-Image", "Search Engine Crawler"),
        (GPTBOT_UA, "132.196.86.10", "GPTBot", "AI Crawler"),
        (BINGBOT_UA, "13.66.139.1", "bingbot", "Search Engine Crawler"),
        ("AdsBot-Google (+http://www.google.com/adsbot.html)", "66.249.66.1", "AdsBot-Google",
         "Advertising & Marketing"),
    ],
)  # fmt: skip
def test_verified_bot_is_final(ua: str, ip: str, name: str, category: str) -> None:
    verdict = ENGINE.evaluate(ctx(ua, ip), None)
    assert verdict == Verdict(
        score=1,
        source=ScoreSource.VERIFIED_BOT,
        final=True,
        verified_bot_name=name,
        verified_bot_category=category,
    )


@pytest.mark.parametrize(
    ("ua", "ip"),
    [
        (GOOGLEBOT_UA, "203.0.113.7"),  # forged: reported by the heuristics engine, not here
        (GPTBOT_UA, "66.249.66.1"),  # Google's address, OpenAI's name
        (CHROME_UA, "66.249.66.1"),  # a browser from Google's range claims nothing
        ("", "66.249.66.1"),
        (None, "66.249.66.1"),
        ("Mozilla/5.0 (compatible; ClaudeBot/1.0)", "66.249.66.1"),  # nothing published
        (YANDEX_UA, "5.255.253.1"),  # reverse DNS only, and no resolver
        (GOOGLEBOT_UA, "not-an-ip"),
    ],
)
def test_no_opinion(ua: str | None, ip: str) -> None:
    assert ENGINE.evaluate(ctx(ua, ip), None) is None


def test_reverse_dns_bot_with_a_resolver() -> None:
    ip, host = "5.255.253.1", "5-255-253-1.spider.yandex.com"
    resolver = FakeResolver({ip: [host + "."], host: [ip], "5.255.253.2": ["evil.example"]})
    engine = VerifiedBotEngine(BotDirectory(DIRECTORY.bots, resolver))
    verdict = engine.evaluate(ctx(YANDEX_UA, ip), None)
    assert verdict is not None
    assert verdict.verified_bot_name == "YandexBot"
    assert engine.evaluate(ctx(YANDEX_UA, "5.255.253.2"), None) is None


def test_verdicts_are_shared_between_requests() -> None:
    a = ENGINE.evaluate(ctx(GOOGLEBOT_UA, "66.249.66.1"), None)
    b = ENGINE.evaluate(ctx(GOOGLEBOT_UA, "66.249.66.2"), None)
    assert a is not None
    assert a is b


def test_in_the_pipeline() -> None:
    result = Pipeline([ENGINE]).score(ctx(GOOGLEBOT_UA, "66.249.66.1"))
    assert result.verified_bot is True
    assert result.score == 1
    assert result.score_src is ScoreSource.VERIFIED_BOT
    assert result.verified_bot_name == "Googlebot"
    assert result.verified_bot_category == "Search Engine Crawler"
    assert result.grouping is Grouping.VERIFIED_BOT
    forged = Pipeline([ENGINE]).score(ctx(GOOGLEBOT_UA, "203.0.113.7"))
    assert forged.verified_bot is False
    assert forged.score_src is ScoreSource.NOT_COMPUTED


def test_default_directory() -> None:
    engine = VerifiedBotEngine()
    assert engine.directory.get("googlebot") is not None
