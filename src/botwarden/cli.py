"""The `botwarden` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from botwarden.errors import BotwardenError, ConfigError

app = typer.Typer(
    name="botwarden",
    help="Self-hosted bot management: bot scores, rules, analytics and a feedback loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bots_app = typer.Typer(help="The directory of verified (good) bots.", no_args_is_help=True)
app.add_typer(bots_app, name="bots")
rules_app = typer.Typer(help="The Cloudflare Rules language.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def _emit(result: tuple[int, str]) -> None:
    code, text = result
    if text:
        typer.echo(text, err=code != 0)
    if code:
        raise typer.Exit(code)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def score(
    source: Annotated[str, typer.Argument(help="File of requests, or - for stdin.")] = "-",
    fmt: Annotated[
        str, typer.Option("--format", help="json (docs/score-input.md) or combined (access log).")
    ] = "json",
    summary: Annotated[
        bool, typer.Option("--summary", help="Print a table of counts instead of results.")
    ] = False,
    geoip: Annotated[
        list[Path] | None, typer.Option("--geoip", help="MMDB file(s) with ASN / country data.")
    ] = None,
    dns: Annotated[
        bool,
        typer.Option("--dns/--no-dns", help="Verify rDNS-checked bots with live DNS lookups."),
    ] = False,
    host: Annotated[str, typer.Option(help="Host for log lines that do not name one.")] = "",
    workers: Annotated[
        int,
        typer.Option(
            help="Processes to score with (0 = one per CPU). Lines are dealt to workers by "
            "client IP; population-wide model windows (per JA4) are then per worker, so "
            "scores can differ slightly from one worker's.",
            min=0,
        ),
    ] = 1,
    ml: Annotated[
        bool, typer.Option("--ml/--no-ml", help="Run the machine-learning model.")
    ] = True,
) -> None:
    """Score requests: one JSON line of BotManagement per input line, in input order."""
    from botwarden import score_cli
    from botwarden.bots import BotDirectory, DnsResolver
    from botwarden.engines import default_engines
    from botwarden.geoip import GeoIP
    from botwarden.scoring import Pipeline

    if fmt not in ("json", "combined"):
        raise _fail(f"--format must be json or combined, not {fmt!r}")
    if source != "-" and not Path(source).is_file():
        raise _fail(f"{source}: no such file")
    try:
        geo = GeoIP(*geoip) if geoip else None
        directory = BotDirectory.default(resolver=DnsResolver() if dns else None)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    job = score_cli.Job(Pipeline(default_engines(directory, ml=ml)), fmt, geo, host, not summary)
    score_cli.run(source, job, summary, workers or os.cpu_count() or 1)


@app.command()
def fingerprint(
    client_hello: Annotated[
        str,
        typer.Option(
            "--client-hello", help="ClientHello as hex, or - to read one hex line per input line."
        ),
    ],
) -> None:
    """Print JA3, JA3N, JA4, SNI and ALPN of a TLS ClientHello."""
    from botwarden.errors import ClientHelloError
    from botwarden.fingerprint.tls import fingerprint_dict, parse_hex

    if client_hello != "-":
        try:
            doc = fingerprint_dict(parse_hex(client_hello))
        except ClientHelloError as exc:
            raise _fail(str(exc), 1) from None
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        return
    out = sys.stdout.buffer
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            result: dict[str, object] = fingerprint_dict(parse_hex(raw))
        except ClientHelloError as exc:
            result = {"error": str(exc)}
        out.write(orjson.dumps(result) + b"\n")
    out.flush()


@bots_app.command("update")
def bots_update(
    from_: Annotated[Path, typer.Option("--from", help="A verified-bot directory JSON file.")],
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default $BOTWARDEN_DATA_DIR or ./data).")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Replace the whole directory instead of merging into it.")
    ] = False,
) -> None:
    """Validate and install a new verified-bot directory (merged into the current one)."""
    from botwarden.bots import bots_update_command

    try:
        typer.echo(bots_update_command(from_, data_dir, replace=replace))
    except ConfigError as exc:
        raise _fail(str(exc), 1) from None


@rules_app.command("check")
def rules_check(
    expression: Annotated[str, typer.Argument(help="An expression, or - for one per line.")],
) -> None:
    """Check an expression: OK, or the error with a caret under the problem."""
    from botwarden.rules.cli import check_command

    _emit(check_command(expression))


@rules_app.command("eval")
def rules_eval(
    expression: Annotated[str, typer.Argument(help="The expression to evaluate.")],
    request: Annotated[
        Path, typer.Option("--request", help="A request record (docs/score-input.md).")
    ],
) -> None:
    """Evaluate an expression on one request: true or false, and the fields it read."""
    from botwarden.rules.cli import eval_command

    _emit(eval_command(expression, request))


@rules_app.command("sql")
def rules_sql(
    expression: Annotated[str, typer.Argument(help="The expression to compile.")],
    dialect: Annotated[str, typer.Option(help="duckdb or clickhouse.")] = "duckdb",
) -> None:
    """Compile an expression to a parameterised WHERE clause over analytics events."""
    from botwarden.rules.cli import sql_command

    _emit(sql_command(expression, dialect))


@rules_app.command("fields")
def rules_fields() -> None:
    """Print the field reference (every field, its type and meaning)."""
    from botwarden.rules.cli import fields_command

    _emit(fields_command())


simulate_app = typer.Typer(
    help="Simulated traffic: labelled events, live requests, scenarios.", no_args_is_help=True
)
app.add_typer(simulate_app, name="simulate")


@simulate_app.command("events")
def simulate_events(
    out: Annotated[
        Path, typer.Option("--out", help="FILE.parquet, or FILE.jsonl (score-input records).")
    ],
    scenario: Annotated[str, typer.Option(help="Scenario file or shipped name.")] = "default",
    hours: Annotated[float | None, typer.Option(help="Default: the scenario's.")] = None,
    rps: Annotated[float | None, typer.Option(help="Default: the scenario's.")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    start: Annotated[str | None, typer.Option(help="RFC 3339 start time.")] = None,
) -> None:
    """Write labelled events (ground truth and every request attribute the scorer reads)."""
    from botwarden.simulate.cli import events_command

    raise typer.Exit(
        events_command(out=out, scenario=scenario, hours=hours, rps=rps, seed=seed, start=start)
    )


@simulate_app.command("traffic")
def simulate_traffic(
    target: Annotated[str, typer.Option("--target", help="Base URL, loopback by default.")],
    rps: Annotated[float, typer.Option(help="Requests per second (an upper bound).")],
    duration: Annotated[float, typer.Option(help="Seconds.")],
    scenario: Annotated[str, typer.Option(help="Scenario file or shipped name.")] = "default",
    seed: Annotated[int, typer.Option()] = 0,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="Allow a non-loopback host.")
    ] = None,
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="aiohttp, curl_cffi, curl, chromium.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write a JSON report.")] = None,
) -> None:
    """Send the scenario as real HTTP(S) requests (loopback only unless --allow-host)."""
    from botwarden.simulate.cli import traffic_command

    raise typer.Exit(
        traffic_command(
            target=target,
            rps=rps,
            duration=duration,
            scenario=scenario,
            seed=seed,
            allow_hosts=allow_host,
            engines=engine,
            json_out=json_out,
        )
    )


@simulate_app.command("check")
def simulate_check(
    files: Annotated[list[Path], typer.Argument(help="Scenario files.")],
) -> None:
    """Validate scenario files (every problem at once)."""
    from botwarden.simulate.cli import check_command

    raise typer.Exit(check_command(files))


@simulate_app.command("populations")
def simulate_populations() -> None:
    """List the simulated populations."""
    from botwarden.simulate.cli import populations_command

    raise typer.Exit(populations_command())


@app.command("demo-shop")
def demo_shop(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Serve the bundled demo shop alone (the origin `botwarden demo` protects)."""
    from botwarden.demo.__main__ import serve

    serve(host, port)


