"""Parse tree → checked tree: resolves fields and functions against the scheme, reads every
literal with the type it is compared to, and refuses what cannot work, with a caret at the
problem. The compilers only ever see checked trees."""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass

from botwarden.rules import patterns
from botwarden.rules.ast import (
    Call,
    Compare,
    CompareNode,
    Const,
    Expr,
    FieldRef,
    Index,
    IndexKey,
    IntSet,
    IpSet,
    IsTrue,
    ListRefNode,
    Lit,
    Logical,
    LogicalNode,
    Node,
    Not,
    NotNode,
    ParenNode,
    Regex,
    SetNode,
    Span,
    ValueNode,
    Wildcard,
    is_each,
)
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.functions import FUNCTIONS, FunctionDef
from botwarden.rules.parser import parse, regex_source, unescape_string
from botwarden.rules.scheme import FIELDS
from botwarden.rules.types import ARRAY_BOOL, ARRAY_BYTES, BOOL, BYTES, INT, IP, Type, array_of

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
_BYTE_STRING = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+")
_DECIMAL = re.compile(r"-?[0-9]+")
_LIST_NAME = re.compile(r"[a-z0-9_]+")


def check(text: str) -> Expr:
    """Parse and type-check a rule expression; the result is Bool-typed."""
    return Checker(text).check(parse(text))


@dataclass(slots=True)
class _Arg:
    node: Node | Lit
    expr: Expr | None  # None for a literal
    mapped: bool = False

    @property
    def lit(self) -> Lit | None:
        return self.node if isinstance(self.node, Lit) else None

    @property
    def span(self) -> Span:
        return self.node.span


class Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, span: Span) -> RuleSyntaxError:
        return RuleSyntaxError(message, self.source, span[0], span[1])

    # -- logical structure ----------------------------------------------------------------

    def check(self, node: Node) -> Expr:
        e = self.expr(node)
        if e.type != BOOL:
            raise self.error(
                f"this expression yields {e.type}, not Bool: wrap element-wise comparisons "
                "([*]) in any(…) or all(…)",
                node.span,
            )
        return e

    def expr(self, node: Node) -> Expr:
        if isinstance(node, ParenNode):
            return self.expr(node.inner)
        if isinstance(node, NotNode):
            arg = self.expr(node.arg)
            return Not(arg.type, node.span, arg)
        if isinstance(node, LogicalNode):
            items = [self.expr(i) for i in node.items]
            first = items[0].type
            for item, item_node in zip(items[1:], node.items[1:], strict=True):
                ok = (first == BOOL and item.type == BOOL) or (
                    first.is_array and item.type.is_array
                )
                if not ok:
                    raise self.error(
                        f"cannot combine {first} with {item.type} using {node.op}",
                        item_node.span,
                    )
            return Logical(first, node.span, node.op, items)
        return self.compare(node)

    # -- comparisons ----------------------------------------------------------------------

    def compare(self, node: CompareNode) -> Expr:
        lhs = self.value(node.lhs)
        each = is_each(lhs)
        t = lhs.type
        result = ARRAY_BOOL if each else BOOL
        if node.op is None:
            if t == BOOL:
                return IsTrue(result, node.span, lhs)
            if t == ARRAY_BOOL:
                if each:
                    raise self.error("this would yield Array<Array<Bool>>", node.span)
                return IsTrue(ARRAY_BOOL, node.span, lhs)
            end = node.lhs.span[1]
            raise self.error(
                f"expected a comparison operator after this {t} value "
                "(eq, ne, lt, le, gt, ge, contains, matches, wildcard, in…)",
                (end, end + 1),
            )
        op = node.op
        if t in (BOOL, ARRAY_BOOL):
            raise self.error(
                f"a {t} value takes no comparison operator: use it alone, or negate it with not",
                node.op_span,
            )
        if t.is_container:
            raise self.error(
                f'cannot compare a whole {t}: pick one element with [0] or ["name"], '
                "or every element with [*]",
                node.op_span,
            )
        rhs = node.rhs
        assert rhs is not None
        value: object
        if op in ("eq", "ne", "lt", "le", "gt", "ge"):
            assert isinstance(rhs, Lit)
            value = self.literal(t, rhs)
        elif op == "contains":
            self.need_op_type(t, BYTES, "contains", node.op_span)
            assert isinstance(rhs, Lit)
            value = self.read_bytes(rhs)
        elif op == "matches":
            self.need_op_type(t, BYTES, "matches", node.op_span)
            assert isinstance(rhs, Lit)
            try:
                value = Regex(patterns.check_regex(regex_source(rhs)))
            except ValueError as exc:
                raise self.error(f"invalid regular expression: {exc}", rhs.span) from None
        elif op in ("wildcard", "strict_wildcard"):
            self.need_op_type(t, BYTES, op.replace("_", " "), node.op_span)
            assert isinstance(rhs, Lit)
            if rhs.kind == "bare":
                raise self.error('expected a string ("…" or r"…")', rhs.span)
            pattern = unescape_string(rhs, self.source)
            strict = op == "strict_wildcard"
            try:
                value = Wildcard(pattern, strict, patterns.wildcard_regex(pattern, strict))
            except ValueError as exc:
                raise self.error(f"invalid wildcard: {exc}", rhs.span) from None
            op = "wildcard"
        elif op == "in":
            assert isinstance(rhs, SetNode)
            value = self.set_value(t, rhs)
        elif op == "in_list":
            assert isinstance(rhs, ListRefNode)
            if t not in (IP, BYTES, INT):
                raise self.error(f"cannot look up a {t} in a list", node.op_span)
            if not _LIST_NAME.fullmatch(rhs.name):
                raise self.error(
                    "invalid list name: use lower-case letters, digits and _ after $", rhs.span
                )
            value = rhs.name
        elif op == "bitand":
            self.need_op_type(t, INT, "&", node.op_span)
            assert isinstance(rhs, Lit)
            value = self.read_int(rhs)
        else:  # pragma: no cover - the grammar has no other operator
            raise self.error(f"unknown operator {op}", node.op_span)
        return Compare(result, node.span, lhs, op, value)

    def need_op_type(self, t: Type, want: Type, op: str, span: Span) -> None:
        if t != want:
            raise self.error(f"cannot use {op} on a {t} value", span)

    # -- values ---------------------------------------------------------------------------

    def value(self, node: ValueNode) -> Expr:
        base: Expr
        if node.args is None:
            fd = FIELDS.get(node.name)
            if fd is None:
                raise self.error(self._unknown_name(node.name), node.name_span)
            base = FieldRef(fd.type, node.name_span, fd)
        else:
            base = self.call(node)
        if not node.indexes:
            return base
        t = base.type
        keys: list[IndexKey] = []
        for ix in node.indexes:
            if ix.key is None:
                if not t.is_container:
                    raise self.error(f"cannot use [*] on a {t} value", ix.span)
            elif isinstance(ix.key, int):
                if not t.is_array:
                    raise self.error(f"cannot use [{ix.key}] on a {t} value", ix.span)
            elif not t.is_map:
                raise self.error(f'cannot use ["…"] on a {t} value', ix.span)
            t = t.element()
            keys.append(ix.key)
        return Index(t, (base.span[0], node.indexes[-1].span[1]), base, keys)

    def _unknown_name(self, name: str) -> str:
        if name in FUNCTIONS:
            return f"{name} is a function: call it as {name}(…)"
        close = difflib.get_close_matches(name, list(FIELDS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown field {name!r}{hint}"

    # -- function calls -------------------------------------------------------------------

    def call(self, node: ValueNode) -> Call:
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            close = difflib.get_close_matches(node.name, list(FUNCTIONS), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.error(f"unknown function {node.name!r}{hint}", node.name_span)
        assert node.args is not None
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            if fn.max_args is None:
                want = f"at least {fn.min_args}"
            elif fn.max_args == fn.min_args:
                want = str(fn.min_args)
            else:
                want = f"{fn.min_args} to {fn.max_args}"
            raise self.error(
                f"{fn.name} takes {want} argument{'s' if want != '1' else ''}, not {n}: "
                f"{fn.signature}",
                node.span,
            )
        args = [self.arg(a, i) for i, a in enumerate(node.args)]
        for a in args[1:]:
            if a.mapped:
                raise self.error("[*] is only allowed in the first argument of a function", a.span)
        ret, consts, data = self.check_call(fn, args)
        mapped = bool(args) and args[0].mapped
        exprs = list(consts)
        return Call(array_of(ret) if mapped else ret, node.span, fn, exprs, mapped, data)

    def arg(self, node: Node | Lit, index: int) -> _Arg:
        if isinstance(node, Lit):
            return _Arg(node, None)
        if isinstance(node, CompareNode) and node.op is None:
            v = self.value(node.lhs)
            return _Arg(node, v, is_each(v))
        return _Arg(node, self.expr(node))

    def _arg_type(self, a: _Arg) -> Type:
        assert a.expr is not None
        return a.expr.type

    def var(self, fn: FunctionDef, a: _Arg, i: int, *want: Type, desc: str = "") -> Expr:
        """A field-kind argument (not a literal) of one of the wanted types."""
        if a.expr is None:
            raise self.error(
                f"argument {i + 1} of {fn.name} must be a field or expression, not a literal",
                a.span,
            )
        t = a.expr.type
        if want and t not in want:
            names = desc or " or ".join(str(w) for w in want)
            raise self.error(f"argument {i + 1} of {fn.name} must be {names}, not {t}", a.span)
        return a.expr

    def lit_bytes(self, fn: FunctionDef, a: _Arg, i: int) -> str:
        lit = a.lit
        if lit is None:
            raise self.error(f"argument {i + 1} of {fn.name} must be a literal string", a.span)
        if lit.kind == "bare":
            raise self.error(
                f'argument {i + 1} of {fn.name} must be a string ("…" or r"…")', a.span
            )
        return unescape_string(lit, self.source)

    def lit_int(
        self, fn: FunctionDef, a: _Arg, i: int, lo: int = I64_MIN, hi: int = I64_MAX
    ) -> int:
        lit = a.lit
        if lit is None or lit.kind != "bare":
            raise self.error(f"argument {i + 1} of {fn.name} must be a literal integer", a.span)
        v = self.read_int(lit)
        if not lo <= v <= hi:
            raise self.error(f"argument {i + 1} of {fn.name} must be between {lo} and {hi}", a.span)
        return v

    def const(self, value: str | int, t: Type, a: _Arg) -> Const:
        return Const(t, a.span, value)

    def check_call(self, fn: FunctionDef, args: list[_Arg]) -> tuple[Type, list[Expr], object]:
        name = fn.name
        if name in ("any", "all"):
            return BOOL, [self.var(fn, args[0], 0, ARRAY_BOOL)], None
        if name in ("lower", "upper", "decode_base64"):
            return BYTES, [self.var(fn, args[0], 0, BYTES)], None
        if name == "len":
            arg0 = self.var(fn, args[0], 0)
            if arg0.type != BYTES and not arg0.type.is_array:
                raise self.error(f"len takes Bytes or an Array, not {arg0.type}", args[0].span)
            return INT, [arg0], None
        if name in ("starts_with", "ends_with", "contains"):
            first = self.var(fn, args[0], 0, BYTES)
            second = args[1]
            if second.expr is None:
                return BOOL, [first, self.const(self.lit_bytes(fn, second, 1), BYTES, second)], None
            return BOOL, [first, self.var(fn, second, 1, BYTES)], None
        if name == "concat":
            out: list[Expr] = []
            t: Type | None = None
            for i, a in enumerate(args):
                e: Expr
                if a.expr is None:
                    e = self.const(self.lit_bytes(fn, a, i), BYTES, a)
                else:
                    e = a.expr
                    if e.type != BYTES and not e.type.is_array:
                        raise self.error(f"concat takes strings or arrays, not {e.type}", a.span)
                if t is None:
                    t = e.type
                elif e.type != t:
                    raise self.error(
                        f"argument {i + 1} of concat is {e.type} but the first is {t}", a.span
                    )
                out.append(e)
            assert t is not None
            return t, out, None
        if name == "cidr":
            ip = self.var(fn, args[0], 0, IP)
            v4 = self.lit_int(fn, args[1], 1, 1, 32)
            v6 = self.lit_int(fn, args[2], 2, 1, 128)
            return IP, [ip, self.const(v4, INT, args[1]), self.const(v6, INT, args[2])], None
        if name == "cidr6":
            ip = self.var(fn, args[0], 0, IP)
            v6 = self.lit_int(fn, args[1], 1, 1, 128)
            return IP, [ip, self.const(v6, INT, args[1])], None
        if name == "url_decode":
            src = self.var(fn, args[0], 0, BYTES)
            exprs: list[Expr] = [src]
            if len(args) > 1:
                opts = self.lit_bytes(fn, args[1], 1)
                if not set(opts) <= {"r", "u"}:
                    raise self.error('url_decode options are "r", "u" or "ru"', args[1].span)
                exprs.append(self.const(opts, BYTES, args[1]))
            return BYTES, exprs, None
        if name in ("lookup_json_string", "lookup_json_integer"):
            src = self.var(fn, args[0], 0, BYTES)
            exprs = [src]
            for i, a in enumerate(args[1:], start=1):
                lit = a.lit
                if lit is None:
                    raise self.error(
                        f"argument {i + 1} of {name} must be a literal key or position", a.span
                    )
                if lit.kind == "bare":
                    exprs.append(self.const(self.lit_int(fn, a, i, 0, 2**31 - 1), INT, a))
                else:
                    exprs.append(self.const(unescape_string(lit, self.source), BYTES, a))
            return (BYTES if name.endswith("string") else INT), exprs, None
        if name == "regex_replace":
            src = self.var(fn, args[0], 0, BYTES)
            pattern = self.lit_bytes(fn, args[1], 1)
            try:
                norm = patterns.check_regex(pattern)
                groups = patterns.compile_re2(norm).groups
            except ValueError as exc:
                raise self.error(f"invalid regular expression: {exc}", args[1].span) from None
            repl = self.lit_bytes(fn, args[2], 2)
            try:
                template = patterns.parse_replacement(repl, groups)
            except ValueError as exc:
                raise self.error(str(exc), args[2].span) from None
            return (
                BYTES,
                [src, self.const(pattern, BYTES, args[1]), self.const(repl, BYTES, args[2])],
                (norm, template),
            )
        if name == "wildcard_replace":
            src = self.var(fn, args[0], 0, BYTES)
            pattern = self.lit_bytes(fn, args[1], 1)
            flags = ""
            if len(args) > 3:
                flags = self.lit_bytes(fn, args[3], 3)
                if flags not in ("", "s"):
                    raise self.error('the only wildcard_replace flag is "s"', args[3].span)
            try:
                rx = patterns.wildcard_regex(pattern, flags == "s", capture=True)
                stars = patterns.wildcard_stars(pattern)
            except ValueError as exc:
                raise self.error(f"invalid wildcard: {exc}", args[1].span) from None
            repl = self.lit_bytes(fn, args[2], 2)
            try:
                template = patterns.parse_replacement(repl, stars)
            except ValueError as exc:
                raise self.error(str(exc), args[2].span) from None
            exprs = [src, self.const(pattern, BYTES, args[1]), self.const(repl, BYTES, args[2])]
            return BYTES, exprs, (rx, template)
        if name == "remove_bytes":
            src = self.var(fn, args[0], 0, BYTES)
            return BYTES, [src, self.const(self.lit_bytes(fn, args[1], 1), BYTES, args[1])], None
        if name == "remove_query_args":
            src = self.var(fn, args[0], 0, BYTES)
            names = [
                self.const(self.lit_bytes(fn, a, i), BYTES, a)
                for i, a in enumerate(args[1:], start=1)
            ]
            return BYTES, [src, *names], None
        if name == "substring":
            src = self.var(fn, args[0], 0, BYTES)
            exprs = [src, self.const(self.lit_int(fn, args[1], 1), INT, args[1])]
            if len(args) > 2:
                exprs.append(self.const(self.lit_int(fn, args[2], 2), INT, args[2]))
            return BYTES, exprs, None
        if name == "to_string":
            return BYTES, [self.var(fn, args[0], 0, INT, BOOL, IP)], None
        if name == "split":
            src = self.var(fn, args[0], 0, BYTES)
            sep = self.lit_bytes(fn, args[1], 1)
            if not sep:
                raise self.error("the separator of split must not be empty", args[1].span)
            limit = self.lit_int(fn, args[2], 2, 1, 128)
            return (
                ARRAY_BYTES,
                [src, self.const(sep, BYTES, args[1]), self.const(limit, INT, args[2])],
                None,
            )
        if name == "join":
            src = self.var(fn, args[0], 0, ARRAY_BYTES)
            return BYTES, [src, self.const(self.lit_bytes(fn, args[1], 1), BYTES, args[1])], None
        if name == "has_key":
            src = self.var(fn, args[0], 0)
            if not src.type.is_map:
                raise self.error(f"has_key takes a Map, not {src.type}", args[0].span)
            return BOOL, [src, self.const(self.lit_bytes(fn, args[1], 1), BYTES, args[1])], None
        if name == "has_value":
            src = self.var(fn, args[0], 0, ARRAY_BYTES)
            return BOOL, [src, self.const(self.lit_bytes(fn, args[1], 1), BYTES, args[1])], None
        raise self.error(f"function {name} is not implemented", args[0].span)  # pragma: no cover

    # -- literals -------------------------------------------------------------------------

    def literal(
        self, t: Type, lit: Lit
    ) -> str | int | ipaddress.IPv4Address | ipaddress.IPv6Address:
        if t == BYTES:
            return self.read_bytes(lit)
        if t == INT:
            return self.read_int(lit)
        if t == IP:
            return self.read_ip(lit)
        raise self.error(f"cannot compare a {t} value", lit.span)  # pragma: no cover

    def read_bytes(self, lit: Lit) -> str:
        if lit.kind in ("string", "raw"):
            return unescape_string(lit, self.source)
        if _BYTE_STRING.fullmatch(lit.text) is None:
            raise self.error(
                'expected a string ("…" or r"…") or a byte string like 41:42:43', lit.span
            )
        data = bytes(int(lit.text[i : i + 2], 16) for i in range(0, len(lit.text), 3))
        return data.decode("utf-8", "surrogateescape")

    def read_int(self, lit: Lit) -> int:
        if lit.kind != "bare":
            raise self.error("expected an integer, not a string", lit.span)
        v = parse_int(lit.text)
        if v is None:
            raise self.error(f"invalid integer {lit.text!r}", lit.span)
        if not I64_MIN <= v <= I64_MAX:
            raise self.error("integer does not fit in 64 bits", lit.span)
        return v

    def read_ip(self, lit: Lit) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if lit.kind != "bare":
            raise self.error("expected an IP address, not a string (no quotes)", lit.span)
        ip = parse_ip(lit.text)
        if ip is None:
            raise self.error(f"invalid IP address {lit.text!r}", lit.span)
        return ip

    def set_value(self, t: Type, node: SetNode) -> object:
        if t == BYTES:
            return frozenset(self.read_bytes(i) for i in node.items)
        if t == INT:
            values: set[int] = set()
            ranges: list[tuple[int, int]] = []
            for item in node.items:
                if item.kind != "bare":
                    raise self.error("expected an integer or a range like 1..5", item.span)
                if ".." in item.text:
                    lo_t, _, hi_t = item.text.partition("..")
                    lo, hi = parse_int(lo_t), parse_int(hi_t)
                    if lo is None or hi is None:
                        raise self.error(f"invalid integer range {item.text!r}", item.span)
                    if hi < lo:
                        raise self.error("the range ends before it starts", item.span)
                    if not (lo >= I64_MIN and hi <= I64_MAX):
                        raise self.error("integer does not fit in 64 bits", item.span)
                    if lo == hi:
                        values.add(lo)
                    else:
                        ranges.append((lo, hi))
                else:
                    values.add(self.read_int(item))
            return IntSet(frozenset(values), tuple(sorted(ranges)))
        if t == IP:
            v4: list[tuple[int, int]] = []
            v6: list[tuple[int, int]] = []
            for item in node.items:
                if item.kind != "bare":
                    raise self.error("expected an IP address or network (no quotes)", item.span)
                r = parse_ip_range(item.text)
                if isinstance(r, str):
                    raise self.error(r, item.span)
                version, lo, hi = r
                (v4 if version == 4 else v6).append((lo, hi))
            return IpSet(tuple(_merge(v4)), tuple(_merge(v6)))
        raise self.error(f"cannot use in on a {t} value", node.span)  # pragma: no cover


def parse_int(text: str) -> int | None:
    """Integers as wirefilter reads them: decimal (optionally negative), 0x hex, 0 octal."""
    if text.startswith("0x"):
        digits = text[2:]
        if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits):
            return None
        return int(digits, 16)
    if text.startswith("0"):
        if not all(c in "01234567" for c in text):
            return None
        return int(text, 8)
    if _DECIMAL.fullmatch(text) is None:
        return None
    return int(text)


_IP_CHARS = re.compile(r"[0-9A-Fa-f:.]+")


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if _IP_CHARS.fullmatch(text) is None:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_network_address(
    text: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address inside a set or before a /len, read as wirefilter's cidr crate does: a
    normal address, or a short IPv4 form ("10", "10.1", "010.1.2.3": missing octets are
    zero, decimal octets may have leading zeros)."""
    ip = parse_ip(text)
    if ip is not None:
        return ip
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    octets = []
    for part in parts:
        if not part or not part.isdigit() or not part.isascii() or int(part) > 255:
            return None
        octets.append(int(part))
    octets += [0] * (4 - len(octets))
    return ipaddress.IPv4Address(bytes(octets))


def parse_ip_range(text: str) -> tuple[int, int, int] | str:
    """(version, first, last) of an address, a network (host bits must be zero) or an
    inclusive range a..b; or an error message."""
    if ".." in text:
        a_t, _, b_t = text.partition("..")
        a, b = parse_ip(a_t), parse_ip(b_t)
        if a is None or b is None:
            return f"invalid IP range {text!r}"
        if a.version != b.version or int(b) < int(a):
            return "incompatible range bounds"
        return a.version, int(a), int(b)
    if "/" in text:
        addr_t, _, bits_t = text.rpartition("/")
        addr = parse_network_address(addr_t)
        if addr is None:
            return f"invalid IP address {addr_t!r}"
        if not bits_t.isdigit() or not bits_t.isascii():
            return f"invalid network length {bits_t!r}"
        bits = int(bits_t)
        width = 32 if addr.version == 4 else 128
        if bits > width:
            return f"network length {bits} is too long for IPv{addr.version} (maximum {width})"
        net = ipaddress.ip_network((addr, bits), strict=False)
        if net.network_address != addr:
            return "host part of the address is not zero (did you mean a network address?)"
        return addr.version, int(net.network_address), int(net.broadcast_address)
    ip = parse_network_address(text)
    if ip is None:
        return f"invalid IP address {text!r}"
    return ip.version, int(ip), int(ip)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
