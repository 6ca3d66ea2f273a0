"""The field scheme: every field a rule may read, its type, help text, how the edge reads it
and which analytics column stores it. The single source of truth for the parser, the two
compilers, the API, the docs (`docs/rules-fields.md`) and dashboard autocomplete.

Python accessors are source snippets over the names `ctx` (RequestContext), `bm`
(BotManagement), `inp` (RuleInput) and `_rt` (rules.runtime); to_python splices them into
the generated function, so a rule touches only the fields it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botwarden.rules.types import (
    ARRAY_BYTES,
    ARRAY_INT,
    BOOL,
    BYTES,
    INT,
    IP,
    MAP_ARRAY_BYTES,
    Type,
)

DIALECTS: tuple[str, ...] = ("duckdb", "clickhouse")


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    type: Type
    help: str
    py: str
    column: str | None = None
    """The analytics column the field is read from, or None when analytics does not store it."""
    sql: dict[str, str] = field(default_factory=dict)
    """Per-dialect SQL expression when the field is derived from columns (default: `column`)."""
    nullable: bool = False
    """True when the value can be absent (then every comparison on it is false)."""
    example: str = ""

    def sql_expr(self, dialect: str) -> str | None:
        if self.column is None:
            return None
        return self.sql.get(dialect, self.column)


def _f(
    name: str,
    type_: Type,
    py: str,
    help_: str,
    column: str | None = None,
    *,
    sql: dict[str, str] | None = None,
    nullable: bool = False,
    example: str = "",
) -> FieldDef:
    return FieldDef(name, type_, help_, py, column, sql or {}, nullable, example)


_URI_SQL = {
    "duckdb": "(path || CASE WHEN query <> '' THEN '?' || query ELSE '' END)",
    "clickhouse": "concat(path, if(query != '', concat('?', query), ''))",
}
_EXT_SQL = {
    "duckdb": r"lower(regexp_extract(path, '\.([^./]*)$', 1))",
    "clickhouse": r"lowerUTF8(extract(path, '\\.([^./]*)$'))",
}
_TS_SEC_SQL = {
    "duckdb": "CAST(floor(epoch(ts)) AS BIGINT)",
    "clickhouse": "toInt64(toUnixTimestamp(ts))",
}
_TS_MSEC_SQL = {
    "duckdb": "epoch_ms(ts)",
    "clickhouse": "toUnixTimestamp64Milli(ts)",
}
_VERSION_SQL = {
    "duckdb": "('HTTP/' || http_version)",
    "clickhouse": "concat('HTTP/', http_version)",
}

FIELD_LIST: tuple[FieldDef, ...] = (
    # -- bot management ---------------------------------------------------------------
    _f(
        "cf.bot_management.score",
        INT,
        "bm.score",
        "Bot score from 1 (surely automated) to 99 (surely human); 0 when not computed.",
        "score",
        example="cf.bot_management.score lt 30",
    ),
    _f(
        "cf.bot_management.verified_bot",
        BOOL,
        "bm.verified_bot",
        "True when the request comes from a verified bot (a search engine crawler, a monitor…).",
        "verified_bot",
        example="not cf.bot_management.verified_bot",
    ),
    _f(
        "cf.bot_management.static_resource",
        BOOL,
        "bm.static_resource",
        "True when the path names a static resource (image, script, stylesheet, font…).",
        "static_resource",
    ),
    _f(
        "cf.bot_management.ja3_hash",
        BYTES,
        "(bm.ja3_hash or '')",
        "JA3 fingerprint (MD5, lower-case hex) of the TLS ClientHello; empty without TLS.",
        "ja3_hash",
        example='cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24"',
    ),
    _f(
        "cf.bot_management.ja4",
        BYTES,
        "(bm.ja4 or '')",
        "JA4 fingerprint of the TLS ClientHello; empty without TLS.",
        "ja4",
    ),
    _f(
        "cf.bot_management.js_detection.passed",
        BOOL,
        "(bm.js_detection == 'passed')",
        "True when the client passed JavaScript detection (a valid detection cookie).",
        "js_detection_passed",
    ),
    _f(
        "cf.bot_management.detection_ids",
        ARRAY_INT,
        "bm.detection_ids",
        "Ids of the heuristics and behavioural detections that matched the request.",
        "detection_ids",
        example="any(cf.bot_management.detection_ids[*] eq 33554817)",
    ),
    _f(
        "cf.bot_management.corporate_proxy",
        BOOL,
        "bm.corporate_proxy",
        "True when the request comes through a known corporate proxy or VPN egress.",
        "corporate_proxy",
    ),
    _f(
        "cf.verified_bot_category",
        BYTES,
        "(bm.verified_bot_category or '')",
        'Category of the verified bot ("Search Engine Crawler", "Monitoring & Analytics"…); '
        "empty for other traffic.",
        "verified_bot_category",
    ),
    _f(
        "cf.client.bot",
        BOOL,
        "bm.verified_bot",
        "True when the request comes from a known good bot (same as verified_bot).",
        "verified_bot",
    ),
    _f(
        "cf.threat_score",
        INT,
        "0",
        "IP reputation score. Botwarden computes no IP reputation: always 0 (kept so Cloudflare "
        "rules move over unchanged).",
    ),
    # -- network ----------------------------------------------------------------------
    _f(
        "ip.src",
        IP,
        "ctx.ip",
        "Client IP address (IPv4 or IPv6).",
        "ip_key",
        example="ip.src in {192.0.2.0/24 2001:db8::/32}",
    ),
    _f(
        "ip.src.asnum",
        INT,
        "(ctx.geo.asn or 0)",
        "Autonomous system number of the client IP; 0 when unknown.",
        "asn",
    ),
    _f(
        "ip.src.country",
        BYTES,
        "(ctx.geo.country or '')",
        "ISO 3166-1 alpha-2 country code of the client IP; empty when unknown.",
        "country",
    ),
    _f(
        "ip.src.continent",
        BYTES,
        "(ctx.geo.continent or '')",
        "Continent code of the client IP (AF, AN, AS, EU, NA, OC, SA); empty when unknown.",
        "continent",
    ),
    _f(
        "ip.geoip.asnum",
        INT,
        "(ctx.geo.asn or 0)",
        "Deprecated alias of ip.src.asnum.",
        "asn",
        example="ip.geoip.asnum eq 132892",
    ),
    _f(
        "ip.geoip.country",
        BYTES,
        "(ctx.geo.country or '')",
        "Deprecated alias of ip.src.country.",
        "country",
    ),
    _f(
        "ip.geoip.continent",
        BYTES,
        "(ctx.geo.continent or '')",
        "Deprecated alias of ip.src.continent.",
        "continent",
    ),
    # -- HTTP request -----------------------------------------------------------------
    _f("http.host", BYTES, "ctx.host", "Host name of the request (lower-case).", "host"),
    _f(
        "http.user_agent",
        BYTES,
        "ctx.user_agent",
        "User-Agent header; empty when absent.",
        "user_agent",
    ),
    _f("http.referer", BYTES, "ctx.referer", "Referer header; empty when absent.", "referer"),
    _f(
        "http.cookie",
        BYTES,
        "ctx.header_map.get('cookie', '')",
        'The whole Cookie header (repeated headers joined with "; ").',
    ),
    _f(
        "http.x_forwarded_for",
        BYTES,
        "ctx.header_map.get('x-forwarded-for', '')",
        "X-Forwarded-For header as received; empty when absent.",
    ),
    _f("http.request.method", BYTES, "ctx.method", "Request method in upper case.", "method"),
    _f(
        "http.request.version",
        BYTES,
        "('HTTP/' + ctx.http_version)",
        'HTTP version: "HTTP/1.0", "HTTP/1.1", "HTTP/2" or "HTTP/3".',
        "http_version",
        sql=_VERSION_SQL,
    ),
    _f(
        "http.request.full_uri",
        BYTES,
        "ctx.full_uri",
        "Full URI: scheme, host, path and query.",
    ),
    _f(
        "http.request.uri", BYTES, "ctx.uri", "Path and query of the request.", "path", sql=_URI_SQL
    ),
    _f("http.request.uri.path", BYTES, "ctx.path", "Path of the request.", "path"),
    _f(
        "http.request.uri.path.extension",
        BYTES,
        "ctx.extension",
        "Lower-case file extension of the path, without the dot; empty when none.",
        "path",
        sql=_EXT_SQL,
    ),
    _f(
        "http.request.uri.query", BYTES, "ctx.query", "Query string without the leading ?.", "query"
    ),
    _f(
        "http.request.uri.args",
        MAP_ARRAY_BYTES,
        "(inp.cache.get('args') or _rt.args_map(inp))",
        'Query arguments by name, each a list of values: http.request.uri.args["page"][0].',
    ),
    _f(
        "http.request.uri.args.names",
        ARRAY_BYTES,
        "_rt.args_names(inp)",
        "Names of the query arguments, in order.",
    ),
    _f(
        "http.request.uri.args.values",
        ARRAY_BYTES,
        "_rt.args_values(inp)",
        "Values of the query arguments, in order.",
    ),
    _f(
        "http.request.headers",
        MAP_ARRAY_BYTES,
        "(inp.cache.get('headers') or _rt.headers_map(inp))",
        "Request headers by lower-case name, each a list of values: "
        'http.request.headers["accept"][0].',
    ),
    _f(
        "http.request.headers.names",
        ARRAY_BYTES,
        "(inp.cache.get('header_names') or _rt.header_names(inp))",
        "Header names as the client sent them (original case), in order.",
    ),
    _f(
        "http.request.headers.values",
        ARRAY_BYTES,
        "(inp.cache.get('header_values') or _rt.header_values(inp))",
        "Header values, in the order of http.request.headers.names.",
    ),
    _f(
        "http.request.cookies",
        MAP_ARRAY_BYTES,
        "(inp.cache.get('cookies') or _rt.cookies_map(inp))",
        'Cookies by name, each a list of values: http.request.cookies["session"][0].',
    ),
    _f(
        "http.request.timestamp.sec",
        INT,
        "int(ctx.timestamp)",
        "Time the request arrived, in whole seconds since the Unix epoch.",
        "ts",
        sql=_TS_SEC_SQL,
    ),
    _f(
        "http.request.timestamp.msec",
        INT,
        "_rt.ts_msec(ctx)",
        "Time the request arrived, in milliseconds since the Unix epoch.",
        "ts",
        sql=_TS_MSEC_SQL,
    ),
    _f("ssl", BOOL, "ctx.is_tls", "True when the client connected over TLS."),
    # -- HTTP response (rate-limiting counting expressions) ----------------------------
    _f(
        "http.response.code",
        INT,
        "inp.response_status",
        "Response status code; only known in rate-limiting counting expressions (absent "
        "elsewhere, so every comparison on it is false).",
        "status",
        nullable=True,
        example="http.response.code in {401 403}",
    ),
)

FIELDS: dict[str, FieldDef] = {f.name: f for f in FIELD_LIST}


def field_names() -> list[str]:
    """Every field name, sorted (for autocomplete and API validation)."""
    return sorted(FIELDS)


def render_fields_markdown() -> str:
    """docs/rules-fields.md, generated from the scheme (a test fails when the file is stale)."""
    lines = [
        "# Rules language fields",
        "",
        "<!-- Generated from src/botwarden/rules/scheme.py by",
        "     `python -m botwarden.rules.scheme > docs/rules-fields.md`; do not edit by hand. -->",
        "",
        "Every field a Botwarden rule expression can read. *Analytics column* names the column of",
        "the analytics events table the field is read from when the expression filters stored",
        "traffic (Bot Analytics, feedback reports); a field marked — is only available at the",
        "edge, and `rules sql` refuses it.",
        "",
        "| Field | Type | Analytics column | Description |",
        "|---|---|---|---|",
    ]
    for f in sorted(FIELD_LIST, key=lambda x: x.name):
        col = f"`{f.column}`" if f.column else "—"
        if f.sql and f.column:
            col += " (derived)"
        desc = f.help.replace("|", "\\|")
        if f.example:
            desc += f" Example: `{f.example}`".replace("|", "\\|")
        lines.append(f"| `{f.name}` | {f.type} | {col} | {desc} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_fields_markdown(), end="")
