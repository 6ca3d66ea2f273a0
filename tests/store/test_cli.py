"""`botwarden admin …` command functions, run through their Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from botwarden import store
from botwarden.store.cli import admin_app

SEED_KEY = "c2547eb745079dac9320b638f5e225cf483cc5cfdda41"
SEED_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"


def _run(url: str, *args: str) -> tuple[int, Any, str]:
    r = CliRunner().invoke(admin_app, [*args, "--database", url])
    out = json.loads(r.stdout) if r.exit_code == 0 else None
    return r.exit_code, out, r.stderr if r.exit_code else ""


def test_reproduce_the_seed_setup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bw.db'}"
    code, acct, _ = _run(url, "create-account", "--name", "Acme")
    assert code == 0
    aid = acct["account"]["id"]
    code, user, _ = _run(
        url, "create-user", "--email", "user@example.com", "--key", SEED_KEY, "--account", aid
    )
    assert code == 0
    assert "api_key" not in user
    assert user["user"]["accounts"] == [aid]
    code, zone, _ = _run(
        url,
        "create-zone",
        "--account",
        aid,
        "--name",
        "example.com",
        "--plan",
        "enterprise",
        "--id",
        SEED_ZONE,
    )
    assert code == 0
    assert zone["zone"] == {
        "id": SEED_ZONE,
        "name": "example.com",
        "plan": "enterprise",
        "account": aid,
    }
    code, tok, _ = _run(
        url,
        "create-token",
        "--user",
        "user@example.com",
        "--name",
        "feedback",
        "--permission",
        "Bot Feedback Write",
        "--permission",
        "bot_analytics_read",
        "--zone",
        SEED_ZONE,
        "--expires-on",
        "2099-01-01T00:00:00+0000",
    )
    assert code == 0, tok
    assert len(tok["value"]) == 40
    st = store.open(url)
    assert st.authenticate_key("user@example.com", SEED_KEY) is not None
    t = st.authenticate_token(tok["value"])
    assert t is not None
    assert t.grants[0].zone_ids == {SEED_ZONE}
    assert t.expires_on is not None
    st.close()


def test_errors_are_one_line_and_nonzero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bw.db'}"
    code, _acct, _ = _run(url, "create-account", "--name", "Acme", "--id", "a" * 32)
    assert code == 0
    code, _, err = _run(url, "create-account", "--name", "Again", "--id", "a" * 32)
    assert code == 1
    assert err.startswith("error: account")
    code, _, err = _run(
        url, "create-zone", "--account", "a" * 32, "--name", "x.example", "--plan", "platinum"
    )
    assert code == 1
    assert "--plan must be one of" in err
    code, _, err = _run(url, "create-user", "--email", "u@example.com", "--key", "short")
    assert "at least 32" in err
    code, user, _ = _run(url, "create-user", "--email", "u@example.com")
    assert len(user["api_key"]) == 37
    code, _, err = _run(
        url,
        "create-token",
        "--user",
        "u@example.com",
        "--name",
        "t",
        "--permission",
        "zone_read",
        "--account",
        "a" * 32,
    )
    assert code == 1
    assert "not a member" in err
    code, _, err = _run(
        url, "create-token", "--user", "u@example.com", "--name", "t", "--permission", "zone_read"
    )
    assert code == 2
    code, _, err = _run(
        url,
        "create-token",
        "--user",
        "nobody@example.com",
        "--name",
        "t",
        "--permission",
        "zone_read",
        "--zone",
        SEED_ZONE,
    )
    assert err.startswith("error: not found:")
    code, _, err = _run("mysql://x/y", "create-account", "--name", "A")
    assert code == 2
