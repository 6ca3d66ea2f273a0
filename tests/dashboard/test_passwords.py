"""Dashboard passwords in the store (scrypt, session epochs), the admin command that sets
one, and the demo user's password that `make run` prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botwarden import store
from botwarden.edge.cli import DEMO_EMAIL, ensure_demo
from botwarden.store.cli import admin_app
from botwarden.store.repo import hash_password, verify_password
from tests.store.helpers import sqlite_url


@pytest.fixture
def st(tmp_path: Path) -> Iterator[store.Store]:
    s = store.open(sqlite_url(tmp_path))
    yield s
    s.close()


def test_hash_is_scrypt_salted_and_checked() -> None:
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a.startswith("scrypt$16384$8$1$")
    assert a != b  # a new salt each time
    assert verify_password("correct horse battery", a)
    assert not verify_password("correct horse batterY", a)
    assert not verify_password("anything at all", None)
    assert not verify_password("anything at all", "md5$garbage")


def test_password_epochs_and_sessions(st: store.Store) -> None:
    acct = st.create_account("Acme")
    user, _ = st.create_user("ann@example.com", account_ids=[acct.id])
    assert st.check_password("ann@example.com", "whatever-it-is") is None  # none set
    assert st.session_epoch(user.id) is None
    st.set_password(user.id, "first password!")
    found = st.check_password(" ANN@example.com ", "first password!")
    assert found is not None
    assert found[0].id == user.id
    epoch = found[1]
    assert st.session_epoch(user.id) == epoch
    assert st.check_password("ann@example.com", "wrong password") is None
    assert st.check_password("nobody@example.com", "first password!") is None
    st.end_sessions(user.id)
    assert st.session_epoch(user.id) == epoch + 1
    st.set_password(user.id, "second password")
    assert st.session_epoch(user.id) == epoch + 2
    assert st.check_password("ann@example.com", "first password!") is None
    with pytest.raises(ValueError, match="at least 10 characters"):
        st.set_password(user.id, "short")
    with pytest.raises(ValueError, match="spaces"):
        st.set_password(user.id, " padded password ")
    with pytest.raises(store.NotFound):
        st.set_password("0" * 32, "a fine password")


def test_admin_user_password_command(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    st = store.open(url)
    st.create_user("ops@example.com")
    st.close()
    runner = CliRunner()
    ok = runner.invoke(admin_app, ["user", "password", "ops@example.com", "--password-stdin",
                                   "--database", url], input="a good long password\n")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert '"password": "set"' in ok.output
    short = runner.invoke(admin_app, ["user", "password", "ops@example.com", "--password-stdin",
                                      "--database", url], input="short\n")  # fmt: skip
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    unknown = runner.invoke(admin_app, ["user", "password", "who@example.com",
                                        "--password-stdin", "--database", url],
                            input="a good long password\n")  # fmt: skip
    assert unknown.exit_code == 1
    assert "not found" in unknown.output
    prompted = runner.invoke(admin_app, ["user", "password", "ops@example.com",
                                         "--database", url],
                             input="another good one\nanother good one\n")  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    st = store.open(url)
    try:
        assert st.check_password("ops@example.com", "another good one") is not None
    finally:
        st.close()


def test_the_demo_user_can_sign_in(st: store.Store) -> None:
    first = ensure_demo(st)
    assert len(first.password) >= 10
    assert st.check_password(DEMO_EMAIL, first.password) is not None
    second = ensure_demo(st)
    assert second.password != first.password
    assert st.check_password(DEMO_EMAIL, first.password) is None
    assert st.check_password(DEMO_EMAIL, second.password) is not None
