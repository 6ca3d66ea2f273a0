"""Checked tree → one flat Python function `rule(inp: RuleInput) -> bool`.

The function is generated as source and compiled once, so evaluating a rule costs a single
call: fields become attribute reads (`bm.score`, `ctx.host`) and literals constants. Only
the fields a rule names are read; RequestContext derives the rest lazily, never.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from botwarden.rules import patterns, runtime
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
    is_each,
    is_nullable,
    walk,
)
from botwarden.rules.types import ARRAY_BOOL, IP

if TYPE_CHECKING:
    from botwarden.rules.evalctx import RuleInput

Predicate = Callable[["RuleInput"], bool]

_TEMP = re.compile(r"_[te][0-9]+")
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_GEN_IDS = itertools.count(1)
_INLINE_OPS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_SIMPLE_FUNCS = {
    "lower",
    "upper",
    "len",
    "starts_with",
    "ends_with",
    "contains",
    "concat",
    "cidr",
    "cidr6",
    "url_decode",
    "decode_base64",
    "lookup_json_string",
    "lookup_json_integer",
    "remove_query_args",
    "substring",
    "to_string",
    "split",
    "join",
    "has_key",
    "has_value",
    "any",
    "all",
}


class _Gen:
    def __init__(self, *, group_regexes: bool = False, cse: set[str] | None = None) -> None:
        self.ns: dict[str, Any] = {"_rt": runtime}
        # Values several expressions share (by structure), computed once per request.
        self.cse = cse or set()
        self.uses_cache = False
        # Keys in RuleInput.cache must never collide between two compiled phases.
        self.uid = next(_GEN_IDS)
        self.memo_fns: dict[str, str] = {}
        self.thunks: list[str] = []
        self.n = 0
        self.uses_ctx = False
        self.uses_bm = False
        # Inside a comprehension an assignment expression is not allowed (in its iterable)
        # or would be wrong (in its element): there, absent values go through helpers.
        self.comp = 0
        self.group_regexes = group_regexes
        self.groups: dict[str, tuple[str, runtime.RegexGroup]] = {}

    def const(self, value: object) -> str:
        if isinstance(value, bool | int | str) or value is None:
            return repr(value)
        self.n += 1
        name = f"_c{self.n}"
        self.ns[name] = value
        return name

    def var(self, prefix: str = "_e") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def finish(self) -> None:
        for _, group in self.groups.values():
            group.compile(patterns.compile_re2, patterns.REGEX_MAX_MEM)

    # -- values ---------------------------------------------------------------------------

    def value(self, e: Expr) -> str:
        if self.cse and isinstance(e, Call | Index):
            key = expr_key(e)
            if key in self.cse:
                return self.memoized(key, e)
        return self.value_raw(e)

    def memoized(self, key: str, e: Expr) -> str:
        name = self.memo_fns.get(key)
        if name is None:
            saved = self.comp
            self.comp = 0
            try:
                src = self.value_raw(e)
            finally:
                self.comp = saved
            name = self.var("_m")
            self.memo_fns[key] = name
            self.thunks.append(
                f"def {name}(inp):\n    ctx = inp.ctx\n    bm = inp.bm\n    cache = inp.cache\n"
                f"    return {src}\n"
            )
        self.uses_cache = True
        k = self.const(f"cse{self.uid}{name}")
        return f"(cache[{k}] if {k} in cache else _rt.memo(inp, {k}, {name}))"

    def value_raw(self, e: Expr) -> str:
        if isinstance(e, FieldRef):
            py = e.field.py
            self.uses_ctx |= "ctx." in py or "ctx)" in py
            self.uses_bm |= "bm." in py
            return py
        if isinstance(e, Const):
            return self.const(e.value)
        if isinstance(e, Index):
            if e.is_each:
                return self.stream(e)
            return self.index(e)
        if isinstance(e, Call):
            return self.call(e)
        return self.bool_(e)

    def index(self, e: Index) -> str:
        base = self.value(e.base)
        keys = e.keys
        nullable = is_nullable(e.base)
        if len(keys) == 1 and isinstance(keys[0], str) and not nullable:
            return f"{base}.get({keys[0]!r})"
        if len(keys) == 1 and isinstance(keys[0], int):
            return f"_rt.at({base}, {keys[0]})"
        if len(keys) == 2 and isinstance(keys[0], str) and isinstance(keys[1], int):
            return f"_rt.get_ki({base}, {keys[0]!r}, {keys[1]})"
        return f"_rt.get_path({base}, {self.const(tuple(keys))})"

    def stream(self, e: Index) -> str:
        """An iterable of the elements an each-index ([*]) stands for."""
        self.comp += 1
        try:
            base = self.value(e.base)
        finally:
            self.comp -= 1
        if e.keys == [None] and e.base.type.is_array:
            return f"({base} or ())" if is_nullable(e.base) else base
        return f"_rt.each({base}, {self.const(tuple(e.keys))})"

    def call(self, e: Call) -> str:
        name = e.func.name
        args = e.args
        if name == "regex_replace":
            assert isinstance(e.data, tuple)
            norm, template = e.data
            extra = [self.const(patterns.compile_re2(norm)), self.const(template)]
            fn = "_rt.f_regex_replace"
        elif name == "wildcard_replace":
            assert isinstance(e.data, tuple)
            rx, template = e.data
            extra = [self.const(patterns.compile_re2(rx)), self.const(template)]
            fn = "_rt.f_wildcard_replace"
        elif name == "remove_bytes":
            c = args[1]
            assert isinstance(c, Const)
            assert isinstance(c.value, str)
            extra = [self.const(c.value.encode("utf-8", "surrogateescape"))]
            fn = "_rt.f_remove_bytes"
        elif name in ("any", "all") and isinstance(args[0], Compare) and is_each(args[0].lhs):
            cmp = args[0]
            assert isinstance(cmp.lhs, Index)
            if (name, cmp.op) in (("any", "eq"), ("all", "ne")) and cmp.lhs.type != IP:
                # any(x[*] eq c) is `c in x`, without a Python-level loop.
                neg = "not " if name == "all" else ""
                return f"({self.const(cmp.rhs)} {neg}in {self.stream(cmp.lhs)})"
            # any(x[*] op c): a generator, so any() stops at the first true element.
            return f"{name}({self.compare_each(cmp, generator=True)})"
        elif name in _SIMPLE_FUNCS:
            extra = [self.value(a) for a in args[1:]]
            fn = f"_rt.f_{name}"
        else:  # pragma: no cover - typecheck knows no other function
            raise NotImplementedError(name)
        if e.mapped:
            stream = self.value(args[0])
            if e.func.nullable:
                return f"_rt.mapped({fn}, {', '.join([stream, *extra])})"
            var = self.var()
            return f"[{fn}({', '.join([var, *extra])}) for {var} in {stream}]"
        first = self.value(args[0])
        if name in ("any", "all") and not is_nullable(args[0]):
            return f"{name}({first})"
        if not is_nullable(args[0]) and all(not is_nullable(a) for a in args[1:]):
            if name in ("starts_with", "ends_with"):
                return f"{first}.{name.replace('_', '')}({extra[0]})"
            if name == "contains":
                return f"({extra[0]} in {first})"
            if name in ("lower", "upper") and _SIMPLE.fullmatch(first):
                return f"({first}.{name}() if {first}.isascii() else {fn}({first}))"
        return f"{fn}({', '.join([first, *extra])})"

    # -- booleans -------------------------------------------------------------------------

    def bool_(self, e: Expr) -> str:
        if isinstance(e, IsTrue):
            v = self.value(e.value)
            if e.type == ARRAY_BOOL:
                return f"list({v})" if is_each(e.value) else v
            if not is_nullable(e.value):
                return v
            return f"({v} is True)"
        if isinstance(e, Not):
            inner = self.bool_(e.arg)
            if e.type == ARRAY_BOOL:
                return f"_rt.vnot({inner})"
            return f"(not {inner})"
        if isinstance(e, Logical):
            items = [self.bool_(i) for i in e.items]
            if e.type == ARRAY_BOOL or e.type.is_array:
                return f"_rt.v{e.op}({', '.join(items)})"
            if e.op == "xor":
                return "(" + " ^ ".join(f"bool({i})" for i in items) + ")"
            return "(" + f" {e.op} ".join(f"({i})" for i in items) + ")"
        if isinstance(e, Compare):
            return self.compare(e)
        raise NotImplementedError(type(e).__name__)  # pragma: no cover

    def compare_each(self, e: Compare, *, generator: bool = False) -> str:
        assert isinstance(e.lhs, Index)
        var = self.var()
        stream = self.stream(e.lhs)
        self.comp += 1
        try:
            body = self.cmp(var, e)
        finally:
            self.comp -= 1
        if generator:
            return f"{body} for {var} in {stream}"
        return f"[{body} for {var} in {stream}]"

    def compare(self, e: Compare) -> str:
        if is_each(e.lhs):
            return self.compare_each(e)
        lhs = e.lhs
        if (
            self.comp == 0
            and isinstance(lhs, Index)
            and len(lhs.keys) == 2
            and isinstance(lhs.keys[0], str)
            and isinstance(lhs.keys[1], int)
            and not is_nullable(lhs.base)
            and not (self.cse and expr_key(lhs) in self.cse)
            and e.op != "in_list"
        ):
            # m["k"][i] op c, inline: the commonest header / cookie / argument test.
            base = self.value(lhs.base)
            t = self.var("_t")
            k, i = lhs.keys
            return (
                f"(({t} := {base}.get({k!r})) is not None and len({t}) > {i} "
                f"and {self.cmp(f'{t}[{i}]', e)})"
            )
        x = self.value(e.lhs)
        if is_nullable(e.lhs):
            if self.comp == 0:
                t = self.var("_t")
                return f"(({t} := {x}) is not None and {self.cmp(t, e)})"
            op, c = self.cmp_parts(e)
            return f"_rt.cmp_opt({op!r}, {x}, {c})"
        return self.cmp(x, e)

    def cmp_parts(self, e: Compare) -> tuple[str, str]:
        """(op name for runtime.cmp_opt, constant) of a comparison."""
        op, rhs = e.op, e.rhs
        if op in _INLINE_OPS:
            if e.lhs.type == IP and op not in ("eq", "ne"):
                return f"ip_{op}", self.const(rhs)
            return op, self.const(rhs)
        if op == "contains":
            return op, self.const(rhs)
        if op == "matches":
            assert isinstance(rhs, Regex)
            return op, self.const(patterns.compile_re2(rhs.pattern))
        if op == "wildcard":
            assert isinstance(rhs, Wildcard)
            return op, self.const(patterns.compile_re2(rhs.regex))
        if op == "in":
            return op, self.set_const(rhs)
        if op == "bitand":
            return op, self.const(rhs)
        if op == "in_list":
            raise AssertionError("in_list is compiled separately")
        raise NotImplementedError(op)  # pragma: no cover

    def set_const(self, rhs: object) -> str:
        if isinstance(rhs, frozenset):
            return self.const(rhs)
        if isinstance(rhs, IntSet):
            if not rhs.ranges:
                return self.const(rhs.values)
            return self.const(runtime.IntMatcher(rhs.values, rhs.ranges))
        if isinstance(rhs, IpSet):
            return self.const(runtime.IpMatcher(rhs.v4, rhs.v6))
        raise NotImplementedError(type(rhs).__name__)  # pragma: no cover

    def regex(self, x: str, pattern: str) -> str:
        # Group by the value's source, unless it is a temporary of this function only.
        if self.group_regexes and self.comp == 0 and not _TEMP.fullmatch(x):
            name, group = self.groups.get(x) or ("", None)
            if group is None:
                group = runtime.RegexGroup()
                gname = self.const(group)
                name = self.var("_m")
                self.thunks.append(
                    f"def {name}(inp):\n    ctx = inp.ctx\n    bm = inp.bm\n"
                    f"    cache = inp.cache\n    return {gname}.run({x})\n"
                )
                self.groups[x] = (name, group)
            i = group.add(pattern)
            self.uses_cache = True
            k = self.const(f"rx{self.uid}{name}")
            return f"({i} in (cache[{k}] if {k} in cache else _rt.memo(inp, {k}, {name})))"
        return f"{self.const(runtime.FastRegex(patterns.compile_re2(pattern)))}.search({x})"

    def cmp(self, x: str, e: Compare) -> str:
        """A comparison on a value that is never absent, `x` used exactly once."""
        op, rhs = e.op, e.rhs
        if op == "in_list":
            return f"_rt.in_list(inp.lists, {rhs!r}, {x})"
        if op in _INLINE_OPS:
            if e.lhs.type == IP:
                c = self.const(rhs)
                if op in ("eq", "ne"):
                    return f"({x} {_INLINE_OPS[op]} {c})"
                return f"_rt.ip_{op}({x}, {c})"
            return f"({x} {_INLINE_OPS[op]} {self.const(rhs)})"
        if op == "contains":
            return f"({self.const(rhs)} in {x})"
        if op == "matches":
            assert isinstance(rhs, Regex)
            return self.regex(x, rhs.pattern)
        if op == "wildcard":
            assert isinstance(rhs, Wildcard)
            return self.regex(x, rhs.regex)
        if op == "in":
            return f"({x} in {self.set_const(rhs)})"
        if op == "bitand":
            return f"(({x} & {self.const(rhs)}) != 0)"
        raise NotImplementedError(op)  # pragma: no cover


def expr_key(e: Expr) -> str:
    """A structural key: two expressions with the same key compute the same value."""
    if isinstance(e, FieldRef):
        return e.field.name
    if isinstance(e, Const):
        return repr(e.value)
    if isinstance(e, Index):
        return expr_key(e.base) + "".join("[*]" if k is None else f"[{k!r}]" for k in e.keys)
    if isinstance(e, Call):
        args = ", ".join(expr_key(a) for a in e.args)
        return f"{e.func.name}({args}){'*' if e.mapped else ''}"
    if isinstance(e, Compare):
        return f"({expr_key(e.lhs)} {e.op} {e.rhs!r})"
    if isinstance(e, IsTrue):
        return f"({expr_key(e.value)})"
    if isinstance(e, Not):
        return f"(not {expr_key(e.arg)})"
    if isinstance(e, Logical):
        return "(" + f" {e.op} ".join(expr_key(i) for i in e.items) + ")"
    raise NotImplementedError(type(e).__name__)  # pragma: no cover


def generate(expr: Expr) -> tuple[str, dict[str, Any]]:
    """Python source of `def _rule(inp)` for a checked tree, and its namespace."""
    gen = _Gen()
    body = gen.bool_(expr)
    lines = ["def _rule(inp):"]
    if gen.uses_ctx:
        lines.append("    ctx = inp.ctx")
    if gen.uses_bm:
        lines.append("    bm = inp.bm")
    lines.append(f"    return {body}")
    return "\n".join(lines) + "\n", gen.ns


def to_python(expr: Expr) -> Predicate:
    """Compile a checked, Bool-typed tree into a predicate over RuleInput."""
    source, ns = generate(expr)
    code = compile(source, "<rule>", "exec")
    exec(code, ns)
    fn: Predicate = ns["_rule"]
    fn.__doc__ = source
    return fn


def to_python_many(exprs: list[Expr]) -> Callable[[RuleInput], Iterator[int]]:
    """Compile several checked trees into one generator function that yields, in order, the
    positions of the expressions that are true (a ruleset phase: one call per request, no
    per-rule call overhead, and the caller stops at the first terminating match)."""
    counts: dict[str, int] = {}
    for e in exprs:
        seen: set[str] = set()
        for node in walk(e):
            if isinstance(node, Call) or (
                isinstance(node, Index) and not isinstance(node.base, FieldRef)
            ):
                key = expr_key(node)
                if key not in seen:
                    seen.add(key)
                    counts[key] = counts.get(key, 0) + 1
    gen = _Gen(group_regexes=True, cse={k for k, n in counts.items() if n > 1})
    bodies = [gen.bool_(e) for e in exprs]
    gen.finish()
    lines = ["def _phase(inp):"]
    if gen.uses_ctx:
        lines.append("    ctx = inp.ctx")
    if gen.uses_bm:
        lines.append("    bm = inp.bm")
    if gen.uses_cache:
        lines.append("    cache = inp.cache")
    for i, body in enumerate(bodies):
        lines.append(f"    if {body}:")
        lines.append(f"        yield {i}")
    if not bodies:
        lines.append("    yield from ()")
    source = "".join(gen.thunks) + "\n".join(lines) + "\n"
    ns = gen.ns
    exec(compile(source, "<phase>", "exec"), ns)
    fn: Callable[[RuleInput], Iterator[int]] = ns["_phase"]
    return fn


def value_getter(field_name: str) -> Callable[[RuleInput], Any]:
    """A function reading one scalar field (rate-limiting characteristics)."""
    from botwarden.rules.scheme import FIELDS

    fd = FIELDS[field_name]
    gen = _Gen()
    src = gen.value(FieldRef(fd.type, (0, 0), fd))
    source = f"def _get(inp):\n    ctx = inp.ctx\n    bm = inp.bm\n    return {src}\n"
    ns = gen.ns
    exec(compile(source, "<field>", "exec"), ns)
    getter: Callable[[RuleInput], Any] = ns["_get"]
    return getter


__all__ = ["Predicate", "expr_key", "generate", "to_python", "to_python_many", "value_getter"]