demo_app = typer.Typer(help="Demos: the main job, and the feedback loop.")
app.add_typer(demo_app, name="demo")


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    traffic: Annotated[
        bool | None,
        typer.Option(help="Run the simulator at a low rate (default: on unless DEMO_TRAFFIC=0)."),
    ] = None,
    rps: Annotated[float, typer.Option(help="Simulated requests per second.")] = 3.0,
) -> None:
    """The main job (`make run`): the demo shop with Botwarden in front, the API, a demo
    account, zone and token (printed), and simulated traffic, until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from botwarden.edge.cli import demo_command

    raise typer.Exit(demo_command(traffic=traffic, rps=rps))


@demo_app.command("feedback-loop")
def demo_feedback_loop(
    workdir: Annotated[
        Path | None, typer.Option(help="Keep everything here (default: a temporary directory).")
    ] = None,
) -> None:
    """The feedback loop end to end on simulated traffic: reports filed through the API,
    reviewed, retrained, gated and promoted; prints before/after (exit 1 if a gate fails)."""
    from botwarden.feedback.demo import run_demo

    raise typer.Exit(run_demo(workdir))


@app.command()
def serve(
    origin: Annotated[
        str | None, typer.Option(help="Origin URL (none: forward-auth only).")
    ] = None,
    role: Annotated[str, typer.Option(help="all, edge or api.")] = "all",
    listen: Annotated[
        list[str] | None, typer.Option(help="Plain HTTP address, host:port (repeatable).")
    ] = None,
    tls_listen: Annotated[
        list[str] | None, typer.Option(help="HTTPS address, host:port (repeatable).")
    ] = None,
    cert: Annotated[str | None, typer.Option(help="TLS certificate chain (PEM).")] = None,
    key: Annotated[str | None, typer.Option(help="TLS private key (PEM).")] = None,
    api: Annotated[str, typer.Option(help="API address, host:port.")] = "127.0.0.1:8001",
    admin: Annotated[str, typer.Option(help="Metrics address, host:port.")] = "127.0.0.1:9090",
    database: Annotated[
        str | None, typer.Option(envvar="BOTWARDEN_DATABASE_URL", help="Config store URL.")
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None, typer.Option(help="CIDR whose forwarding headers are trusted.")
    ] = None,
    zone: Annotated[str, typer.Option(help="Zone for hosts no zone names.")] = "",
    analytics: Annotated[bool, typer.Option(help="Record events to Bot Analytics.")] = True,
) -> None:
    """Run Botwarden: the edge (reverse proxy and forward-auth) and the API."""
    from botwarden.edge.cli import ServeOptions, serve_command

    options = ServeOptions(
        role=role,
        origin=origin,
        listen=listen or ["127.0.0.1:8000"],
        tls_listen=tls_listen or [],
        cert=cert,
        key=key,
        admin=admin,
        api=api,
        database=database,
        trusted_proxies=trusted_proxy or [],
        default_zone=zone,
        analytics=analytics,
    )
    raise typer.Exit(serve_command(options))


analytics_app = typer.Typer(
    help="Bot Analytics: import events, read the dashboard figures.", no_args_is_help=True
)
app.add_typer(analytics_app, name="analytics")

ZoneOpt = Annotated[str | None, typer.Option(help="The zone (default: every zone).")]
SinceOpt = Annotated[str, typer.Option(help="Window start: 24h, 7d, or an RFC 3339 time.")]
UntilOpt = Annotated[str | None, typer.Option(help="Window end (default: now).")]
FilterOpt = Annotated[
    str | None,
    typer.Option("--filter", help="A rules-language expression, e.g. ip.src.asnum eq 64500"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]
BackendOpt = Annotated[
    str | None, typer.Option(help="Backend URL (default: $BOTWARDEN_ANALYTICS_URL or DuckDB).")
]


@analytics_app.command("import")
def analytics_import(
    file: Annotated[Path, typer.Argument(help="Simulator Parquet, or request-record JSON lines.")],
    zone: ZoneOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Import events (exactly once per file)."""
    from botwarden.analytics.cli import import_command

    _emit(import_command(file, backend=backend, zone=zone))


