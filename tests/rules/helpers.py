"""Request builders for the rules tests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botwarden.geoip import GeoFacts, GeoIP
from botwarden.request import RequestContext, TLSInput
from botwarden.result import BotManagement, JSDetection, ScoreSource
from botwarden.rules import RuleInput, compile_rule
from botwarden.rules.lists import NamedList


class FakeGeo(GeoIP):
    """A GeoIP that answers the same facts for every address."""

    def __init__(self, facts: GeoFacts) -> None:
        self._readers = []
        self.lookup = lru_cache(maxsize=None)(lambda ip: facts)


def make_ctx(
    *,
    ip: str = "192.0.2.10",
    method: str = "GET",
    host: str = "example.com",
    path: str = "/",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    http_version: str = "1.1",
    scheme: str = "https",
    ts: float = 1_700_000_000.0,
    asn: int | None = None,
    country: str | None = None,
    continent: str | None = None,
    ja3_hash: str | None = None,
    ja4: str | None = None,
) -> RequestContext:
    geo = FakeGeo(GeoFacts(asn=asn, country=country, continent=continent))
    tls = TLSInput(ja3_hash=ja3_hash, ja4=ja4) if (ja3_hash or ja4) else None
    return RequestContext(
        client_ip=ip,
        method=method,
        host=host,
        path=path,
        query=query,
        scheme=scheme,
        http_version=http_version,
        headers=tuple(headers or ()),
        tls=tls,
        timestamp=ts,
        geoip=geo,
    )


def make_bm(**kw: Any) -> BotManagement:
    js = kw.pop("js_detection", JSDetection.MISSING)
    src = kw.pop("score_src", ScoreSource.MACHINE_LEARNING)
    return BotManagement(js_detection=js, score_src=src, **kw)


def make_input(
    bm: BotManagement | None = None,
    *,
    status: int | None = None,
    lists: dict[str, NamedList] | None = None,
    **ctx_kw: Any,
) -> RuleInput:
    return RuleInput(make_ctx(**ctx_kw), bm or make_bm(), response_status=status, lists=lists)


def ev(expression: str, inp: RuleInput | None = None, **kw: Any) -> bool:
    """Compile and evaluate one expression."""
    return compile_rule(expression)(inp if inp is not None else make_input(**kw))
