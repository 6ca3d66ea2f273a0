"""The feedback loop: which model version learned a report, and the lineage and state of
model versions (the store mirrors the file registry for the API).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_reports") as batch:
        batch.add_column(sa.Column("model_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("labelled_rows", sa.Integer, nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("parent", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="candidate")
        )
        batch.add_column(sa.Column("feedback_reports", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("feedback_reports")
        batch.drop_column("state")
        batch.drop_column("parent")
    with op.batch_alter_table("feedback_reports") as batch:
        batch.drop_column("labelled_rows")
        batch.drop_column("model_version")
