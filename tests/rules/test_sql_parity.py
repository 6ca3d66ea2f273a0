"""Property: for generated expressions over the analytics fields and generated request sets,
the Python predicate, the DuckDB query and the ClickHouse query select the same rows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botwarden.result import JSDetection
from botwarden.rules import RuleInput, compile_rule

from .conftest import Backends
from .helpers import make_bm, make_input

HOSTS = ["a.example.com", "b.example.org", "api.test", "x", ""]
PATHS = ["/", "/login", "/static/app.JS", "/v2/items/42", "/a.b/c", "/caf%C3%A9", "/x.tar.gz"]
QUERIES = ["", "a=1", "a=1&b=2&a=3", "q=%41+b", "x=&y", "debug"]
AGENTS = [
    "",
    "curl/8.5.0",
    "Mozilla/5.0 Chrome/131.0",
    "python-requests/2.31",
    '{"k": "v", "n": 7, "a": [1, "z"]}',
    "aGVsbG8=",
    "%2541%20b",
]
METHODS = ["GET", "POST", "HEAD"]
VERSIONS = ["1.1", "2", "3"]
IPS = [
    "10.1.2.3",
    "10.200.0.1",
    "192.0.2.33",
    "203.0.113.9",
    "2001:db8::5",
    "2001:db8:1::9",
    "::ffff:192.0.2.33",
    "::1",
]
COUNTRIES = ["", "DE", "US"]
CATEGORIES = ["", "Monitoring", "Search Engine Crawler"]
SMALL_INTS = [0, 1, 2, 5, 7, 29, 30, 99, 64500, 132892]
DETECTIONS = [1, 5, 7, 33554817]
TEXTS = sorted(
    {"", "a", "A", "x", ".", "/", "=", "&", "example", "EXAMPLE", "1", "login", "curl", "v"}
    | set(HOSTS)
    | set(PATHS)
    | set(QUERIES)
    | set(AGENTS)
)
REGEXES = ["^a", "(?i)CURL", "[0-9]+$", "^/v[0-9]/", "\\.(js|JS)$", "^$", "a|b", "(?i)^.*test$"]
WILDCARDS = ["*", "*.example.*", "A*", "*.TEST", "/*/*", "x", "*=*&*"]


@st.composite
def request_input(draw: st.DrawFn) -> RuleInput:
    bm = make_bm(
        score=draw(st.sampled_from([0, 1, 2, 29, 30, 45, 99])),
        verified_bot=draw(st.booleans()),
        verified_bot_category=draw(st.sampled_from(CATEGORIES)),
        static_resource=draw(st.booleans()),
        corporate_proxy=draw(st.booleans()),
        js_detection=draw(st.sampled_from(list(JSDetection))),
        detection_ids=draw(st.lists(st.sampled_from(DETECTIONS), max_size=3)),
        ja3_hash=draw(st.sampled_from(["", "3fed133de60c35724739b913924b6c24"])),
        ja4=draw(st.sampled_from(["", "t13d1516h2_8daaf6152771_02713d6af862"])),
    )
    return make_input(
        bm,
        ip=draw(st.sampled_from(IPS)),
        host=draw(st.sampled_from(HOSTS)),
        path=draw(st.sampled_from(PATHS)),
        query=draw(st.sampled_from(QUERIES)),
        method=draw(st.sampled_from(METHODS)),
        http_version=draw(st.sampled_from(VERSIONS)),
        headers=[
            ("User-Agent", draw(st.sampled_from(AGENTS))),
            ("Referer", draw(st.sampled_from(AGENTS))),
        ],
        ts=1_700_000_000 + draw(st.integers(0, 5000)) / 1000,
        asn=draw(st.sampled_from([None, 64500, 132892])),
        country=draw(st.sampled_from(COUNTRIES)) or None,
        continent=draw(st.sampled_from(["", "EU", "NA"])) or None,
        status=draw(st.sampled_from([None, 200, 403, 429])),
    )


def q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


BYTES_FIELDS = [
    "http.host",
    "http.user_agent",
    "http.referer",
    "http.request.method",
    "http.request.version",
    "http.request.uri",
    "http.request.uri.path",
    "http.request.uri.path.extension",
    "http.request.uri.query",
    "cf.bot_management.ja3_hash",
    "cf.bot_management.ja4",
    "cf.verified_bot_category",
    "ip.src.country",
    "ip.geoip.continent",
]
INT_FIELDS = [
    "cf.bot_management.score",
    "ip.src.asnum",
    "ip.geoip.asnum",
    "http.response.code",
    "http.request.timestamp.sec",
]
BOOL_FIELDS = [
    "cf.bot_management.verified_bot",
    "cf.bot_management.static_resource",
    "cf.bot_management.js_detection.passed",
    "cf.bot_management.corporate_proxy",
    "cf.client.bot",
]
ORD = ["eq", "ne", "lt", "le", "gt", "ge"]


@st.composite
def bytes_value(draw: st.DrawFn) -> str:
    """A Bytes-typed value expression: a field or a function of one."""
    f = draw(st.sampled_from(BYTES_FIELDS))
    kind = draw(st.integers(0, 14))

    def t() -> str:
        return q(draw(st.sampled_from(TEXTS)))

    if kind == 0:
        return f"lower({f})"
    if kind == 1:
        return f"upper({f})"
    if kind == 2:
        return f"concat({f}, {t()})"
    if kind == 3:
        a, b = draw(st.integers(-6, 6)), draw(st.integers(-6, 6))
        return f"substring({f}, {a}, {b})" if draw(st.booleans()) else f"substring({f}, {a})"
    if kind == 4:
        sep = q(draw(st.sampled_from(["/", ".", "&", "="])))
        return f"split({f}, {sep}, {draw(st.integers(1, 3))})[{draw(st.integers(0, 2))}]"
    if kind == 5:
        opt = ', "r"' if draw(st.booleans()) else ""
        return f"url_decode({f}{opt})"
    if kind == 6:
        return f"remove_query_args({f}, {t()})"
    if kind == 7:
        return f"regex_replace({f}, {q(draw(st.sampled_from(REGEXES)))}, {q('<$$>')})"
    if kind == 8:
        w = draw(st.sampled_from(WILDCARDS))
        repl = '"[${1}]"' if "*" in w else '"y"'
        return f"wildcard_replace({f}, {q(w)}, {repl})"
    if kind == 9:
        return f"remove_bytes({f}, {q(draw(st.sampled_from(['./', 'a', '=&'])))})"
    if kind == 10:
        return f"decode_base64({f})"
    if kind == 11:
        keys = draw(st.sampled_from(['"k"', '"n"', '"a", 1', '"a", 0']))
        return f"lookup_json_string({f}, {keys})"
    if kind == 12:
        return "to_string(cf.bot_management.score)"
    if kind == 13:
        return f'join(split({f}, "/", {draw(st.integers(1, 4))}), "|")'
    return f


@st.composite
def atom(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 13))
    if kind == 0:
        return draw(st.sampled_from(BOOL_FIELDS))
    if kind == 1:
        f = draw(st.sampled_from(INT_FIELDS[:4]))
        return f"{f} {draw(st.sampled_from(ORD))} {draw(st.sampled_from(SMALL_INTS))}"
    if kind == 2:
        f = draw(st.sampled_from(INT_FIELDS[:4]))
        vals = draw(st.lists(st.sampled_from(SMALL_INTS), max_size=3))
        lo = draw(st.integers(0, 50))
        rng = f" {lo}..{lo + draw(st.integers(0, 50))}" if draw(st.booleans()) else ""
        return f"{f} in {{{' '.join(map(str, vals))}{rng}}}"
    if kind == 3:
        return f"cf.bot_management.score & {draw(st.integers(1, 64))}"
    if kind == 4:
        v = draw(bytes_value())
        return f"{v} {draw(st.sampled_from(ORD))} {q(draw(st.sampled_from(TEXTS)))}"
    if kind == 5:
        v = draw(bytes_value())
        return f"{v} contains {q(draw(st.sampled_from(TEXTS)))}"
    if kind == 6:
        v = draw(bytes_value())
        return f"{v} matches {q(draw(st.sampled_from(REGEXES)))}"
    if kind == 7:
        v = draw(bytes_value())
        op = draw(st.sampled_from(["wildcard", "strict wildcard"]))
        return f"{v} {op} {q(draw(st.sampled_from(WILDCARDS)))}"
    if kind == 8:
        v = draw(bytes_value())
        items = draw(st.lists(st.sampled_from(TEXTS), max_size=3))
        return f"{v} in {{{' '.join(q(i) for i in items)}}}"
    if kind == 9:
        op = draw(st.sampled_from(["eq", "ne", "lt", "ge"]))
        return f"ip.src {op} {draw(st.sampled_from(IPS))}"
    if kind == 10:
        nets = draw(
            st.lists(
                st.sampled_from(
                    [
                        "10.0.0.0/8",
                        "192.0.2.0/25",
                        "2001:db8::/32",
                        "::/0",
                        "0.0.0.0/1",
                        "192.0.2.1..192.0.2.40",
                        "::ffff:0:0/96",
                        "203.0.113.9",
                    ]
                ),
                max_size=3,
            )
        )
        return f"ip.src in {{{' '.join(nets)}}}"
    if kind == 11:
        b4, b6 = draw(st.integers(1, 32)), draw(st.integers(1, 128))
        op = draw(st.sampled_from(["eq", "ne"]))
        net = draw(st.sampled_from(["10.0.0.0", "192.0.2.0", "2001:db8::", "::"]))
        return f"cidr(ip.src, {b4}, {b6}) {op} {net}"
    if kind == 12:
        agg = draw(st.sampled_from(["any", "all"]))
        op = draw(st.sampled_from(ORD))
        return f"{agg}(cf.bot_management.detection_ids[*] {op} {draw(st.sampled_from(DETECTIONS))})"
    f = draw(st.sampled_from(BYTES_FIELDS))
    sep = q(draw(st.sampled_from(["/", ".", "&"])))
    agg = draw(st.sampled_from(["any", "all"]))
    return f"{agg}(split({f}, {sep}, {draw(st.integers(1, 4))})[*] eq {q(draw(st.sampled_from(TEXTS)))})"


def expression(depth: int = 3) -> st.SearchStrategy[str]:
    return st.recursive(
        atom(),
        lambda inner: st.one_of(
            inner.map(lambda e: f"not ({e})"),
            st.tuples(inner, st.sampled_from(["and", "or", "xor", "&&", "||", "^^"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"
            ),
        ),
        max_leaves=depth,
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(expr=expression(), inputs=st.lists(request_input(), min_size=1, max_size=8))
def test_python_duckdb_clickhouse_select_the_same_rows(
    backends: Backends, expr: str, inputs: list[RuleInput]
) -> None:
    rule = compile_rule(expr)
    backends.load(inputs)
    py, duck, ch = backends.select(rule)
    assert py == duck, expr
    assert py == ch, expr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exprs=st.lists(expression(), min_size=1, max_size=12),
    inputs=st.lists(request_input(), min_size=1, max_size=4),
)
def test_a_compiled_phase_matches_the_rules_one_by_one(
    exprs: list[str], inputs: list[RuleInput]
) -> None:
    """One generated phase function (shared subexpressions, regex sets) finds exactly the
    rules that their own predicates find."""
    from botwarden.rules.ruleset import Rule, RuleEngine

    # Repeat expressions so that shared subexpressions and regex groups really occur.
    exprs = exprs + exprs[: len(exprs) // 2]
    engine = RuleEngine([Rule.create(f"r{i}", e, "log") for i, e in enumerate(exprs)])
    singles = [compile_rule(e) for e in exprs]
    for inp in inputs:
        fresh = RuleInput(inp.ctx, inp.bm, response_status=inp.response_status)
        logged = [r.id for r in engine.evaluate(fresh).logged]
        expected = [f"r{i}" for i, rule in enumerate(singles) if rule(inp)]
        assert logged == expected
