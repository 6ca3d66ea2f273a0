"""Alembic environment: always run programmatically by `botwarden.store.migrate`, which
passes an open connection in `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context

from botwarden.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic command line
    raise RuntimeError("run migrations through botwarden.store.open(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER through table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
