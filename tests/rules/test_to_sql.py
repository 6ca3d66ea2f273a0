"""The SQL compiler: DuckDB and ClickHouse select exactly the rows the Python predicate does."""

from __future__ import annotations

import pytest

from botwarden.result import JSDetection
from botwarden.rules import RuleInput, RuleSyntaxError, compile_rule
from botwarden.rules.lists import ASNList, HostnameList, IPList, NamedList
from botwarden.rules.scheme import FIELD_LIST

from .conftest import Backends
from .helpers import make_bm, make_input
from .test_to_python import full_input


def requests() -> list[RuleInput]:
    return [
        full_input(),
        make_input(
            make_bm(score=90, verified_bot=True, verified_bot_category="Monitoring"),
            ip="2001:db8::5",
            host="a.example.org",
            path="/static/app.JS",
            method="GET",
            http_version="1.1",
            status=None,
            asn=64500,
            country="US",
            continent="NA",
            headers=[("User-Agent", "curl/8.5.0"), ("Referer", '{"k": "v", "n": 7}')],
        ),
        make_input(
            make_bm(score=1, detection_ids=[5, 33554817], static_resource=True),
            ip="10.1.2.3",
            query="a=1&b=2&a=3",
            path="/login",
            status=200,
            headers=[("User-Agent", "python-requests/2.31"), ("Referer", "aGVsbG8gd29ybGQ=")],
            ts=1_700_000_000.999,
        ),
        make_input(
            make_bm(score=45, js_detection=JSDetection.FAILED, corporate_proxy=True),
            ip="::ffff:192.0.2.33",
            host="api.test",
            path="/v2/items/42",
            query="q=%41%42+c&x=",
            status=429,
            http_version="3",
            headers=[("User-Agent", "Mozilla/5.0 Chrome/131.0"), ("Referer", "%2541")],
        ),
        make_input(
            make_bm(score=0, ja3_hash="", ja4=""),
            ip="192.0.2.200",
            host="",
            path="/",
            method="HEAD",
            status=500,
            headers=[("User-Agent", ""), ("Referer", "https://x.test/?a=b")],
        ),
    ]


@pytest.fixture(scope="module")
def loaded(backends: Backends) -> Backends:
    backends.load(requests())
    return backends


