"""The `botwarden` command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from botwarden.testing.samples import sample_record, sample_records

ROOT = Path(__file__).resolve().parent.parent


def botwarden(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "botwarden.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_score_stdin_one_line_per_request_in_order() -> None:
    import random

    rng = random.Random(3)
    kinds = [
        "curl",
        "chrome",
        "googlebot",
        "fake_googlebot",
        "empty_ua",
        "spoofed_chrome_python_tls",
    ]
    records = [sample_record(rng, k) for k in kinds]
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    proc = botwarden("score", "-", stdin=data)
    assert proc.returncode == 0, proc.stderr
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [o["id"] for o in out] == kinds
    by = {o["id"]: o for o in out}
    assert by["curl"]["score"] == 1
    assert by["curl"]["score_src"] == "Heuristics"
    assert by["chrome"]["score_src"] == "Machine Learning"  # no heuristic: the model decides
    assert by["chrome"]["model_version"]
    assert 2 <= by["chrome"]["score"] <= 99
    assert by["googlebot"]["verified_bot"] is True
    assert by["googlebot"]["grouping"] == "verified_bot"
    assert by["googlebot"]["score_src"] == "Verified Bot"
    assert by["fake_googlebot"]["verified_bot"] is False
    assert 1040 in by["fake_googlebot"]["detection_ids"]
    assert by["empty_ua"]["detection_ids"] == [1010]
    assert 1020 in by["spoofed_chrome_python_tls"]["detection_ids"]


def test_score_bad_lines_give_error_lines_and_the_run_goes_on() -> None:
    good = orjson.dumps(sample_records(1, seed=1)[0])
    data = b"\n".join([good, b"{not json", b'{"ip": "nope"}', b"", good]) + b"\n"
    proc = botwarden("score", "-", stdin=data)
    assert proc.returncode == 0
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert out[1]["line"] == 2
    assert "not valid JSON" in out[1]["error"]
    assert out[2] == {"line": 3, "error": "ip: 'nope' is not an IPv4 or IPv6 address"}
    assert "score" in out[0]
    assert "score" in out[3]


def test_score_summary_on_the_bundled_examples() -> None:
    proc = botwarden("score", str(ROOT / "examples" / "requests.jsonl"), "--summary")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "2000 requests scored, 0 unreadable lines" in text
    for word in ("automated", "likely_human", "verified_bot", "Heuristics", "Verified Bot"):
        assert word in text


def test_score_combined_log(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '66.249.66.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
        '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"\n'
        '45.1.2.3 - - [21/Nov/2026:10:00:01 +0000] "GET /.env HTTP/1.1" 404 5 "-" "curl/8.5.0"\n'
        "this is not a log line\n"
    )
    proc = botwarden("score", str(log), "--format", "combined")
    assert proc.returncode == 0, proc.stderr
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["verified_bot"] is True
    assert out[1]["score"] == 1
    assert out[2]["line"] == 3


def test_score_missing_file_and_bad_format() -> None:
    proc = botwarden("score", "/nonexistent.jsonl")
    assert proc.returncode == 2
    assert b"no such file" in proc.stderr
    proc = botwarden("score", "-", "--format", "xml", stdin=b"")
    assert proc.returncode == 2
    assert b"--format must be json or combined" in proc.stderr


def _strip_timings(out: bytes) -> list[dict[str, object]]:
    docs = [orjson.loads(line) for line in out.splitlines()]
    for d in docs:
        d.pop("timings_us", None)
    return docs


def test_parallel_workers_keep_input_order_and_agree_with_one_worker() -> None:
    """Without the model's windows, scoring is stateless: any split gives the same lines."""
    records = sample_records(6000, seed=11)
    records[4100] = {"ip": "bad"}  # an error line in the third chunk
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    one = botwarden("score", "-", "--no-ml", "--workers", "1", stdin=data)
    two = botwarden("score", "-", "--no-ml", "--workers", "2", stdin=data)
    assert one.returncode == two.returncode == 0
    a, b = _strip_timings(one.stdout), _strip_timings(two.stdout)
    assert len(a) == 6000
    assert a == b
    assert a[4100] == {"line": 4101, "error": "ip: 'bad' is not an IPv4 or IPv6 address"}


