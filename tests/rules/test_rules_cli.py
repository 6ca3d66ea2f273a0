"""The `botwarden rules …` command functions."""

from __future__ import annotations

import io
import json
from pathlib import Path

from botwarden.rules.cli import check_command, eval_command, fields_command, sql_command


def test_check_ok_and_error() -> None:
    assert check_command("cf.bot_management.score lt 30") == (0, "OK")
    code, out = check_command("cf.bot_management.score lt")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("unexpected end of expression")
    assert lines[1] == "cf.bot_management.score lt"
    assert lines[2].strip() == "^"


def test_check_stdin_json_lines() -> None:
    stdin = io.StringIO("ssl\nhttp.host eq\n\nip.src in {10.0.0.0/8}\n")
    code, out = check_command("-", stdin)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["ok"] for r in rows] == [True, False, False, True]
    assert "unexpected end" in rows[1]["error"]
    assert rows[2]["error"].startswith("empty expression")


def test_eval(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(
        json.dumps(
            {
                "ip": "203.0.113.7",
                "method": "POST",
                "url": "https://shop.example/login?x=1",
                "http_version": "2",
                "headers": [["user-agent", "curl/8.5.0"], ["accept", "*/*"]],
                "bot_management": {"score": 3, "ja3_hash": "abc"},
                "status": 401,
            }
        )
    )
    code, out = eval_command(
        'cf.bot_management.score lt 30 and http.request.uri.path eq "/login" '
        "and http.response.code eq 401 and ip.src in {203.0.113.0/24}",
        req,
    )
    assert code == 0
    assert out.splitlines() == [
        "true",
        "cf.bot_management.score = 3",
        'http.request.uri.path = "/login"',
        "http.response.code = 401",
        "ip.src = 203.0.113.7",
    ]
    code, out = eval_command('http.user_agent contains "Firefox"', req)
    assert (code, out.splitlines()[0]) == (0, "false")


def test_eval_scores_the_request_when_no_result_is_given(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"ip": "203.0.113.7", "headers": [["user-agent", "curl/8.5.0"]]}))
    code, out = eval_command("cf.bot_management.score ge 0", req)
    assert code == 0
    assert out.splitlines()[0] == "true"


def test_eval_errors(tmp_path: Path) -> None:
    assert eval_command("http.host eq", tmp_path / "none.json")[0] == 1
    code, out = eval_command("ssl", tmp_path / "none.json")
    assert code == 1
    assert "cannot read request" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"ip": "nope"}')
    code, out = eval_command("ssl", bad)
    assert code == 1
    assert "ip" in out


def test_sql() -> None:
    code, out = sql_command('http.host eq "a.test" and cf.bot_management.score lt 30', "duckdb")
    assert code == 0
    sql, params = out.split("\n-- params: ")
    assert sql == "((host = $1) AND (score < CAST($2 AS BIGINT)))"
    assert json.loads(params) == ["a.test", 30]
    code, out = sql_command('http.host eq "a.test"', "clickhouse")
    assert code == 0
    assert out.startswith("(host = {p1:String})")
    assert json.loads(out.split("\n-- params: ")[1]) == {"p1": "a.test"}
    assert sql_command("ssl", "postgres")[0] == 1
    code, out = sql_command('http.cookie contains "x"', "duckdb")
    assert code == 1
    assert "not stored in analytics" in out


def test_fields() -> None:
    code, out = fields_command()
    assert code == 0
    assert "`cf.bot_management.score`" in out
