"""Engines for the configuration store and the migration runner.

SQLite runs in WAL mode with `synchronous=NORMAL` (durable across a process crash, one
fsync per checkpoint rather than per commit), foreign keys on, and write transactions that
begin IMMEDIATE so two writers queue on the busy timeout instead of failing with
"database is locked" when a reader tries to upgrade its lock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.pool import StaticPool

from botwarden.errors import ConfigError

DEFAULT_URL = "sqlite:///data/botwarden.db"
_MIGRATE_LOCK = threading.Lock()
# An arbitrary constant: the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK_KEY = 0x626F7477


def make_engine(url: str) -> Engine:
    try:
        u = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError for garbage
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if u.get_driver_name() not in ("psycopg", ""):
            raise ConfigError("use postgresql+psycopg:// for PostgreSQL (psycopg 3)")
        if u.get_driver_name() == "":
            u = u.set(drivername="postgresql+psycopg")
        return create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        f"database URL {url!r}: only sqlite:// and postgresql+psycopg:// are supported"
    )


def _sqlite_engine(url: str) -> Engine:
    u = make_url(url)
    memory = u.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        assert u.database is not None
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN is ours to issue.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("botwarden_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "botwarden.store:migrations")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    cfg = _alembic_config()
    with _MIGRATE_LOCK, engine.execution_options(botwarden_write=True).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