EXPRESSIONS = [
    "cf.bot_management.score lt 30",
    "cf.bot_management.score in {0 45..50}",
    "cf.bot_management.score & 1",
    "cf.bot_management.verified_bot",
    "cf.client.bot or cf.bot_management.static_resource",
    "cf.bot_management.js_detection.passed",
    "cf.bot_management.corporate_proxy",
    'cf.bot_management.ja3_hash eq ""',
    'cf.bot_management.ja4 contains "t13"',
    'cf.verified_bot_category in {"Monitoring" "Search Engine Crawler"}',
    "any(cf.bot_management.detection_ids[*] eq 33554817)",
    "all(cf.bot_management.detection_ids[*] gt 6)",
    "cf.bot_management.detection_ids[1] eq 33554817",
    "len(cf.bot_management.detection_ids) eq 2",
    "ip.src eq 10.1.2.3",
    "ip.src ne 10.1.2.3",
    "ip.src in {10.0.0.0/8 2001:db8::/32}",
    "ip.src in {192.0.2.0/24}",
    "ip.src in {::ffff:192.0.2.0/120}",
    "ip.src lt 192.0.2.100",
    "ip.src ge 2001:db8::",
    "ip.src in {192.0.2.1..192.0.2.40 203.0.113.9}",
    "cidr(ip.src, 8, 16) eq 10.0.0.0",
    "cidr(ip.src, 30, 127) eq 203.0.113.8",
    "cidr6(ip.src, 31) eq 2001:db8::",
    'to_string(ip.src) eq "::ffff:192.0.2.33"',
    "ip.src.asnum eq 64500",
    "ip.geoip.asnum in {132892 64500}",
    'ip.src.country eq "US" or ip.geoip.country eq "DE"',
    'ip.src.continent eq "NA" xor ip.geoip.continent eq "EU"',
    'http.host eq "a.example.org"',
    'http.host wildcard "*.EXAMPLE.*"',
    'http.host strict wildcard "*.example.*"',
    'http.host lt "api"',
    'http.user_agent matches "(?i)^(curl|python-requests)/"',
    'http.user_agent contains "Chrome"',
    'http.referer eq "%2541"',
    'http.request.method in {"GET" "HEAD"}',
    'http.request.version eq "HTTP/1.1"',
    'http.request.uri eq "/login?a=1&b=2&a=3"',
    'http.request.uri.path matches "^/v[0-9]+/"',
    'http.request.uri.path.extension eq "js"',
    'http.request.uri.query contains "a="',
    "http.request.timestamp.sec eq 1700000000",
    "http.request.timestamp.msec eq 1700000000999",
    "http.response.code in {429 500}",
    "http.response.code ne 200",
    "not http.response.code eq 200",
    'lower(http.user_agent) contains "chrome"',
    'upper(http.host) eq "API.TEST"',
    "len(http.user_agent) gt 10",
    'starts_with(http.request.uri.path, "/v2")',
    'ends_with(http.host, ".org")',
    'contains(http.user_agent, "/")',
    'concat(http.request.method, " ", http.request.uri.path) eq "GET /static/app.JS"',
    'url_decode(http.request.uri.query) eq "q=AB c&x="',
    'url_decode(http.referer) eq "%41"',
    'url_decode(http.referer, "r") eq "A"',
    'decode_base64(http.referer) eq "hello world"',
    'lookup_json_string(http.referer, "k") eq "v"',
    'lookup_json_integer(http.referer, "n") eq 7',
    'not lookup_json_string(http.referer, "n") eq "7" and cf.bot_management.score lt 50',
    'regex_replace(http.request.uri.path, "^/v([0-9])/", "/api${1}/") eq "/api2/items/42"',
    'wildcard_replace(http.host, "*.example.*", "${2}:${1}") eq "org:a"',
    'remove_bytes(http.host, ".") eq "apitest"',
    'remove_query_args(http.request.uri.query, "a") eq "b=2"',
    'substring(http.request.uri.path, 1, 6) eq "login"',
    'substring(http.request.uri.path, -2) eq "42"',
    'to_string(cf.bot_management.score) eq "45"',
    'to_string(cf.bot_management.verified_bot) eq "true"',
    'split(http.request.uri.path, "/", 3)[2] eq "items/42"',
    'any(split(http.request.uri.query, "&", 8)[*] eq "b=2")',
    'join(split(http.host, ".", 8), "/") eq "a/example/org"',
    'has_value(split(http.host, ".", 8), "test")',
    'any(lower(split(http.request.uri.path, "/", 8)[*])[*] eq "app.js")',
    'any(starts_with(split(http.user_agent, "/", 4)[*], "8"))',
    'any(len(split(http.request.uri.query, "&", 8)[*])[*] eq 3)',
    'any(concat(split(http.host, ".", 4), split(http.host, ".", 4))[*] eq "test")',
    "any((cf.bot_management.detection_ids[*] gt 4) and cf.bot_management.detection_ids[*] lt 6)",
    "any(not cf.bot_management.detection_ids[*] eq 5)",
    "not (cf.bot_management.score gt 10 and not cf.bot_management.verified_bot)",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_same_rows(loaded: Backends, expression: str) -> None:
    rule = compile_rule(expression)
    py, duck, ch = loaded.select(rule)
    assert py == duck == ch


def test_expressions_select_something_and_not_everything(loaded: Backends) -> None:
    for expression in EXPRESSIONS:
        py = loaded.python(compile_rule(expression))
        assert 0 < len(py) < len(loaded.inputs), f"{expression} selects {py}: it proves little"


def test_named_lists_expand(loaded: Backends) -> None:
    lists: dict[str, NamedList] = {
        "nets": IPList(["10.0.0.0/8", "2001:db8::/64"]),
        "asns": ASNList(["AS64500"]),
        "hosts": HostnameList(["*.example.org", "api.test"]),
    }
    for expression in ("ip.src in $nets", "ip.src.asnum in $asns", "http.host in $hosts"):
        rule = compile_rule(expression)
        for inp in loaded.inputs:
            inp.lists = lists
        py, duck, ch = loaded.select(rule, lists)
        assert py == duck == ch
        assert py
    with pytest.raises(RuleSyntaxError, match=r"list \$nope is not defined"):
        compile_rule("ip.src in $nope").to_sql("duckdb", lists)


@pytest.mark.parametrize(
    "name",
    [f.name for f in FIELD_LIST if f.column is None],
)
def test_fields_analytics_does_not_store_are_refused(name: str) -> None:
    expression = {"Bool": name, "Int": f"{name} eq 1", "Bytes": f'{name} eq "x"'}.get(
        str(FIELDS_BY_NAME[name].type), f'any({name}[*][*] eq "x")'
    )
    if str(FIELDS_BY_NAME[name].type) == "Array<Bytes>":
        expression = f'any({name}[*] eq "x")'
    rule = compile_rule(f"ssl or {expression}" if name != "ssl" else expression)
    for dialect in ("duckdb", "clickhouse"):
        with pytest.raises(RuleSyntaxError, match="not stored in analytics") as info:
            rule.to_sql(dialect)
        assert info.value.caret.strip("^ ") == ""


FIELDS_BY_NAME = {f.name: f for f in FIELD_LIST}


def test_error_caret_points_at_the_field() -> None:
    rule = compile_rule('cf.bot_management.score lt 30 and http.cookie contains "x"')
    with pytest.raises(RuleSyntaxError) as info:
        rule.to_sql("duckdb")
    assert info.value.column == 35
    assert info.value.caret == " " * 34 + "^" * len("http.cookie")


def test_literals_are_bound_never_spliced() -> None:
    marker = "zz'; DROP TABLE events; --"
    rule = compile_rule(f'http.host eq "{marker}" or http.user_agent matches "{marker}"')
    duck = rule.to_sql("duckdb")
    ch = rule.to_sql("clickhouse")
    assert "DROP" not in duck.sql
    assert "DROP" not in ch.sql
    assert marker in duck.params
    assert isinstance(ch.params, dict)
    assert marker in ch.params.values()
    assert "$1" in duck.sql
    assert "{p1:String}" in ch.sql


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="dialect"):
        compile_rule("ssl").to_sql("postgres")


def test_unsupported_in_sql() -> None:
    with pytest.raises(RuleSyntaxError, match="cannot be expressed in SQL"):
        compile_rule('url_decode(http.host, "u") eq "x"').to_sql("duckdb")
    with pytest.raises(RuleSyntaxError, match="cannot be expressed in SQL"):
        compile_rule('to_string(cidr(ip.src, 8, 8)) eq "x"').to_sql("clickhouse")


def test_injection_through_every_dialect(loaded: Backends) -> None:
    rule = compile_rule('http.user_agent eq "a\'b\\\\c\\"d" or http.host eq "x\\x09y"')
    assert loaded.select(rule) == ([], [], [])
