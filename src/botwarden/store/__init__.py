"""The configuration store (SQLite by default, PostgreSQL at scale): `open(url)` connects
and upgrades the schema; `Store` reads and writes everything the control plane keeps."""

from __future__ import annotations

from botwarden.store.db import DEFAULT_URL
from botwarden.store.records import (
    Account,
    BotSettings,
    Conflict,
    FeedbackInput,
    FeedbackReport,
    FeedbackStatus,
    FeedbackType,
    Grant,
    ListItem,
    ModelVersion,
    NamedListRecord,
    NotFound,
    Permission,
    Plan,
    RuleInput,
    Ruleset,
    StoredRule,
    Token,
    User,
    Zone,
)
from botwarden.store.repo import Store, open

__all__ = [
    "DEFAULT_URL",
    "Account",
    "BotSettings",
    "Conflict",
    "FeedbackInput",
    "FeedbackReport",
    "FeedbackStatus",
    "FeedbackType",
    "Grant",
    "ListItem",
    "ModelVersion",
    "NamedListRecord",
    "NotFound",
    "Permission",
    "Plan",
    "RuleInput",
    "Ruleset",
    "Store",
    "StoredRule",
    "Token",
    "User",
    "Zone",
    "open",
]