@analytics_app.command("summary")
def analytics_summary(
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    filter_: FilterOpt = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
) -> None:
    """Requests by grouping and by score source."""
    from botwarden.analytics.cli import summary_command

    _emit(
        summary_command(
            backend=backend, zone=zone, since=since, until=until, flt=filter_, as_json=as_json
        )
    )


@analytics_app.command("top")
def analytics_top(
    attribute: Annotated[
        str,
        typer.Argument(
            help="ip, user_agent, asn, country, host, path, ja3, ja4, detection_id, "
            "verified_bot_category"
        ),
    ],
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    filter_: FilterOpt = None,
    limit: Annotated[int, typer.Option(help="How many rows.")] = 10,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
) -> None:
    """The top values of an attribute."""
    from botwarden.analytics.cli import top_command

    _emit(
        top_command(
            attribute,
            backend=backend,
            zone=zone,
            since=since,
            until=until,
            flt=filter_,
            limit=limit,
            as_json=as_json,
        )
    )


@analytics_app.command("timeseries")
def analytics_timeseries(
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    filter_: FilterOpt = None,
    interval: Annotated[int | None, typer.Option(help="Seconds (default adapts).")] = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
) -> None:
    """Requests by grouping over time."""
    from botwarden.analytics.cli import timeseries_command

    _emit(
        timeseries_command(
            backend=backend,
            zone=zone,
            since=since,
            until=until,
            flt=filter_,
            interval=interval,
            as_json=as_json,
        )
    )


