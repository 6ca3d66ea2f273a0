"""The functions of the Rules language: names, signatures and help (for docs, errors and
autocomplete). Type checking of calls lives in typecheck.py, the Python implementations in
runtime.py and the SQL translations in to_sql.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FunctionDef:
    name: str
    signature: str
    help: str
    min_args: int
    max_args: int | None  # None: any number
    nullable: bool = False
    """True when the function can find nothing (then comparisons on its result are false)."""


def _fn(
    name: str,
    signature: str,
    help_: str,
    min_args: int,
    max_args: int | None,
    nullable: bool = False,
) -> FunctionDef:
    return FunctionDef(name, signature, help_, min_args, max_args, nullable)


FUNCTION_LIST: tuple[FunctionDef, ...] = (
    _fn("any", "any(Array<Bool>) → Bool", "True when any element is true.", 1, 1),
    _fn("all", "all(Array<Bool>) → Bool", "True when every element is true (also for none).", 1, 1),
    _fn(
        "lower",
        "lower(field Bytes) → Bytes",
        "Lower-cases ASCII letters; other bytes are unchanged.",
        1,
        1,
    ),
    _fn(
        "upper",
        "upper(field Bytes) → Bytes",
        "Upper-cases ASCII letters; other bytes are unchanged.",
        1,
        1,
    ),
    _fn(
        "len",
        "len(field Bytes | Array) → Int",
        "Length in bytes of a string, or number of elements of an array.",
        1,
        1,
    ),
    _fn(
        "starts_with",
        "starts_with(field Bytes, Bytes) → Bool",
        "True when the first argument starts with the second.",
        2,
        2,
    ),
    _fn(
        "ends_with",
        "ends_with(field Bytes, Bytes) → Bool",
        "True when the first argument ends with the second.",
        2,
        2,
    ),
    _fn(
        "contains",
        "contains(field Bytes, Bytes) → Bool",
        "True when the first argument contains the second (like the contains operator).",
        2,
        2,
    ),
    _fn(
        "concat",
        "concat(Bytes | Array, …) → Bytes | Array",
        "Concatenates two or more strings, or two or more arrays of the same type.",
        2,
        None,
    ),
    _fn(
        "cidr",
        "cidr(field Ip, v4_bits Int, v6_bits Int) → Ip",
        "Network address of the IP for a /v4_bits (IPv4, 1–32) or /v6_bits (IPv6, 1–128) prefix.",
        3,
        3,
    ),
    _fn(
        "cidr6",
        "cidr6(field Ip, v6_bits Int) → Ip",
        "Network address of an IPv6 address for a /v6_bits prefix; IPv4 addresses unchanged.",
        2,
        2,
    ),
    _fn(
        "url_decode",
        'url_decode(field Bytes[, options "r"|"u"|"ru"]) → Bytes',
        "Decodes %XX escapes and + (space); absent when the result is not UTF-8 text. "
        "Option r decodes repeatedly (up to 8 times), u also decodes %uXXXX.",
        1,
        2,
        nullable=True,
    ),
    _fn(
        "decode_base64",
        "decode_base64(field Bytes) → Bytes",
        "Decodes standard, padded Base64; absent when the input is not Base64 or does not "
        "decode to UTF-8 text.",
        1,
        1,
        nullable=True,
    ),
    _fn(
        "lookup_json_string",
        "lookup_json_string(field Bytes, key Bytes | Int, …) → Bytes",
        "The string at a path of object keys and array positions in a JSON document; absent "
        "when the document is not JSON or the value is missing or not a string.",
        2,
        None,
        nullable=True,
    ),
    _fn(
        "lookup_json_integer",
        "lookup_json_integer(field Bytes, key Bytes | Int, …) → Int",
        "The integer at a path of object keys and array positions in a JSON document; absent "
        "when the document is not JSON or the value is missing or not a plain integer.",
        2,
        None,
        nullable=True,
    ),
    _fn(
        "regex_replace",
        "regex_replace(field Bytes, regex Bytes, replacement Bytes) → Bytes",
        "Replaces the first match of the regex; ${1}…${8} insert capture groups, $$ a dollar.",
        3,
        3,
    ),
    _fn(
        "wildcard_replace",
        'wildcard_replace(field Bytes, wildcard Bytes, replacement Bytes[, flags "s"]) → Bytes',
        "When the whole value matches the wildcard (each * as short as possible), returns the "
        "replacement with ${N} for the Nth *; otherwise the value unchanged. Case-insensitive "
        'unless flags is "s".',
        3,
        4,
    ),
    _fn(
        "remove_bytes",
        "remove_bytes(field Bytes, bytes Bytes) → Bytes",
        "Removes every occurrence of each of the given bytes.",
        2,
        2,
    ),
    _fn(
        "remove_query_args",
        "remove_query_args(field Bytes, name Bytes, …) → Bytes",
        "Removes the named arguments (every occurrence) from a query string.",
        2,
        None,
    ),
    _fn(
        "substring",
        "substring(field Bytes, start Int[, end Int]) → Bytes",
        "Bytes from start up to (not including) end; negative positions count from the end.",
        2,
        3,
    ),
    _fn(
        "to_string",
        "to_string(field Int | Bool | Ip) → Bytes",
        'Decimal integer, "true"/"false", or the IP address in its usual form.',
        1,
        1,
    ),
    _fn(
        "split",
        "split(field Bytes, separator Bytes, limit Int) → Array<Bytes>",
        "Splits at each separator into at most limit (1–128) parts; the last part keeps the rest.",
        3,
        3,
    ),
    _fn(
        "join",
        "join(field Array<Bytes>, separator Bytes) → Bytes",
        "Joins the elements with the separator.",
        2,
        2,
    ),
    _fn(
        "has_key",
        "has_key(field Map, key Bytes) → Bool",
        "True when the map has the key.",
        2,
        2,
    ),
    _fn(
        "has_value",
        "has_value(field Array<Bytes>, value Bytes) → Bool",
        "True when the array contains the value.",
        2,
        2,
    ),
)

FUNCTIONS: dict[str, FunctionDef] = {f.name: f for f in FUNCTION_LIST}
