"""`botwarden admin …`: create accounts, users, zones and API tokens in the store, with
explicit ids and keys when an existing Cloudflare setup is to be reproduced:

    botwarden admin create-account --name Acme
    botwarden admin create-user --email user@example.com \\
        --key c2547eb745079dac9320b638f5e225cf483cc5cfdda41 --account <account id>
    botwarden admin create-zone --account <account id> --name example.com \\
        --plan enterprise --id 023e105f4ecef8ad9ca31a8372d0c353
    botwarden admin create-token --user user@example.com --name ci \\
        --permission bot_feedback_write --permission bot_analytics_read --zone <zone id>
    botwarden admin user password user@example.com     # dashboard sign-in (asks twice)

Each command prints one JSON object: what was created, and a generated key or token (the
only time it is shown: the store keeps a digest). `admin_app` is a Typer app to mount.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from botwarden.errors import BotwardenError
from botwarden.store import DEFAULT_URL, Grant, NotFound, Plan, Store
from botwarden.store import open as open_store
from botwarden.store.records import parse_permission

admin_app = typer.Typer(
    help="Accounts, users, zones and API tokens of the control plane.", no_args_is_help=True
)

Database = Annotated[
    str,
    typer.Option(
        "--database",
        envvar="BOTWARDEN_DATABASE_URL",
        help="Store URL: sqlite:///path or postgresql+psycopg://…",
    ),
]


def create_account(st: Store, name: str, id: str | None = None) -> dict[str, Any]:
    a = st.create_account(name, id=id)
    return {"account": {"id": a.id, "name": a.name}}


def create_user(
    st: Store,
    email: str,
    key: str | None = None,
    id: str | None = None,
    accounts: list[str] | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    user, value = st.create_user(
        email, key, id=id, is_admin=admin, account_ids=list(accounts or [])
    )
    out: dict[str, Any] = {
        "user": {"id": user.id, "email": user.email, "accounts": list(user.account_ids)}
    }
    if key is None:
        out["api_key"] = value
    return out


def create_zone(
    st: Store, account: str, name: str, plan: str = "free", id: str | None = None
) -> dict[str, Any]:
    try:
        p = Plan(plan.lower())
    except ValueError:
        raise ValueError(f"--plan must be one of {', '.join(x.value for x in Plan)}") from None
    z = st.create_zone(account, name, p, id=id)
    return {"zone": {"id": z.id, "name": z.name, "plan": z.plan.value, "account": z.account_id}}


def create_token(
    st: Store,
    user: str,
    name: str,
    permissions: list[str],
    accounts: list[str] | None = None,
    zones: list[str] | None = None,
    value: str | None = None,
    id: str | None = None,
    expires_on: datetime | None = None,
) -> dict[str, Any]:
    owner = st.find_user(user) if "@" in user else st.get_user(user)
    if not permissions:
        raise ValueError("give at least one --permission")
    perms = frozenset(parse_permission(p) for p in permissions)
    for z in zones or []:
        if st.get_zone(z).account_id not in owner.account_ids:
            raise ValueError(f"zone {z} is not in an account of {owner.email}")
    for a in accounts or []:
        if a not in owner.account_ids:
            raise ValueError(f"{owner.email} is not a member of account {a}")
    grant = Grant(perms, frozenset(accounts or []), frozenset(zones or []))
    if expires_on is not None and expires_on.tzinfo is None:
        raise ValueError("--expires-on needs a time zone, e.g. 2030-01-01T00:00:00Z")
    token, secret = st.create_token(
        owner.id, name, [grant], value=value, id=id, expires_on=expires_on
    )
    out: dict[str, Any] = {
        "token": {
            "id": token.id,
            "name": token.name,
            "user": owner.email,
            "grants": [g.to_json() for g in token.grants],
        }
    }
    if value is None:
        out["value"] = secret
    return out


def _run(database: str, fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        st = open_store(database)
    except BotwardenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        result = fn(st, *args, **kwargs)
    except (BotwardenError, ValueError) as exc:
        prefix = "not found: " if isinstance(exc, NotFound) else ""
        typer.echo(f"error: {prefix}{exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        st.close()
    typer.echo(json.dumps(result))


@admin_app.command("create-account")
def create_account_command(
    name: Annotated[str, typer.Option(help="Account name.")],
    id: Annotated[str | None, typer.Option(help="32-hex id (default: generated).")] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Create an account."""
    _run(database, create_account, name, id)


@admin_app.command("create-user")
def create_user_command(
    email: Annotated[str, typer.Option(help="The user's e-mail (X-Auth-Email).")],
    key: Annotated[
        str | None,
        typer.Option(help="Global API key, ≥ 32 characters (default: generated, printed once)."),
    ] = None,
    id: Annotated[str | None, typer.Option(help="32-hex id (default: generated).")] = None,
    account: Annotated[list[str] | None, typer.Option(help="Account to join (repeatable).")] = None,
    admin: Annotated[bool, typer.Option(help="May promote models.")] = False,
    database: Database = DEFAULT_URL,
) -> None:
    """Create a user with a global API key (X-Auth-Email + X-Auth-Key)."""
    _run(database, create_user, email, key, id, account, admin)


@admin_app.command("create-zone")
def create_zone_command(
    account: Annotated[str, typer.Option(help="Account id.")],
    name: Annotated[str, typer.Option(help="Zone (domain) name.")],
    plan: Annotated[str, typer.Option(help="free, pro, business or enterprise.")] = "free",
    id: Annotated[str | None, typer.Option(help="32-hex id (default: generated).")] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Create a zone on a plan."""
    _run(database, create_zone, account, name, plan, id)


@admin_app.command("create-token")
def create_token_command(
    user: Annotated[str, typer.Option(help="Owner: e-mail or user id.")],
    name: Annotated[str, typer.Option(help="Token name.")],
    permission: Annotated[
        list[str],
        typer.Option(
            help="zone_read, bot_management_read, bot_management_edit, bot_analytics_read, "
            "firewall_edit or bot_feedback_write (repeatable)."
        ),
    ],
    account: Annotated[
        list[str] | None, typer.Option(help="Grant over every zone of this account.")
    ] = None,
    zone: Annotated[list[str] | None, typer.Option(help="Grant over this zone.")] = None,
    value: Annotated[
        str | None, typer.Option(help="Token value, ≥ 32 characters (default: generated).")
    ] = None,
    id: Annotated[str | None, typer.Option(help="32-hex id (default: generated).")] = None,
    expires_on: Annotated[
        datetime | None,
        typer.Option(help="Expiry (ISO 8601 with time zone).", formats=["%Y-%m-%dT%H:%M:%S%z"]),
    ] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Create an API token (Authorization: Bearer) with permissions over accounts or zones."""
    if not account and not zone:
        typer.echo("error: give --account or --zone (what the token may act on)", err=True)
        raise typer.Exit(2)
    _run(database, create_token, user, name, permission, account, zone, value, id, expires_on)


user_app = typer.Typer(help="Users: dashboard passwords.", no_args_is_help=True)
admin_app.add_typer(user_app, name="user")


def set_password(st: Store, user: str, password: str) -> dict[str, Any]:
    owner = st.find_user(user) if "@" in user else st.get_user(user)
    st.set_password(owner.id, password)
    return {"user": {"id": owner.id, "email": owner.email}, "password": "set"}


@user_app.command("password")
def password_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail (or user id).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database: Database = DEFAULT_URL,
) -> None:
    """Set the user's dashboard password (at least 10 characters); their dashboard
    sessions end. Asks for it twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _run(database, set_password, email, password)
