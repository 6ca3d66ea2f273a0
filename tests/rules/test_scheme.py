"""The scheme is the single source of truth: docs are generated from it and stay fresh."""

from __future__ import annotations

from pathlib import Path

from botwarden.rules.functions import FUNCTIONS
from botwarden.rules.scheme import FIELD_LIST, FIELDS, field_names, render_fields_markdown
from botwarden.testing.events_table import COLUMN_NAMES

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules-fields.md"

REQUIRED_FIELDS = [
    "cf.bot_management.score",
    "cf.bot_management.verified_bot",
    "cf.bot_management.static_resource",
    "cf.bot_management.ja3_hash",
    "cf.bot_management.ja4",
    "cf.bot_management.js_detection.passed",
    "cf.bot_management.detection_ids",
    "cf.bot_management.corporate_proxy",
    "cf.verified_bot_category",
    "cf.client.bot",
    "cf.threat_score",
    "ip.src",
    "ip.src.asnum",
    "ip.src.country",
    "ip.geoip.asnum",
    "ip.geoip.country",
    "ip.geoip.continent",
    "http.host",
    "http.user_agent",
    "http.referer",
    "http.cookie",
    "http.request.method",
    "http.request.version",
    "http.request.full_uri",
    "http.request.uri",
    "http.request.uri.path",
    "http.request.uri.path.extension",
    "http.request.uri.query",
    "http.request.uri.args",
    "http.request.uri.args.names",
    "http.request.headers",
    "http.request.headers.names",
    "http.request.cookies",
    "http.request.timestamp.sec",
    "ssl",
    "http.response.code",
]

REQUIRED_FUNCTIONS = [
    "any",
    "all",
    "lower",
    "upper",
    "len",
    "starts_with",
    "ends_with",
    "concat",
    "cidr",
    "cidr6",
    "url_decode",
    "decode_base64",
    "lookup_json_string",
    "lookup_json_integer",
    "regex_replace",
    "wildcard_replace",
    "remove_bytes",
    "remove_query_args",
    "substring",
    "to_string",
    "split",
    "join",
]


def test_fields_doc_is_fresh() -> None:
    assert DOC.read_text(encoding="utf-8") == render_fields_markdown(), (
        "docs/rules-fields.md is stale: run "
        "`python -m botwarden.rules.scheme > docs/rules-fields.md`"
    )


def test_required_fields_and_functions_exist() -> None:
    assert [f for f in REQUIRED_FIELDS if f not in FIELDS] == []
    assert [f for f in REQUIRED_FUNCTIONS if f not in FUNCTIONS] == []


def test_columns_exist_in_the_events_table() -> None:
    for f in FIELD_LIST:
        if f.column is not None:
            assert f.column in COLUMN_NAMES, f.name


def test_every_field_has_help() -> None:
    assert all(f.help.strip().endswith((".", ")")) for f in FIELD_LIST)
    assert field_names() == sorted(FIELDS)


def test_examples_in_the_language_doc_compile() -> None:
    import re

    from botwarden.rules import compile_rule

    doc = (DOC.parent / "rules-language.md").read_text(encoding="utf-8")
    table = doc.split("## Examples from bot management", 1)[1].split("\n## ", 1)[0]
    examples = []
    for row in table.splitlines():
        cells = row.split(" | ")
        if len(cells) >= 2 and cells[1].startswith("`"):
            examples.append(cells[1].strip("`").replace("\\|", "|"))
    assert len(examples) >= 10
    for expression in examples:
        compile_rule(expression)
    for expression in re.findall(r"^(?:any|all)\(.*\)$", doc, flags=re.M):
        compile_rule(expression)
