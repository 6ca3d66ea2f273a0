"""The secret that signs dashboard sessions: from the environment, else kept in the data
directory (so a sign-in survives a restart of `botwarden serve`), else per process."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from botwarden import store
from botwarden.api.app import create_app
from botwarden.dashboard.sessions import SECRET_ENV, secret_from_env
from botwarden.errors import ConfigError
from tests.api.server import LiveServer
from tests.dashboard.conftest import sign_in
from tests.store.helpers import sqlite_url

EMAIL = "ann@example.com"
PASSWORD = "first password!"


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_the_file_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "dashboard.secret"
    first = secret_from_env(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_from_env(path) == first
    other = tmp_path / "elsewhere.secret"
    assert secret_from_env(other) != first  # random, not derived from anything


def test_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "x" * 40)
    assert secret_from_env(tmp_path / "dashboard.secret") == b"x" * 40
    assert not (tmp_path / "dashboard.secret").exists()


@pytest.mark.parametrize("content", ["", "short\n", "\x00" * 40])
def test_a_damaged_file_says_what_to_do(tmp_path: Path, content: str) -> None:
    path = tmp_path / "dashboard.secret"
    path.write_text(content)
    with pytest.raises(ConfigError, match="delete the file"):
        secret_from_env(path)


@dataclass
class _Dashboard:
    url: str

    @property
    def dashboard(self) -> str:
        return self.url + "/dashboard"


def test_a_sign_in_survives_a_restart_with_the_kept_secret(tmp_path: Path) -> None:
    st = store.open(sqlite_url(tmp_path))
    try:
        acct = st.create_account("Acme")
        user, _ = st.create_user(EMAIL, account_ids=[acct.id])
        st.set_password(user.id, PASSWORD)
        path = tmp_path / "dashboard.secret"
        first = LiveServer(create_app(st, dashboard_secret=secret_from_env(path)))
        with first, sign_in(_Dashboard(first.url), EMAIL, PASSWORD) as c:
            assert c.get("/").status_code == 200
            cookies = dict(c.cookies)
        assert cookies

        def home(secret: bytes) -> httpx.Response:
            with LiveServer(create_app(st, dashboard_secret=secret)) as again:
                return httpx.get(again.url + "/dashboard/", cookies=cookies, timeout=30)

        assert home(secret_from_env(path)).status_code == 200  # "restarted": still signed in
        refused = home(secret_from_env())  # a per-process secret: signed out
        assert refused.status_code in (302, 303, 307)
        assert "sign-in" in refused.headers["location"]
    finally:
        st.close()
