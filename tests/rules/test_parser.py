"""Grammar, literals, precedence, limits and caret errors."""

from __future__ import annotations

import pytest

from botwarden.errors import BotwardenError
from botwarden.rules import RuleSyntaxError, check
from botwarden.rules.ast import Compare, IntSet, IpSet, IsTrue, Logical, Not, Regex, Wildcard
from botwarden.rules.parser import MAX_DEPTH, MAX_LENGTH, parse

SEED = (
    "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and "
    'http.host eq "api-discovery.theburritobot.com" and '
    'cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24")'
)

ACCEPTED = [
    SEED,
    "ssl",
    "not ssl",
    "!ssl",
    "not(ssl)",
    "ssl and ssl",
    "ssl && ssl",
    "ssl or ssl",
    "ssl || ssl",
    "ssl xor ssl",
    "ssl ^^ ssl",
    "  ssl  ",
    "\tssl\n",
    "ssl\nand\r\nssl",
    'http.host eq "a"',
    'http.host == "a"',
    'http.host ne "a"',
    'http.host != "a"',
    'http.host lt "a"',
    'http.host < "a"',
    'http.host le "a"',
    'http.host <= "a"',
    'http.host gt "a"',
    'http.host > "a"',
    'http.host ge "a"',
    'http.host >= "a"',
    'http.host eq"a"',
    "cf.bot_management.score eq1",
    'http.host contains "bot"',
    'http.user_agent matches "(?i)curl/[0-9.]+"',
    'http.user_agent ~ "curl"',
    'http.user_agent matches r"\\d+"',
    'http.user_agent matches "\\d+"',
    'http.user_agent matches "[\\"]"',
    'http.host wildcard "*.example.com"',
    'http.host strict wildcard "*.Example.com"',
    'http.host wildcard r"\\*"',
    'http.host in {"a.com" "b.com"}',
    "http.host in {}",
    'http.host eq r#"a"b"#',
    'http.host eq r##"a"#b"##',
    'http.host eq r""',
    'http.host eq "\\x41\\101\\"\\\\"',
    "http.host eq 61:62:63",
    "http.host eq 61:62:63:64",
    'http.host in {61:62 "x" r"y"}',
    "cf.bot_management.score in {1 2 3..5 0x10 010}",
    "cf.bot_management.score in {-5..-1}",
    "cf.bot_management.score eq -9223372036854775808",
    "cf.bot_management.score eq 9223372036854775807",
    "cf.bot_management.score & 1",
    "cf.bot_management.score bitwise_and 1",
    "ip.src eq 192.0.2.1",
    "ip.src eq ::1",
    "ip.src eq ::ffff:1.2.3.4",
    "ip.src in {192.0.2.0/24 10.0.0.0/8 2001:db8::/32 198.51.100.1..198.51.100.9}",
    "ip.src in {0.0.0.0/0 ::/0}",
    "ip.src ge 192.0.2.1",
    "ip.src in $office",
    "http.host in $hosts",
    "ip.src.asnum in $bad_asns",
    'http.request.headers["user-agent"][0] eq "x"',
    'http.request.headers[ "user-agent" ][ 0 ] eq "x"',
    'any(http.request.headers["accept"][*] contains "json")',
    'any(http.request.headers[*][*] eq "x")',
    'any(http.request.headers.names[*] eq "X-Bot")',
    'all(http.request.headers.values[*] ne "")',
    "any(cf.bot_management.detection_ids[*] eq 33554817)",
    "cf.bot_management.detection_ids[0] eq 1",
    'http.request.cookies["session"][0] eq "x"',
    'http.request.uri.args["q"][0] eq "x"',
    'any(http.request.uri.args.names[*] eq "debug")',
    'lower(http.host) eq "a"',
    'lower( http.host ) eq "a"',
    'lower (http.host) eq "a"',
    'upper(http.request.method) eq "GET"',
    "len(http.host) gt 3",
    "len(http.request.headers.names) gt 3",
    'starts_with(http.request.uri.path, "/api")',
    'ends_with(http.request.uri.path, ".php")',
    'contains(http.user_agent, "bot")',
    'not starts_with(http.host, "a")',
    'concat("a", http.host) eq "ab"',
    'concat(http.host, "a", "b") eq "ab"',
    'concat(http.request.headers.names, http.request.headers.values)[0] eq "x"',
    "cidr(ip.src, 24, 64) eq 192.0.2.0",
    "cidr6(ip.src, 64) eq 2001:db8::",
    'url_decode(http.request.uri.query) contains "<script"',
    'url_decode(http.request.uri.query, "r") contains "x"',
    'decode_base64(http.request.headers["x"][0]) eq "a"',
    'lookup_json_string(http.request.headers["x"][0], "a") eq "b"',
    'lookup_json_string(http.request.headers["x"][0], "a", 0, "b") eq "b"',
    'lookup_json_integer(http.cookie, "a") eq 5',
    'regex_replace(http.request.uri.path, "^/old/(.*)$", "/new/${1}") eq "/new/x"',
    'wildcard_replace(http.host, "*.example.com", "${1}") eq "www"',
    'wildcard_replace(http.host, "*.example.com", "${1}", "s") eq "www"',
    'remove_bytes(http.host, "\\x2e\\x77") eq "examplecom"',
    'remove_query_args(http.request.uri.query, "a", "b") eq ""',
    'substring(http.host, 1, 3) eq "xa"',
    'substring(http.host, -3) eq "com"',
    'to_string(cf.bot_management.score) eq "5"',
    'to_string(ssl) eq "true"',
    'to_string(ip.src) eq "192.0.2.1"',
    'split(http.host, ".", 2)[0] eq "www"',
    'any(split(http.host, ".", 4)[*] eq "www")',
    'join(http.request.headers.names, ",") eq "a"',
    'has_key(http.request.headers, "x")',
    'has_value(http.request.headers.names, "x")',
    'any(lower(http.request.headers.names[*])[*] eq "x")',
    'any(starts_with(http.request.headers.names[*], "x"))',
    "len(http.request.headers.names[*])[0] > 3",
    'any((http.request.headers.names[*] eq "x") and http.request.headers.values[*] eq "y")',
    'any(not http.request.headers.names[*] eq "x")',
    "http.response.code in {401 403}",
    "notssl",
    "ssl andssl",
    "(ssl)and ssl",
]

