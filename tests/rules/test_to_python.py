"""The Python compiler: every field, operator and function evaluated on real requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from botwarden.result import JSDetection
from botwarden.rules import RuleInput, compile_rule
from botwarden.rules.lists import ASNList, HostnameList, IPList, NamedList
from botwarden.rules.scheme import FIELDS
from botwarden.rules.to_python import generate
from botwarden.rules.typecheck import check

from .helpers import ev, make_bm, make_ctx, make_input

SEED = (
    "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and "
    'http.host eq "api-discovery.theburritobot.com" and '
    'cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24")'
)

HEADERS = [
    ("Host", "www.example.com"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
    ("Accept", "text/html"),
    ("Accept", "application/json"),
    ("Cookie", "session=abc; theme=dark"),
    ("Referer", "https://search.example/?q=x"),
    ("X-Forwarded-For", "198.51.100.7"),
    ("X-Json", '{"user": {"id": 42, "name": "ann"}, "tags": ["a", "b"], "n": 1.5}'),
    ("X-B64", "aGVsbG8="),
]


def full_input(**bm_kw: object) -> RuleInput:
    bm = make_bm(
        score=int(bm_kw.pop("score", 12)),  # type: ignore[call-overload]
        verified_bot=bool(bm_kw.pop("verified_bot", False)),
        verified_bot_category="Search Engine Crawler",
        ja3_hash="3fed133de60c35724739b913924b6c24",
        ja4="t13d1516h2_8daaf6152771_02713d6af862",
        static_resource=False,
        js_detection=JSDetection.PASSED,
        detection_ids=[33554817, 7],
        corporate_proxy=True,
    )
    return make_input(
        bm,
        ip="203.0.113.9",
        method="POST",
        host="www.example.com",
        path="/api/v1/Login.PHP",
        query="user=ann&debug=1&debug=2&q=a%20b+c",
        headers=HEADERS,
        http_version="2",
        ts=1_700_000_123.456,
        asn=132892,
        country="DE",
        continent="EU",
        status=403,
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cf.bot_management.score eq 12", True),
        ("cf.bot_management.verified_bot", False),
        ("cf.bot_management.static_resource", False),
        ('cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24"', True),
        ('cf.bot_management.ja4 eq "t13d1516h2_8daaf6152771_02713d6af862"', True),
        ("cf.bot_management.js_detection.passed", True),
        ("any(cf.bot_management.detection_ids[*] eq 7)", True),
        ("cf.bot_management.corporate_proxy", True),
        ('cf.verified_bot_category eq "Search Engine Crawler"', True),
        ("cf.client.bot", False),
        ("cf.threat_score eq 0", True),
        ("ip.src eq 203.0.113.9", True),
        ("ip.src.asnum eq 132892", True),
        ('ip.src.country eq "DE"', True),
        ('ip.src.continent eq "EU"', True),
        ("ip.geoip.asnum eq 132892", True),
        ('ip.geoip.country eq "DE"', True),
        ('ip.geoip.continent eq "EU"', True),
        ('http.host eq "www.example.com"', True),
        ('http.user_agent contains "Firefox"', True),
        ('http.referer eq "https://search.example/?q=x"', True),
        ('http.cookie eq "session=abc; theme=dark"', True),
        ('http.x_forwarded_for eq "198.51.100.7"', True),
        ('http.request.method eq "POST"', True),
        ('http.request.version eq "HTTP/2"', True),
        (
            'http.request.full_uri eq "https://www.example.com/api/v1/Login.PHP'
            '?user=ann&debug=1&debug=2&q=a%20b+c"',
            True,
        ),
        ('http.request.uri eq "/api/v1/Login.PHP?user=ann&debug=1&debug=2&q=a%20b+c"', True),
        ('http.request.uri.path eq "/api/v1/Login.PHP"', True),
        ('http.request.uri.path.extension eq "php"', True),
        ('http.request.uri.query eq "user=ann&debug=1&debug=2&q=a%20b+c"', True),
        ('http.request.uri.args["debug"][1] eq "2"', True),
        ('http.request.uri.args["q"][0] eq "a b c"', True),
        ('any(http.request.uri.args.names[*] eq "debug")', True),
        ('any(http.request.uri.args.values[*] eq "ann")', True),
        ('http.request.headers["accept"][1] eq "application/json"', True),
        ('any(http.request.headers["accept"][*] contains "json")', True),
        ('any(http.request.headers.names[*] eq "User-Agent")', True),
        ('any(http.request.headers.values[*] eq "text/html")', True),
        ('http.request.cookies["theme"][0] eq "dark"', True),
        ("http.request.timestamp.sec eq 1700000123", True),
        ("http.request.timestamp.msec eq 1700000123456", True),
        ("ssl", True),
        ("http.response.code eq 403", True),
    ],
)
def test_every_field(expression: str, expected: bool) -> None:
    assert ev(expression, full_input()) is expected


def test_every_field_is_tested() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [name for name in FIELDS if name not in source]
    assert missing == []


def test_seed_expression() -> None:
    rule = compile_rule(SEED)
    bm = make_bm(score=40, ja3_hash="3fed133de60c35724739b913924b6c24")
    hit = make_input(bm, host="api-discovery.theburritobot.com", asn=132892)
    assert rule(hit)
    assert not rule(make_input(bm, host="api-discovery.theburritobot.com", asn=1))
    assert not rule(make_input(make_bm(score=47), host="api-discovery.theburritobot.com"))
    assert rule.fields == (
        "cf.bot_management.score",
        "ip.geoip.asnum",
        "http.host",
        "cf.bot_management.ja3_hash",
    )


def test_generated_function_reads_only_named_fields() -> None:
    source, _ = generate(check("cf.bot_management.score lt 30"))
    assert "ctx" not in source
    assert "bm.score" in source


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.host eq "www.example.com"', True),
        ('http.host ne "www.example.com"', False),
        ('http.host lt "www.example.con"', True),
        ('http.host le "www.example.com"', True),
        ('http.host gt "www.example.co"', True),
        ('http.host ge "www.example.com"', True),
        ("cf.bot_management.score lt 13", True),
        ("cf.bot_management.score le 11", False),
        ("cf.bot_management.score gt 11", True),
        ("cf.bot_management.score ge 13", False),
        ("cf.bot_management.score ne 12", False),
        ('http.user_agent contains "Linux"', True),
        ('http.user_agent contains ""', True),
        ('http.user_agent matches "(?i)firefox/1[0-9]{2}"', True),
        ('http.user_agent matches "^Firefox"', False),
        ('http.host wildcard "*.EXAMPLE.com"', True),
        ('http.host strict wildcard "*.EXAMPLE.com"', False),
        ('http.host strict wildcard "www.*.com"', True),
        ('http.host wildcard "*.example"', False),
        ('http.host in {"a.com" "www.example.com"}', True),
        ('http.host in {"a.com"}', False),
        ("cf.bot_management.score in {1..10 12}", True),
        ("cf.bot_management.score in {1..10 13}", False),
        ("cf.bot_management.score in {10..20}", True),
        ("cf.bot_management.score & 4", True),
        ("cf.bot_management.score & 1", False),
        ("ip.src in {203.0.113.0/24}", True),
        ("ip.src in {203.0.112.0/24 2001:db8::/32}", False),
        ("ip.src in {203.0.113.1..203.0.113.9}", True),
        ("ip.src gt 203.0.113.8", True),
        ("ip.src lt 203.0.113.8", False),
        ("ip.src lt ::1", False),
        ("ip.src ne ::1", True),
        ("ip.src eq ::1", False),
        ("http.host eq 77:77:77:2e:65:78:61:6d:70:6c:65:2e:63:6f:6d", True),
    ],
)
def test_operators(expression: str, expected: bool) -> None:
    assert ev(expression, full_input()) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("ssl and cf.bot_management.corporate_proxy", True),
        ("ssl and cf.bot_management.verified_bot", False),
        ("cf.bot_management.verified_bot or ssl", True),
        ("ssl xor ssl", False),
        ("ssl xor cf.bot_management.verified_bot", True),
        ("ssl xor ssl xor ssl", True),
        ("not ssl", False),
        ("! cf.bot_management.verified_bot", True),
        ("not ssl or ssl and not ssl", False),
        ("cf.bot_management.verified_bot or ssl and ssl", True),
        ("ssl or cf.bot_management.verified_bot and cf.bot_management.verified_bot", True),
        ("(ssl or cf.bot_management.verified_bot) and cf.bot_management.verified_bot", False),
        ("ssl xor ssl or ssl", True),
        ("ssl xor (ssl or ssl)", False),
        ("not (ssl and ssl)", False),
    ],
)
def test_logic_and_precedence(expression: str, expected: bool) -> None:
    assert ev(expression, full_input()) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('lower(http.user_agent) contains "firefox"', True),
        ('upper(http.request.uri.path) eq "/API/V1/LOGIN.PHP"', True),
        ("len(http.host) eq 15", True),
        ("len(http.request.headers.names) eq 9", True),
        ('starts_with(http.request.uri.path, "/api")', True),
        ('ends_with(http.request.uri.path, ".PHP")', True),
        ('contains(http.host, "example")', True),
        ('concat(http.request.method, " ", http.host) eq "POST www.example.com"', True),
        ('concat("x", http.host) eq "xwww.example.com"', True),
        ("len(concat(http.request.headers.names, http.request.headers.values)) eq 18", True),
        ("cidr(ip.src, 24, 64) eq 203.0.113.0", True),
        ("cidr(ip.src, 30, 64) eq 203.0.113.8", True),
        ("cidr6(ip.src, 64) eq 203.0.113.9", True),
        ('url_decode(http.request.uri.query) contains "q=a b c"', True),
        ('decode_base64(http.request.headers["x-b64"][0]) eq "hello"', True),
        ('lookup_json_string(http.request.headers["x-json"][0], "user", "name") eq "ann"', True),
        ('lookup_json_string(http.request.headers["x-json"][0], "tags", 1) eq "b"', True),
        ('lookup_json_integer(http.request.headers["x-json"][0], "user", "id") eq 42', True),
        ('lookup_json_integer(http.request.headers["x-json"][0], "n") eq 1', False),
        ('lookup_json_integer(http.request.headers["x-json"][0], "n") ne 1', False),
        (
            'regex_replace(http.request.uri.path, "^/api/(v[0-9])/", "/${1}/") eq "/v1/Login.PHP"',
            True,
        ),
        ('regex_replace(http.host, "w", "W") eq "Www.example.com"', True),
        ('regex_replace(http.host, "^x", "y") eq "www.example.com"', True),
        ('regex_replace(http.host, "^w+", "$$") eq "$.example.com"', True),
        ('wildcard_replace(http.host, "*.EXAMPLE.*", "${2}/${1}") eq "com/www"', True),
        ('wildcard_replace(http.host, "*.EXAMPLE.*", "${1}", "s") eq "www.example.com"', True),
        ('remove_bytes(http.host, "\\x2e\\x77") eq "examplecom"', True),
        ('remove_query_args(http.request.uri.query, "debug") eq "user=ann&q=a%20b+c"', True),
        ('substring(http.host, 4, 11) eq "example"', True),
        ('substring(http.host, -3) eq "com"', True),
        ('substring(http.host, 0, -4) eq "www.example"', True),
        ('to_string(cf.bot_management.score) eq "12"', True),
        ('to_string(ssl) eq "true"', True),
        ('to_string(ip.src) eq "203.0.113.9"', True),
        ('split(http.host, ".", 2)[1] eq "example.com"', True),
        ('any(split(http.host, ".", 8)[*] eq "example")', True),
        ('join(split(http.host, ".", 8), "/") eq "www/example/com"', True),
        ('has_key(http.request.cookies, "session")', True),
        ('has_value(http.request.headers.names, "Accept")', True),
        ('all(http.request.headers["accept"][*] contains "/")', True),
        ('all(split(http.request.uri.query, "&", 1)[*] eq "")', False),
        ('any(lower(http.request.headers.names[*])[*] eq "x-json")', True),
        ('any(starts_with(http.request.headers.names[*], "X-"))', True),
        ("len(http.request.headers.names[*])[0] eq 4", True),
        (
            'any((http.request.headers.names[*] eq "Accept") and '
            'http.request.headers.values[*] eq "application/json")',
            True,
        ),
        ('any(not http.request.headers.names[*] contains "-")', True),
        ('all(not http.request.headers.names[*] contains "-")', False),
    ],
)
def test_functions(expression: str, expected: bool) -> None:
    assert ev(expression, full_input()) is expected


@pytest.mark.parametrize(
    "expression",
    [
        'http.request.headers["x-missing"][0] eq ""',
        'http.request.headers["x-missing"][0] ne "a"',
        'http.request.headers["accept"][5] ne "a"',
        'lookup_json_string(http.request.headers["x-json"][0], "nope") ne "a"',
        'lookup_json_string(http.request.headers.names[0], "a") ne "a"',
        'decode_base64(http.host) ne "a"',
        'url_decode(http.request.headers["x-missing"][0]) ne "a"',
        'lower(http.request.headers["x-missing"][0]) ne "a"',
        'any(split(http.request.headers["x-missing"][0], ",", 4)[*] ne "a")',
        "http.response.code ne 200",
    ],
)
def test_absent_values_compare_false(expression: str) -> None:
    inp = full_input()
    inp.response_status = None
    assert ev(expression, inp) is False
    assert ev(f"not ({expression})", inp) is True


def test_named_lists() -> None:
    lists: dict[str, NamedList] = {
        "office": IPList(["203.0.113.0/28", "2001:db8::/32"]),
        "bad_asns": ASNList(["AS132892", 64500]),
        "hosts": HostnameList(["*.example.com", "api.test"]),
    }
    inp = full_input()
    inp.lists = lists
    assert ev("ip.src in $office", inp)
    assert ev("ip.src.asnum in $bad_asns", inp)
    assert ev("http.host in $hosts", inp)
    assert not ev("ip.src in $missing", inp)
    assert not ev("http.host in $office", inp)
    assert not ev("ip.src in $office", make_input(ip="203.0.113.16", lists=lists))
    assert ev("http.host in $hosts", make_input(host="api.test", lists=lists))
    assert not ev("http.host in $hosts", make_input(host="example.com", lists=lists))


def test_ipv6_and_mapped_addresses() -> None:
    assert ev("ip.src in {2001:db8::/32}", ip="2001:db8::1")
    assert ev("cidr(ip.src, 24, 32) eq 2001:db8::", ip="2001:db8:ff::1")
    assert ev("cidr6(ip.src, 48) eq 2001:db8:ff::", ip="2001:db8:ff:1::1")
    assert not ev("ip.src in {1.2.3.0/24}", ip="::ffff:1.2.3.4")
    assert ev('to_string(ip.src) eq "::ffff:1.2.3.4"', ip="::ffff:1.2.3.4")


def test_non_ascii_values() -> None:
    inp = make_input(path="/caf\u00e9/\u00c9t\u00e9")
    assert ev('lower(http.request.uri.path) eq "/caf\u00e9/\u00c9t\u00e9"', inp)
    assert ev("len(http.request.uri.path) eq 12", inp)
    assert ev('http.request.uri.path eq "/caf\\303\\251/\\303\\211t\\303\\251"', inp)
    assert ev('substring(http.request.uri.path, 1, 6) eq "caf\u00e9"', inp)


def test_defaults_without_tls_or_geo() -> None:
    inp = make_input(scheme="http")
    assert ev('cf.bot_management.ja3_hash eq ""', inp)
    assert ev("ip.src.asnum eq 0", inp)
    assert ev('ip.src.country eq ""', inp)
    assert ev("not ssl", inp)


def test_lazy_fields_are_not_computed() -> None:
    ctx = make_ctx(headers=[("User-Agent", "x")])
    rule = compile_rule("cf.bot_management.score lt 30")
    assert rule(RuleInput(ctx, make_bm(score=5)))
    assert "user_agent" not in ctx.__dict__
    assert "ip" not in ctx.__dict__
