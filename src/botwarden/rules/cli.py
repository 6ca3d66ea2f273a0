"""What `botwarden rules …` does; cli.py wires these into typer. Each returns
(exit_code, output) and never raises for bad input."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from botwarden.errors import BotwardenError
from botwarden.rules.compiler import compile_rule
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.evalctx import RuleInput
from botwarden.rules.scheme import DIALECTS, render_fields_markdown
from botwarden.rules.to_python import value_getter

if TYPE_CHECKING:
    from botwarden.result import BotManagement


def check_command(expression: str, stdin: TextIO | None = None) -> tuple[int, str]:
    """`rules check EXPR`: "OK", or the caret error and exit 1.
    `rules check -`: one expression per line of stdin, one JSON line each
    ({"ok": true} or {"ok": false, "error": "…"}), exit 0."""
    if expression != "-":
        try:
            compile_rule(expression)
        except RuleSyntaxError as exc:
            return 1, str(exc)
        return 0, "OK"
    lines = []
    for line in (stdin or sys.stdin).read().splitlines():
        try:
            compile_rule(line)
        except RuleSyntaxError as exc:
            lines.append(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        else:
            lines.append(json.dumps({"ok": True}))
    return 0, "\n".join(lines)


def _bot_management(record: dict[str, Any], inp_ctx: Any) -> BotManagement:
    from botwarden.result import BotManagement, JSDetection, ScoreSource

    given = record.get("bot_management")
    if isinstance(given, dict):
        return BotManagement(
            score=int(given.get("score", 0)),
            score_src=ScoreSource(given.get("score_src", ScoreSource.NOT_COMPUTED)),
            verified_bot=bool(given.get("verified_bot", False)),
            verified_bot_category=given.get("verified_bot_category"),
            ja3_hash=given.get("ja3_hash", inp_ctx.ja3_hash),
            ja4=given.get("ja4", inp_ctx.ja4),
            static_resource=bool(given.get("static_resource", inp_ctx.static_resource)),
            js_detection=JSDetection(given.get("js_detection", JSDetection.MISSING)),
            detection_ids=[int(x) for x in given.get("detection_ids", [])],
            corporate_proxy=bool(given.get("corporate_proxy", False)),
        )
    from botwarden.scoring import default_pipeline

    return default_pipeline().score(inp_ctx)


def _show(value: Any) -> str:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def eval_command(expression: str, request: str | Path) -> tuple[int, str]:
    """`rules eval EXPR --request FILE.json`: "true" or "false", then each field the
    expression reads with its value. The request is a score-input record
    (docs/score-input.md); it may carry "bot_management" (result fields to use instead of
    scoring the request) and "status" (the response code, for http.response.code)."""
    try:
        rule = compile_rule(expression)
    except RuleSyntaxError as exc:
        return 1, str(exc)
    try:
        text = Path(request).read_text(encoding="utf-8")
        record = json.loads(text)
    except (OSError, ValueError) as exc:
        return 1, f"cannot read request {request}: {exc}"
    if not isinstance(record, dict):
        return 1, f"request {request}: expected a JSON object"
    try:
        from botwarden.inputs import context_from_record

        ctx = context_from_record(record)
        bm = _bot_management(record, ctx)
        status = record.get("status")
        inp = RuleInput(ctx, bm, response_status=int(status) if status is not None else None)
        result = rule(inp)
    except (BotwardenError, ValueError, TypeError) as exc:
        return 1, f"request {request}: {exc}"
    out = ["true" if result else "false"]
    for name in rule.fields:
        out.append(f"{name} = {_show(value_getter(name)(inp))}")
    return 0, "\n".join(out)


def sql_command(expression: str, dialect: str = "duckdb") -> tuple[int, str]:
    """`rules sql EXPR --dialect duckdb|clickhouse`: the WHERE clause over the analytics
    events table and its bound parameters (JSON)."""
    if dialect not in DIALECTS:
        return 1, f"unknown dialect {dialect!r}; use one of: {', '.join(DIALECTS)}"
    try:
        f = compile_rule(expression).to_sql(dialect)
    except RuleSyntaxError as exc:
        return 1, str(exc)
    params = json.dumps(f.params, ensure_ascii=False)
    return 0, f"{f.sql}\n-- params: {params}"


def fields_command() -> tuple[int, str]:
    """`rules fields`: the field reference (docs/rules-fields.md) as Markdown."""
    return 0, render_fields_markdown().rstrip("\n")
