"""The two trees of a rule: the parse tree the grammar produces (`Node`s, untyped, with
spans) and the checked tree the compilers consume (`Expr`s, typed against the scheme).

Spans are (start, end) character offsets into the rule text, for error carets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from botwarden.rules.types import BOOL, Type

if TYPE_CHECKING:
    from botwarden.rules.functions import FunctionDef
    from botwarden.rules.scheme import FieldDef

Span = tuple[int, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# -- parse tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal token: kind is "string", "raw", "regex" (a quoted regex) or "bare"
    (integers, IP addresses and networks, ranges, byte strings like 41:42)."""

    kind: str
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class IndexNode:
    key: int | str | None  # None is [*]
    span: Span


@dataclass(frozen=True, slots=True)
class ValueNode:
    """A field or a function call, followed by indexes."""

    name: str
    name_span: Span
    args: tuple[ArgNode, ...] | None  # None for a field
    indexes: tuple[IndexNode, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SetNode:
    items: tuple[Lit, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ListRefNode:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class CompareNode:
    lhs: ValueNode
    op: str | None  # None: a bare boolean value
    op_span: Span
    rhs: Lit | SetNode | ListRefNode | None
    span: Span


@dataclass(frozen=True, slots=True)
class NotNode:
    arg: Node
    span: Span


@dataclass(frozen=True, slots=True)
class LogicalNode:
    op: str  # "and" | "or" | "xor"
    items: tuple[Node, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ParenNode:
    inner: Node
    span: Span


Node = CompareNode | NotNode | LogicalNode | ParenNode
ArgNode = Node | Lit

# -- checked tree -------------------------------------------------------------------------

IndexKey = int | str | None  # None is [*]


@dataclass(eq=False, slots=True)
class Expr:
    type: Type
    span: Span


@dataclass(eq=False, slots=True)
class FieldRef(Expr):
    field: FieldDef


@dataclass(eq=False, slots=True)
class Const(Expr):
    """A literal function argument; `value` is str, int or an IP address."""

    value: str | int | IPAddress


@dataclass(eq=False, slots=True)
class Call(Expr):
    func: FunctionDef
    args: list[Expr]
    mapped: bool = False  # first argument iterated with [*]: the result is an array
    data: object = None  # what the type checker worked out once (a regex, a template…)

    @property
    def nullable(self) -> bool:
        return self.func.nullable or any(is_nullable(a) for a in self.args)


@dataclass(eq=False, slots=True)
class Index(Expr):
    """`base[k1][k2]…`; a None key is [*]. With any [*] the expression stands for each
    element in turn (a comparison on it yields Array<Bool>); `type` is the element type."""

    base: Expr
    keys: list[IndexKey]

    @property
    def is_each(self) -> bool:
        return any(k is None for k in self.keys)


@dataclass(eq=False, slots=True)
class Regex:
    pattern: str


@dataclass(eq=False, slots=True)
class Wildcard:
    pattern: str
    strict: bool
    regex: str  # the equivalent RE2 pattern, anchored, over ASCII-lower-cased text unless strict


@dataclass(eq=False, slots=True)
class IntSet:
    values: frozenset[int]
    ranges: tuple[tuple[int, int], ...]


@dataclass(eq=False, slots=True)
class IpSet:
    """Inclusive address ranges as integers, per family."""

    v4: tuple[tuple[int, int], ...]
    v6: tuple[tuple[int, int], ...]


CompareOp = Literal[
    "eq", "ne", "lt", "le", "gt", "ge", "contains", "matches", "wildcard", "in", "in_list", "bitand"
]


@dataclass(eq=False, slots=True)
class Compare(Expr):
    lhs: Expr
    op: str
    rhs: object
    """eq…ge: str | int | IPAddress; contains: str; matches: Regex; wildcard: Wildcard;
    in: frozenset[str] | IntSet | IpSet; in_list: str (list name); bitand: int."""


@dataclass(eq=False, slots=True)
class IsTrue(Expr):
    value: Expr


@dataclass(eq=False, slots=True)
class Not(Expr):
    arg: Expr


@dataclass(eq=False, slots=True)
class Logical(Expr):
    op: str
    items: list[Expr] = field(default_factory=list)


def is_each(e: Expr) -> bool:
    """True when `e` stands for each element of an array (it contains [*])."""
    return isinstance(e, Index) and e.is_each


def is_nullable(e: Expr) -> bool:
    """True when `e` can be absent at run time (a missing map key or array element, a
    function that found nothing, http.response.code outside rate limiting)."""
    if isinstance(e, FieldRef):
        return e.field.nullable
    if isinstance(e, Index):
        return not e.is_each
    if isinstance(e, Call):
        return e.nullable
    return False


def walk(e: Expr) -> list[Expr]:
    """Every node of a checked tree, parents before children."""
    out: list[Expr] = []
    stack: list[Expr] = [e]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, Call):
            stack.extend(reversed(n.args))
        elif isinstance(n, Index):
            stack.append(n.base)
        elif isinstance(n, Compare):
            stack.append(n.lhs)
        elif isinstance(n, IsTrue):
            stack.append(n.value)
        elif isinstance(n, Not):
            stack.append(n.arg)
        elif isinstance(n, Logical):
            stack.extend(reversed(n.items))
    return out


def fields_used(e: Expr) -> list[str]:
    """Names of the fields an expression reads, in order of first use."""
    seen: dict[str, None] = {}
    for n in walk(e):
        if isinstance(n, FieldRef):
            seen.setdefault(n.field.name, None)
    return list(seen)


def is_bool(e: Expr) -> bool:
    return e.type == BOOL
