"""Parity with Cloudflare's own parser (wirefilter, through octorules_wirefilter): on real
expressions from public documentation and on generated ones, Botwarden accepts exactly what
wirefilter accepts — apart from the deliberate differences documented in
docs/rules-language.md, each recognised here by `explain()`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botwarden.rules import RuleSyntaxError, check
from botwarden.rules.ast import Call, Const, walk
from botwarden.rules.functions import FUNCTIONS
from botwarden.rules.scheme import FIELD_LIST, FIELDS
from botwarden.rules.types import BYTES, INT

wirefilter = pytest.importorskip("octorules_wirefilter")

CORPUS = Path(__file__).parent / "corpus" / "cloudflare_docs.jsonl"
_SCHEMA = wirefilter.get_schema_info()
WF_FUNCTIONS = set(_SCHEMA["functions"])
_IDENT = re.compile(r"(?<![\w.$\"])([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)")
_CALL = re.compile(r"([a-z_][a-z0-9_]*)\s*\(")


def wirefilter_accepts(expr: str) -> bool:
    return "error" not in wirefilter.parse_expression(expr)


def botwarden_verdict(expr: str) -> tuple[bool, str]:
    try:
        check(expr)
    except RuleSyntaxError as exc:
        return False, exc.message
    return True, ""


def out_of_scope(expr: str) -> bool:
    """Uses a field or function Cloudflare has and Botwarden deliberately does not (request
    bodies, JWTs, WAF attack scores, HMAC…): parity is only claimed for our scheme."""
    names = set(_IDENT.findall(expr))
    wf_fields = {f["name"] for f in _SCHEMA["fields"]} | {
        "http.request.uri.path",
        "ip.geoip.asnum",
        "ip.geoip.country",
        "ip.geoip.continent",
        "ip.geoip.is_in_european_union",
        "ip.geoip.subdivision_1_iso_code",
        "ip.geoip.subdivision_2_iso_code",
        "cf.zone.name",
        "cf.zone.plan",
        "tcp.dstport",
    }
    if any(n in wf_fields and n not in FIELDS for n in names):
        return True
    calls = set(_CALL.findall(expr))
    return any(c in WF_FUNCTIONS and c not in FUNCTIONS for c in calls)


# Messages of checks Botwarden makes and the wirefilter build used as oracle does not (its
# functions are signature stubs that never look at literal values).
_STRICTER = (
    "must be between",  # cidr()/cidr6() prefix lengths, split() limit
    "invalid regular expression",  # regex_replace() pattern
    "refers to a group",  # ${N} beyond the groups of regex_replace()/wildcard_replace()
    "a $ in the replacement",
    "references go from",
    "invalid wildcard",  # wildcard_replace() pattern
    "the only wildcard_replace flag",
    "separator of split must not be empty",
    "nested too deeply",
    "too long",
    "empty expression",
)


def explain(expr: str, wf_ok: bool, ours_ok: bool, message: str) -> str | None:
    """Why Botwarden's verdict differs from wirefilter's, if it is a documented difference."""
    if ours_ok and not wf_ok:
        for node in walk(check(expr)):
            if not isinstance(node, Call):
                continue
            name, args = node.func.name, node.args
            if name == "len" and args[0].type != BYTES and not node.mapped:
                return "len() of an array (Cloudflare documents it; the oracle's stub refuses)"
            if name == "to_string" and args[0].type != INT:
                return "to_string() of a Bool or an IP (documented by Cloudflare)"
            if name == "substring" and len(args) == 2:
                return "substring() without end (documented by Cloudflare)"
            if name == "url_decode" and len(args) == 2:
                return "url_decode() options (documented by Cloudflare)"
            if name.startswith("lookup_json_") and (
                len(args) != 2 or (isinstance(args[1], Const) and isinstance(args[1].value, int))
            ):
                return "lookup_json_*() with a path of keys and positions (documented)"
        return None
    if wf_ok and not ours_ok:
        if any(s in message for s in _STRICTER):
            return "Botwarden validates literal arguments the oracle does not"
        if message.startswith("unknown function") and out_of_scope(expr):
            return "function outside Botwarden's scheme"
    return None


def corpus() -> list[tuple[str, str]]:
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            rows.append((item["expr"], item["source"]))
    return rows


def test_our_fields_are_known_to_wirefilter() -> None:
    for f in FIELD_LIST:
        probe = {"Bool": f.name, "Int": f"{f.name} eq 1", "Bytes": f'{f.name} eq "x"'}.get(
            str(f.type), f"{f.name}[0] eq 1"
        )
        r = wirefilter.parse_expression(probe)
        assert "unknown identifier" not in r.get("error", ""), f.name


def test_corpus_is_substantial() -> None:
    rows = corpus()
    assert len(rows) >= 100
    assert all(src.startswith("https://") for _, src in rows)


@pytest.mark.parametrize(("expr", "source"), corpus())
def test_corpus_parity(expr: str, source: str) -> None:
    if out_of_scope(expr):
        pytest.skip("uses a field or function outside Botwarden's scheme")
    wf_ok = wirefilter_accepts(expr)
    ours_ok, message = botwarden_verdict(expr)
    if wf_ok != ours_ok:
        reason = explain(expr, wf_ok, ours_ok, message)
        assert reason is not None, (
            f"{source}: wirefilter {'accepts' if wf_ok else 'refuses'}, Botwarden "
            f"{'accepts' if ours_ok else 'refuses: ' + message}: {expr!r}"
        )


# -- generated expressions ------------------------------------------------------------------

BOOLS = [f.name for f in FIELD_LIST if str(f.type) == "Bool"]
INTS = [f.name for f in FIELD_LIST if str(f.type) == "Int"]
STRS = [f.name for f in FIELD_LIST if str(f.type) == "Bytes"]
ARRAYS = [f.name for f in FIELD_LIST if str(f.type).startswith("Array")]
MAPS = [f.name for f in FIELD_LIST if str(f.type).startswith("Map")]
ALL_FIELDS = [f.name for f in FIELD_LIST]
OPS = [
    "eq", "ne", "lt", "le", "gt", "ge", "==", "!=", "<", "<=", ">", ">=",
    "contains", "matches", "~", "wildcard", "strict wildcard", "in", "&", "bitwise_and",
]  # fmt: skip
STRINGS = [
    '""', '"a"', '"/login"', '"\\"q\\""', '"\\\\"', '"\\x41\\x42"', '"\\101"', '"\\n"',
    '"\\x4"', '"caf\u00e9"', 'r"a\\d"', 'r#"a"b"#', 'r##"x"##', '"*.example.com"',
    '"a**b"', '"\\\\*"', '"(a"', '"^/v[0-9]+/"', '"a(?=b)"', '"[\\"]"', '"abc',
]  # fmt: skip
INTEGERS = [
    "0", "1", "30", "-5", "0x1F", "017", "09", "0x", "1_000", "9223372036854775807",
    "9223372036854775808", "--1", "1..5", "5..1",
]  # fmt: skip
IPS = [
    "192.0.2.1", "::1", "2001:db8::/32", "10.0.0.0/8", "10.0.0.1/8", "1.2.3.0/33",
    "192.0.2.1..192.0.2.9", "192.0.2.9..192.0.2.1", "01.2.3.4", "1.2.3", "::ffff:1.2.3.4",
]  # fmt: skip
BYTESTRINGS = ["41:42", "41-42.43", "41", "41:4", "ab:cd"]
LISTS = ["$office", "$bad_ips", "$My", "$"]
SPACES = [" ", " ", " ", "  ", "\n", "\t"]


@st.composite
def literal(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(STRINGS))
    if kind == 1:
        return draw(st.sampled_from(INTEGERS))
    if kind == 2:
        return draw(st.sampled_from(IPS))
    if kind == 3:
        return draw(st.sampled_from(BYTESTRINGS))
    if kind == 4:
        return draw(st.sampled_from(LISTS))
    items = draw(st.lists(st.sampled_from(STRINGS[:6] + INTEGERS[:6] + IPS[:4]), max_size=3))
    sep = draw(st.sampled_from([" ", " ", ", "]))
    return "{" + sep.join(items) + "}"


@st.composite
def value(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.sampled_from(ALL_FIELDS))
    if kind == 1:
        f = draw(st.sampled_from(MAPS))
        key = draw(st.sampled_from(['["accept"]', '["x"]', "[0]", "[*]", ' ["x"]']))
        idx = draw(st.sampled_from(["[0]", "[*]", "", "[1]"]))
        return f + key + idx
    if kind == 2:
        return draw(st.sampled_from(ARRAYS)) + draw(st.sampled_from(["[0]", "[*]", "", '["x"]']))
    if kind == 3:
        fn = draw(st.sampled_from(["lower", "upper", "url_decode", "decode_base64", "len"]))
        arg = draw(st.sampled_from([*STRS, *INTS[:1], '"x"', *[a + "[*]" for a in ARRAYS]]))
        tail = draw(st.sampled_from(["", "", "[*]", "[0]"]))
        return f"{fn}({arg}){tail}"
    fn = draw(
        st.sampled_from(
            ["starts_with", "ends_with", "concat", "remove_bytes", "join", "split", "substring"]
        )
    )
    first = draw(st.sampled_from([*STRS[:4], ARRAYS[0], '"a"']))
    rest = draw(st.lists(st.sampled_from(['"."', '"x"', "2", "0", STRS[0], "1.2.3.4"]), max_size=3))
    return f"{fn}({', '.join([first, *rest])})"


@st.composite
def atom(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.sampled_from(BOOLS))
    if kind == 1:
        sp = draw(st.sampled_from(SPACES))
        return f"{draw(value())}{sp}{draw(st.sampled_from(OPS))} {draw(literal())}"
    if kind == 2:
        return f"{draw(st.sampled_from(INTS))} {draw(st.sampled_from(OPS[:12]))} {draw(st.sampled_from(INTEGERS))}"
    if kind == 3:
        return f"{draw(st.sampled_from(STRS))} {draw(st.sampled_from(OPS))} {draw(st.sampled_from(STRINGS))}"
    if kind == 4:
        op = draw(st.sampled_from(["eq", "ne", "in", "lt"]))
        ip = draw(st.sampled_from(IPS))
        return f"ip.src {op} {ip if op != 'in' else '{' + ip + '}'}"
    if kind == 5:
        agg = draw(st.sampled_from(["any", "all"]))
        inner = draw(value())
        return f"{agg}({inner} {draw(st.sampled_from(OPS[:8]))} {draw(literal())})"
    return f"{draw(value())} {draw(st.sampled_from(OPS[:6]))} {draw(literal())}"


def expression() -> st.SearchStrategy[str]:
    return st.recursive(
        atom(),
        lambda inner: st.one_of(
            inner.map(lambda e: f"not {e}"),
            inner.map(lambda e: f"!({e})"),
            inner.map(lambda e: f"({e})"),
            st.tuples(
                inner, st.sampled_from(["and", "or", "xor", "&&", "||", "^^", "and and"]), inner
            ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        ),
        max_leaves=4,
    )


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expression())
def test_generated_parity(expr: str) -> None:
    wf_ok = wirefilter_accepts(expr)
    ours_ok, message = botwarden_verdict(expr)
    if wf_ok != ours_ok:
        reason = explain(expr, wf_ok, ours_ok, message)
        assert reason is not None, (
            f"wirefilter {'accepts' if wf_ok else 'refuses'}, Botwarden "
            f"{'accepts' if ours_ok else 'refuses: ' + message}: {expr!r}"
        )