def test_parallel_workers_with_the_model_score_each_client_ip_in_one_worker(
    tmp_path: Path,
) -> None:
    """With the model, `--workers 2` is exactly: deal lines by client IP, score each share
    in order in one process, put the results back in input order."""
    from botwarden.score_cli import shard_of

    records = sample_records(5000, seed=12)
    for i, r in enumerate(records):
        r["ts"] = 1_790_000_000 + i * 0.05  # logged times: windows must not read the clock
    for r in records[::7]:
        r["ip"] = "203.0.113.9"  # one busy client across every chunk
    lines = [orjson.dumps(r) for r in records]
    two = botwarden("score", "-", "--workers", "2", stdin=b"\n".join(lines) + b"\n")
    assert two.returncode == 0, two.stderr
    expected: list[dict[str, object] | None] = [None] * len(lines)
    for k in (0, 1):
        mine = [i for i, raw in enumerate(lines) if shard_of(raw, "json", 2) == k]
        assert mine, "both workers get lines"
        alone = botwarden("score", "-", stdin=b"\n".join(lines[i] for i in mine) + b"\n")
        assert alone.returncode == 0, alone.stderr
        for i, doc in zip(mine, _strip_timings(alone.stdout), strict=True):
            expected[i] = doc
    got = _strip_timings(two.stdout)
    assert got == expected
    assert any(d["score_src"] == "Machine Learning" for d in got)


CAPTURES = ROOT / "tests" / "fingerprint" / "captures"


def test_fingerprint_one_hello() -> None:
    hello = (CAPTURES / "curl.hex").read_text().strip()
    proc = botwarden("fingerprint", "--client-hello", hello)
    assert proc.returncode == 0, proc.stderr
    doc = orjson.loads(proc.stdout)
    assert set(doc) >= {"ja3", "ja3_hash", "ja3n", "ja4", "sni", "alpn"}
    assert doc["ja4"].startswith("t13d")
    assert doc["sni"] == "localhost"
    assert doc["alpn"] == ["h2", "http/1.1"]


def test_fingerprint_bad_hello_exits_1_with_a_message() -> None:
    proc = botwarden("fingerprint", "--client-hello", "160301")
    assert proc.returncode == 1
    assert b"error:" in proc.stderr


def test_fingerprint_stdin_one_json_line_each_and_errors_inline() -> None:
    good = (CAPTURES / "chromium.hex").read_text().strip()
    data = f"{good}\nnot hex at all\n\n160301000a01000006\n{good}\n".encode()
    proc = botwarden("fingerprint", "--client-hello", "-", stdin=data)
    assert proc.returncode == 0
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["ja4"] == out[3]["ja4"]
    assert "error" in out[1]
    assert "error" in out[2]


