"""The initial schema: accounts, users, tokens, zones, settings, rulesets, lists, feedback,
model versions and the configuration version.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        _ts("created_on"),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("key_salt", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        _ts("created_on"),
    )
    op.create_table(
        "memberships",
        sa.Column(
            "account_id",
            ID,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        _ts("not_before", nullable=True),
        _ts("expires_on", nullable=True),
        _ts("issued_on"),
        _ts("modified_on"),
    )
    op.create_table(
        "zones",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("created_on"),
        _ts("modified_on"),
        sa.UniqueConstraint("account_id", "name", name="uq_zones_account_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        _ts("created_on"),
        _ts("promoted_on", nullable=True),
    )
    op.create_table(
        "bot_settings",
        sa.Column("zone_id", ID, sa.ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("enable_js", sa.Boolean, nullable=False),
        sa.Column("fight_mode", sa.Boolean, nullable=False),
        sa.Column("sbfm_definitely_automated", sa.String(32), nullable=False),
        sa.Column("sbfm_likely_automated", sa.String(32), nullable=False),
        sa.Column("sbfm_verified_bots", sa.String(32), nullable=False),
        sa.Column("sbfm_static_resource_protection", sa.Boolean, nullable=False),
        sa.Column("optimize_wordpress", sa.Boolean, nullable=False),
        sa.Column("ai_bots_protection", sa.String(32), nullable=False),
        sa.Column("crawler_protection", sa.String(32), nullable=False),
        sa.Column("auto_update_model", sa.Boolean, nullable=False),
        sa.Column("suppress_session_score", sa.Boolean, nullable=False),
        sa.Column("bm_cookie_enabled", sa.Boolean, nullable=False),
        sa.Column("anomaly_detection", sa.Boolean, nullable=False),
        sa.Column(
            "model_pin",
            sa.String(64),
            sa.ForeignKey("model_versions.version"),
            nullable=True,
        ),
        _ts("modified_on"),
    )
    op.create_table(
        "rulesets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("zone_id", ID, sa.ForeignKey("zones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _ts("last_updated"),
        sa.UniqueConstraint("zone_id", "phase", name="uq_rulesets_zone_phase"),
    )
    op.create_table(
        "rules",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "ruleset_id", ID, sa.ForeignKey("rulesets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("action_parameters", sa.JSON, nullable=True),
        sa.Column("ratelimit", sa.JSON, nullable=True),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("compiled_ok", sa.Boolean, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _ts("last_updated"),
    )
    op.create_index("ix_rules_ruleset_position", "rules", ["ruleset_id", "position"])
    op.create_table(
        "lists",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "account_id", ID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        _ts("created_on"),
        _ts("modified_on"),
        sa.UniqueConstraint("account_id", "name", name="uq_lists_account_name"),
    )
    op.create_table(
        "list_items",
        sa.Column("id", ID, primary_key=True),
        sa.Column("list_id", ID, sa.ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        _ts("created_on"),
        _ts("modified_on"),
        sa.UniqueConstraint("list_id", "value", name="uq_list_items_list_value"),
    )
    op.create_table(
        "feedback_reports",
        sa.Column("id", ID, primary_key=True),
        sa.Column("zone_id", ID, sa.ForeignKey("zones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subtype", sa.String(64), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        _ts("first_request_seen_at"),
        _ts("last_request_seen_at"),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("requests_by_score", sa.JSON, nullable=True),
        sa.Column("requests_by_score_src", sa.JSON, nullable=True),
        sa.Column("requests_by_attribute", sa.JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        _ts("created_on"),
        _ts("modified_on"),
        _ts("reviewed_on", nullable=True),
        sa.UniqueConstraint("zone_id", "idempotency_key", name="uq_feedback_zone_idempotency"),
    )
    op.create_index("ix_feedback_zone_created", "feedback_reports", ["zone_id", "created_on"])
    config_version = op.create_table(
        "config_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(config_version, [{"id": 1, "version": 1}])


def downgrade() -> None:
    for table in (
        "config_version",
        "feedback_reports",
        "list_items",
        "lists",
        "rules",
        "rulesets",
        "bot_settings",
        "model_versions",
        "zones",
        "api_tokens",
        "memberships",
        "users",
        "accounts",
    ):
        op.drop_table(table)
