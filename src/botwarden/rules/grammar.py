"""The Rules language grammar (lark, LALR with the contextual lexer).

Precedence, loosest first: or (||) < xor (^^) < and (&&) < not (!). Literal tokens are
deliberately loose (`BARE` takes any run of hex digits, dots, colons, dashes and slashes):
like wirefilter, the meaning of `41:42` or `10.0.0.0/8` depends on the type of the field it
is compared with, so typecheck.py reads literals once it knows that type.
"""

from __future__ import annotations

# Raw strings r"…", r#"…"#, … up to this many #s.
MAX_RAW_HASHES = 8


def _raw_pattern() -> str:
    alts = ['"[^"]*"']
    for n in range(1, MAX_RAW_HASHES + 1):
        h = "#" * n
        alts.append(f'{h}"(?:.|\\n)*?"{h}')
    return "r(?:" + "|".join(alts) + ")"


GRAMMAR = r"""
start: expr

?expr: or_expr
?or_expr: xor_expr (_OR xor_expr)+     -> or_expr
        | xor_expr
?xor_expr: and_expr (_XOR and_expr)+   -> xor_expr
         | and_expr
?and_expr: not_expr (_AND not_expr)+   -> and_expr
         | not_expr
?not_expr: NOT not_expr                -> not_
         | LPAR expr RPAR              -> paren
         | comparison

comparison: value                      -> bare
          | value ORD_OP _lit          -> ordering
          | value CONTAINS _lit        -> contains
          | value MATCHES _regex       -> matches
          | value WILDCARD _wild       -> wildcard
          | value IN set               -> in_set
          | value IN LIST_NAME         -> in_list
          | value BITAND _lit          -> bitand

_lit: STRING | RAW | BARE
_regex: REGEX_STR | RAW
_wild: STRING | RAW
set: LBRACE _lit* RBRACE

value: IDENT index*                    -> field
     | IDENT LPAR args? RPAR index*    -> call

index: LBRACK (STRING | INDEX_INT | STAR) RBRACK

args: arg (_COMMA arg)*
?arg: comparison
    | STRING | RAW | BARE
    | por

// A function argument that starts with "(" or "not" is a whole logical expression, one
// that starts with a field is a single comparison (as in wirefilter).
?por: pxor (_OR xor_expr)+             -> or_expr
    | pxor
?pxor: pand (_XOR and_expr)+           -> xor_expr
     | pand
?pand: pnot (_AND not_expr)+           -> and_expr
     | pnot
?pnot: NOT not_expr                    -> not_
     | LPAR expr RPAR                  -> paren

NOT.3: "not" | "!"
_AND.3: "and" | "&&"
_OR.3: "or" | "||"
_XOR.3: "xor" | "^^"
ORD_OP: /==|!=|<=|>=|<|>|eq|ne|lt|le|gt|ge/
CONTAINS: "contains"
MATCHES: /matches|~/
WILDCARD: /strict wildcard|wildcard/
IN: "in"
BITAND: /bitwise_and|&/

IDENT.2: /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/
RAW.4: /@RAW@/
STRING: /"(?:[^"\\]|\\(?:.|\n))*"/
REGEX_STR: /"(?:\\(?:.|\n)|\[(?:\\(?:.|\n)|[^\]\\])*\]|[^"\\\[])*"/
BARE: /-?[0-9A-Fa-f:][0-9A-Za-z:.\-\/]*/
INDEX_INT: /[0-9]+/
STAR: "*"
LIST_NAME: /\$[a-z0-9_]*/
LPAR: "("
RPAR: ")"
LBRACK: "["
RBRACK: "]"
LBRACE: "{"
RBRACE: "}"
_COMMA: ","

%ignore /[ \r\n]+/
""".replace("@RAW@", _raw_pattern())

# Friendly names for error messages.
TERMINAL_NAMES: dict[str, str] = {
    "NOT": '"not"',
    "_AND": '"and"',
    "_OR": '"or"',
    "_XOR": '"xor"',
    "AND": '"and"',
    "OR": '"or"',
    "XOR": '"xor"',
    "ORD_OP": "a comparison operator",
    "CONTAINS": '"contains"',
    "MATCHES": '"matches"',
    "WILDCARD": '"wildcard"',
    "IN": '"in"',
    "BITAND": '"&"',
    "IDENT": "a field or function name",
    "RAW": "a raw string",
    "STRING": "a string",
    "REGEX_STR": "a regular expression string",
    "BARE": "a value",
    "INDEX_INT": "an index",
    "STAR": '"*"',
    "LIST_NAME": "a list name ($name)",
    "LPAR": '"("',
    "RPAR": '")"',
    "LBRACK": '"["',
    "RBRACK": '"]"',
    "LBRACE": '"{"',
    "RBRACE": '"}"',
    "_COMMA": '","',
    "COMMA": '","',
    "$END": "the end of the expression",
}