def test_bots_update_installs_a_directory_that_score_then_uses(tmp_path: Path) -> None:
    directory = {
        "schema": 1,
        "bots": [
            {
                "slug": "examplebot",
                "name": "ExampleBot",
                "operator": "Example Inc.",
                "category": "Monitoring & Analytics",
                "ua": "ExampleBot",
                "ipv4": ["198.51.100.0/24"],
            }
        ],
    }
    src = tmp_path / "bots.json"
    src.write_bytes(orjson.dumps(directory))
    proc = subprocess.run(
        [sys.executable, "-m", "botwarden.cli", "bots", "update", "--from", str(src),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"verified bots" in proc.stdout
    assert (tmp_path / "data" / "verified_bots.json").exists()
    record = {"ip": "198.51.100.9", "headers": [["user-agent", "ExampleBot/1.0"]]}
    env_run = subprocess.run(
        [sys.executable, "-m", "botwarden.cli", "score", "-"],
        input=orjson.dumps(record) + b"\n",
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "BOTWARDEN_DATA_DIR": str(tmp_path / "data")},
    )
    out = orjson.loads(env_run.stdout)
    assert out["verified_bot"] is True
    assert out["verified_bot_category"] == "Monitoring & Analytics"


def test_bots_update_refuses_a_bad_file_and_lists_every_problem(tmp_path: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text('{"schema": 1, "bots": [{"slug": "x", "ipv4": ["10.0.0.0/33"]}]}')
    proc = botwarden("bots", "update", "--from", str(src), "--data-dir", str(tmp_path))
    assert proc.returncode == 1
    assert b"10.0.0.0/33" in proc.stderr


SEED_EXPRESSION = (
    "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and http.host eq "
    '"api-discovery.theburritobot.com" and cf.bot_management.ja3_hash eq '
    '"3fed133de60c35724739b913924b6c24")'
)


def test_rules_check_ok_and_caret_error() -> None:
    ok = botwarden("rules", "check", SEED_EXPRESSION)
    assert (ok.returncode, ok.stdout.strip()) == (0, b"OK")
    bad = botwarden("rules", "check", 'cf.bot_management.score lt "x"')
    assert bad.returncode == 1
    assert b"^^^" in bad.stderr
    assert b"expected an integer" in bad.stderr


def test_rules_check_stdin_json_lines() -> None:
    proc = botwarden("rules", "check", "-", stdin=b"ip.src in {10.0.0.0/8}\nhttp.host eq\n")
    assert proc.returncode == 0
    out = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert out[0] == {"ok": True}
    assert out[1]["ok"] is False
    assert "column 13" in out[1]["error"]


def test_rules_sql_and_eval(tmp_path: Path) -> None:
    proc = botwarden("rules", "sql", SEED_EXPRESSION, "--dialect", "duckdb")
    assert proc.returncode == 0
    assert b"132892" in proc.stdout  # the value is a bound parameter, listed after the SQL
    assert b"132892" not in proc.stdout.splitlines()[0]
    req = tmp_path / "req.json"
    req.write_bytes(orjson.dumps({"ip": "1.2.3.4", "headers": [["user-agent", "curl/8.5.0"]]}))
    proc = botwarden("rules", "eval", "cf.bot_management.score eq 1", "--request", str(req))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == b"true"


def test_simulated_events_feed_the_scorer(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    proc = botwarden(
        "simulate", "events", "--out", str(out), "--hours", "0.005", "--rps", "20", "--seed", "3"
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) > 100
    scored = botwarden("score", str(out))
    assert scored.returncode == 0
    results = [orjson.loads(line) for line in scored.stdout.splitlines()]
    assert len(results) == len(lines)
    assert not any("error" in r for r in results)
    assert {r["grouping"] for r in results} >= {"automated", "likely_human"}
    assert {r["score_src"] for r in results} >= {"Heuristics", "Machine Learning"}


def test_analytics_import_then_query(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    env = {**os.environ, "BOTWARDEN_DATA_DIR": str(tmp_path)}
    # The top of the previous hour: 18 s of events starting at this hour's top would end
    # after "now" in the first 18 s of an hour, outside the summary's window.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = hour.isoformat()
    events = tmp_path / "ev.jsonl"

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "botwarden.cli", *args],
            capture_output=True, timeout=300, check=False, env=env,
        )  # fmt: skip

    made = run("simulate", "events", "--out", str(events), "--hours", "0.005", "--rps", "20",
               "--seed", "4", "--start", start)  # fmt: skip
    assert made.returncode == 0, made.stderr
    n = len(events.read_bytes().splitlines())
    imported = run("analytics", "import", str(events))
    assert imported.returncode == 0, imported.stderr
    again = run("analytics", "import", str(events))
    assert b"already stored: %d" % n in again.stdout.replace(b",", b"")
    summary = run("analytics", "summary", "--since", "2d", "--json")
    assert summary.returncode == 0, summary.stderr
    doc = orjson.loads(summary.stdout)
    assert doc["totals"]["total"] == n
    assert sum(v for k, v in doc["totals"].items() if k != "total") == n
    top = run("analytics", "top", "user_agent", "--since", "2d", "--json",
              "--filter", "cf.bot_management.score eq 1")  # fmt: skip
    assert top.returncode == 0, top.stderr
    bad = run("analytics", "summary", "--filter", "cf.bot_management.score lt")
    assert bad.returncode != 0
    assert b"^" in bad.stderr