@analytics_app.command("histogram")
def analytics_histogram(
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    filter_: FilterOpt = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
) -> None:
    """The score distribution 1..99."""
    from botwarden.analytics.cli import histogram_command

    _emit(
        histogram_command(
            backend=backend, zone=zone, since=since, until=until, flt=filter_, as_json=as_json
        )
    )


@analytics_app.command("sample")
def analytics_sample(
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    filter_: FilterOpt = None,
    limit: Annotated[int, typer.Option(help="How many events.")] = 20,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
) -> None:
    """A sample of matching raw events."""
    from botwarden.analytics.cli import sample_command

    _emit(
        sample_command(
            backend=backend,
            zone=zone,
            since=since,
            until=until,
            flt=filter_,
            limit=limit,
            as_json=as_json,
        )
    )


@analytics_app.command("feedback")
def analytics_feedback(
    expression: Annotated[str, typer.Argument(help="The report's expression.")],
    zone: ZoneOpt = None,
    since: SinceOpt = "24h",
    until: UntilOpt = None,
    top_n: Annotated[int, typer.Option(help="Rows per top list.")] = 10,
    backend: BackendOpt = None,
) -> None:
    """The figures a feedback report carries for an expression and window."""
    from botwarden.analytics.cli import feedback_command

    _emit(
        feedback_command(
            expression, backend=backend, zone=zone, since=since, until=until, top_n=top_n
        )
    )


def _add_admin(argv: list[str]) -> None:
    """`botwarden admin …` loads SQLAlchemy and Alembic (about a second), `botwarden model …`
    typer and the model registry; register them only when they can be asked for, so
    `botwarden score` starts fast."""
    everything = not argv or argv[0] in ("--help", "-h")
    if everything or argv[0] == "admin":
        from botwarden.store.cli import admin_app

        app.add_typer(admin_app, name="admin")
    if everything or argv[0] == "model":
        from botwarden.ml.commands import model_app

        app.add_typer(model_app, name="model")
    if everything or argv[0] == "feedback":
        from botwarden.feedback.cli import feedback_app

        app.add_typer(feedback_app, name="feedback")


def main() -> None:
    _add_admin(sys.argv[1:])
    try:
        app()
    except BotwardenError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
