"""Checked tree → a parameterised SQL boolean expression (the body of a WHERE clause) over
the analytics events table, in the DuckDB or the ClickHouse dialect.

Every value from the rule is a bound parameter: DuckDB `$1, $2…` (params is a list),
ClickHouse `{p1:String}…` (params is a dict). Each comparison is wrapped so that an absent
value (SQL NULL) compares false, exactly as at the edge: the Python predicate and both SQL
dialects select the same rows. IP addresses are compared through the `ip_key` column
("4" + 8 hex digits or "6" + 32 hex digits), which makes a network a string range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botwarden.rules import patterns
from botwarden.rules.ast import (
    Call,
    Compare,
    Const,
    Expr,
    FieldRef,
    Index,
    IntSet,
    IpSet,
    IsTrue,
    Logical,
    Not,
    Regex,
    Wildcard,
    fields_used,
    is_each,
    is_nullable,
)
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.lists import ASNList, HostnameList, IPList, NamedList
from botwarden.rules.runtime import URL_DECODE_ROUNDS, ip_key
from botwarden.rules.scheme import DIALECTS
from botwarden.rules.types import ARRAY_BOOL, BOOL, BYTES, INT, IP

_B64_RE = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_HEX = "'0123456789abcdef'"
_UPPER = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"
_LOWER = "'abcdefghijklmnopqrstuvwxyz'"
_NEVER = "(1 = 0)"


def join_logical(op: str, items: list[str]) -> str:
    """SQL of a scalar `and` / `or` / `xor` of boolean SQL terms (xor as a chain of `<>`)."""
    if op == "xor":
        out = items[0]
        for item in items[1:]:
            out = f"({out} <> {item})"
        return out
    return "(" + f" {op.upper()} ".join(items) + ")"


@dataclass(frozen=True, slots=True)
class SqlFilter:
    """A WHERE-clause body and its bound parameters."""

    sql: str
    params: list[Any] | dict[str, Any]
    dialect: str
    fields: tuple[str, ...] = field(default=())

    def clickhouse_text_params(self) -> dict[str, str]:
        """Parameters in ClickHouse's text form, for clients that send them as text
        (chdb, the HTTP interface's param_* arguments)."""
        assert isinstance(self.params, dict)
        return {k: clickhouse_param_text(v) for k, v in self.params.items()}


def clickhouse_param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _ch_escape(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_ch_quote(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} as a ClickHouse parameter")


def _ch_escape(s: str) -> str:
    return (
        s.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


def _ch_quote(v: Any) -> str:
    if isinstance(v, str):
        return "'" + _ch_escape(v).replace("'", "\\'") + "'"
    return str(int(v))


def to_sql(
    expr: Expr,
    dialect: str = "duckdb",
    *,
    source: str = "",
    lists: Mapping[str, NamedList] | None = None,
) -> SqlFilter:
    """Compile a checked, Bool-typed tree. Raises RuleSyntaxError (with a caret) for a
    field analytics does not store or a construct SQL cannot express."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    gen = _SqlGen(dialect, source, lists or {})
    sql = gen.bool_(expr)
    params: list[Any] | dict[str, Any]
    if dialect == "duckdb":
        params = list(gen.values)
    else:
        params = {f"p{i + 1}": v for i, v in enumerate(gen.values)}
    return SqlFilter(sql, params, dialect, tuple(fields_used(expr)))


class _SqlGen:
    def __init__(self, dialect: str, source: str, lists: Mapping[str, NamedList]) -> None:
        self.ch = dialect == "clickhouse"
        self.dialect = dialect
        self.source = source
        self.lists = lists
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}
        self.n = 0

    def error(self, message: str, e: Expr) -> RuleSyntaxError:
        return RuleSyntaxError(message, self.source or " ", e.span[0], e.span[1])

    # -- parameters -----------------------------------------------------------------------

    def p(self, value: Any) -> str:
        """A placeholder bound to `value` (str, int, bool, or a list of str or int)."""
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("byte strings that are not UTF-8 cannot be used in SQL") from None
        key = (type(value).__name__, tuple(value) if isinstance(value, list) else value)
        i = self._index.get(key)
        if i is None:
            self.values.append(value)
            i = self._index[key] = len(self.values)
        if not self.ch:
            if isinstance(value, list):
                inner = "BIGINT" if value and isinstance(value[0], int) else "VARCHAR"
                return f"CAST(${i} AS {inner}[])"
            if isinstance(value, bool):
                return f"CAST(${i} AS BOOLEAN)"
            if isinstance(value, int):
                return f"CAST(${i} AS BIGINT)"
            return f"${i}"
        if isinstance(value, bool):
            t = "Bool"
        elif isinstance(value, int):
            t = "Int64"
        elif isinstance(value, list):
            t = "Array(Int64)" if value and isinstance(value[0], int) else "Array(String)"
        else:
            t = "String"
        return f"{{p{i}:{t}}}"

    def var(self) -> str:
        self.n += 1
        return f"_e{self.n}"

    # -- dialect helpers ------------------------------------------------------------------

    def lam_map(self, var: str, body: str, arr: str) -> str:
        if self.ch:
            return f"arrayMap({var} -> {body}, {arr})"
        return f"list_transform({arr}, lambda {var}: {body})"

    def lam_filter(self, var: str, body: str, arr: str) -> str:
        if self.ch:
            return f"arrayFilter({var} -> {body}, {arr})"
        return f"list_filter({arr}, lambda {var}: {body})"

    def length(self, x: str) -> str:
        return f"toInt64(length({x}))" if self.ch else f"len({x})"

    def strlen(self, x: str) -> str:
        return f"toInt64(length({x}))" if self.ch else f"strlen({x})"

    def substr(self, s: str, start: str, n: str) -> str:
        return f"substring({s}, {start}, {n})" if self.ch else f"substr({s}, {start}, {n})"

    def concat(self, *parts: str) -> str:
        if self.ch:
            return f"concat({', '.join(parts)})"
        return "(" + " || ".join(parts) + ")"

    def bitand(self, a: str, b: str) -> str:
        return f"bitAnd({a}, {b})" if self.ch else f"({a} & {b})"

    def hexval(self, c: str) -> str:
        return f"(position({_HEX}, {c}) - 1)" if self.ch else f"(strpos({_HEX}, {c}) - 1)"

    def regex_match(self, x: str, pattern: str) -> str:
        p = self.p(pattern)
        return f"match({x}, {p})" if self.ch else f"regexp_matches({x}, {p})"

    def not_null(self, x: str) -> str:
        return f"coalesce({x}, false)"

    # -- values ---------------------------------------------------------------------------

    def value(self, e: Expr) -> str:
        if isinstance(e, FieldRef):
            sql = e.field.sql_expr(self.dialect)
            if sql is None:
                raise self.error(
                    f"{e.field.name} is not stored in analytics, so this expression cannot "
                    "filter stored traffic",
                    e,
                )
            return sql
        if isinstance(e, Const):
            if e.type == IP:
                return self.p(ip_key(e.value))  # type: ignore[arg-type]
            return self.p(e.value)
        if isinstance(e, Index):
            return self.index(e)
        if isinstance(e, Call):
            return self.call(e)
        return self.bool_(e)

    def index(self, e: Index) -> str:
        base = self.value(e.base)
        if e.is_each:
            if e.keys != [None] or not e.base.type.is_array:
                raise self.error("this use of [*] cannot be expressed in SQL", e)
            return base
        cur = base
        t = e.base.type
        for k in e.keys:
            if not isinstance(k, int) or not t.is_array:
                raise self.error("this index cannot be expressed in SQL", e)
            pos = self.p(k + 1)
            if self.ch:
                cur = f"if({self.length(cur)} >= {pos}, {cur}[{pos}], NULL)"
            else:
                cur = f"{cur}[{pos}]"
            t = t.element()
        return cur

    def call(self, e: Call) -> str:
        if e.mapped:
            var = self.var()
            stream = self.value(e.args[0])
            body = self.call_on(e, var)
            out = self.var()
            return self.lam_filter(out, f"{out} IS NOT NULL", self.lam_map(var, body, stream))
        return self.call_on(e, self.value(e.args[0]))

    def call_on(self, e: Call, x: str) -> str:
        """The SQL of function `e` applied to first argument `x`."""
        name = e.func.name
        args = e.args
        ch = self.ch

        def const(i: int) -> Any:
            c = args[i]
            assert isinstance(c, Const)
            return c.value

        if name in ("any", "all"):
            b = self.var()
            if name == "any":
                if ch:
                    return f"arrayExists({b} -> {b}, {x})"
                return f"(len({self.lam_filter(b, b, x)}) > 0)"
            if ch:
                return f"arrayAll({b} -> {b}, {x})"
            return f"(len({self.lam_filter(b, f'NOT {b}', x)}) = 0)"
        if name in ("lower", "upper"):
            if ch:
                return f"{name}({x})"
            frm, to = (_UPPER, _LOWER) if name == "lower" else (_LOWER, _UPPER)
            return f"translate({x}, {frm}, {to})"
        if name == "len":
            return self.strlen(x) if args[0].type == BYTES else self.length(x)
        if name in ("starts_with", "ends_with", "contains"):
            y = self.value(args[1])
            if name == "contains":
                return f"(position({x}, {y}) > 0)" if ch else f"contains({x}, {y})"
            fn = {"starts_with": "startsWith", "ends_with": "endsWith"}[name] if ch else name
            return f"{fn}({x}, {y})"
        if name == "concat":
            items = [x, *(self.value(a) for a in args[1:])]
            if e.type == BYTES or (e.mapped and args[0].type == BYTES):
                return self.concat(*items)
            if ch:
                return f"arrayConcat({', '.join(items)})"
            return f"list_concat({', '.join(items)})"
        if name in ("cidr", "cidr6"):
            v4 = const(1) if name == "cidr" else 32
            v6 = const(2) if name == "cidr" else const(1)
            assert isinstance(v4, int)
            assert isinstance(v6, int)
            four = self.p("4")
            return (
                f"CASE WHEN substr({x}, 1, 1) = {four} THEN {self.mask(x, v4, 8)} "
                f"ELSE {self.mask(x, v6, 32)} END"
            )
        if name == "url_decode":
            opts = const(1) if len(args) > 1 else ""
            assert isinstance(opts, str)
            if "u" in opts:
                raise self.error('url_decode with the "u" option cannot be expressed in SQL', e)
            rounds = URL_DECODE_ROUNDS if "r" in opts else 1
            plus, space = self.p("+"), self.p(" ")
            cur = x
            for _ in range(rounds):
                if ch:
                    dec = f"decodeURLComponent(replaceAll({cur}, {plus}, {space}))"
                    cur = f"if(isValidUTF8({dec}), {dec}, NULL)"
                else:
                    cur = f"try(url_decode(replace({cur}, {plus}, {space})))"
            return cur
        if name == "decode_base64":
            re_ = self.p(_B64_RE)
            if ch:
                dec = f"tryBase64Decode({x})"
                return f"if(match({x}, {re_}) AND isValidUTF8({dec}), {dec}, NULL)"
            return f"CASE WHEN regexp_full_match({x}, {re_}) THEN try(decode(from_base64({x}))) END"
        if name in ("lookup_json_string", "lookup_json_integer"):
            keys = [const(i) for i in range(1, len(args))]
            want_str = name.endswith("string")
            if ch:
                ks = ", ".join(self.p(k + 1 if isinstance(k, int) else k) for k in keys)
                jt = f"JSONType({x}, {ks})"
                if want_str:
                    return (
                        f"if(isValidJSON({x}) AND {jt} = 'String', "
                        f"JSONExtractString({x}, {ks}), NULL)"
                    )
                return f"if(isValidJSON({x}) AND {jt} = 'Int64', JSONExtractInt({x}, {ks}), NULL)"
            path = "$" + "".join(
                f"[{k}]" if isinstance(k, int) else "." + json.dumps(k) for k in keys
            )
            ph = self.p(path)
            jt = f"json_type({x}, {ph})"
            if want_str:
                return (
                    f"CASE WHEN json_valid({x}) AND {jt} = 'VARCHAR' "
                    f"THEN json_extract_string({x}, {ph}) END"
                )
            return (
                f"CASE WHEN json_valid({x}) AND {jt} IN ('BIGINT', 'UBIGINT') "
                f"THEN TRY_CAST(json_extract_string({x}, {ph}) AS BIGINT) END"
            )
        if name in ("regex_replace", "wildcard_replace"):
            assert isinstance(e.data, tuple)
            pattern, template = e.data
            pp, rp = self.p(pattern), self.p(patterns.rewrite_string(template))
            if ch:
                return f"replaceRegexpOne({x}, {pp}, {rp})"
            return f"regexp_replace({x}, {pp}, {rp})"
        if name == "remove_bytes":
            chars = const(1)
            assert isinstance(chars, str)
            if not chars.isascii():
                raise self.error("remove_bytes with non-ASCII bytes cannot be expressed in SQL", e)
            if not chars:
                return x
            cls = self.p("[" + "".join(f"\\x{ord(c):02x}" for c in chars) + "]")
            if ch:
                return f"replaceRegexpAll({x}, {cls}, '')"
            return f"regexp_replace({x}, {cls}, '', 'g')"
        if name == "remove_query_args":
            names = self.p([const(i) for i in range(1, len(args))])
            q = self.var()
            amp, eq = self.p("&"), self.p("=")
            if ch:
                pieces = f"splitByString({amp}, {x})"
                kept = self.lam_filter(q, f"NOT has({names}, splitByString({eq}, {q})[1])", pieces)
                return f"if({x} IS NULL, NULL, arrayStringConcat({kept}, {amp}))"
            parts = f"string_split({x}, {amp})"
            kept = self.lam_filter(
                q, f"NOT list_contains({names}, split_part({q}, {eq}, 1))", parts
            )
            return f"array_to_string({kept}, {amp})"
        if name == "substring":
            start = const(1)
            end = const(2) if len(args) > 2 else None
            assert isinstance(start, int)
            n = self.strlen(x)
            s_sql = self.clamp(n, start)
            e_sql = n if end is None else self.clamp(n, int(end))
            return (
                f"CASE WHEN {e_sql} > {s_sql} THEN "
                f"{self.substr(x, f'{s_sql} + 1', f'{e_sql} - {s_sql}')} "
                f"ELSE {'substring(' + x + ', 1, 0)' if ch else 'substr(' + x + ', 1, 0)'} END"
            )
        if name == "to_string":
            t = args[0].type
            if t == INT:
                return f"toString({x})" if ch else f"CAST({x} AS VARCHAR)"
            if t == BOOL:
                return f"CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END"
            a0 = args[0]
            if isinstance(a0, FieldRef) and a0.field.name == "ip.src" and not e.mapped:
                return "client_ip"
            raise self.error("to_string of a computed IP address cannot be expressed in SQL", e)
        if name == "split":
            sep, limit = const(1), const(2)
            assert isinstance(limit, int)
            sp, lp = self.p(sep), self.p(limit)
            if ch:
                parts = f"splitByString({sp}, {x})"
                head = f"arraySlice({parts}, 1, {lp} - 1)"
                rest = f"arrayStringConcat(arraySlice({parts}, {lp}), {sp})"
                return f"if({self.length(parts)} <= {lp}, {parts}, arrayPushBack({head}, {rest}))"
            parts = f"string_split({x}, {sp})"
            head = f"{parts}[1:{lp} - 1]"
            rest = f"array_to_string({parts}[{lp}:], {sp})"
            return (
                f"CASE WHEN len({parts}) <= {lp} THEN {parts} ELSE list_append({head}, {rest}) END"
            )
        if name == "join":
            sp = self.value(args[1])
            return f"arrayStringConcat({x}, {sp})" if ch else f"array_to_string({x}, {sp})"
        if name == "has_value":
            v = self.value(args[1])
            return f"has({x}, {v})" if ch else f"list_contains({x}, {v})"
        raise self.error(f"{name}() cannot be expressed in SQL", e)

    def clamp(self, n: str, pos: int) -> str:
        """Python slice-index semantics: negative counts from the end, clamped to 0…n."""
        if pos >= 0:
            return f"least({n}, {self.p(pos)})"
        return f"greatest({n} - {self.p(-pos)}, 0)"

    def mask(self, key: str, bits: int, width: int) -> str:
        """The ip_key of the network containing `key` for a /bits prefix."""
        full, rem = divmod(bits, 4)
        parts = [self.substr(key, "1", self.p(1 + full))]
        if rem:
            digit = self.substr(key, self.p(2 + full), "1")
            masked = self.bitand(self.hexval(digit), self.p((0xF << (4 - rem)) & 0xF))
            parts.append(self.substr(_HEX, f"{masked} + 1", "1"))
        zeros = width - full - (1 if rem else 0)
        if zeros > 0:
            parts.append(f"repeat('0', {self.p(zeros)})")
        return self.concat(*parts)

    # -- booleans -------------------------------------------------------------------------

    def bool_(self, e: Expr) -> str:
        if isinstance(e, IsTrue):
            v = self.value(e.value)
            if e.type == ARRAY_BOOL or not is_nullable(e.value):
                return v
            return self.not_null(v)
        if isinstance(e, Not):
            inner = self.bool_(e.arg)
            if e.type == ARRAY_BOOL:
                b = self.var()
                return self.lam_map(b, f"NOT {b}", inner)
            return f"(NOT {inner})"
        if isinstance(e, Logical):
            items = [self.bool_(i) for i in e.items]
            if e.type.is_array:
                return self.vector_logic(e.op, items)
            return join_logical(e.op, items)
        if isinstance(e, Compare):
            return self.compare(e)
        raise NotImplementedError(type(e).__name__)  # pragma: no cover

    def vector_logic(self, op: str, items: list[str]) -> str:
        i = self.var()
        lens = [self.length(a) for a in items]
        n = f"least({', '.join(lens)})" if len(lens) > 1 else lens[0]
        elems = [f"{a}[{i}]" for a in items]
        if op == "xor":
            body = elems[0]
            for el in elems[1:]:
                body = f"({body} <> {el})"
        else:
            body = "(" + f" {op.upper()} ".join(elems) + ")"
        rng = f"range(1, {n} + 1)"
        return self.lam_map(i, body, rng)

    def compare(self, e: Compare) -> str:
        mark = len(self.values)
        if is_each(e.lhs):
            var = self.var()
            stream = self.value(e.lhs)
            return self.lam_map(var, self.cmp(var, e), stream)
        x = self.value(e.lhs)
        c = self.cmp(x, e)
        if c == _NEVER:
            # The value is not used after all: forget the parameters it bound.
            self.rollback(mark)
            return c
        return self.not_null(c) if is_nullable(e.lhs) else c

    def rollback(self, mark: int) -> None:
        for value in self.values[mark:]:
            key = (type(value).__name__, tuple(value) if isinstance(value, list) else value)
            self._index.pop(key, None)
        del self.values[mark:]

    def cmp(self, x: str, e: Compare) -> str:
        op, rhs = e.op, e.rhs
        t = e.lhs.type
        sym = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        if op in sym:
            if t == IP:
                key = ip_key(rhs)  # type: ignore[arg-type]
                kp = self.p(key)
                if op in ("eq", "ne"):
                    return f"({x} {sym[op]} {kp})"
                fam = self.p(key[0])
                return f"(substr({x}, 1, 1) = {fam} AND {x} {sym[op]} {kp})"
            return f"({x} {sym[op]} {self.p(rhs)})"
        if op == "contains":
            y = self.p(rhs)
            return f"(position({x}, {y}) > 0)" if self.ch else f"contains({x}, {y})"
        if op == "matches":
            assert isinstance(rhs, Regex)
            return self.regex_match(x, rhs.pattern)
        if op == "wildcard":
            assert isinstance(rhs, Wildcard)
            return self.regex_match(x, rhs.regex)
        if op == "in":
            return self.in_set(x, t, rhs)
        if op == "in_list":
            assert isinstance(rhs, str)
            lst = self.lists.get(rhs)
            if lst is None:
                raise self.error(f"list ${rhs} is not defined", e)
            return self.in_named_list(x, t, lst)
        if op == "bitand":
            return f"({self.bitand(x, self.p(rhs))} <> 0)"
        raise NotImplementedError(op)  # pragma: no cover

    def contains_any(self, x: str, values: list[Any]) -> str:
        arr = self.p(values)
        return f"has({arr}, {x})" if self.ch else f"list_contains({arr}, {x})"

    def in_set(self, x: str, t: Any, rhs: object) -> str:
        if isinstance(rhs, frozenset):
            if not rhs:
                return _NEVER
            return self.contains_any(x, sorted(rhs))
        if isinstance(rhs, IntSet):
            parts = []
            if rhs.values:
                parts.append(self.contains_any(x, sorted(rhs.values)))
            for lo, hi in rhs.ranges:
                parts.append(f"({x} BETWEEN {self.p(lo)} AND {self.p(hi)})")
            return "(" + " OR ".join(parts) + ")" if parts else _NEVER
        if isinstance(rhs, IpSet):
            return self.ip_ranges(x, rhs.v4, rhs.v6)
        raise NotImplementedError(type(rhs).__name__)  # pragma: no cover

    def ip_ranges(
        self, x: str, v4: tuple[tuple[int, int], ...], v6: tuple[tuple[int, int], ...]
    ) -> str:
        parts = []
        for lo, hi in v4:
            lo_k, hi_k = f"4{lo:08x}", f"4{hi:08x}"
            if lo == hi:
                parts.append(f"({x} = {self.p(lo_k)})")
            else:
                parts.append(f"({x} BETWEEN {self.p(lo_k)} AND {self.p(hi_k)})")
        for lo, hi in v6:
            lo_k, hi_k = f"6{lo:032x}", f"6{hi:032x}"
            if lo == hi:
                parts.append(f"({x} = {self.p(lo_k)})")
            else:
                parts.append(f"({x} BETWEEN {self.p(lo_k)} AND {self.p(hi_k)})")
        return "(" + " OR ".join(parts) + ")" if parts else _NEVER

    def in_named_list(self, x: str, t: Any, lst: NamedList) -> str:
        if isinstance(lst, IPList) and t == IP:
            return self.ip_ranges(x, tuple(lst.v4), tuple(lst.v6))
        if isinstance(lst, ASNList) and t == INT:
            return self.contains_any(x, sorted(lst.values)) if lst.values else _NEVER
        if isinstance(lst, HostnameList) and t == BYTES:
            parts = []
            if lst.exact:
                parts.append(self.contains_any(x, sorted(lst.exact)))
            for suffix in lst.suffixes:
                fn = "endsWith" if self.ch else "ends_with"
                parts.append(f"{fn}({x}, {self.p(suffix)})")
            return "(" + " OR ".join(parts) + ")" if parts else _NEVER
        return _NEVER


__all__ = ["SqlFilter", "clickhouse_param_text", "join_logical", "to_sql"]
