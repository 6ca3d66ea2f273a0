"""Regular expressions, wildcards and replacement templates: validation and translation to
RE2 (the engine of the edge, DuckDB and ClickHouse alike, so all three agree)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

MAX_REGEX_LENGTH = 2048
"""Longest regular expression or wildcard pattern accepted, in characters."""
REGEX_MAX_MEM = 8 << 20
"""Memory budget of one compiled RE2 program (bytes): bigger regexes are refused."""
MAX_WILDCARD_STARS = 16

_U_FLAG = re.compile(r"\(\?([a-zA-Z]*)u([a-zA-Z]*)([:)])")


def normalize_regex(pattern: str) -> str:
    """Drop the `u` (Unicode) flag Cloudflare's examples use: RE2 is always Unicode-aware."""
    out = _U_FLAG.sub(lambda m: f"(?{m.group(1)}{m.group(2)}{m.group(3)}", pattern)
    return out.replace("(?)", "")


@lru_cache(maxsize=4096)
def compile_re2(pattern: str) -> Any:
    """Compile with the memory budget; raises ValueError with RE2's reason."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"regular expression is longer than {MAX_REGEX_LENGTH} characters")
    opts = re2.Options()
    opts.max_mem = REGEX_MAX_MEM
    opts.log_errors = False
    try:
        return re2.compile(pattern, opts)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


def check_regex(pattern: str) -> str:
    """The RE2 form of a rule's regex; raises ValueError when it is invalid or too big."""
    norm = normalize_regex(pattern)
    if re.search(r"(?<!\\)(?:\\\\)*\\[1-9]", norm):
        raise ValueError("backreferences and octal escapes are not supported")
    compile_re2(norm)
    return norm


def parse_wildcard(pattern: str) -> list[str | None]:
    """Literal runs and stars (None) of a wildcard; \\* is a literal star, \\\\ a backslash."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"wildcard is longer than {MAX_REGEX_LENGTH} characters")
    parts: list[str | None] = []
    buf: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise ValueError("incomplete escape sequence at the end of the wildcard")
            nxt = pattern[i + 1]
            if nxt not in "*\\":
                raise ValueError(f"invalid escape sequence \\{nxt} (only \\* and \\\\)")
            buf.append(nxt)
            i += 2
            continue
        if c == "*":
            if parts and parts[-1] is None and not buf:
                raise ValueError("wildcard contains a double star **")
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(None)
        else:
            buf.append(c)
        i += 1
    if buf:
        parts.append("".join(buf))
    if sum(1 for p in parts if p is None) > MAX_WILDCARD_STARS:
        raise ValueError(f"wildcard has more than {MAX_WILDCARD_STARS} stars")
    return parts


def wildcard_regex(pattern: str, strict: bool, capture: bool = False) -> str:
    """An anchored RE2 pattern equivalent to the wildcard: each * matches as little as
    possible; case-insensitive unless strict."""
    parts = parse_wildcard(pattern)
    body = "".join(("(.*?)" if capture else ".*?") if p is None else re2.escape(p) for p in parts)
    flags = "s" if strict else "is"
    return f"(?{flags})^{body}$"


def wildcard_stars(pattern: str) -> int:
    return sum(1 for p in parse_wildcard(pattern) if p is None)


def parse_replacement(text: str, groups: int) -> tuple[str | int, ...]:
    """`${N}` → group N (1…8, at most `groups`), `$$` → `$`; other text literal."""
    out: list[str | int] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            buf.append(c)
            i += 1
            continue
        if text[i + 1 : i + 2] == "$":
            buf.append("$")
            i += 2
            continue
        m = re.match(r"\$\{([0-9]+)\}", text[i:])
        if m is None:
            raise ValueError("a $ in the replacement must start ${N} (or be doubled: $$)")
        n = int(m.group(1))
        if n < 1 or n > 8:
            raise ValueError(f"${{{n}}}: references go from ${{1}} to ${{8}}")
        if n > groups:
            raise ValueError(f"${{{n}}} refers to a group the pattern does not have")
        if buf:
            out.append("".join(buf))
            buf = []
        out.append(n)
        i += m.end()
    if buf:
        out.append("".join(buf))
    return tuple(out)


def rewrite_string(template: tuple[str | int, ...]) -> str:
    """The template in RE2 rewrite syntax (\\1 for a group, \\\\ for a backslash), which
    DuckDB's regexp_replace and ClickHouse's replaceRegexpOne both use."""
    out = []
    for part in template:
        if isinstance(part, int):
            out.append(f"\\{part}")
        else:
            out.append(part.replace("\\", "\\\\"))
    return "".join(out)
