"""Rules hot path: one expression, a 100-rule ruleset, and compiling 1,000 rules.

.venv/bin/python bench/rules.py            # prints a table, writes bench/results/rules.json
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from botwarden.geoip import GeoFacts, GeoIP
from botwarden.request import RequestContext, TLSInput
from botwarden.result import BotManagement, JSDetection, ScoreSource
from botwarden.rules import RuleInput, compile_rule
from botwarden.rules.ruleset import Rule, RuleEngine, SkipParameters

SEED = (
    "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and "
    'http.host eq "api-discovery.theburritobot.com" and '
    'cf.bot_management.ja3_hash eq "3fed133de60c35724739b913924b6c24")'
)
TARGETS = {"seed_p50_us": 1.0, "ruleset100_p50_us": 30.0, "compile1000_s": 1.0}


class _Geo(GeoIP):
    def __init__(self, facts: GeoFacts) -> None:
        from functools import lru_cache

        self._readers = []
        self.lookup = lru_cache(maxsize=None)(lambda ip: facts)


def browser_request() -> tuple[RequestContext, BotManagement]:
    headers = (
        ("host", "api-discovery.theburritobot.com"),
        ("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
        ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("accept-language", "en-US,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-fetch-site", "none"),
        ("cookie", "session=3f2a9c; theme=dark; __cf_bm=abc"),
        ("referer", "https://www.google.com/"),
    )  # fmt: skip
    ctx = RequestContext(
        client_ip="203.0.113.77",
        method="GET",
        host="api-discovery.theburritobot.com",
        path="/v1/products/4711",
        query="ref=home&utm_source=mail",
        http_version="2",
        headers=headers,
        tls=TLSInput(
            ja3_hash="3fed133de60c35724739b913924b6c24",
            ja4="t13d1516h2_8daaf6152771_e5627efa2ab1",
        ),
        timestamp=1_763_720_000.0,
        geoip=_Geo(GeoFacts(asn=132892, country="US", continent="NA")),
    )  # fmt: skip
    bm = BotManagement(
        score=45,
        score_src=ScoreSource.MACHINE_LEARNING,
        ja3_hash=ctx.ja3_hash,
        ja4=ctx.ja4,
        js_detection=JSDetection.PASSED,
        detection_ids=[],
    )
    return ctx, bm


def realistic_rules(n: int, rng: random.Random) -> list[str]:
    """Rule expressions of the kinds operators write for bot management."""
    paths = ["/login", "/signup", "/api/v1/cart", "/checkout", "/wp-login.php", "/admin"]
    hosts = ["shop.example", "api.example", "www.example", "login.example"]
    agents = ["curl", "python-requests", "Go-http-client", "scrapy", "HeadlessChrome", "wget"]
    score, vb = "cf.bot_management.score", "cf.bot_management.verified_bot"
    path, ua = "http.request.uri.path", "http.user_agent"
    post = 'http.request.method eq "POST"'

    def r(a: int, b: int) -> int:
        return rng.randint(a, b)

    def hx(bits: int) -> str:
        return f"{rng.getrandbits(bits):0{bits // 4}x}"

    def nets() -> str:
        return " ".join(f"198.51.{r(0, 255)}.0/24" for _ in range(4))

    templates = [
        lambda: f"{score} lt {r(2, 40)} and not {vb}",
        lambda: f'{score} lt 30 and {path} eq "{rng.choice(paths)}"',
        lambda: f'http.host eq "{rng.choice(hosts)}" and {score} le {r(1, 30)}',
        lambda: f'{ua} contains "{rng.choice(agents)}"',
        lambda: f'lower({ua}) contains "{rng.choice(agents).lower()}"',
        lambda: f'{ua} matches "(?i)({rng.choice(agents)}|{rng.choice(agents)})/[0-9]"',
        lambda: f"ip.src in {{{nets()}}}",
        lambda: (
            f'ip.geoip.country in {{"{rng.choice(["CN", "RU", "IR"])}" "XX"}} and {score} lt 50'
        ),
        lambda: f"ip.geoip.asnum in {{{r(1000, 60000)} {r(1000, 60000)}}}",
        lambda: f'cf.bot_management.ja3_hash eq "{hx(128)}"',
        lambda: f'cf.bot_management.ja4 eq "t13d{r(1000, 9999)}h2_{hx(48)}_{hx(48)}"',
        lambda: f'starts_with({path}, "{rng.choice(paths)}") and {post}',
        lambda: f'{path} wildcard "{rng.choice(paths)}*" and {score} lt 20',
        lambda: (
            f'not any(lower(http.request.headers.names[*])[*] eq "accept-language") '
            f"and {score} lt 50"
        ),
        lambda: f'http.request.headers["x-api-key"][0] eq "{hx(64)}"',
        lambda: f"any(cf.bot_management.detection_ids[*] eq {r(1, 50000000)})",
        lambda: f'http.request.uri.query contains "{rng.choice(["debug", "union select", "../"])}"',
        lambda: f"cf.bot_management.static_resource and {score} lt {r(2, 10)}",
        lambda: f'http.referer eq "" and {post} and {score} lt {r(10, 40)}',
        lambda: f'http.request.cookies["session"][0] eq "{hx(32)}"',
    ]
    return [templates[i % len(templates)]() for i in range(n)]


def per_call_us(
    fn: Any, arg: Any, batches: int = 2000, batch: int = 50, rounds: int = 3
) -> list[float]:
    """Per-call times (µs) of `batches` timed batches; of `rounds` repetitions the one with
    the lowest median is kept (as timeit keeps the best run: the others measure the noise
    of a shared machine, not the code)."""
    best: list[float] = []
    for _ in range(rounds):
        out = []
        for _ in range(batches):
            t0 = time.perf_counter_ns()
            for _ in range(batch):
                fn(arg)
            out.append((time.perf_counter_ns() - t0) / batch / 1000)
        if not best or statistics.median(out) < statistics.median(best):
            best = out
    return best


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    rng = random.Random(7)
    ctx, bm = browser_request()

    # 1. the seed expression on a prepared context (fields already derived once)
    seed = compile_rule(SEED)
    inp = RuleInput(ctx, bm)
    assert seed(inp) is True
    seed_times = per_call_us(seed, inp)

    # 2. a ruleset of 100 realistic rules (none matches: every rule is evaluated)
    exprs = realistic_rules(100, rng)
    rules = [Rule.create(f"r{i}", e, "block") for i, e in enumerate(exprs)]
    rules.insert(0, Rule.create("verified", "cf.bot_management.verified_bot", "skip",
                                skip=SkipParameters(rest_of_phase=True)))  # fmt: skip
    engine = RuleEngine(rules[:100])
    assert engine.evaluate(RuleInput(ctx, bm)).action is None

    def run_engine(_: object) -> None:
        engine.evaluate(RuleInput(ctx, bm))

    ruleset_times = per_call_us(run_engine, None, batches=1000, batch=10)

    # 3. parse, type-check and compile 1,000 rules (+ the phase function over all of them)
    thousand = realistic_rules(1000, random.Random(11))
    t0 = t1 = t2 = 0.0
    for _ in range(3):  # best of three, as above
        a = time.perf_counter()
        compiled = [Rule.create(f"c{i}", e, "log") for i, e in enumerate(thousand)]
        b = time.perf_counter()
        RuleEngine(compiled)
        c = time.perf_counter()
        if not t1 or b - a < t1 - t0:
            t0, t1, t2 = a, b, c

    seed_p50 = round(statistics.median(seed_times), 3)
    ruleset_p50 = round(statistics.median(ruleset_times), 2)
    compile_s = round(t1 - t0, 3)
    result: dict[str, object] = {
        "seed_p50_us": seed_p50,
        "seed_p99_us": round(pct(seed_times, 0.99), 3),
        "ruleset100_p50_us": ruleset_p50,
        "ruleset100_p99_us": round(pct(ruleset_times, 0.99), 2),
        "compile1000_s": compile_s,
        "compile1000_with_phase_s": round(t2 - t0, 3),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "targets": TARGETS,
    }
    rows = [
        ("seed expression, prepared context", "p50", f"{result['seed_p50_us']} µs", "≤ 1 µs"),
        ("", "p99", f"{result['seed_p99_us']} µs", ""),
        ("100 realistic rules, one request", "p50", f"{result['ruleset100_p50_us']} µs", "≤ 30 µs"),
        ("", "p99", f"{result['ruleset100_p99_us']} µs", ""),
        ("parse + check + compile 1,000 rules", "total", f"{result['compile1000_s']} s", "≤ 1 s"),
        (
            "  … and build the phase function",
            "total",
            f"{result['compile1000_with_phase_s']} s",
            "",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  stat   value       target")
    for name, stat, val, target in rows:
        print(f"{name:<{width}}  {stat:<5}  {val:<10}  {target}")
    out = Path(__file__).parent / "results" / "rules.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    ok = (
        seed_p50 <= TARGETS["seed_p50_us"]
        and ruleset_p50 <= TARGETS["ruleset100_p50_us"]
        and compile_s <= TARGETS["compile1000_s"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
