"""Store backends for tests: a fresh SQLite file, or a fresh schema in the PostgreSQL server
at 127.0.0.1:5432 (database `test`), so parallel runs never see each other's rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from botwarden import store
from tests.conftest import IN_CI

PG_HOST = os.environ.get("BOTWARDEN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BOTWARDEN_TEST_PG_PORT", "5432"))
PG_DB = os.environ.get("BOTWARDEN_TEST_PG_DB", "test")
PG_USERS = ("postgres", "root")


def _pg_user() -> str | None:
    problems = []
    for user in PG_USERS:
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, connect_timeout=3
            ):
                return user
        except psycopg.Error as exc:
            problems.append(f"{user}: {str(exc).strip().splitlines()[0]}")
    reason = f"PostgreSQL at {PG_HOST}:{PG_PORT}/{PG_DB} unreachable ({'; '.join(problems)})"
    if IN_CI:
        pytest.fail(f"{reason} — required in CI")
    pytest.skip(reason)
    return None  # pragma: no cover


@contextmanager
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards."""
    user = _pg_user()
    assert user is not None
    schema = f"bw_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True
    ) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        options = quote(f"-csearch_path={schema}")
        yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?options={options}"
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True
        ) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'botwarden.db'}"


@contextmanager
def open_store(backend: str, tmp_path: Path) -> Iterator[store.Store]:
    if backend == "sqlite":
        s = store.open(sqlite_url(tmp_path))
        try:
            yield s
        finally:
            s.close()
        return
    with postgres_url() as url:
        s = store.open(url)
        try:
            yield s
        finally:
            s.close()
