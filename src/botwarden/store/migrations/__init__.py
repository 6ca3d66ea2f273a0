"""Alembic migrations of the configuration store, run by `store.open()` (package data)."""
