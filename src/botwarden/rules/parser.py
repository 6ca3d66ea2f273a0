"""Rule text → parse tree (rules.ast Nodes), with limits and caret errors.

The lark parser is built once per process; `parse()` is safe to call from many threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from botwarden.rules.ast import (
    ArgNode,
    CompareNode,
    IndexNode,
    ListRefNode,
    Lit,
    LogicalNode,
    Node,
    NotNode,
    ParenNode,
    SetNode,
    Span,
    ValueNode,
)
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.grammar import GRAMMAR, TERMINAL_NAMES

MAX_LENGTH = 4096
"""Longest expression accepted, in characters (Cloudflare's limit for custom rules)."""
MAX_DEPTH = 64
"""Deepest nesting of parentheses, `not` and function calls."""

# Rust's char::is_whitespace: what wirefilter trims from both ends of an expression.
_EDGE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_parser: Lark | None = None
_lock = threading.Lock()


class _PositionedError(Exception):
    """Raised inside the parser callbacks, which do not know the text; parse() adds it."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message, self.start, self.end = message, start, end


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                # The transformer runs inside the LALR parser: no intermediate tree.
                _parser = Lark(
                    GRAMMAR, parser="lalr", lexer="contextual", start="start", transformer=_ToAst()
                )
    return _parser


def _tok_span(t: Token) -> Span:
    start = t.start_pos if t.start_pos is not None else 0
    end = t.end_pos if t.end_pos is not None else start
    return (start, end)


def _span_of(x: Any) -> Span:
    if isinstance(x, Token):
        return _tok_span(x)
    span: Span = x.span
    return span


def _join(a: Any, b: Any) -> Span:
    return (_span_of(a)[0], _span_of(b)[1])


def _lit(t: Token) -> Lit:
    kind = {"STRING": "string", "RAW": "raw", "REGEX_STR": "regex", "BARE": "bare"}[t.type]
    return Lit(kind, str(t), _tok_span(t))


class _ToAst(Transformer[Token, Any]):
    def start(self, c: list[Any]) -> Node:
        node: Node = c[0]
        return node

    # -- logical --------------------------------------------------------------------------

    def _logical(self, op: str, c: list[Node]) -> LogicalNode:
        items: list[Node] = []
        for item in c:
            # a or b or c arrives as one flat list; keep it flat.
            items.append(item)
        return LogicalNode(op, tuple(items), _join(c[0], c[-1]))

    def or_expr(self, c: list[Node]) -> LogicalNode:
        return self._logical("or", c)

    def xor_expr(self, c: list[Node]) -> LogicalNode:
        return self._logical("xor", c)

    def and_expr(self, c: list[Node]) -> LogicalNode:
        return self._logical("and", c)

    def not_(self, c: list[Any]) -> NotNode:
        return NotNode(c[1], _join(c[0], c[1]))

    def paren(self, c: list[Any]) -> ParenNode:
        return ParenNode(c[1], _join(c[0], c[2]))

    # -- comparisons ----------------------------------------------------------------------

    def bare(self, c: list[Any]) -> CompareNode:
        v: ValueNode = c[0]
        return CompareNode(v, None, v.span, None, v.span)

    def _cmp(self, op: str, c: list[Any], rhs: Lit | SetNode | ListRefNode) -> CompareNode:
        v: ValueNode = c[0]
        return CompareNode(v, op, _tok_span(c[1]), rhs, (v.span[0], rhs.span[1]))

    def ordering(self, c: list[Any]) -> CompareNode:
        op = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}.get(
            str(c[1]), str(c[1])
        )
        return self._cmp(op, c, _lit(c[2]))

    def contains(self, c: list[Any]) -> CompareNode:
        return self._cmp("contains", c, _lit(c[2]))

    def matches(self, c: list[Any]) -> CompareNode:
        return self._cmp("matches", c, _lit(c[2]))

    def wildcard(self, c: list[Any]) -> CompareNode:
        op = "strict_wildcard" if str(c[1]).startswith("strict") else "wildcard"
        return self._cmp(op, c, _lit(c[2]))

    def in_set(self, c: list[Any]) -> CompareNode:
        return self._cmp("in", c, c[2])

    def in_list(self, c: list[Any]) -> CompareNode:
        t: Token = c[2]
        return self._cmp("in_list", c, ListRefNode(str(t)[1:], _tok_span(t)))

    def bitand(self, c: list[Any]) -> CompareNode:
        return self._cmp("bitand", c, _lit(c[2]))

    def set(self, c: list[Any]) -> SetNode:
        items = tuple(_lit(t) for t in c[1:-1])
        return SetNode(items, _join(c[0], c[-1]))

    # -- values ---------------------------------------------------------------------------

    def _check_adjacent(self, before: Any, indexes: list[IndexNode]) -> None:
        end = _span_of(before)[1]
        for ix in indexes:
            if ix.span[0] != end:
                raise _PositionedError("no space is allowed before an index [...]", end, ix.span[0])
            end = ix.span[1]

    def field(self, c: list[Any]) -> ValueNode:
        name: Token = c[0]
        indexes: list[IndexNode] = c[1:]
        self._check_adjacent(name, indexes)
        span = _join(name, indexes[-1]) if indexes else _tok_span(name)
        return ValueNode(str(name), _tok_span(name), None, tuple(indexes), span)

    def call(self, c: list[Any]) -> ValueNode:
        name: Token = c[0]
        rest = c[2:]
        args: tuple[ArgNode, ...] = ()
        if rest and isinstance(rest[0], list):
            args = tuple(rest[0])
            rest = rest[1:]
        rpar = rest[0]
        indexes: list[IndexNode] = rest[1:]
        self._check_adjacent(rpar, indexes)
        span = _join(name, indexes[-1] if indexes else rpar)
        return ValueNode(str(name), _tok_span(name), args, tuple(indexes), span)

    def args(self, c: list[Any]) -> list[ArgNode]:
        return [_lit(a) if isinstance(a, Token) else a for a in c]

    def index(self, c: list[Any]) -> IndexNode:
        key_tok: Token = c[1]
        key: int | str | None
        if key_tok.type == "STAR":
            key = None
        elif key_tok.type == "INDEX_INT":
            key = int(str(key_tok))
            if key > 0xFFFFFFFF:
                raise _PositionedError("index is too large", *_tok_span(key_tok))
        else:
            try:
                key = unescape_string(Lit("string", str(key_tok), _tok_span(key_tok)), "")
            except RuleSyntaxError as exc:
                raise _PositionedError(exc.message, exc.start, exc.end) from None
        return IndexNode(key, _join(c[0], c[2]))


def _expected(names: Iterable[Any]) -> str:
    friendly = sorted({TERMINAL_NAMES.get(str(n), str(n)) for n in names})
    if not friendly:
        return ""
    if len(friendly) > 6:
        friendly = [*friendly[:6], "…"]
    return "; expected " + ", ".join(friendly)


def _depth_check(node: Node, source: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (parentheses, not, function calls)."""
    stack: list[tuple[object, int]] = [(node, 0)]
    while stack:
        n, depth = stack.pop()
        if isinstance(n, ParenNode | NotNode):
            depth += 1
            inner = n.inner if isinstance(n, ParenNode) else n.arg
            children: tuple[object, ...] = (inner,)
        elif isinstance(n, LogicalNode):
            children = n.items
        elif isinstance(n, CompareNode):
            children = (n.lhs,)
        elif isinstance(n, ValueNode) and n.args is not None:
            depth += 1
            children = n.args
        else:
            continue
        if depth > MAX_DEPTH:
            raise RuleSyntaxError(
                f"expression is nested too deeply (more than {MAX_DEPTH} levels of "
                "parentheses, not and function calls)",
                source,
                n.span[0],
            )
        stack.extend((c, depth) for c in children)


def parse(text: str) -> Node:
    """Parse rule text into a parse tree; raises RuleSyntaxError."""
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(
            f"expression is too long ({len(text)} characters; the limit is {MAX_LENGTH})",
            text,
            MAX_LENGTH,
        )
    core = text.strip(_EDGE_SPACE)
    if not core:
        raise RuleSyntaxError("empty expression", text, 0)
    lead = len(text) - len(text.lstrip(_EDGE_SPACE))
    padded = " " * lead + core + " " * (len(text) - lead - len(core))
    try:
        node: Node = _get_parser().parse(padded)  # type: ignore[assignment]
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except _PositionedError as exc:
        raise RuleSyntaxError(exc.message, text, exc.start, exc.end) from None
    except VisitError as exc:  # pragma: no cover - lark wraps some callback errors
        if isinstance(exc.orig_exc, _PositionedError):
            e = exc.orig_exc
            raise RuleSyntaxError(e.message, text, e.start, e.end) from None
        raise
    _depth_check(node, text)
    return node


def _syntax_error(exc: UnexpectedInput, text: str) -> RuleSyntaxError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch == "\t":
            return RuleSyntaxError("tabs are not allowed in an expression; use spaces", text, pos)
        if ch == '"' or (ch == "r" and text[pos + 1 : pos + 2] in ('"', "#")):
            if not (exc.allowed and exc.allowed & {"STRING", "RAW", "REGEX_STR"}):
                return RuleSyntaxError(
                    "a string is not allowed here" + _expected(exc.allowed or set()), text, pos
                )
            return RuleSyntaxError("could not find an ending quote", text, pos, len(text))
        if ch == "$":
            return RuleSyntaxError(
                "invalid list name: use lower-case letters, digits and _ after $", text, pos
            )
        return RuleSyntaxError(
            f"unexpected character {ch!r}" + _expected(exc.allowed or set()), text, pos
        )
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return RuleSyntaxError(
                "unexpected end of expression" + _expected(exc.expected), text, len(text)
            )
        start, end = _tok_span(tok)
        what = f"{str(tok)!r}"
        if tok.type == "IDENT" and "ORD_OP" in exc.expected:
            return RuleSyntaxError(
                f"unexpected {what}; expected a comparison operator or and/or/xor", text, start, end
            )
        return RuleSyntaxError(f"unexpected {what}" + _expected(exc.expected), text, start, end)
    if isinstance(exc, UnexpectedEOF):
        return RuleSyntaxError(
            "unexpected end of expression" + _expected(exc.expected), text, len(text)
        )
    return RuleSyntaxError(str(exc), text, 0)  # pragma: no cover


# -- literal text → values -----------------------------------------------------------------


def _bytes_to_str(data: bytes) -> str:
    # Rule strings are text; a byte string that is not UTF-8 keeps its bytes as surrogates
    # (it then simply never equals a real header value).
    return data.decode("utf-8", "surrogateescape")


def unescape_string(lit: Lit, source: str) -> str:
    """The value of a quoted ("…") or raw (r"…", r#"…"#) string literal.

    Quoted strings know four escapes, as in wirefilter: \\" \\\\ \\xHH and \\OOO (octal).
    """
    if lit.kind == "raw":
        hashes = len(lit.text) - len(lit.text.lstrip("r").lstrip("#")) - 1
        return lit.text[2 + hashes : len(lit.text) - 1 - hashes]
    body = lit.text[1:-1]
    base = lit.span[0] + 1
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < n else ""
        if nxt in ('"', "\\"):
            out += nxt.encode()
            i += 2
        elif nxt == "x":
            digits = body[i + 2 : i + 4]
            if len(digits) != 2 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise RuleSyntaxError(
                    "\\x must be followed by two hex digits", source, base + i, base + i + 4
                )
            out.append(int(digits, 16))
            i += 4
        elif nxt in "01234567" and nxt:
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise RuleSyntaxError(
                    "an octal escape needs three digits from \\000 to \\377",
                    source,
                    base + i,
                    base + i + 4,
                )
            out.append(int(digits, 8))
            i += 4
        else:
            raise RuleSyntaxError(
                'expected ", \\\\, xHH or OOO after \\ (use a raw string r"…" for other '
                "backslashes)",
                source,
                base + i,
                base + i + 2,
            )
    return _bytes_to_str(bytes(out))


def regex_source(lit: Lit) -> str:
    """The pattern of a regex literal: raw strings verbatim; quoted strings keep every
    backslash escape for the regex engine, except \\" outside a character class."""
    if lit.kind == "raw":
        return unescape_string(lit, "")
    body = lit.text[1:-1]
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if in_class or nxt != '"':
                out.append("\\")
            out.append(nxt)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)
