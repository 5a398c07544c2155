"""learner snapshots: the learned state of online model versions, and labels read in arrival order

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learner_snapshots",
        sa.Column("app", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.BigInteger(), nullable=False),
        sa.Column("cursor_ms", sa.BigInteger(), nullable=False),
        sa.Column("cursor_id", sa.String(length=48), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app", "model", "version", "seq", name=op.f("pk_learner_snapshots")),
    )
    op.create_index("ix_feedback_app_received", "feedback", ["app", "received_ms"])


def downgrade() -> None:
    op.drop_index("ix_feedback_app_received", table_name="feedback")
    op.drop_table("learner_snapshots")