REJECTED = [
    "",
    "   ",
    "ssl and",
    "and ssl",
    "(ssl",
    "ssl)",
    "()",
    "http.host",
    "cf.bot_management.score",
    "ssl eq true",
    "ssl == 1",
    "ssl\tand ssl",
    "ssl & ssl",
    "foo.bar eq 1",
    "http.hosts eq 1",
    "lower eq 1",
    'nope(http.host) eq "a"',
    'http.host eq "abc',
    'http.host eq "\\n"',
    'http.host eq "\\x4"',
    'http.host eq "\\0"',
    'http.host eq "\\777"',
    "http.host eq 41",
    "http.host eq 41:4",
    "http.host eq 41:42:",
    "http.host eq 41-42",
    "http.host eq 1",
    'http.host in {"a", "b"}',
    'http.host contains {"a" "b"}',
    "http.host matches 41",
    'http.host matches "(a"',
    'http.host matches "a(?=b)"',
    'http.host matches "\\1"',
    "http.host wildcard 41:42",
    'http.host wildcard "a**b"',
    'http.host wildcard "\\\\a"',
    'http.host wildcard "\\\\"',
    'http.host strict  wildcard "a"',
    "http.host lt 1.2.3.4",
    "http.host & 1",
    'cf.bot_management.score eq "1"',
    "cf.bot_management.score eq 09",
    "cf.bot_management.score eq 0x",
    "cf.bot_management.score eq -0x10",
    "cf.bot_management.score eq 9223372036854775808",
    "cf.bot_management.score eq 1_000",
    "cf.bot_management.score eq --1",
    "cf.bot_management.score in {5..1}",
    "cf.bot_management.score in {1 ..5}",
    "cf.bot_management.score in {1..}",
    'cf.bot_management.score in {"a"}',
    "cf.bot_management.score contains 1",
    'cf.bot_management.score matches "1"',
    'ip.src eq "1.2.3.4"',
    "ip.src eq 01.2.3.4",
    "ip.src eq 1.2.3",
    "ip.src eq 1.2.3.256",
    "ip.src eq 1.2.3.0/24",
    "ip.src in {1.2.3.4/24}",
    "ip.src in {1.2.3.0/33}",
    "ip.src in {1.2.3.4,1.2.3.5}",
    "ip.src in {1.2.3.9..1.2.3.4}",
    "ip.src in {1.2.3.4..::1}",
    "ip.src contains 1",
    "ip.src in $",
    "ip.src in $My",
    "ssl in $list",
    "ip.src eq $x",
    'http.request.headers ["x"][0] eq "x"',
    'http.request.headers["x"] [0] eq "x"',
    'http.request.headers["x"][-1] eq "x"',
    'http.request.headers[r"x"][0] eq "x"',
    'http.request.headers["x"] eq "x"',
    'http.request.headers.names[*] eq "x"',
    'http.request.headers.names[0][0] eq "x"',
    'http.host[0] eq "x"',
    'http.request.headers[0][0] eq "x"',
    'http.request.headers.names["x"] eq "x"',
    'any(http.request.headers.names[*] eq "x" and http.request.headers.values[*] eq "y")',
    'any(lower(http.request.headers.names[*]) eq "x")',
    'any(starts_with(http.request.headers.names[*], "x")[*])',
    'starts_with(http.request.headers.names[*], "x")',
    'any(http.request.headers.names[*] eq "x") and http.request.headers.names[*] eq "x"',
    'lower("X") eq "x"',
    'lower(http.host, "a") eq "x"',
    'lower(http.host ,) eq "x"',
    'starts_with("a", http.host)',
    'starts_with(http.host, "a") eq true',
    "len(http.request.headers) gt 3",
    'concat(http.host) eq "ab"',
    'concat() eq "ab"',
    'concat(http.host, http.request.headers.names)[0] eq "x"',
    'concat(http.host, 1) eq "x"',
    "cidr(ip.src, 24) eq 1.2.3.0",
    "cidr(ip.src, 33, 24) eq 1.2.3.0",
    "cidr(ip.src, 24, 129) eq 1.2.3.0",
    "cidr6(ip.src, 0) eq ::",
    'url_decode(http.host, "x") eq "a"',
    'lookup_json_string(http.cookie) eq "a"',
    'lookup_json_string(http.cookie, http.host) eq "a"',
    'regex_replace(http.host, "(a", "b") eq "b"',
    'regex_replace(http.host, "(a)", "${2}") eq "b"',
    'regex_replace(http.host, "a", "$x") eq "b"',
    'wildcard_replace(http.host, "a**", "b") eq "b"',
    'wildcard_replace(http.host, "*", "${2}") eq "b"',
    'wildcard_replace(http.host, "*", "x", "i") eq "b"',
    'remove_query_args(http.request.uri.query) eq ""',
    'substring(http.host) eq "b"',
    'substring(http.host, "1") eq "b"',
    'to_string(http.host) eq "1"',
    'split(http.host, ".")[0] eq "a"',
    'split(http.host, "", 2)[0] eq "a"',
    'split(http.host, ".", 0)[0] eq "a"',
    'split(http.host, ".", 129)[0] eq "a"',
    'join(http.host, ",") eq "a"',
    'has_key(http.host, "x")',
    "lower(http.request.headers.names[*], http.host[*])",
    'concat(http.host, http.request.headers.names[*])[0] eq "x"',
    "ssl or or",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepts(text: str) -> None:
    assert check(text).type.kind == "Bool"


@pytest.mark.parametrize("text", REJECTED)
def test_rejects(text: str) -> None:
    with pytest.raises(RuleSyntaxError):
        check(text)


def test_error_is_a_botwarden_error() -> None:
    assert issubclass(RuleSyntaxError, BotwardenError)


def test_error_points_at_line_column_with_caret() -> None:
    text = 'http.host eq "a"\n  and cf.bot_management.scor lt 30'
    with pytest.raises(RuleSyntaxError) as info:
        check(text)
    err = info.value
    assert (err.line, err.column) == (2, 7)
    assert err.source_line == "  and cf.bot_management.scor lt 30"
    assert err.caret == "      " + "^" * len("cf.bot_management.scor")
    assert "did you mean cf.bot_management.score?" in err.message
    assert str(err).splitlines()[1:] == [err.source_line, err.caret]
    assert err.to_dict()["line"] == 2


def test_error_for_bad_literal_points_at_the_literal() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        check("ip.src in {192.0.2.0/24 10.0.0.1/8}")
    assert info.value.column == 25
    assert info.value.caret.strip() == "^" * len("10.0.0.1/8")


def test_unterminated_string_error() -> None:
    with pytest.raises(RuleSyntaxError, match="ending quote"):
        check('http.host eq "abc')


def test_length_limit() -> None:
    text = " or ".join(['http.host eq "a"'] * 1000)
    assert len(text) > MAX_LENGTH
    with pytest.raises(RuleSyntaxError, match="too long"):
        check(text)


def test_depth_limit() -> None:
    ok = "(" * MAX_DEPTH + "ssl" + ")" * MAX_DEPTH
    check(ok)
    with pytest.raises(RuleSyntaxError, match="nested too deeply"):
        check("(" + ok + ")")
    with pytest.raises(RuleSyntaxError, match="nested too deeply"):
        check("not " * (MAX_DEPTH + 1) + "ssl")


def test_regex_size_limit() -> None:
    with pytest.raises(RuleSyntaxError, match="regular expression"):
        check('http.host matches "' + "(a|b)" * 500 + '"')
    with pytest.raises(RuleSyntaxError, match="regular expression"):
        check('http.host matches "((((((((((a{1000}){1000}){1000}){1000})))))))"')


def test_precedence_not_and_xor_or() -> None:
    e = check("ssl or ssl xor ssl and not ssl")
    assert isinstance(e, Logical)
    assert e.op == "or"
    xor = e.items[1]
    assert isinstance(xor, Logical)
    assert xor.op == "xor"
    and_ = xor.items[1]
    assert isinstance(and_, Logical)
    assert and_.op == "and"
    assert isinstance(and_.items[1], Not)


def test_chains_are_flat() -> None:
    e = check("ssl and ssl and ssl and ssl")
    assert isinstance(e, Logical)
    assert len(e.items) == 4


def test_literals_are_read_with_the_field_type() -> None:
    e = check("cf.bot_management.score in {1 0x10 010 3..5}")
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, IntSet)
    assert e.rhs.values == {1, 16, 8}
    assert e.rhs.ranges == ((3, 5),)
    e = check("http.host eq 61:62:63:64")
    assert isinstance(e, Compare)
    assert e.rhs == "abcd"
    e = check('http.host eq "\\x41\\102\\"\\\\"')
    assert isinstance(e, Compare)
    assert e.rhs == 'AB"\\'
    e = check('http.host eq r#"a"b\\n"#')
    assert isinstance(e, Compare)
    assert e.rhs == 'a"b\\n'
    e = check("ip.src in {10.0.0.0/8 10.255.0.0/16 11.0.0.0..11.0.0.5 ::1}")
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, IpSet)
    assert e.rhs.v4 == ((0x0A000000, 0x0B000005),)
    assert e.rhs.v6 == ((1, 1),)


def test_regex_literal_keeps_escapes_for_the_engine() -> None:
    e = check('http.host matches "a\\.b\\"c[\\"]"')
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, Regex)
    assert e.rhs.pattern == 'a\\.b"c[\\"]'


def test_unicode_flag_is_accepted() -> None:
    e = check('http.request.uri.path matches "(?u)\\p{Greek}+"')
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, Regex)
    assert e.rhs.pattern == "\\p{Greek}+"


def test_wildcard_translation() -> None:
    e = check('http.host wildcard "*.EXAMPLE.com"')
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, Wildcard)
    assert e.rhs.regex == "(?is)^.*?\\.EXAMPLE\\.com$"
    e = check('http.host strict wildcard r"a\\*b"')
    assert isinstance(e, Compare)
    assert isinstance(e.rhs, Wildcard)
    assert e.rhs.regex == "(?s)^a\\*b$"


def test_bare_bool_is_true() -> None:
    assert isinstance(check("cf.bot_management.verified_bot"), IsTrue)


def test_parse_tree_spans() -> None:
    node = parse('  http.host eq "a"')
    assert node.span == (2, 18)
