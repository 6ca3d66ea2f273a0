"""SQLAlchemy 2 models of the configuration store. The Alembic migrations under
`migrations/versions/` create exactly these tables (a test compares them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone)
    as on PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # The global API key: HMAC-SHA256 under a per-user salt, never the key itself.
    key_salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    # Dashboard sign-in: scrypt hash (None: no password set, API keys only); bumping the
    # epoch ends every dashboard session of the user.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MembershipRow(Base):
    __tablename__ = "memberships"

    account_id: Mapped[str] = mapped_column(
        ID, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the token: tokens are ≥ 160-bit random secrets, so a fast digest is safe
    # and lets the lookup use an index; the match is still checked in constant time.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    grants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    issued_on: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())


class ZoneRow(Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_zones_account_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    plan: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    promoted_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Mirrors of the file registry (ml/registry.py) for the API: lineage, state
    # (candidate | active | retired) and the feedback reports the version learned from.
    parent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="candidate", server_default="candidate")
    feedback_reports: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class BotSettingsRow(Base):
    __tablename__ = "bot_settings"

    zone_id: Mapped[str] = mapped_column(
        ID, ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )
    enable_js: Mapped[bool] = mapped_column(Boolean)
    fight_mode: Mapped[bool] = mapped_column(Boolean)
    sbfm_definitely_automated: Mapped[str] = mapped_column(String(32))
    sbfm_likely_automated: Mapped[str] = mapped_column(String(32))
    sbfm_verified_bots: Mapped[str] = mapped_column(String(32))
    sbfm_static_resource_protection: Mapped[bool] = mapped_column(Boolean)
    optimize_wordpress: Mapped[bool] = mapped_column(Boolean)
    ai_bots_protection: Mapped[str] = mapped_column(String(32))
    crawler_protection: Mapped[str] = mapped_column(String(32))
    auto_update_model: Mapped[bool] = mapped_column(Boolean)
    suppress_session_score: Mapped[bool] = mapped_column(Boolean)
    bm_cookie_enabled: Mapped[bool] = mapped_column(Boolean)
    anomaly_detection: Mapped[bool] = mapped_column(Boolean)
    model_pin: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("model_versions.version"), nullable=True
    )
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())


class RulesetRow(Base):
    __tablename__ = "rulesets"
    __table_args__ = (UniqueConstraint("zone_id", "phase", name="uq_rulesets_zone_phase"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    zone_id: Mapped[str] = mapped_column(ID, ForeignKey("zones.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())


class RuleRow(Base):
    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_ruleset_position", "ruleset_id", "position"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    ruleset_id: Mapped[str] = mapped_column(ID, ForeignKey("rulesets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    expression: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean)
    action_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ratelimit: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ref: Mapped[str] = mapped_column(String(64), default="")
    compiled_ok: Mapped[bool] = mapped_column(Boolean)
    fingerprint: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())


class ListRow(Base):
    __tablename__ = "lists"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_lists_account_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())


class ListItemRow(Base):
    __tablename__ = "list_items"
    __table_args__ = (UniqueConstraint("list_id", "value", name="uq_list_items_list_value"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    list_id: Mapped[str] = mapped_column(ID, ForeignKey("lists.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(512))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedbackRow(Base):
    __tablename__ = "feedback_reports"
    __table_args__ = (
        UniqueConstraint("zone_id", "idempotency_key", name="uq_feedback_zone_idempotency"),
        Index("ix_feedback_zone_created", "zone_id", "created_on"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    zone_id: Mapped[str] = mapped_column(ID, ForeignKey("zones.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text)
    expression: Mapped[str] = mapped_column(Text)
    first_request_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_request_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requests: Mapped[int] = mapped_column(BigInteger)
    requests_by_score: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    requests_by_score_src: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    requests_by_attribute: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str | None] = mapped_column(String(320), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(320))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # SHA-256 of the submitted report, so a reused Idempotency-Key with another body is
    # refused rather than silently answered with the first report.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_on: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_on: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_on: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The feedback loop: the model version trained on this report's labels, and how many.
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    labelled_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ConfigVersionRow(Base):
    """One row: a counter bumped in the same transaction as every change edges care
    about (zones, settings, rules, lists, model pins and promotions)."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
